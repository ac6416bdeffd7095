"""MaxCompute (ODPS) backend through pyodps: tables, tunnel, resources, UDTF, SQL, progress.

Modules: :mod:`.config` (connection), :mod:`.sql` (tables, SQL, hints), :mod:`.deploy` (bundle),
:mod:`.client` (:class:`OdpsBackend` and its reports), :mod:`.state` (the workspace state file),
:mod:`.service` (:func:`run_odps`, the whole job, and its steps), :mod:`.smoke` (one tile end to
end against the local kernel).

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
message (every message is scrubbed; pyodps' request logger is held at INFO and its signing logger at WARNING).
"""
from gmi_engine.backends.odps.client import (
    BLOCK_ATTEMPTS,
    BLOCK_BYTES,
    DeployReport,
    DownloadReport,
    JobStatus,
    OdpsBackend,
    ResultPartition,
    TileFailure,
    UploadReport,
    store_fingerprint,
)
from gmi_engine.backends.odps.config import OdpsConfig, connect, scrub
from gmi_engine.backends.odps.deploy import (
    KERNEL_RESOURCE_PREFIX,
    NUMPY_RESOURCE_PREFIX,
    UDTF_RESOURCE_PREFIX,
    DeployPlan,
    deploy_plan,
    kernel_bundle,
    numpy_resource_name,
    udtf_source,
)
from gmi_engine.backends.odps.service import (
    OdpsRunReport,
    SubmittedJob,
    download_and_record,
    failures_text,
    run_odps,
    submit_and_record,
    upload_if_changed,
)
from gmi_engine.backends.odps.smoke import SmokeReport, smoke_check
from gmi_engine.backends.odps.sql import (
    BATCH_KEY,
    DEFAULT_BATCH_ROWCOUNT,
    DEFAULT_REDUCER_MEMORY_MB,
    DOCUMENTED_FLAGS,
    FUNCTION_NAME,
    RESULT_TABLE,
    RUN_KEY,
    SOURCE_TABLE,
    job_hints,
    odps_table_schema,
    run_id,
    run_sql,
    sql_literal,
)
from gmi_engine.backends.odps.state import STATE_FILE, default_batch, load_state, now_text, save_state

__all__ = [
    "BATCH_KEY", "BLOCK_ATTEMPTS", "BLOCK_BYTES", "DEFAULT_BATCH_ROWCOUNT", "DEFAULT_REDUCER_MEMORY_MB",
    "DOCUMENTED_FLAGS", "FUNCTION_NAME", "KERNEL_RESOURCE_PREFIX", "NUMPY_RESOURCE_PREFIX", "RESULT_TABLE",
    "RUN_KEY", "SOURCE_TABLE", "STATE_FILE", "UDTF_RESOURCE_PREFIX", "DeployPlan", "DeployReport", "DownloadReport",
    "JobStatus", "OdpsBackend", "OdpsConfig", "OdpsRunReport", "ResultPartition", "SmokeReport", "SubmittedJob",
    "TileFailure", "UploadReport", "connect", "default_batch", "deploy_plan", "download_and_record",
    "failures_text", "job_hints", "kernel_bundle", "load_state", "now_text", "numpy_resource_name",
    "odps_table_schema", "run_id", "run_odps", "run_sql", "save_state", "scrub", "smoke_check", "sql_literal",
    "store_fingerprint", "submit_and_record", "udtf_source", "upload_if_changed",
]
