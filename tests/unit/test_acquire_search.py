"""search_aster / search_ancillaries through the real earthaccess + python-cmr + requests stack.

CMR is replayed from hand-written UMM-G replies (tests/data/cmr, see cmr_replay.py); the tests
assert the queries earthaccess sends and the granules and files GMI chooses.
"""
from __future__ import annotations

from datetime import date

import pytest
import responses
from cmr_replay import CmrReplay

from benchmarks import search as search_bench
from gmi_engine.acquire.footprint import gdem_tile_name, gdem_tiles, modis_tile, modis_tiles, split_antimeridian
from gmi_engine.acquire.search import search_ancillaries, search_aster
from gmi_engine.errors import GmiInputError

CUPRITE = (-117.6, 37.0, -116.5, 38.0)
FIJI = (179.0, -18.0, 180.0, -16.0)


@pytest.fixture
def cmr():
    with responses.RequestsMock() as mock:
        yield CmrReplay(mock)


def test_query_sent_names_product_version_time_box_cloud_and_day(cmr):
    search_aster(CUPRITE, date(2006, 1, 1), date(2006, 12, 31), max_cloud=20, version="3.1")
    (query,) = cmr.of("AST_L1T")
    assert query["short_name"] == ["AST_L1T"] and query["version"] == ["031"]
    assert query["temporal[]"] == ["2006-01-01T00:00:00Z,2006-12-31T23:59:59Z"]
    assert query["bounding_box"] == ["-117.6,37.0,-116.5,38.0"]
    assert query["cloud_cover"] == ["0,20.0"]
    assert query["day_night_flag"] == ["day"]


def test_auto_searches_both_versions_and_keeps_v31_of_a_scene_in_both(cmr):
    found = search_aster(CUPRITE, date(2000, 1, 1), date(2010, 12, 31))
    assert sorted(q["version"][0] for q in cmr.of("AST_L1T")) == ["003", "031"]
    assert [g.granule_id for g in found] == ["AST_L1T_03109062006180242_20240301093312_12345",
                                             "AST_L1T_03106152009183011_20240305101010_22222"]
    first = found[0]
    assert first.version == "031" and first.cloud_cover == 3.0 and first.day_night == "Day"
    assert first.files[0].size == 117002311 and first.files[0].checksum_algorithm == "SHA-256"
    assert first.urls == ("https://data.lpdaac.earthdatacloud.nasa.gov/lp-prod-protected/AST_L1T.031/"
                          "AST_L1T_03109062006180242_20240301093312_12345.hdf",)
    assert first.footprint[0][0] == (-117.5512, 37.3101) and len(first.footprint[0]) == 5


def test_v003_only_and_no_day_filter(cmr):
    found = search_aster(CUPRITE, date(2000, 1, 1), date(2010, 12, 31), day_only=False, version="003")
    (query,) = cmr.of("AST_L1T")
    assert "day_night_flag" not in query and "cloud_cover" not in query
    assert [g.version for g in found] == ["003"]


def test_swir_usable_clips_the_temporal_range_at_2008_04(cmr):
    usable = search_aster(CUPRITE, date(2000, 1, 1), date(2010, 12, 31), swir_usable=True, version="3.1")
    assert cmr.of("AST_L1T")[-1]["temporal[]"] == ["2000-01-01T00:00:00Z,2008-03-31T23:59:59Z"]
    assert [g.swir_usable for g in usable] == [True]
    later = search_aster(CUPRITE, date(2000, 1, 1), date(2010, 12, 31), swir_usable=False, version="3.1")
    assert cmr.of("AST_L1T")[-1]["temporal[]"] == ["2008-04-01T00:00:00Z,2010-12-31T23:59:59Z"]
    assert [g.start.date() for g in later] == [date(2009, 6, 15)]


def test_bad_bbox_and_version_are_input_errors():
    with pytest.raises(GmiInputError, match="bbox"):
        search_aster((0, 10, 1, 5), date(2006, 1, 1), date(2006, 2, 1))
    with pytest.raises(GmiInputError, match="version"):
        search_aster(CUPRITE, date(2006, 1, 1), date(2006, 2, 1), version="4")


def test_antimeridian_footprint_is_split_into_two_rings(cmr):
    (granule,) = search_aster(FIJI, date(2005, 1, 1), date(2005, 1, 31))
    east, west = granule.footprint
    assert all(179.0 < x <= 180.0 for x, _ in east) and all(-180.0 <= x < -179.0 for x, _ in west)
    assert east[0] == east[-1] and west[0] == west[-1]


def test_multi_polygon_footprint_meeting_at_the_antimeridian_keeps_both_polygons(cmr):
    (granule,) = search_aster(FIJI, date(2007, 2, 1), date(2007, 2, 28))
    assert granule.version == "031" and len(granule.footprint) == 2
    east, west = granule.footprint
    assert max(x for x, _ in east) == 180.0 and min(x for x, _ in west) == -180.0
    assert modis_tiles([granule.footprint]) == {(35, 10), (0, 10)}
    assert gdem_tiles([granule.footprint]) == {"S17E179", "S17W180", "S18E179", "S18W180"}
    anc = search_ancillaries([granule], products=("gdem",))
    assert [g.granule_id for g in anc.gdem] == ["ASTGTMV003_S17E179", "ASTGTMV003_S17W180", "ASTGTMV003_S18E179"]


def test_modis_tile_formula_at_published_tiles():
    # MODIS Land tiles: Los Angeles is in h08v05, the Nile delta in h20v05, (0.1 E, 0.1 N) in h18v08.
    assert modis_tile(-118.25, 34.05) == (8, 5)
    assert modis_tile(31.2, 30.5) == (20, 5)
    assert modis_tile(0.1, 0.1) == (18, 8)
    assert modis_tile(0.1, -0.1) == (18, 9)


def test_footprint_across_antimeridian_touches_tiles_on_both_edges():
    ring = [(179.6, -17.1), (-179.76, -17.17), (-179.67, -16.63), (179.7, -16.55), (179.6, -17.1)]
    assert modis_tiles([tuple(split_antimeridian(ring))]) == {(35, 10), (0, 10)}
    assert gdem_tile_name(-117.2, 37.5) == "N37W118" and gdem_tile_name(179.5, -16.2) == "S17E179"


def test_ancillaries_same_day_modis_tiles_composite_and_gdem(cmr):
    aster = search_aster(CUPRITE, date(2006, 9, 1), date(2006, 9, 30)) + search_aster(
        FIJI, date(2005, 1, 1), date(2005, 1, 31))
    anc = search_ancillaries(aster)
    assert [g.granule_id for g in anc.mcd19a2] == [
        "MCD19A2.A2005010.h00v10.061.2022330120102", "MCD19A2.A2005010.h35v10.061.2022330120101",
        "MCD19A2.A2006249.h08v05.061.2023102152031"]  # not h09v05: the scene does not reach it
    # The 8-day composite holding 2006-09-06 (DOY 249) starts on DOY 249; 2005-01-10 (DOY 10) -> DOY 9.
    assert [g.granule_id for g in anc.mod09a1] == [
        "MOD09A1.A2005009.h00v10.061.2021111000001", "MOD09A1.A2005009.h35v10.061.2021111000000",
        "MOD09A1.A2006249.h08v05.061.2021110123456"]
    assert [g.granule_id for g in anc.gdem] == ["ASTGTMV003_N37W117", "ASTGTMV003_N37W118", "ASTGTMV003_S17E179",
                                                "ASTGTMV003_S17W180", "ASTGTMV003_S18E179"]
    assert all(len(g.files) == 1 and g.files[0].name.endswith("_dem.tif") for g in anc.gdem)
    mcd = cmr.of("MCD19A2")
    assert {q["temporal[]"][0] for q in mcd} == {"2006-09-06T00:00:00Z,2006-09-06T23:59:59Z",
                                                 "2005-01-10T00:00:00Z,2005-01-10T23:59:59Z"}
    assert all(q["version"] == ["061"] for q in mcd + cmr.of("MOD09A1")) and cmr.of("ASTGTM")[0]["version"] == ["003"]


def test_search_of_200_results_costs_under_a_second_beyond_the_replay():
    """Issue 21's limit, measured as ``python -m benchmarks.search`` does (the replay's own time subtracted)."""
    items = search_bench.year_of_granules()
    search_bench.one_search(items)  # warm-up: imports, earthaccess set-up
    run = search_bench.one_search(items)
    assert run["results"] == 200 and len({i["umm"]["GranuleUR"] for i in items}) == 200
    assert 0 < run["replay_s"] < run["total_s"]
    assert run["own_s"] < 1.0, run
