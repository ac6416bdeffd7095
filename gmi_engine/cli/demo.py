"""``gmi demo``: the main job end to end on the embedded default and the synthetic demo set.

Writes the demo set (two overlapping pre-2008 granules over the Chino mine, MCD19A2, MOD09A1,
GDEM), ingests it into a local workspace, computes the colour-balanced reflectance and the
mineral indices on every tile, exports GeoTIFF/COG + VRT + .qml + STAC, and draws two quick-look
PNGs of tile (260, 526): ``quicklook.png`` (3-2-1 and one index) and ``alteration.png`` (3-2-1
beside the OHI/KLI/CLI alteration composite; the README picture).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from gmi_engine.grid import TileIndex

CHINO_TILE = TileIndex(260, 526)


def _step(name: str, start: float) -> None:
    print("[{:6.1f} s] {}".format(time.perf_counter() - start, name), flush=True)


def run_demo(out: Path, small: bool = False, workers=None, scene=None) -> dict:
    """Run every step; returns the paths it made and the wall time."""
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.backends.local_runner import run_local
    from gmi_engine.export import export_results, quicklook_png
    from gmi_engine.export.alteration import alteration_quicklook_png
    from gmi_engine.ingest import IngestOptions, ingest_many
    from gmi_engine.synth.demo import demo_scene_name, write_demo_set

    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    _step("writing the synthetic demo set", start)
    demo = write_demo_set(out / "data", small=small, scene=scene)
    options = IngestOptions(mcd19a2=demo.mcd19a2, gdem=demo.gdem, modis_ref=demo.mod09a1)
    workspace = out / "workspace"
    ingest_many(demo.granules, workspace, options,
                on_granule=lambda g: _step("ingested {} ({} tiles)".format(g.path.name, g.rows), start)
                ).raise_first_error()
    reports = {}
    for method in ("color_balancing", "mineral_indices"):
        report = run_local(workspace, method, workers=workers)
        reports[method] = report
        _step("{}: {} tiles computed, {} up to date".format(
            method, len(report.computed), len(report.skipped)), start)
    exports = {}
    with LocalStore(workspace, create=False) as store:
        for method in ("color_balancing", "mineral_indices"):
            exports[method] = export_results(store, out / "export", method)
            _step("exported {}: {} GeoTIFFs, {} VRTs".format(
                method, len(exports[method].geotiffs), len(exports[method].vrts)), start)
    png = quicklook_png(out / "export", out / "quicklook.png", tile=CHINO_TILE)
    _step("quick-look {}".format(png), start)
    alteration = alteration_quicklook_png(
        out / "export", out / "alteration.png", tile=CHINO_TILE,
        caption="synthetic granules over the {} scene".format(demo_scene_name(small, scene)))
    _step("alteration quick-look {}".format(alteration), start)
    return {"workspace": workspace, "export": out / "export", "quicklook": png, "alteration": alteration,
            "seconds": time.perf_counter() - start, "exports": exports, "reports": reports}


def _cmd_demo(args) -> int:
    result = run_demo(Path(args.output), small=args.small, workers=args.workers, scene=args.scene)
    print("demo done in {:.1f} s: outputs in {}, quick-look {}".format(
        result["seconds"], result["export"], result["quicklook"]))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` command."""
    p = sub.add_parser("demo", help="run the main job end to end on the synthetic demo set",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n  gmi demo --output demo-output\n"
                              "  gmi demo --output /tmp/gmi-small --small --workers 1")
    p.add_argument("--output", "-o", default="demo-output", help="folder for everything (default demo-output)")
    p.add_argument("--small", action="store_true", help="12 km scenes: a quick run")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--scene", choices=("porphyry", "checkerboard"), default=None,
                   help="the ground: the zoned porphyry-copper system on relief (default) or the flat "
                        "mineral checkerboard (default with --small)")
    p.set_defaults(func=_cmd_demo)
