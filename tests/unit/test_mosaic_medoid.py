"""The median mosaic is a per-pixel medoid: every band group of a pixel comes whole from one granule.

The expected picks are computed here, pixel by pixel in float64, from the documented rule
(docs/kernel.md, "median"): among the granules usable and clear at the pixel, where at least one
has both groups the medoid of those over the nine bands, else per group the medoid of the
group's candidates; the medoid minimises the sum of L1 distances (reflectance) to the other
candidates; equal sums go to the granule first in the best-pixel granule order.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from gmi_engine.cli.options import add_method_params, method_params
from gmi_engine.kernel import indices as kernel_indices
from gmi_engine.kernel.bands import BAND_COLUMNS
from gmi_engine.kernel.errors import GmiInputError
from gmi_engine.kernel.indices import compute_indices, default_library
from gmi_engine.kernel.masks import SWIR, VNIR
from gmi_engine.kernel.mosaic import NO_DATA, mosaic
from gmi_engine.kernel.pipeline import run
from gmi_engine.synth.scene import MATERIALS

H, W = 24, 32
NO_EROSION = {"erode_pixels": 0}


def distinct_granules(n: int, seed: int = 3, holes: bool = True):
    """n granules of one ground, each with its own spectrum (gain and shape), pixel noise and gaps."""
    rng = np.random.default_rng(seed)
    base = np.asarray(MATERIALS["background"], dtype=np.float32)[:, None, None]
    stack, infos = [], []
    for g in range(n):
        shape = 1.0 + 0.04 * g + 0.02 * rng.standard_normal(9).astype(np.float32)
        a = base * shape[:, None, None] + rng.normal(0.0, 0.02, (9, H, W)).astype(np.float32)
        a = a.astype(np.float32)
        if holes:
            a[:3, rng.random((H, W)) < 0.15] = np.nan  # VNIR gaps
            a[3:, rng.random((H, W)) < 0.25] = np.nan  # SWIR gaps
        stack.append(a)
        infos.append({"granule_id": "g{}".format(g), "acquired": "2004-0{}-01".format(g + 1),
                      "cloud_cover": float(10 * (n - g)), "swir_usable": True})
    return stack, infos


def documented_order(stack, infos):
    """Best-pixel granule order: clear VNIR coverage (whole %), scene cloud cover, recency, index."""
    def key(g):
        cover = np.isfinite(stack[g][:3]).all(axis=0).mean()
        return (-int(np.floor(cover * 100 + 1e-9)), infos[g]["cloud_cover"], -(g + 1), g)
    return sorted(range(len(stack)), key=key)


def expected_costs(stack, bands, cands, y, x):
    """Sum of L1 distances of each candidate's spectrum (bands) to the other candidates', float64."""
    spectra = {g: np.asarray([stack[g][b, y, x] for b in bands], dtype=np.float64) for g in cands}
    return {g: sum(np.abs(spectra[g] - spectra[h]).sum() for h in cands if h != g) for g in cands}


def check_pick(stack, order, bands, cands, got, y, x):
    assert got in cands, (y, x, got, cands)
    costs = expected_costs(stack, bands, cands, y, x)
    best = min(costs.values())
    assert costs[got] <= best + 1e-5, (y, x, got, costs)
    tied = [g for g in order if g in cands and costs[g] <= best + 1e-9 * max(best, 1.0)]
    if len(cands) == 2:  # the two sums are the same number: the granule order decides
        assert got == tied[0], (y, x, got, tied)


@pytest.mark.parametrize("n", [2, 4])
def test_median_takes_each_group_of_a_pixel_from_one_granule(n):
    stack, infos = distinct_granules(n)
    out, prov, meta = mosaic(stack, infos, strategy="median", params=NO_EROSION)
    cube = np.stack(stack)
    for bands, plane in ((VNIR, 0), (SWIR, 1)):
        group = cube[:, list(bands)]  # (n, bands, H, W)
        got = out[list(bands)]
        equal = (group == got[None]).all(axis=1)  # (n, H, W): granule g gives the pixel's group
        valid = np.isfinite(group).all(axis=1).any(axis=0)
        from_one = equal.any(axis=0)
        assert (from_one == valid).all(), "{} of {} pixels mix granules in {}".format(
            int((valid & ~from_one).sum()), int(valid.sum()), "VNIR" if plane == 0 else "SWIR")
        assert np.isnan(got[:, ~valid]).all()
        p = prov[plane]
        assert ((p == NO_DATA) == ~valid).all()
        picked = np.take_along_axis(equal, np.where(p < 0, 0, p)[None].astype(np.intp), axis=0)[0]
        assert picked[valid].all()  # the provenance names the granule the values came from
    assert meta["strategy"] == "median"


@pytest.mark.parametrize("n", [2, 3, 4, 8])
def test_median_pick_is_the_documented_medoid(n):
    stack, infos = distinct_granules(n, seed=10 + n)
    out, prov, _ = mosaic(stack, infos, strategy="median", params=NO_EROSION)
    order = documented_order(stack, infos)
    vnir_ok = [np.isfinite(a[:3]).all(axis=0) for a in stack]
    swir_ok = [np.isfinite(a[3:]).all(axis=0) for a in stack]
    joint = mixed = 0
    for y in range(H):
        for x in range(W):
            complete = [g for g in range(n) if vnir_ok[g][y, x] and swir_ok[g][y, x]]
            if complete:
                joint += 1
                assert prov[0, y, x] == prov[1, y, x]
                check_pick(stack, order, VNIR + SWIR, complete, int(prov[0, y, x]), y, x)
                continue
            for plane, bands, ok in ((0, VNIR, vnir_ok), (1, SWIR, swir_ok)):
                cands = [g for g in range(n) if ok[g][y, x]]
                if cands:
                    check_pick(stack, order, bands, cands, int(prov[plane, y, x]), y, x)
                else:
                    assert prov[plane, y, x] == NO_DATA
            mixed += int(prov[0, y, x] >= 0 and prov[1, y, x] >= 0)
    assert joint > H * W // 2 and (n > 4 or mixed > 0)  # both branches exercised


def test_median_rejects_an_outlier_granule():
    """Four dates, one hazy (+0.08 in every band): where three or more cover, the haze never wins."""
    stack, infos = distinct_granules(4, seed=21, holes=False)
    stack[1] = stack[1] + np.float32(0.08)
    _, prov, _ = mosaic(stack, infos, strategy="median", params=NO_EROSION)
    assert ((prov >= 0) & (prov != 1)).all()


def test_median_of_two_is_the_best_pixel_choice():
    """With two candidates both distance sums are equal: the best-pixel order decides, per pixel."""
    stack, infos = distinct_granules(2, seed=5)
    _, median_prov, _ = mosaic(stack, infos, strategy="median", params=NO_EROSION)
    _, best_prov, _ = mosaic(stack, infos, strategy="best-pixel", params=NO_EROSION)
    both = np.logical_and.reduce([np.isfinite(a).all(axis=0) for a in stack])
    assert both.sum() > H * W // 4
    assert np.array_equal(median_prov[:, both], best_prov[:, both])


def test_median_meta_counts_mixed_provenance():
    stack, infos = distinct_granules(3, seed=8)
    _, prov, meta = mosaic(stack, infos, strategy="median", params=NO_EROSION)
    mixed = (prov[0] >= 0) & (prov[1] >= 0) & (prov[0] != prov[1])
    assert meta["mixed_provenance_fraction"] == pytest.approx(mixed.mean())
    assert meta["params"]["allow_mixed_provenance"] is False
    assert meta["provenance_codes"] == {"no_data": NO_DATA}


# ------------------------------------------------------------------ cross-group indices and provenance

def test_cross_group_indices_are_derived_from_the_formulas():
    """The set is read from the library file's band lists here, not from the code under test."""
    library = default_library()
    with open(Path(kernel_indices.__file__).parent / "data" / "library.json") as handle:
        entries = json.load(handle)["indices"]
    vnir, swir = {"b1", "b2", "b3"}, {"b4", "b5", "b6", "b7", "b8", "b9"}
    expected = {e["id"] for e in entries if set(e["bands"]) & vnir and set(e["bands"]) & swir}
    assert {"ferrous_iron", "gossan", "ferric_oxides"} <= expected
    assert {d.id for d in library if d.crosses_groups} == expected


def test_compute_indices_nan_where_sources_differ():
    rng = np.random.default_rng(2)
    refl = (0.1 + 0.3 * rng.random((9, 20, 30))).astype(np.float32)
    agree = rng.random((20, 30)) < 0.6
    plain = compute_indices(refl)
    masked = compute_indices(refl, same_source=agree)
    for definition in default_library():
        got, ref = masked[definition.id], plain[definition.id]
        if definition.crosses_groups:
            assert np.isnan(got[~agree]).all(), definition.id
            np.testing.assert_array_equal(got[agree], ref[agree])
        else:
            np.testing.assert_array_equal(got, ref)
    assert np.isnan(compute_indices(refl, ids=["gossan"], same_source=False)["gossan"]).all()
    with pytest.raises(GmiInputError, match="same_source"):
        compute_indices(refl, same_source=agree.astype(np.uint8))


TILE = {"tile_px": 24}


def source_row(gid: str, acquired: str, swir_usable: bool, seed: int, vnir_hole=None) -> dict:
    """One granule row over the whole 24 px tile (6S coefficients); DN 0 (fill) in B1 over vnir_hole."""
    rng = np.random.default_rng(seed)
    level = [90, 80, 110, 120, 100, 95, 90, 85, 80]  # a rock-like, not flat, not bright spectrum
    bands = {}
    for k, column in enumerate(BAND_COLUMNS):
        bands[column] = np.clip(level[k] + rng.normal(0, 6, (24, 24)), 2, 250).astype(np.uint8)
    if vnir_hole is not None:
        bands["b01"][vnir_hole] = 0
    return {"granule_id": gid, "tile_x": 5, "tile_y": 7, "acquired": acquired, "bbox": (0, 23, 0, 23),
            "bands": bands, "meta": {"gains": {c: "NOR" for c in BAND_COLUMNS}, "sun_elevation": 50.0},
            "ac": {"bands": {c: {"xa": 0.003, "xb": 0.1, "xc": 0.05} for c in BAND_COLUMNS}},
            "quality": {"swir_usable": swir_usable, "cloud_cover": 5.0}}


def mixed_rows():
    """A pre-2008 granule with a B1 hole and a post-2008 one: in the hole VNIR and SWIR differ."""
    hole = (slice(8, 16), slice(6, 18))
    return [source_row("pre", "2006-05-01T18:00:00Z", True, 1, hole),
            source_row("post", "2009-05-01T18:00:00Z", False, 2)]


@pytest.mark.parametrize("strategy", ["best-pixel", "median", "first-valid"])
def test_pipeline_cross_group_indices_nan_where_provenance_differs(strategy):
    rows = mixed_rows()
    params = dict(TILE, strategy=strategy, balance=False)
    mosaic_out = {r["output"]: r for r in run("mosaic", rows, params)}
    vnir, swir = mosaic_out["provenance_vnir"]["data"], mosaic_out["provenance_swir"]["data"]
    mixed = (vnir >= 0) & (swir >= 0) & (vnir != swir)
    assert mixed.sum() >= 40
    assert mosaic_out["b01"]["meta"]["steps"]["mosaic"]["mixed_provenance_fraction"] == pytest.approx(
        mixed.mean())
    default = {r["output"]: r["data"] for r in run("mineral_indices", rows, params)}
    allowed = {r["output"]: r["data"] for r in run(
        "mineral_indices", rows, dict(params, mosaic={"allow_mixed_provenance": True}))}
    library = default_library()
    crossing = [d.id for d in library if d.crosses_groups]
    for index_id in library.ids:
        if index_id in crossing:
            assert np.isnan(default[index_id][mixed]).all(), index_id
            assert np.isfinite(allowed[index_id][mixed]).all(), index_id
            np.testing.assert_array_equal(default[index_id][~mixed], allowed[index_id][~mixed])
        else:
            np.testing.assert_array_equal(default[index_id], allowed[index_id])


def test_best_pixel_with_one_granule_for_all_bands_is_untouched():
    """Where best-pixel takes all nine bands from one granule the rule changes nothing."""
    rows = [source_row("a", "2006-05-01T18:00:00Z", True, 1), source_row("b", "2007-05-01T18:00:00Z", True, 2)]
    params = dict(TILE, balance=False)
    default = run("mineral_indices", rows, params)
    allowed = run("mineral_indices", rows, dict(params, mosaic={"allow_mixed_provenance": True}))
    assert default[0]["meta"]["steps"]["mosaic"]["mixed_provenance_fraction"] == 0.0
    for a, b in zip(default, allowed):
        assert a["output"] == b["output"]
        np.testing.assert_array_equal(a["data"], b["data"])


def test_allow_mixed_provenance_must_be_true_or_false():
    with pytest.raises(GmiInputError, match="allow_mixed_provenance"):
        run("mineral_indices", mixed_rows(), dict(TILE, mosaic={"allow_mixed_provenance": "yes"}))


def test_cli_flag_sets_the_mosaic_parameter():
    parser = argparse.ArgumentParser()
    add_method_params(parser)
    assert "mosaic" not in method_params(parser.parse_args([]))
    params = method_params(parser.parse_args(["--strategy", "median", "--allow-mixed-provenance"]))
    assert params["strategy"] == "median" and params["mosaic"] == {"allow_mixed_provenance": True}
    assert "medoid" in parser.format_help()
