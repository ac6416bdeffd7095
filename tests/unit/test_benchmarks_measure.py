"""benchmarks/common.py run_measured: a peak RSS that was not measured is NaN, never 0 MB.

0 MB would pass every memory target (benchmarks/run.py: peak RSS <= target -> "yes")."""
from __future__ import annotations

import math
import sys

from benchmarks import common


def test_measured_command_reports_its_output_and_a_positive_peak():
    result = common.run_measured([sys.executable, "-c", "print('out'); import sys; print('err', file=sys.stderr)"])
    assert (result.stdout, result.stderr, result.returncode) == ("out\n", "err\n", 0)
    assert result.peak_rss_mb > 1.0


def test_unreadable_peak_rss_is_nan_not_zero(monkeypatch):
    monkeypatch.setattr(common, "_LAUNCHER", "import sys\nsys.exit(0)\n")  # writes no rss file
    result = common.run_measured([sys.executable, "-c", "pass"], check=False)
    assert result.returncode == 0 and math.isnan(result.peak_rss_mb)
    assert common.fmt(result.peak_rss_mb, 0) == "—"
