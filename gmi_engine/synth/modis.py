"""Synthetic MODIS MCD19A2 v061 (MAIAC AOD, daily 1 km) and MOD09A1 v061 (8-day 500 m reflectance).

Both are HDF-EOS2 sinusoidal grids written with :mod:`gmi_engine.synth.hdfeos` per formats.md §3,
§4 and §6. ``size`` shrinks a grid for tests: the tile corners stay the same and the pixel becomes
``T/size`` (the grid5km of MCD19A2 is ``size // 5``).

MCD19A2 content (truth in ``<name>.truth.json`` beside the file, see :func:`truth_path`):

- clear pixels: ``Optical_Depth_055 = aod550 + N(0, 0.005)``, ``Column_WV = water_vapour +
  N(0, 0.01)``, AOD_QA = 1 (cloud mask clear, land, AOD QA best);
- cloud patches (smooth blobs covering ``cloud_fraction`` of the tile; orbit 2 has three times as
  much): AOD fill, AOD_QA cloud mask 3 (cloudy) + AOD QA 5 (no retrieval), and ``Column_WV``
  holds the vapour *above* the cloud (a quarter of the column), as the real product reports it;
- ``bad_qa_fraction`` of the clear pixels: AOD :data:`BAD_AOD` (a cloud-edge artefact), AOD_QA
  cloud mask clear but adjacency 1 and AOD QA 3 or 4 (neighbouring clouds) — a reader that ignores
  the QA bits gets a biased mean.

MOD09A1 band pairing from the 9 ASTER surface-reflectance bands of the scene (B1, B2, B3N, B4..B9).
The "block" colour-balancing method's default pairing matches it with ``b07="mean"`` (:data:`MODIS_FROM_ASTER`):

=====  =========  ===================================
MODIS  centre nm  from ASTER
=====  =========  ===================================
b01    645        B2 (red)
b02    858        B3N (NIR)
b03    469        0.8 x B1 (no ASTER blue: extrapolated)
b04    555        B1 (green)
b05    1240       mean(B3N, B4)
b06    1640       B4
b07    2130       the continuum at 2.130 um (default); b07="mean": mean(B5, B6, B7, B8, B9)
=====  =========  ===================================

``b07="continuum"`` (the default, :func:`swir2_continuum`) is the physical model: MODIS b07
(2.105-2.155 um) lies on the shoulder *before* the Al-OH, Mg-OH and CO3 absorptions that ASTER
B5..B9 sample, so it is modelled as the spectrum's upper convex hull at 2.130 um through the band
centres (:data:`ASTER_CENTRES_UM`) of B4 and B5..B9; only B4 lies left of 2.130 um, so the hull
there is the highest chord from B4 to any of B5..B9; it is evaluated per sample point, then
averaged over the pixel. ``b07="mean"`` (the B5..B9 mean, :data:`MODIS_FROM_ASTER`) is the
unphysical model the "block" balancing method's default pairing assumes; its tests use it.

Each 500 m pixel is the mean of 4 x 4 sample points of the scene. With ``region`` (a lon/lat box)
the scene is evaluated only on the pixels covering it; every other land pixel holds
:data:`BACKGROUND_REFLECTANCE` (the pairing applied to the scene's ``background`` material), and
pixels outside the sinusoid's lens (|lon| > 180) are fill, as in real tiles.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from gmi_engine.errors import GmiInputError
from gmi_engine.synth import sinusoidal as sinu
from gmi_engine.synth.hdfeos import Field, Grid, write_hdfeos
from gmi_engine.synth.odl import Group, Obj, Raw, additional_attributes, to_odl
from gmi_engine.synth.scene import MATERIALS, SurfaceScene

FILL_INT16 = np.int16(-28672)
PRODUCTION_TIME = _dt.datetime(2022, 10, 5, 21, 44, 39)  # "2022278214439", the GMI demo's name
BAD_AOD = 3.0
AOD_NOISE_SD = 0.005
WV_NOISE_SD = 0.01
WV_ABOVE_CLOUD = 0.25
ANGSTROM = 1.4

# QA words (formats.md §3.2; bits 0-2 cloud mask, 3-4 surface, 5-7 adjacency, 8-11 AOD QA).
QA_CLEAR_BEST = np.uint16(1)
QA_CLOUDY = np.uint16(3 | (5 << 8))
QA_CLOUD_EDGE = (np.uint16(1 | (1 << 5) | (3 << 8)), np.uint16(1 | (1 << 5) | (4 << 8)))

# Rows: MODIS b01..b07; columns: ASTER B1, B2, B3N, B4, B5, B6, B7, B8, B9.
MODIS_FROM_ASTER = np.array([
    [0, 1, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 1, 0, 0, 0, 0, 0, 0],
    [0.8, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0.5, 0.5, 0, 0, 0, 0, 0],
    [0, 0, 0, 1, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0.2, 0.2, 0.2, 0.2, 0.2],
], dtype=np.float64)

DateLike = Union[_dt.date, _dt.datetime]
#: ASTER band centres (um) of B1, B2, B3N, B4..B9.
ASTER_CENTRES_UM = np.array([0.556, 0.661, 0.807, 1.656, 2.167, 2.209, 2.262, 2.336, 2.400])
MODIS_B07_UM = 2.130
B07_MODELS = ("mean", "continuum")


def swir2_continuum(refl9: np.ndarray) -> np.ndarray:
    """Continuum (upper convex hull) reflectance at 2.130 um (...) from ASTER B1..B9 (9, ...)."""
    refl9 = np.asarray(refl9, dtype=np.float64)
    b4 = refl9[3]
    t = (MODIS_B07_UM - ASTER_CENTRES_UM[3]) / (ASTER_CENTRES_UM[4:] - ASTER_CENTRES_UM[3])
    t = t.reshape((5,) + (1,) * b4.ndim)
    return (b4[None] + (refl9[4:] - b4[None]) * t).max(axis=0)


def aster_to_modis(refl9: np.ndarray, b07: str = "continuum") -> np.ndarray:
    """MODIS b01..b07 reflectance (7, ...) from ASTER B1..B9 reflectance (9, ...).

    ``b07``: "mean" (of B5..B9, :data:`MODIS_FROM_ASTER`) or "continuum" (:func:`swir2_continuum`).
    """
    refl9 = np.asarray(refl9, dtype=np.float64)
    if refl9.shape[0] != 9:
        raise GmiInputError("expected 9 ASTER bands first, got shape {}".format(refl9.shape))
    if b07 not in B07_MODELS:
        raise GmiInputError("b07: {!r} is not one of {}".format(b07, ", ".join(B07_MODELS)))
    out = np.tensordot(MODIS_FROM_ASTER, refl9, axes=(1, 0))
    if b07 == "continuum":
        out[6] = swir2_continuum(refl9)
    return out


BACKGROUND_REFLECTANCE = aster_to_modis(np.array(MATERIALS["background"]))


def truth_path(product: Union[str, Path]) -> Path:
    """Where the truth of a synthetic product is saved: ``<name without .hdf/.tif>.truth.json``."""
    return Path(product).with_suffix(".truth.json")


# --------------------------------------------------------------------------- shared helpers

def _as_date(date: DateLike) -> _dt.date:
    return date.date() if isinstance(date, _dt.datetime) else date


def _product_name(short: str, date: _dt.date, h: int, v: int, production: _dt.datetime) -> str:
    return "{}.A{:04d}{:03d}.h{:02d}v{:02d}.061.{:04d}{:03d}{:%H%M%S}.hdf".format(
        short, date.year, date.timetuple().tm_yday, h, v,
        production.year, production.timetuple().tm_yday, production)


def _tile_lonlat_bounds(h: int, v: int) -> Tuple[float, float, float, float]:
    """(west, south, east, north) of the tile's part of the globe, degrees."""
    ulx, uly, lrx, lry = sinu.tile_corners(h, v)
    north, south = math.degrees(uly / sinu.R), math.degrees(lry / sinu.R)
    lats = np.array([north, south, 0.0 if south < 0 < north else north])
    lon_w = np.clip(sinu.xy_to_lonlat(np.full(3, ulx), np.radians(lats) * sinu.R)[0], -180, 180)
    lon_e = np.clip(sinu.xy_to_lonlat(np.full(3, lrx), np.radians(lats) * sinu.R)[0], -180, 180)
    return float(lon_w.min()), south, float(lon_e.max()), north


def _gring(h: int, v: int) -> Tuple[list, list]:
    """G-ring (lon, lat lists) of the tile corners, clockwise from the south-west."""
    ulx, uly, lrx, lry = sinu.tile_corners(h, v)
    xs = np.array([ulx, ulx, lrx, lrx])
    ys = np.array([lry, uly, uly, lry])
    lon, lat = sinu.xy_to_lonlat(xs, ys)
    return list(np.clip(lon, -180, 180)), list(lat)


def _tile_centre_lon(h: int, v: int) -> float:
    ulx, uly, lrx, lry = sinu.tile_corners(h, v)
    lon, _ = sinu.xy_to_lonlat((ulx + lrx) / 2, (uly + lry) / 2)
    return float(np.clip(lon, -180, 180))


def _num(x: float) -> Raw:
    return Raw(repr(float(x)))


def _core_metadata(name: str, short: str, h: int, v: int, begin: _dt.datetime, end: _dt.datetime,
                   size: int, platforms: Sequence[str], production: _dt.datetime,
                   parameter: str, cloud_percent: int) -> str:
    lons, lats = _gring(h, v)
    sensors = [Obj("ASSOCIATEDPLATFORMINSTRUMENTSENSORCONTAINER", cls=str(i), children=[
        Obj("ASSOCIATEDSENSORSHORTNAME", "MODIS", cls=str(i)),
        Obj("ASSOCIATEDPLATFORMSHORTNAME", p, cls=str(i)),
        Obj("ASSOCIATEDINSTRUMENTSHORTNAME", "MODIS", cls=str(i)),
    ]) for i, p in enumerate(platforms, start=1)]
    top = Group("INVENTORYMETADATA", grouptype="MASTERGROUP", children=[
        Group("ECSDATAGRANULE", [
            Obj("LOCALGRANULEID", name),
            Obj("PRODUCTIONDATETIME", "{:%Y-%m-%dT%H:%M:%S}.000Z".format(production)),
            Obj("DAYNIGHTFLAG", "Day"),
            Obj("REPROCESSINGACTUAL", "reprocessed"),
            Obj("LOCALVERSIONID", "6.1.0"),
            Obj("REPROCESSINGPLANNED", "further update is anticipated"),
        ]),
        Group("MEASUREDPARAMETER", [
            Obj("MEASUREDPARAMETERCONTAINER", cls="1", children=[
                Obj("PARAMETERNAME", parameter, cls="1"),
                Group("QAFLAGS", cls="1", children=[
                    Obj("AUTOMATICQUALITYFLAG", "Passed", cls="1"),
                    Obj("AUTOMATICQUALITYFLAGEXPLANATION", "Synthetic granule written by GMI", cls="1"),
                ]),
                Group("QASTATS", cls="1", children=[
                    Obj("QAPERCENTMISSINGDATA", 0, cls="1"),
                    Obj("QAPERCENTCLOUDCOVER", int(cloud_percent), cls="1"),
                ]),
            ]),
        ]),
        Group("COLLECTIONDESCRIPTIONCLASS", [Obj("SHORTNAME", short), Obj("VERSIONID", 61)]),
        Group("SPATIALDOMAINCONTAINER", [Group("HORIZONTALSPATIALDOMAINCONTAINER", [
            Group("GPOLYGON", [Obj("GPOLYGONCONTAINER", cls="1", children=[
                Group("GRINGPOINT", cls="1", children=[
                    Obj("GRINGPOINTLONGITUDE", [_num(x) for x in lons], cls="1"),
                    Obj("GRINGPOINTLATITUDE", [_num(y) for y in lats], cls="1"),
                    Obj("GRINGPOINTSEQUENCENO", [1, 2, 3, 4], cls="1"),
                ]),
                Group("GRING", cls="1", children=[Obj("EXCLUSIONGRINGFLAG", "N", cls="1")]),
            ])]),
        ])]),
        Group("RANGEDATETIME", [
            Obj("RANGEBEGINNINGDATE", "{:%Y-%m-%d}".format(begin)),
            Obj("RANGEBEGINNINGTIME", "{:%H:%M:%S}.000000".format(begin)),
            Obj("RANGEENDINGDATE", "{:%Y-%m-%d}".format(end)),
            Obj("RANGEENDINGTIME", "{:%H:%M:%S}.000000".format(end)),
        ]),
        Group("PGEVERSIONCLASS", [Obj("PGEVERSION", "6.1.0")]),
        Group("ASSOCIATEDPLATFORMINSTRUMENTSENSOR", sensors),
        additional_attributes([
            ("HORIZONTALTILENUMBER", str(h)),
            ("VERTICALTILENUMBER", str(v)),
            ("TileID", "51{:03d}{:03d}".format(h, v)),
        ]),
    ])
    return to_odl(top)


def _archive_metadata(h: int, v: int, long_name: str, extra: Sequence[Obj] = ()) -> str:
    west, south, east, north = _tile_lonlat_bounds(h, v)
    top = Group("ARCHIVEDMETADATA", grouptype="MASTERGROUP", children=[
        Group("BOUNDINGRECTANGLE", [
            Obj("NORTHBOUNDINGCOORDINATE", _num(north)),
            Obj("SOUTHBOUNDINGCOORDINATE", _num(south)),
            Obj("EASTBOUNDINGCOORDINATE", _num(east)),
            Obj("WESTBOUNDINGCOORDINATE", _num(west)),
        ]),
        Obj("LONGNAME", long_name),
        Obj("PROCESSINGENVIRONMENT", "GMI synthetic generator"),
        *extra,
    ])
    return to_odl(top)


def _grid(name: str, h: int, v: int, size: int, fields: list, extra_dims: Optional[dict] = None) -> Grid:
    ulx, uly, lrx, lry = sinu.tile_corners(h, v)
    return Grid(name, size, size, upper_left=(ulx, uly), lower_right=(lrx, lry), fields=fields,
                extra_dims=dict(extra_dims or {}))


def _attrs(long_name: str, unit_key: str, unit: str, fill, valid: Sequence, scale: Optional[float],
           dtype) -> dict:
    attrs = {"long_name": long_name}
    if scale is not None:
        attrs["scale_factor"] = np.float64(scale)
        attrs["add_offset"] = np.float64(0.0)
    attrs[unit_key] = unit
    attrs["_FillValue"] = np.array(fill, dtype=dtype)
    attrs["valid_range"] = np.array(valid, dtype=dtype)
    return attrs


def _quantise(values: np.ndarray, scale: float, dtype=np.int16) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.clip(np.rint(values / scale), info.min, info.max).astype(dtype)


def _solar_zenith_deg(lon: np.ndarray, lat: np.ndarray, when: _dt.datetime) -> np.ndarray:
    """Approximate solar zenith (degrees; declination + equation of time, ±0.5°)."""
    doy = when.timetuple().tm_yday
    g = 2 * math.pi / 365.0 * (doy - 1 + (when.hour - 12) / 24.0)
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g) - 0.006758 * math.cos(2 * g)
            + 0.000907 * math.sin(2 * g) - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    eqt = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                    - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))
    minutes = when.hour * 60 + when.minute + eqt + 4.0 * np.asarray(lon)
    hour_angle = np.radians(minutes / 4.0 - 180.0)
    phi = np.radians(lat)
    cos_z = np.sin(phi) * math.sin(decl) + np.cos(phi) * math.cos(decl) * np.cos(hour_angle)
    return np.degrees(np.arccos(np.clip(cos_z, -1.0, 1.0)))


# --------------------------------------------------------------------------- MCD19A2

def _smooth_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """A smooth random field: a coarse random grid bilinearly interpolated to size x size."""
    coarse = rng.random((cells + 1, cells + 1))
    t = np.linspace(0.0, cells, size)
    rows = np.array([np.interp(t, np.arange(cells + 1), coarse[:, j]) for j in range(cells + 1)]).T
    return np.array([np.interp(t, np.arange(cells + 1), r) for r in rows])


def _cloud_mask(rng: np.random.Generator, size: int, fraction: float) -> np.ndarray:
    if fraction <= 0:
        return np.zeros((size, size), dtype=bool)
    if fraction >= 1:
        return np.ones((size, size), dtype=bool)
    field_ = _smooth_field(rng, size, cells=max(2, size // 40))
    return field_ > np.quantile(field_, 1.0 - fraction)


def _orbit_times(date: _dt.date, centre_lon: float, orbits: int) -> list:
    """Overpass times (UTC) and platform letters: Terra near 10:30 and Aqua near 13:30 local solar
    time, successive overpasses of one platform 99 minutes apart."""
    base = _dt.datetime.combine(date, _dt.time(0, 0))
    times = []
    for k in range(orbits):
        platform, local_h = ("T", 10.5) if k % 2 == 0 else ("A", 13.5)
        utc_h = local_h - centre_lon / 15.0 + (k // 2) * 99 / 60.0
        t = base + _dt.timedelta(minutes=round(utc_h * 60 / 5) * 5)
        times.append((t, platform))
    return sorted(times)


def write_mcd19a2(out_dir: Union[str, Path], h: int, v: int, date: DateLike, aod550: float = 0.12,
                  water_vapour: float = 1.1, orbits: int = 2, seed: int = 0, size: int = 1200,
                  cloud_fraction: float = 0.1, bad_qa_fraction: float = 0.05,
                  production: _dt.datetime = PRODUCTION_TIME,
                  orbit_aod550: Optional[Sequence[float]] = None) -> Path:
    """Write a synthetic MCD19A2 v061 tile and its truth; return the HDF path.

    ``orbit_aod550`` (one value per orbit, in time order) replaces ``aod550`` orbit by orbit.

    ``aod550`` (unitless) and ``water_vapour`` (cm = g/cm²) are the constant truth; see the module
    docstring for clouds and bad-QA pixels. ``size`` is the 1 km grid's side (1200 in real files).
    """
    if orbits < 1:
        raise GmiInputError("orbits must be >= 1, got {}".format(orbits))
    if size < 5 or size % 5:
        raise GmiInputError("size must be a multiple of 5 (grid5km = size/5), got {}".format(size))
    if not (0 <= cloud_fraction <= 1 and 0 <= bad_qa_fraction <= 1):
        raise GmiInputError("cloud_fraction and bad_qa_fraction must lie in [0, 1]")
    date = _as_date(date)
    sinu.check_tile(h, v)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = _product_name("MCD19A2", date, h, v, production)
    rng = np.random.default_rng(seed)
    shape = (orbits, size, size)

    clouds = [cloud_fraction] * orbits
    if orbits > 1:
        clouds[1] = min(1.0, 3 * cloud_fraction)
    cloudy = np.stack([_cloud_mask(rng, size, f) for f in clouds])
    bad = ~cloudy & (rng.random(shape) < bad_qa_fraction)
    good = ~cloudy & ~bad

    times = _orbit_times(date, _tile_centre_lon(h, v), orbits)
    if orbit_aod550 is not None and len(orbit_aod550) != orbits:
        raise GmiInputError("orbit_aod550 needs {} values, got {}".format(orbits, len(orbit_aod550)))
    truth_aod = np.asarray(orbit_aod550 if orbit_aod550 is not None else [aod550] * orbits, dtype=float)
    aod = truth_aod[:, None, None] + rng.normal(0.0, AOD_NOISE_SD, shape)
    aod[bad] = BAD_AOD + rng.normal(0.0, 0.1, int(bad.sum()))
    wv = water_vapour + rng.normal(0.0, WV_NOISE_SD, shape)
    wv[cloudy] = WV_ABOVE_CLOUD * water_vapour
    qa = np.full(shape, QA_CLEAR_BEST, dtype=np.uint16)
    qa[cloudy] = QA_CLOUDY
    qa[bad] = np.where(rng.random(int(bad.sum())) < 0.5, *QA_CLOUD_EDGE)

    def int_field(values: np.ndarray, scale: float) -> np.ndarray:
        raw = _quantise(values, scale)
        raw[cloudy] = FILL_INT16
        return raw

    aod055_raw = int_field(aod, 0.001)
    aod047_raw = int_field(aod * (0.47 / 0.55) ** -ANGSTROM, 0.001)
    unc_raw = int_field(0.05 + 0.15 * np.abs(aod), 0.0001)
    wv_raw = _quantise(wv, 0.001)
    ocean_only = np.full(shape, FILL_INT16, dtype=np.int16)
    dims = ("Orbits", "YDim", "XDim")
    f1 = [
        Field("Optical_Depth_047", aod047_raw, dims,
              _attrs("AOD at 0.47 micron", "unit", "none", -28672, (-100, 8000), 0.001, np.int16)),
        Field("Optical_Depth_055", aod055_raw, dims,
              _attrs("AOD at 0.55 micron", "unit", "none", -28672, (-100, 8000), 0.001, np.int16)),
        Field("AOD_Uncertainty", unc_raw, dims,
              _attrs("AOD uncertainty at 0.47 micron", "unit", "none", -28672, (0, 30000), 0.0001,
                     np.int16)),
        Field("FineModeFraction", np.full(shape, -28672.0, dtype=np.float32), dims,
              _attrs("Fine mode fraction over ocean", "unit", "none", -28672.0, (0.0, 1.0), None,
                     np.float32)),
        Field("Column_WV", wv_raw, dims,
              _attrs("Column Water Vapor (in cm liquid water)", "unit", "cm", -28672, (0, 30000),
                     0.001, np.int16)),
        Field("Injection_Height", np.full(shape, -99999.0, dtype=np.float32), dims,
              _attrs("Smoke injection height", "unit", "m", -99999.0, (0.0, 10000.0), None,
                     np.float32)),
        Field("AOD_QA", qa, dims, dict(
            _attrs("AOD QA", "unit", "none", 0, (0, 65535), None, np.uint16),
            Bit_description="bits 0-2 cloud mask (1 clear, 2 possibly cloudy, 3 cloudy), "
                            "3-4 land/water/snow/ice, 5-7 adjacency, 8-11 AOD QA (0 best), "
                            "12 glint, 13-14 aerosol model")),
        Field("AngstromExp_470-780", ocean_only, dims,
              _attrs("Angstrom Exponent 470-780nm over ocean", "unit", "none", -28672, (-5000, 30000),
                     0.0001, np.int16)),
    ]

    f5 = _geometry_fields(h, v, size // 5, times, dims)
    grids = [_grid("grid1km", h, v, size, f1, {"Orbits": orbits}),
             _grid("grid5km", h, v, size // 5, f5, {"Orbits": orbits})]
    stamps = "".join("{:%Y}{:03d}{:%H%M}{}  ".format(t, t.timetuple().tm_yday, t, p) for t, p in times)
    platforms = ["Terra"] + (["Aqua"] if orbits > 1 else [])
    core = _core_metadata(name, "MCD19A2", h, v, times[0][0], times[-1][0] + _dt.timedelta(minutes=5),
                          size, platforms, production, "Optical_Depth_055",
                          round(100 * float(cloudy.mean())))
    archive = _archive_metadata(h, v, "MODIS/Terra+Aqua Land Aerosol Optical Depth Daily L2G Global "
                                      "1km SIN Grid", [
        Obj("GRANULEBEGINNINGDATETIME", ["{:%Y-%m-%dT%H:%M:%S}.000000Z".format(t) for t, _ in times]),
        Obj("DATACOLUMNS", size), Obj("DATAROWS", size),
    ])
    path = out_dir / name
    write_hdfeos(path, grids, global_attrs=[
        ("Orbit_amount", np.int32(orbits)),
        ("Orbit_time_stamp", stamps),
        ("CoreMetadata.0", core),
        ("ArchiveMetadata.0", archive),
        ("identifier_product_doi", "10.5067/MODIS/MCD19A2.061"),
        ("identifier_product_doi_authority", "http://dx.doi.org"),
    ], hdfeos_version="HDFEOS_V2.19")

    truth = {
        "product": "MCD19A2", "file": name, "h": h, "v": v, "date": date.isoformat(), "size": size,
        "aod550": aod550, "orbit_aod550": truth_aod.tolist(), "water_vapour_cm": water_vapour,
        "orbits": orbits,
        "orbit_time_stamp": stamps,
        "cloud_fraction_per_orbit": [float(c.mean()) for c in cloudy],
        "bad_qa_fraction_per_orbit": [float(b.mean()) for b in bad],
        "bad_aod": BAD_AOD, "aod_noise_sd": AOD_NOISE_SD, "wv_noise_sd": WV_NOISE_SD,
        "wv_above_cloud_fraction": WV_ABOVE_CLOUD, "seed": seed,
        "best_qa_mean_aod550": float(np.mean(aod055_raw[good]) * 0.001) if good.any() else None,
        "clear_mean_water_vapour_cm": float(np.mean(wv_raw[~cloudy]) * 0.001) if (~cloudy).any() else None,
    }
    truth_path(path).write_text(json.dumps(truth, indent=1, sort_keys=True))
    return path


def _geometry_fields(h: int, v: int, size: int, times: list, dims: tuple) -> list:
    """grid5km sun/view geometry per orbit: real solar zenith; view zenith across the swath."""
    x, y = sinu.pixel_centres(h, v, size)
    lon, lat = sinu.xy_to_lonlat(x, y)
    lon = np.clip(np.nan_to_num(lon), -180, 180)
    n = len(times)
    sza = np.stack([_solar_zenith_deg(lon, lat, t) for t, _ in times])
    cols = np.linspace(-1.0, 1.0, size)[None, None, :]
    offsets = np.linspace(-0.6, 0.6, n)[:, None, None] if n > 1 else np.zeros((1, 1, 1))
    vza_signed = 55.0 * np.clip(cols + offsets, -1.0, 1.0) * np.ones((n, size, size))
    vza = np.abs(vza_signed)
    raz = np.where(vza_signed >= 0, 40.0, 140.0) * np.ones_like(vza)
    ts, tv, phi = np.radians(sza), np.radians(vza), np.radians(raz)
    scat = np.degrees(np.arccos(np.clip(-np.cos(ts) * np.cos(tv) - np.sin(ts) * np.sin(tv) * np.cos(phi),
                                        -1, 1)))
    glint = np.degrees(np.arccos(np.clip(np.cos(ts) * np.cos(tv) - np.sin(ts) * np.sin(tv) * np.cos(phi),
                                         -1, 1)))

    def f(name: str, values: np.ndarray, scale: float, long_name: str, unit: str, valid: tuple) -> Field:
        return Field(name, _quantise(values, scale), dims,
                     _attrs(long_name, "unit", unit, -28672, valid, scale, np.int16))

    return [
        f("cosSZA", np.cos(ts), 0.0001, "cosine of Solar Zenith Angle", "none", (0, 10000)),
        f("cosVZA", np.cos(tv), 0.0001, "cosine of View Zenith Angle", "none", (0, 10000)),
        f("RelAZ", raz, 0.01, "Relative Azimuth Angle", "degree", (-18000, 18000)),
        f("Scattering_Angle", scat, 0.01, "Scattering Angle", "degree", (-18000, 18000)),
        f("Glint_Angle", glint, 0.01, "Glint Angle", "degree", (-18000, 18000)),
    ]


# --------------------------------------------------------------------------- MOD09A1

def composite_start(date: DateLike) -> _dt.date:
    """First day of the 8-day MOD09A1 composite holding ``date`` (DOY 1, 9, …, 361)."""
    date = _as_date(date)
    doy = date.timetuple().tm_yday
    return _dt.date(date.year, 1, 1) + _dt.timedelta(days=(doy - 1) // 8 * 8)


def _scene_reflectance(scene: SurfaceScene, h: int, v: int, size: int, rows: slice, cols: slice,
                       sub: int = 4, chunk_rows: int = 32, b07: str = "continuum") -> np.ndarray:
    """(7, n_rows, n_cols) MODIS reflectance of the scene averaged over sub x sub points per pixel;
    NaN where the pixel centre lies outside the sinusoid's lens."""
    r_idx = np.arange(size)[rows]
    c_idx = np.arange(size)[cols]
    out = np.empty((7, len(r_idx), len(c_idx)), dtype=np.float64)
    for start in range(0, len(r_idx), chunk_rows):
        rs = slice(int(r_idx[start]), int(r_idx[min(start + chunk_rows, len(r_idx)) - 1]) + 1)
        x, y = sinu.pixel_centres(h, v, size, rs, cols, sub=sub)
        lon, lat = sinu.xy_to_lonlat(x, y)
        inside = np.abs(lon) <= 180.0
        refl9 = scene.reflectance_at_lonlat(np.where(inside, lon, 0.0), lat)
        refl9 = np.where(inside[None], refl9, np.nan)
        if b07 == "continuum":  # the hull per sample point, then the pixel mean
            block = aster_to_modis(refl9, b07).mean(axis=(-2, -1))
        else:
            block = aster_to_modis(refl9.mean(axis=(-2, -1)), b07)
        out[:, start:start + block.shape[1]] = block
    return out


#: Flagged patches of :func:`write_mod09a1`: kind -> (sur_refl_state_500m word, reflectance or
#: None = keep the scene's, factor on the scene's reflectance). Bits per the MOD09 user guide:
#: 0-1 cloud state (01 cloudy), 2 shadow, 3-5 land/water (001 land, 011 shallow inland water),
#: 10 internal cloud, 12 MOD35 snow/ice, 15 internal snow mask; 6-7 aerosol quantity 01 (low).
STATE_CLEAR_LAND = (1 << 3) | (1 << 6)
FLAGGED_PATCHES = {
    "cloud": ((1 | (1 << 3) | (1 << 6) | (1 << 10)), 0.6, 1.0),
    "shadow": (((1 << 2) | (1 << 3) | (1 << 6)), None, 0.3),
    "snow": (((1 << 3) | (1 << 6) | (1 << 12) | (1 << 15)), 0.8, 1.0),
    "water": (((3 << 3) | (1 << 6)), 0.02, 1.0),
}


def write_mod09a1(out_dir: Union[str, Path], h: int, v: int, date: DateLike, scene: SurfaceScene,
                  size: int = 2400, region: Optional[Tuple[float, float, float, float]] = None,
                  production: _dt.datetime = PRODUCTION_TIME,
                  flagged: Sequence[Tuple[str, Tuple[float, float, float, float]]] = (),
                  b07: str = "continuum") -> Path:
    """Write a synthetic MOD09A1 v061 tile whose reflectance is the band-paired ``scene``.

    ``date`` is rounded down to its 8-day composite's first day (the name's ``AYYYYDDD``).
    ``region`` = (west, south, east, north) degrees limits where the scene is evaluated (see the
    module docstring); None evaluates the whole tile (slow at full size).
    ``flagged``: (kind, lon/lat box) patches of :data:`FLAGGED_PATCHES` ("cloud": reflectance
    0.6 in every band and a cloudy state word, "shadow", "snow", "water"); every other pixel is
    clear land (state 0x48, QC MODLAND 00, every band's quality 0000).
    ``b07``: "mean" or "continuum" (module docstring; the background pixels follow it too).
    """
    if b07 not in B07_MODELS:
        raise GmiInputError("b07: {!r} is not one of {}".format(b07, ", ".join(B07_MODELS)))
    sinu.check_tile(h, v)
    start = composite_start(date)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = _product_name("MOD09A1", start, h, v, production)

    x, y = sinu.pixel_centres(h, v, size)
    lon, lat = sinu.xy_to_lonlat(x, y)
    in_lens = np.abs(lon) <= 180.0
    refl = np.empty((7, size, size), dtype=np.float32)
    refl[:] = aster_to_modis(np.array(MATERIALS["background"]), b07)[:, None, None]
    refl[:, ~in_lens] = np.nan
    if region is None:
        rows, cols = slice(0, size), slice(0, size)
    else:
        rows, cols = sinu.window_of_lonlat_bbox(h, v, size, region)
    if rows.stop > rows.start and cols.stop > cols.start:
        refl[:, rows, cols] = _scene_reflectance(scene, h, v, size, rows, cols, b07=b07)
    state = np.where(in_lens, np.uint16(STATE_CLEAR_LAND), np.uint16(65535)).astype(np.uint16)
    for kind, box in flagged:
        if kind not in FLAGGED_PATCHES:
            raise GmiInputError("flagged: {!r} is not one of {}".format(kind, ", ".join(FLAGGED_PATCHES)))
        word, value, factor = FLAGGED_PATCHES[kind]
        pr, pc = sinu.window_of_lonlat_bbox(h, v, size, box)
        patch = np.zeros((size, size), dtype=bool)
        patch[pr, pc] = True
        patch &= in_lens
        state[patch] = word
        refl[:, patch] = value if value is not None else refl[:, patch] * np.float32(factor)
    scaled = np.clip(np.rint(refl / np.float32(0.0001)), -100, 16000)
    bands = np.where(np.isnan(scaled), np.float32(-28672), scaled).astype(np.int16)

    dims = ("YDim", "XDim")
    fields = []
    for i in range(7):
        attrs = _attrs("Surface_reflectance_for_band_{}".format(i + 1), "units", "reflectance",
                       -28672, (-100, 16000), 0.0001, np.int16)
        attrs.update(scale_factor_err=np.float64(0.0), add_offset_err=np.float64(0.0),
                     calibrated_nt=np.int32(5))
        fields.append(Field("sur_refl_b{:02d}".format(i + 1), bands[i], dims, attrs))

    mid = _dt.datetime.combine(start + _dt.timedelta(days=3), _dt.time(0, 0))
    overpass = mid + _dt.timedelta(hours=10.5 - _tile_centre_lon(h, v) / 15.0)
    sza = np.where(in_lens, _solar_zenith_deg(np.clip(lon, -180, 180), lat, overpass), 0.0)
    qc = np.where(in_lens, np.uint32((1 << 30) | (1 << 31)), np.uint32(4294967295)).astype(np.uint32)
    doy = np.where(in_lens, np.uint16(mid.timetuple().tm_yday), np.uint16(65535)).astype(np.uint16)

    def angle(values: np.ndarray, long_name: str, valid: tuple) -> Tuple[np.ndarray, dict]:
        raw = np.where(in_lens, _quantise(values, 0.01), 0).astype(np.int16)
        return raw, _attrs(long_name, "units", "degree", 0, valid, 0.01, np.int16)

    szen, szen_a = angle(sza, "MODIS Band 1-7 Solar Zenith Angle", (0, 18000))
    vzen, vzen_a = angle(np.full(x.shape, 5.0), "MODIS Band 1-7 View Zenith Angle", (0, 18000))
    raz, raz_a = angle(np.full(x.shape, 45.0), "MODIS Band 1-7 Relative Azimuth Angle",
                       (-18000, 18000))
    fields += [
        Field("sur_refl_qc_500m", qc, dims,
              _attrs("500m Reflectance Band Quality", "units", "bit field", 4294967295,
                     (0, 4294966531), None, np.uint32)),
        Field("sur_refl_szen", szen, dims, szen_a),
        Field("sur_refl_vzen", vzen, dims, vzen_a),
        Field("sur_refl_raz", raz, dims, raz_a),
        Field("sur_refl_state_500m", state, dims,
              _attrs("500m State Flags", "units", "bit field", 65535, (0, 57335), None, np.uint16)),
        Field("sur_refl_day_of_year", doy, dims,
              _attrs("Julian day of year", "units", "Julian day", 65535, (1, 366), None, np.uint16)),
    ]
    end = _dt.datetime.combine(start + _dt.timedelta(days=7), _dt.time(23, 59, 59))
    core = _core_metadata(name, "MOD09A1", h, v, _dt.datetime.combine(start, _dt.time(0, 0)), end,
                          size, ["Terra"], production, "500m Surface Reflectance Band 1", 0)
    archive = _archive_metadata(h, v, "MODIS/Terra Surface Reflectance 8-Day L3 Global 500m SIN Grid",
                                [Obj("DATACOLUMNS", size), Obj("DATAROWS", size)])
    path = out_dir / name
    write_hdfeos(path, [_grid("MOD_Grid_500m_Surface_Reflectance", h, v, size, fields)],
                 global_attrs=[("CoreMetadata.0", core), ("ArchiveMetadata.0", archive)],
                 hdfeos_version="HDFEOS_V2.19")
    truth = {
        "product": "MOD09A1", "file": name, "h": h, "v": v, "composite_start": start.isoformat(),
        "size": size, "region": list(region) if region is not None else None,
        "scene": json.loads(scene.to_json()), "modis_from_aster": MODIS_FROM_ASTER.tolist(),
        "background_reflectance": aster_to_modis(np.array(MATERIALS["background"]), b07).tolist(),
        "scene_window": {"rows": [rows.start, rows.stop], "cols": [cols.start, cols.stop]},
        "flagged": [[kind, list(box)] for kind, box in flagged], "b07": b07,
    }
    truth_path(path).write_text(json.dumps(truth, indent=1, sort_keys=True))
    return path
