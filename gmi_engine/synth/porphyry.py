"""A zoned porphyry-copper scene on relief: linear mixtures of library-shaped endmembers.

The alteration follows the Lowell & Guilbert (1970) model: a potassic core, a phyllic
(sericite/muscovite) shell with a limonite gossan, an argillic (kaolinite) ring with an alunite
advanced-argillic cap on one flank, and a propylitic (chlorite, epidote, calcite) halo in
unaltered host rock. Valleys fill with alluvium, a halite/gypsum playa and a lake lie in basins,
and vegetation follows the drainages. Zone boundaries are warped by seeded multi-scale noise, and
every pixel is a linear mixture whose abundances are returned by :meth:`PorphyryScene.abundances_at_xy`.

Like :class:`~gmi_engine.synth.scene.SurfaceScene` the truth is a pure function of EPSG:3857
position (and the seed), so overlapping granules see the same ground. Spectra are read from
``data/aster_endmembers.csv`` (approximate band values; its header gives the sources and status).
The DEM (>= 1.5 km relief) gives Lambertian topographic illumination ``cos i`` for any sun.
Sensor noise uses ASTER's specified noise-equivalent reflectance (Yamaguchi et al. 1998, IEEE TGRS
36(4): NE delta rho <= 0.5 % for bands 1-4, <= 1.3 % for bands 5-9; NE delta T <= 0.3 K for TIR).
"""
from __future__ import annotations

import csv
import io
import json
import math
import pkgutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
from pyproj import Transformer

ENDMEMBER_RESOURCE = "data/aster_endmembers.csv"
#: Noise-equivalent reflectance per band (1-sigma), B1..B9 (Yamaguchi et al. 1998 specification).
NE_DELTA_RHO = (0.005, 0.005, 0.005, 0.005, 0.013, 0.013, 0.013, 0.013, 0.013)
NE_DELTA_T = 0.3
#: Isotropic diffuse fraction of the irradiance (a model assumption, not a measurement).
DIFFUSE_FRACTION = 0.1
ZONES = ("potassic", "phyllic", "argillic", "advanced_argillic", "propylitic", "host",
         "alluvium", "playa", "water", "vegetation")

_TO_MERC = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


def load_endmembers() -> Dict[str, Tuple[float, ...]]:
    """Material name -> 9-band reflectance, in file order, from the packaged CSV."""
    raw = pkgutil.get_data("gmi_engine.synth", ENDMEMBER_RESOURCE)
    if raw is None:  # pragma: no cover - packaging error
        raise FileNotFoundError("gmi_engine/synth/" + ENDMEMBER_RESOURCE)
    lines = [line for line in raw.decode("utf-8").splitlines() if line and not line.startswith("#")]
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    return {row[0]: tuple(float(v) for v in row[1:10]) for row in rows[1:]}


ENDMEMBERS = load_endmembers()

# Zone mixtures (abundance of each endmember; the rest of each row is host rock).
_ZONE_MIX = {
    "potassic": {"potassic": 0.70, "muscovite": 0.10},
    "phyllic": {"muscovite": 0.55, "potassic": 0.05},
    "argillic": {"kaolinite": 0.55, "muscovite": 0.15},
    "advanced_argillic": {"alunite": 0.55, "kaolinite": 0.20},
    "propylitic": {"chlorite": 0.25, "epidote": 0.15, "calcite": 0.38},
    "host": {},
}


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class PorphyryScene:
    """The porphyry system around ``centre_lonlat``; all lengths in EPSG:3857 metres."""

    seed: int = 16
    centre_lonlat: tuple = (-108.07, 32.793)
    system_radius_m: float = 6000.0
    base_m: float = 1300.0
    relief_m: float = 1900.0
    playa_offset_m: tuple = (-13000.0, -9000.0)
    playa_radius_m: float = 3500.0
    lake_offset_m: tuple = (11000.0, -10000.0)
    lake_radius_m: float = 1600.0
    kind: str = "porphyry"

    @property
    def material_names(self) -> list:
        """Endmember names in code order."""
        return list(ENDMEMBERS)

    @property
    def spectra(self) -> np.ndarray:
        """(n_endmembers, 9) float32 reflectance table."""
        return np.array([ENDMEMBERS[m] for m in self.material_names], dtype=np.float32)

    @property
    def centre_xy(self) -> tuple:
        """System centre in EPSG:3857."""
        return _TO_MERC.transform(*self.centre_lonlat)

    def _noise(self, x: np.ndarray, y: np.ndarray, salt: int, wavelengths=(9000.0, 4100.0, 1700.0, 700.0)
               ) -> np.ndarray:
        """Seeded smooth noise in about [-1, 1]: random-phase, random-direction plane waves."""
        rng = np.random.default_rng([self.seed, salt])
        out = np.zeros(np.broadcast(x, y).shape, dtype=np.float64)
        total = 0.0
        for wl in wavelengths:
            amp = (wl / wavelengths[0]) ** 0.6
            for _ in range(5):
                theta, phase = rng.uniform(0, 2 * np.pi, 2)
                wl = wl * rng.uniform(0.8, 1.25)
                k = 2 * np.pi / wl
                out += amp * np.sin(k * (x * math.cos(theta) + y * math.sin(theta)) + phase)
                total += amp
        return out / (0.5 * total)

    def _local(self, x, y) -> tuple:
        cx, cy = self.centre_xy
        return np.asarray(x, dtype=np.float64) - cx, np.asarray(y, dtype=np.float64) - cy

    def _basin(self, dx, dy, offset, radius, salt) -> np.ndarray:
        """1 inside an irregular basin, 0 outside, smooth over ~15 % of the radius."""
        r = np.hypot(dx - offset[0], dy - offset[1]) / radius
        r = r * (1.0 + 0.15 * self._noise(dx, dy, salt, (3000.0, 1200.0, 500.0)))
        return 1.0 - _smoothstep((r - 0.9) / 0.2)

    def elevation_at_xy(self, x, y) -> np.ndarray:
        """Terrain height (m, float64): a rugged range over the system, flat basins."""
        dx, dy = self._local(x, y)
        r = np.hypot(dx - 1500.0, dy - 2500.0) / (2.4 * self.system_radius_m)
        massif = np.exp(-r * r)
        rugged = 0.5 + 0.5 * self._noise(dx, dy, 1, (6000.0, 2500.0, 1100.0, 450.0))
        height = self.base_m + self.relief_m * massif * (0.55 + 0.45 * rugged) \
            + 120.0 * self._noise(dx, dy, 2, (12000.0, 5000.0))
        for offset, radius, salt in ((self.playa_offset_m, self.playa_radius_m, 3),
                                     (self.lake_offset_m, self.lake_radius_m, 4)):
            w = self._basin(dx, dy, offset, radius * 1.6, salt)
            height = height * (1 - w) + (self.base_m - 60.0) * w
        return height

    def elevation_at_lonlat(self, lon, lat) -> np.ndarray:
        """Terrain height at geographic coordinates."""
        x, y = _TO_MERC.transform(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        return self.elevation_at_xy(x, y)

    def zone_weights_at_xy(self, x, y) -> Dict[str, np.ndarray]:
        """Soft membership (0..1, summing to 1) of each name in :data:`ZONES`."""
        dx, dy = self._local(x, y)
        r = np.hypot(dx, dy) / self.system_radius_m
        r = r * (1.0 + 0.22 * self._noise(dx, dy, 5))
        edges = (0.30, 0.55, 0.75, 1.25)
        width = 0.06
        up = [_smoothstep((r - e + width) / (2 * width)) for e in edges]
        w = {"potassic": 1 - up[0], "phyllic": up[0] - up[1], "argillic": up[1] - up[2],
             "propylitic": up[2] - up[3], "host": up[3]}
        # advanced-argillic cap: a lobe on the north-east flank, replacing argillic/phyllic
        cap_r = np.hypot(dx - 0.55 * self.system_radius_m, dy - 0.45 * self.system_radius_m) \
            / (0.32 * self.system_radius_m) * (1.0 + 0.25 * self._noise(dx, dy, 6, (2500.0, 900.0)))
        cap = 1.0 - _smoothstep((cap_r - 0.85) / 0.3)
        w["advanced_argillic"] = cap * (1 - w["host"])
        for key in ("potassic", "phyllic", "argillic", "propylitic"):
            w[key] = w[key] * (1 - cap)
        # surface cover: alluvium in the low ground, the playa, the lake, drainage vegetation
        height = self.elevation_at_xy(x, y)
        low = 1.0 - _smoothstep((height - self.base_m - 80.0) / 250.0)
        alluvium = low * (0.6 + 0.4 * (0.5 + 0.5 * self._noise(dx, dy, 7, (2000.0, 800.0))))
        playa = self._basin(dx, dy, self.playa_offset_m, self.playa_radius_m, 8)
        water = self._basin(dx, dy, self.lake_offset_m, self.lake_radius_m, 9)
        channel = np.abs(self._noise(dx, dy, 10, (5000.0, 2200.0, 900.0)))
        vegetation = (1.0 - _smoothstep(channel / 0.08)) * (1.0 - _smoothstep((height - 2600.0) / 300.0))
        vegetation = 0.6 * vegetation * (1 - playa) * (1 - water)
        alluvium = alluvium * (1 - playa) * (1 - water) * (1 - vegetation)
        rock = (1 - playa) * (1 - water) * (1 - vegetation) * (1 - alluvium)
        out = {key: w[key] * rock for key in _ZONE_MIX}
        out.update(alluvium=alluvium, playa=playa * (1 - water), water=water, vegetation=vegetation)
        return out

    def abundances_at_xy(self, x, y) -> np.ndarray:
        """Endmember abundances, shape ``(n_endmembers,) + x.shape`` float32, summing to 1."""
        dx, dy = self._local(x, y)
        zones = self.zone_weights_at_xy(x, y)
        names = self.material_names
        ab = {m: np.zeros(np.broadcast(dx, dy).shape) for m in names}
        jitter = {m: 1.0 + 0.25 * self._noise(dx, dy, 20 + i, (1500.0, 600.0, 250.0))
                  for i, m in enumerate(("muscovite", "kaolinite", "alunite", "calcite", "chlorite"))}
        gossan = 0.5 + 0.5 * self._noise(dx, dy, 30, (2500.0, 1000.0))
        for zone, mix in _ZONE_MIX.items():
            weight = zones[zone]
            rest = 1.0
            for m, f in mix.items():
                part = f * jitter.get(m, 1.0)
                ab[m] += weight * part
                rest -= part
            if zone == "phyllic":  # limonite gossan over the phyllic shell
                lim = 0.05 + 0.30 * gossan
                ab["limonite"] += weight * lim
                rest = rest - lim
            ab["host"] += weight * np.maximum(rest, 0.0)
        ab["alluvium"] += zones["alluvium"]
        salt = 0.5 + 0.3 * self._noise(dx, dy, 31, (1500.0, 500.0))
        ab["halite"] += zones["playa"] * 0.9 * salt
        ab["gypsum"] += zones["playa"] * 0.9 * (1 - salt)
        ab["alluvium"] += zones["playa"] * 0.1
        ab["water"] += zones["water"]
        ab["vegetation"] += zones["vegetation"]
        stack = np.stack([np.maximum(ab[m], 0.0) for m in names])
        stack /= np.maximum(stack.sum(axis=0), 1e-9)
        return stack.astype(np.float32)

    def material_at_xy(self, x, y) -> np.ndarray:
        """Dominant endmember code (uint8)."""
        return np.argmax(self.abundances_at_xy(x, y), axis=0).astype(np.uint8)

    def texture_at_xy(self, x, y) -> np.ndarray:
        """Brightness factor: 1 (all variation is in the abundances and the illumination)."""
        return np.ones(np.broadcast(np.asarray(x), np.asarray(y)).shape, dtype=np.float32)

    def reflectance_at_xy(self, x, y) -> np.ndarray:
        """Flat-terrain surface reflectance ``(9,) + x.shape`` float32: the linear mixture."""
        ab = self.abundances_at_xy(x, y)
        return np.tensordot(self.spectra.T, ab, axes=1).astype(np.float32)

    def reflectance_at_lonlat(self, lon, lat) -> np.ndarray:
        """Surface reflectance at geographic coordinates."""
        x, y = _TO_MERC.transform(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        return self.reflectance_at_xy(x, y)

    def cos_incidence_at_xy(self, x, y, sun_azimuth: float, sun_elevation: float) -> np.ndarray:
        """cos of the solar incidence angle on the terrain (may be < 0 in self-shadow)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        step = 15.0
        scale = math.cos(math.radians(self.centre_lonlat[1]))  # EPSG:3857 metres -> ground metres
        dzdx = (self.elevation_at_xy(x + step, y) - self.elevation_at_xy(x - step, y)) / (2 * step * scale)
        dzdy = (self.elevation_at_xy(x, y + step) - self.elevation_at_xy(x, y - step)) / (2 * step * scale)
        zen = math.radians(90.0 - sun_elevation)
        az = math.radians(sun_azimuth)
        # the unit normal is (-dzdx, -dzdy, 1)/n; the sun vector is (sin z sin az, sin z cos az, cos z)
        norm = np.sqrt(1.0 + dzdx * dzdx + dzdy * dzdy)
        return (math.cos(zen) - dzdx * math.sin(zen) * math.sin(az)
                - dzdy * math.sin(zen) * math.cos(az)) / norm

    def illumination_factor(self, cos_i: np.ndarray, sun_elevation: float) -> np.ndarray:
        """Apparent / flat reflectance: direct beam ``cos i / cos z`` plus the diffuse fraction."""
        cos_z = math.cos(math.radians(90.0 - sun_elevation))
        return (1 - DIFFUSE_FRACTION) * np.maximum(cos_i, 0.0) / cos_z + DIFFUSE_FRACTION

    def temperature_at_xy(self, x, y, cos_i: np.ndarray, sun_elevation: float) -> np.ndarray:
        """Daytime surface kinetic temperature (K): a simple energy-balance-shaped model.

        305 K on flat ground of albedo 0.2 at 1500 m, -6.5 K/km lapse rate, +12 K per unit of
        (cos i - cos z), -20 K per unit albedo, water 293 K, vegetation -8 K (model assumptions).
        """
        ab = self.abundances_at_xy(x, y)
        albedo = np.tensordot(self.spectra.mean(axis=1), ab, axes=1)
        cos_z = math.cos(math.radians(90.0 - sun_elevation))
        height = self.elevation_at_xy(x, y)
        names = self.material_names
        temp = 305.0 - 6.5e-3 * (height - 1500.0) + 12.0 * (cos_i - cos_z) - 20.0 * (albedo - 0.2)
        temp = temp - 8.0 * ab[names.index("vegetation")]
        w = ab[names.index("water")]
        return temp * (1 - w) + 293.0 * w

    def observe(self, x, y, sun_azimuth: float, sun_elevation: float,
                rng: np.random.Generator) -> Dict[str, np.ndarray]:
        """Apparent surface reflectance with relief and ASTER sensor noise, plus its truth.

        Returns ``reflectance`` (9, ...) float32 and ``temperature`` (K, with NE delta T noise),
        and the truth ``abundances``, ``elevation``, ``cos_i``.
        """
        cos_i = self.cos_incidence_at_xy(x, y, sun_azimuth, sun_elevation)
        flat = self.reflectance_at_xy(x, y)
        refl = flat * self.illumination_factor(cos_i, sun_elevation)[None].astype(np.float32)
        noise = rng.standard_normal(refl.shape).astype(np.float32)
        refl = refl + noise * np.asarray(NE_DELTA_RHO, dtype=np.float32).reshape((9,) + (1,) * (refl.ndim - 1))
        temp = self.temperature_at_xy(x, y, cos_i, sun_elevation)
        temp = temp + NE_DELTA_T * rng.standard_normal(temp.shape)
        return {"reflectance": refl.astype(np.float32), "temperature": temp.astype(np.float32),
                "abundances": self.abundances_at_xy(x, y), "elevation": self.elevation_at_xy(x, y),
                "cos_i": cos_i.astype(np.float32)}

    def to_json(self) -> str:
        """Serialise the scene parameters (with ``kind`` = "porphyry")."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "PorphyryScene":
        """Inverse of :meth:`to_json`."""
        d = json.loads(text)
        for key in ("centre_lonlat", "playa_offset_m", "lake_offset_m"):
            d[key] = tuple(d[key])
        return cls(**d)


def scene_grid(scene: PorphyryScene, half_width_m: float, pixel_m: float) -> tuple:
    """EPSG:3857 pixel-centre coordinates ``(x, y)`` (2-D) of a square around the system centre."""
    cx, cy = scene.centre_xy
    n = int(round(2 * half_width_m / pixel_m))
    offsets = (np.arange(n) + 0.5) * pixel_m - half_width_m
    return np.meshgrid(cx + offsets, cy - offsets)


def write_scene_truth(path, scene: PorphyryScene, observed: Dict[str, np.ndarray], x, y) -> Path:
    """Save ``observed`` truth arrays (abundances, elevation, cos_i, temperature) + scene JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, x=np.asarray(x), y=np.asarray(y), materials=np.array(scene.material_names),
                        **{k: v for k, v in observed.items()})
    path.with_suffix(".json").write_text(scene.to_json())
    return path
