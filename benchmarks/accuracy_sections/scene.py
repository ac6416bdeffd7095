"""Mapping skill of the mineral indices on the porphyry-copper scene (issue 16).

The scene (:class:`gmi_engine.synth.porphyry.PorphyryScene`) is rendered as apparent surface
reflectance on a square EPSG:3857 grid around the system: the linear mixture times the
topographic illumination of a Chino-like September morning sun, plus ASTER's specified sensor
noise. This is the reflectance a perfect atmospheric correction would return; it is not (yet)
the balanced mosaic of the full chain. For each index with a target endmember in the scene the
section reports the ROC AUC of the index against "truth abundance >= 30 %", the precision of the
pixels above the index's 95th percentile (with its ceiling, prevalence / 5 %), and the fraction of
playa and vegetation pixels above that threshold (false positives). The baseline column runs the
reference engine's formulas (:func:`benchmarks.reference.indices_naive`) on the same reflectance.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import numpy as np

TITLE = "Mineral mapping skill on the porphyry-copper scene"
SUN_AZIMUTH, SUN_ELEVATION = 137.0, 58.0  # granule A of the demo (2006-09-06 18:02 UTC, Chino)
POSITIVE_ABUNDANCE = 0.30
#: index id -> endmembers whose summed abundance is the target.
TARGETS = {
    "kaolinite_index": ("kaolinite",),
    "alunite_index": ("alunite",),
    "aloh_phyllic": ("muscovite",),
    "calcite_index": ("calcite",),
    "sericite_muscovite_illite_smectite": ("muscovite",),
    "alunite_kaolinite_pyrophyllite": ("alunite", "kaolinite"),
    "kaolinite": ("kaolinite",),
    "muscovite": ("muscovite",),
    "carbonate_chlorite_epidote": ("calcite", "chlorite", "epidote"),
    "mgoh_epidote_chlorite_amphibole": ("chlorite", "epidote"),
    "ferric_iron": ("limonite",),
    "gossan": ("limonite",),
    "ndvi": ("vegetation",),
    "ndwi": ("water",),
}
HEADLINE = ("kaolinite_index", "alunite_index", "aloh_phyllic", "calcite_index")


def roc_auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U / (n1 n0)), ties counted half; NaN scores dropped."""
    keep = np.isfinite(score)
    score, positive = score[keep], positive[keep]
    n1 = int(positive.sum())
    n0 = int(positive.size - n1)
    if n1 == 0 or n0 == 0:
        return float("nan")
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    mean_rank = upper - (counts - 1) / 2.0  # 1-based average rank of each distinct value
    ranks = mean_rank[inverse]
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def skill(score: np.ndarray, positive: np.ndarray, masks: Dict[str, np.ndarray]) -> Dict[str, float]:
    """AUC, precision above the 95th percentile and false-positive rates on ``masks``."""
    finite = np.isfinite(score)
    threshold = float(np.percentile(score[finite], 95.0))
    above = finite & (score >= threshold)
    out = {"auc": roc_auc(score, positive), "threshold": threshold,
           "precision_p95": float(positive[above].mean()) if above.any() else float("nan")}
    for name, mask in masks.items():
        out["fpr_" + name] = float(above[mask].mean()) if mask.any() else float("nan")
    return out


def measure(work: Path, quick: bool) -> Dict[str, Any]:
    """Render the scene, compute GMI's and the reference's indices, score them against truth."""
    from benchmarks.reference import indices_naive
    from gmi_engine.kernel.indices import compute_indices, default_library
    from gmi_engine.synth.porphyry import PorphyryScene, scene_grid

    scene = PorphyryScene()
    pixel_m = 120.0 if quick else 30.0
    x, y = scene_grid(scene, 18000.0, pixel_m)
    observed = scene.observe(x, y, SUN_AZIMUTH, SUN_ELEVATION, np.random.default_rng(scene.seed))
    refl, ab = observed["reflectance"], observed["abundances"]
    names = scene.material_names
    library = default_library()
    ids = [i for i in TARGETS if i in library]
    gmi = compute_indices(refl, ids=ids)
    reference = dict(zip(library.ids, indices_naive(refl))) if len(library.ids) >= 23 else {}
    playa = (ab[names.index("halite")] + ab[names.index("gypsum")]) >= 0.5
    vegetation = ab[names.index("vegetation")] >= POSITIVE_ABUNDANCE
    rows: List[Dict[str, Any]] = []
    for index_id in ids:
        target = sum(ab[names.index(m)] for m in TARGETS[index_id])
        positive = target >= POSITIVE_ABUNDANCE
        masks = {"playa": playa & ~positive, "vegetation": vegetation & ~positive}
        row = {"index": index_id, "name": library[index_id].name, "targets": list(TARGETS[index_id]),
               "prevalence": float(positive.mean()), "gmi": skill(gmi[index_id], positive, masks)}
        if index_id in reference:
            row["reference"] = skill(reference[index_id], positive, masks)
        rows.append(row)
    headline = {r["index"]: r["gmi"]["auc"] for r in rows if r["index"] in HEADLINE}
    return {"pixel_m": pixel_m, "shape": list(x.shape), "sun": [SUN_AZIMUTH, SUN_ELEVATION],
            "relief_m": float(observed["elevation"].max() - observed["elevation"].min()),
            "positive_abundance": POSITIVE_ABUNDANCE, "rows": rows, "headline_auc": headline,
            "headline_met": bool(headline) and all(v >= 0.9 for v in headline.values())}


def _f(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None or value != value else "{:.{}f}".format(value, digits)


def render(result: Dict[str, Any]) -> str:
    """Markdown table of the skill per index (GMI and the reference formulas)."""
    lines = [
        "Apparent surface reflectance of the porphyry scene (`gmi_engine/synth/porphyry.py`) on a "
        "{} x {} grid of {:.0f} m (EPSG:3857) with {:.0f} m relief, sun azimuth {:.0f} deg, "
        "elevation {:.0f} deg, ASTER specified noise; truth positive = target abundance >= {:.0f} %. "
        "Not the balanced mosaic of the full chain. Precision is over the pixels above the index's "
        "95th percentile (ceiling = prevalence / 5 %); FPR = share of playa / vegetation pixels "
        "above that threshold.".format(result["shape"][0], result["shape"][1], result["pixel_m"],
                                       result["relief_m"], result["sun"][0], result["sun"][1],
                                       100 * result["positive_abundance"]),
        "",
        "| index | target | prevalence | AUC GMI | AUC reference | precision p95 GMI | ceiling "
        "| FPR playa | FPR vegetation |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        g = row["gmi"]
        ref = row.get("reference", {})
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            row["name"], ", ".join(row["targets"]), _f(row["prevalence"]), _f(g["auc"]),
            _f(ref.get("auc")), _f(g["precision_p95"]), _f(min(1.0, row["prevalence"] / 0.05)),
            _f(g.get("fpr_playa")), _f(g.get("fpr_vegetation"))))
    lines.append("")
    lines.append("Target KLI/ALI/OHI/CLI AUC >= 0.9: **{}** ({}).".format(
        "met" if result["headline_met"] else "not met",
        ", ".join("{} {}".format(k, _f(v)) for k, v in result["headline_auc"].items())))
    return "\n".join(lines) + "\n"
