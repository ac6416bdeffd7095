"""Benchmark steps that run in a fresh process (so their peak RSS is their own).

``python -m benchmarks.steps STEP CONFIG.json`` prints one JSON line with the step's timings;
the caller (:func:`benchmarks.common.python_step`) adds the measured wall time and peak RSS.

Steps:

- ``ingest``: one granule into a new workspace (GDAL warp to tiles, ancillaries, 6S, store);
- ``e2e``: granule -> 23 index GeoTIFFs: ingest + ``run_local(mineral_indices, workers)`` + export,
  or (``one_pass``) ingest + ``run_local(..., export=...)`` (``gmi run --export``);
- ``breakdown``: where the local backend's time goes on a computed workspace (row decoding,
  kernel, result encoding, one tile after the other in this process, with a pool worker's
  malloc settings) and the export as COG and as plain tiled GeoTIFF.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Dict, Mapping

from gmi_engine.memory import fix_mmap_threshold

STEPS = ("ingest", "e2e", "breakdown")


def _options(config: Mapping[str, Any]):
    from gmi_engine.ingest import IngestOptions

    extra = {"lut": Path(config["lut"])} if config.get("lut") else {}
    if config.get("ingest_workers"):
        extra["workers"] = int(config["ingest_workers"])
    return IngestOptions(mcd19a2=[Path(p) for p in config.get("mcd19a2", ())],
                         gdem=[Path(p) for p in config.get("gdem", ())],
                         modis_ref=[Path(p) for p in config.get("modis_ref", ())], **extra)


def _ingest(config: Mapping[str, Any]) -> Dict[str, Any]:
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.ingest import ingest_granule

    workspace = Path(config["workspace"])
    shutil.rmtree(str(workspace), ignore_errors=True)
    start = time.perf_counter()
    with LocalStore(workspace) as store:
        rows = ingest_granule(Path(config["granule"]), store, _options(config))
    seconds = time.perf_counter() - start
    sources = sorted({str((row.ac or {}).get("source", "")).split(":")[0] for row in rows})
    return {"seconds": seconds, "rows": len(rows), "ac_sources": sources}


def _e2e(config: Mapping[str, Any]) -> Dict[str, Any]:
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.backends.local_runner import ExportJob, run_local
    from gmi_engine.export import export_results
    from gmi_engine.export.results import ExportOptions

    out = Path(config["out"])
    shutil.rmtree(str(out), ignore_errors=True)
    start = time.perf_counter()
    ingest = _ingest(config)
    t1 = time.perf_counter()
    options = ExportOptions(cog=bool(config.get("cog", True)), compression=str(config.get("compression", "zstd")))
    one_pass = bool(config.get("one_pass", False))
    report = run_local(Path(config["workspace"]), "mineral_indices", workers=int(config["workers"]),
                       force=True, export=ExportJob(str(out), options) if one_pass else None)
    t2 = time.perf_counter()
    if one_pass:
        exported = report.export
    else:
        with LocalStore(Path(config["workspace"]), create=False) as store:
            exported = export_results(store, out, "mineral_indices", cog=options.cog,
                                      compression=options.compression)
    t3 = time.perf_counter()
    return {"ingest_s": t1 - start, "run_s": t2 - t1, "export_s": t3 - t2, "total_s": t3 - start,
            "tiles": len(report.computed), "rows": ingest["rows"], "ac_sources": ingest["ac_sources"],
            "geotiffs": len(exported.geotiffs), "outputs": len(exported.outputs),
            "bytes_written": exported.bytes_written}


def _breakdown(config: Mapping[str, Any]) -> Dict[str, Any]:
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.backends.local_runner import kernel_row
    from gmi_engine.kernel.pipeline import run
    from gmi_engine.memory import reuse_freed_blocks
    from gmi_engine.table import ResultRow

    reuse_freed_blocks()  # the tile loop of a pool worker, with its malloc settings
    read_s = kernel_s = encode_s = 0.0
    tiles = 0
    with LocalStore(Path(config["workspace"]), create=False) as store:
        for tile in store.tiles():
            t0 = time.perf_counter()
            rows = [kernel_row(r) for r in store.tile_rows(tile)]
            t1 = time.perf_counter()
            results = run("mineral_indices", rows)
            t2 = time.perf_counter()
            for res in results:
                ResultRow(res["tile_x"], res["tile_y"], res["method"], res["output"], res["data"],
                          res["meta"]).to_dict()
            t3 = time.perf_counter()
            read_s += t1 - t0
            kernel_s += t2 - t1
            encode_s += t3 - t2
            tiles += 1
    from gmi_engine.export import export_results

    out = Path(config["workspace"]).parent / "breakdown-export"
    timings = {}
    for cog in (True, False):
        shutil.rmtree(str(out), ignore_errors=True)
        start = time.perf_counter()
        with LocalStore(Path(config["workspace"]), create=False) as store:
            export_results(store, out, "mineral_indices", cog=cog)
        timings["export_cog_s" if cog else "export_plain_s"] = time.perf_counter() - start
    shutil.rmtree(str(out), ignore_errors=True)
    return dict(timings, tiles=tiles, read_s=read_s, kernel_s=kernel_s, encode_s=encode_s)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2 or argv[0] not in STEPS:
        print("usage: python -m benchmarks.steps {{{}}} CONFIG.json".format(",".join(STEPS)),
              file=sys.stderr)
        return 2
    config = json.loads(Path(argv[1]).read_text())
    fix_mmap_threshold()  # as the gmi command does in its own process (a step stands for one)
    result = {"ingest": _ingest, "e2e": _e2e, "breakdown": _breakdown}[argv[0]](config)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
