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
from functools import cached_property
from pathlib import Path
from typing import Callable, Dict, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from pyproj import Transformer

from gmi_engine.errors import GmiInputError

ENDMEMBER_RESOURCE = "data/aster_endmembers.csv"
#: Noise-equivalent reflectance per band (1-sigma), B1..B9 (Yamaguchi et al. 1998 specification).
NE_DELTA_RHO = (0.005, 0.005, 0.005, 0.005, 0.013, 0.013, 0.013, 0.013, 0.013)
NE_DELTA_T = 0.3
#: Isotropic diffuse fraction of the irradiance (a model assumption, not a measurement).
DIFFUSE_FRACTION = 0.1
ZONES = ("potassic", "phyllic", "argillic", "advanced_argillic", "propylitic", "host",
         "alluvium", "playa", "water", "vegetation")

WAVELENGTHS = (9000.0, 4100.0, 1700.0, 700.0)
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
    lake_offset_m: tuple = (8000.0, -12000.0)
    lake_radius_m: float = 1600.0
    #: Spacing (EPSG:3857 m) of the lattice the fields are evaluated on; bilinear in between.
    lattice_m: float = 45.0
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

    def _waves(self, salt: int, wavelengths: Sequence[float]) -> tuple:
        """The seeded plane waves of one noise field: (amplitude, kx, ky, phase) arrays, norm."""
        rng = np.random.default_rng([self.seed, salt])
        amps, kxs, kys, phases = [], [], [], []
        total = 0.0
        for wl in wavelengths:
            amp = (wl / wavelengths[0]) ** 0.6
            for _ in range(5):
                theta, phase = rng.uniform(0, 2 * np.pi, 2)
                wl = wl * rng.uniform(0.8, 1.25)
                k = 2 * np.pi / wl
                amps.append(amp)
                kxs.append(k * math.cos(theta))
                kys.append(k * math.sin(theta))
                phases.append(phase)
                total += amp
        return np.array(amps), np.array(kxs), np.array(kys), np.array(phases), 0.5 * total

    def _noise(self, x: np.ndarray, y: np.ndarray, salt: int, wavelengths=WAVELENGTHS) -> np.ndarray:
        """Seeded smooth noise in about [-1, 1] at points: random-phase, random-direction plane waves."""
        amps, kxs, kys, phases, norm = self._waves(salt, wavelengths)
        out = np.zeros(np.broadcast(x, y).shape, dtype=np.float64)
        for amp, kx, ky, phase in zip(amps, kxs, kys, phases):
            out += amp * np.sin(kx * x + ky * y + phase)
        return out / norm

    def _noise_lattice(self, xs: np.ndarray, ys: np.ndarray, salt: int, wavelengths=WAVELENGTHS
                       ) -> np.ndarray:
        """:meth:`_noise` on the lattice ``ys[:, None], xs[None, :]`` as ONE matrix product.

        ``sin(kx x + ky y + p) = sin(kx x + p) cos(ky y) + cos(kx x + p) sin(ky y)``: every wave
        is separable, so the field is ``Y @ X`` with ``X`` the (2 waves, nx) x-factors and ``Y``
        the (ny, 2 waves) y-factors: 2 sines per node row/column instead of one per node and wave.
        """
        amps, kxs, kys, phases, norm = self._waves(salt, wavelengths)
        ax = kxs[:, None] * np.asarray(xs, dtype=np.float64).ravel()[None, :] + phases[:, None]
        by = kys[:, None] * np.asarray(ys, dtype=np.float64).ravel()[None, :]
        x_factors = np.concatenate([np.sin(ax), np.cos(ax)])
        y_factors = np.concatenate([np.cos(by) * amps[:, None], np.sin(by) * amps[:, None]]).T
        return (y_factors @ x_factors) / norm

    def _local(self, x, y) -> tuple:
        cx, cy = self.centre_xy
        return np.asarray(x, dtype=np.float64) - cx, np.asarray(y, dtype=np.float64) - cy

    def _points(self, x, y) -> "_Where":
        dx, dy = self._local(x, y)
        dx, dy = np.broadcast_arrays(dx, dy)
        return _Where(dx, dy, lambda salt, wl=WAVELENGTHS: self._noise(dx, dy, salt, wl))

    def _lattice(self, xs, ys) -> "_Where":
        cx, cy = self.centre_xy
        lx = np.asarray(xs, dtype=np.float64) - cx
        ly = np.asarray(ys, dtype=np.float64) - cy
        return _Where(lx[None, :], ly[:, None], lambda salt, wl=WAVELENGTHS: self._noise_lattice(lx, ly, salt, wl))

    def _basin(self, at: "_Where", offset, radius, salt) -> np.ndarray:
        """1 inside an irregular basin, 0 outside, smooth over ~15 % of the radius."""
        r = np.hypot(at.dx - offset[0], at.dy - offset[1]) / radius
        r = r * (1.0 + 0.15 * at.noise(salt, (3000.0, 1200.0, 500.0)))
        return 1.0 - _smoothstep((r - 0.9) / 0.2)

    def _elevation(self, at: "_Where") -> np.ndarray:
        """Terrain height (m, float64): a rugged range over the system, flat basins."""
        r = np.hypot(at.dx - 1500.0, at.dy - 2500.0) / (2.4 * self.system_radius_m)
        massif = np.exp(-r * r)
        rugged = 0.5 + 0.5 * at.noise(1, (6000.0, 2500.0, 1100.0, 450.0))
        height = self.base_m + self.relief_m * massif * (0.55 + 0.45 * rugged) \
            + 120.0 * at.noise(2, (12000.0, 5000.0))
        for offset, radius, salt in ((self.playa_offset_m, self.playa_radius_m, 3),
                                     (self.lake_offset_m, self.lake_radius_m, 4)):
            w = self._basin(at, offset, radius * 1.6, salt)
            height = height * (1 - w) + (self.base_m - 60.0) * w
        return height

    def _zones(self, at: "_Where", height: np.ndarray) -> Dict[str, np.ndarray]:
        """Soft membership (0..1, summing to 1) of each name in :data:`ZONES`."""
        dx, dy = at.dx, at.dy
        r = np.hypot(dx, dy) / self.system_radius_m
        r = r * (1.0 + 0.22 * at.noise(5))
        edges = (0.30, 0.55, 0.75, 1.25)
        width = 0.06
        up = [_smoothstep((r - e + width) / (2 * width)) for e in edges]
        w = {"potassic": 1 - up[0], "phyllic": up[0] - up[1], "argillic": up[1] - up[2],
             "propylitic": up[2] - up[3], "host": up[3]}
        # advanced-argillic cap: a lobe on the north-east flank, replacing argillic/phyllic
        cap_r = np.hypot(dx - 0.55 * self.system_radius_m, dy - 0.45 * self.system_radius_m) \
            / (0.32 * self.system_radius_m) * (1.0 + 0.25 * at.noise(6, (2500.0, 900.0)))
        cap = 1.0 - _smoothstep((cap_r - 0.85) / 0.3)
        w["advanced_argillic"] = cap * (1 - w["host"])
        for key in ("potassic", "phyllic", "argillic", "propylitic"):
            w[key] = w[key] * (1 - cap)
        # surface cover: alluvium in the low ground, the playa, the lake, drainage vegetation
        low = 1.0 - _smoothstep((height - self.base_m - 80.0) / 250.0)
        alluvium = low * (0.6 + 0.4 * (0.5 + 0.5 * at.noise(7, (2000.0, 800.0))))
        playa = self._basin(at, self.playa_offset_m, self.playa_radius_m, 8)
        water = self._basin(at, self.lake_offset_m, self.lake_radius_m, 9)
        channel = np.abs(at.noise(10, (5000.0, 2200.0, 900.0)))
        vegetation = (1.0 - _smoothstep(channel / 0.08)) * (1.0 - _smoothstep((height - 2600.0) / 300.0))
        vegetation = 0.6 * vegetation * (1 - playa) * (1 - water)
        alluvium = alluvium * (1 - playa) * (1 - water) * (1 - vegetation)
        rock = (1 - playa) * (1 - water) * (1 - vegetation) * (1 - alluvium)
        out = {key: w[key] * rock for key in _ZONE_MIX}
        out.update(alluvium=alluvium, playa=playa * (1 - water), water=water, vegetation=vegetation)
        return out

    def _abundances(self, at: "_Where", height: np.ndarray) -> np.ndarray:
        """Endmember abundances, shape ``(n_endmembers,) + shape`` float32, summing to 1."""
        zones = self._zones(at, height)
        names = self.material_names
        shape = np.broadcast(at.dx, at.dy).shape
        ab = {m: np.zeros(shape) for m in names}
        jitter = {m: 1.0 + 0.25 * at.noise(20 + i, (1500.0, 600.0, 250.0))
                  for i, m in enumerate(("muscovite", "kaolinite", "alunite", "calcite", "chlorite"))}
        gossan = 0.5 + 0.5 * at.noise(30, (2500.0, 1000.0))
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
        salt = 0.5 + 0.3 * at.noise(31, (1500.0, 500.0))
        ab["halite"] += zones["playa"] * 0.9 * salt
        ab["gypsum"] += zones["playa"] * 0.9 * (1 - salt)
        ab["alluvium"] += zones["playa"] * 0.1
        ab["water"] += zones["water"]
        ab["vegetation"] += zones["vegetation"]
        stack = np.stack([np.maximum(ab[m], 0.0) for m in names])
        stack /= np.maximum(stack.sum(axis=0), 1e-9)
        return stack.astype(np.float32)

    # -- exact point evaluation (slow: about 20 sines per point and noise field) ------------------

    def elevation_exact(self, x, y) -> np.ndarray:
        """Terrain height at points, evaluated directly (the lattice nodes take these values)."""
        return self._elevation(self._points(x, y))

    def abundances_exact(self, x, y) -> np.ndarray:
        """Abundances at points, evaluated directly (the lattice nodes take these values)."""
        at = self._points(x, y)
        return self._abundances(at, self._elevation(at))

    # -- the truth: the exact fields on a lattice anchored to EPSG:3857, bilinear in between -----

    def patch(self, xmin: float, ymin: float, xmax: float, ymax: float) -> "ScenePatch":
        """The lattice nodes covering the box (plus a margin), evaluated once."""
        return ScenePatch.build(self, xmin, ymin, xmax, ymax)

    def _patch_for(self, x, y) -> "ScenePatch":
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        return self.patch(float(x.min()), float(y.min()), float(x.max()), float(y.max()))

    def elevation_at_xy(self, x, y) -> np.ndarray:
        """Terrain height (m, float64) at EPSG:3857 points."""
        return self._patch_for(x, y).elevation_at(x, y)

    def elevation_at_lonlat(self, lon, lat) -> np.ndarray:
        """Terrain height at geographic coordinates."""
        x, y = _TO_MERC.transform(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        return self.elevation_at_xy(x, y)

    def zone_weights_at_xy(self, x, y) -> Dict[str, np.ndarray]:
        """Soft membership (0..1, summing to 1) of each name in :data:`ZONES` (exact, at points)."""
        at = self._points(x, y)
        return self._zones(at, self._elevation(at))

    def abundances_at_xy(self, x, y) -> np.ndarray:
        """Endmember abundances, shape ``(n_endmembers,) + x.shape`` float32, summing to 1."""
        return self._patch_for(x, y).abundances_at(x, y)

    def material_at_xy(self, x, y) -> np.ndarray:
        """Dominant endmember code (uint8)."""
        return np.argmax(self.abundances_at_xy(x, y), axis=0).astype(np.uint8)

    def texture_at_xy(self, x, y) -> np.ndarray:
        """Brightness factor: 1 (all variation is in the abundances and the illumination)."""
        return np.ones(np.broadcast(np.asarray(x), np.asarray(y)).shape, dtype=np.float32)

    def reflectance_at_xy(self, x, y) -> np.ndarray:
        """Flat-terrain surface reflectance ``(9,) + x.shape`` float32: the linear mixture."""
        return self._patch_for(x, y).reflectance_at(x, y)

    def reflectance_at_lonlat(self, lon, lat) -> np.ndarray:
        """Surface reflectance at geographic coordinates."""
        x, y = _TO_MERC.transform(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        return self.reflectance_at_xy(x, y)

    def cos_incidence_at_xy(self, x, y, sun_azimuth: float, sun_elevation: float) -> np.ndarray:
        """cos of the solar incidence angle on the terrain (may be < 0 in self-shadow)."""
        patch = self._patch_for(x, y)
        return patch.sample(patch.cos_incidence(sun_azimuth, sun_elevation), x, y)

    def illumination_factor(self, cos_i: np.ndarray, sun_elevation: float) -> np.ndarray:
        """Apparent / flat reflectance: direct beam ``cos i / cos z`` plus the diffuse fraction."""
        cos_z = math.cos(math.radians(90.0 - sun_elevation))
        return (1 - DIFFUSE_FRACTION) * np.maximum(cos_i, 0.0) / cos_z + DIFFUSE_FRACTION

    def temperature_model(self, ab: np.ndarray, height: np.ndarray, cos_i: np.ndarray,
                          sun_elevation: float) -> np.ndarray:
        """Daytime surface kinetic temperature (K): a simple energy-balance-shaped model.

        305 K on flat ground of albedo 0.2 at 1500 m, -6.5 K/km lapse rate, +12 K per unit of
        (cos i - cos z), -20 K per unit albedo, water 293 K, vegetation -8 K (model assumptions).
        """
        albedo = np.tensordot(self.spectra.mean(axis=1), ab, axes=1)
        cos_z = math.cos(math.radians(90.0 - sun_elevation))
        names = self.material_names
        temp = 305.0 - 6.5e-3 * (height - 1500.0) + 12.0 * (cos_i - cos_z) - 20.0 * (albedo - 0.2)
        temp = temp - 8.0 * ab[names.index("vegetation")]
        w = ab[names.index("water")]
        return temp * (1 - w) + 293.0 * w

    def temperature_at_xy(self, x, y, cos_i: np.ndarray, sun_elevation: float) -> np.ndarray:
        """:meth:`temperature_model` at points, for a given ``cos_i`` there."""
        patch = self._patch_for(x, y)
        return self.temperature_model(patch.abundances_at(x, y), patch.elevation_at(x, y), cos_i,
                                      sun_elevation)

    def observe(self, x, y, sun_azimuth: float, sun_elevation: float,
                rng: np.random.Generator) -> Dict[str, np.ndarray]:
        """Apparent surface reflectance with relief and ASTER sensor noise, plus its truth.

        Returns ``reflectance`` (9, ...) float32 and ``temperature`` (K, with NE delta T noise),
        and the truth ``abundances``, ``elevation``, ``cos_i``.
        """
        patch = self._patch_for(x, y)
        weights = patch.weights(x, y)
        cos_i = patch.sample(patch.cos_incidence(sun_azimuth, sun_elevation), x, y, weights)
        ab = patch.sample(patch.abundances, x, y, weights)
        height = patch.sample(patch.elevation, x, y, weights)
        flat = np.tensordot(self.spectra.T, ab, axes=1).astype(np.float32)
        refl = flat * self.illumination_factor(cos_i, sun_elevation)[None].astype(np.float32)
        noise = rng.standard_normal(refl.shape).astype(np.float32)
        refl = refl + noise * np.asarray(NE_DELTA_RHO, dtype=np.float32).reshape((9,) + (1,) * (refl.ndim - 1))
        temp = self.temperature_model(ab, height, cos_i, sun_elevation)
        temp = temp + NE_DELTA_T * rng.standard_normal(temp.shape)
        return {"reflectance": refl.astype(np.float32), "temperature": temp.astype(np.float32),
                "abundances": ab, "elevation": height, "cos_i": cos_i.astype(np.float32)}

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


class _Where(NamedTuple):
    """Where fields are evaluated: offsets from the centre (broadcastable) and their noise."""

    dx: np.ndarray
    dy: np.ndarray
    noise: Callable[..., np.ndarray]


class ScenePatch:
    """The scene's exact fields on lattice nodes ``(x0 + i step, y0 + j step)``; bilinear in between.

    Nodes sit on whole multiples of ``scene.lattice_m`` in EPSG:3857, so a point's value does not
    depend on which patch evaluates it: the truth stays a pure function of position and seed.
    Row ``j`` of every array is ``y0 + j step`` (northwards). The heights are evaluated when the
    patch is built, the abundances when first asked for.
    """

    def __init__(self, scene: "PorphyryScene", xs: np.ndarray, ys: np.ndarray) -> None:
        self.scene = scene
        self.x0, self.y0 = float(xs[0]), float(ys[0])
        self.step = float(scene.lattice_m)
        self._at = scene._lattice(xs, ys)
        self.elevation = scene._elevation(self._at)  # (ny, nx) float64

    @cached_property
    def abundances(self) -> np.ndarray:
        """(n_endmembers, ny, nx) float32 abundances at the nodes."""
        return self.scene._abundances(self._at, self.elevation)

    @classmethod
    def build(cls, scene: "PorphyryScene", xmin: float, ymin: float, xmax: float, ymax: float,
              margin: int = 2) -> "ScenePatch":
        """The nodes covering the box plus ``margin`` nodes on every side."""
        step = float(scene.lattice_m)
        i0, i1 = math.floor(xmin / step) - margin, math.ceil(xmax / step) + margin
        j0, j1 = math.floor(ymin / step) - margin, math.ceil(ymax / step) + margin
        return cls(scene, np.arange(i0, i1 + 1) * step, np.arange(j0, j1 + 1) * step)

    @property
    def shape(self) -> tuple:
        """(ny, nx) nodes."""
        return self.elevation.shape

    def weights(self, x, y) -> tuple:
        """Flat index of each point's lower-left node and its bilinear weights (fx, fy)."""
        ny, nx = self.shape
        fx = (np.asarray(x, dtype=np.float64) - self.x0) / self.step
        fy = (np.asarray(y, dtype=np.float64) - self.y0) / self.step
        ix = np.floor(fx)
        iy = np.floor(fy)
        if ix.size and (ix.min() < 0 or iy.min() < 0 or ix.max() > nx - 2 or iy.max() > ny - 2):
            raise GmiInputError("porphyry scene: points outside the evaluated patch")
        return ((iy * nx + ix).astype(np.int64), (fx - ix).astype(np.float32), (fy - iy).astype(np.float32))

    def sample(self, field: np.ndarray, x, y, weights: Optional[tuple] = None) -> np.ndarray:
        """Bilinear value of a node field ``(..., ny, nx)`` at the points: ``(...) + x.shape``."""
        flat_index, fx, fy = weights if weights is not None else self.weights(x, y)
        nx = self.shape[1]
        lead = field.shape[:-2]
        flat = field.reshape(lead + (-1,))
        out = []
        for plane in (flat.reshape((1, -1)) if not lead else flat.reshape((-1, flat.shape[-1]))):
            v00 = plane.take(flat_index)
            v01 = plane.take(flat_index + 1)
            v10 = plane.take(flat_index + nx)
            v11 = plane.take(flat_index + nx + 1)
            out.append((v00 + (v01 - v00) * fx) * (1 - fy) + (v10 + (v11 - v10) * fx) * fy)
        result = np.stack(out).reshape(lead + flat_index.shape)
        return result.astype(field.dtype, copy=False)

    def elevation_at(self, x, y) -> np.ndarray:
        """Terrain height (m) at the points."""
        return self.sample(self.elevation, x, y)

    def abundances_at(self, x, y) -> np.ndarray:
        """Endmember abundances at the points (a convex combination of nodes: still sums to 1)."""
        return self.sample(self.abundances, x, y)

    def reflectance(self) -> np.ndarray:
        """(9, ny, nx) float32 flat-terrain reflectance at the nodes (the linear mixture)."""
        return np.tensordot(self.scene.spectra.T, self.abundances, axes=1).astype(np.float32)

    def reflectance_at(self, x, y) -> np.ndarray:
        """Flat-terrain reflectance at the points (bilinear in the nodes = mixture of the bilinear abundances)."""
        return self.sample(self.reflectance(), x, y)

    def cos_incidence(self, sun_azimuth: float, sun_elevation: float) -> np.ndarray:
        """cos i at the nodes from central differences of the node heights (ground metres)."""
        ground = self.step * math.cos(math.radians(self.scene.centre_lonlat[1]))
        dzdy, dzdx = np.gradient(self.elevation, ground)
        zen = math.radians(90.0 - sun_elevation)
        az = math.radians(sun_azimuth)
        # the unit normal is (-dzdx, -dzdy, 1)/n; the sun vector is (sin z sin az, sin z cos az, cos z)
        norm = np.sqrt(1.0 + dzdx * dzdx + dzdy * dzdy)
        return (math.cos(zen) - dzdx * math.sin(zen) * math.sin(az)
                - dzdy * math.sin(zen) * math.cos(az)) / norm


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
