"""Granule footprints from UMM-G spatial extents, and the MODIS / GDEM tiles they touch.

A footprint is a tuple of rings, each a tuple of ``(lon, lat)`` with the first point repeated last,
longitudes in [-180, 180]. A CMR polygon that crosses the antimeridian (consecutive longitudes more
than 180° apart) is split there into one ring on each side.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Iterable, List, Mapping, Sequence, Set, Tuple

from pyproj import Transformer

Point = Tuple[float, float]
Ring = Tuple[Point, ...]
Footprint = Tuple[Ring, ...]

#: MODIS sinusoidal grid (MODIS Land grid documentation): sphere radius, tile size and grid origin, metres.
MODIS_SPHERE_RADIUS_M = 6371007.181
MODIS_TILE_M = 1111950.5197665
MODIS_X_MIN = -20015109.354
MODIS_Y_MAX = 10007554.677
SAMPLE_STEP_DEG = 0.02
"""Spacing of the points sampled inside a footprint to find the tiles it touches."""


def _close(points: Sequence[Point]) -> Ring:
    pts = [(float(x), float(y)) for x, y in points]
    if pts and pts[0] != pts[-1]:
        pts.append(pts[0])
    return tuple(pts)


def split_antimeridian(ring: Sequence[Point]) -> List[Ring]:
    """``ring`` as is, or cut at ±180° into an east and a west ring when it crosses the antimeridian."""
    ring = _close(ring)
    crosses = any(abs(b[0] - a[0]) > 180.0 for a, b in zip(ring, ring[1:]))
    if not crosses:
        return [ring]
    shifted = [(x + 360.0 if x < 0 else x, y) for x, y in ring]
    east = _clip_lon(shifted, 180.0, keep_below=True)
    west = [(x - 360.0, y) for x, y in _clip_lon(shifted, 180.0, keep_below=False)]
    return [_close(r) for r in (east, west) if len(r) >= 3]


def _clip_lon(ring: Sequence[Point], lon: float, keep_below: bool) -> List[Point]:
    """Sutherland-Hodgman clip of a closed ring against the meridian ``lon``."""
    def inside(p: Point) -> bool:
        return p[0] <= lon if keep_below else p[0] >= lon

    out: List[Point] = []
    for a, b in zip(ring, ring[1:]):
        if inside(b):
            if not inside(a):
                out.append(_cross(a, b, lon))
            out.append(b)
        elif inside(a):
            out.append(_cross(a, b, lon))
    return out


def _cross(a: Point, b: Point, lon: float) -> Point:
    t = (lon - a[0]) / (b[0] - a[0])
    return (lon, a[1] + t * (b[1] - a[1]))


def footprint_from_umm(umm: Mapping) -> Footprint:
    """The footprint of a UMM-G record: its GPolygons' outer boundaries or BoundingRectangles."""
    geometry = ((umm.get("SpatialExtent") or {}).get("HorizontalSpatialDomain") or {}).get("Geometry") or {}
    rings: List[Ring] = []
    for polygon in geometry.get("GPolygons") or []:
        points = [(p["Longitude"], p["Latitude"]) for p in polygon["Boundary"]["Points"]]
        rings.extend(split_antimeridian(points))
    for rect in geometry.get("BoundingRectangles") or []:
        w, e = rect["WestBoundingCoordinate"], rect["EastBoundingCoordinate"]
        s, n = rect["SouthBoundingCoordinate"], rect["NorthBoundingCoordinate"]
        spans = [(w, e)] if w <= e else [(w, 180.0), (-180.0, e)]
        rings.extend(_close([(a, s), (b, s), (b, n), (a, n)]) for a, b in spans)
    return tuple(rings)


def _inside(point: Point, ring: Ring) -> bool:
    """Even-odd rule point-in-ring test."""
    x, y = point
    hit = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def sample_points(footprint: Footprint, step: float = SAMPLE_STEP_DEG) -> List[Point]:
    """Vertices, edge points every ``step`` degrees and interior grid points of a footprint."""
    out: List[Point] = []
    for ring in footprint:
        for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
            n = max(1, int(math.ceil(max(abs(x2 - x1), abs(y2 - y1)) / step)))
            out.extend((x1 + (x2 - x1) * i / n, y1 + (y2 - y1) * i / n) for i in range(n))
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        nx = int((max(xs) - min(xs)) / step) + 1
        ny = int((max(ys) - min(ys)) / step) + 1
        for i in range(nx):
            for j in range(ny):
                p = (min(xs) + i * step, min(ys) + j * step)
                if _inside(p, ring):
                    out.append(p)
    return out


@lru_cache(maxsize=1)
def _to_sinusoidal() -> Transformer:
    return Transformer.from_crs("EPSG:4326", "+proj=sinu +R={} +units=m +no_defs".format(MODIS_SPHERE_RADIUS_M),
                                always_xy=True)


def modis_tile(lon: float, lat: float) -> Tuple[int, int]:
    """The MODIS sinusoidal ``(h, v)`` tile holding a point."""
    x, y = _to_sinusoidal().transform(lon, lat)
    h = int(math.floor((x - MODIS_X_MIN) / MODIS_TILE_M))
    v = int(math.floor((MODIS_Y_MAX - y) / MODIS_TILE_M))
    return min(max(h, 0), 35), min(max(v, 0), 17)


def modis_tiles(footprints: Iterable[Footprint]) -> Set[Tuple[int, int]]:
    """The ``(h, v)`` tiles that the footprints touch."""
    return {modis_tile(x, y) for fp in footprints for x, y in sample_points(fp)}


def gdem_tile_name(lon: float, lat: float) -> str:
    """The 1° ASTGTM tile holding a point, named by its south-west corner (``N32W108``)."""
    la, lo = int(math.floor(lat)), int(math.floor(lon))
    lo = min(lo, 179)
    return "{}{:02d}{}{:03d}".format("N" if la >= 0 else "S", abs(la), "E" if lo >= 0 else "W", abs(lo))


def gdem_tiles(footprints: Iterable[Footprint]) -> Set[str]:
    """The 1° GDEM tile names the footprints touch."""
    return {gdem_tile_name(x, y) for fp in footprints for x, y in sample_points(fp)}


def bounds(footprint: Footprint) -> Tuple[float, float, float, float]:
    """``(west, south, east, north)`` over all rings (west > east is not produced: rings are split)."""
    xs = [p[0] for ring in footprint for p in ring]
    ys = [p[1] for ring in footprint for p in ring]
    return min(xs), min(ys), max(xs), max(ys)
