"""Runs started from the plugin: what each asked for, how far it got, what it produced.

A job is a :class:`JobSpec` executed by :func:`execute_job` inside an
:class:`~gmi_qgis_plugin.toolbelt.tasks.EngineTask` (compute locally or on MaxCompute, then
export the run's tiles to ``<workspace>/export/<stamp>-<method>``). :class:`JobRegistry` keeps
every job of the session, relays progress and, on the main thread, loads a finished job's
rasters as styled layers in one legend group per run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from qgis.core import Qgis, QgsProject
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QObject, pyqtSignal

from gmi_engine.grid import TileIndex
from gmi_qgis_plugin.toolbelt.i18n import ui_locale
from gmi_qgis_plugin.toolbelt.layers import add_results_group, result_layers
from gmi_qgis_plugin.toolbelt.log_handler import PlgLogger
from gmi_qgis_plugin.toolbelt.odps_bridge import run_on_odps
from gmi_qgis_plugin.toolbelt.tasks import EngineTask, TaskCancelled, TaskContext, prepare_worker_processes, start_task

QUEUED, RUNNING, FINISHED, FAILED, CANCELLED = "queued", "running", "finished", "failed", "cancelled"
METHOD_TITLES = {"mosaic": QT_TRANSLATE_NOOP("GmiJobs", "Mosaic"),
                 "color_balancing": QT_TRANSLATE_NOOP("GmiJobs", "Colour-balanced mosaic"),
                 "mineral_indices": QT_TRANSLATE_NOOP("GmiJobs", "Mineral indices")}
COMPUTE_SHARE = 80.0
"""Percent of a job's progress bar given to computing; exporting gets the rest."""


@dataclass(frozen=True)
class JobSpec:
    """Everything a run needs, copied from the dialog before the task starts."""

    method: str
    workspace: str
    backend: str = "local"
    tiles: Optional[Sequence[TileIndex]] = None
    params: Dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    odps_project: str = ""
    odps_endpoint: str = ""
    odps_auth_id: str = ""
    dask_scheduler: str = ""


@dataclass
class JobOutcome:
    """What :func:`execute_job` returns."""

    computed: int
    skipped: int
    export_dir: str
    vrts: List[str]
    stac_items: List[str]
    tiles: List[str]
    failed: List[str] = field(default_factory=list)
    """Tiles the kernel failed on (MaxCompute), one line each; the other tiles were computed."""


@dataclass
class JobRecord:
    """One job of the session, as the Jobs dialog shows it."""

    job_id: int
    spec: JobSpec
    status: str = QUEUED
    progress: float = 0.0
    message: str = ""
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    finished: Optional[datetime] = None
    logview: str = ""
    outcome: Optional[JobOutcome] = None
    error: str = ""
    group_name: str = ""

    @property
    def title(self) -> str:
        """``#3 Mineral indices`` (the legend group name adds the tile count)."""
        title = METHOD_TITLES.get(self.spec.method)
        name = QCoreApplication.translate("GmiJobs", title) if title else self.spec.method
        return "#{} {}".format(self.job_id, name)

    @property
    def tiles_text(self) -> str:
        """The tiles asked for, e.g. ``2 tiles`` or ``all tiles``."""
        if self.spec.tiles is None:
            return QCoreApplication.translate("GmiJobs", "all tiles")
        n = len(self.spec.tiles)
        return QCoreApplication.translate("GmiJobs", "1 tile") if n == 1 else \
            QCoreApplication.translate("GmiJobs", "{} tiles").format(n)

    @property
    def done(self) -> bool:
        """True once finished, failed or cancelled."""
        return self.status in (FINISHED, FAILED, CANCELLED)


def export_folder(workspace: str, method: str, when: datetime) -> Path:
    """``<workspace>/export/<YYYYmmdd-HHMMSS>-<method>``, made unique with a suffix."""
    base = Path(workspace) / "export" / "{}-{}".format(when.strftime("%Y%m%d-%H%M%S"), method)
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name("{}-{}".format(base.name, n))
    return path


def execute_job(spec: JobSpec, ctx: TaskContext, export_dir: Path, credentials: Any = None) -> JobOutcome:
    """Compute then export ``spec`` (worker thread: engine calls only, no QGIS objects).

    Locally the export happens in the same pass (the workers write each tile's GeoTIFFs as they
    compute it); after a MaxCompute run the downloaded results are exported from the workspace.
    """
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.backends.local_runner import ExportJob, run_local
    from gmi_engine.export import export_results

    def on_tile(fraction: float, message: str) -> None:
        ctx.progress(COMPUTE_SHARE * fraction, message)

    tiles = list(spec.tiles) if spec.tiles is not None else None
    failed: List[str] = []
    if spec.backend == "odps":
        report = run_on_odps(spec.workspace, spec.method, spec.params, tiles, credentials,
                             spec.odps_project, spec.odps_endpoint,
                             progress=lambda fraction, text: ctx.progress(COMPUTE_SHARE * fraction, text),
                             cancelled=ctx.is_canceled, on_logview=lambda url: ctx.note("logview", url))
        computed, skipped = report.tiles_computed, 0
        failed = [f.describe() for f in report.failed_tiles]
    elif spec.backend == "dask":  # a LocalCluster of `workers` processes, or a running scheduler
        from gmi_engine.backends.dask import run_dask

        prepare_worker_processes()
        scheduler = spec.dask_scheduler or None
        report = run_dask(spec.workspace, spec.method, spec.params, scheduler=scheduler,
                          local_cluster=None if scheduler else spec.workers, tiles=tiles, progress=on_tile,
                          cancelled=ctx.is_canceled, export=ExportJob(str(export_dir)))
        computed, skipped = len(report.computed), len(report.skipped)
    else:
        if spec.workers > 1:
            prepare_worker_processes()
        report = run_local(spec.workspace, spec.method, spec.params, workers=spec.workers, tiles=tiles,
                           progress=on_tile, cancelled=ctx.is_canceled, export=ExportJob(str(export_dir)))
        computed, skipped = len(report.computed), len(report.skipped)
    del credentials
    if report.cancelled or ctx.is_canceled():
        raise TaskCancelled()
    exported = getattr(report, "export", None)
    if exported is not None:
        return _outcome(computed, skipped, export_dir, exported)
    ctx.progress(COMPUTE_SHARE, "exporting")
    with LocalStore(spec.workspace, create=False) as store:
        wanted = set(tiles) if tiles is not None else set(store.result_tiles(spec.method))
        def rows():  # decoded in the export's writer threads
            for row in store.iter_stored_results(spec.method):
                if TileIndex(row.tile_x, row.tile_y) in wanted:
                    yield row

        def on_file(fraction: float, message: str) -> None:
            ctx.check()
            ctx.progress(COMPUTE_SHARE + (100.0 - COMPUTE_SHARE) * fraction, "exporting " + message)

        report_export = export_results(rows(), export_dir, spec.method, progress=on_file, tiles=len(wanted))
    return _outcome(computed, skipped, export_dir, report_export, failed)


def _outcome(computed: int, skipped: int, export_dir: Path, exported: Any,
             failed: Optional[List[str]] = None) -> JobOutcome:
    """The job's outcome from an :class:`~gmi_engine.export.ExportReport`."""
    return JobOutcome(computed=computed, skipped=skipped, export_dir=str(export_dir),
                      vrts=[str(p) for p in exported.vrts], stac_items=[str(p) for p in exported.stac_items],
                      tiles=list(exported.tiles), failed=list(failed or []))


class JobRegistry(QObject):
    """The session's jobs; emits a signal on every change (main thread)."""

    job_added = pyqtSignal(int)
    job_changed = pyqtSignal(int)
    job_done = pyqtSignal(int)

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.jobs: Dict[int, JobRecord] = {}
        self._tasks: Dict[int, EngineTask] = {}
        self.auto_load = True
        self._next_id = 1

    def submit(self, spec: JobSpec, credentials: Any = None,
               on_done: Optional[Callable[[JobRecord], None]] = None) -> JobRecord:
        """Start ``spec`` in a background task; returns its record at once."""
        job = JobRecord(self._next_id, spec)
        self._next_id += 1
        self.jobs[job.job_id] = job
        out = export_folder(spec.workspace, spec.method, job.created)
        creds = [credentials]

        def work(ctx: TaskContext) -> JobOutcome:
            given, creds[0] = creds[0], None  # the task drops its reference once it starts
            return execute_job(spec, ctx, out, given)

        task = EngineTask("GMI {} ({})".format(job.title, spec.backend), work,
                          lambda result, error: self._finished(job.job_id, result, error, on_done))
        task.progressChanged.connect(lambda value, jid=job.job_id: self._progress(jid, value))
        task.message.connect(lambda text, jid=job.job_id: self._message(jid, text))
        task.note.connect(lambda key, value, jid=job.job_id: self._note(jid, key, value))
        self._tasks[job.job_id] = task
        job.status = RUNNING
        self.job_added.emit(job.job_id)
        PlgLogger.log("{} started: {} on {} ({})".format(job.title, job.tiles_text, spec.backend, spec.workspace),
                      Qgis.MessageLevel.Info)
        start_task(task)
        return job

    def task(self, job_id: int) -> Optional[EngineTask]:
        """The running task of a job (None once done)."""
        return self._tasks.get(job_id)

    def cancel(self, job_id: int) -> None:
        """Ask a running job to stop (committed tiles stay in the workspace)."""
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()

    def _progress(self, job_id: int, value: float) -> None:
        self.jobs[job_id].progress = float(value)
        self.job_changed.emit(job_id)

    def _message(self, job_id: int, text: str) -> None:
        self.jobs[job_id].message = text
        self.job_changed.emit(job_id)

    def _note(self, job_id: int, key: str, value: str) -> None:
        job = self.jobs[job_id]
        if key == "logview":
            job.logview = value
            PlgLogger.log("{}: MaxCompute Logview {}".format(job.title, value), Qgis.MessageLevel.Info, push=True)
        self.job_changed.emit(job_id)

    def _finished(self, job_id: int, result: Optional[JobOutcome], error: Optional[BaseException],
                  on_done: Optional[Callable[[JobRecord], None]]) -> None:
        job = self.jobs[job_id]
        self._tasks.pop(job_id, None)
        job.finished = datetime.now(timezone.utc)
        if error is None:
            job.status, job.progress, job.outcome = FINISHED, 100.0, result
            job.message = "{} tile(s) computed, {} up to date".format(result.computed, result.skipped)
            if result.failed:
                job.message += ", {} tile(s) FAILED".format(len(result.failed))
            PlgLogger.log("{} finished: {}; exported to {}".format(job.title, job.message, result.export_dir),
                          Qgis.MessageLevel.Warning if result.failed else Qgis.MessageLevel.Success, push=True)
            for line in result.failed:
                PlgLogger.log("{}: failed on MaxCompute: {}".format(job.title, line), Qgis.MessageLevel.Warning)
        elif isinstance(error, TaskCancelled):
            job.status, job.message = CANCELLED, "cancelled; tiles computed so far are kept"
            PlgLogger.log("{} cancelled".format(job.title), Qgis.MessageLevel.Warning, push=True)
        else:
            job.status, job.error = FAILED, str(error)
            job.message = "failed: {}".format(error)
            PlgLogger.log("{} failed: {}".format(job.title, error), Qgis.MessageLevel.Critical, push=True)
        self.job_changed.emit(job_id)
        if job.status == FINISHED and self.auto_load:
            try:
                self.load_results(job_id)
            except Exception as exc:  # shown to the user, the job itself succeeded
                PlgLogger.log("{}: cannot load the results: {}".format(job.title, exc),
                              Qgis.MessageLevel.Critical, push=True)
        self.job_done.emit(job_id)
        if on_done is not None:
            on_done(job)

    def load_results(self, job_id: int, project: Optional[QgsProject] = None) -> List[Any]:
        """Add a finished job's rasters in a new legend group; returns the layers (main thread)."""
        job = self.jobs[job_id]
        if job.outcome is None:
            raise RuntimeError("{} has no results (status: {})".format(job.title, job.status))
        layers = result_layers(Path(job.outcome.export_dir), job.spec.method, ui_locale())
        if not layers:
            raise RuntimeError("{}: nothing was exported to {}".format(job.title, job.outcome.export_dir))
        n = len(job.outcome.tiles)
        tiles = QCoreApplication.translate("GmiJobs", "1 tile") if n == 1 else \
            QCoreApplication.translate("GmiJobs", "{} tiles").format(n)
        title = "GMI {} · {} · {}".format(job.title, tiles, job.created.astimezone().strftime("%Y-%m-%d %H:%M"))
        group, added = add_results_group(title, layers, job_id, project)
        job.group_name = group.name()
        self.job_changed.emit(job_id)
        return added
