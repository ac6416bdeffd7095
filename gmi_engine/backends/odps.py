"""MaxCompute (ODPS) backend through pyodps: tables, tunnel, resources, UDTF, SQL, progress.

The flow (``gmi odps ...``, or ``gmi run --backend odps`` for all of it):

1. :meth:`OdpsBackend.create_tables` -- ``gmi_source`` partitioned by ``batch`` and ``gmi_result``
   partitioned by ``batch, run``, both from :mod:`gmi_engine.table` (BINARY blobs), with an
   optional lifecycle.
2. :meth:`OdpsBackend.upload` -- a workspace's source rows into partition ``batch=<b>`` through
   the table tunnel: record writers per block (blocks of at most :data:`BLOCK_BYTES`), each block
   retried on failure, the session committed only when every block is written (``overwrite``),
   so a failed upload commits nothing (a partition the session had to create is dropped again).
3. :meth:`OdpsBackend.deploy` -- ``gmi_engine.kernel`` (+ the index library) as a zip
   ``archive`` resource, the UDTF module as a ``py`` resource, the user's numpy cp37 archive,
   and the function ``gmi_udtf``; resource names carry a content hash, so deploy is idempotent
   and a changed kernel gives new resources and an updated function.
4. :meth:`OdpsBackend.submit` / :meth:`OdpsBackend.wait` -- the SQL of :func:`run_sql` with the
   hints of :func:`job_hints`, submitted asynchronously; stage progress goes to a callback;
   failures raise :class:`BackendError` with the instance status, the task's error text, the
   task summary and the Logview address.
5. :meth:`OdpsBackend.download` -- the result partition into the workspace's GeoPackage store,
   one tile at a time (``replace_results``).

Credentials come from environment variables or a pyodps "room" (:meth:`OdpsConfig.from_env`),
never from command-line arguments or settings files, and are never logged or put in an error
message (every message is scrubbed; pyodps' request/signing debug loggers are held at INFO).
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import tarfile
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from gmi_engine.errors import BackendError, GmiInputError
from gmi_engine.grid import TileIndex
from gmi_engine.kernel.pipeline import METHODS, merged_params
from gmi_engine.kernel.records import RESULT_COLUMNS, SOURCE_COLUMNS
from gmi_engine.table import RESULT_SCHEMA, SOURCE_SCHEMA, ResultRow

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
"""Progress callback: (fraction done 0..1, a short note)."""

SOURCE_TABLE = "gmi_source"
RESULT_TABLE = "gmi_result"
FUNCTION_NAME = "gmi_udtf"
BATCH_KEY = "batch"
RUN_KEY = "run"
BLOCK_BYTES = 64 * 1024 * 1024
"""A tunnel block is closed once it holds this many encoded cell bytes (a retry resends it)."""
BLOCK_ATTEMPTS = 3
DEFAULT_UDF_MEMORY_MB = 3072
"""``odps.sql.udf.python.memory``: a tile of ~10 granules holds ~1-2 GB of float32 stacks."""
DEFAULT_BATCH_ROWCOUNT = 8
"""``odps.sql.executionengine.batch.rowcount``: a source row is up to ~10 MB (9 DN blobs)."""
UDF_TIMEOUT_S = 3600
"""``odps.function.timeout``: a batch that completes a tile runs the whole tile (max 3600 s)."""
STATE_FILE = "odps_state.json"
KERNEL_RESOURCE_PREFIX = "gmi_kernel_"
UDTF_RESOURCE_PREFIX = "gmi_udtf_"
NUMPY_RESOURCE_PREFIX = "gmi_numpy_"
_AUTH_CODES = ("SignatureNotMatch", "InvalidAccessKeyId", "AuthorizationRequired", "NoPermission",
               "AccessDenied", "AuthenticationRequestExpired", "Unauthorized")
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}\Z")
_PARTITION_VALUE_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}\Z")
_SECRET_LOGGERS = ("odps.rest", "odps.accounts")
"""pyodps loggers that print request headers (signature, STS token) at DEBUG."""

# ---------------------------------------------------------------------------------------------
# Connection


def _env(environ: Mapping[str, str], *names: str) -> Optional[str]:
    for name in names:
        value = (environ.get(name) or "").strip()
        if value:
            return value
    return None


@dataclass(frozen=True)
class OdpsConfig:
    """Where and as whom to connect. Secret fields are excluded from ``repr``."""

    project: str
    endpoint: str
    access_id: Optional[str] = field(default=None, repr=False)
    secret: Optional[str] = field(default=None, repr=False)
    sts_token: Optional[str] = field(default=None, repr=False)
    tunnel_endpoint: Optional[str] = None
    quota: Optional[str] = None
    logview_host: Optional[str] = None
    room: Optional[str] = None
    connect_timeout: float = 30.0
    read_timeout: float = 120.0

    ENV_HELP = (
        "ODPS_ACCESS_ID or ALIBABA_CLOUD_ACCESS_KEY_ID; ODPS_SECRET_ACCESS_KEY or "
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET; optional ODPS_STS_TOKEN or ALIBABA_CLOUD_SECURITY_TOKEN; "
        "ODPS_PROJECT_NAME; ODPS_ENDPOINT; optional ODPS_TUNNEL_ENDPOINT, ODPS_QUOTA_NAME, "
        "ODPS_LOGVIEW_HOST; or GMI_ODPS_ROOM naming a pyodps room (odps.inter.setup)")

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **overrides: Any) -> "OdpsConfig":
        """Read the connection from environment variables (see :attr:`ENV_HELP`).

        ``overrides`` (project, endpoint, tunnel_endpoint, quota, ...) win over the
        environment; secrets can only come from the environment or a pyodps room.
        """
        env = os.environ if environ is None else environ
        values = {
            "project": _env(env, "ODPS_PROJECT_NAME", "ODPS_PROJECT"),
            "endpoint": _env(env, "ODPS_ENDPOINT"),
            "access_id": _env(env, "ODPS_ACCESS_ID", "ALIBABA_CLOUD_ACCESS_KEY_ID"),
            "secret": _env(env, "ODPS_SECRET_ACCESS_KEY", "ODPS_ACCESS_KEY", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
            "sts_token": _env(env, "ODPS_STS_TOKEN", "ALIBABA_CLOUD_SECURITY_TOKEN"),
            "tunnel_endpoint": _env(env, "ODPS_TUNNEL_ENDPOINT"),
            "quota": _env(env, "ODPS_QUOTA_NAME"),
            "logview_host": _env(env, "ODPS_LOGVIEW_HOST"),
            "room": _env(env, "GMI_ODPS_ROOM"),
        }  # type: Dict[str, Any]
        for key in ("access_id", "secret", "sts_token"):
            if key in overrides:
                raise GmiInputError("{}: credentials are read from the environment only".format(key))
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values["room"] is None:
            missing = [label for key, label in (("access_id", "ODPS_ACCESS_ID"),
                                                ("secret", "ODPS_SECRET_ACCESS_KEY"),
                                                ("project", "ODPS_PROJECT_NAME"),
                                                ("endpoint", "ODPS_ENDPOINT")) if not values[key]]
            if missing:
                raise GmiInputError("MaxCompute connection: {} not set (environment: {})".format(
                    ", ".join(missing), cls.ENV_HELP))
        return cls(**{k: v for k, v in values.items() if v is not None or k in ("project", "endpoint")})

    def secrets(self) -> Tuple[str, ...]:
        """Values that must never appear in output (used to scrub messages)."""
        return tuple(v for v in (self.secret, self.sts_token) if v)

    def describe(self) -> str:
        """A one-line summary without any secret (the access id is shortened)."""
        if self.room:
            who = "pyodps room {!r}".format(self.room)
        else:
            short = (self.access_id[:4] + "..." + self.access_id[-2:]) if self.access_id and len(self.access_id) > 8 else "***"
            who = "access id {}{}".format(short, " + STS token" if self.sts_token else "")
        parts = ["project {}".format(self.project or "(room's)"), "endpoint {}".format(self.endpoint or "(room's)"),
                 who]
        if self.tunnel_endpoint:
            parts.append("tunnel {}".format(self.tunnel_endpoint))
        if self.quota:
            parts.append("quota {}".format(self.quota))
        return ", ".join(parts)


def _hold_secret_loggers() -> None:
    for name in _SECRET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO or logger.level < logging.INFO:
            logger.setLevel(logging.INFO)


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret value (and Authorization / STS header values) masked."""
    for value in secrets:
        if value:
            text = text.replace(value, "***")
    text = re.sub(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(ODPS\s+)?[^\s'\",}]+(:[^\s'\",}]+)?",
                  r"\1***", text)
    return re.sub(r"(?i)(authorization-sts-token['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+", r"\1***", text)


def connect(config: OdpsConfig):
    """An ``odps.ODPS`` entry for ``config`` (pyodps global options are left alone)."""
    from odps import ODPS, options
    from odps.accounts import StsAccount

    _hold_secret_loggers()
    options.connect_timeout = max(1, int(round(config.connect_timeout)))
    options.read_timeout = max(1, int(round(config.read_timeout)))
    with _odps_errors("connect to MaxCompute ({})".format(config.describe()), config.secrets()):
        if config.room:
            from odps.errors import InteractiveError
            from odps.inter import enter

            try:
                return enter(config.room).odps
            except InteractiveError as exc:
                raise BackendError("pyodps room {!r}: {}".format(config.room, exc)) from None
        kwargs = dict(project=config.project, endpoint=config.endpoint, overwrite_global=False,
                      tunnel_endpoint=config.tunnel_endpoint, logview_host=config.logview_host)
        if config.sts_token:
            return ODPS(StsAccount(config.access_id, config.secret, config.sts_token), **kwargs)
        return ODPS(config.access_id, config.secret, **kwargs)


def _error_code(exc: BaseException) -> str:
    code = getattr(exc, "code", None) or type(exc).__name__
    return str(code).split(":", 1)[0]


@contextmanager
def _odps_errors(what: str, secrets: Sequence[str]) -> Iterator[None]:
    """Turn pyodps / network errors into BackendError naming ``what``, without secrets."""
    import requests
    from odps import errors as odps_errors

    try:
        yield
    except BackendError:
        raise
    except requests.exceptions.Timeout as exc:
        raise BackendError(scrub("{}: MaxCompute did not answer in time ({})".format(
            what, type(exc).__name__), secrets)) from None
    except requests.exceptions.RequestException as exc:
        raise BackendError(scrub("{}: cannot reach MaxCompute ({}: {})".format(
            what, type(exc).__name__, exc), secrets)) from None
    except odps_errors.BaseODPSError as exc:
        code = _error_code(exc)
        message = str(exc.args[0] if exc.args else exc).strip()
        text = "{}: {} {}".format(what, code, message)
        if code in _AUTH_CODES or getattr(exc, "status_code", None) in (401, 403):
            text += (" -- MaxCompute refused the credentials or their permissions; check the "
                     "access id / secret / STS token in the environment (values are not shown)")
        request_id = getattr(exc, "request_id", None)
        if request_id:
            text += " [request id {}]".format(request_id)
        raise BackendError(scrub(text, secrets)) from None


# ---------------------------------------------------------------------------------------------
# Tables and SQL


def _check_name(value: str, what: str) -> str:
    if not _NAME_RE.match(value or ""):
        raise GmiInputError("{}: {!r} is not a MaxCompute name (letters, digits, _; starts with a "
                            "letter)".format(what, value))
    return value


def _check_partition_value(value: str, what: str) -> str:
    if not _PARTITION_VALUE_RE.match(value or ""):
        raise GmiInputError("{}: {!r} may only hold letters, digits, '_', '.', '-'".format(what, value))
    return value


def odps_table_schema(schema, partitions: Sequence[Tuple[str, str]]):
    """An ``odps.models.TableSchema`` of a :class:`gmi_engine.table.TableSchema` + partition keys."""
    from odps.models import TableSchema
    from odps.types import Column, Partition

    return TableSchema(
        columns=[Column(name=n, type=t, comment=c) for n, t, c in schema.odps_columns()],
        partitions=[Partition(name=n, type="string", comment=c) for n, c in partitions])


SOURCE_PARTITIONS = ((BATCH_KEY, "upload batch (gmi odps upload --batch)"),)
RESULT_PARTITIONS = ((BATCH_KEY, "source batch the results were computed from"),
                     (RUN_KEY, "run id: method + hash of parameters and tile selection"))


def sql_literal(text: str, what: str) -> str:
    """A single-quoted SQL string; text with quotes, backslashes or control characters is refused."""
    if any(ch in text for ch in "'\\") or any(ord(ch) < 32 for ch in text):
        raise GmiInputError("{}: {!r} holds a quote, backslash or control character, which GMI "
                            "does not put into SQL".format(what, text))
    return "'{}'".format(text)


def run_id(method: str, params: Mapping[str, Any], tiles: Optional[Sequence[TileIndex]]) -> str:
    """``<method>_<10 hex>``: the result partition of one method/parameters/tile selection."""
    key = {"method": method, "params": merged_params(params),
           "tiles": None if tiles is None else sorted([t.ix, t.iy] for t in tiles)}
    return "{}_{}".format(method, hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10])


def run_sql(method: str, params: Mapping[str, Any], batch: str, run: str,
            tiles: Optional[Sequence[TileIndex]] = None, source_table: str = SOURCE_TABLE,
            result_table: str = RESULT_TABLE, function: str = FUNCTION_NAME) -> str:
    """The job: the UDTF over the batch's rows, grouped by tile and sorted by acquisition."""
    if method not in METHODS:
        raise GmiInputError("method: {!r} is not one of {}".format(method, ", ".join(METHODS)))
    params_json = json.dumps(merged_params(params), sort_keys=True, separators=(",", ":"))
    where = "{} = {}".format(BATCH_KEY, sql_literal(_check_partition_value(batch, "batch"), "batch"))
    if tiles:
        where += "\n    AND ({})".format(" OR ".join(
            "(tile_x = {} AND tile_y = {})".format(int(t.ix), int(t.iy)) for t in tiles))
    args = ", ".join("`{}`".format(c) for c in SOURCE_COLUMNS)
    outputs = ", ".join("`{}`".format(c) for c in RESULT_COLUMNS)
    return (
        "INSERT OVERWRITE TABLE {result} PARTITION ({bk} = {batch}, {rk} = {run})\n"
        "SELECT {function}({method}, {params}, {args})\n"
        "  AS ({outputs})\n"
        "FROM (\n"
        "  SELECT * FROM {source}\n"
        "  WHERE {where}\n"
        "  DISTRIBUTE BY tile_x, tile_y\n"
        "  SORT BY tile_x, tile_y, acquired, granule_id\n"
        ") t;".format(result=_check_name(result_table, "result table"), bk=BATCH_KEY,
                      batch=sql_literal(batch, "batch"), rk=RUN_KEY,
                      run=sql_literal(_check_partition_value(run, "run"), "run"),
                      function=_check_name(function, "function"), method=sql_literal(method, "method"),
                      params=sql_literal(params_json, "params"), args=args, outputs=outputs,
                      source=_check_name(source_table, "source table"), where=where))


def job_hints(udf_memory_mb: int = DEFAULT_UDF_MEMORY_MB, batch_rowcount: int = DEFAULT_BATCH_ROWCOUNT,
              extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Flags set with every GMI job (``SET`` statements submitted with the SQL)."""
    if not 64 <= int(udf_memory_mb) <= 12288:
        raise GmiInputError("udf memory: {} MB is outside 64..12288".format(udf_memory_mb))
    if not 1 <= int(batch_rowcount) <= 1024:
        raise GmiInputError("batch rowcount: {} is outside 1..1024".format(batch_rowcount))
    hints = {
        "odps.sql.python.version": "cp37",
        "odps.isolation.session.enable": "true",
        "odps.sql.type.system.odps2": "true",
        "odps.sql.udf.python.memory": str(int(udf_memory_mb)),
        "odps.sql.executionengine.batch.rowcount": str(int(batch_rowcount)),
        "odps.function.timeout": str(UDF_TIMEOUT_S),
        "odps.sql.timezone": "UTC",
    }
    hints.update({str(k): str(v) for k, v in (extra or {}).items()})
    return hints


# ---------------------------------------------------------------------------------------------
# The deploy bundle


def _zip_bytes(files: Sequence[Tuple[str, bytes]]) -> bytes:
    """A deterministic zip (sorted names, fixed timestamps): same content -> same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buf.getvalue()


def kernel_bundle() -> bytes:
    """``gmi_engine/kernel/*.py``, its ``data/`` (the index library) + a minimal package ``__init__``, zipped."""
    import gmi_engine
    from gmi_engine import kernel

    kernel_dir = Path(kernel.__file__).parent
    files = [("gmi_engine/__init__.py",
              '"""GMI kernel bundle for MaxCompute (made by gmi odps deploy)."""\n'
              '__version__ = "{}"\n'.format(gmi_engine.__version__).encode())]
    for path in sorted(kernel_dir.glob("*.py")):
        files.append(("gmi_engine/kernel/" + path.name, path.read_bytes()))
    for path in sorted((kernel_dir / "data").glob("*.json")):
        files.append(("gmi_engine/kernel/data/" + path.name, path.read_bytes()))
    return _zip_bytes(files)


def _short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def udtf_source(bundle_resources: Sequence[str]) -> bytes:
    """The UDTF module with :data:`BUNDLE_RESOURCES` filled in for MaxCompute."""
    from gmi_engine.backends import udtf

    text = Path(udtf.__file__).read_text(encoding="utf-8")
    marker = "BUNDLE_RESOURCES = ()  # gmi-deploy: resources"
    if text.count(marker) != 1:
        raise BackendError("{}: the deploy marker line is missing".format(udtf.__file__))
    filled = "BUNDLE_RESOURCES = {!r}  # gmi-deploy: resources".format(tuple(bundle_resources))
    return text.replace(marker, filled).encode("utf-8")


_NUMPY_CORE = re.compile(r"(?:^|/)numpy/core/_multiarray_umath\.cpython-(\d+)m?-([a-z0-9_]+)-linux-gnu\.so\Z")


def numpy_resource_name(path: Path, data: bytes) -> str:
    """Check a numpy archive for MaxCompute (CPython 3.7, Linux x86_64); its resource name.

    Accepted: a ``numpy-*-cp37-cp37m-manylinux*_x86_64.whl`` (uploaded as ``.zip``), a zip of
    one, or a ``pyodps-pack`` ``.tar.gz`` (``packages/numpy/...``).
    """
    name = path.name.lower()
    if name.endswith(".whl") or name.endswith(".zip"):
        ext = "zip"
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = archive.namelist()
        except zipfile.BadZipFile:
            raise GmiInputError("{}: not a zip/wheel archive".format(path)) from None
    elif name.endswith(".tar.gz") or name.endswith(".tgz"):
        ext = "tar.gz"
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
                members = archive.getnames()
        except (tarfile.TarError, OSError):
            raise GmiInputError("{}: not a .tar.gz archive".format(path)) from None
    else:
        raise GmiInputError("{}: give a numpy cp37 wheel (.whl), a zip of one, or a pyodps-pack "
                            ".tar.gz".format(path))
    cores = [m for m in (_NUMPY_CORE.search(n) for n in members) if m]
    if not cores:
        raise GmiInputError("{}: no numpy/core/_multiarray_umath extension inside; is this a numpy "
                            "binary archive?".format(path))
    if not any(m.group(1) == "37" and m.group(2) == "x86_64" for m in cores):
        found = ", ".join(sorted({"cp{} {}".format(m.group(1), m.group(2)) for m in cores}))
        raise GmiInputError("{}: numpy is built for {}; MaxCompute Python 3 UDFs run CPython 3.7 on "
                            "Linux x86_64 (use a cp37-cp37m-manylinux*_x86_64 wheel or "
                            "`pyodps-pack --python-version 3.7 numpy`)".format(path, found))
    return "{}{}.{}".format(NUMPY_RESOURCE_PREFIX, _short_hash(data), ext)


@dataclass
class DeployPlan:
    """What deploy uploads and registers (everything named by content hash)."""

    kernel_name: str
    kernel_bytes: bytes
    numpy_name: str
    numpy_bytes: Optional[bytes]  # None: the numpy resource already exists in the project
    udtf_name: str
    udtf_bytes: bytes
    function: str

    @property
    def class_type(self) -> str:
        """``module.Class`` of the function (the py resource's module)."""
        return "{}.GmiUdtf".format(self.udtf_name[:-3])

    @property
    def resources(self) -> List[str]:
        """The function's resource list: UDTF module, kernel archive, numpy archive."""
        return [self.udtf_name, self.kernel_name, self.numpy_name]


def deploy_plan(numpy_archive: Optional[Path] = None, numpy_resource: Optional[str] = None,
                function: str = FUNCTION_NAME) -> DeployPlan:
    """Build the bundle locally (no network)."""
    if (numpy_archive is None) == (numpy_resource is None):
        raise GmiInputError("deploy: give either a numpy archive file or the name of a numpy archive "
                            "resource already in the project")
    kernel = kernel_bundle()
    kernel_name = "{}{}.zip".format(KERNEL_RESOURCE_PREFIX, _short_hash(kernel))
    numpy_bytes = None
    if numpy_archive is not None:
        try:
            numpy_bytes = Path(numpy_archive).read_bytes()
        except OSError as exc:
            raise GmiInputError("{}: cannot read the numpy archive ({})".format(numpy_archive, exc)) from None
        numpy_name = numpy_resource_name(Path(numpy_archive), numpy_bytes)
    else:
        numpy_name = numpy_resource
    udtf_bytes = udtf_source([kernel_name, numpy_name])
    udtf_name = "{}{}.py".format(UDTF_RESOURCE_PREFIX, _short_hash(udtf_bytes))
    return DeployPlan(kernel_name, kernel, numpy_name, numpy_bytes, udtf_name, udtf_bytes,
                      _check_name(function, "function"))


# ---------------------------------------------------------------------------------------------
# Reports


@dataclass
class UploadReport:
    batch: str
    rows: int
    blocks: int
    bytes: int
    seconds: float
    fingerprint: str


@dataclass
class DeployReport:
    function: str
    class_type: str
    resources: List[str]
    uploaded: List[str]
    function_action: str  # created / updated / unchanged


@dataclass
class JobStatus:
    instance_id: str
    state: str  # running / success / failed / cancelled
    fraction: float = 0.0
    stages: str = ""
    logview: Optional[str] = None
    error: str = ""
    summary: str = ""


@dataclass
class DownloadReport:
    batch: str
    run: str
    rows: int
    tiles: int
    seconds: float


# ---------------------------------------------------------------------------------------------
# The backend


def _cells(row, names: Sequence[str]) -> List[Any]:
    record = row.to_dict()
    record["acquired"] = record["acquired"].astimezone(timezone.utc)
    return [record[n] for n in names]


def _row_bytes(values: Sequence[Any]) -> int:
    return sum(len(v) for v in values if isinstance(v, (bytes, str)))


def store_fingerprint(workspace) -> str:
    """A cheap fingerprint of a workspace's source table (row, granule, tile counts, blob bytes)."""
    from gmi_engine.backends.local import LocalStore

    with LocalStore(workspace, create=False) as store:
        stats = store.stats()
    return hashlib.sha256(json.dumps([stats.source_rows, stats.granules, stats.tiles,
                                      stats.source_blob_bytes]).encode()).hexdigest()[:16]


class OdpsBackend:
    """GMI's tables, bundle and jobs in one MaxCompute project."""

    def __init__(self, config: OdpsConfig, odps: Any = None, source_table: str = SOURCE_TABLE,
                 result_table: str = RESULT_TABLE, function: str = FUNCTION_NAME,
                 block_bytes: int = BLOCK_BYTES, block_attempts: int = BLOCK_ATTEMPTS,
                 retry_delay: float = 1.0) -> None:
        self.config = config
        self._odps = odps
        self.source_table = _check_name(source_table, "source table")
        self.result_table = _check_name(result_table, "result table")
        self.function = _check_name(function, "function")
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
        return _odps_errors(what, self.config.secrets())

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

        _check_partition_value(batch, "batch")
        spec = "{}={}".format(BATCH_KEY, batch)
        start = time.monotonic()
        with LocalStore(workspace, create=False) as store:
            total = store.stats().source_rows if tiles is None else None
            with self._errors("upload to {} partition {}".format(self.source_table, spec)):
                existed = self.odps.get_table(self.source_table).exist_partition(spec)
                session = self._tunnel().create_upload_session(
                    self.source_table, partition_spec=spec, overwrite=True, create_partition=True)
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

    def _drop_partition(self, table: str, spec: str) -> None:
        try:
            with self._errors("drop partition {} of {}".format(spec, table)):
                self.odps.get_table(table).delete_partition(spec, if_exists=True)
        except BackendError as exc:
            log.warning("could not remove the partition this failed upload created: %s", exc)

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
        kernel_name = "{}{}.zip".format(KERNEL_RESOURCE_PREFIX, _short_hash(kernel_bundle()))
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
        if udtf[0] != "{}{}.py".format(UDTF_RESOURCE_PREFIX, _short_hash(expected)):
            return False, "function {} uses another UDTF module ({}); run `gmi odps deploy`".format(
                self.function, udtf[0])
        return True, "function {} = {} ({})".format(self.function, func.class_type, ", ".join(resources))

    # -- jobs ---------------------------------------------------------------------------------
    def submit(self, batch: str, method: str, params: Optional[Mapping[str, Any]] = None,
               tiles: Optional[Sequence[TileIndex]] = None, hints: Optional[Mapping[str, str]] = None,
               check_function: bool = True) -> Tuple[str, str, str]:
        """Submit the job asynchronously; returns (instance id, run id, SQL)."""
        params = dict(params or {})
        run = run_id(method, params, tiles)
        sql = run_sql(method, params, batch, run, tiles, self.source_table, self.result_table, self.function)
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
             interval: float = 5.0) -> JobStatus:
        """Poll until the instance ends; raise BackendError unless it succeeded.

        Polls start at 0.5 s apart and slow down to ``interval``.
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
            time.sleep(delay)
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
        about one tile).
        """
        from gmi_engine.backends.local import LocalStore

        spec = "{}={},{}={}".format(BATCH_KEY, _check_partition_value(batch, "batch"), RUN_KEY,
                                    _check_partition_value(run, "run"))
        start = time.monotonic()
        key_cols = ["tile_x", "tile_y", "method", "output"]
        with self._errors("download {} partition {}".format(self.result_table, spec)):
            if not self.odps.get_table(self.result_table).exist_partition(spec):
                raise BackendError("{} has no partition {} (did the run finish?)".format(self.result_table, spec))
            session = self._tunnel().create_download_session(self.result_table, partition_spec=spec)
            count = int(session.count)
            expected = {}  # type: Dict[Tuple[int, int, str], int]
            for values in self._read(session, count, chunk_rows, key_cols):
                key = (int(values[0]), int(values[1]), values[2])
                expected[key] = expected.get(key, 0) + 1
        pending = {}  # type: Dict[Tuple[int, int, str], List[ResultRow]]
        done = 0
        with LocalStore(workspace, create=False) as store:
            with self._errors("download {} partition {}".format(self.result_table, spec)):
                for values in self._read(session, count, chunk_rows, list(RESULT_COLUMNS)):
                    row = ResultRow.from_dict(dict(zip(RESULT_COLUMNS, values)))
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
        return DownloadReport(batch, run, count, len(expected), time.monotonic() - start)

    @staticmethod
    def _read(session, count: int, chunk_rows: int, columns: List[str]) -> Iterator[List[Any]]:
        for first in range(0, count, chunk_rows):
            with session.open_record_reader(first, min(chunk_rows, count - first), columns=columns) as reader:
                for record in reader:
                    yield [record[c] for c in columns]


# ---------------------------------------------------------------------------------------------
# Workspace state (which batch was uploaded, which runs were submitted)


def load_state(workspace) -> Dict[str, Any]:
    """``<workspace>/odps_state.json`` (empty when missing). Holds no secret."""
    path = Path(workspace) / STATE_FILE
    if not path.exists():
        return {"runs": {}}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackendError("{}: unreadable ({}); delete it to start over".format(path, exc)) from None
    state.setdefault("runs", {})
    return state


def save_state(workspace, state: Mapping[str, Any]) -> None:
    """Write the state file atomically."""
    path = Path(workspace) / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(str(tmp), str(path))


def default_batch(workspace) -> str:
    """The batch recorded for the workspace, else a name made from its folder name."""
    state = load_state(workspace)
    if state.get("batch"):
        return state["batch"]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(workspace).resolve().name)[:64].strip("._-")
    return name or "default"


def now_text() -> str:
    """UTC now as ISO text (for the state file)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
