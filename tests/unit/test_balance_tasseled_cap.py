"""``balance_method: "tasseled_cap"``: hand-computed cases and the ratio indices it cannot change.

The expected values are computed here from the published tasseled-cap brightness rows, typed in
from science.md §3.1 (MODIS, Lobser & Cohen 2007) and §3.2 (ASTER), not from the kernel.
"""
from __future__ import annotations

import numpy as np
import pytest

from gmi_engine.kernel.balance import balance
from gmi_engine.kernel.tasseled_cap import match_histogram, ramp, windows

ASTER_ROW = np.array([0.3909, 0.5224, 0.1184, 0.3233, 0.3050, 0.3571, 0.3347, 0.3169, 0.1510])
MODIS_ROW = np.array([0.4395, 0.5945, 0.2460, 0.3918, 0.3506, 0.2136, 0.2678])
DARK = np.array([0.10, 0.12, 0.20, 0.25, 0.22, 0.21, 0.20, 0.19, 0.18], dtype=np.float32)
BRIGHT = np.array([0.30, 0.35, 0.40, 0.45, 0.40, 0.38, 0.39, 0.36, 0.37], dtype=np.float32)
MODIS = np.array([0.15, 0.30, 0.10, 0.14, 0.33, 0.30, 0.25], dtype=np.float32)
TC = {"balance_method": "tasseled_cap"}


def flat(spectrum: np.ndarray, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(spectrum, dtype=np.float32)[:, None, None],
                           (len(spectrum), n, n)).copy()


def test_uniform_scene_gets_the_ratio_of_brightnesses():
    out, meta = balance(flat(DARK, 64), flat(MODIS, 16), TC)
    factor = float(MODIS_ROW @ MODIS) / float(ASTER_ROW @ DARK)  # 0.5157 / 0.4773
    assert not meta["skipped"] and meta["method"].startswith("tasseled-cap")
    np.testing.assert_allclose(out, flat(DARK, 64) * np.float32(factor), rtol=1e-5)
    assert meta["block_pixels"] == 16 and meta["overlap_pixels"] == 8  # 64 / 4, half a window
    assert meta["windows"] == 49 == meta["windows_fitted"] and meta["pixels_unchanged"] == 0


def test_histogram_matching_maps_by_rank_not_by_place():
    """Dark / bright ASTER cells on a checkerboard, MODIS bright where ASTER is dark and the
    reverse: the quantile mapping still sends dark to the darker MODIS value (a known limit)."""
    cells = (np.add.outer(np.arange(16), np.arange(16)) % 2).astype(bool)  # 4 px MODIS cells
    pixels = np.repeat(np.repeat(cells, 4, axis=0), 4, axis=1)
    aster = np.where(pixels[None], BRIGHT[:, None, None], DARK[:, None, None]).astype(np.float32)
    low, high = MODIS * np.float32(0.8), MODIS * np.float32(1.3)
    ref = np.where(cells[None], low[:, None, None], high[:, None, None]).astype(np.float32)
    out, meta = balance(aster, ref, TC)
    f_dark = float(MODIS_ROW @ low) / float(ASTER_ROW @ DARK)
    f_bright = float(MODIS_ROW @ high) / float(ASTER_ROW @ BRIGHT)
    np.testing.assert_allclose(out[:, ~pixels], aster[:, ~pixels] * np.float32(f_dark), rtol=1e-5)
    np.testing.assert_allclose(out[:, pixels], aster[:, pixels] * np.float32(f_bright), rtol=1e-5)


def test_match_histogram_by_hand():
    got = match_histogram(np.array([3.0, 1.0, 2.0, 2.0]), np.array([40.0, 10.0, 30.0, 20.0]))
    # source quantiles 1: 0.25, 2: 0.75, 3: 1.0 -> template 10, 30, 40
    assert got.tolist() == [40.0, 10.0, 30.0, 30.0]


def test_windows_and_ramps():
    assert windows(1024) == (256, 128, [0, 128, 256, 384, 512, 640, 768])
    w = ramp(256, 128)
    assert w[0] == pytest.approx(0.5 / 128) and w.max() == pytest.approx(1.0 - 0.5 / 128)
    assert np.allclose(w, w[::-1])
    starts = windows(1024)[2]
    total = np.zeros(1024)
    for s in starts:
        total[s:s + 256] += w
    assert np.allclose(total[128:-128], 1.0)  # tents sum to 1 where two windows overlap


def test_blocks_are_blended_without_steps():
    """Left half of MODIS at one level, right half at another: the factor goes from one to the
    other as a ramp, with no step larger than a ramp's."""
    n = 64
    ref = flat(MODIS, 16)
    ref[:, :, 8:] *= np.float32(1.2)
    out, _ = balance(flat(DARK, n), ref, TC)
    gain = (out[0] / DARK[0])[0]
    x = float(ASTER_ROW @ DARK)
    assert gain[0] == pytest.approx(float(MODIS_ROW @ MODIS) / x, rel=1e-5)
    assert gain[-1] == pytest.approx(float(MODIS_ROW @ MODIS) * 1.2 / x, rel=1e-5)
    assert np.all(np.diff(gain) >= -1e-6)
    assert np.abs(np.diff(gain)).max() <= (gain[-1] - gain[0]) / 8 + 1e-6  # ramps of 8 px


def test_ratio_indices_are_unchanged_and_every_band_gets_one_factor():
    from test_balance_shape import make_scene, reference, regional_error

    truth, zone, background, gx, gy, ground_px = make_scene(32.8)
    aster = truth * regional_error(gx, gy)
    out, meta = balance(aster, reference(truth, ground_px), TC)
    assert meta["windows"] == 49 and meta["block_pixels"] == 256
    factor = out / aster
    np.testing.assert_allclose(factor, np.broadcast_to(factor[0], factor.shape), rtol=1e-5)
    for num, den in ((1, 0), (3, 5), (6, 4), (8, 7)):
        np.testing.assert_allclose(out[num] / out[den], aster[num] / aster[den], rtol=1e-5)
    assert abs(meta["gains"]["01"]["median"] - 1.0) > 0.01  # it did change the reflectance


def test_nan_stays_nan_and_pixels_without_brightness_are_unchanged():
    aster = flat(DARK, 64)
    aster[:, :, :10] = np.nan
    aster[4:, 40:, :] = np.nan  # SWIR missing: no 9-band brightness there
    out, meta = balance(aster, flat(MODIS, 16), TC)
    assert np.isnan(out[:, :, :10]).all() and np.isnan(out[4:, 40:, :]).all()
    np.testing.assert_array_equal(out[:4, 40:, 10:], aster[:4, 40:, 10:])
    assert meta["pixels_unchanged"] == 24 * 54
    ref = np.full((7, 16, 16), np.nan, dtype=np.float32)
    same, skipped = balance(aster, ref, TC)
    assert same is aster and skipped["skipped"]
