"""The 6S state ingest builds from the ancillaries (issue 14): gas columns at altitude, clamps."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from Py6S import AtmosProfile

from gmi_engine.aster.reader import open_granule
from gmi_engine.atmosphere.coefficients import Coefficients
from gmi_engine.atmosphere.sixs import _execute, build_sixs, sixs_binary
from gmi_engine.backends.local import LocalStore
from gmi_engine.ingest import IngestOptions, ingest_many
from gmi_engine.synth.gdem import write_gdem
from gmi_engine.synth.modis import write_mcd19a2

#: 6SV1.1 ``abstra``: the user water column scales the US-1962 profile by uw / 1.424 (source).
SIXS_US62_WATER = 1.424
TARGET_LEVEL = re.compile(rb"gaseous content at target level:\s*\*\s*\*\s*uh2o=\s*([0-9.]+)")


def sixs_water_above_target(state, band="09", predefined=False):
    """(water 6S prints at target level, 6S water transmittance) of a direct 6S run."""
    exe = sixs_binary()
    s = build_sixs(state, band, exe)
    if predefined:
        s.atmos_profile = AtmosProfile.PredefinedType(AtmosProfile.USStandard1962)
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(s.write_input_file(os.path.join(tmp, "in.txt"))).read_text()
    out = _execute(exe, text, "test")
    from Py6S.outputs import Outputs
    m = TARGET_LEVEL.search(out)
    return (float(m.group(1)) if m else None), float(Outputs(out, b"").trans["water"].total)


def test_ingested_state_makes_6s_absorb_the_mcd19a2_column_above_the_target(demo_small, demo_workspace):
    """6S absorbs uw * U62(h) / 1.424 above the target (U62 printed by 6S): it must equal Column_WV."""
    ws, _ = demo_workspace
    g = open_granule(demo_small.granules[1])
    with LocalStore(ws) as store:
        row = store.get_source_row(g.granule_id, (260, 526))
    state = Coefficients.from_dict(row.ac).state
    measured = row.ac["inputs"]["water_vapour"]["value"]
    assert state.altitude_km > 1.0
    u62, _ = sixs_water_above_target(state, predefined=True)
    absorbed_above_target = state.water_vapour * u62 / SIXS_US62_WATER
    assert absorbed_above_target == pytest.approx(measured, rel=0.01)


def _negative_case(tmp_path, granule, aod, altitude_m):
    g = open_granule(granule)
    day = g.acquired.date()
    mcd = write_mcd19a2(tmp_path / "mcd", 8, 5, day, aod550=aod, water_vapour=1.0, orbits=1,
                        size=100, cloud_fraction=0.0, bad_qa_fraction=0.0)
    dem = write_gdem(tmp_path / "gdem", 32, -109, elevation_m=altitude_m, ripple_m=5.0, size=121)
    return IngestOptions(mcd19a2=[mcd], gdem=[dem])


def test_negative_aod_and_altitude_are_clamped_and_recorded(granule_path, tmp_path):
    options = _negative_case(tmp_path, granule_path("north"), -0.02, -300.0)
    summary = ingest_many([granule_path("north")], tmp_path / "ws", options)
    assert not summary.failed, summary.failed and summary.failed[0].error
    assert summary.rows >= 1
    with LocalStore(tmp_path / "ws") as store:
        tile = summary.ingested[0].tiles[0]
        row = store.get_source_row(summary.ingested[0].granule_id, tile)
    inputs = row.ac["inputs"]
    state = Coefficients.from_dict(row.ac).state
    assert inputs["aod550"]["value"] == pytest.approx(-0.02, abs=0.005)
    assert state.aot550 == 0.0 and "clamped" in inputs["aod550"]
    assert inputs["altitude_km"]["value"] == pytest.approx(-0.3, abs=0.01)
    assert state.altitude_km == 0.0 and "clamped" in inputs["altitude_km"]


def test_an_impossible_tile_is_recorded_and_the_batch_goes_on(granule_path, tmp_path):
    options = _negative_case(tmp_path, granule_path("north"), 0.1, -900.0)
    summary = ingest_many([granule_path("north"), granule_path("north")], tmp_path / "ws", options)
    assert not summary.failed
    assert len(summary.ingested) == 2
    done = summary.ingested[0]
    assert done.rows == 0 and done.failed_tiles
    assert "altitude" in str(done.failed_tiles[0][1])


@pytest.mark.parametrize("altitude", [0.7, 2.0, 3.3])
def test_sixs_columns_give_6s_the_measured_water_above_the_target(altitude):
    """Direct 6S: with the US-1962 profile 6S prints the water above the target, W; a user-water
    run fed sixs_columns(W) must absorb exactly that column (same water transmittance)."""
    from gmi_engine.atmosphere.columns import sixs_columns
    from gmi_engine.atmosphere.state import AtmosphereState

    base = dict(sun_zenith=35.0, sun_azimuth=140.0, view_zenith=5.0, view_azimuth=100.0, month=7,
                day=1, aot550=0.0, altitude_km=altitude)
    above, t_profile = sixs_water_above_target(
        AtmosphereState(water_vapour=1.0, ozone=0.3, **base), predefined=True)
    uw, uo3 = sixs_columns(above, 0.3, altitude)
    _, t_user = sixs_water_above_target(AtmosphereState(water_vapour=uw, ozone=uo3, **base))
    _, t_naive = sixs_water_above_target(AtmosphereState(water_vapour=above, ozone=0.3, **base))
    assert t_user == pytest.approx(t_profile, abs=1.5e-4)
    assert abs(t_naive - t_profile) > 0.01  # passing the column itself is wrong


def test_maiac_uses_the_terra_orbit_nearest_the_overpass(granule_path, tmp_path):
    g = open_granule(granule_path("north"))
    mcd = write_mcd19a2(tmp_path / "mcd", 8, 5, g.acquired.date(), orbits=2, orbit_aod550=[0.10, 0.40],
                        size=100, cloud_fraction=0.0, bad_qa_fraction=0.0)
    dem = write_gdem(tmp_path / "gdem", 32, -109, elevation_m=1000.0, size=121)
    summary = ingest_many([granule_path("north")], tmp_path / "ws", IngestOptions(mcd19a2=[mcd], gdem=[dem]))
    with LocalStore(tmp_path / "ws") as store:
        row = store.get_source_row(summary.ingested[0].granule_id, summary.ingested[0].tiles[0])
    aod = row.ac["inputs"]["aod550"]
    assert aod["value"] == pytest.approx(0.10, abs=0.01)  # the Terra orbit, not the Terra+Aqua mean
    assert "Terra" in aod["orbits"]


def test_maiac_falls_back_to_other_orbits_with_a_reason():
    import numpy as np

    from gmi_engine.ancillary.aerosol import _select_orbits, orbit_stamps

    stamps = orbit_stamps("20062491750T  20062492055A  ")
    assert stamps[0][1] == "T" and stamps[1][1] == "A" and stamps[1][0].hour == 20
    orbits = [("f", 0, stamps[0][0], "T", np.zeros(0)), ("f", 1, stamps[1][0], "A", np.ones(4))]
    chosen, why = _select_orbits(orbits, stamps[0][0], "AOD550")
    assert [o[1] for o in chosen] == [1] and why.startswith("fallback: no Terra orbit")
