"""Kernel masks: validity, SWIR-unusable, cloud / water / vegetation thresholds, edge erosion."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gmi_engine.errors import GmiInputError
from gmi_engine.kernel import masks
from gmi_engine.kernel.masks import (
    MASK_DEFAULTS,
    cloud_mask,
    dilate,
    erode_edges,
    granule_masks,
    swir_unusable,
    valid_mask,
    vegetation_mask,
    water_mask,
)
from gmi_engine.synth.scene import MATERIALS

WHITE_CLOUD = (0.78, 0.80, 0.82, 0.62, 0.45, 0.44, 0.43, 0.42, 0.40)
SNOW = (0.92, 0.90, 0.86, 0.12, 0.06, 0.06, 0.05, 0.05, 0.05)


def image(spectra, size: int = 8) -> np.ndarray:
    """(9, size, size * n) float32: one size x size square per spectrum, side by side."""
    cols = [np.broadcast_to(np.asarray(s, dtype=np.float32)[:, None, None], (9, size, size))
            for s in spectra]
    return np.ascontiguousarray(np.concatenate(cols, axis=2))


def brute_erode(valid: np.ndarray, n: int) -> np.ndarray:
    """Reference erosion: min over the (2n+1)^2 window, pixels outside the array count as True."""
    padded = np.pad(valid, n, constant_values=True)
    out = np.ones_like(valid)
    for dy in range(2 * n + 1):
        for dx in range(2 * n + 1):
            out &= padded[dy:dy + valid.shape[0], dx:dx + valid.shape[1]]
    return out


def test_valid_mask_needs_every_band():
    refl = image([MATERIALS["background"]], size=4)
    refl[5, 1, 2] = np.nan
    refl[0, 3, 3] = np.inf
    assert valid_mask(refl).sum() == 16 - 2
    assert not valid_mask(refl)[1, 2] and not valid_mask(refl)[3, 3]
    assert valid_mask(refl, masks.VNIR)[1, 2]  # only SWIR band 6 is missing there
    assert not valid_mask(refl, masks.SWIR)[1, 2]


@pytest.mark.parametrize("inplace", [False, True])
def test_swir_unusable_sets_swir_nan_keeps_vnir(inplace):
    refl = image([MATERIALS["kaolinite"]], size=3)
    before = refl.copy()
    out = swir_unusable(refl, swir_usable=False, inplace=inplace)
    assert (out is refl) == inplace
    assert np.isnan(out[3:]).all()
    assert np.array_equal(out[:3], before[:3])
    if not inplace:
        assert np.array_equal(refl, before)  # the input is untouched


def test_swir_usable_returns_a_copy_with_same_values():
    refl = image([MATERIALS["alunite"]], size=3)
    out = swir_unusable(refl, swir_usable=True)
    assert out is not refl and np.array_equal(out, refl)


def test_cloud_test_spares_synthetic_bright_minerals():
    rng = np.random.default_rng(3)
    names = [m for m in MATERIALS]
    # brightest case of the synthetic scene: texture 1 + 0.04, plus retrieval noise
    refl = image([np.array(MATERIALS[m]) * 1.04 for m in names], size=16)
    refl += rng.normal(0.0, 0.01, refl.shape).astype(np.float32)
    assert not cloud_mask(refl).any()
    assert not cloud_mask(refl, swir_usable=False).any()


def test_cloud_test_flags_a_flat_bright_white_target():
    refl = image([MATERIALS["background"], WHITE_CLOUD, MATERIALS["kaolinite"]], size=10)
    cloud = cloud_mask(refl, {"cloud_buffer": 0})
    assert cloud[:, 10:20].all()
    assert not cloud[:, :10].any() and not cloud[:, 20:].any()


def test_cloud_test_uses_vnir_only_when_swir_is_unusable():
    cloud_no_swir = swir_unusable(image([WHITE_CLOUD], size=4), swir_usable=False)
    assert cloud_mask(cloud_no_swir, {"cloud_buffer": 0}).all()
    # with broken SWIR the B4 value is garbage and must not decide
    dark_b4 = image([WHITE_CLOUD[:3] + (0.05,) + WHITE_CLOUD[4:]], size=4)
    assert not cloud_mask(dark_b4, {"cloud_buffer": 0}, swir_usable=True).any()
    assert cloud_mask(dark_b4, {"cloud_buffer": 0}, swir_usable=False).all()


def test_cloud_test_spares_snow_and_coloured_bright_targets():
    red_bright = (0.62, 0.95, 0.97, 0.7, 0.6, 0.6, 0.6, 0.6, 0.6)  # B2/B1 = 1.53: not flat
    refl = image([SNOW, red_bright], size=4)
    assert not cloud_mask(refl).any()


def test_cloud_thresholds_are_parameters():
    refl = image([MATERIALS["kaolinite"]], size=4)
    assert not cloud_mask(refl).any()
    assert cloud_mask(refl, {"cloud_b1_min": 0.40, "cloud_b4_min": 0.30}).all()


def test_cloud_buffer_grows_by_exactly_n_pixels():
    refl = image([MATERIALS["background"]], size=21)
    refl[:, 10, 10] = np.asarray(WHITE_CLOUD, dtype=np.float32)
    for n in (0, 1, 3):
        cloud = cloud_mask(refl, {"cloud_buffer": n})
        assert cloud.sum() == (2 * n + 1) ** 2
        assert cloud[10 - n:11 + n, 10 - n:11 + n].all()


def test_nan_pixels_are_never_cloud():
    refl = image([WHITE_CLOUD], size=4)
    refl[0, 0, 0] = np.nan
    assert not cloud_mask(refl, {"cloud_buffer": 0})[0, 0]


def test_water_and_vegetation_masks():
    names = list(MATERIALS)
    refl = image([MATERIALS[m] for m in names], size=2)
    water = water_mask(refl)[0, ::2]
    veg = vegetation_mask(refl)[0, ::2]
    assert [n for n, w in zip(names, water) if w] == ["water"]
    assert [n for n, v in zip(names, veg) if v] == ["vegetation"]
    # thresholds are parameters: NDVI of the hematite soil is (0.30-0.22)/0.52 = 0.154
    assert vegetation_mask(refl, {"ndvi_min": 0.15})[0, 2 * names.index("hematite_soil")]


def test_water_mask_is_false_on_nan_and_zero_sum():
    refl = image([MATERIALS["water"]], size=2)
    refl[0, 0, 0] = np.nan
    refl[0, 1, 1] = refl[2, 1, 1] = 0.0
    water = water_mask(refl)
    assert not water[0, 0] and not water[1, 1] and water[0, 1]


def test_erosion_of_a_rectangle_is_exact():
    valid = np.zeros((64, 80), dtype=bool)
    valid[10:50, 20:60] = True
    for n in range(4):
        expected = np.zeros_like(valid)
        expected[10 + n:50 - n, 20 + n:60 - n] = True
        assert np.array_equal(erode_edges(valid, n), expected)


def test_erosion_matches_the_definition_on_ragged_shapes():
    rng = np.random.default_rng(11)
    # a ragged granule footprint: a rotated square with a jagged border and holes
    yy, xx = np.mgrid[0:90, 0:90]
    valid = (np.abs((xx - 45) * 0.8 + (yy - 45) * 0.6) + np.abs((yy - 45) * 0.8 - (xx - 45) * 0.6)
             < 40 + rng.integers(-3, 4, size=(90, 90)))
    valid &= rng.random((90, 90)) > 0.01
    for n in (1, 2, 5):
        assert np.array_equal(erode_edges(valid, n), brute_erode(valid, n))


def test_erosion_keeps_data_at_the_tile_border():
    valid = np.ones((16, 16), dtype=bool)
    assert erode_edges(valid, 3).all()
    valid[:, 12:] = False  # the granule ends inside the tile on the right only
    eroded = erode_edges(valid, 2)
    assert eroded[:, :10].all() and not eroded[:, 10:].any()


def test_dilate_is_the_complement_of_erosion():
    mask = np.zeros((9, 9), dtype=bool)
    mask[4, 4] = True
    assert dilate(mask, 2).sum() == 25
    assert dilate(mask, 0).sum() == 1


def test_granule_masks():
    refl = image([MATERIALS["background"], WHITE_CLOUD], size=12)
    refl[:, :, :2] = np.nan  # ragged left border (2 px)
    m = granule_masks(refl, swir_usable=True, params={"erode_pixels": 1, "cloud_buffer": 0})
    assert not m.vnir[:, :3].any() and m.vnir[:, 3:].all()
    assert np.array_equal(m.swir, m.vnir)
    assert m.cloud[:, 12:].all() and not m.cloud[:, :12].any()
    post = granule_masks(refl, swir_usable=False)
    assert not post.swir.any() and post.vnir[:, 5:].all()


def test_defaults_are_documented_values():
    assert MASK_DEFAULTS["cloud_b1_min"] == 0.60
    assert MASK_DEFAULTS["erode_pixels"] == 2


@pytest.mark.parametrize("call", [
    lambda: valid_mask(np.zeros((3, 4, 4), dtype=np.float32)),
    lambda: cloud_mask(np.zeros((9, 4, 4), dtype=np.uint8)),
    lambda: erode_edges(np.ones((4, 4), dtype=bool), -1),
    lambda: erode_edges(np.ones((2, 4, 4), dtype=bool), 1),
    lambda: cloud_mask(image([WHITE_CLOUD]), {"cloud_b1_min": "bright"}),
    lambda: cloud_mask(image([WHITE_CLOUD]), {"cloud_buffer": 1.5}),
])
def test_bad_input_is_rejected(call):
    with pytest.raises(GmiInputError):
        call()


MY_KERNEL_FILES = ["masks.py", "mosaic.py", "balance.py"]


def test_kernel_modules_import_only_numpy_stdlib_and_the_kernel():
    kernel_dir = Path(masks.__file__).parent
    allowed = {"numpy", "math", "typing", "datetime", "__future__"}
    for name in MY_KERNEL_FILES:
        for node in ast.walk(ast.parse((kernel_dir / name).read_text())):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: must stay inside the kernel package
                    assert node.level == 1, (name, node.module)
                    continue
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] in allowed or module.startswith("gmi_engine.kernel"), (
                    name, module)


def test_kernel_modules_are_python_37():
    kernel_dir = Path(masks.__file__).parent
    vermin = Path(sys.executable).parent / "vermin"
    proc = subprocess.run([str(vermin), "-t=3.7-", "--no-tips", "--violations"]
                          + [str(kernel_dir / n) for n in MY_KERNEL_FILES], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
