"""GeoTIFF/COG and VRT writing with GDAL: one band per file, EPSG:3857, georeferenced from the grid.

GDAL releases the GIL while it compresses, so several files can be written from threads.

Files are written under a temporary name and renamed into place, so an interrupted export never
leaves a half-written raster under the final name.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Mapping, Optional, Sequence, Tuple, Union
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


COMPRESSIONS = ("zstd", "deflate", "lzw", "none")
"""GeoTIFF compressions. zstd (level 1, the default) writes about three times faster than deflate
for files of the same size; deflate is for software built without ZSTD (GDAL < 2.3, some
commercial readers); none is the fastest and largest."""
ZSTD_LEVEL = 1
PREDICTOR = 2
"""TIFF horizontal differencing for every data type, float32 included (on the 32-bit words,
exactly invertible). On the 253 index COGs of ``make bench`` it wrote the files in 5.03 s of CPU
for 155.9 MB, against 6.84 s for 152.8 MB with the floating-point predictor (3) and 4.39 s for
262.9 MB with none (ZSTD level 1, overviews)."""


def overview_factors(cols: int, rows: int) -> List[int]:
    """Overview decimation factors of a COG: halve until a level fits in one block (as the COG
    driver's OVERVIEWS=AUTO does); none for a raster of one block."""
    factors = []  # type: List[int]
    factor = 1
    while max(cols, rows) / factor > BLOCK_SIZE:
        factor *= 2
        factors.append(factor)
    return factors


def check_compression(compression: str) -> str:
    """``compression`` lower-cased if it is one of :data:`COMPRESSIONS`, else GmiInputError."""
    value = str(compression).lower()
    if value not in COMPRESSIONS:
        raise GmiInputError("compression: {!r} is not one of {}".format(compression, ", ".join(COMPRESSIONS)))
    return value


def creation_options(dtype: np.dtype, cog: bool, compression: str = "zstd", resampling: str = "AVERAGE") -> list:
    """GDAL creation options of a COG (existing overviews used) or tiled GeoTIFF of ``dtype`` data."""
    return _creation_options(dtype, cog, resampling, compression)


def _creation_options(dtype: np.dtype, cog: bool, resampling: str, compression: str = "zstd") -> list:
    compression = check_compression(compression)
    if cog:  # overviews: built on the in-memory source by write_geotiff (twice as fast as AUTO)
        options = ["COMPRESS={}".format(compression.upper()), "BLOCKSIZE={}".format(BLOCK_SIZE),
                   "OVERVIEWS=FORCE_USE_EXISTING", "OVERVIEW_RESAMPLING={}".format(resampling)]
        if compression != "none":
            options.append("PREDICTOR={}".format(PREDICTOR))
        if compression == "zstd":
            options.append("LEVEL={}".format(ZSTD_LEVEL))
        return options
    options = ["TILED=YES", "BLOCKXSIZE={}".format(BLOCK_SIZE), "BLOCKYSIZE={}".format(BLOCK_SIZE),
               "COMPRESS={}".format(compression.upper())]
    if compression != "none":
        options.append("PREDICTOR={}".format(PREDICTOR))
    if compression == "zstd":
        options.append("ZSTD_LEVEL={}".format(ZSTD_LEVEL))
    return options


def write_geotiff(path: PathLike, data: np.ndarray, geotransform: Sequence[float], *,
                  description: str, tags: Optional[Mapping[str, str]] = None,
                  nodata: Optional[float] = None, scale: Optional[float] = None,
                  offset: Optional[float] = None, cog: bool = True,
                  resampling: str = "AVERAGE", compression: str = "zstd") -> Path:
    """Write a one-band GeoTIFF (Cloud Optimized layout when ``cog``) in EPSG:3857.

    ``description`` becomes the band description; ``tags`` the dataset metadata; ``nodata``
    the band nodata (NaN allowed); ``scale``/``offset`` the band's value transform;
    ``resampling`` the overview resampling (AVERAGE for continuous data, NEAREST for classes);
    ``compression`` one of :data:`COMPRESSIONS`.
    """
    path = Path(path)
    if data.ndim != 2:
        raise GmiInputError("{}: data must be 2-D, got shape {}".format(path, data.shape))
    rows, cols = data.shape
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".part")
    options = _creation_options(data.dtype, cog, resampling, compression)
    try:
        if cog:  # an in-memory raster over the array (no copy) with its overviews, laid out by COG
            pixels = np.ascontiguousarray(data)
            mem = _memory_raster(pixels)
            _fill(mem, None, geotransform, description, tags, nodata, scale, offset)
            _build_overviews(mem, pixels, nodata, resampling)
            out = gdal.GetDriverByName("COG").CreateCopy(str(tmp), mem, strict=0, options=options)
            mem = None
        else:  # a tiled GeoTIFF written in place: no in-memory copy
            out = gdal.GetDriverByName("GTiff").Create(str(tmp), cols, rows, 1, _gdal_type(data.dtype),
                                                       options=options)
            _fill(out, data, geotransform, description, tags, nodata, scale, offset)
        out.FlushCache()
        out = None
        os.replace(str(tmp), str(path))
    except (RuntimeError, OSError) as exc:
        out = None
        _remove(tmp)
        raise GmiFileError("{}: cannot write GeoTIFF ({})".format(path, exc)) from None
    _remove(Path(str(path) + ".aux.xml"))
    return path


def _memory_raster(pixels: np.ndarray) -> "gdal.Dataset":
    """A one-band MEM dataset whose band is ``pixels`` itself (C-contiguous, kept alive by the
    caller while the dataset is used): no copy of the array."""
    rows, cols = pixels.shape
    mem = gdal.GetDriverByName("MEM").Create("", cols, rows, 0, _gdal_type(pixels.dtype))
    address = pixels.__array_interface__["data"][0]
    mem.AddBand(_gdal_type(pixels.dtype), options=[
        "DATAPOINTER={}".format(address), "PIXELOFFSET={}".format(pixels.strides[1]),
        "LINEOFFSET={}".format(pixels.strides[0])])
    return mem


def _build_overviews(mem: "gdal.Dataset", data: np.ndarray, nodata: Optional[float], resampling: str) -> None:
    """The overviews of an in-memory one-band dataset holding ``data``.

    A float32 raster with NaN nodata and one level of factor 2 (a 1024-pixel tile) gets its
    level from :func:`average_overview_nan`, the rest from GDAL's ``BuildOverviews``.
    """
    rows, cols = data.shape
    factors = overview_factors(cols, rows)
    if not factors:
        return
    if (factors == [2] and resampling.upper() == "AVERAGE" and data.dtype == np.float32
            and nodata is not None and np.isnan(nodata) and rows % 2 == 0 and cols % 2 == 0):
        mem.BuildOverviews("NONE", factors)  # the level is created, not computed
        mem.GetRasterBand(1).GetOverview(0).WriteArray(average_overview_nan(data))
        return
    mem.BuildOverviews(resampling, factors)


#: Rows of the overview computed at a time by :func:`average_overview_nan` (in the CPU cache).
OVERVIEW_BLOCK_ROWS = 64


def average_overview_nan(data: np.ndarray) -> np.ndarray:
    """Mean of the non-NaN pixels of each 2 x 2 window of an even-sized float32 raster; NaN where
    all four are NaN.

    The arithmetic of GDAL's AVERAGE overview with NaN nodata: the valid values summed in double
    in row order from 0.0, divided by their count, rounded to float32. On the 253 index tiles of
    ``make bench`` it gave the same bytes as GDAL 3.6's ``BuildOverviews``, in less time
    (tests/unit/test_geotiff_overviews.py checks it against GDAL).
    """
    height, width = data.shape[0] // 2, data.shape[1] // 2
    out = np.empty((height, width), dtype=np.float32)
    for r0 in range(0, height, OVERVIEW_BLOCK_ROWS):
        pixels = data[2 * r0:2 * (r0 + OVERVIEW_BLOCK_ROWS)]
        missing = np.isnan(pixels)
        if missing.all():  # outside the footprint: nothing to average
            out[r0:r0 + pixels.shape[0] // 2] = np.float32("nan")
            continue
        block = pixels.astype(np.float64)
        quad = block.reshape(-1, 2, width, 2)
        count: Union[int, np.ndarray] = 4
        if missing.any():
            block[missing] = 0.0  # adding 0.0 is what skipping a NaN leaves of the sum
            gaps = missing.reshape(quad.shape)
            count = 4 - (gaps[:, 0, :, 0].view(np.int8) + gaps[:, 0, :, 1].view(np.int8)
                         + gaps[:, 1, :, 0].view(np.int8) + gaps[:, 1, :, 1].view(np.int8))
        with np.errstate(invalid="ignore", divide="ignore"):  # inf - inf, 0 / 0: NaN as in GDAL
            total = quad[:, 0, :, 0] + quad[:, 0, :, 1]
            total += quad[:, 1, :, 0]
            total += quad[:, 1, :, 1]
            total += 0.0  # GDAL's sum starts at +0.0: a sum of -0.0 values is +0.0
            mean = (total / count).astype(np.float32)
        if not isinstance(count, int):
            mean[count == 0] = np.float32("nan")  # GDAL's NaN (0/0 gives the negative one)
        out[r0:r0 + mean.shape[0]] = mean
    return out


def _fill(ds: "gdal.Dataset", data: Optional[np.ndarray], geotransform: Sequence[float], description: str,
          tags: Optional[Mapping[str, str]], nodata: Optional[float], scale: Optional[float],
          offset: Optional[float]) -> None:
    """Georeference, tags, band description/nodata/scale/offset and pixels (None: the dataset
    already holds them) of a one-band dataset."""
    ds.SetGeoTransform(tuple(float(v) for v in geotransform))
    ds.SetProjection(_SRS_WKT)
    if tags:
        ds.SetMetadata({str(k): str(v) for k, v in tags.items()})
    band = ds.GetRasterBand(1)
    band.SetDescription(description)
    if nodata is not None:
        band.SetNoDataValue(float(nodata))
    if scale is not None:
        band.SetScale(float(scale))
    if offset is not None:
        band.SetOffset(float(offset))
    if data is not None:
        band.WriteArray(data)


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
