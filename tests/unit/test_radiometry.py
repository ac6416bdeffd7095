"""Kernel radiometry: DN -> radiance -> TOA / surface reflectance, band and gain tables."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gmi_engine.errors import GmiInputError
from gmi_engine.kernel import bands, radiometry
from gmi_engine.kernel.bands import BANDS, HANDBOOK_UCC, band_index, band_name, normalise_gain
from gmi_engine.kernel.radiometry import (
    band_present,
    dn_to_radiance,
    earth_sun_distance,
    handbook_ucc,
    surface_reflectance,
    toa_reflectance,
    unit_conversion_coefficient,
)

KERNEL_FILES = [Path(bands.__file__), Path(radiometry.__file__)]

# ASTER User Handbook v2 Table 5 (science.md §1.2), typed in independently of bands.py.
HANDBOOK = """
01 0.676 1.688 2.25 -
02 0.708 1.415 1.89 -
3N 0.423 0.862 1.15 -
04 0.1087 0.2174 0.290 0.290
05 0.0348 0.0696 0.0925 0.409
06 0.0313 0.0625 0.0830 0.390
07 0.0299 0.0597 0.0795 0.332
08 0.0209 0.0417 0.0556 0.245
09 0.0159 0.0318 0.0424 0.265
"""
HANDBOOK_CASES = [
    (row.split()[0], gain, float(value))
    for row in HANDBOOK.strip().splitlines()
    for gain, value in zip(("HGH", "NOR", "LO1", "LO2"), row.split()[1:])
    if value != "-"
]


@pytest.mark.parametrize("band, gain, ucc", HANDBOOK_CASES)
def test_dn_to_radiance_for_every_handbook_gain(band, gain, ucc):
    assert handbook_ucc(band, gain) == ucc
    dn = np.array([[0, 1, 2], [100, 254, 255]], dtype=np.uint8)
    radiance = dn_to_radiance(dn, handbook_ucc(band, gain))
    assert radiance.dtype == np.float32 and radiance.shape == dn.shape
    assert np.isnan(radiance[0, 0]) and np.isnan(radiance[1, 2])
    np.testing.assert_allclose(radiance[~np.isnan(radiance)],
                               np.float32([0.0, ucc, 99 * ucc, 253 * ucc]), rtol=1e-7)


def test_table_has_no_vnir_lo2_and_all_bands():
    assert sorted(HANDBOOK_UCC) == sorted(BANDS)
    assert len(HANDBOOK_CASES) == 3 * 3 + 6 * 4


def test_gain_codes():
    assert normalise_gain("01", "low") == "LO1"
    assert handbook_ucc("3N", "LOW") == 1.15
    assert normalise_gain("05", " lo2 ") == "LO2"
    with pytest.raises(GmiInputError, match="band 05.*ambiguous"):
        normalise_gain("05", "LOW")
    with pytest.raises(GmiInputError, match="band 02.*LO2"):
        handbook_ucc("02", "LO2")
    with pytest.raises(GmiInputError, match="band 04.*'MED'"):
        handbook_ucc("04", "MED")
    assert band_present("09", "NOR") and not band_present("09", "OFF")
    with pytest.raises(GmiInputError, match="OFF"):
        handbook_ucc("09", "OFF")


def test_incl_from_metadata_wins_and_is_checked():
    assert unit_conversion_coefficient("02", "NOR", incl=1.89) == 1.89  # real L1A: INCL2 at LO1
    assert unit_conversion_coefficient("02", "NOR") == 1.415
    assert unit_conversion_coefficient("04", "NOR", incl="0.217400") == 0.2174
    for bad in (0.0, -0.676, float("nan"), "n/a"):
        with pytest.raises(GmiInputError, match="INCL of band 02"):
            unit_conversion_coefficient("02", "NOR", incl=bad)


def test_band_spellings():
    assert [band_index(b) for b in ("01", "1", "B1", "b01", 1)] == [0] * 5
    assert [band_name(b) for b in ("3N", "3", "B3N", "03", 3)] == ["3N"] * 5
    assert band_name("B09") == "09" and band_index(9) == 8
    for bad in ("3B", "10", 0, 10, True, "B"):
        with pytest.raises(GmiInputError, match="band"):
            band_index(bad)


def test_dn_input_checks():
    np.testing.assert_array_equal(dn_to_radiance(np.array([2, 3], np.int16), 0.5),
                                  np.float32([0.5, 1.0]))
    with pytest.raises(GmiInputError, match="dtype float"):
        dn_to_radiance(np.array([1.0, 2.0]), 1.0)
    with pytest.raises(GmiInputError, match="0..255"):
        dn_to_radiance(np.array([1, 256], np.int16), 1.0)
    with pytest.raises(GmiInputError, match="ucc"):
        dn_to_radiance(np.array([1], np.uint8), float("nan"))


def test_earth_sun_distance_and_toa_reflectance_known_cases():
    assert earth_sun_distance(4) == pytest.approx(0.98327, abs=1e-12)  # perihelion
    assert float(np.max(earth_sun_distance(np.arange(1, 367)))) == pytest.approx(1.01673, abs=1e-5)
    # pi * 100 * 0.98327**2 / (1846.01 * cos 30deg), worked by hand
    toa = toa_reflectance(np.array([100.0, np.nan]), "01", 30.0, 4)
    assert toa.dtype == np.float32
    assert toa[0] == pytest.approx(0.1899900, rel=1e-6) and np.isnan(toa[1])
    # B9, sun zenith 60deg, day 186 (d = 1.016729): pi * 10 * d**2 / (60.20 * 0.5)
    assert toa_reflectance(np.float32([10.0]), "B9", 60.0, 186)[0] == pytest.approx(1.078931, rel=1e-6)
    with pytest.raises(GmiInputError, match="sun_zenith"):
        toa_reflectance(np.ones(1), "01", 90.0, 10)
    with pytest.raises(GmiInputError, match="doy"):
        toa_reflectance(np.ones(1), "01", 30.0, 0)


def test_surface_reflectance_values_and_nan_semantics():
    xa, xb, xc = 0.00263881, 0.05992, 0.11883
    radiance = np.array([[50.0, 100.0], [np.nan, 300.0]], dtype=np.float32)
    rho = surface_reflectance(radiance, xa, xb, xc)
    assert rho.dtype == np.float32 and rho.shape == radiance.shape
    y = xa * radiance.astype(np.float64) - xb
    expected = y / (1 + xc * y)
    np.testing.assert_allclose(rho[~np.isnan(expected)], expected[~np.isnan(expected)], rtol=2e-6)
    assert np.isnan(rho[1, 0])
    assert radiance[0, 0] == 50.0  # input untouched
    # float64 radiance still gives float32; a non-positive denominator gives NaN, not a number
    out = surface_reflectance(np.array([100.0, 1.0]), 1.0, 10.0, 0.5)  # y = 90, -9 -> 1 + 0.5*-9 < 0
    assert out.dtype == np.float32 and out[0] == pytest.approx(90 / 46) and np.isnan(out[1])
    # per-pixel coefficient maps broadcast
    maps = surface_reflectance(radiance, np.full(radiance.shape, xa), xb, np.float32(xc))
    np.testing.assert_array_equal(np.isnan(maps), np.isnan(rho))


def test_kernel_files_import_only_numpy_stdlib_and_kernel():
    allowed = set(sys.stdlib_module_names) | {"numpy"}
    for path in KERNEL_FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] in allowed or name.startswith("gmi_engine.kernel"), (
                    path.name, name)


def test_kernel_files_are_python_37():
    vermin = Path(sys.executable).parent / "vermin"
    proc = subprocess.run([str(vermin), "-t=3.7-", "--no-tips", "--violations",
                           *map(str, KERNEL_FILES)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
