"""Cold clouds over the porphyry scene, to check the cloud mask's thermal test (issue 16 item 4).

Clouds are soft blobs whose tops sit 2-8 km above a 300 K ground and follow a 6.5 K/km lapse rate
(the standard-atmosphere rate), so their band-13 brightness temperatures are 248-287 K. The
ground's brightness temperature is the scene's kinetic temperature lowered by 3 K for an emissivity
below one. Cloud reflectance is a bright, flat spectrum falling towards the SWIR (a water cloud).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gmi_engine.synth.porphyry import PorphyryScene, scene_grid

CLOUD_REFLECTANCE = np.array((0.78, 0.80, 0.82, 0.62, 0.45, 0.44, 0.43, 0.42, 0.40), dtype=np.float32)
LAPSE_K_PER_KM = 6.5
GROUND_K = 300.0
EMISSIVITY_DROP_K = 3.0


@dataclass
class CloudyScene:
    """Observed reflectance (9, h, w) and BT13 (h, w) with clouds, the cloud fraction and abundances."""

    scene: PorphyryScene
    reflectance: np.ndarray
    bt13: np.ndarray
    cloud_fraction: np.ndarray
    abundances: np.ndarray


def cloudy_scene(seed: int = 5, clouds: int = 14, side_m: float = 18000.0, pixel_m: float = 90.0) -> CloudyScene:
    """The porphyry scene seen at 90 m with ``clouds`` cold cloud blobs, deterministic by seed."""
    scene = PorphyryScene()
    x, y = scene_grid(scene, side_m, pixel_m)
    obs = scene.observe(x, y, 137.0, 64.0, np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    h, w = x.shape
    rows, cols = np.mgrid[0:h, 0:w]
    frac = np.zeros((h, w))
    top = np.full((h, w), np.nan)
    for _ in range(clouds):
        r0, c0 = rng.integers(0, h), rng.integers(0, w)
        radius = rng.uniform(4, 14)
        blob = np.clip(1.5 - np.hypot(rows - r0, cols - c0) / radius, 0.0, 1.0)
        t_top = GROUND_K - LAPSE_K_PER_KM * rng.uniform(2.0, 8.0)
        top = np.where(blob > frac, t_top, top)
        frac = np.maximum(frac, blob)
    brightness = rng.uniform(0.95, 1.1, (h, w)).astype(np.float32)
    refl = obs["reflectance"] * (1 - frac) + (CLOUD_REFLECTANCE[:, None, None] * brightness) * frac
    ground_bt = obs["temperature"] - EMISSIVITY_DROP_K
    bt13 = np.where(frac > 0, ground_bt * (1 - frac) + np.nan_to_num(top) * frac, ground_bt)
    return CloudyScene(scene, refl.astype(np.float32), bt13.astype(np.float32), frac, obs["abundances"])


def bright_ground(scene: PorphyryScene, abundances: np.ndarray) -> np.ndarray:
    """Playa (halite + gypsum >= 50 %), gypsum >= 30 % and argillic (kaolinite + alunite >= 30 %)."""
    n = scene.material_names
    playa = abundances[n.index("halite")] + abundances[n.index("gypsum")] >= 0.5
    argillic = abundances[n.index("kaolinite")] + abundances[n.index("alunite")] >= 0.3
    return playa | (abundances[n.index("gypsum")] >= 0.3) | argillic
