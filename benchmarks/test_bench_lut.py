"""6S coefficients for one tile: a LUT lookup (kernel, numpy only) vs one direct 9-band 6S run.

Issue 5 asks for <= 1 ms per tile lookup. The direct run bypasses the 6S cache, so it measures
what a tile costs without the LUT (two 6S processes at a time, as ingest runs them).
"""
import time

import numpy as np
import pytest

from gmi_engine.atmosphere.lut import load_lut
from gmi_engine.atmosphere.sixs import compute_coefficients
from gmi_engine.atmosphere.state import AtmosphereState

TARGET_MS = 1.0
# The small demo's granule A over Chino (tile 260, 526).
STATE = AtmosphereState(sun_zenith=34.6, sun_azimuth=141.2, view_zenith=2.5, view_azimuth=281.0,
                        month=9, day=6, aot550=0.12, water_vapour=1.1, ozone=0.30,
                        altitude_km=1.75)


@pytest.fixture(scope="module")
def lut():
    return load_lut()


def _lookup(tables):
    return tables.lookup(STATE.sun_zenith, STATE.view_zenith, STATE.relative_azimuth,
                         STATE.month, STATE.day, STATE.aot550, STATE.water_vapour, STATE.ozone,
                         STATE.altitude_km)


def test_bench_lut_lookup_one_tile(benchmark, lut):
    xa, xb, xc = benchmark(_lookup, lut.tables)
    assert xa.shape == (1, 9) and np.all(np.isfinite(xb))
    assert benchmark.stats.stats.median * 1000.0 <= TARGET_MS


def test_bench_lut_lookup_1000_tiles(benchmark, lut):
    rng = np.random.default_rng(3)
    n = 1000
    args = (rng.uniform(15, 75, n), rng.uniform(0, 10, n), rng.uniform(0, 180, n),
            np.full(n, 9), np.full(n, 6), rng.uniform(0, 1.5, n), rng.uniform(0.25, 5, n),
            np.full(n, 0.3), rng.uniform(0, 4, n))
    xa, _, _ = benchmark(lut.tables.lookup, *args)
    assert xa.shape == (n, 9)


def test_bench_direct_6s_one_tile(benchmark, lut):
    def direct():
        return compute_coefficients(STATE, processes=2, use_cache=False)

    coeffs = benchmark.pedantic(direct, rounds=2, iterations=1)
    start = time.perf_counter()
    lut_coeffs = lut.coefficients(STATE)
    print("\ndirect 9-band 6S: {:.2f} s per tile; LUT: {:.3f} ms (incl. Coefficients)".format(
        benchmark.stats.stats.median, (time.perf_counter() - start) * 1000.0))
    assert np.allclose(coeffs.xb, lut_coeffs.xb, atol=0.002)
