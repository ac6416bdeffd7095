"""The COG overview GMI computes itself (float32, NaN nodata) against GDAL's own AVERAGE overview."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from gmi_engine.export import geotiff

gdal.UseExceptions()


def _gdal_average_overview(data: np.ndarray) -> np.ndarray:
    """GDAL's AVERAGE overview of factor 2 with NaN nodata, built on an in-memory raster."""
    mem = gdal.GetDriverByName("MEM").Create("", data.shape[1], data.shape[0], 1, gdal.GDT_Float32)
    band = mem.GetRasterBand(1)
    band.SetNoDataValue(float("nan"))
    band.WriteArray(data)
    mem.BuildOverviews("AVERAGE", [2])
    return band.GetOverview(0).ReadAsArray()


def _raster(seed: int, nan_fraction: float, size: int = 256) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.uniform(-1.0, 3.0, (size, size)).astype(np.float32)
    data[rng.random((size, size)) < nan_fraction] = np.nan
    data[: size // 4, : size // 3] = np.nan  # whole windows without data
    data[-3:, :] *= np.float32(1e-30)  # tiny values (subnormal sums)
    data[40:42, 0:8] = -0.0  # windows of negative zeros, alone and with NaN
    data[41, 2] = np.nan
    return data


@pytest.mark.parametrize("seed,nan_fraction", [(0, 0.0), (1, 0.1), (2, 0.5), (3, 0.9), (4, 1.0)])
def test_average_overview_is_gdals_bit_for_bit(seed: int, nan_fraction: float) -> None:
    data = _raster(seed, nan_fraction)
    ours = geotiff.average_overview_nan(data)
    theirs = _gdal_average_overview(data)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape == (128, 128)
    assert ours.view(np.uint32).tobytes() == theirs.view(np.uint32).tobytes()


def test_infinities_follow_gdal() -> None:
    data = _raster(5, 0.2, size=64)
    data[0, 0], data[0, 1], data[1, 0] = np.inf, -np.inf, np.nan  # inf - inf in one window
    data[10, 10] = np.inf
    ours = geotiff.average_overview_nan(data)
    theirs = _gdal_average_overview(data)
    assert np.array_equal(ours, theirs, equal_nan=True)
    assert np.isnan(ours[0, 0]) and ours[5, 5] == np.inf


def test_written_cog_holds_gdals_overview(tmp_path) -> None:
    data = _raster(6, 0.3, size=1024)  # a tile: one overview level of factor 2
    path = geotiff.write_geotiff(tmp_path / "t.tif", data, (0.0, 30.0, 0.0, 0.0, 0.0, -30.0),
                                 description="test", nodata=float("nan"))
    dataset = gdal.Open(str(path))
    band = dataset.GetRasterBand(1)
    assert band.GetOverviewCount() == 1
    stored = band.GetOverview(0).ReadAsArray()
    assert stored.view(np.uint32).tobytes() == _gdal_average_overview(data).view(np.uint32).tobytes()
    assert band.ReadAsArray().view(np.uint32).tobytes() == data.view(np.uint32).tobytes()


def test_other_cases_keep_gdals_overviews(tmp_path) -> None:
    """Integers (NEAREST), no nodata and larger tiles are left to GDAL's BuildOverviews."""
    classes = np.arange(1024 * 1024, dtype=np.int16).reshape(1024, 1024) % 7
    path = geotiff.write_geotiff(tmp_path / "c.tif", classes, (0.0, 30.0, 0.0, 0.0, 0.0, -30.0),
                                 description="classes", resampling="NEAREST")
    dataset = gdal.Open(str(path))  # held while its band is used
    band = dataset.GetRasterBand(1)
    assert np.array_equal(band.GetOverview(0).ReadAsArray(), classes[::2, ::2])
    big = _raster(7, 0.2, size=2048)
    path = geotiff.write_geotiff(tmp_path / "b.tif", big, (0.0, 30.0, 0.0, 0.0, 0.0, -30.0),
                                 description="big", nodata=float("nan"))
    dataset = gdal.Open(str(path))
    band = dataset.GetRasterBand(1)
    assert band.GetOverviewCount() == 2
    assert np.array_equal(band.GetOverview(0).ReadAsArray(), _gdal_average_overview(big), equal_nan=True)


@pytest.mark.parametrize("view", ["transposed", "strided"])
def test_cog_of_an_array_view_holds_its_pixels(tmp_path, view) -> None:
    """The COG's in-memory raster wraps the array without a copy: views must still come out right."""
    base = _raster(8, 0.2, size=2048)
    data = {"transposed": base[:1024, :1024].T, "strided": base[::2, ::2]}[view]
    path = geotiff.write_geotiff(tmp_path / "v.tif", data, (0.0, 30.0, 0.0, 0.0, 0.0, -30.0),
                                 description="view", nodata=float("nan"))
    dataset = gdal.Open(str(path))
    stored = dataset.GetRasterBand(1).ReadAsArray()
    assert np.array_equal(stored, data, equal_nan=True)
    overview = dataset.GetRasterBand(1).GetOverview(0).ReadAsArray()
    assert np.array_equal(overview, _gdal_average_overview(np.ascontiguousarray(data)),
                          equal_nan=True)
