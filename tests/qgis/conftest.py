"""QGIS test session set-up.

QGIS 3.22's Python bindings can crash while the interpreter tears down Qt objects after the
last test (a segfault in exit handlers, after every result is reported). The session's exit
status is what matters, so the process ends with it right after pytest has reported.
"""
from __future__ import annotations

import os
import sys

import pytest

_STATUS = {"code": 0}


def pytest_sessionfinish(session, exitstatus):
    _STATUS["code"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_STATUS["code"])
