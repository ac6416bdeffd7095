"""``docs/scale.md``: the scale run (real ``gmi ingest`` + ``gmi run`` over 40 granules) and a global plan.

The set (:mod:`gmi_engine.synth.scale_set`) is 40 synthetic 30 km AST_L1T granules in four
blocks of about 15 grid tiles, 1 to 8 granules per tile, each granule with its own date, sun,
orientation and gains, plus one MOD09A1 reference. ``gmi ingest <40 granules> --lut
--modis-ref ...`` runs once as a subprocess; the workspace of the first 10 granules (one whole
block: the job grows fourfold, what one tile sees does not) is a copy of its workspace without
the later granules. On each of the two, ``gmi run --method mineral_indices --workers
2`` runs as a subprocess over all tiles. Each job's CPU time and the peak RSS of its largest
process come from the rusage of its whole process tree (a small launcher that reaps every
process of the job, the forkserver and its pool workers included), and the peak RSS per process
(the main process, the forkserver, each pool worker) from sampling the tree with psutil every
0.1 s (the kernel's
high-water mark ``VmHWM``; the current RSS and the CLI's progress lines at each sample show how
memory evolves over the job). Store sizes come from the workspace folder and the store's
own statistics.

The cost curve against granules per tile times, in this process and one core, the same work a
pool worker does per tile (read + decode the source rows, ``pipeline.run("mineral_indices")``,
encode the result cells as the UDTF does) on tiles of the 40-granule workspace grouped by how
many granules cover them (CPU seconds, which the other processes on the machine disturb less
than wall time). The global figures multiply the measured per-tile CPU seconds out for the
issue's ~160,000 land tiles.

``--quick`` writes four 10 km granules (2 blocks, 1-2 per tile) and runs 2 and 4 (CI smoke test).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from benchmarks.common import (
    REPO,
    console_table,
    fmt,
    generated_note,
    machine_info,
    machine_line,
    read_back,
    table,
    write_doc,
)

DEFAULT_DOC = REPO / "docs" / "scale.md"
#: The issue's estimate of land tiles on the global grid (an input, not a measurement).
GLOBAL_LAND_TILES = 160_000
#: MaxCompute limits (science.md §5.3): one cell, Python UDF memory range, per-batch timeout.
CELL_LIMIT = 8 * 1024 * 1024
UDF_MEMORY_MAX_MB = 3072
BATCH_TIMEOUT_S = 1800
DEFAULT_BATCH_ROWCOUNT = 1024
#: Headroom applied to measured times and memory in the plan (other cores, Python 3.7 + older numpy).
SAFETY = 3.0
#: Assumed CPU speed of one MaxCompute CU (1 core + 4 GB) relative to one core of this machine.
CU_SPEED = 1.0
COUNTS = (10, 40)
QUICK_COUNTS = (2, 4)
WORKERS = 2
#: Tiles timed per granules-per-tile count for the cost curve.
CURVE_TILES = 2
RSS_GROWTH_LIMIT = 0.10
#: A memory figure that was not measured (never 0 MB, which would meet every memory target).
NAN = float("nan")
SAMPLE_S = 0.1
METHOD = "mineral_indices"


def say(message: str) -> None:
    """Progress on stderr."""
    print("[scale {}] {}".format(time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


# -- measured subprocesses -------------------------------------------------------------------
def peak(values: Iterable[float]) -> float:
    """The largest of the measured ``values`` (NaN ones skipped); NaN when none was measured."""
    measured = [v for v in values if not math.isnan(v)]
    return max(measured) if measured else NAN


@dataclass
class Job:
    """One measured subprocess: times, peak RSS of the tree and per process."""

    command: str
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    main_rss_mb: float
    worker_rss_mb: List[float] = field(default_factory=list)
    #: Peak RSS of the multiprocessing forkserver (NaN when none was sampled), MB.
    server_rss_mb: float = NAN
    returncode: int = 0
    stdout: str = ""
    #: Per sample: seconds, main RSS MB, largest worker RSS MB, units done (granules or tiles),
    #: peak main RSS so far MB, peak worker RSS so far MB (NaN: no such process sampled yet).
    timeline: List[Tuple[float, ...]] = field(default_factory=list)

    @property
    def max_worker_rss_mb(self) -> float:
        """The largest pool worker's peak RSS (NaN when no worker was sampled)."""
        return peak(self.worker_rss_mb)


def _role(proc, launcher_pid: int, roles: Dict[int, str]) -> str:
    """The part a process plays in the measured job: 'main' (the CLI process), 'server' (the
    multiprocessing forkserver), 'worker' (a pool worker: forked from the server or a spawn
    child), 'tracker' (the resource tracker) or 'other'."""
    import psutil

    try:
        parent = proc.ppid()
        text = " ".join(proc.cmdline())
    except (psutil.Error, OSError):
        return "other"
    if parent == launcher_pid and "main" not in roles.values():
        return "main"  # the launcher's first child; processes orphaned later come back to it too
    if "resource_tracker" in text:
        return "tracker"
    if roles.get(parent) == "server" or "spawn_main" in text:
        return "worker"
    if "forkserver" in text:
        return "server"
    return "other"


#: Starts the measured command from a small process and reports the rusage of the whole tree:
#: the launcher is a child subreaper, so the processes the command leaves to finish on their own
#: (the multiprocessing forkserver, which forks and reaps the pool workers) come back to it and
#: are reaped by it; RUSAGE_CHILDREN then sums the CPU time of every process of the job and gives
#: the peak RSS of its largest process. (``wait4`` of a child exec'd from a big parent would count
#: the parent's memory: Linux keeps the pre-exec high-water mark; this ``python -S`` is small.)
_LAUNCHER = (
    "import ctypes, os, resource, sys\n"
    "ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execv(sys.argv[2], sys.argv[2:])\n"
    "code = 1\n"
    "while True:\n"
    "    try:\n"
    "        done, status = os.wait()\n"
    "    except ChildProcessError:\n"
    "        break\n"
    "    if done == pid:\n"
    "        code = os.waitstatus_to_exitcode(status)\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "open(sys.argv[1], 'w').write('%d %r %r' % (u.ru_maxrss, u.ru_utime, u.ru_stime))\n"
    "sys.exit(code)\n"
)


#: The progress lines of the CLI (one per step when stderr is not a terminal): units done.
_DONE = (re.compile(r"computed (\d+)/\d+ tiles"), re.compile(r"^ingest \[[#.]*\] (\d+)/\d+", re.M))


def _sample(launcher, peaks: Dict[int, float], roles: Dict[int, str]) -> Tuple[float, ...]:
    """Record the peak RSS of every process under ``launcher`` (its child is the measured main)
    from its high-water mark; returns the main's and the largest worker's RSS now and their
    peaks so far, MB (NaN for a role no process of which was read)."""
    import psutil

    now = {"main": [], "worker": []}  # type: Dict[str, List[float]]
    try:
        children = launcher.children(recursive=True)
    except psutil.Error:
        children = []
    for p in children:
        try:
            rss = p.memory_info().rss / 2 ** 20
            if p.pid not in roles:
                roles[p.pid] = _role(p, launcher.pid, roles)
        except psutil.Error:
            continue
        peaks[p.pid] = peak([peaks.get(p.pid, NAN), rss, _high_water_mb(p.pid)])
        role = roles[p.pid]
        if role in now:
            now[role].append(rss)
    high = {role: _role_peak(peaks, roles, role) for role in now}
    return peak(now["main"]), peak(now["worker"]), high["main"], high["worker"]


def _role_peak(peaks: Dict[int, float], roles: Dict[int, str], role: str) -> float:
    """The largest peak RSS of the processes playing ``role``, MB; NaN when none was sampled."""
    return peak(v for k, v in peaks.items() if roles.get(k) == role)


def _high_water_mb(pid: int) -> float:
    """The kernel's peak RSS of a process so far (``VmHWM``), MB; NaN when unreadable."""
    try:
        with open("/proc/{}/status".format(pid)) as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return NAN


def _units_done(text: str, done: int) -> int:
    """The largest count of granules/tiles done that the progress lines in ``text`` report."""
    for pattern in _DONE:
        for match in pattern.finditer(text):
            done = max(done, int(match.group(1)))
    return done


def run_job(args: Sequence[str], env: Dict[str, str]) -> Job:
    """``python -m gmi_engine.cli args``; peak RSS from ``wait4`` and from sampling the tree."""
    import psutil

    cmd = [sys.executable, "-m", "gmi_engine.cli"] + list(args)
    peaks: Dict[int, float] = {}
    roles: Dict[int, str] = {}
    with tempfile.TemporaryDirectory(prefix="gmi-scale-job-") as tmp:
        usage_path = Path(tmp) / "rusage"
        with open(Path(tmp) / "out", "w+b") as out, open(Path(tmp) / "err", "w+b") as err:
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-S", "-c", _LAUNCHER, str(usage_path)] + cmd,
                                    cwd=str(REPO), env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=err)
            launcher = psutil.Process(proc.pid)
            timeline = []
            done = 0
            pending = ""
            with open(Path(tmp) / "err", "rb") as progress:
                while proc.poll() is None:
                    sample = _sample(launcher, peaks, roles)
                    pending += progress.read().decode("utf-8", "replace")
                    complete, _, pending = pending.rpartition("\n")
                    done = _units_done(complete, done)
                    timeline.append((round(time.perf_counter() - start, 2),) +
                                    tuple(round(x, 1) for x in sample[:2]) + (done,) +
                                    tuple(round(x, 1) for x in sample[2:]))
                    time.sleep(SAMPLE_S)
            wall = time.perf_counter() - start
            stdout, stderr = read_back(out, err)
        try:
            maxrss, utime, stime = usage_path.read_text().split()
        except (OSError, ValueError):
            maxrss, utime, stime = "nan", "nan", "nan"  # not measured
    if proc.returncode != 0:
        tail = "\n".join((stderr or stdout).strip().splitlines()[-20:])
        raise RuntimeError("gmi {} failed with exit status {}:\n{}".format(
            " ".join(args[:2]), proc.returncode, tail))
    return Job(command="gmi " + " ".join(args[:1]), wall_s=wall, cpu_s=float(utime) + float(stime),
               peak_rss_mb=float(maxrss) / 1024.0, main_rss_mb=_role_peak(peaks, roles, "main"),
               worker_rss_mb=sorted((v for k, v in peaks.items()
                                     if roles.get(k) == "worker" and not math.isnan(v)), reverse=True),
               server_rss_mb=_role_peak(peaks, roles, "server"),
               returncode=proc.returncode, stdout=stdout[-2000:], timeline=timeline)


def peak_until(job: Job, done: int, column: int) -> float:
    """Peak RSS (``column`` 4 main, 5 workers) reached before ``done`` units were done, MB;
    NaN when no sample before then measured it."""
    return peak(s[column] for s in job.timeline if s[3] < done)


def cli_env(cache_dir: Optional[str]) -> Dict[str, str]:
    """The environment of the gmi subprocesses: this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    if cache_dir:
        env["GMI_CACHE_DIR"] = cache_dir
    return env


# -- the store -------------------------------------------------------------------------------
def folder_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder``."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def workspace_facts(workspace: Path) -> Dict[str, Any]:
    """Rows per tile, the store's statistics and its size on disk."""
    from gmi_engine.backends.local import LocalStore

    with LocalStore(workspace, create=False) as store:
        per_tile = {}
        for row in store._query('SELECT tile_x, tile_y, count(*) FROM "gmi_source" GROUP BY tile_x, tile_y'):
            per_tile[(row[0], row[1])] = row[2]
        stats = store.stats()
    return {"per_tile": per_tile, "stats": asdict(stats), "disk_bytes": folder_bytes(workspace)}


def histogram(per_tile: Dict[Any, int]) -> Dict[int, int]:
    """Granules per tile -> tiles."""
    out: Dict[int, int] = {}
    for g in per_tile.values():
        out[g] = out.get(g, 0) + 1
    return dict(sorted(out.items()))


# -- the cost curve --------------------------------------------------------------------------
def tile_cost(workspace: Path, tile: Any) -> Dict[str, float]:
    """CPU and wall seconds of one tile's worker unit: read + decode, kernel, encode (UDTF codec)."""
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.backends.local_runner import kernel_row
    from gmi_engine.kernel.pipeline import inputs_digest, merged_params, run
    from gmi_engine.kernel.records import result_cells

    params = merged_params(None)
    marks = [(time.process_time(), time.perf_counter())]
    with LocalStore(workspace, create=False) as store:
        rows = [kernel_row(r) for r in store.tile_rows(tile)]
    digest = inputs_digest(rows, METHOD, params)
    marks.append((time.process_time(), time.perf_counter()))
    results = run(METHOD, rows, params)
    marks.append((time.process_time(), time.perf_counter()))
    cells = [result_cells(r, digest) for r in results]
    marks.append((time.process_time(), time.perf_counter()))
    cpu = [b[0] - a[0] for a, b in zip(marks, marks[1:])]
    wall = [b[1] - a[1] for a, b in zip(marks, marks[1:])]
    return {"read_cpu_s": cpu[0], "kernel_cpu_s": cpu[1], "encode_cpu_s": cpu[2],
            "cpu_s": sum(cpu), "wall_s": sum(wall), "result_rows": len(cells),
            "result_bytes": sum(len(c["data"]) for c in cells),
            "max_result_cell": max(len(c["data"]) for c in cells)}


def cost_curve(workspace: Path, per_tile: Dict[Any, int], per_count: int) -> List[Dict[str, Any]]:
    """Mean cost of up to ``per_count`` tiles for every granules-per-tile count present."""
    from gmi_engine.grid import TileIndex

    by_g: Dict[int, List[Any]] = {}
    for (x, y), g in sorted(per_tile.items()):
        by_g.setdefault(g, []).append(TileIndex(x, y))
    tile_cost(workspace, by_g[min(by_g)][0])  # warm-up: imports, the index program, caches
    out = []
    for g in sorted(by_g):
        costs = [tile_cost(workspace, t) for t in by_g[g][:per_count]]
        mean = {k: float(np.mean([c[k] for c in costs])) for k in costs[0]}
        mean["max_result_cell"] = max(c["max_result_cell"] for c in costs)
        mean.update(granules=g, tiles_timed=len(costs))
        out.append(mean)
    return out


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> Dict[str, float]:
    """Least-squares y = a + b x."""
    if len(xs) < 2:
        return {"a": float(ys[0]), "b": 0.0}
    b, a = np.polyfit(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), 1)
    return {"a": float(a), "b": float(b)}


# -- the runs --------------------------------------------------------------------------------
def subset_workspace(full: Path, target: Path, keep: Sequence[str]) -> None:
    """``target``: a copy of the ingested workspace ``full`` with only the granules ``keep``.

    Source rows are one per (granule, tile) and do not depend on the other granules, so this is
    the workspace an ingest of just those granules makes (without ingesting them again).
    """
    from gmi_engine.backends.local import LocalStore

    shutil.rmtree(str(target), ignore_errors=True)
    shutil.copytree(str(full), str(target))
    with LocalStore(target, create=False) as store:
        for granule in store.granules():
            if granule not in keep:
                store.delete_granule(granule)
        store._query("VACUUM")


def scale_run(work: Path, counts: Sequence[int], quick: bool, env: Dict[str, str]) -> Dict[str, Any]:
    """Synthesise, ingest all granules once, then run for the first ``n`` of them per count."""
    from gmi_engine.synth.scale_set import (
        describe,
        footprint_tiles,
        granules_per_tile,
        scale_specs,
        set_digest,
        write_scale_set,
    )

    r: Dict[str, Any] = {"counts": list(counts), "runs": []}
    specs = scale_specs(counts[-1], quick=quick)
    predicted = granules_per_tile(footprint_tiles(s) for s in specs)
    say("layout of {} granules (footprints): {}".format(len(specs), describe(predicted)))
    say("synthesising {} granules".format(len(specs)))
    start = time.perf_counter()
    # Reused from an earlier run with the same specs and synthesis code (the folder's name).
    folder = work / "data-{}".format(set_digest(specs))
    r["synth_reused"] = all((folder / "aster" / (s.granule_id + ".hdf")).is_file() for s in specs)
    data = write_scale_set(folder, specs, processes=WORKERS)
    r["synth_s"] = time.perf_counter() - start
    r["granule_mb"] = float(np.mean([p.stat().st_size for p in data.granules])) / 1e6
    full = work / "ingested"
    shutil.rmtree(str(full), ignore_errors=True)
    say("gmi ingest of {} granules".format(len(specs)))
    ingest = run_job(["ingest"] + [str(p) for p in data.granules] +
                     ["--workspace", str(full), "--modis-ref", str(data.modis), "--lut"], env)
    source = workspace_facts(full)
    say("  {:.1f} s ({:.1f} CPU s), main RSS {:.0f} MB; {}".format(
        ingest.wall_s, ingest.cpu_s, ingest.main_rss_mb, describe(source["per_tile"])))
    r["ingest"] = dict(asdict(ingest), granules=len(specs), source_rows=source["stats"]["source_rows"],
                       tiles=len(source["per_tile"]), disk_bytes=source["disk_bytes"],
                       first_rss_mb=peak_until(ingest, counts[0], 4), first_granules=counts[0])
    for n in counts:
        ws = work / "ws{}".format(n)
        subset_workspace(full, ws, [s.granule_id for s in specs[:n]])
        before = workspace_facts(ws)
        say("gmi run --workers {} over {} granules: {}".format(WORKERS, n, describe(before["per_tile"])))
        job = run_job(["run", "--workspace", str(ws), "--method", METHOD,
                       "--workers", str(WORKERS)], env)
        after = workspace_facts(ws)
        tiles = len(after["per_tile"])
        say("  {:.1f} s, {:.3f} tiles/s, {:.1f} CPU s, peak RSS {:.0f} MB (main {:.0f}, workers {})".format(
            job.wall_s, tiles / job.wall_s, job.cpu_s, job.peak_rss_mb, job.main_rss_mb,
            ", ".join("{:.0f}".format(w) for w in job.worker_rss_mb)))
        quarter = max(1, tiles // 4)
        r["runs"].append({"granules": n, "tiles": tiles, "histogram": histogram(after["per_tile"]),
                          "per_tile": {"{},{}".format(*k): v for k, v in after["per_tile"].items()},
                          "source_rows": after["stats"]["source_rows"],
                          "run": dict(asdict(job), max_worker_rss_mb=job.max_worker_rss_mb,
                                      first_quarter_tiles=quarter,
                                      first_quarter_worker_mb=peak_until(job, quarter, 5),
                                      first_quarter_main_mb=peak_until(job, quarter, 4)),
                          "source_disk_bytes": before["disk_bytes"], "store": after["stats"],
                          "disk_bytes": after["disk_bytes"]})
    say("cost per tile vs granules per tile (up to {} tiles per count, one core)".format(CURVE_TILES))
    r["curve"] = cost_curve(full, source["per_tile"], 1 if quick else CURVE_TILES)
    return r


def rss_growth(r: Dict[str, Any]) -> Dict[str, Any]:
    """Peak RSS growth with the size of the job: across runs and within the largest jobs.

    ``met`` is None ("not measured") when any row's growth is NaN (a peak not measured), else
    whether the largest growth is within :data:`RSS_GROWTH_LIMIT`."""
    first, last = r["runs"][0], r["runs"][-1]
    rows = []

    def add(what: str, small: str, large: str, a: float, b: float) -> None:
        rows.append({"what": what, "small": small, "large": large, "small_mb": a, "large_mb": b,
                     "growth": (b - a) / a if a > 0 else NAN})  # NaN a or b: NaN

    sizes = ("{} granules".format(first["granules"]), "{} granules".format(last["granules"]))
    add("gmi run: largest pool worker", *sizes, first["run"]["max_worker_rss_mb"],
        last["run"]["max_worker_rss_mb"])
    add("gmi run: main process", *sizes, first["run"]["main_rss_mb"], last["run"]["main_rss_mb"])
    add("gmi run: largest process (rusage)", *sizes, first["run"]["peak_rss_mb"], last["run"]["peak_rss_mb"])
    q = last["run"]
    within = ("first {} of {} tiles".format(q["first_quarter_tiles"], last["tiles"]), "whole job")
    add("gmi run ({} granules): workers".format(last["granules"]), *within,
        q["first_quarter_worker_mb"], q["max_worker_rss_mb"])
    add("gmi run ({} granules): main".format(last["granules"]), *within,
        q["first_quarter_main_mb"], q["main_rss_mb"])
    i = r["ingest"]
    add("gmi ingest ({} granules): main".format(i["granules"]),
        "first {} granules".format(i["first_granules"]), "whole job", i["first_rss_mb"], i["main_rss_mb"])
    worst = peak(x["growth"] for x in rows)
    measured = not any(math.isnan(x["growth"]) for x in rows)
    return {"rows": rows, "worst": worst, "met": bool(worst <= RSS_GROWTH_LIMIT) if measured else None,
            "from": first["granules"], "to": last["granules"]}


def growth_verdict(g: Dict[str, Any]) -> str:
    """The acceptance sentence of :func:`rss_growth`'s result: met, not met or not measured."""
    verdict = {True: "met", False: "not met", None: "not measured"}[g["met"]]
    worst = "{:+.1f} %".format(100 * g["worst"]) if not math.isnan(g["worst"]) else "none measured"
    return ("Acceptance (issue 18): RSS growth from {} to {} granules ≤ {:.0f} %: **{}** "
            "(largest growth of any measured row {}).".format(
                g["from"], g["to"], 100 * RSS_GROWTH_LIMIT, verdict, worst))


def plan(r: Dict[str, Any]) -> Dict[str, Any]:
    """Per-tile cost from the largest run, the curve, core-hours and the MaxCompute settings."""
    last = r["runs"][-1]
    curve = {c["granules"]: c for c in r["curve"]}
    fit = linear_fit([c["granules"] for c in r["curve"]], [c["cpu_s"] for c in r["curve"]])
    tiles = last["tiles"]
    counts = [int(v) for v in last["per_tile"].values()]
    predicted_cpu = sum(fit["a"] + fit["b"] * g for g in counts)
    run_cpu = last["run"]["cpu_s"]
    # What the job spends per tile beyond the worker unit: planning (the digest decodes every
    # tile's rows), commits, process start-up; spread over the tiles.
    overhead = max(0.0, (run_cpu - predicted_cpu) / tiles)
    ingest_row_cpu = r["ingest"]["cpu_s"] / r["ingest"]["source_rows"]
    mean_g = float(np.mean(counts))
    per = []
    for g in sorted(set(curve) | {1, 2, 4, 8}):
        unit = curve[g]["cpu_s"] if g in curve else fit["a"] + fit["b"] * g
        udtf = (curve[g]["kernel_cpu_s"] + curve[g]["encode_cpu_s"] if g in curve
                else unit - float(np.mean([c["read_cpu_s"] for c in r["curve"]])))
        per.append({"granules": g, "measured": g in curve, "unit_cpu_s": unit,
                    "local_cpu_s": unit + overhead,
                    "local_core_h": GLOBAL_LAND_TILES * (unit + overhead) / 3600.0,
                    "ingest_core_h": GLOBAL_LAND_TILES * g * ingest_row_cpu / 3600.0,
                    "udtf_cpu_s": udtf,
                    "cu_h": GLOBAL_LAND_TILES * udtf / CU_SPEED / 3600.0})
    job_tile_cpu = run_cpu / tiles
    udtf_of = {q["granules"]: q["udtf_cpu_s"] for q in per}
    udtf_tile_cpu = float(np.mean([udtf_of[g] if g in udtf_of else fit["a"] + fit["b"] * g
                                   for g in counts]))
    worst_row_s = max(c["kernel_cpu_s"] + c["encode_cpu_s"] for c in r["curve"]) * SAFETY
    worker_mb = peak(run["run"]["max_worker_rss_mb"] for run in r["runs"])
    if math.isnan(worker_mb):
        memory = UDF_MEMORY_MAX_MB  # not measured: the largest the UDF may have
    else:
        memory = min(UDF_MEMORY_MAX_MB, max(512, int(math.ceil(worker_mb * SAFETY / 512.0)) * 512))
    by_time = int(BATCH_TIMEOUT_S // worst_row_s)
    st = last["store"]
    row_bytes = st["source_blob_bytes"] / st["source_rows"]
    by_memory = int(memory * 2 ** 20 * 0.25 // row_bytes)
    return {"fit": fit, "overhead_cpu_s": overhead, "predicted_run_cpu_s": predicted_cpu,
            "run_cpu_s": run_cpu, "job_tile_cpu_s": job_tile_cpu, "mean_granules": mean_g,
            "ingest_row_cpu_s": ingest_row_cpu, "per_g": per,
            "global_local_core_h": GLOBAL_LAND_TILES * job_tile_cpu / 3600.0,
            "global_ingest_core_h": GLOBAL_LAND_TILES * mean_g * ingest_row_cpu / 3600.0,
            "udtf_tile_cpu_s": udtf_tile_cpu,
            "global_cu_h": GLOBAL_LAND_TILES * udtf_tile_cpu / CU_SPEED / 3600.0,
            "global_wall_h_here": GLOBAL_LAND_TILES / (tiles / last["run"]["wall_s"]) / 3600.0,
            "udf_memory_mb": memory, "worker_mb": worker_mb, "worst_row_s": worst_row_s,
            "by_time": by_time, "by_memory": by_memory, "row_bytes": row_bytes,
            "batch_rowcount": max(1, min(DEFAULT_BATCH_ROWCOUNT, by_time, by_memory))}


# -- the document ----------------------------------------------------------------------------
def _percent(fraction: float) -> str:
    """``+5.0 %`` for 0.05; ``not measured`` for NaN."""
    return "not measured" if math.isnan(fraction) else "{:+.1f} %".format(100 * fraction)


def render(r: Dict[str, Any]) -> str:
    """docs/scale.md from the measurements."""
    p = r["plan"]
    g = r["growth"]
    lines = [generated_note("benchmarks/scale.py", "make bench-scale"), "", "# Scale: a global run", "",
             machine_line(r["machine"]) + " Load average (1, 5, 15 min) at the end: {}.".format(
                 ", ".join("{:.1f}".format(x) for x in r["load_end"])) +
             (" **Quick mode** (four small granules)." if r["quick"] else ""), "",
             __doc__.split("\n\n", 1)[1].strip(), "",
             "Other engineers' jobs shared the 2 cores during the run (see the load averages): wall "
             "times and tiles/s are pessimistic, CPU seconds less so; the RSS figures are not "
             "affected.", ""]
    i = r["ingest"]
    lines += ["## The scale run", "",
              "Synthesis of {} granules ({:.0f} MB each; 2 processes, not part of the jobs{}): "
              "{:.0f} s.".format(i["granules"], r["granule_mb"],
                                 "; the granules were already in the work folder from an earlier run with the "
                                 "same specs and synthesis code: this is the MOD09A1 only" if r["synth_reused"]
                                 else "", r["synth_s"]), "",
              "`gmi ingest` of all {} granules (`--lut`, `--modis-ref`): {:.1f} s wall, {:.1f} CPU "
              "s, {} source rows over {} tiles ({:.2f} CPU s per row), peak RSS {} MB (main "
              "process; {} MB during its first {} granules), store {:.1f} MB. The workspaces "
              "of the first {} granules are copies of it without the later granules (a "
              "source row depends on its granule only).".format(
                  i["granules"], i["wall_s"], i["cpu_s"], i["source_rows"], i["tiles"],
                  i["cpu_s"] / i["source_rows"], fmt(i["main_rss_mb"], 0), fmt(i["first_rss_mb"], 0),
                  i["first_granules"], i["disk_bytes"] / 1e6,
                  " and ".join(str(n) for n in r["counts"][:-1])), "",
              "`gmi run --method mineral_indices --workers {}` over all tiles of each workspace:".format(
                  WORKERS), ""]
    rows = []
    for run in r["runs"]:
        j = run["run"]
        rows.append([run["granules"], run["tiles"], run["source_rows"],
                     ", ".join("{}: {}".format(k, v) for k, v in run["histogram"].items()),
                     fmt(j["wall_s"], 1), fmt(j["cpu_s"], 1), fmt(run["tiles"] / j["wall_s"], 3),
                     fmt(j["cpu_s"] / run["tiles"], 2),
                     fmt(j["main_rss_mb"], 0), " / ".join(fmt(w, 0) for w in j["worker_rss_mb"]),
                     fmt(j["peak_rss_mb"], 0), fmt(run["disk_bytes"] / 1e6, 1)])
    lines += [table(["granules", "tiles", "source rows", "granules per tile: tiles",
                     "wall s", "CPU s", "tiles/s", "CPU s per tile",
                     "main RSS MB", "worker RSS MB", "largest process MB (rusage)",
                     "store MB"], rows), "",
              "CPU s: user + system time of every process of the job (rusage of the reaped tree). RSS: peak "
              "resident memory per process (its `VmHWM`, read every {} s; the rusage peak of the "
              "largest process beside it). Store: every file of the workspace after the run (the "
              "GeoPackage with source and result rows).".format(SAMPLE_S), ""]
    lines += ["### Peak RSS against the size of the job", "",
              table(["job, process", "smaller", "MB", "larger", "MB", "growth"],
                    [[x["what"], x["small"], fmt(x["small_mb"], 0), x["large"], fmt(x["large_mb"], 0),
                      _percent(x["growth"])] for x in g["rows"]]), "",
              growth_verdict(g), ""]
    lines += ["## Cost per tile vs granules per tile (one core)", "",
              "Mean of up to {} tiles of the {}-granule workspace per count; CPU seconds of "
              "this process. read = SQLite read and decoding of the source rows, kernel = "
              "`pipeline.run(\"mineral_indices\")` (radiance, 6S reflectance, masks, mosaic, MODIS "
              "balancing, 23 indices), encode = the {:.0f} result cells with the UDTF's codec.".format(
                  CURVE_TILES, r["counts"][-1], r["curve"][0]["result_rows"]), ""]
    rows = [[c["granules"], c["tiles_timed"], fmt(c["read_cpu_s"], 2), fmt(c["kernel_cpu_s"], 2),
             fmt(c["encode_cpu_s"], 2), fmt(c["cpu_s"], 2), fmt(c["wall_s"], 2),
             "{:,.0f}".format(c["result_bytes"])] for c in r["curve"]]
    lines += [table(["granules per tile", "tiles timed", "read CPU s", "kernel CPU s",
                     "encode CPU s", "total CPU s", "total wall s", "result bytes"], rows), "",
              "Least-squares fit: CPU s per tile ≈ {:.2f} + {:.2f} × granules. Over the {} tiles "
              "of the {}-granule run the fit predicts {:.0f} CPU s of worker units; the job "
              "used {:.0f} CPU s, i.e. {:.2f} s per tile beyond the worker unit (the main "
              "process plans every tile by decoding its rows for the input digest, commits the "
              "results; interpreter start-up).".format(
                  p["fit"]["a"], p["fit"]["b"], r["runs"][-1]["tiles"], r["counts"][-1],
                  p["predicted_run_cpu_s"], p["run_cpu_s"], p["overhead_cpu_s"]), ""]
    last = r["runs"][-1]
    st = last["store"]
    lines += ["## Rows and bytes per tile ({} granules)".format(last["granules"]), "",
              table(["", "measured"], [
                  ["source rows per tile", "{:.2f} (one per granule over the tile)".format(
                      st["source_rows"] / st["tiles"])],
                  ["source bytes per tile (encoded DN + MODIS cells)",
                   "{:,.0f}".format(st["source_blob_bytes"] / st["tiles"])],
                  ["bytes per source row", "{:,.0f}".format(p["row_bytes"])],
                  ["result rows per tile ({})".format(METHOD),
                   "{:.0f} (23 indices + valid mask)".format(st["result_rows"] / st["result_tiles"])],
                  ["result bytes per tile", "{:,.0f}".format(st["result_blob_bytes"] / st["result_tiles"])],
                  ["store on disk per tile", "{:,.0f}".format(last["disk_bytes"] / last["tiles"])],
                  ["largest result cell", "{:,} bytes".format(max(c["max_result_cell"] for c in r["curve"]))],
                  ["MaxCompute cell limit", "{:,} bytes".format(CELL_LIMIT)],
              ]), ""]
    lines += ["## A global run: {:,} land tiles".format(GLOBAL_LAND_TILES), "",
              "Locally (cores like this one): the {}-granule run used {:.2f} CPU s per tile "
              "at {:.2f} granules per tile → **{:,.0f} core-hours** for `gmi run`, plus {:,.0f} "
              "core-hours of `gmi ingest` ({:.2f} CPU s per source row, LUT coefficients); at "
              "this run's {:.3f} tiles/s on 2 shared cores that is {:,.0f} hours of wall time.".format(
                  last["granules"], p["job_tile_cpu_s"], p["mean_granules"],
                  p["global_local_core_h"], p["global_ingest_core_h"], p["ingest_row_cpu_s"],
                  last["tiles"] / last["run"]["wall_s"], p["global_wall_h_here"]), "",
              "On MaxCompute the UDTF does the kernel and the encoding per tile (the framework "
              "hands it the cells; the local SQLite read and the main process's planning are left "
              "out): {:.2f} CPU s per tile at this run's mix of granules per tile → **{:,.0f} "
              "CU-hours**. CU-hours assume one CU (1 core + 4 GB) runs {:.1f}× as fast "
              "as one core of this machine; CPython 3.7 with an older numpy there may be slower, "
              "which scales the CU-hours by the same factor. Ingest stays local (GDAL).".format(
                  p["udtf_tile_cpu_s"], p["global_cu_h"], CU_SPEED), ""]
    rows = []
    for q in p["per_g"]:
        rows.append([q["granules"], "measured" if q["measured"] else "fit",
                     fmt(q["local_cpu_s"], 2), "{:,.0f}".format(q["local_core_h"]),
                     "{:,.0f}".format(q["ingest_core_h"]), fmt(q["udtf_cpu_s"], 2),
                     "{:,.0f}".format(q["cu_h"]), "{:,}".format(GLOBAL_LAND_TILES * q["granules"]),
                     fmt(GLOBAL_LAND_TILES * q["granules"] * p["row_bytes"] / 1e12, 2),
                     fmt(q["cu_h"] / 1000.0, 2)])
    lines += [table(["granules per tile", "from", "local CPU s per tile", "local core-h",
                     "ingest core-h", "UDTF CPU s per tile", "MaxCompute CU-h", "source rows",
                     "source TB", "hours on 1,000 CUs"], rows), "",
              "Result rows: {:,} ({:.0f} per tile), {:.2f} TB.".format(
                  GLOBAL_LAND_TILES * int(round(st["result_rows"] / st["result_tiles"])),
                  st["result_rows"] / st["result_tiles"],
                  GLOBAL_LAND_TILES * st["result_blob_bytes"] / st["result_tiles"] / 1e12), ""]
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
                   ("largest pool worker's peak RSS in the scale run ({:.0f} MB, tiles of up to {} "
                    "granules), × {} headroom, rounded up to 512 MB, at most {} MB (so that the same "
                    "value is valid for `--udf-memory` where the Python worker is limited on its "
                    "own)".format(p["worker_mb"], max(c["granules"] for c in r["curve"]), SAFETY,
                                  UDF_MEMORY_MAX_MB) if not math.isnan(p["worker_mb"]) else
                    "the pool workers' peak RSS was not measured: the largest UDF memory")],
                  ["`batch.rowcount`", str(p["batch_rowcount"]),
                   "min(default {}, timeout {} s / ({:.2f} s slowest tile × headroom: every row of "
                   "a batch may close a tile) = {}, a quarter of the UDF memory / mean encoded "
                   "source row = {})".format(DEFAULT_BATCH_ROWCOUNT, BATCH_TIMEOUT_S,
                                             p["worst_row_s"] / SAFETY, p["by_time"], p["by_memory"])],
                  ["cells", "≤ {:,} bytes".format(max(c["max_result_cell"] for c in r["curve"])),
                   "one band per cell (1024² uint8 DN = 1 MiB raw, float32 result = 4 MiB raw)"],
                  ["grouping", "DISTRIBUTE BY tile, SORT BY acquisition",
                   "the UDTF flushes a tile when the key changes and in close()"],
              ]), ""]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Scale run -> docs/scale.md")
    parser.add_argument("--quick", action="store_true", help="four small granules (smoke test)")
    parser.add_argument("--out", type=Path, default=DEFAULT_DOC, help="markdown file to write")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one); "
                                                  "granules already written there are reused")
    parser.add_argument("--json", type=Path, help="also write the measurements and plan as JSON")
    parser.add_argument("--cache-dir", help="GMI_CACHE_DIR of the jobs (default: the usual one)")
    args = parser.parse_args(argv)

    counts = QUICK_COUNTS if args.quick else COUNTS
    work = args.work or Path(tempfile.mkdtemp(prefix="gmi-scale-"))
    if args.cache_dir:
        os.environ["GMI_CACHE_DIR"] = args.cache_dir
    try:
        start = time.perf_counter()
        r = {"machine": machine_info(), "quick": args.quick}
        r.update(scale_run(work, counts, args.quick, cli_env(args.cache_dir)))
        r["growth"] = rss_growth(r)
        r["plan"] = plan(r)
        r["load_end"] = list(os.getloadavg())
        r["total_s"] = time.perf_counter() - start
        write_doc(args.out, render(r))
        if args.json:
            write_doc(args.json, json.dumps({k: r[k] for k in ("counts", "ingest", "runs", "curve", "growth",
                                                                "plan", "synth_s", "total_s")},
                                            indent=1, default=str))
        print(console_table(
            ["granules", "tiles", "run s", "tiles/s", "run CPU s", "worker RSS MB", "main RSS MB",
             "store MB"],
            [[x["granules"], x["tiles"], fmt(x["run"]["wall_s"], 1),
              fmt(x["tiles"] / x["run"]["wall_s"], 3), fmt(x["run"]["cpu_s"], 1),
              fmt(x["run"]["max_worker_rss_mb"], 0), fmt(x["run"]["main_rss_mb"], 0),
              fmt(x["disk_bytes"] / 1e6, 1)] for x in r["runs"]]))
        print()
        print(console_table(["granules per tile", "CPU s per tile", "kernel CPU s"],
                            [[c["granules"], fmt(c["cpu_s"], 2), fmt(c["kernel_cpu_s"], 2)]
                             for c in r["curve"]]))
        g = r["growth"]
        print("\n" + growth_verdict(g).replace("**", ""))
        print("total {:.0f} s; load average at the end {}".format(
            r["total_s"], ", ".join("{:.1f}".format(x) for x in r["load_end"])))
        print("\nwrote {}".format(args.out))
    finally:
        if args.work is None:
            shutil.rmtree(str(work), ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
