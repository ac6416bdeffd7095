"""Defaults made visible (issue 14 item 6): ozone climatology, regional aerosol model, provenance."""
from __future__ import annotations

from datetime import date

import pytest

from gmi_engine.aster.reader import open_granule
from gmi_engine.atmosphere.aerosol_rule import regional_aerosol_model
from gmi_engine.atmosphere.ozone import climatology_ozone, climatology_ozone_du
from gmi_engine.backends.local import LocalStore
from gmi_engine.ingest import DEFAULTABLE_INPUTS, IngestOptions, ingest_many, tile_state


@pytest.mark.parametrize("lat", [-10.0, 0.0, 10.0])
@pytest.mark.parametrize("doy", [15, 105, 196, 288])
def test_tropical_ozone_is_250_to_285_du_all_year(lat, doy):
    """TOMS/OMI: the tropical column is the lowest outside the ozone hole, ~250-280 DU all year."""
    assert 240.0 <= climatology_ozone_du(lat, doy) <= 285.0


def test_arctic_spring_maximum_and_antarctic_october_minimum():
    """Arctic March-April > 400 DU; the Antarctic October zonal mean far below its summer value."""
    assert climatology_ozone_du(80.0, 90) > 400.0
    assert climatology_ozone_du(80.0, 90) > climatology_ozone_du(80.0, 260) + 100.0
    antarctic_october = climatology_ozone_du(-85.0, 288)
    assert antarctic_october < 220.0
    assert antarctic_october < climatology_ozone_du(-85.0, 15) - 60.0
    collar = climatology_ozone_du(-50.0, 260)  # southern mid-latitude spring maximum (SBUV 2001-10 zones: 340-355)
    assert collar > 330.0 and collar > climatology_ozone_du(-50.0, 74.5) + 50.0  # autumn minimum


def test_ozone_interpolates_smoothly_in_latitude_and_day_and_wraps_the_year():
    a, b = climatology_ozone_du(40.0, 100), climatology_ozone_du(41.0, 100)
    assert abs(a - b) < 5.0
    assert climatology_ozone_du(60.0, 365.9) == pytest.approx(climatology_ozone_du(60.0, 0.9), abs=1.0)
    assert climatology_ozone(60.0, date(2006, 4, 1)) == pytest.approx(climatology_ozone_du(60.0, 91) / 1000.0)


@pytest.mark.parametrize("lon, lat, model", [
    (10.0, 25.0, "desert"),        # central Sahara (Köppen BWh)
    (85.0, 39.0, "desert"),        # Taklamakan (BWk)
    (133.0, -25.0, "desert"),      # Australian interior (BWh)
    (10.0, 50.0, "continental"),   # central Europe (Cfb)
    (-60.0, -3.0, "continental"),  # Amazon (Af)
])
def test_regional_aerosol_rule(lon, lat, model):
    got, reason = regional_aerosol_model(lon, lat)
    assert got == model and reason.startswith("default: regional rule")


def test_ingest_without_ancillaries_names_every_default(granule_path, tmp_path):
    """No MCD19A2, no GDEM, no ozone, no model: the row names all five as defaults, with the climatology ozone."""
    path = granule_path("north")
    g = open_granule(path)
    summary = ingest_many([path], tmp_path / "ws", IngestOptions())
    assert not summary.failed and summary.rows >= 1
    with LocalStore(tmp_path / "ws") as store:
        row = store.get_source_row(summary.ingested[0].granule_id, summary.ingested[0].tiles[0])
    inputs = row.ac["inputs"]
    assert inputs["defaults"] == list(DEFAULTABLE_INPUTS)
    lat = sum(p[1] for p in g.footprint_lonlat) / len(g.footprint_lonlat)
    expected_du = climatology_ozone_du(lat, g.acquired.timetuple().tm_yday)
    assert inputs["ozone"]["value"] * 1000.0 == pytest.approx(expected_du, abs=0.5)
    assert "climatology" in inputs["ozone"]["source"]


def test_given_ozone_and_model_are_not_defaults(granule_path):
    g = open_granule(granule_path("north"))
    bounds = None
    from gmi_engine.grid import DEFAULT_GRID
    from gmi_engine.tiling import granule_tiles
    bounds = DEFAULT_GRID.bounds(granule_tiles(g, DEFAULT_GRID)[0])
    state, _, inputs = tile_state(g, bounds, IngestOptions(ozone=0.28, aerosol_model="desert"))
    assert state.aerosol_model == "desert" and inputs["ozone"]["value"] == 0.28
    assert "ozone" not in inputs["defaults"] and "aerosol_model" not in inputs["defaults"]
    auto, _, auto_inputs = tile_state(g, bounds, IngestOptions(aerosol_model="auto"))
    assert "aerosol_model" in auto_inputs["defaults"]
    assert auto_inputs["aerosol_model"]["value"] == auto.aerosol_model


def test_desert_rule_with_the_continental_lut_runs_6s_directly_and_says_so(granule_path, tmp_path):
    """The shipped LUT is continental: a desert tile must not be looked up in it."""
    from gmi_engine.atmosphere.lut import default_lut_path

    path = granule_path("north")
    summary = ingest_many([path], tmp_path / "ws", IngestOptions(
        aerosol_model="desert", lut=default_lut_path("continental")))
    assert not summary.failed and summary.rows >= 1
    with LocalStore(tmp_path / "ws") as store:
        row = store.get_source_row(summary.ingested[0].granule_id, summary.ingested[0].tiles[0])
    assert row.ac["state"]["aerosol_model"] == "desert"
    assert "aerosol" in row.ac["lut_fallback"].lower()
    assert row.ac["source"] != "lut" and "direct" in row.ac["source"]


def test_stac_item_names_the_inputs_that_ran_on_defaults():
    """Row inputs -> kernel result meta (ac_defaults per granule) -> STAC ``gmi:defaulted_inputs``."""
    from gmi_engine.export.stac import AssetInfo, stac_item
    from gmi_engine.grid import DEFAULT_GRID, TileIndex
    from gmi_engine.kernel.pipeline import _common_meta

    gid_a = "AST_L1T_00309062006180242_20150516014601_17781"
    gid_b = "AST_L1T_00310082006180301_20150516014601_17782"
    rows = [{"granule_id": gid_a, "acquired": "2006-09-06T18:02:42",
             "ac": {"source": "6s-direct", "inputs": {"defaults": ["ozone", "aerosol_model"]}}},
            {"granule_id": gid_b, "acquired": "2006-10-08T18:03:01",
             "ac": {"source": "6s-direct", "inputs": {"defaults": []}}}]
    meta = _common_meta("mosaic", rows, {}, {})
    item = stac_item(DEFAULT_GRID, TileIndex(260, 526), "mosaic",
                     [AssetInfo("b01", "b01.tif", "B1", "float32", float("nan"))], meta, (1024, 1024))
    assert item["properties"]["gmi:defaulted_inputs"] == {gid_a: ["ozone", "aerosol_model"]}
