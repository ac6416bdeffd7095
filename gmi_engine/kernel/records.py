"""Table cells <-> kernel dicts, for backends that only see raw records (the MaxCompute UDTF).

A MaxCompute UDTF receives the cells of a ``gmi_source`` row (blob bytes, JSON text, an
``acquired`` datetime) and must emit the cells of ``gmi_result`` rows. This module does both
conversions with numpy + the standard library only, so that the UDTF produces **exactly** the
bytes the local backend stores:

- :func:`kernel_row` gives the same dict as ``gmi_engine.backends.local_runner.kernel_row``
  (decoded arrays, parsed JSON, ``acquired`` as ``YYYY-MM-DDThh:mm:ss.mmmZ`` text, bbox tuple);
- :func:`result_cells` gives the same cells as ``gmi_engine.table.ResultRow.to_dict()`` for a
  result dict of :func:`gmi_engine.kernel.pipeline.run` plus the inputs digest.

The column names are defined here, once: ``gmi_engine.table`` builds its schemas from them
(the kernel may not import the table module). Python 3.7 syntax.
"""
import calendar
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from gmi_engine.kernel import blob
from gmi_engine.kernel.bands import BAND_COLUMNS
from gmi_engine.kernel.errors import BlobError, CellTooLargeError, SchemaError

DN_BANDS = BAND_COLUMNS
"""DN blob columns b01..b09 (b03 is ASTER band 3N)."""
MODIS_BANDS = tuple("m{:02d}".format(i) for i in range(1, 8))
"""MODIS reference blob columns m01..m07 (MOD09A1 bands 1-7)."""
BBOX_COLUMNS = ("min_row", "max_row", "min_col", "max_col")
SOURCE_COLUMNS = (("granule_id", "tile_x", "tile_y", "acquired", "meta") + BBOX_COLUMNS + DN_BANDS
                  + ("ac",) + MODIS_BANDS + ("quality",))
"""``gmi_source`` column names in table order (== ``gmi_engine.table.SOURCE_SCHEMA.names``)."""
RESULT_COLUMNS = ("tile_x", "tile_y", "method", "output", "dtype", "height", "width", "data", "meta")
"""``gmi_result`` column names in table order (== ``gmi_engine.table.RESULT_SCHEMA.names``)."""
MASK_OUTPUT = "valid_mask"
"""Output name of the valid-data mask in the result table (uint8, 1 = valid)."""
DIGEST_KEY = "inputs_sha256"
"""Key of the inputs digest in a result row's meta (as the local runner writes it)."""
ERROR_OUTPUT = "_error"
"""Output name of a tile's error row: the kernel failed on that tile (``meta`` says why)."""
ON_ERROR_PARAM = "udtf_on_error"
"""Key in the UDTF's params JSON: ``"row"`` (default: a failed tile becomes an error row) or
``"fail"`` (the first failed tile fails the whole job, ``--fail-fast``). The UDTF removes it
before the kernel sees the params."""
ON_ERROR_CHOICES = ("row", "fail")

_OUTPUT_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def format_utc(moment: datetime) -> str:
    """``2006-09-06T18:02:42.347Z``: UTC, milliseconds (truncated), a trailing Z."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "{:03d}Z".format(moment.microsecond // 1000)


def utc_text(value: Any, column: str = "acquired") -> str:
    """The ``acquired`` cell as the kernel's UTC text.

    Accepts an aware datetime, a naive datetime (taken as UTC: the ODPS backend runs its jobs
    with ``odps.sql.timezone`` set to UTC), ISO-8601 text with a zone, or epoch milliseconds.
    """
    if isinstance(value, bool):
        raise SchemaError("{}: {!r} is not a date-time".format(column, value))
    if isinstance(value, (int, np.integer)):
        return format_utc(_EPOCH + timedelta(milliseconds=int(value)))
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.strptime(text.replace("Z", "+0000").replace("+00:00", "+0000"),
                                       "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            try:
                moment = datetime.strptime(text.replace("Z", "+0000").replace("+00:00", "+0000"),
                                           "%Y-%m-%dT%H:%M:%S%z")
            except ValueError:
                raise SchemaError("{}: {!r} is not ISO-8601 UTC text such as "
                                  "2006-09-06T18:02:42.347Z".format(column, value)) from None
        return format_utc(moment)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return format_utc(value)
    raise SchemaError("{}: expected a datetime, got {}".format(column, type(value).__name__))


def epoch_millis(text: str) -> int:
    """Milliseconds since 1970-01-01 UTC of kernel UTC text (exact integer arithmetic)."""
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return calendar.timegm(moment.timetuple()) * 1000 + moment.microsecond // 1000


def _int(value: Any, column: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise SchemaError("{}: {!r} is not an integer".format(column, value))
    if value < 0:
        raise SchemaError("{}: {} is below 0".format(column, value))
    return int(value)


def _text(value: Any, column: str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if not isinstance(value, str) or not value or value != value.strip():
        raise SchemaError("{}: {!r} must be a non-empty string without surrounding blanks".format(
            column, value))
    return value


def load_json(value: Any, column: str) -> Dict[str, Any]:
    """A JSON object from a text (or bytes) cell; SchemaError naming ``column`` otherwise."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8")
    if not isinstance(value, str):
        raise SchemaError("{}: expected JSON text, got {}".format(column, type(value).__name__))
    try:
        obj = json.loads(value)
    except ValueError as exc:
        raise SchemaError("{}: not valid JSON ({})".format(column, exc)) from None
    if not isinstance(obj, dict):
        raise SchemaError("{}: expected a JSON object, got {}".format(column, type(obj).__name__))
    return obj


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, datetime):
        return format_utc(value) if value.tzinfo else value.isoformat()
    raise TypeError("{} is not JSON serialisable".format(type(value).__name__))


def dump_json(obj: Mapping[str, Any], column: str) -> str:
    """Compact, key-sorted, strict JSON (the same text as ``gmi_engine.table.dump_json``)."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise SchemaError("{}: cannot be written as strict JSON ({})".format(column, exc)) from None


def _decode(value: Any, column: str, dtype: np.dtype, shape: Optional[Tuple[int, int]],
            where: str) -> np.ndarray:
    if isinstance(value, str):
        raise SchemaError("{} {}: got text, expected binary blob bytes".format(where, column))
    try:
        array = blob.decode(value)
    except BlobError as exc:
        raise type(exc)("{} {}: {}".format(where, column, exc)) from None
    if array.dtype != dtype or array.ndim != 2:
        raise SchemaError("{} {}: {} {}, expected a 2-D {} array".format(
            where, column, array.dtype, array.shape, dtype))
    if shape is not None and array.shape != shape:
        raise SchemaError("{} {}: shape {} does not match {}".format(where, column, array.shape, shape))
    return array


def kernel_row(cells: Mapping[str, Any]) -> Dict[str, Any]:
    """A ``gmi_source`` record (column name -> cell) as the kernel's row dict.

    Identical to ``local_runner.kernel_row(SourceRow.from_dict(cells))``; errors name the
    granule, the tile and the column.
    """
    missing = [n for n in SOURCE_COLUMNS if n not in cells
               and n not in DN_BANDS and n not in MODIS_BANDS]
    if missing:
        raise SchemaError("gmi_source: missing column(s) {}".format(", ".join(missing)))
    granule = _text(cells["granule_id"], "granule_id")
    tile = (_int(cells["tile_x"], "tile_x"), _int(cells["tile_y"], "tile_y"))
    where = "granule {} tile {},{}:".format(granule, tile[0], tile[1])
    bbox = tuple(_int(cells[n], n) for n in BBOX_COLUMNS)
    if bbox[1] < bbox[0] or bbox[3] < bbox[2]:
        raise SchemaError("{} bbox rows {}..{}, cols {}..{} is empty (the bbox is inclusive)".format(
            where, *bbox))
    shape = (bbox[1] - bbox[0] + 1, bbox[3] - bbox[2] + 1)
    bands = {n: _decode(cells[n], n, np.dtype(np.uint8), shape, where)
             for n in DN_BANDS if cells.get(n) is not None}
    if not bands:
        raise SchemaError("{} b01..b09: a source row needs at least one DN band".format(where))
    modis = {}  # type: Dict[str, np.ndarray]
    modis_shape = None
    for name in MODIS_BANDS:
        if cells.get(name) is not None:
            modis[name] = _decode(cells[name], name, np.dtype(np.int16), modis_shape, where)
            modis_shape = modis[name].shape
    return {
        "granule_id": granule, "tile_x": tile[0], "tile_y": tile[1],
        "acquired": utc_text(cells["acquired"]),
        "bbox": bbox,
        "bands": bands, "meta": load_json(cells["meta"], "meta"), "ac": load_json(cells["ac"], "ac"),
        "modis": modis, "quality": load_json(cells["quality"], "quality"),
    }


def check_cell_sizes(cells: Mapping[str, Any], limit: int = blob.MAX_CELL_BYTES) -> None:
    """Raise CellTooLargeError when any text/binary cell is over ``limit`` bytes (8 MiB)."""
    for name, value in cells.items():
        if isinstance(value, str):
            size = len(value.encode("utf-8"))
        elif isinstance(value, (bytes, bytearray, memoryview)):
            size = len(value)
        else:
            continue
        if size > limit:
            raise CellTooLargeError("{}: cell is {} bytes, over the {} byte (8 MiB) MaxCompute "
                                    "cell limit".format(name, size, limit))


def result_cells(result: Mapping[str, Any], digest: Optional[str] = None,
                 encoded: Optional[bytes] = None) -> Dict[str, Any]:
    """A kernel result dict as ``gmi_result`` cells, identical to ``ResultRow.to_dict()``.

    ``digest`` (``pipeline.inputs_digest`` of the tile) goes into ``meta["inputs_sha256"]``
    as the local runner records it. ``encoded`` is a ``data`` cell made elsewhere (the local
    store's reference to an exported GeoTIFF); by default the array is blob-encoded here.
    Every cell is checked against the 8 MiB limit.
    """
    method = _text(result["method"], "method")
    output = _text(result["output"], "output")
    if not _OUTPUT_RE.match(output):
        raise SchemaError("output: {!r} may only hold letters, digits, '_', '.', '-'".format(output))
    data = result["data"]
    if not isinstance(data, np.ndarray) or data.ndim != 2:
        raise SchemaError("data: expected a 2-D numpy array, got {}".format(
            getattr(data, "shape", type(data).__name__)))
    if output == MASK_OUTPUT and data.dtype != np.uint8:
        raise SchemaError("data: the {} output must be uint8, got {}".format(MASK_OUTPUT, data.dtype))
    meta = dict(result["meta"])
    if digest is not None:
        meta[DIGEST_KEY] = digest
    where = "tile {},{} {} {}".format(result["tile_x"], result["tile_y"], method, output)
    if encoded is None:
        try:
            encoded = blob.encode(data, compress=True)
        except BlobError as exc:
            raise type(exc)("{} data: {}".format(where, exc)) from None
    cells = {
        "tile_x": _int(result["tile_x"], "tile_x"), "tile_y": _int(result["tile_y"], "tile_y"),
        "method": method, "output": output,
        "dtype": data.dtype.newbyteorder("=").name, "height": int(data.shape[0]),
        "width": int(data.shape[1]), "data": encoded, "meta": dump_json(meta, "meta"),
    }
    try:
        check_cell_sizes(cells)
    except CellTooLargeError as exc:
        raise CellTooLargeError("{}: {}".format(where, exc)) from None
    return cells


def error_cells(tile_x: int, tile_y: int, method: str, error: BaseException, granules: Sequence[str],
                digest: Optional[str] = None) -> Dict[str, Any]:
    """The ``gmi_result`` cells of a tile the kernel failed on: output :data:`ERROR_OUTPUT`, no
    data, and ``meta`` naming the error, the granules and the kernel version."""
    from gmi_engine.kernel import KERNEL_VERSION

    message = "{}: {}".format(type(error).__name__, error)
    if len(message) > 4000:
        message = message[:4000] + " ..."
    meta = {"error": message, "granules": sorted(set(granules)), "kernel_version": KERNEL_VERSION}
    if digest is not None:
        meta[DIGEST_KEY] = digest
    return {"tile_x": int(tile_x), "tile_y": int(tile_y), "method": method, "output": ERROR_OUTPUT,
            "dtype": "", "height": 0, "width": 0, "data": b"", "meta": dump_json(meta, "meta")}


def ordered(cells: Mapping[str, Any], columns: Sequence[str] = RESULT_COLUMNS) -> Tuple[Any, ...]:
    """The cells as a tuple in table column order."""
    return tuple(cells[name] for name in columns)
