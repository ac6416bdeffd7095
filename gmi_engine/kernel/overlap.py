"""Cross-granule ("overlap") relative normalization of a tile's granules, before the mosaic.

MOD09A1 has one band (b07) for ASTER's five SWIR-2 bands, so the per-band balancing of
:mod:`.balance` can correct only their common level: an error in one of B5..B9 alone is invisible
to it. Two granules of the same tile, however, see the same ground at the same 30 m pixels where
their footprints overlap, so each of their bands can be compared directly. This module puts every
granule of the tile on the radiometric scale of one trusted granule (the *anchor*), per band, for
the bands of ``balance_overlap_bands`` (default B5..B9); :func:`.balance.balance` then corrects
what MODIS can see, per granule, as before. Details and measurements: ``docs/kernel.md``.

Method (parameters are the ``balance_*`` keys of :data:`.balance.BALANCE_DEFAULTS`):

1. Aggregate every granule to statistics cells of ``balance_cell_pixels`` (32 px); a cell counts
   only when all its pixels are valid. The SWIR bands (B4..B9) of a granule whose SWIR is not
   usable (``swir_usable`` false, or acquired on/after 2008-04-01) are not used at all.
2. Rank the granules. With a MOD09A1 reference: fit each granule's tile gain ``M ~ g*A`` per
   pairing entry against MODIS alone (:func:`.balance.robust_fit` on the cells of the granule's
   own footprint, at least ``balance_overlap_min_cells`` cells per entry; the SWIR-2 group
   through the balancing method's estimator, :func:`modis_gains`); the score is the
   largest ``|ln g|`` over its entries, and the granule MODIS sees as most right (smallest
   score) ranks first: it is trusted for what MODIS cannot see. Granules without any fitted
   entry rank after the scored ones. Without a usable reference: the granule with the most
   valid pixels (finite in every normalized band) ranks first. Ties: more valid pixels, then
   input position.
3. Per normalized band: the anchor is the best-ranked granule that has the band. Repeatedly take
   the pair (not yet normalized granule ``j``, normalized granule ``k``) with the most cells valid
   (and above ``balance_min_reflectance``) in both; with at least ``balance_overlap_min_cells``
   such cells, fit ``k ~ g*j`` by the robust ratio of sums and scale band ``b`` of granule ``j``
   by ``g`` (one gain per granule and band). ``k`` is the anchor or a granule already
   normalized, so granules that do not overlap the anchor are chained through others. Granules
   with too few overlap cells, or a gain outside ``balance_gain_limits``, keep the band unchanged
   and the reason is reported.

``balance_overlap`` false turns the step off. Limits: it needs two granules that overlap and one
of them radiometrically right (an error that MODIS cannot see in any granule cannot be
attributed), and the anchor is chosen per tile, so neighbouring tiles may trust different
granules.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .balance import (
    SWIR,
    Pair,
    aggregate,
    balance_params,
    cell_size,
    is_swir2_group,
    mask_dark,
    parse_pairing,
    reference_reflectance,
    robust_fit,
    scale_factor,
    swir2_value,
)
from .bands import BANDS, SWIR_CUTOFF
from .errors import GmiInputError
from .mosaic import parse_time


def normalize(stack: Sequence[np.ndarray], reference: Optional[np.ndarray],
              params: Optional[Mapping[str, Any]] = None,
              infos: Optional[Sequence[Mapping[str, Any]]] = None
              ) -> Tuple[List[np.ndarray], Dict[str, Any]]:
    """The granules on the anchor's scale (a new list; changed granules are new arrays) and meta.

    ``stack``: one ``(9, H, W)`` float reflectance array per granule (NaN = no data), indices as
    in the mosaic's provenance. ``reference``: the tile's MOD09A1 (see :func:`.balance.balance`)
    or None. ``infos``: optional per-granule dicts; ``swir_usable`` (or ``acquired``) decides
    whether the granule's SWIR is used, ``granule_id`` is copied to ``meta``.
    """
    p = balance_params(params)
    arrays = _checked_stack(stack)
    usable = _swir_usable(infos, len(arrays))
    bands = p["balance_overlap_bands"]
    meta = {
        "method": "relative gain per granule and band on the overlap",
        "bands": [BANDS[b] for b in bands],
        "min_cells": p["balance_overlap_min_cells"],
        "skipped": False,
        "reason": "",
    }  # type: Dict[str, Any]
    if not p["balance_overlap"]:
        return list(arrays), _skip(meta, "params.balance_overlap is false")
    if len(arrays) < 2:
        return list(arrays), _skip(meta, "fewer than two granules")
    ref = reference_reflectance(reference)
    if ref is not None and not np.isfinite(ref).any():
        ref = None
    shape = arrays[0].shape[1:]
    cell = p["balance_cell_pixels"]
    modis = None
    if ref is not None:
        factor = scale_factor(shape, ref.shape[1:])
        cell = cell_size(shape, factor, cell)
        modis = aggregate(ref, cell // factor)
    meta["cell_pixels"] = cell
    cells = [_cells(a, cell, ok) for a, ok in zip(arrays, usable)]
    valid = [_valid_pixels(a, bands, ok) for a, ok in zip(arrays, usable)]
    granules = [{"index": g, "swir_usable": usable[g], "valid_pixels": valid[g]}
                for g in range(len(arrays))]  # type: List[Dict[str, Any]]
    for g, info in enumerate(infos or ()):
        if isinstance(info, Mapping) and "granule_id" in info:
            granules[g]["granule_id"] = str(info["granule_id"])
    if modis is not None:
        pairs = parse_pairing(p["balance_pairing"])
        for g, c in enumerate(cells):
            gains = modis_gains(arrays[g], c, cell, modis, pairs, p)
            granules[g]["modis_gains"] = {k: _json(v) for k, v in gains.items()}
            granules[g]["score"] = _json(max(abs(math.log(v)) for v in gains.values())) \
                if gains else None
    ranking = _ranking(granules, modis is not None)
    meta.update(anchor_rule="modis" if modis is not None else "valid pixels", ranking=ranking,
                anchor=ranking[0], anchors={}, granules=granules, gains={})
    gains = [{} for _ in arrays]  # type: List[Dict[int, float]]
    for b in bands:
        _normalize_band(b, cells, ranking, p, meta, gains)
    out = [_scaled(a, g) for a, g in zip(arrays, gains)]
    meta["gains"] = {str(g): {BANDS[b]: _json(v) for b, v in sorted(gains[g].items())}
                     for g in range(len(arrays)) if gains[g]}
    if not meta["gains"]:
        _skip(meta, "no granule could be normalized (see granules[].bands)")
    return out, meta


def _skip(meta: Dict[str, Any], reason: str) -> Dict[str, Any]:
    meta["skipped"] = True
    meta["reason"] = reason
    return meta


def _json(x: float) -> Optional[float]:
    """``x`` rounded to 6 decimals; None (JSON null) when not finite."""
    return round(float(x), 6) if math.isfinite(x) else None


def _checked_stack(stack: Sequence[np.ndarray]) -> List[np.ndarray]:
    arrays = [np.asarray(a) for a in stack]
    if not arrays:
        raise GmiInputError("stack: no granule to normalize")
    for i, a in enumerate(arrays):
        if a.ndim != 3 or a.shape[0] != len(BANDS) or a.dtype.kind != "f":
            raise GmiInputError("stack[{}]: expected float (9, H, W), got {} {}".format(
                i, a.dtype, a.shape))
        if a.shape != arrays[0].shape:
            raise GmiInputError("stack[{}]: shape {} differs from stack[0] {}".format(
                i, a.shape, arrays[0].shape))
    return arrays


def _swir_usable(infos: Optional[Sequence[Mapping[str, Any]]], n: int) -> List[bool]:
    """Per granule: ``swir_usable``, else acquired before 2008-04-01, else True."""
    if infos is None:
        return [True] * n
    if len(infos) != n:
        raise GmiInputError("infos: {} entries for {} granule arrays".format(len(infos), n))
    out = []
    for i, info in enumerate(infos):
        flag = info.get("swir_usable") if isinstance(info, Mapping) else None
        if flag is None and isinstance(info, Mapping) and info.get("acquired") is not None:
            flag = parse_time(info["acquired"], "infos[{}].acquired".format(i)).date() < SWIR_CUTOFF
        if flag is not None and not isinstance(flag, (bool, np.bool_)):
            raise GmiInputError("infos[{}].swir_usable: {!r} is not true/false".format(i, flag))
        out.append(True if flag is None else bool(flag))
    return out


def _cells(arr: np.ndarray, cell: int, swir_usable: bool) -> np.ndarray:
    """(9, H//cell, W//cell) cell means (rows/columns beyond the last whole cell are dropped)."""
    h, w = arr.shape[1] // cell * cell, arr.shape[2] // cell * cell
    out = aggregate(arr[:, :h, :w], cell)
    if not swir_usable:
        out[list(SWIR)] = np.nan
    return out


def _valid_pixels(arr: np.ndarray, bands: Sequence[int], swir_usable: bool) -> int:
    """Pixels finite in every band of ``bands`` (0 when a SWIR band is unusable)."""
    if not swir_usable and set(bands) & set(SWIR):
        return 0
    ok = np.ones(arr.shape[1:], dtype=bool)
    for b in bands:
        ok &= np.isfinite(arr[b])
    return int(np.count_nonzero(ok))


def modis_gains(arr: np.ndarray, cells: np.ndarray, cell: int, modis: np.ndarray,
                pairs: Sequence[Pair], p: Mapping[str, Any]) -> Dict[str, float]:
    """Tile gain ``M ~ g*A`` of one granule per pairing entry (keyed by its ``apply`` bands).

    ``arr`` is the granule's ``(9, H, W)`` pixels and ``cells`` its :func:`_cells`. The SWIR-2
    group is compared with b07 through the same estimator as the balancing method
    (:func:`.balance.swir2_value` per pixel, then cell means; the B5..B9 mean for ``"block"``,
    whose pairing fits the mean), with B4 scaled by its own gain first when an entry corrects
    B4: b07 sees the continuum shoulder before the absorptions, so scoring the band mean would
    read the scene's mineralogy as a gain error and could rank the wrong granule first. Entries
    with fewer than ``balance_overlap_min_cells`` usable cells, or a non-positive gain, are left
    out.
    """
    estimator = "mean" if p["balance_method"] == "block" else p["balance_swir2_estimator"]
    h, w = cells.shape[1] * cell, cells.shape[2] * cell
    b4_gain = 1.0
    out = {}  # type: Dict[str, float]
    for pair in pairs:
        if is_swir2_group(pair) and estimator != "mean":
            if np.isnan(cells[list(pair.fit)]).all():
                continue  # SWIR not usable
            px = arr[:, :h, :w]
            value, _ = swir2_value(px, pair, estimator, px[3] * np.float32(b4_gain))
            values = aggregate(np.asarray(value, dtype=np.float32)[None], cell)[0]
        else:
            values = cells[list(pair.fit)].mean(axis=0)
        A, M = mask_dark(values, modis[pair.modis], p["balance_min_reflectance"])
        ok = np.isfinite(A) & np.isfinite(M)
        if np.count_nonzero(ok) < p["balance_overlap_min_cells"]:
            continue
        gain, _ = robust_fit(A[ok][None, :], M[ok][None, :], p["balance_outlier_mad"])
        if math.isfinite(gain[0]) and gain[0] > 0:
            out["+".join(BANDS[b] for b in pair.apply)] = float(gain[0])
            if 3 in pair.apply:
                b4_gain = float(gain[0])
    return out


def _ranking(granules: Sequence[Mapping[str, Any]], by_modis: bool) -> List[int]:
    """Granule indices, most trusted first (module docstring, step 2)."""
    def key(g: Mapping[str, Any]) -> Tuple[float, int, int]:
        score = g.get("score") if by_modis else 0.0
        return (math.inf if score is None else score, -g["valid_pixels"], g["index"])

    return [g["index"] for g in sorted(granules, key=key)]


def _normalize_band(b: int, cells: Sequence[np.ndarray], ranking: Sequence[int],
                    p: Mapping[str, Any], meta: Dict[str, Any], gains: List[Dict[int, float]]) -> None:
    """Step 3 of the module docstring for band ``b``: fills ``gains`` and the granules' reports."""
    name = BANDS[b]
    low = np.float32(p["balance_min_reflectance"])
    values = {}  # type: Dict[int, np.ndarray]
    for g in ranking:
        with np.errstate(invalid="ignore"):
            v = np.where(cells[g][b] > low, cells[g][b], np.nan)
        if np.isfinite(v).any():
            values[g] = v
    reports = meta["granules"]
    have = [g for g in ranking if g in values]
    for g in ranking:
        if g not in values:
            unusable = b in SWIR and not reports[g]["swir_usable"]
            _report(reports[g], name, {"gain": None, "reason": "SWIR not usable" if unusable
                                       else "no valid statistics cell"})
    if not have:
        return
    anchor = have[0]
    meta["anchors"][name] = anchor
    _report(reports[anchor], name, {"gain": 1.0, "anchor": True})
    done = {anchor: values[anchor]}
    pending = have[1:]
    lo, hi = p["balance_gain_limits"]
    while pending:
        count, j, k, common = _best_pair(pending, done, values)
        if count < p["balance_overlap_min_cells"]:
            break
        pending.remove(j)
        gain, kept = robust_fit(values[j][common][None, :], done[k][common][None, :],
                                p["balance_outlier_mad"])
        g = float(gain[0])
        entry = {"gain": _json(g), "reference": k, "cells": count, "cells_kept": int(kept[0])}
        if not lo <= g <= hi:
            entry.update(gain=None, rejected_gain=_json(g),
                         reason="gain outside the limits {}..{}; band left unchanged".format(lo, hi))
        else:
            gains[j][b] = g
            done[j] = values[j] * np.float32(g)
        _report(reports[j], name, entry)
    for j in pending:
        best = max(np.count_nonzero(np.isfinite(values[j]) & np.isfinite(v)) for v in done.values())
        _report(reports[j], name, {"gain": None, "reason": "{} overlap cells with a normalized "
                                   "granule, fewer than params.balance_overlap_min_cells = {}".format(
                                       best, p["balance_overlap_min_cells"])})


def _best_pair(pending: Sequence[int], done: Mapping[int, np.ndarray],
               values: Mapping[int, np.ndarray]) -> Tuple[int, int, int, np.ndarray]:
    """(cells, j, k, mask) of the pending/normalized pair sharing the most valid cells.

    Ties go to the better-ranked ``j`` and then to the earliest normalized ``k``.
    """
    best = (-1, -1, -1, np.zeros(0, dtype=bool))
    for j in pending:
        for k, v in done.items():
            common = np.isfinite(values[j]) & np.isfinite(v)
            count = int(np.count_nonzero(common))
            if count > best[0]:
                best = (count, j, k, common)
    return best


def _report(report: Dict[str, Any], band: str, entry: Dict[str, Any]) -> None:
    report.setdefault("bands", {})[band] = entry


def _scaled(arr: np.ndarray, gains: Mapping[int, float]) -> np.ndarray:
    """``arr`` itself when no band has a gain, else a float32 copy with the gains applied."""
    if not gains:
        return arr
    out = arr.astype(np.float32, copy=True)
    for b, g in gains.items():
        out[b] *= np.float32(g)
    return out
