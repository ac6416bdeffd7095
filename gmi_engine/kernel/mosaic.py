"""Combine the granules of one tile into one 9-band surface-reflectance image.

Input: one ``(9, H, W)`` float32 reflectance array per granule (NaN = no data) and one info dict
per granule with ``granule_id``, ``acquired`` (ISO text), ``cloud_cover`` (0..100 or None) and
``swir_usable`` (bool; when absent it is derived from ``acquired`` < 2008-04-01).

Output: ``(mosaic, provenance, meta)`` -- the ``(9, H, W)`` float32 mosaic (NaN = no data), an
``(2, H, W)`` int16 provenance band (plane 0 = the granule that gave B1-B3N, plane 1 = the one
that gave B4-B9; values are indices into the input sequence, :data:`NO_DATA` (-1) where no granule
contributes) and a JSON-able ``meta`` dict. Every strategy takes the VNIR and the SWIR band group
of a pixel each whole from one granule, so band ratios inside a group never mix acquisitions.
Where the two groups of a pixel come from different granules (``mixed provenance``), indices
that read both a VNIR and a SWIR band are NaN in the pipeline unless the parameter
``allow_mixed_provenance`` is true (:mod:`.pipeline`).

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
    The per-pixel medoid: among the granules usable and clear at the pixel, the one whose
    spectrum has the least sum of L1 distances (reflectance) to the other candidates' spectra.
    Where at least one granule has both groups usable, the medoid of those over B1..B9 gives
    all nine bands; elsewhere each group is the medoid of its own candidates over its bands.
    Equal sums (always so with two candidates) go to the granule first in the best-pixel
    granule order. No value is ever averaged across acquisitions.
"""
from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .bands import SWIR_CUTOFF
from .errors import GmiInputError
from .masks import (
    SWIR,
    VNIR,
    GranuleMasks,
    block_scratch,
    check_reflectance,
    granule_masks,
    mask_params,
    row_blocks,
)

STRATEGIES = ("best-pixel", "first-valid", "median")
NO_DATA = -1  # _select_single relies on this value
#: Mosaic parameters beyond the mask thresholds of :data:`.masks.MASK_DEFAULTS`.
MOSAIC_DEFAULTS = {"cloud_fallback": False, "target_date": None,
                   "allow_mixed_provenance": False}  # type: Dict[str, Any]


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
           strategy: str = "best-pixel", params: Optional[Mapping[str, Any]] = None,
           reuse_stack: bool = False) -> Tuple[np.ndarray, np.ndarray, Dict[str, Any]]:
    """Mosaic of the granules of one tile: ``(mosaic, provenance (2, H, W) int16, meta)``.

    ``reuse_stack``: the caller no longer uses the stack's arrays, so the mosaic may be written
    into one of them (the one that gives most pixels) instead of a new array.
    """
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
    # clear = vnir and not cloud; granule_masks keeps the cloud inside vnir, so it is a difference
    clear_cover = [float(np.count_nonzero(m.vnir) - np.count_nonzero(m.cloud)) / m.vnir.size for m in masks]
    order = _granule_order(granules, clear_cover, p["target_date"], strategy)
    if strategy == "median":
        prov = _median(arrays, masks, order, p["cloud_fallback"])
    else:
        prov = _best(masks, order, p["cloud_fallback"], strategy == "best-pixel")
    counts = [[int(np.count_nonzero(plane == g)) for plane in prov] for g in range(len(arrays))]
    base = max(range(len(arrays)), key=lambda g: (sum(counts[g]), -g))
    out = arrays[base] if reuse_stack and _own_array(stack, arrays, base) else np.empty(shape, dtype=np.float32)
    _fill(arrays, prov, base, out)
    meta = _meta(granules, masks, clear_cover, order, prov, counts, strategy, p)
    return out, prov, meta


def _own_array(stack: Sequence[np.ndarray], arrays: List[np.ndarray], g: int) -> bool:
    """True when granule ``g``'s checked array is the caller's own, writable and shares no memory
    with another granule's (so writing the mosaic into it changes no pixel still to be read)."""
    mine = arrays[g]
    return mine is stack[g] and mine.flags.writeable and not any(
        np.may_share_memory(mine, a) for h, a in enumerate(arrays) if h != g)


def _checked_array(a: np.ndarray, i: int) -> np.ndarray:
    arr = check_reflectance(a, "stack[{}]".format(i))
    if arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    return arr


def _params(params: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    p = mask_params(params)
    given = params or {}
    for key in ("cloud_fallback", "allow_mixed_provenance"):
        value = given.get(key, MOSAIC_DEFAULTS[key])
        if not isinstance(value, (bool, np.bool_)):
            raise GmiInputError("params.{}: {!r} is not true/false".format(key, value))
        p[key] = bool(value)
    target = given.get("target_date")
    p["target_date"] = None if target is None else parse_time(target, "params.target_date")
    return p


def _granule_order(granules: List[_Granule], clear_cover: List[float],
                   target: Optional[_dt.datetime], strategy: str) -> List[int]:
    """Granule indices, best first, per the strategy's documented rule (median: the best-pixel order)."""
    if strategy == "first-valid":
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


def _best(masks: List[GranuleMasks], order: List[int], fallback: bool,
          prefer_complete: bool) -> np.ndarray:
    """Per-pixel selection for best-pixel / first-valid: the provenance ``(2, H, W)`` int16."""
    n = len(masks)
    priority = {g: n - 1 - pos for pos, g in enumerate(order)}
    prov = np.empty((2,) + masks[0].vnir.shape, dtype=np.int16)
    _select([m.vnir for m in masks], masks, priority, fallback,
            [m.swir if prefer_complete else None for m in masks], prov[0])
    same = [(prov[0] == g) if prefer_complete and n > 1 else None for g in range(n)]
    _select([m.swir for m in masks], masks, priority, fallback, same, prov[1])
    return prov


def _select(usable: List[np.ndarray], masks: List[GranuleMasks], priority: Dict[int, int],
            fallback: bool, bonus: List[Optional[np.ndarray]], out: np.ndarray) -> None:
    """Index of the highest-scoring usable granule per pixel (-1 where none) into ``out`` (int16).

    Score = priority + n * bonus + 2n * clear, so clear beats bonus beats granule order; -1
    where the granule is no candidate (not usable, or cloudy without ``fallback``).
    """
    if len(usable) == 1:
        _select_single(usable[0], masks[0], fallback, out)
    else:
        _select_scored(usable, masks, priority, fallback, bonus, out)


def _select_single(usable: np.ndarray, mask: GranuleMasks, fallback: bool, out: np.ndarray) -> None:
    """:func:`_select` of one granule: it wins exactly where it is a candidate (a candidate's
    score is >= 0 whatever its bonus, a non-candidate's -1), so no score is needed."""
    candidate = usable if fallback else np.greater(usable, mask.cloud)  # bools: usable and not cloud
    np.subtract(candidate, 1, out=out, dtype=out.dtype)  # 0 where a candidate, else -1 = NO_DATA


def _select_scored(usable: List[np.ndarray], masks: List[GranuleMasks], priority: Dict[int, int],
                   fallback: bool, bonus: List[Optional[np.ndarray]], out: np.ndarray) -> None:
    """:func:`_select` by the scores, row block by row block (the scores stay in the CPU cache)."""
    n = len(usable)
    # the largest score is 2n + n + (n - 1): int16 holds it up to n = 8191
    dtype = np.int16 if 4 * n <= np.iinfo(np.int16).max else np.int32
    best, score, part = (block_scratch(out.shape, dtype) for _ in range(3))
    clear, skip = block_scratch(out.shape), block_scratch(out.shape)
    for block in row_blocks(out.shape):
        rows = out[block].shape[0]
        best_b, score_b, part_b, clear_b, skip_b = (a[:rows] for a in (best, score, part, clear, skip))
        best_b.fill(-1)
        out[block] = NO_DATA
        for g in range(n):
            np.logical_not(masks[g].cloud[block], out=clear_b)
            if fallback:
                np.logical_not(usable[g][block], out=skip_b)
            else:
                np.logical_and(usable[g][block], clear_b, out=skip_b)
                np.logical_not(skip_b, out=skip_b)
            np.multiply(clear_b, 2 * n, out=score_b, dtype=dtype)
            if bonus[g] is not None:
                score_b += np.multiply(bonus[g][block], n, out=part_b, dtype=dtype)
            score_b += priority[g]
            np.copyto(score_b, -1, where=skip_b)
            np.copyto(out[block], g, where=np.greater(score_b, best_b, out=clear_b))
            np.maximum(best_b, score_b, out=best_b)


def _fill(arrays: List[np.ndarray], prov: np.ndarray, base: int, out: np.ndarray) -> None:
    """Write the mosaic into ``out`` ``(9, H, W)`` float32: each group's bands from the granule of
    ``prov``, NaN at NO_DATA.

    ``out`` is uninitialised or ``arrays[base]`` itself. Row block by row block (in the CPU
    cache) and without a full-size NaN fill first: each group's bands are those of granule
    ``base`` (copied unless ``out`` is that granule's array), with the pixels of the other
    granules and the NO_DATA pixels (NaN) written over them.
    """
    in_place = out is arrays[base]
    nan = np.float32(np.nan)
    for block in row_blocks(prov.shape[1:]):
        for plane, bands in ((prov[0, block], VNIR), (prov[1, block], SWIR)):
            others = [(g, plane == g) for g in range(len(arrays)) if g != base]
            others = [(g, take) for g, take in others if take.any()]
            no_data = plane == NO_DATA
            missing = int(np.count_nonzero(no_data))
            for b in bands:
                target = out[b, block]
                if missing == plane.size:
                    target.fill(nan)
                    continue
                if not in_place:
                    np.copyto(target, arrays[base][b, block])
                for g, take in others:
                    np.copyto(target, arrays[g][b, block], where=take)
                if missing:
                    np.copyto(target, nan, where=no_data)


def _median(arrays: List[np.ndarray], masks: List[GranuleMasks], order: List[int],
            fallback: bool) -> np.ndarray:
    """Per-pixel medoid of the usable, clear granules (module doc): the provenance ``(2, H, W)`` int16.

    Works in blocks of :data:`MEDOID_BLOCK_PIXELS` pixels, so the temporaries stay small whatever
    the tile size and granule count (about ``3 n + 4`` float32 arrays of one block).
    """
    cands = [_candidates([getattr(m, group) for m in masks], masks, fallback)
             for group in ("vnir", "swir")]
    shape = arrays[0].shape[1:]
    prov = np.full((2,) + shape, NO_DATA, dtype=np.int16)
    rows = max(1, MEDOID_BLOCK_PIXELS // max(1, shape[1]))
    for r0 in range(0, shape[0], rows):
        block = slice(r0, r0 + rows)
        _medoid_block([a[:, block] for a in arrays], [c[block] for c in cands[0]],
                      [c[block] for c in cands[1]], order, prov[:, block])
    return prov


#: Pixels per block of the medoid (a block's temporaries stay in the CPU cache).
MEDOID_BLOCK_PIXELS = 65536


def _candidates(usable: List[np.ndarray], masks: List[GranuleMasks], fallback: bool) -> List[np.ndarray]:
    """Usable and clear, per granule; with ``fallback`` also usable where no granule is clear."""
    cands = [u & ~m.cloud for u, m in zip(usable, masks)]
    if fallback:
        any_clear = np.logical_or.reduce(cands)
        cands = [c | (u & ~any_clear) for c, u in zip(cands, usable)]
    return cands


def _medoid_block(arrays: List[np.ndarray], vnir: List[np.ndarray], swir: List[np.ndarray],
                  order: List[int], prov: np.ndarray) -> None:
    """Medoid provenance of one block of rows into ``prov`` ((2, rows, W) int16, NO_DATA filled).

    Cost of granule g = sum over the other candidates h of the L1 distance between their
    spectra: over B1..B9 among the complete candidates (both groups usable), over one group's
    bands among that group's candidates where no granule is complete.
    """
    n = len(arrays)
    shape = vnir[0].shape
    complete = [v & s for v, s in zip(vnir, swir)]
    some_complete = np.logical_or.reduce(complete)
    split = ~some_complete & (np.logical_or.reduce(vnir) | np.logical_or.reduce(swir))
    need_split = bool(split.any())
    costs = [[np.zeros(shape, dtype=np.float32) for _ in range(n)] for _ in range(3 if need_split else 1)]
    d_vnir = np.empty(shape, dtype=np.float32)
    d_swir = np.empty(shape, dtype=np.float32)
    tmp = np.empty(shape, dtype=np.float32)
    both = np.empty(shape, dtype=bool)
    for i in range(n):
        for j in range(i + 1, n):
            _l1(arrays[i], arrays[j], VNIR, d_vnir, tmp)
            _l1(arrays[i], arrays[j], SWIR, d_swir, tmp)
            pairs = [(complete, np.add(d_vnir, d_swir, out=tmp))]
            if need_split:
                pairs += [(vnir, d_vnir), (swir, d_swir)]
            for k, (cand, dist) in enumerate(pairs):
                np.logical_and(cand[i], cand[j], out=both)
                np.add(costs[k][i], dist, out=costs[k][i], where=both)
                np.add(costs[k][j], dist, out=costs[k][j], where=both)
    joint = _argmin(costs[0], complete, order)
    prov[0] = joint
    prov[1] = joint
    if need_split:
        for plane, k, cand in ((0, 1, vnir), (1, 2, swir)):
            np.copyto(prov[plane], _argmin(costs[k], cand, order), where=split)


def _l1(a: np.ndarray, b: np.ndarray, bands: Sequence[int], out: np.ndarray, tmp: np.ndarray) -> None:
    """``out`` = sum over ``bands`` of ``|a[band] - b[band]|`` (NaN where either is NaN)."""
    for k, band in enumerate(bands):
        target = out if k == 0 else tmp
        np.subtract(a[band], b[band], out=target)
        np.abs(target, out=target)
        if k:
            out += tmp


def _argmin(costs: List[np.ndarray], cands: List[np.ndarray], order: List[int]) -> np.ndarray:
    """Per pixel the candidate of least cost, the first in ``order`` among equal costs; else NO_DATA."""
    best = np.full(cands[0].shape, np.inf, dtype=np.float32)
    pick = np.full(cands[0].shape, NO_DATA, dtype=np.int16)
    better = np.empty(cands[0].shape, dtype=bool)
    for g in order:
        np.less(costs[g], best, out=better)
        better &= cands[g]
        pick[better] = g
        np.copyto(best, costs[g], where=better)
    return pick


def mixed_provenance(provenance: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: both groups have data and come from different granules."""
    vnir, swir = provenance[0], provenance[1]
    return (vnir >= 0) & (swir >= 0) & (vnir != swir)


def _mixed_fraction(prov: np.ndarray, n: int) -> np.float64:
    """Mean of :func:`mixed_provenance`; 0 with one granule, whose two planes never differ
    where both have data."""
    if n == 1 and prov[0].size:
        return np.float64(0.0)
    return mixed_provenance(prov).mean()


def _meta(granules: List[_Granule], masks: List[GranuleMasks], clear_cover: List[float],
          order: List[int], prov: np.ndarray, counts: List[List[int]], strategy: str,
          p: Mapping[str, Any]) -> Dict[str, Any]:
    """The mosaic's meta; ``counts``: per granule its pixels in the two provenance planes."""
    pixels = prov[0].size
    entries = []
    # pixels with data per plane: the provenance is NO_DATA or a granule index
    taken = [sum(c[plane] for c in counts) for plane in (0, 1)]
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
            "vnir_pixels": counts[g.index][0],
            "swir_pixels": counts[g.index][1],
        })
    params = dict(p)
    if params["target_date"] is not None:
        params["target_date"] = params["target_date"].isoformat() + "Z"
    return {
        "strategy": strategy,
        "provenance_planes": ["vnir", "swir"],
        "provenance_codes": {"no_data": NO_DATA},
        "mixed_provenance_fraction": _mixed_fraction(prov, len(granules)),
        "granules": entries,
        "vnir_valid_fraction": taken[0] / float(pixels),
        "swir_valid_fraction": taken[1] / float(pixels),
        "params": params,
    }
