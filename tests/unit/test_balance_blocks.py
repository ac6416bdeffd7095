"""The shape method works on blocks of rows and may correct its input in place: neither may change
a bit of the result. The unblocked computation (one block the size of the tile) is the reference."""
from __future__ import annotations

import json

import numpy as np
import pytest

from gmi_engine.kernel import balance as balance_module
from gmi_engine.kernel.balance import _sources, balance
from tests.unit.test_balance_shape import NOISE, make_scene, reference, regional_error

LAT = 32.8


@pytest.fixture(scope="module")
def scene():
    """A regionally distorted scene, its reference and a two-source provenance with a gap."""
    truth, _, _, gx, gy, ground_px = make_scene(LAT)
    rng = np.random.default_rng(3)
    aster = truth * regional_error(gx, gy) + rng.normal(0, NOISE, truth.shape).astype(np.float32)
    aster[1:, 600:] *= np.float32(1.07)  # the second source is brighter
    aster[:, :40, :] = np.nan  # a strip without data
    prov = np.zeros((2, 1024, 1024), dtype=np.int16)
    prov[:, :, 600:] = 1
    prov[:, :40, :] = -1
    return aster.astype(np.float32), reference(truth, ground_px), prov


def _balanced(scene, monkeypatch, rows: int, **kwargs):
    aster, ref, prov = scene
    monkeypatch.setattr(balance_module, "BLOCK_ROWS", rows)
    out, meta = balance(aster.copy(), ref, {"balance_latitude": LAT}, prov, **kwargs)
    return out, json.dumps(meta, sort_keys=True)


@pytest.mark.parametrize("rows", [16, 64, 200])
def test_blocks_give_the_unblocked_result_bit_for_bit(scene, monkeypatch, rows):
    whole, whole_meta = _balanced(scene, monkeypatch, 4096)
    blocked, blocked_meta = _balanced(scene, monkeypatch, rows)
    assert not json.loads(whole_meta)["skipped"]
    assert json.loads(whole_meta)["pairs"][0]["sources"].keys() == {"0", "1"}
    assert blocked.view(np.uint32).tobytes() == whole.view(np.uint32).tobytes()
    assert blocked_meta == whole_meta


def test_overwrite_corrects_the_input_itself_with_the_same_result(scene, monkeypatch):
    copied, copied_meta = _balanced(scene, monkeypatch, 64)
    aster, ref, prov = scene
    mine = aster.copy()
    out, meta = balance(mine, ref, {"balance_latitude": LAT}, prov, overwrite=True)
    assert out is mine
    assert out.view(np.uint32).tobytes() == copied.view(np.uint32).tobytes()
    assert json.dumps(meta, sort_keys=True) == copied_meta
    kept = aster.copy()
    assert balance(kept, ref, {"balance_latitude": LAT}, prov)[0] is not kept  # default: a new array
    assert kept.view(np.uint32).tobytes() == aster.view(np.uint32).tobytes()


def test_overwrite_of_a_tile_that_cannot_be_fitted_changes_nothing(scene):
    aster, ref, prov = scene
    dark = np.full_like(aster, 0.001)  # below balance_min_reflectance everywhere: no cell usable
    out, meta = balance(dark, ref, {"balance_latitude": LAT}, prov, overwrite=True)
    assert meta["skipped"] and out is dark
    assert np.all(dark == np.float32(0.001))


@pytest.mark.parametrize("codes", [[0], [-1, 0], [-2, 0, 1], [-3, -1, 2, 4], [0, 7], [-1, 9], [3, 200],
                                   [-1, 70000]])
def test_sources_lists_the_codes_present(codes):
    rng = np.random.default_rng(len(codes))
    plane = rng.choice(np.array(codes, dtype=np.int32), size=(64, 64))
    plane.flat[: len(codes)] = codes  # every code present at least once
    want = [int(v) for v in np.unique(plane) if v >= 0 or v == -2]
    assert _sources(plane) == want
