"""6S look-up table: build it from direct 6S runs, save/load it, and look up AtmosphereStates.

Design (``science.md`` §2.1, §2.5; the lookup formulas are in :mod:`gmi_engine.atmosphere.lut_tables`):
6S's signal factorises as ``rho_TOA = Tg * [rho_atm + T_down*T_up*rho/(1 - S*rho)]``, and each
factor depends on few inputs, so the LUT holds small sub-tables instead of one grid over
(sun zenith x view x azimuth x AOT x water vapour x ozone x altitude):

====================  ===================================  =======================================
sub-table             axes                                 6S runs that fill it
====================  ===================================  =======================================
gas transmittance     two-way air mass m, W, altitude      no aerosol (cheap), nadir view
ozone ratios          m, ozone                             no aerosol, no water
Rayleigh path         1/mu_s, view zenith, azimuth, alt.   no aerosol ("companion" runs)
scattering T, S       1/mu_s, AOT, altitude                aerosol, nadir view
aerosol path (nadir)  1/mu_s, AOT, altitude                aerosol, nadir view (+ companion)
aerosol path (view)   1/mu_s, view zenith, azimuth, AOT    aerosol at the view nodes (+ companion)
====================  ===================================  =======================================

Facts this relies on were measured with the 6SV1.1 binary (and are re-checked by every
``gmi lut check``): the gaseous transmittance depends on geometry only through
m = 1/mu_s + 1/mu_v (identical to 5 decimals for (60,0), (48.19,48.19), (0,60)); T_down(mu) =
T_up(mu); scattering terms do not depend on water vapour or ozone; 6S attenuates the aerosol
path by the gases with half the water column, so with each aerosol run 6S is also run without
aerosol at half its water column ("companion"), which yields the exact gas-attenuated Rayleigh
path and that attenuation. Aerosol optical thickness is *not* reduced with target altitude by 6S.
"""
from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from gmi_engine.atmosphere.coefficients import Coefficients, forward_radiance
from gmi_engine.atmosphere.lut_tables import (
    ENVELOPE_FIELDS,
    LUT_FORMAT,
    LutTables,
    sixs_sun_distance_factor,
    table_checksum,
)
from gmi_engine.atmosphere.sixs import BandRun, compute_many, run_bands, sixs_version
from gmi_engine.atmosphere.state import AtmosphereState, normalise_aerosol_model
from gmi_engine.errors import GmiFileError, GmiInputError
from gmi_engine.kernel.bands import BANDS
from gmi_engine.progress import Progress, fraction, no_progress

__all__ = [
    "DEFAULT_SPEC", "QUICK_SPEC", "CHECK_REFLECTANCES", "CheckResult", "Lut", "LutSpec",
    "build_lut", "check_lut", "default_lut_path", "load_lut", "lut_file_name", "plan_states",
    "random_states", "reflectance_errors", "save_lut",
]

log = logging.getLogger(__name__)

#: Surface reflectances at which ``gmi lut check`` compares LUT and direct 6S.
CHECK_REFLECTANCES = (0.05, 0.2, 0.4, 0.6)
#: Environment variable naming a folder searched first for LUT files.
LUT_DIR_ENV = "GMI_LUT_DIR"



def _t(values) -> Tuple[float, ...]:
    return tuple(float(v) for v in values)


@dataclass(frozen=True)
class LutSpec:
    """Nodes of every sub-table, the envelope the LUT guarantees, and the reference values.

    ``airmass`` are 1/cos(sun zenith) nodes (also used for 1/cos(view zenith) in T);
    ``view_airmass`` and ``view_aot`` must be subsets of ``airmass`` and ``aot``; the gas and
    ozone tables use the nadir runs at ``gas_airmass`` sun nodes, i.e. two-way air masses
    ``1 + gas_airmass`` (the gas terms are smooth in air mass and need fewer nodes than the
    aerosol path, which has 6S's backscatter structure at small sun zenith). Aerosol runs use
    water vapour ``wv_run`` and their companions ``wv_run / 2``, which must be a ``gas_wv`` node.
    """

    name: str
    envelope: Dict[str, Tuple[float, float]]
    airmass: Tuple[float, ...]
    gas_airmass: Tuple[float, ...]
    aot: Tuple[float, ...]
    altitude: Tuple[float, ...]
    view_zenith: Tuple[float, ...]
    azimuth: Tuple[float, ...]
    view_airmass: Tuple[float, ...]
    view_aot: Tuple[float, ...]
    view_altitude: float
    gas_wv: Tuple[float, ...]
    gas_altitude: Tuple[float, ...]
    ozone: Tuple[float, ...]
    gas_altitude_breaks: Tuple[float, ...] = ()
    ozone_ref: float = 0.30
    wv_run: float = 2.0
    month: int = 7
    day: int = 1

    def validate(self) -> None:
        """Raise GmiInputError naming the first inconsistent field."""
        for name in ("airmass", "gas_airmass", "aot", "altitude", "view_zenith", "azimuth",
                     "view_airmass",
                     "view_aot", "gas_wv", "gas_altitude", "ozone"):
            nodes = getattr(self, name)
            if len(nodes) < 1 or any(b <= a for a, b in zip(nodes, nodes[1:])):
                raise GmiInputError("LutSpec.{}: nodes must be strictly increasing".format(name))
        checks = [
            ("airmass", self.airmass[0] == 1.0, "must start at 1 (sun at zenith)"),
            ("gas_airmass", self.gas_airmass[0] == 1.0, "must start at 1 (sun at zenith)"),
            ("aot", self.aot[0] == 0.0, "must start at 0"),
            ("view_zenith", self.view_zenith[0] == 0.0, "must start at 0"),
            ("azimuth", self.azimuth[0] == 0.0 and self.azimuth[-1] == 180.0
             or len(self.azimuth) == 1, "must run from 0 to 180"),
            ("view_airmass", set(self.view_airmass) <= set(self.airmass)
             and self.view_airmass[0] == 1.0, "must be a subset of airmass starting at 1"),
            ("view_aot", set(self.view_aot) <= set(self.aot) and self.view_aot[0] == 0.0,
             "must be a subset of aot starting at 0"),
            ("view_altitude", self.view_altitude in self.altitude, "must be an altitude node"),
            ("altitude", set(self.altitude) <= set(self.gas_altitude),
             "must be gas_altitude nodes"),
            ("gas_wv", self.gas_wv[0] == 0.0 and self.wv_run / 2.0 in self.gas_wv,
             "must start at 0 and contain wv_run/2"),
            ("ozone", self.ozone_ref in self.ozone, "must contain ozone_ref"),
        ]
        breaks = self.gas_altitude_breaks
        if breaks:
            per = [sum(1 for z in self.gas_altitude if a <= z <= b)
                   for a, b in zip(breaks, breaks[1:])]
            checks.append(("gas_altitude_breaks", set(breaks) <= set(self.gas_altitude)
                           and breaks[0] == self.gas_altitude[0]
                           and breaks[-1] == self.gas_altitude[-1] and len(set(per)) <= 1,
                           "must be gas_altitude nodes spanning them, with equal nodes per layer"))
        for name, ok, why in checks:
            if not ok:
                raise GmiInputError("LutSpec.{}: {}".format(name, why))
        env = self.envelope
        limits = {
            "sun_zenith": (0.0, math.degrees(math.acos(1.0 / self.airmass[-1]))),
            "view_zenith": (0.0, self.view_zenith[-1]),
            "aot550": (0.0, self.aot[-1]),
            "water_vapour": (2.0 * self.gas_wv[0], self.gas_wv[-1]),
            "ozone": (self.ozone[0], self.ozone[-1]),
            "altitude_km": (self.gas_altitude[0], min(self.altitude[-1], self.gas_altitude[-1])),
        }
        for name, _ in ENVELOPE_FIELDS:
            if name not in env:
                raise GmiInputError("LutSpec.envelope: missing {!r}".format(name))
            low, high = env[name]
            if low < limits[name][0] - 1e-9 or high > limits[name][1] + 1e-9 or low > high:
                raise GmiInputError("LutSpec.envelope.{}: [{}, {}] is not inside the nodes' "
                                    "range {}".format(name, low, high, limits[name]))
        needed = (1.0 / math.cos(math.radians(env["sun_zenith"][1]))
                  + 1.0 / math.cos(math.radians(env["view_zenith"][1])))
        if 1.0 + self.gas_airmass[-1] < needed - 1e-9:
            raise GmiInputError("LutSpec.gas_airmass: nodes do not reach the envelope's air mass")


# Sun-zenith nodes of 6, 12, 18 and 30 degrees as air masses.
_A6, _A12, _A18, _A30 = (1.0 / math.cos(math.radians(z)) for z in (6.0, 12.0, 18.0, 30.0))

#: The shipped default: sun zenith 15-75 deg (Terra's 10:30 descending node keeps ASTER's sun
#: zenith above ~19 deg; below 15 deg, where the sun can be behind the sensor, 6S's aerosol
#: backscatter structure would need ~1 deg nodes), view zenith 0-10 deg (all routine ASTER
#: pointing, incl. SWIR's +-8.55 deg), AOT550 0-1.5, water vapour 0.25-5 g/cm2, ozone
#: 0.2-0.5 cm-atm, target altitude 0-4 km. The nodes start at 0 deg for the stencils.
DEFAULT_SPEC = LutSpec(
    name="default",
    envelope={"sun_zenith": (15.0, 75.0), "view_zenith": (0.0, 10.0), "aot550": (0.0, 1.5),
              "water_vapour": (0.25, 5.0), "ozone": (0.2, 0.5), "altitude_km": (0.0, 4.0)},
    airmass=_t([1.0, _A6, _A12, _A18, 1.1, _A30, 1.25, 1.45, 1.7, 2.0, 2.4, 2.9, 3.4, 4.0]),
    gas_airmass=_t([1.0, 1.1, 1.25, 1.45, 1.7, 2.0, 2.4, 2.9, 3.4, 4.0]),
    aot=_t([0.0, 0.1, 0.2, 0.35, 0.5, 0.7, 0.95, 1.2, 1.5]),
    altitude=_t([0.0, 2.0, 4.0]),
    view_zenith=_t([0.0, 5.0, 10.0]),
    azimuth=_t([0.0, 45.0, 90.0, 135.0, 180.0]),
    view_airmass=_t([1.0, _A6, _A12, _A18, 1.1, _A30, 1.25, 1.45, 1.7, 2.4, 3.4, 4.0]),
    view_aot=_t([0.0, 0.2, 0.5, 0.95, 1.5]),
    view_altitude=2.0,
    gas_wv=_t([0.0, 0.125, 0.25, 0.375, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0]),
    gas_altitude=_t([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]),
    gas_altitude_breaks=_t([0.0, 1.0, 2.0, 3.0, 4.0]),
    ozone=_t([0.2, 0.3, 0.4, 0.5]),
)

#: A tiny LUT (about a minute to build): nadir view only, sun zenith 0-50 deg, AOT 0-0.3,
#: altitude 0-2 km. For tests and trials, not for production.
QUICK_SPEC = LutSpec(
    name="quick",
    envelope={"sun_zenith": (0.0, 50.0), "view_zenith": (0.0, 0.0), "aot550": (0.0, 0.3),
              "water_vapour": (0.5, 3.0), "ozone": (0.3, 0.3), "altitude_km": (0.0, 2.0)},
    airmass=_t([1.0, 1.3, 1.6]),
    gas_airmass=_t([1.0, 1.3, 1.6]),
    aot=_t([0.0, 0.15, 0.3]),
    altitude=_t([0.0, 2.0]),
    view_zenith=_t([0.0]),
    azimuth=_t([0.0]),
    view_airmass=_t([1.0]),
    view_aot=_t([0.0]),
    view_altitude=0.0,
    gas_wv=_t([0.0, 0.5, 1.0, 2.0, 3.0]),
    gas_altitude=_t([0.0, 2.0]),
    ozone=_t([0.3]),
)


def lut_file_name(aerosol_model: str = "continental") -> str:
    """File name of the LUT for an aerosol model, e.g. ``gmi-6s-continental.npz``."""
    return "gmi-6s-{}.npz".format(normalise_aerosol_model(aerosol_model))


def default_lut_path(aerosol_model: str = "continental") -> Path:
    """Where the LUT for ``aerosol_model`` is found.

    Searched in order: ``$GMI_LUT_DIR``; the package's ``gmi_engine/data/`` (in a source tree
    this is a symlink into ``resources/lut/``; wheels carry the file itself); the source tree's
    ``resources/lut/``. Raises GmiFileError listing the places tried.
    """
    name = lut_file_name(aerosol_model)
    here = Path(__file__).resolve().parent
    places = []
    if os.environ.get(LUT_DIR_ENV):
        places.append(Path(os.environ[LUT_DIR_ENV]) / name)
    places += [here.parent / "data" / name, here.parent.parent / "resources" / "lut" / name]
    for place in places:
        if place.is_file():
            return place
    raise GmiFileError("no 6S LUT {} found (looked in {}); build one with `gmi lut build "
                       "--aerosol-model {}`".format(name, ", ".join(str(p.parent) for p in places),
                                                    normalise_aerosol_model(aerosol_model)))


# ---------------------------------------------------------------- the LUT object


class Lut:
    """A loaded LUT: :class:`~gmi_engine.atmosphere.lut_tables.LutTables` plus AtmosphereState helpers."""

    def __init__(self, tables: LutTables, path: Optional[Path] = None) -> None:
        self.tables = tables
        self.path = Path(path) if path is not None else None

    @property
    def meta(self) -> dict:
        """The metadata stored with the table."""
        return self.tables.meta

    @property
    def envelope(self) -> Dict[str, Tuple[float, float]]:
        """The (min, max) of each state axis the table covers."""
        return self.tables.envelope

    @property
    def aerosol_model(self) -> str:
        """The 6S aerosol model the table was computed with."""
        return self.tables.aerosol_model

    @property
    def source(self) -> str:
        """``lut:<file name>`` as recorded in Coefficients.source."""
        return "lut:{}".format(self.path.name if self.path else self.meta.get("name", "memory"))

    def _check_model(self, states: Sequence[AtmosphereState]) -> None:
        for state in states:
            if state.aerosol_model != self.aerosol_model:
                raise GmiInputError(
                    "{}: built for aerosol model {!r}, state asks for {!r}; build one with "
                    "`gmi lut build --aerosol-model {}`".format(
                        self.tables.source, self.aerosol_model, state.aerosol_model,
                        state.aerosol_model))

    def arrays_of(self, states: Sequence[AtmosphereState]) -> dict:
        """The lookup arguments of :meth:`LutTables.lookup` for a list of states."""
        return dict(
            sun_zenith=[s.sun_zenith for s in states], view_zenith=[s.view_zenith for s in states],
            relative_azimuth=[s.relative_azimuth for s in states],
            month=[s.month for s in states], day=[s.day for s in states],
            aot550=[s.aot550 for s in states], water_vapour=[s.water_vapour for s in states],
            ozone=[s.ozone for s in states], altitude_km=[s.altitude_km for s in states])

    def outside(self, state: AtmosphereState) -> Optional[str]:
        """Why ``state`` cannot be looked up (envelope or aerosol model), or None if it can."""
        try:
            self._check_model([state])
            args = self.arrays_of([state])
            del args["relative_azimuth"], args["month"], args["day"]
            self.tables.check_envelope(**args)
        except GmiInputError as exc:
            return str(exc)
        return None

    def coefficients_many(self, states: Sequence[AtmosphereState]) -> List[Coefficients]:
        """Coefficients of many states in one vectorised lookup."""
        states = list(states)
        if not states:
            return []
        self._check_model(states)
        xa, xb, xc = self.tables.lookup(**self.arrays_of(states))
        return [Coefficients(xa=xa[i], xb=xb[i], xc=xc[i], state=s, source=self.source,
                             sixs_version=self.tables.sixs_version)
                for i, s in enumerate(states)]

    def coefficients(self, state: AtmosphereState) -> Coefficients:
        """xa, xb, xc of one state (OutsideEnvelopeError outside the envelope)."""
        return self.coefficients_many([state])[0]


def load_lut(path: Union[str, Path, None] = None, aerosol_model: str = "continental") -> Lut:
    """Load a LUT file (checksum verified); ``None`` loads the default for ``aerosol_model``."""
    p = Path(path) if path is not None else default_lut_path(aerosol_model)
    if not p.is_file():
        raise GmiFileError("{}: no such LUT file".format(p))
    return Lut(LutTables.from_npz(p), p)


def save_lut(arrays: Dict[str, np.ndarray], meta: dict, path: Union[str, Path]) -> Path:
    """Write ``arrays`` + ``meta`` + their sha256 to ``path`` (npz, written atomically)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta_text = json.dumps(meta, sort_keys=True, indent=1)
    arrays = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in arrays.items()}
    checksum = table_checksum(meta_text, arrays)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=str(out.parent))
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, meta=np.array(meta_text), checksum=np.array(checksum),
                                **arrays)
        os.replace(tmp, str(out))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out


# ---------------------------------------------------------------- build


def _zenith(airmass: float) -> float:
    """Zenith angle (deg, to 6S's 6 decimals) of an air-mass node."""
    return round(math.degrees(math.acos(1.0 / airmass)), 6)


def _airmass(zenith: float) -> float:
    return 1.0 / math.cos(math.radians(zenith))


@dataclass
class _Plan:
    """Every 6S state a build needs, by role."""

    spec: LutSpec
    model: str
    gas: dict = field(default_factory=dict)        # (i_a, i_w, i_z) -> state
    ozone: dict = field(default_factory=dict)      # (i_a, i_o, i_z) -> state
    rayleigh: dict = field(default_factory=dict)   # (i_a, i_v, i_p, i_z) -> state
    nadir: dict = field(default_factory=dict)      # (i_a, i_t, i_z) -> state
    view: dict = field(default_factory=dict)       # (i_av, i_v, i_p, i_tv) -> state

    def state(self, zenith: float, azimuth: float = 0.0, view_zenith: float = 0.0,
              aot: float = 0.0, wv: float = 0.0, ozone: Optional[float] = None,
              altitude: float = 0.0) -> AtmosphereState:
        s = self.spec
        return AtmosphereState(
            sun_zenith=zenith, sun_azimuth=azimuth, view_zenith=view_zenith, view_azimuth=0.0,
            month=s.month, day=s.day, aot550=aot, water_vapour=wv,
            ozone=s.ozone_ref if ozone is None else ozone, altitude_km=altitude,
            aerosol_model=self.model)

    def companion(self, state: AtmosphereState) -> AtmosphereState:
        """The aerosol-free run at half the water column that goes with an aerosol run."""
        return replace(state, aot550=0.0, water_vapour=self.spec.wv_run / 2.0)

    def all_states(self) -> List[AtmosphereState]:
        """Unique states, aerosol-free (cheap) ones first."""
        seen, out = set(), []
        for group in (self.gas, self.ozone, self.rayleigh, self.nadir, self.view):
            for state in group.values():
                key = state.cache_key()
                if key not in seen:
                    seen.add(key)
                    out.append(state)
        return out


def plan_states(spec: LutSpec, aerosol_model: str) -> _Plan:
    """The 6S states a LUT with ``spec`` needs (see the module docstring)."""
    spec.validate()
    plan = _Plan(spec, normalise_aerosol_model(aerosol_model))
    for ig, a_g in enumerate(spec.gas_airmass):
        z_s = _zenith(a_g)
        for iw, w in enumerate(spec.gas_wv):
            for iz, alt in enumerate(spec.gas_altitude):
                plan.gas[ig, iw, iz] = plan.state(z_s, wv=w, altitude=alt)
        for io, o3 in enumerate(spec.ozone):
            for iz, alt in enumerate(spec.altitude):
                plan.ozone[ig, io, iz] = plan.state(z_s, ozone=o3, altitude=alt)
    zen = [_zenith(a) for a in spec.airmass]
    for ia, z_s in enumerate(zen):
        for iv, vz in enumerate(spec.view_zenith):
            for ip, phi in enumerate(spec.azimuth):
                # At nadir view or overhead sun the azimuth is irrelevant: one run serves all.
                run_phi = 0.0 if (vz == 0.0 or ia == 0) else phi
                for iz, alt in enumerate(spec.altitude):
                    plan.rayleigh[ia, iv, ip, iz] = plan.state(
                        z_s, azimuth=run_phi, view_zenith=vz, wv=spec.wv_run / 2.0, altitude=alt)
        for it, tau in enumerate(spec.aot):
            if tau == 0.0:
                continue
            for iz, alt in enumerate(spec.altitude):
                plan.nadir[ia, it, iz] = plan.state(z_s, aot=tau, wv=spec.wv_run, altitude=alt)
    for iav, a_v in enumerate(spec.view_airmass):
        z_s = _zenith(a_v)
        for iv, vz in enumerate(spec.view_zenith):
            if vz == 0.0:
                continue
            for ip, phi in enumerate(spec.azimuth):
                run_phi = 0.0 if a_v == 1.0 else phi
                for it, tau in enumerate(spec.view_aot):
                    if tau == 0.0:
                        continue
                    plan.view[iav, iv, ip, it] = plan.state(
                        z_s, azimuth=run_phi, view_zenith=vz, aot=tau, wv=spec.wv_run,
                        altitude=spec.view_altitude)
    return plan


def _run_all(states: List[AtmosphereState], processes: int, cache_dir, progress: Progress,
             chunk: int = 12) -> Dict[str, List[BandRun]]:
    """Run (or read from the 6S cache) every state, reporting progress per chunk."""
    results: Dict[str, List[BandRun]] = {}
    start = time.perf_counter()
    for k in range(0, len(states), chunk):
        part = states[k:k + chunk]
        for state, runs in zip(part, run_bands(part, BANDS, processes, cache_dir=cache_dir)):
            results[state.cache_key()] = runs
        done = min(k + chunk, len(states))
        elapsed = time.perf_counter() - start
        progress(fraction(done, len(states)), "6S states {}/{} ({:.0f}%), {:.0f} s elapsed".format(
            done, len(states), 100.0 * done / len(states), elapsed))
    return results


def _vector(runs: List[BandRun], what: str) -> np.ndarray:
    if what == "path":
        return np.array([r.xb * r.gas_transmittance * r.scattering_down * r.scattering_up
                         for r in runs])
    if what == "k":
        return np.array([r.xa * r.gas_transmittance * r.scattering_down * r.scattering_up
                         for r in runs])
    return np.array([getattr(r, what) for r in runs], dtype=np.float64)


def build_lut(spec: LutSpec = DEFAULT_SPEC, aerosol_model: str = "continental",
              processes: int = 2, cache_dir: Union[str, Path, None] = None,
              progress: Optional[Progress] = None) -> Tuple[Dict[str, np.ndarray], dict]:
    """Run 6S for every node of ``spec`` and assemble the LUT: (arrays, meta) for
    :func:`save_lut`."""
    say = progress or (lambda _done, msg: log.info("%s", msg))
    plan = plan_states(spec, aerosol_model)
    states = plan.all_states()
    say(0.0, "LUT {!r}, aerosol model {}: {} distinct 6S states x {} bands ({} with aerosol)".format(
        spec.name, plan.model, len(states), len(BANDS),
        len({s.cache_key() for s in list(plan.nadir.values()) + list(plan.view.values())})))
    start = time.perf_counter()
    res = _run_all(states, processes, cache_dir, say)
    seconds = time.perf_counter() - start

    def get(state: AtmosphereState, what: str) -> np.ndarray:
        return _vector(res[state.cache_key()], what)

    nb = len(BANDS)
    s = spec
    n_a, n_t, n_z = len(s.airmass), len(s.aot), len(s.altitude)
    n_v, n_p = len(s.view_zenith), len(s.azimuth)
    zen = [_zenith(a) for a in s.airmass]
    airmass = np.array([_airmass(z) for z in zen])

    n_g = len(s.gas_airmass)
    gas_airmass = np.array([_airmass(_zenith(a)) for a in s.gas_airmass])
    gas = np.zeros((n_g, len(s.gas_wv), len(s.gas_altitude), nb))
    for key, st in plan.gas.items():
        gas[key] = np.log(get(st, "gas_transmittance"))
    oz_gas = np.zeros((n_g, len(s.ozone), n_z, nb))
    oz_path = np.zeros((n_g, len(s.ozone), n_z, nb))
    i_ref = s.ozone.index(s.ozone_ref)
    for key, st in plan.ozone.items():
        oz_gas[key] = np.log(get(st, "gas_transmittance"))
        oz_path[key] = np.log(get(st, "path"))
    oz_gas -= oz_gas[:, i_ref:i_ref + 1]
    oz_path -= oz_path[:, i_ref:i_ref + 1]

    ray = np.zeros((n_a, n_v, n_p, n_z, nb))
    for key, st in plan.rayleigh.items():
        ray[key] = get(st, "path")

    ln_t = np.zeros((n_a, n_t, n_z, nb))
    sph = np.zeros((n_t, n_z, nb))
    nadir = np.zeros((n_a, n_t, n_z, nb))
    reciprocity = 0.0
    for ia in range(n_a):
        for iz in range(n_z):
            base = plan.rayleigh[ia, 0, 0, iz]
            ln_t[ia, 0, iz] = np.log(get(base, "scattering_down"))
            sph[0, iz] = get(base, "xc")
    for (ia, it, iz), st in plan.nadir.items():
        comp = plan.companion(st)
        ln_t[ia, it, iz] = np.log(get(st, "scattering_down"))
        sph[it, iz] += get(st, "xc") / n_a
        nadir[ia, it, iz] = (get(st, "path") - get(comp, "path")) / get(comp, "gas_transmittance")
    for (ia, it, iz), st in plan.nadir.items():  # T_up of a nadir run is T(mu=1)
        reciprocity = max(reciprocity, float(np.max(np.abs(
            np.log(get(st, "scattering_up")) - ln_t[0, it, iz]))))

    i_view_z = s.altitude.index(s.view_altitude)
    view = np.zeros((len(s.view_airmass), n_v, n_p, len(s.view_aot), nb))
    for (iav, iv, ip, itv), st in plan.view.items():
        comp = plan.companion(st)
        rho = (get(st, "path") - get(comp, "path")) / get(comp, "gas_transmittance")
        ia = s.airmass.index(s.view_airmass[iav])
        it = s.aot.index(s.view_aot[itv])
        view[iav, iv, ip, itv] = rho - nadir[ia, it, i_view_z]

    # K0 = pi*S_f/E_f(1 AU) from every run: k = xa*Tg*T_down*T_up = K0 / (dsol(date) * mu_s).
    dsol = float(sixs_sun_distance_factor(s.month, s.day))
    k0 = []
    for st in states:
        mu_s = math.cos(math.radians(round(st.sun_zenith, 6)))
        k0.append(get(st, "k") * mu_s * dsol)
    k0 = np.array(k0)
    solar_factor = np.median(k0, axis=0)
    k_spread = float(np.max(np.abs(k0 / solar_factor - 1.0)))

    arrays = {
        "axis_airmass": airmass, "axis_aot": np.array(s.aot),
        "axis_altitude": np.array(s.altitude), "axis_view_zenith": np.array(s.view_zenith),
        "axis_azimuth": np.array(s.azimuth),
        "axis_view_airmass": airmass[[s.airmass.index(a) for a in s.view_airmass]],
        "axis_view_aot": np.array(s.view_aot), "axis_gas_airmass": gas_airmass + 1.0,
        "axis_gas_wv": np.array(s.gas_wv), "axis_gas_altitude": np.array(s.gas_altitude),
        "axis_gas_altitude_breaks": np.array(s.gas_altitude_breaks or s.gas_altitude[:1]),
        "axis_ozone": np.array(s.ozone),
        "gas_ln_tg": gas, "ozone_ln_gas": oz_gas, "ozone_ln_path": oz_path,
        "rayleigh_path": ray, "ln_transmittance": ln_t, "spherical_albedo": sph,
        "aerosol_path": nadir, "aerosol_path_view": view, "solar_factor": solar_factor,
    }
    meta = {
        "format": LUT_FORMAT,
        "name": spec.name,
        "aerosol_model": plan.model,
        "sixs_version": sixs_version(),
        "created": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "bands": list(BANDS),
        "envelope": {k: list(v) for k, v in spec.envelope.items()},
        "reference": {"ozone": s.ozone_ref, "water_vapour_aerosol_runs": s.wv_run,
                      "water_vapour_companions": s.wv_run / 2.0,
                      "view_table_altitude_km": s.view_altitude, "month": s.month, "day": s.day},
        "spec": asdict(spec),
        "build": {"states": len(states), "band_runs": len(states) * len(BANDS),
                  "seconds": round(seconds, 1), "processes": int(processes)},
        "consistency": {"solar_factor_max_rel_spread": k_spread,
                        "transmittance_reciprocity_max_ln_diff": reciprocity},
    }
    say(1.0, "assembled: K0 spread {:.1e}, T reciprocity {:.1e}".format(k_spread, reciprocity))
    return arrays, meta


# ---------------------------------------------------------------- check against direct 6S


def random_states(envelope: Dict[str, Tuple[float, float]], n: int, seed: int = 0,
                  aerosol_model: str = "continental") -> List[AtmosphereState]:
    """``n`` states drawn uniformly inside ``envelope`` (any date, any azimuths)."""
    rng = np.random.default_rng(seed)

    def draw(name: str) -> float:
        low, high = envelope[name]
        return round(float(rng.uniform(low, high)), 4)

    out = []
    for _ in range(int(n)):
        out.append(AtmosphereState(
            sun_zenith=draw("sun_zenith"), sun_azimuth=round(float(rng.uniform(0, 360)), 3),
            view_zenith=draw("view_zenith"), view_azimuth=round(float(rng.uniform(0, 360)), 3),
            month=int(rng.integers(1, 13)), day=int(rng.integers(1, 29)),
            aot550=draw("aot550"), water_vapour=draw("water_vapour"), ozone=draw("ozone"),
            altitude_km=draw("altitude_km"), aerosol_model=aerosol_model))
    return out


def reflectance_errors(direct: Coefficients, lut: Coefficients,
                       reflectances: Sequence[float] = CHECK_REFLECTANCES) -> np.ndarray:
    """|rho_LUT - rho| (9 bands x len(reflectances)) for radiances that direct 6S maps to rho."""
    out = np.zeros((len(BANDS), len(reflectances)))
    for b in range(len(BANDS)):
        xa, xb, xc = lut.band(b + 1)
        for j, rho in enumerate(reflectances):
            y = xa * forward_radiance(rho, direct, b + 1) - xb
            out[b, j] = abs(y / (1.0 + xc * y) - rho)
    return out


@dataclass
class CheckResult:
    """Outcome of :func:`check_lut`: errors per state, band and reflectance."""

    states: List[AtmosphereState]
    errors: np.ndarray  # (n_states, 9, n_reflectances)
    reflectances: Tuple[float, ...]
    seconds_direct: float
    seconds_lut: float

    @property
    def max_per_band(self) -> np.ndarray:
        """The largest reflectance error of each band over every state and test reflectance."""
        return self.errors.max(axis=(0, 2))

    def worst_state(self, band: int) -> AtmosphereState:
        """The state where ``band`` has its largest error."""
        return self.states[int(np.argmax(self.errors[:, band, :].max(axis=1)))]


def check_lut(lut: Lut, n_states: int = 200, seed: int = 0, processes: int = 2,
              cache_dir: Union[str, Path, None] = None, progress: Optional[Progress] = None,
              reflectances: Sequence[float] = CHECK_REFLECTANCES) -> CheckResult:
    """Compare LUT lookups with direct 6S on ``n_states`` random states inside the envelope."""
    say = progress or no_progress
    states = random_states(lut.envelope, n_states, seed, lut.aerosol_model)
    start = time.perf_counter()
    direct: List[Coefficients] = []
    chunk = 10
    for k in range(0, len(states), chunk):
        direct += compute_many(states[k:k + chunk], processes=processes, cache_dir=cache_dir)
        say(fraction(len(direct), len(states)), "direct 6S: {}/{} states, {:.0f} s".format(
            len(direct), len(states), time.perf_counter() - start))
    seconds_direct = time.perf_counter() - start
    start = time.perf_counter()
    looked_up = lut.coefficients_many(states)
    seconds_lut = time.perf_counter() - start
    errors = np.stack([reflectance_errors(d, lut_c, reflectances) for d, lut_c in zip(direct, looked_up)])
    return CheckResult(states, errors, tuple(reflectances), seconds_direct, seconds_lut)

