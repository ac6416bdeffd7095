"""``balance_method: "tasseled_cap"``: the reference engine's brightness transfer to MOD09A1.

The behaviour of the reference engine (aster_core ``brightnessBalance`` with ``tasseled_cap``,
``science.md`` §3.3), written here from that description:

1. Windows of ``W / 4`` pixels (256 on a 1024 px tile) every half window (overlap ``W / 8``).
2. Per pixel a brightness image of the mosaic, ``Ba = sum_k a_k * B_k`` over the nine ASTER bands
   (:data:`ASTER_TC_BRIGHTNESS`, §3.2), and of the MOD09A1 reference repeated to mosaic pixels,
   ``Bm = sum_k m_k * b_k`` over b01..b07 (:data:`MODIS_TC_BRIGHTNESS`, Lobser & Cohen 2007, §3.1).
3. Per window, ``Ba`` is histogram-matched to ``Bm`` (:func:`match_histogram`: each value goes to
   the reference value at the same quantile) on the pixels valid in both, and the window's factor
   is ``f = matched / Ba`` per pixel.
4. The windows' factors are blended with linear ramps over the overlap (:func:`ramp`), and every
   band of a pixel is multiplied by its blended factor.

Because the nine bands of a pixel get the same factor, every ratio index is unchanged by this
step; absolute reflectance follows the MODIS brightness distribution of each window. Known limits
(``docs/kernel.md``): the ASTER coefficients are unverified, the MODIS ones are for NBAR not
MOD09A1, and matching a 30 m histogram to a 500 m one compresses local contrast.

Deviations, each to keep the output defined: the template is taken on the pixels where the
mosaic is valid too (not the whole window), a window with fewer than
``balance_min_block_fraction`` of its pixels valid in both is not used, and pixels whose
brightness cannot be formed (a band is NaN, e.g. SWIR after 2008) or is not above
``balance_min_reflectance``, or that no usable window covers, are left unchanged (counted in
``meta``).
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Tuple

import numpy as np

from .bands import BANDS

#: ASTER 9-band tasseled-cap brightness row, B1, B2, B3N, B4..B9 (science.md §3.2; unverified).
ASTER_TC_BRIGHTNESS = (0.3909, 0.5224, 0.1184, 0.3233, 0.3050, 0.3571, 0.3347, 0.3169, 0.1510)
#: MODIS NBAR tasseled-cap brightness row, b01..b07 (Lobser & Cohen 2007; science.md §3.1).
MODIS_TC_BRIGHTNESS = (0.4395, 0.5945, 0.2460, 0.3918, 0.3506, 0.2136, 0.2678)


def brightness(stack: np.ndarray, coefficients: Tuple[float, ...]) -> np.ndarray:
    """``sum_k c_k * stack[k]`` (float32, NaN where any band is NaN)."""
    out = np.zeros(stack.shape[1:], dtype=np.float64)
    for k, c in enumerate(coefficients):
        out += c * stack[k].astype(np.float64)
    return out.astype(np.float32)


def match_histogram(source: np.ndarray, template: np.ndarray) -> np.ndarray:
    """``source`` values mapped to the ``template`` value at the same quantile (1-D, finite).

    The quantile of a value is the fraction of values less than or equal to it; between the
    template's distinct values the mapping is linear (``np.interp``).
    """
    src_values, src_inverse, src_counts = np.unique(source, return_inverse=True, return_counts=True)
    tpl_values, tpl_counts = np.unique(template, return_counts=True)
    src_q = np.cumsum(src_counts) / float(source.size)
    tpl_q = np.cumsum(tpl_counts) / float(template.size)
    return np.interp(src_q, tpl_q, tpl_values)[src_inverse.reshape(-1)]


def windows(n: int) -> Tuple[int, int, List[int]]:
    """Window size ``n // 4``, overlap (half a window) and window starts covering ``0..n``."""
    size = max(2, n // 4)
    step = max(1, size // 2)
    starts = list(range(0, max(n - size, 0) + 1, step))
    if starts[-1] + size < n:
        starts.append(n - size)
    return size, size - step, starts


def ramp(size: int, overlap: int) -> np.ndarray:
    """Weights of one window along one axis: linear from ~0 to 1 over ``overlap`` pixels at both
    ends, 1 between (float64)."""
    i = np.arange(size, dtype=np.float64) + 0.5
    ov = float(max(overlap, 1))
    return np.minimum(1.0, np.minimum(i / ov, (size - i) / ov))


def balance_tasseled_cap(arr: np.ndarray, ref: np.ndarray, factor: int, p: Mapping[str, Any],
                         meta: Dict[str, Any]) -> Tuple[np.ndarray, Dict[str, Any]]:
    """The balanced mosaic (new float32 array) and ``meta`` (module docstring).

    ``arr``: ``(9, H, W)`` float reflectance; ``ref``: ``(7, H / factor, W / factor)`` float
    reflectance (NaN = fill), as prepared by :func:`.balance.balance`.
    """
    height, width = arr.shape[1:]
    low = float(p["balance_min_reflectance"])
    ba = brightness(arr, ASTER_TC_BRIGHTNESS)
    with np.errstate(invalid="ignore"):
        ba_ok = np.isfinite(ba) & (ba > low)
    bm = np.repeat(np.repeat(brightness(ref, MODIS_TC_BRIGHTNESS), factor, axis=0), factor, axis=1)
    both = ba_ok & np.isfinite(bm)
    num = np.zeros((height, width), dtype=np.float64)
    den = np.zeros((height, width), dtype=np.float64)
    size_y, ov_y, starts_y = windows(height)
    size_x, ov_x, starts_x = windows(width)
    weight = ramp(size_y, ov_y)[:, None] * ramp(size_x, ov_x)[None, :]
    need = p["balance_min_block_fraction"] * size_y * size_x
    fitted = 0
    factors = []  # type: List[float]
    for y0 in starts_y:
        for x0 in starts_x:
            win = np.s_[y0:y0 + size_y, x0:x0 + size_x]
            sel = both[win]
            count = int(np.count_nonzero(sel))
            if count < max(need, 1):
                continue
            src = ba[win][sel]
            matched = match_histogram(src, bm[win][sel])
            f = np.zeros(sel.shape, dtype=np.float64)
            f[sel] = matched / src.astype(np.float64)
            num[win] += np.where(sel, weight * f, 0.0)
            den[win] += np.where(sel, weight, 0.0)
            fitted += 1
            factors.append(float(np.median(f[sel])))
    covered = den > 0
    gain = np.ones((height, width), dtype=np.float32)
    gain[covered] = (num[covered] / den[covered]).astype(np.float32)
    valid = np.isfinite(arr).any(axis=0)
    meta.update(block_pixels=size_x, overlap_pixels=ov_x, windows=len(starts_y) * len(starts_x),
                windows_fitted=fitted,
                pixels_unchanged=int(np.count_nonzero(valid & ~covered)),
                coefficients={"aster": "science.md 3.2 (unverified)",
                              "modis": "Lobser & Cohen 2007 (NBAR)"})
    if not fitted:
        meta["skipped"] = True
        meta["reason"] = "no window has {:.0%} of its pixels valid in the mosaic and the " \
                         "reference".format(p["balance_min_block_fraction"])
        return arr, meta
    out = arr.astype(np.float32, copy=True)
    out *= gain[None]
    seen = gain[covered & valid] if (covered & valid).any() else gain[covered]
    summary = {"tile": _round(float(np.median(factors))), "median": _round(float(np.median(seen))),
               "min": _round(float(seen.min())), "max": _round(float(seen.max()))}
    meta["gains"] = {name: summary for name in BANDS}
    return out, meta


def _round(x: float) -> Any:
    return round(x, 6) if math.isfinite(x) else None
