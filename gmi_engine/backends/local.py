"""The embedded table store: one SQLite file per workspace that is also a valid GeoPackage.

``<workspace>/gmi.gpkg`` holds the source table (:data:`~gmi_engine.table.SOURCE_SCHEMA`) and the
result table (:data:`~gmi_engine.table.RESULT_SCHEMA`) as GeoPackage *feature* tables whose
geometry is the tile polygon in EPSG:3857, so QGIS or any GDAL tool opens them as layers. The
GeoPackage parts are written here directly: ``application_id`` 'GPKG', ``user_version`` 10200
(GeoPackage 1.2), ``gpkg_spatial_ref_sys`` (the three required entries and EPSG:3857),
``gpkg_contents`` (with the extent of the stored tiles), ``gpkg_geometry_columns``, and geometry
blobs made of the GeoPackage binary header (little-endian, XY envelope) plus WKB from osgeo.ogr.
There is no R-tree spatial index (its triggers need SpatiaLite functions); the layers are small
(one polygon per row) and QGIS draws them without one. A ``gmi_store_info`` attributes table
records the store format and the grid the tiles belong to.

Writes are transactions (``BEGIN IMMEDIATE`` ... ``COMMIT``). ``replace_granule`` deletes a
granule's rows and inserts its new ones in one transaction, so re-ingesting is idempotent. The
database runs in WAL mode, so readers are not blocked by a writer; each process must open its own
:class:`LocalStore` (a connection must not cross processes).
"""
from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import struct
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from osgeo import ogr, osr

from gmi_engine.backends.file_cells import MAGIC as FILE_MAGIC
from gmi_engine.backends.file_cells import is_reference, read_reference
from gmi_engine.errors import BackendError, GmiFileError, SchemaError
from gmi_engine.grid import DEFAULT_GRID, BoundsXY, TileGrid, TileIndex, tile_index
from gmi_engine.table import (
    DN_BANDS,
    MODIS_BANDS,
    RESULT_SCHEMA,
    SOURCE_SCHEMA,
    STORE_FILENAME,
    ResultRow,
    SourceRow,
    StoredResult,
    TableSchema,
    format_utc,
)

ogr.UseExceptions()
osr.UseExceptions()

log = logging.getLogger(__name__)

STORE_FORMAT = "gmi-store"
STORE_VERSION = "1"
GPKG_APPLICATION_ID = 0x47504B47  # 'GPKG'
GPKG_USER_VERSION = 10200  # GeoPackage 1.2
SRS_ID = 3857
GEOMETRY_COLUMN = "geom"
INFO_TABLE = "gmi_store_info"

_SOURCE_SELECT = ", ".join('"{}"'.format(n) for n in SOURCE_SCHEMA.names)
_RESULT_SELECT = ", ".join('"{}"'.format(n) for n in RESULT_SCHEMA.names)

TileArg = Union[TileIndex, Tuple[int, int]]


@dataclass(frozen=True)
class StoreStats:
    """Sizes of a store (``gmi table info``)."""

    path: str
    grid: str
    tiles: int
    granules: int
    source_rows: int
    result_rows: int
    result_tiles: int
    methods: Tuple[str, ...]
    file_bytes: int
    source_blob_bytes: int
    result_blob_bytes: int
    result_file_cells: int = 0
    """Result cells kept in an exported GeoTIFF (a file reference, :mod:`.file_cells`)."""

    @property
    def bytes_per_source_row(self) -> float:
        """Mean encoded blob bytes per source row (0 when empty)."""
        return self.source_blob_bytes / self.source_rows if self.source_rows else 0.0


def gpkg_geometry(bounds: BoundsXY) -> bytes:
    """A GeoPackage geometry blob (header with XY envelope + little-endian WKB) of a tile box."""
    polygon = ogr.CreateGeometryFromWkt(bounds.to_wkt())
    wkb = bytes(polygon.ExportToWkb(ogr.wkbNDR))
    header = struct.pack("<2sBBi4d", b"GP", 0, 0b00000011, SRS_ID,
                         bounds.xmin, bounds.xmax, bounds.ymin, bounds.ymax)
    return header + wkb


def _srs_wkt(epsg: int) -> str:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


def _tile(tile: TileArg) -> TileIndex:
    return tile_index(tile, grid=None)


def _now() -> str:
    return format_utc(datetime.now(timezone.utc))


class LocalStore:
    """The workspace's GeoPackage table store.

    ``LocalStore(workspace_dir)`` opens ``<workspace_dir>/gmi.gpkg``, creating the directory and
    an empty store when ``create`` is true (otherwise a missing store is a GmiFileError). Use it as
    a context manager or call :meth:`close`.
    """

    def __init__(self, workspace_dir: Union[str, os.PathLike], grid: TileGrid = DEFAULT_GRID,
                 create: bool = True) -> None:
        self.workspace = Path(workspace_dir)
        self.path = self.workspace / STORE_FILENAME
        self.grid = grid
        exists = self.path.exists()
        if not exists and not create:
            raise GmiFileError("{}: no GMI store here (run an ingest or import first)".format(self.path))
        if not exists:
            self.workspace.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise GmiFileError("{}: cannot open the store ({})".format(self.path, exc)) from None
        try:
            if exists:
                self._check_existing()
            else:
                self._create()  # before WAL, so the GeoPackage header lands in the file itself
            self._conn.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives a killed process (the WAL is written before the
            # commit returns); only an OS crash may lose the last commits, never the file's
            # integrity. Saves one fsync per tile.
            self._conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise GmiFileError("{}: not a readable GMI store ({})".format(self.path, exc)) from None
        except Exception:
            self._conn.close()
            raise

    # -- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        """Checkpoint the WAL into the main file and close the connection."""
        if self._conn is None:
            return
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError as exc:  # another process is reading: it checkpoints later
            log.debug("WAL checkpoint skipped: %s", exc)
        self._conn.close()
        self._conn = None

    def __enter__(self) -> "LocalStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        if conn is None:
            raise GmiFileError("{}: the store is closed".format(self.path))
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise BackendError("{}: cannot start a write ({})".format(self.path, exc)) from None
        try:
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise BackendError("{}: write failed and was rolled back ({})".format(self.path, exc)) from None
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _query(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        if self._conn is None:
            raise GmiFileError("{}: the store is closed".format(self.path))
        return self._conn.execute(sql, params)

    # -- schema -------------------------------------------------------------------------------
    def _create(self) -> None:
        with self._transaction() as conn:
            conn.execute("PRAGMA application_id = {}".format(GPKG_APPLICATION_ID))
            conn.execute("PRAGMA user_version = {}".format(GPKG_USER_VERSION))
            conn.execute("""CREATE TABLE gpkg_spatial_ref_sys (
                srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY,
                organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL,
                definition TEXT NOT NULL, description TEXT)""")
            conn.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", [
                ("Undefined cartesian SRS", -1, "NONE", -1, "undefined",
                 "undefined cartesian coordinate reference system"),
                ("Undefined geographic SRS", 0, "NONE", 0, "undefined",
                 "undefined geographic coordinate reference system"),
                ("WGS 84 geodetic", 4326, "EPSG", 4326, _srs_wkt(4326),
                 "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
                ("WGS 84 / Pseudo-Mercator", SRS_ID, "EPSG", SRS_ID, _srs_wkt(SRS_ID), "the GMI global tile grid CRS"),
            ])
            conn.execute("""CREATE TABLE gpkg_contents (
                table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
                description TEXT DEFAULT '',
                last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
                min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
                CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""")
            conn.execute("""CREATE TABLE gpkg_geometry_columns (
                table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
                srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
                CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
                CONSTRAINT uk_gc_table_name UNIQUE (table_name),
                CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
                CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))""")
            for schema in (SOURCE_SCHEMA, RESULT_SCHEMA):
                self._create_feature_table(conn, schema)
            conn.execute('CREATE INDEX "gmi_source_tile" ON "gmi_source" (tile_x, tile_y, acquired)')
            conn.execute('CREATE INDEX "gmi_result_method" ON "gmi_result" (method, tile_x, tile_y)')
            conn.execute('CREATE TABLE "{}" (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
                         'key TEXT NOT NULL UNIQUE, value TEXT NOT NULL)'.format(INFO_TABLE))
            conn.executemany('INSERT INTO "{}" (key, value) VALUES (?, ?)'.format(INFO_TABLE), [
                ("format", STORE_FORMAT), ("version", STORE_VERSION), ("grid", self.grid.name),
                ("created", _now()),
            ])
            conn.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
                         "VALUES (?, 'attributes', ?, ?, ?)",
                         (INFO_TABLE, INFO_TABLE, "GMI store format and grid", _now()))

    @staticmethod
    def _create_feature_table(conn: sqlite3.Connection, schema: TableSchema) -> None:
        unique = ", ".join('"{}"'.format(k) for k in schema.key)
        conn.execute('CREATE TABLE "{}" (\n  fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,\n'
                     '  "{}" POLYGON,\n{},\n  UNIQUE ({}))'.format(
                         schema.name, GEOMETRY_COLUMN, schema.sqlite_column_defs(), unique))
        conn.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
                     "last_change, srs_id) VALUES (?, 'features', ?, ?, ?, ?)",
                     (schema.name, schema.name, schema.comment, _now(), SRS_ID))
        conn.execute("INSERT INTO gpkg_geometry_columns VALUES (?, ?, 'POLYGON', ?, 0, 0)",
                     (schema.name, GEOMETRY_COLUMN, SRS_ID))

    def _check_existing(self) -> None:
        app_id = self._query("PRAGMA application_id").fetchone()[0]
        if app_id != GPKG_APPLICATION_ID:
            raise GmiFileError("{}: not a GeoPackage (application_id {:#x})".format(self.path, app_id))
        try:
            info = dict(self._query('SELECT key, value FROM "{}"'.format(INFO_TABLE)).fetchall())
        except sqlite3.OperationalError:
            raise GmiFileError("{}: a GeoPackage, but not a GMI store (no {} table)".format(
                self.path, INFO_TABLE)) from None
        if info.get("format") != STORE_FORMAT or info.get("version") != STORE_VERSION:
            raise GmiFileError("{}: store format {!r} version {!r}, this GMI reads {!r} version {!r}".format(
                self.path, info.get("format"), info.get("version"), STORE_FORMAT, STORE_VERSION))
        if info.get("grid") != self.grid.name:
            raise GmiFileError("{}: the store holds tiles of the {} grid, not {}".format(
                self.path, info.get("grid"), self.grid.name))

    def _touch_contents(self, conn: sqlite3.Connection, schema: TableSchema) -> None:
        """Refresh ``last_change`` and the extent of ``schema``'s table in gpkg_contents."""
        x0, x1, y0, y1 = conn.execute('SELECT min(tile_x), max(tile_x), min(tile_y), max(tile_y) FROM "{}"'
                                      .format(schema.name)).fetchone()
        if x0 is None:
            extent = (None, None, None, None)
        else:
            top_left, bottom_right = self.grid.bounds(TileIndex(x0, y0)), self.grid.bounds(TileIndex(x1, y1))
            extent = (top_left.xmin, bottom_right.ymin, bottom_right.xmax, top_left.ymax)
        conn.execute("UPDATE gpkg_contents SET last_change = ?, min_x = ?, min_y = ?, max_x = ?, max_y = ? "
                     "WHERE table_name = ?", (_now(),) + extent + (schema.name,))

    # -- writing ------------------------------------------------------------------------------
    def _geometry(self, tile_x: int, tile_y: int) -> bytes:
        return gpkg_geometry(self.grid.bounds(self.grid.tile(tile_x, tile_y)))

    def _source_record(self, row: SourceRow) -> List[Any]:
        if row.max_row >= self.grid.tile_px or row.max_col >= self.grid.tile_px:
            raise SchemaError("bbox: granule {} tile {}: rows ..{}, cols ..{} exceed the {} px tile".format(
                row.granule_id, row.tile, row.max_row, row.max_col, self.grid.tile_px))
        record = row.to_dict()
        record["acquired"] = format_utc(record["acquired"])
        return [self._geometry(row.tile_x, row.tile_y)] + [record[n] for n in SOURCE_SCHEMA.names]

    def _source_records(self, rows: List[SourceRow]) -> List[List[Any]]:
        """:meth:`_source_record` of each row, encoded in threads (zlib releases the GIL)."""
        if len(rows) < 2:
            return [self._source_record(r) for r in rows]
        with ThreadPoolExecutor(max_workers=min(len(rows), os.cpu_count() or 1, 4),
                                thread_name_prefix="gmi-encode") as pool:
            return list(pool.map(self._source_record, rows))

    def _insert_source(self, conn: sqlite3.Connection, records: List[List[Any]]) -> None:
        cols = ", ".join('"{}"'.format(n) for n in (GEOMETRY_COLUMN,) + SOURCE_SCHEMA.names)
        marks = ", ".join("?" for _ in range(len(SOURCE_SCHEMA.names) + 1))
        conn.executemany('INSERT INTO "gmi_source" ({}) VALUES ({})'.format(cols, marks), records)

    def replace_granule(self, granule_id: str, rows: Iterable[SourceRow]) -> int:
        """Replace every row of ``granule_id`` by ``rows`` in one transaction; returns rows written.

        All rows must belong to ``granule_id`` and name distinct tiles. The rows are encoded
        before the transaction starts (so the write lock is held only for the SQL).
        """
        checked, tiles = [], set()  # type: List[SourceRow], set
        for row in rows:
            if row.granule_id != granule_id:
                raise SchemaError("granule_id: row of {!r} given to replace_granule({!r})".format(
                    row.granule_id, granule_id))
            if row.tile in tiles:
                raise SchemaError("tile_x/tile_y: tile {} appears twice for granule {}".format(row.tile, granule_id))
            tiles.add(row.tile)
            checked.append(row)
        records = self._source_records(checked)
        with self._transaction() as conn:
            conn.execute('DELETE FROM "gmi_source" WHERE granule_id = ?', (granule_id,))
            self._insert_source(conn, records)
            self._touch_contents(conn, SOURCE_SCHEMA)
        return len(records)

    def upsert_source_rows(self, rows: Iterable[SourceRow]) -> int:
        """Insert rows, replacing any stored row with the same (granule_id, tile); one transaction."""
        records, keys = [], {}
        for row in rows:
            key = (row.granule_id, row.tile_x, row.tile_y)
            if key in keys:
                raise SchemaError("granule_id/tile_x/tile_y: {} appears twice in one write".format(key))
            keys[key] = True
            records.append(self._source_record(row))
        with self._transaction() as conn:
            conn.executemany('DELETE FROM "gmi_source" WHERE granule_id = ? AND tile_x = ? AND tile_y = ?',
                             list(keys))
            self._insert_source(conn, records)
            self._touch_contents(conn, SOURCE_SCHEMA)
        return len(records)

    def delete_granule(self, granule_id: str) -> int:
        """Delete every row of ``granule_id``; returns how many were deleted."""
        with self._transaction() as conn:
            count = conn.execute('DELETE FROM "gmi_source" WHERE granule_id = ?', (granule_id,)).rowcount
            self._touch_contents(conn, SOURCE_SCHEMA)
        return count

    def _result_records(self, rows: Iterable[ResultRow]) -> Tuple[List[List[Any]], List[Tuple[int, int, str, str]]]:
        records, keys = [], {}
        for row in rows:
            if row.key in keys:
                raise SchemaError("tile_x/tile_y/method/output: {} appears twice in one write".format(row.key))
            keys[row.key] = True
            record = row.to_dict()
            records.append([self._geometry(row.tile_x, row.tile_y)] + [record[n] for n in RESULT_SCHEMA.names])
        return records, list(keys)

    @staticmethod
    def _insert_results(conn: sqlite3.Connection, records: List[List[Any]]) -> None:
        cols = ", ".join('"{}"'.format(n) for n in (GEOMETRY_COLUMN,) + RESULT_SCHEMA.names)
        marks = ", ".join("?" for _ in range(len(RESULT_SCHEMA.names) + 1))
        conn.executemany('INSERT INTO "gmi_result" ({}) VALUES ({})'.format(cols, marks), records)

    def put_results(self, rows: Iterable[ResultRow]) -> int:
        """Insert result rows, replacing stored rows with the same (tile, method, output)."""
        records, keys = self._result_records(rows)
        with self._transaction() as conn:
            conn.executemany('DELETE FROM "gmi_result" WHERE tile_x = ? AND tile_y = ? AND method = ? '
                             'AND output = ?', keys)
            self._insert_results(conn, records)
            self._touch_contents(conn, RESULT_SCHEMA)
        return len(records)

    def replace_results(self, tile: TileArg, method: str, rows: Iterable[ResultRow]) -> int:
        """Replace all outputs of ``method`` on ``tile`` by ``rows`` in one transaction."""
        return self._replace_result_records(tile, method, *self._result_records(rows))

    def replace_result_records(self, tile: TileArg, method: str,
                               records: Iterable[Mapping[str, Any]]) -> int:
        """:meth:`replace_results` for records already encoded by ``ResultRow.to_dict()``.

        The process-pool runner's workers encode their results; the parent writes the cells as
        they are instead of decoding and re-encoding every blob.
        """
        rows, keys = [], []
        for record in records:
            missing = [n for n in RESULT_SCHEMA.names if n not in record]
            if missing:
                raise SchemaError("gmi_result: missing column(s) {}".format(", ".join(missing)))
            rows.append([self._geometry(record["tile_x"], record["tile_y"])]
                        + [record[n] for n in RESULT_SCHEMA.names])
            keys.append((record["tile_x"], record["tile_y"], record["method"], record["output"]))
        if len(set(keys)) != len(keys):
            raise SchemaError("tile_x/tile_y/method/output: a key appears twice in one write")
        return self._replace_result_records(tile, method, rows, keys)

    def _replace_result_records(self, tile: TileArg, method: str, records: List[List[Any]],
                                keys: List[Tuple[int, int, str, str]]) -> int:
        t = _tile(tile)
        for key in keys:
            if key[:3] != (t.ix, t.iy, method):
                raise SchemaError("tile_x/tile_y/method: row {} given to replace_results({}, {!r})".format(
                    key, (t.ix, t.iy), method))
        with self._transaction() as conn:
            conn.execute('DELETE FROM "gmi_result" WHERE tile_x = ? AND tile_y = ? AND method = ?',
                         (t.ix, t.iy, method))
            self._insert_results(conn, records)
            self._touch_contents(conn, RESULT_SCHEMA)
        return len(records)

    def delete_results(self, method: Optional[str] = None, tile: Optional[TileArg] = None) -> int:
        """Delete result rows, optionally only of one method and/or tile; returns how many."""
        where, params = self._result_filter(method, tile)
        with self._transaction() as conn:
            count = conn.execute('DELETE FROM "gmi_result"' + where, params).rowcount
            self._touch_contents(conn, RESULT_SCHEMA)
        return count

    # -- reading ------------------------------------------------------------------------------
    def tiles(self) -> List[TileIndex]:
        """Tiles with source rows, sorted by (tile_x, tile_y)."""
        return [TileIndex(x, y) for x, y in self._query(
            'SELECT DISTINCT tile_x, tile_y FROM "gmi_source" ORDER BY tile_x, tile_y')]

    def tile_pixels(self) -> Dict[TileIndex, int]:
        """Per tile, the pixels its source rows' boxes hold (a tile's work), from the row bounds
        only (nothing decoded)."""
        return {TileIndex(x, y): int(n) for x, y, n in self._query(
            'SELECT tile_x, tile_y, SUM((max_row - min_row + 1) * (max_col - min_col + 1)) '
            'FROM "gmi_source" GROUP BY tile_x, tile_y')}

    def granules(self) -> List[str]:
        """Granule ids with source rows, sorted."""
        return [g for (g,) in self._query('SELECT DISTINCT granule_id FROM "gmi_source" ORDER BY granule_id')]

    def tiles_of_granule(self, granule_id: str) -> List[TileIndex]:
        """Tiles holding a row of ``granule_id``."""
        return [TileIndex(x, y) for x, y in self._query(
            'SELECT tile_x, tile_y FROM "gmi_source" WHERE granule_id = ? ORDER BY tile_x, tile_y', (granule_id,))]

    @staticmethod
    def _source_row(values: Sequence[Any]) -> SourceRow:
        return SourceRow.from_dict(dict(zip(SOURCE_SCHEMA.names, values)))

    def tile_rows(self, tile: TileArg) -> List[SourceRow]:
        """Source rows of one tile, sorted by acquisition time (then granule id)."""
        return list(self.iter_source_rows(tiles=[tile]))

    def iter_source_rows(self, tiles: Optional[Iterable[TileArg]] = None,
                         granules: Optional[Iterable[str]] = None) -> Iterator[SourceRow]:
        """Source rows ordered by (tile_x, tile_y, acquired, granule_id), optionally filtered.

        Rows are decoded one at a time, so iterating a large store keeps memory flat.
        """
        where, params = [], []  # type: List[str], List[Any]
        if tiles is not None:
            pairs = [_tile(t) for t in tiles]
            if not pairs:
                return
            where.append("(" + " OR ".join("(tile_x = ? AND tile_y = ?)" for _ in pairs) + ")")
            params.extend(v for t in pairs for v in (t.ix, t.iy))
        if granules is not None:
            ids = list(granules)
            if not ids:
                return
            where.append("granule_id IN ({})".format(", ".join("?" for _ in ids)))
            params.extend(ids)
        sql = 'SELECT {} FROM "gmi_source"{} ORDER BY tile_x, tile_y, acquired, granule_id'.format(
            _SOURCE_SELECT, " WHERE " + " AND ".join(where) if where else "")
        for values in self._query(sql, params):
            yield self._source_row(values)

    def get_source_row(self, granule_id: str, tile: TileArg) -> Optional[SourceRow]:
        """The row of ``granule_id`` on ``tile``, or None."""
        t = _tile(tile)
        values = self._query('SELECT {} FROM "gmi_source" WHERE granule_id = ? AND tile_x = ? AND tile_y = ?'
                             .format(_SOURCE_SELECT), (granule_id, t.ix, t.iy)).fetchone()
        return None if values is None else self._source_row(values)

    @staticmethod
    def _result_filter(method: Optional[str], tile: Optional[TileArg]) -> Tuple[str, List[Any]]:
        where, params = [], []  # type: List[str], List[Any]
        if method is not None:
            where.append("method = ?")
            params.append(method)
        if tile is not None:
            t = _tile(tile)
            where.append("tile_x = ? AND tile_y = ?")
            params.extend((t.ix, t.iy))
        return (" WHERE " + " AND ".join(where) if where else ""), params

    def results(self, tile: TileArg, method: str) -> Dict[str, ResultRow]:
        """Outputs of ``method`` on ``tile``: output name -> row (empty if none)."""
        return {s.output: s.row() for s in self.iter_stored_results(method, tile)}

    def iter_results(self, method: Optional[str] = None) -> Iterator[ResultRow]:
        """Result rows ordered by (method, tile_x, tile_y, output), one decoded at a time."""
        for stored in self.iter_stored_results(method):
            yield stored.row()

    def iter_stored_results(self, method: Optional[str] = None, tile: Optional[TileArg] = None,
                            blobs: bool = True) -> Iterator[StoredResult]:
        """Like :meth:`iter_results` (of one tile if given), but each row's blob is decoded only
        when asked (``.row()``). ``blobs`` False: a blob ``data`` cell is read as b"" (its row
        cannot be decoded; file references are kept), for a look at the keys, metas and files."""
        where, params = self._result_filter(method, tile)
        select = _RESULT_SELECT
        if not blobs:  # the blob stays in SQLite: nothing of it is copied into Python
            select = select.replace('"data"', 'CASE WHEN substr("data", 1, {}) = ? THEN "data" ELSE X\'\' END'.format(
                len(FILE_MAGIC)))
            params = [FILE_MAGIC] + params
        sql = 'SELECT {} FROM "gmi_result"{} ORDER BY method, tile_x, tile_y, output'.format(select, where)
        for values in self._query(sql, params):
            yield StoredResult.from_record(dict(zip(RESULT_SCHEMA.names, values)), self._file_cell)

    def _file_cell(self, record: Mapping[str, Any]) -> Optional[np.ndarray]:
        """The array of a file-reference ``data`` cell (read from its GeoTIFF), None for a blob."""
        if not is_reference(record["data"]):
            return None
        where = "{}: tile {}_{} {} {}".format(self.path, record["tile_x"], record["tile_y"],
                                              record["method"], record["output"])
        return read_reference(record["data"], self.workspace, record["dtype"],
                              (int(record["height"]), int(record["width"])), where)

    def result_tiles(self, method: Optional[str] = None) -> List[TileIndex]:
        """Tiles with result rows (of ``method`` if given), sorted."""
        where, params = self._result_filter(method, None)
        return [TileIndex(x, y) for x, y in self._query(
            'SELECT DISTINCT tile_x, tile_y FROM "gmi_result"{} ORDER BY tile_x, tile_y'.format(where), params)]

    def methods(self) -> List[str]:
        """Methods with result rows, sorted."""
        return [m for (m,) in self._query('SELECT DISTINCT method FROM "gmi_result" ORDER BY method')]

    def source_digest(self) -> str:
        """sha256 of every stored cell of every source row (in key order): changes with any content.

        Unlike :meth:`stats`, an edit that keeps sizes (another AOD or DEM at ingest, a CSV import
        that rewrites ``ac`` or ``meta``) changes it too.
        """
        digest = hashlib.sha256()
        sql = 'SELECT {} FROM "gmi_source" ORDER BY tile_x, tile_y, acquired, granule_id'.format(_SOURCE_SELECT)
        for values in self._query(sql):
            for value in values:
                cell = value if isinstance(value, bytes) else repr(value).encode()
                digest.update(struct.pack("<cQ", b"b" if isinstance(value, bytes) else b"v", len(cell)))
                digest.update(cell)
        return digest.hexdigest()

    def stats(self) -> StoreStats:
        """Counts and sizes: tiles, granules, rows, used file bytes, encoded blob bytes."""
        q = self._query
        tiles = q('SELECT count(*) FROM (SELECT DISTINCT tile_x, tile_y FROM "gmi_source")').fetchone()[0]
        granules = q('SELECT count(DISTINCT granule_id) FROM "gmi_source"').fetchone()[0]
        blob_sum = " + ".join("coalesce(length({}), 0)".format(n) for n in DN_BANDS + MODIS_BANDS)
        rows, src_bytes = q('SELECT count(*), coalesce(sum({}), 0) FROM "gmi_source"'.format(blob_sum)).fetchone()
        res_rows, res_bytes = q('SELECT count(*), coalesce(sum(length(data)), 0) FROM "gmi_result"').fetchone()
        file_cells = q('SELECT count(*) FROM "gmi_result" WHERE substr(data, 1, ?) = ?',
                       (len(FILE_MAGIC), FILE_MAGIC)).fetchone()[0]
        res_tiles = q('SELECT count(*) FROM (SELECT DISTINCT tile_x, tile_y FROM "gmi_result")').fetchone()[0]
        pages = q("PRAGMA page_count").fetchone()[0] - q("PRAGMA freelist_count").fetchone()[0]
        return StoreStats(
            path=str(self.path), grid=self.grid.name, tiles=tiles, granules=granules, source_rows=rows,
            result_rows=res_rows, result_tiles=res_tiles, methods=tuple(self.methods()),
            file_bytes=pages * q("PRAGMA page_size").fetchone()[0],
            source_blob_bytes=src_bytes, result_blob_bytes=res_bytes, result_file_cells=file_cells,
        )
