"""Process memory settings for long jobs (``gmi ingest``, ``gmi run``)."""
from __future__ import annotations

import ctypes
import sys

#: glibc ``mallopt`` parameter number of the mmap threshold, and the threshold kept (its default).
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 128 * 1024


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
    in the QGIS process. (The pool workers keep glibc's adaptive threshold; the fixed one was
    not measured there.)
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
    except (OSError, AttributeError):
        pass
