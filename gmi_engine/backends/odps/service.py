"""The MaxCompute job as one engine service, and the steps it is made of.

:func:`run_odps` is what ``gmi run --backend odps`` and the QGIS plugin do: create the tables if
missing, upload the workspace's source rows unless the batch already holds the same store content,
check the deployed function, submit the job, record it in the workspace's state file, follow it
(with cancel), download the result rows and record that. The ``gmi odps upload|run|download``
sub-commands use the steps (:func:`upload_if_changed`, :func:`submit_and_record`,
:func:`download_and_record`) one at a time. Front ends only adapt: progress and cancel follow
:mod:`gmi_engine.progress`, human-readable lines go to ``notes`` (the CLI prints them). No text
here holds a secret: the backend scrubs its errors, and only ids, names and counts are written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, List, Mapping, Optional, Sequence

from gmi_engine.backends.odps.client import (
    DownloadReport,
    OdpsBackend,
    TileFailure,
    UploadReport,
    store_fingerprint,
)
from gmi_engine.backends.odps.state import default_batch, load_state, now_text, save_state
from gmi_engine.errors import BackendError
from gmi_engine.grid import TileIndex
from gmi_engine.progress import Cancelled, Progress, never_cancelled, report, sub_range

Notes = Callable[[str], None]
"""Receives one human-readable line per step (``print`` on the command line)."""

UPLOAD_SHARE = 0.15
"""Fraction of a :func:`run_odps` for the upload."""
JOB_SHARE = 0.70
"""Fraction of a :func:`run_odps` for the MaxCompute job (the rest is the download)."""
DEFAULT_POLL_SECONDS = 5.0
DEPLOY_HINT = " (deploy once per GMI version: gmi odps deploy --numpy-archive ...)"


@dataclass
class OdpsRunReport:
    """What :func:`run_odps` did (the fields a local run report has, plus the job's ids)."""

    method: str
    batch: str = ""
    run: str = ""
    instance_id: str = ""
    logview: str = ""
    uploaded: bool = False
    tiles_computed: int = 0
    result_rows: int = 0
    cancelled: bool = False
    failed_tiles: List[TileFailure] = field(default_factory=list)


@dataclass
class SubmittedJob:
    """A job submitted and recorded in the state file."""

    instance_id: str
    run: str
    logview: str = ""


def _note(notes: Optional[Notes], text: str) -> None:
    if notes is not None:
        notes(text)


def _prefixed(progress: Optional[Progress], prefix: str) -> Optional[Progress]:
    if progress is None:
        return None
    return lambda fraction, message: progress(fraction, prefix + message)


def upload_if_changed(backend: OdpsBackend, workspace, batch: str, tiles: Optional[Sequence[TileIndex]] = None,
                      force: bool = False, lifecycle: Optional[int] = None, progress: Optional[Progress] = None,
                      notes: Optional[Notes] = None) -> Optional[UploadReport]:
    """Create the tables if needed and upload the workspace into partition ``batch``.

    Skipped (returns None) unless ``force`` or a tile selection is given, when the state file
    records that ``batch`` holds this store content (same :func:`store_fingerprint`). A full
    upload records the fingerprint; a partial one records None (the next run uploads again).
    """
    created = backend.create_tables(lifecycle)
    if created:
        _note(notes, "created table(s): {}".format(", ".join(created)))
    fingerprint = store_fingerprint(workspace)
    recorded = load_state(workspace).get("uploads", {}).get(batch, {})
    if not force and tiles is None and recorded.get("fingerprint") == fingerprint:
        report(progress, 1.0, "source rows already uploaded (batch {})".format(batch))
        _note(notes, "batch {}: source rows already uploaded ({} rows)".format(batch, recorded.get("rows")))
        return None
    upload = backend.upload(workspace, batch, tiles=tiles, progress=progress)
    state = load_state(workspace)
    state["batch"] = batch
    state.setdefault("uploads", {})[batch] = {
        "rows": upload.rows, "blocks": upload.blocks, "bytes": upload.bytes, "at": now_text(),
        "fingerprint": fingerprint if tiles is None else None, "project": backend.project}
    save_state(workspace, state)
    _note(notes, "batch {}: {} rows in {} block(s), {:.1f} MB, {:.1f} s".format(
        batch, upload.rows, upload.blocks, upload.bytes / 1e6, upload.seconds))
    return upload


def submit_and_record(backend: OdpsBackend, workspace, batch: str, method: str,
                      params: Optional[Mapping[str, Any]] = None, tiles: Optional[Sequence[TileIndex]] = None,
                      hints: Optional[Mapping[str, str]] = None, check_function: bool = True,
                      notes: Optional[Notes] = None, fail_fast: bool = False) -> SubmittedJob:
    """Submit the job, record it as the workspace's last run, and look up its Logview address."""
    params = dict(params or {})
    instance_id, run, _sql = backend.submit(batch, method, params, tiles, hints, check_function=check_function,
                                            fail_fast=fail_fast)
    state = load_state(workspace)
    state.setdefault("runs", {})[run] = {
        "instance": instance_id, "batch": batch, "method": method, "params": params,
        "tiles": None if tiles is None else [[t.ix, t.iy] for t in tiles], "submitted": now_text(),
        "project": backend.project}
    state["last_run"] = run
    save_state(workspace, state)
    _note(notes, "submitted {} as instance {} (run {})".format(method, instance_id, run))
    logview = backend.logview(instance_id) or ""
    if logview:
        _note(notes, "Logview: {}".format(logview))
    return SubmittedJob(instance_id, run, logview)


def download_and_record(backend: OdpsBackend, workspace, batch: str, run: str,
                        progress: Optional[Progress] = None, notes: Optional[Notes] = None) -> DownloadReport:
    """Download a run's result rows into the workspace store and record when (and which tiles failed)."""
    download = backend.download(workspace, batch, run, progress=progress)
    state = load_state(workspace)
    entry = state.setdefault("runs", {}).setdefault(run, {"batch": batch})
    entry["downloaded"] = now_text()
    entry["failed_tiles"] = [f.to_dict() for f in download.failures]
    save_state(workspace, state)
    _note(notes, "run {}: {} result rows of {} tile(s) stored in {} ({:.1f} s)".format(
        run, download.rows, download.tiles, workspace, download.seconds))
    if download.failures:
        _note(notes, failures_text(download.failures))
    return download


def failures_text(failures: Sequence[TileFailure], limit: int = 20) -> str:
    """``2 tile(s) failed on MaxCompute:`` and one line per tile (at most ``limit``)."""
    lines = ["{} tile(s) failed on MaxCompute (not stored; the other tiles are):".format(len(failures))]
    lines += ["  " + f.describe() for f in failures[:limit]]
    if len(failures) > limit:
        lines.append("  ... and {} more (see odps_state.json)".format(len(failures) - limit))
    return "\n".join(lines)


def run_odps(backend: OdpsBackend, workspace, method: str, params: Optional[Mapping[str, Any]] = None,
             tiles: Optional[Sequence[TileIndex]] = None, batch: Optional[str] = None, force_upload: bool = False,
             hints: Optional[Mapping[str, str]] = None, poll_seconds: float = DEFAULT_POLL_SECONDS,
             progress: Optional[Progress] = None, cancelled: Optional[Cancelled] = None,
             notes: Optional[Notes] = None, on_logview: Optional[Callable[[str], None]] = None,
             fail_fast: bool = False) -> OdpsRunReport:
    """Run ``method`` on MaxCompute; the result rows land in the local workspace store.

    Upload (unless unchanged, see :func:`upload_if_changed`; always the whole workspace), check
    the deployed function, submit and record, poll every ``poll_seconds`` at most, download and
    record. ``cancelled()`` is asked after the upload and between polls: a running job is then
    stopped and the report says ``cancelled`` (nothing is downloaded). A job that fails raises
    :class:`BackendError` with its status, error, summary and Logview. Tiles the kernel failed
    on are the report's ``failed_tiles`` (the job still succeeds) unless ``fail_fast``, which
    makes the first such tile fail the whole job.
    """
    cancelled = cancelled or never_cancelled
    result = OdpsRunReport(method, batch=batch or default_batch(workspace))
    report(progress, 0.0, "connecting to MaxCompute project {}".format(backend.config.project or "(room's)"))
    uploaded = upload_if_changed(backend, workspace, result.batch, force=force_upload,
                                 progress=_prefixed(sub_range(progress, 0.0, UPLOAD_SHARE), "upload: "),
                                 notes=notes)
    result.uploaded = uploaded is not None
    if cancelled():
        result.cancelled = True
        return result
    ok, note = backend.check_function()
    if not ok:
        raise BackendError(note + DEPLOY_HINT)
    job = submit_and_record(backend, workspace, result.batch, method, params, tiles, hints,
                            check_function=False, notes=notes, fail_fast=fail_fast)
    result.instance_id, result.run, result.logview = job.instance_id, job.run, job.logview
    if job.logview and on_logview is not None:
        on_logview(job.logview)
    status = backend.wait(job.instance_id, interval=poll_seconds, cancelled=cancelled,
                          progress=_prefixed(sub_range(progress, UPLOAD_SHARE, UPLOAD_SHARE + JOB_SHARE),
                                             "MaxCompute: "))
    if status.state != "success":  # wait raises on failure: this is a cancel
        result.cancelled = True
        return result
    result.logview = status.logview or result.logview
    download = download_and_record(backend, workspace, result.batch, result.run,
                                   progress=_prefixed(sub_range(progress, UPLOAD_SHARE + JOB_SHARE, 1.0),
                                                      "download: "), notes=notes)
    result.tiles_computed, result.result_rows = download.tiles, download.rows
    result.failed_tiles = list(download.failures)
    report(progress, 1.0, "download: {} tile(s) stored".format(download.tiles))
    return result

