"""The band-13 brightness temperature a source row carries for the thermal cloud test.

``quality["bt13"]`` of a source row (written by ingest, ``gmi_engine/thermal.py``): band-13
brightness temperature sampled on an ``n`` x ``n`` grid over the tile (~90 m cells, ASTER's TIR
pixel), as a base64 kernel blob of uint16 centikelvin (0 = no TIR data). The cloud test itself is
:func:`gmi_engine.kernel.masks.cloud_mask`. Python 3.7 syntax, numpy + stdlib only.
"""
import base64
from typing import Any, Dict, Mapping, Optional

import numpy as np

from gmi_engine.kernel import blob
from gmi_engine.kernel.errors import BlobError, GmiInputError, SchemaError

#: Format tag of the ``quality["bt13"]`` entry and its scale (K per stored unit).
BT13_FORMAT = "gmi-bt13/1"
BT13_SCALE = 0.01


def encode_bt13(bt13: np.ndarray) -> Dict[str, Any]:
    """The ``quality["bt13"]`` entry of an ``(n, n)`` brightness-temperature grid (K, NaN = none)."""
    bt = np.asarray(bt13, dtype=np.float64)
    if bt.ndim != 2 or bt.shape[0] != bt.shape[1]:
        raise GmiInputError("bt13: expected a square (n, n) grid, got shape {}".format(bt.shape))
    cells = np.where(np.isfinite(bt), np.clip(np.round(bt / BT13_SCALE), 1, 65535), 0).astype(np.uint16)
    return {"format": BT13_FORMAT, "n": int(bt.shape[0]), "scale": BT13_SCALE,
            "data": base64.b64encode(blob.encode(cells)).decode("ascii")}


def decode_bt13(quality: Optional[Mapping[str, Any]], tile_px: int) -> Optional[np.ndarray]:
    """BT13 (K, float32) on the ``tile_px`` x ``tile_px`` tile (nearest cell), NaN where unknown;
    None when the row carries no ``quality["bt13"]`` (rows ingested without TIR, or before it)."""
    entry = (quality or {}).get("bt13")
    if entry is None:
        return None
    if not isinstance(entry, Mapping) or entry.get("format") != BT13_FORMAT:
        raise SchemaError("quality.bt13: expected a {} entry, got {!r}".format(
            BT13_FORMAT, entry if not isinstance(entry, Mapping) else entry.get("format")))
    try:
        cells = blob.decode(base64.b64decode(entry["data"]))
    except (KeyError, TypeError, ValueError, BlobError) as exc:
        raise SchemaError("quality.bt13.data: not a base64 kernel blob ({})".format(exc)) from None
    n = int(entry.get("n", cells.shape[0]))
    if cells.shape != (n, n) or cells.dtype != np.uint16:
        raise SchemaError("quality.bt13: expected uint16 ({0}, {0}), got {1} {2}".format(
            n, cells.dtype, cells.shape))
    bt = cells.astype(np.float32) * np.float32(entry.get("scale", BT13_SCALE))
    bt[cells == 0] = np.nan
    index = (np.arange(tile_px) * n) // tile_px
    return bt[index[:, None], index[None, :]]
