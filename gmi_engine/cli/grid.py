"""``gmi grid …``: look up tiles of the global grid (EPSG:3857, 30 m, 1024 px tiles)."""
from __future__ import annotations

import argparse
from typing import List, Sequence, Tuple

from gmi_engine.cli.options import command_group, subcommand
from gmi_engine.errors import GmiInputError
from gmi_engine.grid import TileGrid, TileIndex, tile_index

_RAW = argparse.RawDescriptionHelpFormatter


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``grid`` command group."""
    cmds = command_group(sub, "grid", "GRID_COMMAND", dest="grid_command",
                         help="look up tiles of the global tile grid", description=__doc__)

    tile_of = subcommand(
        cmds, "tile-of", _tile_of, help="the tile holding a lon/lat point",
        description="Print the tile (ix iy), its key and its bounds for a WGS 84 point.\n\n"
                    "example:\n  gmi grid tile-of -108.07 32.793     # the Chino mine -> 260 526")
    tile_of.add_argument("lon", type=float, metavar="LON", help="longitude, degrees east")
    tile_of.add_argument("lat", type=float, metavar="LAT", help="latitude, degrees north "
                         "(beyond ±85.0511 clamps to the edge row)")
    _grid_options(tile_of)

    bounds = subcommand(
        cmds, "bounds", _bounds, help="the bounds of a tile",
        description="Print the EPSG:3857 and lon/lat bounds and the geotransform of a tile.\n\n"
                    "examples:\n  gmi grid bounds 260 526\n"
                    "  gmi grid bounds res-30_tilesize-1024_x-260_y-526")
    bounds.add_argument("tile", nargs="+", metavar="TILE", help="IX IY, or one tile key")
    _grid_options(bounds)

    polygon = subcommand(
        cmds, "tiles-of-polygon", _tiles_of_polygon, help="the tiles a lon/lat footprint polygon overlaps",
        description="List the tiles (ix iy key) whose area a WGS 84 polygon overlaps - not the tiles\n"
                    "of its bounding box. Give one WKT POLYGON, or three or more LON,LAT vertices\n"
                    "in ring order (put -- before them when the first longitude is negative).\n\n"
                    "examples:\n"
                    "  gmi grid tiles-of-polygon 'POLYGON((-108.5 32.6,-107.9 32.5,-107.8 33.0,"
                    "-108.4 33.1,-108.5 32.6))'\n"
                    "  gmi grid tiles-of-polygon -- -108.5,32.6 -107.9,32.5 -107.8,33.0 -108.4,33.1")
    polygon.add_argument("polygon", nargs="+", metavar="POLYGON", help="WKT, or LON,LAT vertices")
    _grid_options(polygon)

    granule = subcommand(
        cmds, "tiles-of", _tiles_of_granule, help="the tiles an AST_L1T granule's footprint overlaps",
        description="List the tiles (ix iy key) an AST_L1T granule's footprint polygon overlaps.\n\n"
                    "example:\n  gmi grid tiles-of AST_L1T_00309062006180242_20150516014601_17781.hdf")
    granule.add_argument("granule", metavar="GRANULE", help="AST_L1T .hdf file")
    _grid_options(granule)


def _grid_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--res", type=float, default=30.0, help="pixel size in metres (default 30)")
    parser.add_argument("--tile-px", type=int, default=1024, help="pixels per tile side (default 1024)")


def _describe(grid: TileGrid, tile: TileIndex) -> None:
    b, ll = grid.bounds(tile), grid.lonlat_bounds(tile)
    print("tile {} {}".format(tile.ix, tile.iy))
    print("key {}".format(grid.key(tile)))
    print("bounds EPSG:3857 xmin ymin xmax ymax: {:.3f} {:.3f} {:.3f} {:.3f}".format(
        b.xmin, b.ymin, b.xmax, b.ymax))
    print("bounds lon/lat west south east north: {:.8f} {:.8f} {:.8f} {:.8f}".format(
        ll.west, ll.south, ll.east, ll.north))


def _tile_of(args: argparse.Namespace) -> int:
    grid = TileGrid(args.res, args.tile_px)
    _describe(grid, grid.tile_of_lonlat(args.lon, args.lat))
    return 0


def _bounds(args: argparse.Namespace) -> int:
    grid = TileGrid(args.res, args.tile_px)
    if len(args.tile) == 1:
        tile = tile_index(args.tile[0], grid)
    elif len(args.tile) == 2:
        try:
            ix, iy = int(args.tile[0]), int(args.tile[1])
        except ValueError:
            raise GmiInputError("tile indices must be integers, got {} {}".format(*args.tile)) from None
        tile = tile_index((ix, iy), grid)
    else:
        raise GmiInputError("give IX IY or one tile key, got {} values".format(len(args.tile)))
    _describe(grid, tile)
    print("geotransform: {}".format(" ".join(repr(v) for v in grid.geotransform(tile))))
    return 0


def _tiles_of_polygon(args: argparse.Namespace) -> int:
    grid = TileGrid(args.res, args.tile_px)
    for tile in grid.tiles_for_polygon(_parse_polygon(args.polygon)):
        print("{} {} {}".format(tile.ix, tile.iy, grid.key(tile)))
    return 0


def _parse_polygon(words: Sequence[str]) -> List[Tuple[float, float]]:
    """(lon, lat) vertices from one WKT POLYGON or from LON,LAT words."""
    if len(words) == 1 and words[0].lstrip()[:1].isalpha():
        from osgeo import ogr

        ogr.UseExceptions()
        try:
            geometry = ogr.CreateGeometryFromWkt(words[0])
        except RuntimeError as exc:
            raise GmiInputError("cannot parse WKT {!r}: {}".format(words[0], exc)) from None
        if geometry is None or geometry.GetGeometryType() != ogr.wkbPolygon:
            raise GmiInputError("expected a WKT POLYGON, got {!r}".format(words[0]))
        if geometry.GetGeometryCount() != 1:
            raise GmiInputError("a footprint POLYGON may not have holes: {!r}".format(words[0]))
        return [tuple(p[:2]) for p in geometry.GetGeometryRef(0).GetPoints()]
    vertices = []
    for word in words:
        try:
            lon, lat = (float(v) for v in word.split(","))
        except ValueError:
            raise GmiInputError("vertex {!r} is not LON,LAT".format(word)) from None
        vertices.append((lon, lat))
    return vertices


def _tiles_of_granule(args: argparse.Namespace) -> int:
    from gmi_engine.aster.reader import open_granule

    grid = TileGrid(args.res, args.tile_px)
    for tile in grid.tiles_for_polygon(list(open_granule(args.granule).footprint_lonlat)):
        print(tile.ix, tile.iy, grid.key(tile))
    return 0
