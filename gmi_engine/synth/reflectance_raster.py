"""A surface-reflectance GeoTIFF as GMI's exports and users' rasters hold it: nine uint16 bands.

Counts are reflectance / 1e-4 rounded, NaN becomes the nodata value 65535; every band carries
scale 1e-4 and offset 0, so GDAL and QGIS unscale it to reflectance. Used by the index-raster
tests (engine and QGIS Processing).
"""
from __future__ import annotations

from pathlib import Path
from typing import Tuple, Union

import numpy as np

from gmi_engine.errors import GmiInputError

NODATA = 65535
SCALE = 1e-4
#: The largest count that is not nodata (reflectance 6.5534).
MAX_VALID = NODATA - 1


def write_reflectance_geotiff(path: Union[str, Path], reflectance: np.ndarray, epsg: int = 32612,
                              origin: Tuple[float, float] = (600000.0, 3640000.0),
                              pixel_m: float = 30.0) -> np.ndarray:
    """Write a (bands, rows, cols) reflectance north-up from the upper-left ``origin`` in ``epsg``;
    returns what a reader gets back: float32 counts x 1e-4, NaN at nodata. A value outside
    0..6.5534 (or infinite) is a GmiInputError, never a wrapped-around count."""
    from osgeo import gdal, osr

    valid = ~np.isnan(reflectance)
    if not np.all((reflectance[valid] >= 0.0) & (reflectance[valid] <= MAX_VALID * SCALE)):
        raise GmiInputError("{}: reflectance outside 0..{:.4f} cannot be stored as uint16 counts of "
                            "1e-4 (nodata {})".format(path, MAX_VALID * SCALE, NODATA))
    counts = np.where(valid, np.round(reflectance * 1e4), NODATA).astype(np.uint16)
    n, rows, cols = counts.shape
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), cols, rows, n, gdal.GDT_UInt16)
    dataset.SetGeoTransform((origin[0], pixel_m, 0.0, origin[1], 0.0, -pixel_m))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    dataset.SetProjection(srs.ExportToWkt())
    for i in range(n):
        band = dataset.GetRasterBand(i + 1)
        band.SetNoDataValue(NODATA)
        band.SetScale(SCALE)
        band.SetOffset(0.0)
        band.WriteArray(counts[i])
    dataset = None
    return np.where(counts == NODATA, np.nan, counts.astype(np.float32) * np.float32(SCALE))
