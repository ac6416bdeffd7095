"""Combine the granules of one tile into one 9-band surface-reflectance image.

Input: one ``(9, H, W)`` float32 reflectance array per granule (NaN = no data) and one info dict
per granule with ``granule_id``, ``acquired`` (ISO text), ``cloud_cover`` (0..100 or None) and
``swir_usable`` (bool; when absent it is derived from ``acquired`` < 2008-04-01).

Output: ``(mosaic, provenance, meta)`` -- the ``(9, H, W)`` float32 mosaic (NaN = no data), an
``(2, H, W)`` int16 provenance band (plane 0 = the granule that gave B1-B3N, plane 1 = the one
that gave B4-B9; values are indices into the input sequence, :data:`NO_DATA` (-1) where no granule
contributes and :data:`SEVERAL` (-2) where the median of several granules was taken) and a
JSON-able ``meta`` dict. The VNIR and SWIR band groups are each taken whole from one granule, so
band ratios inside a group never mix acquisitions.

Masks per granule (:mod:`.masks`): the VNIR group is usable where B1, B2, B3N are all finite,
the SWIR group where B4..B9 are all finite and the granule's SWIR is healthy, both after eroding
the granule border by ``erode_pixels``; cloud pixels are not used (unless ``cloud_fallback``).

Strategies (``strategy``):

``best-pixel`` (default)
    VNIR: per pixel, among granules with usable VNIR, prefer (1) not cloudy, (2) SWIR usable at
    the pixel too (so all nine bands come from one acquisition), then (3) the granule order.
    SWIR: among granules with usable SWIR prefer (1) not cloudy, (2) the granule that gave the
    pixel's VNIR, then (3) the granule order. Granule order: larger clear coverage of the tile
    (whole percent), then lower scene ``cloud_cover`` (None ranks as 100), then nearer to
    ``target_date`` when given, else more recent, then input position. Gaps in the best granule
    are thus filled from the next best.
``first-valid``
    The first granule in acquisition order whose group is usable and clear at the pixel.
``median``
    Per band, the median over the granules whose group is usable and clear at the pixel
    (mean of the two middle values for an even count); provenance is the granule when only
    one contributes, else -2.
"""
from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .bands import SWIR_CUTOFF
from .errors import GmiInputError
from .masks import SWIR, VNIR, GranuleMasks, check_reflectance, granule_masks, mask_params

STRATEGIES = ("best-pixel", "first-valid", "median")
NO_DATA = -1
SEVERAL = -2
#: Mosaic parameters beyond the mask thresholds of :data:`.masks.MASK_DEFAULTS`.
MOSAIC_DEFAULTS = {"cloud_fallback": False, "target_date": None}  # type: Dict[str, Any]
_SORT_NETWORK_MAX = 8


def parse_time(value: Any, field: str) -> _dt.datetime:
    """A naive UTC datetime from ISO text (``Z`` or ``+hh:mm`` suffix allowed) or a date/datetime."""
    if isinstance(value, _dt.datetime):
        when = value
    elif isinstance(value, _dt.date):
        when = _dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "T")
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            when = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise GmiInputError("{}: {!r} is not an ISO date/time".format(field, value))
    else:
        raise GmiInputError("{}: {!r} is not an ISO date/time".format(field, value))
    if when.tzinfo is not None:
        when = (when - when.utcoffset()).replace(tzinfo=None)
    return when


class _Granule(object):
    """Checked info of one input granule."""

    def __init__(self, index: int, info: Mapping[str, Any]):
        where = "infos[{}]".format(index)
        if not isinstance(info, Mapping):
            raise GmiInputError("{}: expected a dict, got {!r}".format(where, type(info).__name__))
        self.index = index
        if "granule_id" not in info:
            raise GmiInputError("{}.granule_id: missing".format(where))
        self.granule_id = str(info["granule_id"])
        where = "granule {} ({})".format(index, self.granule_id)
        if info.get("acquired") is None:
            raise GmiInputError("{}: field 'acquired' is missing".format(where))
        self.acquired = parse_time(info["acquired"], where + " acquired")
        cc = info.get("cloud_cover")
        if cc is not None:
            if isinstance(cc, bool) or not isinstance(cc, (int, float, np.number)) \
                    or not (0.0 <= float(cc) <= 100.0):
                raise GmiInputError("{}: cloud_cover {!r} is not a percentage 0..100".format(
                    where, cc))
            cc = float(cc)
        self.cloud_cover = cc  # type: Optional[float]
        usable = info.get("swir_usable")
        if usable is None:
            usable = self.acquired.date() < SWIR_CUTOFF
        elif not isinstance(usable, (bool, np.bool_)):
            raise GmiInputError("{}: swir_usable {!r} is not true/false".format(where, usable))
        self.swir_usable = bool(usable)


def mosaic(stack: Sequence[np.ndarray], infos: Sequence[Mapping[str, Any]],
           strategy: str = "best-pixel", params: Optional[Mapping[str, Any]] = None
           ) -> Tuple[np.ndarray, np.ndarray, Dict[str, Any]]:
    """Mosaic of the granules of one tile: ``(mosaic, provenance (2, H, W) int16, meta)``."""
    if strategy not in STRATEGIES:
        raise GmiInputError("strategy: {!r} is not one of {}".format(strategy, STRATEGIES))
    arrays = [_checked_array(a, i) for i, a in enumerate(stack)]
    if len(infos) != len(arrays):
        raise GmiInputError("infos: {} entries for {} granule arrays".format(len(infos), len(arrays)))
    if not arrays:
        raise GmiInputError("stack: no granule to mosaic")
    shape = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != shape:
            raise GmiInputError("stack[{}]: shape {} differs from stack[0] {}".format(i, a.shape, shape))
    granules = [_Granule(i, info) for i, info in enumerate(infos)]
    p = _params(params)
    masks = [granule_masks(a, g.swir_usable, p, bt13=info.get("bt13")) for a, g, info in zip(arrays, granules, infos)]
    clear_cover = [float(np.count_nonzero(m.vnir & ~m.cloud)) / m.vnir.size for m in masks]
    order = _granule_order(granules, clear_cover, p["target_date"], strategy)
    out = np.full(shape, np.nan, dtype=np.float32)
    if strategy == "median":
        prov = _median(arrays, masks, p["cloud_fallback"], out)
    else:
        prov = _best(arrays, masks, order, p["cloud_fallback"], strategy == "best-pixel", out)
    meta = _meta(granules, masks, clear_cover, order, prov, strategy, p)
    return out, prov, meta


def _checked_array(a: np.ndarray, i: int) -> np.ndarray:
    arr = check_reflectance(a, "stack[{}]".format(i))
    if arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    return arr


def _params(params: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    p = mask_params(params)
    given = params or {}
    fallback = given.get("cloud_fallback", MOSAIC_DEFAULTS["cloud_fallback"])
    if not isinstance(fallback, (bool, np.bool_)):
        raise GmiInputError("params.cloud_fallback: {!r} is not true/false".format(fallback))
    p["cloud_fallback"] = bool(fallback)
    target = given.get("target_date")
    p["target_date"] = None if target is None else parse_time(target, "params.target_date")
    return p


def _granule_order(granules: List[_Granule], clear_cover: List[float],
                   target: Optional[_dt.datetime], strategy: str) -> List[int]:
    """Granule indices, best first, per the strategy's documented rule."""
    if strategy != "best-pixel":
        return sorted(range(len(granules)), key=lambda i: (granules[i].acquired, i))

    def key(i: int) -> Tuple[float, float, float, int]:
        g = granules[i]
        cc = 100.0 if g.cloud_cover is None else g.cloud_cover
        if target is not None:
            when = abs((g.acquired - target).total_seconds())
        else:
            when = -(g.acquired - _dt.datetime(1970, 1, 1)).total_seconds()
        return (-math.floor(clear_cover[i] * 100.0 + 1e-9), cc, when, i)

    return sorted(range(len(granules)), key=key)


def _best(arrays: List[np.ndarray], masks: List[GranuleMasks], order: List[int],
          fallback: bool, prefer_complete: bool, out: np.ndarray) -> np.ndarray:
    """Per-pixel selection for best-pixel / first-valid; fills ``out``, returns provenance."""
    n = len(arrays)
    priority = {g: n - 1 - pos for pos, g in enumerate(order)}
    vnir_prov = _select([m.vnir for m in masks], masks, priority, fallback,
                        [m.swir if prefer_complete else None for m in masks])
    same = [(vnir_prov == g) if prefer_complete else None for g in range(n)]
    swir_prov = _select([m.swir for m in masks], masks, priority, fallback, same)
    for g, a in enumerate(arrays):
        for prov, bands in ((vnir_prov, VNIR), (swir_prov, SWIR)):
            take = prov == g
            for b in bands:
                np.copyto(out[b], a[b], where=take)
    return np.stack([vnir_prov, swir_prov])


def _select(usable: List[np.ndarray], masks: List[GranuleMasks], priority: Dict[int, int],
            fallback: bool, bonus: List[Optional[np.ndarray]]) -> np.ndarray:
    """Index of the highest-scoring usable granule per pixel (-1 where none).

    Score = priority + n * bonus + 2n * clear, so clear beats bonus beats granule order.
    """
    n = len(usable)
    shape = usable[0].shape
    best = np.full(shape, -1, dtype=np.int32)
    prov = np.full(shape, NO_DATA, dtype=np.int16)
    for g in range(n):
        clear = ~masks[g].cloud
        candidate = usable[g] if fallback else usable[g] & clear
        score = clear.astype(np.int32)
        score *= 2 * n
        if bonus[g] is not None:
            score += bonus[g].astype(np.int32) * n
        score += priority[g]
        score[~candidate] = -1
        better = score > best
        prov[better] = g
        np.maximum(best, score, out=best)
    return prov


def _median(arrays: List[np.ndarray], masks: List[GranuleMasks], fallback: bool,
            out: np.ndarray) -> np.ndarray:
    """Per-band median over the usable, clear granules; fills ``out``, returns provenance."""
    provs = []
    for group, bands in (("vnir", VNIR), ("swir", SWIR)):
        usable = [getattr(m, group) for m in masks]
        cands = [u & ~m.cloud for u, m in zip(usable, masks)]
        if fallback:
            any_clear = np.logical_or.reduce(cands)
            cands = [c | (u & ~any_clear) for c, u in zip(cands, usable)]
        count = np.zeros(usable[0].shape, dtype=np.int16)
        first = np.full(usable[0].shape, NO_DATA, dtype=np.int16)
        for g in reversed(range(len(cands))):
            count += cands[g]
            first[cands[g]] = g
        weights = _median_weights(count, len(cands))
        penalties = [np.where(c, np.float32(0.0), _BIG) for c in cands]
        for b in bands:
            out[b] = _masked_median([a[b] for a in arrays], penalties, weights)
        prov = np.where(count > 1, np.int16(SEVERAL), first).astype(np.int16)
        provs.append(prov)
    return np.stack(provs)


_BIG = np.float32(np.finfo(np.float32).max)


def _median_weights(count: np.ndarray, n: int) -> Tuple[List[np.ndarray], List[np.ndarray], np.ndarray]:
    """0/1 float32 weights picking the lower / upper middle of n sorted values, and a 0/NaN term.

    Picking by multiply-and-add is several times faster than boolean selection on full tiles.
    """
    low = [((count - 1) // 2 == k).astype(np.float32) for k in range(n)]
    high = [(count // 2 == k).astype(np.float32) for k in range(n)]
    empty = np.where(count == 0, np.float32(np.nan), np.float32(0.0)).astype(np.float32)
    return low, high, empty


def _masked_median(values: List[np.ndarray], penalties: List[np.ndarray],
                   weights: Tuple[List[np.ndarray], List[np.ndarray], np.ndarray]) -> np.ndarray:
    """Median of ``values[g]`` where ``penalties[g]`` is 0 (not _BIG); NaN where there is none."""
    rows = []
    for v, pen in zip(values, penalties):  # non-candidates (and NaN) become _BIG and sort last
        row = v + pen
        rows.append(np.fmin(row, _BIG, out=row))
    n = len(rows)
    if n > _SORT_NETWORK_MAX:
        cube = np.stack(rows)
        cube.sort(axis=0)
        rows = list(cube)
    else:
        for rnd in range(n):  # odd-even transposition sort, element-wise
            for j in range(rnd % 2, n - 1, 2):
                lo = np.minimum(rows[j], rows[j + 1])
                np.maximum(rows[j], rows[j + 1], out=rows[j + 1])
                rows[j] = lo
    w_low, w_high, empty = weights
    out = rows[0] * w_low[0]
    tmp = np.empty_like(out)
    for row, w_lo, w_hi in zip(rows, w_low, w_high):
        if w_lo is not w_low[0]:
            out += np.multiply(row, w_lo, out=tmp)
        out += np.multiply(row, w_hi, out=tmp)
    out *= np.float32(0.5)
    out += empty
    return out


def _meta(granules: List[_Granule], masks: List[GranuleMasks], clear_cover: List[float],
          order: List[int], prov: np.ndarray, strategy: str, p: Mapping[str, Any]) -> Dict[str, Any]:
    pixels = prov[0].size
    entries = []
    for g in granules:
        m = masks[g.index]
        vnir_n = int(np.count_nonzero(m.vnir))
        entries.append({
            "index": g.index,
            "granule_id": g.granule_id,
            "acquired": g.acquired.isoformat() + "Z",
            "cloud_cover": g.cloud_cover,
            "swir_usable": g.swir_usable,
            "rank": order.index(g.index),
            "valid_fraction": vnir_n / float(pixels),
            "clear_fraction": clear_cover[g.index],
            "cloud_fraction_of_valid": (int(np.count_nonzero(m.cloud)) / float(vnir_n)) if vnir_n else None,
            "vnir_pixels": int(np.count_nonzero(prov[0] == g.index)),
            "swir_pixels": int(np.count_nonzero(prov[1] == g.index)),
        })
    params = dict(p)
    if params["target_date"] is not None:
        params["target_date"] = params["target_date"].isoformat() + "Z"
    return {
        "strategy": strategy,
        "provenance_planes": ["vnir", "swir"],
        "provenance_codes": {"no_data": NO_DATA, "several": SEVERAL},
        "granules": entries,
        "vnir_valid_fraction": int(np.count_nonzero(prov[0] != NO_DATA)) / float(pixels),
        "swir_valid_fraction": int(np.count_nonzero(prov[1] != NO_DATA)) / float(pixels),
        "params": params,
    }
