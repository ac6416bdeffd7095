"""Table schemas, names, run ids, the job SQL and its hints."""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from gmi_engine.errors import GmiInputError
from gmi_engine.grid import TileIndex
from gmi_engine.kernel.pipeline import METHODS, merged_params
from gmi_engine.kernel.records import RESULT_COLUMNS, SOURCE_COLUMNS

SOURCE_TABLE = "gmi_source"
RESULT_TABLE = "gmi_result"
FUNCTION_NAME = "gmi_udtf"
BATCH_KEY = "batch"
RUN_KEY = "run"
DEFAULT_UDF_MEMORY_MB = 3072
"""``odps.sql.udf.python.memory``: a tile of ~10 granules holds ~1-2 GB of float32 stacks."""
DEFAULT_BATCH_ROWCOUNT = 8
"""``odps.sql.executionengine.batch.rowcount``: a source row is up to ~10 MB (9 DN blobs)."""
UDF_TIMEOUT_S = 3600
"""``odps.function.timeout``: a batch that completes a tile runs the whole tile (max 3600 s)."""
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
            result_table: str = RESULT_TABLE, function: str = FUNCTION_NAME) -> str:
    """The job: the UDTF over the batch's rows, grouped by tile and sorted by acquisition."""
    if method not in METHODS:
        raise GmiInputError("method: {!r} is not one of {}".format(method, ", ".join(METHODS)))
    params_json = json.dumps(merged_params(params), sort_keys=True, separators=(",", ":"))
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
