"""MOD09A1 reference: QA (clear land only) and the choice among several composite dates."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from pyproj import Transformer

from gmi_engine.ancillary.modis_reference import (
    clear_land,
    nearest_composites,
    reference_provenance,
    sample_mod09a1,
)
from gmi_engine.kernel.balance import balance
from gmi_engine.synth.modis import aster_to_modis, write_mod09a1
from gmi_engine.synth.scene import MATERIALS, SurfaceScene

HALF = 20037508.342789244
STEP = 30720.0
CHINO = (-HALF + 260 * STEP, HALF - 527 * STEP, -HALF + 261 * STEP, HALF - 526 * STEP)
DATE = dt.date(2006, 9, 6)
CALCITE = SurfaceScene(weights={"calcite": 1.0}, texture_amplitude=0.0)
KAOLINITE = SurfaceScene(weights={"kaolinite": 1.0}, texture_amplitude=0.0)


def _lonlat_box(frac_x=(0.0, 0.4), frac_y=(0.0, 1.0)):
    """A lon/lat box over a fraction of the CHINO tile (west part by default)."""
    to_ll = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    x0, y0, x1, y1 = CHINO
    xa, xb = x0 + frac_x[0] * (x1 - x0), x0 + frac_x[1] * (x1 - x0)
    ya, yb = y0 + frac_y[0] * (y1 - y0), y0 + frac_y[1] * (y1 - y0)
    w, s = to_ll.transform(xa, ya)
    e, n = to_ll.transform(xb, yb)
    return (w, s, e, n)


def _expected(material):
    return np.rint(aster_to_modis(np.array(MATERIALS[material])) * 1e4).astype(np.int16)


def test_clear_land_bits():
    land = (1 << 3) | (1 << 6)
    state = np.array([land, land | 1, land | 2, land | (1 << 2), (3 << 3) | (1 << 6), land | (1 << 10),
                      land | (1 << 12), land | (1 << 15), 65535], dtype=np.uint16)
    qc = np.full(state.shape, (1 << 30) | (1 << 31), dtype=np.uint32)
    assert clear_land(state, qc, 0).tolist() == [True] + [False] * 8
    qc_bad = np.array([1, 2, 3 << 2, 3 << 26], dtype=np.uint32)  # MODLAND 01 / 10, b1 / b7 quality
    st = np.full(4, land, dtype=np.uint16)
    assert clear_land(st, qc_bad, 0).tolist() == [True, False, False, True]
    assert clear_land(st, qc_bad, 6).tolist() == [True, False, True, False]


@pytest.fixture(scope="module")
def cloudy(tmp_path_factory):
    return write_mod09a1(tmp_path_factory.mktemp("cloud"), 8, 5, DATE, CALCITE, size=240,
                         flagged=[("cloud", _lonlat_box((0.0, 0.2), (0.4, 0.6)))])


def test_cloud_patch_flagged_in_state_is_fill(cloudy):
    raw = sample_mod09a1(cloudy, CHINO, qa=False)
    bright = (raw[0] == 6000)
    print("cloud cells without QA:", bright.mean())
    assert 0.05 < bright.mean() < 0.8  # the patch is in the file (a reader ignoring QA sees it)
    ref = sample_mod09a1(cloudy, CHINO)
    fill = ref[0] == -28672
    assert not (ref == 6000).any()
    assert fill.mean() >= bright.mean() - 1e-9 and fill.mean() < 0.9
    exp = _expected("calcite")
    for b in range(7):
        assert (ref[b][~fill] == exp[b]).all()


def test_balancing_ignores_the_cloud_patch(cloudy):
    truth = np.broadcast_to(np.array(MATERIALS["calcite"], dtype=np.float32)[:, None, None],
                            (9, 1024, 1024)).copy()
    biased = truth * np.float32(0.9)
    errors = {}
    for qa, label in ((False, "without QA"), (True, "with QA")):
        ref = sample_mod09a1(cloudy, CHINO, qa=qa)
        out, meta = balance(biased, ref)
        errors[qa] = np.nanmax(np.abs(out / truth - 1.0), axis=(1, 2))
        print(label, "max |balanced/truth - 1| per band:", np.round(errors[qa], 4))
        assert not meta["skipped"]
    # the default (shape) method trims most of the unflagged cloud as outliers (measured
    # 0.8-1.5 % left); with QA the cloud never enters the fit (int16 quantisation only)
    assert errors[True].max() < 0.001
    assert errors[False].max() > 0.005


def test_nearest_composite_is_used_and_named(tmp_path):
    sept = write_mod09a1(tmp_path, 8, 5, dt.date(2006, 9, 6), CALCITE, size=120)  # DOY 249..256
    octo = write_mod09a1(tmp_path, 8, 5, dt.date(2006, 10, 8), KAOLINITE, size=120)  # DOY 281..288
    other_tile = tmp_path / "MOD09A1.A2006281.h09v05.061.2022278214439.hdf"
    both = [str(sept), str(octo)]
    assert nearest_composites(both + [str(other_tile)], dt.date(2006, 9, 10)) == [str(sept), str(other_tile)]
    assert nearest_composites(both, dt.date(2006, 10, 20)) == [str(octo)]
    assert nearest_composites(both, None) == both
    ref = sample_mod09a1(both, CHINO, size=32, day=dt.date(2006, 9, 10))
    assert (ref == _expected("calcite")[:, None, None]).all()
    ref = sample_mod09a1(both, CHINO, size=32, day=dt.date(2006, 10, 1))
    assert (ref == _expected("kaolinite")[:, None, None]).all()
    prov = reference_provenance(both, dt.date(2006, 9, 10))
    assert [f["file"] for f in prov["files"]] == [sept.name]
    assert prov["files"][0]["composite_start"] == "2006-09-06"
    assert prov["files"][0]["composite_end"] == "2006-09-13"
    assert prov["files"][0]["days_from_acquisition"] == pytest.approx(0.5)
    assert prov["candidates"] == 2
