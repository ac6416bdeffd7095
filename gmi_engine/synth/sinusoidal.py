"""The MODIS sinusoidal tile grid (formats.md §6).

Sinusoidal projection on a sphere of radius :data:`R`; tiles ``h`` 0..35 (east) and ``v`` 0..17
(south), each :data:`TILE_M` metres square. Corners use the rounded constants real MODIS files use
(``ULx = -20015109.354 + h*T``, ``ULy = 10007554.677 - v*T``); a grid of ``size`` pixels per side
has pixels of ``T/size`` metres (1200 at 1 km, 2400 at 500 m, 240 at 5 km).
"""
from __future__ import annotations

import math
from typing import Tuple

import numpy as np

from gmi_engine.errors import GmiInputError

R = 6371007.181
HALF_X = 20015109.354
HALF_Y = 10007554.677
TILE_M = 1111950.519667
TILES_H = 36
TILES_V = 18
PROJ4 = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"


def check_tile(h: int, v: int) -> None:
    """Raise ``ValueError`` unless (h, v) is a MODIS tile index."""
    if not (0 <= int(h) < TILES_H and 0 <= int(v) < TILES_V):
        raise GmiInputError("MODIS tile h{:02d}v{:02d} is outside h00..h35, v00..v17".format(h, v))


def tile_corners(h: int, v: int) -> Tuple[float, float, float, float]:
    """(ULx, ULy, LRx, LRy): the outer edges of tile (h, v), metres."""
    check_tile(h, v)
    ulx = -HALF_X + h * TILE_M
    uly = HALF_Y - v * TILE_M
    return ulx, uly, ulx + TILE_M, uly - TILE_M


def tile_geotransform(h: int, v: int, size: int) -> Tuple[float, ...]:
    """GDAL geotransform of a ``size`` x ``size`` grid on tile (h, v)."""
    ulx, uly, _, _ = tile_corners(h, v)
    px = TILE_M / size
    return (ulx, px, 0.0, uly, 0.0, -px)


def lonlat_to_xy(lon, lat) -> Tuple[np.ndarray, np.ndarray]:
    """Forward sinusoidal: degrees -> metres (``x = R·λ·cos φ``, ``y = R·φ``)."""
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    return R * lam * np.cos(phi), R * phi


def xy_to_lonlat(x, y) -> Tuple[np.ndarray, np.ndarray]:
    """Inverse sinusoidal: metres -> degrees (longitudes beyond ±180 are outside the lens)."""
    phi = np.asarray(y, dtype=np.float64) / R
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.asarray(x, dtype=np.float64) / (R * np.cos(phi))
    return np.degrees(lam), np.degrees(phi)


def tile_of_lonlat(lon: float, lat: float) -> Tuple[int, int]:
    """The (h, v) tile holding a geographic point."""
    x, y = lonlat_to_xy(lon, lat)
    h = int(math.floor((float(x) + HALF_X) / TILE_M))
    v = int(math.floor((HALF_Y - float(y)) / TILE_M))
    check_tile(h, v)
    return h, v


def pixel_centres(h: int, v: int, size: int, rows: slice = slice(None),
                  cols: slice = slice(None), sub: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """Sinusoidal x, y of sample points in a window of the grid.

    With ``sub`` > 1 each pixel holds ``sub`` x ``sub`` evenly spaced points; the result then has
    shape ``(n_rows, n_cols, sub, sub)`` (otherwise ``(n_rows, n_cols)``).
    """
    ulx, uly, _, _ = tile_corners(h, v)
    px = TILE_M / size
    r = np.arange(size)[rows].astype(np.float64)
    c = np.arange(size)[cols].astype(np.float64)
    f = (np.arange(sub, dtype=np.float64) + 0.5) / sub
    y = uly - (r[:, None, None, None] + f[None, None, :, None]) * px
    x = ulx + (c[None, :, None, None] + f[None, None, None, :]) * px
    x, y = np.broadcast_arrays(x, y)
    if sub == 1:
        return x[:, :, 0, 0].copy(), y[:, :, 0, 0].copy()
    return x.copy(), y.copy()


def window_of_lonlat_bbox(h: int, v: int, size: int, bbox: Tuple[float, float, float, float]
                          ) -> Tuple[slice, slice]:
    """Row and column slices of the grid covering a (west, south, east, north) bbox in degrees.

    The sinusoidal image of a lon/lat box is curved; the slices cover it whole (a superset).
    Empty slices mean the bbox misses the tile.
    """
    west, south, east, north = bbox
    ulx, uly, _, _ = tile_corners(h, v)
    px = TILE_M / size
    # x = R·λ·cos φ is extreme at a corner or where |φ| is smallest inside the box.
    nearest_equator = min(max(0.0, south), north)
    lons, lats = np.meshgrid([west, east], [south, north, nearest_equator])
    xs, ys = lonlat_to_xy(lons, lats)
    c0 = int(np.clip(math.floor((xs.min() - ulx) / px), 0, size))
    c1 = int(np.clip(math.ceil((xs.max() - ulx) / px), 0, size))
    r0 = int(np.clip(math.floor((uly - ys.max()) / px), 0, size))
    r1 = int(np.clip(math.ceil((uly - ys.min()) / px), 0, size))
    return slice(r0, r1), slice(c0, c1)
