"""Build the ozone climatology table from NOAA SBUV/2 v8 monthly zonal means (issue 14 item 6).

Reads the per-year 5-degree zonal means in ``tests/data/sbuv_v8_total_ozone_2001_2010.csv`` and
rewrites the body of ``resources/lut/ozone_zonal_climatology.csv`` (``gmi_engine/data`` links
there), keeping its header comment block up to the column line. Rule, also stated in the header:

- band 5..75 deg (either sign), per year and month: mean of its two 5-degree zones when both have a
  retrieval; band +-85: the 82.5 zone alone (the 87.5 zone has no retrieval);
- cell: mean of those over the years that have one, rounded to 0.1 DU;
- a band-month with no retrieval in any year (polar night): linear in day of year, cyclically,
  between the band's nearest covered mid-months (what ``climatology_ozone_du`` does between cells).

Run: ``PYTHONPATH=$PWD python -m benchmarks.ozone_table`` (prints the old-vs-new difference).
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Dict, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SBUV_FILE = ROOT / "tests" / "data" / "sbuv_v8_total_ozone_2001_2010.csv"
TABLE_FILE = ROOT / "resources" / "lut" / "ozone_zonal_climatology.csv"
CENTRES = [85.0, 75.0, 65.0, 55.0, 45.0, 35.0, 25.0, 15.0, 5.0, -5.0, -15.0, -25.0, -35.0, -45.0, -55.0,
           -65.0, -75.0, -85.0]
MID_MONTH_DOY = np.array([15.5, 45.0, 74.5, 105.0, 135.5, 166.0, 196.5, 227.5, 258.0, 288.5, 319.0, 349.5])


def read_zones(path: Path = SBUV_FILE) -> Dict[Tuple[int, float], np.ndarray]:
    """(year, zone centre) -> 12 monthly DU, NaN where no retrieval."""
    with path.open(newline="") as handle:
        reader = csv.reader(line for line in handle if not line.startswith("#"))
        next(reader)
        return {(int(row[0]), float(row[2])): np.array([float(v) if v else np.nan for v in row[3:]])
                for row in reader if row}


def band_years(zones: Dict[Tuple[int, float], np.ndarray], centre: float) -> np.ndarray:
    """(years, 12) band values: mean of the two zones (NaN unless both), or the 82.5 zone at +-85."""
    years = sorted({year for year, _ in zones})
    if abs(centre) == 85.0:
        edge = 82.5 if centre > 0 else -82.5
        return np.array([zones[(y, edge)] for y in years])
    return np.array([(zones[(y, centre - 2.5)] + zones[(y, centre + 2.5)]) / 2.0 for y in years])


def fill_polar_night(row: np.ndarray) -> np.ndarray:
    """Months without data: linear in day of year, cyclic, between the nearest covered mid-months."""
    have = np.isfinite(row)
    x = np.concatenate([MID_MONTH_DOY[have] - 365.0, MID_MONTH_DOY[have], MID_MONTH_DOY[have] + 365.0])
    filled = np.interp(MID_MONTH_DOY, x, np.tile(row[have], 3))
    return np.where(have, row, filled)


def build(zones: Dict[Tuple[int, float], np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    """(18, 12) table in DU (0.1 rounding) and the (18, 12) count of years behind each cell."""
    table, counts = [], []
    for centre in CENTRES:
        values = band_years(zones, centre)
        n = np.isfinite(values).sum(axis=0)
        with np.errstate(invalid="ignore"):
            mean = np.nansum(values, axis=0) / np.where(n > 0, n, np.nan)
        table.append(np.round(fill_polar_night(np.round(mean, 1)), 1))
        counts.append(n)
    return np.array(table), np.array(counts)


def _old_table() -> np.ndarray:
    with TABLE_FILE.open(newline="") as handle:
        reader = csv.reader(line for line in handle if not line.startswith("#"))
        next(reader)
        rows = {float(r[0]): [float(v) for v in r[1:]] for r in reader if r}
    return np.array([rows[c] for c in CENTRES])


def write(table: np.ndarray) -> None:
    """Replace the table body, keeping the header comment block."""
    lines = TABLE_FILE.read_text().splitlines()
    header = [line for line in lines if line.startswith("#")]
    body = ["lat,jan,feb,mar,apr,may,jun,jul,aug,sep,oct,nov,dec"]
    body += ["{:g},".format(c) + ",".join("{:.1f}".format(v) for v in row) for c, row in zip(CENTRES, table)]
    TABLE_FILE.write_text("\n".join(header + body) + "\n")


def main() -> None:
    """Build, report old vs new, write."""
    zones = read_zones()
    table, counts = build(zones)
    old = _old_table()
    diff = table - old
    i, j = np.unravel_index(np.argmax(np.abs(diff)), diff.shape)
    mid = [k for k, c in enumerate(CENTRES) if abs(c) <= 45.0]
    print("years:", sorted({y for y, _ in zones}))
    print("new - old: RMS {:.1f} DU (all), {:.1f} DU (45S-45N), mean {:+.1f}; worst {:+.1f} at {:g} month {}"
          .format(np.sqrt(np.mean(diff ** 2)), np.sqrt(np.mean(diff[mid] ** 2)), diff.mean(), diff[i, j],
                  CENTRES[i], j + 1))
    print("cells with no retrieval in any year (filled in time):", int((counts == 0).sum()))
    write(table)


if __name__ == "__main__":
    main()
