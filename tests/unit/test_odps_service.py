"""run_odps, the whole MaxCompute job, against the loopback MaxCompute (tests/unit/odps_fake.py)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from odps_fake import FAKE_ACCESS_ID, FAKE_SECRET, FakeMaxCompute, fake_numpy_wheel

from gmi_engine.backends import odps as ob
from gmi_engine.errors import BackendError
from gmi_engine.grid import TileIndex

TILE = TileIndex(260, 526)


@pytest.fixture
def fake():
    with FakeMaxCompute() as server:
        server.job_seconds = 0.1
        yield server


@pytest.fixture
def backend(fake):
    config = ob.OdpsConfig(project=fake.project, endpoint=fake.endpoint, access_id=FAKE_ACCESS_ID,
                           secret=FAKE_SECRET)
    return ob.OdpsBackend(config, retry_delay=0.0)


@pytest.fixture
def deployed(backend, tmp_path):
    backend.create_tables()
    backend.deploy(ob.deploy_plan(fake_numpy_wheel(tmp_path)))
    return backend


def gmi_jobs(fake):
    return [i for i in fake.instances.values() if "INSERT OVERWRITE" in i.sql]


def run(backend, workspace, **kwargs):
    kwargs.setdefault("poll_seconds", 0.05)
    return ob.run_odps(backend, workspace, "mosaic", {}, [TILE], **kwargs)


def test_run_odps_uploads_submits_records_and_downloads(fake, deployed, workspace):
    seen, notes, logviews = [], [], []
    report = run(deployed, workspace, progress=lambda f, m: seen.append((f, m)), notes=notes.append,
                 on_logview=logviews.append)
    assert report.uploaded and not report.cancelled and report.batch == "ws"
    assert report.run == ob.run_id("mosaic", {}, [TILE]) and report.instance_id in fake.instances
    assert report.logview.startswith("http") and len(logviews) == 1 and logviews[0].startswith("http")
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert seen[0][1] == "connecting to MaxCompute project {}".format(fake.project)
    assert any(m.startswith("upload: ") for _, m in seen) and any(m.startswith("MaxCompute: ") for _, m in seen)
    assert any(n.startswith("submitted mosaic as instance {}".format(report.instance_id)) for n in notes)
    assert len(gmi_jobs(fake)) == 1 and "tile_x = 260 AND tile_y = 526" in gmi_jobs(fake)[0].sql

    state = ob.load_state(workspace)
    assert state["batch"] == "ws" and state["last_run"] == report.run
    entry = state["runs"][report.run]
    assert entry["instance"] == report.instance_id and entry["tiles"] == [[260, 526]] and entry["downloaded"]
    assert state["uploads"]["ws"]["fingerprint"] == ob.store_fingerprint(workspace)
    text = (workspace / ob.STATE_FILE).read_text(encoding="utf-8")
    assert FAKE_SECRET not in text and FAKE_SECRET not in " ".join(notes + [m for _, m in seen])


def test_run_odps_skips_the_upload_when_the_store_is_unchanged(fake, deployed, workspace):
    run(deployed, workspace)
    fake.requests.clear()
    notes = []
    report = run(deployed, workspace, notes=notes.append)
    assert not report.uploaded and not fake.calls("PUT", via="tunnel")
    assert not fake.calls("POST", "gmi_source", via="tunnel")  # no upload session was opened
    assert any("source rows already uploaded" in n for n in notes)
    assert len(gmi_jobs(fake)) == 2  # the job itself still runs
    fake.requests.clear()
    assert run(deployed, workspace, force_upload=True).uploaded and fake.calls("PUT", via="tunnel")


def test_a_partial_upload_records_no_fingerprint_so_the_next_run_uploads_again(fake, deployed, workspace):
    assert ob.upload_if_changed(deployed, workspace, "ws", tiles=[TILE]) is not None
    assert ob.load_state(workspace)["uploads"]["ws"]["fingerprint"] is None
    assert run(deployed, workspace).uploaded


def test_cancel_between_polls_stops_the_job_and_downloads_nothing(fake, deployed, workspace):
    fake.job_outcome = "running"
    fake.job_seconds = 60.0
    polls = []

    def progress(fraction, message):
        if message.startswith("MaxCompute: "):
            polls.append(fraction)

    report = run(deployed, workspace, progress=progress, cancelled=lambda: len(polls) >= 2)
    assert report.cancelled and report.instance_id and len(polls) == 2
    put = fake.calls("PUT", report.instance_id)[-1]
    assert ET.fromstring(put.body).findtext("Status") == "Terminated"
    entry = ob.load_state(workspace)["runs"][report.run]
    assert entry["instance"] == report.instance_id and "downloaded" not in entry
    assert not fake.downloads


def test_cancel_right_after_the_upload_submits_nothing(fake, deployed, workspace):
    report = run(deployed, workspace, cancelled=lambda: True)
    assert report.cancelled and report.uploaded and not report.instance_id
    assert not gmi_jobs(fake) and "last_run" not in ob.load_state(workspace)


def test_an_undeployed_function_is_refused_with_the_deploy_hint(fake, backend, workspace):
    with pytest.raises(BackendError, match=r"not registered; run `gmi odps deploy`.*--numpy-archive"):
        run(backend, workspace)
    assert not gmi_jobs(fake)


def test_a_failed_job_raises_with_its_logview_and_no_secret(fake, deployed, workspace):
    fake.job_outcome = "failed"
    with pytest.raises(BackendError) as info:
        run(deployed, workspace)
    text = str(info.value)
    assert "ended FAILED" in text and "Logview: http://127.0.0.1:{}/logview/?".format(fake.port) in text
    assert FAKE_SECRET not in text
    state = ob.load_state(workspace)
    assert "downloaded" not in state["runs"][state["last_run"]]


def test_an_edit_that_keeps_every_size_still_uploads_again(fake, deployed, workspace):
    """Another AOD at ingest, or a CSV import that edits ``ac``: same rows, same blob bytes, new content."""
    import sqlite3

    from gmi_engine.table import STORE_FILENAME

    run(deployed, workspace)
    with sqlite3.connect(str(workspace / STORE_FILENAME)) as conn:
        (ac,) = conn.execute('SELECT ac FROM "gmi_source" LIMIT 1').fetchone()
        digit = next(c for c in ac if c in "123456789")
        edited = ac.replace(digit, "9" if digit != "9" else "8", 1)
        assert len(edited) == len(ac) and edited != ac
        conn.execute('UPDATE "gmi_source" SET ac = ? WHERE ac = ?', (edited, ac))
    fake.requests.clear()
    report = run(deployed, workspace)
    assert report.uploaded and fake.calls("PUT", via="tunnel")
