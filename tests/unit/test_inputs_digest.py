"""pipeline.inputs_digest / ordered_inputs_digest: what the digest responds to and what it does not.

Behaviour only (the expectation is never the function's own formula): the digest does not depend
on the order the rows are given in, changes when one DN, a row's date or a parameter changes, and
the streaming form lets go of each row before it takes the next.
"""
from __future__ import annotations

import copy
import gc
import weakref

import numpy as np
import pytest

from gmi_engine.errors import GmiInputError
from gmi_engine.kernel.pipeline import inputs_digest, ordered_inputs_digest

METHOD = "mineral_indices"


def _row(k: int) -> dict:
    rng = np.random.default_rng(k)
    return {"granule_id": "AST_L1T_{:03d}".format(k), "acquired": "2020-01-{:02d}T18:00:00".format(k + 1),
            "bbox": [0, 0, 8, 8], "meta": {"gain": "HGH"}, "ac": None, "quality": None,
            "bands": {"B{}".format(b): rng.integers(0, 255, (8, 8), dtype=np.uint8) for b in (1, 2, 3)},
            "modis": {"b01": rng.integers(0, 5000, (2, 2), dtype=np.int16)}}


ROWS = [_row(k) for k in range(3)]


def test_the_digest_does_not_depend_on_the_order_of_the_rows():
    digests = {inputs_digest(rows, METHOD) for rows in (ROWS, ROWS[::-1], [ROWS[1], ROWS[2], ROWS[0]])}
    assert len(digests) == 1
    assert ordered_inputs_digest(iter(copy.deepcopy(ROWS)), METHOD) in digests  # equal copies, one at a time


@pytest.mark.parametrize("change", ["one DN", "date", "granule", "modis cell", "param"])
def test_the_digest_changes_with_any_input(change):
    rows = copy.deepcopy(ROWS)
    params = None
    if change == "one DN":
        rows[1]["bands"]["B2"][3, 4] ^= 1
    elif change == "date":
        rows[2]["acquired"] = "2020-02-01T18:00:00"
    elif change == "granule":
        rows[0]["granule_id"] = "AST_L1T_999"
    elif change == "modis cell":
        rows[0]["modis"]["b01"][0, 0] += 1
    else:
        params = {"strategy": "median"}
    assert inputs_digest(rows, METHOD, params) != inputs_digest(ROWS, METHOD)


def test_streamed_rows_are_let_go_before_the_next_is_taken():
    alive = []

    def rows():
        for k in range(4):
            if alive:
                gc.collect()
                assert alive[-1]() is None, "row {} is still held while row {} is made".format(k - 1, k)
            row = _row(k)
            alive.append(weakref.ref(row["bands"]["B1"]))
            yield row
            del row

    ordered_inputs_digest(rows(), METHOD)
    assert len(alive) == 4


def test_rows_out_of_order_are_refused():
    with pytest.raises(GmiInputError, match="must be sorted"):
        ordered_inputs_digest(ROWS[::-1], METHOD)
