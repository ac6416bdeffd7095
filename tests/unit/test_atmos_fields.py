"""Coefficient fields: blob round trip, continuity, and the non-closed-loop relief accuracy test.

The relief case's DN come from direct 6S runs at the true per-pixel altitude (gmi_engine.synth.relief,
its own states from its own DEM function); retrieval goes through the normal ingest with the LUT.
"""
from __future__ import annotations

import numpy as np
import pytest
from field_support import assert_bands_within_limits, retrieved_case

from gmi_engine.kernel.errors import SchemaError
from gmi_engine.kernel.fields import decode_field, encode_field, interpolate
from gmi_engine.synth.relief import write_relief_case


@pytest.fixture(scope="module")
def relief(tmp_path_factory):
    return retrieved_case(tmp_path_factory, "relief", write_relief_case, fields=(17, {}), single=(0, {}))


def test_field_blob_round_trip_is_exact_float32():
    values = np.random.default_rng(1).random((3, 9, 17, 17)).astype(np.float32) + 0.5
    entry = encode_field(values)
    assert entry["format"] == "gmi-acfield/1" and entry["nodes"] == 17
    assert np.array_equal(decode_field({"field": entry}), values)
    assert decode_field({"bands": {}}) is None
    with pytest.raises(SchemaError):
        decode_field({"field": dict(entry, format="gmi-acfield/0")})


def test_bilinear_field_reproduces_a_plane_and_agrees_across_a_tile_edge():
    tile_px, n = 1024, 17
    # a plane in the global pixel column: value = 0.001 * column; tile A covers columns 0..1023,
    # tile B 1024..2047; nodes at k * 64 pixel edges
    nodes_a = np.tile(0.001 * np.arange(n) * 64.0, (n, 1))
    nodes_b = nodes_a + 0.001 * tile_px
    a = interpolate(nodes_a, (0, 9, 0, tile_px - 1), tile_px)
    b = interpolate(nodes_b, (0, 9, 0, tile_px - 1), tile_px)
    expected = 0.001 * (np.arange(tile_px) + 0.5)
    assert np.allclose(a[3], expected, atol=1e-5)
    assert np.allclose(b[3], expected + 0.001 * tile_px, atol=1e-4)
    # the step across the tile edge equals one pixel's slope: no jump
    assert abs((b[3, 0] - a[3, -1]) - 0.001) < 1e-4


def test_fields_recover_reflectance_over_relief(relief):
    assert_bands_within_limits(relief["fields"]["bands"])


def test_fields_beat_one_state_per_tile_in_b8_b9(relief):
    f, s = relief["fields"]["bands"], relief["single"]["bands"]
    for column in ("b08", "b09"):
        assert f[column]["rmse"] < 0.5 * s[column]["rmse"], (column, f[column], s[column])
