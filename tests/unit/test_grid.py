"""The global tile grid: DESIGN.md numbers, pyproj agreement, containment, keys, footprints, CLI."""
from __future__ import annotations

import math

import numpy as np
import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from osgeo import gdal, ogr, osr

from gmi_engine.cli.main import main as gmi
from gmi_engine.errors import GmiError, GmiInputError
from gmi_engine.grid import (
    DEFAULT_GRID,
    MERCATOR_MAX_LAT,
    MODIS_TILE_PX,
    WORLD_HALF_WIDTH_M,
    BoundsXY,
    TileGrid,
    TileIndex,
)

gdal.UseExceptions()

HALF = 20037495.0
TILE_M = 30720.0
LAST = 1304
CHINO = (-108.07, 32.793)
OTHER_GRID = TileGrid(res=120.0, tile_px=256)
EXACT_GRID = TileGrid(res=100.0, tile_px=125)  # 2*half = 3206 whole tiles; x = 0 and y = 0 are tile edges
GRIDS = [DEFAULT_GRID, OTHER_GRID, EXACT_GRID]

# Independent transformers (not the module's cached ones).
TO_LONLAT = pyproj.Transformer.from_crs(3857, 4326, always_xy=True)
TO_MERC = pyproj.Transformer.from_crs(4326, 3857, always_xy=True)


def contains(b: BoundsXY, x: float, y: float, grid: TileGrid = DEFAULT_GRID) -> bool:
    """The grid's half-open convention: x in [xmin, xmax), y in (ymin, ymax] - closed at +half/-half."""
    h = grid.half_extent
    x_in = b.xmin <= x and (x < b.xmax or x == b.xmax == h)
    y_in = (b.ymin < y or y == b.ymin == -h) and y <= b.ymax
    return x_in and y_in


def grid_coords(grid: TileGrid) -> st.SearchStrategy:
    """Any coordinate in [-half, +half], with the edges and exact tile boundaries drawn often."""
    h, size = grid.half_extent, grid.tile_size_m
    return st.one_of(
        st.floats(-h, h),
        st.sampled_from([-h, h, 0.0, math.nextafter(h, 0), math.nextafter(-h, 0)]),
        st.integers(0, grid.tiles_per_axis - 1).map(lambda k: -h + k * size),
        st.integers(1, grid.tiles_per_axis - 1).map(lambda k: math.nextafter(-h + k * size, -math.inf)),
    )


tiles = st.builds(TileIndex, st.integers(0, LAST), st.integers(0, LAST))


# -- DESIGN.md numbers --------------------------------------------------------------------

def test_design_numbers():
    g = DEFAULT_GRID
    assert g.half_extent == HALF
    assert g.tile_size_m == TILE_M
    # 2*half / 30720 = 1304.52: 1304 whole tiles plus a last one reaching past +half
    assert 2 * HALF / TILE_M == pytest.approx(1304.524, abs=1e-3)
    assert g.tiles_per_axis == LAST + 1
    b = g.bounds(TileIndex(LAST, LAST))
    assert b.xmin < HALF < b.xmax and b.ymin < -HALF < b.ymax
    for ix, iy in [(0, 0), (260, 526), (1000, 3)]:
        b = g.bounds(TileIndex(ix, iy))
        assert (b.xmin, b.ymax) == (-HALF + ix * TILE_M, HALF - iy * TILE_M)
        assert (b.xmax - b.xmin, b.ymax - b.ymin) == (TILE_M, TILE_M)


def test_chino_mine_is_tile_260_526():
    tile = DEFAULT_GRID.tile_of_lonlat(*CHINO)
    assert tile == TileIndex(260, 526)
    assert DEFAULT_GRID.key(tile) == "res-30_tilesize-1024_x-260_y-526"
    ll = DEFAULT_GRID.lonlat_bounds(tile)
    assert ll.west < CHINO[0] < ll.east and ll.south < CHINO[1] < ll.north


def test_geotransforms_of_tile_and_modis_sampling():
    tile = TileIndex(260, 526)
    assert DEFAULT_GRID.geotransform(tile) == (-12050295.0, 30.0, 0.0, 3878775.0, 0.0, -30.0)
    modis = DEFAULT_GRID.geotransform(tile, px=MODIS_TILE_PX)
    assert modis == (-12050295.0, 120.0, 0.0, 3878775.0, 0.0, -120.0)
    assert OTHER_GRID.geotransform(tile)[1] == 120.0


def test_modis_sampling_aligns_with_tile_pixels_in_gdal():
    """Averaging the 1024² tile onto the 256² geotransform takes exact 4x4 blocks."""
    tile = TileIndex(260, 526)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(3857)
    data = np.random.default_rng(1).integers(0, 1000, (1024, 1024)).astype(np.float32)
    src = gdal.GetDriverByName("MEM").Create("", 1024, 1024, 1, gdal.GDT_Float32)
    src.SetGeoTransform(DEFAULT_GRID.geotransform(tile))
    src.SetProjection(srs.ExportToWkt())
    src.GetRasterBand(1).WriteArray(data)
    dst = gdal.GetDriverByName("MEM").Create("", 256, 256, 1, gdal.GDT_Float32)
    dst.SetGeoTransform(DEFAULT_GRID.geotransform(tile, px=MODIS_TILE_PX))
    dst.SetProjection(srs.ExportToWkt())
    gdal.Warp(dst, src, resampleAlg="average")
    expected = data.reshape(256, 4, 256, 4).mean(axis=(1, 3))
    np.testing.assert_allclose(dst.GetRasterBand(1).ReadAsArray(), expected, rtol=1e-6)


# -- agreement with pyproj ----------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(tiles | st.sampled_from([TileIndex(0, 0), TileIndex(LAST, LAST), TileIndex(0, LAST),
                                TileIndex(LAST, 0), TileIndex(260, 526)]))
def test_bounds_agree_with_pyproj(tile):
    g = DEFAULT_GRID
    b = g.bounds(tile)
    lons, lats = TO_LONLAT.transform([b.xmin, b.xmax], [b.ymin, b.ymax])
    ll = g.lonlat_bounds(tile)
    assert (ll.west, ll.east, ll.south, ll.north) == (lons[0], lons[1], lats[0], lats[1])
    # back to metres; the last column's east edge is past 180° and comes back wrapped
    xs, ys = TO_MERC.transform(lons, lats)
    if tile.ix == LAST:
        xs[1] += 2 * WORLD_HALF_WIDTH_M
    assert abs(xs[0] - b.xmin) < 1e-6 and abs(xs[1] - b.xmax) < 1e-6
    assert abs(ys[0] - b.ymin) < 1e-6 and abs(ys[1] - b.ymax) < 1e-6
    # the lon/lat of the tile centre maps back to the tile
    cx, cy = b.centre
    assert g.tile_of_lonlat(*TO_LONLAT.transform(cx, cy)) == tile


# -- point -> tile -> bounds containment --------------------------------------------------

@pytest.mark.parametrize("grid", GRIDS, ids=lambda g: g.name)
def test_containment_over_the_whole_grid(grid):
    @settings(max_examples=400, deadline=None)
    @given(grid_coords(grid), grid_coords(grid))
    def check(x, y):
        tile = grid.tile_of_xy(x, y)
        assert 0 <= tile.ix < grid.tiles_per_axis and 0 <= tile.iy < grid.tiles_per_axis
        assert contains(grid.bounds(tile), x, y, grid), (x, y, tile)
    check()


@pytest.mark.parametrize("grid", GRIDS, ids=lambda g: g.name)
def test_grid_corners(grid):
    h, last = grid.half_extent, grid.tiles_per_axis - 1
    assert grid.tile_of_xy(-h, h) == TileIndex(0, 0)
    assert grid.tile_of_xy(h, -h) == TileIndex(last, last)
    assert grid.tile_of_xy(WORLD_HALF_WIDTH_M, -WORLD_HALF_WIDTH_M) == TileIndex(last, last)


@settings(max_examples=200, deadline=None)
@given(st.floats(-180, 180), st.floats(-MERCATOR_MAX_LAT, MERCATOR_MAX_LAT))
def test_lonlat_containment(lon, lat):
    tile = DEFAULT_GRID.tile_of_lonlat(lon, lat)
    x, y = TO_MERC.transform(lon, lat)
    w = WORLD_HALF_WIDTH_M
    x, y = max(-w, min(w, x)), max(-w, min(w, y))
    if x < -HALF:  # the 13 m strip west of the grid wraps round to the last column
        assert tile.ix == LAST
        x += 2 * WORLD_HALF_WIDTH_M
    if y > HALF:  # the 13 m strip north of the grid clamps to row 0
        assert tile.iy == 0
        y = HALF
    assert contains(DEFAULT_GRID.bounds(tile), x, y)


@settings(max_examples=100, deadline=None)
@given(st.floats(-180, 180), st.sampled_from([89.9, 90.0, 85.06, MERCATOR_MAX_LAT]), st.sampled_from([1, -1]))
def test_poles_clamp_to_the_edge_rows(lon, lat, sign):
    tile = DEFAULT_GRID.tile_of_lonlat(lon, sign * lat)
    assert tile.iy == (0 if sign > 0 else LAST)
    assert tile.ix == DEFAULT_GRID.tile_of_lonlat(lon, 0.0).ix


def test_west_strip_wraps_to_last_column():
    for x in (-WORLD_HALF_WIDTH_M, -HALF - 1.0):
        tile = DEFAULT_GRID.tile_of_xy(x, 0.0)
        assert tile.ix == LAST
        assert contains(DEFAULT_GRID.bounds(tile), x + 2 * WORLD_HALF_WIDTH_M, 0.0)
    assert DEFAULT_GRID.tile_of_lonlat(-180.0, 0.0) == DEFAULT_GRID.tile_of_lonlat(180.0, 0.0)
    ll = DEFAULT_GRID.lonlat_bounds(TileIndex(LAST, 100))
    assert ll.west > ll.east  # crosses the antimeridian


# -- keys and validation ------------------------------------------------------------------

@pytest.mark.parametrize("grid", GRIDS + [TileGrid(15.5, 100)], ids=lambda g: g.name)
def test_key_round_trip(grid):
    @settings(max_examples=100, deadline=None)
    @given(st.integers(0, grid.tiles_per_axis - 1), st.integers(0, grid.tiles_per_axis - 1))
    def check(ix, iy):
        tile = TileIndex(ix, iy)
        key = grid.key(tile)
        assert key == "{}_x-{}_y-{}".format(grid.name, ix, iy)
        assert grid.parse_key(key) == tile
    check()


@pytest.mark.parametrize("text, fragment", [
    ("res-30_tilesize-1024_x-260", "not of the form"),
    ("res-30_tilesize-1024_x-260_y-526 ", "not of the form"),
    ("res-30_tilesize-1024_x--1_y-526", "not of the form"),
    ("res-30_tilesize-1024_x-2.5_y-526", "not of the form"),
    ("res-120_tilesize-256_x-260_y-526", "not on the res-30_tilesize-1024 grid"),
    ("res-30_tilesize-1024_x-1305_y-526", "x index 1305"),
    ("res-30_tilesize-1024_x-0_y-99999", "y index 99999"),
    (None, "not of the form"),
])
def test_bad_keys_raise(text, fragment):
    with pytest.raises(GmiInputError, match=fragment) as info:
        DEFAULT_GRID.parse_key(text)
    assert isinstance(info.value, ValueError) and isinstance(info.value, GmiError)


@pytest.mark.parametrize("call, fragment", [
    (lambda: TileIndex(-1, 0), "x index must be >= 0, got -1"),
    (lambda: TileIndex(0, 2.0), "y index must be an integer.*2.0"),
    (lambda: TileIndex(True, 0), "integer tile index, got True"),
    (lambda: TileIndex("3", 0), "integer tile index, got '3'"),
    (lambda: DEFAULT_GRID.bounds(TileIndex(1305, 0)), "x index 1305 is out of range 0..1304"),
    (lambda: DEFAULT_GRID.key(TileIndex(0, 4000)), "y index 4000"),
    (lambda: DEFAULT_GRID.tile(7, 1305), "y index 1305"),
    (lambda: OTHER_GRID.geotransform(TileIndex(0, 0), px=0), "pixels per tile side must be >= 1"),
    (lambda: DEFAULT_GRID.tile_of_xy(float("nan"), 0.0), "x = nan"),
    (lambda: DEFAULT_GRID.tile_of_xy(0.0, 3e7), "y = 30000000.0"),
    (lambda: DEFAULT_GRID.tile_of_lonlat(180.5, 0.0), "longitude 180.5"),
    (lambda: DEFAULT_GRID.tile_of_lonlat(0.0, -91.0), "latitude -91.0"),
    (lambda: TileGrid(res=0.0), "res must be a positive"),
    (lambda: TileGrid(tile_px=0), "tile_px must be >= 1"),
])
def test_invalid_values_raise_input_error(call, fragment):
    with pytest.raises(ValueError, match=fragment) as info:
        call()
    assert isinstance(info.value, GmiInputError)


def test_tile_index_accepts_numpy_ints_and_is_immutable():
    tile = TileIndex(np.int64(260), np.int32(526))
    assert tile == TileIndex(260, 526) and type(tile.ix) is int
    with pytest.raises(AttributeError):
        tile.ix = 3
    assert sorted([TileIndex(2, 1), TileIndex(1, 2)]) == [TileIndex(1, 2), TileIndex(2, 1)]


# -- footprints ---------------------------------------------------------------------------

def parallelogram(lon0, lat0, a_km, b_km, angle_deg, shear_deg=0.0):
    """Four lon/lat corners of a parallelogram centred on (lon0, lat0), sides a and b km."""
    t, s = math.radians(angle_deg), math.radians(angle_deg + 90 + shear_deg)
    ua = (a_km * math.cos(t), a_km * math.sin(t))
    ub = (b_km * math.cos(s), b_km * math.sin(s))
    km_lat, km_lon = 1 / 111.32, 1 / (111.32 * math.cos(math.radians(lat0)))
    corners = []
    for p, q in [(-1, -1), (1, -1), (1, 1), (-1, 1)]:
        e = (p * ua[0] + q * ub[0]) / 2
        n = (p * ua[1] + q * ub[1]) / 2
        corners.append((lon0 + e * km_lon, lat0 + n * km_lat))
    return corners


def bbox_tiles(grid, ring):
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    nw, se = grid.tile_of_lonlat(min(lons), max(lats)), grid.tile_of_lonlat(max(lons), min(lats))
    return {TileIndex(ix, iy) for ix in range(nw.ix, se.ix + 1) for iy in range(nw.iy, se.iy + 1)}


def lonlat_polygon(ring):
    wkt = "POLYGON(({}))".format(",".join("{!r} {!r}".format(*p) for p in list(ring) + [ring[0]]))
    return ogr.CreateGeometryFromWkt(wkt)


def lonlat_box(grid, tile):
    b = grid.lonlat_bounds(tile)
    return ogr.CreateGeometryFromWkt("POLYGON(({w!r} {s!r},{e!r} {s!r},{e!r} {n!r},{w!r} {n!r},{w!r} {s!r}))"
                                     .format(w=b.west, s=b.south, e=b.east, n=b.north))


def inside(ring, lon, lat):
    """Ray casting in lon/lat (edges straight in lon/lat, as tiles_for_polygon reads them)."""
    hit = False
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1]):
        if (y0 > lat) != (y1 > lat) and lon < x0 + (lat - y0) * (x1 - x0) / (y1 - y0):
            hit = not hit
    return hit


def test_rotated_aster_scene_touches_fewer_tiles_than_its_bbox():
    ring = parallelogram(*CHINO, 60.0, 60.0, 35.0, shear_deg=-5.0)
    found = DEFAULT_GRID.tiles_for_polygon(ring)
    boxed = bbox_tiles(DEFAULT_GRID, ring)
    assert TileIndex(260, 526) in found
    assert set(found) < boxed and len(found) < len(boxed)
    assert found == sorted(found)
    # closing the ring or reversing it changes nothing
    assert DEFAULT_GRID.tiles_for_polygon(ring + ring[:1]) == found
    assert DEFAULT_GRID.tiles_for_polygon(ring[::-1]) == found


@settings(max_examples=60, deadline=None)
@given(st.floats(-175, 175), st.floats(-75, 75), st.floats(5, 120), st.floats(5, 120),
       st.floats(0, 180), st.floats(-30, 30))
def test_footprint_tiles_are_exactly_the_overlapped_ones(lon, lat, a_km, b_km, angle, shear):
    grid = DEFAULT_GRID
    ring = parallelogram(lon, lat, a_km, b_km, angle, shear)
    found = grid.tiles_for_polygon(ring)
    assert set(found) <= bbox_tiles(grid, ring)
    poly = lonlat_polygon(ring)
    for tile in found:  # every returned tile really overlaps the polygon (to 1e-9°)
        box = lonlat_box(grid, tile)
        assert box.Intersection(poly).GetArea() > 0 or box.Distance(poly.Boundary()) < 1e-9, tile
    for tile in bbox_tiles(grid, ring):  # every tile whose centre is inside is returned
        c_lon, c_lat = TO_LONLAT.transform(*grid.bounds(tile).centre)
        if inside(ring, c_lon, c_lat) and poly.Boundary().Distance(ogr.CreateGeometryFromWkt(
                "POINT({!r} {!r})".format(c_lon, c_lat))) > 1e-7:
            assert tile in found, tile


def test_polygon_inside_one_tile_gives_that_tile_only():
    b = DEFAULT_GRID.bounds(TileIndex(260, 526))
    xs = [b.xmin + 1, b.xmax - 1, b.xmax - 1, b.xmin + 1]
    ys = [b.ymin + 1, b.ymin + 1, b.ymax - 1, b.ymax - 1]
    ring = list(zip(*TO_LONLAT.transform(xs, ys)))
    assert DEFAULT_GRID.tiles_for_polygon(ring) == [TileIndex(260, 526)]


def test_tiles_sharing_only_an_edge_are_left_out():
    assert EXACT_GRID.half_extent == 1603 * EXACT_GRID.tile_size_m
    ring = [(0.0, 0.0), (0.05, 0.0), (0.05, 0.05), (0.0, 0.05)]  # corner exactly at tile corner (0, 0)
    assert EXACT_GRID.tiles_for_polygon(ring) == [TileIndex(1603, 1602)]
    assert EXACT_GRID.tiles_for_polygon([(-0.05, 0.0), (0.05, 0.0), (0.0, 0.05)]) == [
        TileIndex(1602, 1602), TileIndex(1603, 1602)]


def test_footprint_across_the_antimeridian():
    ring = [(179.9, 60.0), (-179.8, 60.0), (-179.8, 60.3), (179.9, 60.3)]
    found = DEFAULT_GRID.tiles_for_polygon(ring)
    assert {t.ix for t in found} == {0, LAST}
    rows = {t.iy for t in found}
    assert rows == {DEFAULT_GRID.tile_of_lonlat(179.9, lat).iy for lat in (60.0, 60.15, 60.3)}


def test_other_grid_footprint_matches_its_point_lookup():
    ring = parallelogram(*CHINO, 20.0, 10.0, 20.0)
    found = OTHER_GRID.tiles_for_polygon(ring)
    assert OTHER_GRID.tile_of_lonlat(*CHINO) in found
    assert all(OTHER_GRID.lonlat_bounds(t).west < max(p[0] for p in ring) for t in found)


@pytest.mark.parametrize("ring, fragment", [
    ([(0, 0), (1, 0)], "at least 3"),
    ([(0, 0), (1, 0), (0, 0)], "at least 3"),
    ([(0, 0), (1, 1), (1, 0), (0, 1)], "self-intersecting"),
    ([(0, 0), (1, 1), (2, 2)], "no area"),
    ([(0, 0), (1, 0), (200, 1)], "vertex 2"),
    ([(0, 0), (1, 0), (1, float("nan"))], "vertex 2"),
    ([(0, 0), (1, 0), "x"], "vertex 2"),
])
def test_bad_footprints_raise(ring, fragment):
    with pytest.raises(GmiInputError, match=fragment):
        DEFAULT_GRID.tiles_for_polygon(ring)


# -- CLI ----------------------------------------------------------------------------------

def test_cli_tile_of(capsys):
    assert gmi(["grid", "tile-of", "-108.07", "32.793"]) == 0
    out = capsys.readouterr().out
    assert "tile 260 526" in out and "key res-30_tilesize-1024_x-260_y-526" in out
    assert "-12050295.000 3848055.000 -12019575.000 3878775.000" in out


def test_cli_bounds_by_index_and_key(capsys):
    assert gmi(["grid", "bounds", "260", "526"]) == 0
    by_index = capsys.readouterr().out
    assert gmi(["grid", "bounds", "res-30_tilesize-1024_x-260_y-526"]) == 0
    assert capsys.readouterr().out == by_index
    assert "geotransform: -12050295.0 30.0 0.0 3878775.0 0.0 -30.0" in by_index


def test_cli_errors_are_one_line(capsys):
    assert gmi(["grid", "bounds", "1305", "0"]) == 1
    assert "x index 1305 is out of range" in capsys.readouterr().err
    assert gmi(["grid", "bounds", "res-120_tilesize-256_x-1_y-1"]) == 1
    assert "not on the res-30_tilesize-1024 grid" in capsys.readouterr().err


def test_cli_tiles_of_polygon_wkt_and_vertices(capsys):
    ring = parallelogram(*CHINO, 60.0, 60.0, 35.0)
    tiles_ = DEFAULT_GRID.tiles_for_polygon(ring)
    expected = ["{} {} {}".format(t.ix, t.iy, DEFAULT_GRID.key(t)) for t in tiles_]
    assert gmi(["grid", "tiles-of-polygon", "--"] + ["{!r},{!r}".format(*p) for p in ring]) == 0
    assert capsys.readouterr().out.splitlines() == expected
    assert gmi(["grid", "tiles-of-polygon", lonlat_polygon(ring).ExportToWkt()]) == 0
    assert capsys.readouterr().out.splitlines() == expected


@pytest.mark.parametrize("command", ["tile-of", "bounds", "tiles-of-polygon"])
def test_cli_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit):
        gmi(["grid", command, "--help"])
    assert "example" in capsys.readouterr().out


def test_tile_index_normalises_every_spelling_of_a_tile():
    from gmi_engine.grid import tile_index

    want = TileIndex(260, 526)
    assert tile_index(want) is want
    assert tile_index((260, 526)) == tile_index([260, 526]) == want
    assert tile_index("260,526") == tile_index(" 260, 526 ") == want
    assert tile_index("res-30_tilesize-1024_x-260_y-526") == want
    assert tile_index((5000, 1), grid=None) == TileIndex(5000, 1)
    for bad, message in [("260-526", "'260-526' is not IX,IY"), ((1, 2, 3), "is not a tile"),
                         (5, "is not a tile"), ((5000, 1), "out of range"), ((-1, 2), ">= 0"),
                         ("res-120_tilesize-256_x-260_y-526", "not on the res-30_tilesize-1024 grid")]:
        with pytest.raises(GmiInputError, match=message) as info:
            tile_index(bad)
        assert isinstance(info.value, ValueError)


def test_bounds_xy_normalises_objects_and_sequences():
    from gmi_engine.grid import BoundsXY, bounds_xy

    box = BoundsXY(1.0, 2.0, 3.0, 4.0)
    assert bounds_xy(box) == bounds_xy([1, 2, 3, 4]) == bounds_xy((1.0, 2.0, 3.0, 4.0)) == box
    assert bounds_xy(DEFAULT_GRID.bounds(TileIndex(260, 526))) == DEFAULT_GRID.bounds(TileIndex(260, 526))
    for bad, message in [((3, 2, 1, 4), "xmin < xmax"), ((1, 2, 3), "need 4 numbers"),
                         ("abcd", "must be numbers"), ((1, 2, float("nan"), 4), "finite"),
                         (5, "4-tuple")]:
        with pytest.raises(GmiInputError, match=message) as info:
            bounds_xy(bad)
        assert isinstance(info.value, ValueError)
