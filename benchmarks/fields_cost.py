"""Cost of coefficient fields: ingest and the per-tile kernel (pipeline.run mosaic), with fields vs one state per tile.

All variants run in the same process on the same granules (the small demo set, LUT path), after
one warm-up each; the ratio is what issue 14 bounds (ingest <= 1.3x, kernel per tile <= +15 %).
``make bench`` runs it through :func:`measure` and :func:`render` (``benchmarks/run.py``).
``python -m benchmarks.fields_cost [work_dir]``
"""
from __future__ import annotations

import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from gmi_engine.atmosphere.lut import default_lut_path
from gmi_engine.backends.local import LocalStore
from gmi_engine.backends.local_runner import kernel_row
from gmi_engine.grid import DEFAULT_GRID
from gmi_engine.ingest import FIELD_NODES, IngestOptions, ingest_granule
from gmi_engine.kernel.pipeline import run
from gmi_engine.synth.demo import write_demo_set

#: The variants measured: one state per tile (the baseline), altitude-only fields (session 27),
#: fields with per-node altitude, AOD and water vapour (the default).
VARIANTS = (("single", {"field_nodes": 0}), ("fields_altitude", {"field_aod_wv": False}), ("fields", {}))


def _timed(fn) -> tuple:
    """(wall seconds, CPU seconds of this process) of one call."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def main(work: Path, repeat: int = 5) -> dict:
    """Best-of-``repeat`` wall and CPU seconds of every variant and their ratios to ``single``.

    Rounds are interleaved (variant after variant within each round), so a change of the
    machine's load during the run hits all variants alike."""
    demo = write_demo_set(Path(work) / "demo", small=True)
    out = {"repeat": repeat, "granules": len(demo.granules)}
    ingests, kernels = {}, {}
    params = {"tile_px": DEFAULT_GRID.tile_px, "balance": False}
    with ExitStack() as stack:
        for label, extra in VARIANTS:
            options = IngestOptions(mcd19a2=demo.mcd19a2, gdem=demo.gdem, lut=default_lut_path(),
                                    **dict({"field_nodes": FIELD_NODES}, **extra))
            store = stack.enter_context(LocalStore(Path(work) / ("ws-" + label)))
            ingests[label] = (lambda st=store, op=options:
                              [r for p in demo.granules for r in ingest_granule(p, st, op)])
            rows = ingests[label]()  # warm-up; the rows the kernel runs on
            tiles = {}
            for r in rows:
                tiles.setdefault((r.tile_x, r.tile_y), []).append(kernel_row(r))
            kernels[label] = (lambda ts=tuple(tiles.values()): [run("mosaic", t, params) for t in ts])
            out["tiles"], out["rows"] = len(tiles), len(rows)
        times = {(label, what): [] for label, _ in VARIANTS for what in ("ingest", "kernel")}
        for _ in range(repeat):
            for what, fns in (("ingest", ingests), ("kernel", kernels)):
                for label, _ in VARIANTS:
                    times[(label, what)].append(_timed(fns[label]))
    for (label, what), samples in times.items():
        wall, cpu = min(t[0] for t in samples), min(t[1] for t in samples)
        if what == "kernel":
            wall, cpu, what = wall / out["tiles"], cpu / out["tiles"], "kernel_tile"
        out["{}_{}_s".format(label, what)], out["{}_{}_cpu_s".format(label, what)] = wall, cpu
    for label, _ in VARIANTS[1:]:
        for what in ("ingest", "kernel_tile"):
            for unit in ("s", "cpu_s"):
                out["{}_{}_ratio_{}".format(label, what, unit)] = \
                    out["{}_{}_{}".format(label, what, unit)] / out["single_{}_{}".format(what, unit)]
    out["ingest_ratio"] = out["fields_ingest_ratio_cpu_s"]
    out["kernel_ratio"] = out["fields_kernel_tile_ratio_cpu_s"]
    return out


def measure(work: Path, quick: bool) -> dict:
    """What ``make bench`` calls (``benchmarks/run.py``): :func:`main` with 5 rounds (quick: 2)."""
    return main(Path(work), repeat=2 if quick else 5)


#: Issue 14's bounds: ingest with fields <= 1.3x, kernel per tile <= +15 %.
INGEST_MAX, KERNEL_MAX = 1.3, 1.15


def render(result: dict) -> list:
    """Markdown lines of the benchmark report's section."""
    rows = []
    for label, text in (("single", "one 6S state per tile"), ("fields_altitude", "fields, altitude per node"),
                        ("fields", "fields, altitude + AOD + water vapour per node (default)")):
        ing = result.get("{}_ingest_ratio_cpu_s".format(label), 1.0)
        ker = result.get("{}_kernel_tile_ratio_cpu_s".format(label), 1.0)
        rows.append("| {} | {:.3f} | {:.3f} | {:.2f}x | {:.4f} | {:.4f} | {:.2f}x |".format(
            text, result[label + "_ingest_s"], result[label + "_ingest_cpu_s"], ing,
            result[label + "_kernel_tile_s"], result[label + "_kernel_tile_cpu_s"], ker))
    met = result["ingest_ratio"] <= INGEST_MAX and result["kernel_ratio"] <= KERNEL_MAX
    return ["## Coefficient fields: cost (issue 14)", "",
            "Small demo set ({} granules, {} rows, {} tiles), 6S LUT, same process, best of {} interleaved "
            "rounds; ratios "
            "from CPU seconds of this process (wall seconds are noisier on a shared machine). Kernel: "
            "`pipeline.run(\"mosaic\")` per tile.".format(result["granules"], result["rows"], result["tiles"],
                                                       result["repeat"]), "",
            "| variant | ingest s | ingest CPU s | ingest ratio | kernel s/tile | kernel CPU s/tile | kernel ratio |",
            "|---|---|---|---|---|---|---|"] + rows + [
            "", "Bounds: ingest <= {}x, kernel per tile <= {}x: {}.".format(
                INGEST_MAX, KERNEL_MAX, "met" if met else "NOT met"), ""]


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="gmi-fields-"))
    print("\n".join(render(main(root))))
