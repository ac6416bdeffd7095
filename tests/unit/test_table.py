"""Table schemas (defined once), SourceRow / ResultRow validation and their dict round trips."""
import json
import sqlite3
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from odps.models import TableSchema as OdpsTableSchema

from gmi_engine.errors import BlobError, CellTooLargeError, SchemaError
from gmi_engine.kernel import blob
from gmi_engine.table import (
    DN_BANDS,
    MASK_OUTPUT,
    MODIS_BANDS,
    RESULT_SCHEMA,
    SOURCE_SCHEMA,
    ResultRow,
    SourceRow,
    format_utc,
    parse_utc,
)

UTC = timezone.utc
WHEN = datetime(2006, 9, 6, 18, 2, 42, 347000, tzinfo=UTC)


def make_row(**overrides) -> SourceRow:
    rng = np.random.default_rng(7)
    fields = dict(
        granule_id="AST_L1T_00309062006180242_20150516014601_17781", tile_x=260, tile_y=526, acquired=WHEN,
        min_row=100, max_row=139, min_col=7, max_col=56,
        bands={b: rng.integers(1, 256, (40, 50), dtype=np.uint8) for b in ("b01", "b02", "b03", "b05")},
        meta={"sun_elevation": 56.1, "utm_zone": 13}, quality={"swir_usable": True, "cloud_pct": 3.0},
        ac={"bands": {"b01": {"xa": 0.0031, "xb": 0.12, "xc": 0.15}}, "state": {"aot550": 0.1}},
        modis={m: rng.integers(-100, 9000, (256, 256), dtype=np.int16) for m in MODIS_BANDS},
    )
    fields.update(overrides)
    return SourceRow(**fields)


def assert_rows_equal(a: SourceRow, b: SourceRow) -> None:
    for name in ("granule_id", "tile_x", "tile_y", "acquired", "min_row", "max_row", "min_col", "max_col",
                 "meta", "ac", "quality"):
        assert getattr(a, name) == getattr(b, name), name
    assert sorted(a.bands) == sorted(b.bands) and sorted(a.modis) == sorted(b.modis)
    for name in a.bands:
        assert a.bands[name].dtype == b.bands[name].dtype and np.array_equal(a.bands[name], b.bands[name])
    for name in a.modis:
        assert a.modis[name].dtype == b.modis[name].dtype and np.array_equal(a.modis[name], b.modis[name])


# -- schemas ----------------------------------------------------------------------------------

def test_source_schema_columns_in_design_order() -> None:
    assert SOURCE_SCHEMA.names == (
        ("granule_id", "tile_x", "tile_y", "acquired", "meta", "min_row", "max_row", "min_col", "max_col")
        + tuple("b{:02d}".format(i) for i in range(1, 10)) + ("ac",)
        + tuple("m{:02d}".format(i) for i in range(1, 8)) + ("quality",))
    types = {c.name: (c.odps_type, c.sqlite_type, c.nullable) for c in SOURCE_SCHEMA.columns}
    assert types["tile_x"] == ("BIGINT", "INTEGER", False)
    assert types["acquired"] == ("DATETIME", "DATETIME", False)
    assert types["meta"] == ("STRING", "TEXT", False)
    assert types["b01"] == ("BINARY", "BLOB", True) and types["m07"] == ("BINARY", "BLOB", True)
    assert SOURCE_SCHEMA.key == ("granule_id", "tile_x", "tile_y")
    assert all(c.comment for c in SOURCE_SCHEMA.columns + RESULT_SCHEMA.columns)


def test_result_schema_is_long_layout_with_a_single_blob() -> None:
    assert RESULT_SCHEMA.names == ("tile_x", "tile_y", "method", "output", "dtype", "height", "width", "data", "meta")
    assert [c.name for c in RESULT_SCHEMA.columns if c.odps_type == "BINARY"] == ["data"]
    assert RESULT_SCHEMA.key == ("tile_x", "tile_y", "method", "output")


def test_odps_types_are_accepted_by_pyodps() -> None:
    for schema in (SOURCE_SCHEMA, RESULT_SCHEMA):
        names, types, _ = zip(*schema.odps_columns())
        odps_schema = OdpsTableSchema.from_lists(list(names), list(types))
        assert [c.name for c in odps_schema.columns] == list(schema.names)
        assert {str(c.type).upper() for c in odps_schema.columns} <= {"BIGINT", "STRING", "DATETIME", "BINARY"}
    ddl = SOURCE_SCHEMA.odps_ddl("src")
    assert ddl.startswith("CREATE TABLE IF NOT EXISTS src (")
    assert "`b01` BINARY COMMENT" in ddl and "`acquired` DATETIME COMMENT" in ddl


def test_sqlite_column_defs_create_a_table() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (\n{})".format(SOURCE_SCHEMA.sqlite_column_defs()))
    info = {r[1]: (r[2], r[3]) for r in conn.execute("PRAGMA table_info(t)")}
    assert info["b09"] == ("BLOB", 0) and info["granule_id"] == ("TEXT", 1)
    with pytest.raises(SchemaError, match="no column named 'nope'"):
        SOURCE_SCHEMA.column("nope")


# -- SourceRow ----------------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [True, False])
def test_source_row_dict_round_trip(compress: bool) -> None:
    row = make_row()
    record = row.to_dict(compress=compress)
    assert list(record) == list(SOURCE_SCHEMA.names)
    assert record["b04"] is None and isinstance(record["b01"], bytes)
    assert blob.peek(record["b01"]).shape == (40, 50)
    assert json.loads(record["meta"]) == row.meta and record["quality"] == '{"cloud_pct":3.0,"swir_usable":true}'
    assert_rows_equal(row, SourceRow.from_dict(record))


def test_source_row_without_modis_and_with_text_datetime() -> None:
    row = make_row(modis={})
    record = row.to_dict()
    assert all(record[m] is None for m in MODIS_BANDS)
    record["acquired"] = format_utc(row.acquired)
    assert record["acquired"] == "2006-09-06T18:02:42.347Z"
    assert_rows_equal(row, SourceRow.from_dict(record))


def test_acquired_is_utc_to_the_millisecond() -> None:
    local = datetime(2006, 9, 6, 20, 2, 42, 347999, tzinfo=timezone(timedelta(hours=2)))
    row = make_row(acquired=local)
    assert row.acquired == WHEN and row.acquired.tzinfo == UTC
    with pytest.raises(SchemaError, match="acquired: naive datetime"):
        make_row(acquired=datetime(2006, 9, 6))
    with pytest.raises(SchemaError, match="has no time zone"):
        parse_utc("2006-09-06T18:02:42")
    assert parse_utc("2006-09-06T18:02:42.5+01:00") == datetime(2006, 9, 6, 17, 2, 42, 500000, tzinfo=UTC)


def test_band_on_tile_places_the_crop_back() -> None:
    row = make_row()
    full = row.band_on_tile("b02")
    assert full.shape == (1024, 1024) and full.dtype == np.uint8
    assert np.array_equal(full[100:140, 7:57], row.bands["b02"])
    assert full.sum() == row.bands["b02"].sum()
    assert row.bands_present == ("b01", "b02", "b03", "b05") and row.bbox_shape == (40, 50)
    with pytest.raises(SchemaError, match="b04: band is absent"):
        row.band_on_tile("b04")


@pytest.mark.parametrize("overrides, column", [
    (dict(granule_id=""), "granule_id"),
    (dict(granule_id=" G"), "granule_id"),
    (dict(tile_x=-1), "tile_x"),
    (dict(tile_y=True), "tile_y"),
    (dict(tile_y=2.0), "tile_y"),
    (dict(min_row="3"), "min_row"),
    (dict(max_row=10), "bbox"),
    (dict(bands={}), "b01..b09"),
    (dict(bands={"b10": np.zeros((40, 50), np.uint8)}), "bands"),
    (dict(bands={"b02": np.zeros((40, 50), np.uint16)}), "b02"),
    (dict(bands={"b03": np.zeros((40, 51), np.uint8)}), "b03"),
    (dict(bands={"b03": np.zeros((40, 50, 1), np.uint8)}), "b03"),
    (dict(modis={"m01": np.zeros((256, 256), np.float32)}), "m01"),
    (dict(modis={"m01": np.zeros((256, 256), np.int16), "m02": np.zeros((128, 128), np.int16)}), "m02"),
    (dict(meta=[1, 2]), "meta"),
    (dict(ac={"bands": {"b01": {"xa": 1.0, "xb": 0.1}}}), "ac"),
    (dict(ac={"bands": {"b01": {"xa": float("nan"), "xb": 0.1, "xc": 0.2}}}), "ac"),
    (dict(ac={"bands": {"B1": {"xa": 1.0, "xb": 0.1, "xc": 0.2}}}), "ac"),
])
def test_invalid_source_rows_name_the_column(overrides, column) -> None:
    with pytest.raises(SchemaError) as info:
        make_row(**overrides)
    assert str(info.value).startswith(column), str(info.value)


def test_json_columns_are_strict_and_accept_numpy_scalars() -> None:
    row = make_row(meta={"n": np.int64(3), "x": np.float32(0.5), "v": np.arange(2)})
    assert json.loads(row.to_dict()["meta"]) == {"n": 3, "x": 0.5, "v": [0, 1]}
    row.meta["bad"] = float("nan")
    with pytest.raises(SchemaError, match="^meta: cannot be written as strict JSON"):
        row.to_dict()


def test_from_dict_errors_name_the_column() -> None:
    record = make_row().to_dict()
    with pytest.raises(SchemaError, match="^b01: got text"):
        SourceRow.from_dict(dict(record, b01=record["b01"].hex()))
    with pytest.raises(BlobError, match="^b02: blob: .*truncated"):
        SourceRow.from_dict(dict(record, b02=record["b02"][:-3]))
    with pytest.raises(SchemaError, match="^quality: not valid JSON"):
        SourceRow.from_dict(dict(record, quality="{oops"))
    with pytest.raises(SchemaError, match="^ac: expected a JSON object"):
        SourceRow.from_dict(dict(record, ac="[]"))
    with pytest.raises(SchemaError, match="missing column.*granule_id"):
        SourceRow.from_dict({k: v for k, v in record.items() if k != "granule_id"})
    with pytest.raises(SchemaError, match="unknown column.*extra"):
        SourceRow.from_dict(dict(record, extra=1))
    # nullable blob columns may be left out entirely
    short = {k: v for k, v in record.items() if k not in ("b09", "m07")}
    assert "b09" not in SourceRow.from_dict(short).bands


# -- ResultRow ---------------------------------------------------------------------------------

def test_result_row_round_trip() -> None:
    data = np.random.default_rng(5).random((1024, 1024)).astype(np.float32)
    data[:10] = np.nan
    row = ResultRow(260, 526, "mineral_indices", "ferric_iron", data, {"granules": ["a", "b"], "version": "0.1"})
    record = row.to_dict()
    assert (record["dtype"], record["height"], record["width"]) == ("float32", 1024, 1024)
    back = ResultRow.from_dict(record)
    assert back.key == (260, 526, "mineral_indices", "ferric_iron") and back.meta == row.meta
    assert np.array_equal(back.data, data, equal_nan=True) and back.data.dtype == np.float32
    mask = ResultRow(260, 526, "mosaic", MASK_OUTPUT, np.ones((1024, 1024), np.uint8))
    assert ResultRow.from_dict(mask.to_dict()).data.sum() == 1024 * 1024


def test_result_row_validation() -> None:
    ok = np.zeros((4, 4), np.float32)
    with pytest.raises(SchemaError, match="^data: the valid_mask output must be uint8"):
        ResultRow(1, 2, "mosaic", MASK_OUTPUT, ok)
    with pytest.raises(SchemaError, match="^data: expected a 2-D"):
        ResultRow(1, 2, "mosaic", "b01", np.zeros((2, 4, 4), np.float32))
    with pytest.raises(SchemaError, match="^output:"):
        ResultRow(1, 2, "mosaic", "b 01", ok)
    with pytest.raises(SchemaError, match="^method:"):
        ResultRow(1, 2, "", "b01", ok)
    with pytest.raises(SchemaError, match="^data: blob: dtype float16"):
        ResultRow(1, 2, "mosaic", "b01", ok.astype(np.float16))
    record = ResultRow(1, 2, "mosaic", "b01", ok).to_dict()
    with pytest.raises(SchemaError, match="^dtype: column says 'float64'"):
        ResultRow.from_dict(dict(record, dtype="float64"))
    with pytest.raises(SchemaError, match="^height/width"):
        ResultRow.from_dict(dict(record, width=5))


def test_oversized_result_cell_names_the_column() -> None:
    noise = np.random.default_rng(9).integers(0, 2 ** 62, (1024, 1024), dtype=np.int64)
    with pytest.raises(CellTooLargeError, match="^data: encoded blob"):
        ResultRow(0, 0, "mosaic", "b01", noise).to_dict()


def test_dn_band_names() -> None:
    assert DN_BANDS[2] == "b03" and len(DN_BANDS) == 9 and MODIS_BANDS == tuple("m0{}".format(i) for i in range(1, 8))
