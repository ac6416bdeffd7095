"""Issue 14 item 6: what the old defaults cost, measured through direct 6S.

Ozone: the true atmosphere holds the climatology column (``gmi_engine.atmosphere.ozone``); a
retrieval with the former constant 0.30 cm-atm is compared on B1/B2/B3N at a high-latitude spring
and a tropical case. Aerosol model: a desert state retrieved with the continental model. Surface
reflectance 0.25 everywhere; TOA radiance from the true state's coefficients, corrected with the
assumed state's: error = retrieved - true.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, Dict

import numpy as np

TITLE = "Defaults: ozone climatology vs constant, desert vs continental aerosol (direct 6S)"
RHO = 0.25
_BANDS = ("B1", "B2", "B3N", "B4", "B9")


def _error(truth, assumed) -> np.ndarray:
    """Retrieved minus true surface reflectance per band, forward with ``truth``, back with ``assumed``."""
    y = RHO / (1.0 - truth.xc * RHO)
    radiance = (y + truth.xb) / truth.xa
    y_est = assumed.xa * radiance - assumed.xb
    return y_est / (1.0 + assumed.xc * y_est) - RHO


def _state(lat: float, day: date, ozone: float, model: str = "continental", aot: float = 0.15):
    from gmi_engine.atmosphere.state import AtmosphereState

    return AtmosphereState(sun_zenith=min(75.0, abs(lat - 10.0) + 25.0), sun_azimuth=150.0, view_zenith=5.0,
                           view_azimuth=100.0, month=day.month, day=day.day, aot550=aot,
                           water_vapour=1.5, ozone=ozone, altitude_km=0.5, aerosol_model=model)


def measure(work: Path, quick: bool) -> Dict[str, Any]:
    """Reflectance errors of the constant ozone and of the continental model on a desert state."""
    from gmi_engine.atmosphere.ozone import climatology_ozone
    from gmi_engine.atmosphere.sixs import compute_many
    from gmi_engine.ingest import DEFAULT_OZONE_CM_ATM
    from gmi_engine.kernel.bands import BANDS

    index = [BANDS.index(b.lstrip("B").zfill(2)) if b != "B3N" else BANDS.index("3N") for b in _BANDS]
    cases = [("arctic spring 75N 1 Apr", 75.0, date(2006, 4, 1)), ("tropics 5N 1 Jul", 5.0, date(2006, 7, 1))]
    states = []
    for _, lat, day in cases:
        truth = _state(lat, day, climatology_ozone(lat, day))
        states += [truth, replace(truth, ozone=DEFAULT_OZONE_CM_ATM)]
    result: Dict[str, Any] = {"rho": RHO, "bands": list(_BANDS), "ozone": [], "aerosol": {}}
    if quick:  # the shipped continental LUT (ozone is one of its axes) instead of 6S runs
        from gmi_engine.atmosphere.lut import load_lut

        coeffs = load_lut().coefficients_many(states)
        result["through"] = "shipped continental LUT (quick mode; aerosol model not measured)"
    else:
        desert = _state(25.0, date(2006, 7, 1), climatology_ozone(25.0, date(2006, 7, 1)), "desert", aot=0.4)
        states += [desert, replace(desert, aerosol_model="continental")]
        coeffs = compute_many(states, processes=2, cache_dir=work / "sixs-cache")
        result["through"] = "direct 6S"
    for k, (name, lat, day) in enumerate(cases):
        err = _error(coeffs[2 * k], coeffs[2 * k + 1])
        result["ozone"].append({"case": name, "climatology_cm_atm": round(states[2 * k].ozone, 4),
                                "error": [round(float(err[i]), 5) for i in index]})
    if quick:
        return result
    err = _error(coeffs[-2], coeffs[-1])
    result["aerosol"] = {"case": "desert 25N 1 Jul, AOD550 0.4", "error": [round(float(err[i]), 5) for i in index]}
    return result


def render(result: Dict[str, Any]) -> str:
    """Markdown table of the measured errors."""
    head = "| case | assumed | " + " | ".join(result["bands"]) + " |"
    lines = ["Surface reflectance {} retrieved with the old default; error = retrieved - true; through {}.".format(
        result["rho"], result.get("through", "direct 6S")),
             "", head, "|" + "---|" * (len(result["bands"]) + 2)]
    for case in result["ozone"]:
        lines.append("| {} (true O3 {} cm-atm) | ozone 0.30 | {} |".format(
            case["case"], case["climatology_cm_atm"], " | ".join("{:+.4f}".format(e) for e in case["error"])))
    a = result["aerosol"]
    if not a:
        return "\n".join(lines) + "\n"
    lines.append("| {} (true model desert) | continental | {} |".format(
        a["case"], " | ".join("{:+.4f}".format(e) for e in a["error"])))
    return "\n".join(lines) + "\n"
