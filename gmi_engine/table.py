"""The ONE definition of GMI's table schemas, used by every backend (local GeoPackage, MaxCompute).

Each column is declared once with its logical type; the ODPS SQL type and the SQLite type follow
from the logical type (:data:`LOGICAL_TYPES`), so the two backends cannot drift apart.

Source table (``gmi_source``): one row per (granule, tile)
    identity ``granule_id, tile_x, tile_y, acquired`` (UTC), ``meta`` (JSON object), the valid
    bounding box ``min_row, max_row, min_col, max_col`` in tile pixels, **inclusive at both ends**
    (the reference engine's convention: a band blob has ``max_row-min_row+1`` rows), the DN blobs
    ``b01..b09`` (uint8, cropped to that box; ``b03`` is band 3N; an absent band is NULL), ``ac``
    (JSON object, see below), the MODIS reference blobs ``m01..m07`` (MOD09A1 bands 1-7 as int16,
    256 x 256 on the default grid; NULL when no reference was given) and ``quality`` (JSON object:
    SWIR health, cloud %, gains ..., and ``bt13``: the band-13 brightness temperature on a ~90 m
    grid over the tile when the granule has TIR, see ``gmi_engine.kernel.thermal``).

``ac`` convention: a JSON object written by ``gmi_engine.atmosphere``. When it has a ``"bands"``
key, that maps band columns to the 6S coefficients, ``{"b01": {"xa": .., "xb": .., "xc": ..}, ..}``
(the kernel applies ``rho = y/(1 + xc*y)``, ``y = xa*L - xb``); every other key (state, inputs,
LUT id) is free-form. The reference-CSV interchange relies on this key.

Result table (``gmi_result``): one row per (tile, method, output) -- a *long* layout
    ``tile_x, tile_y, method, output, dtype, height, width, data, meta``; ``data`` is one encoded
    2-D array. The valid-data mask is the output named :data:`MASK_OUTPUT` (uint8, 1 = valid).

    Why long and not wide (one column per output band): a MaxCompute UDTF must declare a fixed
    output column list, but the outputs differ per method (9 reflectance bands for ``mosaic`` /
    ``color_balancing``, the 23 index ids for ``mineral_indices``, and the index library grows).
    A wide row would need one table layout per method and a DDL change for every new index, and
    it would carry up to 24 x 4 MiB = 96 MiB in one row, far beyond what a UDTF batch can hold;
    the long row is at most one cell of <= 8 MiB, one schema serves every method, consumers
    ``SELECT ... WHERE output IN (...)`` only what they need, and a tile/method is replaced by
    deleting its rows. ``dtype``/``height``/``width`` repeat what the blob header says so that SQL
    and humans can inspect results without decoding them.

Blobs are encoded by :mod:`gmi_engine.kernel.blob` (raw little-endian bytes, optional zlib, a small
self-describing header; a cell over 8 MiB is an error). ``BINARY`` needs the MaxCompute 2.0 type
system (``odps.sql.type.system.odps2=true``), which the ODPS backend sets per job.
"""
from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Mapping, NamedTuple, Optional, Tuple

import numpy as np

from gmi_engine.errors import BlobError, SchemaError

# One definition of the cell text formats, shared with the MaxCompute UDTF (kernel side).
from gmi_engine.kernel import blob, records
from gmi_engine.kernel.bands import BANDS, label
from gmi_engine.kernel.records import dump_json, format_utc  # noqa: F401  (re-exported)

# ---------------------------------------------------------------------------------------------
# Column types


@dataclass(frozen=True)
class LogicalType:
    """A logical column type and how each backend stores it."""

    name: str
    odps_type: str
    sqlite_type: str


LOGICAL_TYPES = {
    "int": LogicalType("int", "BIGINT", "INTEGER"),
    "text": LogicalType("text", "STRING", "TEXT"),
    "json": LogicalType("json", "STRING", "TEXT"),
    "datetime": LogicalType("datetime", "DATETIME", "DATETIME"),
    "blob": LogicalType("blob", "BINARY", "BLOB"),
}
"""Logical type -> ODPS and SQLite types. SQLite ``DATETIME`` is the GeoPackage date-time type:
ISO-8601 UTC text with milliseconds (:func:`format_utc`), which sorts chronologically and which
GDAL/QGIS read as a date-time field."""


@dataclass(frozen=True)
class Column:
    """One column: name, logical type (a key of :data:`LOGICAL_TYPES`), nullability, comment."""

    name: str
    logical: str
    comment: str
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.logical not in LOGICAL_TYPES:
            raise ValueError("column {}: unknown logical type {!r}".format(self.name, self.logical))

    @property
    def odps_type(self) -> str:
        """MaxCompute SQL type (BIGINT, STRING, DATETIME, BINARY)."""
        return LOGICAL_TYPES[self.logical].odps_type

    @property
    def sqlite_type(self) -> str:
        """SQLite column type (INTEGER, TEXT, BLOB)."""
        return LOGICAL_TYPES[self.logical].sqlite_type


@dataclass(frozen=True)
class TableSchema:
    """An ordered column list with its unique key."""

    name: str
    comment: str
    columns: Tuple[Column, ...]
    key: Tuple[str, ...]

    @property
    def names(self) -> Tuple[str, ...]:
        """Column names in table order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """The column called ``name``; SchemaError if there is none."""
        for col in self.columns:
            if col.name == name:
                return col
        raise SchemaError("{}: no column named {!r}".format(self.name, name))

    def odps_ddl(self, table_name: Optional[str] = None, if_not_exists: bool = True) -> str:
        """``CREATE TABLE`` statement for MaxCompute."""
        cols = ",\n".join("  `{}` {} COMMENT '{}'".format(c.name, c.odps_type, c.comment.replace("'", "''"))
                          for c in self.columns)
        return "CREATE TABLE {}{} (\n{}\n) COMMENT '{}'".format(
            "IF NOT EXISTS " if if_not_exists else "", table_name or self.name, cols,
            self.comment.replace("'", "''"))

    def odps_columns(self) -> Tuple[Tuple[str, str, str], ...]:
        """(name, ODPS type, comment) triples, e.g. for ``odps.models.TableSchema``."""
        return tuple((c.name, c.odps_type.lower(), c.comment) for c in self.columns)

    def sqlite_column_defs(self) -> str:
        """Column definitions for a SQLite ``CREATE TABLE`` (without key or geometry columns)."""
        return ",\n".join('  "{}" {}{}'.format(c.name, c.sqlite_type, "" if c.nullable else " NOT NULL")
                          for c in self.columns)


STORE_FILENAME = "gmi.gpkg"
"""The workspace's store file (GeoPackage): ``<workspace>/gmi.gpkg``."""

DN_BANDS = records.DN_BANDS
"""DN blob columns b01..b09 (b03 is ASTER band 3N)."""
MODIS_BANDS = records.MODIS_BANDS
"""MODIS reference blob columns m01..m07 (MOD09A1 bands 1-7)."""
BBOX_COLUMNS = records.BBOX_COLUMNS
MASK_OUTPUT = records.MASK_OUTPUT
"""Output name of the valid-data mask in the result table (uint8, 1 = valid)."""
DN_DTYPE = np.dtype(np.uint8)
MODIS_DTYPE = np.dtype(np.int16)

_ASTER_BAND_LABEL = dict(zip(DN_BANDS, (label(b) for b in BANDS)))  # b03 -> "3N"
_TYPES = {"int": ("int", False), "text": ("text", False), "json": ("json", False),
          "datetime": ("datetime", False), "blob": ("blob", False), "blob?": ("blob", True)}


def _columns(names: Tuple[str, ...], described: Mapping[str, Tuple[str, str]]) -> Tuple[Column, ...]:
    """Columns in the kernel's order ``names`` (:mod:`gmi_engine.kernel.records`), typed and
    commented by ``described`` (name -> (type, comment); type ``blob?`` is a nullable blob)."""
    if set(described) != set(names):
        raise SchemaError("column descriptions {} do not match the kernel's columns {}".format(
            sorted(described), names))
    columns = []
    for name in names:
        kind, comment = described[name]
        logical, nullable = _TYPES[kind]
        columns.append(Column(name, logical, comment, nullable=nullable))
    return tuple(columns)


_TILE_COLUMNS = {
    "tile_x": ("int", "global grid tile column, counted east from 0"),
    "tile_y": ("int", "global grid tile row, counted south from 0"),
}
_BBOX_COMMENTS = ("first valid tile row", "last valid tile row", "first valid tile column",
                  "last valid tile column")

SOURCE_SCHEMA = TableSchema(
    name="gmi_source",
    comment="GMI source rows: one ASTER L1T granule on one global grid tile",
    columns=_columns(records.SOURCE_COLUMNS, dict(
        {"granule_id": ("text", "ASTER granule id, e.g. AST_L1T_00309062006180242_20150516014601_17781"),
         "acquired": ("datetime", "acquisition time, UTC"),
         "meta": ("json", "granule metadata (JSON object)"),
         "ac": ("json", "6S atmospheric correction: xa, xb, xc per band and the state that made them"),
         "quality": ("json", "quality flags: SWIR health, cloud cover %, gains (JSON object)")},
        **_TILE_COLUMNS,
        **{name: ("int", text + " of the DN blobs (inclusive)")
           for name, text in zip(BBOX_COLUMNS, _BBOX_COMMENTS)},
        **{name: ("blob?", "ASTER band {} DN, uint8, cropped to the valid bbox; NULL if absent".format(
            _ASTER_BAND_LABEL[name])) for name in DN_BANDS},
        **{name: ("blob?", "MOD09A1 band {} surface reflectance, int16, on the tile at 256 x 256; "
                           "NULL if no reference".format(i + 1)) for i, name in enumerate(MODIS_BANDS)})),
    key=("granule_id", "tile_x", "tile_y"),
)

RESULT_SCHEMA = TableSchema(
    name="gmi_result",
    comment="GMI results: one output raster of one method on one global grid tile",
    columns=_columns(records.RESULT_COLUMNS, dict(
        {"method": ("text", "method that produced the output: mosaic, color_balancing, mineral_indices"),
         "output": ("text", "output name: a band (b01..b09), an index id, or " + MASK_OUTPUT),
         "dtype": ("text", "numpy dtype of the data array, e.g. float32"),
         "height": ("int", "rows of the data array"),
         "width": ("int", "columns of the data array"),
         "data": ("blob", "the output raster, encoded by the GMI blob codec"),
         "meta": ("json", "contributing granules, parameters, versions (JSON object)")},
        **_TILE_COLUMNS)),
    key=("tile_x", "tile_y", "method", "output"),
)


# ---------------------------------------------------------------------------------------------
# Cell helpers


def parse_utc(text: str, column: str = "acquired") -> datetime:
    """A UTC-aware datetime from ISO-8601 text; naive text is refused (SchemaError)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise SchemaError("{}: {!r} is not an ISO-8601 date-time".format(column, text)) from None
    if moment.tzinfo is None:
        raise SchemaError("{}: {!r} has no time zone (give UTC, e.g. a trailing 'Z')".format(column, text))
    return moment.astimezone(timezone.utc)


def load_json(value: Any, column: str) -> Dict[str, Any]:
    """A JSON object from text (or a dict passed through); SchemaError naming ``column`` otherwise."""
    if isinstance(value, Mapping):
        return dict(value)
    return records.load_json(value, column)


def encode_cell(array: np.ndarray, column: str, compress: bool = True) -> bytes:
    """Encode one blob cell; codec errors are re-raised naming ``column``."""
    try:
        return blob.encode(array, compress=compress)
    except BlobError as exc:
        raise type(exc)("{}: {}".format(column, exc)) from None


def decode_cell(value: Any, column: str) -> np.ndarray:
    """Decode one blob cell; codec errors are re-raised naming ``column``."""
    if isinstance(value, str):
        raise SchemaError("{}: got text, expected binary blob bytes (hex text belongs to the "
                          "reference CSV, see gmi_engine.refcsv)".format(column))
    try:
        return blob.decode(value)
    except BlobError as exc:
        raise type(exc)("{}: {}".format(column, exc)) from None


def _int(value: Any, column: str, minimum: Optional[int] = 0) -> int:
    if isinstance(value, bool):
        raise SchemaError("{}: {!r} is not an integer".format(column, value))
    try:
        number = operator.index(value)
    except TypeError:
        raise SchemaError("{}: {!r} is not an integer".format(column, value)) from None
    if minimum is not None and number < minimum:
        raise SchemaError("{}: {} is below {}".format(column, number, minimum))
    return int(number)


def _text(value: Any, column: str) -> str:
    if not isinstance(value, str) or not value or value != value.strip():
        raise SchemaError("{}: {!r} must be a non-empty string without surrounding blanks".format(
            column, value))
    return value


def _utc(value: Any, column: str) -> datetime:
    """UTC-aware datetime kept to the millisecond (the precision of a GeoPackage DATETIME)."""
    if isinstance(value, str):
        value = parse_utc(value, column)
    if not isinstance(value, datetime):
        raise SchemaError("{}: expected a datetime, got {}".format(column, type(value).__name__))
    if value.tzinfo is None:
        raise SchemaError("{}: naive datetime {}; give tzinfo=timezone.utc".format(column, value))
    value = value.astimezone(timezone.utc)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _check_array(array: Any, column: str, dtype: np.dtype, shape: Optional[Tuple[int, int]]) -> np.ndarray:
    if not isinstance(array, np.ndarray):
        raise SchemaError("{}: expected a numpy array, got {}".format(column, type(array).__name__))
    if array.dtype != dtype:
        raise SchemaError("{}: dtype {}, expected {}".format(column, array.dtype, dtype))
    if array.ndim != 2:
        raise SchemaError("{}: {}-D array, expected 2-D".format(column, array.ndim))
    if shape is not None and array.shape != shape:
        raise SchemaError("{}: shape {} does not match {}".format(column, array.shape, shape))
    return array


def _check_ac(ac: Dict[str, Any], column: str) -> None:
    bands = ac.get("bands")
    if bands is None:
        return
    if not isinstance(bands, dict):
        raise SchemaError("{}: 'bands' must be an object keyed by band column".format(column))
    for name, coeffs in bands.items():
        if name not in DN_BANDS:
            raise SchemaError("{}: 'bands' key {!r} is not one of {}".format(column, name, DN_BANDS))
        if not isinstance(coeffs, dict):
            raise SchemaError("{}: bands.{} must be an object with xa, xb, xc".format(column, name))
        for key in ("xa", "xb", "xc"):
            value = coeffs.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise SchemaError("{}: bands.{}.{} = {!r} is not a finite number".format(
                    column, name, key, value))


# ---------------------------------------------------------------------------------------------
# Rows


@dataclass
class SourceRow:
    """One granule on one tile: DN bands cropped to the valid bbox, 6S coefficients, MODIS reference.

    ``bands`` maps present DN columns (``b01``..``b09``) to uint8 arrays of the bbox shape;
    ``modis`` maps present MODIS columns (``m01``..``m07``) to int16 2-D arrays of one shape.
    The bbox is inclusive at both ends. Construction validates everything (SchemaError naming
    the column).
    """

    granule_id: str
    tile_x: int
    tile_y: int
    acquired: datetime  # UTC, kept to the millisecond
    min_row: int
    max_row: int
    min_col: int
    max_col: int
    bands: Dict[str, np.ndarray]
    meta: Dict[str, Any] = field(default_factory=dict)
    ac: Dict[str, Any] = field(default_factory=dict)
    modis: Dict[str, np.ndarray] = field(default_factory=dict)
    quality: Dict[str, Any] = field(default_factory=dict)
    #: Blob cells of ``bands``/``modis`` already encoded (compressed) from these very arrays, by
    #: :meth:`encode_blobs` (ingest encodes each tile as it is cut); :meth:`to_dict` uses them.
    blobs: Dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.validate()

    def encode_blobs(self) -> "SourceRow":
        """Encode the DN and MODIS cells now (compressed, as :meth:`to_dict` would); returns self."""
        self.blobs = {name: encode_cell(array, name) for arrays in (self.bands, self.modis)
                      for name, array in arrays.items() if array is not None}
        return self

    def validate(self) -> None:
        """Check every field against :data:`SOURCE_SCHEMA`; raise SchemaError naming the column."""
        self.granule_id = _text(self.granule_id, "granule_id")
        self.tile_x = _int(self.tile_x, "tile_x")
        self.tile_y = _int(self.tile_y, "tile_y")
        self.acquired = _utc(self.acquired, "acquired")
        for name in BBOX_COLUMNS:
            setattr(self, name, _int(getattr(self, name), name))
        if self.max_row < self.min_row or self.max_col < self.min_col:
            raise SchemaError("bbox: rows {}..{}, cols {}..{} is empty (the bbox is inclusive)".format(
                self.min_row, self.max_row, self.min_col, self.max_col))
        for name in ("meta", "ac", "quality"):
            if not isinstance(getattr(self, name), dict):
                raise SchemaError("{}: expected a dict (JSON object), got {}".format(
                    name, type(getattr(self, name)).__name__))
        _check_ac(self.ac, "ac")
        if not isinstance(self.bands, dict) or not self.bands:
            raise SchemaError("b01..b09: a source row needs at least one DN band")
        for name, array in self.bands.items():
            if name not in DN_BANDS:
                raise SchemaError("bands: {!r} is not one of {}".format(name, DN_BANDS))
            _check_array(array, name, DN_DTYPE, self.bbox_shape)
        if not isinstance(self.modis, dict):
            raise SchemaError("m01..m07: expected a dict of arrays, got {}".format(type(self.modis).__name__))
        shape = None
        for name, array in self.modis.items():
            if name not in MODIS_BANDS:
                raise SchemaError("modis: {!r} is not one of {}".format(name, MODIS_BANDS))
            _check_array(array, name, MODIS_DTYPE, shape)
            shape = array.shape

    @property
    def tile(self) -> Tuple[int, int]:
        """(tile_x, tile_y)."""
        return self.tile_x, self.tile_y

    @property
    def bbox_shape(self) -> Tuple[int, int]:
        """(rows, cols) of the DN blobs: the inclusive bbox size."""
        return self.max_row - self.min_row + 1, self.max_col - self.min_col + 1

    @property
    def bands_present(self) -> Tuple[str, ...]:
        """DN columns that hold data, in band order."""
        return tuple(b for b in DN_BANDS if b in self.bands)

    def band_on_tile(self, name: str, tile_px: int = 1024) -> np.ndarray:
        """Band ``name`` placed back on the full ``tile_px`` x ``tile_px`` tile (0 = fill outside)."""
        if name not in self.bands:
            raise SchemaError("{}: band is absent from granule {} tile {}".format(name, self.granule_id, self.tile))
        if self.max_row >= tile_px or self.max_col >= tile_px:
            raise SchemaError("bbox: rows ..{}, cols ..{} exceed a {} px tile".format(
                self.max_row, self.max_col, tile_px))
        full = np.zeros((tile_px, tile_px), dtype=DN_DTYPE)
        full[self.min_row:self.max_row + 1, self.min_col:self.max_col + 1] = self.bands[name]
        return full

    def to_dict(self, compress: bool = True) -> Dict[str, Any]:
        """Column name -> cell value in :data:`SOURCE_SCHEMA` order.

        Values: int, str, UTC-aware datetime (``acquired``), JSON text, and encoded blob bytes
        or None for absent bands.
        """
        self.validate()
        record = {
            "granule_id": self.granule_id, "tile_x": self.tile_x, "tile_y": self.tile_y,
            "acquired": self.acquired, "meta": dump_json(self.meta, "meta"),
            "min_row": self.min_row, "max_row": self.max_row,
            "min_col": self.min_col, "max_col": self.max_col,
        }  # type: Dict[str, Any]
        blobs = self._checked_blobs() if compress else {}
        for name in DN_BANDS:
            array = self.bands.get(name)
            record[name] = None if array is None else blobs.get(name) or encode_cell(array, name, compress)
        record["ac"] = dump_json(self.ac, "ac")
        for name in MODIS_BANDS:
            array = self.modis.get(name)
            record[name] = None if array is None else blobs.get(name) or encode_cell(array, name, compress)
        record["quality"] = dump_json(self.quality, "quality")
        return record

    def _checked_blobs(self) -> Dict[str, bytes]:
        """:attr:`blobs` whose header matches the array now in the row (others are encoded again)."""
        out = {}
        for name, cell in self.blobs.items():
            array = self.bands.get(name) if name in DN_BANDS else self.modis.get(name)
            if array is None:
                continue
            header = blob.peek(cell)
            if header.shape == tuple(array.shape) and header.dtype == array.dtype:
                out[name] = cell
        return out

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> "SourceRow":
        """Inverse of :meth:`to_dict`; also accepts ISO text for ``acquired`` and dicts for JSON."""
        missing = [n for n in SOURCE_SCHEMA.names
                   if n not in record and not SOURCE_SCHEMA.column(n).nullable]
        if missing:
            raise SchemaError("gmi_source: missing column(s) {}".format(", ".join(missing)))
        unknown = sorted(set(record) - set(SOURCE_SCHEMA.names))
        if unknown:
            raise SchemaError("gmi_source: unknown column(s) {}".format(", ".join(unknown)))
        bands = {n: decode_cell(record[n], n) for n in DN_BANDS if record.get(n) is not None}
        modis = {n: decode_cell(record[n], n) for n in MODIS_BANDS if record.get(n) is not None}
        return cls(
            granule_id=record["granule_id"], tile_x=record["tile_x"], tile_y=record["tile_y"],
            acquired=_utc(record["acquired"], "acquired"),
            min_row=record["min_row"], max_row=record["max_row"],
            min_col=record["min_col"], max_col=record["max_col"],
            bands=bands, meta=load_json(record["meta"], "meta"), ac=load_json(record["ac"], "ac"),
            modis=modis, quality=load_json(record["quality"], "quality"),
        )


_OUTPUT_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")


@dataclass
class ResultRow:
    """One output raster (a band, an index or the valid mask) of one method on one tile."""

    tile_x: int
    tile_y: int
    method: str
    output: str
    data: np.ndarray
    meta: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field against :data:`RESULT_SCHEMA`; raise SchemaError naming the column."""
        self.tile_x = _int(self.tile_x, "tile_x")
        self.tile_y = _int(self.tile_y, "tile_y")
        self.method = _text(self.method, "method")
        self.output = _text(self.output, "output")
        if not _OUTPUT_RE.match(self.output):
            raise SchemaError("output: {!r} may only hold letters, digits, '_', '.', '-'".format(self.output))
        if not isinstance(self.data, np.ndarray) or self.data.ndim != 2:
            raise SchemaError("data: expected a 2-D numpy array, got {}".format(
                getattr(self.data, "shape", type(self.data).__name__)))
        try:
            blob.dtype_code(self.data.dtype)
        except BlobError as exc:
            raise SchemaError("data: {}".format(exc)) from None
        if self.output == MASK_OUTPUT and self.data.dtype != np.uint8:
            raise SchemaError("data: the {} output must be uint8, got {}".format(MASK_OUTPUT, self.data.dtype))
        if not isinstance(self.meta, dict):
            raise SchemaError("meta: expected a dict (JSON object), got {}".format(type(self.meta).__name__))

    @property
    def tile(self) -> Tuple[int, int]:
        """(tile_x, tile_y)."""
        return self.tile_x, self.tile_y

    @property
    def key(self) -> Tuple[int, int, str, str]:
        """(tile_x, tile_y, method, output): the table's unique key."""
        return self.tile_x, self.tile_y, self.method, self.output

    def to_dict(self, compress: bool = True) -> Dict[str, Any]:
        """Column name -> cell value in :data:`RESULT_SCHEMA` order."""
        self.validate()
        return {
            "tile_x": self.tile_x, "tile_y": self.tile_y, "method": self.method, "output": self.output,
            "dtype": self.data.dtype.newbyteorder("=").name, "height": int(self.data.shape[0]),
            "width": int(self.data.shape[1]), "data": encode_cell(self.data, "data", compress),
            "meta": dump_json(self.meta, "meta"),
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any], data: Optional[np.ndarray] = None) -> "ResultRow":
        """Inverse of :meth:`to_dict`; checks ``dtype``/``height``/``width`` against the blob.

        ``data``: the array when the store read it from elsewhere (a file-reference cell).
        """
        missing = [n for n in RESULT_SCHEMA.names if n not in record]
        if missing:
            raise SchemaError("gmi_result: missing column(s) {}".format(", ".join(missing)))
        unknown = sorted(set(record) - set(RESULT_SCHEMA.names))
        if unknown:
            raise SchemaError("gmi_result: unknown column(s) {}".format(", ".join(unknown)))
        if data is None:
            data = decode_cell(record["data"], "data")
        if data.dtype.name != record["dtype"]:
            raise SchemaError("dtype: column says {!r}, the data blob holds {}".format(record["dtype"], data.dtype))
        if data.shape != (_int(record["height"], "height"), _int(record["width"], "width")):
            raise SchemaError("height/width: columns say {}x{}, the data blob is {}".format(
                record["height"], record["width"], data.shape))
        return cls(tile_x=record["tile_x"], tile_y=record["tile_y"], method=record["method"],
                   output=record["output"], data=data, meta=load_json(record["meta"], "meta"))


class StoredResult(NamedTuple):
    """A ``gmi_result`` record as read from a store, its blob decoded only by :meth:`row`.

    Lets a reader pick rows by their key and meta and decode the data where it is used (for
    example in a writer thread).
    """

    tile_x: int
    tile_y: int
    method: str
    output: str
    record: Mapping[str, Any]
    #: The store's reader of cells that are not blobs (file references); None: blobs only.
    load_data: Optional[Callable[[Mapping[str, Any]], Optional[np.ndarray]]] = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any],
                    load_data: Optional[Callable[[Mapping[str, Any]], Optional[np.ndarray]]] = None
                    ) -> "StoredResult":
        """Wrap one record (column name -> cell value, :data:`RESULT_SCHEMA` columns)."""
        return cls(record["tile_x"], record["tile_y"], record["method"], record["output"], record, load_data)

    @property
    def meta(self) -> Dict[str, Any]:
        """The decoded ``meta`` JSON."""
        return load_json(self.record["meta"], "meta")

    def row(self) -> ResultRow:
        """The decoded, checked :class:`ResultRow`."""
        data = self.load_data(self.record) if self.load_data is not None else None
        return ResultRow.from_dict(self.record, data=data)
