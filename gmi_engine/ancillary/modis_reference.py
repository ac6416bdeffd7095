"""The MOD09A1 colour-balancing reference of a tile: 7 x size x size int16, -28672 = no data.

Each ``sur_refl_b01..b07`` field (of one file, or a mosaic of several MODIS tiles) is warped to
EPSG:3857 over the area with average resampling, honouring the -28672 fill. Values stay raw
(reflectance = value x 0.0001), band order b01..b07 as in the product.

QA (MOD09 user guide, C6.1, 500 m state and QC words; formats.md §4): before warping, every
pixel that is not *clear land* becomes fill, so it takes no part in the balancing fit
(:func:`clear_land`):

- ``sur_refl_state_500m``: bits 0-1 cloud state must be 00 (clear); bit 2 cloud shadow 0;
  bits 3-5 land/water 001 (land); bit 10 internal cloud flag 0; bit 12 MOD35 snow/ice 0 and
  bit 15 internal snow mask 0 (fill 65535 is rejected by these rules);
- ``sur_refl_qc_500m``: bits 0-1 MODLAND QA 00 (ideal) or 01 (less than ideal); the band's own
  4-bit quality (bits 2-5 for b1, ..., 26-29 for b7) 0000 (highest quality).

Several dates: :func:`nearest_composites` keeps, per MODIS tile (``hHHvVV``), the composite(s)
whose 8-day period is nearest the ASTER acquisition date; files without a MOD09A1 name are kept.
"""
from __future__ import annotations

import datetime as _dt
import os
import re
import threading
import uuid
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
from osgeo import gdal

from gmi_engine.ancillary import as_bounds, existing_files, open_gdal
from gmi_engine.errors import GmiFileError

FILL = -28672
GRID = "MOD_Grid_500m_Surface_Reflectance"
BANDS = tuple("sur_refl_b{:02d}".format(i) for i in range(1, 8))
STATE = "sur_refl_state_500m"
QC = "sur_refl_qc_500m"
COMPOSITE_DAYS = 8
_NAME = re.compile(r"^MOD09A1\.A(\d{4})(\d{3})\.(h\d{2}v\d{2})\.", re.IGNORECASE)


def clear_land(state: np.ndarray, qc: np.ndarray, band: int) -> np.ndarray:
    """Boolean mask of clear, land, shadow- and snow-free pixels of good quality in ``band`` (0..6).

    ``state`` is ``sur_refl_state_500m`` (uint16), ``qc`` is ``sur_refl_qc_500m`` (uint32); the
    bit rules are in the module docstring.
    """
    st = np.asarray(state).astype(np.uint32)
    q = np.asarray(qc).astype(np.uint64)
    ok = (st & 0x3) == 0  # cloud state clear
    ok &= (st >> 2) & 1 == 0  # no cloud shadow
    ok &= (st >> 3) & 0x7 == 1  # land
    ok &= (st >> 10) & 1 == 0  # internal cloud algorithm
    ok &= (st >> 12) & 1 == 0  # MOD35 snow/ice
    ok &= (st >> 15) & 1 == 0  # internal snow mask
    ok &= (q & 0x3) <= 1  # MODLAND: ideal or less than ideal
    ok &= (q >> np.uint64(2 + 4 * band)) & np.uint64(0xF) == 0  # band quality highest
    return ok


def composite_period(path: Union[str, os.PathLike]) -> Optional[Dict[str, Any]]:
    """``{"tile": "hHHvVV", "start": date, "end": date}`` from a MOD09A1 file name, else None."""
    m = _NAME.match(os.path.basename(os.fspath(path)))
    if not m:
        return None
    start = _dt.date(int(m.group(1)), 1, 1) + _dt.timedelta(days=int(m.group(2)) - 1)
    end = start + _dt.timedelta(days=COMPOSITE_DAYS - 1)
    return {"tile": m.group(3).lower(), "start": start, "end": end}


def days_from_composite(path: Union[str, os.PathLike], day: _dt.date) -> Optional[float]:
    """Days from ``day`` to the middle of the file's 8-day composite (None without a MOD09A1 name)."""
    period = composite_period(path)
    if period is None:
        return None
    middle = period["start"].toordinal() + (COMPOSITE_DAYS - 1) / 2.0
    return abs(day.toordinal() - middle)


def nearest_composites(paths: Sequence[Union[str, os.PathLike]], day: Optional[_dt.date]) -> List[str]:
    """The MOD09A1 files to use for an acquisition on ``day``: per MODIS tile the composite(s)
    nearest in time (ties keep all), plus every file without a MOD09A1 name; all when ``day`` is None."""
    paths = [os.fspath(p) for p in paths]
    if day is None:
        return paths
    best = {}  # type: Dict[str, float]
    for p in paths:
        period, dist = composite_period(p), days_from_composite(p, day)
        if period is not None and dist is not None:
            best[period["tile"]] = min(best.get(period["tile"], dist), dist)
    keep = []
    for p in paths:
        period, dist = composite_period(p), days_from_composite(p, day)
        if period is None or dist is None or dist <= best[period["tile"]] + 1e-9:
            keep.append(p)
    return keep


def reference_provenance(paths: Sequence[Union[str, os.PathLike]], day: Optional[_dt.date]) -> Dict[str, Any]:
    """What the provenance records of the reference chosen for ``day``: files, composite dates."""
    chosen = nearest_composites(paths, day)
    files = []
    for p in chosen:
        period = composite_period(p)
        files.append({"file": os.path.basename(p),
                      "composite_start": period["start"].isoformat() if period else None,
                      "composite_end": period["end"].isoformat() if period else None,
                      "days_from_acquisition": days_from_composite(p, day) if day else None})
    return {"acquired": day.isoformat() if day else None, "files": files,
            "candidates": len(list(paths)), "qa": "clear land only (sur_refl_state_500m, sur_refl_qc_500m)"}


def _subdataset(path: str, band: str) -> str:
    return 'HDF4_EOS:EOS_GRID:"{}":{}:{}'.format(path, GRID, band)


def sample_mod09a1(paths: Union[str, os.PathLike, Iterable], bounds: Any, size: int = 256,
                   day: Optional[_dt.date] = None, qa: bool = True) -> np.ndarray:
    """MOD09A1 reflectance (int16, shape (7, size, size)) over an EPSG:3857 area.

    ``paths`` is one file or several (neighbouring MODIS tiles are mosaicked). With ``day`` only
    the composite(s) nearest it per MODIS tile are used (:func:`nearest_composites`). With ``qa``
    pixels that are not clear land (:func:`clear_land`) are fill before warping. Cells no file
    covers are -28672; with no file at all every cell is. Several areas of one acquisition:
    :class:`Mod09a1Reference` reads the files once.
    """
    with Mod09a1Reference(paths, bounds, day=day, qa=qa) as reference:
        return reference.sample(bounds, size)


class Mod09a1Reference:
    """The MOD09A1 reference of one acquisition over an EPSG:3857 area, read once.

    The files are checked, the composites nearest ``day`` chosen and (with ``qa``) the window
    of each file that covers ``area`` copied to memory with non-clear-land pixels as fill;
    :meth:`sample` then warps any part of the area (a tile) from that copy, as
    :func:`sample_mod09a1` would from the files. Use as a context manager (frees the copies).
    :meth:`sample` may be called from several threads at once (each opens its own handle on the
    in-memory stack).
    """

    def __init__(self, paths: Union[str, os.PathLike, Iterable], area: Any,
                 day: Optional[_dt.date] = None, qa: bool = True):
        self.paths = nearest_composites(existing_files(paths, "MOD09A1 file"), day)
        self._scratch = []  # type: List[str]
        self._stack = None  # type: Any
        self._stack_name = None  # type: Optional[str]
        self._local = threading.local()
        if not self.paths:
            return
        for band in BANDS + ((STATE, QC) if qa else ()):  # a missing field is named before warping
            for p in self.paths:
                open_gdal(_subdataset(p, band), "MOD09A1 field {}:{}".format(GRID, band))
        # One 7-band stack to warp (per band a mosaic of the files when there are several).
        gdal.PushErrorHandler("CPLQuietErrorHandler")
        try:
            self._stack = self._build_stack(as_bounds(area), qa)
        except RuntimeError as exc:
            self.close()
            raise GmiFileError("{}: cannot read MOD09A1 over the area ({})".format(
                ", ".join(self.paths), exc)) from None
        finally:
            gdal.PopErrorHandler()

    def _build_stack(self, area: Sequence[float], qa: bool) -> Any:
        sources = [c for c in (_masked_copy(p, self._scratch, area) for p in self.paths) if c] if qa else self.paths
        if qa and not sources:  # no file reaches the area
            return None
        if len(self.paths) == 1 and not qa:
            layers = [_subdataset(self.paths[0], band) for band in BANDS]
        else:
            layers = []
            for band in BANDS:
                name = "/vsimem/gmi-mod09a1-{}-{}.vrt".format(uuid.uuid4().hex, band)
                src = [_subdataset(p, band) for p in self.paths] if not qa else sources
                kwargs = {} if not qa else {"bandList": [BANDS.index(band) + 1]}
                gdal.BuildVRT(name, src, srcNodata=FILL, VRTNodata=FILL, **kwargs).FlushCache()
                self._scratch.append(name)
                layers.append(name)
        self._stack_name = "/vsimem/gmi-mod09a1-{}-stack.vrt".format(uuid.uuid4().hex)
        stack = gdal.BuildVRT(self._stack_name, layers, separate=True, srcNodata=FILL, VRTNodata=FILL)
        stack.FlushCache()
        self._scratch.append(self._stack_name)
        self._local.stack = stack
        return stack

    def _thread_stack(self) -> Any:
        """This thread's handle on the stack (a GDAL dataset must not be shared between threads)."""
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = gdal.Open(self._stack_name)
        return stack

    def sample(self, bounds: Any, size: int = 256) -> np.ndarray:
        """The reference over ``bounds`` (inside the area), int16 (7, size, size), fill -28672."""
        out = np.full((len(BANDS), size, size), FILL, dtype=np.int16)
        if self._stack is None:
            return out
        gdal.PushErrorHandler("CPLQuietErrorHandler")
        try:
            warped = gdal.Warp("", self._thread_stack(), format="MEM", dstSRS="EPSG:3857",
                               outputBounds=as_bounds(bounds), width=size, height=size,
                               resampleAlg="average", srcNodata=FILL, dstNodata=FILL,
                               outputType=gdal.GDT_Int16, multithread=False,
                               warpOptions=["UNIFIED_SRC_NODATA=NO"])  # fill is per band
        except RuntimeError as exc:
            raise GmiFileError("{}: cannot warp MOD09A1 to the tile ({})".format(
                ", ".join(self.paths), exc)) from None
        finally:
            gdal.PopErrorHandler()
        if warped is None:
            raise GmiFileError("{}: cannot warp MOD09A1 to the tile ({})".format(
                ", ".join(self.paths), gdal.GetLastErrorMsg()))
        out[:] = warped.ReadAsArray().reshape(out.shape)
        return out

    def close(self) -> None:
        """Free the in-memory copies."""
        self._stack = None
        self._local = threading.local()
        for name in self._scratch:
            gdal.Unlink(name)
        self._scratch = []

    def __enter__(self) -> "Mod09a1Reference":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _source_window(dataset: Any, bounds: Sequence[float], margin: int = 2) -> Optional[tuple]:
    """(xoff, yoff, width, height) of ``dataset``'s pixels covering an EPSG:3857 area (plus
    ``margin`` pixels for the average warp), or None when the area misses the file."""
    from osgeo import osr

    target = osr.SpatialReference()
    target.ImportFromWkt(dataset.GetProjection())
    target.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    mercator = osr.SpatialReference()
    mercator.ImportFromEPSG(3857)
    mercator.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    to_file = osr.CoordinateTransformation(mercator, target)
    xmin, ymin, xmax, ymax = bounds
    steps = [i / 8.0 for i in range(9)]  # the edges, not only the corners (sinusoidal shear)
    edge = ([(xmin + (xmax - xmin) * t, ymin) for t in steps] + [(xmin + (xmax - xmin) * t, ymax) for t in steps]
            + [(xmin, ymin + (ymax - ymin) * t) for t in steps] + [(xmax, ymin + (ymax - ymin) * t) for t in steps])
    points = [to_file.TransformPoint(x, y)[:2] for x, y in edge]
    x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
    cols = [(px - x0) / dx for px, _ in points]
    rows = [(py - y0) / dy for _, py in points]
    c0 = max(0, int(np.floor(min(cols))) - margin)
    r0 = max(0, int(np.floor(min(rows))) - margin)
    c1 = min(dataset.RasterXSize, int(np.ceil(max(cols))) + margin)
    r1 = min(dataset.RasterYSize, int(np.ceil(max(rows))) + margin)
    if c1 <= c0 or r1 <= r0:
        return None
    return c0, r0, c1 - c0, r1 - r0


def _masked_copy(path: str, scratch: List[str], bounds: Sequence[float]) -> Optional[str]:
    """A /vsimem GeoTIFF of the 7 bands of ``path`` over the area's window, non-clear-land
    pixels set to fill; None when the area misses the file."""
    first = gdal.Open(_subdataset(path, BANDS[0]))
    window = _source_window(first, bounds)
    if window is None:
        return None
    xoff, yoff, width, height = window
    st = gdal.Open(_subdataset(path, STATE)).ReadAsArray(xoff, yoff, width, height)
    q = gdal.Open(_subdataset(path, QC)).ReadAsArray(xoff, yoff, width, height)
    name = "/vsimem/gmi-mod09a1-{}.tif".format(uuid.uuid4().hex)
    ds = gdal.GetDriverByName("GTiff").Create(name, width, height, len(BANDS), gdal.GDT_Int16)
    scratch.append(name)
    x0, dx, rx, y0, ry, dy = first.GetGeoTransform()
    ds.SetGeoTransform((x0 + xoff * dx + yoff * rx, dx, rx, y0 + xoff * ry + yoff * dy, ry, dy))
    ds.SetProjection(first.GetProjection())
    for i, band in enumerate(BANDS):
        values = gdal.Open(_subdataset(path, band)).ReadAsArray(xoff, yoff, width, height)
        values = np.where(clear_land(st, q, i), values, FILL).astype(np.int16)
        b = ds.GetRasterBand(i + 1)
        b.SetNoDataValue(FILL)
        b.WriteArray(values)
    ds.FlushCache()
    ds = None
    return name
