"""Issue 14 defects 1, 2, 4, 5 and per-node AOD/WV: the old behaviour and the new, both measured here.

Each part runs the old computation (reproduced in this module, named in its text) and the new
one on the same inputs. Reflectance errors: TOA radiance from the TRUE state's coefficients at
surface reflectance :data:`RHO`, corrected with the state the old or new rule builds; error =
retrieved - true. Truth and retrievals are direct 6S runs except the per-node case (DN from
direct 6S, retrieval through ingest with the LUT).
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Sequence

TITLE = "6S inputs: water at altitude, clamps, view geometry, MAIAC orbits, per-node AOD/WV (issue 14)"
RHO = 0.25
SWIR = ("05", "06", "07", "08", "09")
_TARGET = re.compile(rb"gaseous content at target level:\s*\*\s*\*\s*uh2o=\s*([0-9.]+)\s*g/cm2"
                     rb"\s+uo3=\s*([0-9.]+)")
OVERPASS = datetime(2006, 9, 6, 18, 2, 42)


def _error(truth: Sequence, assumed: Sequence) -> List[float]:
    """Retrieved minus true reflectance per band: forward with ``truth`` runs, back with ``assumed``."""
    out = []
    for t, a in zip(truth, assumed):
        radiance = (RHO / (1.0 - t.xc * RHO) + t.xb) / t.xa
        y = a.xa * radiance - a.xb
        out.append(round(float(y / (1.0 + a.xc * y) - RHO), 5))
    return out


def _runs(states, bands, work: Path):
    from gmi_engine.atmosphere.sixs import run_bands

    return run_bands(states, bands, 2, None, work / "sixs-cache")


def _profile_runs(state, profile: str, bands: Sequence[str]):
    """Direct 6S with a predefined profile: (band runs, water and ozone 6S prints above the target)."""
    from Py6S import AtmosProfile

    from gmi_engine.atmosphere.sixs import _execute, _parse, band_run_from_outputs, build_sixs, sixs_binary

    exe = sixs_binary()
    runs, columns = [], None
    for band in bands:
        s = build_sixs(state, band, exe)
        s.atmos_profile = AtmosProfile.PredefinedType(getattr(AtmosProfile, profile))
        with tempfile.TemporaryDirectory(prefix="gmi-6s-") as tmp:
            text = Path(s.write_input_file(os.path.join(tmp, "in.txt"))).read_text(encoding="ascii")
        what = "{} profile band {}".format(profile, band)
        out = _execute(exe, text, what)
        m = _TARGET.search(out)
        columns = (float(m.group(1)), float(m.group(2)))
        runs.append(band_run_from_outputs(_parse(out, what), state, band, 0.0, what))
    return runs, columns


def _base_state(**changes):
    from gmi_engine.atmosphere.state import AtmosphereState

    base = dict(sun_zenith=35.0, sun_azimuth=140.0, view_zenith=5.0, view_azimuth=100.0, month=9, day=6,
                aot550=0.15, water_vapour=1.5, ozone=0.3, altitude_km=0.5)
    base.update(changes)
    return AtmosphereState(**base)


def water_at_altitude(work: Path, quick: bool = False) -> Dict[str, Any]:
    """Defect 1 at 2 km: truth = 6S's own predefined profile; old = its above-target column passed
    as the sea-level input; new = :func:`sixs_columns` of it."""
    from gmi_engine.atmosphere.columns import sixs_columns

    out = {"altitude_km": 2.0, "bands": ["B" + b.lstrip("0") for b in SWIR], "cases": []}
    for profile in ("MidlatitudeSummer",) if quick else ("USStandard1962", "MidlatitudeSummer"):
        truth_state = _base_state(altitude_km=2.0)
        truth, (water, ozone) = _profile_runs(truth_state, profile, SWIR)
        old = replace(truth_state, water_vapour=water, ozone=sixs_columns(water, ozone, 2.0)[1])
        uw, uo3 = sixs_columns(water, ozone, 2.0)
        new = replace(truth_state, water_vapour=uw, ozone=uo3)
        old_runs, new_runs = _runs([old, new], SWIR, work)
        out["cases"].append({"profile": profile, "water_above_g_cm2": water, "old_input": water,
                             "new_input": round(uw, 4), "old": _error(truth, old_runs),
                             "new": _error(truth, new_runs)})
    return out


def clamps(work: Path) -> Dict[str, Any]:
    """Defect 2: ingest of a tile with MAIAC AOD -0.02 over GDEM at -0.3 km. Old = the state
    built from the sampled values without clamps (the code before the fix); new = ingest."""
    from gmi_engine.atmosphere.lut import default_lut_path
    from gmi_engine.atmosphere.state import AtmosphereState
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.errors import GmiError
    from gmi_engine.ingest import IngestOptions, ingest_many
    from gmi_engine.synth.aster import AsterSpec, write_aster_l1t
    from gmi_engine.synth.gdem import write_gdem
    from gmi_engine.synth.modis import write_mcd19a2

    spec = AsterSpec(-108.10, 32.86, OVERPASS, side_km=6.0, subsystems=("VNIR", "SWIR"), aod550=0.0,
                     water_vapour=1.0, altitude_km=0.0, processing_number=4444)
    granule = write_aster_l1t(spec, work / "clamp-aster")
    mcd = write_mcd19a2(work / "clamp-mcd", 8, 5, OVERPASS.date(), aod550=-0.02, water_vapour=1.0, orbits=1,
                        size=100, cloud_fraction=0.0, bad_qa_fraction=0.0)
    dem = write_gdem(work / "clamp-gdem", 32, -109, elevation_m=-300.0, ripple_m=5.0, size=121)
    options = IngestOptions(mcd19a2=[mcd], gdem=[dem], lut=default_lut_path())
    summary = ingest_many([granule], work / "clamp-ws", options)
    out: Dict[str, Any] = {"new": {"failed": [str(f.error) for f in summary.failed], "rows": summary.rows}}
    if summary.ingested and summary.rows:
        with LocalStore(work / "clamp-ws") as store:
            row = store.get_source_row(summary.ingested[0].granule_id, summary.ingested[0].tiles[0])
        inputs = row.ac["inputs"]
        out["new"].update({name: {k: inputs[name].get(k) for k in ("value", "used", "clamped")}
                           for name in ("aod550", "altitude_km")})
        state = row.ac["state"]
        try:  # the state as the code before the fix built it: the sampled means, unclamped
            AtmosphereState(**dict(state, aot550=inputs["aod550"]["value"],
                                   altitude_km=inputs["altitude_km"]["value"]))
            out["old"] = "state built (no error)"
        except GmiError as exc:
            out["old"] = "ingest stopped: {}".format(exc)
    return out


def view_angles(work: Path, quick: bool) -> Dict[str, Any]:
    """Defect 4 at 8.55 deg pointing: old = (|pointing|, 281 deg) from POINTINGANGLE.1 for all
    bands; new = :func:`view_geometry` (ground zenith, azimuth of the sensor from the target)."""
    from gmi_engine.aster.geometry import view_geometry
    from gmi_engine.kernel.bands import BANDS

    lat = 32.86
    vz, va = view_geometry(8.55, lat)
    new = _base_state(view_zenith=vz, view_azimuth=va, sun_azimuth=140.0, sun_zenith=35.0)
    old = replace(new, view_zenith=8.55, view_azimuth=281.0)
    result = {"latitude": lat, "sun": [35.0, 140.0], "old_angles": [8.55, 281.0],
              "new_angles": [round(vz, 3), round(va, 2)],
              "relative_azimuth": [round(old.relative_azimuth, 2), round(new.relative_azimuth, 2)],
              "bands": ["B" + b.lstrip("0") for b in BANDS]}
    truth, assumed = _coefficients([new, old], work, quick)
    result["through"] = "shipped LUT (quick mode)" if quick else "direct 6S"
    result["error_old_vs_new"] = _error(truth, assumed)
    return result


def _coefficients(states, work: Path, quick: bool) -> list:
    """Per state, per band objects with xa/xb/xc: the shipped LUT (quick) or direct 6S."""
    from gmi_engine.kernel.bands import BANDS

    if not quick:
        return _runs(states, BANDS, work)
    from gmi_engine.atmosphere.lut import load_lut

    return [[_Band(*v) for v in zip(c.xa, c.xb, c.xc)] for c in load_lut().coefficients_many(states)]


class _Band:
    def __init__(self, xa: float, xb: float, xc: float) -> None:
        self.xa, self.xb, self.xc = float(xa), float(xb), float(xc)


def maiac_orbits(work: Path, quick: bool = False) -> Dict[str, Any]:
    """Defect 5: a MCD19A2 whose Terra orbit holds AOD 0.10 / WV 1.0 and Aqua AOD 0.40 / WV 2.0.
    Old = mean over all orbits (``overpass=None``), new = the Terra orbit nearest the overpass.
    Truth = the Terra air (ASTER flies on Terra)."""
    from gmi_engine.ancillary.aerosol import sample_aod_wv
    from gmi_engine.atmosphere.columns import sixs_columns
    from gmi_engine.grid import DEFAULT_GRID, TileIndex
    from gmi_engine.kernel.bands import BANDS
    from gmi_engine.synth.haze import set_mcd19a2_fields
    from gmi_engine.synth.modis import write_mcd19a2

    mcd = write_mcd19a2(work / "orbits-mcd", 8, 5, OVERPASS.date(), orbits=2, orbit_aod550=[0.10, 0.40],
                        water_vapour=1.0, size=1200, cloud_fraction=0.0, bad_qa_fraction=0.0)
    set_mcd19a2_fields(mcd, 1, lambda lon, lat: 0.40 + 0.0 * lon, lambda lon, lat: 2.0 + 0.0 * lon)
    bounds = DEFAULT_GRID.bounds(TileIndex(260, 526))
    altitude = 0.5
    states, sampled = [], {}
    for label, overpass in (("old", None), ("new", OVERPASS)):
        aod, wv = sample_aod_wv([mcd], bounds, overpass=overpass)
        sampled[label] = {"aod550": round(aod.value, 4), "water_vapour": round(wv.value, 4),
                          "orbits": aod.detail.get("orbit_selection")}
        uw, uo3 = sixs_columns(wv.value, 0.3, altitude)
        states.append(_base_state(aot550=aod.value, water_vapour=uw, ozone=uo3, altitude_km=altitude))
    uw, uo3 = sixs_columns(1.0, 0.3, altitude)
    truth_state = _base_state(aot550=0.10, water_vapour=uw, ozone=uo3, altitude_km=altitude)
    truth, old, new = _coefficients([truth_state] + states, work, quick)
    return {"sampled": sampled, "truth": {"aod550": 0.10, "water_vapour": 1.0},
            "through": "shipped LUT (quick mode)" if quick else "direct 6S",
            "bands": ["B" + b.lstrip("0") for b in BANDS], "old": _error(truth, old), "new": _error(truth, new)}


def node_air(work: Path, quick: bool = False) -> Dict[str, Any]:
    """Per-node AOD/WV: the gradient case of :mod:`gmi_engine.synth.haze` through ingest (LUT),
    AOD/WV per node vs the tile value at every node (``field_aod_wv=False``, the fields before)."""
    from benchmarks.accuracy_sections.fields import retrieval_errors
    from gmi_engine.synth import haze

    levels = (haze.QUICK_AOD_LEVELS, haze.QUICK_WV_LEVELS) if quick else (haze.AOD_LEVELS, haze.WV_LEVELS)
    case = haze.write_haze_case(work / "haze", aod_levels=levels[0], wv_levels=levels[1])
    tile = retrieval_errors(case, work, 17, field_aod_wv=False)
    nodes = retrieval_errors(case, work, 17)
    return {"nodes": {k: v for k, v in nodes.items() if k != "node_air"},
            "tile": {k: v for k, v in tile.items() if k != "node_air"},
            "node_air": nodes["node_air"][0], "levels": [list(v) for v in levels]}


def measure(work: Path, quick: bool) -> Dict[str, Any]:
    """All five parts (quick: one water profile, geometry and orbits through the LUT, the
    gradient case's truth from 2 x 2 levels)."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    return {"quick": quick, "water": water_at_altitude(work, quick), "clamps": clamps(work),
            "view": view_angles(work, quick), "orbits": maiac_orbits(work, quick), "node_air": node_air(work, quick)}


def _row(values: Sequence[float]) -> str:
    return " | ".join("{:+.4f}".format(v) for v in values)


def render(result: Dict[str, Any]) -> str:
    """Markdown: one ### part per defect, old and new measured side by side."""
    w = result["water"]
    lines = ["Surface reflectance {} unless said; error = retrieved - true.".format(RHO), "",
             "### Defect 1: water vapour at {} km".format(w["altitude_km"]), "",
             "Truth: direct 6S with a predefined profile; the water above the target that 6S prints "
             "is the 'MCD19A2 column'. Old: that column passed as 6S's sea-level input; new: "
             "`sixs_columns` (ozone scaled in both).", "",
             "| truth profile | column above target | rule (6S input) | " + " | ".join(w["bands"]) + " |",
             "|" + "---|" * (len(w["bands"]) + 3)]
    for c in w["cases"]:
        lines.append("| {} | {:.3f} | old ({:.3f}) | {} |".format(c["profile"], c["water_above_g_cm2"],
                                                                  c["old_input"], _row(c["old"])))
        lines.append("| {} | {:.3f} | new ({:.3f}) | {} |".format(c["profile"], c["water_above_g_cm2"],
                                                                  c["new_input"], _row(c["new"])))
    c = result["clamps"]
    new = c["new"]
    lines += ["", "### Defect 2: AOD -0.02 over land at -0.3 km", "",
              "| | outcome |", "|---|---|",
              "| old (state from the unclamped means) | {} |".format(c.get("old", "not reached")),
              "| new (ingest) | {} rows, failed: {}; AOD {} -> used {} ({}); altitude {} km -> used {} ({}) |".format(
                  new["rows"], new["failed"] or "none",
                  _fmt(new.get("aod550", {}).get("value")), new.get("aod550", {}).get("used"),
                  new.get("aod550", {}).get("clamped"), _fmt(new.get("altitude_km", {}).get("value")),
                  new.get("altitude_km", {}).get("used"), new.get("altitude_km", {}).get("clamped"))]
    v = result["view"]
    lines += ["", "### Defect 4: view geometry at 8.55 deg pointing", "",
              "Latitude {}, sun zenith/azimuth {}/{} deg, through {}. Old: zenith = pointing, azimuth 281 "
              "deg, VNIR pointing for all bands; new: zenith {} deg at the ground, azimuth {} deg "
              "(relative azimuth {} -> {} deg). Error of retrieving with the old angles when the new "
              "ones are true:".format(v["latitude"], v["sun"][0], v["sun"][1], v["through"],
                                      v["new_angles"][0], v["new_angles"][1], v["relative_azimuth"][0],
                                      v["relative_azimuth"][1]), "",
              "| | " + " | ".join(v["bands"]) + " |", "|" + "---|" * (len(v["bands"]) + 1),
              "| old angles | " + _row(v["error_old_vs_new"]) + " |"]
    o = result["orbits"]
    lines += ["", "### Defect 5: MAIAC orbits", "",
              "Terra orbit AOD {} / WV {} g/cm2 (truth), Aqua 0.40 / 2.0; altitude 0.5 km, through {}.".format(
                  o["truth"]["aod550"], o["truth"]["water_vapour"], o.get("through", "direct 6S")), "",
              "| sampling | AOD | WV | " + " | ".join(o["bands"]) + " |", "|" + "---|" * (len(o["bands"]) + 3)]
    for label, text in (("old", "all orbits (old)"), ("new", "Terra nearest overpass (new)")):
        s = o["sampled"][label]
        lines.append("| {} | {:.3f} | {:.3f} | {} |".format(text, s["aod550"], s["water_vapour"], _row(o[label])))
    n = result["node_air"]
    a, wv = n["node_air"]["aod550"], n["node_air"]["water_vapour"]
    lines += ["", "### Per-node AOD and water vapour", "",
              "DN by direct 6S at each pixel's true AOD (0.05 west -> 0.35 east of a 12 km granule) and "
              "above-surface water (0.6 south -> 2.0 north), flat at 0.6 km; the MCD19A2 holds the same "
              "fields at its 1 km pixels; the truth interpolates direct 6S between AOD levels {} and "
              "water levels {}. Ingest with the LUT, 17 x 17 nodes; node AOD {:.3f}-{:.3f}, "
              "WV {:.3f}-{:.3f} in the first tile ({} of {} nodes from data).".format(
                  *n.get("levels", ["?", "?"]), a["min"], a["max"], wv["min"], wv["max"], a["from_data"],
                  a["nodes"]), "",
              "| band | per-node RMSE | per-node bias | tile value RMSE | tile value bias |", "|---|---|---|---|---|"]
    for column in n["nodes"]["bands"]:
        p, t = n["nodes"]["bands"][column], n["tile"]["bands"][column]
        lines.append("| {} | {:.4f} | {:+.4f} | {:.4f} | {:+.4f} |".format(column, p["rmse"], p["bias"],
                                                                           t["rmse"], t["bias"]))
    return "\n".join(lines) + "\n"


def _fmt(value) -> str:
    return "n/a" if value is None else "{:+.3f}".format(value)
