"""A granule under an AOD and water-vapour gradient whose DN come from direct 6S at the TRUE local values.

Not a closed loop: ingest derives its 6S states from the MCD19A2 it is given; here every pixel's
coefficients come from direct 6S runs on a small grid of (AOD550, above-surface water) levels,
interpolated bilinearly to the pixel's own AOD and water column. AOD rises linearly from
:data:`LOW_AOD` in the west of the granule to :data:`HIGH_AOD` in the east, the water column from
:data:`LOW_WV` in the south to :data:`HIGH_WV` in the north; the terrain is flat at
:data:`ALTITUDE_KM`. The MCD19A2 of the day carries the same two fields at its 1 km pixel centres
(clear, best QA). The surface reflectance is :func:`gmi_engine.synth.relief.true_reflectance`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import numpy as np

from gmi_engine.aster.geometry import view_geometry
from gmi_engine.atmosphere.columns import sixs_columns
from gmi_engine.atmosphere.sixs import run_bands
from gmi_engine.atmosphere.state import AtmosphereState
from gmi_engine.kernel.bands import BANDS
from gmi_engine.synth import sinusoidal as sinu
from gmi_engine.synth.aster import AsterSpec, load_truth, spec_ozone, write_aster_l1t
from gmi_engine.synth.gdem import write_gdem
from gmi_engine.synth.modis import truth_path, write_mcd19a2
from gmi_engine.synth.relief import GranuleCase, _footprint_lonlat, replace_dn

LOW_AOD, HIGH_AOD = 0.05, 0.35
LOW_WV, HIGH_WV = 0.6, 2.0
#: Levels of the direct 6S runs; pixel values are interpolated bilinearly between them.
AOD_LEVELS = (0.05, 0.20, 0.35)
WV_LEVELS = (0.6, 1.3, 2.0)
#: Two levels per quantity for quick runs (fewer 6S runs, coarser truth).
QUICK_AOD_LEVELS = (LOW_AOD, HIGH_AOD)
QUICK_WV_LEVELS = (LOW_WV, HIGH_WV)
ALTITUDE_KM = 0.6
MCD_TILE = (8, 5)


@dataclass
class HazeCase(GranuleCase):
    """The files of the haze case and the footprint box the gradients span."""

    south: float
    north: float

    def aod(self, lon, lat) -> np.ndarray:
        """True AOD550 at geographic positions."""
        return gradient(lon, self.west, self.east, LOW_AOD, HIGH_AOD) + 0.0 * np.asarray(lat)

    def water_vapour(self, lon, lat) -> np.ndarray:
        """True above-surface water column (g/cm2) at geographic positions."""
        return gradient(lat, self.south, self.north, LOW_WV, HIGH_WV) + 0.0 * np.asarray(lon)


def gradient(position, start: float, stop: float, low: float, high: float) -> np.ndarray:
    """``low`` at ``start`` rising linearly to ``high`` at ``stop`` (held constant beyond)."""
    u = np.clip((np.asarray(position, dtype=np.float64) - start) / (stop - start), 0.0, 1.0)
    return low + (high - low) * u


def haze_spec() -> AsterSpec:
    """A 12 km granule at the small demo's place (tile 260, 526), flat at 0.6 km."""
    return AsterSpec(-108.10, 32.86, datetime(2006, 9, 6, 18, 2, 42), side_km=12.0,
                     subsystems=("VNIR", "SWIR"), aod550=0.5 * (LOW_AOD + HIGH_AOD),
                     water_vapour=0.5 * (LOW_WV + HIGH_WV), altitude_km=ALTITUDE_KM,
                     production=datetime(2015, 5, 16, 1, 46, 1), processing_number=4343)


def level_coefficients(spec: AsterSpec, sun_zenith: float, sun_azimuth: float,
                       aod_levels: Sequence[float] = AOD_LEVELS, wv_levels: Sequence[float] = WV_LEVELS,
                       processes: int = 2) -> Dict[str, np.ndarray]:
    """xa, xb, xc (n_aod, n_wv, 9) from direct 6S at every level pair: bands 1-3N with the VNIR
    view, 4-9 with the SWIR view (each band run once per level pair)."""
    shape = (len(aod_levels), len(wv_levels))
    parts: Dict[str, List[np.ndarray]] = {"xa": [], "xb": [], "xc": []}
    for pointing, bands in zip(spec.pointing_deg[:2], (BANDS[:3], BANDS[3:])):
        vz, va = view_geometry(pointing, spec.centre_lat)
        states: List[AtmosphereState] = []
        for tau in aod_levels:
            for w in wv_levels:
                uw, uo3 = sixs_columns(w, spec_ozone(spec), ALTITUDE_KM)
                states.append(AtmosphereState(
                    sun_zenith=sun_zenith, sun_azimuth=sun_azimuth, view_zenith=vz, view_azimuth=va,
                    month=spec.acquired.month, day=spec.acquired.day, aot550=tau, water_vapour=uw,
                    ozone=uo3, altitude_km=ALTITUDE_KM, aerosol_model=spec.aerosol_model))
        runs = run_bands(states, bands, processes)
        for name in parts:
            parts[name].append(np.array([[getattr(r, name) for r in per_state] for per_state in runs])
                               .reshape(shape + (len(bands),)))
    out = {name: np.concatenate(v, axis=2) for name, v in parts.items()}
    out["aod_levels"] = np.asarray(aod_levels, dtype=np.float64)
    out["wv_levels"] = np.asarray(wv_levels, dtype=np.float64)
    return out


def _bilinear(table: np.ndarray, xs: np.ndarray, ys: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``table`` (len(xs), len(ys)) interpolated bilinearly at (x, y) (clamped to the levels)."""
    x = np.clip(x, xs[0], xs[-1])
    y = np.clip(y, ys[0], ys[-1])
    i = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 2)
    j = np.clip(np.searchsorted(ys, y, side="right") - 1, 0, len(ys) - 2)
    u = (x - xs[i]) / (xs[i + 1] - xs[i])
    v = (y - ys[j]) / (ys[j + 1] - ys[j])
    return ((1 - u) * (1 - v) * table[i, j] + u * (1 - v) * table[i + 1, j]
            + (1 - u) * v * table[i, j + 1] + u * v * table[i + 1, j + 1])


def set_mcd19a2_fields(path: Path, orbit: int, aod: Callable, water_vapour: Callable) -> None:
    """Overwrite one orbit's Optical_Depth_055 and Column_WV of a synthetic MCD19A2 with
    ``aod(lon, lat)`` and ``water_vapour(lon, lat)`` at the 1 km pixel centres (clear pixels only)."""
    from pyhdf.SD import SD, SDC

    h, v = MCD_TILE
    meta = json.loads(truth_path(path).read_text())
    x, y = sinu.pixel_centres(h, v, int(meta["size"]))
    lon, lat = sinu.xy_to_lonlat(x, y)
    sd = SD(str(path), SDC.WRITE)
    try:
        for name, fn in (("Optical_Depth_055", aod), ("Column_WV", water_vapour)):
            sds = sd.select(sd.nametoindex(name))
            data = sds[:]
            raw = np.round(np.asarray(fn(lon, lat), dtype=np.float64) / 0.001).astype(np.int16)
            data[orbit] = np.where(data[orbit] != -28672, raw, data[orbit])
            sds[:] = data
            sds.endaccess()
    finally:
        sd.end()
    meta.setdefault("overwritten_orbits", []).append(
        {"orbit": orbit, "fields": ["Optical_Depth_055", "Column_WV"], "by": "gmi_engine.synth.haze"})
    truth_path(path).write_text(json.dumps(meta, indent=1, sort_keys=True))


def write_haze_case(out_dir, processes: int = 2, aod_levels: Sequence[float] = AOD_LEVELS,
                    wv_levels: Sequence[float] = WV_LEVELS) -> HazeCase:
    """Write the granule (DN from direct 6S at the true local AOD/water, interpolated between
    ``aod_levels`` x ``wv_levels``), a flat GDEM and the MCD19A2."""
    out = Path(out_dir)
    spec = haze_spec()
    granule = write_aster_l1t(spec, out / "aster")
    truth = load_truth(granule)
    corners = _footprint_lonlat(spec)
    lons, lats = [p[0] for p in corners], [p[1] for p in corners]
    case = HazeCase(granule, Path(), Path(), spec, min(lons), max(lons), min(lats), max(lats))
    case.gdem = write_gdem(out / "gdem", 32, -109, elevation_m=1000.0 * ALTITUDE_KM, ripple_m=0.0, size=121)
    coeffs = level_coefficients(spec, 90.0 - truth["sun"]["elevation"], truth["sun"]["azimuth"],
                                aod_levels, wv_levels, processes=processes)

    def at_local_air(k: int, lon: np.ndarray, lat: np.ndarray) -> tuple:
        tau, w = case.aod(lon, lat), case.water_vapour(lon, lat)
        return tuple(_bilinear(coeffs[n][..., k], coeffs["aod_levels"], coeffs["wv_levels"], tau, w)
                     for n in ("xa", "xb", "xc"))

    replace_dn(granule, spec, at_local_air)
    case.mcd19a2 = write_mcd19a2(out / "mcd19a2", *MCD_TILE, spec.acquired.date(), aod550=spec.aod550,
                                 water_vapour=spec.water_vapour, orbits=1, cloud_fraction=0.0,
                                 bad_qa_fraction=0.0, seed=spec.processing_number)
    set_mcd19a2_fields(case.mcd19a2, 0, case.aod, case.water_vapour)
    return case


__all__ = ["HazeCase", "write_haze_case", "set_mcd19a2_fields", "haze_spec", "level_coefficients", "gradient",
           "AOD_LEVELS", "WV_LEVELS", "QUICK_AOD_LEVELS", "QUICK_WV_LEVELS", "LOW_AOD", "HIGH_AOD", "LOW_WV",
           "HIGH_WV", "ALTITUDE_KM"]
