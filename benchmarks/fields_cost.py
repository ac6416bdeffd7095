"""Cost of coefficient fields: ingest and the per-tile kernel (pipeline.run mosaic), with fields vs one state per tile.

Both variants run in the same process on the same granules (the small demo set, LUT path), after
one warm-up each; the ratio is what issue 14 bounds (ingest <= 1.3x, kernel per tile <= +15 %).
``python -m benchmarks.fields_cost [work_dir]``
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from gmi_engine.atmosphere.lut import default_lut_path
from gmi_engine.backends.local import LocalStore
from gmi_engine.backends.local_runner import kernel_row
from gmi_engine.grid import DEFAULT_GRID
from gmi_engine.ingest import FIELD_NODES, IngestOptions, ingest_granule
from gmi_engine.kernel.pipeline import run
from gmi_engine.synth.demo import write_demo_set


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(work: Path, repeat: int = 5) -> dict:
    """Best-of-``repeat`` seconds of both variants and their ratios."""
    demo = write_demo_set(work / "demo", small=True)
    out = {}
    for label, nodes in (("single", 0), ("fields", FIELD_NODES)):
        options = IngestOptions(mcd19a2=demo.mcd19a2, gdem=demo.gdem, lut=default_lut_path(), field_nodes=nodes)
        with LocalStore(work / ("ws-" + label)) as store:
            def ingest():
                return [r for p in demo.granules for r in ingest_granule(p, store, options)]
            rows = ingest()
            out[label + "_ingest_s"] = _best(ingest, repeat)
        tiles = {}
        for r in rows:
            tiles.setdefault((r.tile_x, r.tile_y), []).append(kernel_row(r))
        params = {"tile_px": DEFAULT_GRID.tile_px, "balance": False}
        out[label + "_kernel_tile_s"] = _best(
            lambda: [run("mosaic", t, params) for t in tiles.values()], repeat) / len(tiles)
    out["ingest_ratio"] = out["fields_ingest_s"] / out["single_ingest_s"]
    out["kernel_ratio"] = out["fields_kernel_tile_s"] / out["single_kernel_tile_s"]
    return out


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="gmi-fields-"))
    for key, value in main(root).items():
        print("{:24s} {:.4f}".format(key, value))
