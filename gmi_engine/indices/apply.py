"""Custom indices: one library index (e.g. a user formula) on reflectance results or a 9-band raster.

::

    from gmi_engine.indices import default_library, user_index
    from gmi_engine.indices.apply import index_raster, index_workspace

    library = default_library().with_index(user_index("clay_ratio", "(b5*b7)/b6**2"))
    index_workspace("ws", "out", "clay_ratio", library)    # out/custom_index/clay_ratio.vrt (+ tiles)
    index_raster("refl.tif", "out", "clay_ratio", library)  # out/custom_index/clay_ratio.tif

Both follow the :mod:`gmi_engine.progress` protocol and write with the shared
:class:`~gmi_engine.export.results.ExportOptions`. SWIR indices are NaN wherever a SWIR band is
NaN (the kernel's SWIR rule, per pixel); on workspace results, an index reading both VNIR and
SWIR bands is NaN where the provenance bands name two granules (the kernel's mixed-provenance
rule, unless the results were computed with ``allow_mixed_provenance``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Optional, Sequence, Union

import numpy as np

from gmi_engine.errors import GmiFileError, GmiInputError
from gmi_engine.grid import TileIndex
from gmi_engine.kernel.bands import BAND_COLUMNS
from gmi_engine.kernel.indices import IndexLibrary, compute_indices
from gmi_engine.kernel.mosaic import mixed_provenance
from gmi_engine.kernel.pipeline import PROVENANCE_OUTPUTS
from gmi_engine.progress import Cancelled, Progress, fraction, report
from gmi_engine.table import MASK_OUTPUT, ResultRow

if TYPE_CHECKING:  # pragma: no cover
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.export.results import ExportOptions

PathLike = Union[str, os.PathLike]

#: The method folder of the files written (``<out>/custom_index/<id>...``).
RESULT_METHOD = "custom_index"
#: Which reflectance results of a workspace are read (auto: color_balancing when computed, else mosaic).
SOURCE_METHODS = ("auto", "color_balancing", "mosaic")
#: Rows of a raster read, evaluated and written at a time.
BLOCK_ROWS = 256


class IndexCancelled(Exception):
    """Raised by :func:`index_rows` when ``cancelled()`` returns True (so its consumer stops too)."""


@dataclass
class IndexReport:
    """What :func:`index_workspace` or :func:`index_raster` wrote."""

    path: Path  # the VRT over the tiles, or the GeoTIFF of the raster
    index_id: str
    source_method: str = ""  # the reflectance method read ("" for a raster)
    tiles: int = 0  # tiles exported (0 for a raster)
    cancelled: bool = False  # stopped early: the files are incomplete


def source_method(store: "LocalStore", choice: str = "auto") -> str:
    """The reflectance method to read: ``choice``, or (auto) color_balancing when computed, else mosaic."""
    if choice not in SOURCE_METHODS:
        raise GmiInputError("source method: {!r} is not one of {}".format(choice, ", ".join(SOURCE_METHODS)))
    computed = store.methods()
    if choice != "auto":
        if choice not in computed:
            raise GmiInputError("the workspace has no {} results (run the {} method first)".format(choice, choice))
        return choice
    for method in SOURCE_METHODS[1:]:
        if method in computed:
            return method
    raise GmiInputError("no reflectance results (run the color_balancing or mosaic method first; "
                        "mineral_indices keeps only the indices)")


def evaluate_stack(stack: np.ndarray, index_id: str, library: IndexLibrary,
                   same_source: Union[bool, np.ndarray] = True) -> np.ndarray:
    """Index ``index_id`` on a (9, rows, cols) reflectance stack; SWIR masked where any SWIR band is NaN.

    ``same_source``: False (per pixel) where VNIR and SWIR come from different granules; an index
    reading both groups is NaN there (the kernel's mixed-provenance rule).
    """
    swir_ok = np.isfinite(stack[3:]).all(axis=0)
    return compute_indices(stack, ids=[index_id], swir_usable=swir_ok, library=library,
                           same_source=same_source)[index_id]


def _same_source(results: Mapping[str, Any], meta: Mapping[str, Any]) -> Union[bool, np.ndarray]:
    """False where the tile's provenance bands name two granules, unless its mosaic allowed that."""
    mosaic_meta = (meta.get("steps") or {}).get("mosaic") or {}
    if (mosaic_meta.get("params") or {}).get("allow_mixed_provenance"):
        return True
    if not all(name in results for name in PROVENANCE_OUTPUTS):
        return True
    provenance = np.stack([results[name].data for name in PROVENANCE_OUTPUTS])
    return ~mixed_provenance(provenance)


def index_rows(store: "LocalStore", method: str, tiles: Sequence[TileIndex], index_id: str,
               library: IndexLibrary, progress: Optional[Progress] = None,
               cancelled: Optional[Cancelled] = None) -> Iterator[ResultRow]:
    """Result rows (method :data:`RESULT_METHOD`, output ``index_id``) of the index, one tile at a time.

    Reads the b01..b09 results of ``method`` per tile; the row's meta is that of the tile's mask
    (or first band) plus ``custom_index`` (id, formula, source method). ``cancelled`` is polled
    before each tile and raises :class:`IndexCancelled`.
    """
    formula = library[index_id].formula
    for done, tile in enumerate(tiles):
        if cancelled is not None and cancelled():
            raise IndexCancelled()
        results = store.results(tile, method)
        missing = [c for c in BAND_COLUMNS if c not in results]
        if missing:
            raise GmiInputError("tile {},{}: {} results lack {}".format(tile.ix, tile.iy, method, ", ".join(missing)))
        stack = np.stack([results[c].data for c in BAND_COLUMNS]).astype(np.float32, copy=False)
        meta = dict(results[MASK_OUTPUT].meta if MASK_OUTPUT in results else results[BAND_COLUMNS[0]].meta)
        meta["custom_index"] = {"id": index_id, "formula": formula, "source_method": method}
        data = evaluate_stack(stack, index_id, library, _same_source(results, meta))
        report(progress, fraction(done + 1, len(tiles)), "tile {},{}".format(tile.ix, tile.iy))
        yield ResultRow(tile.ix, tile.iy, RESULT_METHOD, index_id, data, meta)


def index_workspace(workspace: PathLike, out_dir: PathLike, index_id: str, library: IndexLibrary,
                    source: str = "auto", tiles: Optional[Sequence[TileIndex]] = None,
                    options: Optional["ExportOptions"] = None, progress: Optional[Progress] = None,
                    cancelled: Optional[Cancelled] = None) -> IndexReport:
    """Index ``index_id`` on a workspace's reflectance results, exported like any method's results.

    ``source`` is one of :data:`SOURCE_METHODS`; ``tiles`` default to every tile with results and
    must all have them. Writes ``<out_dir>/custom_index/<index_id>/<tile key>.tif``, the VRT, the
    styles and the STAC items as ``options`` say (default: the export defaults). A cancelled run
    returns with ``cancelled`` set; its files are incomplete.
    """
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.export.layout import ExportLayout
    from gmi_engine.export.results import ExportOptions, export_results

    options = (options or ExportOptions()).checked()
    out_dir = Path(out_dir)
    vrt = ExportLayout.at(out_dir).output_vrt(RESULT_METHOD, index_id)
    with LocalStore(workspace, create=False) as store:
        method = source_method(store, source)
        available = store.result_tiles(method)
        chosen = list(tiles or available)
        missing = [t for t in chosen if t not in available]
        if missing:
            raise GmiInputError("tiles: no {} results on {} (run the {} method first)".format(
                method, ", ".join("{},{}".format(t.ix, t.iy) for t in missing), method))
        report(progress, 0.0, "reflectance: {} results of {} tile(s)".format(method, len(chosen)))
        rows = index_rows(store, method, chosen, index_id, library, progress, cancelled)
        try:
            exported = export_results(rows, out_dir, RESULT_METHOD, outputs=options.outputs,
                                      reflectance_dtype=options.reflectance_dtype, cog=options.cog,
                                      library=library, stac=options.stac, compression=options.compression)
        except IndexCancelled:
            return IndexReport(vrt, index_id, method, 0, cancelled=True)
    return IndexReport(vrt, index_id, method, len(exported.tiles))


def read_reflectance_block(dataset: Any, y: int, rows: int) -> np.ndarray:
    """Bands 1..9 of GDAL ``dataset`` rows ``y``..``y+rows`` as float32 (scale/offset applied, nodata NaN)."""
    out = np.empty((9, rows, dataset.RasterXSize), dtype=np.float32)
    for i in range(9):
        band = dataset.GetRasterBand(i + 1)
        raw = band.ReadAsArray(0, y, dataset.RasterXSize, rows)
        values = raw.astype(np.float32)
        nodata: Optional[float] = band.GetNoDataValue()
        if nodata is not None and not np.isnan(nodata):
            values[raw == nodata] = np.nan
        scale, offset = band.GetScale(), band.GetOffset()
        if scale not in (None, 1.0) or offset not in (None, 0.0):
            values = values * np.float32(scale if scale is not None else 1.0) + np.float32(offset or 0.0)
        out[i] = values
    return out


def index_raster(source: PathLike, out_dir: PathLike, index_id: str, library: IndexLibrary,
                 options: Optional["ExportOptions"] = None, progress: Optional[Progress] = None,
                 cancelled: Optional[Cancelled] = None) -> IndexReport:
    """Index ``index_id`` on a 9-band reflectance raster (bands b1..b9 in order), block by block.

    Writes ``<out_dir>/custom_index/<index_id>.tif`` on the source's grid and CRS (float32, NaN
    nodata) with a pseudocolor ``.qml`` beside it. ``options`` give the compression and the COG
    layout (default: the export defaults; its outputs, reflectance dtype and STAC do not apply).
    ``cancelled`` is polled before each block; a cancelled run returns with ``cancelled`` set and
    an incomplete file.
    """
    from osgeo import gdal

    from gmi_engine.export import geotiff
    from gmi_engine.export.results import ExportOptions
    from gmi_engine.export.style import StretchSampler, index_style, pseudocolor_qml, resolve_stretch, write_qml

    options = (options or ExportOptions()).checked()
    try:
        src = gdal.Open(os.fspath(source))
    except RuntimeError as exc:
        raise GmiFileError("GDAL cannot open {} ({})".format(source, exc)) from None
    if src is None:
        raise GmiFileError("GDAL cannot open {}".format(source))
    if src.RasterCount < 9:
        raise GmiInputError("{} has {} band(s); b1..b9 reflectance needs 9".format(source, src.RasterCount))
    path = Path(out_dir) / RESULT_METHOD / (index_id + ".tif")
    path.parent.mkdir(parents=True, exist_ok=True)
    tiled = path.with_name("." + path.name + ".part") if options.cog else path
    dst = gdal.GetDriverByName("GTiff").Create(
        str(tiled), src.RasterXSize, src.RasterYSize, 1, gdal.GDT_Float32,
        geotiff.creation_options(np.dtype(np.float32), False, options.compression) + ["BIGTIFF=IF_SAFER"])
    dst.SetGeoTransform(src.GetGeoTransform())
    dst.SetProjection(src.GetProjection())
    band = dst.GetRasterBand(1)
    band.SetNoDataValue(float("nan"))
    band.SetDescription(index_id)
    sampler = StretchSampler()
    for y in range(0, src.RasterYSize, BLOCK_ROWS):
        if cancelled is not None and cancelled():
            dst = None
            return IndexReport(tiled, index_id, cancelled=True)
        rows = min(BLOCK_ROWS, src.RasterYSize - y)
        data = evaluate_stack(read_reflectance_block(src, y, rows), index_id, library)
        band.WriteArray(data, 0, y)
        sampler.add(data)
        report(progress, fraction(y + rows, src.RasterYSize), "rows {}..{}".format(y, y + rows))
    if options.cog:
        _to_cog(dst, path, options.compression)
        dst = None
        os.remove(str(tiled))
    else:
        dst.FlushCache()
        dst = None
    style = index_style(index_id, library)
    vmin, vmax = resolve_stretch(style.stretch or {}, sampler.values(), index_id)
    write_qml(path, pseudocolor_qml(style.ramp or "Viridis", vmin, vmax))
    return IndexReport(path, index_id)


def _to_cog(dataset: Any, path: Path, compression: str) -> None:
    """Copy a written tiled GeoTIFF to a Cloud Optimized GeoTIFF at ``path`` (overviews built first)."""
    from osgeo import gdal

    from gmi_engine.export import geotiff

    factors = geotiff.overview_factors(dataset.RasterXSize, dataset.RasterYSize)
    if factors:
        dataset.BuildOverviews("AVERAGE", factors)
    dataset.FlushCache()
    try:
        out = gdal.GetDriverByName("COG").CreateCopy(
            str(path), dataset, strict=0, options=geotiff.creation_options(np.dtype(np.float32), True, compression))
        out.FlushCache()
        out = None
    except RuntimeError as exc:
        raise GmiFileError("{}: cannot write GeoTIFF ({})".format(path, exc)) from None
