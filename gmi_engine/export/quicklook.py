"""Quick-look PNG: a 3-2-1 reflectance composite and one index with its ramp, side by side.

Reads what :func:`~gmi_engine.export.export_results` wrote (one tile's GeoTIFFs, or the VRTs for
the whole extent), resampled by GDAL onto one common extent -- cropped to the valid data -- of at
most ``max_px`` pixels a side, and draws it with matplotlib (imported only when a PNG is made).
The composite gets a 2-98 % stretch per channel; the index uses the stretch and ramp of its .qml,
so the PNG looks like the layer in QGIS.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple, Union
from xml.etree import ElementTree

import numpy as np
from osgeo import gdal

from gmi_engine.errors import GmiFileError, GmiInputError
from gmi_engine.export.layout import RGB_PRESETS, RGB_TITLES, ExportLayout
from gmi_engine.export.ramps import ramp_colors
from gmi_engine.export.style import OutputStyle, index_style, resolve_stretch, style_path
from gmi_engine.grid import DEFAULT_GRID, TileGrid, TileIndex

gdal.UseExceptions()

REFLECTANCE_METHODS = ("color_balancing", "mosaic")
"""Methods whose results are reflectance, most processed first."""
FIGURE_INCHES = (12.0, 6.4)
DPI = 100
"""The PNG is FIGURE_INCHES x DPI pixels (1200 x 640)."""

NODATA_GREY = "#e4e4e4"
"""Background of the panels: where there are no data."""

PathLike = Union[str, os.PathLike]


Bounds = Tuple[float, float, float, float]
"""(xmin, ymin, xmax, ymax) in the rasters' CRS (EPSG:3857)."""


def raster_bounds(path: PathLike) -> Bounds:
    """The extent of a raster."""
    ds = _open(path)
    gt = ds.GetGeoTransform()
    return (gt[0], gt[3] + gt[5] * ds.RasterYSize, gt[0] + gt[1] * ds.RasterXSize, gt[3])


def _open(path: PathLike) -> gdal.Dataset:
    try:
        return gdal.Open(str(path))
    except RuntimeError as exc:
        raise GmiFileError("{}: cannot open ({})".format(path, exc)) from None


def _grid_size(bounds: Bounds, max_px: int) -> Tuple[int, int]:
    width, height = bounds[2] - bounds[0], bounds[3] - bounds[1]
    step = max(width, height) / float(max_px)
    return max(1, int(round(width / step))), max(1, int(round(height / step)))


def read_band(path: PathLike, bounds: Bounds, max_px: int = 1024) -> np.ndarray:
    """Band 1 of a raster over ``bounds`` (at most ``max_px`` a side, square pixels, nearest) as
    float64: nodata and pixels outside the raster are NaN, the band's scale/offset applied."""
    src = _open(path)
    band = src.GetRasterBand(1)
    scale, offset = band.GetScale() or 1.0, band.GetOffset() or 0.0
    cols, rows = _grid_size(bounds, max_px)
    try:
        out = gdal.Warp("", src, format="MEM", outputBounds=bounds, width=cols, height=rows,
                        resampleAlg="near", outputType=gdal.GDT_Float32, dstNodata=float("nan"))
    except RuntimeError as exc:
        raise GmiFileError("{}: cannot read ({})".format(path, exc)) from None
    data = out.GetRasterBand(1).ReadAsArray().astype(np.float64)
    return data * scale + offset


def valid_bounds(arrays: Sequence[np.ndarray], bounds: Bounds, margin: float = 0.03) -> Optional[Bounds]:
    """The box (plus ``margin`` of its size) of the pixels valid in any of ``arrays`` laid over
    ``bounds``; None when nothing is valid."""
    valid = np.zeros(arrays[0].shape, bool)
    for array in arrays:
        valid |= np.isfinite(array)
    if not valid.any():
        return None
    rows, cols = np.nonzero(valid.any(axis=1))[0], np.nonzero(valid.any(axis=0))[0]
    height, width = valid.shape
    px = (bounds[2] - bounds[0]) / width
    py = (bounds[3] - bounds[1]) / height
    box = [bounds[0] + cols[0] * px, bounds[3] - (rows[-1] + 1) * py,
           bounds[0] + (cols[-1] + 1) * px, bounds[3] - rows[0] * py]
    pad = margin * max(box[2] - box[0], box[3] - box[1])
    return (max(bounds[0], box[0] - pad), max(bounds[1], box[1] - pad),
            min(bounds[2], box[2] + pad), min(bounds[3], box[3] + pad))


def stretch_rgb(channels: Sequence[np.ndarray], low: float = 2.0, high: float = 98.0) -> np.ndarray:
    """(rows, cols, 4) RGBA in 0..1: each channel stretched between its percentiles; NaN transparent."""
    stack = np.stack([np.asarray(c, dtype=np.float64) for c in channels], axis=-1)
    valid = np.all(np.isfinite(stack), axis=-1)
    rgba = np.zeros(stack.shape[:2] + (4,))
    for i in range(3):
        values = stack[..., i][valid]
        if values.size == 0:
            continue
        lo, hi = np.percentile(values, [low, high])
        span = hi - lo if hi > lo else 1.0
        rgba[..., i] = np.clip((np.nan_to_num(stack[..., i]) - lo) / span, 0.0, 1.0)
    rgba[..., 3] = valid
    return rgba


def qml_range(qml: PathLike) -> Optional[Tuple[float, float]]:
    """(min, max) of a pseudocolor .qml, or None if the file is missing or has none."""
    try:
        shader = ElementTree.parse(str(qml)).find(".//colorrampshader")
    except (OSError, ElementTree.ParseError):
        return None
    if shader is None:
        return None
    return float(shader.get("minimumValue")), float(shader.get("maximumValue"))


def render_quicklook(out_png: PathLike, rgb: Optional[np.ndarray], index: Optional[np.ndarray],
                     style: Optional[OutputStyle], index_range: Tuple[float, float],
                     title: str, rgb_title: str = RGB_TITLES["rgb_321"] + ", 2-98 % stretch",
                     caption: str = "") -> Path:
    """Draw the panels (an RGBA composite and/or an index array), a title, colour bar and caption."""
    if rgb is None and index is None:
        raise GmiInputError("quick-look: nothing to draw (no reflectance composite and no index)")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGURE_INCHES, dpi=DPI)
    FigureCanvasAgg(fig)
    boxes = [[0.03, 0.08, 0.43, 0.78], [0.49, 0.08, 0.43, 0.78]]
    if rgb is None or index is None:
        boxes = [[0.26, 0.08, 0.43, 0.78]]
    if rgb is not None:
        ax = fig.add_axes(boxes.pop(0))
        ax.imshow(rgb, interpolation="nearest")
        ax.set_title(rgb_title, fontsize=10)
        _frame(ax)
    if index is not None:
        box = boxes.pop(0)
        ax = fig.add_axes(box)
        ramp = style.ramp if style is not None and style.ramp else "Viridis"
        cmap = LinearSegmentedColormap.from_list(ramp, list(ramp_colors(ramp)))
        cmap.set_bad(alpha=0.0)
        image = ax.imshow(np.ma.masked_invalid(index), cmap=cmap, vmin=index_range[0], vmax=index_range[1],
                          interpolation="nearest")
        if style is not None:
            ax.set_title("{} ({})".format(style.name, style.output), fontsize=10)
        _frame(ax)
        cax = fig.add_axes([box[0] + box[2] + 0.012, box[1] + 0.1 * box[3], 0.014, 0.8 * box[3]])
        bar = fig.colorbar(image, cax=cax)
        bar.set_label("{} ramp, stretch {:.3g} to {:.3g}".format(ramp, *index_range), fontsize=8)
    if caption:
        fig.text(0.5, 0.02, caption, ha="center", fontsize=8, color="0.3")
    fig.suptitle(title, fontsize=13)
    return save_png(fig, out_png)


def save_png(fig: Any, out_png: PathLike) -> Path:
    """Write a matplotlib figure as a PNG at the quick-look DPI, creating the folder."""
    out = Path(out_png)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(str(out), dpi=DPI, format="png", metadata={"Software": "GMI"})
    except OSError as exc:
        raise GmiFileError("{}: cannot write the PNG ({})".format(out, exc)) from None
    return out


def _frame(ax: Any) -> None:
    """No ticks or spines; a light grey background, so no-data areas show as grey."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_facecolor(NODATA_GREY)


def rgb_321_rasters(layout: ExportLayout, methods: Sequence[str],
                    key: Optional[str]) -> Tuple[Optional[List[Path]], Optional[str]]:
    """The 3-2-1 rasters of the first of ``methods`` that exported all three, and that method;
    ``(None, None)`` when none did."""
    for method in methods:
        paths = [_raster(layout, method, b, key) for b in RGB_PRESETS["rgb_321"]]
        if all(p.exists() for p in paths):
            return paths, method
    return None, None


def union_bounds(paths: Sequence[Path]) -> Tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) covering every raster of ``paths``."""
    extents = [raster_bounds(p) for p in paths]
    return (min(e[0] for e in extents), min(e[1] for e in extents),
            max(e[2] for e in extents), max(e[3] for e in extents))


def _raster(layout: ExportLayout, method: str, output: str, key: Optional[str]) -> Path:
    if key is None:
        return layout.output_vrt(method, output)
    return layout.tile_raster(method, output, key)


def quicklook_png(export_dir: PathLike, out_png: PathLike, *, tile: Optional[TileIndex] = None,
                  index_id: Optional[str] = None, reflectance_method: Optional[str] = None,
                  index_method: str = "mineral_indices", library: Any = None, max_px: int = 1024,
                  crop: bool = True, grid: TileGrid = DEFAULT_GRID) -> Path:
    """A PNG of one exported tile (``tile``) or of the whole exported extent (the VRTs).

    Left: the 3-2-1 composite of ``reflectance_method`` (default: color_balancing if exported,
    else mosaic); right: index ``index_id`` of ``index_method`` (default: the first library index
    that was exported). Both panels show the same extent: the union of the rasters, cropped to
    the valid data when ``crop``. A missing side is left out; nothing to draw is a GmiFileError.
    """
    layout = ExportLayout.at(export_dir)
    key = grid.key(tile) if tile is not None else None
    methods = [reflectance_method] if reflectance_method else list(REFLECTANCE_METHODS)
    rgb_paths, used_method = rgb_321_rasters(layout, methods, key)
    if library is None:
        from gmi_engine.kernel.indices import default_library

        library = default_library()
    if index_id is None:
        index_id = next((i for i in library.ids if _raster(layout, index_method, i, key).exists()), None)
    index_path = _raster(layout, index_method, index_id, key) if index_id is not None else None
    if index_path is not None and not index_path.exists():
        index_path = None
    paths = (rgb_paths or []) + ([index_path] if index_path is not None else [])
    if not paths:
        raise GmiFileError("{}: no exported 3-2-1 reflectance ({}) and no index of {} for {}".format(
            layout.root, "/".join(methods), index_method, key or "the VRT extent"))
    bounds = union_bounds(paths)
    if crop:
        bounds = valid_bounds([read_band(p, bounds, 256) for p in paths], bounds) or bounds
    rgb = stretch_rgb([read_band(p, bounds, max_px) for p in rgb_paths]) if rgb_paths else None
    index = style = None
    index_range = (0.0, 1.0)
    if index_path is not None:
        index = read_band(index_path, bounds, max_px)
        style = index_style(index_id, library)
        index_range = qml_range(style_path(index_path)) or resolve_stretch(
            (style.stretch if style else None) or {"method": "percentile", "low": 2, "high": 98},
            index[np.isfinite(index)])
    title = "GMI quick-look: {}{}".format(key or _tiles_text(layout, index_method, index_id, used_method),
                                          " ({})".format(used_method) if used_method else "")
    caption = "EPSG:3857; x {:.0f} .. {:.0f} m, y {:.0f} .. {:.0f} m ({:.1f} x {:.1f} km); grey: no data".format(
        bounds[0], bounds[2], bounds[1], bounds[3], (bounds[2] - bounds[0]) / 1000.0,
        (bounds[3] - bounds[1]) / 1000.0)
    return render_quicklook(out_png, rgb, index, style, index_range, title, caption=caption)


def _tile_keys(layout: ExportLayout, method: Optional[str], output: Optional[str]) -> Sequence[str]:
    if method is None or output is None:
        return []
    return sorted(p.stem for p in (layout.root / method / output).glob("*.tif"))


def _tiles_text(layout: ExportLayout, index_method: str, index_id: Optional[str],
                rgb_method: Optional[str]) -> str:
    keys = _tile_keys(layout, index_method, index_id) or _tile_keys(layout, rgb_method, "b01")
    if len(keys) <= 2:
        return ", ".join(keys) or "all exported tiles"
    return "{} tiles, {} ... {}".format(len(keys), keys[0], keys[-1])
