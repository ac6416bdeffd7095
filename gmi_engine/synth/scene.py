"""The synthetic ground truth: surface reflectance as a pure function of position.

A scene is a mosaic of square patches laid on EPSG:3857 coordinates; each patch is one material
with a known 9-band ASTER surface-reflectance spectrum, modulated by a gentle km-scale brightness
texture. Because the truth depends on position only, two overlapping granules (or a MODIS pixel)
see the same ground, and tests can evaluate the truth on any grid.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np
from pyproj import Transformer

# 9-band (B1, B2, B3N, B4..B9) surface reflectance of each material. Shapes follow the diagnostic
# features of USGS library spectra resampled to ASTER: kaolinite's 2.165/2.205 µm doublet (low B5,
# B6), alunite's 2.17 and 2.32 µm features (low B5, B8), calcite's 2.335 µm feature (low B8),
# ferric iron's blue-green absorption (low B1), vegetation's red edge and water's dark SWIR.
MATERIALS: dict = {
    "background": (0.16, 0.21, 0.25, 0.33, 0.31, 0.30, 0.29, 0.28, 0.27),
    "kaolinite": (0.45, 0.52, 0.56, 0.62, 0.46, 0.44, 0.55, 0.53, 0.50),
    "alunite": (0.40, 0.46, 0.50, 0.55, 0.38, 0.47, 0.50, 0.42, 0.44),
    "calcite": (0.35, 0.38, 0.40, 0.45, 0.43, 0.42, 0.41, 0.30, 0.38),
    "hematite_soil": (0.10, 0.22, 0.30, 0.36, 0.33, 0.32, 0.31, 0.30, 0.29),
    "vegetation": (0.07, 0.05, 0.38, 0.22, 0.13, 0.12, 0.11, 0.10, 0.09),
    "water": (0.05, 0.03, 0.015, 0.008, 0.006, 0.006, 0.005, 0.005, 0.005),
}
DEFAULT_WEIGHTS: dict = {
    "background": 0.36, "kaolinite": 0.12, "alunite": 0.10, "calcite": 0.10,
    "hematite_soil": 0.12, "vegetation": 0.12, "water": 0.08,
}

_TO_MERC = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


@dataclass(frozen=True)
class SurfaceScene:
    """Patchwork of materials on EPSG:3857 coordinates with a smooth brightness texture."""

    seed: int = 2006
    patch_m: float = 720.0
    texture_amplitude: float = 0.04
    texture_wavelength_m: tuple = (7300.0, 5100.0)
    materials: dict = field(default_factory=lambda: dict(MATERIALS))
    weights: dict = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    @property
    def material_names(self) -> list:
        """Material names in code order (code i = ``material_names[i]``)."""
        return list(self.materials)

    @property
    def spectra(self) -> np.ndarray:
        """(n_materials, 9) float32 reflectance table."""
        return np.array([self.materials[m] for m in self.material_names], dtype=np.float32)

    def material_at_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Material code (uint8) at EPSG:3857 coordinates."""
        cx = np.floor(np.asarray(x, dtype=np.float64) / self.patch_m).astype(np.int64)
        cy = np.floor(np.asarray(y, dtype=np.float64) / self.patch_m).astype(np.int64)
        h = (cx * 73856093) ^ (cy * 19349663) ^ (self.seed * 83492791)
        h = (h ^ (h >> 13)) * 1274126177
        u = ((h ^ (h >> 16)) & 0xFFFFFF).astype(np.float64) / float(0x1000000)
        w = np.array([self.weights.get(m, 0.0) for m in self.material_names], dtype=np.float64)
        edges = np.cumsum(w / w.sum())
        return np.minimum(np.searchsorted(edges, u, side="right"), len(w) - 1).astype(np.uint8)

    def texture_at_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Multiplicative brightness factor (float32, 1 ± amplitude)."""
        wx, wy = self.texture_wavelength_m
        t = np.sin(2 * np.pi * np.asarray(x) / wx) * np.cos(2 * np.pi * np.asarray(y) / wy)
        return (1.0 + self.texture_amplitude * t).astype(np.float32)

    def reflectance_at_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Surface reflectance, shape (9,) + x.shape, float32."""
        codes = self.material_at_xy(x, y)
        refl = self.spectra[codes]  # (..., 9)
        refl = refl * self.texture_at_xy(x, y)[..., None]
        return np.moveaxis(refl, -1, 0)

    def edge_distance_at_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Distance in EPSG:3857 metres to the nearest patch boundary."""
        fx = np.mod(np.asarray(x, dtype=np.float64), self.patch_m)
        fy = np.mod(np.asarray(y, dtype=np.float64), self.patch_m)
        return np.minimum(np.minimum(fx, self.patch_m - fx), np.minimum(fy, self.patch_m - fy))

    def reflectance_at_lonlat(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Surface reflectance at geographic coordinates, shape (9,) + lon.shape."""
        x, y = _TO_MERC.transform(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        return self.reflectance_at_xy(x, y)

    def to_json(self) -> str:
        """Serialise the scene parameters (enough to rebuild the truth anywhere).

        Materials are a list of [name, spectrum] pairs: their order defines the material codes,
        so it must survive JSON writers that sort object keys.
        """
        d = asdict(self)
        d["materials"] = [[name, list(spec)] for name, spec in self.materials.items()]
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> "SurfaceScene":
        """Inverse of :meth:`to_json`."""
        d = json.loads(text)
        d["texture_wavelength_m"] = tuple(d["texture_wavelength_m"])
        d["materials"] = {name: tuple(spec) for name, spec in d["materials"]}
        return cls(**d)
