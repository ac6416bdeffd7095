"""The mosaic of the two overlapping demo granules: provenance and the seam between them."""
from __future__ import annotations

import numpy as np
import pytest

from gmi_engine.backends.local import LocalStore
from gmi_engine.backends.local_runner import kernel_row
from gmi_engine.grid import DEFAULT_GRID, TileIndex
from gmi_engine.kernel.bands import BAND_COLUMNS
from gmi_engine.kernel.pipeline import row_reflectance, run
from gmi_engine.synth.aster import load_truth

CHINO = TileIndex(260, 526)


@pytest.fixture(scope="module")
def mosaic_case(demo_small, demo_workspace):
    with LocalStore(demo_workspace[0], create=False) as store:
        rows = [kernel_row(r) for r in store.tile_rows(CHINO)]
    results = {r["output"]: r for r in run("mosaic", rows)}
    scene = load_truth(demo_small.granules[0])["scene"]
    gt = DEFAULT_GRID.geotransform(CHINO)
    cols, lines = np.meshgrid(np.arange(1024), np.arange(1024))
    x, y = gt[0] + (cols + 0.5) * gt[1], gt[3] + (lines + 0.5) * gt[5]
    return rows, results, scene.reflectance_at_xy(x, y), scene.edge_distance_at_xy(x, y)


def test_provenance_names_the_granule_each_pixel_came_from(mosaic_case):
    rows, results, _, _ = mosaic_case
    per_granule = [row_reflectance(r)[0] for r in rows]
    mosaic = np.stack([results[c]["data"] for c in BAND_COLUMNS])
    for plane, bands in ((results["provenance_vnir"]["data"], range(0, 3)),
                         (results["provenance_swir"]["data"], range(3, 9))):
        assert {0, 1} <= set(np.unique(plane)) <= {-1, 0, 1}
        for k, refl in enumerate(per_granule):
            sel = plane == k
            for b in bands:
                np.testing.assert_array_equal(mosaic[b][sel], refl[b][sel])
        assert np.isnan(mosaic[bands[0]][plane == -1]).all()


def test_no_seam_step_beyond_retrieval_noise(mosaic_case):
    """Across the edge where provenance switches granule, the retrieval error does not jump."""
    _, results, truth, edge = mosaic_case
    prov = results["provenance_vnir"]["data"]
    interior = edge > 90.0
    steps = []
    for b, column in enumerate(BAND_COLUMNS):
        err = results[column]["data"] - truth[b]
        plane = prov if b < 3 else results["provenance_swir"]["data"]
        left, right = plane[:, :-1], plane[:, 1:]
        ok = interior[:, :-1] & interior[:, 1:] & np.isfinite(err[:, :-1]) & np.isfinite(err[:, 1:])
        diff = err[:, 1:] - err[:, :-1]
        across = ok & (left >= 0) & (right >= 0) & (left != right)
        within = ok & (left >= 0) & (left == right)
        assert across.sum() > 50, column
        step = float(np.mean(np.where(left[across] == 0, 1, -1) * diff[across]))
        noise = float(np.std(diff[within]))
        steps.append((column, step, noise))
        assert abs(step) <= max(noise, 0.002), (column, step, noise)
    print("\nseam step (granule 1 minus granule 0) per band, and neighbour noise:")
    for column, step, noise in steps:
        print("  {}: step {:+.4f}  noise {:.4f}".format(column, step, noise))
