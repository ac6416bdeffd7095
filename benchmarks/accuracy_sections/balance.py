"""Colour balancing: index anomaly preservation and regional-error removal per method (issue 15).

A synthetic 1024 x 1024 tile (the demo scene's materials on 720 m ground patches) holds an
alteration zone 3 km across (a 300 m patchwork of kaolinite, alunite and sericite); the "mosaic"
is the truth times a regional error (a level per group, SWIR-2 shared, a +-5 % tilt over 40 km
and a 150 km wave) plus noise. The MOD09A1 reference is made from the truth with the synthetic
writer's pairing (`aster_to_modis` of `gmi_engine/synth/modis.py`, b07 = the continuum at 2.130 um,
per 30 m pixel, averaged over MODIS-sized ground pixels). This is our own model of MODIS: the
numbers show what each method does to the signal under that model, not on real MODIS.

Per method (shape = the default, tasseled_cap, block, none) and latitude: the zone's anomaly
(zone median / background median) of each index after balancing divided by the truth's, and per
band the worst 256 px block of |median(balanced / truth) - 1|.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np

TITLE = "Colour balancing: index anomalies and regional error per method"
METHODS = ("shape", "tasseled_cap", "block", "none")
LATITUDES = (32.8, 60.0)
BAND_NAMES = ("B1", "B2", "B3N", "B4", "B5", "B6", "B7", "B8", "B9")
INDICES = ("KLI", "ALI", "OHI", "(4+6)/5", "(7+9)/8", "B4/B6", "B2/B1")


def reference(truth: np.ndarray, ground_px: float) -> np.ndarray:
    """(7, 256, 256) int16 MOD09A1-like reference: the writer's pairing per pixel, averaged over
    ~MODIS-pixel ground blocks (a power of two of pixels), repeated to 4 px cells."""
    from gmi_engine.synth.alteration_zone import modis_cells
    from gmi_engine.synth.modis import aster_to_modis

    return modis_cells(aster_to_modis(truth, "continuum").astype(np.float32), ground_px)


def measure(work: Path, quick: bool) -> Dict[str, Any]:
    """Every method on the scene at each latitude (quick: 32.8 deg only)."""
    from gmi_engine.kernel.balance import balance
    from gmi_engine.synth.alteration_zone import (
        NOISE,
        alteration_zone_scene,
        regional_error,
        worst_block_band_error,
        zone_anomalies,
    )

    rows = []
    for lat in LATITUDES[:1] if quick else LATITUDES:
        s = alteration_zone_scene(lat)
        truth = s.truth
        rng = np.random.default_rng(15)
        aster = truth * regional_error(s.gx, s.gy) + rng.normal(0, NOISE, truth.shape).astype(np.float32)
        ref = reference(truth, s.ground_px)
        want = zone_anomalies(truth, s.zone, s.background)
        for method in METHODS:
            start = time.process_time()
            if method == "none":
                out, meta = aster, {"cell_ground_m": None}
            else:
                out, meta = balance(aster, ref, {"balance_method": method, "balance_latitude": lat})
            cpu = time.process_time() - start
            got = zone_anomalies(out, s.zone, s.background)
            rows.append({"lat": lat, "method": method, "cpu_s": cpu,
                         "anomaly_ratio": {k: got[k] / want[k] for k in want},
                         "band_error": [float(v) for v in worst_block_band_error(out, truth)],
                         "cell_ground_m": meta.get("cell_ground_m")})
        rows[-len(METHODS)]["truth_anomaly"] = want
    return {"rows": rows, "quick": quick}


def _pct(x: float) -> str:
    return "{:+.2f} %".format(100.0 * x)


def _table_head(caption: str, columns: Tuple[str, ...]) -> List[str]:
    """A blank line, the caption, a blank line and the header rows of a lat / method table."""
    return ["", caption, "", "| lat | method | " + " | ".join(columns) + " |",
            "|---|---|" + "---|" * len(columns)]


def render(result: Dict[str, Any]) -> str:
    """Two markdown tables: index anomalies, and the regional error left per band."""
    rows = result["rows"]
    lines = [__doc__.split("\n\n", 1)[1].strip(), ""]
    truths = [r for r in rows if "truth_anomaly" in r]
    lines.append("Truth anomalies: " + "; ".join(
        "{}°: ".format(r["lat"]) + ", ".join("{} {:.3f}".format(k, v) for k, v in r["truth_anomaly"].items())
        for r in truths) + ".")
    lines += _table_head("Anomaly after balancing / truth anomaly − 1 (target: within ±2 % for KLI, "
                         "ALI, OHI, (4+6)/5, (7+9)/8):", INDICES + ("within 2 %",))
    for r in rows:
        a = r["anomaly_ratio"]
        ok = all(abs(a[k] - 1.0) <= 0.02 for k in INDICES[:5])
        lines.append("| {}° | {} | {} | {} |".format(r["lat"], r["method"], " | ".join(
            _pct(a[k] - 1.0) for k in INDICES), "yes" if ok else "no"))
    lines += _table_head("Regional error left per band (worst 256 px block of |median(balanced / truth) "
                         "− 1|; target < 2 %), CPU seconds of the balancing call:",
                         BAND_NAMES + ("< 2 %", "CPU s"))
    for r in rows:
        e = r["band_error"]
        lines.append("| {}° | {} | {} | {} | {:.2f} |".format(
            r["lat"], r["method"], " | ".join("{:.2f} %".format(100 * v) for v in e),
            "yes" if max(e) < 0.02 else "no", r["cpu_s"]))
    lines += ["", "shape = the default method; none = the mosaic as it comes. The tasseled-cap method "
              "multiplies all nine bands by one factor, so it cannot change any ratio index and "
              "cannot remove band-to-band errors (B2/B1 and B4/B6 keep the input's error)."]
    return "\n".join(lines) + "\n"
