"""Colour balancing of a tile's reflectance mosaic to its MOD09A1 reference.

``balance_method`` (``docs/kernel.md``): ``"shape"`` (default; :func:`_balance_shape`: one
regional plane per spectral group, the SWIR-2 group fitted on its continuum at 2.130 um, so the
ratios within a group are unchanged and a local anomaly cannot be flattened), ``"tasseled_cap"``
(:mod:`.tasseled_cap`, the reference engine's brightness transfer) or ``"block"`` (the per-band
block gains described below).

Input: the ``(9, H, W)`` float32 mosaic (NaN = no data), the ``(7, h, w)`` MOD09A1 reference of
the same tile (raw int16, scale 0.0001, fill -28672; or float reflectance with NaN) with
``H = k*h`` (1024 = 4 x 256: one reference cell is 4 x 4 mosaic pixels), and optionally the
mosaic's provenance (``(2, H, W)`` int16 from :func:`.mosaic.mosaic`).

The "block" method (each ASTER band gets its own gain, so ratio indices change where gains differ;
``science.md`` §3.3; details and measurements in ``docs/kernel.md``):

1. Aggregate the mosaic and the reference to statistics cells of ``balance_cell_pixels`` (32 px
   = 960 m, about two MODIS 500 m pixels): the mean of a cell, only when all its pixels (and
   reference cells) are valid. Statistics of cells, not pixels: 30 m and 500 m pixels do not
   see the same ground.
2. For each pairing entry (:data:`DEFAULT_PAIRING`) take the ASTER value ``A`` (mean of the
   entry's ``fit`` bands) and the MODIS value ``M`` of the entry's MODIS band on the cells where
   both exceed ``balance_min_reflectance`` (0.01).
3. Fit a gain ``M ~ g * A`` per block of ``balance_block_pixels`` (256 px -> 4 x 4 blocks of
   8 x 8 cells on a 1024 px tile) and for the whole tile, by :func:`robust_fit` (ratio of sums
   after trimming residuals beyond ``balance_outlier_mad`` (3) scaled MADs). Blocks with fewer
   than ``balance_min_block_fraction`` (25 %) usable cells, or a gain outside
   ``balance_gain_limits`` (0.5 .. 2), take the tile gain. A tile gain outside the limits leaves
   the entry's bands unchanged (reported in ``meta``).
4. Interpolate the block gains bilinearly between block centres to every pixel (constant beyond
   the outer centres), so the gain field has no steps, and multiply the entry's ``apply`` bands.

With a provenance band and ``balance_per_source`` (default), steps 2-4 run separately for each
contributing granule (cells whose pixels all come from it; VNIR entries use the VNIR plane, SWIR
entries the SWIR plane), and each pixel takes the gain field of its own granule: a granule with
a radiometric error is corrected without bleeding the correction across the seam.

The gain absorbs the spectral mismatch between the paired bands as well as the radiometric error:
it is exact only where the reference was built from the same bands (the synthetic MOD09A1 uses
the default pairing). MODIS has a single band (b07, 2.13 um) in the 2.1-2.4 um region, so B5-B9
share one gain fitted on their mean; their relative levels (the mineral absorption features) are
kept, and errors between them cannot be seen by MODIS here. When the tile holds two or more
overlapping granules, :func:`.overlap.normalize` (run by the pipeline before the mosaic) puts each
granule's bands (default B5-B9) on the scale of the granule MODIS sees as most right, so an
independent error in any one band of a granule is removed too (``docs/kernel.md``). Its
parameters (``balance_overlap``, ``balance_overlap_bands``, ``balance_overlap_min_cells``) are
checked here with the others and ignored by :func:`balance`.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .bands import BANDS, band_index
from .errors import GmiInputError

MODIS_FILL = -28672
MODIS_SCALE = 1e-4
MODIS_VALID_RANGE = (-100, 16000)
MODIS_BANDS = tuple("b{:02d}".format(i) for i in range(1, 8))
VNIR = (0, 1, 2)
SWIR = (3, 4, 5, 6, 7, 8)

#: ASTER <- MODIS pairing: MODIS band, ASTER bands whose mean is fitted, ASTER bands corrected.
DEFAULT_PAIRING = (
    {"modis": "b04", "fit": ("01",), "apply": ("01",)},    # 555 nm green
    {"modis": "b01", "fit": ("02",), "apply": ("02",)},    # 645 nm red
    {"modis": "b02", "fit": ("3N",), "apply": ("3N",)},    # 858 nm NIR
    {"modis": "b06", "fit": ("04",), "apply": ("04",)},    # 1640 nm
    {"modis": "b07", "fit": ("05", "06", "07", "08", "09"),
     "apply": ("05", "06", "07", "08", "09")},             # 2130 nm
)
#: Alternative: b07 fitted on B5 alone (spectrally nearest, 2.145-2.185 um), applied to B5-B9.
PAIRING_B5 = DEFAULT_PAIRING[:4] + (
    {"modis": "b07", "fit": ("05",), "apply": ("05", "06", "07", "08", "09")},)
PAIRINGS = {"swir-mean": DEFAULT_PAIRING, "swir-b5": PAIRING_B5}

#: Balancing methods: "shape" (default: regional, shape-preserving, docs/kernel.md), "block"
#: (per-band ~7.7 km block gains) and "tasseled_cap" (the reference engine's brightness transfer,
#: :mod:`.tasseled_cap`).
BALANCE_METHODS = ("shape", "block", "tasseled_cap")
METHOD_NAMES = {"shape": "shape-preserving regional gain", "block": "per-band block gain",
                "tasseled_cap": "tasseled-cap brightness histogram matching"}
#: SWIR-2 (B5..B9) value compared with MODIS b07 by the "shape" method and the overlap ranking.
SWIR2_ESTIMATORS = ("continuum", "envelope", "mean")
#: ASTER band centres (um) of B1, B2, B3N, B4..B9 and the MODIS b07 centre.
ASTER_CENTRES_UM = (0.556, 0.661, 0.807, 1.656, 2.167, 2.209, 2.262, 2.336, 2.400)
MODIS_B07_UM = 2.130
#: MOD09A1 "500 m" pixel side on the ground (sinusoidal grid, metres).
MODIS_PIXEL_M = 463.312716528
EARTH_RADIUS_M = 6378137.0

BALANCE_DEFAULTS = {
    "balance_method": "shape",
    # "shape": latitude of the tile centre (degrees) for the ground size of statistics cells;
    # None = 0 (the equator; reported in meta). The pipeline sets it from the tile index.
    "balance_latitude": None,
    "balance_pixel_m": 30.0,  # EPSG:3857 metres per mosaic pixel
    "balance_min_cell_modis_pixels": 2.0,  # cell ground side >= this many MODIS pixels
    # SWIR-2 (B5..B9) value fitted to MODIS b07 (:func:`swir2_value`): "continuum" (upper hull
    # at 2.130 um through B4 and B5..B9), "envelope" (max of B5..B9) or "mean" (absorptions included)
    "balance_swir2_estimator": "continuum",
    "balance_pairing": "swir-mean",
    "balance_block_pixels": 256,
    "balance_cell_pixels": 32,
    "balance_min_block_fraction": 0.25,
    "balance_min_reflectance": 0.01,
    "balance_gain_limits": (0.5, 2.0),
    "balance_outlier_mad": 3.0,
    "balance_per_source": True,
    # cross-granule normalization before the mosaic (kernel/overlap.py)
    "balance_overlap": True,
    "balance_overlap_bands": ("05", "06", "07", "08", "09"),
    "balance_overlap_min_cells": 8,
}  # type: Dict[str, Any]


class Pair(NamedTuple):
    """One checked pairing entry (band indices)."""

    modis: int
    fit: Tuple[int, ...]
    apply: Tuple[int, ...]

    def to_json(self) -> Dict[str, Any]:
        """The pairing as band names, for the provenance record."""
        return {"modis": MODIS_BANDS[self.modis], "fit": [BANDS[b] for b in self.fit],
                "apply": [BANDS[b] for b in self.apply]}


class Statistics(NamedTuple):
    """The mosaic and the reference aggregated to statistics cells of ``cell`` x ``cell`` pixels."""

    aster: np.ndarray  # (9, H/cell, W/cell)
    modis: np.ndarray  # (7, H/cell, W/cell)
    cell: int
    source: Optional[List[np.ndarray]]  # per provenance plane: the cell's granule, -3 if mixed
    present: Optional[List[List[int]]]  # per provenance plane: the granules (and -2) it holds


class Fit(NamedTuple):
    """Gains of one pairing entry and one source on the block grid."""

    gain: np.ndarray  # (nby, nbx) float32
    tile_gain: float
    cells: int  # usable statistics cells
    blocks_fitted: int


# --------------------------------------------------------------------------- parameters


def parse_pairing(value: Any) -> Tuple[Pair, ...]:
    """A preset name of :data:`PAIRINGS` or a list of ``{"modis", "fit", "apply"}`` entries."""
    if isinstance(value, str):
        if value not in PAIRINGS:
            raise GmiInputError("params.balance_pairing: {!r} is not one of {}".format(
                value, sorted(PAIRINGS)))
        value = PAIRINGS[value]
    if not isinstance(value, (list, tuple)) or not value:
        raise GmiInputError("params.balance_pairing: expected a preset name or a list of entries")
    pairs = []
    applied = set()  # type: set
    for i, entry in enumerate(value):
        where = "params.balance_pairing[{}]".format(i)
        if not isinstance(entry, Mapping) or not {"modis", "fit"} <= set(entry):
            raise GmiInputError("{}: expected a dict with 'modis', 'fit' (and 'apply')".format(where))
        modis = _modis_index(entry["modis"], where)
        fit = _band_list(entry["fit"], where + ".fit")
        apply_ = _band_list(entry.get("apply", entry["fit"]), where + ".apply")
        if not (set(apply_) <= set(VNIR) or set(apply_) <= set(SWIR)):
            raise GmiInputError("{}.apply: mixes VNIR and SWIR bands".format(where))
        if applied & set(apply_):
            raise GmiInputError("{}.apply: a band is already corrected by an earlier entry".format(where))
        applied |= set(apply_)
        pairs.append(Pair(modis, fit, apply_))
    return tuple(pairs)


def _modis_index(value: Any, where: str) -> int:
    text = str(value).strip().lower()
    if text.startswith("sur_refl_"):
        text = text[len("sur_refl_"):]
    if text.startswith("b"):
        text = text[1:]
    if text.isdigit() and 1 <= int(text) <= 7:
        return int(text) - 1
    raise GmiInputError("{}.modis: {!r} is not a MOD09A1 band b01..b07".format(where, value))


def _band_list(value: Any, where: str) -> Tuple[int, ...]:
    items = [value] if isinstance(value, (str, int)) else list(value)
    if not items:
        raise GmiInputError("{}: no band given".format(where))
    try:
        return tuple(band_index(b) for b in items)
    except GmiInputError as exc:
        raise GmiInputError("{}: {}".format(where, exc))


def balance_params(params: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """:data:`BALANCE_DEFAULTS` updated with the ``balance_*`` keys of ``params``, checked."""
    p = dict(BALANCE_DEFAULTS)
    for key, value in (params or {}).items():
        if key in BALANCE_DEFAULTS and value is not None:
            p[key] = value
    for key in ("balance_block_pixels", "balance_cell_pixels"):
        size = p[key]
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise GmiInputError("params.{}: {!r} is not a positive whole number".format(key, size))
        p[key] = int(size)
    for key in ("balance_min_block_fraction", "balance_min_reflectance", "balance_outlier_mad"):
        try:
            p[key] = float(p[key])
        except (TypeError, ValueError):
            raise GmiInputError("params.{}: {!r} is not a number".format(key, p[key]))
    try:
        lo, hi = (float(x) for x in p["balance_gain_limits"])
    except (TypeError, ValueError):
        raise GmiInputError("params.balance_gain_limits: {!r} is not a (min, max) pair".format(
            p["balance_gain_limits"]))
    if not 0.0 < lo < hi:
        raise GmiInputError("params.balance_gain_limits: {!r} is not 0 < min < max".format(
            p["balance_gain_limits"]))
    p["balance_gain_limits"] = (lo, hi)
    if p["balance_method"] not in BALANCE_METHODS:
        raise GmiInputError("params.balance_method: {!r} is not one of {}".format(
            p["balance_method"], ", ".join(BALANCE_METHODS)))
    if p["balance_swir2_estimator"] not in SWIR2_ESTIMATORS:
        raise GmiInputError("params.balance_swir2_estimator: {!r} is not one of {}".format(
            p["balance_swir2_estimator"], ", ".join(SWIR2_ESTIMATORS)))
    for key, low, high in (("balance_latitude", -85.1, 85.1), ("balance_pixel_m", 1e-6, 1e6),
                           ("balance_min_cell_modis_pixels", 0.0, 1e3)):
        if key == "balance_latitude" and p[key] is None:
            continue
        try:
            p[key] = float(p[key])
        except (TypeError, ValueError):
            raise GmiInputError("params.{}: {!r} is not a number".format(key, p[key]))
        if not low <= p[key] <= high:
            raise GmiInputError("params.{}: {} is outside {}..{}".format(key, p[key], low, high))
    for key in ("balance_per_source", "balance_overlap"):
        if not isinstance(p[key], (bool, np.bool_)):
            raise GmiInputError("params.{}: {!r} is not true/false".format(key, p[key]))
    count = p["balance_overlap_min_cells"]
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise GmiInputError("params.balance_overlap_min_cells: {!r} is not a positive whole "
                            "number".format(count))
    p["balance_overlap_min_cells"] = int(count)
    p["balance_overlap_bands"] = _overlap_bands(p["balance_overlap_bands"])
    return p


def _overlap_bands(value: Any) -> Tuple[int, ...]:
    """``"all"``, ``"swir2"`` (B5-B9) or a list of band names -> sorted band indices."""
    where = "params.balance_overlap_bands"
    if isinstance(value, str) and value.strip().lower() in ("all", "swir2"):
        return tuple(range(len(BANDS))) if value.strip().lower() == "all" else SWIR[1:]
    if isinstance(value, str):
        raise GmiInputError("{}: {!r} is neither 'all', 'swir2' nor a list of bands".format(
            where, value))
    bands = _band_list(value, where)
    if len(set(bands)) != len(bands):
        raise GmiInputError("{}: a band is listed twice in {!r}".format(where, value))
    return tuple(sorted(bands))


# --------------------------------------------------------------------------- main entry


def balance(mosaic: np.ndarray, reference: Optional[np.ndarray],
            params: Optional[Mapping[str, Any]] = None,
            provenance: Optional[np.ndarray] = None, overwrite: bool = False
            ) -> Tuple[np.ndarray, Dict[str, Any]]:
    """Per-band balanced mosaic (new float32 array) and a JSON-able ``meta``.

    When nothing can be fitted (no reference, reference all fill, no overlap with valid mosaic
    pixels) the input mosaic itself is returned, with ``meta["skipped"]`` True and a reason.
    ``overwrite``: the caller no longer needs ``mosaic``, so the shape method may correct a
    float32 one in place instead of a copy (the result is the same array).
    """
    p = balance_params(params)
    pairs = parse_pairing(p["balance_pairing"])
    arr = np.asarray(mosaic)
    if arr.ndim != 3 or arr.shape[0] != 9 or arr.dtype.kind != "f":
        raise GmiInputError("mosaic: expected float (9, H, W), got {} {}".format(arr.dtype, arr.shape))
    meta = {
        "method": METHOD_NAMES[p["balance_method"]],
        "pairing": [pair.to_json() for pair in pairs],
        "block_pixels": int(p["balance_block_pixels"]),
        "skipped": False,
        "reason": "",
    }  # type: Dict[str, Any]
    ref = reference_reflectance(reference)
    if ref is None or not np.isfinite(ref).any():
        return arr, _skip(meta, "no MOD09A1 reference" if ref is None else "MOD09A1 reference is all fill")
    factor = scale_factor(arr.shape[1:], ref.shape[1:])
    prov = _provenance_planes(provenance, arr.shape[1:]) if p["balance_per_source"] else None
    if p["balance_method"] == "shape":
        return _balance_shape(arr, ref, factor, pairs, prov, p, meta, overwrite)
    if p["balance_method"] == "tasseled_cap":
        from .tasseled_cap import balance_tasseled_cap

        for key in ("pairing", "block_pixels"):
            meta.pop(key)
        return balance_tasseled_cap(arr, ref, factor, p, meta)
    cell = cell_size(arr.shape[1:], factor, p["balance_cell_pixels"])
    meta["per_source"] = prov is not None
    meta["cell_pixels"] = cell
    stats = Statistics(aster=aggregate(arr, cell), modis=aggregate(ref, cell // factor), cell=cell,
                       source=None if prov is None else [_cell_source(plane, cell) for plane in prov],
                       present=None if prov is None else [_sources(plane) for plane in prov])
    out = arr.astype(np.float32, copy=True)
    where_cache = {}  # type: Dict[Tuple[int, int], np.ndarray]
    entries = [_balance_pair(arr, out, pair, stats, prov, p, where_cache) for pair in pairs]
    return _finish(arr, out, pairs, entries, meta)


def _finish(arr: np.ndarray, out: np.ndarray, pairs: Sequence[Pair], entries: List[Dict[str, Any]],
            meta: Dict[str, Any]) -> Tuple[np.ndarray, Dict[str, Any]]:
    """``meta`` completed with the entries' reports and the gain summary per band; the input
    itself (skipped) when no entry could be fitted, else ``out``."""
    band_gains = {}  # type: Dict[str, Any]
    for pair, entry in zip(pairs, entries):
        if entry.get("gain") is not None:
            for b in pair.apply:
                band_gains[BANDS[b]] = entry["gain"]
    meta["pairs"] = entries
    meta["gains"] = band_gains
    if not band_gains:
        return arr, _skip(meta, "no pairing entry could be fitted: " + "; ".join(
            e["reason"] for e in entries if e.get("reason")))
    return out, meta


def _skip(meta: Dict[str, Any], reason: str) -> Dict[str, Any]:
    meta["skipped"] = True
    meta["reason"] = reason
    return meta


def reference_reflectance(reference: Optional[np.ndarray]) -> Optional[np.ndarray]:
    """The reference as float32 reflectance ``(7, h, w)``, NaN where fill/out of range; None if empty."""
    if reference is None:
        return None
    ref = np.asarray(reference)
    if ref.size == 0:
        return None
    if ref.ndim != 3 or ref.shape[0] != len(MODIS_BANDS):
        raise GmiInputError("reference: expected MOD09A1 shape (7, h, w), got {}".format(ref.shape))
    if ref.dtype.kind in "iu":
        lo, hi = MODIS_VALID_RANGE
        bad = (ref == MODIS_FILL) | (ref < lo) | (ref > hi)
        out = ref.astype(np.float32) * np.float32(MODIS_SCALE)
        out[bad] = np.nan
        return out
    if ref.dtype.kind == "f":
        return ref.astype(np.float32)
    raise GmiInputError("reference: dtype {} is neither int16 MOD09A1 nor float".format(ref.dtype))


def scale_factor(shape: Tuple[int, int], ref_shape: Tuple[int, int]) -> int:
    """Mosaic pixels per reference cell side; GmiInputError unless the grids nest evenly."""
    (H, W), (h, w) = shape, ref_shape
    if h == 0 or w == 0 or H % h or W % w or H // h != W // w:
        raise GmiInputError("reference: grid {}x{} does not divide the mosaic {}x{} evenly".format(
            h, w, H, W))
    return H // h


def cell_size(shape: Tuple[int, int], factor: int, cell: int) -> int:
    """``cell`` (pixels), checked: a multiple of ``factor`` that divides the mosaic."""
    if cell % factor or shape[0] % cell or shape[1] % cell:
        raise GmiInputError("params.balance_cell_pixels: {} is not a multiple of the reference cell ({} "
                            "pixels) dividing the mosaic {}x{}".format(cell, factor, shape[0], shape[1]))
    return cell


def _provenance_planes(provenance: Optional[np.ndarray], shape: Tuple[int, int]
                       ) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    if provenance is None:
        return None
    prov = np.asarray(provenance)
    if prov.dtype.kind not in "iu":
        raise GmiInputError("provenance: expected an integer array, got dtype {}".format(prov.dtype))
    if prov.shape == shape:
        return prov, prov
    if prov.ndim == 3 and prov.shape[0] == 2 and prov.shape[1:] == shape:
        return prov[0], prov[1]
    raise GmiInputError("provenance: expected shape (2, {0}, {1}) or ({0}, {1}), got {2}".format(
        shape[0], shape[1], prov.shape))


# --------------------------------------------------------------------------- statistics


def aggregate(mosaic: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each ``factor x factor`` cell per band (float32), NaN unless all pixels are valid."""
    n, H, W = mosaic.shape
    h, w = H // factor, W // factor
    out = np.empty((n, h, w), dtype=np.float32)  # sums in float64: cells are 256 pixels
    for b in range(n):
        cells = mosaic[b].reshape(h, factor, w, factor)
        # NaN propagates through the sum: a cell with any invalid pixel stays NaN.
        out[b] = cells.sum(axis=3, dtype=np.float64).sum(axis=1)
    out *= np.float32(1.0 / (factor * factor))
    return out


def _sources(plane: np.ndarray) -> List[int]:
    """Granule indices (>= 0) and the median code -2 present in a provenance plane, ascending.

    Up to 8 codes in the plane's value range: one comparison per code; otherwise counted with
    ``np.bincount`` (about 5x faster than sorting the plane in ``np.unique``), and a wide range
    with ``np.unique``.
    """
    if plane.size == 0:
        return []
    lo, hi = int(plane.min()), int(plane.max())
    if hi - lo < 8:  # a few granules: one comparison per code, no int64 copy of the plane
        values = [v for v in range(lo, hi + 1) if v in (lo, hi) or bool((plane == v).any())]
    elif hi - lo > 1 << 16:
        values = [int(v) for v in np.unique(plane)]
    else:
        counts = np.bincount((plane.ravel().astype(np.intp) - lo), minlength=hi - lo + 1)
        values = [int(v) + lo for v in np.flatnonzero(counts)]
    return [v for v in values if v >= 0 or v == -2]


def _cell_source(plane: np.ndarray, factor: int) -> np.ndarray:
    """Per reference cell the provenance value shared by all its pixels, -3 if they differ."""
    H, W = plane.shape
    cells = plane.reshape(H // factor, factor, W // factor, factor)
    lo = cells.min(axis=3).min(axis=1)
    hi = cells.max(axis=3).max(axis=1)
    return np.where(lo == hi, lo, -3).astype(np.int32)


def _row_median(values: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Median along axis 1 ignoring NaN (NaN for empty rows), and the count of finite values."""
    data = np.sort(values, axis=1)  # NaN sorts last
    count = np.isfinite(data).sum(axis=1)
    lo = np.clip((count - 1) // 2, 0, None)[:, None]
    hi = np.clip(count // 2, 0, data.shape[1] - 1)[:, None]
    med = 0.5 * (np.take_along_axis(data, lo, 1)[:, 0] + np.take_along_axis(data, hi, 1)[:, 0])
    med[count == 0] = np.nan
    return med, count


def robust_fit(A: np.ndarray, M: np.ndarray, outlier_mad: float) -> Tuple[np.ndarray, np.ndarray]:
    """Per row of ``A``/``M`` (NaN = unused): the gain ``sum(M)/sum(A)`` and the cells kept.

    First fit on all cells, then drop cells whose residual ``M - g*A`` is further than
    ``outlier_mad`` scaled MADs (1.4826 x MAD) from the row's median residual, and fit again.
    Residuals, not ratios, are trimmed: the ratio ``M/A`` has a skewed spread (small ``A`` in the
    denominator), and trimming it biased the gain low by up to 3 % (measured, docs/kernel.md).
    A ratio of sums is unchanged by spatial averaging, so the 30 m / 500 m scale gap does not
    bias it; no offset is fitted because every variance-based slope is (docs/kernel.md).
    """
    A = A.astype(np.float64)
    M = M.astype(np.float64)
    keep = np.isfinite(A) & np.isfinite(M)
    gain, n = _ratio_of_sums(A, M, keep)
    if math.isfinite(outlier_mad):
        with np.errstate(invalid="ignore"):
            resid = np.where(keep, M - gain[:, None] * A, np.nan)
            med, _ = _row_median(resid)
            dev = np.abs(resid - med[:, None])
            mad, _ = _row_median(dev)
            keep &= dev <= outlier_mad * 1.4826 * mad[:, None] + 1e-9
        gain, n = _ratio_of_sums(A, M, keep)
    return gain, n


def _ratio_of_sums(A: np.ndarray, M: np.ndarray, keep: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``sum(M)/sum(A)`` per row over the cells where ``keep`` (NaN for rows without any)."""
    n = keep.sum(axis=1)
    sa = np.where(keep, A, 0.0).sum(axis=1)
    sm = np.where(keep, M, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = sm / sa
    gain[n == 0] = np.nan
    return gain, n


def mask_dark(A: np.ndarray, modis_band: np.ndarray, minimum: float) -> Tuple[np.ndarray, np.ndarray]:
    """``A`` and a copy of ``modis_band``, both NaN where either is not above ``minimum`` reflectance."""
    M = modis_band.copy()
    low = np.float32(minimum)
    with np.errstate(invalid="ignore"):
        bad = ~((A > low) & (M > low))
    A[bad] = np.nan
    M[bad] = np.nan
    return A, M


def entry_values(aster: np.ndarray, modis: np.ndarray, pair: Pair, minimum: float
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """Cell values ``A`` (mean of the entry's fit bands) and ``M`` (its MODIS band) of one pairing
    entry, both NaN where either is not above ``minimum`` reflectance."""
    A = aster[list(pair.fit)].mean(axis=0)
    A, M = mask_dark(A, modis[pair.modis], minimum)
    return A, M


def _blocks(grid: np.ndarray, size: int) -> np.ndarray:
    """(h, w) -> (n_blocks, size*size), padding the last row/column of blocks with NaN."""
    h, w = grid.shape
    nby, nbx = -(-h // size), -(-w // size)
    padded = np.full((nby * size, nbx * size), np.nan, dtype=grid.dtype)
    padded[:h, :w] = grid
    return padded.reshape(nby, size, nbx, size).transpose(0, 2, 1, 3).reshape(nby * nbx, size * size)


def fit_blocks(A: np.ndarray, M: np.ndarray, block_cells: int, p: Mapping[str, Any]) -> Optional[Fit]:
    """Block and tile fit of ``M ~ g*A (+ o)`` on the reference grid; None when no cell is usable."""
    usable = np.isfinite(A) & np.isfinite(M)
    if not usable.any():
        return None
    k = p["balance_outlier_mad"]
    tg, tn = robust_fit(A[usable][None, :], M[usable][None, :], k)
    lo, hi = p["balance_gain_limits"]
    nby, nbx = -(-A.shape[0] // block_cells), -(-A.shape[1] // block_cells)
    g, n = robust_fit(_blocks(A, block_cells), _blocks(M, block_cells), k)
    ok = (n >= p["balance_min_block_fraction"] * block_cells * block_cells) & (g >= lo) & (g <= hi)
    ok &= np.isfinite(g)
    gain = np.where(ok, g, tg[0]).reshape(nby, nbx).astype(np.float32)
    return Fit(gain, float(tg[0]), int(usable.sum()), int(ok.sum()))


# --------------------------------------------------------------------------- smooth fields


def interpolation_weights(n_pixels: int, block_pixels: int) -> np.ndarray:
    """(n_pixels, n_blocks) float32 linear-interpolation weights between block centres.

    Block j covers pixels ``[j*B, min((j+1)*B, n))``; its centre is the middle of that range.
    Pixels before the first / after the last centre take that block's value.
    """
    n_blocks = -(-n_pixels // block_pixels)
    starts = np.arange(n_blocks) * block_pixels
    ends = np.minimum(starts + block_pixels, n_pixels)
    centres = (starts + ends - 1) / 2.0
    pixels = np.arange(n_pixels, dtype=np.float64)
    weights = np.empty((n_pixels, n_blocks), dtype=np.float32)
    for j in range(n_blocks):
        unit = np.zeros(n_blocks)
        unit[j] = 1.0
        weights[:, j] = np.interp(pixels, centres, unit) if n_blocks > 1 else 1.0
    return weights


def smooth_field(block_values: np.ndarray, shape: Tuple[int, int], block_pixels: int) -> np.ndarray:
    """Bilinear (between block centres) full-resolution float32 field of a block grid."""
    wy = interpolation_weights(shape[0], block_pixels)
    wx = interpolation_weights(shape[1], block_pixels)
    grid = np.asarray(block_values, dtype=np.float32)
    return wy.dot(grid.dot(wx.T))


# --------------------------------------------------------------------------- one pairing entry


def _balance_pair(arr: np.ndarray, out: np.ndarray, pair: Pair, stats: Statistics,
                  prov: Optional[Tuple[np.ndarray, np.ndarray]], p: Mapping[str, Any],
                  where_cache: Dict[Tuple[int, int], np.ndarray]) -> Dict[str, Any]:
    """Fit and apply one entry in place on ``out``; returns its JSON-able report.

    ``where_cache`` keeps the per-pixel ``provenance == source`` masks between entries.
    """
    entry = pair.to_json()  # type: Dict[str, Any]
    A, M = entry_values(stats.aster, stats.modis, pair, p["balance_min_reflectance"])
    block_cells = max(1, p["balance_block_pixels"] // stats.cell)
    block_pixels = block_cells * stats.cell
    tile_fit = fit_blocks(A, M, block_cells, p)
    if tile_fit is None:
        entry.update(gain=None, reason="{}: no cell valid in both the mosaic and the reference".format(
            entry["modis"]))
        return entry
    lo, hi = p["balance_gain_limits"]
    if not lo <= tile_fit.tile_gain <= hi:
        entry.update(gain=None, reason="{}: tile gain {:.3f} outside the limits {}..{}; bands left "
                     "unchanged".format(entry["modis"], tile_fit.tile_gain, lo, hi))
        return entry
    group = 0 if pair.apply[0] in VNIR else 1
    fits = {}  # type: Dict[int, Fit]
    if stats.source is not None and stats.present is not None:
        for s in stats.present[group]:
            sel = stats.source[group] == s
            fit = fit_blocks(np.where(sel, A, np.nan), np.where(sel, M, np.nan), block_cells, p)
            fits[s] = fit if fit is not None and lo <= fit.tile_gain <= hi else tile_fit
    shape = arr.shape[1:]
    if not fits:
        _apply(arr, out, pair.apply, tile_fit, shape, block_pixels, None)
    elif prov is not None:
        for s, fit in fits.items():
            if (group, s) not in where_cache:
                where_cache[(group, s)] = prov[group] == s
            _apply(arr, out, pair.apply, fit, shape, block_pixels, where_cache[(group, s)])
    entry["gain"] = _summary(tile_fit.gain, tile_fit.tile_gain)
    entry["cells"] = tile_fit.cells
    entry["blocks_fitted"] = tile_fit.blocks_fitted
    entry["blocks"] = int(tile_fit.gain.size)
    if fits:
        entry["sources"] = {str(s): {"gain": _summary(f.gain, f.tile_gain), "cells": f.cells,
                                     "own_fit": f is not tile_fit} for s, f in sorted(fits.items())}
    return entry


def _apply(arr: np.ndarray, out: np.ndarray, bands: Sequence[int], fit: Fit, shape: Tuple[int, int],
           block_pixels: int, where: Optional[np.ndarray]) -> None:
    gain = smooth_field(fit.gain, shape, block_pixels)
    for b in bands:
        if where is None:
            np.multiply(arr[b], gain, out=out[b])
        else:
            np.multiply(arr[b], gain, out=out[b], where=where)


def _summary(grid: np.ndarray, tile: float) -> Dict[str, Optional[float]]:
    values = np.asarray(grid, dtype=np.float64)
    return {"tile": _round(tile), "median": _round(float(np.median(values))),
            "min": _round(float(values.min())), "max": _round(float(values.max()))}


def _round(x: float) -> Optional[float]:
    """``x`` rounded to 6 decimals; None (JSON null) when not finite."""
    return round(x, 6) if math.isfinite(x) else None


# --------------------------------------------------------------------------- shape-preserving


def tile_latitude(tile_y: int, tile_px: int = 1024, pixel_m: float = 30.0) -> float:
    """Latitude (degrees) of the centre of row ``tile_y`` of the global EPSG:3857 tile grid."""
    half = math.floor(2.0 * math.pi * EARTH_RADIUS_M / pixel_m) * pixel_m / 2.0
    y = half - (tile_y + 0.5) * tile_px * pixel_m
    return math.degrees(math.atan(math.sinh(y / EARTH_RADIUS_M)))


def ground_cell_size(shape: Tuple[int, int], factor: int, ground_pixel_m: float,
                     min_ground_m: float, at_least: int = 1) -> int:
    """Smallest cell (pixels; a multiple of ``factor`` dividing the mosaic, >= ``at_least``)
    whose ground side ``cell * ground_pixel_m`` is at least ``min_ground_m``."""
    H, W = shape
    for cell in range(factor, min(H, W) + 1, factor):
        if H % cell or W % cell or cell < at_least:
            continue
        if cell * ground_pixel_m >= min_ground_m - 1e-6:
            return cell
    raise GmiInputError("params.balance_min_cell_modis_pixels: no statistics cell of the {}x{} "
                        "mosaic is {:.0f} m of ground at {:.2f} m per pixel".format(
                            H, W, min_ground_m, ground_pixel_m))


def _cell_coords(n_cells: int, cell: int, n_pixels: int) -> np.ndarray:
    """Cell centres in tile coordinates -1 .. 1."""
    return ((np.arange(n_cells) + 0.5) * cell / n_pixels * 2.0 - 1.0).astype(np.float64)


def _pixel_coords(n_pixels: int) -> np.ndarray:
    return ((np.arange(n_pixels) + 0.5) / n_pixels * 2.0 - 1.0).astype(np.float64)


def regional_fit(A: np.ndarray, M: np.ndarray, u: np.ndarray, v: np.ndarray, outlier_mad: float,
                 min_cells: int = 12) -> Optional[Tuple[float, float, float]]:
    """Weighted (1/M) least-squares plane ``e(u, v) = a + b*u + c*v`` of ``A ~ e * M``.

    ``A``/``M``/``u``/``v`` are 1-D over usable cells; one trimming pass drops residuals beyond
    ``outlier_mad`` scaled MADs. A direction the cells span too little (std < 0.15 of the
    half-tile) gets no slope. None with fewer than ``min_cells`` cells.
    """
    keep = np.isfinite(A) & np.isfinite(M)
    if keep.sum() < min_cells:
        return None
    A, M, u, v = (np.asarray(x, dtype=np.float64)[keep] for x in (A, M, u, v))
    cols = [M]
    use = [np.std(u) >= 0.15, np.std(v) >= 0.15]
    for flag, coord in zip(use, (u, v)):
        if flag:
            cols.append(M * coord)
    X = np.stack(cols, axis=1)
    # weights 1/M: with a constant e the solution is sum(A)/sum(M), the ratio of sums of
    # robust_fit, which spatial averaging (30 m vs 500 m pixels) does not bias
    w = 1.0 / np.sqrt(np.maximum(M, 1e-6))
    sel = np.ones(len(A), dtype=bool)
    for _ in range(2):
        beta = np.linalg.lstsq(X[sel] * w[sel, None], A[sel] * w[sel], rcond=None)[0]
        if not math.isfinite(outlier_mad):
            break
        resid = A - X.dot(beta)
        dev = np.abs(resid - np.median(resid[sel]))
        mad = np.median(dev[sel])
        sel = dev <= outlier_mad * 1.4826 * mad + 1e-9
        if sel.sum() < min_cells:
            break
    coef = [float(beta[0]), 0.0, 0.0]
    k = 1
    for i, flag in enumerate(use):
        if flag:
            coef[1 + i] = float(beta[k])
            k += 1
    return coef[0], coef[1], coef[2]


def is_swir2_group(pair: Pair) -> bool:
    """Whether the entry fits MODIS b07 on several of B5..B9 (the estimator applies)."""
    return pair.modis == 6 and len(pair.fit) > 1 and set(pair.fit) <= set(SWIR[1:])


def continuum_b07(b4: np.ndarray, arr: np.ndarray, bands: Sequence[int]) -> np.ndarray:
    """Upper convex hull at 2.130 um through B4 (1.656 um) and ``arr[bands]`` (of B5..B9).

    Only B4 lies below 2.130 um, so the hull there is the highest chord from B4 to one of B5..B9:
    ``max_j (B4 + (Bj - B4) * t_j)``, ``t_j = (2.130 - 1.656) / (c_j - 1.656)``, ``c_j`` the
    band centre (:data:`ASTER_CENTRES_UM`). float32 out; NaN where any input is NaN.
    """
    c4 = ASTER_CENTRES_UM[3]
    out = None  # type: Optional[np.ndarray]
    for j in bands:
        t = np.float32((MODIS_B07_UM - c4) / (ASTER_CENTRES_UM[j] - c4))
        chord = b4 + (arr[j] - b4) * t
        out = chord if out is None else np.maximum(out, chord)
    assert out is not None
    return out.astype(np.float32, copy=False)


def swir2_value(arr: np.ndarray, pair: Pair, estimator: str, b4: Optional[np.ndarray] = None
                ) -> Tuple[np.ndarray, str]:
    """Per-pixel (or per-cell) ASTER value of a pairing entry and its description.

    For a SWIR-2 group entry (:func:`is_swir2_group`): ``"continuum"`` (:func:`continuum_b07`,
    with ``b4`` when given, e.g. B4 already balanced, else ``arr[3]``), ``"envelope"``
    (max of the fit bands) or ``"mean"``; any other entry: the mean of its fit bands.
    """
    names = ",".join(BANDS[b] for b in pair.fit)
    if is_swir2_group(pair) and estimator == "continuum":
        base = arr[3] if b4 is None else b4
        return continuum_b07(base, arr, pair.fit), "continuum hull at 2.130 um (04;" + names + ")"
    if is_swir2_group(pair) and estimator == "envelope":
        return arr[list(pair.fit)].max(axis=0), "envelope max(" + names + ")"
    return arr[list(pair.fit)].mean(axis=0), "mean(" + names + ")"


def _shape_values(arr: np.ndarray, modis: np.ndarray, pair: Pair, cell: int, estimator: str,
                  minimum: float, b4: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray, str]:
    """Cell values ``A`` (ASTER group value, per pixel then cell mean) and ``M`` (MODIS), NaN where
    either is too dark."""
    height = arr.shape[1]
    step = cell * max(1, BLOCK_ROWS // cell)  # whole cells per block
    A = np.empty((height // cell, arr.shape[2] // cell), dtype=np.float32)
    how = ""
    for r0 in range(0, height, step):  # the per-pixel values of a block stay in the CPU cache
        rows = slice(r0, r0 + step)
        value, how = swir2_value(arr[:, rows], pair, estimator, None if b4 is None else b4[rows])
        A[r0 // cell:(r0 + step) // cell] = aggregate(np.asarray(value, dtype=np.float32)[None], cell)[0]
    A, M = mask_dark(A, modis[pair.modis], minimum)
    return A, M, how


#: Rows of a tile the shape method handles at a time (about 64 x 1024 pixels: each temporary
#: fits the CPU cache). Every step is per pixel or per whole cell, so the results do not depend
#: on it.
BLOCK_ROWS = 64


def _plane_field(coef: Tuple[float, float, float], shape: Tuple[int, int],
                 rows: slice = slice(None)) -> np.ndarray:
    """Full-resolution correction ``1 / e(u, v)`` (float32) of the tile's ``rows``."""
    a, b, c = coef
    e = a + b * _pixel_coords(shape[1])[None, :] + c * _pixel_coords(shape[0])[rows, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(1.0, e, out=e).astype(np.float32)  # in place: no second float64 plane


def _plane_ok(coef: Optional[Tuple[float, float, float]], limits: Tuple[float, float]) -> bool:
    if coef is None:
        return False
    a, b, c = coef
    corners = [a + su * b + sv * c for su in (-1, 1) for sv in (-1, 1)]
    lo, hi = limits
    return all(e > 0 and lo <= 1.0 / e <= hi for e in corners)


def _balance_shape(arr: np.ndarray, ref: np.ndarray, factor: int, pairs: Sequence[Pair],
                   prov: Optional[Tuple[np.ndarray, np.ndarray]], p: Mapping[str, Any],
                   meta: Dict[str, Any], overwrite: bool = False) -> Tuple[np.ndarray, Dict[str, Any]]:
    """The shape-preserving method (docs/kernel.md): one regional plane per pairing entry.

    With ``overwrite`` a float32 ``arr`` is corrected in place (an entry that cannot be fitted
    changes nothing, so a skipped tile still returns it unchanged)."""
    shape = arr.shape[1:]
    lat = p["balance_latitude"]
    meta["latitude"] = 0.0 if lat is None else lat
    meta["latitude_assumed"] = lat is None
    ground_px = p["balance_pixel_m"] * math.cos(math.radians(meta["latitude"]))
    min_ground = p["balance_min_cell_modis_pixels"] * MODIS_PIXEL_M
    cell = ground_cell_size(shape, factor, ground_px, min_ground)
    meta.update(cell_pixels=cell, cell_ground_m=round(cell * ground_px, 3),
                regional_scale_ground_m=round(min(shape) * ground_px, 1),
                swir2_estimator=p["balance_swir2_estimator"], per_source=prov is not None)
    modis = aggregate(ref, cell // factor)
    nby, nbx = shape[0] // cell, shape[1] // cell
    u = np.broadcast_to(_cell_coords(nbx, cell, shape[1])[None, :], (nby, nbx))
    v = np.broadcast_to(_cell_coords(nby, cell, shape[0])[:, None], (nby, nbx))
    sources = None if prov is None else [_cell_source(plane, cell) for plane in prov]
    present = None if prov is None else [_sources(plane) for plane in prov]
    out = arr if overwrite and arr.dtype == np.float32 else arr.astype(np.float32, copy=True)
    grid = _ShapeGrid(modis, cell, u, v, sources, prov, present)
    entries = [_shape_entry(out, pair, grid, p) for pair in pairs]  # in order: B4 before SWIR-2
    return _finish(arr, out, pairs, entries, meta)


#: Fixed-point passes of the "continuum" estimator (each leaves <= 0.36 of the SWIR-2 error).
SHAPE_PASSES = 8
#: A pass whose correction differs from 1 by less than this everywhere ends the iteration.
SHAPE_PASS_TOLERANCE = 1e-4


class _ShapeGrid(NamedTuple):
    """The statistics cells of the shape method and the mosaic's provenance."""

    modis: np.ndarray  # (7, nby, nbx) MODIS cell means
    cell: int
    u: np.ndarray  # (nby, nbx) cell centres, tile coordinates -1..1
    v: np.ndarray
    sources: Optional[List[np.ndarray]]  # per provenance plane: the cell's granule, -3 if mixed
    prov: Optional[Tuple[np.ndarray, np.ndarray]]
    present: Optional[List[List[int]]] = None  # per provenance plane: its sources (_sources)


def _shape_entry(out: np.ndarray, pair: Pair, grid: _ShapeGrid, p: Mapping[str, Any]) -> Dict[str, Any]:
    """Fit and apply one pairing entry of the shape method in place on ``out``; its report.

    The entry's bands are multiplied by ``1 / e(u, v)`` (one plane per source). With the
    "continuum" estimator the SWIR-2 value depends on B4 (already balanced) as well as on
    B5..B9, so a gain on B5..B9 changes it by less than the gain: the fit is repeated on the
    corrected bands (fixed point, :data:`SHAPE_PASSES`) until the correction is 1.
    """
    entry = pair.to_json()  # type: Dict[str, Any]
    estimator = p["balance_swir2_estimator"]
    limits = p["balance_gain_limits"]
    iterate = is_swir2_group(pair) and estimator == "continuum" and set(pair.fit) <= set(pair.apply)
    total = np.ones(out.shape[1:], dtype=np.float32)
    covered = np.zeros(out.shape[1:], dtype=bool)
    passes, tile_total = 0, 1.0
    for n in range(SHAPE_PASSES if iterate else 1):
        A, M, how = _shape_values(out, grid.modis, pair, grid.cell, estimator,
                                  p["balance_min_reflectance"], b4=out[3])
        usable = np.isfinite(A) & np.isfinite(M)
        if n == 0:
            entry["estimator"] = how
            entry["cells"] = int(usable.sum())
            if not usable.any():
                entry.update(gain=None, reason="{}: no cell valid in both the mosaic and the "
                             "reference".format(entry["modis"]))
                return entry
        const, _ = robust_fit(A[usable][None, :], M[usable][None, :], p["balance_outlier_mad"])
        tile_gain = float(const[0])
        if not math.isfinite(tile_gain) or not limits[0] <= tile_gain <= limits[1]:
            if n == 0:
                entry.update(gain=None, reason="{}: tile gain {} outside the limits {}..{} or not "
                             "fitted; bands left unchanged".format(entry["modis"], _round(tile_gain),
                                                                   *limits))
                return entry
            break
        tile_coef, fits = _shape_planes(A, M, usable, grid, pair, p, tile_gain)
        if n == 0:
            entry["plane"] = [_round(c) for c in tile_coef]
            if fits:
                entry["sources"] = {str(s): {"plane": [_round(c) for c in coef],
                                             "gain": {"tile": _round(1.0 / coef[0])},
                                             "own_fit": coef is not tile_coef}
                                    for s, coef in sorted(fits.items())}
        change = _apply_field(out, total, covered, tile_coef, fits, grid, pair)
        tile_total *= tile_gain
        passes += 1
        if not change > SHAPE_PASS_TOLERANCE:
            break
    seen = total[covered]
    entry["passes"] = passes
    entry["gain"] = {"tile": _round(tile_total), "median": _round(float(np.median(seen))),
                     "min": _round(float(seen.min())), "max": _round(float(seen.max()))}
    return entry


def _shape_planes(A: np.ndarray, M: np.ndarray, usable: np.ndarray, grid: _ShapeGrid, pair: Pair,
                  p: Mapping[str, Any], tile_gain: float
                  ) -> Tuple[Tuple[float, float, float], Dict[int, Tuple[float, float, float]]]:
    """The tile's plane of ``A ~ e(u, v) * M`` and, with provenance, one per source."""
    limits = p["balance_gain_limits"]
    k = p["balance_outlier_mad"]
    u, v = grid.u, grid.v
    tile_coef = regional_fit(A[usable], M[usable], u[usable], v[usable], k)
    if tile_coef is None or not _plane_ok(tile_coef, limits):
        tile_coef = (1.0 / tile_gain, 0.0, 0.0)
    fits = {}  # type: Dict[int, Tuple[float, float, float]]
    if grid.sources is not None and grid.prov is not None:
        group = 0 if pair.apply[0] in VNIR else 1
        present = grid.present[group] if grid.present is not None else _sources(grid.prov[group])
        for s in present:
            sel = usable & (grid.sources[group] == s)
            coef = regional_fit(A[sel], M[sel], u[sel], v[sel], k)
            fits[s] = coef if coef is not None and _plane_ok(coef, limits) else tile_coef
    return tile_coef, fits


def _combined_field(tile_coef: Tuple[float, float, float], fits: Mapping[int, Tuple[float, float, float]],
                    grid: _ShapeGrid, pair: Pair, covered: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
    """Per-pixel correction of the tile's ``rows``: the tile plane, or each pixel's own source
    plane (1 elsewhere).

    Marks the pixels that get a correction in ``covered`` (the whole tile's mask).
    """
    shape = covered.shape
    if not fits or grid.prov is None:
        covered[rows] = True
        return _plane_field(tile_coef, shape, rows)
    group = 0 if pair.apply[0] in VNIR else 1
    sources = grid.prov[group][rows]
    field = np.ones(sources.shape, dtype=np.float32)
    for s, coef in fits.items():
        where = sources == s
        np.copyto(field, _plane_field(coef, shape, rows), where=where)
        covered[rows] |= where
    return field


def _apply_field(out: np.ndarray, total: np.ndarray, covered: np.ndarray, tile_coef: Tuple[float, float, float],
                 fits: Mapping[int, Tuple[float, float, float]], grid: _ShapeGrid, pair: Pair) -> float:
    """Multiply the entry's bands of ``out`` and ``total`` by the correction, block by block;
    returns its largest change ``|field - 1|`` over the corrected pixels (-inf: none, NaN ignored)."""
    change = -math.inf
    for r0 in range(0, out.shape[1], BLOCK_ROWS):
        rows = slice(r0, r0 + BLOCK_ROWS)
        field = _combined_field(tile_coef, fits, grid, pair, covered, rows)
        for b in pair.apply:
            out[b, rows] *= field
        total[rows] *= field
        with np.errstate(invalid="ignore"):
            block = np.fmax.reduce(np.abs(field - 1.0), axis=None, where=covered[rows], initial=-np.inf)
        change = max(change, float(block))
    return change
