"""The plugin's door to the MaxCompute (ODPS) backend, ``gmi_engine.backends.odps``.

The backend is optional: without it (or without pyodps) :func:`odps_status` says why, the Run
dialog shows that text and a run on ODPS fails with :class:`OdpsUnavailable` before anything
starts. A run does what ``gmi run --backend odps`` does: create the tables if missing, upload the
workspace's source rows unless that batch already holds the same store content, submit the UDTF
job (the function must have been deployed with ``gmi odps deploy``), poll it with cancel, then
download the result rows into the local workspace, from where they are exported like a local
run's. The workspace's ``odps_state.json`` is kept as the command line keeps it (batch, uploads,
runs; never a secret), so ``gmi odps status|cancel|download --workspace`` also find plugin runs.

Credentials arrive as an :class:`~gmi_qgis_plugin.toolbelt.credentials.OdpsCredentials` read
from the QGIS auth database just before the run; they live only in the backend's in-memory
config for the length of the run and are never logged.
"""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from gmi_qgis_plugin.errors import GmiPluginError

BACKEND_MODULE = "gmi_engine.backends.odps"
POLL_SECONDS = 5.0
UPLOAD_SHARE, JOB_SHARE = 15.0, 70.0
"""Percent of the MaxCompute part of a run for the upload and the job (the rest: download)."""

Progress = Callable[[float, str], None]


class OdpsUnavailable(GmiPluginError, RuntimeError):
    """The MaxCompute backend cannot be used in this installation."""


@dataclass
class OdpsRunReport:
    """What a MaxCompute run did (the fields a local RunReport has, plus the job's ids)."""

    method: str
    tiles_computed: int = 0
    cancelled: bool = False
    instance_id: str = ""
    batch: str = ""
    run: str = ""
    logview: str = ""


def _backend() -> Any:
    try:
        module = importlib.import_module(BACKEND_MODULE)
        importlib.import_module("odps")
    except ImportError as exc:
        raise OdpsUnavailable(f"MaxCompute backend not available in this installation ({exc}). Install pyodps "
                              "in the Python that runs QGIS, or run locally.") from None
    return module


def odps_status() -> Tuple[bool, str]:
    """(available, human-readable reason when not)."""
    try:
        _backend()
    except OdpsUnavailable as exc:
        return False, str(exc)
    return True, ""


def _sleep(seconds: float, cancelled: Callable[[], bool]) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not cancelled():
        time.sleep(0.2)


def _upload_once(odps: Any, backend: Any, workspace: str, batch: str, progress: Progress) -> None:
    """Upload the workspace's source rows unless ``batch`` already holds this store content."""
    state = odps.load_state(workspace)
    fingerprint = odps.store_fingerprint(workspace)
    if state.get("uploads", {}).get(batch, {}).get("fingerprint") == fingerprint:
        progress(UPLOAD_SHARE, f"source rows already uploaded (batch {batch})")
        return
    upload = backend.upload(workspace, batch, progress=lambda f, text: progress(UPLOAD_SHARE * f, "upload: " + text))
    state = odps.load_state(workspace)
    state["batch"] = batch
    state.setdefault("uploads", {})[batch] = {
        "rows": upload.rows, "blocks": upload.blocks, "bytes": upload.bytes, "at": odps.now_text(),
        "fingerprint": fingerprint, "project": backend.project}
    odps.save_state(workspace, state)


def _record_run(odps: Any, workspace: str, run: str, entry: Dict[str, Any]) -> None:
    """Merge ``entry`` into the state file's record of ``run`` (and make it the last run)."""
    state = odps.load_state(workspace)
    state.setdefault("runs", {}).setdefault(run, {}).update(entry)
    state["last_run"] = run
    odps.save_state(workspace, state)


def run_on_odps(workspace: str, method: str, params: Dict[str, Any], tiles: Optional[List[Any]],
                credentials: Any, project: str, endpoint: str, progress: Progress,
                cancelled: Callable[[], bool], on_logview: Callable[[str], None],
                poll_seconds: Optional[float] = None) -> OdpsRunReport:
    """Run ``method`` on MaxCompute; result rows land in the local workspace store.

    ``progress(percent, text)`` gets 0–100 for the whole MaxCompute part; the job's state is
    polled every ``poll_seconds`` (default :data:`POLL_SECONDS`).
    """
    poll_seconds = POLL_SECONDS if poll_seconds is None else poll_seconds
    if not project or not endpoint:
        raise OdpsUnavailable("MaxCompute project and endpoint must both be set")
    if credentials is None:
        raise OdpsUnavailable("no MaxCompute credentials were given")
    odps = _backend()
    from gmi_engine.errors import BackendError

    backend = odps.OdpsBackend(odps.OdpsConfig(project=project, endpoint=endpoint,
                                               access_id=credentials.access_id, secret=credentials.secret))
    report = OdpsRunReport(method, batch=odps.default_batch(workspace))
    progress(0.0, f"connecting to MaxCompute project {project}")
    backend.create_tables()
    _upload_once(odps, backend, workspace, report.batch, progress)
    if cancelled():
        report.cancelled = True
        return report

    report.instance_id, report.run, _sql = backend.submit(report.batch, method, params, tiles)
    _record_run(odps, workspace, report.run, {
        "instance": report.instance_id, "batch": report.batch, "method": method, "params": params,
        "tiles": None if tiles is None else [[t.ix, t.iy] for t in tiles], "submitted": odps.now_text(),
        "project": backend.project})
    report.logview = backend.logview(report.instance_id) or ""
    if report.logview:
        on_logview(report.logview)
    while True:
        status = backend.status(report.instance_id, with_logview=False)
        progress(UPLOAD_SHARE + JOB_SHARE * status.fraction, f"MaxCompute: {status.stages or status.state}")
        if status.state != "running":
            break
        if cancelled():
            backend.cancel(report.instance_id)
            report.cancelled = True
            return report
        _sleep(poll_seconds, cancelled)
    if status.state != "success":
        status.logview = report.logview
        raise BackendError(backend.failure_text(status))

    rest = 100.0 - UPLOAD_SHARE - JOB_SHARE
    download = backend.download(workspace, report.batch, report.run, progress=lambda f, text: progress(
        UPLOAD_SHARE + JOB_SHARE + rest * f, "download: " + text))
    _record_run(odps, workspace, report.run, {"downloaded": odps.now_text()})
    report.tiles_computed = download.tiles
    return report
