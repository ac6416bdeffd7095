"""A small text progress bar for the command line (done / total, rate, ETA) on stderr."""
from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


class ProgressBar:
    """Redraws one line on a terminal; prints a line per step when not on a terminal."""

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
        frac = self.done / self.total if self.total else 1.0
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
