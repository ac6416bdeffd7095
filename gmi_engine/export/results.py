"""Result rows -> GeoTIFF/COG per tile and output, VRTs, .qml styles, RGB presets, STAC items.

Rows are streamed: one array is held at a time, so memory does not grow with the number of tiles
(only a bounded sample per output for the percentile stretches, see
:class:`~gmi_engine.export.style.StretchSampler`). See :mod:`gmi_engine.export.layout` for the
file layout.
"""
from __future__ import annotations

import os
import re
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Deque, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from gmi_engine import __version__
from gmi_engine.errors import GmiFileError, GmiInputError
from gmi_engine.export import geotiff
from gmi_engine.export.layout import RGB_PRESETS, ExportLayout
from gmi_engine.export.stac import AssetInfo, dumps_item, stac_item
from gmi_engine.export.style import (
    REFLECTANCE_RANGE,
    OutputStyle,
    StretchSampler,
    gray_qml,
    index_style,
    multiband_qml,
    pseudocolor_qml,
    resolve_stretch,
    write_qml,
)
from gmi_engine.grid import DEFAULT_GRID, TileGrid, TileIndex
from gmi_engine.kernel.bands import BAND_COLUMNS, column_label
from gmi_engine.kernel.mosaic import NO_DATA as PROVENANCE_NO_DATA
from gmi_engine.kernel.pipeline import PROVENANCE_OUTPUTS
from gmi_engine.progress import Progress, fraction
from gmi_engine.progress import report as report_progress
from gmi_engine.table import MASK_OUTPUT, ResultRow, StoredResult

REFLECTANCE_DTYPES = ("float32", "uint16")
_BAND_RE = re.compile(r"b0[1-9]\Z")
INTEGER_NODATA = {name: PROVENANCE_NO_DATA for name in PROVENANCE_OUTPUTS}
"""Nodata of integer outputs (float outputs use NaN; other integer outputs get none)."""

SAMPLE_STEP = 8
"""Stretch samples take every 8th pixel along both axes of each tile (see StretchSampler)."""

@dataclass
class ExportReport:
    """What an export wrote."""

    out_dir: Path
    method: str
    tiles: List[str] = field(default_factory=list)
    outputs: List[str] = field(default_factory=list)
    geotiffs: List[Path] = field(default_factory=list)
    vrts: List[Path] = field(default_factory=list)
    styles: List[Path] = field(default_factory=list)
    stac_items: List[Path] = field(default_factory=list)
    stretches: Dict[str, Tuple[float, float]] = field(default_factory=dict)
    clipped_pixels: int = 0
    seconds: float = 0.0

    @property
    def paths(self) -> List[Path]:
        """Every file written."""
        return self.geotiffs + self.vrts + self.styles + self.stac_items

    @property
    def bytes_written(self) -> int:
        """Total size of the written files."""
        return sum(p.stat().st_size for p in self.paths if p.exists())

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = ["exported {} to {} in {:.1f} s".format(self.method, self.out_dir, self.seconds),
                 "  tiles      {}".format(len(self.tiles)),
                 "  outputs    {}".format(len(self.outputs)),
                 "  GeoTIFFs   {}".format(len(self.geotiffs)),
                 "  VRTs       {}".format(len(self.vrts)),
                 "  styles     {}".format(len(self.styles)),
                 "  STAC items {}".format(len(self.stac_items)),
                 "  bytes      {:,}".format(self.bytes_written)]
        if self.clipped_pixels:
            lines.append("  clipped    {} reflectance pixels outside 0..6.5534 (uint16)".format(
                self.clipped_pixels))
        return "\n".join(lines)


@dataclass
class _Written:
    """A GeoTIFF written for one (tile, output)."""

    path: Path
    dtype: str
    nodata: Optional[float]
    scale: Optional[float]
    offset: Optional[float]
    meta: Dict[str, Any]
    shape: Tuple[int, int]


def is_reflectance(output: str, dtype: np.dtype) -> bool:
    """True for a float reflectance band output (b01..b09)."""
    return bool(_BAND_RE.match(output)) and np.dtype(dtype).kind == "f"


def _row_source(source: Any, method: str) -> Tuple[Iterable[Union[ResultRow, StoredResult]], TileGrid]:
    if hasattr(source, "iter_stored_results"):
        return source.iter_stored_results(method), getattr(source, "grid", DEFAULT_GRID)
    if hasattr(source, "iter_results"):
        return source.iter_results(method), getattr(source, "grid", DEFAULT_GRID)
    if isinstance(source, (str, bytes, os.PathLike)):
        raise GmiInputError("export: give a LocalStore or result rows, not a path ({!r})".format(source))
    return source, DEFAULT_GRID


def _geotransform(grid: TileGrid, tile: TileIndex, shape: Tuple[int, ...], where: str) -> Tuple[float, ...]:
    if shape[0] != shape[1]:
        raise GmiInputError("{}: data shape {} is not square; a tile raster must be n x n".format(where, shape))
    return grid.geotransform(tile, shape[0])


def _title(output: str, style: Optional[OutputStyle]) -> str:
    if style is not None:
        return style.name
    if output in BAND_COLUMNS:
        return "ASTER {} surface reflectance".format(column_label(output))
    return output


@dataclass(frozen=True)
class ExportOptions:
    """What an export writes (see :func:`export_results` for the meaning of each field)."""

    outputs: Optional[Tuple[str, ...]] = None
    reflectance_dtype: str = "float32"
    cog: bool = True
    compression: str = "zstd"
    stac: bool = True

    def checked(self) -> "ExportOptions":
        """The options with their values checked (GmiInputError naming the field)."""
        if self.reflectance_dtype not in REFLECTANCE_DTYPES:
            raise GmiInputError("reflectance_dtype: {!r} is not one of {}".format(
                self.reflectance_dtype, REFLECTANCE_DTYPES))
        outputs = None if self.outputs is None else tuple(dict.fromkeys(self.outputs))
        return ExportOptions(outputs, self.reflectance_dtype, bool(self.cog),
                             geotiff.check_compression(self.compression), bool(self.stac))

    def wants(self, output: str) -> bool:
        """True when ``output`` is written (default: every output but the valid mask)."""
        return output != MASK_OUTPUT if self.outputs is None else output in self.outputs


@dataclass
class TileFile:
    """One GeoTIFF written for a (tile, output), with what the VRTs, styles and STAC need."""

    tile: TileIndex
    output: str
    written: _Written
    clipped: int
    sample: Optional[np.ndarray]  # data[::SAMPLE_STEP, ::SAMPLE_STEP] for the stretch; None for reflectance


def write_tile_file(layout: ExportLayout, grid: TileGrid, tile: TileIndex, row: ResultRow,
                    options: ExportOptions, style: Optional[OutputStyle]) -> TileFile:
    """Write one result row's GeoTIFF (any thread or process) and sample it for the stretch."""
    info, clipped = _write_tile(layout, grid, tile, row, options.reflectance_dtype, options.cog, style,
                                options.compression)
    sample = None
    if not is_reflectance(row.output, row.data.dtype):
        sample = np.array(row.data[::SAMPLE_STEP, ::SAMPLE_STEP])
    return TileFile(tile, row.output, info, clipped, sample)


class ExportAssembler(object):
    """Collects the GeoTIFFs of an export, then writes the VRTs, styles, RGB presets and STAC items.

    Files may be written anywhere (threads, worker processes) and arrive in any order:
    :meth:`claim` reserves a (tile, output), :meth:`add` records its file, :meth:`add_tile` a
    whole tile's (and writes its STAC item while the other tiles compute), and :meth:`finish`
    writes the shared files. Nothing depends on the arrival order
    (the stretch sample is order-free, the report is sorted).
    """

    def __init__(self, out_dir: Union[str, os.PathLike], method: str, grid: TileGrid,
                 options: ExportOptions, library: Any = None) -> None:
        self.layout = ExportLayout.at(out_dir)
        self.method = method
        self.grid = grid
        self.options = options.checked()
        self.library = library
        self.report = ExportReport(out_dir=self.layout.root, method=method)
        self._claimed: set = set()
        self._files: Dict[TileIndex, Dict[str, TileFile]] = {}
        self._meta: Dict[TileIndex, Dict[str, Any]] = {}
        self._styles: Dict[str, Optional[OutputStyle]] = {}
        self._samplers: Dict[str, StretchSampler] = {}
        self._stac: Dict[TileIndex, Path] = {}
        self._start = time.perf_counter()

    def style(self, output: str) -> Optional[OutputStyle]:
        """The output's style (library index ramp and stretch, or None), looked up once."""
        if output not in self._styles:
            self._styles[output] = index_style(output, self.library)
        return self._styles[output]

    def note_meta(self, tile: TileIndex, output: str, meta: Mapping[str, Any]) -> None:
        """Offer a row's meta as the tile's meta (rows in output order; first mask/exported wins)."""
        if output == MASK_OUTPUT or self.options.wants(output):
            self._meta.setdefault(tile, dict(meta))

    def claim(self, tile: TileIndex, output: str) -> None:
        """Reserve (tile, output) before its file is written; GmiInputError if given twice."""
        if (tile, output) in self._claimed:
            raise GmiInputError("tile {} method {} output {}: given twice".format(
                self.grid.key(tile), self.method, output))
        self._claimed.add((tile, output))

    def add(self, item: TileFile) -> None:
        """Record one written file (claimed before, or claimed now)."""
        if item.output in self._files.get(item.tile, {}):
            raise GmiInputError("tile {} method {} output {}: given twice".format(
                self.grid.key(item.tile), self.method, item.output))
        self._claimed.add((item.tile, item.output))
        self._files.setdefault(item.tile, {})[item.output] = item
        self.report.clipped_pixels += item.clipped
        if item.sample is not None:
            self._samplers.setdefault(item.output, StretchSampler(step=SAMPLE_STEP)).add_sampled(
                item.sample, SAMPLE_STEP, _nodata(item.output, item.sample.dtype))

    def add_tile(self, tile: TileIndex, files: Sequence[TileFile],
                 metas: Sequence[Tuple[str, Mapping[str, Any]]]) -> None:
        """Record a tile's files and the metas of all its rows."""
        for output, meta in sorted(metas, key=lambda pair: pair[0]):
            self.note_meta(tile, output, meta)
        for item in sorted(files, key=lambda f: f.output):  # STAC assets in output order
            self.add(item)
        if self.options.stac and tile in self._files:  # the tile is complete: its item now
            self._stac[tile] = self._write_tile_stac(tile)

    def _write_tile_stac(self, tile: TileIndex) -> Path:
        written = {o: f.written for o, f in self._files[tile].items()}
        for output in written:
            self.style(output)
        return _write_stac(self.layout, self.grid, tile, self.method, written, self._meta[tile],
                           self._styles, self.options.cog)

    def write_rows(self, rows: Iterable[Union[ResultRow, StoredResult]], threads: Optional[int] = None,
                   progress: Optional[Progress] = None, tiles: Optional[int] = None) -> None:
        """Write the GeoTIFFs of ``rows`` (of this method; others are passed over) with
        ``threads`` writer threads; stored rows are decoded in those threads (zlib and GDAL
        release the GIL). ``progress`` is called after each GeoTIFF, in the rows' order, with
        ``"<tile key> <output>"`` and the fraction of the ``tiles`` (how many the rows hold; 0
        while unknown) finished before it; an exception it raises stops the export."""
        workers = _thread_count(threads)
        pending: Deque[Tuple[TileIndex, str, "Future[TileFile]"]] = deque()
        seen = set()

        def finish_oldest() -> None:
            tile, output, future = pending.popleft()
            self.add(future.result())
            if progress is not None:
                seen.add(tile)
                done = fraction(len(seen) - 1, tiles) if tiles else 0.0
                report_progress(progress, done, "{} {}".format(self.grid.key(tile), output))

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gmi-export") as pool:
            try:
                for item in rows:
                    if item.method != self.method:
                        continue
                    tile = self.grid.tile(item.tile_x, item.tile_y)
                    self.note_meta(tile, item.output, item.meta)
                    if not self.options.wants(item.output):
                        continue
                    self.claim(tile, item.output)
                    pending.append((tile, item.output, pool.submit(
                        _load_and_write, item, self.layout, self.grid, tile, self.options,
                        self.style(item.output))))
                    while len(pending) > 2 * workers:  # bounded memory: a few arrays in flight
                        finish_oldest()
                while pending:
                    finish_oldest()
            except BaseException:
                for _, _, future in pending:
                    future.cancel()
                raise

    def finish(self) -> ExportReport:
        """Write VRTs, styles, RGB presets and STAC items for everything added; the report."""
        written = {tile: {o: f.written for o, f in files.items()} for tile, files in self._files.items()
                   if files}
        report, wanted, method = self.report, self.options.outputs, self.method
        if not written:
            raise GmiInputError("no result rows of method {!r}{} to export (run `gmi run --method {}` "
                                "first?)".format(method, "" if wanted is None else " with outputs " +
                                                 ", ".join(wanted), method))
        found = sorted({o for per_tile in written.values() for o in per_tile})
        if wanted is not None and set(wanted) - set(found):
            raise GmiInputError("outputs {} of method {!r} are not in the results (found: {})".format(
                ", ".join(sorted(set(wanted) - set(found))), method, ", ".join(found)))
        tiles = sorted(written)
        report.tiles = [self.grid.key(t) for t in tiles]
        report.outputs = [o for o in (wanted or found) if o in found]
        report.geotiffs = [written[t][o].path for t in tiles for o in sorted(written[t])]
        for output in found:
            self.style(output)  # files written elsewhere (worker processes) had their own look-up
        rasters = {o: [written[t][o].path for t in tiles if o in written[t]] for o in report.outputs}
        with ThreadPoolExecutor(max_workers=_thread_count(None), thread_name_prefix="gmi-vrt") as pool:
            vrts = [pool.submit(geotiff.build_vrt, self.layout.output_vrt(method, output), rasters[output],
                                descriptions=[output]) for output in report.outputs]  # GDAL opens in threads
            for output, future in zip(report.outputs, vrts):
                qml = _output_qml(output, written, tiles, self._styles.get(output),
                                  self._samplers.get(output), report)
                vrt = future.result()
                report.vrts.append(vrt)
                for raster in rasters[output] + [vrt]:
                    report.styles.append(write_qml(raster, qml))
        _write_rgb_presets(self.layout, self.grid, method, tiles, written, report)
        if self.options.stac:  # tiles added whole (add_tile) have theirs already
            for tile in tiles:
                report.stac_items.append(self._stac[tile] if tile in self._stac else self._write_tile_stac(tile))
        report.seconds = time.perf_counter() - self._start
        return report


def export_results(source: Any, out_dir: Union[str, os.PathLike], method: str,
                   outputs: Optional[Sequence[str]] = None, reflectance_dtype: str = "float32",
                   cog: bool = True, *, grid: Optional[TileGrid] = None, library: Any = None,
                   stac: bool = True, progress: Optional[Progress] = None,
                   compression: str = "zstd", threads: Optional[int] = None,
                   tiles: Optional[int] = None) -> ExportReport:
    """Export the result rows of ``method`` as georeferenced files QGIS opens directly.

    ``source`` is a :class:`~gmi_engine.backends.local.LocalStore` (read with
    ``iter_stored_results``) or an iterable of :class:`~gmi_engine.table.ResultRow` /
    :class:`~gmi_engine.table.StoredResult`.
    ``outputs`` limits the exported outputs (default: all but the valid mask).
    ``reflectance_dtype`` "uint16" stores reflectance bands as counts of 1e-4 (scale 1e-4, offset 0,
    nodata 65535; negative values become 0); "float32" keeps them as float32 with NaN nodata.
    ``cog`` writes Cloud Optimized GeoTIFFs (else tiled GeoTIFFs). ``library`` is the index library
    for the styles (default: the packaged one). ``compression`` is one of
    :data:`~gmi_engine.export.geotiff.COMPRESSIONS`. ``threads`` GeoTIFFs are decoded and
    compressed at the same time (default: the number of CPUs, at most 4); ``progress`` follows
    the rows' order (``"<tile key> <output>"`` per GeoTIFF); its fractions count the finished
    tiles, of ``tiles`` for an iterable of rows (a store counts its own).
    Returns an :class:`ExportReport` (files sorted by tile and output).
    """
    options = ExportOptions(None if outputs is None else tuple(outputs), reflectance_dtype, cog,
                            compression, stac).checked()
    _thread_count(threads)
    rows, source_grid = _row_source(source, method)
    assembler = ExportAssembler(out_dir, method, grid or source_grid, options, library)
    if tiles is None and progress is not None and hasattr(source, "result_tiles"):
        tiles = len(source.result_tiles(method))
    assembler.write_rows(rows, threads, progress, tiles)
    return assembler.finish()


def _nodata(output: str, dtype: np.dtype) -> Optional[float]:
    """NaN for float data; the output's integer nodata when the dtype can hold it; else None."""
    if dtype.kind == "f":
        return float("nan")
    value = INTEGER_NODATA.get(output)
    if value is None or not np.iinfo(dtype).min <= value <= np.iinfo(dtype).max:
        return None
    return float(value)


def _thread_count(threads: Optional[int]) -> int:
    """The writer threads: ``threads`` when given (>= 1), else the CPU count capped at 4."""
    if threads is None:
        return max(1, min(4, os.cpu_count() or 1))
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise GmiInputError("threads: {!r} is not a whole number >= 1".format(threads))
    return threads


def _load_and_write(item: Union[ResultRow, StoredResult], layout: ExportLayout, grid: TileGrid,
                    tile: TileIndex, options: ExportOptions, style: Optional[OutputStyle]) -> TileFile:
    """Decode a stored row (if needed) and write its GeoTIFF."""
    row = item.row() if isinstance(item, StoredResult) else item
    return write_tile_file(layout, grid, tile, row, options, style)


def _write_tile(layout: ExportLayout, grid: TileGrid, tile: TileIndex, row: ResultRow,
                reflectance_dtype: str, cog: bool, style: Optional[OutputStyle],
                compression: str = "zstd") -> Tuple[_Written, int]:
    key = grid.key(tile)
    data = row.data
    where = "tile {} method {} output {}".format(key, row.method, row.output)
    transform = _geotransform(grid, tile, data.shape, where)
    tags = {"GMI_METHOD": row.method, "GMI_OUTPUT": row.output, "GMI_VERSION": __version__,
            "GMI_TILE_KEY": key, "GMI_TILE_X": str(tile.ix), "GMI_TILE_Y": str(tile.iy),
            "GMI_TITLE": _title(row.output, style)}
    nodata = _nodata(row.output, data.dtype)
    scale = offset = None
    clipped = 0
    if reflectance_dtype == "uint16" and is_reflectance(row.output, data.dtype):
        data, clipped = geotiff.encode_reflectance_uint16(data)
        nodata, scale, offset = float(geotiff.UINT16_NODATA), geotiff.REFLECTANCE_SCALE, 0.0
        tags["GMI_REFLECTANCE_ENCODING"] = "uint16 counts of 1e-4; nodata 65535; negatives stored as 0"
    elif data.dtype.kind == "f" and data.dtype != np.float32:
        data = data.astype(np.float32)
    path = geotiff.write_geotiff(
        layout.tile_raster(row.method, row.output, key), data, transform, description=row.output,
        tags=tags, nodata=nodata, scale=scale, offset=offset, cog=cog,
        resampling="AVERAGE" if row.data.dtype.kind == "f" else "NEAREST", compression=compression)
    return _Written(path=path, dtype=data.dtype.name, nodata=nodata, scale=scale, offset=offset,
                    meta=dict(row.meta), shape=data.shape), clipped


def _output_qml(output: str, written: Mapping[TileIndex, Mapping[str, _Written]], tiles: Sequence[TileIndex],
                style: Optional[OutputStyle], sampler: Optional[StretchSampler], report: ExportReport) -> str:
    sample = sampler.values() if sampler is not None else np.empty(0)
    if style is not None:
        vmin, vmax = resolve_stretch(style.stretch or {}, sample, "index {} stretch".format(output))
        report.stretches[output] = (vmin, vmax)
        return pseudocolor_qml(style.ramp or "Viridis", vmin, vmax)
    first = next(written[t][output] for t in tiles if output in written[t])
    if is_reflectance(output, np.float32) and (first.dtype == "float32" or first.scale is not None):
        report.stretches[output] = REFLECTANCE_RANGE
        return gray_qml(*REFLECTANCE_RANGE)
    vmin, vmax = resolve_stretch({"method": "minmax", "min": float(sample.min()) if sample.size else 0.0,
                                  "max": float(sample.max()) if sample.size else 1.0}, sample, output)
    report.stretches[output] = (vmin, vmax)
    return gray_qml(vmin, vmax)


def _write_rgb_presets(layout: ExportLayout, grid: TileGrid, method: str, tiles: Sequence[TileIndex],
                       written: Mapping[TileIndex, Mapping[str, _Written]], report: ExportReport) -> None:
    qml = multiband_qml(*REFLECTANCE_RANGE)
    for preset, bands in RGB_PRESETS.items():
        if not all(b in report.outputs and is_reflectance(b, np.float32) for b in bands):
            continue
        for tile in tiles:
            if all(b in written[tile] for b in bands):
                vrt = geotiff.build_vrt(layout.rgb_tile_vrt(method, preset, grid.key(tile)),
                                        [written[tile][b].path for b in bands], separate=True,
                                        descriptions=bands)
                report.vrts.append(vrt)
                report.styles.append(write_qml(vrt, qml))
        vrt = geotiff.build_vrt(layout.rgb_vrt(method, preset),
                                [layout.output_vrt(method, b) for b in bands], separate=True,
                                descriptions=bands)
        report.vrts.append(vrt)
        report.styles.append(write_qml(vrt, qml))


def _write_stac(layout: ExportLayout, grid: TileGrid, tile: TileIndex, method: str,
                outputs: Mapping[str, _Written], meta: Mapping[str, Any],
                styles: Mapping[str, Optional[OutputStyle]], cog: bool) -> Path:
    key = grid.key(tile)
    path = layout.stac_item(method, key)
    assets = [AssetInfo(output=name, href=Path(os.path.relpath(str(info.path), str(path.parent))).as_posix(),
                        title=_title(name, styles.get(name)), data_type=info.dtype, nodata=info.nodata,
                        scale=info.scale, offset=info.offset, cog=cog,
                        meta=None if info.meta == meta else info.meta)
              for name, info in outputs.items()]
    shape = next(iter(outputs.values())).shape
    item = stac_item(grid, tile, method, assets, meta, shape)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps_item(item), encoding="utf-8")
    except OSError as exc:
        raise GmiFileError("{}: cannot write the STAC item ({})".format(path, exc)) from None
    return path
