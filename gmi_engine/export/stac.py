"""STAC 1.0.0 items (plain JSON) for exported tiles, with the projection and raster extensions.

One item per (tile, method): geometry and bbox in lon/lat from the grid, ``datetime`` = the latest
contributing acquisition, one asset per output GeoTIFF, and the result rows' ``meta`` copied under
``gmi:meta`` (contributing granules, 6S states, balancing coefficients, versions: whatever the
kernel records).

Acquisition times are found in ``meta`` wherever the kernel puts them: any key named ``acquired``
(or ``acquisition_time``, ``datetime``) holding ISO-8601 UTC text, and any AST_L1T granule id
(whose name carries the acquisition time, ``AST_L1T_003MMDDYYYYhhmmss_...``).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from gmi_engine import __version__
from gmi_engine.errors import GmiInputError
from gmi_engine.grid import TileGrid, TileIndex
from gmi_engine.table import format_utc

STAC_VERSION = "1.0.0"
PROJECTION_EXTENSION = "https://stac-extensions.github.io/projection/v1.0.0/schema.json"
RASTER_EXTENSION = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
GEOTIFF_MEDIA_TYPE = "image/tiff; application=geotiff"

_TIME_KEYS = ("acquired", "acquisition_time", "datetime")
_GRANULE_RE = re.compile(r"AST_L1T_003(\d{2})(\d{2})(\d{4})(\d{2})(\d{2})(\d{2})_\d{14}_\d+")


@dataclass(frozen=True)
class AssetInfo:
    """One exported output of a tile, as a STAC asset sees it."""

    output: str
    href: str  # relative to the item file
    title: str
    data_type: str  # numpy dtype name of the file
    nodata: Optional[float]
    scale: Optional[float] = None
    offset: Optional[float] = None
    cog: bool = True
    meta: Optional[Mapping[str, Any]] = None


def _walk(value: Any) -> Iterator[Tuple[Optional[str], Any]]:
    """(key, value) of every node of a JSON-like tree (key None for list items and the root)."""
    stack = [(None, value)]
    while stack:
        key, node = stack.pop()
        yield key, node
        if isinstance(node, Mapping):
            stack.extend((str(k), v) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((None, v) for v in node)


def _parse_time(text: str) -> Optional[datetime]:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo else None


def granule_time(granule_id: str) -> Optional[datetime]:
    """The acquisition time (UTC) in an AST_L1T granule id, or None if it is not one."""
    match = _GRANULE_RE.search(granule_id)
    if match is None:
        return None
    month, day, year, hour, minute, second = (int(v) for v in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:
        return None


def provenance(metas: Sequence[Mapping[str, Any]]) -> Tuple[List[str], List[datetime]]:
    """Sorted contributing granule ids and acquisition times found anywhere in ``metas``."""
    granules, times = set(), set()
    for meta in metas:
        for key, node in _walk(meta):
            if not isinstance(node, str):
                continue
            for match in _GRANULE_RE.finditer(node):
                granules.add(match.group(0))
                moment = granule_time(match.group(0))
                if moment is not None:
                    times.add(moment)
            if key in _TIME_KEYS:
                moment = _parse_time(node)
                if moment is not None:
                    times.add(moment)
    return sorted(granules), sorted(times)


def _asset(info: AssetInfo, resolution: float) -> Dict[str, Any]:
    band: Dict[str, Any] = {"data_type": info.data_type, "spatial_resolution": resolution}
    if info.nodata is not None:
        band["nodata"] = "nan" if math.isnan(info.nodata) else info.nodata
    if info.scale is not None:
        band["scale"] = info.scale
    if info.offset is not None:
        band["offset"] = info.offset
    asset: Dict[str, Any] = {"href": info.href, "type": COG_MEDIA_TYPE if info.cog else GEOTIFF_MEDIA_TYPE,
                             "title": info.title, "roles": ["data"], "raster:bands": [band]}
    if info.meta is not None:
        asset["gmi:meta"] = dict(info.meta)
    return asset


def defaulted_inputs(meta: Mapping[str, Any]) -> Dict[str, List[str]]:
    """Granule id -> the 6S inputs it ran on defaults (AOD, water vapour, ozone, altitude, aerosol
    model), from the result meta's ``granules`` list; granules without defaults are left out."""
    found: Dict[str, List[str]] = {}
    for entry in meta.get("granules") or []:
        if isinstance(entry, Mapping) and entry.get("ac_defaults"):
            found[str(entry.get("granule_id"))] = [str(n) for n in entry["ac_defaults"]]
    return found


def stac_item(grid: TileGrid, tile: TileIndex, method: str, assets: Sequence[AssetInfo],
              meta: Mapping[str, Any], shape: Tuple[int, int]) -> Dict[str, Any]:
    """The STAC item of ``method`` on ``tile``; ``meta`` is the rows' shared meta.

    Raises GmiInputError when no acquisition time can be found in the metadata (a STAC item
    must carry a datetime).
    """
    key = grid.key(tile)
    metas = [meta] + [a.meta for a in assets if a.meta is not None]
    granules, times = provenance(metas)
    if not times:
        raise GmiInputError("tile {} method {}: the result meta names no acquisition time (no "
                            "'acquired' time and no AST_L1T granule id) for the STAC datetime"
                            .format(key, method))
    lonlat = grid.lonlat_bounds(tile)
    west, south, east, north = lonlat.west, lonlat.south, lonlat.east, lonlat.north
    box = grid.bounds(tile)
    geotransform = grid.geotransform(tile, shape[1]) if shape[0] == shape[1] else None
    resolution = (box.xmax - box.xmin) / shape[1]
    properties: Dict[str, Any] = {
        "datetime": format_utc(times[-1]),
        "start_datetime": format_utc(times[0]),
        "end_datetime": format_utc(times[-1]),
        "platform": "terra",
        "instruments": ["aster"],
        "proj:epsg": 3857,
        "proj:shape": [int(shape[0]), int(shape[1])],
        "proj:bbox": [box.xmin, box.ymin, box.xmax, box.ymax],
        "gmi:version": __version__,
        "gmi:method": method,
        "gmi:tile": [tile.ix, tile.iy],
        "gmi:tile_key": key,
        "gmi:granules": granules,
        "gmi:meta": dict(meta),
    }
    defaults = defaulted_inputs(meta)
    if defaults:
        properties["gmi:defaulted_inputs"] = defaults
    if geotransform is not None:
        g = geotransform
        properties["proj:transform"] = [g[1], g[2], g[0], g[4], g[5], g[3]]
    item = {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [PROJECTION_EXTENSION, RASTER_EXTENSION],
        "id": "{}_{}".format(key, method),
        "geometry": {"type": "Polygon", "coordinates": [[
            [west, south], [east, south], [east, north], [west, north], [west, south]]]},
        "bbox": [west, south, east, north],
        "properties": properties,
        "links": [],
        "assets": {a.output: _asset(a, resolution) for a in assets},
    }
    check_stac_item(item)
    return item


def dumps_item(item: Mapping[str, Any]) -> str:
    """Strict, indented JSON text of an item (NaN refused)."""
    return json.dumps(item, indent=2, sort_keys=False, allow_nan=False) + "\n"


# ------------------------------------------------------------------------------------ checks


def _fail(where: str, detail: str) -> GmiInputError:
    return GmiInputError("STAC item {}: {}".format(where, detail))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_time(props: Mapping[str, Any], key: str, where: str) -> None:
    value = props.get(key)
    if value is None:
        return
    if not isinstance(value, str) or _parse_time(value) is None:
        raise _fail(where, "properties.{} = {!r} is not an RFC 3339 date-time with a zone".format(key, value))


def check_stac_item(item: Mapping[str, Any]) -> None:
    """Structural check of a STAC 1.0.0 item (required fields and their types); GmiInputError if not."""
    where = repr(item.get("id")) if isinstance(item, Mapping) else "?"
    if not isinstance(item, Mapping):
        raise _fail(where, "must be a JSON object")
    for key, kind in (("type", str), ("stac_version", str), ("id", str), ("geometry", dict),
                      ("bbox", list), ("properties", dict), ("links", list), ("assets", dict)):
        if not isinstance(item.get(key), kind):
            raise _fail(where, "field {!r} must be a {}, got {!r}".format(key, kind.__name__, item.get(key)))
    if item["type"] != "Feature":
        raise _fail(where, "type must be 'Feature'")
    if item["stac_version"] != STAC_VERSION:
        raise _fail(where, "stac_version must be {!r}".format(STAC_VERSION))
    if not item["id"]:
        raise _fail(where, "id is empty")
    extensions = item.get("stac_extensions", [])
    if not isinstance(extensions, list) or not all(isinstance(e, str) for e in extensions):
        raise _fail(where, "stac_extensions must be a list of schema URLs")
    geometry = item["geometry"]
    if geometry.get("type") != "Polygon" or not isinstance(geometry.get("coordinates"), list):
        raise _fail(where, "geometry must be a GeoJSON Polygon with coordinates")
    ring = geometry["coordinates"][0] if geometry["coordinates"] else []
    if len(ring) < 4 or ring[0] != ring[-1] or not all(
            isinstance(p, list) and len(p) == 2 and all(_is_number(v) for v in p) for p in ring):
        raise _fail(where, "geometry ring must be closed [lon, lat] pairs")
    bbox = item["bbox"]
    if len(bbox) != 4 or not all(_is_number(v) for v in bbox) or bbox[1] > bbox[3]:
        raise _fail(where, "bbox must be [west, south, east, north], got {!r}".format(bbox))
    if not (-180 <= bbox[0] <= 180 and -180 <= bbox[2] <= 180 and -90 <= bbox[1] <= 90 and -90 <= bbox[3] <= 90):
        raise _fail(where, "bbox {!r} is not in lon/lat degrees".format(bbox))
    props = item["properties"]
    if "datetime" not in props:
        raise _fail(where, "properties.datetime is required (may be null with start/end)")
    for key in ("datetime", "start_datetime", "end_datetime"):
        _check_time(props, key, where)
    if props["datetime"] is None and not (props.get("start_datetime") and props.get("end_datetime")):
        raise _fail(where, "a null datetime needs start_datetime and end_datetime")
    if PROJECTION_EXTENSION in extensions:
        if not isinstance(props.get("proj:epsg"), int):
            raise _fail(where, "proj:epsg must be an integer")
        shape = props.get("proj:shape")
        if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(v, int) and v > 0 for v in shape)):
            raise _fail(where, "proj:shape must be [rows, cols]")
        transform = props.get("proj:transform")
        if transform is not None and not (isinstance(transform, list) and len(transform) in (6, 9)
                                          and all(_is_number(v) for v in transform)):
            raise _fail(where, "proj:transform must be 6 or 9 numbers")
    for link in item["links"]:
        if not (isinstance(link, Mapping) and isinstance(link.get("href"), str)
                and isinstance(link.get("rel"), str)):
            raise _fail(where, "every link needs href and rel text")
    for name, asset in item["assets"].items():
        if not (isinstance(asset, Mapping) and isinstance(asset.get("href"), str) and asset["href"]):
            raise _fail(where, "asset {!r} needs an href".format(name))
        roles = asset.get("roles", [])
        if not (isinstance(roles, list) and all(isinstance(r, str) for r in roles)):
            raise _fail(where, "asset {!r}: roles must be a list of text".format(name))
        for key in ("type", "title"):
            if key in asset and not isinstance(asset[key], str):
                raise _fail(where, "asset {!r}: {} must be text".format(name, key))
    try:
        json.dumps(item, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _fail(where, "not strict JSON ({})".format(exc)) from None
