"""The porphyry-copper scene: zoning, mixtures, relief, illumination, noise, determinism."""
from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.accuracy_sections import scene as section
from gmi_engine.kernel.bands import BAND_COLUMNS
from gmi_engine.synth.porphyry import PorphyryScene, scene_grid, write_scene_truth


def _grid(pixel_m=200.0):
    s = PorphyryScene()
    x, y = scene_grid(s, 16000.0, pixel_m)
    return s, x, y


def test_same_seed_same_truth_other_seed_other_truth():
    s, x, y = _grid()
    a = s.abundances_at_xy(x, y)
    assert np.array_equal(a, PorphyryScene().abundances_at_xy(x, y))
    assert not np.array_equal(a, PorphyryScene(seed=17).abundances_at_xy(x, y))


def test_abundances_are_a_partition_and_every_zone_mineral_is_present():
    s, x, y = _grid()
    ab = s.abundances_at_xy(x, y)
    assert np.allclose(ab.sum(axis=0), 1.0, atol=1e-5) and ab.min() >= 0
    names = s.material_names
    for mineral in ("potassic", "muscovite", "kaolinite", "alunite", "calcite", "chlorite",
                    "limonite", "halite", "gypsum", "vegetation", "water", "alluvium"):
        assert (ab[names.index(mineral)] >= 0.3).sum() > 10, mineral
    # linear mixture: reflectance = abundances @ spectra (computed here by explicit sum)
    refl = s.reflectance_at_xy(x[::7, ::7], y[::7, ::7])
    sub = ab[:, ::7, ::7]
    explicit = sum(sub[i][None] * np.array(s.spectra[i])[:, None, None] for i in range(len(names)))
    assert np.allclose(refl, explicit, atol=1e-6)


def test_zones_are_nested_outward_from_the_core():
    s, x, y = _grid(100.0)
    ab = s.abundances_at_xy(x, y)
    names = s.material_names
    cx, cy = s.centre_xy
    r = np.hypot(x - cx, y - cy)
    median_r = {m: float(np.median(r[ab[names.index(m)] >= 0.3])) for m in
                ("potassic", "muscovite", "kaolinite", "calcite")}
    assert median_r["potassic"] < median_r["muscovite"] < median_r["kaolinite"] < median_r["calcite"]


def test_relief_and_illumination():
    s, x, y = _grid(60.0)
    z = s.elevation_at_xy(x, y)
    assert z.max() - z.min() >= 1500.0
    sun_az, sun_el = 137.0, 58.0
    cos_i = s.cos_incidence_at_xy(x, y, sun_az, sun_el)
    # independent: normal from np.gradient of the DEM on the grid (ground metres)
    ground = 60.0 * math.cos(math.radians(s.centre_lonlat[1]))
    dzdy_rows, dzdx = np.gradient(z, ground)
    dzdy = -dzdy_rows  # rows run south
    zen, az = math.radians(90 - sun_el), math.radians(sun_az)
    sun = np.array([math.sin(zen) * math.sin(az), math.sin(zen) * math.cos(az), math.cos(zen)])
    n = np.stack([-dzdx, -dzdy, np.ones_like(z)])
    expected = np.tensordot(sun, n / np.linalg.norm(n, axis=0), axes=1)
    inner = (slice(2, -2), slice(2, -2))
    assert np.percentile(np.abs(cos_i[inner] - expected[inner]), 90) < 0.05
    assert cos_i.std() > 0.05  # the relief is visible in the illumination


def test_sensor_noise_is_asters_specified_ne_delta_rho():
    s, x, y = _grid(400.0)
    a = s.observe(x, y, 137.0, 58.0, np.random.default_rng(1))["reflectance"]
    b = s.observe(x, y, 137.0, 58.0, np.random.default_rng(2))["reflectance"]
    sigma = (a - b).reshape(9, -1).std(axis=1) / math.sqrt(2)
    # Yamaguchi et al. 1998: NE delta rho 0.5 % (bands 1-4), 1.3 % (bands 5-9)
    assert np.allclose(sigma, [0.005] * 4 + [0.013] * 5, rtol=0.1)


def test_truth_is_saved_beside(tmp_path):
    s, x, y = _grid(800.0)
    obs = s.observe(x, y, 137.0, 58.0, np.random.default_rng(0))
    path = write_scene_truth(tmp_path / "scene.truth.npz", s, obs, x, y)
    with np.load(path) as f:
        assert set(f.files) >= {"abundances", "elevation", "cos_i", "temperature", "x", "y"}
        assert np.array_equal(f["abundances"], obs["abundances"])
    assert PorphyryScene.from_json(path.with_suffix(".json").read_text()) == s


def test_roc_auc_matches_pairwise_count():
    rng = np.random.default_rng(3)
    score = np.round(rng.normal(size=400), 1)  # with ties
    positive = rng.random(400) < 0.3
    score[positive] += 0.8
    pos, neg = score[positive], score[~positive]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert math.isclose(section.roc_auc(score, positive), pairs / (pos.size * neg.size), rel_tol=1e-12)


def test_scene_section_quick_reports_every_headline_index(tmp_path):
    result = section.measure_scene(tmp_path, quick=True)
    assert set(result["headline_auc"]) == set(section.HEADLINE)
    # the chain part has the same rows plus its run description (measured by make accuracy)
    chain = dict(result, tile=[260, 526], granules=[{"id": "g", "side_km": 34.0, "centre": [-108.1, 32.77]}],
                 valid_pixels=1, balance_method_default="block", balance_method_used="x", seconds=1.0)
    text = section.render({"chain": chain, "scene_reflectance": result})
    assert "Kaolinite index KLI" in text and "AUC reference" in text
    assert text.index("default chain") < text.index("scene's own reflectance")


def test_lattice_nodes_are_the_exact_fields_and_values_do_not_depend_on_the_patch():
    s, x, y = _grid(400.0)
    p = s.patch(float(x.min()), float(y.min()), float(x.max()), float(y.max()))
    xs = p.x0 + np.arange(p.shape[1]) * p.step
    ys = p.y0 + np.arange(p.shape[0]) * p.step
    xx, yy = np.meshgrid(xs[::37], ys[::41])
    exact = s.abundances_exact(xx, yy)  # direct sum of sines, no lattice
    assert np.allclose(p.abundances[:, ::41, ::37], exact, atol=1e-6)
    assert np.allclose(p.elevation[::41, ::37], s.elevation_exact(xx, yy), atol=1e-6)
    # a point gets the same value from a small patch around it as from the big one
    px, py = x[10:13, 20:23], y[10:13, 20:23]
    small = s.patch(float(px.min()), float(py.min()), float(px.max()), float(py.max()))
    assert np.allclose(small.abundances_at(px, py), p.abundances_at(px, py), atol=1e-6)
    # bilinear between nodes: midway between two nodes is their mean
    mid = p.abundances_at(np.array([xs[5] + p.step / 2]), np.array([ys[7]]))[:, 0]
    assert np.allclose(mid, 0.5 * (p.abundances[:, 7, 5] + p.abundances[:, 7, 6]), atol=1e-6)


def _balanced_meta(balancing=None) -> dict:
    """The result meta of a kernel ``color_balancing`` run on a small tile with a MOD09A1 reference."""
    from gmi_engine.kernel.pipeline import run
    from gmi_engine.kernel.records import MODIS_BANDS

    rows = []
    for seed, acquired in ((1, "2006-05-01T18:00:00Z"), (2, "2006-06-02T18:00:00Z")):
        rng = np.random.default_rng(seed)
        bands = {c: np.clip(90 + rng.normal(0, 6, (32, 32)), 2, 250).astype(np.uint8) for c in BAND_COLUMNS}
        rows.append({"granule_id": "g{}".format(seed), "tile_x": 5, "tile_y": 7, "acquired": acquired,
                     "bbox": (0, 31, 0, 31), "bands": bands,
                     "meta": {"gains": {c: "NOR" for c in BAND_COLUMNS}, "sun_elevation": 50.0},
                     "ac": {"bands": {c: {"xa": 0.003, "xb": 0.1, "xc": 0.05} for c in BAND_COLUMNS}},
                     "quality": {"swir_usable": True, "cloud_cover": 5.0},
                     "modis": {m: np.full((8, 8), 1500 + 100 * k, dtype=np.int16)
                               for k, m in enumerate(MODIS_BANDS)}})
    # a 32 px tile is one 960 m statistics cell only at the equator
    params = {"tile_px": 32, "balancing": dict(balancing or {}, balance_latitude=0.0)}
    return run("color_balancing", rows, params)[0]["meta"]


@pytest.mark.parametrize("balancing, expected", [(None, "shape"), ({"balance_method": "block"}, "block"),
                                                 ({"balance_method": "tasseled_cap"}, "tasseled_cap")])
def test_scene_section_reports_the_balance_method_the_kernel_used(balancing, expected):
    """Issue 16: the chain table printed the method as None (it read a key the meta does not have)."""
    meta = _balanced_meta(balancing)
    assert not meta["steps"]["balancing"]["skipped"], meta["steps"]["balancing"]["reason"]
    assert section.balance_method_used(meta) == expected
