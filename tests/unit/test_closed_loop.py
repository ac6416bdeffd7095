"""Closed loop on the small demo set: DN -> radiance -> surface reflectance vs the truth.

The synthetic granules were forward-modelled through direct 6S from a known surface; ingest
derives the 6S state again from the synthetic MCD19A2/GDEM and stores xa/xb/xc, either from
direct 6S runs (the session's ``demo_workspace``) or from the shipped LUT. Retrieved reflectance
is compared with the truth at each tile pixel centre, away from patch edges (nearest-neighbour
warping moves a pixel by up to ~21 m) and without fill/saturated pixels; what remains is DN
quantisation plus, for the LUT, its interpolation error.
"""
from __future__ import annotations

import numpy as np
import pytest

from gmi_engine.atmosphere.lut import default_lut_path
from gmi_engine.backends.local import LocalStore
from gmi_engine.backends.local_runner import kernel_row
from gmi_engine.grid import DEFAULT_GRID, TileIndex
from gmi_engine.kernel.bands import BANDS
from gmi_engine.kernel.pipeline import row_reflectance
from gmi_engine.synth.aster import load_truth
from gmi_engine.synth.demo import ingest_demo_set

RMSE_MAX = 0.005
BIAS_MAX = 0.002
EDGE_MARGIN_M = 90.0


@pytest.fixture(scope="module")
def lut_workspace(demo_small, tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws-lut")
    ingest_demo_set(demo_small, ws, lut=default_lut_path())  # as demo_workspace, with the LUT
    return ws


def _residuals(workspace, demo_small) -> tuple:
    """Per band: retrieved minus true reflectance over valid pixels; and the rows' ac sources."""
    scenes = {}
    for path in demo_small.granules:
        truth = load_truth(path)
        scenes[truth["granule_id"]] = truth["scene"]
    diffs = [[] for _ in BANDS]
    sources = set()
    with LocalStore(workspace, create=False) as store:
        rows = list(store.iter_source_rows())
    assert len(rows) >= 2
    for row in rows:
        sources.add(row.ac["source"])
        refl, kind = row_reflectance(kernel_row(row), DEFAULT_GRID.tile_px)
        assert kind == "surface"
        r0, r1, c0, c1 = row.min_row, row.max_row, row.min_col, row.max_col
        x0, dx, _, y0, _, dy = DEFAULT_GRID.geotransform(TileIndex(row.tile_x, row.tile_y))
        cols, rws = np.meshgrid(np.arange(c0, c1 + 1), np.arange(r0, r1 + 1))
        x = x0 + (cols + 0.5) * dx
        y = y0 + (rws + 0.5) * dy
        scene = scenes[row.granule_id]
        truth = scene.reflectance_at_xy(x, y)
        inner = scene.edge_distance_at_xy(x, y) > EDGE_MARGIN_M
        for k in range(len(BANDS)):
            got = refl[k, r0:r1 + 1, c0:c1 + 1]
            ok = inner & np.isfinite(got)
            diffs[k].append((got[ok] - truth[k][ok]).astype(np.float64))
    return [np.concatenate(d) for d in diffs], sources


def _table(label: str, diffs) -> str:
    lines = ["closed loop ({}): band  n_pixels  RMSE     bias".format(label)]
    for name, d in zip(BANDS, diffs):
        lines.append("  B{:<4}{:>10d}  {:.5f}  {:+.5f}".format(
            name, d.size, np.sqrt(np.mean(d ** 2)), d.mean()))
    return "\n".join(lines)


def _assert_closed(diffs, label: str) -> None:
    print("\n" + _table(label, diffs))
    for name, d in zip(BANDS, diffs):
        assert d.size > 5000, "band {}: only {} valid pixels".format(name, d.size)
        rmse, bias = float(np.sqrt(np.mean(d ** 2))), float(d.mean())
        assert rmse <= RMSE_MAX and abs(bias) <= BIAS_MAX, \
            "band {} ({}): RMSE {:.5f}, bias {:+.5f}".format(name, label, rmse, bias)


def test_closed_loop_direct_6s(demo_workspace, demo_small):
    diffs, sources = _residuals(demo_workspace[0], demo_small)
    assert sources == {"6s-direct"}
    _assert_closed(diffs, "direct 6S")


def test_closed_loop_lut(lut_workspace, demo_small):
    diffs, sources = _residuals(lut_workspace, demo_small)
    assert sources == {"lut:gmi-6s-continental.npz"}
    _assert_closed(diffs, "LUT")


def test_lut_and_direct_rows_share_the_state(lut_workspace, demo_workspace):
    with LocalStore(demo_workspace[0], create=False) as direct_store, \
            LocalStore(lut_workspace, create=False) as lut_store:
        direct = {(r.granule_id, r.tile_x, r.tile_y): r.ac for r in direct_store.iter_source_rows()}
        lut = {(r.granule_id, r.tile_x, r.tile_y): r.ac for r in lut_store.iter_source_rows()}
    assert direct.keys() == lut.keys()
    for key in direct:
        assert direct[key]["state"] == lut[key]["state"]
        # LUT rows also carry the per-node AOD/WV field records (direct 6S keeps one state per tile)
        def tile_inputs(inputs):
            return {k: {f: v for f, v in r.items() if f != "field"} if isinstance(r, dict) else r
                    for k, r in inputs.items()}
        assert tile_inputs(direct[key]["inputs"]) == tile_inputs(lut[key]["inputs"])
        assert "lut_fallback" not in lut[key]
