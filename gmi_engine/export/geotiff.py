"""GeoTIFF/COG and VRT writing with GDAL: one band per file, EPSG:3857, georeferenced from the grid.

Files are written under a temporary name and renamed into place, so an interrupted export never
leaves a half-written raster under the final name.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional, Sequence, Tuple, Union
from xml.etree import ElementTree

import numpy as np
from osgeo import gdal, gdal_array, osr

from gmi_engine.errors import GmiFileError, GmiInputError

gdal.UseExceptions()

PathLike = Union[str, os.PathLike]

EPSG = 3857
BLOCK_SIZE = 512
REFLECTANCE_SCALE = 1e-4
"""uint16 reflectance: physical value = stored value x 1e-4 (offset 0)."""
UINT16_NODATA = 65535
"""uint16 reflectance nodata. 0 stays a valid reflectance (water, shadow); 65535 (6.5535) is not."""
UINT16_MAX_VALID = 65534


def _srs_wkt() -> str:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(EPSG)
    return srs.ExportToWkt()


_SRS_WKT = _srs_wkt()


def encode_reflectance_uint16(data: np.ndarray) -> Tuple[np.ndarray, int]:
    """Float reflectance -> uint16 counts of 1e-4 (rounded to nearest), NaN -> 65535.

    Values below 0 are stored as 0 and values above 6.5534 as 65534; the second return value
    counts those clipped pixels so the caller can report them.
    """
    if data.dtype.kind != "f":
        raise GmiInputError("reflectance_dtype uint16: the data are {}, expected float".format(data.dtype))
    valid = np.isfinite(data)
    counts = np.rint(np.where(valid, data, 0.0).astype(np.float64) / REFLECTANCE_SCALE)
    clipped = int(np.count_nonzero(valid & ((counts < 0) | (counts > UINT16_MAX_VALID))))
    out = np.clip(counts, 0, UINT16_MAX_VALID).astype(np.uint16)
    out[~valid] = UINT16_NODATA
    return out, clipped


def _gdal_type(dtype: np.dtype) -> int:
    code = gdal_array.NumericTypeCodeToGDALTypeCode(np.dtype(dtype))
    if code is None:
        raise GmiInputError("data: numpy dtype {} has no GDAL equivalent".format(dtype))
    return code


def _creation_options(dtype: np.dtype, cog: bool, resampling: str) -> list:
    if cog:
        return ["COMPRESS=DEFLATE", "PREDICTOR=YES", "BLOCKSIZE={}".format(BLOCK_SIZE),
                "OVERVIEWS=AUTO", "OVERVIEW_RESAMPLING={}".format(resampling)]
    predictor = 3 if np.dtype(dtype).kind == "f" else 2
    return ["TILED=YES", "BLOCKXSIZE={}".format(BLOCK_SIZE), "BLOCKYSIZE={}".format(BLOCK_SIZE),
            "COMPRESS=DEFLATE", "PREDICTOR={}".format(predictor)]


def write_geotiff(path: PathLike, data: np.ndarray, geotransform: Sequence[float], *,
                  description: str, tags: Optional[Mapping[str, str]] = None,
                  nodata: Optional[float] = None, scale: Optional[float] = None,
                  offset: Optional[float] = None, cog: bool = True,
                  resampling: str = "AVERAGE") -> Path:
    """Write a one-band GeoTIFF (Cloud Optimized layout when ``cog``) in EPSG:3857.

    ``description`` becomes the band description; ``tags`` the dataset metadata; ``nodata``
    the band nodata (NaN allowed); ``scale``/``offset`` the band's value transform;
    ``resampling`` the overview resampling (AVERAGE for continuous data, NEAREST for classes).
    """
    path = Path(path)
    if data.ndim != 2:
        raise GmiInputError("{}: data must be 2-D, got shape {}".format(path, data.shape))
    rows, cols = data.shape
    mem = gdal.GetDriverByName("MEM").Create("", cols, rows, 1, _gdal_type(data.dtype))
    mem.SetGeoTransform(tuple(float(v) for v in geotransform))
    mem.SetProjection(_SRS_WKT)
    if tags:
        mem.SetMetadata({str(k): str(v) for k, v in tags.items()})
    band = mem.GetRasterBand(1)
    band.SetDescription(description)
    if nodata is not None:
        band.SetNoDataValue(float(nodata))
    if scale is not None:
        band.SetScale(float(scale))
    if offset is not None:
        band.SetOffset(float(offset))
    band.WriteArray(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".part")
    driver = gdal.GetDriverByName("COG" if cog else "GTiff")
    try:
        out = driver.CreateCopy(str(tmp), mem, strict=0,
                                options=_creation_options(data.dtype, cog, resampling))
        out.FlushCache()
        out = None
        os.replace(str(tmp), str(path))
    except (RuntimeError, OSError) as exc:
        _remove(tmp)
        raise GmiFileError("{}: cannot write GeoTIFF ({})".format(path, exc)) from None
    _remove(Path(str(path) + ".aux.xml"))
    return path


def build_vrt(path: PathLike, sources: Sequence[PathLike], *, separate: bool = False,
              descriptions: Optional[Sequence[str]] = None) -> Path:
    """A VRT over ``sources`` with paths relative to the VRT (so the folder can be moved).

    ``separate`` stacks the sources as bands (RGB presets); otherwise they are mosaicked.
    ``descriptions`` names the VRT's bands in order.
    """
    path = Path(path).absolute()
    if not sources:
        raise GmiInputError("{}: a VRT needs at least one source raster".format(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".part")
    try:
        vrt = gdal.BuildVRT(str(tmp), [str(Path(s).absolute()) for s in sources], separate=separate)
        if vrt is None:
            raise RuntimeError("gdal.BuildVRT returned nothing")
        for i, text in enumerate(descriptions or (), start=1):
            vrt.GetRasterBand(i).SetDescription(text)
        vrt.FlushCache()
        vrt = None
        _relative_sources(tmp)
        os.replace(str(tmp), str(path))
    except (RuntimeError, OSError, ElementTree.ParseError) as exc:
        _remove(tmp)
        raise GmiFileError("{}: cannot build the VRT ({})".format(path, exc)) from None
    return path


def _relative_sources(vrt_path: Path) -> None:
    """Rewrite every absolute SourceFilename of a VRT relative to the VRT's folder."""
    tree = ElementTree.parse(str(vrt_path))
    for element in tree.iter("SourceFilename"):
        if element.get("relativeToVRT") == "1" or not element.text:
            continue
        element.text = Path(os.path.relpath(element.text, str(vrt_path.parent))).as_posix()
        element.set("relativeToVRT", "1")
    tree.write(str(vrt_path), encoding="utf-8")


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
