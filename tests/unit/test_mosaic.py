"""Kernel mosaic: best-pixel / first-valid / median selection, provenance, SWIR fill, seams."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from gmi_engine.errors import GmiInputError
from gmi_engine.kernel.mosaic import NO_DATA, mosaic, parse_time
from gmi_engine.synth.scene import MATERIALS

H, W = 30, 90
CLOUD = np.array([0.78, 0.80, 0.82, 0.62, 0.45, 0.44, 0.43, 0.42, 0.40], dtype=np.float32)
NO_EROSION = {"erode_pixels": 0}


def truth(h: int = H, w: int = W) -> np.ndarray:
    """A smooth (9, h, w) float32 surface: the background spectrum with a gentle brightness ramp."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shade = 1.0 + 0.1 * np.sin(xx / 17.0) * np.cos(yy / 23.0)
    return (np.asarray(MATERIALS["background"], dtype=np.float32)[:, None, None] * shade).astype(np.float32)


def granule(cols, noise: float = 0.0, seed: int = 0, base=None, offset: float = 0.0) -> np.ndarray:
    """The truth (+ noise, + offset) with NaN outside the columns ``cols`` = (start, stop)."""
    ref = truth() if base is None else base
    rng = np.random.default_rng(seed)
    out = ref + np.float32(offset) + rng.normal(0.0, noise, ref.shape).astype(np.float32)
    out[:, :, :cols[0]] = np.nan
    out[:, :, cols[1]:] = np.nan
    return out.astype(np.float32)


def info(gid: str, acquired: str, cloud_cover=10.0, swir_usable=True) -> dict:
    return {"granule_id": gid, "acquired": acquired, "cloud_cover": cloud_cover,
            "swir_usable": swir_usable}


def test_best_pixel_prefers_lower_cloud_cover_when_coverage_ties():
    g0, g1 = granule((0, 60), seed=1, offset=0.001), granule((30, 90), seed=2, offset=-0.001)
    out, prov, meta = mosaic([g0, g1], [info("a", "2006-01-01T10:00:00Z", 20),
                                        info("b", "2005-01-01T10:00:00Z", 5)], params=NO_EROSION)
    assert out.dtype == np.float32 and prov.dtype == np.int16 and prov.shape == (2, H, W)
    expected = np.where(np.arange(W) < 30, 0, 1)
    assert (prov == expected).all()
    assert np.array_equal(out[:, :, :30], g0[:, :, :30])
    assert np.array_equal(out[:, :, 30:], g1[:, :, 30:])
    assert [g["rank"] for g in meta["granules"]] == [1, 0]
    assert meta["granules"][0]["vnir_pixels"] == 30 * H and meta["granules"][1]["vnir_pixels"] == 60 * H


def test_best_pixel_prefers_larger_clear_coverage_over_cloud_cover():
    g0, g1 = granule((0, 60)), granule((20, 90), offset=0.01)
    out, prov, _ = mosaic([g0, g1], [info("a", "2006-01-01", 0), info("b", "2006-01-02", 40)],
                          params=NO_EROSION)
    assert (prov[:, :, :20] == 0).all() and (prov[:, :, 20:] == 1).all()


def test_date_preference_breaks_ties():
    g0, g1 = granule((0, 60)), granule((30, 90))
    infos = [info("old", "2001-06-01", 10), info("new", "2004-06-01", 10)]
    _, prov, _ = mosaic([g0, g1], infos, params=NO_EROSION)
    assert (prov[:, :, 30:60] == 1).all()  # more recent by default
    _, prov, meta = mosaic([g0, g1], infos, params=dict(NO_EROSION, target_date="2001-09-01"))
    assert (prov[:, :, 30:60] == 0).all()  # nearer to the target date
    assert meta["params"]["target_date"] == "2001-09-01T00:00:00Z"


def test_edge_erosion_moves_the_seam_but_not_at_tile_borders():
    g0, g1 = granule((0, 60), seed=1), granule((30, 90), seed=2)
    out, prov, _ = mosaic([g0, g1], [info("a", "2006-01-01", 20), info("b", "2006-01-02", 5)],
                          params={"erode_pixels": 2})
    assert (prov[:, :, :32] == 0).all()  # g1's ragged left border (cols 30, 31) is eroded
    assert (prov[:, :, 32:] == 1).all()  # g1 reaches the tile's right border: nothing eroded there
    assert np.isfinite(out).all()  # rows 0/29 and cols 0/89 are tile borders, kept


def test_swir_comes_from_another_granule_when_the_best_has_none():
    g0 = granule((0, 60), seed=1)
    g0[0, 5:11, 40:51] = np.nan  # B1 saturated in a patch of the overlap
    g1 = granule((20, 90), seed=2, offset=0.002)
    infos = [info("pre", "2006-05-01T18:00:00Z", 10), info("post", "2009-05-01T18:00:00Z", 0, None)]
    out, prov, meta = mosaic([g0, g1], infos, params=NO_EROSION)
    assert meta["granules"][1]["swir_usable"] is False  # derived from the date (>= 2008-04-01)
    assert meta["granules"][1]["rank"] == 0  # g1 covers more of the tile ...
    patch = np.zeros((H, W), dtype=bool)
    patch[5:11, 40:51] = True
    overlap = np.zeros((H, W), dtype=bool)
    overlap[:, 20:60] = True
    # ... but where g0 has all nine bands, all nine come from g0
    assert (prov[:, overlap & ~patch] == 0).all()
    # in the patch the VNIR comes from g1 and the SWIR still from g0
    assert (prov[0][patch] == 1).all() and (prov[1][patch] == 0).all()
    assert np.array_equal(out[:3][:, patch], g1[:3][:, patch])
    assert np.array_equal(out[3:][:, patch], g0[3:][:, patch])
    # only g1 covers cols 60..89: VNIR from g1, no SWIR
    assert (prov[0][:, 60:] == 1).all() and (prov[1][:, 60:] == NO_DATA).all()
    assert np.isnan(out[3:, :, 60:]).all() and np.isfinite(out[:3, :, 60:]).all()


def test_clouds_are_filled_from_the_next_granule():
    g0, g1 = granule((0, 60), seed=1), granule((20, 90), seed=2)
    g1[:, 10:15, 40:45] = CLOUD[:, None, None]  # in the overlap
    g1[:, 10:15, 70:75] = CLOUD[:, None, None]  # where only g1 covers
    infos = [info("a", "2006-01-01", 20), info("b", "2006-01-02", 5)]
    out, prov, meta = mosaic([g0, g1], infos, params={"erode_pixels": 0, "cloud_buffer": 1})
    assert (prov[:, 9:16, 39:46] == 0).all()  # cloud + 1 px buffer taken from g0
    assert (prov[:, 16:, 39:46] == 1).all()
    assert (prov[:, 9:16, 69:76] == NO_DATA).all() and np.isnan(out[:, 9:16, 69:76]).all()
    assert meta["granules"][1]["cloud_fraction_of_valid"] == pytest.approx(2 * 49 / (70 * H))
    assert meta["granules"][1]["rank"] == 0  # still the larger clear coverage
    out, prov, _ = mosaic([g0, g1], infos, params={"erode_pixels": 0, "cloud_buffer": 1,
                                                   "cloud_fallback": True})
    assert (prov[:, 10:15, 70:75] == 1).all()  # last resort: the cloudy pixel
    assert (prov[:, 10:15, 40:45] == 0).all()  # a clear pixel still wins


def test_first_valid_takes_the_earliest_acquisition():
    g0, g1 = granule((0, 60), seed=1), granule((30, 90), seed=2)
    infos = [info("later", "2005-03-01", 0), info("earlier", "2003-03-01", 90)]
    _, prov, meta = mosaic([g0, g1], infos, strategy="first-valid", params=NO_EROSION)
    assert (prov[:, :, :30] == 0).all() and (prov[:, :, 30:] == 1).all()
    assert meta["strategy"] == "first-valid"


def test_median_values_and_provenance():
    base = truth()
    g0 = granule((0, 90), base=base, offset=0.01)
    g1 = granule((0, 60), base=base, offset=-0.02)
    g2 = granule((30, 90), base=base, offset=0.0)
    g0[:, 20:, 70:] = np.nan  # a corner only g2 covers
    infos = [info("a", "2003-01-01"), info("b", "2004-01-01"), info("c", "2005-01-01")]
    out, prov, meta = mosaic([g0, g1, g2], infos, strategy="median", params=NO_EROSION)
    # three candidates: L1 sums 9 x (0.01 + 0.03) for g0, 9 x (0.02 + 0.03) for g1, 9 x (0.01 + 0.02)
    # for g2: the medoid is g2, the middle one, with its own values
    assert (prov[:, :, 30:60] == 2).all()
    assert np.array_equal(out[:, :, 30:60], g2[:, :, 30:60])
    # two candidates (equal sums): the best-pixel order, g0 first (largest coverage)
    assert [g["rank"] for g in meta["granules"]] == [0, 2, 1]
    assert (prov[:, :, :30] == 0).all() and np.array_equal(out[:, :, :30], g0[:, :, :30])
    assert (prov[:, :20, 60:] == 0).all()
    assert (prov[:, 20:, 70:] == 2).all()


def test_median_with_many_granules_and_gaps():
    rng = np.random.default_rng(5)
    stack, infos = [], []
    for g in range(11):
        a = granule((0, 90), noise=0.01, seed=g)
        a[:, rng.random((H, W)) < 0.3] = np.nan
        stack.append(a)
        infos.append(info("g{}".format(g), "2003-01-{:02d}".format(g + 1)))
    for n in (4, 11):
        out, prov, _ = mosaic(stack[:n], infos[:n], strategy="median", params=NO_EROSION)
        cube = np.stack(stack[:n])
        count = np.isfinite(cube[:, 0]).sum(axis=0)
        assert ((count == 0) == (prov[0] == NO_DATA)).all()
        assert (prov[0] == prov[1]).all()  # gaps cover all nine bands: one granule per pixel
        picked = np.take_along_axis(cube, np.maximum(prov[0], 0)[None, None].astype(np.intp), axis=0)[0]
        assert np.array_equal(out[:, count > 0], picked[:, count > 0])
        single = count == 1
        assert (np.argmax(np.isfinite(cube[:, 0]), axis=0)[single] == prov[0][single]).all()


@pytest.mark.parametrize("strategy", ["best-pixel", "first-valid", "median"])
def test_no_gap_where_any_granule_has_data(strategy):
    rng = np.random.default_rng(7)
    stack, infos = [], []
    for g in range(4):
        a = granule((0, 90), noise=0.003, seed=g)
        holes = np.kron(rng.random((6, 18)) < 0.5, np.ones((5, 5), dtype=bool))  # blocky footprints
        a[:, holes] = np.nan
        a[4, rng.random((H, W)) < 0.05] = np.nan  # scattered SWIR dropouts
        stack.append(a)
        infos.append(info("g{}".format(g), "200{}-07-01".format(5 + g), swir_usable=g < 2))
    out, prov, meta = mosaic(stack, infos, strategy=strategy, params=NO_EROSION)
    vnir_any = np.logical_or.reduce([np.isfinite(a[:3]).all(axis=0) for a in stack])
    swir_any = np.logical_or.reduce([np.isfinite(a[3:]).all(axis=0) for a in stack[:2]])
    assert (np.isfinite(out[:3]).all(axis=0) == vnir_any).all()
    assert (np.isfinite(out[3:]).all(axis=0) == swir_any).all()
    assert ((prov[0] != NO_DATA) == vnir_any).all() and ((prov[1] != NO_DATA) == swir_any).all()
    assert not np.isin(prov[1], [2, 3]).any()  # never SWIR from a post-2008 granule
    assert meta["vnir_valid_fraction"] == pytest.approx(vnir_any.mean())


def seam_steps(out: np.ndarray, prov: np.ndarray):
    """Per band: (mean, sd) of the column-to-column difference across the seam and inside."""
    cols = np.nonzero((prov[0][:, 1:] != prov[0][:, :-1]).any(axis=0))[0] + 1
    assert len(cols) == 1
    c = int(cols[0])
    across = out[:, :, c] - out[:, :, c - 1]
    inside = np.concatenate([out[:, :, k] - out[:, :, k - 1] for k in range(c + 5, c + 45)], axis=1)
    return c, across, inside


def test_seam_between_noisy_copies_of_the_same_ground_is_noise_only():
    h, w, sigma = 256, 384, 0.003
    base = truth(h, w)
    g0 = granule((0, 2 * w // 3), noise=sigma, seed=1, base=base)
    g1 = granule((w // 3, w), noise=sigma, seed=2, base=base)
    out, prov, _ = mosaic([g0, g1], [info("a", "2006-01-01", 20), info("b", "2006-01-02", 5)])
    c, across, inside = seam_steps(out, prov)
    assert c == w // 3 + 2  # g1's border eroded by the default 2 px
    smooth_slope = np.abs(base[:, :, c] - base[:, :, c - 1]).max()
    limit = 4 * sigma * np.sqrt(2) / np.sqrt(h) + smooth_slope  # 4 standard errors of the mean
    for b in range(9):
        assert abs(across[b].mean() - inside[b].mean()) < limit
        assert 0.8 < across[b].std() / inside[b].std() < 1.25  # same spread as inside a granule
    # the same measurement sees a real radiometric step of 0.01 between the granules
    out, prov, _ = mosaic([g0, g1 + np.float32(0.01)],
                          [info("a", "2006-01-01", 20), info("b", "2006-01-02", 5)])
    _, across, inside = seam_steps(out, prov)
    assert all(abs(across[b].mean() - inside[b].mean()) > 0.008 for b in range(9))


def test_meta_is_json_and_float64_input_is_accepted():
    g0 = granule((0, 60)).astype(np.float64)
    g1 = granule((30, 90))
    out, prov, meta = mosaic([g0, g1], [info("a", "2006-01-01T18:02:42.5+02:00", None),
                                        info("b", "2006-01-02", 5)])
    assert out.dtype == np.float32
    text = json.dumps(meta)
    assert json.loads(text)["granules"][0]["acquired"] == "2006-01-01T16:02:42.500000Z"
    assert meta["provenance_planes"] == ["vnir", "swir"]
    counts = sum(g["vnir_pixels"] for g in meta["granules"])
    assert counts == int((prov[0] >= 0).sum())


def test_parse_time_forms():
    assert parse_time("2006-09-06T18:02:42Z", "t").isoformat() == "2006-09-06T18:02:42"
    assert parse_time("2006-09-06 18:02:42+01:00", "t").isoformat() == "2006-09-06T17:02:42"
    with pytest.raises(GmiInputError, match="t: '2006-13-01'"):
        parse_time("2006-13-01", "t")


@pytest.mark.parametrize("stack_infos, strategy, message", [
    (lambda: ([granule((0, 90))], [info("a", "2006-01-01")]), "mean", "strategy"),
    (lambda: ([granule((0, 90))], []), "best-pixel", "1 granule arrays"),
    (lambda: ([], []), "best-pixel", "no granule"),
    (lambda: ([granule((0, 90)), granule((0, 90))[:, :10]], [info("a", "2006-01-01")] * 2),
     "best-pixel", r"stack\[1\]: shape"),
    (lambda: ([granule((0, 90))[:3]], [info("a", "2006-01-01")]), "best-pixel", r"stack\[0\]"),
    (lambda: ([granule((0, 90))], [{"granule_id": "a"}]), "best-pixel", "granule 0 .a.: field 'acquired'"),
    (lambda: ([granule((0, 90))], [info("a", "2006-01-01", 120)]), "best-pixel", "cloud_cover 120"),
    (lambda: ([granule((0, 90))], [info("a", "2006-01-01", swir_usable="yes")]), "best-pixel",
     "swir_usable"),
    (lambda: ([granule((0, 90))], [{"acquired": "2006-01-01"}]), "best-pixel", "granule_id"),
])
def test_bad_input_is_rejected_with_the_field_named(stack_infos, strategy, message):
    stack, infos = stack_infos()
    with pytest.raises(GmiInputError, match=message):
        mosaic(stack, infos, strategy=strategy)


def test_full_tile_speed():
    rng = np.random.default_rng(0)
    base = (0.2 + 0.05 * rng.random((9, 1024, 1024))).astype(np.float32)
    stack = []
    for g in range(4):
        a = base + rng.normal(0.0, 0.003, base.shape).astype(np.float32)
        a[:, :, :g * 200] = np.nan
        stack.append(a)
    infos = [info("g{}".format(g), "200{}-06-01".format(3 + g), 10 * g, g != 3) for g in range(4)]
    timings = {}
    for strategy in ("best-pixel", "first-valid", "median"):
        start = time.perf_counter()
        out, prov, _ = mosaic(stack[:2], infos[:2], strategy=strategy)
        timings[strategy, 2] = time.perf_counter() - start
        start = time.perf_counter()
        out, prov, _ = mosaic(stack, infos, strategy=strategy)
        timings[strategy, 4] = time.perf_counter() - start
        assert np.isfinite(out).all()
    print("mosaic 1024^2 seconds:", {"{} x{}".format(*k): round(v, 3) for k, v in timings.items()})
    assert max(timings.values()) < 2.0  # measured 0.1-0.45 s on one core
