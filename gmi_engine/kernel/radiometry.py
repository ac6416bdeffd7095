"""DN -> radiance -> TOA or surface reflectance for the nine ASTER reflective bands.

All outputs are float32 with NaN as nodata: DN 0 (fill) and DN 255 (saturated) become NaN, and
NaN radiance stays NaN through every step. Formulas (``science.md`` §1.2, §1.3, §2.1):

- radiance ``L = (DN - 1) * UCC`` (W m-2 sr-1 um-1);
- TOA reflectance ``rho_toa = pi * L * d**2 / (E0 * cos(theta_s))`` with the 6S band irradiances
  :data:`~gmi_engine.kernel.bands.E0_6S` and the 6S Earth-Sun distance;
- surface reflectance from the 6S coefficients ``y = xa * L - xb``, ``rho = y / (1 + xc * y)``.
"""
import math
from typing import Optional, Union

import numpy as np

from gmi_engine.kernel.bands import (
    E0_6S,
    GAIN_OFF,
    HANDBOOK_UCC,
    band_index,
    band_name,
    normalise_gain,
)
from gmi_engine.kernel.errors import GmiInputError

DN_FILL = 0
DN_SATURATED = 255

Number = Union[float, np.ndarray]


def band_present(band: Union[str, int], gain: str) -> bool:
    """False when the band's gain is ``OFF`` (not acquired); raises on unknown gain codes."""
    return normalise_gain(band, gain) != GAIN_OFF


def handbook_ucc(band: Union[str, int], gain: str) -> float:
    """Handbook unit-conversion coefficient of ``band`` at ``gain`` (W m-2 sr-1 um-1 per DN)."""
    name = band_name(band)
    code = normalise_gain(name, gain)
    if code == GAIN_OFF:
        raise GmiInputError("band {}: gain is OFF, the band was not acquired".format(name))
    return HANDBOOK_UCC[name][code]


def unit_conversion_coefficient(band: Union[str, int], gain: str,
                                incl: Optional[float] = None) -> float:
    """The granule's ``INCL<b>`` when given, else the handbook value for ``gain``.

    An ``INCL`` that is not a positive finite number is an error, not a silent fallback.
    """
    if incl is None:
        return handbook_ucc(band, gain)
    try:
        value = float(incl)
    except (TypeError, ValueError):
        raise GmiInputError("INCL of band {}: {!r} is not a number".format(band_name(band), incl))
    if not (math.isfinite(value) and value > 0.0):
        raise GmiInputError("INCL of band {}: {!r} is not a positive number".format(
            band_name(band), incl))
    return value


def dn_array(dn: np.ndarray) -> np.ndarray:
    """``dn`` as a uint8 array; other integer dtypes must hold 0..255 (else GmiInputError)."""
    dn = np.asarray(dn)
    if dn.dtype != np.uint8:
        if dn.dtype.kind not in "iu":
            raise GmiInputError("dn: expected an 8-bit integer array, got dtype {}".format(dn.dtype))
        if dn.size and (dn.min() < 0 or dn.max() > 255):
            raise GmiInputError("dn: values outside 0..255 in a {} array".format(dn.dtype))
        dn = dn.astype(np.uint8)
    return dn


def radiance_table(ucc: float) -> np.ndarray:
    """Radiance ``(DN - 1) * ucc`` of every DN 0..255 as float32; DN 0 (fill) and 255 (saturated) NaN."""
    scale = float(ucc)
    if not (math.isfinite(scale) and scale > 0.0):
        raise GmiInputError("ucc: {!r} is not a positive number".format(ucc))
    table = ((np.arange(256, dtype=np.float64) - 1.0) * scale).astype(np.float32)
    table[DN_FILL] = np.nan
    table[DN_SATURATED] = np.nan
    return table


def dn_to_radiance(dn: np.ndarray, ucc: float) -> np.ndarray:
    """Radiance ``(DN - 1) * ucc`` as float32; DN 0 (fill) and 255 (saturated) become NaN."""
    dn = dn_array(dn)
    return radiance_table(ucc)[dn]


def earth_sun_distance(doy: Number) -> Number:
    """Earth-Sun distance in AU for day of year ``doy`` (6S's formula, eccentricity 0.01673)."""
    return 1.0 - 0.01673 * np.cos(np.radians(0.9856 * (np.asarray(doy, dtype=np.float64) - 4.0)))


def toa_reflectance(radiance: np.ndarray, band: Union[str, int], sun_zenith_deg: float,
                    doy: int) -> np.ndarray:
    """Top-of-atmosphere reflectance (float32) with the 6S band irradiance; NaN passes through."""
    zenith = float(sun_zenith_deg)
    if not (0.0 <= zenith < 90.0):
        raise GmiInputError("sun_zenith_deg: {!r} is not in [0, 90)".format(sun_zenith_deg))
    day = int(doy)
    if not 1 <= day <= 366:
        raise GmiInputError("doy: {!r} is not a day of year (1..366)".format(doy))
    d = float(earth_sun_distance(day))
    factor = math.pi * d * d / (E0_6S[band_index(band)] * math.cos(math.radians(zenith)))
    out = np.asarray(radiance, dtype=np.float32) * np.float32(factor)
    return out


def surface_reflectance(radiance: np.ndarray, xa: Number, xb: Number, xc: Number) -> np.ndarray:
    """Lambertian surface reflectance from 6S coefficients (float32).

    ``y = xa * L - xb``; ``rho = y / (1 + xc * y)``. NaN radiance stays NaN, and so does a pixel
    whose denominator is not positive (a division by ~0 is never turned into a number).
    Coefficients may be scalars or arrays broadcastable to ``radiance`` (e.g. per-pixel maps).
    """
    rad = np.asarray(radiance, dtype=np.float32)
    y = np.multiply(rad, np.asarray(xa, dtype=np.float32), dtype=np.float32)
    y -= np.asarray(xb, dtype=np.float32)
    denom = np.multiply(y, np.asarray(xc, dtype=np.float32), dtype=np.float32)
    denom += np.float32(1.0)
    bad = denom <= np.float32(1e-6)
    with np.errstate(divide="ignore", invalid="ignore"):
        y /= denom
    y[bad] = np.nan
    return y
