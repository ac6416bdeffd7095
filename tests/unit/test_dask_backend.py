"""The Dask backend on a real distributed.LocalCluster of 2 worker processes (issue 19)."""
from __future__ import annotations

import threading
import time

import distributed
import pytest
from run_support import METHOD, result_bytes

from gmi_engine.backends.dask import dask_client, run_dask
from gmi_engine.backends.local import LocalStore
from gmi_engine.errors import GmiInputError
from gmi_engine.kernel.pipeline import MASK_OUTPUT

OUTPUTS_PER_TILE = 24  # 23 indices + the valid mask


@pytest.fixture(scope="module")
def local_reference(reference_run):
    """The local backend's results (one process) on a copy of the demo workspace."""
    return result_bytes(reference_run)


@pytest.fixture(scope="module")
def client():
    """A Client of a LocalCluster with 2 worker processes, one thread each."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster, set_as_default=False) as c:
            yield c


def test_results_are_byte_identical_to_the_local_backend(client, workspace, local_reference):
    report = run_dask(workspace, METHOD, client=client)
    assert len(report.computed) == 2 and not report.skipped and not report.cancelled
    assert len(local_reference) == 2 * OUTPUTS_PER_TILE
    assert result_bytes(workspace) == local_reference
    rerun = run_dask(workspace, METHOD, client=client)
    assert rerun.computed == [] and len(rerun.skipped) == 2


@pytest.mark.slow
def test_worker_restarted_by_its_nanny_mid_task_the_job_finishes_once(client, workspace, local_reference):
    pids_before = client.run(lambda: __import__("os").getpid())
    killed = {}

    def restart_a_busy_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = {w: keys for w, keys in client.processing().items() if keys}
            if busy:
                worker, keys = sorted(busy.items())[0]
                killed.update(worker=worker, keys=list(keys))
                client.restart_workers([worker])  # the Nanny kills the process and starts a new one
                return
            time.sleep(0.01)

    killer = threading.Thread(target=restart_a_busy_worker)
    killer.start()
    report = run_dask(workspace, METHOD, client=client)
    killer.join()
    assert killed and killed["keys"], "no worker was busy"
    assert killed["worker"] in pids_before
    pids_after = client.run(lambda: __import__("os").getpid())
    assert set(pids_after.values()) != set(pids_before.values())  # a worker process really died
    assert sorted(report.computed) == sorted(set(report.computed)) and len(report.computed) == 2
    assert not report.cancelled
    with LocalStore(workspace, create=False) as store:
        assert len(list(store.iter_results(METHOD))) == 2 * OUTPUTS_PER_TILE  # nothing twice, nothing missing
    assert result_bytes(workspace) == local_reference


@pytest.mark.slow
def test_cancel_keeps_whole_tiles_and_the_next_run_resumes(client, workspace, local_reference):
    committed = []

    def progress(fraction: float, message: str) -> None:
        if message.startswith("computed"):
            committed.append(message)

    report = run_dask(workspace, METHOD, client=client, progress=progress,
                      cancelled=lambda: len(committed) >= 1)
    assert report.cancelled and len(report.computed) == 1
    with LocalStore(workspace, create=False) as store:
        tiles = store.result_tiles(METHOD)
        assert tiles == report.computed
        outputs = store.results(tiles[0], METHOD)
        assert len(outputs) == OUTPUTS_PER_TILE and MASK_OUTPUT in outputs  # the tile is whole
        assert len(list(store.iter_results(METHOD))) == OUTPUTS_PER_TILE
    resumed = run_dask(workspace, METHOD, client=client)
    assert resumed.skipped == report.computed and len(resumed.computed) == 1
    assert resumed.computed[0] not in report.computed
    assert result_bytes(workspace) == local_reference


def test_scheduler_and_local_cluster_are_exclusive():
    with pytest.raises(GmiInputError, match="not both"):
        with dask_client(scheduler="tcp://127.0.0.1:1", local_cluster=2):
            pass


@pytest.mark.slow
def test_gmi_run_backend_dask_local_cluster(workspace, local_reference, capsys):
    from gmi_engine.cli.main import main

    assert main(["run", "-w", str(workspace), "-m", METHOD, "--backend", "dask", "--local-cluster", "2"]) == 0
    assert "2 tiles computed, 0 up to date" in capsys.readouterr().out
    assert result_bytes(workspace) == local_reference
    assert main(["run", "-w", str(workspace), "-m", METHOD, "--local-cluster", "2"]) == 1
    assert "--backend dask" in capsys.readouterr().err
