"""A local run with two worker processes started from a QgsTask inside QGIS (the plugin's path):
the workers come from multiprocessing's forkserver, so this checks that they start from a Qt
process's worker thread and compute the same results as one process does."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from plugin_support import wait_until

from gmi_engine.grid import TileIndex
from gmi_engine.synth.demo import ingest_demo_set, write_demo_set
from gmi_qgis_plugin.toolbelt.jobs import JobSpec, execute_job
from gmi_qgis_plugin.toolbelt.tasks import EngineTask, start_task

TILES = [TileIndex(260, 526), TileIndex(260, 525)]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    demo = write_demo_set(tmp_path_factory.mktemp("demo") / "data", small=True)
    path = tmp_path_factory.mktemp("workers") / "workspace"
    ingest_demo_set(demo, path)
    return path


def _run_in_task(workspace: Path, workers: int, out: Path):
    spec = JobSpec(method="mineral_indices", workspace=str(workspace), tiles=TILES,
                   params={}, workers=workers)
    task = start_task(EngineTask("gmi test run", lambda ctx: execute_job(spec, ctx, out)))
    wait_until(lambda: task.result is not None or task.error is not None, 240, "the run task")
    assert task.error is None, task.traceback_text
    return task.result


def _pixels(path: str) -> np.ndarray:
    ds = gdal.Open(path)
    data = ds.GetRasterBand(1).ReadAsArray()
    ds = None
    return data


def test_two_worker_processes_in_a_qgis_task_match_one_process(qgis_app, workspace, tmp_path):
    copies = {n: tmp_path / "ws{}".format(n) for n in (1, 2)}
    for n, copy in copies.items():
        shutil.copytree(str(workspace), str(copy))
    two = _run_in_task(copies[2], 2, tmp_path / "two")
    one = _run_in_task(copies[1], 1, tmp_path / "one")
    assert two.computed == 2 and one.computed == 2
    assert sorted(two.tiles) == sorted(one.tiles) and len(two.vrts) == len(one.vrts) > 20
    files_two = sorted(Path(tmp_path / "two").rglob("*.tif"))
    files_one = sorted(Path(tmp_path / "one").rglob("*.tif"))
    assert [p.relative_to(tmp_path / "two") for p in files_two] == \
        [p.relative_to(tmp_path / "one") for p in files_one]
    assert len(files_two) >= 2 * 23
    for a, b in zip(files_two, files_one):
        np.testing.assert_array_equal(_pixels(str(a)), _pixels(str(b)))
