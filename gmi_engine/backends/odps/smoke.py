"""``gmi odps check --smoke``: the deployed function on one tile, end to end, against the local kernel.

The first thing to run on a real project: it uploads the source rows of one tile into a batch of
its own, runs the job on MaxCompute, downloads the result rows and compares them cell by cell
with the same tile computed here by the local backend. Both sides run the same kernel version
on the same rows, so every cell (blob bytes, meta text) must be identical; any difference means
the deployed bundle, numpy archive or runtime does not behave like this installation. The smoke
batch and result partitions are dropped afterwards (``keep=True`` keeps them), and the user's
workspace is only read.
"""
from __future__ import annotations

import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from gmi_engine.backends.odps.client import OdpsBackend, TileFailure
from gmi_engine.backends.odps.sql import BATCH_KEY, RUN_KEY, job_hints
from gmi_engine.errors import BackendError, GmiInputError
from gmi_engine.grid import TileIndex
from gmi_engine.progress import Cancelled, Progress, never_cancelled, report, sub_range

SMOKE_BATCH_PREFIX = "gmi_smoke_"
DEFAULT_SMOKE_METHOD = "mineral_indices"


@dataclass
class SmokeReport:
    """What the smoke check ran and found."""

    tile: TileIndex
    method: str
    batch: str = ""
    run: str = ""
    instance_id: str = ""
    logview: str = ""
    outputs: int = 0
    mismatches: List[str] = field(default_factory=list)
    failures: List[TileFailure] = field(default_factory=list)
    seconds: Dict[str, float] = field(default_factory=dict)
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        """True when MaxCompute's cells equal the local kernel's, all of them."""
        return not self.cancelled and self.outputs > 0 and not self.mismatches and not self.failures

    def summary(self) -> str:
        """Human-readable lines for the command line and the Processing log."""
        timing = ", ".join("{} {:.1f} s".format(k, v) for k, v in self.seconds.items())
        head = "smoke check, tile {},{} {} (instance {}): ".format(self.tile.ix, self.tile.iy, self.method,
                                                                  self.instance_id or "-")
        if self.cancelled:
            return head + "cancelled"
        if self.failures:
            return head + "FAILED on MaxCompute\n" + "\n".join("  " + f.describe() for f in self.failures)
        if self.ok:
            return head + "ok: {} outputs identical to the local kernel ({})".format(self.outputs, timing)
        return head + "MISMATCH in {} of {} outputs:\n".format(len(self.mismatches), self.outputs) + \
            "\n".join("  " + m for m in self.mismatches[:20])


def _pick_tile(store, tile: Optional[TileIndex]) -> TileIndex:
    tiles = sorted(store.tiles(), key=lambda t: (t.ix, t.iy))
    if not tiles:
        raise GmiInputError("{}: the workspace holds no source rows (ingest granules first)".format(store.path))
    if tile is None:
        return tiles[0]
    if tile not in tiles:
        raise GmiInputError("--tile {},{}: not in the workspace (it has {} tiles, e.g. {},{})".format(
            tile.ix, tile.iy, len(tiles), tiles[0].ix, tiles[0].iy))
    return tile


def _compare(local: Dict[Any, Dict[str, Any]], remote: Dict[Any, Dict[str, Any]]) -> List[str]:
    problems = ["{}: computed locally, missing from MaxCompute".format(k[3]) for k in sorted(set(local) - set(remote))]
    problems += ["{}: from MaxCompute only".format(k[3]) for k in sorted(set(remote) - set(local))]
    for key in sorted(set(local) & set(remote)):
        cells = [c for c in local[key] if local[key][c] != remote[key][c]]
        if cells:
            problems.append("{}: {} differ".format(key[3], ", ".join(cells)))
    return problems


def smoke_check(backend: OdpsBackend, workspace, tile: Optional[TileIndex] = None,
                method: str = DEFAULT_SMOKE_METHOD, params: Optional[Mapping[str, Any]] = None,
                hints: Optional[Mapping[str, str]] = None, poll_seconds: float = 2.0,
                progress: Optional[Progress] = None, cancelled: Optional[Cancelled] = None,
                keep: bool = False) -> SmokeReport:
    """Run ``method`` on one tile on MaxCompute and compare every result cell with the local kernel.

    ``tile`` defaults to the workspace's first tile. Raises :class:`BackendError` when the function
    is not deployed (or not this GMI's) or the job fails; a tile the kernel fails on is reported
    in ``failures`` (the job itself succeeded).
    """
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.backends.local_runner import run_local

    cancelled = cancelled or never_cancelled
    ok, note = backend.check_function()
    if not ok:
        raise BackendError("smoke check: " + note)
    with LocalStore(workspace, create=False) as store:
        tile = _pick_tile(store, tile)
        rows = store.tile_rows(tile)
        grid = store.grid
    result = SmokeReport(tile, method, batch=SMOKE_BATCH_PREFIX + secrets.token_hex(4))
    with tempfile.TemporaryDirectory(prefix="gmi-smoke-") as tmp:
        local_ws, remote_ws = Path(tmp) / "local", Path(tmp) / "remote"
        for folder in (local_ws, remote_ws):
            with LocalStore(folder, grid=grid, create=True) as copy:
                copy.upsert_source_rows(rows)
        start = time.monotonic()
        report(progress, 0.0, "local kernel on tile {},{}".format(tile.ix, tile.iy))
        run_local(local_ws, method, params, workers=1, tiles=[tile])
        result.seconds["local"] = time.monotonic() - start
        try:
            _run_remote(backend, remote_ws, result, params, hints, poll_seconds, progress, cancelled)
            if result.cancelled:
                return result
            with LocalStore(local_ws, create=False) as local, LocalStore(remote_ws, create=False) as remote:
                mine = {r.key: r.to_dict() for r in local.iter_results(method)}
                theirs = {r.key: r.to_dict() for r in remote.iter_results(method)}
            result.outputs = len(mine)
            if not result.failures:
                result.mismatches = _compare(mine, theirs)
        finally:
            if not keep:
                _drop_smoke_partitions(backend, result)
    report(progress, 1.0, "smoke check {}".format("ok" if result.ok else "FAILED"))
    return result


def _run_remote(backend: OdpsBackend, workspace: Path, result: SmokeReport, params, hints,
                poll_seconds: float, progress: Optional[Progress], cancelled: Cancelled) -> None:
    """Upload, submit, wait and download the smoke tile (fills ``result``)."""
    backend.create_tables()
    start = time.monotonic()
    backend.upload(workspace, result.batch, progress=sub_range(progress, 0.1, 0.3))
    result.seconds["upload"] = time.monotonic() - start
    start = time.monotonic()
    result.instance_id, result.run, _ = backend.submit(result.batch, result.method, params, [result.tile],
                                                       hints if hints is not None else job_hints(),
                                                       check_function=False)
    status = backend.wait(result.instance_id, interval=poll_seconds, cancelled=cancelled,
                          progress=sub_range(progress, 0.3, 0.8))
    result.logview = status.logview or ""
    result.seconds["job"] = time.monotonic() - start
    if status.state != "success":
        result.cancelled = True
        return
    start = time.monotonic()
    download = backend.download(workspace, result.batch, result.run, progress=sub_range(progress, 0.8, 0.95))
    result.failures = list(download.failures)
    result.seconds["download"] = time.monotonic() - start


def _drop_smoke_partitions(backend: OdpsBackend, result: SmokeReport) -> None:
    """Remove what the smoke check wrote (failures to do so are logged, not raised)."""
    backend._drop_partition(backend.source_table, "{}={}".format(BATCH_KEY, result.batch))
    if result.run:
        backend._drop_partition(backend.result_table, "{}={},{}={}".format(BATCH_KEY, result.batch,
                                                                           RUN_KEY, result.run))
