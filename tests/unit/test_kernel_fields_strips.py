"""The strip-wise field reflectance (kernel/fields.py) against an independent float64 evaluation.

The reference here interpolates the nodes bilinearly in float64 from the node convention of the
module docstring (node i at tile pixel i * tile_px / (n - 1), pixel centres at +0.5) and applies
``rho = y / (1 + xc * y)``, ``y = xa * L - xb`` in float64; the kernel works in float32 strips.
"""
from __future__ import annotations

import numpy as np
import pytest

from gmi_engine.kernel.errors import GmiInputError
from gmi_engine.kernel.fields import FieldPlan, denominator_safe, interpolate, surface_reflectance_field
from gmi_engine.kernel.radiometry import dn_to_radiance, radiance_table, surface_reflectance

TILE_PX, NODES = 1024, 17
#: The bound the issue sets for a change of float rounding: 1e-6 reflectance.
REFLECTANCE_TOL = 1e-6


def _bilinear64(nodes: np.ndarray, bbox: tuple) -> np.ndarray:
    """Float64 bilinear value at the pixel centres of ``bbox``, written out per corner."""
    r0, r1, c0, c1 = bbox
    n = nodes.shape[-1]
    scale = (n - 1) / TILE_PX
    py = (np.arange(r0, r1 + 1) + 0.5) * scale
    px = (np.arange(c0, c1 + 1) + 0.5) * scale
    iy = np.minimum(np.floor(py).astype(int), n - 2)
    ix = np.minimum(np.floor(px).astype(int), n - 2)
    ty, tx = (py - iy)[:, None], (px - ix)[None, :]
    g = nodes.astype(np.float64)
    return ((1 - ty) * (1 - tx) * g[..., iy[:, None], ix[None, :]]
            + (1 - ty) * tx * g[..., iy[:, None], ix[None, :] + 1]
            + ty * (1 - tx) * g[..., iy[:, None] + 1, ix[None, :]]
            + ty * tx * g[..., iy[:, None] + 1, ix[None, :] + 1])


def _field(rng: np.random.Generator) -> np.ndarray:
    """(3, n, n) xa, xb, xc of a plausible band (6S magnitudes, 20 % spatial variation)."""
    base = np.array([0.0025, 0.12, 0.16])[:, None, None]
    return (base * (0.9 + 0.2 * rng.random((3, NODES, NODES)))).astype(np.float32)


@pytest.mark.parametrize("bbox", [(0, 1023, 0, 1023), (813, 1023, 326, 832), (5, 70, 1000, 1023)])
@pytest.mark.parametrize("strip_pixels", [1000, 65536])
def test_strip_reflectance_matches_float64_bilinear(bbox, strip_pixels):
    rng = np.random.default_rng(7)
    nodes = _field(rng)
    shape = (bbox[1] - bbox[0] + 1, bbox[3] - bbox[2] + 1)
    dn = rng.integers(0, 256, shape, dtype=np.uint8)
    radiance = dn_to_radiance(dn, 0.676)
    plan = FieldPlan(bbox, NODES, TILE_PX, strip_pixels)
    out = np.full(shape, -1.0, dtype=np.float32)
    surface_reflectance_field(dn, radiance_table(0.676), nodes, plan, out)
    xa, xb, xc = _bilinear64(nodes, bbox)
    y = xa * radiance.astype(np.float64) - xb
    expected = y / (1.0 + xc * y)
    assert np.array_equal(np.isnan(out), np.isnan(expected))  # NaN exactly where L is NaN
    assert np.nanmax(np.abs(out - expected)) <= REFLECTANCE_TOL
    assert np.max(np.abs(interpolate(nodes[0], bbox, TILE_PX) - xa)) <= 1e-9


def test_constant_field_equals_the_scalar_path():
    rng = np.random.default_rng(3)
    dn = rng.integers(0, 256, (300, 400), dtype=np.uint8)
    coeffs = np.float32([0.0031, 0.09, 0.21])
    nodes = np.broadcast_to(coeffs[:, None, None], (3, NODES, NODES))
    bbox = (100, 399, 200, 599)
    out = np.empty((300, 400), dtype=np.float32)
    surface_reflectance_field(dn, radiance_table(0.5), nodes, FieldPlan(bbox, NODES, TILE_PX), out)
    scalar = surface_reflectance(dn_to_radiance(dn, 0.5), *coeffs)
    assert np.array_equal(np.isnan(out), np.isnan(scalar))
    assert np.nanmax(np.abs(out - scalar)) <= REFLECTANCE_TOL


def _table(values: dict) -> np.ndarray:
    table = np.full(256, np.nan, dtype=np.float32)
    for dn, value in values.items():
        table[dn] = value
    return table


def test_small_denominator_is_nan_as_in_the_scalar_formula():
    # xc * xb > 1: at L = 0 the denominator 1 - xc * xb is negative -> NaN, never a number
    nodes = np.broadcast_to(np.float32([0.001, 2.0, 0.8])[:, None, None], (3, NODES, NODES))
    assert not denominator_safe(nodes)
    table = _table({1: 0.0, 2: 2000.0})
    dn = np.array([[1, 1, 2, 0]] * 3, dtype=np.uint8)
    out = np.empty(dn.shape, dtype=np.float32)
    surface_reflectance_field(dn, table, nodes, FieldPlan((0, 2, 0, 3), NODES, TILE_PX), out)
    scalar = surface_reflectance(table[dn], 0.001, 2.0, 0.8)
    assert np.isnan(out[:, :2]).all() and np.isnan(out[:, 3]).all() and np.isfinite(out[:, 2]).all()
    assert np.array_equal(np.isnan(out), np.isnan(scalar))
    # safe nodes, but a negative radiance in the table: the per-pixel test still runs
    safe = np.broadcast_to(np.float32([0.002, 0.1, 0.2])[:, None, None], (3, NODES, NODES))
    assert denominator_safe(safe)
    negative = _table({7: -3000.0})  # y = -6.1, 1 + 0.2 y < 0
    dn7 = np.full((3, 4), 7, dtype=np.uint8)
    surface_reflectance_field(dn7, negative, safe, FieldPlan((0, 2, 0, 3), NODES, TILE_PX), out)
    assert np.isnan(out).all() and np.isnan(surface_reflectance(negative[dn7], 0.002, 0.1, 0.2)).all()


def test_bad_table_or_dn_dtype_is_an_input_error():
    plan = FieldPlan((0, 2, 0, 3), NODES, TILE_PX)
    nodes = np.ones((3, NODES, NODES), dtype=np.float32)
    with pytest.raises(GmiInputError):
        surface_reflectance_field(np.zeros((3, 4), np.uint8), np.zeros(255, np.float32), nodes, plan,
                                  np.empty((3, 4), np.float32))
    with pytest.raises(GmiInputError):
        surface_reflectance_field(np.zeros((3, 4), np.int16), radiance_table(1.0), nodes, plan,
                                  np.empty((3, 4), np.float32))
