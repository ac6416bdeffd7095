"""AST_L1T georeference rules shared by the reader and the synthetic generator.

The metadata corners ``UPPERLEFTM``/``LOWERRIGHTM`` are (northing, easting) of the corner pixel
CENTRES, shared by VNIR (15 m), SWIR (30 m) and TIR (90 m); south of the equator the northings
are negative (UTM without false northing). See formats.md §2.3 and §2.7.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

SUBSYSTEM_RES_M: dict = {"VNIR": 15.0, "SWIR": 30.0, "TIR": 90.0}
FALSE_NORTHING_SOUTH = 10_000_000.0


@dataclass(frozen=True)
class UtmCorners:
    """Corner pixel centres in metres: north-west (UL) and south-east (LR)."""

    ul_northing: float
    ul_easting: float
    lr_northing: float
    lr_easting: float

    def size(self, res: float) -> tuple[int, int]:
        """(rows, cols) of a subsystem with pixel size ``res``."""
        rows = (self.ul_northing - self.lr_northing) / res + 1
        cols = (self.lr_easting - self.ul_easting) / res + 1
        return int(round(rows)), int(round(cols))


def utm_epsg(zone: int, south: bool) -> int:
    """EPSG code of a WGS 84 UTM zone (326zz north, 327zz south)."""
    if not 1 <= zone <= 60:
        raise ValueError("UTM zone {} is outside 1..60".format(zone))
    return (32700 if south else 32600) + zone


def geotransform(corners: UtmCorners, res: float, south: bool) -> tuple:
    """GDAL geotransform in the zone's EPSG:326zz/327zz CRS for pixel size ``res``."""
    north = corners.ul_northing + (FALSE_NORTHING_SOUTH if south else 0.0)
    return (corners.ul_easting - res / 2.0, res, 0.0, north + res / 2.0, 0.0, -res)


#: Mean Earth radius, Terra's mean altitude and inclination (ASTER User Handbook v2 §1: 705 km,
#: 98.2°, sun-synchronous, descending node 10:30) and Earth's sidereal rotation rate.
EARTH_RADIUS_KM = 6371.0
TERRA_ALTITUDE_KM = 705.0
TERRA_INCLINATION_DEG = 98.2
EARTH_ROTATION_RAD_S = 7.2921159e-5
EARTH_GM_KM3_S2 = 398600.4418


def ground_view_zenith(pointing_deg: float, altitude_km: float = TERRA_ALTITUDE_KM) -> float:
    """View zenith at the surface (deg) of a look ``pointing_deg`` off nadir: Earth curvature
    makes it larger, sin(vz) = (R + h) / R * sin(pointing)."""
    ratio = (EARTH_RADIUS_KM + altitude_km) / EARTH_RADIUS_KM
    return math.degrees(math.asin(min(1.0, ratio * math.sin(math.radians(abs(float(pointing_deg)))))))


def descending_heading(latitude_deg: float, inclination_deg: float = TERRA_INCLINATION_DEG,
                       altitude_km: float = TERRA_ALTITUDE_KM) -> float:
    """Azimuth (deg from north, clockwise) of Terra's descending ground track over the rotating
    Earth at ``latitude_deg`` (circular orbit; the inertial track heads 180° - asin(cos i / cos lat),
    Earth's rotation moves the ground eastward under it)."""
    lat = math.radians(float(latitude_deg))
    a = EARTH_RADIUS_KM + altitude_km
    ground_speed = math.sqrt(EARTH_GM_KM3_S2 / a) * EARTH_RADIUS_KM / a
    s = max(-1.0, min(1.0, math.cos(math.radians(inclination_deg)) / math.cos(lat)))
    heading = math.pi - math.asin(s)
    north = ground_speed * math.cos(heading)
    east = ground_speed * math.sin(heading) - EARTH_ROTATION_RAD_S * EARTH_RADIUS_KM * math.cos(lat)
    return math.degrees(math.atan2(east, north)) % 360.0


def view_geometry(pointing_deg: float, latitude_deg: float = 0.0) -> tuple[float, float]:
    """(view zenith at the ground, view azimuth) in degrees for a cross-track pointing angle.

    The zenith includes Earth curvature (:func:`ground_view_zenith`). The azimuth is 6S's: the
    direction of the *sensor as seen from the target*, clockwise from north (6S prints a
    scattering angle of 180° for view azimuth = sun azimuth and equal zeniths). Cross-track
    pointing is perpendicular to the descending ground track (:func:`descending_heading`) at the
    nadir point; a positive pointing puts the target left of the track, so the sensor is seen at
    about heading + 90° (GMI's sign convention, see docs/atmosphere.md); the azimuth is the
    great-circle bearing from the target to the nadir point. Nadir returns azimuth 0.
    """
    pointing = float(pointing_deg)
    zenith = ground_view_zenith(pointing)
    if zenith == 0.0:
        return 0.0, 0.0
    arc = math.radians(zenith - abs(pointing))  # Earth-centre angle between nadir and target
    side = -90.0 if pointing > 0 else 90.0  # bearing of the target from the nadir point
    lat_t = math.radians(float(latitude_deg))
    lat_n = lat_t
    for _ in range(4):  # the nadir point whose cross-track target lies at latitude_deg
        bearing = math.radians(descending_heading(math.degrees(lat_n)) + side)
        lat_hit = math.asin(math.sin(lat_n) * math.cos(arc)
                            + math.cos(lat_n) * math.sin(arc) * math.cos(bearing))
        lat_n += lat_t - lat_hit
    bearing = math.radians(descending_heading(math.degrees(lat_n)) + side)
    lat_hit = math.asin(math.sin(lat_n) * math.cos(arc) + math.cos(lat_n) * math.sin(arc) * math.cos(bearing))
    dlon = math.atan2(math.sin(bearing) * math.sin(arc) * math.cos(lat_n),
                      math.cos(arc) - math.sin(lat_n) * math.sin(lat_hit))
    # great-circle bearing from the target back to the nadir point (where the sensor is)
    azimuth = math.atan2(math.sin(-dlon) * math.cos(lat_n),
                         math.cos(lat_hit) * math.sin(lat_n) - math.sin(lat_hit) * math.cos(lat_n) * math.cos(dlon))
    return zenith, math.degrees(azimuth) % 360.0
