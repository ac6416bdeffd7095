"""The reference engine's published formulas, re-implemented naively as baselines.

Not the reference code (it is not vendored): the formulas as ``science.md`` documents them,
written the way the reference computes them, so the benchmarks time and compare like with like.

- :func:`indices_naive`: the 23 indices of its ``Mineral_Indices.csv`` (intended reading, §4.3:
  Dolomite as (b6+b8)/b7, ``\\`` as x, ``^`` as power) plus NDWI/NDVI, each one float64 numpy
  expression, NaN/inf set to 0 afterwards (its behaviour, §4.3).
- :func:`toa_reflectance_lpdaac`: TOA reflectance as the LP DAAC script and the reference do it
  (§1.3): Thome et al. (B) irradiances, d = 1 - 0.01672 cos(0.9856 (DOY - 4)).
"""
from __future__ import annotations

import math
from typing import List

import numpy as np

#: Thome et al. (B) band-mean solar irradiances (LP DAAC script, reference engine), bands 1..9.
THOME_B_E0 = (1848.0, 1549.0, 1114.0, 225.4, 86.63, 81.85, 74.85, 66.49, 59.85)


def indices_naive(stack: np.ndarray) -> List[np.ndarray]:
    """The reference's 23 formulas on a (9, H, W) stack, float64, NaN/inf -> 0, library order."""
    b1, b2, b3, b4, b5, b6, b7, b8, b9 = (stack[i].astype(np.float64) for i in range(9))
    with np.errstate(all="ignore"):
        outputs = [
            b2 / b1, b5 / b3 + b1 / b2, b4 / b5, b4 / b2, b5 / b4, b4 / b3, (b7 + b9) / b8,
            (b6 + b9) / (b7 + b8), (b6 + b9) / b8, b6 / b8, (b6 + b8) / b7, (b5 + b7) / b6,
            (b4 + b6) / b5, b5 / b6, b7 / b6, b7 / b5, (b5 * b7) / b6 ** 2,
            (b4 / b5) * (b8 / b6), (b7 / b5) * (b7 / b8), (b4 * b7) / b6 ** 2,
            (b6 * b9) / b8 ** 2, (b1 - b3) / (b1 + b3), (b3 - b2) / (b3 + b2),
        ]
    for output in outputs:
        output[~np.isfinite(output)] = 0.0
    return outputs


def earth_sun_distance_lpdaac(doy: int) -> float:
    """Earth-Sun distance in AU, LP DAAC's formula (Achard & D'Souza 1994)."""
    return 1.0 - 0.01672 * math.cos(math.radians(0.9856 * (doy - 4)))


def toa_reflectance_lpdaac(radiance: np.ndarray, band_position: int, sun_elevation: float,
                           doy: int) -> np.ndarray:
    """pi L d^2 / (E0 sin(elevation)) in float64, E0 from :data:`THOME_B_E0`."""
    d = earth_sun_distance_lpdaac(doy)
    factor = math.pi * d * d / (THOME_B_E0[band_position] * math.sin(math.radians(sun_elevation)))
    return np.asarray(radiance, dtype=np.float64) * factor
