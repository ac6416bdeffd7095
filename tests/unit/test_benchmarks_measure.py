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


def test_largest_of_peaks_is_nan_when_one_was_not_measured():
    nan = float("nan")
    assert common.largest([3.0, 7.0, 5.0]) == 7.0
    for values in ([nan, 7.0], [7.0, nan], [nan]):  # max() would give 7.0 or NaN by position
        assert math.isnan(common.largest(values))
    assert math.isnan(common.largest([]))


def test_grass_step_peaks_keep_an_unmeasured_run_as_nan():
    from benchmarks.grass_chain import summarise_steps

    nan = float("nan")
    steps = [{"step": "r.in.gdal", "seconds": 1.0, "peak_rss_mb": 40.0},
             {"step": "r.in.gdal", "seconds": 2.0, "peak_rss_mb": nan},
             {"step": "r.in.gdal", "seconds": 0.5, "peak_rss_mb": 45.0},
             {"step": "g.region", "seconds": 0.25, "peak_rss_mb": 20.0}]
    phases, rss, counts = summarise_steps(steps)
    assert phases == {"r.in.gdal": 3.5, "g.region": 0.25}
    assert counts == {"r.in.gdal": 3, "g.region": 1}
    assert rss["g.region"] == 20.0 and math.isnan(rss["r.in.gdal"])  # max(0, nan) gave 0 / 45


def test_peak_rss_target_of_an_unmeasured_run_reads_not_measured():
    from benchmarks import run

    def report(peak_mb):
        return {"kernel": {"gmi_reuse": {"median_ms": 20.0, "min_ms": 19.0}, "gmi": {"median_ms": 22.0}},
                "grass": [{"total_s": 30.0}], "sixs": {},
                "e2e": [{"format": "cog", "total_s": 6.0, "workers": 2, "peak_rss_mb": peak_mb}]}

    def rss_row(peak_mb):
        (row,) = [t for t in run.targets(report(peak_mb)) if t[0].startswith("peak RSS")]
        return row

    assert rss_row(run.TARGET_RSS_MB - 1.0)[2] == "yes"
    assert rss_row(run.TARGET_RSS_MB + 1.0)[2] == "no"
    assert rss_row(float("nan"))[1:] == ["—", "not measured"]


def test_settle_disk_empties_the_page_cache_only_where_it_may(tmp_path, monkeypatch):
    from benchmarks import common

    knob = tmp_path / "drop_caches"
    knob.write_text("0\n")
    monkeypatch.setattr(common, "DROP_CACHES", knob)
    assert common.can_drop_caches() and common.settle_disk() is True
    assert knob.read_text() == "1\n"  # the page cache, not dentries and inodes
    monkeypatch.setattr(common, "DROP_CACHES", tmp_path / "absent")
    assert not common.can_drop_caches() and common.settle_disk() is False
