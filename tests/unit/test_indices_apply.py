"""Custom indices in the engine: a user formula on a real LocalStore's results and on a real GeoTIFF.

The expectations are computed here with numpy in float64 from the documented rules: NaN in a band
read gives NaN, ``|denominator| < 1e-6`` gives NaN, and a SWIR index is NaN wherever any SWIR
band (b4..b9) is NaN.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, osr

from gmi_engine.backends.local import LocalStore
from gmi_engine.errors import GmiFileError, GmiInputError
from gmi_engine.export.layout import ExportLayout
from gmi_engine.export.results import ExportOptions
from gmi_engine.grid import DEFAULT_GRID, TileIndex
from gmi_engine.indices import default_library, user_index
from gmi_engine.indices.apply import (
    RESULT_METHOD,
    IndexCancelled,
    index_raster,
    index_rows,
    index_workspace,
    source_method,
)
from gmi_engine.kernel.bands import BAND_COLUMNS
from gmi_engine.synth.reflectance_raster import write_reflectance_geotiff
from gmi_engine.table import MASK_OUTPUT, ResultRow

gdal.UseExceptions()

FORMULA = "(b5*b7)/b6**2"
INDEX_ID = "clay_ratio"
PX = DEFAULT_GRID.tile_px
TILES = [TileIndex(260, 526), TileIndex(261, 526)]


@pytest.fixture(scope="module")
def library():
    return default_library().with_index(user_index(INDEX_ID, FORMULA, "Clay ratio"))


def expected_clay_ratio(stack: np.ndarray) -> np.ndarray:
    """(b5 * b7) / b6**2 in float64 with the NaN rules, as float32."""
    b5, b6, b7 = (stack[i].astype(np.float64) for i in (4, 5, 6))
    denominator = b6 ** 2
    with np.errstate(all="ignore"):
        value = (b5 * b7) / denominator
    value[~(np.abs(denominator) >= 1e-6)] = np.nan  # also NaN where b6 is NaN
    value[~np.isfinite(stack[3:]).all(axis=0)] = np.nan  # the SWIR rule
    return value.astype(np.float32)


def reflectance_stack(seed: int, rows: int, cols: int) -> np.ndarray:
    """Nine smooth reflectance bands with NaN rows, a b6 = 0 patch and a b4-only NaN patch."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0.02, 0.5, (9, rows // 16 + 1, cols // 16 + 1))
    stack = np.kron(coarse, np.ones((1, 16, 16)))[:, :rows, :cols].astype(np.float32)
    stack[:, :5, :] = np.nan
    stack[5, 40:50, 10:20] = 0.0  # b6 = 0: the division gives NaN
    stack[3, 60:70, 30:40] = np.nan  # b4 only: not read by the formula, but SWIR is unusable there
    return stack


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A store with mosaic results on two tiles and color_balancing results on the first."""
    ws = tmp_path_factory.mktemp("ws")
    stacks = {}
    rows = []
    for n, tile in enumerate(TILES):
        for method in ("mosaic", "color_balancing"):
            if method == "color_balancing" and n:
                continue
            stack = reflectance_stack(10 * n + len(method), PX, PX)
            stacks[tile, method] = stack
            meta = {"method": method, "tile": [tile.ix, tile.iy], "granules": [
                {"granule_id": "AST_L1T_00309062006180242_20150516014601_17781",
                 "acquired": "2006-09-06T18:02:42.000Z"}]}
            rows += [ResultRow(tile.ix, tile.iy, method, column, stack[i], meta)
                     for i, column in enumerate(BAND_COLUMNS)]
            mask = np.isfinite(stack).all(axis=0).astype(np.uint8)
            rows.append(ResultRow(tile.ix, tile.iy, method, MASK_OUTPUT, mask, dict(meta, mask=True)))
    with LocalStore(ws) as store:
        store.put_results(rows)
    return ws, stacks


def test_index_rows_evaluate_each_tile_with_progress_and_meta(workspace, library):
    ws, stacks = workspace
    reported = []
    with LocalStore(ws, create=False) as store:
        rows = list(index_rows(store, "mosaic", TILES, INDEX_ID, library,
                               progress=lambda f, m: reported.append((f, m))))
    assert [(r.tile_x, r.tile_y, r.method, r.output) for r in rows] == [
        (t.ix, t.iy, RESULT_METHOD, INDEX_ID) for t in TILES]
    for row, tile in zip(rows, TILES):
        np.testing.assert_allclose(row.data, expected_clay_ratio(stacks[tile, "mosaic"]), rtol=1e-6,
                                   equal_nan=True)
        assert row.meta["mask"] is True  # the mask's meta, plus what was computed
        assert row.meta["custom_index"] == {"id": INDEX_ID, "formula": library[INDEX_ID].formula,
                                            "source_method": "mosaic"}
    assert [f for f, _ in reported] == [0.5, 1.0] and reported[0][1] == "tile 260,526"
    assert np.isnan(rows[0].data[60:70, 30:40]).all() and np.isnan(rows[0].data[40:50, 10:20]).all()


def test_index_rows_stop_when_cancelled(workspace, library):
    ws, _ = workspace
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 1  # after the first tile

    with LocalStore(ws, create=False) as store:
        rows = index_rows(store, "mosaic", TILES, INDEX_ID, library, cancelled=cancelled)
        assert next(rows).tile_x == TILES[0].ix
        with pytest.raises(IndexCancelled):
            next(rows)


def test_source_method_prefers_balanced_reflectance(workspace, tmp_path):
    ws, _ = workspace
    with LocalStore(ws, create=False) as store:
        assert source_method(store) == "color_balancing"
        assert source_method(store, "mosaic") == "mosaic"
        with pytest.raises(GmiInputError, match="not one of"):
            source_method(store, "mineral_indices")
    with LocalStore(tmp_path / "empty") as store:
        with pytest.raises(GmiInputError, match="no reflectance results"):
            source_method(store)
        with pytest.raises(GmiInputError, match="no mosaic results"):
            source_method(store, "mosaic")


def test_index_workspace_exports_the_tiles(workspace, library, tmp_path):
    ws, stacks = workspace
    reported = []
    report = index_workspace(ws, tmp_path / "out", INDEX_ID, library, progress=lambda f, m: reported.append(f))
    layout = ExportLayout.at(tmp_path / "out")
    assert report.path == layout.output_vrt(RESULT_METHOD, INDEX_ID) and report.path.is_file()
    assert (report.source_method, report.tiles, report.cancelled) == ("color_balancing", 1, False)
    tif = layout.tile_raster(RESULT_METHOD, INDEX_ID, DEFAULT_GRID.key(TILES[0]))
    dataset = gdal.Open(str(tif))
    got = dataset.GetRasterBand(1).ReadAsArray()
    np.testing.assert_allclose(got, expected_clay_ratio(stacks[TILES[0], "color_balancing"]), rtol=1e-6,
                               equal_nan=True)
    assert tif.with_suffix(".qml").is_file() and reported == sorted(reported) and reported[-1] == 1.0

    mosaic = index_workspace(ws, tmp_path / "m", INDEX_ID, library, source="mosaic", tiles=[TILES[1]],
                             options=ExportOptions(cog=False, compression="deflate", stac=False))
    assert (mosaic.source_method, mosaic.tiles) == ("mosaic", 1)
    tif = ExportLayout.at(tmp_path / "m").tile_raster(RESULT_METHOD, INDEX_ID, DEFAULT_GRID.key(TILES[1]))
    dataset = gdal.Open(str(tif))
    assert dataset.GetMetadata("IMAGE_STRUCTURE").get("COMPRESSION") == "DEFLATE"
    np.testing.assert_allclose(dataset.GetRasterBand(1).ReadAsArray(), expected_clay_ratio(stacks[TILES[1], "mosaic"]),
                               rtol=1e-6, equal_nan=True)
    assert not list((tmp_path / "m").rglob("*.json"))  # no STAC items


def test_index_workspace_refuses_tiles_without_results_and_reports_a_cancel(workspace, library, tmp_path):
    ws, _ = workspace
    with pytest.raises(GmiInputError, match="no color_balancing results on 261,526"):
        index_workspace(ws, tmp_path / "out", INDEX_ID, library, tiles=[TILES[1]])
    report = index_workspace(ws, tmp_path / "c", INDEX_ID, library, source="mosaic", cancelled=lambda: True)
    assert report.cancelled and report.tiles == 0
    assert not report.path.exists()


def nine_band_raster(path: Path, rows: int, cols: int) -> np.ndarray:
    """A 9-band uint16 raster (scale 1e-4, nodata 65535) in UTM 12N; returns its float32 reflectance."""
    return write_reflectance_geotiff(path, reflectance_stack(3, rows, cols))


def test_index_raster_writes_a_tiled_geotiff_on_the_source_grid(library, tmp_path):
    source = tmp_path / "refl.tif"
    truth = nine_band_raster(source, 300, 70)
    reported = []
    report = index_raster(source, tmp_path / "out", INDEX_ID, library,
                          ExportOptions(cog=False, compression="deflate"), progress=lambda f, m: reported.append(f))
    assert report.path == tmp_path / "out" / RESULT_METHOD / (INDEX_ID + ".tif") and not report.cancelled
    dataset = gdal.Open(str(report.path))
    assert dataset.GetGeoTransform() == (600000.0, 30.0, 0.0, 3640000.0, 0.0, -30.0)
    assert osr.SpatialReference(wkt=dataset.GetProjection()).GetAuthorityCode(None) == "32612"
    band = dataset.GetRasterBand(1)
    assert np.isnan(band.GetNoDataValue()) and band.GetDescription() == INDEX_ID
    assert dataset.GetMetadata("IMAGE_STRUCTURE").get("COMPRESSION") == "DEFLATE"
    np.testing.assert_allclose(band.ReadAsArray(), expected_clay_ratio(truth), rtol=1e-6, equal_nan=True)
    assert report.path.with_suffix(".qml").is_file()
    assert reported == [256 / 300, 1.0]


def test_index_raster_writes_a_cog_with_the_default_options(library, tmp_path):
    source = tmp_path / "refl.tif"
    truth = nine_band_raster(source, 700, 600)
    report = index_raster(source, tmp_path / "out", INDEX_ID, library)
    dataset = gdal.Open(str(report.path))
    assert dataset.GetMetadata("IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    assert dataset.GetMetadata("IMAGE_STRUCTURE").get("COMPRESSION") == "ZSTD"
    assert dataset.GetRasterBand(1).GetOverviewCount() >= 1
    np.testing.assert_allclose(dataset.GetRasterBand(1).ReadAsArray(), expected_clay_ratio(truth), rtol=1e-6,
                               equal_nan=True)
    assert sorted(p.name for p in report.path.parent.iterdir()) == [INDEX_ID + ".qml", INDEX_ID + ".tif"]


def test_index_raster_stops_when_cancelled_and_refuses_bad_inputs(library, tmp_path):
    source = tmp_path / "refl.tif"
    nine_band_raster(source, 300, 70)
    report = index_raster(source, tmp_path / "out", INDEX_ID, library, ExportOptions(cog=False),
                          cancelled=lambda: True)
    assert report.cancelled and not report.path.with_suffix(".qml").exists()
    rgb = tmp_path / "rgb.tif"
    gdal.GetDriverByName("GTiff").Create(str(rgb), 8, 8, 3, gdal.GDT_Float32)
    with pytest.raises(GmiInputError, match="has 3 band"):
        index_raster(rgb, tmp_path / "o", INDEX_ID, library)
    with pytest.raises(GmiFileError, match="GDAL cannot open"):
        index_raster(tmp_path / "missing.tif", tmp_path / "o", INDEX_ID, library)


@pytest.mark.parametrize("allowed", [False, True])
def test_index_rows_apply_the_mixed_provenance_rule(tmp_path, allowed):
    """A user formula reading B3N and B4 is NaN where the provenance bands name two granules."""
    library = default_library().with_index(user_index("vnir_swir", "b3/b4", "VNIR over SWIR")).with_index(
        user_index(INDEX_ID, FORMULA, "Clay ratio"))
    stack = reflectance_stack(3, PX, PX)
    vnir = np.zeros((PX, PX), np.int16)
    swir = np.zeros((PX, PX), np.int16)
    swir[100:300, 200:600] = 1  # SWIR from another granule
    vnir[:5] = -1
    meta = {"method": "mosaic", "steps": {"mosaic": {"params": {"allow_mixed_provenance": allowed}}}}
    rows = [ResultRow(260, 526, "mosaic", column, stack[i], meta) for i, column in enumerate(BAND_COLUMNS)]
    rows += [ResultRow(260, 526, "mosaic", "provenance_vnir", vnir, meta),
             ResultRow(260, 526, "mosaic", "provenance_swir", swir, meta)]
    with LocalStore(tmp_path / "ws") as store:
        store.put_results(rows)
        got = {index_id: list(index_rows(store, "mosaic", TILES[:1], index_id, library))[0].data
               for index_id in ("vnir_swir", INDEX_ID)}
    with np.errstate(all="ignore"):
        plain = (stack[2] / stack[3]).astype(np.float32)
    plain[~np.isfinite(stack[3:]).all(axis=0)] = np.nan
    mixed = np.zeros((PX, PX), bool)
    mixed[100:300, 200:600] = True
    np.testing.assert_allclose(got["vnir_swir"][~mixed], plain[~mixed], rtol=1e-6, equal_nan=True)
    if allowed:
        np.testing.assert_allclose(got["vnir_swir"][mixed], plain[mixed], rtol=1e-6, equal_nan=True)
    else:
        assert np.isnan(got["vnir_swir"][mixed]).all() and np.isfinite(plain[mixed]).all()
    np.testing.assert_allclose(got[INDEX_ID], expected_clay_ratio(stack), rtol=1e-6, equal_nan=True)
