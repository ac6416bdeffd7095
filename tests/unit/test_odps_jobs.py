"""MaxCompute jobs as a first real run meets them: one bad tile, the flags sent, the smoke check,
partition growth. Against the loopback MaxCompute of tests/unit/odps_fake.py, with the deployed
UDTF run in isolated processes (what that does not prove: docs/maxcompute.md, "Tested here")."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from odps_fake import FAKE_ACCESS_ID, FAKE_SECRET, FakeMaxCompute, host_numpy_archive, isolated_udtf_executor
from test_odps_backend import instance_posts

from gmi_engine.backends import odps as ob
from gmi_engine.backends.local import LocalStore
from gmi_engine.cli import main as cli
from gmi_engine.errors import GmiInputError
from gmi_engine.kernel import KERNEL_VERSION, records

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake(monkeypatch):
    with FakeMaxCompute() as server:
        for key, value in {"ODPS_ACCESS_ID": FAKE_ACCESS_ID, "ODPS_SECRET_ACCESS_KEY": FAKE_SECRET,
                           "ODPS_PROJECT_NAME": server.project, "ODPS_ENDPOINT": server.endpoint}.items():
            monkeypatch.setenv(key, value)
        yield server


@pytest.fixture
def deployed(fake, tmp_path):
    """The fake runs the deployed UDTF (2 reducers); numpy comes from an archive resource."""
    fake.executor = isolated_udtf_executor(tmp_path / "exec", reducers=2)
    fake.job_seconds = 0.0
    fake.resources["gmi_numpy_host.zip"] = {"type": "archive", "content": host_numpy_archive(tmp_path).read_bytes(),
                                            "comment": "test"}
    assert cli.main(["odps", "deploy", "--numpy-resource", "gmi_numpy_host.zip"]) == 0
    return fake


def _corrupt_source_row(fake, batch: str, tile, column: str = "b01") -> str:
    """Break one uploaded source row of ``tile`` (as a bad upload or a hand edit would)."""
    table = fake.tables["gmi_source"]
    names = [n for n, _, _ in table.columns]
    for row in table.partitions["batch=" + batch]:
        if (row[names.index("tile_x")], row[names.index("tile_y")]) == tile:
            row[names.index(column)] = b"not a GMI blob"
            return row[names.index("granule_id")]
    raise AssertionError("no row of tile {}".format(tile))


# ---------------------------------------------------------------------------------------------
# Item 3: one bad tile does not fail the job


def test_a_bad_tile_is_reported_and_the_other_tiles_are_stored(deployed, workspace, capsys):
    fake = deployed
    with LocalStore(workspace, create=False) as store:
        tiles = sorted((t.ix, t.iy) for t in store.tiles())
    assert cli.main(["odps", "upload", "--workspace", str(workspace)]) == 0
    granule = _corrupt_source_row(fake, "ws", tiles[1])
    capsys.readouterr()
    assert cli.main(["odps", "run", "--workspace", str(workspace), "--method", "mineral_indices"]) == 3
    out = capsys.readouterr().out
    assert "24 result rows of 1 tile(s)" in out
    assert "1 tile(s) failed on MaxCompute" in out
    assert "tile {},{} (mineral_indices): BlobError".format(*tiles[1]) in out and granule in out
    assert "[kernel {}]".format(KERNEL_VERSION) in out
    with LocalStore(workspace, create=False) as store:
        stored = {(r.tile_x, r.tile_y) for r in store.iter_results("mineral_indices")}
        assert not any(r.output == records.ERROR_OUTPUT for r in store.iter_results())
    assert stored == {tiles[0]}
    state = ob.load_state(workspace)
    failed = state["runs"][state["last_run"]]["failed_tiles"]
    assert [f["tile"] for f in failed] == [list(tiles[1])] and granule in failed[0]["granules"]
    assert "b01" in failed[0]["error"] and failed[0]["kernel_version"] == KERNEL_VERSION
    # a download later reports the same failure again
    assert cli.main(["odps", "download", "--workspace", str(workspace)]) == 3


def test_fail_fast_fails_the_job_as_before(deployed, workspace, capsys):
    fake = deployed
    with LocalStore(workspace, create=False) as store:
        tile = sorted((t.ix, t.iy) for t in store.tiles())[0]
    assert cli.main(["odps", "upload", "--workspace", str(workspace)]) == 0
    _corrupt_source_row(fake, "ws", tile)
    capsys.readouterr()
    assert cli.main(["odps", "run", "--workspace", str(workspace), "--method", "mineral_indices",
                     "--fail-fast"]) == 1
    err = capsys.readouterr().err
    assert "ended FAILED" in err and "BlobError" in err
    with LocalStore(workspace, create=False) as store:
        assert not list(store.iter_results("mineral_indices"))


# ---------------------------------------------------------------------------------------------
# Item 6: only documented flags by default; parallelism as options; anything else is a --hint


def test_default_flags_are_documented_and_named_in_the_docs():
    hints = ob.job_hints()
    assert set(hints) <= set(ob.DOCUMENTED_FLAGS)
    assert "odps.sql.udf.python.memory" not in hints and "odps.stage.reducer.num" not in hints
    text = (REPO / "docs" / "maxcompute.md").read_text(encoding="utf-8")
    for flag, url in ob.DOCUMENTED_FLAGS.items():
        assert url.startswith("https://www.alibabacloud.com/help/") and flag in text and url in text, flag


def test_flag_values_are_checked_against_their_documented_ranges():
    assert ob.job_hints(reducers=64, max_workers=200)["odps.stage.reducer.num"] == "64"
    assert ob.job_hints(udf_memory_mb=3072)["odps.sql.udf.python.memory"] == "3072"
    for kwargs, message in (({"udf_memory_mb": 4096}, r"udf memory \(MB\): 4096 is outside 64..3072"),
                            ({"reducer_memory_mb": 128}, r"reducer memory \(MB\): 128 is outside 256..12288"),
                            ({"reducers": 0}, "reducers: 0 is outside 1..10000"),
                            ({"max_workers": 0}, "max workers: 0 is outside"),
                            ({"extra": {"not a flag": "1"}}, "not a MaxCompute flag name")):
        with pytest.raises(GmiInputError, match=message):
            ob.job_hints(**kwargs)


def test_cli_sends_parallelism_options_and_hints(deployed, workspace):
    fake = deployed
    assert cli.main(["run", "--workspace", str(workspace), "--method", "mosaic", "--backend", "odps",
                     "--reducers", "8", "--max-workers", "100", "--reducer-memory", "6144",
                     "--hint", "odps.stage.mapper.mem=2048"]) == 0
    _, settings = instance_posts(fake)[-1]
    assert settings["odps.stage.reducer.num"] == "8" and settings["odps.job.workers.limit"] == "100"
    assert settings["odps.stage.reducer.mem"] == "6144" and settings["odps.stage.mapper.mem"] == "2048"
    assert "odps.sql.udf.python.memory" not in settings
    assert re.search(r"odps\.sql\.python\.version", json.dumps(settings))


# ---------------------------------------------------------------------------------------------
# Item 7: gmi odps check --smoke


def test_smoke_check_runs_one_tile_end_to_end_and_matches_the_local_kernel(deployed, workspace, capsys):
    fake = deployed
    with LocalStore(workspace, create=False) as store:
        first = sorted((t.ix, t.iy) for t in store.tiles())[0]
        before = store.source_digest()
    assert cli.main(["odps", "check", "--smoke", "--workspace", str(workspace)]) == 0
    out = capsys.readouterr().out
    assert "smoke check, tile {},{} mineral_indices".format(*first) in out
    assert "ok: 24 outputs identical to the local kernel" in out and "Logview:" in out
    assert [r["tiles"] for r in fake.last_run] == [[first]]  # one tile, one reducer, deployed archives
    assert "/work/gmi_numpy_host.zip/numpy/" in fake.last_run[0]["files"]["numpy"]
    # only the smoke tile's rows went up, and nothing stays behind in either table
    uploads = [r for r in fake.calls("PUT", via="tunnel")]
    assert uploads and all("batch%3Dgmi_smoke_" in r.raw_query for r in uploads)
    assert not fake.tables["gmi_source"].partitions and not fake.tables["gmi_result"].partitions
    with LocalStore(workspace, create=False) as store:  # the workspace was only read
        assert store.source_digest() == before and not list(store.iter_results())


def test_smoke_check_reports_a_kernel_that_differs_and_a_missing_function(deployed, workspace, capsys, tmp_path):
    fake = deployed
    # the deployed kernel archive computes something else than this checkout (a stale bundle)
    kernel = next(n for n in fake.resources if n.startswith("gmi_kernel_"))
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(fake.resources[kernel]["content"]))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith("kernel/pipeline.py"):  # every float output 1.5 times what it should be
                data += (b"\n_original_run = run\n\n\ndef run(*a, **k):\n    out = _original_run(*a, **k)\n"
                         b"    for item in out:\n        if item['data'].dtype.kind == 'f':\n"
                         b"            item['data'] = item['data'] * 1.5\n    return out\n")
            out.writestr(name, data)
    fake.resources[kernel]["content"] = buf.getvalue()
    capsys.readouterr()
    status = cli.main(["odps", "check", "--smoke", "--workspace", str(workspace), "--method", "mineral_indices"])
    out = capsys.readouterr().out
    assert status == 1 and "MISMATCH" in out and "data differ" in out
    fake.functions.clear()
    assert cli.main(["odps", "check", "--smoke", "--workspace", str(workspace)]) == 1
    assert "smoke check: function gmi_udtf is not registered; run `gmi odps deploy`" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Item 9: partition growth


def test_prune_keeps_the_newest_runs_of_each_batch(deployed, workspace, capsys):
    fake = deployed
    for method in ("mosaic", "color_balancing", "mineral_indices"):
        assert cli.main(["run", "--workspace", str(workspace), "--method", method, "--backend", "odps"]) == 0
    assert cli.main(["odps", "upload", "--workspace", str(workspace), "--batch", "other"]) == 0
    assert cli.main(["odps", "run", "--workspace", str(workspace), "--batch", "other", "--method", "mosaic"]) == 0
    parts = fake.tables["gmi_result"].partitions
    assert len(parts) == 4
    capsys.readouterr()
    assert cli.main(["odps", "prune", "--keep", "1", "--dry-run"]) == 0
    assert "would drop 2 partition(s)" in capsys.readouterr().out and len(parts) == 4
    assert cli.main(["odps", "prune", "--keep", "1", "--workspace", str(workspace)]) == 0
    out = capsys.readouterr().out
    assert "dropped 2 partition(s); gmi_result now holds 2" in out and "60,000" in out
    assert [p.split(",")[0] + "," + p.split("run=")[1].rsplit("_", 1)[0] for p in sorted(parts)] == \
        ["batch=other,mosaic", "batch=ws,mineral_indices"]  # the newest run of each batch
    state = ob.load_state(workspace)
    assert sum(1 for r in state["runs"].values() if r.get("pruned")) == 2
    with pytest.raises(GmiInputError, match="--keep"):
        ob.OdpsBackend(ob.OdpsConfig.from_env()).prune(-1)
