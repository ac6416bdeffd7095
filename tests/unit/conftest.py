"""Fixtures: synthetic granules written once per session."""
from __future__ import annotations

import pytest
from synth_cases import CASES

from gmi_engine.synth.aster import write_aster_l1t


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory):
    """A session-wide folder for synthetic products."""
    return tmp_path_factory.mktemp("synth")


@pytest.fixture(scope="session")
def granule_path(synth_dir):
    """Factory: the path of a named synthetic case, written on first use."""
    cache = {}

    def get(name: str):
        if name not in cache:
            cache[name] = write_aster_l1t(CASES[name], synth_dir / name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def demo_small(tmp_path_factory):
    """The small demo set (two overlapping 12 km granules over tile 260, 526 + ancillaries)."""
    from gmi_engine.synth.demo import write_demo_set

    return write_demo_set(tmp_path_factory.mktemp("demo-small"), small=True)


@pytest.fixture(scope="session")
def demo_workspace(demo_small, tmp_path_factory):
    """A workspace with both small demo granules ingested (and the options used)."""
    from gmi_engine.synth.demo import ingest_demo_set

    ws = tmp_path_factory.mktemp("ws")
    return ws, ingest_demo_set(demo_small, ws)


@pytest.fixture
def workspace(demo_workspace, tmp_path):
    """A private copy of the demo workspace, folder name ``ws``, for tests that change it."""
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace[0], ws)
    return ws


@pytest.fixture(scope="session")
def reference_run(demo_workspace, tmp_path_factory):
    """An uninterrupted single-process mineral_indices run on a copy of the demo workspace
    (read it, or copy it before changing it)."""
    import shutil

    from gmi_engine.backends.local_runner import run_local

    ws = tmp_path_factory.mktemp("ref") / "ws"
    shutil.copytree(demo_workspace[0], ws)
    report = run_local(ws, "mineral_indices", workers=1)
    assert len(report.computed) == 2 and not report.skipped
    return ws
