"""Band-13 brightness temperature of a granule on the global tiles, for the kernel's cloud test.

Daytime AST_L1T carries the TIR bands (90 m). Ingest warps band 13 (10.25-10.95 um) onto an
``n`` x ``n`` grid over each tile (``n = ceil(tile_px / 3)``: ~90 m cells on the 30 m grid,
nearest neighbour, DN 0 = fill, 4095 = saturated), turns DN into radiance with the band's UCC (``INCL13`` when the
metadata carry it, else the handbook's 5.693e-3 W m-2 sr-1 um-1 per DN) and radiance into
brightness temperature with band 13's Planck constants
(:func:`gmi_engine.kernel.masks.brightness_temperature_b13`). The result goes into the source
row's ``quality["bt13"]`` (:func:`gmi_engine.kernel.thermal.encode_bt13`); rows without it (no TIR,
or ingested before) keep the reflectance-only cloud rule.
"""
from __future__ import annotations

import math
from typing import Dict, Iterable, Optional

import numpy as np
from osgeo import gdal

from gmi_engine.aster.reader import Granule
from gmi_engine.grid import TileGrid, TileIndex
from gmi_engine.kernel.masks import brightness_temperature_b13
from gmi_engine.kernel.thermal import encode_bt13

gdal.UseExceptions()

#: Handbook unit conversion coefficient of band 13 (W m-2 sr-1 um-1 per DN, science.md section 1.4).
B13_UCC = 5.693e-3
#: 12-bit TIR DN: 0 is fill, 4095 saturated; both carry no temperature.
TIR_SATURATED = 4095


def bt13_cells(tile_px: int) -> int:
    """Cells per tile side of the BT13 grid: about one ASTER TIR pixel (90 m) each."""
    return int(math.ceil(tile_px / 3.0))


def tile_bt13(granule: Granule, grid: TileGrid, tiles: Iterable[TileIndex]) -> Dict[TileIndex, dict]:
    """``quality["bt13"]`` entries of the granule's tiles; empty when the granule has no band 13."""
    if "13" not in granule.bands:
        return {}
    src = granule.georeferenced("13")
    out = {}
    for tile in tiles:
        bt = source_bt13(granule, src, grid, tile)
        if bt is not None:
            out[tile] = bt
    return out


def source_bt13(granule: Granule, src: gdal.Dataset, grid: TileGrid, tile: TileIndex) -> Optional[dict]:
    """The ``quality["bt13"]`` entry of one tile from ``src = granule.georeferenced("13")`` (one
    thread's handle); None when band 13 has no valid cell on the tile."""
    info = granule.bands["13"]
    ucc = info.incl if info.incl is not None else B13_UCC
    bt = _warped_bt(src, grid, tile, bt13_cells(grid.tile_px), ucc)
    return None if bt is None else encode_bt13(bt)


def _warped_bt(src: gdal.Dataset, grid: TileGrid, tile: TileIndex, n: int, ucc: float) -> Optional[np.ndarray]:
    b = grid.bounds(tile)
    warped = gdal.Warp("", src, format="MEM", dstSRS="EPSG:3857", outputBounds=(b.xmin, b.ymin, b.xmax, b.ymax),
                       width=n, height=n, resampleAlg="near", srcNodata=0, dstNodata=0,
                       outputType=gdal.GDT_UInt16)
    dn = warped.ReadAsArray().astype(np.float64)
    valid = (dn > 0) & (dn < TIR_SATURATED)
    if not valid.any():
        return None
    bt = brightness_temperature_b13((dn - 1.0) * ucc).astype(np.float64)
    bt[~valid] = np.nan
    return bt
