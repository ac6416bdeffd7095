"""Run a kernel method on a Dask.distributed cluster: a LocalCluster, HPC (dask-jobqueue), Kubernetes.

The contract is the local backend's (:func:`~gmi_engine.backends.local_runner.run_tiles`): the
same plan (up-to-date tiles skipped, largest first), one task per tile group running
:func:`~gmi_engine.backends.local_runner.compute_tile_rows` (source rows sorted by acquisition ->
``kernel.pipeline.run`` -> encoded result cells), and the client writing each tile's results into
the workspace store in one transaction, in the order the futures complete
(``distributed.as_completed``). Results are therefore byte-identical to the local backend's.

The client reads each tile's source rows from ``gmi.gpkg`` and sends them with the task; workers
never open the store. SQLite's WAL mode (which the store uses) cannot be shared between hosts over
a network filesystem, so this keeps the store on the client's disk and the workers stateless. At
most ``window`` tiles are in flight, so the client holds a bounded number of tile groups in memory.
With ``export`` the workers write GeoTIFFs into the export folder, which must then be on a
filesystem the workers and the client share.

A worker that dies mid-task (killed, out of memory, restarted by its Nanny) loses only that task:
the scheduler runs it again elsewhere (up to ``distributed.scheduler.allowed-failures`` times) and
its result is committed once. A cancel releases every future not yet committed and returns; the
store keeps the committed tiles, and the next run computes the rest.
"""
from __future__ import annotations

import os
import uuid
import warnings
from contextlib import contextmanager
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional

import distributed

from gmi_engine.backends.local import LocalStore
from gmi_engine.backends.local_runner import (
    Commit,
    ExportJob,
    RunReport,
    TileJob,
    compute_tile_rows,
    run_tiles,
)
from gmi_engine.errors import BackendError, GmiInputError
from gmi_engine.progress import Cancelled, Progress


@contextmanager
def dask_client(scheduler: Optional[str] = None, local_cluster: Optional[int] = None) -> Iterator[distributed.Client]:
    """A Client of the scheduler at ``scheduler``, or of a new LocalCluster of ``local_cluster`` workers.

    LocalCluster workers are processes with one thread each (the kernel is numpy, one tile per
    worker, as the local pool). Whatever is created here is closed on exit; a remote scheduler and
    its workers are left running.
    """
    if scheduler and local_cluster:
        raise GmiInputError("dask: give a scheduler address or a local cluster size, not both")
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout="30s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise BackendError("dask: cannot reach the scheduler at {} ({})".format(scheduler, exc)) from None
        with client:
            yield client
        return
    n_workers = local_cluster or os.cpu_count() or 1
    if n_workers < 1:
        raise GmiInputError("dask: local_cluster must be at least 1 worker, not {}".format(n_workers))
    with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster, set_as_default=False) as client:
            yield client


class DaskExecutor:
    """A :class:`~gmi_engine.backends.local_runner.TileExecutor` submitting tile groups to ``client``."""

    def __init__(self, client: distributed.Client, window: Optional[int] = None) -> None:
        self.client = client
        self.window = window

    def _window(self) -> int:
        if self.window:
            return max(1, int(self.window))
        threads = sum(self.client.nthreads().values())
        return max(4, 2 * threads)  # every worker busy, and the next tile already on its way

    def __call__(self, workspace: str, jobs: List[TileJob], method: str, params: Dict[str, Any],
                 commit: Commit, cancelled: Cancelled, report: RunReport,
                 export: Optional[ExportJob] = None) -> None:
        """Submit at most ``window`` tile groups at a time; commit each as its future completes."""
        pending = list(jobs)
        in_flight = {}  # type: Dict[distributed.Future, TileJob]
        window = self._window()
        with LocalStore(workspace, create=False) as store:
            def submit() -> None:
                while pending and len(in_flight) < window and not cancelled():
                    tile, digest = pending.pop(0)
                    rows = store.tile_rows(tile)
                    with warnings.catch_warnings():
                        # A tile group is 10-20 MiB by design (the rows travel in the task, so a
                        # restarted worker's task can be rerun from the scheduler): not a mistake.
                        warnings.filterwarnings("ignore", "Sending large graph", UserWarning)
                        future = self.client.submit(
                            compute_tile_rows, rows, store.grid, tile, method, params, digest, export,
                            key="gmi-{}-{}-{}-{}".format(method, tile.ix, tile.iy, (digest or uuid.uuid4().hex)[:16]),
                            pure=False)
                    in_flight[future] = (tile, digest)

            submit()
            completed = distributed.as_completed(list(in_flight), loop=self.client.loop, raise_errors=False)
            try:
                for future in completed:
                    if cancelled():
                        break
                    tile, _ = in_flight.pop(future)
                    commit(tile, _result(future, tile, store))
                    if cancelled():
                        break
                    before = set(in_flight)
                    submit()
                    for new in in_flight:
                        if new not in before:
                            completed.add(new)
            finally:
                stopped = bool(in_flight or pending)
                if in_flight:
                    self.client.cancel(list(in_flight))
                    in_flight.clear()
        if stopped:
            report.cancelled = True


def _result(future: distributed.Future, tile, store: LocalStore):
    try:
        return future.result()
    except distributed.KilledWorker as exc:
        raise BackendError("dask: tile {} was running on workers that died too often ({}); the "
                           "committed tiles stay, rerun to resume".format(store.grid.key(tile), exc)) from None


def run_dask(workspace, method: str, params: Optional[Mapping[str, Any]] = None, *,
             scheduler: Optional[str] = None, local_cluster: Optional[int] = None,
             client: Optional[distributed.Client] = None, window: Optional[int] = None,
             tiles: Optional[Iterable[Any]] = None, progress: Optional[Progress] = None,
             cancelled: Cancelled = lambda: False, force: bool = False,
             export: Optional[ExportJob] = None) -> RunReport:
    """:func:`~gmi_engine.backends.local_runner.run_local` on a Dask cluster.

    Use ``client`` (left open), or connect to ``scheduler`` (``tcp://host:8786``), or start a
    LocalCluster of ``local_cluster`` worker processes (default: the number of cores) for the run.
    ``window`` bounds the tiles in flight (default: twice the worker threads, at least 4).
    """
    def execute(client: distributed.Client) -> RunReport:
        return run_tiles(workspace, method, DaskExecutor(client, window), params, tiles=tiles,
                         progress=progress, cancelled=cancelled, force=force, export=export)

    if client is not None:
        if scheduler or local_cluster:
            raise GmiInputError("dask: give a client, a scheduler address or a local cluster size, not several")
        return execute(client)
    with dask_client(scheduler, local_cluster) as own:
        return execute(own)
