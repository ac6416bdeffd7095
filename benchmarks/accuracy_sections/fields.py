"""Coefficient fields over relief: retrieval vs direct 6S at the true per-pixel altitude.

The case (:mod:`gmi_engine.synth.relief`): a 12 km granule over 2 km of relief whose DN were made
with direct 6S at each pixel's own height. It is ingested through the normal path with the LUT,
once with coefficient fields (the default) and once with one state per tile (``field_nodes=0``,
the behaviour before fields), and the retrieved surface reflectance is compared with the truth.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict

import numpy as np

from gmi_engine.atmosphere.lut import default_lut_path
from gmi_engine.backends.local import LocalStore
from gmi_engine.backends.local_runner import kernel_row
from gmi_engine.grid import DEFAULT_GRID, TileIndex
from gmi_engine.ingest import FIELD_NODES, IngestOptions, ingest_granule
from gmi_engine.kernel.bands import BAND_COLUMNS
from gmi_engine.kernel.pipeline import row_reflectance
from gmi_engine.synth.relief import LEVELS_KM, QUICK_LEVELS_KM, ReliefCase, true_reflectance, write_relief_case

TITLE = "Coefficient fields over 2 km of relief (issue 14 item 3)"


def retrieval_errors(case: ReliefCase, work: Path, field_nodes: int, **options: Any) -> Dict[str, Any]:
    """Ingest ``case`` with the LUT and ``field_nodes`` (and further :class:`IngestOptions`
    ``options``); per band RMSE and bias of the retrieved reflectance vs :func:`true_reflectance`."""
    options = IngestOptions(mcd19a2=[case.mcd19a2], gdem=[case.gdem], lut=default_lut_path(),
                            field_nodes=field_nodes, **options)
    ws = Path(work) / "ws-nodes{}{}".format(field_nodes, "" if options.field_aod_wv else "-tile-air")
    with LocalStore(ws) as store:
        start = time.perf_counter()
        rows = ingest_granule(case.granule, store, options)
        seconds = time.perf_counter() - start
    diffs = [[] for _ in BAND_COLUMNS]
    for row in rows:
        refl, kind = row_reflectance(kernel_row(row), DEFAULT_GRID.tile_px)
        r0, r1, c0, c1 = row.min_row, row.max_row, row.min_col, row.max_col
        x0, dx, _, y0, _, dy = DEFAULT_GRID.geotransform(TileIndex(row.tile_x, row.tile_y))
        x = x0 + (np.arange(c0, c1 + 1) + 0.5) * dx
        y = y0 + (np.arange(r0, r1 + 1) + 0.5) * dy
        truth = true_reflectance(x[None, :], y[:, None])
        for k in range(len(BAND_COLUMNS)):
            d = refl[k, r0:r1 + 1, c0:c1 + 1] - truth[k]
            diffs[k].append(d[np.isfinite(d)])
    out = {"field_nodes": field_nodes, "ingest_s": seconds, "tiles": len(rows), "bands": {},
           "node_air": [{k: row.ac["inputs"][k].get("field") for k in ("aod550", "water_vapour")}
                        for row in rows]}
    for column, parts in zip(BAND_COLUMNS, diffs):
        d = np.concatenate(parts)
        out["bands"][column] = {"rmse": float(np.sqrt(np.mean(d * d))), "bias": float(d.mean()),
                                "pixels": int(d.size)}
    return out


def measure(work: Path, quick: bool) -> Dict[str, Any]:
    """Both variants on the relief case (quick: 6S levels 0.5 km apart instead of 0.25 km)."""
    case = write_relief_case(Path(work) / "relief", levels=QUICK_LEVELS_KM if quick else LEVELS_KM)
    single = retrieval_errors(case, work, 0)  # first: it also pays for loading the LUT
    return {"fields": retrieval_errors(case, work, FIELD_NODES), "single_state": single}


def render(result: Dict[str, Any]) -> str:
    """A table of RMSE / bias per band for fields and for one state per tile."""
    f, s = result["fields"], result["single_state"]
    lines = ["Surface reflectance retrieved from DN made by direct 6S at every pixel's own altitude "
             "(0.3-2.3 km across a 12 km granule, above-surface water 0.8 g/cm2), LUT path.",
             "", "| band | fields RMSE | fields bias | one state per tile RMSE | one state bias |",
             "|---|---|---|---|---|"]
    for column in BAND_COLUMNS:
        a, b = f["bands"][column], s["bands"][column]
        lines.append("| {} | {:.4f} | {:+.4f} | {:.4f} | {:+.4f} |".format(
            column, a["rmse"], a["bias"], b["rmse"], b["bias"]))
    lines += ["", "One ingest: {:.2f} s with fields ({} nodes per side), {:.2f} s with one state "
              "per tile, the first run, which also loads the LUT ({} tile rows); cost ratios: "
              "`python -m benchmarks.fields_cost`.".format(f["ingest_s"], f["field_nodes"], s["ingest_s"], f["tiles"])]
    return "\n".join(lines)
