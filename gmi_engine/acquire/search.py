"""CMR searches through earthaccess: AST_L1T granules and the ancillary files that match them.

Short names and versions are CMR's: ``AST_L1T`` ``003`` and ``031`` (v3.1, RCC V5 calibration),
``MCD19A2`` ``061``, ``MOD09A1`` ``061``, ``ASTGTM`` ``003``.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import earthaccess
from earthaccess.results import DataGranule

from gmi_engine.acquire.errors import SearchError
from gmi_engine.acquire.footprint import Footprint, footprint_from_umm, gdem_tiles, modis_tiles
from gmi_engine.errors import GmiInputError

ASTER_SHORT_NAME = "AST_L1T"
ASTER_VERSIONS = {"003": "003", "3": "003", "031": "031", "3.1": "031"}
"""Accepted ``version`` spellings -> CMR's version string."""
MCD19A2 = ("MCD19A2", "061")
MOD09A1 = ("MOD09A1", "061")
ASTGTM = ("ASTGTM", "003")
SWIR_CUTOFF = date(2008, 4, 1)
"""ASTER SWIR detectors failed in April 2008: granules acquired from this day on have no usable SWIR."""

BBox = Tuple[float, float, float, float]
_HV = re.compile(r"\.h(\d\d)v(\d\d)\.", re.IGNORECASE)
_MODIS_DATE = re.compile(r"\.A(\d{4})(\d{3})\.")
_GDEM_TILE = re.compile(r"([NS]\d{2}[EW]\d{3})", re.IGNORECASE)


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file: URL, name, and CMR's size and checksum when it gives them."""

    url: str
    name: str
    size: Optional[int] = None
    checksum: Optional[str] = None
    checksum_algorithm: Optional[str] = None


@dataclass(frozen=True)
class GranuleRecord:
    """One CMR granule as GMI uses it."""

    granule_id: str
    concept_id: str
    product: str
    version: str
    start: datetime
    end: datetime
    cloud_cover: Optional[float]
    day_night: str
    footprint: Footprint
    files: Tuple[RemoteFile, ...]
    size_mb: float = 0.0

    @property
    def swir_usable(self) -> bool:
        """True when acquired before 2008-04-01."""
        return self.start.date() < SWIR_CUTOFF

    @property
    def urls(self) -> Tuple[str, ...]:
        """The download URLs."""
        return tuple(f.url for f in self.files)


@dataclass
class Ancillaries:
    """The ancillary granules matching a set of ASTER granules, by product."""

    mcd19a2: List[GranuleRecord] = field(default_factory=list)
    mod09a1: List[GranuleRecord] = field(default_factory=list)
    gdem: List[GranuleRecord] = field(default_factory=list)

    def all(self) -> List[GranuleRecord]:
        """Every record, MCD19A2 then MOD09A1 then GDEM."""
        return self.mcd19a2 + self.mod09a1 + self.gdem


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _files(granule: DataGranule, umm: Mapping) -> Tuple[RemoteFile, ...]:
    info = {}
    for item in (umm.get("DataGranule") or {}).get("ArchiveAndDistributionInformation") or []:
        size = item.get("SizeInBytes")
        if size is None and item.get("SizeUnit") == "B" and item.get("Size") is not None:
            size = item["Size"]
        checksum = item.get("Checksum") or {}
        info[item.get("Name")] = (int(size) if size is not None else None, checksum.get("Value"),
                                  checksum.get("Algorithm"))
    out = []
    for url in granule.data_links(access="external"):
        name = url.rsplit("/", 1)[-1]
        size, value, algorithm = info.get(name, (None, None, None))
        out.append(RemoteFile(url, name, size, value, algorithm))
    return tuple(out)


def to_record(granule: DataGranule) -> GranuleRecord:
    """A :class:`GranuleRecord` from an earthaccess :class:`~earthaccess.results.DataGranule`."""
    umm = granule["umm"]
    rng = (umm.get("TemporalExtent") or {}).get("RangeDateTime") or {}
    single = (umm.get("TemporalExtent") or {}).get("SingleDateTime")
    start = _parse_time(rng.get("BeginningDateTime") or single)
    end = _parse_time(rng.get("EndingDateTime") or rng.get("BeginningDateTime") or single)
    ref = umm.get("CollectionReference") or {}
    cloud = umm.get("CloudCover")
    return GranuleRecord(
        granule_id=umm["GranuleUR"], concept_id=granule["meta"]["concept-id"],
        product=ref.get("ShortName", ""), version=ref.get("Version", ""), start=start, end=end,
        cloud_cover=float(cloud) if cloud is not None else None,
        day_night=(umm.get("DataGranule") or {}).get("DayNightFlag", "Unspecified"),
        footprint=footprint_from_umm(umm), files=_files(granule, umm), size_mb=float(granule["size"]))


def _query(auth: Optional[earthaccess.Auth], **params) -> List[GranuleRecord]:
    """One CMR granule search (all pages) through earthaccess."""
    query = earthaccess.DataGranules(auth).parameters(**params)
    try:
        with warnings.catch_warnings():  # earthaccess warns that DataGranule.size becomes an attribute
            warnings.simplefilter("ignore", FutureWarning)
            granules = query.get_all()
    except RuntimeError as exc:
        raise SearchError("CMR search for {} {} failed: {}".format(
            params.get("short_name"), params.get("version"), str(exc)[:300])) from None
    return [to_record(g) for g in granules]


def _day_bounds(day: date) -> Tuple[str, str]:
    return (datetime.combine(day, time(0, 0, 0)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            datetime.combine(day, time(23, 59, 59)).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _versions(version: str) -> List[str]:
    if version == "auto":
        return ["031", "003"]
    if version not in ASTER_VERSIONS:
        raise GmiInputError("version {!r}: expected 'auto', '003' or '3.1'".format(version))
    return [ASTER_VERSIONS[version]]


def acquisition_key(record: GranuleRecord) -> str:
    """The acquisition start in the granule id (the same scene in v003 and v3.1), else the start time."""
    match = re.search(r"AST_L1T_\d{3}(\d{14})", record.granule_id)
    return match.group(1) if match else record.start.strftime("%m%d%Y%H%M%S")


def search_aster(aoi: BBox, start: date, end: date, max_cloud: Optional[float] = None,
                 day_only: bool = True, swir_usable: Optional[bool] = None, version: str = "auto",
                 auth: Optional[earthaccess.Auth] = None) -> List[GranuleRecord]:
    """AST_L1T granules over ``aoi`` (west, south, east, north in degrees) from ``start`` to ``end``.

    ``max_cloud`` in percent; ``swir_usable`` True keeps only acquisitions before 2008-04-01, False
    only later ones; ``version`` ``"003"``, ``"3.1"`` or ``"auto"`` (both; where a scene is in both,
    the v3.1 granule is kept). Sorted by start time.
    """
    west, south, east, north = (float(v) for v in aoi)
    if not (-90 <= south < north <= 90 and -180 <= west <= 180 and -180 <= east <= 180):
        raise GmiInputError("bbox {}: expected W S E N in degrees with S < N".format(aoi))
    if swir_usable is True:
        end = min(end, SWIR_CUTOFF - timedelta(days=1))
    elif swir_usable is False:
        start = max(start, SWIR_CUTOFF)
    if end < start:
        return []
    params: Dict[str, object] = {
        "short_name": ASTER_SHORT_NAME, "bounding_box": (west, south, east, north),
        "temporal": (_day_bounds(start)[0], _day_bounds(end)[1])}
    if max_cloud is not None:
        params["cloud_cover"] = (0, float(max_cloud))
    if day_only:
        params["day_night_flag"] = "day"
    chosen: Dict[str, GranuleRecord] = {}
    for v in _versions(version):
        for record in _query(auth, version=v, **params):
            chosen.setdefault(acquisition_key(record), record)
    return sorted(chosen.values(), key=lambda r: (r.start, r.granule_id))


def _rings_bboxes(records: Iterable[GranuleRecord]) -> List[BBox]:
    out = []
    for record in records:
        for ring in record.footprint:
            xs, ys = [p[0] for p in ring], [p[1] for p in ring]
            out.append((min(xs), min(ys), max(xs), max(ys)))
    return out


def _union(boxes: Sequence[BBox]) -> BBox:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _hv(record: GranuleRecord) -> Optional[Tuple[int, int]]:
    match = _HV.search(record.granule_id)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _composite_start(day: date) -> date:
    """First day of the MOD09A1 8-day composite holding ``day`` (composites restart on 1 January)."""
    doy = day.timetuple().tm_yday
    return date(day.year, 1, 1) + timedelta(days=(doy - 1) // 8 * 8)


def _modis_date(record: GranuleRecord) -> Optional[date]:
    match = _MODIS_DATE.search(record.granule_id)
    if not match:
        return None
    return date(int(match.group(1)), 1, 1) + timedelta(days=int(match.group(2)) - 1)


def _by_day(granules: Iterable[GranuleRecord]) -> Dict[date, List[GranuleRecord]]:
    days: Dict[date, List[GranuleRecord]] = {}
    for g in granules:
        days.setdefault(g.start.date(), []).append(g)
    return days


def _dedupe(records: Iterable[GranuleRecord]) -> List[GranuleRecord]:
    seen: Dict[str, GranuleRecord] = {}
    for r in records:
        seen.setdefault(r.granule_id, r)
    return sorted(seen.values(), key=lambda r: r.granule_id)


def search_ancillaries(granules: Sequence[GranuleRecord], auth: Optional[earthaccess.Auth] = None,
                       products: Sequence[str] = ("mcd19a2", "mod09a1", "gdem")) -> Ancillaries:
    """The MCD19A2 (same day), MOD09A1 (8-day composite holding the day) and ASTGTM files of ``granules``.

    MODIS files are kept only for the sinusoidal h/v tiles the footprints touch, GDEM files only for
    the 1° tiles they touch; GDEM keeps its ``_dem`` file only (not ``_num``).
    """
    out = Ancillaries()
    if not granules:
        return out
    for day, group in sorted(_by_day(granules).items()):
        tiles = modis_tiles(g.footprint for g in group)
        box = _union(_rings_bboxes(group))
        if "mcd19a2" in products:
            found = _query(auth, short_name=MCD19A2[0], version=MCD19A2[1], temporal=_day_bounds(day),
                           bounding_box=box)
            out.mcd19a2.extend(r for r in found if _hv(r) in tiles and _modis_date(r) in (day, None))
        if "mod09a1" in products:
            found = _query(auth, short_name=MOD09A1[0], version=MOD09A1[1], temporal=_day_bounds(day),
                           bounding_box=box)
            first = _composite_start(day)
            out.mod09a1.extend(r for r in found if _hv(r) in tiles and _modis_date(r) in (first, None))
    if "gdem" in products:
        names: Set[str] = gdem_tiles(g.footprint for g in granules)
        for box in _rings_bboxes(granules):
            for r in _query(auth, short_name=ASTGTM[0], version=ASTGTM[1], bounding_box=box):
                match = _GDEM_TILE.search(r.granule_id)
                if match and match.group(1).upper() in names:
                    dem = tuple(f for f in r.files if f.name.lower().endswith("_dem.tif")) or r.files
                    out.gdem.append(GranuleRecord(**{**r.__dict__, "files": dem}))
    out.mcd19a2, out.mod09a1, out.gdem = _dedupe(out.mcd19a2), _dedupe(out.mod09a1), _dedupe(out.gdem)
    return out
