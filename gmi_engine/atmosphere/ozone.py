"""Total ozone from a zonal-mean climatology by latitude and day of year (the default when no data).

The table ``gmi_engine/data/ozone_zonal_climatology.csv`` (source in its header) holds Dobson units
per 10-degree band and month (multi-year mean of NOAA SBUV/2 v8 zonal means);
:func:`climatology_ozone` interpolates linearly in latitude between band centres (held constant
poleward of ±85°) and cyclically in day of year between mid-months.
"""
from __future__ import annotations

import csv
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import List, Tuple

import numpy as np

OZONE_FILE = Path(__file__).resolve().parent.parent / "data" / "ozone_zonal_climatology.csv"
#: Dobson units per cm-atm.
DU_PER_CM_ATM = 1000.0
#: Years of SBUV zonal means averaged into the table (its header says which satellite flew each).
OZONE_YEARS = "2001-2010"
#: What the provenance names as the ozone source.
OZONE_SOURCE = ("default: zonal-mean climatology (NOAA SBUV/2 v8 monthly zonal means, NOAA-16/17/18 "
                "{}), data/{}".format(OZONE_YEARS, OZONE_FILE.name))
_MID_MONTH_DOY = np.array([15.5, 45.0, 74.5, 105.0, 135.5, 166.0, 196.5, 227.5, 258.0, 288.5, 319.0, 349.5])


@lru_cache(maxsize=1)
def _table() -> Tuple[np.ndarray, np.ndarray]:
    rows: List[List[float]] = []
    with OZONE_FILE.open(newline="") as handle:
        reader = csv.reader(line for line in handle if not line.startswith("#"))
        next(reader)
        rows = [[float(v) for v in row] for row in reader if row]
    data = np.array(sorted(rows))
    return data[:, 0], data[:, 1:]


def climatology_ozone_du(latitude: float, day_of_year: float) -> float:
    """Climatological total ozone (DU) at ``latitude`` (deg N) on ``day_of_year`` (1..366)."""
    lats, du = _table()
    by_month = np.array([np.interp(latitude, lats, du[:, m]) for m in range(12)])
    x = np.concatenate([_MID_MONTH_DOY - 365.0, _MID_MONTH_DOY, _MID_MONTH_DOY + 365.0])
    return float(np.interp(float(day_of_year), x, np.tile(by_month, 3)))


def climatology_ozone(latitude: float, day: date) -> float:
    """Climatological total ozone (cm-atm) at ``latitude`` on ``day``."""
    return climatology_ozone_du(latitude, day.timetuple().tm_yday) / DU_PER_CM_ATM
