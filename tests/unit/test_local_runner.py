"""The local backend: process pool, resumability, determinism (issue: local execution)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gmi_engine.backends.local import LocalStore
from gmi_engine.backends.local_runner import run_local
from gmi_engine.grid import TileIndex
from gmi_engine.kernel.pipeline import MASK_OUTPUT

METHOD = "mineral_indices"


def _result_bytes(ws, method=METHOD) -> dict:
    with LocalStore(ws, create=False) as store:
        return {r.key: (r.to_dict()["data"], r.to_dict()["meta"]) for r in store.iter_results(method)}


@pytest.fixture(scope="module")
def reference_run(demo_workspace, tmp_path_factory):
    """An uninterrupted single-process run on a copy of the demo workspace."""
    ws = tmp_path_factory.mktemp("ref") / "ws"
    shutil.copytree(demo_workspace[0], ws)
    report = run_local(ws, METHOD, workers=1)
    assert len(report.computed) == 2 and not report.skipped
    return ws


def test_workers_1_and_2_give_byte_identical_results(reference_run, demo_workspace, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace[0], ws)
    run_local(ws, METHOD, workers=2)
    one, two = _result_bytes(reference_run), _result_bytes(ws)
    assert len(one) == 2 * 24  # 23 indices + the valid mask, two tiles
    assert one == two


def test_rerun_skips_up_to_date_tiles_and_force_recomputes(reference_run, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(reference_run, ws)
    report = run_local(ws, METHOD, workers=1)
    assert report.computed == [] and len(report.skipped) == 2
    report = run_local(ws, METHOD, workers=1, tiles=[TileIndex(260, 526)], force=True)
    assert report.computed == [TileIndex(260, 526)]
    assert _result_bytes(ws) == _result_bytes(reference_run)


def test_changed_parameters_recompute(reference_run, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(reference_run, ws)
    report = run_local(ws, METHOD, {"indices": ["ferric_iron"]}, workers=1)
    assert len(report.computed) == 2
    with LocalStore(ws, create=False) as store:
        outputs = set(store.results(TileIndex(260, 526), METHOD))
    assert outputs == {"ferric_iron", MASK_OUTPUT}


def test_killed_run_resumes_to_the_same_bytes(reference_run, demo_workspace, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace[0], ws)
    cmd = [sys.executable, "-m", "gmi_engine.cli", "run", "--workspace", str(ws),
           "--method", METHOD, "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    committed = 0
    while time.monotonic() < deadline and proc.poll() is None:
        with LocalStore(ws, create=False) as store:
            committed = len(store.result_tiles(METHOD))
        if committed >= 1:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert committed == 1, "the run should be killed after its first committed tile"
    report = run_local(ws, METHOD, workers=1)
    assert len(report.skipped) == 1 and len(report.computed) == 1
    assert _result_bytes(ws) == _result_bytes(reference_run)


def test_results_have_nan_nodata_and_provenance(reference_run, demo_workspace, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace[0], ws)
    run_local(ws, "mosaic", workers=1, tiles=[TileIndex(260, 526)])
    with LocalStore(ws, create=False) as store:
        res = store.results(TileIndex(260, 526), "mosaic")
    valid = res[MASK_OUTPUT].data.astype(bool)
    b01 = res["b01"].data
    assert b01.dtype == np.float32 and np.isnan(b01[~valid]).all() and np.isfinite(b01[valid]).any()
    prov = res["provenance_vnir"].data
    assert set(np.unique(prov)) <= {-1, 0, 1} and {0, 1} <= set(np.unique(prov))
