"""Export: result rows in a real LocalStore -> COGs, VRTs, .qml, STAC items and PNGs, checked with GDAL."""
from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from osgeo import gdal, osr

from gmi_engine import __version__
from gmi_engine.backends.local import LocalStore
from gmi_engine.cli.export import resolve_method
from gmi_engine.cli.main import main as gmi_main
from gmi_engine.errors import GmiError, GmiFileError, GmiInputError
from gmi_engine.export import ExportLayout, check_stac_item, export_results, quicklook_png
from gmi_engine.export.geotiff import UINT16_NODATA, encode_reflectance_uint16
from gmi_engine.export.quicklook import DPI, FIGURE_INCHES, valid_bounds
from gmi_engine.export.ramps import RAMPS, ramp_colors
from gmi_engine.export.stac import granule_time, provenance
from gmi_engine.export.style import StretchSampler, resolve_stretch
from gmi_engine.grid import DEFAULT_GRID, TileIndex
from gmi_engine.indices import QGIS_COLOR_RAMPS, default_library
from gmi_engine.table import MASK_OUTPUT, ResultRow

gdal.UseExceptions()

TILES = [TileIndex(260, 526), TileIndex(261, 526), TileIndex(260, 527)]  # an L: the VRT has a hole
BANDS = ["b{:02d}".format(i) for i in range(1, 10)]
INDICES = ["ferric_iron", "kaolinite", "ndvi"]
GRANULES = [("AST_L1T_00309062006180242_20150516014601_17781", "2006-09-06T18:02:42.000Z"),
            ("AST_L1T_00310082006180301_20150516020000_17800", "2006-10-08T18:03:01.000Z")]
PX = DEFAULT_GRID.tile_px


def _meta(tile: TileIndex) -> dict:
    return {"method": "test", "kernel_version": "k1", "tile": [tile.ix, tile.iy],
            "granules": [{"granule_id": g, "acquired": t, "ac_state": {"aod550": 0.12, "wv": 1.1}}
                         for g, t in GRANULES],
            "steps": {"balancing": {"gains": {"b01": 1.02}}}}


def _field(rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """A blocky random field, pixel noise in one corner, NaN strips and specks (float32).

    Mostly smooth, so the test store and the GeoTIFFs compress quickly.
    """
    coarse = rng.uniform(low, high, (PX // 32, PX // 32))
    data = np.kron(coarse, np.ones((32, 32)))
    data[-96:, -96:] += rng.uniform(0, (high - low) * 0.1, (96, 96))
    data = data.astype(np.float32)
    data[:, :17] = np.nan
    data[rng.random((PX, PX)) < 0.001] = np.nan
    return data


def _rows():
    rng = np.random.default_rng(7)
    rows = []
    for tile in TILES:
        meta = _meta(tile)
        for method in ("mosaic", "color_balancing"):
            if method == "color_balancing" and tile != TILES[0]:
                continue
            for band in BANDS:
                rows.append(ResultRow(tile.ix, tile.iy, method, band, _field(rng, 0.02, 0.5), meta))
            mask = np.ones((PX, PX), np.uint8)
            mask[:, :17] = 0
            rows.append(ResultRow(tile.ix, tile.iy, method, MASK_OUTPUT, mask, meta))
        if tile != TILES[2]:
            for index_id in INDICES:
                rows.append(ResultRow(tile.ix, tile.iy, "mineral_indices", index_id,
                                      _field(rng, 0.5, 1.5) if index_id != "ndvi" else _field(rng, -0.3, 0.9),
                                      meta))
    rows[0].data[100, 100] = -0.01  # a negative reflectance (over-correction): uint16 stores 0
    return rows


@pytest.fixture(scope="module")
def rows():
    return _rows()


@pytest.fixture(scope="module")
def exported(rows, tmp_path_factory):
    """A workspace with the rows, exported three ways (float32 mosaic, uint16 mosaic, indices)."""
    ws = tmp_path_factory.mktemp("ws")
    out = tmp_path_factory.mktemp("export")
    out16 = tmp_path_factory.mktemp("export16")
    with LocalStore(ws) as store:
        store.put_results(rows)
        reports = {
            "mosaic": export_results(store, out, "mosaic"),
            "mineral_indices": export_results(store, out, "mineral_indices"),
            "uint16": export_results(store, out16, "mosaic", outputs=["b01", "b02", "b05"],
                                     reflectance_dtype="uint16"),
        }
    return {"ws": ws, "out": out, "out16": out16, "reports": reports,
            "data": {(TileIndex(*r.tile), r.method, r.output): r.data for r in rows}}


def _open(path: Path) -> gdal.Dataset:
    assert path.exists(), path
    return gdal.Open(str(path))


# -------------------------------------------------------------------------------- GeoTIFFs

def test_geotiffs_are_cogs_on_the_grid(exported):
    layout = ExportLayout.at(exported["out"])
    report = exported["reports"]["mosaic"]
    assert report.outputs == BANDS and len(report.geotiffs) == len(TILES) * len(BANDS)
    for tile in TILES:
        key = DEFAULT_GRID.key(tile)
        for band in ("b01", "b09"):
            ds = _open(layout.tile_raster("mosaic", band, key))
            srs = osr.SpatialReference(wkt=ds.GetProjection())
            assert srs.GetAuthorityName(None) == "EPSG" and srs.GetAuthorityCode(None) == "3857"
            assert ds.GetGeoTransform() == pytest.approx(DEFAULT_GRID.geotransform(tile), abs=1e-9)
            assert ds.GetGeoTransform()[1] == 30.0 and ds.GetGeoTransform()[5] == -30.0
            assert (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (1024, 1024, 1)
            b = ds.GetRasterBand(1)
            assert b.DataType == gdal.GDT_Float32 and math.isnan(b.GetNoDataValue())
            assert b.GetDescription() == band
            structure = ds.GetMetadata("IMAGE_STRUCTURE")
            assert structure["LAYOUT"] == "COG" and structure["COMPRESSION"] == "ZSTD"
            assert structure["PREDICTOR"] == "2"  # horizontal differencing, float32 too (geotiff.PREDICTOR)
            assert b.GetOverviewCount() == 1 and b.GetBlockSize() == [512, 512]
            full = b.ReadAsArray()
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN 2x2 cells
                expected = np.nanmean(full.reshape(512, 2, 512, 2), axis=(1, 3))
            np.testing.assert_allclose(b.GetOverview(0).ReadAsArray(), expected, rtol=1e-6)  # NaN-aware mean
            tags = ds.GetMetadata()
            assert tags["GMI_METHOD"] == "mosaic" and tags["GMI_OUTPUT"] == band
            assert tags["GMI_VERSION"] == __version__ and tags["GMI_TILE_KEY"] == key
    assert not list(Path(exported["out"]).rglob("*.part")) and not list(Path(exported["out"]).rglob("*.aux.xml"))
    assert not (layout.method_dir("mosaic") / MASK_OUTPUT).exists()  # the mask only on request


def test_float32_values_round_trip_exactly(exported):
    layout = ExportLayout.at(exported["out"])
    for (tile, method, output), data in exported["data"].items():
        if output == MASK_OUTPUT or method == "color_balancing":
            continue
        back = _open(layout.tile_raster(method, output, DEFAULT_GRID.key(tile))).ReadAsArray()
        assert back.dtype == np.float32
        np.testing.assert_array_equal(back, data)  # NaN where NaN, bit-equal elsewhere


def test_uint16_reflectance_within_1e4(exported):
    layout = ExportLayout.at(exported["out16"])
    report = exported["reports"]["uint16"]
    assert report.clipped_pixels == 1  # the one negative reflectance
    for tile in TILES:
        key = DEFAULT_GRID.key(tile)
        for band in ("b01", "b05"):
            ds = _open(layout.tile_raster("mosaic", band, key))
            b = ds.GetRasterBand(1)
            assert b.DataType == gdal.GDT_UInt16 and b.GetNoDataValue() == UINT16_NODATA
            assert b.GetScale() == pytest.approx(1e-4) and b.GetOffset() == 0.0
            assert ds.GetMetadata("IMAGE_STRUCTURE")["LAYOUT"] == "COG"
            counts = b.ReadAsArray()
            truth = exported["data"][(tile, "mosaic", band)]
            nan = np.isnan(truth)
            np.testing.assert_array_equal(counts == UINT16_NODATA, nan)
            value = counts[~nan] * b.GetScale() + b.GetOffset()
            assert np.max(np.abs(value - np.maximum(truth[~nan], 0))) <= 0.5e-4 + 1e-7
    first = _open(layout.tile_raster("mosaic", "b01", DEFAULT_GRID.key(TILES[0]))).ReadAsArray()
    assert first[100, 100] == 0


def test_encode_uint16_refuses_integers_and_counts_clipping():
    counts, clipped = encode_reflectance_uint16(np.array([[np.nan, -0.2, 0.0, 0.12344, 7.0]], np.float32))
    assert counts.tolist() == [[UINT16_NODATA, 0, 0, 1234, 65534]] and clipped == 2
    with pytest.raises(GmiInputError):
        encode_reflectance_uint16(np.zeros((2, 2), np.uint8))


# -------------------------------------------------------------------------------- VRTs

def test_output_vrt_covers_all_tiles_and_moves_with_the_folder(exported, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(exported["out"] / "mosaic", moved / "mosaic")  # relative paths must survive
    ds = _open(moved / "mosaic" / "b04.vrt")
    xs = [DEFAULT_GRID.bounds(t).xmin for t in TILES]
    ys = [DEFAULT_GRID.bounds(t).ymax for t in TILES]
    assert ds.GetGeoTransform() == pytest.approx((min(xs), 30.0, 0.0, max(ys), 0.0, -30.0))
    assert (ds.RasterXSize, ds.RasterYSize) == (2048, 2048)
    band = ds.GetRasterBand(1)
    assert math.isnan(band.GetNoDataValue()) and band.GetDescription() == "b04"
    for tile in TILES:
        col = int(round((DEFAULT_GRID.bounds(tile).xmin - min(xs)) / 30.0))
        row = int(round((max(ys) - DEFAULT_GRID.bounds(tile).ymax) / 30.0))
        np.testing.assert_array_equal(band.ReadAsArray(col, row, 1024, 1024),
                                      exported["data"][(tile, "mosaic", "b04")])
    assert np.isnan(band.ReadAsArray(1024, 1024, 1024, 1024)).all()  # (261, 527) was never made
    for element in ElementTree.parse(str(moved / "mosaic" / "b04.vrt")).iter("SourceFilename"):
        assert element.get("relativeToVRT") == "1" and not Path(element.text).is_absolute()


def test_rgb_presets_stack_the_right_bands(exported):
    layout = ExportLayout.at(exported["out"])
    for preset, bands in (("rgb_321", ("b03", "b02", "b01")), ("rgb_468", ("b04", "b06", "b08"))):
        ds = _open(layout.rgb_vrt("mosaic", preset))
        assert ds.RasterCount == 3 and (ds.RasterXSize, ds.RasterYSize) == (2048, 2048)
        assert [ds.GetRasterBand(i + 1).GetDescription() for i in range(3)] == list(bands)
        tile = TILES[0]
        one = _open(layout.rgb_tile_vrt("mosaic", preset, DEFAULT_GRID.key(tile)))
        for i, band in enumerate(bands):
            np.testing.assert_array_equal(one.GetRasterBand(i + 1).ReadAsArray(),
                                          exported["data"][(tile, "mosaic", band)])
        renderer = ElementTree.parse(str(layout.rgb_vrt("mosaic", preset).with_suffix(".qml"))).find(
            "pipe/rasterrenderer")
        assert renderer.get("type") == "multibandcolor"
        assert [renderer.get(c + "Band") for c in ("red", "green", "blue")] == ["1", "2", "3"]
        assert renderer.find("redContrastEnhancement/maxValue").text == "0.4"
    assert not (layout.method_dir("mineral_indices") / "rgb_321.vrt").exists()


# -------------------------------------------------------------------------------- styles

def _renderer(qml: Path) -> ElementTree.Element:
    text = qml.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE qgis")
    return ElementTree.fromstring(text.split("\n", 1)[1]).find("pipe/rasterrenderer")


def test_index_styles_follow_the_library(exported):
    layout = ExportLayout.at(exported["out"])
    library = default_library()
    report = exported["reports"]["mineral_indices"]
    for index_id in INDICES:
        definition = library[index_id]
        rasters = [layout.output_vrt("mineral_indices", index_id)] + [
            layout.tile_raster("mineral_indices", index_id, DEFAULT_GRID.key(t)) for t in TILES[:2]]
        texts = {r.with_suffix(".qml").read_text() for r in rasters}
        assert len(texts) == 1  # tiles and VRT share one stretch
        renderer = _renderer(rasters[0].with_suffix(".qml"))
        assert renderer.get("type") == "singlebandpseudocolor" and renderer.get("nodataColor") == ""
        shader = renderer.find("rastershader/colorrampshader")
        items = shader.findall("item")
        colors = ramp_colors(definition.ramp)
        assert [i.get("color") for i in items] == list(colors)
        vmin, vmax = float(shader.get("minimumValue")), float(shader.get("maximumValue"))
        if definition.stretch["method"] == "minmax":
            assert (vmin, vmax) == (definition.stretch["min"], definition.stretch["max"])
        else:
            values = np.concatenate([exported["data"][(t, "mineral_indices", index_id)].ravel()
                                     for t in TILES[:2]])
            lo, hi = np.nanpercentile(values, [definition.stretch["low"], definition.stretch["high"]])
            tolerance = 0.01 * (hi - lo)  # the stretch is computed on a sample
            assert vmin == pytest.approx(lo, abs=tolerance) and vmax == pytest.approx(hi, abs=tolerance)
        assert float(items[0].get("value")) == pytest.approx(vmin)
        assert float(items[-1].get("value")) == pytest.approx(vmax)
        assert report.stretches[index_id] == pytest.approx((vmin, vmax))


def test_reflectance_bands_get_a_gray_style(exported):
    qml = ExportLayout.at(exported["out16"]).output_vrt("mosaic", "b02").with_suffix(".qml")
    renderer = _renderer(qml)
    assert renderer.get("type") == "singlebandgray"
    assert renderer.find("contrastEnhancement/maxValue").text == "0.4"  # QGIS applies the 1e-4 scale


def test_every_qgis_ramp_has_stops():
    assert set(QGIS_COLOR_RAMPS) == set(RAMPS)
    for name, colors in RAMPS.items():
        assert len(colors) >= 9 and all(len(c) == 7 and c[0] == "#" and int(c[1:], 16) >= 0 for c in colors)
    assert ramp_colors("viridis") == RAMPS["Viridis"]
    assert RAMPS["Viridis"][0] == "#440154" and RAMPS["Viridis"][-1] == "#fde725"
    with pytest.raises(GmiInputError):
        ramp_colors("NoSuchRamp")
    assert all(ramp_colors(d.ramp) for d in default_library())


def test_stretch_sampler_is_bounded_and_deterministic():
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=(256, 256)) for _ in range(20)]
    a, b = StretchSampler(step=2, max_samples=5000), StretchSampler(step=2, max_samples=5000)
    for array in arrays:
        a.add(array)
        b.add(array)
    assert a.values().size <= 5000 and np.array_equal(a.values(), b.values())
    lo, hi = resolve_stretch({"method": "percentile", "low": 2, "high": 98}, a.values())
    assert lo == pytest.approx(-2.05, abs=0.15) and hi == pytest.approx(2.05, abs=0.15)
    assert resolve_stretch({"method": "percentile", "low": 2, "high": 98}, np.empty(0)) == (0.0, 1.0)
    assert resolve_stretch({"method": "minmax", "min": 3, "max": 3}, np.empty(0))[1] > 3
    c = StretchSampler(step=1)
    c.add(np.array([[-1, 0, 3]], np.int16), nodata=-1)
    assert c.values().tolist() == [0.0, 3.0]


def test_stretch_sample_does_not_depend_on_the_tile_order():
    rng = np.random.default_rng(2)
    tiles = [rng.normal(i, 1.0 + i, size=(128, 128)) for i in range(12)]
    tiles[3][:100] = np.nan  # a sparse tile
    samples = []
    for order in (range(12), reversed(range(12)), [5, 0, 11, 3, 7, 1, 9, 2, 10, 4, 8, 6]):
        sampler = StretchSampler(step=2, max_samples=3000)  # thins several times
        for i in order:
            sampler.add_sampled(tiles[i][::2, ::2], 2)
        samples.append(np.sort(sampler.values()))
        assert sampler.step > 2 and samples[-1].size <= 3000
    assert all(np.array_equal(samples[0], other) for other in samples[1:])


def test_provenance_output_keeps_its_integer_nodata(tmp_path):
    data = np.full((PX, PX), -1, np.int16)
    data[:, 512:] = 0
    data[:10, 512:] = 1
    data[:5, :5] = -2  # several granules (median)
    row = ResultRow(260, 526, "mosaic", "provenance_vnir", data, _meta(TILES[0]))
    report = export_results([row], tmp_path, "mosaic")
    ds = _open(report.geotiffs[0])
    band = ds.GetRasterBand(1)
    assert band.DataType == gdal.GDT_Int16 and band.GetNoDataValue() == -1
    np.testing.assert_array_equal(band.ReadAsArray(), data)
    assert report.stretches["provenance_vnir"] == (-2.0, 1.0)  # nodata -1 left out of the gray stretch
    assert _renderer(report.geotiffs[0].with_suffix(".qml")).get("type") == "singlebandgray"


# -------------------------------------------------------------------------------- STAC

def test_stac_items_describe_each_tile(exported):
    layout = ExportLayout.at(exported["out"])
    for method, outputs, tiles in (("mosaic", BANDS, TILES), ("mineral_indices", INDICES, TILES[:2])):
        for tile in tiles:
            key = DEFAULT_GRID.key(tile)
            path = layout.stac_item(method, key)
            item = json.loads(path.read_text())
            check_stac_item(item)
            assert item["id"] == key + "_" + method
            ll = DEFAULT_GRID.lonlat_bounds(tile)
            assert item["bbox"] == pytest.approx([ll.west, ll.south, ll.east, ll.north])
            assert item["geometry"]["coordinates"][0][0] == pytest.approx([ll.west, ll.south])
            props = item["properties"]
            assert props["datetime"] == "2006-10-08T18:03:01.000Z"  # the latest acquisition
            assert props["start_datetime"] == "2006-09-06T18:02:42.000Z"
            assert props["proj:epsg"] == 3857 and props["proj:shape"] == [1024, 1024]
            b = DEFAULT_GRID.bounds(tile)
            assert props["proj:transform"] == pytest.approx([30.0, 0.0, b.xmin, 0.0, -30.0, b.ymax])
            assert props["gmi:version"] == __version__ and props["gmi:tile"] == [tile.ix, tile.iy]
            assert props["gmi:granules"] == [g for g, _ in GRANULES]
            assert props["gmi:meta"] == _meta(tile)
            assert sorted(item["assets"]) == sorted(outputs)
            for name, asset in item["assets"].items():
                assert asset["roles"] == ["data"]
                assert asset["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
                assert (path.parent / asset["href"]).resolve() == layout.tile_raster(method, name, key).resolve()
                assert asset["raster:bands"][0]["nodata"] == "nan"
                assert asset["raster:bands"][0]["data_type"] == "float32"
    path16 = ExportLayout.at(exported["out16"]).stac_item("mosaic", DEFAULT_GRID.key(TILES[0]))
    item16 = json.loads(path16.read_text())
    band = item16["assets"]["b01"]["raster:bands"][0]
    assert band == {"data_type": "uint16", "spatial_resolution": 30.0, "nodata": 65535.0, "scale": 1e-4,
                    "offset": 0.0}


def test_check_stac_item_rejects_broken_items(exported):
    path = ExportLayout.at(exported["out"]).stac_item("mosaic", DEFAULT_GRID.key(TILES[0]))
    good = json.loads(path.read_text())
    breakages = [
        lambda i: i.pop("id"),
        lambda i: i["properties"].pop("datetime"),
        lambda i: i["properties"].update(datetime="yesterday"),
        lambda i: i.update(bbox=[0, 10, 1]),
        lambda i: i.update(type="FeatureCollection"),
        lambda i: i["assets"]["b01"].pop("href"),
        lambda i: i["properties"].update({"proj:shape": [1024]}),
        lambda i: i["geometry"]["coordinates"][0].pop(),
    ]
    for breakage in breakages:
        item = json.loads(json.dumps(good))
        breakage(item)
        with pytest.raises(GmiInputError, match="STAC item"):
            check_stac_item(item)


def test_acquisition_times_come_from_meta_or_granule_ids():
    moment = granule_time("AST_L1T_00309062006180242_20150516014601_17781")
    assert moment.isoformat() == "2006-09-06T18:02:42+00:00"
    assert granule_time("LC08_whatever") is None
    granules, times = provenance([{"contributors": ["AST_L1T_00301022003050607_20150516014601_1"]},
                                  {"deep": {"acquired": "2004-05-06T07:08:09Z"}}])
    assert granules == ["AST_L1T_00301022003050607_20150516014601_1"]
    assert [t.year for t in times] == [2003, 2004]


def test_stac_needs_an_acquisition_time(tmp_path):
    row = ResultRow(260, 526, "mineral_indices", "ndvi", np.zeros((1024, 1024), np.float32), {"note": "none"})
    with pytest.raises(GmiInputError, match="x-260_y-526.*acquisition time"):
        export_results([row], tmp_path, "mineral_indices")
    report = export_results([row], tmp_path, "mineral_indices", stac=False)
    assert report.stac_items == [] and len(report.geotiffs) == 1


# -------------------------------------------------------------------------------- API / CLI

def test_rows_and_outputs_selection_and_errors(rows, tmp_path):
    report = export_results(iter(rows), tmp_path, "color_balancing", outputs=["b02", MASK_OUTPUT], cog=False,
                            stac=False)
    assert report.outputs == ["b02", MASK_OUTPUT] and report.tiles == [DEFAULT_GRID.key(TILES[0])]
    mask = _open(ExportLayout.at(tmp_path).tile_raster("color_balancing", MASK_OUTPUT, report.tiles[0]))
    assert mask.GetRasterBand(1).DataType == gdal.GDT_Byte and mask.GetRasterBand(1).GetNoDataValue() is None
    assert "LAYOUT" not in mask.GetMetadata("IMAGE_STRUCTURE")  # --no-cog: plain tiled GeoTIFF
    with pytest.raises(GmiInputError, match="no result rows of method 'nothing'"):
        export_results(rows, tmp_path, "nothing")
    with pytest.raises(GmiInputError, match="b99"):
        export_results(rows, tmp_path, "mosaic", outputs=["b01", "b99"], stac=False)
    with pytest.raises(GmiInputError, match="reflectance_dtype"):
        export_results(rows, tmp_path, "mosaic", reflectance_dtype="int8")
    twice = [rows[0], rows[0]]
    with pytest.raises(GmiInputError, match="given twice"):
        export_results(twice, tmp_path, rows[0].method, stac=False)


@pytest.mark.parametrize("compression", ["deflate", "lzw", "none"])
def test_compression_choices_keep_the_values(rows, tmp_path, compression):
    report = export_results(rows, tmp_path, "mosaic", outputs=["b01", "b05"], stac=False,
                            compression=compression, threads=2)
    for path in report.geotiffs:
        ds = _open(path)
        assert ds.GetMetadata("IMAGE_STRUCTURE").get("COMPRESSION", "NONE") == compression.upper()
    by_tile = {(r.tile_x, r.tile_y, r.output): r.data for r in rows if r.method == "mosaic"}
    for tile in TILES:
        key = DEFAULT_GRID.key(tile)
        data = _open(ExportLayout.at(tmp_path).tile_raster("mosaic", "b05", key)).ReadAsArray()
        np.testing.assert_array_equal(data, by_tile[(tile.ix, tile.iy, "b05")])


def test_threads_do_not_change_the_files_or_their_order(exported, tmp_path):
    with LocalStore(exported["ws"]) as store:
        one = export_results(store, tmp_path / "one", "mineral_indices", threads=1, stac=False)
        three = export_results(store, tmp_path / "three", "mineral_indices", threads=3, stac=False)
    assert [p.relative_to(tmp_path / "one") for p in one.geotiffs] == \
        [p.relative_to(tmp_path / "three") for p in three.geotiffs]
    for a, b in zip(one.geotiffs, three.geotiffs):
        assert a.read_bytes() == b.read_bytes(), a
    for bad in ({"threads": 0}, {"threads": "2"}, {"compression": "jpeg"}):
        with pytest.raises(GmiInputError, match=next(iter(bad))):
            export_results([], tmp_path, "mosaic", **bad)


def test_a_failing_progress_callback_stops_the_export(exported, tmp_path):
    calls = []

    def progress(fraction, message):
        calls.append(message)
        if len(calls) == 3:
            raise KeyboardInterrupt("cancelled")

    with LocalStore(exported["ws"]) as store, pytest.raises(KeyboardInterrupt):
        export_results(store, tmp_path, "mineral_indices", progress=progress, threads=2)
    assert len(calls) == 3
    assert not list(tmp_path.rglob("*.part"))


def test_export_is_byte_identical_when_repeated(exported, tmp_path):
    with LocalStore(exported["ws"]) as store:
        export_results(store, tmp_path, "mineral_indices")
    for path in (exported["out"] / "mineral_indices").rglob("*"):
        if path.is_file():
            assert (tmp_path / path.relative_to(exported["out"])).read_bytes() == path.read_bytes(), path


def test_quicklook_png_for_a_tile_and_for_the_extent(exported, tmp_path):
    size = (int(FIGURE_INCHES[0] * DPI), int(FIGURE_INCHES[1] * DPI))
    for kwargs in ({"tile": TILES[0]}, {}):
        png = quicklook_png(exported["out"], tmp_path / "ql.png", **kwargs)
        ds = gdal.Open(str(png))
        assert ds.GetDriver().ShortName == "PNG" and (ds.RasterXSize, ds.RasterYSize) == size
        rgba = ds.ReadAsArray()
        assert rgba.shape[0] == 4 and rgba[:3].std() > 20  # drawn, not blank
    with pytest.raises(GmiFileError):
        quicklook_png(tmp_path / "empty", tmp_path / "none.png")


def test_label_resolution():
    assert resolve_method("ASTRef", ["color_balancing", "mosaic"]) == "color_balancing"
    assert resolve_method("ASTRef", ["mosaic"]) == "mosaic"
    assert resolve_method("MineralIndices", ["mineral_indices"]) == "mineral_indices"
    with pytest.raises(GmiInputError, match="no mineral_indices results"):
        resolve_method("MineralIndices", ["mosaic"])


def test_cli_export(exported, tmp_path, capsys):
    out = tmp_path / "cli"
    assert gmi_main(["export", "-w", str(exported["ws"]), "--label", "ASTRef", "--out", str(out),
                     "--outputs", "b01", "b02", "b03", "--reflectance-dtype", "uint16",
                     "--quicklook", str(out / "ql.png")]) == 0
    printed = capsys.readouterr().out
    assert "exported color_balancing" in printed and (out / "ql.png").exists()
    tif = ExportLayout.at(out).tile_raster("color_balancing", "b03", DEFAULT_GRID.key(TILES[0]))
    ds = _open(tif)
    assert ds.GetRasterBand(1).DataType == gdal.GDT_UInt16
    assert (out / "color_balancing" / "rgb_321.vrt").exists()
    assert gmi_main(["export", "-w", str(tmp_path / "nows"), "--label", "ASTRef", "--out", str(out)]) == 1
    assert "no GMI store" in capsys.readouterr().err
    assert issubclass(GmiFileError, GmiError)


def test_quicklook_crops_to_the_valid_data():
    data = np.full((100, 200), np.nan)
    data[10:20, 50:150] = 1.0
    box = valid_bounds([data], (0.0, 0.0, 2000.0, 1000.0), margin=0.0)
    assert box == pytest.approx((500.0, 800.0, 1500.0, 900.0))
    assert valid_bounds([np.full((4, 4), np.nan)], (0.0, 0.0, 1.0, 1.0)) is None
