"""Kernel mosaic and masks: the single-granule selection, the row-block loops and the in-place
mosaic give the same bits as the plain full-size rules they replace."""
from __future__ import annotations

from typing import List

import numpy as np
import pytest

from gmi_engine.kernel import masks as kmasks
from gmi_engine.kernel import mosaic as kmosaic
from gmi_engine.kernel.masks import SWIR, VNIR, GranuleMasks, finite_masks, valid_mask
from gmi_engine.kernel.mosaic import NO_DATA, mosaic
from gmi_engine.kernel.pipeline import _nan_outside

H, W = 23, 17
CLOUD = np.array([0.78, 0.80, 0.82, 0.62, 0.45, 0.44, 0.43, 0.42, 0.40], dtype=np.float32)


@pytest.fixture
def small_blocks(monkeypatch):
    """Row blocks of 40 pixels (2 rows of 17 plus a short last block) instead of 65536."""
    monkeypatch.setattr(kmasks, "BLOCK_PIXELS", 40)


def random_masks(rng: np.random.Generator, n: int) -> List[GranuleMasks]:
    out = []
    for _ in range(n):
        vnir = rng.random((H, W)) < 0.7
        out.append(GranuleMasks(vnir=vnir, swir=vnir & (rng.random((H, W)) < 0.8),
                                cloud=vnir & (rng.random((H, W)) < 0.3)))
    return out


def reference_select(usable, masks, priority, fallback, bonus) -> np.ndarray:
    """The documented score rule on full-size int32 arrays."""
    n = len(usable)
    best = np.full((H, W), -1, dtype=np.int32)
    prov = np.full((H, W), NO_DATA, dtype=np.int16)
    for g in range(n):
        clear = ~masks[g].cloud
        candidate = usable[g] if fallback else usable[g] & clear
        score = clear.astype(np.int32) * 2 * n + priority[g]
        if bonus[g] is not None:
            score += bonus[g].astype(np.int32) * n
        score[~candidate] = -1
        prov[score > best] = g
        best = np.maximum(best, score)
    return prov


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fallback", [False, True])
def test_single_granule_selection_matches_the_scores(seed, fallback):
    rng = np.random.default_rng(seed)
    (m,) = random_masks(rng, 1)
    for bonus in (None, rng.random((H, W)) < 0.5):
        single = np.empty((H, W), dtype=np.int16)
        scored = np.empty((H, W), dtype=np.int16)
        kmosaic._select_single(m.vnir, m, fallback, single)
        kmosaic._select_scored([m.vnir], [m], {0: 0}, fallback, [bonus], scored)
        assert np.array_equal(single, scored)
        assert np.array_equal(single, reference_select([m.vnir], [m], {0: 0}, fallback, [bonus]))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fallback", [False, True])
def test_scored_selection_in_blocks_matches_the_full_size_rule(small_blocks, seed, fallback):
    rng = np.random.default_rng(seed)
    n = 2 + seed % 3
    masks = random_masks(rng, n)
    priority = {g: p for g, p in zip(range(n), rng.permutation(n).tolist())}
    bonus = [rng.random((H, W)) < 0.5 if g % 2 == 0 else None for g in range(n)]
    out = np.empty((H, W), dtype=np.int16)
    kmosaic._select_scored([m.swir for m in masks], masks, priority, fallback, bonus, out)
    assert np.array_equal(out, reference_select([m.swir for m in masks], masks, priority, fallback, bonus))


def random_stack(rng: np.random.Generator, n: int) -> List[np.ndarray]:
    stack = []
    for _ in range(n):
        refl = rng.uniform(0.02, 0.5, (9, H, W)).astype(np.float32)
        refl[:, rng.random((H, W)) < 0.04] = CLOUD[:, None]
        refl[rng.integers(0, 9, 40), rng.integers(0, H, 40), rng.integers(0, W, 40)] = np.nan
        refl[:, :, :rng.integers(0, W // 2)] = np.nan
        stack.append(refl)
    return stack


def infos(n: int) -> List[dict]:
    return [{"granule_id": "g{}".format(g), "acquired": "2006-0{}-01".format(1 + g), "cloud_cover": 10.0 * g,
             "swir_usable": g != 2} for g in range(n)]


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("strategy", ["best-pixel", "first-valid", "median"])
@pytest.mark.parametrize("fallback", [False, True])
def test_mosaic_in_place_gives_the_same_bits_and_leaves_the_stack_alone_otherwise(
        small_blocks, n, strategy, fallback):
    rng = np.random.default_rng(10 * n + len(strategy))
    stack = random_stack(rng, n)
    params = {"cloud_fallback": fallback, "erode_pixels": 1, "cloud_buffer": 1}
    kept = [a.copy() for a in stack]
    out, prov, meta = mosaic(stack, infos(n), strategy, params)
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(stack, kept))
    expected = np.full((9, H, W), np.nan, dtype=np.float32)
    for g, a in enumerate(stack):
        for plane, bands in ((prov[0], VNIR), (prov[1], SWIR)):
            for b in bands:
                np.copyto(expected[b], a[b], where=plane == g)
    assert out.tobytes() == expected.tobytes()
    assert meta["vnir_valid_fraction"] == np.count_nonzero(prov[0] != NO_DATA) / float(H * W)
    assert meta["mixed_provenance_fraction"] == kmosaic.mixed_provenance(prov).mean()
    reused, prov2, meta2 = mosaic(kept, infos(n), strategy, params, reuse_stack=True)
    assert any(reused is a for a in kept)
    assert reused.tobytes() == out.tobytes() and prov2.tobytes() == prov.tobytes() and meta2 == meta


def test_mosaic_does_not_write_into_an_array_given_twice():
    stack = random_stack(np.random.default_rng(3), 1) * 2
    kept = stack[0].copy()
    out, _, _ = mosaic(stack, infos(2), params={"erode_pixels": 0}, reuse_stack=True)
    assert out is not stack[0] and np.array_equal(stack[0], kept, equal_nan=True)


def test_finite_masks_in_blocks_match_numpy(small_blocks):
    refl = np.random.default_rng(4).uniform(0, 1, (9, H, W)).astype(np.float32)
    refl[np.random.default_rng(5).random(refl.shape) < 0.3] = np.nan
    refl[0, 0, :3] = [np.inf, -np.inf, np.nan]
    refl[:, 5] = np.nan
    some, every = finite_masks(refl, range(3, 9))
    assert np.array_equal(some, np.isfinite(refl).any(axis=0))
    assert np.array_equal(every, np.isfinite(refl[3:]).all(axis=0))
    assert finite_masks(refl)[1] is None and np.array_equal(finite_masks(refl)[0], some)
    assert np.array_equal(valid_mask(refl, SWIR), np.isfinite(refl[3:]).all(axis=0))
    assert np.array_equal(valid_mask(refl), np.isfinite(refl).all(axis=0))
    assert np.array_equal(valid_mask(refl, iter(VNIR)), np.isfinite(refl[:3]).all(axis=0))
    assert valid_mask(refl, ()).all()


@pytest.mark.parametrize("bbox", [(0, 7, 0, 7), (2, 5, 1, 6), (3, 3, 7, 7), (0, 8, 0, 7), (4, 2, 0, 7)])
def test_nan_outside_leaves_only_the_bbox_of_written_bands_unset(bbox):
    out = _nan_outside(3, 8, bbox, [0, 2])
    r0, r1, c0, c1 = bbox
    inside = np.zeros((8, 8), dtype=bool)
    if 0 <= r0 <= r1 < 8 and 0 <= c0 <= c1 < 8:
        inside[r0:r1 + 1, c0:c1 + 1] = True
    assert out.shape == (3, 8, 8) and out.dtype == np.float32
    assert np.isnan(out[1]).all()
    for k in (0, 2):
        assert np.isnan(out[k][~inside]).all()


@pytest.mark.parametrize("pixels", [1, 2, 3, 30])
@pytest.mark.parametrize("seed", range(3))
def test_erosion_in_blocks_matches_the_square_window_rule(small_blocks, pixels, seed):
    valid = np.random.default_rng(seed).random((H, W)) < 0.93
    padded = np.pad(valid, pixels, constant_values=True)
    expected = np.ones((H, W), dtype=bool)
    for dr in range(2 * pixels + 1):
        for dc in range(2 * pixels + 1):
            expected &= padded[dr:dr + H, dc:dc + W]
    assert np.array_equal(kmasks.erode_edges(valid, pixels), expected)
