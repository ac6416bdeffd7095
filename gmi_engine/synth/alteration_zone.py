"""A synthetic tile with a 3 km alteration zone under a regional error, for balancing checks.

The tile (1024 x 1024 px of 30 m at a chosen latitude) holds the demo scene's materials on 720 m
ground patches and, off-centre, a zone 3 km across of a 300 m patchwork of kaolinite, alunite and
sericite. `regional_error` is a per-band multiplicative error smooth at tens of km of ground: a
level per group (SWIR-2 shares one: MODIS cannot see errors within B5..B9), a +-5 % tilt over
40 km in a per-band direction, and a 150 km wave. `alteration_indices` writes the Ninomiya indices
and band ratios out from their formulas (not through gmi_engine.indices or the kernel).
Used by the balancing tests and the balancing accuracy section.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict

import numpy as np

SERICITE = (0.38, 0.42, 0.45, 0.52, 0.47, 0.36, 0.44, 0.40, 0.42)  # Al-OH at 2.20 um: low B6
LEVEL = np.array([1.10, 0.95, 1.04, 0.93, 0.91, 0.91, 0.91, 0.91, 0.91])
TILT = np.array([0.05, -0.04, 0.03, 0.05, -0.05, -0.05, -0.05, -0.05, -0.05])
ANGLE = np.radians([10, 80, 150, 200, 300, 300, 300, 300, 300])
NOISE = 0.0005
MODIS_PIXEL_M = 463.312716528  # MOD09A1 "500 m" sinusoidal pixel
TILE_PX = 1024
BLOCK_PX = 256


@dataclass
class ZoneScene:
    """Truth (9, 1024, 1024) float32, zone / background masks, ground offsets from the zone
    centre (m), and ground metres per pixel."""

    truth: np.ndarray
    zone: np.ndarray
    background: np.ndarray
    gx: np.ndarray
    gy: np.ndarray
    ground_px: float


def alteration_zone_scene(lat: float, lon: float = -108.07) -> ZoneScene:
    """The tile of the default grid at (``lon``, ``lat``) with the alteration zone in it."""
    from gmi_engine.grid import DEFAULT_GRID
    from gmi_engine.synth.scene import MATERIALS, SurfaceScene

    tile = DEFAULT_GRID.tile_of_lonlat(lon, lat)
    b = DEFAULT_GRID.bounds(tile)
    scale = math.cos(math.radians(lat))  # ground metres per EPSG:3857 metre (tile centre)
    xs = b.xmin + 30.0 * (np.arange(TILE_PX) + 0.5)
    ys = b.ymax - 30.0 * (np.arange(TILE_PX) + 0.5)
    x, y = np.meshgrid(xs, ys)
    weights = {"background": 0.45, "hematite_soil": 0.2, "calcite": 0.1, "vegetation": 0.25,
               "kaolinite": 0, "alunite": 0, "water": 0}
    surface = SurfaceScene(weights=weights, patch_m=720.0 / scale)
    truth = surface.reflectance_at_xy(x, y).astype(np.float32)
    cx, cy = b.xmin + 0.35 * (b.xmax - b.xmin), b.ymax - 0.6 * (b.ymax - b.ymin)
    dist = np.hypot(x - cx, y - cy) * scale
    zone = dist <= 1500.0
    cell = (np.floor(x * scale / 300.0).astype(np.int64) * 7919
            + np.floor(y * scale / 300.0).astype(np.int64) * 104729)
    spectra = np.array([MATERIALS["kaolinite"], MATERIALS["alunite"], SERICITE], dtype=np.float32)
    zone_refl = np.moveaxis(spectra[np.abs(cell) % 3] * surface.texture_at_xy(x, y)[..., None], -1, 0)
    truth[:, zone] = zone_refl[:, zone]
    return ZoneScene(truth=truth, zone=zone, background=dist >= 3000.0, gx=(x - cx) * scale,
                     gy=(y - cy) * scale, ground_px=30.0 * scale)


def regional_error(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """(9, H, W) multiplicative error at ground offsets ``gx``, ``gy`` (m)."""
    out = np.empty((9,) + gx.shape, dtype=np.float32)
    for k in range(9):
        along = gx * math.cos(ANGLE[k]) + gy * math.sin(ANGLE[k])
        out[k] = LEVEL[k] * (1 + TILT[k] * along / 40000.0) * (1 + 0.02 * np.sin(2 * np.pi * gx / 150000.0))
    return out


def modis_cells(modis: np.ndarray, ground_px: float) -> np.ndarray:
    """(7, 256, 256) int16 MOD09A1-like reference from a per-pixel (7, 1024, 1024) reflectance:
    means over ~MODIS-pixel ground blocks (a power of two of pixels), repeated to 4 px cells."""
    n = max(4, 2 ** int(round(math.log2(MODIS_PIXEL_M / ground_px))))
    coarse = modis.reshape(7, TILE_PX // n, n, TILE_PX // n, n).mean(axis=(2, 4))
    fine = np.repeat(np.repeat(coarse, n // 4, axis=1), n // 4, axis=2)
    return np.round(fine / 1e-4).astype(np.int16)


def alteration_indices(r: np.ndarray) -> Dict[str, np.ndarray]:
    """Ninomiya KLI / ALI / OHI and band ratios of a (9, ...) reflectance, from their formulas."""
    b = {str(i + 1): r[i] for i in range(9)}
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "KLI": (b["4"] / b["5"]) * (b["8"] / b["6"]),
            "ALI": (b["7"] / b["5"]) * (b["7"] / b["8"]),
            "OHI": (b["7"] / b["6"]) * (b["4"] / b["6"]),
            "(4+6)/5": (b["4"] + b["6"]) / b["5"],
            "(7+9)/8": (b["7"] + b["9"]) / b["8"],
            "B4/B6": b["4"] / b["6"],
            "B2/B1": b["2"] / b["1"],
        }


def zone_anomalies(refl: np.ndarray, zone: np.ndarray, background: np.ndarray) -> Dict[str, float]:
    """Per index, zone median / background median."""
    return {k: float(np.nanmedian(v[zone]) / np.nanmedian(v[background]))
            for k, v in alteration_indices(refl).items()}


def worst_block_band_error(out: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per band, the worst 256 px block of |median(out / truth) - 1|."""
    worst = np.zeros(out.shape[0])
    n = TILE_PX // BLOCK_PX
    with np.errstate(divide="ignore", invalid="ignore"):
        for by in range(n):
            for bx in range(n):
                sl = np.s_[:, by * BLOCK_PX:(by + 1) * BLOCK_PX, bx * BLOCK_PX:(bx + 1) * BLOCK_PX]
                ratio = np.nanmedian((out[sl] / truth[sl]).reshape(out.shape[0], -1), axis=1)
                worst = np.maximum(worst, np.abs(ratio - 1.0))
    return worst
