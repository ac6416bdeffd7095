"""The MOD09A1 colour-balancing reference of a tile: 7 x size x size int16, -28672 = no data.

Each ``sur_refl_b01..b07`` field (of one file, or a mosaic of several MODIS tiles) is warped to
EPSG:3857 over the area with average resampling, honouring the -28672 fill. Values stay raw
(reflectance = value x 0.0001), band order b01..b07 as in the product.
"""
from __future__ import annotations

import os
from typing import Any, Iterable, Union

import numpy as np
from osgeo import gdal

from gmi_engine.ancillary import as_bounds, open_gdal
from gmi_engine.errors import GmiFileError

FILL = -28672
GRID = "MOD_Grid_500m_Surface_Reflectance"
BANDS = tuple("sur_refl_b{:02d}".format(i) for i in range(1, 8))


def _subdataset(path: str, band: str) -> str:
    return 'HDF4_EOS:EOS_GRID:"{}":{}:{}'.format(path, GRID, band)


def sample_mod09a1(paths: Union[str, os.PathLike, Iterable], bounds: Any, size: int = 256) -> np.ndarray:
    """MOD09A1 reflectance (int16, shape (7, size, size)) over an EPSG:3857 area.

    ``paths`` is one file or several (neighbouring MODIS tiles are mosaicked). Cells no file
    covers are -28672; with no file at all every cell is.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    b = as_bounds(bounds)
    out = np.full((len(BANDS), size, size), FILL, dtype=np.int16)
    for p in paths:
        if not os.path.isfile(p):
            raise GmiFileError("{}: MOD09A1 file not found".format(p))
    if not paths:
        return out
    for i, band in enumerate(BANDS):
        names = [_subdataset(p, band) for p in paths]
        sources = [open_gdal(n, "MOD09A1 field {}:{}".format(GRID, band)) for n in names]
        gdal.PushErrorHandler("CPLQuietErrorHandler")
        try:
            if len(sources) == 1:
                src = sources[0]
            else:
                src = gdal.BuildVRT("", names, srcNodata=FILL, VRTNodata=FILL)
            warped = gdal.Warp("", src, format="MEM", dstSRS="EPSG:3857", outputBounds=b, width=size,
                               height=size, resampleAlg="average", srcNodata=FILL, dstNodata=FILL,
                               outputType=gdal.GDT_Int16, multithread=False)
        finally:
            gdal.PopErrorHandler()
        if warped is None:
            raise GmiFileError("{}: cannot warp {} to the tile ({})".format(", ".join(paths), band,
                                                                             gdal.GetLastErrorMsg()))
        out[i] = warped.ReadAsArray()
    return out
