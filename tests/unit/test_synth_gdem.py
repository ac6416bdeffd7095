"""Synthetic ASTER GDEM v3 tiles as GDAL reads them (formats.md §5)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from osgeo import gdal, osr

from gmi_engine.synth.gdem import NODATA, elevation_at, gdem_geotransform, gdem_name, tiles_covering, write_gdem


def test_names_use_the_south_west_corner():
    assert gdem_name(32, -108) == "ASTGTMV003_N32W108_dem.tif"
    assert gdem_name(-1, 0) == "ASTGTMV003_S01E000_dem.tif"
    assert gdem_name(5, 7) == "ASTGTMV003_N05E007_dem.tif"
    assert tiles_covering(-108.3, 32.6, -107.9, 32.9) == [(32, -109), (32, -108)]


def test_full_size_tile_through_gdal(tmp_path):
    path = write_gdem(tmp_path, 32, -108)
    assert path.name == "ASTGTMV003_N32W108_dem.tif"
    ds = gdal.Open(str(path))
    band = ds.GetRasterBand(1)
    assert (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (3601, 3601, 1)
    assert band.DataType == gdal.GDT_Int16 and band.GetNoDataValue() == NODATA
    expected = (-108.000138888889, 0.000277777777778, 0, 33.000138888889, 0, -0.000277777777778)
    assert ds.GetGeoTransform() == pytest.approx(expected, abs=1e-12)
    srs = osr.SpatialReference(wkt=ds.GetProjection())
    srs.AutoIdentifyEPSG()
    assert srs.GetAuthorityCode(None) == "4326"
    assert ds.GetMetadata("IMAGE_STRUCTURE")["COMPRESSION"] == "DEFLATE"
    # Post (i, j) is centred on (lon0 + j/3600, lat0 + 1 - i/3600) and holds elevation_at there.
    rows = np.array([0, 1800, 3600, 1234])
    cols = np.array([0, 900, 3600, 2345])
    dem = band.ReadAsArray()
    want = np.rint(elevation_at(-108 + cols / 3600.0, 33 - rows / 3600.0))
    assert np.array_equal(dem[rows, cols], want)
    assert 1735 <= dem.min() and dem.max() <= 1765
    truth = json.loads(path.with_suffix(".truth.json").read_text())
    assert truth["mean_valid_m"] == pytest.approx(dem.mean())


def test_neighbours_agree_on_their_shared_edge(tmp_path):
    west = gdal.Open(str(write_gdem(tmp_path, 32, -109, size=361, ripple_m=200.0))).ReadAsArray()
    east = gdal.Open(str(write_gdem(tmp_path, 32, -108, size=361, ripple_m=200.0))).ReadAsArray()
    assert np.array_equal(west[:, -1], east[:, 0])
    assert west[:, -1].std() > 10  # the edge is not trivially flat


def test_voids_are_nodata(tmp_path):
    path = write_gdem(tmp_path, 32, -108, size=301, void_fraction=0.1, seed=4)
    ds = gdal.Open(str(path))
    dem = ds.ReadAsArray()
    voids = dem == NODATA
    assert 0.08 < voids.mean() < 0.12
    mask = ds.GetRasterBand(1).GetMaskBand().ReadAsArray()
    assert np.array_equal(mask == 0, voids)


def test_scaled_geotransform_and_bad_input(tmp_path):
    expected = (-108 - 1 / 720, 1 / 360, 0, 33 + 1 / 720, 0, -1 / 360)
    assert gdem_geotransform(32, -108, 361) == pytest.approx(expected)
    with pytest.raises(ValueError):
        write_gdem(tmp_path, 32.5, -108, size=11)
    with pytest.raises(ValueError):
        write_gdem(tmp_path, 32, -108, size=11, void_fraction=2)
