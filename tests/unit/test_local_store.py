"""The embedded GeoPackage store: GDAL/QGIS-readable layers, transactions, idempotent re-ingest."""
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr
from osgeo_utils.samples import validate_gpkg

from gmi_engine.backends.local import STORE_FILENAME, LocalStore, gpkg_geometry
from gmi_engine.errors import BackendError, GmiFileError, SchemaError
from gmi_engine.grid import DEFAULT_GRID, TileGrid, TileIndex
from gmi_engine.refcsv import hex_csv_row_bytes
from gmi_engine.table import MASK_OUTPUT, ResultRow, SourceRow

gdal.UseExceptions()
T0 = datetime(2006, 9, 6, 18, 2, 42, tzinfo=timezone.utc)


def textured(shape, rng: np.random.Generator, bands: int = 9) -> np.ndarray:
    """Band-correlated uint8 scene texture with a ragged zero (fill) border, like a rotated granule."""
    rows, cols = shape
    coarse = rng.normal(size=(rows // 16 + 2, cols // 16 + 2))
    ys, xs = np.linspace(0, coarse.shape[0] - 1.001, rows), np.linspace(0, coarse.shape[1] - 1.001, cols)
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    field = (coarse[y0][:, x0] * (1 - fy) * (1 - fx) + coarse[y0 + 1][:, x0] * fy * (1 - fx)
             + coarse[y0][:, x0 + 1] * (1 - fy) * fx + coarse[y0 + 1][:, x0 + 1] * fy * fx)
    out = np.empty((bands, rows, cols), np.uint8)
    r, c = np.mgrid[0:rows, 0:cols]
    inside = (r - 0.2 * c > -0.1 * rows) & (r - 0.2 * c < 0.95 * rows)
    for b in range(bands):
        band = 110 + 35 * field * (1 + 0.05 * b) + rng.normal(0, 4, shape)
        out[b] = np.where(inside, np.clip(band, 1, 254), 0).astype(np.uint8)
    return out


def make_row(granule: str, tile=(260, 526), hours: float = 0.0, shape=(40, 50), seed: int = 0,
             bands=("b01", "b02", "b03", "b04", "b05", "b06", "b07", "b08", "b09"), modis: bool = True) -> SourceRow:
    rng = np.random.default_rng(seed)
    cube = textured(shape, rng, len(bands))
    return SourceRow(
        granule_id=granule, tile_x=tile[0], tile_y=tile[1], acquired=T0 + timedelta(hours=hours),
        min_row=3, max_row=3 + shape[0] - 1, min_col=5, max_col=5 + shape[1] - 1,
        bands={b: cube[i] for i, b in enumerate(bands)}, meta={"seed": seed},
        ac={"bands": {"b01": {"xa": 0.003, "xb": 0.1, "xc": 0.15}}}, quality={"swir_usable": True},
        modis={"m0{}".format(i): rng.integers(0, 5000, (256, 256), dtype=np.int16) for i in range(1, 8)}
        if modis else {},
    )


def same(a: SourceRow, b: SourceRow) -> bool:
    return (a.to_dict(compress=False) == b.to_dict(compress=False))


@pytest.fixture()
def store(tmp_path: Path):
    with LocalStore(tmp_path / "ws") as s:
        yield s


def test_store_file_is_a_valid_geopackage(store: LocalStore) -> None:
    store.replace_granule("G1", [make_row("G1", (260, 526)), make_row("G1", (261, 527), seed=1)])
    store.put_results([ResultRow(260, 526, "mosaic", "b01", np.zeros((8, 8), np.float32))])
    conn = sqlite3.connect(str(store.path))
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 10200
    srs = dict(conn.execute("SELECT srs_id, organization FROM gpkg_spatial_ref_sys").fetchall())
    assert srs == {-1: "NONE", 0: "NONE", 4326: "EPSG", 3857: "EPSG"}
    conn.close()
    errors = validate_gpkg.check(str(store.path), abort_at_first_error=False, extra_checks=True,
                                 warning_msg=False, warning_as_error=True)
    assert errors == []


def test_gdal_reads_tiles_as_polygon_layers(store: LocalStore) -> None:
    tiles = [(260, 526), (261, 526), (260, 527)]
    store.replace_granule("G1", [make_row("G1", t, seed=i) for i, t in enumerate(tiles)])
    store.put_results([ResultRow(261, 526, "mosaic", MASK_OUTPUT, np.ones((8, 8), np.uint8))])
    ds = gdal.OpenEx(str(store.path), gdal.OF_VECTOR | gdal.OF_READONLY)  # store still open (WAL)
    layer = ds.GetLayerByName("gmi_source")
    assert layer.GetFeatureCount() == 3 and layer.GetGeomType() == ogr.wkbPolygon
    assert layer.GetSpatialRef().GetAuthorityCode(None) == "3857"
    defn = layer.GetLayerDefn()
    assert defn.GetFieldDefn(defn.GetFieldIndex("acquired")).GetType() == ogr.OFTDateTime
    assert defn.GetFieldDefn(defn.GetFieldIndex("b01")).GetType() == ogr.OFTBinary
    seen = {}
    for feature in layer:
        geom = feature.GetGeometryRef()
        b = DEFAULT_GRID.bounds(TileIndex(feature["tile_x"], feature["tile_y"]))
        assert geom.GetEnvelope() == (b.xmin, b.xmax, b.ymin, b.ymax)
        assert abs(geom.GetArea() - 30720.0 ** 2) < 1e-3
        seen[(feature["tile_x"], feature["tile_y"])] = feature["granule_id"]
        assert feature.GetFieldAsDateTime("acquired")[:6] == [2006, 9, 6, 18, 2, 42]
    assert seen == {t: "G1" for t in tiles}
    west, north = DEFAULT_GRID.bounds(TileIndex(260, 526)), DEFAULT_GRID.bounds(TileIndex(261, 527))
    assert layer.GetExtent() == (west.xmin, north.xmax, north.ymin, west.ymax)
    content = ds.ExecuteSQL("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name='gmi_source'")
    f = content.GetNextFeature()
    bounds = (f.GetField(0), f.GetField(1), f.GetField(2), f.GetField(3))
    assert bounds == (west.xmin, north.ymin, north.xmax, west.ymax)
    ds.ReleaseResultSet(content)
    result = ds.GetLayerByName("gmi_result")
    feature = result.GetNextFeature()
    assert (feature["method"], feature["output"]) == ("mosaic", MASK_OUTPUT)
    assert feature.GetGeometryRef().GetEnvelope()[0] == DEFAULT_GRID.bounds(TileIndex(261, 526)).xmin


def test_geometry_blob_header() -> None:
    b = DEFAULT_GRID.bounds(TileIndex(260, 526))
    data = gpkg_geometry(b)
    assert data[:4] == b"GP\x00\x03" and int.from_bytes(data[4:8], "little") == 3857
    geom = ogr.CreateGeometryFromWkb(data[40:])
    assert geom.GetGeometryName() == "POLYGON" and geom.GetEnvelope() == (b.xmin, b.xmax, b.ymin, b.ymax)


def test_replace_granule_is_idempotent(store: LocalStore) -> None:
    rows = [make_row("G1", (260, 526)), make_row("G1", (261, 526), seed=1)]
    other = make_row("G2", (260, 526), hours=-5, seed=2)
    store.replace_granule("G2", [other])
    assert store.replace_granule("G1", rows) == 2
    first = store.stats()
    assert store.replace_granule("G1", rows) == 2
    assert store.stats().source_rows == first.source_rows == 3
    assert same(store.get_source_row("G1", (261, 526)), rows[1])
    # re-ingesting with fewer tiles drops the stale ones, other granules are untouched
    store.replace_granule("G1", [make_row("G1", (261, 526), seed=9)])
    assert store.tiles_of_granule("G1") == [TileIndex(261, 526)]
    assert same(store.get_source_row("G2", (260, 526)), other)
    assert store.get_source_row("G1", (260, 526)) is None
    assert store.delete_granule("G1") == 1 and store.granules() == ["G2"]


def test_failed_write_rolls_back(store: LocalStore) -> None:
    store.replace_granule("G1", [make_row("G1", (260, 526))])
    conn = sqlite3.connect(str(store.path))
    conn.execute("CREATE TRIGGER boom BEFORE INSERT ON gmi_source WHEN NEW.tile_x = 262 "
                 "BEGIN SELECT RAISE(ABORT, 'boom'); END")
    conn.commit()
    conn.close()
    with pytest.raises(BackendError, match="rolled back.*boom"):
        store.replace_granule("G1", [make_row("G1", (261, 526)), make_row("G1", (262, 526))])
    assert store.tiles_of_granule("G1") == [TileIndex(260, 526)]
    with pytest.raises(SchemaError, match="^granule_id"):
        store.replace_granule("G1", [make_row("G9")])
    with pytest.raises(SchemaError, match="appears twice"):
        store.replace_granule("G1", [make_row("G1"), make_row("G1")])
    too_big = make_row("G1", (263, 526))
    too_big.min_row, too_big.max_row = 1000, 1039
    with pytest.raises(SchemaError, match="^bbox: .*exceed the 1024 px tile"):
        store.replace_granule("G1", [make_row("G1", (261, 526)), too_big])
    assert store.tiles_of_granule("G1") == [TileIndex(260, 526)]


def test_tile_rows_sorted_by_acquisition(store: LocalStore) -> None:
    for name, hours in (("GB", 30.0), ("GA", 10.0), ("GC", -2.0)):
        store.replace_granule(name, [make_row(name, (260, 526), hours=hours, bands=("b01",), modis=False),
                                     make_row(name, (300, 400), hours=hours, bands=("b02",), modis=False)])
    assert [r.granule_id for r in store.tile_rows((260, 526))] == ["GC", "GA", "GB"]
    assert [r.granule_id for r in store.tile_rows(TileIndex(300, 400))] == ["GC", "GA", "GB"]
    assert store.tiles() == [TileIndex(260, 526), TileIndex(300, 400)]
    assert store.granules() == ["GA", "GB", "GC"]
    order = [(r.tile, r.granule_id) for r in store.iter_source_rows()]
    assert order == [((260, 526), "GC"), ((260, 526), "GA"), ((260, 526), "GB"),
                     ((300, 400), "GC"), ((300, 400), "GA"), ((300, 400), "GB")]
    assert [r.tile for r in store.iter_source_rows(granules=["GA"])] == [(260, 526), (300, 400)]
    assert list(store.iter_source_rows(tiles=[])) == []
    row = store.tile_rows((300, 400))[0]
    assert row.bands_present == ("b02",) and row.modis == {}


def test_upsert_replaces_by_key(store: LocalStore) -> None:
    store.upsert_source_rows([make_row("G1", (260, 526)), make_row("G1", (261, 526))])
    newer = make_row("G1", (260, 526), seed=4)
    store.upsert_source_rows([newer])
    assert store.stats().source_rows == 2 and same(store.get_source_row("G1", (260, 526)), newer)


def test_results_put_replace_delete(store: LocalStore) -> None:
    data = np.arange(64, dtype=np.float32).reshape(8, 8)
    rows = [ResultRow(260, 526, "mosaic", "b0{}".format(i), data + i, {"granules": ["G1"]}) for i in range(1, 4)]
    rows.append(ResultRow(260, 526, "mosaic", MASK_OUTPUT, np.ones((8, 8), np.uint8)))
    assert store.put_results(rows) == 4
    got = store.results((260, 526), "mosaic")
    assert sorted(got) == ["b01", "b02", "b03", MASK_OUTPUT]
    assert np.array_equal(got["b02"].data, data + 2) and got["b02"].meta == {"granules": ["G1"]}
    store.put_results([ResultRow(260, 526, "mosaic", "b02", data * 0)])
    assert store.results((260, 526), "mosaic")["b02"].data.sum() == 0 and store.stats().result_rows == 4
    store.put_results([ResultRow(261, 526, "mineral_indices", "ndvi", data)])
    assert store.replace_results((260, 526), "mosaic", rows[:1]) == 1
    assert sorted(store.results((260, 526), "mosaic")) == ["b01"]
    assert store.methods() == ["mineral_indices", "mosaic"]
    assert store.result_tiles("mineral_indices") == [TileIndex(261, 526)]
    assert [r.key for r in store.iter_results()] == [(261, 526, "mineral_indices", "ndvi"), (260, 526, "mosaic", "b01")]
    with pytest.raises(SchemaError, match="replace_results"):
        store.replace_results((260, 526), "mosaic", [ResultRow(261, 526, "mosaic", "b01", data)])
    assert store.delete_results(method="mosaic") == 1 and store.stats().result_rows == 1
    assert store.results((260, 526), "mosaic") == {}


def test_reopen_and_refuse_foreign_files(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with LocalStore(ws) as s:
        s.replace_granule("G1", [make_row("G1")])
    with LocalStore(ws, create=False) as s:
        assert s.granules() == ["G1"]
    assert not (ws / (STORE_FILENAME + "-wal")).exists()  # checkpointed on close
    with pytest.raises(GmiFileError, match="res-30_tilesize-1024 grid, not res-30_tilesize-512"):
        LocalStore(ws, grid=TileGrid(30.0, 512))
    with pytest.raises(GmiFileError, match="no GMI store here"):
        LocalStore(tmp_path / "missing", create=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    ogr.GetDriverByName("GPKG").CreateDataSource(str(foreign / STORE_FILENAME)).CreateLayer("x")
    with pytest.raises(GmiFileError, match="not a GMI store"):
        LocalStore(foreign)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / STORE_FILENAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(GmiFileError, match="not a readable GMI store"):
        LocalStore(junk)


def test_a_second_connection_sees_committed_writes(tmp_path: Path) -> None:
    with LocalStore(tmp_path) as writer, LocalStore(tmp_path) as reader:
        writer.replace_granule("G1", [make_row("G1")])
        assert reader.granules() == ["G1"]
        writer.delete_granule("G1")
        assert reader.stats().source_rows == 0


def test_stored_size_is_at_most_half_the_hex_csv(store: LocalStore, capsys) -> None:
    """A realistic row: 9 textured uint8 bands of a 700 x 900 bbox plus 7 MODIS bands."""
    empty = store.stats().file_bytes
    rows = [make_row("G{}".format(i), (260 + i, 526), shape=(700, 900), seed=i) for i in range(3)]
    for row in rows:
        store.replace_granule(row.granule_id, [row])
    stats = store.stats()
    stored = (stats.file_bytes - empty) / len(rows)
    hex_bytes = sum(hex_csv_row_bytes(r) for r in rows) / len(rows)
    raw = sum(a.nbytes for a in list(rows[0].bands.values()) + list(rows[0].modis.values()))
    ratio = stored / hex_bytes
    with capsys.disabled():
        print("\nrow: raw arrays {:.0f} B, hex CSV {:.0f} B, stored {:.0f} B (blobs {:.0f} B) -> ratio {:.3f}".format(
            raw, hex_bytes, stored, stats.bytes_per_source_row, ratio))
    assert hex_bytes > 2 * raw
    assert ratio <= 0.5
