"""Table schemas, names, run ids, the job SQL and its hints."""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from gmi_engine.errors import GmiInputError
from gmi_engine.grid import TileIndex
from gmi_engine.kernel.pipeline import METHODS, merged_params
from gmi_engine.kernel.records import ON_ERROR_PARAM, RESULT_COLUMNS, SOURCE_COLUMNS

SOURCE_TABLE = "gmi_source"
RESULT_TABLE = "gmi_result"
FUNCTION_NAME = "gmi_udtf"
BATCH_KEY = "batch"
RUN_KEY = "run"
DEFAULT_REDUCER_MEMORY_MB = 4096
"""``odps.stage.reducer.mem``: the UDTF runs in the reduce stage; a tile of ~10 granules holds
~1-2 GB of float32 stacks (documented range 256..12288 MB, default 1024)."""
DEFAULT_BATCH_ROWCOUNT = 8
"""``odps.sql.executionengine.batch.rowcount``: a source row is up to ~10 MB (9 DN blobs)."""
UDF_TIMEOUT_S = 3600
"""``odps.function.timeout``: a batch that completes a tile runs the whole tile (max 3600 s)."""

_SET_DOC = "https://www.alibabacloud.com/help/en/maxcompute/user-guide/set"
_FLAGS_DOC = "https://www.alibabacloud.com/help/en/maxcompute/user-guide/flag-parameters"
_TIMEOUT_DOC = "https://www.alibabacloud.com/help/en/maxcompute/user-guide/odps-0123144"
DOCUMENTED_FLAGS = {
    "odps.sql.python.version": "https://www.alibabacloud.com/help/en/maxcompute/user-guide/python-3-udtfs",
    "odps.isolation.session.enable": "https://www.alibabacloud.com/help/en/document_detail/189752.html",
    "odps.sql.type.system.odps2": _FLAGS_DOC,
    "odps.sql.timezone": _FLAGS_DOC,
    "odps.function.timeout": _TIMEOUT_DOC,
    "odps.sql.executionengine.batch.rowcount": _TIMEOUT_DOC,
    "odps.stage.reducer.mem": _SET_DOC,
    "odps.stage.reducer.num": _SET_DOC,
    "odps.job.workers.limit": _SET_DOC,
}
"""The flags GMI sets on its own, each with the Alibaba Cloud page that documents it. Any other
flag is the user's choice (``--hint KEY=VALUE``)."""
UDF_PYTHON_MEMORY_FLAG = "odps.sql.udf.python.memory"
"""Set only with ``--udf-memory``: the Python worker's memory is named in Alibaba engineers'
articles (64..3072 MB, default 256) but not in the official flag list."""
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}\Z")
_PARTITION_VALUE_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}\Z")



def check_name(value: str, what: str) -> str:
    """``value`` when it is a MaxCompute table or function name, else GmiInputError."""
    if not _NAME_RE.match(value or ""):
        raise GmiInputError("{}: {!r} is not a MaxCompute name (letters, digits, _; starts with a "
                            "letter)".format(what, value))
    return value


def check_partition_value(value: str, what: str) -> str:
    """``value`` when it can be a partition value (batch, run), else GmiInputError."""
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
            result_table: str = RESULT_TABLE, function: str = FUNCTION_NAME, fail_fast: bool = False) -> str:
    """The job: the UDTF over the batch's rows, grouped by tile and sorted by acquisition.

    A tile the kernel fails on becomes an error row unless ``fail_fast`` (then the job fails).
    """
    if method not in METHODS:
        raise GmiInputError("method: {!r} is not one of {}".format(method, ", ".join(METHODS)))
    udtf_params = dict(merged_params(params))
    if fail_fast:
        udtf_params[ON_ERROR_PARAM] = "fail"
    params_json = json.dumps(udtf_params, sort_keys=True, separators=(",", ":"))
    where = "{} = {}".format(BATCH_KEY, sql_literal(check_partition_value(batch, "batch"), "batch"))
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
        ") t;".format(result=check_name(result_table, "result table"), bk=BATCH_KEY,
                      batch=sql_literal(batch, "batch"), rk=RUN_KEY,
                      run=sql_literal(check_partition_value(run, "run"), "run"),
                      function=check_name(function, "function"), method=sql_literal(method, "method"),
                      params=sql_literal(params_json, "params"), args=args, outputs=outputs,
                      source=check_name(source_table, "source table"), where=where))


def _in_range(value: int, low: int, high: int, what: str) -> str:
    if not low <= int(value) <= high:
        raise GmiInputError("{}: {} is outside {}..{}".format(what, value, low, high))
    return str(int(value))


def job_hints(batch_rowcount: int = DEFAULT_BATCH_ROWCOUNT, reducer_memory_mb: int = DEFAULT_REDUCER_MEMORY_MB,
              reducers: Optional[int] = None, max_workers: Optional[int] = None,
              udf_memory_mb: Optional[int] = None, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The flags (``SET`` statements) submitted with a GMI job: only :data:`DOCUMENTED_FLAGS`,
    plus ``odps.sql.udf.python.memory`` when ``udf_memory_mb`` is given and the ``extra`` hints.

    ``reducers`` (``odps.stage.reducer.num``, 1..10000) sets how many UDTF instances share the
    tiles; ``max_workers`` (``odps.job.workers.limit``) caps the job's concurrent workers.
    """
    hints = {
        "odps.sql.python.version": "cp37",
        "odps.isolation.session.enable": "true",  # binary wheels (numpy) in a Python UDF
        "odps.sql.type.system.odps2": "true",  # BINARY columns
        "odps.sql.timezone": "UTC",  # `acquired` reaches the UDTF as UTC
        "odps.function.timeout": str(UDF_TIMEOUT_S),
        "odps.sql.executionengine.batch.rowcount": _in_range(batch_rowcount, 1, 1024, "batch rowcount"),
        "odps.stage.reducer.mem": _in_range(reducer_memory_mb, 256, 12288, "reducer memory (MB)"),
    }
    if reducers is not None:
        hints["odps.stage.reducer.num"] = _in_range(reducers, 1, 10000, "reducers")
    if max_workers is not None:
        hints["odps.job.workers.limit"] = _in_range(max_workers, 1, 1000000, "max workers")
    if udf_memory_mb is not None:
        hints[UDF_PYTHON_MEMORY_FLAG] = _in_range(udf_memory_mb, 64, 3072, "udf memory (MB)")
    for key, value in (extra or {}).items():
        key = str(key).strip()
        if not re.match(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+\Z", key):
            raise GmiInputError("--hint: {!r} is not a MaxCompute flag name (e.g. odps.stage.mapper.mem)".format(key))
        hints[key] = str(value)
    return hints
