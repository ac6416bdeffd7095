"""QGIS test session set-up, and the fixtures the plugin tests share.

tests/unit goes on sys.path so the QGIS tests use the unit tests' replays and fakes
(cmr_replay, loopback_http, odps_fake) as they are.

QGIS 3.22's Python bindings can crash while the interpreter tears down Qt objects after the
last test (a segfault in exit handlers, after every result is reported). The session's exit
status is what matters, so the process ends with it right after pytest has reported.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

_STATUS = {"code": 0}


def pytest_sessionfinish(session, exitstatus):
    _STATUS["code"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_STATUS["code"])


@pytest.fixture(scope="module")
def provider(qgis_processing):
    """The gmi Processing provider, registered for the module (or the plugin's, when a test left it loaded)."""
    import processing  # noqa: F401  (initialised by pytest-qgis' qgis_processing)
    from qgis.core import QgsApplication

    from gmi_qgis_plugin.processing.provider import GmiProvider

    registry = QgsApplication.processingRegistry()
    existing = registry.providerById("gmi")
    if existing is not None:
        yield existing
        return
    provider = GmiProvider()
    assert registry.addProvider(provider)
    yield provider
    registry.removeProvider(provider)
