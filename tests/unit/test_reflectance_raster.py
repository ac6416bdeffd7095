"""The uint16 reflectance GeoTIFF of the index-raster tests: what GDAL reads back, and no wrap-around."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from gmi_engine.errors import GmiInputError
from gmi_engine.synth.reflectance_raster import write_reflectance_geotiff


def test_written_counts_read_back_as_reflectance(tmp_path):
    refl = np.array([[[0.0, 0.12345, np.nan], [6.5534, 0.5, 1.0]]], dtype=np.float32)
    back = write_reflectance_geotiff(tmp_path / "r.tif", refl)
    ds = gdal.Open(str(tmp_path / "r.tif"))
    band = ds.GetRasterBand(1)
    counts = band.ReadAsArray()
    assert counts.tolist() == [[0, 1234, 65535], [65534, 5000, 10000]]  # rounded, NaN -> nodata
    assert band.GetNoDataValue() == 65535 and band.GetScale() == pytest.approx(1e-4)
    assert np.array_equal(np.isnan(back), np.isnan(refl))
    assert np.nanmax(np.abs(back - refl)) <= 0.5e-4 + 1e-7


@pytest.mark.parametrize("value", [-0.01, 6.6, np.inf])
def test_reflectance_a_uint16_cannot_hold_is_refused_not_wrapped(tmp_path, value):
    # -0.01 would become count 65436 (6.5436) and 6.6 count 464 (0.0464) if cast blindly
    refl = np.full((1, 2, 2), 0.2, dtype=np.float32)
    refl[0, 1, 1] = value
    with pytest.raises(GmiInputError, match="0..6.5534"):
        write_reflectance_geotiff(tmp_path / "r.tif", refl)
