"""AST_L1T georeference rules shared by the reader and the synthetic generator.

The metadata corners ``UPPERLEFTM``/``LOWERRIGHTM`` are (northing, easting) of the corner pixel
CENTRES, shared by VNIR (15 m), SWIR (30 m) and TIR (90 m); south of the equator the northings
are negative (UTM without false northing). See formats.md §2.3 and §2.7.
"""
from __future__ import annotations

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


def view_geometry(pointing_deg: float) -> tuple[float, float]:
    """(view zenith, view azimuth) in degrees for a cross-track pointing angle.

    ASTER points across the track; at the surface the view zenith is close to the pointing
    angle (Earth curvature adds < 1° at ASTER's ±8.55° SWIR range). Terra's descending daytime
    track heads south-south-west, so a positive pointing looks towards ~281° and a negative one
    towards ~101° (sensor azimuth as seen from the target). GMI uses this one convention for
    both the synthetic forward model and the retrieval.
    """
    zenith = abs(float(pointing_deg))
    azimuth = 281.0 if pointing_deg >= 0 else 101.0
    return zenith, azimuth
