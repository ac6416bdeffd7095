"""The 6S LUT: the shipped default against direct 6S (real 6SV1.1 runs), file integrity,
envelope errors, vectorised lookups, a tiny real build, and the ``gmi lut`` / ``gmi ac`` CLI.

Direct 6S costs ~2.5 s per 9-band state here, so the accuracy test uses 8 random states (the
full 200-state figure is ``gmi lut check``'s job, reported in resources/lut/).
"""
from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest

from gmi_engine.atmosphere.lut import (
    CHECK_REFLECTANCES,
    LutSpec,
    build_lut,
    default_lut_path,
    load_lut,
    random_states,
    reflectance_errors,
    save_lut,
)
from gmi_engine.atmosphere.lut_tables import LutTables, sixs_day_of_year, sixs_sun_distance_factor
from gmi_engine.atmosphere.sixs import compute_coefficients, compute_many
from gmi_engine.atmosphere.state import AtmosphereState
from gmi_engine.backends.local import LocalStore
from gmi_engine.cli.main import main
from gmi_engine.errors import GmiFileError, GmiInputError, LutChecksumError, OutsideEnvelopeError
from gmi_engine.grid import TileIndex
from gmi_engine.ingest import IngestOptions, ingest_granule

ACCURACY = 0.002  # max |d rho| at rho in {0.05, 0.2, 0.4, 0.6} (issue 5, DESIGN.md)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("lut-6s-cache")


@pytest.fixture(scope="module")
def lut():
    return load_lut()


def _state(**changes) -> AtmosphereState:
    base = AtmosphereState(sun_zenith=35.0, sun_azimuth=140.0, view_zenith=2.5,
                           view_azimuth=281.0, month=9, day=6, aot550=0.12, water_vapour=1.1,
                           ozone=0.30, altitude_km=1.75)
    return replace(base, **changes)


# ------------------------------------------------------------------ accuracy vs direct 6S


def test_shipped_lut_matches_direct_6s_inside_envelope(lut, cache_dir):
    states = random_states(lut.envelope, 8, seed=2024, aerosol_model=lut.aerosol_model)
    # Plus the envelope's corners that stress the air-mass, AOT and water axes most.
    states += [_state(sun_zenith=75.0, view_zenith=10.0, sun_azimuth=0.0, view_azimuth=0.0,
                      aot550=1.5, water_vapour=0.25, altitude_km=0.0, ozone=0.5)]
    direct = compute_many(states, processes=2, cache_dir=cache_dir)
    looked_up = lut.coefficients_many(states)
    errors = np.stack([reflectance_errors(d, lut_c) for d, lut_c in zip(direct, looked_up)])
    worst = errors.max(axis=(0, 2))
    assert errors.shape == (len(states), 9, len(CHECK_REFLECTANCES))
    assert worst.max() <= ACCURACY, "max |d rho| per band: {}".format(np.round(worst, 5))
    assert all(c.source == "lut:" + lut.path.name for c in looked_up)
    assert looked_up[0].sixs_version == direct[0].sixs_version


def test_lut_metadata_and_envelope(lut):
    assert lut.aerosol_model == "continental"
    assert lut.meta["format"] == "gmi-6s-lut/1"
    env = lut.envelope
    assert env["sun_zenith"] == (15.0, 75.0) and env["view_zenith"] == (0.0, 10.0)
    assert env["aot550"] == (0.0, 1.5) and env["water_vapour"] == (0.25, 5.0)
    assert env["altitude_km"] == (0.0, 4.0)
    assert lut.path.stat().st_size < 3 * 1024 * 1024
    # 6S facts the design relies on, measured at build time.
    assert lut.meta["consistency"]["transmittance_reciprocity_max_ln_diff"] < 1e-4
    assert lut.meta["consistency"]["solar_factor_max_rel_spread"] < 1e-4


# ------------------------------------------------------------------ lookups


def test_vectorised_lookup_equals_single_lookups(lut):
    states = random_states(lut.envelope, 40, seed=5)
    many = lut.coefficients_many(states)
    for state, coeffs in zip(states, many):
        single = lut.coefficients(state)
        for name in ("xa", "xb", "xc"):
            np.testing.assert_allclose(getattr(coeffs, name), getattr(single, name),
                                       rtol=1e-13, atol=0)


def test_date_only_scales_xa_by_the_sun_distance(lut):
    january = lut.coefficients(_state(month=1, day=3))
    july = lut.coefficients(_state(month=7, day=4))
    ratio = float(sixs_sun_distance_factor(7, 4) / sixs_sun_distance_factor(1, 3))
    np.testing.assert_allclose(january.xa / july.xa, ratio, rtol=1e-12)
    np.testing.assert_array_equal(january.xb, july.xb)
    assert sixs_day_of_year(2, 29) == sixs_day_of_year(3, 1) == 60  # as 6S's varsol counts
    assert sixs_day_of_year(12, 31) == 365 and sixs_day_of_year(9, 1) == 244


def test_relative_azimuth_is_mirrored(lut):
    a = lut.coefficients(_state(sun_azimuth=100.0, view_azimuth=20.0, view_zenith=8.0))  # 80
    b = lut.coefficients(_state(sun_azimuth=20.0, view_azimuth=100.0, view_zenith=8.0))  # -80
    c = lut.coefficients(_state(sun_azimuth=300.0, view_azimuth=20.0, view_zenith=8.0))  # 280
    d = lut.coefficients(_state(sun_azimuth=160.0, view_azimuth=20.0, view_zenith=8.0))  # 140
    np.testing.assert_allclose(a.xb, b.xb, rtol=1e-12)
    np.testing.assert_allclose(a.xb, c.xb, rtol=1e-12)
    assert np.all(np.abs(a.xb[:3] - d.xb[:3]) > 1e-4)  # the VNIR path radiance sees the azimuth
    xa, xb, xc = lut.tables.lookup(35.0, 8.0, [80.0, 280.0, -80.0, 440.0], 9, 6, 0.12, 1.1,
                                   0.3, 1.75)
    np.testing.assert_allclose(xb, np.repeat(xb[:1], 4, axis=0), rtol=1e-12)


@pytest.mark.parametrize("field, value, name", [
    ("sun_zenith", 80.0, "sun_zenith"),
    ("sun_zenith", 10.0, "sun_zenith"),
    ("view_zenith", 24.0, "view_zenith"),
    ("aot550", 2.0, "aot550"),
    ("water_vapour", 0.1, "water_vapour"),
    ("water_vapour", 6.0, "water_vapour"),
    ("ozone", 0.6, "ozone"),
    ("altitude_km", 5.0, "altitude_km"),
])
def test_outside_envelope_is_a_clear_error(lut, field, value, name):
    with pytest.raises(OutsideEnvelopeError) as info:
        lut.coefficients(_state(**{field: value}))
    message = str(info.value)
    assert name in message and lut.path.name in message and "envelope" in message
    assert isinstance(info.value, GmiInputError)
    assert lut.outside(_state(**{field: value})) == message
    assert lut.outside(_state()) is None


def test_kernel_lookup_rejects_bad_dates_and_nan(lut):
    with pytest.raises(GmiInputError, match="month/day"):
        lut.tables.lookup(35.0, 2.5, 90.0, 13, 1, 0.1, 1.0, 0.3, 1.0)
    with pytest.raises(OutsideEnvelopeError, match="aot550 = nan"):
        lut.tables.lookup(35.0, 2.5, 90.0, 9, 6, [0.1, float("nan")], 1.0, 0.3, 1.0)


def test_other_aerosol_model_is_refused(lut):
    with pytest.raises(GmiInputError, match="aerosol model 'continental'.*desert"):
        lut.coefficients(_state(aerosol_model="desert"))


# ------------------------------------------------------------------ file integrity


def test_checksum_mismatch_is_detected(lut, tmp_path):
    with np.load(str(lut.path), allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["aerosol_path"] = arrays["aerosol_path"].copy()
    arrays["aerosol_path"][3, 2, 1, 0] += 1e-6  # one value, one ppm
    tampered = tmp_path / "tampered.npz"
    np.savez_compressed(str(tampered), **arrays)
    with pytest.raises(LutChecksumError, match="tampered.npz: checksum mismatch"):
        load_lut(tampered)
    meta = arrays.pop("meta")
    arrays.pop("checksum")
    np.savez_compressed(str(tmp_path / "no-checksum.npz"), meta=meta, **arrays)
    with pytest.raises(GmiFileError, match="no 'checksum' entry"):
        load_lut(tmp_path / "no-checksum.npz")
    (tmp_path / "truncated.npz").write_bytes(lut.path.read_bytes()[:5000])
    with pytest.raises(GmiFileError, match="truncated.npz"):
        load_lut(tmp_path / "truncated.npz")
    with pytest.raises(GmiFileError, match="no such LUT file"):
        load_lut(tmp_path / "missing.npz")


def test_default_lut_is_found_through_env_and_package(lut, tmp_path, monkeypatch):
    assert default_lut_path() == lut.path
    copy = tmp_path / lut.path.name
    shutil.copyfile(str(lut.path), str(copy))
    monkeypatch.setenv("GMI_LUT_DIR", str(tmp_path))
    assert default_lut_path() == copy
    with pytest.raises(GmiFileError, match="gmi-6s-urban.npz.*--aerosol-model urban"):
        default_lut_path("urban")


# ------------------------------------------------------------------ a real (tiny) build

MICRO = LutSpec(
    name="micro",
    envelope={"sun_zenith": (0.0, 39.7151), "view_zenith": (0.0, 0.0), "aot550": (0.0, 0.2),
              "water_vapour": (1.0, 2.0), "ozone": (0.3, 0.3), "altitude_km": (0.0, 0.0)},
    airmass=(1.0, 1.3), gas_airmass=(1.0, 1.3), aot=(0.0, 0.2), altitude=(0.0,),
    view_zenith=(0.0,), azimuth=(0.0,), view_airmass=(1.0,), view_aot=(0.0,),
    view_altitude=0.0, gas_wv=(0.0, 1.0, 2.0), gas_altitude=(0.0,), ozone=(0.3,))


@pytest.fixture(scope="module")
def micro_path(cache_dir, tmp_path_factory):
    arrays, meta = build_lut(MICRO, processes=2, cache_dir=cache_dir)
    return save_lut(arrays, meta, tmp_path_factory.mktemp("micro") / "micro.npz")


def test_tiny_build_reproduces_direct_6s_at_its_nodes(micro_path, cache_dir):
    path = micro_path
    micro = load_lut(path)
    assert micro.meta["build"]["states"] == 8 and micro.meta["name"] == "micro"
    # A node (sun zenith of air mass 1.3, AOT 0.2, W 2.0): only 6S's print precision remains.
    node = AtmosphereState(39.7151, 10.0, 0.0, 10.0, 7, 1, 0.2, 2.0, 0.3, 0.0)
    errors = reflectance_errors(compute_coefficients(node, cache_dir=cache_dir),
                                micro.coefficients(node))
    assert errors.max() < 5e-5
    # The kernel class reads the same file without the atmosphere package.
    tables = LutTables.from_npz(path)
    xa, xb, xc = tables.lookup(39.7151, 0.0, 0.0, 7, 1, 0.2, 2.0, 0.3, 0.0)
    np.testing.assert_allclose(xa[0], micro.coefficients(node).xa, rtol=1e-14)
    with pytest.raises(OutsideEnvelopeError, match="aot550 = 0.3"):
        tables.lookup(20.0, 0.0, 0.0, 7, 1, [0.1, 0.3], 2.0, 0.3, 0.0)


def test_ingest_falls_back_to_direct_6s_outside_the_envelope(micro_path, demo_small,
                                                            demo_workspace, tmp_path):
    options = IngestOptions(mcd19a2=demo_small.mcd19a2, gdem=demo_small.gdem,
                            tiles=[TileIndex(260, 526)], lut=micro_path)
    with LocalStore(tmp_path / "ws") as store:
        rows = ingest_granule(demo_small.granules[0], store, options)
    assert len(rows) == 1
    ac = rows[0].ac
    assert ac["source"] == "6s-direct"  # view zenith 2.5 is outside the micro LUT's [0, 0]
    assert "view_zenith = 2.77685" in ac["lut_fallback"] and "micro.npz" in ac["lut_fallback"]
    with LocalStore(demo_workspace[0], create=False) as direct_store:
        direct = direct_store.get_source_row(rows[0].granule_id, (260, 526))
    assert direct.ac["bands"] == ac["bands"]


def test_spec_validation_names_the_field():
    with pytest.raises(GmiInputError, match="LutSpec.view_aot"):
        replace(MICRO, view_aot=(0.0, 0.1)).validate()
    with pytest.raises(GmiInputError, match="LutSpec.envelope.sun_zenith"):
        replace(MICRO, envelope=dict(MICRO.envelope, sun_zenith=(0.0, 60.0))).validate()


# ------------------------------------------------------------------ CLI


def test_cli_lut_info(lut, capsys):
    assert main(["lut", "info", str(lut.path)]) == 0
    out = capsys.readouterr().out
    assert "aerosol model continental" in out and "checksum      ok" in out
    assert "sun_zenith    15 .. 75" in out


def test_cli_lut_check_and_build_errors(lut, cache_dir, capsys, tmp_path):
    assert main(["lut", "check", str(lut.path), "--states", "2", "--seed", "3",
                 "--cache-dir", str(cache_dir), "--limit", str(ACCURACY)]) == 0
    out = capsys.readouterr().out
    assert "B09" in out and "max |d rho|" in out
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a LUT")
    assert main(["lut", "info", str(bad)]) == 1
    assert "bad.npz" in capsys.readouterr().err


def test_cli_ac_params_prints_state_sources_and_coefficients(demo_small, lut, capsys):
    granule = demo_small.granules[0]
    args = ["ac", "params", str(granule), "--tile", "260,526", "--lut", str(lut.path)]
    for path in demo_small.mcd19a2:
        args += ["--aod-file", str(path)]
    for path in demo_small.gdem:
        args += ["--dem", str(path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "sun_zenith" in out and "aod550" in out and "altitude_km" in out
    assert "lut:gmi-6s-continental.npz" in out
    assert out.count("\n  B") == 9
    assert main(["ac", "params", str(granule), "--tile", "1,1"]) == 1
    assert "not touched by granule" in capsys.readouterr().err
