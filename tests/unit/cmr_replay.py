"""Replays the hand-written CMR replies in tests/data/cmr to the real earthaccess/python-cmr/requests stack.

``responses`` intercepts requests' transport for ``https://cmr.earthdata.nasa.gov/search/granules.umm_json``;
the callback answers by short name and version, keeps only items whose temporal range and
bounding box meet the query's (what CMR does), sets the ``CMR-Hits`` header that earthaccess
reads, and records every query's parameters for the tests to assert. :func:`umm_item` writes an
item of the same layout for files a test serves itself (tests/qgis/test_dlg_search.py).
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple
from urllib.parse import parse_qs, urlsplit

import responses

DATA = Path(__file__).resolve().parents[1] / "data" / "cmr"
URL = "https://cmr.earthdata.nasa.gov/search/granules.umm_json"
FILES = {("AST_L1T", "003"): "ast_l1t_003.json", ("AST_L1T", "031"): "ast_l1t_031.json",
         ("MCD19A2", "061"): "mcd19a2_061.json", ("MOD09A1", "061"): "mod09a1_061.json",
         ("ASTGTM", "003"): "astgtm_003.json"}


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def _boxes(umm: dict) -> List[tuple]:
    geometry = umm["SpatialExtent"]["HorizontalSpatialDomain"]["Geometry"]
    out = []
    for poly in geometry.get("GPolygons", []):
        lons = [p["Longitude"] for p in poly["Boundary"]["Points"]]
        lats = [p["Latitude"] for p in poly["Boundary"]["Points"]]
        if max(lons) - min(lons) > 180:  # crosses the antimeridian: one box each side
            out.append((min(x for x in lons if x > 0), min(lats), 180.0, max(lats)))
            out.append((-180.0, min(lats), max(x for x in lons if x < 0), max(lats)))
        else:
            out.append((min(lons), min(lats), max(lons), max(lats)))
    for r in geometry.get("BoundingRectangles", []):
        out.append((r["WestBoundingCoordinate"], r["SouthBoundingCoordinate"],
                    r["EastBoundingCoordinate"], r["NorthBoundingCoordinate"]))
    return out


def _matches(item: dict, query: Dict[str, List[str]]) -> bool:
    umm = item["umm"]
    if "temporal[]" in query:
        lo, hi = (_time(t) for t in query["temporal[]"][0].split(","))
        rng = umm["TemporalExtent"]["RangeDateTime"]
        if _time(rng["EndingDateTime"]) < lo or _time(rng["BeginningDateTime"]) > hi:
            return False
    if "bounding_box" in query:
        w, s, e, n = (float(v) for v in query["bounding_box"][0].split(","))
        if not any(b[0] <= e and b[2] >= w and b[1] <= n and b[3] >= s for b in _boxes(umm)):
            return False
    if "cloud_cover" in query:
        lo, hi = (float(v) for v in query["cloud_cover"][0].split(","))
        if umm.get("CloudCover") is None or not lo <= umm["CloudCover"] <= hi:
            return False
    if query.get("day_night_flag", [""])[0].lower() == "day":
        return umm["DataGranule"].get("DayNightFlag", "").lower() == "day"
    return True


class CmrReplay:
    """Register with ``responses``; ``queries`` holds each search's parsed parameters."""

    def __init__(self, mock: responses.RequestsMock, items: Optional[Dict[tuple, List[dict]]] = None) -> None:
        self.queries: List[Dict[str, List[str]]] = []
        self.items = items or {key: json.loads((DATA / name).read_text())["items"] for key, name in FILES.items()}
        mock.add_callback(responses.GET, URL, callback=self._answer)

    def _answer(self, request):
        query = parse_qs(urlsplit(request.url).query)
        key = (query["short_name"][0], query["version"][0])
        page_size = int(query.get("page_size", ["10"])[0])
        found = [i for i in self.items.get(key, []) if _matches(i, query)]
        if page_size:
            self.queries.append(query)
        body = {"hits": len(found), "took": 12, "items": found[:page_size]}
        headers = {"CMR-Hits": str(len(found)), "CMR-Took": "12",
                   "Content-Type": "application/vnd.nasa.cmr.umm_results+json; version=1.6.5"}
        return 200, headers, json.dumps(body)

    def of(self, short_name: str) -> List[Dict[str, List[str]]]:
        """The queries (with results requested) sent for ``short_name``."""
        return [q for q in self.queries if q["short_name"] == [short_name]]



def with_served_files(mock: responses.RequestsMock, repeat: int = 3) -> Dict[tuple, List[dict]]:
    """The items of tests/data/cmr whose every data URL ``mock`` serves: a small body (the file name
    ``repeat`` times) whose size and MD5 replace the illustrative ones in the item."""
    items = {key: json.loads((DATA / name).read_text())["items"] for key, name in FILES.items()}
    for group in items.values():
        for item in group:
            for info, link in zip(item["umm"]["DataGranule"]["ArchiveAndDistributionInformation"],
                                  item["umm"]["RelatedUrls"]):
                body = info["Name"].encode() * repeat
                info["SizeInBytes"] = len(body)
                info["Checksum"] = {"Value": hashlib.md5(body).hexdigest(), "Algorithm": "MD5"}
                mock.add(responses.GET, link["URL"], body=body)
    return items

def _utc(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def umm_item(granule_ur: str, short_name: str, version: str, start: datetime, end: datetime,
             files: Sequence[Tuple[str, str, bytes]], ring: Optional[Sequence[Tuple[float, float]]] = None,
             box: Optional[Tuple[float, float, float, float]] = None, cloud: Optional[float] = None,
             day_night: str = "Day") -> dict:
    """One search-reply item in the layout of the files in tests/data/cmr, for files served by a test.

    ``files``: (name, URL, bytes) each, whose size and MD5 go into ArchiveAndDistributionInformation;
    ``ring``: a counter-clockwise (lon, lat) footprint (closed here), or ``box`` (W, S, E, N).
    """
    if ring is not None:
        points = [{"Longitude": x, "Latitude": y} for x, y in list(ring) + [ring[0]]]
        geometry: dict = {"GPolygons": [{"Boundary": {"Points": points}}]}
    else:
        west, south, east, north = box
        geometry = {"BoundingRectangles": [{"WestBoundingCoordinate": west, "SouthBoundingCoordinate": south,
                                            "EastBoundingCoordinate": east, "NorthBoundingCoordinate": north}]}
    umm = {
        "GranuleUR": granule_ur,
        "TemporalExtent": {"RangeDateTime": {"BeginningDateTime": _utc(start), "EndingDateTime": _utc(end)}},
        "SpatialExtent": {"HorizontalSpatialDomain": {"Geometry": geometry}},
        "DataGranule": {"DayNightFlag": day_night, "ArchiveAndDistributionInformation": [
            {"Name": name, "SizeInBytes": len(body), "Checksum": {"Value": hashlib.md5(body).hexdigest(),
                                                                 "Algorithm": "MD5"}}
            for name, _, body in files]},
        "RelatedUrls": [{"URL": url, "Type": "GET DATA"} for _, url, _ in files],
        "CollectionReference": {"ShortName": short_name, "Version": version},
    }
    if cloud is not None:
        umm["CloudCover"] = cloud
    concept = "G{:010d}-LPCLOUD".format(int(hashlib.md5(granule_ur.encode()).hexdigest()[:8], 16))
    meta = {"concept-type": "granule", "concept-id": concept,
            "native-id": granule_ur, "provider-id": "LPCLOUD", "format": "application/vnd.nasa.cmr.umm+json"}
    return {"meta": meta, "umm": umm}
