"""Realistic synthetic AST_L1T v003 granules, physically forward-modelled through 6S.

A :class:`AsterSpec` says where and when the granule is, its geometry, gains and atmosphere.
:func:`write_aster_l1t` lays a rotated square footprint on a 90 m-aligned UTM rectangle
(formats.md §2.3), evaluates the ground truth (:class:`~gmi_engine.synth.scene.SurfaceScene`)
at every pixel centre, turns reflectance into at-sensor radiance with 6S coefficients for the
granule's state, quantises to DN with the band's gain (L = (DN − 1)·UCC, 0 = fill, 255 =
saturated) and writes the HDF-EOS file with the full ECS metadata. The truth (scene, 6S state
and coefficients, gains, geometry, material map) is saved beside it as ``<name>.truth.json`` and
``<name>.truth.npz``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional, Sequence, Tuple

import numpy as np
from pyproj import Transformer

from gmi_engine.aster.geometry import UtmCorners, view_geometry
from gmi_engine.errors import GmiInputError
from gmi_engine.kernel.radiometry import handbook_ucc
from gmi_engine.synth.aster_meta import GAIN_BANDS, SWIR_BANDS, TIR_BANDS, VNIR_BANDS, build_metadata
from gmi_engine.synth.hdfeos import DimensionMap, Field, Swath, write_hdfeos
from gmi_engine.synth.scene import SurfaceScene
from gmi_engine.synth.sun import solar_position

SWIR_FAILURE_DATE = datetime(2008, 4, 23, tzinfo=timezone.utc)
REFLECTIVE_BANDS = VNIR_BANDS + SWIR_BANDS  # "1", "2", "3N", "4".."9"
# Planck constants of ASTER TIR bands 10–14 (science.md §1.4) and handbook TIR UCC.
TIR_K1 = (3040.136402, 2482.375199, 1935.060183, 866.468575, 641.326517)
TIR_K2 = (1735.337945, 1666.398761, 1585.420044, 1350.069147, 1271.221673)
TIR_UCC = (6.822e-3, 6.780e-3, 6.590e-3, 5.693e-3, 5.225e-3)
_BLOCK_ROWS = 512
_TO_MERC_LL = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
_LATTICE = 64


@dataclass(frozen=True)
class AsterSpec:
    """Everything that defines one synthetic granule."""

    centre_lon: float
    centre_lat: float
    acquired: datetime
    side_km: float = 60.0
    orientation_deg: float = 9.0
    pointing_deg: tuple = (2.5, 2.46, 2.49)
    gains: dict = field(default_factory=lambda: {b: "NOR" for b in GAIN_BANDS})
    subsystems: tuple = ("VNIR", "SWIR", "TIR")
    swir_failure: Optional[bool] = None
    aod550: float = 0.12
    water_vapour: float = 1.1
    #: Total ozone above the ground (cm-atm); None = the climatology at centre_lat on the acquisition day.
    ozone: Optional[float] = None
    altitude_km: float = 1.75
    aerosol_model: str = "continental"
    cloud_cover: int = 2
    zone: Optional[int] = None
    production: Optional[datetime] = None
    processing_number: int = 17781
    #: The ground truth: a :class:`SurfaceScene` (checkerboard) or a
    #: :class:`~gmi_engine.synth.porphyry.PorphyryScene` (relief, illumination, noise, TIR).
    scene: Any = field(default_factory=SurfaceScene)
    #: Porphyry scenes only: cloud blobs ``(lon, lat, radius_m, top_temperature_K)``; opaque
    #: within half the radius, fading to clear at 1.5 radii.
    clouds: tuple = ()

    @property
    def acquired_utc(self) -> datetime:
        """Acquisition time as an aware UTC datetime."""
        a = self.acquired
        return a.astimezone(timezone.utc) if a.tzinfo else a.replace(tzinfo=timezone.utc)

    @property
    def utm_zone(self) -> int:
        """UTM zone from the scene centre unless given."""
        if self.zone is not None:
            return int(self.zone)
        return min(60, max(1, int(math.floor((self.centre_lon + 180.0) / 6.0)) + 1))

    @property
    def swir_failed(self) -> bool:
        """Whether the SWIR data show the post-April-2008 saturation and striping."""
        if self.swir_failure is not None:
            return bool(self.swir_failure)
        return self.acquired_utc >= SWIR_FAILURE_DATE

    @property
    def granule_id(self) -> str:
        """The real AST_L1T name pattern (formats.md §2.1), without extension."""
        prod = self.production or (self.acquired_utc + timedelta(days=3200))
        return "AST_L1T_003{}_{}_{}".format(self.acquired_utc.strftime("%m%d%Y%H%M%S"),
                                             prod.strftime("%Y%m%d%H%M%S"), self.processing_number)


@dataclass(frozen=True)
class Footprint:
    """Scene geometry in the zone's UTM coordinates (northings negative south of the equator)."""

    zone: int
    centre_en: tuple
    half_side_m: float
    rotation_rad: float
    corners: UtmCorners

    def inside(self, easting: np.ndarray, northing: np.ndarray) -> np.ndarray:
        """True where a point lies inside the rotated square footprint."""
        de = easting - self.centre_en[0]
        dn = northing - self.centre_en[1]
        c, s = math.cos(self.rotation_rad), math.sin(self.rotation_rad)
        u = de * c - dn * s
        v = de * s + dn * c
        return (np.abs(u) <= self.half_side_m) & (np.abs(v) <= self.half_side_m)

    def corner_points(self) -> list:
        """Footprint corners (easting, northing): UL, UR, LR, LL."""
        e0, n0 = self.centre_en
        h = self.half_side_m
        c, s = math.cos(self.rotation_rad), math.sin(self.rotation_rad)
        pts = []
        for u, v in ((-h, h), (h, h), (h, -h), (-h, -h)):
            pts.append((e0 + u * c + v * s, n0 - u * s + v * c))
        return pts


def _utm_transformers(zone: int) -> tuple:
    crs = "EPSG:{}".format(32600 + zone)  # northern code; negative northings extend it south
    return (Transformer.from_crs("EPSG:4326", crs, always_xy=True),
            Transformer.from_crs(crs, "EPSG:4326", always_xy=True),
            Transformer.from_crs(crs, "EPSG:3857", always_xy=True))


def make_footprint(spec: AsterSpec) -> Footprint:
    """The rotated footprint and its 90 m-aligned corner-centre rectangle."""
    zone = spec.utm_zone
    to_utm, _, _ = _utm_transformers(zone)
    e0, n0 = to_utm.transform(spec.centre_lon, spec.centre_lat)
    half = spec.side_km * 500.0
    fp = Footprint(zone, (e0, n0), half, math.radians(spec.orientation_deg),
                   UtmCorners(0.0, 0.0, 0.0, 0.0))
    pts = fp.corner_points()
    es = [p[0] for p in pts]
    ns = [p[1] for p in pts]
    corners = UtmCorners(ul_northing=math.ceil(max(ns) / 90.0) * 90.0,
                         ul_easting=math.floor(min(es) / 90.0) * 90.0,
                         lr_northing=math.floor(min(ns) / 90.0) * 90.0,
                         lr_easting=math.ceil(max(es) / 90.0) * 90.0)
    return replace(fp, corners=corners)


def specs_region(specs: Sequence[AsterSpec], margin_deg: float = 0.1) -> Tuple[float, float, float, float]:
    """(west, south, east, north) degrees around every footprint of ``specs``, ``margin_deg`` wider."""
    lons, lats = [], []
    for spec in specs:
        fp = make_footprint(spec)
        _, to_lonlat, _ = _utm_transformers(fp.zone)
        for e, n in fp.corner_points():
            lon, lat = to_lonlat.transform(e, n)
            lons.append(lon)
            lats.append(lat)
    return (min(lons) - margin_deg, min(lats) - margin_deg, max(lons) + margin_deg,
            max(lats) + margin_deg)


class _MercatorLattice:
    """UTM pixel centre -> EPSG:3857 by bilinear interpolation of an exact coarse lattice."""

    def __init__(self, corners: UtmCorners, res: float, rows: int, cols: int, to_merc) -> None:
        self.r_idx = np.arange(0, rows + _LATTICE, _LATTICE, dtype=np.float64)
        self.c_idx = np.arange(0, cols + _LATTICE, _LATTICE, dtype=np.float64)
        ee, nn = np.meshgrid(corners.ul_easting + self.c_idx * res,
                             corners.ul_northing - self.r_idx * res)
        self.x, self.y = to_merc.transform(ee, nn)

    def __call__(self, rows: np.ndarray, cols: np.ndarray) -> tuple:
        ri = np.minimum((rows / _LATTICE).astype(np.int64), len(self.r_idx) - 2)
        ci = np.minimum((cols / _LATTICE).astype(np.int64), len(self.c_idx) - 2)
        fr = ((rows - self.r_idx[ri]) / _LATTICE)[:, None]
        fc = ((cols - self.c_idx[ci]) / _LATTICE)[None, :]
        out = []
        for grid in (self.x, self.y):
            g00 = grid[ri][:, ci]
            g01 = grid[ri][:, ci + 1]
            g10 = grid[ri + 1][:, ci]
            g11 = grid[ri + 1][:, ci + 1]
            out.append((g00 * (1 - fc) + g01 * fc) * (1 - fr) + (g10 * (1 - fc) + g11 * fc) * fr)
        return out[0], out[1]


def _atmosphere(spec: AsterSpec, sun_azimuth: float, sun_elevation: float):
    """6S coefficients (xa, xb, xc for the 9 reflective bands) for the granule's state."""
    from dataclasses import replace

    from gmi_engine.atmosphere.coefficients import merge_telescopes
    from gmi_engine.atmosphere.columns import sixs_columns
    from gmi_engine.atmosphere.sixs import compute_coefficients
    from gmi_engine.atmosphere.state import AtmosphereState

    view_zenith, view_azimuth = view_geometry(spec.pointing_deg[0], spec.centre_lat)
    # spec.water_vapour/ozone are the columns above the ground (what MCD19A2 reports)
    water, ozone = sixs_columns(spec.water_vapour, spec_ozone(spec), spec.altitude_km)
    state = AtmosphereState(
        sun_zenith=90.0 - sun_elevation, sun_azimuth=sun_azimuth,
        view_zenith=view_zenith, view_azimuth=view_azimuth,
        month=spec.acquired_utc.month, day=spec.acquired_utc.day,
        aot550=spec.aod550, water_vapour=water, ozone=ozone,
        altitude_km=spec.altitude_km, aerosol_model=spec.aerosol_model)
    swir_zenith, swir_azimuth = view_geometry(spec.pointing_deg[1], spec.centre_lat)
    swir = replace(state, view_zenith=swir_zenith, view_azimuth=swir_azimuth)
    return merge_telescopes(compute_coefficients(state), compute_coefficients(swir))


def _ucc(band: str, gain: str) -> float:
    return float("{:.6f}".format(handbook_ucc(band, gain)))


def _quantise(radiance: np.ndarray, ucc: float, inside: np.ndarray, max_dn: int) -> np.ndarray:
    dn = np.floor(radiance / ucc + 0.5) + 1.0
    dn = np.where(dn > max_dn - 1, max_dn, np.maximum(dn, 1.0))
    dn[~inside] = 0
    return dn


def _swir_failure(dn: np.ndarray, band_index: int, rng: np.random.Generator) -> np.ndarray:
    """Post-2008 SWIR: saturated speckle and vertical stripes (formats.md §2.8)."""
    valid = dn > 0
    stripes = (np.arange(dn.shape[1]) % 7 == band_index % 7)[None, :]
    out = dn.astype(np.int16)
    out = np.where(stripes & valid, np.minimum(out + 40, 255), out)
    speckle = rng.random(dn.shape) < 0.15
    out = np.where(speckle & valid, 255, out)
    return out.astype(np.uint8)


def write_aster_l1t(spec: AsterSpec, out_dir, *, lattice_increments: int = 10) -> Path:
    """Write the granule (and its truth files) into ``out_dir``; returns the HDF path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fp = make_footprint(spec)
    to_utm, to_lonlat, to_merc = _utm_transformers(fp.zone)
    acquired = spec.acquired_utc
    sun_az, sun_el = solar_position(acquired, spec.centre_lon, spec.centre_lat)
    reflective = any(s in spec.subsystems for s in ("VNIR", "SWIR"))
    if reflective and sun_el <= 0:
        raise GmiInputError("{}: VNIR/SWIR need daylight: the sun is {:.1f}° below the horizon at {}"
                            .format(spec.granule_id, -sun_el, acquired.isoformat()))
    coeffs = _atmosphere(spec, sun_az, sun_el) if reflective else None
    gains = {b: (spec.gains.get(b, "NOR") if b in _present_gain_bands(spec) else "OFF")
             for b in GAIN_BANDS}
    ucc = {}
    for b in REFLECTIVE_BANDS:
        gain = gains[_gain_key(b)]
        if gain != "OFF":
            ucc[b] = _ucc(b, gain)
    for b, u in zip(TIR_BANDS, TIR_UCC):
        ucc[b] = u
    rng = np.random.default_rng(spec.processing_number)
    swaths, sizes, truth_arrays = [], {}, {}
    porphyry = _PorphyryRender.of(spec, fp, to_merc, sun_az, sun_el) if _is_porphyry(spec.scene) else None
    for subsystem, bands, res in (("VNIR", VNIR_BANDS, 15.0), ("SWIR", SWIR_BANDS, 30.0),
                                  ("TIR", TIR_BANDS, 90.0)):
        if subsystem not in spec.subsystems:
            continue
        rows, cols = fp.corners.size(res)
        for b in bands:
            sizes[b] = (rows, cols)
        if porphyry is not None:
            data, materials = porphyry.render(subsystem, bands, res, rows, cols, coeffs, ucc, rng,
                                              truth_arrays)
        else:
            data, materials = _render(spec, fp, subsystem, bands, res, rows, cols, to_merc, coeffs,
                                      ucc, rng)
        if subsystem == "SWIR":
            truth_arrays["material_swir"] = materials
        swaths.append(_swath(subsystem, bands, data, rows, cols, res, fp, to_lonlat,
                             lattice_increments))
    corner_lonlat = [to_lonlat.transform(e, n) for e, n in fp.corner_points()]
    lats = [p[1] for p in corner_lonlat]
    lons = [p[0] for p in corner_lonlat]
    c = fp.corners
    production = spec.production or (acquired + timedelta(days=3200))
    attrs = build_metadata(
        granule_id=spec.granule_id, acquired=acquired, production=production, zone=fp.zone,
        south=max(lats) < 0,
        ul=(lats[0], lons[0]), ur=(lats[1], lons[1]), lr=(lats[2], lons[2]), ll=(lats[3], lons[3]),
        ulm=(c.ul_northing, c.ul_easting), urm=(c.ul_northing, c.lr_easting),
        llm=(c.lr_northing, c.ul_easting), lrm=(c.lr_northing, c.lr_easting),
        centre=(spec.centre_lat, spec.centre_lon),
        bounds=(min(lons), min(lats), max(lons), max(lats)),
        sun_azimuth=sun_az, sun_elevation=sun_el, pointing=spec.pointing_deg, gains=gains,
        ucc=ucc, sizes=sizes, subsystems=spec.subsystems, cloud_cover=spec.cloud_cover,
        orientation_deg=spec.orientation_deg, night=sun_el <= 0)
    path = out_dir / (spec.granule_id + ".hdf")
    write_hdfeos(path, swaths, attrs, hdfeos_version="HDFEOS_V2.17")
    _write_truth(path, spec, fp, sun_az, sun_el, coeffs, gains, ucc, truth_arrays)
    return path


def _gain_key(band: str) -> str:
    return band if band == "3N" else "{:02d}".format(int(band))


def _present_gain_bands(spec: AsterSpec) -> set:
    present = set()
    if "VNIR" in spec.subsystems:
        present.update(("01", "02", "3N"))
    if "SWIR" in spec.subsystems:
        present.update("{:02d}".format(i) for i in range(4, 10))
    return present


def _render(spec, fp, subsystem, bands, res, rows, cols, to_merc, coeffs, ucc, rng) -> tuple:
    """DN arrays for one subsystem, computed in row blocks; plus the material map."""
    dtype = np.uint16 if subsystem == "TIR" else np.uint8
    data = {b: np.zeros((rows, cols), dtype=dtype) for b in bands}
    materials = np.zeros((rows, cols), dtype=np.uint8)
    lattice = _MercatorLattice(fp.corners, res, rows, cols, to_merc)
    col_idx = np.arange(cols, dtype=np.float64)
    eastings = fp.corners.ul_easting + col_idx * res
    band_pos = {b: i for i, b in enumerate(REFLECTIVE_BANDS)}
    for r0 in range(0, rows, _BLOCK_ROWS):
        r1 = min(rows, r0 + _BLOCK_ROWS)
        row_idx = np.arange(r0, r1, dtype=np.float64)
        northings = fp.corners.ul_northing - row_idx * res
        inside = fp.inside(eastings[None, :], northings[:, None])
        x, y = lattice(row_idx, col_idx)
        materials[r0:r1] = np.where(inside, spec.scene.material_at_xy(x, y), 255)
        if subsystem == "TIR":
            temp = 296.0 + 150.0 * (spec.scene.texture_at_xy(x, y) - 1.0)
            for i, b in enumerate(bands):
                radiance = TIR_K1[i] / (np.exp(TIR_K2[i] / temp) - 1.0)
                data[b][r0:r1] = _quantise(radiance, ucc[b], inside, 4095)
            continue
        refl = spec.scene.reflectance_at_xy(x, y)
        for b in bands:
            if b not in ucc:
                continue
            k = band_pos[b]
            rho = refl[k].astype(np.float64)
            y_ = rho / (1.0 - coeffs.xc[k] * rho)
            radiance = (y_ + coeffs.xb[k]) / coeffs.xa[k]
            dn = _quantise(radiance, ucc[b], inside, 255)
            data[b][r0:r1] = dn
    if subsystem == "SWIR" and spec.swir_failed:
        for i, b in enumerate(bands):
            data[b] = _swir_failure(data[b], i, rng)
    return data, materials


def _is_porphyry(scene: Any) -> bool:
    from gmi_engine.synth.porphyry import PorphyryScene

    return isinstance(scene, PorphyryScene)


#: Apparent reflectance of an opaque cloud (B1..B9): bright and flat in the VNIR, lower in the
#: SWIR (water/ice absorption); a model value for the synthetic clouds, not a measurement. Kept
#: below the normal-gain B3N saturation (~0.75 surface-equivalent at a 58 deg sun): a saturated
#: band is NaN in the kernel, and a NaN pixel is never "cloud" (it is dropped as invalid instead).
CLOUD_REFLECTANCE = (0.68, 0.69, 0.70, 0.58, 0.45, 0.44, 0.43, 0.42, 0.40)
#: Brightness temperature below the kinetic temperature of the ground (emissivity < 1 and no
#: atmosphere in the TIR model: a model assumption of the synthetic granules).
TIR_EMISSIVITY_OFFSET_K = 3.0


def planck_radiance(temperature: np.ndarray, band_index: int) -> np.ndarray:
    """ASTER TIR band radiance (W m-2 sr-1 um-1) of a black body: ``K1 / (exp(K2 / T) - 1)``."""
    return TIR_K1[band_index] / (np.exp(TIR_K2[band_index] / np.asarray(temperature, np.float64)) - 1.0)


class _PorphyryRender:
    """DN of a granule over a :class:`~gmi_engine.synth.porphyry.PorphyryScene`.

    Per pixel: the scene's linear mixture, times the topographic illumination (cos i from the
    granule's sun on the scene DEM, :meth:`PorphyryScene.illumination_factor`), blended with the
    spec's clouds; then 6S to at-sensor radiance, plus sensor noise at ASTER's specified
    noise-equivalent reflectance (``porphyry.NE_DELTA_RHO``, Yamaguchi et al. 1998) turned into
    radiance with the band's solar irradiance. TIR bands 10-14: black-body radiance at the
    ground's brightness temperature (kinetic minus :data:`TIR_EMISSIVITY_OFFSET_K`), NE delta T
    0.3 K, mixed with the cloud tops' radiance by cloud fraction.

    The fields are made on the scene's EPSG:3857 lattice (:class:`~gmi_engine.synth.porphyry.ScenePatch`)
    and resampled onto each subsystem's UTM pixel centres by GDAL (bilinear; the dominant
    endmember nearest).
    """

    def __init__(self, spec: AsterSpec, fp: Footprint, to_merc, sun_az: float, sun_el: float) -> None:
        from gmi_engine.synth.porphyry import NE_DELTA_RHO, NE_DELTA_T

        self.spec, self.fp = spec, fp
        self.sun_az, self.sun_el = sun_az, sun_el
        c = fp.corners
        es = (c.ul_easting - 90.0, c.lr_easting + 90.0)
        ns = (c.lr_northing - 90.0, c.ul_northing + 90.0)
        xs, ys = to_merc.transform([es[0], es[1], es[0], es[1]], [ns[0], ns[0], ns[1], ns[1]])
        self.patch = spec.scene.patch(min(xs), min(ys), max(xs), max(ys))
        self.cos_i = self.patch.cos_incidence(sun_az, sun_el)
        self.ne_rho, self.ne_t = NE_DELTA_RHO, NE_DELTA_T
        clouds = [(*_TO_MERC_LL.transform(lon, lat), r / math.cos(math.radians(lat)), t)
                  for lon, lat, r, t in spec.clouds]
        ny, nx = self.patch.shape
        x = self.patch.x0 + np.arange(nx) * self.patch.step
        y = self.patch.y0 + np.arange(ny) * self.patch.step
        self.cloud_fraction = np.zeros((ny, nx))
        self.cloud_top = np.full((ny, nx), 300.0)
        for cx, cy, radius, t_top in clouds:
            blob = np.clip(1.5 - np.hypot(x[None, :] - cx, y[:, None] - cy) / radius, 0.0, 1.0)
            self.cloud_top = np.where(blob > self.cloud_fraction, t_top, self.cloud_top)
            self.cloud_fraction = np.maximum(self.cloud_fraction, blob)

    @classmethod
    def of(cls, spec: AsterSpec, fp: Footprint, to_merc, sun_az: float, sun_el: float) -> "_PorphyryRender":
        """The renderer of ``spec`` (whose scene is a PorphyryScene)."""
        return cls(spec, fp, to_merc, sun_az, sun_el)

    def warp(self, fields: list, res: float, rows: int, cols: int, resample: str = "bilinear") -> np.ndarray:
        """Lattice fields ``(ny, nx)`` -> ``(len(fields), rows, cols)`` float32 on the UTM pixel centres."""
        from osgeo import gdal, osr

        ny, nx = self.patch.shape
        step = self.patch.step
        src = gdal.GetDriverByName("MEM").Create("", nx, ny, len(fields), gdal.GDT_Float32)
        src.SetGeoTransform((self.patch.x0 - step / 2, step, 0.0, self.patch.y0 + (ny - 0.5) * step, 0.0, -step))
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(3857)
        src.SetProjection(srs.ExportToWkt())
        for i, f in enumerate(fields, start=1):
            src.GetRasterBand(i).WriteArray(np.asarray(f, dtype=np.float32)[::-1])
        c = self.fp.corners
        half = res / 2.0
        out = gdal.Warp("", src, format="MEM", dstSRS="EPSG:{}".format(32600 + self.fp.zone),
                        outputBounds=(c.ul_easting - half, c.lr_northing - half, c.lr_easting + half,
                                      c.ul_northing + half),
                        width=cols, height=rows, resampleAlg=resample, outputType=gdal.GDT_Float32)
        return out.ReadAsArray().reshape(len(fields), rows, cols)

    def render(self, subsystem, bands, res, rows, cols, coeffs, ucc, rng, truth: dict) -> tuple:
        """DN arrays of one subsystem and the dominant-endmember map; TIR also fills ``truth``."""
        from gmi_engine.kernel.radiometry import toa_reflectance

        eastings = self.fp.corners.ul_easting + np.arange(cols, dtype=np.float64) * res
        northings = self.fp.corners.ul_northing - np.arange(rows, dtype=np.float64) * res
        inside = self.fp.inside(eastings[None, :], northings[:, None])
        dtype = np.uint16 if subsystem == "TIR" else np.uint8
        data = {b: np.zeros((rows, cols), dtype=dtype) for b in bands}
        patch = self.patch
        materials = np.zeros((rows, cols), dtype=np.uint8)
        if subsystem != "VNIR":
            dominant = np.argmax(patch.abundances, axis=0).astype(np.float32)
            materials = np.where(inside, self.warp([dominant], res, rows, cols, "near")[0], 255).astype(np.uint8)
        frac, top = self.warp([self.cloud_fraction, self.cloud_top], res, rows, cols)
        if subsystem == "TIR":
            kinetic = self.spec.scene.temperature_model(patch.abundances, patch.elevation, self.cos_i, self.sun_el)
            fields = [kinetic - TIR_EMISSIVITY_OFFSET_K, self.cos_i, patch.elevation] + list(patch.abundances)
            warped = self.warp(fields, res, rows, cols)
            temp = warped[0] + self.ne_t * rng.standard_normal((rows, cols), dtype=np.float32)
            for i, b in enumerate(bands):
                radiance = (1 - frac) * planck_radiance(temp, i) + frac * planck_radiance(top, i)
                data[b] = _quantise(radiance, ucc[b], inside, 4095).astype(dtype)
            truth.update(brightness_temperature_13_tir=np.where(frac > 0, np.nan, temp).astype(np.float32),
                         cos_i_tir=warped[1], elevation_tir=warped[2], abundances_tir=warped[3:],
                         cloud_fraction_tir=frac)
            return data, materials
        illumination = self.spec.scene.illumination_factor(self.cos_i, self.sun_el)
        band_pos = {b: i for i, b in enumerate(REFLECTIVE_BANDS)}
        zenith = 90.0 - self.sun_el
        doy = self.spec.acquired_utc.timetuple().tm_yday
        for b in bands:
            if b not in ucc:
                continue
            k = band_pos[b]
            apparent = np.tensordot(self.spec.scene.spectra[:, k], patch.abundances, axes=1) * illumination
            rho = self.warp([apparent], res, rows, cols)[0].astype(np.float64)
            rho = rho * (1 - frac) + CLOUD_REFLECTANCE[k] * frac
            radiance = (rho / (1.0 - coeffs.xc[k] * rho) + coeffs.xb[k]) / coeffs.xa[k]
            sigma = self.ne_rho[k] / float(toa_reflectance(np.float32(1.0), b, zenith, doy))
            radiance += sigma * rng.standard_normal((rows, cols), dtype=np.float32)
            data[b] = _quantise(radiance, ucc[b], inside, 255).astype(dtype)
        if subsystem == "SWIR" and self.spec.swir_failed:
            for i, b in enumerate(bands):
                data[b] = _swir_failure(data[b], i, rng)
        return data, materials


def _swath(subsystem, bands, data, rows, cols, res, fp, to_lonlat, n_incr) -> Swath:
    """The swath object with a small Latitude/Longitude lattice and dimension maps."""
    inc_r = max(1, math.ceil((rows - 1) / n_incr))
    inc_c = max(1, math.ceil((cols - 1) / n_incr))
    n_r = math.ceil((rows - 1) / inc_r) + 1
    n_c = math.ceil((cols - 1) / inc_c) + 1
    ee, nn = np.meshgrid(fp.corners.ul_easting + np.arange(n_c) * inc_c * res,
                         fp.corners.ul_northing - np.arange(n_r) * inc_r * res)
    lon, lat = to_lonlat.transform(ee, nn)
    names = {b: "ImageData" + b for b in bands}
    return Swath(
        name=subsystem + "_Swath",
        dims={"ImageLine": rows, "ImagePixel": cols, "GeoTrack": n_r, "GeoXtrack": n_c},
        data_fields=[Field(names[b], data[b], ("ImageLine", "ImagePixel")) for b in bands],
        geo_fields=[Field("Latitude", np.asarray(lat, np.float64), ("GeoTrack", "GeoXtrack")),
                    Field("Longitude", np.asarray(lon, np.float64), ("GeoTrack", "GeoXtrack"))],
        dim_maps=[DimensionMap("GeoTrack", "ImageLine", 0, inc_r),
                  DimensionMap("GeoXtrack", "ImagePixel", 0, inc_c)],
    )


def truth_paths(hdf_path) -> tuple:
    """(json, npz) truth files written beside a synthetic granule."""
    p = Path(hdf_path)
    return p.with_suffix(".truth.json"), p.with_suffix(".truth.npz")


def spec_ozone(spec) -> float:
    """The scene's total ozone (cm-atm): ``spec.ozone`` or the climatology at its latitude and day."""
    if spec.ozone is not None:
        return float(spec.ozone)
    from gmi_engine.atmosphere.ozone import climatology_ozone

    return climatology_ozone(spec.centre_lat, spec.acquired_utc.date())


def _write_truth(path, spec, fp, sun_az, sun_el, coeffs, gains, ucc, arrays) -> None:
    js, npz = truth_paths(path)
    truth = {
        "granule_id": spec.granule_id,
        "acquired": spec.acquired_utc.isoformat(),
        "scene": json.loads(spec.scene.to_json()),
        "atmosphere": {"aod550": spec.aod550, "water_vapour": spec.water_vapour,
                       "ozone": spec_ozone(spec), "altitude_km": spec.altitude_km,
                       "aerosol_model": spec.aerosol_model},
        "sun": {"azimuth": sun_az, "elevation": sun_el},
        "pointing_deg": list(spec.pointing_deg),
        "utm_zone": fp.zone,
        "footprint_utm": [list(p) for p in fp.corner_points()],
        "gains": gains,
        "ucc": ucc,
        "swir_failed": spec.swir_failed,
        "clouds": [list(c) for c in spec.clouds],
        "coefficients": None if coeffs is None else {
            "bands": list(REFLECTIVE_BANDS), "xa": list(map(float, coeffs.xa)),
            "xb": list(map(float, coeffs.xb)), "xc": list(map(float, coeffs.xc))},
    }
    js.write_text(json.dumps(truth, indent=1, sort_keys=True))
    np.savez_compressed(npz, **arrays)


def scene_from_json(text: str) -> Any:
    """A SurfaceScene or (``kind`` "porphyry") a PorphyryScene from its JSON."""
    if json.loads(text).get("kind") == "porphyry":
        from gmi_engine.synth.porphyry import PorphyryScene

        return PorphyryScene.from_json(text)
    return SurfaceScene.from_json(text)


def load_truth(hdf_path) -> dict:
    """The truth JSON of a synthetic granule, with ``scene`` rebuilt as a SurfaceScene or PorphyryScene."""
    js, _ = truth_paths(hdf_path)
    truth = json.loads(Path(js).read_text())
    truth["scene"] = scene_from_json(json.dumps(truth["scene"]))
    return truth
