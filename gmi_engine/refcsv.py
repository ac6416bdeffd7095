"""Interchange with the reference engine's source-table CSV (hex strings), both ways.

The layout follows the reference repository (datahub-zjlab/Global_Mineral_Indices_Computing_Engine):
its ``Script1_transfer_aster_to_table.py`` writes the CSV, ``Script2_upload_table_to_odps.py``
uploads it *by position* into a table whose column list we reproduce, and
``GMI_ComputeEngine_ODPS/method.py`` reads the columns by name. We write, in Script2's order::

    granule_id, min_row, min_col, max_row, max_col, tile_index_x, tile_index_y, tile_info, meta,
    atmospheric_correction_paras, VNIR_Swath_ImageData1..3, SWIR_Swath_ImageData4..9,
    modis_VNIR_Swath_ImageData1..4, modis_SWIR_Swath_ImageData5..7

Facts taken from the reference (not its code):

- band cells are ``bytes.hex()`` (lower case) of the raw uint8 array cropped to the bbox, and the
  bbox is inclusive (a cell holds ``(max_row-min_row+1) x (max_col-min_col+1)`` bytes), as in
  our table. When a reference tile had no valid pixel it stored the whole tile with
  ``(0, 0, rows, cols)``; the reader recognises that case by the cell length.
- band 3 is named ``...ImageData3`` (the reader also accepts ``ImageData3N``).
- MODIS cells are the 256 x 256 reference raster; we write int16. The reference's MODIS sampler
  produced float64 arrays, so the reader also accepts float64 (and float32) cells whose values
  are whole numbers in the int16 range; anything else is an error, never a silent cast.
- ``tile_info`` is ``res-30_tilesize-1024`` in Script1 and ``res-30_tilesize-1024_x-<ix>_y-<iy>``
  in DESIGN.md; we write the latter and read both (x/y must then match tile_index_x/y).
- ``atmospheric_correction_paras`` maps ``VNIR_Swath:ImageData1`` ... to ``{"a", "b", "c"}``,
  the 6S xa, xb, xc. Script1/Script2 spell the column ``atmoshpheric_correction_paras``; the
  reader takes either spelling. Script1 names the MODIS columns ``modis_bands_0..6``; the reader
  takes those and ``modis_b01..07`` too. Column names are matched case-insensitively (MaxCompute
  lower-cases them).

What our table has and the reference layout does not is carried in reserved JSON keys, so that
our table -> CSV -> our table is lossless: ``meta["_gmi"]`` holds ``acquired`` and ``quality``,
and ``atmospheric_correction_paras["_gmi_ac"]`` holds our whole ``ac`` object (next to the
reference-style ``{"a","b","c"}`` entries derived from ``ac["bands"]``, which the reference
tools read). Importing a genuine reference CSV derives ``acquired`` from the HDF ``CALENDARDATE``/``TIMEOFDAY``
in ``meta`` or else from the granule id (``AST_L1T_003MMDDYYYYhhmmss_...``), and ``ac`` from the
a/b/c entries.
"""
from __future__ import annotations

import csv
import io
import logging
import os
import re
import sys
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Union

import numpy as np

from gmi_engine.errors import BlobError, SchemaError
from gmi_engine.grid import DEFAULT_GRID, MODIS_TILE_PX, TileGrid
from gmi_engine.kernel import blob
from gmi_engine.kernel.records import load_json
from gmi_engine.table import DN_BANDS, MODIS_BANDS, MODIS_DTYPE, SourceRow, dump_json, format_utc, parse_utc

log = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

BAND_COLUMNS = dict(zip(DN_BANDS, ["VNIR_Swath_ImageData{}".format(i) for i in (1, 2, 3)]
                        + ["SWIR_Swath_ImageData{}".format(i) for i in range(4, 10)]))
"""Our DN column -> the reference's band column."""
AC_KEYS = {b: c.replace("_Swath_", "_Swath:") for b, c in BAND_COLUMNS.items()}
"""Our DN column -> the band key inside ``atmospheric_correction_paras``."""
MODIS_COLUMNS = dict(zip(MODIS_BANDS, ["modis_VNIR_Swath_ImageData{}".format(i) for i in (1, 2, 3, 4)]
                         + ["modis_SWIR_Swath_ImageData{}".format(i) for i in (5, 6, 7)]))
"""Our MODIS column -> the reference's MODIS column (method.py's names)."""
AC_COLUMN = "atmospheric_correction_paras"
COLUMNS = (("granule_id", "min_row", "min_col", "max_row", "max_col", "tile_index_x", "tile_index_y",
            "tile_info", "meta", AC_COLUMN)
           + tuple(BAND_COLUMNS.values()) + tuple(MODIS_COLUMNS.values()))
"""The columns we write, in the reference's (Script2) order."""

META_KEY = "_gmi"
AC_KEY = "_gmi_ac"
IMPORTED_QUALITY = {"origin": "reference-csv"}
"""``quality`` of a row imported from a genuine reference CSV (which has no quality fields)."""

_REQUIRED = ("granule_id", "min_row", "min_col", "max_row", "max_col", "tile_index_x", "tile_index_y",
             "tile_info", "meta", AC_COLUMN)
_ALIASES = {"atmoshpheric_correction_paras": AC_COLUMN}  # type: Dict[str, str]
for _b, _c in BAND_COLUMNS.items():
    _ALIASES[_c.lower()] = _c
_ALIASES["vnir_swath_imagedata3n"] = BAND_COLUMNS["b03"]
for _i, (_m, _c) in enumerate(MODIS_COLUMNS.items()):
    for _alias in (_c, "modis_bands_{}".format(_i), "modis_" + _m.replace("m", "b")):
        _ALIASES[_alias.lower()] = _c
for _c in _REQUIRED:
    _ALIASES[_c] = _c
_IGNORED = {"", "unnamed: 0", "index"}  # pandas index columns
_TILE_INFO_RE = re.compile(r"res-(?P<res>\d+(?:\.\d+)?)_tilesize-(?P<px>\d+)(?:_x-(?P<ix>\d+)_y-(?P<iy>\d+))?\Z")
_TIME_OF_DAY_RE = re.compile(r"(\d{2})(\d{2})(\d{2})\.?(\d*)Z?")
_GRANULE_TIME_RE = re.compile(r"AST_L1T_\d{3}(\d{2})(\d{2})(\d{4})(\d{2})(\d{2})(\d{2})")


def raise_field_size_limit() -> None:
    """Let the csv module read multi-megabyte hex cells (its default limit is 128 KiB)."""
    csv.field_size_limit(min(sys.maxsize, 2 ** 31 - 1))


# ---------------------------------------------------------------------------------------------
# writing


def _hex(array: np.ndarray, column: str, dtype: np.dtype) -> str:
    try:
        text = blob.encode_raw(array, dtype).hex()
    except BlobError as exc:
        raise type(exc)("{}: {}".format(column, exc)) from None
    if len(text) > blob.MAX_CELL_BYTES:
        raise blob.CellTooLargeError("{}: hex text of {} bytes is over the {} byte cell limit".format(
            column, len(text), blob.MAX_CELL_BYTES))
    return text


def row_to_reference(row: SourceRow, grid: TileGrid = DEFAULT_GRID) -> Dict[str, str]:
    """One source row as a reference-CSV record (column -> text)."""
    row.validate()
    if META_KEY in row.meta:
        raise SchemaError("meta: key {!r} is reserved for the reference-CSV export".format(META_KEY))
    meta = dict(row.meta)
    meta[META_KEY] = {"acquired": format_utc(row.acquired), "quality": row.quality}
    paras = {AC_KEYS[b]: {"a": c["xa"], "b": c["xb"], "c": c["xc"]}
             for b, c in sorted(row.ac.get("bands", {}).items())}  # type: Dict[str, Any]
    paras[AC_KEY] = row.ac
    record = {
        "granule_id": row.granule_id,
        "min_row": str(row.min_row), "min_col": str(row.min_col),
        "max_row": str(row.max_row), "max_col": str(row.max_col),
        "tile_index_x": str(row.tile_x), "tile_index_y": str(row.tile_y),
        "tile_info": grid.key(grid.tile(row.tile_x, row.tile_y)),
        "meta": dump_json(meta, "meta"),
        AC_COLUMN: dump_json(paras, AC_COLUMN),
    }
    for name, column in BAND_COLUMNS.items():
        array = row.bands.get(name)
        record[column] = "" if array is None else _hex(array, column, np.dtype(np.uint8))
    for name, column in MODIS_COLUMNS.items():
        array = row.modis.get(name)
        record[column] = "" if array is None else _hex(array, column, MODIS_DTYPE)
    return record


def write_reference_csv(path: PathLike, rows: Iterable[SourceRow], grid: TileGrid = DEFAULT_GRID) -> int:
    """Write ``rows`` to ``path`` in the reference layout; returns the number of rows written."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            record = row_to_reference(row, grid)
            writer.writerow([record[c] for c in COLUMNS])
            count += 1
    return count


# ---------------------------------------------------------------------------------------------
# reading


def _cell_int(record: Mapping[str, str], column: str) -> int:
    text = (record.get(column) or "").strip()
    try:
        number = float(text)
    except ValueError:
        raise SchemaError("{}: {!r} is not an integer".format(column, text)) from None
    if not number.is_integer():
        raise SchemaError("{}: {!r} is not an integer".format(column, text))
    return int(number)


def _cell_bytes(record: Mapping[str, str], column: str) -> Optional[bytes]:
    text = (record.get(column) or "").strip()
    if not text:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise SchemaError("{}: not hex text ({})".format(column, exc)) from None


def _cell_json(record: Mapping[str, str], column: str) -> Dict[str, Any]:
    text = (record.get(column) or "").strip()
    return load_json(text, column) if text else {}


def _acquired(granule_id: str, meta: Mapping[str, Any]) -> datetime:
    """Acquisition time of a genuine reference row: HDF ``CALENDARDATE``/``TIMEOFDAY``, else the id.

    ``TIMEOFDAY`` is ``hhmmss`` + fraction digits + ``Z`` (``181928427000Z`` = 18:19:28.427).
    """
    date = str(meta.get("CALENDARDATE", "")).strip()
    time = _TIME_OF_DAY_RE.fullmatch(str(meta.get("TIMEOFDAY", "")).strip())
    if re.fullmatch(r"\d{8}", date) and time:
        hh, mm, ss, fraction = time.groups()
        try:
            return datetime(int(date[:4]), int(date[4:6]), int(date[6:8]), int(hh), int(mm), int(ss),
                            int((fraction + "000000")[:6]), tzinfo=timezone.utc)
        except ValueError:
            pass
    match = _GRANULE_TIME_RE.search(granule_id)
    if match:
        month, day, year, hour, minute, second = (int(g) for g in match.groups())
        try:
            return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
        except ValueError:
            pass
    raise SchemaError("acquired: cannot tell the acquisition time of {!r} (no valid CALENDARDATE/TIMEOFDAY "
                      "in meta, no AST_L1T date in the granule id)".format(granule_id))


def _ac_from_paras(paras: Mapping[str, Any]) -> Dict[str, Any]:
    if AC_KEY in paras:
        ac = paras[AC_KEY]
        if not isinstance(ac, dict):
            raise SchemaError("{}: {!r} must be a JSON object".format(AC_COLUMN, AC_KEY))
        return ac
    if not paras:
        return {}
    by_key = {k.lower().replace("_swath_", "_swath:"): v for k, v in paras.items()}
    bands = {}
    for name, key in AC_KEYS.items():
        entry = by_key.get(key.lower()) or (by_key.get(key.lower() + "n") if name == "b03" else None)
        if entry is None:
            continue
        if not isinstance(entry, dict) or not all(k in entry for k in "abc"):
            raise SchemaError("{}: entry {!r} must hold a, b and c".format(AC_COLUMN, key))
        bands[name] = {"xa": entry["a"], "xb": entry["b"], "xc": entry["c"]}
    return {"bands": bands, "origin": "reference-csv", "reference": dict(paras)}


def _modis_array(data: bytes, column: str, px: int) -> np.ndarray:
    n = px * px
    if len(data) == 2 * n:
        return blob.decode_raw(data, MODIS_DTYPE, (px, px))
    for dtype in (np.float64, np.float32):
        if len(data) == np.dtype(dtype).itemsize * n:
            values = blob.decode_raw(data, dtype, (px, px))
            info = np.iinfo(MODIS_DTYPE)
            if not (np.all(np.isfinite(values)) and np.all(values == np.round(values))
                    and values.min() >= info.min and values.max() <= info.max):
                raise SchemaError("{}: {} values are not whole numbers in the int16 range".format(
                    column, np.dtype(dtype)))
            return values.astype(MODIS_DTYPE)
    raise SchemaError("{}: {} bytes is not a {}x{} int16, float32 or float64 raster".format(column, len(data), px, px))


def row_from_reference(record: Mapping[str, str], grid: TileGrid = DEFAULT_GRID,
                       modis_px: int = MODIS_TILE_PX) -> SourceRow:
    """One reference-CSV record (canonical column names, see :data:`COLUMNS`) as a source row."""
    missing = [c for c in _REQUIRED if c not in record]
    if missing:
        raise SchemaError("missing column(s) {}".format(", ".join(missing)))
    granule_id = (record.get("granule_id") or "").strip()
    tile_x, tile_y = _cell_int(record, "tile_index_x"), _cell_int(record, "tile_index_y")
    info = _TILE_INFO_RE.match((record.get("tile_info") or "").strip())
    if info is None:
        raise SchemaError("tile_info: {!r} is not 'res-<m>_tilesize-<px>[_x-<ix>_y-<iy>]'".format(record["tile_info"]))
    if float(info["res"]) != grid.res or int(info["px"]) != grid.tile_px:
        raise SchemaError("tile_info: {!r} is not on the {} grid".format(record["tile_info"], grid.name))
    if info["ix"] is not None and (int(info["ix"]), int(info["iy"])) != (tile_x, tile_y):
        raise SchemaError("tile_info: {!r} names another tile than tile_index_x/y = {}, {}".format(
            record["tile_info"], tile_x, tile_y))
    grid.tile(tile_x, tile_y)
    min_row, min_col = _cell_int(record, "min_row"), _cell_int(record, "min_col")
    max_row, max_col = _cell_int(record, "max_row"), _cell_int(record, "max_col")

    raw = {name: _cell_bytes(record, column) for name, column in BAND_COLUMNS.items()}
    sizes = {len(v) for v in raw.values() if v is not None}
    inclusive = (max_row - min_row + 1) * (max_col - min_col + 1)
    if (sizes == {(max_row - min_row) * (max_col - min_col)} and inclusive not in sizes
            and max_row == grid.tile_px and max_col == grid.tile_px):
        max_row, max_col = max_row - 1, max_col - 1  # the reference's "no valid pixel" full-tile rows
    shape = (max_row - min_row + 1, max_col - min_col + 1)
    if min(shape) < 1:
        raise SchemaError("min_row..max_col: bbox rows {}..{}, cols {}..{} is empty".format(
            min_row, max_row, min_col, max_col))
    bands = {}
    for name, data in raw.items():
        if data is None:
            continue
        try:
            bands[name] = blob.decode_raw(data, np.uint8, shape)
        except BlobError as exc:
            raise SchemaError("{}: {} (bbox rows {}..{}, cols {}..{} inclusive)".format(
                BAND_COLUMNS[name], exc, min_row, max_row, min_col, max_col)) from None
    modis = {}
    for name, column in MODIS_COLUMNS.items():
        data = _cell_bytes(record, column)
        if data is not None:
            modis[name] = _modis_array(data, column, modis_px)

    meta = _cell_json(record, "meta")
    extra = meta.pop(META_KEY, None)
    if extra is not None:
        if not isinstance(extra, dict) or "acquired" not in extra:
            raise SchemaError("meta: {!r} must be an object with 'acquired'".format(META_KEY))
        acquired = parse_utc(str(extra["acquired"]), "meta.{}.acquired".format(META_KEY))
        quality = extra.get("quality", {})
    else:
        acquired = _acquired(granule_id, meta)
        quality = dict(IMPORTED_QUALITY)
    return SourceRow(granule_id=granule_id, tile_x=tile_x, tile_y=tile_y, acquired=acquired,
                     min_row=min_row, max_row=max_row, min_col=min_col, max_col=max_col,
                     bands=bands, meta=meta, ac=_ac_from_paras(_cell_json(record, AC_COLUMN)),
                     modis=modis, quality=quality)


def _canonical_header(header: List[str], path: PathLike) -> List[Optional[str]]:
    names = []  # type: List[Optional[str]]
    ignored = []
    for raw in header:
        key = raw.strip().lower()
        name = _ALIASES.get(key)
        if name is None:
            ignored.append(raw)
        elif name in names:
            raise SchemaError("{}: column {!r} appears twice (as {!r})".format(path, name, raw))
        names.append(name)
    unexpected = [c for c in ignored if c.strip().lower() not in _IGNORED]
    if unexpected:
        log.warning("%s: ignoring column(s) that are not part of the source table: %s",
                    path, ", ".join(unexpected))
    return names


def read_reference_csv(path: PathLike, grid: TileGrid = DEFAULT_GRID,
                       modis_px: int = MODIS_TILE_PX) -> Iterator[SourceRow]:
    """Source rows of a reference-layout CSV, one at a time.

    Errors name the file, the line and the column (SchemaError / BlobError).
    """
    raise_field_size_limit()
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise SchemaError("{}: empty file, expected a reference-CSV header".format(path)) from None
        names = _canonical_header(header, path)
        missing = [c for c in _REQUIRED if c not in names]
        if missing:
            raise SchemaError("{}: not a reference source-table CSV, missing column(s) {}".format(
                path, ", ".join(missing)))
        for values in reader:
            if not values:
                continue
            where = "{}:{}".format(path, reader.line_num)
            if len(values) != len(names):
                raise SchemaError("{}: {} fields, the header has {}".format(where, len(values), len(names)))
            record = {n: v for n, v in zip(names, values) if n is not None}
            try:
                yield row_from_reference(record, grid, modis_px)
            except (SchemaError, BlobError) as exc:
                raise type(exc)("{}: {}".format(where, exc)) from None


def hex_csv_row_bytes(row: SourceRow, grid: TileGrid = DEFAULT_GRID) -> int:
    """Bytes that ``row`` takes as one line of the reference CSV (for size comparisons)."""
    buffer = io.StringIO()
    record = row_to_reference(row, grid)
    csv.writer(buffer, lineterminator="\n").writerow([record[c] for c in COLUMNS])
    return len(buffer.getvalue().encode("utf-8"))
