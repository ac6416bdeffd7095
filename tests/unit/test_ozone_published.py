"""The ozone climatology table against published satellite zonal means (issue 14 item 6).

Expectation from outside the code: NOAA SBUV/2 v8 monthly zonal-mean total ozone of NOAA-18 for
2007 (tests/data/sbuv_noaa18_2007_total_ozone.csv, source in its header). A 10-degree band of the
table is compared with the mean of the two published 5-degree zones inside it, where both have a
retrieval (none in polar night), at mid-month, where ``climatology_ozone_du`` returns the table cell.
One year is not a climatology: the bounds allow for the year-to-year spread of a monthly zonal mean
(a few percent in the tropics and mid-latitudes, more in polar spring) and for the table's stated
+-15 DU; an error of sign, hemisphere, month or unit breaks them.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from gmi_engine.atmosphere.ozone import climatology_ozone_du

SBUV_FILE = Path(__file__).resolve().parent.parent / "data" / "sbuv_noaa18_2007_total_ozone.csv"
MID_MONTH_DOY = (15.5, 45.0, 74.5, 105.0, 135.5, 166.0, 196.5, 227.5, 258.0, 288.5, 319.0, 349.5)


def _sbuv() -> dict:
    with SBUV_FILE.open(newline="") as handle:
        reader = csv.reader(line for line in handle if not line.startswith("#"))
        next(reader)
        return {float(row[0]): [float(v) if v else np.nan for v in row[1:]] for row in reader}


def _differences(centres) -> np.ndarray:
    """Table minus published band mean (DU), (bands, 12), NaN where a zone has no retrieval."""
    zones = _sbuv()
    out = []
    for centre in centres:
        pair = np.array([zones[centre - 2.5], zones[centre + 2.5]])
        published = pair.mean(axis=0)  # NaN unless both zones have data
        table = np.array([climatology_ozone_du(centre, day) for day in MID_MONTH_DOY])
        out.append(table - published)
    return np.array(out)


def test_published_file_is_what_its_header_says():
    zones = _sbuv()
    assert sorted(zones) == list(np.arange(-82.5, 83.0, 5.0))
    assert zones[42.5][0] == 346.2 and zones[-77.5][8] == 175.1  # two cells read back from the source
    assert sum(np.isfinite(v).sum() for v in zones.values()) == 371


def test_table_agrees_with_sbuv_between_50s_and_50n():
    centres = [-45.0, -35.0, -25.0, -15.0, -5.0, 5.0, 15.0, 25.0, 35.0, 45.0]
    diff = _differences(centres)
    zones = _sbuv()
    reference = np.array([np.mean([zones[c - 2.5], zones[c + 2.5]], axis=0) for c in centres])
    assert np.isfinite(diff).sum() == 120
    assert np.sqrt(np.mean(diff ** 2)) <= 10.0  # measured 7.7 DU
    assert np.all(np.abs(diff) <= 0.10 * reference)  # measured worst 24 DU (45S, February: 9 %)


@pytest.mark.parametrize("centres", [[-75.0, -65.0, -55.0], [55.0, 65.0, 75.0]])
def test_table_agrees_with_sbuv_at_high_latitudes(centres):
    diff = _differences(centres)
    zones = _sbuv()
    reference = np.array([np.mean([zones[c - 2.5], zones[c + 2.5]], axis=0) for c in centres])
    valid = np.isfinite(diff)
    assert valid.sum() >= 20
    assert np.sqrt(np.mean(diff[valid] ** 2)) <= 20.0  # measured 14.4 (55-75S), 12.3 (55-75N) DU
    assert np.all(np.abs(diff[valid]) <= 0.15 * reference[valid])  # measured worst 14 % (65S, September)
