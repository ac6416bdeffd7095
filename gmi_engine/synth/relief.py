"""A granule over rugged terrain whose DN come from direct 6S at the TRUE per-pixel altitude.

Not a closed loop: ingest derives one state per tile (or per coefficient-field node) from the
GDEM it is given; here every pixel's coefficients come from direct 6S runs at a few altitude
levels, interpolated linearly in altitude to the pixel's own height on a relief DEM, with the
above-surface water column held constant (what MCD19A2 reports). The surface reflectance is a
smooth known function of the EPSG:3857 position (:func:`true_reflectance`), so retrieved tiles
can be compared pixel by pixel. Files: the AST_L1T HDF (DN replaced), one GDEM GeoTIFF, one
MCD19A2 of the day without clouds.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import numpy as np
from osgeo import gdal, osr
from pyproj import Transformer

from gmi_engine.aster.geometry import view_geometry
from gmi_engine.atmosphere.columns import sixs_columns
from gmi_engine.atmosphere.sixs import compute_many
from gmi_engine.atmosphere.state import AtmosphereState
from gmi_engine.synth.aster import (
    REFLECTIVE_BANDS,
    AsterSpec,
    _MercatorLattice,
    _utm_transformers,
    load_truth,
    make_footprint,
    spec_ozone,
    write_aster_l1t,
)
from gmi_engine.synth.modis import write_mcd19a2

#: Surface reflectance level of each band (a dry soil), modulated by :func:`true_reflectance`.
BASE_REFLECTANCE = np.array([0.10, 0.13, 0.20, 0.28, 0.30, 0.30, 0.29, 0.27, 0.26])
#: Altitudes (km) of the direct 6S runs; pixel heights are interpolated between them.
LEVELS_KM = tuple(round(0.25 * k, 2) for k in range(1, 11))
#: Coarser levels (0.5 km apart) for quick runs: fewer 6S runs.
QUICK_LEVELS_KM = (0.25, 0.75, 1.25, 1.75, 2.25, 2.5)
LOW_KM, RELIEF_KM = 0.3, 2.0
GDEM_STEP_DEG = 1.0 / 1200.0


@dataclass
class GranuleCase:
    """A synthetic case's files (AST_L1T, GDEM, MCD19A2), its spec and its footprint's west/east."""

    granule: Path
    gdem: Path
    mcd19a2: Path
    spec: AsterSpec
    west: float
    east: float


@dataclass
class ReliefCase(GranuleCase):
    """The files of the relief case and its truth."""


def relief_spec() -> AsterSpec:
    """A 12 km granule at the small demo's place (tile 260, 526), dry air, moderate aerosol."""
    return AsterSpec(-108.10, 32.86, datetime(2006, 9, 6, 18, 2, 42), side_km=12.0,
                     subsystems=("VNIR", "SWIR"), aod550=0.15, water_vapour=0.8,
                     production=datetime(2015, 5, 16, 1, 46, 1), processing_number=4242)


def height_km(lon: np.ndarray, lat: np.ndarray, west: float, east: float) -> np.ndarray:
    """The relief: 0.3 km in the west rising (quadratically) to 2.3 km in the east."""
    u = np.clip((np.asarray(lon) - west) / (east - west), 0.0, 1.0)
    return LOW_KM + RELIEF_KM * u * u + 0.0 * np.asarray(lat)


def true_reflectance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(9, ...) surface reflectance at EPSG:3857 positions: smooth (km-scale) modulation."""
    m = 1.0 + 0.15 * np.sin(2 * np.pi * x / 3000.0) * np.cos(2 * np.pi * y / 3700.0)
    return BASE_REFLECTANCE.reshape((9,) + (1,) * np.ndim(x)) * m[None]


def _write_gdem(path: Path, west: float, east: float, south: float, north: float) -> Path:
    cols = int(round((east - west) / GDEM_STEP_DEG))
    rows = int(round((north - south) / GDEM_STEP_DEG))
    lon = west + (np.arange(cols) + 0.5) * GDEM_STEP_DEG
    lat = north - (np.arange(rows) + 0.5) * GDEM_STEP_DEG
    heights = 1000.0 * height_km(lon[None, :], lat[:, None], west + 0.02, east - 0.02)
    ds = gdal.GetDriverByName("GTiff").Create(str(path), cols, rows, 1, gdal.GDT_Int16)
    ds.SetGeoTransform((west, GDEM_STEP_DEG, 0.0, north, 0.0, -GDEM_STEP_DEG))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    ds.SetProjection(srs.ExportToWkt())
    band = ds.GetRasterBand(1)
    band.SetNoDataValue(-9999)
    band.WriteArray(np.round(heights).astype(np.int16))
    ds = None
    return path


def level_coefficients(spec: AsterSpec, sun_zenith: float, sun_azimuth: float,
                       levels: Sequence[float] = LEVELS_KM, processes: int = 2) -> Dict[str, np.ndarray]:
    """xa, xb, xc (len(levels), 9) from direct 6S at each altitude level, each telescope's view."""
    states: List[AtmosphereState] = []
    for pointing in spec.pointing_deg[:2]:
        vz, va = view_geometry(pointing, spec.centre_lat)
        for z in levels:
            uw, uo3 = sixs_columns(spec.water_vapour, spec_ozone(spec), z)
            states.append(AtmosphereState(
                sun_zenith=sun_zenith, sun_azimuth=sun_azimuth, view_zenith=vz, view_azimuth=va,
                month=spec.acquired.month, day=spec.acquired.day, aot550=spec.aod550,
                water_vapour=uw, ozone=uo3, altitude_km=z, aerosol_model=spec.aerosol_model))
    runs = compute_many(states, processes=processes)
    n = len(levels)
    out = {}
    for name in ("xa", "xb", "xc"):
        vnir = np.array([getattr(c, name) for c in runs[:n]])
        swir = np.array([getattr(c, name) for c in runs[n:]])
        out[name] = np.concatenate([vnir[:, :3], swir[:, 3:]], axis=1)
    out["levels"] = np.asarray(levels, dtype=np.float64)
    return out


def _replace_dn(path: Path, spec: AsterSpec, coeffs: Dict[str, np.ndarray], west: float, east: float) -> None:
    def at_height(k: int, lon: np.ndarray, lat: np.ndarray) -> tuple:
        z = height_km(lon, lat, west, east)
        return tuple(np.interp(z, coeffs["levels"], coeffs[n][:, k]) for n in ("xa", "xb", "xc"))

    replace_dn(path, spec, at_height)


def replace_dn(path: Path, spec: AsterSpec, coefficients_at: Callable) -> None:
    """Rewrite the reflective DN of a synthetic granule from its true surface reflectance
    (:func:`true_reflectance`) and per-pixel 6S coefficients ``coefficients_at(k, lon, lat)``
    -> (xa, xb, xc) arrays of band index ``k`` at the pixels' positions."""
    from pyhdf.SD import SD, SDC

    truth = load_truth(path)
    fp = make_footprint(spec)
    _, _, to_merc = _utm_transformers(fp.zone)
    merc_to_ll = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    sd = SD(str(path), SDC.WRITE)
    try:
        for k, b in enumerate(REFLECTIVE_BANDS):
            sds = sd.select("ImageData" + b)
            dn = sds[:]
            rows, cols = dn.shape
            res = 15.0 if k < 3 else 30.0
            lattice = _MercatorLattice(fp.corners, res, rows, cols, to_merc)
            x, y = lattice(np.arange(rows, dtype=np.float64), np.arange(cols, dtype=np.float64))
            lon, lat = merc_to_ll.transform(x, y)
            xa, xb, xc = coefficients_at(k, np.asarray(lon), np.asarray(lat))
            rho = true_reflectance(x, y)[k]
            radiance = (rho / (1.0 - xc * rho) + xb) / xa
            new = np.floor(radiance / truth["ucc"][b] + 0.5) + 1.0
            new = np.where(new > 254, 255, np.maximum(new, 1.0))
            sds[:] = np.where(dn > 0, new, 0).astype(np.uint8)
            sds.endaccess()
    finally:
        sd.end()


def write_relief_case(out_dir, processes: int = 2, levels: Sequence[float] = LEVELS_KM) -> ReliefCase:
    """Write the granule (DN from per-pixel direct 6S at ``levels``), its GDEM and MCD19A2."""
    out = Path(out_dir)
    (out / "gdem").mkdir(parents=True, exist_ok=True)
    spec = relief_spec()
    granule = write_aster_l1t(spec, out / "aster")
    truth = load_truth(granule)
    lons = [p[0] for p in _footprint_lonlat(spec)]
    west, east = min(lons), max(lons)
    lat = spec.centre_lat
    gdem = _write_gdem(out / "gdem" / "relief_dem.tif", west - 0.02, east + 0.02, lat - 0.15, lat + 0.15)
    coeffs = level_coefficients(spec, 90.0 - truth["sun"]["elevation"], truth["sun"]["azimuth"],
                                levels=levels, processes=processes)
    _replace_dn(granule, spec, coeffs, west, east)
    mcd = write_mcd19a2(out / "mcd19a2", 8, 5, spec.acquired.date(), aod550=spec.aod550,
                        water_vapour=spec.water_vapour, cloud_fraction=0.0, bad_qa_fraction=0.0,
                        seed=spec.processing_number)
    return ReliefCase(granule, gdem, mcd, replace(spec), west, east)


def _footprint_lonlat(spec: AsterSpec) -> list:
    fp = make_footprint(spec)
    _, to_ll, _ = _utm_transformers(fp.zone)
    return [to_ll.transform(e, n) for e, n in fp.corner_points()]


__all__ = ["GranuleCase", "ReliefCase", "write_relief_case", "replace_dn", "true_reflectance", "height_km",
           "level_coefficients", "relief_spec", "BASE_REFLECTANCE", "LEVELS_KM", "QUICK_LEVELS_KM"]
