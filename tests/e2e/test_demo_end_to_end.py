"""`gmi demo` end to end (small scenes): GeoTIFFs of every index, styles, STAC, VRTs and a PNG."""
from __future__ import annotations

import json
import math

import pytest
from osgeo import gdal

from gmi_engine.cli.main import main
from gmi_engine.kernel.indices import default_library

gdal.UseExceptions()
CHINO_KEY = "res-30_tilesize-1024_x-260_y-526"


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--output", str(out), "--small", "--workers", "2"]) == 0
    return out / "export"


def test_every_index_of_the_chino_tile_is_a_georeferenced_cog(demo_out):
    ids = default_library().ids
    assert len(ids) == 23
    for index_id in ids:
        tif = demo_out / "mineral_indices" / index_id / (CHINO_KEY + ".tif")
        assert tif.exists(), index_id
        assert tif.with_suffix(".qml").exists()
        ds = gdal.Open(str(tif))
        assert (ds.RasterXSize, ds.RasterYSize) == (1024, 1024)
        gt = ds.GetGeoTransform()
        assert gt[1] == 30.0 and gt[5] == -30.0
        assert ds.GetSpatialRef().GetAuthorityCode(None) == "3857"
        band = ds.GetRasterBand(1)
        assert math.isnan(band.GetNoDataValue())
        assert band.GetDescription() == index_id
        assert ds.GetMetadata("IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        vrt = demo_out / "mineral_indices" / (index_id + ".vrt")
        assert vrt.exists() and vrt.with_suffix(".qml").exists()


def test_stac_items_carry_provenance(demo_out):
    item = json.loads((demo_out / "mineral_indices" / "stac" / (CHINO_KEY + ".json")).read_text())
    assert item["type"] == "Feature" and item["stac_version"].startswith("1.")
    assert item["properties"]["proj:epsg"] == 3857
    text = json.dumps(item)
    assert "AST_L1T_00309062006180242" in text and "AST_L1T_00305172007180810" in text
    assert len([a for a in item["assets"].values() if a["type"].startswith("image/tiff")]) >= 23


def test_reflectance_and_quicklook(demo_out):
    assert (demo_out / "color_balancing" / "rgb_321.vrt").exists()
    png = demo_out.parent / "quicklook.png"
    assert png.exists() and png.stat().st_size > 10_000


def test_alteration_quicklook(demo_out):
    png = demo_out.parent / "alteration.png"
    assert png.exists() and png.stat().st_size > 10_000
