"""benchmarks/scale.py: what it measures and what it concludes from it.

A peak RSS that was not measured is NaN all the way to the report (0 MB would make the RSS
growth -100 % and meet the target), and a target computed from it reads "not measured". The plan's
figures are checked against numbers worked out by hand from the made-up measurements below.
"""
from __future__ import annotations

import math
import os
from typing import Any, Dict

import pytest

from benchmarks import scale

NAN = float("nan")


def _measurements(worker_mb: float = 200.0, last_worker_mb: float = 210.0,
                  first_quarter_worker_mb: float = 205.0) -> Dict[str, Any]:
    """Made-up results of a scale run: 10 and 40 granules, the largest job over 4 tiles."""
    def run(granules, tiles, cpu_s, worker, main, peak, per_tile=None):
        return {"granules": granules, "tiles": tiles, "per_tile": per_tile or {},
                "store": {"source_blob_bytes": 8e6, "source_rows": 8},
                "run": {"cpu_s": cpu_s, "wall_s": 20.0, "max_worker_rss_mb": worker,
                        "main_rss_mb": main, "peak_rss_mb": peak, "first_quarter_tiles": 1,
                        "first_quarter_worker_mb": first_quarter_worker_mb,
                        "first_quarter_main_mb": 100.0}}

    return {"runs": [run(10, 2, 20.0, worker_mb, 100.0, 200.0),
                     run(40, 4, 40.0, last_worker_mb, 102.0, 210.0,
                         {"0,0": 1, "0,1": 2, "1,0": 1, "1,1": 4})],
            "ingest": {"granules": 40, "first_granules": 10, "first_rss_mb": 150.0,
                       "main_rss_mb": 153.0, "cpu_s": 16.0, "source_rows": 8},
            "curve": [{"granules": 1, "cpu_s": 2.0, "kernel_cpu_s": 1.5, "encode_cpu_s": 0.2,
                       "read_cpu_s": 0.3},
                      {"granules": 2, "cpu_s": 4.0, "kernel_cpu_s": 3.3, "encode_cpu_s": 0.2,
                       "read_cpu_s": 0.5}]}


def test_a_job_whose_memory_could_not_be_read_has_nan_rss_not_zero(monkeypatch):
    monkeypatch.setattr(scale, "_LAUNCHER", "import sys\nsys.exit(0)\n")  # no rusage, no processes
    job = scale.run_job(["--help"], dict(os.environ))
    assert job.returncode == 0 and job.worker_rss_mb == []
    assert math.isnan(job.peak_rss_mb) and math.isnan(job.main_rss_mb)
    assert math.isnan(job.max_worker_rss_mb) and math.isnan(job.server_rss_mb)


def test_high_water_mark_of_a_process_that_cannot_be_read_is_nan():
    assert math.isnan(scale._high_water_mb(2 ** 22 + 1))  # above Linux's largest pid
    assert scale._high_water_mb(os.getpid()) > 1.0


def test_peak_until_ignores_samples_without_a_measurement():
    job = scale.Job("gmi run", 1.0, 1.0, NAN, NAN,
                    timeline=[(0.1, NAN, NAN, 0, NAN, NAN), (0.2, 90.0, 80.0, 1, 95.0, 85.0),
                              (0.3, NAN, NAN, 1, NAN, NAN), (0.4, 99.0, 99.0, 2, 99.0, 99.0)])
    assert scale.peak_until(job, 2, 4) == 95.0 and scale.peak_until(job, 2, 5) == 85.0
    assert math.isnan(scale.peak_until(job, 1, 4))  # only an unmeasured sample before one unit


def test_rss_growth_is_measured_against_the_smaller_job():
    g = scale.rss_growth(_measurements())
    by_what = {x["what"]: x["growth"] for x in g["rows"]}
    assert by_what["gmi run: largest pool worker"] == pytest.approx(0.05)  # 200 -> 210 MB
    assert by_what["gmi run: main process"] == pytest.approx(0.02)  # 100 -> 102 MB
    assert by_what["gmi ingest (40 granules): main"] == pytest.approx(0.02)  # 150 -> 153 MB
    assert g["worst"] == pytest.approx(0.05) and g["met"] is True
    assert "**met**" in scale.growth_verdict(g)
    g = scale.rss_growth(_measurements(last_worker_mb=300.0))
    assert g["worst"] == pytest.approx(0.5) and g["met"] is False
    assert "**not met**" in scale.growth_verdict(g)


@pytest.mark.parametrize("field", ["last_worker_mb", "worker_mb", "first_quarter_worker_mb"])
def test_rss_growth_from_an_unmeasured_peak_is_not_measured_never_met(field):
    g = scale.rss_growth(_measurements(**{field: NAN}))
    assert g["met"] is None
    assert any(math.isnan(x["growth"]) for x in g["rows"])
    verdict = scale.growth_verdict(g)
    assert "**not measured**" in verdict and "**met**" not in verdict and "nan" not in verdict


def test_plan_core_hours_and_settings_from_hand_worked_numbers():
    r = _measurements()
    r["growth"] = scale.rss_growth(r)
    p = scale.plan(r)
    # 40 CPU s over 4 tiles = 10 s per tile; x 160,000 tiles / 3600 s.
    assert p["job_tile_cpu_s"] == pytest.approx(10.0)
    assert p["global_local_core_h"] == pytest.approx(444.44, abs=0.01)
    # Curve: 2 CPU s per granule (a = 0, b = 2); tiles of 1, 2, 1, 4 granules predict 16 s, so
    # the job spent (40 - 16) / 4 = 6 s per tile beyond the worker unit.
    assert p["fit"]["a"] == pytest.approx(0.0, abs=1e-9) and p["fit"]["b"] == pytest.approx(2.0)
    assert p["overhead_cpu_s"] == pytest.approx(6.0)
    # Ingest: 16 CPU s / 8 rows = 2 s per row, 2 granules per tile on average.
    assert p["global_ingest_core_h"] == pytest.approx(160_000 * 2 * 2 / 3600.0)
    # 4 tiles in 20 s.
    assert p["global_wall_h_here"] == pytest.approx(222.22, abs=0.01)
    # 210 MB x 3 = 630 MB -> 1024 MB; slowest row (3.3 + 0.2) x 3 = 10.5 s -> 171 per 1800 s;
    # a quarter of 1024 MiB / 1 MB per row -> 268.
    assert p["udf_memory_mb"] == 1024
    assert (p["by_time"], p["by_memory"], p["batch_rowcount"]) == (171, 268, 171)


def test_plan_with_an_unmeasured_worker_takes_the_largest_udf_memory():
    r = _measurements(worker_mb=NAN, last_worker_mb=NAN)
    p = scale.plan(r)
    assert math.isnan(p["worker_mb"])
    assert p["udf_memory_mb"] == scale.UDF_MEMORY_MAX_MB
