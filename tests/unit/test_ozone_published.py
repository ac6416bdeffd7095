"""The ozone climatology table is the multi-year mean of published SBUV zonal means (issue 14 item 6).

Expectation from outside the code: NOAA SBUV/2 v8 monthly zonal-mean total ozone, per satellite and
year (tests/data/sbuv_v8_total_ozone_2001_2010.csv, source in its header). The cells are recomputed
here with a few lines of averaging, independently of benchmarks/ozone_table.py that wrote the table,
and compared at mid-month, where ``climatology_ozone_du`` returns the table cell: each stored value
must be the 0.1 DU rounding of the recomputed mean.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from gmi_engine.atmosphere.ozone import OZONE_SOURCE, climatology_ozone_du

SBUV_FILE = Path(__file__).resolve().parent.parent / "data" / "sbuv_v8_total_ozone_2001_2010.csv"
MID_MONTH_DOY = (15.5, 45.0, 74.5, 105.0, 135.5, 166.0, 196.5, 227.5, 258.0, 288.5, 319.0, 349.5)
BANDS = (-85.0, -75.0, -65.0, -55.0, -45.0, -35.0, -25.0, -15.0, -5.0, 5.0, 15.0, 25.0, 35.0, 45.0, 55.0,
         65.0, 75.0, 85.0)


def _sbuv() -> dict:
    """(year, zone) -> 12 monthly DU, NaN where the source has no retrieval."""
    with SBUV_FILE.open(newline="") as handle:
        reader = csv.reader(line for line in handle if not line.startswith("#"))
        next(reader)
        return {(int(r[0]), float(r[2])): np.array([float(v) if v else np.nan for v in r[3:]]) for r in reader}


def _years() -> list:
    return sorted({year for year, _ in _sbuv()})


def _published_band(centre: float) -> np.ndarray:
    """Mean over the years of the band value (two zones both retrieved; the 82.5 zone alone at +-85)."""
    zones = _sbuv()
    if abs(centre) == 85.0:
        per_year = [zones[(y, np.copysign(82.5, centre))] for y in _years()]
    else:
        per_year = [(zones[(y, centre - 2.5)] + zones[(y, centre + 2.5)]) / 2.0 for y in _years()]
    with np.errstate(invalid="ignore"):  # all-NaN months stay NaN
        return np.array([np.mean([v for v in col if np.isfinite(v)]) if np.isfinite(col).any() else np.nan
                         for col in np.array(per_year).T])


def _table(centre: float) -> np.ndarray:
    return np.array([climatology_ozone_du(centre, day) for day in MID_MONTH_DOY])


def test_published_file_is_what_its_header_says():
    zones = _sbuv()
    assert _years() == list(range(2001, 2011))
    assert sorted({z for _, z in zones}) == list(np.arange(-82.5, 83.0, 5.0))
    # cells read back from the source files
    assert zones[(2001, 42.5)][0] == 344.9 and zones[(2004, -77.5)][8] == 177.5
    assert zones[(2007, 42.5)][0] == 346.2 and zones[(2010, 82.5)][2] == 475.6
    assert np.isnan(zones[(2010, -67.5)][7]) and zones[(2001, -67.5)][7] == 208.5
    assert zones[(2003, 2.5)][11] == 251.6 and zones[(2008, -77.5)][8] == 135.3
    assert zones[(2005, 82.5)][2] == 453.5 and zones[(2009, -82.5)][9] == 190.4
    assert zones[(2006, -82.5)][9] == 151.8 and zones[(2006, 57.5)][11] == 356.3
    assert zones[(2002, -77.5)][10] == 338.8 and zones[(2002, -72.5)][8] == 237.5  # 2002: split vortex
    assert all(np.isnan(zones[(2008, z)][5]) for z in np.arange(-82.5, 83.0, 5.0))  # NOAA-18 June 2008 gap
    assert "SBUV" in OZONE_SOURCE


@pytest.mark.parametrize("centre", BANDS)
def test_table_is_the_multi_year_sbuv_mean(centre):
    published = _published_band(centre)
    covered = np.isfinite(published)
    assert covered.sum() >= 6
    # the stored 0.1 DU value is the rounding of the recomputed mean (half-way cases either way)
    assert np.all(np.abs(_table(centre)[covered] - published[covered]) <= 0.05 + 1e-9)


@pytest.mark.parametrize("centre", [-85.0, -75.0, -65.0, -55.0, 85.0, 75.0])
def test_polar_night_cells_interpolate_in_time_between_covered_months(centre):
    published = np.round(_published_band(centre), 1)
    gap = np.isnan(published)
    if not gap.any():
        pytest.fail("band {} has no polar-night gap: the parametrisation is stale".format(centre))
    days = np.array(MID_MONTH_DOY)
    x = np.concatenate([days[~gap] - 365.0, days[~gap], days[~gap] + 365.0])
    expected = np.round(np.interp(days[gap], x, np.tile(published[~gap], 3)), 1)
    assert np.allclose(_table(centre)[gap], expected, atol=0.051)
