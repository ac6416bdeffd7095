"""The one progress and cancel protocol of every long engine job, and the command line's bar.

Every engine service that takes a while (ingest, run, export, upload, MaxCompute waits, LUT builds)
accepts the same two optional callables:

- ``progress(fraction, message)``: :data:`Progress`; ``fraction`` in [0, 1] of the whole job, never
  decreasing, ``message`` one short line (the tile, the granule, the stage). A callback may raise to
  stop the job (the exception propagates; nothing half-written is kept).
- ``cancelled()``: :data:`Cancelled`; polled between units of work (tiles, granules, polls). A job
  that sees it return True stops at the next boundary, keeps what is committed and reports that it
  was cancelled.

Front ends only adapt these: the CLI draws a :class:`ProgressBar`, Processing sets
``feedback.setProgress(100 * fraction)``, a QgsTask ``setProgress``.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, Optional, TextIO

#: ``progress(fraction, message)`` with ``fraction`` in [0, 1].
Progress = Callable[[float, str], None]
#: ``cancelled() -> bool``, polled between units of work.
Cancelled = Callable[[], bool]


def no_progress(fraction: float, message: str) -> None:
    """A :data:`Progress` that reports nowhere."""


def never_cancelled() -> bool:
    """A :data:`Cancelled` that never asks to stop."""
    return False


def report(progress: Optional[Progress], fraction: float, message: str = "") -> None:
    """Call ``progress`` (when given) with ``fraction`` clamped to [0, 1]."""
    if progress is not None:
        progress(min(1.0, max(0.0, float(fraction))), message)


def sub_range(progress: Optional[Progress], start: float, end: float) -> Optional[Progress]:
    """A :data:`Progress` for one step of a larger job that maps its 0..1 onto ``start..end``."""
    if progress is None:
        return None

    def scaled(fraction: float, message: str) -> None:
        report(progress, start + (end - start) * min(1.0, max(0.0, fraction)), message)

    return scaled


def fraction(done: float, total: float) -> float:
    """``done / total`` in [0, 1]; 1.0 when there is nothing to do."""
    return min(1.0, max(0.0, done / total)) if total else 1.0


class ProgressBar:
    """Redraws one line on a terminal; prints a line per step when not on a terminal.

    Use it as a :data:`Progress` (``bar(fraction, message)``) or count steps (``bar.update()``).
    """

    def __init__(self, total: int, label: str = "", stream: Optional[TextIO] = None,
                 width: int = 30) -> None:
        self.total = max(0, int(total))
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self.start = time.monotonic()
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def text(self, note: str = "") -> str:
        """The progress line for the current state."""
        elapsed = time.monotonic() - self.start
        frac = fraction(self.done, self.total)
        filled = int(round(frac * self.width))
        eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        eta_text = "--:--" if eta != eta else "{:d}:{:02d}".format(int(eta) // 60, int(eta) % 60)
        return "{} [{}{}] {}/{} {:5.1f}s ETA {} {}".format(
            self.label, "#" * filled, "." * (self.width - filled), self.done, self.total,
            elapsed, eta_text, note).rstrip()

    def update(self, done: Optional[int] = None, note: str = "") -> None:
        """Set (or advance by one) the count and redraw."""
        self.done = self.done + 1 if done is None else int(done)
        line = self.text(note)
        if self._tty:
            self.stream.write("\r\x1b[K" + line)
            if self.done >= self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def __call__(self, frac: float, message: str = "") -> None:
        """The :data:`Progress` protocol: ``frac`` of ``total`` done."""
        self.update(int(round(min(1.0, max(0.0, frac)) * self.total)), message)
