"""Shared helpers of the benchmark and report scripts: timing, measured subprocesses, tables.

Every figure the reports print is measured by these scripts in the run that writes the report;
nothing is typed by hand. The machine is shared, so the scripts time baselines in the same run
and report ratios next to absolute times.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated runs of one function."""

    seconds: Tuple[float, ...]

    @property
    def median(self) -> float:
        """Median seconds."""
        return float(np.median(self.seconds))

    @property
    def min(self) -> float:
        """Fastest run, seconds (the least disturbed by other processes)."""
        return float(min(self.seconds))

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready summary."""
        return {"median_s": self.median, "min_s": self.min, "rounds": len(self.seconds)}


def time_calls(function: Callable[[], Any], rounds: int, warmup: int = 1) -> Timing:
    """Run ``function`` ``warmup`` times untimed, then ``rounds`` times timed."""
    for _ in range(warmup):
        function()
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return Timing(tuple(seconds))


def interleaved(functions: Mapping[str, Callable[[], Any]], rounds: int, warmup: int = 1
                ) -> Dict[str, Timing]:
    """Time several functions round-robin, so load from other processes hits them alike."""
    for function in functions.values():
        for _ in range(warmup):
            function()
    seconds = {name: [] for name in functions}  # type: Dict[str, List[float]]
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            seconds[name].append(time.perf_counter() - start)
    return {name: Timing(tuple(values)) for name, values in seconds.items()}


@dataclass(frozen=True)
class Measured:
    """One finished child process: wall seconds, peak RSS (MB, incl. its children), output."""

    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


#: Forks and execs the measured command from a small process, so the command's peak RSS is not
#: inflated by the pages it shared with a large parent before exec; writes it to argv[1] (KiB).
_LAUNCHER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    try:\n"
    "        os.execvp(sys.argv[2], sys.argv[2:])\n"
    "    finally:\n"
    "        os._exit(127)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def read_back(*files: IO[bytes]) -> List[str]:
    """What a finished command wrote to each of ``files`` (binary files open for reading and
    writing, e.g. its stdout and stderr), from their start, decoded as UTF-8."""
    texts = []
    for handle in files:
        handle.seek(0)
        texts.append(handle.read().decode("utf-8", "replace"))
    return texts


def run_measured(command: Sequence[str], cwd: Optional[Path] = None,
                 env: Optional[Mapping[str, str]] = None, check: bool = True) -> Measured:
    """Run ``command``; wall seconds and peak RSS (the largest of it and its children; NaN when
    the launcher could not report it).

    The command is started by a small launcher process (see ``_LAUNCHER``) that reads the peak
    RSS with ``wait4``. Raises RuntimeError with the tail of stderr when ``check`` and the
    command fails.
    """
    with tempfile.TemporaryDirectory(prefix="gmi-measure-") as tmp:
        rss_path = os.path.join(tmp, "rss")
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, rss_path] + list(command),
                                  cwd=str(cwd) if cwd else None,
                                  env=dict(env) if env is not None else None,
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=err, check=False)
            seconds = time.perf_counter() - start
            stdout, stderr = read_back(out, err)
        try:
            peak_kib = float(int(Path(rss_path).read_text()))
        except (OSError, ValueError):
            peak_kib = float("nan")  # not measured: never 0 MB, which would meet any memory target
    if check and proc.returncode != 0:
        tail = "\n".join((stderr or stdout).strip().splitlines()[-15:])
        raise RuntimeError("{} failed with exit status {}:\n{}".format(
            " ".join(command[:4]), proc.returncode, tail))
    return Measured(seconds, peak_kib / 1024.0, proc.returncode, stdout, stderr)


def largest(values: Iterable[float]) -> float:
    """The largest of ``values``, NaN when any is NaN (a peak not measured may have been the
    largest) or there are none; ``max()`` would return 0, the first or the largest by position."""
    values = list(values)
    if not values or any(math.isnan(v) for v in values):
        return float("nan")
    return max(values)


DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def can_drop_caches() -> bool:
    """Whether :func:`settle_disk` can empty the page cache (Linux, run as root)."""
    return DROP_CACHES.exists() and os.access(str(DROP_CACHES), os.W_OK)


def settle_disk() -> bool:
    """Before a timed step: write out the dirty pages earlier steps left (``sync``) and, where
    allowed (:func:`can_drop_caches`), empty the page cache; True when it was emptied.

    The kernel writes a step's files back to disk some 30 s after it ended, on the same two
    cores, and on this machine a page cache holding the gigabytes of files the earlier chains
    wrote slows the writing of new ones: one pass with uncompressed output took 4.3, 4.5 and
    5.7 s in three runs after a ``sync`` each, 4.1-4.3 s in four with the cache emptied too.
    Every timed chain, GMI's and GRASS's, starts settled (inputs are then read from disk by
    both); what a chain writes itself stays in its time.
    """
    if hasattr(os, "sync"):
        os.sync()
    if not can_drop_caches():
        return False
    try:
        DROP_CACHES.write_text("1\n")  # 1: the page cache only
    except OSError:
        return False
    return True


def python_step(module: str, args: Sequence[str], env: Optional[Mapping[str, str]] = None
                ) -> Dict[str, Any]:
    """Run ``python -m module args`` in a fresh process; its last stdout line is a JSON dict.

    The dict gets the child's measured ``wall_s`` and ``peak_rss_mb`` added. The disk is
    settled first (:func:`settle_disk`).
    """
    settle_disk()
    merged = dict(os.environ)
    merged.update(env or {})
    merged["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), merged.get("PYTHONPATH", "")]))
    result = run_measured([sys.executable, "-m", module] + list(args), cwd=REPO, env=merged)
    lines = [line for line in result.stdout.strip().splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError("{} {}: no JSON result on stdout:\n{}".format(
            module, " ".join(args), result.stdout[-2000:] + result.stderr[-2000:]))
    data = json.loads(lines[-1])
    data["wall_s"] = result.seconds
    data["peak_rss_mb"] = result.peak_rss_mb
    return data


def find_lut() -> Dict[str, Any]:
    """The default 6S LUT when one is installed: ``{"path", "lut"}``, else ``{"reason"}``."""
    try:
        from gmi_engine.atmosphere.lut import default_lut_path, load_lut
    except ImportError as exc:
        return {"reason": "no LUT module ({})".format(exc)}
    try:
        path = default_lut_path()
        return {"path": str(path), "lut": load_lut(path)}
    except (OSError, ValueError) as exc:
        return {"reason": str(exc).splitlines()[0]}


def max_cell_bytes(store_path: Path, table_name: str, columns: Sequence[str]) -> int:
    """Largest stored cell (bytes) among ``columns`` of a GeoPackage store table (read-only)."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect("file:{}?mode=ro".format(store_path), uri=True)) as conn:
        return max(conn.execute('SELECT max(length("{}")) FROM "{}"'.format(
            column, table_name)).fetchone()[0] or 0 for column in columns)


def machine_info() -> Dict[str, Any]:
    """What the numbers were measured on (CPU, load, versions)."""
    from osgeo import gdal

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu, "cores": os.cpu_count(), "load_1min": os.getloadavg()[0],
        "python": platform.python_version(), "numpy": np.__version__,
        "gdal": gdal.__version__,
    }


def machine_line(info: Mapping[str, Any]) -> str:
    """One markdown line describing the machine and the load when the run started."""
    return ("Measured {when} on {cores} cores ({cpu}), load average {load:.1f} at the start; "
            "Python {python}, numpy {numpy}, GDAL {gdal}.".format(
                load=info["load_1min"], **info))


def fmt(value: Optional[float], digits: int = 2) -> str:
    """A number for a table (``—`` for None/NaN)."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    return "{:.{}f}".format(value, digits)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table (cells are str()-ed)."""
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return "\n".join(lines)


def console_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table for the terminal."""
    cells = [list(map(str, header))] + [list(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    out = []
    for k, row in enumerate(cells):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def write_doc(path: Path, text: str) -> Path:
    """Write a generated markdown document (creating its folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip() + "\n", encoding="utf-8")
    return path


def marked_block(text: str, name: str) -> str:
    """The ``<!-- name -->`` ... ``<!-- /name -->`` block of ``text`` (markers included), or ''."""
    head, tail = "<!-- {} -->".format(name), "<!-- /{} -->".format(name)
    start = text.find(head)
    end = text.find(tail, start)
    return text[start:end + len(tail)] if start >= 0 and end >= 0 else ""


def keep_block(path: Path, text: str, name: str) -> str:
    """``text`` with the marked block ``name`` of the file at ``path`` appended (when it has one and text not)."""
    old = Path(path).read_text(encoding="utf-8") if Path(path).exists() else ""
    block = marked_block(old, name)
    return text.rstrip() + "\n\n" + block if block and not marked_block(text, name) else text


def generated_note(script: str, command: str) -> str:
    """The first lines of a generated document."""
    return ("<!-- Generated by {} — do not edit by hand; rerun `{}`. -->".format(script, command))


def report_parser(description: str, out: Path, quick_help: str, json_help: str) -> argparse.ArgumentParser:
    """The options every report script takes: --quick, --out (default ``out``), --work, --json."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--out", type=Path, default=out, help="markdown file to write")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, help=json_help)
    return parser


@contextmanager
def work_folder(work: Optional[Path], prefix: str) -> Iterator[Path]:
    """``work`` as given, or a new temporary folder named ``prefix...`` removed afterwards."""
    path = work or Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if work is None:
            shutil.rmtree(str(path), ignore_errors=True)
