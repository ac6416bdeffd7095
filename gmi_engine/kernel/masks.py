"""Per-granule pixel masks on 9-band surface reflectance ``(9, H, W)`` float32, NaN = no data.

Every function here returns boolean ``(H, W)`` masks (True = the property holds) except
:func:`swir_unusable`, which returns reflectance. The rules and their default thresholds are
documented in ``docs/kernel.md``; all thresholds are reflectance (0..1) and can be overridden
through the ``params`` mapping with the keys of :data:`MASK_DEFAULTS`.

Cloud test (reflectance thresholds, plus band 13 when it is given): a pixel is cloud when it is

- bright in green: ``B1 >= cloud_b1_min`` (0.60),
- spectrally flat in the VNIR: ``B2/B1`` and ``B3N/B2`` both in ``[cloud_flat_min,
  cloud_flat_max]`` (0.80 .. 1.25),
- bright at 1.65 um: ``B4 >= cloud_b4_min`` (0.45) -- applied only where B4 is usable (finite
  and the granule's SWIR is healthy), so post-2008 granules are tested on the VNIR alone,
- cold in the thermal infrared: band-13 brightness temperature ``BT13 <= cloud_bt13_max``
  (290 K) -- applied only where a finite BT13 is given (daytime L1T carries TIR),

then grown by ``cloud_buffer`` pixels (2). Without BT13, white salt/gypsum flats and bleached
clays on sunlit slopes (bright and flat) are flagged -- the limit of a reflectance-only test; the
thermal test removes them: in daytime they are warm (> 292 K on the porphyry test scene), while
cloud tops >= 1.5 km above a 300 K ground are below 290 K at the 6.5 K/km lapse rate. The 290 K
default is chosen for that scene and is a parameter; cold-season ground or warm low cloud need
another value.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .errors import GmiInputError

N_BANDS = 9
VNIR = (0, 1, 2)
SWIR = (3, 4, 5, 6, 7, 8)
B1, B2, B3N, B4 = 0, 1, 2, 3
#: Planck constants K1 (W m-2 sr-1 um-1) and K2 (K) of ASTER band 13 (science.md section 1.4).
B13_K1, B13_K2 = 866.468575, 1350.069147

#: Default thresholds (reflectance) and sizes (pixels) of the masks.
MASK_DEFAULTS = {
    "cloud_b1_min": 0.60,
    "cloud_flat_min": 0.80,
    "cloud_flat_max": 1.25,
    "cloud_b4_min": 0.45,
    "cloud_bt13_max": 290.0,
    "cloud_buffer": 2,
    "ndwi_min": 0.20,
    "ndvi_min": 0.40,
    "erode_pixels": 2,
}  # type: Dict[str, Any]


class GranuleMasks(NamedTuple):
    """Masks of one granule on one tile (all ``(H, W)`` bool)."""

    vnir: np.ndarray  # B1, B2, B3N all finite, border eroded
    swir: np.ndarray  # B4..B9 all finite, border eroded, granule SWIR healthy
    cloud: np.ndarray  # cloud (buffered), only where ``vnir`` holds


def mask_params(params: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """:data:`MASK_DEFAULTS` updated with the mask keys of ``params`` (other keys are ignored)."""
    out = dict(MASK_DEFAULTS)
    for key, value in (params or {}).items():
        if key in MASK_DEFAULTS and value is not None:
            out[key] = value
    for key in ("cloud_buffer", "erode_pixels"):
        out[key] = _pixels(out[key], key)
    for key in MASK_DEFAULTS:
        if key not in ("cloud_buffer", "erode_pixels"):
            try:
                out[key] = float(out[key])
            except (TypeError, ValueError):
                raise GmiInputError("params.{}: {!r} is not a number".format(key, out[key]))
    return out


def _pixels(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise GmiInputError("params.{}: {!r} is not a non-negative whole number of pixels".format(
            name, value))
    return int(value)


def check_reflectance(refl: np.ndarray, name: str = "refl") -> np.ndarray:
    """``refl`` as an array of shape ``(9, H, W)``; raises GmiInputError otherwise."""
    arr = np.asarray(refl)
    if arr.ndim != 3 or arr.shape[0] != N_BANDS:
        raise GmiInputError("{}: expected shape (9, H, W), got {}".format(name, arr.shape))
    if arr.dtype.kind != "f":
        raise GmiInputError("{}: expected float reflectance, got dtype {}".format(name, arr.dtype))
    return arr


#: Pixels per row block of the band loops (:func:`row_blocks`): a float32 band block is 256 KiB,
#: so it and the bool blocks of the masks stay in the CPU cache instead of full-size temporaries.
BLOCK_PIXELS = 65536


def _block_rows(width: int) -> int:
    return max(1, BLOCK_PIXELS // max(1, width))


def row_blocks(shape: Tuple[int, ...]) -> List[slice]:
    """Row slices of about :data:`BLOCK_PIXELS` pixels each that together cover an ``(H, W)`` grid."""
    rows = _block_rows(shape[1])
    return [slice(r0, r0 + rows) for r0 in range(0, shape[0], rows)]


def block_scratch(shape: Tuple[int, ...], dtype: Any = bool) -> np.ndarray:
    """An uninitialised array the size of the largest :func:`row_blocks` block of ``shape``."""
    return np.empty((min(shape[0], _block_rows(shape[1])), shape[1]), dtype=dtype)


def valid_mask(refl: np.ndarray, bands: Sequence[int] = tuple(range(N_BANDS))) -> np.ndarray:
    """True where every band of ``bands`` (indices 0..8) is finite."""
    arr = check_reflectance(refl)
    first, *rest = list(bands) or [None]
    out = np.empty(arr.shape[1:], dtype=bool)
    finite = block_scratch(out.shape)
    for block in row_blocks(out.shape):
        part = out[block]
        if first is None:
            part.fill(True)
            continue
        np.isfinite(arr[first, block], out=part)
        scratch = finite[:part.shape[0]]
        for b in rest:
            part &= np.isfinite(arr[b, block], out=scratch)
    return out


def finite_masks(refl: np.ndarray, every: Optional[Sequence[int]] = None
                 ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """``(some, all)`` of ``refl`` ``(bands, H, W)`` in one pass over the bands: True where at
    least one band is finite, and where every band of ``every`` (indices) is (None without it)."""
    arr = np.asarray(refl)
    if arr.ndim != 3:
        raise GmiInputError("refl: expected shape (bands, H, W), got {}".format(arr.shape))
    some = np.zeros(arr.shape[1:], dtype=bool)
    wanted = None if every is None else set(every)
    every_ok = None if wanted is None else np.ones(arr.shape[1:], dtype=bool)
    finite = block_scratch(some.shape)
    for block in row_blocks(some.shape):
        some_b = some[block]
        scratch = finite[:some_b.shape[0]]
        for k, band in enumerate(arr):
            some_b |= np.isfinite(band[block], out=scratch)
            if wanted is not None and k in wanted:
                every_ok[block] &= scratch
    return some, every_ok


def swir_unusable(refl: np.ndarray, swir_usable: bool, inplace: bool = False) -> np.ndarray:
    """Reflectance with the SWIR bands (B4..B9) set to NaN when ``swir_usable`` is False.

    Returns a new array unless ``inplace`` is True, in which case ``refl`` itself is changed and
    returned. With ``swir_usable`` True the data are returned unchanged (a copy unless inplace).
    """
    arr = check_reflectance(refl)
    out = arr if inplace else arr.copy()
    if not swir_usable:
        out[SWIR[0]:] = np.nan
    return out


def brightness_temperature_b13(radiance: np.ndarray) -> np.ndarray:
    """Band-13 brightness temperature (K, float32) from radiance: ``K2 / ln(K1 / L + 1)``; NaN if L <= 0."""
    rad = np.asarray(radiance, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = B13_K2 / np.log(B13_K1 / rad + 1.0)
    out[~(rad > 0)] = np.nan
    return out.astype(np.float32)


def cloud_mask(refl: np.ndarray, params: Optional[Mapping[str, Any]] = None,
               swir_usable: bool = True, bt13: Optional[np.ndarray] = None) -> np.ndarray:
    """Cloud pixels by the rule of the module docstring (buffered).

    ``bt13``: band-13 brightness temperature (K) on the same ``(H, W)`` grid, NaN where unknown;
    None (or NaN) leaves the reflectance tests alone to decide.
    """
    arr = check_reflectance(refl)
    p = mask_params(params)
    b1, b2, b3 = arr[B1], arr[B2], arr[B3N]
    lo, hi = np.float32(p["cloud_flat_min"]), np.float32(p["cloud_flat_max"])
    with np.errstate(divide="ignore", invalid="ignore"):
        cloud = b1 >= np.float32(p["cloud_b1_min"])
        if not cloud.any():
            return cloud
        ratio = b2 / b1
        cloud &= (ratio >= lo) & (ratio <= hi)
        np.divide(b3, b2, out=ratio)
        cloud &= (ratio >= lo) & (ratio <= hi)
        if swir_usable:
            b4 = arr[B4]
            cloud &= (b4 >= np.float32(p["cloud_b4_min"])) | ~np.isfinite(b4)
        if bt13 is not None:
            bt = np.asarray(bt13)
            if bt.shape != cloud.shape:
                raise GmiInputError("bt13: expected shape {}, got {}".format(cloud.shape, bt.shape))
            cloud &= (bt <= np.float32(p["cloud_bt13_max"])) | ~np.isfinite(bt)
    return dilate(cloud, p["cloud_buffer"])


def normalised_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a - b) / (a + b)`` as float32; NaN where either is NaN or the sum is ~0."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    total = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - b) / total
    out[np.abs(total) < np.float32(1e-6)] = np.nan
    return out


def water_mask(refl: np.ndarray, params: Optional[Mapping[str, Any]] = None) -> np.ndarray:
    """Open water: NDWI ``(B1 - B3N) / (B1 + B3N) > ndwi_min`` (McFeeters' green/NIR form)."""
    arr = check_reflectance(refl)
    ndwi = normalised_difference(arr[B1], arr[B3N])
    with np.errstate(invalid="ignore"):
        return ndwi > np.float32(mask_params(params)["ndwi_min"])


def vegetation_mask(refl: np.ndarray, params: Optional[Mapping[str, Any]] = None) -> np.ndarray:
    """Green vegetation: NDVI ``(B3N - B2) / (B3N + B2) > ndvi_min``."""
    arr = check_reflectance(refl)
    ndvi = normalised_difference(arr[B3N], arr[B2])
    with np.errstate(invalid="ignore"):
        return ndvi > np.float32(mask_params(params)["ndvi_min"])


def _shift_and(out: np.ndarray, src: np.ndarray, k: int, axis: int) -> None:
    """``out &= src`` shifted by +k and -k along ``axis`` (values past the edge count as True)."""
    n = src.shape[axis]
    if k >= n:
        return
    lead = [slice(None)] * 2
    trail = [slice(None)] * 2
    lead[axis], trail[axis] = slice(k, None), slice(None, n - k)
    out[tuple(lead)] &= src[tuple(trail)]
    out[tuple(trail)] &= src[tuple(lead)]


def erode_edges(valid: np.ndarray, pixels: int = 2) -> np.ndarray:
    """Shrink the True region by ``pixels`` (square neighbourhood, Chebyshev distance).

    A pixel stays True only if every pixel within ``pixels`` rows and columns of it is True.
    Pixels beyond the array edge count as True: the tile border cuts a granule arbitrarily and
    is not a granule edge, so data are not lost at tile edges.
    """
    n = _pixels(pixels, "erode_pixels")
    src = np.asarray(valid, dtype=bool)
    if src.ndim != 2:
        raise GmiInputError("valid: expected a 2-D mask, got shape {}".format(src.shape))
    if n == 0:
        return src.copy()
    height = src.shape[0]
    out = np.empty_like(src)
    scratch = block_scratch(src.shape)
    for block in row_blocks(src.shape):  # rows first, in a cached block; then columns, into out
        r0, r1 = block.start, min(block.stop, height)
        rows = scratch[:r1 - r0]
        np.copyto(rows, src[r0:r1])
        for k in range(1, n + 1):
            first = max(0, k - r0)  # block rows with a row k above them in the array
            if first < r1 - r0:
                rows[first:] &= src[r0 + first - k:r1 - k]
            stop = max(0, min(r1, height - k) - r0)  # block rows with a row k below them
            rows[:stop] &= src[r0 + k:r0 + k + stop]
        target = out[r0:r1]
        np.copyto(target, rows)
        for k in range(1, n + 1):
            _shift_and(target, rows, k, 1)
    return out


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Grow the True region by ``pixels`` (square neighbourhood); the complement of erosion."""
    src = np.asarray(mask, dtype=bool)
    if _pixels(pixels, "cloud_buffer") == 0:
        return src
    return ~erode_edges(~src, pixels)


def granule_masks(refl: np.ndarray, swir_usable: bool,
                  params: Optional[Mapping[str, Any]] = None,
                  bt13: Optional[np.ndarray] = None) -> GranuleMasks:
    """The VNIR / SWIR validity (eroded by ``erode_pixels``) and cloud masks of one granule.

    ``bt13`` (K, optional) enables the thermal cloud test, see :func:`cloud_mask`.
    """
    arr = check_reflectance(refl)
    p = mask_params(params)
    vnir = erode_edges(valid_mask(arr, VNIR), p["erode_pixels"])
    if swir_usable:
        swir = erode_edges(valid_mask(arr, SWIR), p["erode_pixels"])
    else:
        swir = np.zeros(arr.shape[1:], dtype=bool)
    cloud = cloud_mask(arr, p, swir_usable=bool(swir_usable), bt13=bt13) & vnir
    return GranuleMasks(vnir=vnir, swir=swir, cloud=cloud)
