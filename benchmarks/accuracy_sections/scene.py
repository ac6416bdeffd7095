"""Mapping skill of the mineral indices on the porphyry-copper scene (issue 16).

Main table, the full default chain: the two demo granules over the scene
(:class:`gmi_engine.synth.porphyry.PorphyryScene`: linear mixtures, relief with topographic
illumination, ASTER sensor noise; forward-modelled through 6S) with their MCD19A2, MOD09A1 and
the scene DEM as GDEM -> ingest -> kernel ``color_balancing`` and ``mineral_indices`` with the
code's default parameters (whatever balance method is the default) on the Chino tile (260, 526).
For each index with a target endmember the section reports the ROC AUC against "truth abundance
>= 30 %" at the tile pixels, the precision of the pixels above the index's 95th percentile (with
its ceiling, prevalence / 5 %), and the fraction of playa and vegetation pixels above that
threshold (false positives). The baseline column runs the reference engine's formulas
(:func:`benchmarks.reference.indices_naive`) on the same balanced reflectance. A closed loop of
our generator and pipeline: it measures what the chain keeps of the mapping signal, not the
indices' skill on real ASTER data.

Second table: the scene's apparent surface reflectance itself on a square grid (what a perfect
atmospheric correction without balancing would return), for comparison.
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
    """The chain table (:func:`measure_chain`) and the scene-reflectance table (:func:`measure_scene`)."""
    return {"chain": measure_chain(Path(work) / "chain", quick),
            "scene_reflectance": measure_scene(Path(work), quick)}


CHAIN_TILE = (260, 526)


def chain_specs(quick: bool) -> list:
    """The demo's two porphyry granules; ``quick``: 34 km versions centred on the Chino tile."""
    from dataclasses import replace

    from gmi_engine.synth.demo import demo_specs

    specs = demo_specs(small=False, scene="porphyry")
    if quick:
        specs = [replace(specs[0], centre_lon=-108.10, centre_lat=32.77, side_km=34.0),
                 replace(specs[1], centre_lon=-108.13, centre_lat=32.745, side_km=34.0)]
    return specs


def measure_chain(work: Path, quick: bool) -> Dict[str, Any]:
    """Synthetic granules -> ingest -> balanced mosaic and indices (default chain) -> skill."""
    import time

    from benchmarks.reference import indices_naive
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.backends.local_runner import run_local
    from gmi_engine.grid import DEFAULT_GRID, TileIndex
    from gmi_engine.ingest import IngestOptions, ingest_many
    from gmi_engine.kernel.balance import BALANCE_DEFAULTS
    from gmi_engine.kernel.bands import BAND_COLUMNS
    from gmi_engine.kernel.indices import default_library
    from gmi_engine.synth.demo import write_demo_set

    start = time.perf_counter()
    tile = TileIndex(*CHAIN_TILE)
    specs = chain_specs(quick)
    demo = write_demo_set(work / "data", specs=specs)
    options = IngestOptions(mcd19a2=demo.mcd19a2, gdem=demo.gdem, modis_ref=demo.mod09a1, tiles=[tile])
    workspace = work / "workspace"
    ingest_many(demo.granules, workspace, options).raise_first_error()
    for method in ("color_balancing", "mineral_indices"):
        run_local(workspace, method, tiles=[tile])
    with LocalStore(workspace, create=False) as store:
        balanced = store.results(tile, "color_balancing")
        indices = store.results(tile, "mineral_indices")
    refl = np.stack([balanced[c].data for c in BAND_COLUMNS]).astype(np.float32)
    valid = np.all(np.isfinite(refl), axis=0)
    scene = specs[0].scene
    gt = DEFAULT_GRID.geotransform(tile)
    cols, lines = np.meshgrid(np.arange(refl.shape[2]), np.arange(refl.shape[1]))
    x, y = gt[0] + (cols + 0.5) * gt[1], gt[3] + (lines + 0.5) * gt[5]
    ab = scene.abundances_at_xy(x, y)
    library = default_library()
    ids = [i for i in TARGETS if i in library and i in indices]
    reference = dict(zip(library.ids, indices_naive(np.where(valid[None], refl, np.nan)))) \
        if len(library.ids) >= 23 else {}
    rows = _score(scene, ab, valid, {i: indices[i].data for i in ids}, reference, library)
    method = balance_method_used(balanced["b01"].meta or {})
    headline = {r["index"]: r["gmi"]["auc"] for r in rows if r["index"] in HEADLINE}
    return {"tile": list(CHAIN_TILE), "granules": [{"id": s.granule_id, "side_km": s.side_km,
                                                     "centre": [s.centre_lon, s.centre_lat]} for s in specs],
            "valid_pixels": int(valid.sum()), "balance_method_default": BALANCE_DEFAULTS["balance_method"],
            "balance_method_used": method, "positive_abundance": POSITIVE_ABUNDANCE, "rows": rows,
            "headline_auc": headline, "seconds": time.perf_counter() - start,
            "headline_met": bool(headline) and all(v >= 0.9 for v in headline.values())}


def balance_method_used(meta: Dict[str, Any]) -> str:
    """The ``balance_method`` id a ``color_balancing`` result was made with.

    The kernel records the balancing step in ``meta["steps"]["balancing"]`` under the method's
    descriptive name (``kernel.balance.METHOD_NAMES``); a skipped balance says so with its reason.
    """
    from gmi_engine.kernel.balance import METHOD_NAMES

    step = (meta.get("steps") or {}).get("balancing")
    if not step:
        raise KeyError("color_balancing result meta has no steps.balancing")
    ids = {name: method for method, name in METHOD_NAMES.items()}
    method = ids.get(step.get("method"), str(step.get("method")))
    return "{} (skipped: {})".format(method, step.get("reason")) if step.get("skipped") else method


def _score(scene, ab: np.ndarray, valid: np.ndarray, gmi: Dict[str, np.ndarray],
           reference: Dict[str, np.ndarray], library) -> List[Dict[str, Any]]:
    """Skill rows over the ``valid`` pixels for GMI's and the reference's index values."""
    names = scene.material_names
    playa = (ab[names.index("halite")] + ab[names.index("gypsum")]) >= 0.5
    vegetation = ab[names.index("vegetation")] >= POSITIVE_ABUNDANCE
    rows: List[Dict[str, Any]] = []
    for index_id, values in gmi.items():
        target = sum(ab[names.index(m)] for m in TARGETS[index_id])
        positive = (target >= POSITIVE_ABUNDANCE)[valid]
        masks = {"playa": (playa[valid] & ~positive), "vegetation": (vegetation[valid] & ~positive)}
        row = {"index": index_id, "name": library[index_id].name, "targets": list(TARGETS[index_id]),
               "prevalence": float(positive.mean()), "gmi": skill(values[valid], positive, masks)}
        if index_id in reference:
            row["reference"] = skill(reference[index_id][valid], positive, masks)
        rows.append(row)
    return rows


def measure_scene(work: Path, quick: bool) -> Dict[str, Any]:
    """Render the scene's apparent reflectance, compute GMI's and the reference's indices, score them."""
    from benchmarks.reference import indices_naive
    from gmi_engine.kernel.indices import compute_indices, default_library
    from gmi_engine.synth.porphyry import PorphyryScene, scene_grid

    scene = PorphyryScene()
    pixel_m = 120.0 if quick else 30.0
    x, y = scene_grid(scene, 18000.0, pixel_m)
    observed = scene.observe(x, y, SUN_AZIMUTH, SUN_ELEVATION, np.random.default_rng(scene.seed))
    refl, ab = observed["reflectance"], observed["abundances"]
    library = default_library()
    ids = [i for i in TARGETS if i in library]
    gmi = compute_indices(refl, ids=ids)
    reference = dict(zip(library.ids, indices_naive(refl))) if len(library.ids) >= 23 else {}
    valid = np.ones(x.shape, dtype=bool)
    rows = _score(scene, ab, valid, {i: gmi[i] for i in ids}, reference, library)
    headline = {r["index"]: r["gmi"]["auc"] for r in rows if r["index"] in HEADLINE}
    return {"pixel_m": pixel_m, "shape": list(x.shape), "sun": [SUN_AZIMUTH, SUN_ELEVATION],
            "relief_m": float(observed["elevation"].max() - observed["elevation"].min()),
            "positive_abundance": POSITIVE_ABUNDANCE, "rows": rows, "headline_auc": headline,
            "headline_met": bool(headline) and all(v >= 0.9 for v in headline.values())}


def _f(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None or value != value else "{:.{}f}".format(value, digits)


def _table(rows: List[Dict[str, Any]]) -> List[str]:
    lines = [
        "| index | target | prevalence | AUC GMI | AUC reference | precision p95 GMI | precision p95 "
        "reference | ceiling | FPR playa | FPR vegetation |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        g = row["gmi"]
        ref = row.get("reference", {})
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            row["name"], ", ".join(row["targets"]), _f(row["prevalence"]), _f(g["auc"]),
            _f(ref.get("auc")), _f(g["precision_p95"]), _f(ref.get("precision_p95")),
            _f(min(1.0, row["prevalence"] / 0.05)), _f(g.get("fpr_playa")), _f(g.get("fpr_vegetation"))))
    return lines


def _verdict(result: Dict[str, Any]) -> str:
    return "Target KLI/ALI/OHI/CLI AUC >= 0.9: **{}** ({}).".format(
        "met" if result["headline_met"] else "not met",
        ", ".join("{} {}".format(k, _f(v)) for k, v in result["headline_auc"].items()))


def render(result: Dict[str, Any]) -> str:
    """Markdown: the chain table, then the scene-reflectance table (GMI and the reference formulas)."""
    chain, scene = result["chain"], result["scene_reflectance"]
    granules = "; ".join("{} ({:.0f} km, centre {:.2f}, {:.2f})".format(g["id"], g["side_km"], *g["centre"])
                         for g in chain["granules"])
    lines = [
        "### On the balanced mosaic of the default chain",
        "",
        "Synthetic AST_L1T granules over the porphyry scene ({}) with their MCD19A2, MOD09A1 and "
        "the scene DEM as GDEM -> ingest -> kernel `color_balancing` and `mineral_indices` with the "
        "code's default parameters (balance method default `{}`, reported by the kernel as \"{}\") "
        "on tile {} ({} valid pixels); truth positive = target abundance >= {:.0f} % at the tile "
        "pixels. The reference column applies the reference engine's formulas to the same balanced "
        "reflectance. Precision is over the pixels above the index's 95th percentile (ceiling = "
        "prevalence / 5 %); FPR = share of playa / vegetation pixels above that threshold. A closed "
        "loop of our own generator and pipeline ({:.0f} s).".format(
            granules, chain["balance_method_default"], chain["balance_method_used"],
            tuple(chain["tile"]), chain["valid_pixels"], 100 * chain["positive_abundance"],
            chain["seconds"]),
        "",
    ] + _table(chain["rows"]) + ["", _verdict(chain), "",
                                 "### On the scene's own reflectance (no sensor, atmosphere or balancing)", "",
                                 "Apparent surface reflectance of the porphyry scene "
                                 "(`gmi_engine/synth/porphyry.py`) on a {} x {} grid of {:.0f} m (EPSG:3857) "
                                 "with {:.0f} m relief, sun azimuth {:.0f} deg, elevation {:.0f} deg, ASTER "
                                 "specified noise: what a perfect atmospheric correction would return. Not the "
                                 "chain.".format(scene["shape"][0], scene["shape"][1], scene["pixel_m"],
                                                 scene["relief_m"], scene["sun"][0], scene["sun"][1]),
                                 ""] + _table(scene["rows"]) + ["", _verdict(scene)]
    return "\n".join(lines) + "\n"
