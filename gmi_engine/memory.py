"""Process memory settings for long jobs (``gmi ingest``, ``gmi run``)."""
from __future__ import annotations

import ctypes
import sys
from typing import Tuple

#: glibc ``mallopt`` parameter numbers of the trim and mmap thresholds, and the threshold kept
#: by :func:`fix_mmap_threshold` (its default).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 128 * 1024
#: Blocks up to this size come from the heap in a tile worker (:func:`reuse_freed_blocks`): above
#: the largest array of a tile (9 bands x 1024 x 1024 float32 = 36 MiB; a tile of 2048 pixels,
#: 144 MiB), below which glibc's adaptive threshold stops (32 MiB).
_WORKER_MMAP_THRESHOLD_BYTES = 256 * 1024 * 1024
#: Free heap memory a tile worker keeps instead of returning it to the system.
_WORKER_TRIM_THRESHOLD_BYTES = 512 * 1024 * 1024


def _mallopt(*settings: Tuple[int, int]) -> None:
    """``mallopt(param, value)`` for each setting; no-op where the C library has none."""
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    for param, value in settings:
        mallopt(param, value)


def fix_mmap_threshold() -> None:
    """Keep glibc's mmap threshold at its 128 KiB default in this process.

    glibc raises the threshold each time a large mmapped block is freed (up to 32 MiB); after
    that a job's multi-MiB arrays and cells come from the heap and stay there, fragmented, so a
    long job's RSS grows with the number of tiles or granules it went through (scale run, main
    process: ``gmi run`` 15 -> 60 tiles 188 -> 243 MB, ``gmi ingest`` first 10 -> 40 granules
    228 -> 256 MB). With the threshold fixed every large block is mapped and unmapped (179 and
    199 MB). No-op where the C library has no ``mallopt``.

    It changes malloc for the whole process, so only processes GMI owns call it: the ``gmi``
    command (:func:`gmi_engine.cli.main.main`), not the engine functions the QGIS plugin calls
    in the QGIS process. (The pool workers call :func:`reuse_freed_blocks` instead.)
    """
    _mallopt((_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES))


def reuse_freed_blocks() -> None:
    """Keep a tile worker's freed arrays in its heap for the next ones (fewer page faults).

    A tile allocates the same few dozen 4-36 MiB arrays again and again. Mapped fresh from the
    system, each costs page faults and the zeroing of every page; glibc's adaptive threshold
    stops at 32 MiB, below a 9-band tile. The kernel stages of ``make bench``'s 11 tiles, warm,
    one run each: 343 ms per tile with the threshold fixed at 128 KiB, 225 ms with glibc's
    adaptive one, 199 ms with these settings. A worker's memory is its largest tile's working
    set either way, so the heap keeps it (scale run: the largest worker's peak did not grow from
    15 to 60 tiles); for a pool worker process only (it changes malloc for the whole process).
    """
    _mallopt((_M_MMAP_THRESHOLD, _WORKER_MMAP_THRESHOLD_BYTES),
             (_M_TRIM_THRESHOLD, _WORKER_TRIM_THRESHOLD_BYTES))
