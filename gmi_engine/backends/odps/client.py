"""The MaxCompute client: tables, tunnel upload/download, deploy, jobs, their reports."""
from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from gmi_engine.backends.odps.config import OdpsConfig, backend_errors, connect
from gmi_engine.backends.odps.deploy import (
    KERNEL_RESOURCE_PREFIX,
    NUMPY_RESOURCE_PREFIX,
    UDTF_RESOURCE_PREFIX,
    DeployPlan,
    kernel_bundle,
    short_hash,
    udtf_source,
)
from gmi_engine.backends.odps.sql import (
    BATCH_KEY,
    FUNCTION_NAME,
    RESULT_PARTITIONS,
    RESULT_TABLE,
    RUN_KEY,
    SOURCE_PARTITIONS,
    SOURCE_TABLE,
    check_name,
    check_partition_value,
    job_hints,
    odps_table_schema,
    run_id,
    run_sql,
)
from gmi_engine.errors import BackendError, GmiInputError
from gmi_engine.grid import TileIndex
from gmi_engine.kernel.records import ERROR_OUTPUT, RESULT_COLUMNS, SOURCE_COLUMNS
from gmi_engine.progress import Cancelled, Progress
from gmi_engine.table import RESULT_SCHEMA, SOURCE_SCHEMA, ResultRow

log = logging.getLogger(__name__)



BLOCK_BYTES = 64 * 1024 * 1024
"""A tunnel block is closed once it holds this many encoded cell bytes (a retry resends it)."""
BLOCK_ATTEMPTS = 3



@dataclass
class UploadReport:
    """What an upload wrote."""

    batch: str
    rows: int
    blocks: int
    bytes: int
    seconds: float
    fingerprint: str


@dataclass
class DeployReport:
    """What a deploy uploaded and registered."""

    function: str
    class_type: str
    resources: List[str]
    uploaded: List[str]
    function_action: str  # created / updated / unchanged


@dataclass
class JobStatus:
    """An instance's state and stage progress (error text and summary when it failed)."""

    instance_id: str
    state: str  # running / success / failed / cancelled
    fraction: float = 0.0
    stages: str = ""
    logview: Optional[str] = None
    error: str = ""
    summary: str = ""


@dataclass(frozen=True)
class ResultPartition:
    """One partition of the result table: a run's results computed from one batch."""

    batch: str
    run: str
    created: float  # seconds since the epoch (MaxCompute's creation time)

    @property
    def spec(self) -> str:
        """``batch=<b>,run=<r>``."""
        return "{}={},{}={}".format(BATCH_KEY, self.batch, RUN_KEY, self.run)


@dataclass(frozen=True)
class TileFailure:
    """A tile the kernel failed on in a MaxCompute job (its error row)."""

    tile_x: int
    tile_y: int
    method: str
    error: str
    kernel_version: str = ""
    granules: Tuple[str, ...] = ()

    @classmethod
    def from_cells(cls, cells: Mapping[str, Any]) -> "TileFailure":
        """The failure an error row (output ``_error``) describes."""
        try:
            meta = json.loads(cells.get("meta") or "{}")
        except ValueError:
            meta = {"error": "(unreadable error row meta: {!r})".format(str(cells.get("meta"))[:200])}
        return cls(int(cells["tile_x"]), int(cells["tile_y"]), str(cells["method"]),
                   str(meta.get("error", "(no message)")), str(meta.get("kernel_version", "")),
                   tuple(meta.get("granules") or ()))

    def describe(self) -> str:
        """``tile 260,526 (mineral_indices): BlobError: ... [kernel 0.3.0]``."""
        version = " [kernel {}]".format(self.kernel_version) if self.kernel_version else ""
        return "tile {},{} ({}): {}{}".format(self.tile_x, self.tile_y, self.method, self.error, version)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready (the workspace state file)."""
        return {"tile": [self.tile_x, self.tile_y], "method": self.method, "error": self.error,
                "kernel_version": self.kernel_version, "granules": list(self.granules)}


@dataclass
class DownloadReport:
    """What a download stored, and the tiles that failed in the job (not stored)."""

    batch: str
    run: str
    rows: int
    tiles: int
    seconds: float
    failures: List[TileFailure] = field(default_factory=list)



def _cells(row, names: Sequence[str]) -> List[Any]:
    record = row.to_dict()
    record["acquired"] = record["acquired"].astimezone(timezone.utc)
    return [record[n] for n in names]


def _row_bytes(values: Sequence[Any]) -> int:
    return sum(len(v) for v in values if isinstance(v, (bytes, str)))


def _sleep_unless_cancelled(seconds: float, cancelled: Cancelled, step: float = 0.2) -> bool:
    """Sleep ``seconds`` in short steps; True (at once) when ``cancelled()`` says so."""
    end = time.monotonic() + seconds
    while not cancelled():
        left = end - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(step, left))
    return True


def store_fingerprint(workspace) -> str:
    """The fingerprint of a workspace's source rows: a digest of their content, not only of their sizes."""
    from gmi_engine.backends.local import LocalStore

    with LocalStore(workspace, create=False) as store:
        return store.source_digest()[:32]


class OdpsBackend:
    """GMI's tables, bundle and jobs in one MaxCompute project."""

    def __init__(self, config: OdpsConfig, odps: Any = None, source_table: str = SOURCE_TABLE,
                 result_table: str = RESULT_TABLE, function: str = FUNCTION_NAME,
                 block_bytes: int = BLOCK_BYTES, block_attempts: int = BLOCK_ATTEMPTS,
                 retry_delay: float = 1.0) -> None:
        self.config = config
        self._odps = odps
        self.source_table = check_name(source_table, "source table")
        self.result_table = check_name(result_table, "result table")
        self.function = check_name(function, "function")
        self.block_bytes = int(block_bytes)
        self.block_attempts = max(1, int(block_attempts))
        self.retry_delay = float(retry_delay)

    @property
    def odps(self):
        """The pyodps entry (connected on first use)."""
        if self._odps is None:
            self._odps = connect(self.config)
        return self._odps

    @property
    def project(self) -> str:
        """The project (from the configuration, or from the pyodps room)."""
        return self.config.project or self.odps.project

    def _errors(self, what: str):
        return backend_errors(what, self.config.secrets())

    # -- tables -------------------------------------------------------------------------------
    def create_tables(self, lifecycle: Optional[int] = None) -> List[str]:
        """Create the source and result tables if missing; returns those created."""
        if lifecycle is not None and int(lifecycle) < 1:
            raise GmiInputError("lifecycle: {} days must be at least 1".format(lifecycle))
        created = []
        for name, schema, parts in ((self.source_table, SOURCE_SCHEMA, SOURCE_PARTITIONS),
                                    (self.result_table, RESULT_SCHEMA, RESULT_PARTITIONS)):
            with self._errors("create table {}".format(name)):
                if self.odps.exist_table(name):
                    continue
                self.odps.create_table(name, odps_table_schema(schema, parts), comment=schema.comment,
                                       if_not_exists=True, lifecycle=lifecycle,
                                       hints={"odps.sql.type.system.odps2": "true"})
            created.append(name)
        return created

    def _tunnel(self):
        from odps.tunnel import TableTunnel

        return TableTunnel(self.odps, quota_name=self.config.quota)

    # -- upload -------------------------------------------------------------------------------
    def upload(self, workspace, batch: str, tiles: Optional[Iterable[TileIndex]] = None,
               progress: Optional[Progress] = None) -> UploadReport:
        """Upload the workspace's source rows into partition ``batch`` (replacing it).

        Blocks are written one at a time and each is retried up to ``block_attempts`` times; the
        session is committed only after every block is written. On failure nothing is
        committed (the partition keeps its old rows, or is dropped if this upload created it).
        """
        from gmi_engine.backends.local import LocalStore

        check_partition_value(batch, "batch")
        spec = "{}={}".format(BATCH_KEY, batch)
        start = time.monotonic()
        with LocalStore(workspace, create=False) as store:
            total = store.stats().source_rows if tiles is None else None
            with self._errors("upload to {} partition {}".format(self.source_table, spec)):
                table = self.odps.get_table(self.source_table)
                existed = table.exist_partition(spec)
                if not existed:  # not create_upload_session(create_partition=...): pyodps < 0.12.3 lacks it
                    table.create_partition(spec, if_not_exists=True)
                session = self._tunnel().create_upload_session(self.source_table, partition_spec=spec, overwrite=True)
            digest = hashlib.sha256()
            blocks, rows, nbytes = [], 0, 0
            try:
                pending, pending_bytes = [], 0
                for row in store.iter_source_rows(tiles=tiles):
                    values = _cells(row, SOURCE_COLUMNS)
                    pending.append(values)
                    pending_bytes += _row_bytes(values)
                    digest.update("{}|{}|{}".format(row.granule_id, row.tile_x, row.tile_y).encode())
                    if pending_bytes >= self.block_bytes:
                        self._write_block(session, len(blocks), pending)
                        blocks.append(len(blocks))
                        rows, nbytes = rows + len(pending), nbytes + pending_bytes
                        pending, pending_bytes = [], 0
                        if progress:
                            progress(rows / total if total else 0.0, "{} rows".format(rows))
                if pending or not blocks:
                    self._write_block(session, len(blocks), pending)
                    blocks.append(len(blocks))
                    rows, nbytes = rows + len(pending), nbytes + pending_bytes
                with self._errors("commit the upload of {} partition {}".format(self.source_table, spec)):
                    session.commit(blocks)
            except BaseException:
                if not existed:
                    self._drop_partition(self.source_table, spec)
                raise
        if progress:
            progress(1.0, "{} rows committed".format(rows))
        digest.update(str(rows).encode())
        return UploadReport(batch, rows, len(blocks), nbytes, time.monotonic() - start,
                            digest.hexdigest()[:16])

    def _write_block(self, session, block_id: int, records: Sequence[Sequence[Any]]) -> None:
        """Write one block, retrying the whole block (the tunnel keeps the last complete write)."""
        last = None
        for attempt in range(1, self.block_attempts + 1):
            writer = None
            try:
                with self._errors("write tunnel block {}".format(block_id)):
                    writer = session.open_record_writer(block_id)
                    for values in records:
                        writer.write(session.new_record(list(values)))
                    writer.close()
                    writer = None
                return
            except BackendError as exc:
                last = exc
                log.warning("block %d: attempt %d of %d failed: %s", block_id, attempt, self.block_attempts, exc)
                if attempt < self.block_attempts:
                    time.sleep(self.retry_delay * attempt)
        raise BackendError("upload failed: block {} could not be written in {} attempts ({}); nothing was "
                           "committed".format(block_id, self.block_attempts, last))

    def drop_partition(self, table: str, spec: str) -> None:
        """Drop partition ``spec`` (``batch=b,run=r``) of ``table`` if it exists."""
        with self._errors("drop partition {} of {}".format(spec, table)):
            self.odps.get_table(table).delete_partition(spec, if_exists=True)

    def _drop_partition(self, table: str, spec: str) -> None:
        try:
            self.drop_partition(table, spec)
        except BackendError as exc:
            log.warning("could not remove partition %s of %s: %s", spec, table, exc)

    def result_partitions(self) -> List[ResultPartition]:
        """The result table's partitions (batch, run, creation time), oldest first."""
        with self._errors("list the partitions of {}".format(self.result_table)):
            if not self.odps.exist_table(self.result_table):
                return []
            found = []
            for part in self.odps.get_table(self.result_table).iterate_partitions():
                spec = {k: v for k, v in part.partition_spec.kv.items()}
                created = part.creation_time
                found.append(ResultPartition(spec.get(BATCH_KEY, ""), spec.get(RUN_KEY, ""),
                                             created.timestamp() if created else 0.0))
        return sorted(found, key=lambda p: (p.created, p.batch, p.run))

    def prune(self, keep: int, batch: Optional[str] = None, dry_run: bool = False) -> List[ResultPartition]:
        """Drop all but the ``keep`` newest result partitions of each batch (or of ``batch``).

        Returns the partitions dropped (or that would be, with ``dry_run``). MaxCompute allows at
        most 60,000 partitions per table; every run adds one (batch x run).
        """
        if int(keep) < 0:
            raise GmiInputError("--keep: {} must be 0 or more".format(keep))
        by_batch = {}  # type: Dict[str, List[ResultPartition]]
        for part in self.result_partitions():
            if batch is None or part.batch == batch:
                by_batch.setdefault(part.batch, []).append(part)
        doomed = []
        for parts in by_batch.values():
            doomed += parts[:max(0, len(parts) - int(keep))]  # oldest first
        if not dry_run:
            for part in doomed:
                self.drop_partition(self.result_table, part.spec)
        return doomed

    # -- deploy -------------------------------------------------------------------------------
    def deploy(self, plan: DeployPlan) -> DeployReport:
        """Upload the plan's resources that are missing and create/update the function."""
        uploaded = []
        for name, kind, data in ((plan.kernel_name, "archive", plan.kernel_bytes),
                                 (plan.numpy_name, "archive", plan.numpy_bytes),
                                 (plan.udtf_name, "py", plan.udtf_bytes)):
            with self._errors("upload resource {}".format(name)):
                if self.odps.exist_resource(name):
                    continue
                if data is None:
                    raise BackendError("resource {} does not exist in project {}; give the numpy archive "
                                       "file instead".format(name, self.project))
                self.odps.create_resource(name, kind, fileobj=data,
                                          comment="GMI {} (content-hashed; gmi odps deploy)".format(kind))
            uploaded.append(name)
        with self._errors("register function {}".format(plan.function)):
            if self.odps.exist_function(plan.function):
                func = self.odps.get_function(plan.function)
                func.reload()
                current = [r.name for r in func.resources]
                if func.class_type == plan.class_type and current == plan.resources:
                    action = "unchanged"
                else:
                    func.class_type = plan.class_type
                    func.resources = plan.resources
                    func.update()
                    action = "updated"
            else:
                self.odps.create_function(plan.function, class_type=plan.class_type, resources=plan.resources)
                action = "created"
        return DeployReport(plan.function, plan.class_type, plan.resources, uploaded, action)

    def check_function(self) -> Tuple[bool, str]:
        """(ok, note): is the registered function this GMI's kernel and UDTF?"""
        kernel_name = "{}{}.zip".format(KERNEL_RESOURCE_PREFIX, short_hash(kernel_bundle()))
        with self._errors("read function {}".format(self.function)):
            if not self.odps.exist_function(self.function):
                return False, "function {} is not registered; run `gmi odps deploy`".format(self.function)
            func = self.odps.get_function(self.function)
            func.reload()
            resources = [r.name for r in func.resources]
        udtf = [r for r in resources if r.startswith(UDTF_RESOURCE_PREFIX)]
        numpy_res = [r for r in resources if r.startswith(NUMPY_RESOURCE_PREFIX)] or [
            r for r in resources if r not in udtf and r != kernel_name]
        if kernel_name not in resources or len(udtf) != 1 or not numpy_res:
            return False, ("function {} uses {}, not this GMI's kernel {}; run `gmi odps deploy`".format(
                self.function, ", ".join(resources) or "no resources", kernel_name))
        expected = udtf_source([kernel_name, numpy_res[0]])
        if udtf[0] != "{}{}.py".format(UDTF_RESOURCE_PREFIX, short_hash(expected)):
            return False, "function {} uses another UDTF module ({}); run `gmi odps deploy`".format(
                self.function, udtf[0])
        return True, "function {} = {} ({})".format(self.function, func.class_type, ", ".join(resources))

    # -- jobs ---------------------------------------------------------------------------------
    def submit(self, batch: str, method: str, params: Optional[Mapping[str, Any]] = None,
               tiles: Optional[Sequence[TileIndex]] = None, hints: Optional[Mapping[str, str]] = None,
               check_function: bool = True, fail_fast: bool = False) -> Tuple[str, str, str]:
        """Submit the job asynchronously; returns (instance id, run id, SQL).

        A tile the kernel fails on becomes an error row (see :meth:`download`) unless ``fail_fast``.
        """
        params = dict(params or {})
        run = run_id(method, params, tiles)
        sql = run_sql(method, params, batch, run, tiles, self.source_table, self.result_table, self.function,
                      fail_fast=fail_fast)
        if check_function:
            ok, note = self.check_function()
            if not ok:
                raise BackendError(note)
        with self._errors("submit the {} job".format(method)):
            instance = self.odps.run_sql(sql, hints=dict(hints if hints is not None else job_hints()),
                                         quota_name=self.config.quota)
        return instance.id, run, sql

    def _instance(self, instance_id: str):
        if not re.match(r"[A-Za-z0-9_-]{1,128}\Z", instance_id or ""):
            raise GmiInputError("instance id: {!r} is not a MaxCompute instance id".format(instance_id))
        return self.odps.get_instance(instance_id)

    def logview(self, instance_id: str) -> Optional[str]:
        """The Logview address of an instance (None when it cannot be made)."""
        try:
            with self._errors("make the Logview address"):
                return self._instance(instance_id).get_logview_address()
        except BackendError as exc:
            log.warning("%s", exc)
            return None

    def status(self, instance_id: str, with_logview: bool = True) -> JobStatus:
        """The instance's state, stage progress and (when failed) error text and task summary."""
        from odps.models import Instance

        with self._errors("read the status of instance {}".format(instance_id)):
            inst = self._instance(instance_id)
            terminated = inst.status == Instance.Status.TERMINATED
            tasks = inst.get_task_statuses()
            name, task = next(iter(tasks.items())) if tasks else (None, None)
            fraction, stages = 0.0, ""
            if name:
                progress = inst.get_task_progress(name)
                if progress.stages:
                    fraction = sum(s.finished_percentage for s in progress.stages) / (100.0 * len(progress.stages))
                    stages = " ".join("{}:{}%".format(s.name, s.finished_percentage) for s in progress.stages)
            state, error, summary = "running", "", ""
            if terminated and task is not None:
                state = {"SUCCESS": "success", "FAILED": "failed", "CANCELLED": "cancelled"}.get(
                    task.status.value, task.status.value.lower())
                if state == "success":
                    fraction = 1.0
                if state == "failed":
                    error = (inst.get_task_result(name) or "").strip()
                if state != "success":
                    summary = self._summary(inst, name)
        return JobStatus(instance_id, state, fraction, stages,
                         self.logview(instance_id) if with_logview else None, error, summary)

    def _summary(self, inst, task_name: str) -> str:
        try:
            with self._errors("read the task summary"):
                found = inst.get_task_summary(task_name)
        except BackendError as exc:
            return "(task summary unavailable: {})".format(exc)
        if found is None:
            return ""
        parts = [(found.summary_text or "").strip(), json.dumps(dict(found), sort_keys=True) if found else ""]
        return "\n".join(p for p in parts if p)

    def wait(self, instance_id: str, progress: Optional[Progress] = None, timeout: Optional[float] = None,
             interval: float = 5.0, cancelled: Optional[Cancelled] = None) -> JobStatus:
        """Poll until the instance ends; raise BackendError unless it succeeded.

        Polls start at 0.5 s apart and slow down to ``interval``. When ``cancelled()`` turns True
        while the instance runs, the instance is stopped and its status afterwards is returned
        (its state is then not ``success``).
        """
        start = time.monotonic()
        delay = min(0.5, interval)
        while True:
            status = self.status(instance_id, with_logview=False)
            if progress:
                progress(status.fraction, status.stages or status.state)
            if status.state != "running":
                break
            if timeout is not None and time.monotonic() - start > timeout:
                raise BackendError("instance {} is still running after {:.0f} s ({}); it keeps running on "
                                   "MaxCompute: follow it with `gmi odps status --instance {}` or stop it with "
                                   "`gmi odps cancel --instance {}`; Logview: {}".format(
                                       instance_id, timeout, status.stages or "no stage progress yet",
                                       instance_id, instance_id, self.logview(instance_id)))
            if cancelled is None:
                time.sleep(delay)
            elif _sleep_unless_cancelled(delay, cancelled):
                return self.cancel(instance_id)
            delay = min(interval, delay * 1.5)
        status.logview = self.logview(instance_id)
        if status.state != "success":
            raise BackendError(self.failure_text(status))
        return status

    @staticmethod
    def failure_text(status: JobStatus) -> str:
        """A clear message for a job that did not succeed."""
        lines = ["MaxCompute instance {} ended {}".format(status.instance_id, status.state.upper())]
        if status.error:
            error = status.error if len(status.error) < 4000 else status.error[:4000] + " ..."
            lines.append("  error: " + error.replace("\n", "\n         "))
        if status.summary:
            lines.append("  task summary: " + status.summary.replace("\n", "\n                "))
        if status.stages:
            lines.append("  stages: " + status.stages)
        lines.append("  Logview: {}".format(status.logview or "(unavailable)"))
        return "\n".join(lines)

    def cancel(self, instance_id: str) -> JobStatus:
        """Ask MaxCompute to stop the instance; returns the status afterwards."""
        with self._errors("cancel instance {}".format(instance_id)):
            self._instance(instance_id).stop()
        return self.status(instance_id)

    # -- download -----------------------------------------------------------------------------
    def download(self, workspace, batch: str, run: str, progress: Optional[Progress] = None,
                 chunk_rows: int = 256) -> DownloadReport:
        """Read partition (batch, run) of the result table into the workspace's store.

        A first pass reads only the key columns to learn how many outputs each tile has; the
        second pass reads full rows and writes each tile with ``replace_results`` as soon as
        all its rows have arrived (rows of a tile are contiguous in practice, so memory holds
        about one tile). Error rows (tiles the kernel failed on) are not stored: they are the
        report's ``failures``, and such a tile keeps what the store held before.
        """
        from gmi_engine.backends.local import LocalStore

        spec = "{}={},{}={}".format(BATCH_KEY, check_partition_value(batch, "batch"), RUN_KEY,
                                    check_partition_value(run, "run"))
        start = time.monotonic()
        key_cols = ["tile_x", "tile_y", "method", "output"]
        with self._errors("download {} partition {}".format(self.result_table, spec)):
            if not self.odps.get_table(self.result_table).exist_partition(spec):
                raise BackendError("{} has no partition {} (did the run finish?)".format(self.result_table, spec))
            session = self._tunnel().create_download_session(self.result_table, partition_spec=spec)
            count = int(session.count)
            expected = {}  # type: Dict[Tuple[int, int, str], int]
            for values in self._read(session, count, chunk_rows, key_cols):
                if values[3] != ERROR_OUTPUT:  # an error row stands for a tile with no outputs
                    key = (int(values[0]), int(values[1]), values[2])
                    expected[key] = expected.get(key, 0) + 1
        pending = {}  # type: Dict[Tuple[int, int, str], List[ResultRow]]
        failures = []  # type: List[TileFailure]
        done = 0
        with LocalStore(workspace, create=False) as store:
            with self._errors("download {} partition {}".format(self.result_table, spec)):
                for values in self._read(session, count, chunk_rows, list(RESULT_COLUMNS)):
                    cells = dict(zip(RESULT_COLUMNS, values))
                    if cells["output"] == ERROR_OUTPUT:  # the tile failed: reported, nothing stored
                        failure = TileFailure.from_cells(cells)
                        failures.append(failure)
                        log.warning("MaxCompute job failed on %s", failure.describe())
                        continue
                    row = ResultRow.from_dict(cells)
                    key = (row.tile_x, row.tile_y, row.method)
                    pending.setdefault(key, []).append(row)
                    if len(pending[key]) == expected.get(key):
                        store.replace_results(TileIndex(key[0], key[1]), key[2], pending.pop(key))
                        done += 1
                        if progress:
                            progress(done / max(1, len(expected)), "tile {},{}".format(key[0], key[1]))
            if pending:
                raise BackendError("download of {} partition {}: rows changed while reading (tiles {} "
                                   "incomplete); run the download again".format(
                                       self.result_table, spec, sorted(pending)))
        return DownloadReport(batch, run, count - len(failures), len(expected), time.monotonic() - start,
                              sorted(failures, key=lambda f: (f.tile_x, f.tile_y)))

    @staticmethod
    def _read(session, count: int, chunk_rows: int, columns: List[str]) -> Iterator[List[Any]]:
        for first in range(0, count, chunk_rows):
            with session.open_record_reader(first, min(chunk_rows, count - first), columns=columns) as reader:
                for record in reader:
                    yield [record[c] for c in columns]
