"""Run a kernel method over a local workspace with a process pool (the embedded default).

Tiles are processed exactly as the MaxCompute plan groups them: all source rows of one tile,
sorted by acquisition, go to one :func:`gmi_engine.kernel.pipeline.run` call. Each worker holds
one tile group at a time; the parent writes each tile's result rows in one transaction, so a
killed run loses nothing that was committed. A rerun skips tiles whose results were made from
the same inputs and parameters (a content hash in the result meta) and computes the rest.
"""
from __future__ import annotations

import functools
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import forkserver
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Protocol, Tuple

from gmi_engine.backends.file_cells import is_reference, missing_file, reference_for, relative_reference
from gmi_engine.backends.local import LocalStore
from gmi_engine.errors import GmiInputError
from gmi_engine.export.layout import ExportLayout
from gmi_engine.export.results import ExportAssembler, ExportOptions, ExportReport, TileFile, write_tile_file
from gmi_engine.export.style import index_style
from gmi_engine.grid import TileGrid, TileIndex
from gmi_engine.kernel.pipeline import MASK_OUTPUT, METHODS, merged_params, ordered_inputs_digest, run
from gmi_engine.kernel.records import result_cells
from gmi_engine.memory import reuse_freed_blocks
from gmi_engine.progress import Cancelled, Progress, fraction
from gmi_engine.progress import report as report_progress
from gmi_engine.table import ResultRow, SourceRow, format_utc, load_json


@dataclass
class RunReport:
    """What a run did: tiles computed, skipped (up to date) and failed."""

    method: str
    computed: List[TileIndex] = field(default_factory=list)
    skipped: List[TileIndex] = field(default_factory=list)
    cancelled: bool = False
    export: Optional[ExportReport] = None

    @property
    def total(self) -> int:
        """Tiles considered."""
        return len(self.computed) + len(self.skipped)


def kernel_row(row: SourceRow) -> Dict[str, Any]:
    """A source row as the kernel takes it (decoded arrays, parsed JSON, ISO time text)."""
    return {
        "granule_id": row.granule_id, "tile_x": row.tile_x, "tile_y": row.tile_y,
        "acquired": format_utc(row.acquired),
        "bbox": (row.min_row, row.max_row, row.min_col, row.max_col),
        "bands": row.bands, "meta": row.meta, "ac": row.ac, "modis": row.modis,
        "quality": row.quality,
    }


def _kernel_rows(rows: Iterable[SourceRow]) -> Iterator[Dict[str, Any]]:
    """:func:`kernel_row` of each row, holding no row while the next one is read and decoded."""
    for row in rows:
        kernel = kernel_row(row)
        del row
        yield kernel
        del kernel


@dataclass(frozen=True)
class ExportJob:
    """Write GeoTIFFs of the results as the tiles are computed (``gmi run --export``).

    ``store_files``: the store keeps a reference to each GeoTIFF that holds its output exactly
    instead of a second, zlib-compressed copy of the pixels (:mod:`.file_cells`); False keeps
    blobs, so the store does not depend on the export folder.
    """

    out_dir: str
    options: ExportOptions = ExportOptions()
    store_files: bool = True


TileOutcome = Tuple[List[Dict[str, Any]], Optional[Tuple[List[TileFile], List[Tuple[str, Dict[str, Any]]]]]]


def _compute_tile(workspace: str, tile: TileIndex, method: str, params: Dict[str, Any],
                  digest: Optional[str], export: Optional[ExportJob] = None) -> TileOutcome:
    """Worker: one tile group -> encoded result records (bytes travel back to the parent) and,
    with ``export``, the tile's GeoTIFFs written from the arrays in memory (files + row metas).
    ``digest`` None: computed here from the decoded rows (see :data:`TileJob`)."""
    with LocalStore(workspace, create=False) as store:
        rows = store.tile_rows(tile)
        grid = store.grid
    return compute_tile_rows(rows, grid, tile, method, params, digest, export)


def compute_tile_rows(rows: List[SourceRow], grid: TileGrid, tile: TileIndex, method: str,
                      params: Dict[str, Any], digest: Optional[str],
                      export: Optional[ExportJob] = None) -> TileOutcome:
    """One tile group's source rows (sorted by acquisition) -> what :func:`_compute_tile` returns;
    ``digest`` None: the inputs digest of these rows, computed here (the rows are decoded once)."""
    kernel_rows = [kernel_row(r) for r in rows]
    if digest is None:
        digest = ordered_inputs_digest(kernel_rows, method, params)
    results = run(method, kernel_rows, params)
    del kernel_rows
    if export is None:
        return [result_cells(res, digest) for res in results], None  # the cells the ODPS UDTF forwards too
    layout = ExportLayout.at(export.out_dir)
    records, files, metas = [], [], []
    with ThreadPoolExecutor(max_workers=TILE_WRITER_THREADS, thread_name_prefix="gmi-tile-export") as pool:
        pending = []
        for res in results:
            record = result_cells(res, digest, encoded=b"")  # every cell but the data, checked
            meta = load_json(record["meta"], "meta")  # as a reader of the store sees it
            metas.append((record["output"], meta))
            written = None
            if export.options.wants(record["output"]):
                row = ResultRow(record["tile_x"], record["tile_y"], method, record["output"], res["data"], meta)
                written = pool.submit(_write_and_reference, layout, grid, tile, row, export)
            pending.append((res, record, written))
        for res, record, written in pending:  # in the results' order, whatever thread finished first
            reference = None
            if written is not None:
                item, reference = written.result()
                files.append(item)
            if reference is None:
                record = result_cells(res, digest)
            else:
                record["data"] = reference
            records.append(record)
    return records, (files, metas)


#: Threads a worker writes one tile's GeoTIFFs with (GDAL compression and sha256 release the
#: GIL). While every worker is busy they only share its core; when a worker is idle (the last
#: tiles of a run, a run with fewer tiles than workers) the tile's files use the free core.
TILE_WRITER_THREADS = 2


def _write_and_reference(layout: ExportLayout, grid: TileGrid, tile: TileIndex, row: ResultRow,
                         export: ExportJob) -> Tuple[TileFile, Optional[bytes]]:
    """One result's GeoTIFF and, with ``export.store_files``, the store's reference to it."""
    item = write_tile_file(layout, grid, tile, row, export.options, index_style(row.output))
    reference = None
    if export.store_files:
        reference = reference_for(item.written.path, item.written.dtype, item.written.scale,
                                  item.written.offset, row.data)
    return item, reference


def _stored_digest(store: LocalStore, tile: TileIndex, method: str) -> Optional[str]:
    """The inputs digest the tile's stored results were made from, or None when they cannot be
    up to date whatever the inputs are (no mask row, no digest, a result file gone)."""
    stored = list(store.iter_stored_results(method, tile, blobs=False))  # no blob copied
    mask = next((s for s in stored if s.output == MASK_OUTPUT), None)
    digest = None if mask is None else mask.meta.get("inputs_sha256")
    if not isinstance(digest, str) or any(missing_file(s.record, store.workspace) is not None for s in stored):
        return None
    return digest


def _relative_file_cell(record: Dict[str, Any], store: LocalStore) -> Dict[str, Any]:
    """A record whose file-reference cell points relative to the workspace (blobs unchanged)."""
    if not is_reference(record["data"]):
        return record
    return dict(record, data=relative_reference(record["data"], store.workspace.absolute()))


#: ``commit(tile, outcome)``: write one computed tile's results (in the client/parent process).
Commit = Callable[[TileIndex, TileOutcome], None]
#: A tile job: the tile and the digest of its inputs and parameters, or None when the planner had
#: no stored digest to compare it with (a new tile, ``force``): the worker then computes it from
#: the rows it decodes anyway, so each source row is decoded once per run.
TileJob = Tuple[TileIndex, Optional[str]]


class TileExecutor(Protocol):
    """Computes tile jobs somewhere (this process, a pool, a Dask cluster) and commits each result.

    Called with the workspace path, the jobs (largest first; an iterator that plans each job
    when it is taken, so take them as needed), the method, the merged
    parameters, ``commit``, ``cancelled`` and the report (set ``report.cancelled`` on a stop)
    and the export job; :func:`_compute_tile` is the unit of work, ``commit`` the only writer.
    """

    def __call__(self, workspace: str, jobs: Iterable[TileJob], method: str, params: Dict[str, Any],
                 commit: Commit, cancelled: Cancelled, report: RunReport,
                 export: Optional[ExportJob]) -> None:
        """Compute ``jobs`` and ``commit`` each; return when all are committed or on a cancel."""


def run_local(workspace, method: str, params: Optional[Mapping[str, Any]] = None,
              workers: Optional[int] = None, tiles: Optional[Iterable[TileIndex]] = None,
              progress: Optional[Progress] = None, cancelled: Cancelled = lambda: False,
              force: bool = False, export: Optional[ExportJob] = None) -> RunReport:
    """Compute ``method`` for the workspace's tiles; returns what was computed and skipped.

    ``workers`` defaults to the number of cores; 1 runs in this process. ``progress`` gets the
    fraction of the tiles done (up to date or computed); ``cancelled`` is polled between tiles
    (Ctrl-C also stops cleanly); committed tiles stay. With ``export`` the workers
    also write each computed tile's GeoTIFFs from the arrays in memory (up-to-date tiles are
    exported from the store), and the VRTs, styles and STAC items follow at the end: the same
    files as a separate :func:`~gmi_engine.export.export_results`, without decoding the results
    again (``report.export``; nothing shared is written when the run is cancelled).
    """
    workers = workers or os.cpu_count() or 1
    if workers > 1:
        _pool_context(start=True)  # the worker server imports the engine while the tiles are planned
    execute = _run_serial if workers == 1 else functools.partial(_run_pool, workers=workers)
    return run_tiles(workspace, method, execute, params, tiles=tiles, progress=progress,
                     cancelled=cancelled, force=force, export=export)


def run_tiles(workspace, method: str, execute: TileExecutor, params: Optional[Mapping[str, Any]] = None,
              tiles: Optional[Iterable[TileIndex]] = None, progress: Optional[Progress] = None,
              cancelled: Cancelled = lambda: False, force: bool = False,
              export: Optional[ExportJob] = None) -> RunReport:
    """:func:`run_local` with the computing done by ``execute`` (the local pool, a Dask cluster).

    Plans the tiles (up-to-date ones are skipped), hands the rest to ``execute`` and writes each
    result it returns into the workspace store in one transaction per tile, in this process.
    """
    if method not in METHODS:
        raise GmiInputError("method: {!r} is not one of {}".format(method, ", ".join(METHODS)))
    p = merged_params(params)
    report = RunReport(method)
    if export is not None:
        export = ExportJob(str(export.out_dir), export.options.checked(), export.store_files)
    with LocalStore(workspace, create=False) as store:
        todo_tiles = list(tiles) if tiles is not None else store.tiles()
        # Largest tiles first, so no worker is left with a big tile at the end (results do not
        # depend on the order: every tile is computed on its own). The sizes come from the row
        # bounds. A tile with stored results has its rows decoded for its digest only when it is
        # next in line, so the first tiles start computing while the rest are planned; a tile
        # without (or with ``force``) goes out with no digest: the worker computes it.
        work = store.tile_pixels()
        order = sorted(todo_tiles, key=lambda t: (-work.get(t, 0), t))
        total = len(todo_tiles)
        done = 0
        assembler = None
        if export is not None:
            assembler = ExportAssembler(export.out_dir, method, store.grid, export.options)
        report_progress(progress, 0.0, "{} tiles to check".format(total))

        def plan() -> Iterator[TileJob]:
            nonlocal done
            for tile in order:
                stored = None if force else _stored_digest(store, tile, method)
                if stored is None:
                    yield tile, None
                    continue
                # One decoded row at a time (the store yields them in the digest's order): the
                # planner's memory does not grow with the granules over a tile.
                digest = ordered_inputs_digest(_kernel_rows(store.iter_source_rows(tiles=[tile])), method, p)
                if digest == stored:
                    report.skipped.append(tile)
                    done += 1
                    report_progress(progress, fraction(done, total),
                                    "up to date {}/{} ({})".format(len(report.skipped), total, store.grid.key(tile)))
                else:
                    yield tile, digest

        def commit(tile: TileIndex, outcome: TileOutcome) -> None:
            nonlocal done
            records, exported = outcome
            store.replace_result_records(tile, method, [_relative_file_cell(r, store) for r in records])
            if assembler is not None and exported is not None:
                assembler.add_tile(tile, *exported)
            report.computed.append(tile)
            done += 1
            report_progress(progress, fraction(done, total),
                            "computed {}/{} tiles ({})".format(done, total, store.grid.key(tile)))

        try:
            execute(str(workspace), plan(), method, p, commit, cancelled, report, export)
            if assembler is not None and not report.cancelled:
                for k, tile in enumerate(report.skipped, start=1):  # up to date: from the store
                    if cancelled():
                        report.cancelled = True
                        break
                    assembler.write_rows(store.iter_stored_results(method, tile))
                    report_progress(progress, 1.0, "exported {}/{} up-to-date tiles ({})".format(
                        k, len(report.skipped), store.grid.key(tile)))
                if not report.cancelled:
                    report.export = assembler.finish()
        except KeyboardInterrupt:
            report.cancelled = True
            raise
    return report


def _run_serial(workspace: str, jobs: Iterable[TileJob], method: str, params: Dict[str, Any], commit: Commit,
                cancelled: Cancelled, report: RunReport, export: Optional[ExportJob] = None) -> None:
    """Compute the tiles one after the other in this process."""
    for tile, digest in jobs:
        if cancelled():
            report.cancelled = True
            break
        commit(tile, _compute_tile(workspace, tile, method, params, digest, export))


#: Tiles submitted per worker beyond the one it computes: a worker that finishes takes a queued
#: tile at once instead of idling while the parent commits results and submits the next
#: (0.05-0.2 s per tile here, about 0.4 s of a 2-worker run of 11 tiles). Results do not depend
#: on it; memory barely does (a queued tile is its arguments, its rows are read by the worker).
QUEUED_PER_WORKER = 1


def _run_pool(workspace: str, jobs: Iterable[TileJob], method: str, params: Dict[str, Any], commit: Commit,
              cancelled: Cancelled, report: RunReport, export: Optional[ExportJob] = None, *,
              workers: int) -> None:
    """Keep ``workers`` x (1 + :data:`QUEUED_PER_WORKER`) tiles in flight; commit each as it
    finishes."""
    pending = iter(jobs)
    more = True
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(), initializer=_adopt_parent,
                             initargs=(dict(os.environ), os.getcwd())) as pool:
        running = {}
        try:
            while more or running:
                while more and len(running) < workers * (1 + QUEUED_PER_WORKER) and not cancelled():
                    job = next(pending, None)
                    if job is None:
                        more = False
                        break
                    tile, digest = job
                    running[pool.submit(_compute_tile, workspace, tile, method, params, digest, export)] = tile
                if not running:
                    if more:
                        report.cancelled = True
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    tile = running.pop(fut)
                    commit(tile, fut.result())
                if cancelled():
                    report.cancelled = True
                    more = False
        except BaseException:
            for fut in running:
                fut.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _pool_context(start: bool = False) -> Any:
    """The multiprocessing context of the worker pool.

    ``forkserver`` where the platform has it: one clean server process (started from the Python
    executable, never forked from this one, so safe inside Qt/QGIS) imports the engine once and
    each worker is forked from it ready to compute, instead of importing numpy, GDAL and the
    engine again as a ``spawn`` worker does (about 0.6 s per worker here). ``start`` launches the
    server now, so its imports overlap the caller's planning. Elsewhere ``spawn``.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    if start:
        forkserver.ensure_running()
    return context


def _adopt_parent(environment: Dict[str, str], cwd: str) -> None:
    """Worker initializer: the parent's environment and working directory as they are now (a
    forkserver worker would otherwise have the server's, from when it started), and freed
    arrays kept for the next tile (:func:`~gmi_engine.memory.reuse_freed_blocks`)."""
    reuse_freed_blocks()
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(cwd)
