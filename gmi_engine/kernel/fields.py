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
from gmi_engine.kernel.errors import SchemaError

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


def bilinear_weights(bbox: tuple, n: int, tile_px: int) -> tuple:
    """Weights of :func:`interpolate` for the pixel centres of ``bbox`` on ``n`` nodes: (lower
    row node, row weight, column weight matrix ``(n, columns)``); computed once per row, shared
    by every coefficient plane."""
    r0, r1, c0, c1 = (int(v) for v in bbox)
    ri, rw = _axis(r0, r1, n, tile_px)
    ci, cw = _axis(c0, c1, n, tile_px)
    columns = np.arange(c1 - c0 + 1)
    wc = np.zeros((n, columns.size), dtype=np.float32)
    wc[ci, columns] = np.float32(1.0) - cw
    wc[ci + 1, columns] += cw
    return ri, rw, wc


def interpolate(nodes: np.ndarray, bbox: tuple, tile_px: int, weights: Optional[tuple] = None,
                out: Optional[np.ndarray] = None) -> np.ndarray:
    """Bilinear values (float32) at the pixel centres of ``bbox`` (r0, r1, c0, c1, inclusive)
    of an ``n x n`` node grid spanning the tile (``weights`` from :func:`bilinear_weights`;
    ``out``: a C-contiguous float32 array of the bbox's shape to write into, reused by callers).

    Linear in rows on the node columns, then one matrix product with the column weights (each
    pixel column has two non-zero weights): about 3x less CPU than gathering both neighbours."""
    grid = np.asarray(nodes, dtype=np.float32)
    ri, rw, wc = weights if weights is not None else bilinear_weights(bbox, grid.shape[0], tile_px)
    rows = grid[ri] * (np.float32(1.0) - rw)[:, None] + grid[ri + 1] * rw[:, None]
    if out is None:
        return np.dot(rows, wc)
    return np.dot(rows, wc, out=out)


def interpolate_stack(nodes: np.ndarray, weights: tuple, out: Optional[np.ndarray] = None) -> np.ndarray:
    """:func:`interpolate` of ``m`` node grids at once (``nodes`` (m, n, n) -> (m, rows, cols)),
    one matrix product for all of them; ``out`` as in :func:`interpolate`, shape (m, rows, cols)."""
    grid = np.asarray(nodes, dtype=np.float32)
    ri, rw, wc = weights
    rows = grid[:, ri] * (np.float32(1.0) - rw)[None, :, None] + grid[:, ri + 1] * rw[None, :, None]
    flat = rows.reshape(-1, grid.shape[2])
    if out is None:
        return np.dot(flat, wc).reshape(grid.shape[0], ri.size, wc.shape[1])
    np.dot(flat, wc, out=out.reshape(-1, wc.shape[1]))
    return out
