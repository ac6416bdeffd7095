"""Sign of ASTER's POINTINGANGLE checked on a real granule against the WRS-2 ground tracks.

Terra flies the Landsat WRS-2 paths. The nominal centre line of a descending WRS-2 path follows
from the published reference-system constants (USGS WRS-2: inclination 98.2096 deg, 233 orbits in
16 days, 248 rows per orbit, row 60 at the descending node, path 1 crossing the equator at 64.6 W).
The real granule AST_L1T_00305032000040446_20150409135350_78838 (stactools-packages/aster test
data; formats.md [A10]) has scene centre 15.435918 N, 103.079543 E and POINTINGANGLE.1 = 5.721.
Walking from the scene centre towards the sensor azimuth that GMI's sign gives, by the ground arc
of that pointing, must land on (near) a WRS-2 centre line; the other sign lands far from any.
Nothing here uses geometry.py's orbit model except the azimuth under test.
"""
from __future__ import annotations

import math

from gmi_engine.aster.geometry import ground_view_zenith, view_geometry

R_KM = 6371.0
INCLINATION = math.radians(98.2096)
PATH1_NODE_LON = math.radians(-64.6)
ORBITS, DAYS = 233, 16
SPACECRAFT_RATE = 2.0 * math.pi * ORBITS / (DAYS * 86400.0)
EARTH_SOLAR_RATE = 2.0 * math.pi / 86400.0
B_OVER_A = 6356752.3 / 6378137.0

SCENE_LAT, SCENE_LON, POINTING = 15.435918, 103.079543, 5.721


def wrs2_fractional_path(lat_deg: float, lon_deg: float) -> float:
    """Floating WRS-2 path (descending) through a point: integer values are path centre lines."""
    gclat = math.atan(math.tan(math.radians(lat_deg)) * B_OVER_A ** 2)
    central = math.asin(-math.sin(gclat) / math.sin(INCLINATION))
    dlon = math.atan2(math.tan(gclat) / math.tan(INCLINATION), math.cos(central) / math.cos(gclat))
    origin = math.radians(lon_deg) + dlon + central * EARTH_SOLAR_RATE / SPACECRAFT_RATE
    return ((PATH1_NODE_LON - origin) / (2.0 * math.pi) * ORBITS + 1.0) % ORBITS


def walk(lat_deg: float, lon_deg: float, bearing_deg: float, arc_rad: float) -> tuple:
    """Great-circle destination from a point along a bearing by an Earth-centre angle."""
    lat, brg = math.radians(lat_deg), math.radians(bearing_deg)
    lat2 = math.asin(math.sin(lat) * math.cos(arc_rad) + math.cos(lat) * math.sin(arc_rad) * math.cos(brg))
    dlon = math.atan2(math.sin(brg) * math.sin(arc_rad) * math.cos(lat),
                      math.cos(arc_rad) - math.sin(lat) * math.sin(lat2))
    return math.degrees(lat2), lon_deg + math.degrees(dlon)


def off_track_km(pointing: float) -> float:
    """Distance (km, along the parallel) from the implied nadir to the nearest WRS-2 centre line."""
    _, azimuth = view_geometry(pointing, SCENE_LAT)
    arc = math.radians(ground_view_zenith(pointing) - abs(pointing))
    lat, lon = walk(SCENE_LAT, SCENE_LON, azimuth, arc)
    path = wrs2_fractional_path(lat, lon)
    spacing_km = 2.0 * math.pi * R_KM * math.cos(math.radians(lat)) / ORBITS
    return abs(path - round(path)) * spacing_km


def test_wrs2_formula_reproduces_the_scene_path():
    # the scene lies between paths 127 and 128 (paths count westward)
    assert 127.0 < wrs2_fractional_path(SCENE_LAT, SCENE_LON) < 128.0


def test_gmi_sign_puts_the_nadir_on_a_wrs2_track():
    gmi = off_track_km(POINTING)
    mirrored = off_track_km(-POINTING)
    assert gmi < 15.0  # measured 11.2 km; the mirrored sign gives 32.2 km
    assert mirrored > 25.0
