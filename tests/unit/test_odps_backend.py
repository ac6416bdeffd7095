"""The MaxCompute backend against a loopback MaxCompute (tests/unit/odps_fake.py).

pyodps really sends its REST and tunnel requests to 127.0.0.1; the fake checks their signatures,
answers in MaxCompute's XML/JSON/protobuf formats and logs them, and these tests assert what was
sent (paths, methods, SQL, hints, resources) and drive the failures.
"""
from __future__ import annotations

import inspect
import io
import json
import logging
import tarfile
import time
import xml.etree.ElementTree as ET
import zipfile

import pytest
from odps_fake import (
    FAKE_ACCESS_ID,
    FAKE_SECRET,
    FakeMaxCompute,
    fake_numpy_wheel,
    host_numpy_archive,
    isolated_udtf_executor,
    local_reference,
    parse_gmi_job,
)

from gmi_engine.backends import odps as ob
from gmi_engine.backends.local import LocalStore
from gmi_engine.cli import main as cli
from gmi_engine.errors import BackendError, GmiInputError
from gmi_engine.grid import TileIndex
from gmi_engine.kernel import records
from gmi_engine.table import RESULT_SCHEMA, SOURCE_SCHEMA, SourceRow

STS_TOKEN = "fake-sts-token-CAIS-never-real"


@pytest.fixture
def fake():
    with FakeMaxCompute() as server:
        yield server


def env_for(fake, **extra):
    env = {"ODPS_ACCESS_ID": FAKE_ACCESS_ID, "ODPS_SECRET_ACCESS_KEY": FAKE_SECRET,
           "ODPS_PROJECT_NAME": fake.project, "ODPS_ENDPOINT": fake.endpoint}
    env.update(extra)
    return env


@pytest.fixture
def backend(fake):
    return ob.OdpsBackend(ob.OdpsConfig.from_env(env_for(fake)), retry_delay=0.0)


def instance_posts(fake):
    """(Query, settings) of every instance the client submitted, from the raw request bodies."""
    out = []
    for req in fake.calls("POST", r"/instances$", via="rest"):
        task = ET.fromstring(req.body).find("./Job/Tasks/SQL")
        props = {p.findtext("Name"): p.findtext("Value") for p in task.findall("./Config/Property")}
        out.append((task.findtext("Query"), json.loads(props["settings"])))
    return out


# ---------------------------------------------------------------------------------------------
# Configuration and credentials


def test_config_from_environment_never_shows_secrets():
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI5tExampleId", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s3cr3t-value",
           "ALIBABA_CLOUD_SECURITY_TOKEN": STS_TOKEN, "ODPS_PROJECT_NAME": "p1",
           "ODPS_ENDPOINT": "https://service.cn-shanghai.maxcompute.aliyun.com/api", "ODPS_QUOTA_NAME": "q1"}
    config = ob.OdpsConfig.from_env(env, tunnel_endpoint="https://dt.example/")
    assert (config.access_id, config.secret, config.sts_token) == ("LTAI5tExampleId", "s3cr3t-value", STS_TOKEN)
    assert (config.project, config.quota, config.tunnel_endpoint) == ("p1", "q1", "https://dt.example/")
    for text in (repr(config), config.describe()):
        assert "s3cr3t-value" not in text and STS_TOKEN not in text and "LTAI5tExampleId" not in text
    assert "STS token" in config.describe()
    with pytest.raises(GmiInputError, match="ODPS_SECRET_ACCESS_KEY, ODPS_ENDPOINT not set"):
        ob.OdpsConfig.from_env({"ODPS_ACCESS_ID": "x", "ODPS_PROJECT_NAME": "p"})
    with pytest.raises(GmiInputError, match="credentials are read from the environment only"):
        ob.OdpsConfig.from_env(env, secret="typed-on-the-command-line")
    assert ob.scrub("Authorization: ODPS LTAI5:abc= token s3cr3t-value", ["s3cr3t-value"]) == \
        "Authorization: *** token ***"


def test_wrong_secret_is_a_clear_error_without_secrets_in_messages_or_logs(fake, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("odps").setLevel(logging.DEBUG)  # as `gmi --debug` would
    wrong = "wrong-secret-Kq9"
    backend = ob.OdpsBackend(ob.OdpsConfig.from_env(env_for(
        fake, ODPS_SECRET_ACCESS_KEY=wrong, ODPS_STS_TOKEN=STS_TOKEN)))
    with pytest.raises(BackendError) as info:
        backend.create_tables()
    text = str(info.value)
    assert "SignatureNotMatch" in text and "refused the credentials" in text and "request id" in text
    signed = [r for r in fake.requests if r.headers.get("authorization-sts-token") == STS_TOKEN]
    assert signed, "pyodps should send the STS token header"
    for secret in (wrong, STS_TOKEN, FAKE_SECRET):
        assert secret not in text
        assert secret not in caplog.text
        assert all(secret not in r.getMessage() for r in caplog.records)
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # DEBUG records were captured
    # pyodps' signing logger prints the STS token at DEBUG, and a reloaded token at INFO
    # ("STS token reloaded: <token>", odps/accounts.py): the backend holds it at WARNING
    assert logging.getLogger("odps.accounts").getEffectiveLevel() == logging.WARNING
    caplog.clear()
    logging.getLogger("odps.accounts").info("STS token reloaded: %s", STS_TOKEN)  # what pyodps does
    assert STS_TOKEN not in caplog.text
    assert fake.tables == {}


# ---------------------------------------------------------------------------------------------
# Tables and upload


def test_create_tables_sends_ddl_with_binary_partitions_and_lifecycle(fake, backend):
    assert backend.create_tables(lifecycle=30) == ["gmi_source", "gmi_result"]
    (src_sql, src_settings), (res_sql, res_settings) = instance_posts(fake)
    assert "CREATE TABLE IF NOT EXISTS gmi_test.`gmi_source`" in src_sql
    assert "`b01` BINARY COMMENT" in src_sql and "`acquired` DATETIME" in src_sql
    assert "PARTITIONED BY (\n  `batch` STRING" in src_sql and src_sql.rstrip(";").endswith("LIFECYCLE 30")
    assert "PARTITIONED BY (\n  `batch` STRING COMMENT 'source batch the results were computed from',\n" \
           "  `run` STRING" in res_sql
    assert src_settings["odps.sql.type.system.odps2"] == "true" == res_settings["odps.sql.type.system.odps2"]
    for name, schema in (("gmi_source", SOURCE_SCHEMA), ("gmi_result", RESULT_SCHEMA)):
        table = fake.tables[name]
        assert [(n, t) for n, t, _ in table.columns] == [(c.name, c.odps_type) for c in schema.columns]
        assert table.lifecycle == 30
    assert backend.create_tables(lifecycle=30) == []
    assert len(instance_posts(fake)) == 2  # the second call only looked the tables up


def test_upload_writes_blocks_then_commits_and_rows_round_trip(fake, backend, workspace):
    backend.create_tables()
    backend.block_bytes = 1  # one source row per block
    fractions = []
    report = backend.upload(workspace, "b1", progress=lambda f, note: fractions.append(f))
    assert (report.rows, report.blocks) == (4, 4) and fractions[-1] == 1.0
    tunnel = fake.calls(via="tunnel")
    assert tunnel[0].method == "POST" and "uploads" in tunnel[0].query
    assert tunnel[0].query["overwrite"] == "true" and tunnel[0].query["partition"] == "batch=b1"
    puts = [r for r in tunnel if r.method == "PUT"]
    assert [r.query["blockid"] for r in puts] == ["0", "1", "2", "3"]
    assert all(r.headers.get("transfer-encoding") == "chunked" for r in puts)
    commit = tunnel[-1]
    assert commit.method == "POST" and "uploadid" in commit.query and "uploads" not in commit.query
    assert tunnel.index(commit) > tunnel.index(puts[-1])
    stored = fake.partition_rows("gmi_source", "batch=b1")
    with LocalStore(workspace, create=False) as store:
        local = list(store.iter_source_rows())
    assert len(stored) == len(local)
    for values, row in zip(stored, local):
        cells = dict(zip(records.SOURCE_COLUMNS, values))
        # what arrived decodes to the same kernel row (acquired to the millisecond, blobs, JSON)
        fake_row = records.kernel_row(dict(cells, acquired=ob_millis(cells["acquired"])))
        expected = SourceRow.from_dict(row.to_dict())
        assert fake_row["acquired"] == records.format_utc(expected.acquired)
        assert fake_row["granule_id"] == row.granule_id and fake_row["meta"] == row.meta
        for name, array in row.bands.items():
            assert (fake_row["bands"][name] == array).all()


def ob_millis(value):
    """The tunnel reader gives local naive datetimes; back to epoch milliseconds."""
    from odps import utils

    return utils.to_milliseconds(value)


def test_upload_retries_a_failed_block(fake, backend, workspace):
    backend.create_tables()
    backend.block_bytes = 1
    fake.fail_blocks = {1: 1}
    report = backend.upload(workspace, "b1")
    assert report.blocks == 4
    assert [r.query["blockid"] for r in fake.calls("PUT", via="tunnel")] == ["0", "1", "1", "2", "3"]
    assert len(fake.partition_rows("gmi_source", "batch=b1")) == 4


def test_block_failure_mid_upload_commits_nothing(fake, backend, workspace):
    backend.create_tables()
    backend.block_bytes, backend.block_attempts = 1, 2
    fake.fail_blocks = {2: 99}
    with pytest.raises(BackendError, match=r"block 2 could not be written in 2 attempts.*nothing was committed"):
        backend.upload(workspace, "b1")
    tunnel = fake.calls(via="tunnel")
    assert [r.query["blockid"] for r in tunnel if r.method == "PUT"] == ["0", "1", "2", "2"]
    assert not [r for r in tunnel if r.method == "POST" and "uploadid" in r.query]  # no commit
    assert fake.partition_rows("gmi_source", "batch=b1") is None  # the partition the session made is gone
    drop = instance_posts(fake)[-1][0]
    assert drop.startswith("ALTER TABLE gmi_test.`gmi_source` DROP IF EXISTS") and "PARTITION (batch='b1')" in drop
    # a failed re-upload leaves an existing partition's committed rows untouched
    fake.fail_blocks = {}
    backend.upload(workspace, "b1")
    fake.fail_blocks = {3: 99}
    with pytest.raises(BackendError, match="block 3"):
        backend.upload(workspace, "b1")
    assert len(fake.partition_rows("gmi_source", "batch=b1")) == 4


# ---------------------------------------------------------------------------------------------
# Deploy


def test_deploy_uploads_content_hashed_resources_and_is_idempotent(fake, backend, tmp_path):
    wheel = fake_numpy_wheel(tmp_path)
    plan = ob.deploy_plan(wheel)
    report = backend.deploy(plan)
    assert report.function_action == "created" and report.uploaded == [plan.kernel_name, plan.numpy_name,
                                                                       plan.udtf_name]
    posts = fake.calls("POST", r"/resources$")
    assert [(r.headers["x-odps-resource-name"], r.headers["x-odps-resource-type"]) for r in posts] == [
        (plan.kernel_name, "archive"), (plan.numpy_name, "archive"), (plan.udtf_name, "py")]
    assert plan.numpy_name.endswith(".zip") and plan.kernel_name.startswith("gmi_kernel_")
    function = fake.functions["gmi_udtf"]
    assert function == {"class_type": plan.udtf_name[:-3] + ".GmiUdtf",
                        "resources": [plan.udtf_name, plan.kernel_name, plan.numpy_name]}
    names = zipfile.ZipFile(io.BytesIO(fake.resources[plan.kernel_name]["content"])).namelist()
    assert "gmi_engine/kernel/pipeline.py" in names and "gmi_engine/kernel/records.py" in names
    assert "gmi_engine/kernel/data/library.json" in names
    assert all(n.startswith(("gmi_engine/kernel/", "gmi_engine/indices/")) or n == "gmi_engine/__init__.py"
               for n in names)
    source = fake.resources[plan.udtf_name]["content"].decode()
    assert "BUNDLE_RESOURCES = ({!r}, {!r})".format(plan.kernel_name, plan.numpy_name) in source
    assert backend.check_function() == (True, "function gmi_udtf = {} ({})".format(
        plan.class_type, ", ".join(plan.resources)))

    fake.requests.clear()
    again = backend.deploy(ob.deploy_plan(wheel))
    assert again.function_action == "unchanged" and again.uploaded == []
    assert not fake.calls("POST") and not fake.calls("PUT")

    (tmp_path / "other").mkdir()
    other = fake_numpy_wheel(tmp_path / "other")
    other.write_bytes(other.read_bytes() + b"\0")  # another numpy build: new names, function updated
    updated = backend.deploy(ob.deploy_plan(other))
    assert updated.function_action == "updated" and updated.uploaded == [updated.resources[2], updated.resources[0]]
    assert [r.method for r in fake.calls(path_re=r"functions/gmi_udtf$") if r.method != "GET"] == ["PUT"]
    assert fake.functions["gmi_udtf"]["resources"] == updated.resources


def test_numpy_archive_must_be_cp37_linux_x86_64(tmp_path):
    with pytest.raises(GmiInputError, match=r"built for cp311 x86_64; MaxCompute .* CPython 3.7"):
        ob.deploy_plan(fake_numpy_wheel(tmp_path, python_tag="cp311"))
    other = tmp_path / "notnumpy.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("scipy/__init__.py", "")
    with pytest.raises(GmiInputError, match="no numpy/core/_multiarray_umath"):
        ob.deploy_plan(other)
    packed = tmp_path / "packages.tar.gz"  # pyodps-pack layout
    with tarfile.open(packed, "w:gz") as archive:
        data = b"\x7fELF"
        info = tarfile.TarInfo("packages/numpy/core/_multiarray_umath.cpython-37m-x86_64-linux-gnu.so")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    assert ob.deploy_plan(packed).numpy_name.endswith(".tar.gz")
    with pytest.raises(GmiInputError, match="either a numpy archive file or"):
        ob.deploy_plan()


# ---------------------------------------------------------------------------------------------
# Jobs


def deployed(backend, tmp_path):
    backend.create_tables()
    backend.deploy(ob.deploy_plan(fake_numpy_wheel(tmp_path)))


def test_submit_sends_the_design_sql_and_hints_then_reports_progress(fake, tmp_path):
    backend = ob.OdpsBackend(ob.OdpsConfig.from_env(env_for(fake, ODPS_QUOTA_NAME="gmi_quota")))
    deployed(backend, tmp_path)
    tiles = [TileIndex(260, 526), TileIndex(260, 525)]
    params = {"indices": ["ferric_iron"], "strategy": "median"}
    instance_id, run, sql = backend.submit("b1", "mineral_indices", params, tiles,
                                           ob.job_hints(4, 6144, udf_memory_mb=2048))
    query, settings = instance_posts(fake)[-1]
    assert query == sql
    job = parse_gmi_job(sql)
    assert job["distribute"] == ["tile_x", "tile_y"] and job["sort"] == ["tile_x", "tile_y", "acquired", "granule_id"]
    assert job["args"] == list(SOURCE_SCHEMA.names) and job["outputs"] == list(RESULT_SCHEMA.names)
    assert job["tiles"] == [(260, 526), (260, 525)] and job["run"] == run == ob.run_id("mineral_indices", params, tiles)
    assert json.loads(job["params"])["indices"] == ["ferric_iron"] and job["function"] == "gmi_udtf"
    for key, value in {"odps.sql.python.version": "cp37", "odps.isolation.session.enable": "true",
                       "odps.sql.type.system.odps2": "true", "odps.sql.udf.python.memory": "2048",
                       "odps.sql.executionengine.batch.rowcount": "4", "odps.function.timeout": "3600",
                       "odps.sql.timezone": "UTC", "odps.stage.reducer.mem": "6144",
                       "odps.task.wlm.quota": "gmi_quota"}.items():
        assert settings[key] == value, key

    seen = []
    fake.instances[instance_id].finish_at += 1.0
    status = backend.wait(instance_id, progress=lambda f, note: seen.append((f, note)), interval=0.05)
    assert status.state == "success" and seen[-1][0] == 1.0 and len(seen) >= 2
    assert seen[0][0] < 1.0 and "M1_job_0" in seen[0][1]
    assert status.logview.endswith("&i={}&token=fake-logview-token".format(instance_id))
    assert fake.calls("GET", instance_id, via="rest")
    assert any("instanceprogress" in r.query for r in fake.calls("GET", instance_id))
    assert fake.calls("POST", r"/authorization$")


def test_submit_refuses_an_out_of_date_function(fake, backend, tmp_path):
    backend.create_tables()
    with pytest.raises(BackendError, match="gmi_udtf is not registered; run `gmi odps deploy`"):
        backend.submit("b1", "mosaic")
    fake.resources["old.py"] = {"type": "py", "content": b"", "comment": None}
    fake.functions["gmi_udtf"] = {"class_type": "old.GmiUdtf", "resources": ["old.py"]}
    with pytest.raises(BackendError, match="uses old.py, not this GMI's kernel gmi_kernel_"):
        backend.submit("b1", "mosaic")
    assert not instance_posts(fake)[2:]  # only the two DDL jobs were ever submitted


def test_failed_instance_raises_with_status_error_summary_and_logview(fake, backend, tmp_path):
    deployed(backend, tmp_path)
    fake.job_outcome = "failed"
    instance_id, _, _ = backend.submit("b1", "mosaic")
    with pytest.raises(BackendError) as info:
        backend.wait(instance_id, interval=0.05)
    text = str(info.value)
    assert "instance {} ended FAILED".format(instance_id) in text
    assert "ODPS-0123131:User defined function exception" in text and "MemoryError" in text
    assert "task summary:" in text and "CPU" in text
    assert "Logview: http://127.0.0.1:{}/logview/?".format(fake.port) in text
    assert any("result" in r.query for r in fake.calls("GET", instance_id))
    assert any("instancesummary" in r.query for r in fake.calls("GET", instance_id))


def test_wait_timeout_leaves_the_job_running_and_cancel_stops_it(fake, backend, tmp_path):
    deployed(backend, tmp_path)
    fake.job_outcome = "running"
    instance_id, _, _ = backend.submit("b1", "mosaic")
    start = time.monotonic()
    with pytest.raises(BackendError, match=r"still running after 0 s .*gmi odps cancel --instance {}".format(
            instance_id)):
        backend.wait(instance_id, timeout=0.3, interval=0.05)
    assert time.monotonic() - start < 5
    assert backend.status(instance_id).state == "running"
    status = backend.cancel(instance_id)
    put = fake.calls("PUT", instance_id)[-1]
    assert ET.fromstring(put.body).findtext("Status") == "Terminated"
    assert status.state == "cancelled"
    with pytest.raises(BackendError, match="ended CANCELLED"):
        backend.wait(instance_id, interval=0.05)


def test_unanswered_request_times_out_with_a_clear_error(fake):
    backend = ob.OdpsBackend(ob.OdpsConfig.from_env(env_for(fake), read_timeout=1))
    backend.create_tables()
    fake.stall_seconds = {"/instances?curr_project": 3.0}  # the next job submission hangs
    start = time.monotonic()
    with pytest.raises(BackendError, match=r"submit the mosaic job: MaxCompute did not answer in time \(ReadTimeout"):
        backend.submit("b1", "mosaic", check_function=False)
    assert time.monotonic() - start < 2.9


def test_params_that_cannot_be_sql_literals_are_refused():
    with pytest.raises(GmiInputError, match="quote"):
        ob.run_sql("mineral_indices", {"indices": ["it's"]}, "b1", "r1")
    with pytest.raises(GmiInputError, match="batch"):
        ob.run_sql("mosaic", {}, "b 1", "r1")
    with pytest.raises(GmiInputError, match="method"):
        ob.run_sql("nope", {}, "b1", "r1")


# ---------------------------------------------------------------------------------------------
# End to end: CLI, upload, the deployed bundle run in isolation, download


def test_gmi_run_backend_odps_end_to_end_is_byte_identical(fake, demo_workspace, workspace, tmp_path,
                                                           monkeypatch, capsys):
    for key, value in env_for(fake).items():
        monkeypatch.setenv(key, value)
    fake.executor = isolated_udtf_executor(tmp_path / "exec", reducers=2)
    fake.job_seconds = 0.0
    # the project already holds a numpy archive resource: this machine's numpy, zipped (see
    # host_numpy_archive), so that the isolated UDTF must import numpy from the deployed archive
    fake.resources["gmi_numpy_host.zip"] = {"type": "archive", "content": host_numpy_archive(tmp_path).read_bytes(),
                                            "comment": "test"}
    assert cli.main(["odps", "deploy", "--numpy-resource", "gmi_numpy_host.zip"]) == 0
    assert cli.main(["run", "--workspace", str(workspace), "--method", "mineral_indices",
                     "--backend", "odps"]) == 0
    out = capsys.readouterr().out
    assert "rows in 1 block(s)" in out and "48 result rows of 2 tile(s)" in out and "Logview:" in out
    # two reducers, one tile each, each a fresh `python -I -S` whose sys.path held no numpy and no
    # GMI: the kernel and numpy came from the deployed archives under work/, not from this checkout
    assert [len(r["tiles"]) for r in fake.last_run] == [1, 1]
    for reducer in fake.last_run:
        assert "/work/gmi_kernel_" in reducer["files"]["gmi_engine.kernel.pipeline"]
        assert ".zip/gmi_engine/kernel/pipeline.py" in reducer["files"]["gmi_engine.kernel.pipeline"]
        assert "/work/gmi_numpy_host.zip/numpy/__init__.py" in reducer["files"]["numpy"]
        assert not reducer["numpy_before"]  # pyodps' runtime alone did not bring numpy
        assert not any("-packages" in entry for entry in reducer["path"] if "udf-runtime" not in entry)
    reference = local_reference(demo_workspace[0], "mineral_indices")
    with LocalStore(workspace, create=False) as store:
        got = {r.key: r.to_dict() for r in store.iter_results("mineral_indices")}
    assert got.keys() == reference.keys()
    assert all(got[k] == reference[k] for k in reference)
    state = ob.load_state(workspace)
    run = state["last_run"]
    assert state["runs"][run]["downloaded"] and state["batch"] == "ws"
    assert FAKE_SECRET not in (workspace / ob.STATE_FILE).read_text()

    # a second run re-uses the uploaded batch; status and cancel find the last run
    fake.requests.clear()
    assert cli.main(["odps", "status", "--workspace", str(workspace)]) == 0
    assert "instance {}: success 100%".format(state["runs"][run]["instance"]) in capsys.readouterr().out
    assert cli.main(["odps", "upload", "--workspace", str(workspace), "--batch", "b2"]) == 0
    assert fake.calls("PUT", via="tunnel")


def test_connection_from_a_pyodps_room(fake, tmp_path, monkeypatch):
    from odps import inter
    from odps.config import option_context

    monkeypatch.setenv("PYODPS_DIR", str(tmp_path / "pyodps"))
    with option_context():  # entering a room sets pyodps' global options; keep them local
        inter.setup(FAKE_ACCESS_ID, FAKE_SECRET, fake.project, endpoint=fake.endpoint, room="gmi")
        config = ob.OdpsConfig.from_env({"GMI_ODPS_ROOM": "gmi"})
        assert config.secret is None and "pyodps room 'gmi'" in config.describe()
        backend = ob.OdpsBackend(config)
        assert backend.create_tables() == ["gmi_source", "gmi_result"] and backend.project == fake.project


def test_cli_check_cancel_and_download(fake, workspace, tmp_path, monkeypatch, capsys):
    for key, value in env_for(fake).items():
        monkeypatch.setenv(key, value)
    assert cli.main(["odps", "check"]) == 1
    out = capsys.readouterr().out
    assert "table gmi_source: missing" in out and "not ready: function gmi_udtf is not registered" in out
    assert FAKE_SECRET not in out and FAKE_ACCESS_ID not in out
    assert cli.main(["odps", "deploy", "--numpy-archive", str(fake_numpy_wheel(tmp_path))]) == 0
    assert cli.main(["odps", "upload", "-w", str(workspace), "--batch", "b9", "--lifecycle", "7"]) == 0
    assert cli.main(["odps", "check", "-w", str(workspace)]) == 0
    assert "ok: function gmi_udtf = gmi_udtf_" in capsys.readouterr().out

    fake.job_outcome = "running"
    assert cli.main(["odps", "run", "-w", str(workspace), "-m", "mosaic", "--no-wait"]) == 0
    assert cli.main(["odps", "cancel", "-w", str(workspace)]) == 0
    assert "cancelled" in capsys.readouterr().out

    # results written straight into the fake's result table come down into the workspace store
    import numpy as np
    cells = records.result_cells({"tile_x": 260, "tile_y": 526, "method": "mosaic", "output": "valid_mask",
                                  "data": np.ones((4, 4), np.uint8), "meta": {"k": 1}}, "d1")
    fake.tables["gmi_result"].partitions["batch=b9,run=r1"] = [list(records.ordered(cells))]
    assert cli.main(["odps", "download", "-w", str(workspace), "--batch", "b9", "--run", "r1"]) == 0
    with LocalStore(workspace, create=False) as store:
        row = store.results(TileIndex(260, 526), "mosaic")["valid_mask"]
    assert row.to_dict() == cells
    assert cli.main(["odps", "download", "-w", str(workspace), "--batch", "b9", "--run", "r2"]) == 1
    assert "has no partition batch=b9,run=r2" in capsys.readouterr().err


# pyodps 0.12.0's TableTunnel.create_upload_session (odps/tunnel/tabletunnel.py of the 0.12.0 wheel):
# it has no ``create_partition`` keyword; 0.12.3 added it. pyproject allows pyodps>=0.12.
PYODPS_0_12_0_UPLOAD_PARAMETERS = ("self", "table", "partition_spec", "upload_id", "compress_option",
                                   "compress_algo", "compress_level", "compress_strategy", "schema",
                                   "overwrite", "tags")


def test_upload_works_with_the_oldest_pyodps_upload_signature(fake, backend, workspace, monkeypatch):
    from odps.tunnel import TableTunnel

    real = TableTunnel.create_upload_session
    assert set(PYODPS_0_12_0_UPLOAD_PARAMETERS) <= set(inspect.signature(real).parameters)

    def as_in_0_12_0(self, *args, **kwargs):
        unknown = set(kwargs) - set(PYODPS_0_12_0_UPLOAD_PARAMETERS)
        if unknown:  # what Python raises for pyodps 0.12.0's signature
            raise TypeError("create_upload_session() got an unexpected keyword argument {!r}".format(
                sorted(unknown)[0]))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(TableTunnel, "create_upload_session", as_in_0_12_0)
    backend.create_tables()
    report = backend.upload(workspace, "b1")
    assert report.rows == 4 and len(fake.partition_rows("gmi_source", "batch=b1")) == 4
    report = backend.upload(workspace, "b1")  # the partition exists now: replaced, not added to
    assert report.rows == 4 and len(fake.partition_rows("gmi_source", "batch=b1")) == 4


def _wheel(folder, filename, tags):
    path = folder / filename
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("numpy/core/_multiarray_umath.cpython-37m-x86_64-linux-gnu.so", b"\x7fELF")
        archive.writestr("numpy-1.21.6.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"
                         + "".join("Tag: {}\n".format(t) for t in tags))
    return path


def test_numpy_wheel_must_carry_a_platform_tag_maxcompute_documents(tmp_path):
    # Alibaba documents cp37-cp37m-manylinux1_x86_64 wheels (and recommends numpy 1.21.6's manylinux2010
    # wheel); a manylinux2014 / manylinux_2_17 wheel needs glibc 2.17 and may fail on the workers.
    newer = _wheel(tmp_path, "numpy-1.21.6-cp37-cp37m-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                   ["cp37-cp37m-manylinux_2_17_x86_64", "cp37-cp37m-manylinux2014_x86_64"])
    with pytest.raises(GmiInputError, match=r"manylinux_2_17_x86_64, manylinux2014_x86_64.*manylinux1 or "
                                            r"manylinux2010.*pip download numpy==1\.21\.6"):
        ob.deploy_plan(newer)
    documented = _wheel(tmp_path, "numpy-1.21.6-cp37-cp37m-manylinux_2_12_x86_64.manylinux2010_x86_64.whl",
                        ["cp37-cp37m-manylinux_2_12_x86_64", "cp37-cp37m-manylinux2010_x86_64"])
    assert ob.deploy_plan(documented).numpy_name.endswith(".zip")
    oldest = _wheel(tmp_path, "numpy-1.19.5-cp37-cp37m-manylinux1_x86_64.whl", ["cp37-cp37m-manylinux1_x86_64"])
    assert ob.deploy_plan(oldest).numpy_name.endswith(".zip")
