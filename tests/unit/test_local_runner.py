"""The local backend: process pool, resumability, determinism (issue: local execution)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
from run_support import METHOD, result_bytes

from gmi_engine.backends.local import LocalStore
from gmi_engine.backends.local_runner import run_local
from gmi_engine.grid import TileIndex
from gmi_engine.kernel.pipeline import MASK_OUTPUT


def test_workers_1_and_2_give_byte_identical_results(reference_run, demo_workspace, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace[0], ws)
    run_local(ws, METHOD, workers=2)
    one, two = result_bytes(reference_run), result_bytes(ws)
    assert len(one) == 2 * 24  # 23 indices + the valid mask, two tiles
    assert one == two


def test_median_medoid_is_byte_identical_across_worker_counts(demo_workspace, tmp_path):
    runs = []
    for workers in (1, 2):
        ws = tmp_path / "ws{}".format(workers)
        shutil.copytree(demo_workspace[0], ws)
        run_local(ws, METHOD, {"strategy": "median"}, workers=workers)
        runs.append(result_bytes(ws))
    assert len(runs[0]) == 2 * 24 and runs[0] == runs[1]


def test_rerun_skips_up_to_date_tiles_and_force_recomputes(reference_run, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(reference_run, ws)
    report = run_local(ws, METHOD, workers=1)
    assert report.computed == [] and len(report.skipped) == 2
    report = run_local(ws, METHOD, workers=1, tiles=[TileIndex(260, 526)], force=True)
    assert report.computed == [TileIndex(260, 526)]
    assert result_bytes(ws) == result_bytes(reference_run)


def test_changed_parameters_recompute(reference_run, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(reference_run, ws)
    report = run_local(ws, METHOD, {"indices": ["ferric_iron"]}, workers=1)
    assert len(report.computed) == 2
    with LocalStore(ws, create=False) as store:
        outputs = set(store.results(TileIndex(260, 526), METHOD))
    assert outputs == {"ferric_iron", MASK_OUTPUT}


def test_killed_run_resumes_to_the_same_bytes(reference_run, demo_workspace, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace[0], ws)
    cmd = [sys.executable, "-m", "gmi_engine.cli", "run", "--workspace", str(ws),
           "--method", METHOD, "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    committed = 0
    while time.monotonic() < deadline and proc.poll() is None:
        with LocalStore(ws, create=False) as store:
            committed = len(store.result_tiles(METHOD))
        if committed >= 1:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert committed == 1, "the run should be killed after its first committed tile"
    report = run_local(ws, METHOD, workers=1)
    assert len(report.skipped) == 1 and len(report.computed) == 1
    assert result_bytes(ws) == result_bytes(reference_run)


def test_results_have_nan_nodata_and_provenance(reference_run, demo_workspace, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace[0], ws)
    run_local(ws, "mosaic", workers=1, tiles=[TileIndex(260, 526)])
    with LocalStore(ws, create=False) as store:
        res = store.results(TileIndex(260, 526), "mosaic")
    valid = res[MASK_OUTPUT].data.astype(bool)
    b01 = res["b01"].data
    assert b01.dtype == np.float32 and np.isnan(b01[~valid]).all() and np.isfinite(b01[valid]).any()
    prov = res["provenance_vnir"].data
    assert set(np.unique(prov)) <= {-1, 0, 1} and {0, 1} <= set(np.unique(prov))


def _tree(root) -> dict:
    """relative path -> bytes of every file under ``root``."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_run_with_export_writes_the_same_files_as_a_separate_export(reference_run, demo_workspace, tmp_path):
    from gmi_engine.backends.local_runner import ExportJob
    from gmi_engine.export import export_results

    with LocalStore(reference_run, create=False) as store:
        separate = export_results(store, tmp_path / "separate", METHOD)
    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace[0], ws)
    report = run_local(ws, METHOD, workers=2, export=ExportJob(str(tmp_path / "fused")))
    assert len(report.computed) == 2 and report.export is not None
    assert [p.name for p in report.export.geotiffs] == [p.name for p in separate.geotiffs]
    assert report.export.stretches == separate.stretches
    assert _tree(tmp_path / "fused") == _tree(tmp_path / "separate")  # GeoTIFFs, VRTs, .qml, STAC
    # Up-to-date tiles are exported from the store: the same files again.
    again = run_local(ws, METHOD, workers=1, export=ExportJob(str(tmp_path / "again")))
    assert again.computed == [] and len(again.skipped) == 2
    assert _tree(tmp_path / "again") == _tree(tmp_path / "separate")


def test_run_export_cli_and_its_errors(reference_run, tmp_path, capsys):
    from gmi_engine.cli.main import main

    ws = tmp_path / "ws"
    shutil.copytree(reference_run, ws)
    out = tmp_path / "out"
    assert main(["run", "-w", str(ws), "-m", METHOD, "--export", str(out), "--compress", "deflate",
                 "--no-stac", "--indices", "ferric_iron", "ndvi"]) == 0
    text = capsys.readouterr().out
    assert "2 tiles computed" in text and "GeoTIFFs   4" in text
    assert sorted(p.name for p in (out / METHOD).glob("*.vrt")) == ["ferric_iron.vrt", "ndvi.vrt"]
    assert not list(out.rglob("*.json"))  # --no-stac
    assert main(["run", "-w", str(ws), "-m", METHOD, "--backend", "odps", "--export", str(out)]) == 1
    assert "--export works with the local backend" in capsys.readouterr().err


def _decoded_bytes(row) -> int:
    return sum(a.nbytes for a in list(row.bands.values()) + list((row.modis or {}).values()))


def test_planning_a_tile_holds_one_decoded_source_row_at_a_time(reference_run, tmp_path):
    """The planner decodes a tile's rows for its digest one at a time: its memory does not grow
    with the granules over the tile (scale run: flat RSS of the main process). The tile has
    stored results made with other parameters, so the planner must compute its digest."""
    import tracemalloc

    from gmi_engine.backends.local_runner import kernel_row, run_tiles

    ws = tmp_path / "ws"
    shutil.copytree(reference_run, ws)
    with LocalStore(ws, create=False) as store:
        tile = max(store.tiles(), key=lambda t: (len(store.tile_rows(t)), t))
        rows = store.tile_rows(tile)
        sizes = sorted(_decoded_bytes(r) for r in rows)
        alone = []  # traced peak of reading and decoding each row by itself
        for row in rows:
            tracemalloc.start()
            try:
                kernel_row(store.get_source_row(row.granule_id, tile))
                alone.append(tracemalloc.get_traced_memory()[1])
            finally:
                tracemalloc.stop()
    assert len(sizes) >= 2 and sizes[0] > 0.5 * sizes[-1]  # two rows of comparable size
    peaks = []

    def execute(workspace, jobs, method, params, commit, cancelled, report, export):
        tracemalloc.start()
        try:
            for _ in jobs:
                peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()

    run_tiles(ws, METHOD, execute, {"strategy": "median"}, tiles=[tile])
    # All rows held together would add at least the other rows to the largest row's own peak.
    assert len(peaks) == 1 and peaks[0] < max(alone) + 0.5 * sizes[0], (peaks, alone, sizes)


def _count_decoded_rows(monkeypatch) -> list:
    """Patch the store so each decoded source row is counted (the list's length)."""
    decoded = []
    original = LocalStore._source_row

    def counting(values):
        decoded.append(1)
        return original(values)

    monkeypatch.setattr(LocalStore, "_source_row", staticmethod(counting))
    return decoded


def test_each_source_row_is_decoded_once_when_no_stored_digest_is_compared(
        reference_run, demo_workspace, tmp_path, monkeypatch):
    """A new tile or ``force``: the planner sends no digest and the worker computes it from the
    rows it decodes anyway (issue 18: the rows were decoded twice). The digest recorded is the
    one a planner computes (checked independently from the rows here), so the rerun skips."""
    from gmi_engine.backends.local_runner import kernel_row
    from gmi_engine.kernel.pipeline import inputs_digest
    from gmi_engine.kernel.records import DIGEST_KEY

    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace[0], ws)
    with LocalStore(ws, create=False) as store:
        n_rows = sum(len(store.tile_rows(t)) for t in store.tiles())
        expected = {t: inputs_digest([kernel_row(r) for r in store.tile_rows(t)], METHOD) for t in store.tiles()}
    decoded = _count_decoded_rows(monkeypatch)
    report = run_local(ws, METHOD, workers=1)
    assert len(report.computed) == 2 and len(decoded) == n_rows
    with LocalStore(ws, create=False) as store:
        recorded = {t: store.results(t, METHOD)[MASK_OUTPUT].meta[DIGEST_KEY] for t in store.tiles()}
    assert recorded == expected
    assert result_bytes(ws) == result_bytes(reference_run)
    del decoded[:]
    report = run_local(ws, METHOD, workers=1, force=True)
    assert len(report.computed) == 2 and len(decoded) == n_rows
    del decoded[:]
    report = run_local(ws, METHOD, workers=1)  # stored digests: the planner decodes, nothing computed
    assert report.computed == [] and len(report.skipped) == 2 and len(decoded) == n_rows


def test_pool_queues_the_next_tile_before_the_parent_commits(reference_run, tmp_path):
    """Issue 18: a worker that finishes a tile finds the next one queued instead of idling while
    the parent commits (the parent took the next job only after its commit before)."""
    from gmi_engine.backends.local_runner import RunReport, _run_pool
    from gmi_engine.kernel.pipeline import merged_params

    ws = tmp_path / "ws"
    shutil.copytree(reference_run, ws)
    with LocalStore(ws, create=False) as store:
        tiles = store.tiles()
    events = []

    def jobs():
        for tile in tiles:
            events.append(("take", tile))
            yield tile, None

    def commit(tile, outcome):
        events.append(("commit", tile))
        with LocalStore(ws, create=False) as store:
            store.replace_result_records(tile, METHOD, outcome[0])

    _run_pool(str(ws), jobs(), METHOD, merged_params(None), commit, lambda: False, RunReport(METHOD),
              workers=1)
    assert [e[0] for e in events] == ["take", "take", "commit", "commit"], events
    assert result_bytes(ws) == result_bytes(reference_run)


def test_the_worker_server_preload_does_not_import_pyproj():
    """Issue 18: the forkserver imports the runner before the first tile can start; pyproj
    (0.05 s here) is needed only for lon/lat transforms, which no tile worker does."""
    code = "import sys, gmi_engine.backends.local_runner; print('pyproj' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert out.stdout.strip() == "False", out.stderr
