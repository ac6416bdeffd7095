"""Synthetic ASTER GDEM v3 tiles (``ASTGTMV003_NxxWyyy_dem.tif``, formats.md §5).

int16 GeoTIFF in EPSG:4326, 3601 x 3601 posts at 1 arc-second with the SRTM-style half-pixel
geotransform ``(lon0 - 1/7200, 1/3600, 0, lat0 + 1 + 1/7200, 0, -1/3600)``, GDAL NoData -9999,
DEFLATE. Heights are :func:`elevation_at` — a constant plus a km-scale ripple that depends on
longitude and latitude only, so the shared edge column/row of neighbouring tiles agrees.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Union

import numpy as np
from osgeo import gdal, osr

from gmi_engine.errors import GmiFileError, GmiInputError

NODATA = -9999
RIPPLE_WAVELENGTH_DEG = (0.047, 0.061)  # ~4.4 km east-west and ~6.8 km north-south at 33°N


def gdem_name(lat0: int, lon0: int) -> str:
    """File name of the tile whose south-west corner is (lat0, lon0), e.g. ``ASTGTMV003_N32W108_dem.tif``."""
    return "ASTGTMV003_{}{:02d}{}{:03d}_dem.tif".format(
        "N" if lat0 >= 0 else "S", abs(lat0), "E" if lon0 >= 0 else "W", abs(lon0))


def gdem_geotransform(lat0: int, lon0: int, size: int = 3601) -> tuple:
    """Geotransform of a ``size`` x ``size`` tile: post centres on whole degrees at the edges."""
    step = 1.0 / (size - 1)
    return (lon0 - step / 2, step, 0.0, lat0 + 1 + step / 2, 0.0, -step)


def elevation_at(lon, lat, elevation_m: float = 1750.0, ripple_m: float = 15.0) -> np.ndarray:
    """Synthetic terrain height (metres, float64) at geographic coordinates."""
    wx, wy = RIPPLE_WAVELENGTH_DEG
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    return elevation_m + ripple_m * np.sin(2 * np.pi * lon / wx) * np.cos(2 * np.pi * lat / wy)


def write_gdem(out_dir: Union[str, Path], lat0: int, lon0: int, elevation_m: float = 1750.0,
               ripple_m: float = 15.0, size: int = 3601, void_fraction: float = 0.0,
               seed: int = 0, scene: Any = None) -> Path:
    """Write one GDEM tile (south-west corner ``lat0``, ``lon0``) and its truth; return the path.

    ``void_fraction`` of the posts (random, reproducible by ``seed``) are set to -9999. With a
    ``scene`` (e.g. :class:`~gmi_engine.synth.porphyry.PorphyryScene`) the heights are its
    ``elevation_at_lonlat`` at the posts (rounded to whole metres) instead of the ripple.
    """
    if int(lat0) != lat0 or int(lon0) != lon0:
        raise GmiInputError("GDEM tiles start on whole degrees, got lat0={} lon0={}".format(lat0, lon0))
    if not (-90 <= lat0 < 90 and -180 <= lon0 < 180) or size < 2:
        raise GmiInputError("bad GDEM tile lat0={} lon0={} size={}".format(lat0, lon0, size))
    if not 0 <= void_fraction <= 1:
        raise GmiInputError("void_fraction must lie in [0, 1], got {}".format(void_fraction))
    lat0, lon0 = int(lat0), int(lon0)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / gdem_name(lat0, lon0)

    gt = gdem_geotransform(lat0, lon0, size)
    lons = lon0 + np.arange(size) * gt[1]
    lats = lat0 + 1 + np.arange(size) * gt[5]
    wx, wy = RIPPLE_WAVELENGTH_DEG
    if scene is not None:
        heights = _scene_heights(scene, lons, lats)
    else:
        # Separable form of elevation_at (same values, one outer product instead of size² sin/cos).
        heights = elevation_m + ripple_m * np.outer(np.cos(2 * np.pi * lats / wy), np.sin(2 * np.pi * lons / wx))
    dem = np.rint(heights).astype(np.int16)
    if void_fraction > 0:
        rng = np.random.default_rng(seed)
        dem[rng.random(dem.shape) < void_fraction] = NODATA

    drv = gdal.GetDriverByName("GTiff")
    ds = drv.Create(str(path), size, size, 1, gdal.GDT_Int16,
                    options=["COMPRESS=DEFLATE", "PREDICTOR=2", "TILED=YES"])
    if ds is None:
        raise GmiFileError("{}: cannot create GeoTIFF ({})".format(path, gdal.GetLastErrorMsg()))
    ds.SetGeoTransform(gt)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    ds.SetProjection(srs.ExportToWkt())
    band = ds.GetRasterBand(1)
    band.SetNoDataValue(NODATA)
    band.WriteArray(dem)
    ds.FlushCache()
    ds = None

    truth = {"product": "ASTGTMV003", "file": path.name, "lat0": lat0, "lon0": lon0, "size": size,
             "elevation_m": elevation_m, "ripple_m": ripple_m,
             "ripple_wavelength_deg": list(RIPPLE_WAVELENGTH_DEG), "void_fraction": void_fraction,
             "void_count": int((dem == NODATA).sum()), "seed": seed,
             "mean_valid_m": float(dem[dem != NODATA].mean()) if (dem != NODATA).any() else None,
             "geotransform": list(gt),
             "scene": None if scene is None else json.loads(scene.to_json())}
    path.with_suffix(".truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True))
    return path


def _scene_heights(scene: Any, lons: np.ndarray, lats: np.ndarray, block: int = 1200) -> np.ndarray:
    """``scene.elevation_at_lonlat`` on the post grid, in row blocks (one lattice patch each)."""
    from pyproj import Transformer

    # EPSG:3857 x depends on the longitude only, y on the latitude only
    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    xs, _ = to_merc.transform(lons, np.zeros_like(lons))
    _, ys = to_merc.transform(np.zeros_like(lats), lats)
    out = np.empty((lats.size, lons.size), dtype=np.float64)
    for r0 in range(0, lats.size, block):
        x, y = np.meshgrid(xs, ys[r0:r0 + block])
        out[r0:r0 + block] = scene.elevation_at_xy(x, y)
    return out


def tiles_covering(west: float, south: float, east: float, north: float) -> list:
    """(lat0, lon0) of every GDEM tile touching a lon/lat box."""
    return [(la, lo) for la in range(math.floor(south), math.ceil(north))
            for lo in range(math.floor(west), math.ceil(east))]
