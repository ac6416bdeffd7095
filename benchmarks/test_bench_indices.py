"""All 23 indices on one 1024 x 1024 float32 tile: GMI vs the reference engine done naively.

The baseline follows the reference engine's behaviour: every ratio in float64 numpy, one
expression per index, NaN/inf set to 0 (:func:`benchmarks.reference.indices_naive`). Run with
``.venv/bin/python -m pytest -p no:qgis benchmarks``; ``make bench`` runs the full report
(``benchmarks/run.py``), which times the same three things side by side.
"""
import time

import numpy as np
import pytest

from benchmarks.reference import indices_naive
from gmi_engine.indices import compute_indices, default_library

TILE = 1024
TARGET_MS = 25.0


@pytest.fixture(scope="module")
def tile():
    rng = np.random.default_rng(7)
    return rng.uniform(0.02, 0.9, (9, TILE, TILE)).astype(np.float32)


reference_naive = indices_naive


def test_bench_gmi_indices(benchmark, tile):
    benchmark.group = "23 indices, 1024x1024 float32"
    result = benchmark(compute_indices, tile)
    assert len(result) == 23


def test_bench_gmi_indices_into_previous_result(benchmark, tile):
    """Steady state of a tile loop: outputs written into the previous tile's arrays."""
    benchmark.group = "23 indices, 1024x1024 float32"
    previous = compute_indices(tile)
    result = benchmark(compute_indices, tile, out=previous)
    assert result["clay"] is previous["clay"]


def test_bench_reference_naive(benchmark, tile):
    benchmark.group = "23 indices, 1024x1024 float32"
    result = benchmark(reference_naive, tile)
    assert len(result) == 23


def _median_ms(function, rounds):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times)), 1000.0 * min(times)


def test_speedup_over_naive_reference(tile):
    ours = compute_indices(tile)
    theirs = reference_naive(tile)
    for index_id, expected in zip(default_library().ids, theirs):
        np.testing.assert_allclose(ours[index_id], expected, rtol=1e-5, err_msg=index_id)
    del theirs
    fresh = _median_ms(lambda: compute_indices(tile), 15)
    reused = _median_ms(lambda: compute_indices(tile, out=ours), 15)
    naive = _median_ms(lambda: reference_naive(tile), 7)
    print("\n23 indices on 1024x1024 float32 (median / min ms): GMI {:.1f} / {:.1f}; GMI writing "
          "into the previous result {:.1f} / {:.1f}; naive float64 reference {:.1f} / {:.1f}; "
          "ratio {:.1f}x ({:.1f}x reusing); target {:.0f} ms".format(
              fresh[0], fresh[1], reused[0], reused[1], naive[0], naive[1],
              naive[0] / fresh[0], naive[0] / reused[0], TARGET_MS))
    assert naive[0] / fresh[0] > 1.5
