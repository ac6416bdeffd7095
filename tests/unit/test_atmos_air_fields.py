"""AOD and water vapour per coefficient-field node (issue 14 item 3, second half).

The gradient case's DN come from direct 6S at the TRUE local AOD and water column
(gmi_engine.synth.haze: its own levels and bilinear interpolation, its own gradient functions);
retrieval goes through the normal ingest with the LUT, with per-node AOD/WV and, for comparison,
with the tile's values at every node (the altitude-only fields before).
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from field_support import assert_bands_within_limits, retrieved_case

from gmi_engine.ancillary.aerosol import sample_aod_wv_nodes
from gmi_engine.aster.reader import open_granule
from gmi_engine.backends.local import LocalStore
from gmi_engine.backends.local_runner import kernel_row
from gmi_engine.grid import DEFAULT_GRID, TileIndex
from gmi_engine.ingest import IngestOptions, ingest_granule
from gmi_engine.kernel.pipeline import row_reflectance
from gmi_engine.synth.gdem import write_gdem
from gmi_engine.synth.haze import HIGH_AOD, LOW_AOD, gradient, set_mcd19a2_fields, write_haze_case
from gmi_engine.synth.modis import write_mcd19a2


@pytest.fixture(scope="module")
def haze(tmp_path_factory):
    return retrieved_case(tmp_path_factory, "haze", write_haze_case,
                          nodes=(17, {}), tile=(17, {"field_aod_wv": False}))


def test_node_values_follow_an_aod_gradient(tmp_path):
    """Node means of a MCD19A2 whose AOD is a known linear function of longitude."""
    from pyproj import Transformer

    mcd = write_mcd19a2(tmp_path, 8, 5, date(2006, 9, 6), orbits=1, size=1200, cloud_fraction=0.0,
                        bad_qa_fraction=0.0)
    west, east = -108.3, -107.9
    set_mcd19a2_fields(mcd, 0, lambda lon, lat: gradient(lon, west, east, 0.1, 0.5),
                       lambda lon, lat: 1.0 + 0.0 * lon)
    bounds = DEFAULT_GRID.bounds(TileIndex(260, 526))
    nodes = sample_aod_wv_nodes([mcd], bounds, 17)
    xmin, ymin, xmax = bounds.xmin, bounds.ymin, bounds.xmax
    x = xmin + np.arange(17) * (xmax - xmin) / 16
    lon, _ = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True).transform(x, np.full(17, ymin))
    expected = gradient(np.asarray(lon), west, east, 0.1, 0.5)
    assert np.all(nodes.aod_pixels > 0)
    # each node averages the 1 km pixels within half a node spacing (~0.95 km): error <= slope * 0.6 km
    slope_per_node = (0.5 - 0.1) / ((east - west) / (lon[1] - lon[0]))
    assert np.max(np.abs(nodes.aod - expected[None, :])) <= 0.6 * slope_per_node + 0.002
    assert np.allclose(nodes.wv, 1.0, atol=0.001)


def test_nodes_without_valid_pixels_take_the_tile_value_and_say_so(granule_path, tmp_path):
    g = open_granule(granule_path("north"))
    mcd = write_mcd19a2(tmp_path / "mcd", 8, 5, g.acquired.date(), aod550=0.2, water_vapour=1.2, orbits=1,
                        size=1200, cloud_fraction=0.0, bad_qa_fraction=0.0, seed=3)
    centre = float(np.mean([lon for lon, _ in g.footprint_lonlat]))
    fill = -28.672  # raw -28672: MAIAC fill west of the granule's centre
    set_mcd19a2_fields(mcd, 0, lambda lon, lat: np.where(lon < centre, fill, 0.2),
                       lambda lon, lat: np.where(lon < centre, fill, 1.2))
    dem = write_gdem(tmp_path / "gdem", 32, -109, elevation_m=800.0, size=121)
    from gmi_engine.atmosphere.lut import default_lut_path

    options = IngestOptions(mcd19a2=[mcd], gdem=[dem], lut=default_lut_path())
    with LocalStore(tmp_path / "ws") as store:
        rows = ingest_granule(granule_path("north"), store, options)
    records = [r.ac["inputs"]["aod550"]["field"] for r in rows if "field" in r.ac]
    assert records, [r.ac.get("field_note") for r in rows]
    assert any(rec["filled_from_tile"] > 0 for rec in records), records
    for row in rows:
        aod, wv = row.ac["inputs"]["aod550"], row.ac["inputs"]["water_vapour"]
        assert aod["field"]["from_data"] + aod["field"]["filled_from_tile"] == 289
        assert "Terra" in aod["field"]["orbits"]
        # filled nodes carry the tile value: the field's range stays within data and tile value
        assert aod["field"]["min"] == pytest.approx(0.2, abs=0.002) and aod["value"] == pytest.approx(0.2, abs=0.002)
        assert wv["field"]["max"] == pytest.approx(1.2, abs=0.002)


def test_per_node_aod_wv_recover_reflectance_under_gradients(haze):
    assert_bands_within_limits(haze["nodes"]["bands"])
    air = haze["nodes"]["node_air"][0]["aod550"]
    assert air["from_data"] == 289 and air["max"] - air["min"] > 0.5 * (HIGH_AOD - LOW_AOD)


def test_per_node_aod_wv_beat_the_tile_value(haze):
    n, t = haze["nodes"]["bands"], haze["tile"]["bands"]
    for column in ("b05", "b08", "b09"):
        assert n[column]["rmse"] < 0.5 * t[column]["rmse"], (column, n[column], t[column])
    assert t["b09"]["rmse"] > 0.005  # the tile value alone misses the water gradient


def test_a_row_without_a_field_or_node_records_still_runs(haze, tmp_path):
    """Rows written before fields (no ac.field, no inputs.*.field) are corrected with ac.bands."""
    case = haze["case"]
    from gmi_engine.atmosphere.lut import default_lut_path

    options = IngestOptions(mcd19a2=[case.mcd19a2], gdem=[case.gdem], lut=default_lut_path(), field_nodes=0)
    with LocalStore(tmp_path / "ws") as store:
        rows = ingest_granule(case.granule, store, options)
    row = kernel_row(rows[0])
    row["ac"] = {k: v for k, v in row["ac"].items() if k not in ("field", "field_note")}
    for name in ("aod550", "water_vapour"):
        row["ac"]["inputs"][name].pop("field", None)
    refl, kind = row_reflectance(row, DEFAULT_GRID.tile_px)
    assert kind == "surface" and np.isfinite(refl).any()
