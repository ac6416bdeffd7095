"""Open an AST_L1T granule through GDAL's HDF4 driver as a typed :class:`Granule`.

GDAL gives L1T swaths no projection and no geotransform (formats.md §1.5), so the georeference
is rebuilt from the metadata: ``UPPERLEFTM``/``LOWERRIGHTM`` are pixel-centre (northing,
easting) pairs shared by all subsystems, south of the equator the northings are negative
(formats.md §2.3, §2.7).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np
from osgeo import gdal

from gmi_engine.aster.geometry import SUBSYSTEM_RES_M, UtmCorners, geotransform, utm_epsg
from gmi_engine.aster.names import auxiliary_kind, collection_version, granule_id, is_granule_file, normalise_version
from gmi_engine.errors import GmiError, GmiFileError, MetadataValueError, MissingMetadataError, NotAsterL1TError
from gmi_engine.kernel.bands import SWIR_CUTOFF

gdal.UseExceptions()

GAIN_CODES = ("HGH", "NOR", "LO1", "LO2", "LOW", "OFF")
_SDS_RE = re.compile(r":(?P<swath>VNIR|SWIR|TIR)_Swath:ImageData(?P<band>3N|3B|\d{1,2})$")
_HDF4_MAGIC = b"\x0e\x03\x13\x01"


def band_code(number: str) -> str:
    """'1' -> '01', '3N' -> '3N', '10' -> '10' (the GAIN.n spelling)."""
    return number if not number.isdigit() else "{:02d}".format(int(number))


@dataclass(frozen=True)
class BandInfo:
    """One band present in the granule."""

    code: str
    subsystem: str
    subdataset: str
    rows: int
    cols: int
    gain: Optional[str]
    incl: Optional[float]

    @property
    def res(self) -> float:
        """Pixel size in metres."""
        return SUBSYSTEM_RES_M[self.subsystem]


@dataclass(frozen=True)
class Granule:
    """Everything GMI needs to know about one AST_L1T granule."""

    path: Path
    granule_id: str
    acquired: datetime
    sun_azimuth: float
    sun_elevation: float
    pointing: dict
    gains: dict
    bands: dict
    utm_zone: int
    south: bool
    corners: UtmCorners
    footprint_lonlat: tuple
    cloud_cover: Optional[float]
    metadata: dict = field(repr=False, compare=False)
    version: Optional[str] = None
    """Product version as CMR names it: ``"003"`` or ``"031"`` (v3.1), from VERSIONID or the file name."""

    @property
    def sun_zenith(self) -> float:
        """Solar zenith angle in degrees."""
        return 90.0 - self.sun_elevation

    @property
    def epsg(self) -> int:
        """EPSG code of the granule's UTM zone."""
        return utm_epsg(self.utm_zone, self.south)

    @property
    def swir_usable(self) -> bool:
        """False for granules acquired on or after 2008-04-01 (SWIR detector failure)."""
        return self.acquired.date() < SWIR_CUTOFF

    @property
    def subsystems(self) -> tuple:
        """Subsystems present, in VNIR, SWIR, TIR order."""
        present = {b.subsystem for b in self.bands.values()}
        return tuple(s for s in ("VNIR", "SWIR", "TIR") if s in present)

    def geotransform(self, subsystem: str) -> tuple:
        """Exact GDAL geotransform of a subsystem in :attr:`epsg`."""
        return geotransform(self.corners, SUBSYSTEM_RES_M[subsystem], self.south)

    def georeferenced(self, code: str) -> gdal.Dataset:
        """An in-memory VRT of one band with the UTM georeference set and DN 0 as nodata."""
        info = self.bands[code]
        src = gdal.Open(info.subdataset)
        vrt = gdal.GetDriverByName("VRT").CreateCopy("", src)
        vrt.SetGCPs([], "")
        vrt.SetProjection("EPSG:{}".format(self.epsg))
        vrt.SetGeoTransform(self.geotransform(info.subsystem))
        vrt.GetRasterBand(1).SetNoDataValue(0)
        return vrt

    def read_band(self, code: str) -> np.ndarray:
        """The band's DN array (uint8 for VNIR/SWIR, uint16 for TIR)."""
        try:
            return gdal.Open(self.bands[code].subdataset).ReadAsArray()
        except RuntimeError as exc:
            raise GmiFileError("{}: cannot read band {}: {}".format(self.path, code, exc)) from exc


def _require(md: dict, path: Path, key: str) -> str:
    value = md.get(key)
    if value is None or value == "":
        raise MissingMetadataError(path, key)
    return value


def _floats(md: dict, path: Path, key: str, n: int) -> list:
    text = _require(md, path, key)
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise MetadataValueError(path, key, text, "{} comma-separated numbers".format(n)) from None
    if len(values) != n:
        raise MetadataValueError(path, key, text, "{} comma-separated numbers".format(n))
    return values


def _acquired(md: dict, path: Path) -> datetime:
    cal, tod = md.get("CALENDARDATE"), md.get("TIMEOFDAY")
    if cal and tod:
        try:
            return datetime.strptime(cal + tod[:6], "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
        except ValueError:
            raise MetadataValueError(path, "CALENDARDATE/TIMEOFDAY", cal + " " + tod,
                                     "YYYYMMDD + hhmmss…Z") from None
    text = _require(md, path, "SETTINGTIMEOFPOINTING.1")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise MetadataValueError(path, "SETTINGTIMEOFPOINTING.1", text,
                                 "YYYY-MM-DDThh:mm:ssZ") from None


def _gains(items: list, path: Path) -> dict:
    """Band -> gain from ``GAIN.n=01, HGH`` items, or ``GAIN=01, HGH`` ones (GDAL builds without the suffix).

    ``items`` is ``GetMetadata_List()``: it keeps every duplicate ``GAIN`` item, a dict keeps the last.
    """
    gains = {}
    for item in items:
        key, _, value = item.partition("=")
        if not re.fullmatch(r"GAIN(\.\d+)?", key):
            continue
        parts = [p.strip() for p in value.split(",")]
        if len(parts) != 2 or parts[1] not in GAIN_CODES:
            raise MetadataValueError(path, key, value, "'<band>, <gain>' with gain in " + "/".join(GAIN_CODES))
        gains[parts[0]] = parts[1]
    return gains


def _pointing(md: dict, path: Path) -> dict:
    """Subsystem -> pointing angle: ``POINTINGANGLE.n`` goes to the telescope ``SENSORNAME.n`` names.

    Without a ``SENSORNAME.n`` the position decides (.1 VNIR, .2 SWIR, .3 TIR), as in full granules.
    """
    pointing = {}
    for i, sub in enumerate(("VNIR", "SWIR", "TIR"), start=1):
        key = "POINTINGANGLE.{}".format(i)
        if key not in md:
            continue
        named = (md.get("SENSORNAME.{}".format(i)) or "").strip().strip('"').upper()
        if named and named not in ("VNIR", "SWIR", "TIR"):
            raise MetadataValueError(path, "SENSORNAME.{}".format(i), named, "VNIR, SWIR or TIR")
        pointing[named or sub] = _floats(md, path, key, 1)[0]
    return pointing


def _open_container(path: Path) -> gdal.Dataset:
    if not path.is_file():
        raise GmiFileError("{}: no such file".format(path))
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != _HDF4_MAGIC:
        raise NotAsterL1TError("{}: not an HDF4 file (AST_L1T granules are HDF-EOS2)".format(path))
    try:
        ds = gdal.Open(str(path))
    except RuntimeError as exc:
        raise GmiFileError("{}: GDAL cannot open it (truncated or corrupt?): {}".format(path, exc)) from exc
    if ds is None:
        raise GmiFileError("{}: GDAL cannot open it".format(path))
    return ds


def open_granule(path) -> Granule:
    """Read an AST_L1T granule's metadata and band list; raises a GmiError subclass on bad input."""
    path = Path(path)
    ds = _open_container(path)
    md = ds.GetMetadata() or {}
    short = md.get("SHORTNAME")
    if short is None:
        raise NotAsterL1TError("{}: no SHORTNAME metadata: not an ASTER L1T granule".format(path))
    if short != "AST_L1T":
        raise NotAsterL1TError("{}: SHORTNAME is {!r}, expected 'AST_L1T'".format(path, short))
    gains = _gains(ds.GetMetadata_List() or [], path)
    bands = {}
    for name, desc in ds.GetSubDatasets():
        m = _SDS_RE.search(name)
        if not m or m.group("band") == "3B":
            continue
        code = band_code(m.group("band"))
        dims = re.match(r"\[(\d+)x(\d+)\]", desc)
        if not dims:
            raise MetadataValueError(path, "SUBDATASET " + name, desc, "'[rows x cols] …'")
        incl_key = "INCL" + m.group("band")
        incl = md.get(incl_key)
        try:
            incl_value = float(incl) if incl else None
        except ValueError:
            raise MetadataValueError(path, incl_key, incl, "a number") from None
        bands[code] = BandInfo(code, m.group("swath"), name, int(dims.group(1)), int(dims.group(2)),
                               gains.get(code), incl_value)
    if not bands:
        raise NotAsterL1TError("{}: no VNIR/SWIR/TIR ImageData subdatasets".format(path))
    if not gains and any(b.subsystem in ("VNIR", "SWIR") for b in bands.values()):
        raise MissingMetadataError(path, "GAIN", "no GAIN.n or GAIN item: the VNIR/SWIR gains are unknown")
    ul_n, ul_e = _floats(md, path, "UPPERLEFTM", 2)
    lr_n, lr_e = _floats(md, path, "LOWERRIGHTM", 2)
    corners = UtmCorners(ul_n, ul_e, lr_n, lr_e)
    zone_text = _require(md, path, "UTMZONENUMBER")
    try:
        zone = abs(int(zone_text))
    except ValueError:
        raise MetadataValueError(path, "UTMZONENUMBER", zone_text, "an integer") from None
    if not 1 <= zone <= 60:
        raise MetadataValueError(path, "UTMZONENUMBER", zone_text, "a zone in 1..60")
    north = _floats(md, path, "NORTHBOUNDINGCOORDINATE", 1)[0]
    for b in bands.values():
        expected = corners.size(b.res)
        if expected != (b.rows, b.cols):
            raise MetadataValueError(path, "UPPERLEFTM/LOWERRIGHTM", "{}x{} for band {}".format(
                b.rows, b.cols, b.code), "consistent with the corners ({}x{})".format(*expected))
    sun_az, sun_el = _floats(md, path, "SOLARDIRECTION", 2)
    pointing = _pointing(md, path)
    corners_ll = []
    for key in ("UPPERLEFT", "UPPERRIGHT", "LOWERRIGHT", "LOWERLEFT"):
        lat, lon = _floats(md, path, key, 2)
        corners_ll.append((lon, lat))
    cloud_text = md.get("SCENECLOUDCOVERAGE") or md.get("QAPERCENTCLOUDCOVER.1")
    try:
        cloud = float(cloud_text) if cloud_text not in (None, "") else None
    except ValueError:
        raise MetadataValueError(path, "SCENECLOUDCOVERAGE", cloud_text, "a number") from None
    return Granule(path=path, granule_id=granule_id(path.name) or path.stem, acquired=_acquired(md, path),
                   sun_azimuth=sun_az, sun_elevation=sun_el, pointing=pointing, gains=gains,
                   bands=bands, utm_zone=zone, south=north < 0, corners=corners,
                   footprint_lonlat=tuple(corners_ll), cloud_cover=cloud, metadata=dict(md),
                   version=normalise_version(md.get("VERSIONID")) or collection_version(path.name))


def skip_reason(path) -> Optional[str]:
    """Why a file of a download folder is no granule to ingest (``"... (by name)"``/``"... (by content)"``), else None.

    By name: the browse, ECS metadata and QA files of :func:`~gmi_engine.aster.names.auxiliary_kind`.
    By content: an HDF4 file that is no AST_L1T granule (other SHORTNAME, no ImageData), or a non-HDF4
    file not named like a granule. None (ingest it, and let its errors be failures) for everything
    else, in particular a granule-named file that is not HDF4 (a broken download) or is unreadable.
    """
    path = Path(path)
    kind = auxiliary_kind(path.name)
    if kind is not None:
        return "{} (by name)".format(kind)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError:
        return None
    if magic != _HDF4_MAGIC:
        return None if is_granule_file(path) else "not an HDF4 file (by content)"
    try:
        open_granule(path)
    except NotAsterL1TError as exc:
        return "not an AST_L1T granule (by content): {}".format(exc)
    except (GmiError, RuntimeError):
        return None
    return None
