"""The MOD09A1 colour-balancing reference of a tile: 7 x size x size int16, -28672 = no data.

Each ``sur_refl_b01..b07`` field (of one file, or a mosaic of several MODIS tiles) is warped to
EPSG:3857 over the area with average resampling, honouring the -28672 fill. Values stay raw
(reflectance = value x 0.0001), band order b01..b07 as in the product.
"""
from __future__ import annotations

import os
import uuid
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
    for band in BANDS:  # a missing or unreadable field is named before any warping
        for p in paths:
            open_gdal(_subdataset(p, band), "MOD09A1 field {}:{}".format(GRID, band))
    # One warp of a 7-band stack (per band a mosaic of the files when there are several).
    scratch = []  # type: List[str]
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        if len(paths) == 1:
            layers = [_subdataset(paths[0], band) for band in BANDS]
        else:
            layers = []
            for band in BANDS:
                name = "/vsimem/gmi-mod09a1-{}-{}.vrt".format(uuid.uuid4().hex, band)
                gdal.BuildVRT(name, [_subdataset(p, band) for p in paths], srcNodata=FILL,
                              VRTNodata=FILL).FlushCache()
                scratch.append(name)
                layers.append(name)
        stack = gdal.BuildVRT("", layers, separate=True, srcNodata=FILL, VRTNodata=FILL)
        warped = gdal.Warp("", stack, format="MEM", dstSRS="EPSG:3857", outputBounds=b, width=size,
                           height=size, resampleAlg="average", srcNodata=FILL, dstNodata=FILL,
                           outputType=gdal.GDT_Int16, multithread=False,
                           warpOptions=["UNIFIED_SRC_NODATA=NO"])  # fill is per band
    except RuntimeError as exc:
        raise GmiFileError("{}: cannot warp MOD09A1 to the tile ({})".format(", ".join(paths), exc)) from None
    finally:
        gdal.PopErrorHandler()
        for name in scratch:
            gdal.Unlink(name)
    if warped is None:
        raise GmiFileError("{}: cannot warp MOD09A1 to the tile ({})".format(", ".join(paths),
                                                                     gdal.GetLastErrorMsg()))
    out[:] = warped.ReadAsArray().reshape(out.shape)
    return out
