"""Reference-engine CSV interchange: lossless round trip, the reference's own layout, the CLI."""
import csv
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from gmi_engine.backends.local import LocalStore
from gmi_engine.cli import main as cli
from gmi_engine.errors import SchemaError
from gmi_engine.grid import TileGrid
from gmi_engine.refcsv import (
    AC_COLUMN,
    BAND_COLUMNS,
    COLUMNS,
    MODIS_COLUMNS,
    read_reference_csv,
    row_from_reference,
    row_to_reference,
    write_reference_csv,
)
from gmi_engine.table import SourceRow

UTC = timezone.utc
GRANULE = "AST_L1T_00309062006180242_20150516014601_17781"
# Script1's column order and spellings: misspelled AC column, modis_bands_<i>, tile_info without x/y
SCRIPT1_HEADER = (["granule_id", "min_row", "min_col", "max_row", "max_col", "tile_index_x", "tile_index_y",
                   "tile_info", "meta", "atmoshpheric_correction_paras"]
                  + ["VNIR_Swath_ImageData{}".format(i) for i in (1, 2, 3)]
                  + ["SWIR_Swath_ImageData{}".format(i) for i in range(4, 10)]
                  + ["modis_bands_{}".format(i) for i in range(7)])


def make_row(granule: str = GRANULE, tile=(260, 526), seed: int = 0, shape=(30, 45), bands=None,
             modis: bool = True) -> SourceRow:
    rng = np.random.default_rng(seed)
    bands = bands or ["b0{}".format(i) for i in range(1, 10)]
    return SourceRow(
        granule_id=granule, tile_x=tile[0], tile_y=tile[1],
        acquired=datetime(2006, 9, 6, 18, 2, 42, 125000, tzinfo=UTC),
        min_row=500, max_row=500 + shape[0] - 1, min_col=20, max_col=20 + shape[1] - 1,
        bands={b: rng.integers(1, 256, shape, dtype=np.uint8) for b in bands},
        meta={"SOLARDIRECTION": "146.2, 56.1", "utm_zone": 13, "nested": {"k": [1, 2.5, None]}},
        ac={"bands": {b: {"xa": 0.0021 * (i + 1), "xb": 0.1, "xc": 0.14} for i, b in enumerate(bands)},
            "state": {"aot550": 0.12, "water_vapour": 1.3}, "lut": "default-v1"},
        modis={"m0{}".format(i): rng.integers(-100, 9000, (256, 256), dtype=np.int16) for i in range(1, 8)}
        if modis else {},
        quality={"swir_usable": True, "cloud_pct": 2.0, "gains": {"b01": "HGH"}},
    )


def assert_same(a: SourceRow, b: SourceRow) -> None:
    assert a.to_dict(compress=False) == b.to_dict(compress=False)


def test_round_trip_is_lossless(tmp_path: Path) -> None:
    rows = [make_row(), make_row(tile=(261, 526), seed=1, bands=["b01", "b02", "b03"], modis=False),
            make_row("AST_L1T_00310102007175011_20150520000000_1", seed=2, shape=(1, 1), bands=["b09"])]
    path = tmp_path / "rows.csv"
    assert write_reference_csv(path, rows) == 3
    back = list(read_reference_csv(path))
    assert len(back) == 3
    for a, b in zip(rows, back):
        assert_same(a, b)


def test_written_layout_is_the_reference_layout(tmp_path: Path) -> None:
    row = make_row()
    path = tmp_path / "rows.csv"
    write_reference_csv(path, [row])
    with open(path, newline="") as handle:
        header, values = list(csv.reader(handle))
    assert header == list(COLUMNS)
    assert header[:10] == ["granule_id", "min_row", "min_col", "max_row", "max_col", "tile_index_x",
                           "tile_index_y", "tile_info", "meta", "atmospheric_correction_paras"]
    assert header[10:19] == ["VNIR_Swath_ImageData1", "VNIR_Swath_ImageData2", "VNIR_Swath_ImageData3"] + [
        "SWIR_Swath_ImageData{}".format(i) for i in range(4, 10)]
    assert header[19:] == ["modis_VNIR_Swath_ImageData{}".format(i) for i in (1, 2, 3, 4)] + [
        "modis_SWIR_Swath_ImageData{}".format(i) for i in (5, 6, 7)]
    record = dict(zip(header, values))
    assert record["tile_info"] == "res-30_tilesize-1024_x-260_y-526"
    # decode a band the way the reference tools do: hex -> uint8, inclusive bbox
    rows = int(record["max_row"]) - int(record["min_row"]) + 1
    cols = int(record["max_col"]) - int(record["min_col"]) + 1
    band = np.frombuffer(bytes.fromhex(record["SWIR_Swath_ImageData6"]), np.uint8).reshape(rows, cols)
    assert np.array_equal(band, row.bands["b06"])
    assert record["VNIR_Swath_ImageData2"] == record["VNIR_Swath_ImageData2"].lower()
    modis = np.frombuffer(bytes.fromhex(record["modis_SWIR_Swath_ImageData7"]), "<i2").reshape(256, 256)
    assert np.array_equal(modis, row.modis["m07"])
    paras = json.loads(record[AC_COLUMN])
    assert paras["VNIR_Swath:ImageData1"] == {"a": 0.0021, "b": 0.1, "c": 0.14}
    assert paras["SWIR_Swath:ImageData9"]["a"] == pytest.approx(0.0189)
    meta = json.loads(record["meta"])
    assert meta["_gmi"]["acquired"] == "2006-09-06T18:02:42.125Z" and meta["utm_zone"] == 13


def _reference_cells(rng: np.random.Generator, shape):
    """Band and MODIS cells as the reference's Script1 makes them (hex of uint8 / float64 arrays)."""
    bands = [rng.integers(1, 256, shape, dtype=np.uint8) for _ in range(9)]
    modis = [rng.integers(0, 6000, (256, 256)).astype(np.float64) for _ in range(7)]
    return bands, modis


def test_reads_a_hand_written_script1_csv(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    bands, modis = _reference_cells(rng, (12, 17))
    paras = {"VNIR_Swath:ImageData{}".format(i): {"a": 0.0025, "b": 0.11, "c": 0.16} for i in (1, 2, 3)}
    paras.update({"SWIR_Swath:ImageData{}".format(i): {"a": 0.02, "b": 0.01, "c": 0.05} for i in range(4, 10)})
    gdal_meta = {"CALENDARDATE": "20060906", "SOLARDIRECTION": "146.23, 56.12", "ORIGINALBANDSPRESENT": "1,2,3N"}
    row = [GRANULE, 200, 300, 211, 316, 260, 526, "res-30_tilesize-1024", json.dumps(gdal_meta), json.dumps(paras)]
    row += [b.tobytes().hex() for b in bands] + [m.tobytes().hex() for m in modis]
    path = tmp_path / "GMI_ComputeEngine_Demo_ASTER_Tiles_Table.csv"
    with open(path, "w", newline="") as handle:  # as pandas' to_csv(index=False) writes it
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SCRIPT1_HEADER)
        writer.writerow(row)
    csv.field_size_limit(131072)  # the reader must raise the csv module's default itself
    (got,) = list(read_reference_csv(path))
    assert got.tile == (260, 526) and (got.min_row, got.max_row, got.min_col, got.max_col) == (200, 211, 300, 316)
    assert got.acquired == datetime(2006, 9, 6, 18, 2, 42, tzinfo=UTC)  # from the granule id
    for i, name in enumerate(BAND_COLUMNS):
        assert np.array_equal(got.bands[name], bands[i])
    for i, name in enumerate(MODIS_COLUMNS):
        assert got.modis[name].dtype == np.int16 and np.array_equal(got.modis[name], modis[i])
    assert got.ac["bands"]["b03"] == {"xa": 0.0025, "xb": 0.11, "xc": 0.16}
    assert got.ac["bands"]["b09"] == {"xa": 0.02, "xb": 0.01, "xc": 0.05} and got.ac["reference"] == paras
    assert got.meta == gdal_meta and got.quality == {"origin": "reference-csv"}


def test_reads_odps_download_layout_with_lowercase_names(tmp_path: Path) -> None:
    """Script2's table (lower-case names from MaxCompute), upper-case hex, bands 3N and modis_b01 aliases."""
    rng = np.random.default_rng(12)
    bands, _ = _reference_cells(rng, (3, 4))
    modis = rng.integers(-50, 50, (256, 256), dtype=np.int16)
    header = (["Unnamed: 0", "granule_id", "min_row", "min_col", "max_row", "max_col", "tile_index_x", "tile_index_y",
               "tile_info", "meta", "atmospheric_correction_paras", "vnir_swath_imagedata1", "vnir_swath_imagedata2",
               "vnir_swath_imagedata3n"] + ["swir_swath_imagedata{}".format(i) for i in range(4, 10)] + ["modis_b01"])
    values = (["0", "AST_L1T_00301012001000000_x", "0.0", "1", "2.0", "4", "10", "20", "res-30_tilesize-1024_x-10_y-20",
               json.dumps({"TIMEOFDAY": "000000Z"}), ""] + [b.tobytes().hex().upper() for b in bands]
              + [modis.astype("<i2").tobytes().hex()])
    path = tmp_path / "download.csv"
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([header, values])
    (got,) = list(read_reference_csv(path))
    assert got.acquired == datetime(2001, 1, 1, tzinfo=UTC) and got.ac == {}
    assert got.bbox_shape == (3, 4) and np.array_equal(got.bands["b03"], bands[2])
    assert list(got.modis) == ["m01"] and np.array_equal(got.modis["m01"], modis)


def test_reference_full_tile_rows_without_valid_pixels(tmp_path: Path) -> None:
    """The reference stores a tile with no valid pixel whole, with bbox (0, 0, rows, cols)."""
    grid = TileGrid(30.0, 32)
    full = np.random.default_rng(3).integers(0, 256, (32, 32), dtype=np.uint8)
    record = {"granule_id": GRANULE, "min_row": "0", "min_col": "0", "max_row": "32", "max_col": "32",
              "tile_index_x": "7", "tile_index_y": "9", "tile_info": "res-30_tilesize-32", "meta": "{}",
              AC_COLUMN: "", BAND_COLUMNS["b01"]: full.tobytes().hex()}
    row = row_from_reference(record, grid=grid)
    assert (row.max_row, row.max_col) == (31, 31) and np.array_equal(row.bands["b01"], full)


def _record(**changes):
    record = row_to_reference(make_row(shape=(2, 3), modis=False))
    record.update(changes)
    return record


@pytest.mark.parametrize("changes, message", [
    ({BAND_COLUMNS["b02"]: "zz"}, "^VNIR_Swath_ImageData2: not hex text"),
    ({BAND_COLUMNS["b04"]: "00" * 7}, r"^SWIR_Swath_ImageData4: raw blob: 7 bytes, but uint8 \(2, 3\) needs 6"),
    ({"max_row": "499"}, "^min_row..max_col: bbox rows 500..499"),
    ({"min_col": "x"}, "^min_col: 'x' is not an integer"),
    ({"tile_info": "res-30_tilesize-1024_x-1_y-2"}, "^tile_info: .* names another tile"),
    ({"tile_info": "res-15_tilesize-1024"}, "^tile_info: .* is not on the res-30_tilesize-1024 grid"),
    ({"tile_info": "tile 260 526"}, "^tile_info: 'tile 260 526' is not"),
    ({"meta": "{not json"}, "^meta: not valid JSON"),
    ({"meta": "[]"}, "^meta: expected a JSON object"),
    ({"meta": "{}", "granule_id": "my_granule"}, "^acquired: cannot tell the acquisition time of 'my_granule'"),
    ({AC_COLUMN: json.dumps({"VNIR_Swath:ImageData1": {"a": 1}})}, "^atmospheric_correction_paras: entry"),
    ({MODIS_COLUMNS["m01"]: (np.full((256, 256), 0.5)).tobytes().hex()},
     "^modis_VNIR_Swath_ImageData1: float64 values"),
    ({MODIS_COLUMNS["m02"]: "00" * 100}, "^modis_VNIR_Swath_ImageData2: 100 bytes is not a 256x256"),
])
def test_bad_cells_name_the_column(changes, message) -> None:
    with pytest.raises(SchemaError, match=message):
        row_from_reference(_record(**changes))


def test_file_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    rows = [row_to_reference(make_row(shape=(2, 3), modis=False, seed=i)) for i in range(2)]
    rows[1][BAND_COLUMNS["b05"]] = "abc"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows([[r[c] for c in COLUMNS] for r in rows])
    reader = read_reference_csv(path)
    assert next(reader).granule_id == GRANULE
    with pytest.raises(SchemaError, match=r"bad.csv:3: SWIR_Swath_ImageData5: not hex text"):
        next(reader)
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(SchemaError, match="not a reference source-table CSV, missing column.*granule_id"):
        list(read_reference_csv(tmp_path / "other.csv"))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(SchemaError, match="empty file"):
        list(read_reference_csv(tmp_path / "empty.csv"))


def test_reserved_meta_key_is_refused() -> None:
    row = make_row()
    row.meta["_gmi"] = 1
    with pytest.raises(SchemaError, match="^meta: key '_gmi' is reserved"):
        row_to_reference(row)


@pytest.mark.parametrize("meta, granule, expected", [
    ({"CALENDARDATE": "20050519", "TIMEOFDAY": "181928427000Z"}, "G",
     datetime(2005, 5, 19, 18, 19, 28, 427000, tzinfo=UTC)),
    ({"CALENDARDATE": "20050519", "TIMEOFDAY": "181928.5Z"}, "G",
     datetime(2005, 5, 19, 18, 19, 28, 500000, tzinfo=UTC)),
    ({"CALENDARDATE": "20050519", "TIMEOFDAY": "181928427000Z"}, GRANULE,
     datetime(2005, 5, 19, 18, 19, 28, 427000, tzinfo=UTC)),
    ({"CALENDARDATE": "2005-05-19"}, GRANULE, datetime(2006, 9, 6, 18, 2, 42, tzinfo=UTC)),
])
def test_acquisition_time_of_reference_rows(meta, granule, expected) -> None:
    record = _record(meta=json.dumps(meta), granule_id=granule)
    assert row_from_reference(record).acquired == expected


def test_cli_export_import_info(tmp_path: Path, capsys) -> None:
    rows = [make_row(), make_row(tile=(261, 526), seed=1), make_row("AST_L1T_00310102007175011_2", seed=2)]
    with LocalStore(tmp_path / "a") as store:
        store.replace_granule(GRANULE, rows[:2])
        store.replace_granule(rows[2].granule_id, rows[2:])
    out = tmp_path / "export.csv"
    assert cli.main(["table", "export-csv", "--workspace", str(tmp_path / "a"), str(out)]) == 0
    assert cli.main(["table", "import-csv", "--workspace", str(tmp_path / "b"), str(out)]) == 0
    assert cli.main(["table", "import-csv", "--workspace", str(tmp_path / "b"), str(out)]) == 0  # idempotent
    with LocalStore(tmp_path / "a") as a, LocalStore(tmp_path / "b") as b:
        left, right = list(a.iter_source_rows()), list(b.iter_source_rows())
        assert len(left) == len(right) == 3
        for x, y in zip(left, right):
            assert_same(x, y)
    part = tmp_path / "part.csv"
    assert cli.main(["table", "export-csv", "-w", str(tmp_path / "a"), "--tile", "261,526", str(part)]) == 0
    assert [r.tile for r in read_reference_csv(part)] == [(261, 526)]
    capsys.readouterr()
    assert cli.main(["table", "info", "--workspace", str(tmp_path / "b")]) == 0
    text = capsys.readouterr().out
    assert "tiles        2" in text and "granules     2" in text and "source rows  3" in text
    assert cli.main(["table", "info", "--workspace", str(tmp_path / "b"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["tiles"], info["granules"], info["source_rows"], info["result_rows"]) == (2, 2, 3, 0)
    assert info["file_bytes"] > info["source_blob_bytes"] > 0
    assert cli.main(["table", "info", "--workspace", str(tmp_path / "nowhere")]) == 1
    assert "no GMI store here" in capsys.readouterr().err
    assert cli.main(["table", "import-csv", "--workspace", str(tmp_path / "b"), str(tmp_path / "nope.csv")]) == 1
    assert "no such CSV file" in capsys.readouterr().err
