"""gmi_engine/memory.py: glibc's mmap threshold is fixed on Linux, and nothing happens elsewhere."""
from __future__ import annotations

import pytest

from gmi_engine import memory


class _Libc:
    def __init__(self) -> None:
        self.calls = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 1


def test_linux_sets_m_mmap_threshold_to_128_kib(monkeypatch):
    libc = _Libc()
    monkeypatch.setattr(memory.sys, "platform", "linux")
    monkeypatch.setattr(memory.ctypes, "CDLL", lambda name: libc)
    memory.fix_mmap_threshold()
    assert libc.calls == [(-3, 131072)]  # glibc malloc.h: M_MMAP_THRESHOLD -3; its default 128 KiB


@pytest.mark.parametrize("platform", ["darwin", "win32", "cygwin"])
def test_other_platforms_do_not_touch_the_c_library(monkeypatch, platform):
    def no_cdll(name):
        raise AssertionError("CDLL opened on " + platform)

    monkeypatch.setattr(memory.sys, "platform", platform)
    monkeypatch.setattr(memory.ctypes, "CDLL", no_cdll)
    memory.fix_mmap_threshold()


def test_a_linux_libc_without_mallopt_is_a_no_op(monkeypatch):
    monkeypatch.setattr(memory.sys, "platform", "linux")
    monkeypatch.setattr(memory.ctypes, "CDLL", lambda name: object())  # no mallopt symbol (e.g. musl)
    memory.fix_mmap_threshold()

    def no_handle(name):
        raise OSError("dlopen(NULL) failed")

    monkeypatch.setattr(memory.ctypes, "CDLL", no_handle)
    memory.fix_mmap_threshold()


def test_the_real_call_is_harmless_here():
    memory.fix_mmap_threshold()
    memory.fix_mmap_threshold()  # idempotent


@pytest.fixture
def libc(monkeypatch):
    """Every ``mallopt`` call of this process from now on, whichever module makes it."""
    recorder = _Libc()
    monkeypatch.setattr(memory.sys, "platform", "linux")
    monkeypatch.setattr(memory.ctypes, "CDLL", lambda name: recorder)
    return recorder


def test_the_gmi_command_fixes_the_threshold_of_its_own_process(libc, capsys):
    from gmi_engine.cli.main import main

    assert main(["grid", "tile-of", "-108.07", "32.793"]) == 0
    assert "260 526" in capsys.readouterr().out
    assert libc.calls == [(-3, 131072)]


def test_engine_jobs_called_in_a_host_process_leave_its_malloc_alone(libc, tmp_path):
    """The QGIS plugin runs ``ingest_many`` and ``run_local`` in the QGIS process: the engine
    must not change the malloc settings of a process it does not own."""
    from gmi_engine.backends.local_runner import run_local
    from gmi_engine.ingest import ingest_many

    ingest_many([], tmp_path / "ws")  # an empty store
    report = run_local(tmp_path / "ws", "mineral_indices", workers=1)
    assert report.computed == [] and report.skipped == []
    assert libc.calls == []


def test_reuse_freed_blocks_raises_both_thresholds(libc):
    memory.reuse_freed_blocks()
    # glibc malloc.h: M_MMAP_THRESHOLD -3 at 256 MiB (above a 36 MiB 9-band tile), M_TRIM_THRESHOLD -1
    assert libc.calls == [(-3, 256 << 20), (-1, 512 << 20)]


_PROBE = """
import ctypes, os, sys
import numpy as np

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "worker":
    from gmi_engine.backends.local_runner import _adopt_parent
    _adopt_parent(dict(os.environ), os.getcwd())
before = libc.mallinfo2().hblkhd
tile = np.ones((9, 1024, 1024), dtype=np.float32)  # 36 MiB: above glibc's adaptive limit (32 MiB)
print(libc.mallinfo2().hblkhd - before)
"""


@pytest.mark.parametrize("role,mapped", [("plain", True), ("worker", False)])
def test_a_pool_worker_takes_a_tile_array_from_its_heap(role, mapped):
    """A real process: a 36 MiB array is mmapped by default, from the heap in a pool worker (its
    initializer, :func:`~gmi_engine.backends.local_runner._adopt_parent`)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _PROBE, role], capture_output=True, text=True, check=True)
    mapped_bytes = int(out.stdout.strip())
    assert (mapped_bytes >= 36 << 20) is mapped, mapped_bytes
