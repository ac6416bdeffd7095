"""Helpers of the backend tests: a workspace's stored results as comparable bytes."""
from __future__ import annotations

from gmi_engine.backends.local import LocalStore

METHOD = "mineral_indices"


def result_bytes(ws, method: str = METHOD) -> dict:
    """Every stored result of ``method``: key -> (data cell, meta cell), as stored."""
    with LocalStore(ws, create=False) as store:
        return {r.key: (r.to_dict()["data"], r.to_dict()["meta"]) for r in store.iter_results(method)}
