"""Alteration quick-look PNG: the 3-2-1 composite beside a three-index (Ninomiya-style) composite.

Reads what :func:`~gmi_engine.export.export_results` wrote for one tile (or the VRTs of the whole
extent): bands b03/b02/b01 of the reflectance method and three mineral indices of
``mineral_indices``, each resampled by GDAL onto the same extent. The default channels map the
zones of a porphyry-copper system to colours: red = Al-OH index OHI (phyllic
sericite/muscovite), green = kaolinite index KLI (argillic), blue = calcite index CLI
(propylitic carbonate), each stretched from its median to its 99.5th percentile so that
unaltered ground is dark.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Tuple

from gmi_engine.errors import GmiFileError
from gmi_engine.export.layout import RGB_TITLES, ExportLayout
from gmi_engine.export.quicklook import (
    DPI,
    FIGURE_INCHES,
    REFLECTANCE_METHODS,
    PathLike,
    _frame,
    _raster,
    read_band,
    rgb_321_rasters,
    save_png,
    stretch_rgb,
    union_bounds,
    valid_bounds,
)
from gmi_engine.grid import DEFAULT_GRID, TileGrid, TileIndex

#: (red, green, blue) index ids of the default alteration composite.
ALTERATION_CHANNELS = ("aloh_phyllic", "kaolinite_index", "calcite_index")
#: Percentile stretch (low, high) of each index channel.
ALTERATION_STRETCH = (50.0, 99.5)
#: Short channel legends.
CHANNEL_LABELS = {"aloh_phyllic": "OHI (phyllic)", "kaolinite_index": "KLI (argillic)",
                  "calcite_index": "CLI (propylitic carbonate)", "alunite_index": "ALI (advanced argillic)"}


def alteration_quicklook_png(export_dir: PathLike, out_png: PathLike, *, tile: Optional[TileIndex] = None,
                             channels: Sequence[str] = ALTERATION_CHANNELS,
                             index_method: str = "mineral_indices", max_px: int = 1024,
                             grid: TileGrid = DEFAULT_GRID, title: Optional[str] = None,
                             caption: str = "", stretch: Tuple[float, float] = ALTERATION_STRETCH) -> Path:
    """Write the two-panel PNG (3-2-1 | index composite ``channels`` as R, G, B); returns its path.

    ``stretch``: the (low, high) percentiles of the index channels. The default starts at the
    median, so unaltered ground (most of a scene) is dark and the anomalies carry the colour.
    """
    layout = ExportLayout.at(export_dir)
    key = grid.key(tile) if tile is not None else None
    rgb_paths, used = rgb_321_rasters(layout, REFLECTANCE_METHODS, key)
    index_paths = [_raster(layout, index_method, i, key) for i in channels]
    missing = [str(p) for p in (rgb_paths or []) + index_paths if not p.exists()]
    if rgb_paths is None or missing:
        raise GmiFileError("{}: alteration quick-look needs the 3-2-1 reflectance and indices {} "
                           "(missing: {})".format(layout.root, ", ".join(channels),
                                                  ", ".join(missing) or "3-2-1 reflectance"))
    bounds = union_bounds(rgb_paths + index_paths)
    bounds = valid_bounds([read_band(p, bounds, 256) for p in rgb_paths], bounds) or bounds
    rgb = stretch_rgb([read_band(p, bounds, max_px) for p in rgb_paths])
    indices = [read_band(p, bounds, max_px) for p in index_paths]
    alteration = stretch_rgb(indices, *stretch)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGURE_INCHES, dpi=DPI)
    FigureCanvasAgg(fig)
    legend = ", ".join("{} = {}".format(c, CHANNEL_LABELS.get(i, i)) for c, i in zip("RGB", channels))
    legend += ", {:g}-{:g} %".format(*stretch)
    for box, image, text in (([0.03, 0.1, 0.45, 0.76], rgb, RGB_TITLES["rgb_321"] + ", 2-98 % stretch"),
                             ([0.52, 0.1, 0.45, 0.76], alteration, legend)):
        ax = fig.add_axes(box)
        ax.imshow(image, interpolation="nearest")
        ax.set_title(text, fontsize=9)
        _frame(ax)
    fig.suptitle(title or "GMI alteration quick-look: {} ({})".format(key or "all exported tiles", used),
                 fontsize=13)
    extent = "EPSG:3857, {:.1f} x {:.1f} km; grey: no data".format(
        (bounds[2] - bounds[0]) / 1000.0, (bounds[3] - bounds[1]) / 1000.0)
    fig.text(0.5, 0.03, (caption + "; " if caption else "") + extent, ha="center", fontsize=8, color="0.3")
    return save_png(fig, out_png)

