"""Cross-granule normalization (kernel/overlap.py): independent per-band errors in all 9 bands."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from test_balance import band_ratio, reference_from, scene_truth, with_error

from gmi_engine.errors import GmiInputError
from gmi_engine.grid import TileIndex
from gmi_engine.kernel.balance import balance
from gmi_engine.kernel.bands import BAND_COLUMNS, BANDS
from gmi_engine.kernel.indices import compute_indices
from gmi_engine.kernel.mosaic import mosaic
from gmi_engine.kernel.overlap import normalize
from gmi_engine.kernel.pipeline import run

#: Independent known gain errors of the bad granule, one per band (B1 ... B9).
ERROR = np.array([1.10, 0.95, 1.04, 0.93, 1.07, 0.94, 1.09, 0.92, 1.05], dtype=np.float32)
ONES = np.ones(9, dtype=np.float32)
INFOS = [{"granule_id": "first", "acquired": "2005-08-01", "cloud_cover": 1, "swir_usable": True},
         {"granule_id": "second", "acquired": "2006-09-06", "cloud_cover": 2, "swir_usable": True}]
SWIR2 = slice(4, 9)


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    return scene_truth()


@pytest.fixture(scope="module")
def reference(truth) -> np.ndarray:
    return reference_from(truth)


def granules(truth, errors, columns=((0, 640), (384, 1024))):
    """One noisy copy of the truth per error vector, NaN outside its column range (footprint)."""
    out = []
    for seed, (gains, (c0, c1)) in enumerate(zip(errors, columns)):
        g = with_error(truth, gains, seed=seed + 1)
        g[:, :, :c0] = np.nan
        g[:, :, c1:] = np.nan
        out.append(g)
    return out


def infos_for(n):
    return [dict(INFOS[0], granule_id="g{}".format(i), acquired="2005-08-0{}".format(i + 1))
            for i in range(n)]


def balanced(stack, reference, params=None, infos=None):
    """The pipeline's order: normalize on the overlap, mosaic, balance per band to MODIS."""
    infos = infos or INFOS
    normalized, overlap = normalize(stack, reference, params, infos)
    mos, prov, _ = mosaic(normalized, infos)
    out, meta = balance(mos, reference, params, prov)
    return out, prov, overlap, meta, mos


def region_ratio(out, truth, prov, granule):
    """Per band sum(out)/sum(truth) over the pixels the granule gave (VNIR / SWIR plane)."""
    ratios = []
    for b in range(9):
        sel = prov[0 if b < 3 else 1] == granule
        ratios.append(np.sum(out[b][sel], dtype=np.float64) / np.sum(truth[b][sel], dtype=np.float64))
    return np.array(ratios)


def test_independent_errors_in_all_nine_bands_are_recovered(truth, reference):
    out, prov, overlap, meta, _ = balanced(granules(truth, (ONES, ERROR)), reference)
    whole = band_ratio(out, truth)
    second = region_ratio(out, truth, prov, 1)
    print("\nbalanced/truth, whole tile:     ", np.round(whole, 4))
    print("balanced/truth, bad granule only:", np.round(second, 4))
    print("overlap gains of the bad granule:", overlap["gains"]["1"])
    assert np.all(np.abs(whole - 1.0) < 0.02) and np.all(np.abs(second - 1.0) < 0.02)
    assert (prov[1] == 1).sum() > 300000  # the bad granule gives a large part of the tile
    assert overlap["anchor"] == 0 and overlap["anchor_rule"] == "modis" and not overlap["skipped"]
    for b in range(4, 9):
        assert overlap["gains"]["1"][BANDS[b]] == pytest.approx(1.0 / ERROR[b], rel=0.003)
        assert overlap["granules"][1]["bands"][BANDS[b]]["cells"] == 8 * 32  # 256 px x 1024 px
    assert "0" not in overlap["gains"]
    json.dumps(overlap)
    json.dumps(meta)


@pytest.fixture(scope="module")
def mean_reference(truth) -> np.ndarray:
    """b07 = mean(B5..B9), the reference the "block" method's default pairing assumes."""
    return reference_from(truth, b07="mean")


@pytest.mark.parametrize("method", ["shape", "block"])
def test_without_the_overlap_step_swir2_errors_remain(truth, reference, mean_reference, method):
    ref = reference if method == "shape" else mean_reference
    out, prov, overlap, _, _ = balanced(granules(truth, (ONES, ERROR)), ref,
                                        {"balance_overlap": False, "balance_method": method})
    assert overlap["skipped"] and "balance_overlap" in overlap["reason"]
    second = region_ratio(out, truth, prov, 1)
    print("\nwithout overlap step ({}), bad granule:".format(method), np.round(second, 4))
    assert np.all(np.abs(second[:4] - 1.0) < 0.02)  # MODIS sees B1, B2, B3N, B4 ...
    # ... but not B5..B9 one by one: one gain for the group, the errors between them remain
    np.testing.assert_allclose(second[SWIR2] / second[4], ERROR[SWIR2] / ERROR[4], rtol=0.005)
    if method == "block":  # the gain fits the B5..B9 mean (error 1.014), so each band stays off
        assert np.all(np.abs(second[SWIR2] - 1.0) > 0.02)


def test_swir2_ratio_indices_change_only_with_the_overlap_step(truth, reference):
    stack = granules(truth, (ONES, ERROR))
    with_step, prov, _, _, _ = balanced(stack, reference)
    modis_only, _, _, _, raw = balanced(stack, reference, {"balance_overlap": False})  # raw mosaic
    sel = (prov[1] == 1) & np.all(truth[SWIR2] > 0.1, axis=0)
    ids = ["kaolinite", "clay", "phengitic", "calcite_index"]  # B7/B5, B5*B7/B6^2, B5/B6, B6*B9/B8^2
    idx = {name: compute_indices(data, ids=ids) for name, data in
           (("truth", truth), ("raw", raw), ("modis", modis_only), ("overlap", with_step))}
    for index_id in ids:
        med = {k: float(np.median(v[index_id][sel] / idx["truth"][index_id][sel])) for k, v in idx.items()}
        print(index_id, {k: round(v, 4) for k, v in med.items()})
        assert med["modis"] == pytest.approx(med["raw"], rel=1e-4)  # one b07 gain: ratio kept
        assert abs(med["raw"] - 1.0) > 0.015  # the error shows in the index ...
        assert med["overlap"] == pytest.approx(1.0, abs=0.005)  # ... and is removed
    expected = float(ERROR[6] / ERROR[4])  # kaolinite B7/B5
    assert float(np.median(idx["raw"]["kaolinite"][sel] / idx["truth"]["kaolinite"][sel])) == \
        pytest.approx(expected, rel=0.005)


def test_anchor_is_the_granule_modis_sees_as_right(truth, reference):
    out, prov, overlap, _, _ = balanced(granules(truth, (ERROR, ONES)), reference)
    assert overlap["anchor"] == 1 and overlap["ranking"] == [1, 0]
    scores = [g["score"] for g in overlap["granules"]]
    assert scores[1] < 0.005 < 0.09 < scores[0]  # ln(1.10) = 0.095 for B1
    assert overlap["granules"][0]["modis_gains"]["01"] == pytest.approx(1 / 1.10, rel=0.005)
    assert set(overlap["gains"]) == {"0"}
    assert np.all(np.abs(band_ratio(out, truth) - 1.0) < 0.02)
    assert np.all(np.abs(region_ratio(out, truth, prov, 0) - 1.0) < 0.02)


def test_without_reference_the_largest_granule_is_the_anchor(truth):
    """Documented: no MOD09A1 -> trust the granule with most valid pixels (here the wrong one)."""
    stack = granules(truth, (ONES, ERROR), columns=((0, 512), (300, 1024)))
    normalized, overlap = normalize(stack, None, None, INFOS)
    assert overlap["anchor_rule"] == "valid pixels" and overlap["anchor"] == 1
    assert [g["valid_pixels"] for g in overlap["granules"]] == [512 * 1024, 724 * 1024]
    assert normalized[1] is stack[1] and set(overlap["gains"]) == {"0"}
    sel = np.s_[:, 300:512]
    for b in range(4, 9):  # the first granule now carries the second's error in B5..B9
        assert overlap["gains"]["0"][BANDS[b]] == pytest.approx(ERROR[b], rel=0.003)
        ratio = np.sum(normalized[0][b][sel]) / np.sum(normalized[1][b][sel])
        assert ratio == pytest.approx(1.0, abs=0.002)
    np.testing.assert_array_equal(normalized[0][:4], stack[0][:4])  # only B5..B9 by default
    # the same without any usable reference cell
    _, fill_meta = normalize(stack, np.full((7, 256, 256), -28672, np.int16), None, INFOS)
    assert fill_meta["anchor_rule"] == "valid pixels" and fill_meta["anchor"] == 1


def test_granules_without_enough_overlap_are_left_unchanged(truth, reference):
    stack = granules(truth, (ONES, ERROR), columns=((0, 512), (512, 1024)))
    normalized, overlap = normalize(stack, reference, None, INFOS)
    assert normalized[1] is stack[1] and normalized[0] is stack[0]
    assert overlap["skipped"] and overlap["gains"] == {}
    reason = overlap["granules"][1]["bands"]["05"]["reason"]
    assert "0 overlap cells" in reason and "balance_overlap_min_cells" in reason
    # one column of 32 cells in common: enough for 8 (default) or 32, not for 33
    stack = granules(truth, (ONES, ERROR), columns=((0, 544), (512, 1024)))
    for min_cells, fitted in ((8, True), (32, True), (33, False)):
        _, overlap = normalize(stack, reference, {"balance_overlap_min_cells": min_cells}, INFOS)
        assert ("1" in overlap["gains"]) is fitted
    assert overlap["granules"][1]["bands"]["09"]["reason"].startswith("32 overlap cells")


def test_granules_are_chained_through_a_normalized_neighbour(truth, reference):
    other = np.array([1.03, 1.0, 0.97, 1.02, 0.96, 1.03, 0.98, 1.04, 0.97], dtype=np.float32)
    stack = granules(truth, (ONES, other, ERROR), columns=((0, 400), (300, 760), (660, 1024)))
    infos = infos_for(3)
    out, prov, overlap, _, _ = balanced(stack, reference, infos=infos)
    bands = [g["bands"]["07"] for g in overlap["granules"]]
    assert overlap["anchor"] == 0 and bands[1]["reference"] == 0 and bands[2]["reference"] == 1
    for b in range(4, 9):
        assert overlap["gains"]["2"][BANDS[b]] == pytest.approx(1.0 / ERROR[b], rel=0.005)
    print("\nchained, balanced/truth per granule:",
          [np.round(region_ratio(out, truth, prov, g), 4).tolist() for g in range(3)])
    for g in range(3):
        assert np.all(np.abs(region_ratio(out, truth, prov, g) - 1.0) < 0.02)


def test_all_bands_and_unusable_swir(truth, reference):
    stack = granules(truth, (ONES, ERROR))
    out, prov, overlap, _, _ = balanced(stack, reference, {"balance_overlap_bands": "all"})
    assert overlap["bands"] == list(BANDS)
    for b in range(9):
        assert overlap["gains"]["1"][BANDS[b]] == pytest.approx(1.0 / ERROR[b], rel=0.003)
    assert np.all(np.abs(region_ratio(out, truth, prov, 1) - 1.0) < 0.02)
    # a granule whose SWIR is unusable takes no part in SWIR bands, and is never their anchor
    stack = granules(truth, (ERROR, ONES), columns=((0, 1024), (384, 1024)))
    infos = [dict(INFOS[0], swir_usable=False), INFOS[1]]
    _, overlap = normalize(stack, reference, {"balance_overlap_bands": ["B3N", "B8"]}, infos)
    assert overlap["bands"] == ["3N", "08"]
    assert overlap["anchors"] == {"3N": 1, "08": 1}  # B1 gain 1.10 seen by MODIS
    assert overlap["granules"][0]["bands"]["08"] == {"gain": None, "reason": "SWIR not usable"}
    assert overlap["gains"]["0"] == {"3N": pytest.approx(1 / 1.04, rel=0.003)}
    assert overlap["granules"][0]["valid_pixels"] == 0


def test_one_granule_or_disabled_is_a_no_op(truth, reference):
    stack = granules(truth, (ERROR,), columns=((0, 1024),))
    out, overlap = normalize(stack, reference, None, INFOS[:1])
    assert out[0] is stack[0] and overlap["skipped"] and "fewer than two" in overlap["reason"]


@pytest.mark.parametrize("params, message", [
    ({"balance_overlap": "yes"}, "params.balance_overlap: 'yes' is not true/false"),
    ({"balance_overlap_bands": "swir"}, "params.balance_overlap_bands"),
    ({"balance_overlap_bands": ["05", "B5"]}, "params.balance_overlap_bands: a band is listed twice"),
    ({"balance_overlap_bands": ["B10"]}, "params.balance_overlap_bands"),
    ({"balance_overlap_bands": []}, "params.balance_overlap_bands: no band given"),
    ({"balance_overlap_min_cells": 0}, "params.balance_overlap_min_cells"),
    ({"balance_overlap_min_cells": 2.5}, "params.balance_overlap_min_cells"),
    ({"balance_overlap_min_cells": True}, "params.balance_overlap_min_cells"),
])
def test_bad_params_are_rejected(truth, reference, params, message):
    stack = granules(truth, (ONES, ERROR))
    with pytest.raises(GmiInputError, match=message):
        normalize(stack, reference, params, INFOS)
    with pytest.raises(GmiInputError, match=message):  # balance() checks the same keys
        balance(stack[0], reference, params)


def test_bad_stack_is_rejected(truth, reference):
    stack = granules(truth, (ONES, ERROR))
    with pytest.raises(GmiInputError, match=r"stack\[1\]: shape"):
        normalize([stack[0], stack[1][:, :512]], reference)
    with pytest.raises(GmiInputError, match=r"stack\[0\]: expected float"):
        normalize([stack[0][:3]], reference)
    with pytest.raises(GmiInputError, match="infos: 1 entries for 2"):
        normalize(stack, reference, None, INFOS[:1])
    with pytest.raises(GmiInputError, match="does not divide"):
        normalize(stack, np.zeros((7, 300, 300), np.int16))


# --------------------------------------------------------------------------- through run()

CHINO = TileIndex(260, 526)


@pytest.fixture(scope="module")
def demo_rows(demo_small, demo_workspace):
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.backends.local_runner import kernel_row

    with LocalStore(demo_workspace[0], create=False) as store:
        return [kernel_row(r) for r in store.tile_rows(CHINO)]


def _bands(results):
    data = {r["output"]: r["data"] for r in results}
    return np.stack([data[c] for c in BAND_COLUMNS]), data["provenance_swir"], results[0]["meta"]


def test_pipeline_removes_a_calibration_error_of_one_demo_granule(demo_rows):
    """A B5 / B8 radiance gain error (INCL x1.07 / x0.92) in the second demo granule."""
    bad_rows = copy.deepcopy(demo_rows)
    for column, gain in (("b05", 1.07), ("b08", 0.92)):
        bad_rows[1]["meta"]["incl"][column] *= gain
    ratios = {}
    for step in (True, False):
        params = {"balancing": {"balance_overlap": step}}
        clean, prov, _ = _bands(run("color_balancing", demo_rows, params))
        bad, prov_bad, meta = _bands(run("color_balancing", bad_rows, params))
        assert np.array_equal(prov, prov_bad) and (prov == 1).sum() > 10000
        sel = prov == 1
        ratios[step] = [float(np.nansum(bad[b][sel]) / np.nansum(clean[b][sel])) for b in range(9)]
        print("\noverlap step {}: bad/clean run per band in granule 1: {}".format(
            step, np.round(ratios[step], 4).tolist()))
        overlap = meta["steps"]["balancing"]["overlap"]
        assert overlap["skipped"] is not step
        if step:
            assert overlap["granules"][1]["granule_id"] == demo_rows[1]["granule_id"]
            print("overlap gains:", overlap["gains"])
    assert np.all(np.abs(np.array(ratios[True]) - 1.0) < 0.005)
    # without the step the B5 / B8 errors stay between the SWIR-2 bands (one gain for the group;
    # which band it matches depends on the estimator, the continuum here)
    assert ratios[False][4] / ratios[False][5] == pytest.approx(1.07, rel=0.005)
    assert ratios[False][7] / ratios[False][5] == pytest.approx(0.92, rel=0.005)


def test_pipeline_mosaic_method_is_not_normalized(demo_rows):
    balanced_meta = run("color_balancing", demo_rows)[0]["meta"]["steps"]
    overlap = balanced_meta["balancing"]["overlap"]
    print("\ndemo tile overlap gains (no injected error):", overlap["gains"])
    assert overlap["anchor"] in (0, 1) and not overlap["skipped"]
    for gains in overlap["gains"].values():
        assert all(abs(g - 1.0) < 0.01 for g in gains.values())
    assert "balancing" not in run("mosaic", demo_rows)[0]["meta"]["steps"]
    plain = run("mineral_indices", demo_rows, {"balance": False, "indices": ["kaolinite"]})
    assert "balancing" not in plain[0]["meta"]["steps"]
    indices = run("mineral_indices", demo_rows, {"indices": ["kaolinite"]})
    assert "overlap" in indices[0]["meta"]["steps"]["balancing"]
