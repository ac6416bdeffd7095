"""Cut a granule into global-grid tiles: warp DN bands 1–9 onto each tile and crop to valid data.

Each subsystem (VNIR 15 m, SWIR 30 m) is warped once per tile with GDAL, nearest neighbour, DN 0
as nodata, so every tile pixel carries a DN that really occurs in the granule (VNIR 15 m -> 30 m
takes the VNIR pixel under the tile pixel centre; averaging would mix saturated 255s into valid
values). The tile keeps the bounding box of pixels where any band is valid (inclusive bounds).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

import numpy as np
from osgeo import gdal, gdal_array

from gmi_engine.aster.reader import Granule
from gmi_engine.grid import DEFAULT_GRID, TileGrid, TileIndex
from gmi_engine.kernel.bands import BANDS

gdal.UseExceptions()


@dataclass(frozen=True)
class TileCut:
    """A granule's DN bands on one tile, cropped to the valid box (inclusive row/col bounds)."""

    tile: TileIndex
    min_row: int
    max_row: int
    min_col: int
    max_col: int
    bands: dict  # band code ("01".."09", "3N") -> uint8 array of the box's shape

    @property
    def shape(self) -> tuple:
        """(rows, cols) of the cropped box."""
        return self.max_row - self.min_row + 1, self.max_col - self.min_col + 1

    def full_tile(self, code: str, tile_px: int) -> np.ndarray:
        """The band placed back on the full tile (0 outside the box)."""
        out = np.zeros((tile_px, tile_px), dtype=np.uint8)
        out[self.min_row:self.max_row + 1, self.min_col:self.max_col + 1] = self.bands[code]
        return out


def _subsystem_source(granule: Granule, subsystem: str, codes: list) -> gdal.Dataset:
    """An in-memory georeferenced stack of one subsystem's bands (read once per granule)."""
    first = granule.bands[codes[0]]
    mem = gdal.GetDriverByName("MEM").Create("", first.cols, first.rows, len(codes), gdal.GDT_Byte)
    mem.SetProjection("EPSG:{}".format(granule.epsg))
    mem.SetGeoTransform(granule.geotransform(subsystem))
    for i, code in enumerate(codes, start=1):
        band = mem.GetRasterBand(i)
        band.WriteArray(granule.read_band(code))
        band.SetNoDataValue(0)
    return mem


def granule_tiles(granule: Granule, grid: TileGrid = DEFAULT_GRID) -> list:
    """Tiles the granule's footprint polygon intersects (not its bounding box)."""
    return grid.tiles_for_polygon(list(granule.footprint_lonlat))


def _subsystems(granule: Granule) -> list:
    """(subsystem, band codes) of the subsystems with bands, VNIR first."""
    out = []
    for subsystem in ("VNIR", "SWIR"):
        codes = [c for c in BANDS if c in granule.bands and granule.bands[c].subsystem == subsystem]
        if codes:
            out.append((subsystem, codes))
    return out


def subsystem_sources(granule: Granule, stacks: Optional[list] = None) -> list:
    """``(band codes, dataset)`` of each subsystem with bands (for :func:`cut_tile`): read from the
    granule, or GDAL handles on :func:`dn_stacks` without copying them (several threads each make
    their own: a GDAL dataset must not be used by two threads at once)."""
    if stacks is None:
        return [(codes, _subsystem_source(granule, subsystem, codes)) for subsystem, codes in _subsystems(granule)]
    out = []
    for subsystem, codes, array in stacks:
        ds = gdal_array.OpenArray(array)
        ds.SetProjection("EPSG:{}".format(granule.epsg))
        ds.SetGeoTransform(granule.geotransform(subsystem))
        for i in range(len(codes)):
            ds.GetRasterBand(i + 1).SetNoDataValue(0)
        out.append((codes, ds))
    return out


def dn_stacks(granule: Granule) -> list:
    """(subsystem, band codes, DN array (bands, rows, cols)) of the VNIR and SWIR bands, read once."""
    return [(subsystem, codes, np.stack([granule.read_band(code) for code in codes]))
            for subsystem, codes in _subsystems(granule)]


def cut_tile(sources: list, grid: TileGrid, tile: TileIndex,
             pool: Optional[ThreadPoolExecutor] = None) -> Optional[TileCut]:
    """The :class:`TileCut` of one tile from :func:`subsystem_sources`, None without a valid pixel.

    With ``pool`` the subsystems are warped side by side (GDAL releases the GIL; each thread
    reads only its own source dataset).
    """
    px = grid.tile_px
    b = grid.bounds(tile)

    def warp(source: tuple) -> dict:
        codes, src = source
        warped = gdal.Warp("", src, format="MEM", dstSRS="EPSG:3857",
                           outputBounds=(b.xmin, b.ymin, b.xmax, b.ymax), width=px, height=px,
                           resampleAlg="near", srcNodata=0, dstNodata=0, outputType=gdal.GDT_Byte)
        return dict(zip(codes, warped.ReadAsArray().reshape(len(codes), px, px)))

    arrays = {}
    for part in (pool.map(warp, sources) if pool is not None else map(warp, sources)):
        arrays.update(part)
    valid = np.zeros((px, px), dtype=bool)
    for arr in arrays.values():
        valid |= arr > 0
    rows = np.flatnonzero(valid.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(valid.any(axis=0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    return TileCut(tile, r0, r1, c0, c1,
                   {code: np.ascontiguousarray(a[r0:r1 + 1, c0:c1 + 1]) for code, a in arrays.items()})


def cut_granule(granule: Granule, grid: TileGrid = DEFAULT_GRID,
                tiles: Optional[Iterable[TileIndex]] = None) -> Iterator[TileCut]:
    """Yield one :class:`TileCut` per tile with at least one valid pixel."""
    wanted = list(tiles) if tiles is not None else granule_tiles(granule, grid)
    sources = subsystem_sources(granule)
    if not sources:
        return
    with ThreadPoolExecutor(max_workers=len(sources), thread_name_prefix="gmi-cut") as pool:
        for tile in wanted:
            cut = cut_tile(sources, grid, tile, pool)
            if cut is not None:
                yield cut
