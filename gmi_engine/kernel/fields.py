"""Coefficient fields: 6S xa/xb/xc on a coarse node grid over a tile, bilinear to pixels.

A source row's ``ac`` may carry ``ac["field"]`` besides the tile's scalar coefficients:

``{"format": "gmi-acfield/1", "nodes": n, "data": <base64 of a kernel blob>}``

The blob (:func:`gmi_engine.kernel.blob.encode`, zlib) holds a float32 array of shape
``(3 * 9, n, n)``: xa of bands b01..b09, then xb, then xc, each on ``n x n`` nodes. Node ``i``
sits at tile pixel coordinate ``i * tile_px / (n - 1)`` (nodes on the tile's edges and corners),
so two neighbouring tiles evaluate their shared edge from the same places and the field has no
step there. Rows without a field use the scalar coefficients (older rows). Python 3.7, numpy.
"""
import base64
from typing import Any, Mapping, Optional

import numpy as np

from gmi_engine.kernel import blob
from gmi_engine.kernel.bands import BAND_COLUMNS
from gmi_engine.kernel.errors import GmiInputError, SchemaError

FIELD_FORMAT = "gmi-acfield/1"
COEFFICIENTS = ("xa", "xb", "xc")


def encode_field(values: np.ndarray) -> dict:
    """The ``ac["field"]`` dict of a ``(3, 9, n, n)`` array (xa, xb, xc per band on n x n nodes)."""
    array = np.asarray(values, dtype=np.float32)
    if array.ndim != 4 or array.shape[:2] != (len(COEFFICIENTS), len(BAND_COLUMNS)) \
            or array.shape[2] != array.shape[3] or array.shape[2] < 2:
        raise SchemaError("ac.field: shape {} is not (3, 9, n, n) with n >= 2".format(array.shape))
    if not np.all(np.isfinite(array)):
        raise SchemaError("ac.field: non-finite coefficient")
    n = int(array.shape[2])
    data = blob.encode(np.ascontiguousarray(array.reshape(-1, n)), compress=True)
    return {"format": FIELD_FORMAT, "nodes": n, "data": base64.b64encode(data).decode("ascii")}


def decode_field(ac: Optional[Mapping[str, Any]]) -> Optional[np.ndarray]:
    """The ``(3, 9, n, n)`` float32 field of a row's ``ac``, or None when it has none."""
    entry = (ac or {}).get("field")
    if entry is None:
        return None
    if not isinstance(entry, Mapping) or entry.get("format") != FIELD_FORMAT:
        raise SchemaError("ac.field: format {!r} is not {!r}".format(
            getattr(entry, "get", lambda _k: entry)("format"), FIELD_FORMAT))
    n = entry.get("nodes")
    try:
        array = blob.decode(base64.b64decode(entry["data"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise SchemaError("ac.field.data: not a base64 kernel blob ({})".format(exc)) from None
    shape = (len(COEFFICIENTS) * len(BAND_COLUMNS) * int(n or 0), int(n or 0))
    if array.dtype != np.float32 or array.shape != shape:
        raise SchemaError("ac.field.data: {} {}, expected float32 {}".format(array.dtype, array.shape, shape))
    return array.reshape(len(COEFFICIENTS), len(BAND_COLUMNS), shape[1], shape[1])


def _axis(start: int, stop: int, n: int, tile_px: int) -> tuple:
    """Lower node index and weight of pixel centres ``start..stop`` (inclusive) on ``n`` nodes."""
    pos = (np.arange(start, stop + 1, dtype=np.float64) + 0.5) * ((n - 1) / float(tile_px))
    lower = np.minimum(np.floor(pos).astype(np.intp), n - 2)
    return lower, (pos - lower).astype(np.float32)


#: Pixels per strip of :func:`surface_reflectance_field` (about 256 KiB of float32 per coefficient,
#: so a strip's coefficients, radiance and result stay in the CPU cache).
STRIP_PIXELS = 65536


class FieldPlan(object):
    """Where the pixel centres of a bbox sit on an ``n x n`` node grid, computed once per row and
    shared by every coefficient plane of every band.

    ``columns``: lower node column and weight per pixel column; ``strips``: ``(node_row, first,
    stop, weight)`` row ranges (bbox-relative, ``stop`` exclusive) that lie between node rows
    ``node_row`` and ``node_row + 1``, with the row weights as a ``(rows, 1)`` float32 column."""

    def __init__(self, bbox: tuple, n: int, tile_px: int, strip_pixels: int = STRIP_PIXELS) -> None:
        r0, r1, c0, c1 = (int(v) for v in bbox)
        self.shape = (r1 - r0 + 1, c1 - c0 + 1)
        self.nodes = int(n)
        self.columns = _axis(c0, c1, n, tile_px)
        lower, weight = _axis(r0, r1, n, tile_px)
        step = max(1, int(strip_pixels) // self.shape[1])
        cuts = np.flatnonzero(np.diff(lower)) + 1
        strips = []
        for first, stop in zip(np.r_[0, cuts], np.r_[cuts, lower.size]):
            for a in range(int(first), int(stop), step):
                b = min(a + step, int(stop))
                strips.append((int(lower[a]), a, b, weight[a:b, None]))
        self.strips = strips
        self.strip_rows = max(b - a for _, a, b, _ in strips)
        self._buffers = None  # type: Optional[tuple]

    def buffers(self) -> tuple:
        """Scratch of :func:`surface_reflectance_field`, made once per plan and reused by every
        band: xa/xb/xc (3, strip_rows, cols) float32, radiance (strip_rows, cols) float32 and the
        denominator test (strip_rows, cols) bool."""
        if self._buffers is None:
            size = (self.strip_rows, self.shape[1])
            self._buffers = (np.empty((3,) + size, dtype=np.float32), np.empty(size, dtype=np.float32),
                             np.empty(size, dtype=bool))
        return self._buffers


def node_rows(nodes: np.ndarray, plan: FieldPlan) -> tuple:
    """The node rows of ``nodes`` (..., n, n) interpolated along x to the plan's pixel columns,
    and their differences between consecutive node rows: ``(rows (..., n, cols), steps
    (..., n - 1, cols))``, float32."""
    grid = np.asarray(nodes, dtype=np.float32)
    lower, weight = plan.columns
    rows = grid[..., lower] * (np.float32(1.0) - weight)
    rows += grid[..., lower + 1] * weight
    rows = np.ascontiguousarray(rows)  # indexing the last axis leaves it strided: slow broadcasts
    return rows, rows[..., 1:, :] - rows[..., :-1, :]


def interpolate(nodes: np.ndarray, bbox: tuple, tile_px: int, plan: Optional[FieldPlan] = None,
                out: Optional[np.ndarray] = None) -> np.ndarray:
    """Bilinear values (float32) at the pixel centres of ``bbox`` (r0, r1, c0, c1, inclusive)
    of an ``n x n`` node grid spanning the tile (``plan``: a :class:`FieldPlan` of the bbox;
    ``out``: a float32 array of the bbox's shape to write into).

    Separable: linear along x on the node rows (:func:`node_rows`), then along y per strip
    between two node rows, as :func:`surface_reflectance_field` evaluates the coefficients."""
    grid = np.asarray(nodes, dtype=np.float32)
    plan = plan if plan is not None else FieldPlan(bbox, grid.shape[0], tile_px)
    out = np.empty(plan.shape, dtype=np.float32) if out is None else out
    rows, steps = node_rows(grid, plan)
    for i, a, b, weight in plan.strips:
        np.multiply(weight, steps[i], out=out[a:b])
        out[a:b] += rows[i]
    return out


#: The formula's smallest allowed denominator (:func:`gmi_engine.kernel.radiometry.surface_reflectance`).
DENOMINATOR_MIN = 1e-6


def denominator_safe(nodes: np.ndarray) -> bool:
    """True when ``1 + xc * (xa * L - xb)`` cannot reach :data:`DENOMINATOR_MIN` at any pixel for
    any radiance ``L >= 0``: bilinear values lie within their nodes' range, so xa >= 0 and
    xc >= 0 at the nodes give ``y >= -xb`` and a denominator ``>= 1 - max(xc) * max(xb, 0)``,
    required here to be >= 0.5 (far above float32 rounding). ``nodes``: (3, n, n) xa, xb, xc."""
    xa, xb, xc = (np.asarray(v, dtype=np.float64) for v in nodes)
    return bool(xa.min() >= 0.0 and xc.min() >= 0.0 and xc.max() * max(float(xb.max()), 0.0) <= 0.5)


def surface_reflectance_field(dn: np.ndarray, table: np.ndarray, nodes: np.ndarray, plan: FieldPlan,
                              out: np.ndarray) -> np.ndarray:
    """Surface reflectance of one band with its coefficient field, written into ``out``.

    ``dn``: uint8 DN of the bbox, radiance ``table[dn]`` (``table``: 256 float32 values, see
    :func:`gmi_engine.kernel.radiometry.radiance_table`); ``nodes``: (3, n, n) xa, xb, xc of the
    band; ``out``: the bbox's shape (may be a view into a larger array). The formula and its NaN
    rules are those of :func:`gmi_engine.kernel.radiometry.surface_reflectance` (``y = xa * L - xb``,
    ``rho = y / (1 + xc * y)``, NaN where the denominator is <= 1e-6 or L is NaN), evaluated
    strip by strip (radiance lookup, coefficients interpolated as :func:`interpolate` does,
    formula) so everything stays in the CPU cache and no full-size array is made. The per-pixel
    denominator test is skipped when the table has no negative radiance and the nodes are
    :func:`denominator_safe`: then no pixel can fail it."""
    rows, steps = node_rows(nodes, plan)
    rows, steps = rows[:, :, None, :], steps[:, :, None, :]  # (3, n, 1, cols): broadcast over rows
    lut = np.asarray(table, dtype=np.float32)
    if lut.shape != (256,) or np.asarray(dn).dtype != np.uint8:
        raise GmiInputError("radiance table {} / dn {}: expected 256 values and uint8 DN".format(
            lut.shape, np.asarray(dn).dtype))
    buf, radiance, bad = plan.buffers()
    check = bool(np.any(lut < 0)) or not denominator_safe(nodes)
    one, tiny, nan = np.float32(1.0), np.float32(DENOMINATOR_MIN), np.float32(np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i, a, b, weight in plan.strips:
            coeffs, rad = buf[:, :b - a], radiance[:b - a]
            np.take(lut, dn[a:b], out=rad, mode="clip")  # uint8: always in range
            np.multiply(weight, steps[:, i], out=coeffs)
            coeffs += rows[:, i]
            y, xb, denom = coeffs
            y *= rad
            y -= xb
            denom *= y
            denom += one
            np.divide(y, denom, out=out[a:b])
            if check:
                np.less_equal(denom, tiny, out=bad[:b - a])
                np.copyto(out[a:b], nan, where=bad[:b - a])
    return out
