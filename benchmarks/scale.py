"""``docs/scale.md``: measured cost per tile -> core-hours and a MaxCompute plan for a global run.

Up to 8 overlapping synthetic granules (different dates, gains and sun) are written over one
tile, ingested for that tile only (one source row each), and the kernel's ``mineral_indices``
(radiance, 6S reflectance, masks, mosaic, MODIS balancing, 23 indices) is timed on the first
1, 2, 4, 8 rows, one core, in this process; its peak memory comes from ``tracemalloc`` (numpy
reports its buffers to it). Row sizes are the encoded cells GMI stores. The global figures are
these measurements multiplied out for the issue's ~160,000 land tiles.

``--quick`` uses two small granules (CI smoke test).
"""
from __future__ import annotations

import json
import math
import shutil
import sys
import time
import tracemalloc
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from benchmarks.common import (
    REPO,
    console_table,
    find_lut,
    fmt,
    generated_note,
    machine_info,
    machine_line,
    max_cell_bytes,
    report_parser,
    table,
    time_calls,
    work_folder,
    write_doc,
)

DEFAULT_DOC = REPO / "docs" / "scale.md"
TILE = (260, 526)
#: The issue's estimate of land tiles on the global grid (an input, not a measurement).
GLOBAL_LAND_TILES = 160_000
#: MaxCompute limits (science.md §5.3): one cell, Python UDF memory range, per-batch timeout.
CELL_LIMIT = 8 * 1024 * 1024
UDF_MEMORY_MAX_MB = 3072
BATCH_TIMEOUT_S = 1800
DEFAULT_BATCH_ROWCOUNT = 1024
#: Headroom applied to measured times and memory in the plan (other cores, Python 3.7 + older numpy).
SAFETY = 3.0
COUNTS = (1, 2, 4, 8)
QUICK_COUNTS = (1, 2)
GAINS_HIGH = {"01": "HGH", "02": "HGH"}


def say(message: str) -> None:
    """Progress on stderr."""
    print("[scale {}] {}".format(time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


def granule_specs(n: int, side_km: float) -> List[Any]:
    """``n`` pre-2008 granules over the tile centre: shifted, different dates, gains, clouds.

    Their atmosphere is the one ingest assumes without MCD19A2/GDEM files, so synthesis and
    ingest share one 6S state per granule.
    """
    from gmi_engine.ancillary.aerosol import DEFAULT_AOD550, DEFAULT_WATER_VAPOUR
    from gmi_engine.ancillary.elevation import DEFAULT_ALTITUDE_KM
    from gmi_engine.grid import DEFAULT_GRID
    from gmi_engine.synth.aster import AsterSpec

    b = DEFAULT_GRID.lonlat_bounds(DEFAULT_GRID.tile(*TILE))
    lon, lat = (b.west + b.east) / 2.0, (b.south + b.north) / 2.0
    specs = []
    for k in range(n):
        gains = dict(GAINS_HIGH) if k % 3 == 1 else {}
        base = AsterSpec(lon, lat, datetime(2000 + k % 8, 1 + (3 * k) % 12, 5 + 2 * k, 18, 5, 0))
        specs.append(replace(base, centre_lon=lon + 0.02 * ((k % 3) - 1),
                             centre_lat=lat + 0.015 * ((k % 2) * 2 - 1), side_km=side_km,
                             orientation_deg=8.0 + k % 3, aod550=DEFAULT_AOD550,
                             water_vapour=DEFAULT_WATER_VAPOUR, altitude_km=DEFAULT_ALTITUDE_KM,
                             cloud_cover=k % 5,
                             gains=dict(base.gains, **gains), processing_number=20000 + k))
    return specs


def synthesise(work: Path, n: int, side_km: float) -> Dict[str, Any]:
    """The granules and a MOD09A1 reference covering the tile."""
    from gmi_engine.grid import DEFAULT_GRID
    from gmi_engine.synth.aster import write_aster_l1t
    from gmi_engine.synth.modis import write_mod09a1

    start = time.perf_counter()
    specs = granule_specs(n, side_km)
    granules = [write_aster_l1t(spec, work / "aster") for spec in specs]
    b = DEFAULT_GRID.lonlat_bounds(DEFAULT_GRID.tile(*TILE))
    modis = write_mod09a1(work / "mod09a1", 8, 5, specs[0].acquired_utc.date(), specs[0].scene,
                          region=(b.west - 0.05, b.south - 0.05, b.east + 0.05, b.north + 0.05))
    return {"granules": granules, "modis": modis, "seconds": time.perf_counter() - start}


def ingest(work: Path, data: Dict[str, Any], lut_path: Optional[str], passes: int = 2
           ) -> Dict[str, Any]:
    """Ingest every granule for the tile only, ``passes`` times; the last pass (6S from the disk
    cache or the LUT) gives the seconds per source row without direct 6S runs."""
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.grid import DEFAULT_GRID
    from gmi_engine.ingest import IngestOptions, ingest_granule

    extra = {"lut": Path(lut_path)} if lut_path else {}
    options = IngestOptions(modis_ref=[data["modis"]], tiles=[DEFAULT_GRID.tile(*TILE)], **extra)
    workspace = work / "ws"
    shutil.rmtree(str(workspace), ignore_errors=True)
    seconds = []
    states = []
    with LocalStore(workspace) as store:
        for warm in [False] * (passes - 1) + [True]:
            for path in data["granules"]:
                start = time.perf_counter()
                rows = ingest_granule(path, store, options)
                if warm:
                    seconds.append(time.perf_counter() - start)
                    states.append(rows[0].ac["state"])
                if len(rows) != 1:
                    raise RuntimeError("{}: expected one row on tile {}, got {}".format(
                        path, TILE, len(rows)))
        stats = store.stats()
    return {"workspace": workspace, "seconds": seconds, "stats": stats, "states": states}


def sixs_cost(state: Dict[str, Any], lut, cached: bool) -> Dict[str, Any]:
    """Seconds of one direct 9-band 6S run (no cache unless ``cached``) and of one LUT lookup."""
    from gmi_engine.atmosphere.sixs import compute_coefficients
    from gmi_engine.atmosphere.state import AtmosphereState

    s = AtmosphereState.from_dict(state)
    start = time.perf_counter()
    compute_coefficients(s, processes=2, use_cache=cached)
    out = {"direct_s": time.perf_counter() - start, "cached": cached}
    if lut is not None:
        out["lut_s"] = time_calls(lambda: lut.coefficients(s), rounds=50).median
    return out


def measure_counts(workspace: Path, counts: Sequence[int], rounds: int) -> List[Dict[str, Any]]:
    """Kernel time, peak memory and result sizes for the first n rows of the tile."""
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.backends.local_runner import kernel_row
    from gmi_engine.kernel.pipeline import run
    from gmi_engine.table import ResultRow

    with LocalStore(workspace, create=False) as store:
        tile = store.tiles()[0]
        start = time.perf_counter()
        stored = store.tile_rows(tile)
        decode_s = (time.perf_counter() - start) / len(stored)
    rows = [kernel_row(r) for r in stored]
    input_bytes = [sum(a.nbytes for a in r["bands"].values()) + sum(a.nbytes for a in r["modis"].values())
                   for r in rows]
    out = []
    for n in counts:
        subset = rows[:n]
        timing = time_calls(lambda: run("mineral_indices", subset), rounds=rounds, warmup=1)
        tracemalloc.start()
        results = run("mineral_indices", subset)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        start = time.perf_counter()
        encoded = [len(ResultRow(x["tile_x"], x["tile_y"], x["method"], x["output"], x["data"],
                                 x["meta"]).to_dict()["data"]) for x in results]
        encode_s = time.perf_counter() - start
        out.append({"granules": n, "kernel_s": timing.median, "kernel_min_s": timing.min,
                    "peak_mb": peak / 2 ** 20, "input_mb": sum(input_bytes[:n]) / 2 ** 20,
                    "result_rows": len(results), "result_bytes": sum(encoded),
                    "max_result_cell": max(encoded), "encode_s": encode_s,
                    "decode_s": decode_s * n})
    return out


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> Dict[str, float]:
    """Least-squares y = a + b x."""
    if len(xs) < 2:
        return {"a": float(ys[0]), "b": 0.0}
    b, a = np.polyfit(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), 1)
    return {"a": float(a), "b": float(b)}


def plan(r: Dict[str, Any]) -> Dict[str, Any]:
    """The global run from the measurements (per G granules per tile)."""
    m = r["counts"]
    stats = r["ingest"]["stats"]
    row_bytes = stats.source_blob_bytes / stats.source_rows
    ingest_row_s = float(np.median(r["ingest"]["seconds"]))
    per = []
    for c in m:
        g = c["granules"]
        tile_s = c["kernel_s"] + c["encode_s"] + c["decode_s"]
        per.append({
            "granules": g, "tile_s": tile_s,
            "kernel_core_h": GLOBAL_LAND_TILES * tile_s / 3600.0,
            "ingest_core_h": GLOBAL_LAND_TILES * g * ingest_row_s / 3600.0,
            "direct_6s_core_h": GLOBAL_LAND_TILES * g * r["sixs"]["direct_s"] * 2 / 3600.0,
            "source_rows": GLOBAL_LAND_TILES * g,
            "source_tb": GLOBAL_LAND_TILES * g * row_bytes / 1e12,
            "result_rows": GLOBAL_LAND_TILES * c["result_rows"],
            "result_tb": GLOBAL_LAND_TILES * c["result_bytes"] / 1e12,
            "memory_mb": c["peak_mb"] + c["input_mb"] + r["baseline_mb"],
        })
    biggest = per[-1]
    memory = min(UDF_MEMORY_MAX_MB, int(math.ceil(biggest["memory_mb"] * SAFETY / 512.0)) * 512)
    worst_row_s = max(c["kernel_s"] + c["encode_s"] + c["decode_s"] for c in m) * SAFETY
    # A batch of rows must finish within the timeout even when every row closes a tile group.
    by_time = int(BATCH_TIMEOUT_S // worst_row_s)
    # The framework buffers a batch of encoded rows; keep it within a quarter of the UDF memory.
    max_row = max(stats.source_blob_bytes / stats.source_rows, r["max_source_cell"] * 9)
    by_memory = int(memory * 2 ** 20 * 0.25 // max_row)
    batch = max(1, min(DEFAULT_BATCH_ROWCOUNT, by_time, by_memory))
    return {"per_g": per, "udf_memory_mb": memory, "batch_rowcount": batch, "by_time": by_time,
            "by_memory": by_memory, "row_bytes": row_bytes, "ingest_row_s": ingest_row_s,
            "worst_row_s": worst_row_s}


def render(r: Dict[str, Any]) -> str:
    """docs/scale.md from the measurements."""
    p = r["plan"]
    fit_t = r["fit_time"]
    fit_m = r["fit_memory"]
    lines = [generated_note("benchmarks/scale.py", "make bench"), "", "# Scale: a global run", "",
             machine_line(r["machine"]) + (" **Quick mode** (two small granules)." if r["quick"] else ""),
             "", __doc__.split("\n\n", 1)[1].strip(), ""]
    lines += ["## Cost per tile vs granules per tile (one core)", "",
              "Tile ({}, {}); 6S coefficients from the {}. \"kernel\" is `pipeline.run("
              "\"mineral_indices\")` (median of {} rounds); \"decode\" reads and decodes the source "
              "rows; \"encode\" encodes the {} result cells; peak memory is the kernel's own "
              "(tracemalloc), input is the decoded rows it receives.".format(
                  TILE[0], TILE[1], r["coefficients"], r["rounds"], r["counts"][0]["result_rows"]), ""]
    rows = []
    for c in r["counts"]:
        rows.append([c["granules"], fmt(c["kernel_s"], 2), fmt(c["kernel_min_s"], 2),
                     fmt(c["kernel_s"] / c["granules"], 2), fmt(c["decode_s"], 2),
                     fmt(c["encode_s"], 2), fmt(c["peak_mb"], 0), fmt(c["input_mb"], 1),
                     "{:,}".format(c["result_bytes"])])
    lines += [table(["granules", "kernel s", "min s", "per granule s", "decode s", "encode s",
                     "kernel peak MB", "input MB", "result bytes"], rows), "",
              "Least-squares fit: kernel time ≈ {:.2f} s + {:.2f} s × granules; peak memory ≈ "
              "{:.0f} MB + {:.0f} MB × granules. Ingest: {} s per (granule, tile) row (median; GDAL "
              "warp of 9 bands, MOD09A1 sampling, coefficients: {}; second ingest pass).".format(
                  fit_t["a"], fit_t["b"], fit_m["a"], fit_m["b"], fmt(p["ingest_row_s"], 2),
                  r["coefficients"]), ""]
    last = r["counts"][-1]
    share = last["encode_s"] / (last["kernel_s"] + last["encode_s"] + last["decode_s"])
    lines += ["Encoding the result cells takes {:.0f} % of a tile's UDTF time at {} granules per "
              "tile. The results are one mosaic per tile, so their size does not grow with the "
              "number of granules.".format(100 * share, last["granules"]), ""]
    lines += ["## Rows and bytes", "",
              table(["", "measured"], [
                  ["source rows per tile", "one per granule covering it"],
                  ["bytes per source row (encoded DN + MODIS cells)", "{:,.0f}".format(p["row_bytes"])],
                  ["largest source cell", "{:,} bytes".format(r["max_source_cell"])],
                  ["result rows per tile (mineral_indices)", "{} (23 indices + valid mask)".format(
                      r["counts"][0]["result_rows"])],
                  ["bytes per result row (mean, {} granules)".format(r["counts"][-1]["granules"]),
                   "{:,.0f}".format(r["counts"][-1]["result_bytes"] / r["counts"][-1]["result_rows"])],
                  ["largest result cell",
                   "{:,} bytes".format(max(c["max_result_cell"] for c in r["counts"]))],
                  ["MaxCompute cell limit", "{:,} bytes".format(CELL_LIMIT)],
              ]), ""]
    lines += ["## A global run: {:,} land tiles".format(GLOBAL_LAND_TILES), "",
              "Core-hours on cores like this one (measured time per tile × tiles; MaxCompute cores "
              "and its Python 3.7 runtime will differ by a constant factor).", ""]
    rows = []
    for q in p["per_g"]:
        rows.append([q["granules"], fmt(q["tile_s"], 2), "{:,.0f}".format(q["kernel_core_h"]),
                     "{:,.0f}".format(q["ingest_core_h"]), "{:,.0f}".format(q["direct_6s_core_h"]),
                     "{:,}".format(q["source_rows"]),
                     fmt(q["source_tb"], 2), "{:,}".format(q["result_rows"]), fmt(q["result_tb"], 2),
                     fmt(q["kernel_core_h"] / 1000.0, 2)])
    lines += [table(["granules per tile", "s per tile", "UDTF core-h", "ingest core-h",
                     "direct 6S core-h (no LUT)", "source rows", "source TB", "result rows",
                     "result TB", "UDTF hours on 1,000 workers"], rows), "",
              "6S per source row: one direct 9-band run took {} s with 2 processes ({} core-s){}; "
              "the ingest column assumes coefficients from the {}.".format(
                  fmt(r["sixs"]["direct_s"], 2), fmt(2 * r["sixs"]["direct_s"], 1),
                  "" if "lut_s" not in r["sixs"] else
                  ", a LUT lookup {} ms".format(fmt(1000 * r["sixs"]["lut_s"], 3)),
                  r["coefficients"]) + (" (quick mode: the direct run may come from the disk "
                                        "cache)" if r["sixs"]["cached"] else ""), ""]
    lines += ["## MaxCompute job plan", "",
              "```sql",
              "SET odps.sql.python.version=cp37;",
              "SET odps.isolation.session.enable=true;",
              "SET odps.stage.reducer.mem={};  -- gmi odps run --reducer-memory".format(p["udf_memory_mb"]),
              "SET odps.sql.executionengine.batch.rowcount={};".format(p["batch_rowcount"]),
              "SET odps.function.timeout={};".format(BATCH_TIMEOUT_S),
              "INSERT OVERWRITE TABLE gmi_result",
              "SELECT gmi_udtf(*) AS (...) FROM (",
              "  SELECT * FROM gmi_source DISTRIBUTE BY tile_x, tile_y SORT BY tile_x, tile_y, acquired",
              ") t;",
              "```", "",
              table(["setting", "value", "from"], [
                  ["`odps.stage.reducer.mem`", "{} MB".format(p["udf_memory_mb"]),
                   "kernel peak + decoded inputs + interpreter ({:.0f} MB) at {} granules/tile = "
                   "{:.0f} MB, × {} headroom, rounded up to 512 MB, at most {} MB (so that the same "
                   "value is valid for `--udf-memory` where the Python worker is limited on its own)".format(
                       r["baseline_mb"], p["per_g"][-1]["granules"], p["per_g"][-1]["memory_mb"],
                       SAFETY, UDF_MEMORY_MAX_MB)],
                  ["`batch.rowcount`", str(p["batch_rowcount"]),
                   "min(default {}, timeout {} s / ({:.2f} s slowest tile × headroom: every row of "
                   "a batch may close a tile) = {}, a quarter of the UDF memory / largest encoded "
                   "row = {})".format(
                       DEFAULT_BATCH_ROWCOUNT, BATCH_TIMEOUT_S, p["worst_row_s"] / SAFETY,
                       p["by_time"], p["by_memory"])],
                  ["cells", "≤ {:,} bytes".format(max(r["max_source_cell"],
                                                      max(c["max_result_cell"] for c in r["counts"]))),
                   "one band per cell (1024² uint8 DN = 1 MiB raw, float32 result = 4 MiB raw)"],
                  ["grouping", "DISTRIBUTE BY tile, SORT BY acquisition",
                   "the UDTF flushes a tile when the key changes and in close()"],
              ]), ""]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = report_parser("Scale model -> docs/scale.md", DEFAULT_DOC, "two small granules (smoke test)",
                           "also write the measurements and plan as JSON")
    args = parser.parse_args(argv)

    counts = QUICK_COUNTS if args.quick else COUNTS
    with work_folder(args.work, "gmi-scale-") as work:
        tracemalloc.start()
        import gmi_engine.kernel.pipeline  # noqa: F401
        tracemalloc.stop()
        import resource

        r = {"machine": machine_info(), "quick": args.quick,
             "baseline_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
        lut_info = find_lut()
        r["coefficients"] = "6S LUT" if lut_info.get("lut") else "direct 6S (no LUT installed)"
        say("synthesising {} granules".format(counts[-1]))
        data = synthesise(work, counts[-1], 5.0 if args.quick else 34.0)
        say("ingest")
        r["ingest"] = ingest(work, data, lut_info.get("path"), passes=1 if args.quick else 2)
        from gmi_engine.backends.local import LocalStore
        from gmi_engine.table import DN_BANDS

        with LocalStore(r["ingest"]["workspace"], create=False) as store:
            r["max_source_cell"] = max_cell_bytes(store.path, "gmi_source", DN_BANDS)
        r["sixs"] = sixs_cost(r["ingest"]["states"][0], lut_info.get("lut"), cached=args.quick)
        r["rounds"] = 1 if args.quick else 3
        say("kernel for {} granules per tile".format(", ".join(map(str, counts))))
        r["counts"] = measure_counts(r["ingest"]["workspace"], counts, r["rounds"])
        r["fit_time"] = linear_fit([c["granules"] for c in r["counts"]],
                                   [c["kernel_s"] for c in r["counts"]])
        r["fit_memory"] = linear_fit([c["granules"] for c in r["counts"]],
                                     [c["peak_mb"] for c in r["counts"]])
        r["plan"] = plan(r)
        write_doc(args.out, render(r))
        if args.json:
            write_doc(args.json, json.dumps({k: r[k] for k in ("counts", "plan", "sixs",
                                                                "max_source_cell", "fit_time",
                                                                "fit_memory")}, indent=1))
        print(console_table(["granules", "kernel s", "peak MB"],
                            [[c["granules"], fmt(c["kernel_s"], 2), fmt(c["peak_mb"], 0)]
                             for c in r["counts"]]))
        print("\nwrote {}".format(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
