"""The single entry point of the compute kernel: ``run(method, rows, params) -> result rows``.

Every backend (the local process pool, the MaxCompute UDTF) calls :func:`run` with the source
rows of ONE tile, sorted by acquisition, as plain dicts (decoded arrays, parsed JSON):

``{"granule_id", "tile_x", "tile_y", "acquired" (ISO text), "bbox": (min_row, max_row, min_col,
max_col) inclusive, "bands": {"b01": uint8 array, ...}, "meta": {... "incl": {"b01": ucc},
"gains": {...}, "sun_elevation"}, "ac": {"bands": {"b01": {"xa", "xb", "xc"}}, ...} or {},
"modis": {"m01": int16 array, ...} or {}, "quality": {"swir_usable": bool, "cloud_cover": ...}}``

and gets result dicts ``{"tile_x", "tile_y", "method", "output", "data", "meta"}`` back.

Methods (those of the reference CLI): ``mosaic`` (9 surface-reflectance bands, the provenance
band and a valid mask), ``color_balancing`` (the granules normalized to each other on their
overlap, mosaicked, and balanced per band to MOD09A1) and ``mineral_indices`` (the index library
on the balanced mosaic, or on the plain mosaic when ``balance`` is false; with no MODIS reference
only the overlap normalization applies). Indices that read both a VNIR and a SWIR band are NaN
where the mosaic took the two groups from different granules, unless the mosaic parameter
``allow_mixed_provenance`` is true. Python 3.7 syntax, numpy + stdlib only.
"""
import hashlib
import json
from datetime import datetime
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from gmi_engine.kernel import KERNEL_VERSION
from gmi_engine.kernel.bands import BAND_COLUMNS, BANDS, band_index
from gmi_engine.kernel.errors import GmiInputError
from gmi_engine.kernel.fields import FieldPlan, decode_field, surface_reflectance_field
from gmi_engine.kernel.masks import finite_masks
from gmi_engine.kernel.radiometry import (
    dn_array,
    dn_to_radiance,
    radiance_table,
    surface_reflectance,
    toa_reflectance,
    unit_conversion_coefficient,
)
from gmi_engine.kernel.records import MASK_OUTPUT, MODIS_BANDS
from gmi_engine.kernel.thermal import decode_bt13

METHODS = ("mosaic", "color_balancing", "mineral_indices")
PROVENANCE_OUTPUTS = ("provenance_vnir", "provenance_swir")
DEFAULT_PARAMS = {
    "tile_px": 1024,
    "strategy": "best-pixel",
    "balance": True,
    "indices": None,
    "mosaic": None,
    "balancing": None,
}  # type: Dict[str, Any]


def merged_params(params: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The defaults updated with ``params``; unknown keys are errors."""
    out = dict(DEFAULT_PARAMS)
    for key, value in (params or {}).items():
        if key not in DEFAULT_PARAMS:
            raise GmiInputError("params: unknown key {!r} (known: {})".format(
                key, ", ".join(sorted(DEFAULT_PARAMS))))
        out[key] = value
    return out


def _day_of_year(acquired: str) -> int:
    return datetime.strptime(acquired[:10], "%Y-%m-%d").timetuple().tm_yday


def row_reflectance(row: Mapping[str, Any], tile_px: int = 1024) -> Tuple[np.ndarray, str]:
    """(9, tile_px, tile_px) float32 reflectance of one source row (NaN = no data) and its kind.

    The kind is ``"surface"`` when the row carries 6S coefficients, else ``"toa"`` (the
    documented fallback: TOA reflectance with the 6S band irradiances). Radiance uses the row's
    INCL when present, the handbook coefficient of the band's gain otherwise.
    """
    r0, r1, c0, c1 = (int(v) for v in row["bbox"])
    meta = row.get("meta") or {}
    incl = meta.get("incl") or {}
    gains = meta.get("gains") or {}
    coeffs = (row.get("ac") or {}).get("bands")
    kind = "surface" if coeffs else "toa"
    field = decode_field(row.get("ac")) if coeffs else None
    bbox = (r0, r1, c0, c1)
    plan = FieldPlan(bbox, field.shape[2], tile_px) if field is not None else None
    out = _nan_outside(len(BANDS), tile_px, bbox, {BAND_COLUMNS.index(c) for c in row["bands"]})
    for column, dn in sorted(row["bands"].items()):
        k = BAND_COLUMNS.index(column)
        ucc = unit_conversion_coefficient(BANDS[k], gains.get(column, "NOR"), incl.get(column))
        if field is not None:  # radiance, coefficients and formula strip by strip, into the output
            surface_reflectance_field(dn_array(dn), radiance_table(ucc), field[:, k], plan,
                                      out[k, r0:r1 + 1, c0:c1 + 1])
            continue
        radiance = dn_to_radiance(dn, ucc)
        if coeffs:
            c = coeffs[column]
            refl = surface_reflectance(radiance, c["xa"], c["xb"], c["xc"])
        else:
            zenith = 90.0 - float(meta["sun_elevation"])
            refl = toa_reflectance(radiance, BANDS[k], zenith, _day_of_year(row["acquired"]))
        out[k, r0:r1 + 1, c0:c1 + 1] = refl
    return out, kind


def _nan_outside(bands: int, tile_px: int, bbox: Tuple[int, int, int, int],
                 written: Iterable[int]) -> np.ndarray:
    """A ``(bands, tile_px, tile_px)`` float32 array, NaN except inside ``bbox`` of the bands
    ``written`` (left uninitialised there: :func:`row_reflectance` writes every pixel of the bbox
    of those bands). A bbox that is not inside the tile gets the whole array NaN."""
    r0, r1, c0, c1 = bbox
    if not (0 <= r0 <= r1 < tile_px and 0 <= c0 <= c1 < tile_px):
        return np.full((bands, tile_px, tile_px), np.nan, dtype=np.float32)
    out = np.empty((bands, tile_px, tile_px), dtype=np.float32)
    inside = set(written)
    for k in range(bands):
        if k not in inside:
            out[k] = np.nan
            continue
        out[k, :r0] = np.nan
        out[k, r1 + 1:] = np.nan
        out[k, r0:r1 + 1, :c0] = np.nan
        out[k, r0:r1 + 1, c1 + 1:] = np.nan
    return out


def _granule_info(row: Mapping[str, Any]) -> Dict[str, Any]:
    quality = row.get("quality") or {}
    return {
        "granule_id": row["granule_id"],
        "acquired": row["acquired"],
        "cloud_cover": quality.get("cloud_cover"),
        "swir_usable": bool(quality.get("swir_usable", True)),
    }


def _reference(rows: Sequence[Mapping[str, Any]]) -> Optional[np.ndarray]:
    """The tile's MOD09A1 reference (7, n, n) int16 from the first row that carries one."""
    for row in rows:
        modis = row.get("modis") or {}
        if len(modis) == len(MODIS_BANDS):
            return np.stack([modis[name] for name in MODIS_BANDS])
    return None


def _stack(rows: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
           ) -> Tuple[List[np.ndarray], List[Dict[str, Any]], List[str]]:
    """Reflectance, granule info and reflectance kind of every row."""
    stack, infos, kinds = [], [], []
    for row in rows:
        refl, kind = row_reflectance(row, int(params["tile_px"]))
        stack.append(refl)
        info = _granule_info(row)
        bt13 = decode_bt13(row.get("quality"), int(params["tile_px"]))
        if bt13 is not None:  # the thermal cloud test (kernel/masks.py) gets the granule's BT13
            info["bt13"] = bt13
        infos.append(info)
        kinds.append(kind)
    return stack, infos, kinds


def _mosaic(rows: Sequence[Mapping[str, Any]], params: Mapping[str, Any],
            stack: Optional[Tuple[List[np.ndarray], List[Dict[str, Any]], List[str]]] = None
            ) -> Tuple[np.ndarray, np.ndarray, Dict[str, Any]]:
    """Reflectance of every row (or the given ``stack``), then the mosaic (masks applied inside).

    The stack's arrays are used up: the mosaic may be written into one of them.
    """
    from gmi_engine.kernel.mosaic import mosaic

    arrays, infos, kinds = stack if stack is not None else _stack(rows, params)
    result, provenance, meta = mosaic(arrays, infos, strategy=params["strategy"],
                                      params=params["mosaic"], reuse_stack=True)
    return result, provenance, {"mosaic": meta, "reflectance": sorted(set(kinds))}


def _balanced(rows: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
              ) -> Tuple[np.ndarray, np.ndarray, Dict[str, Any]]:
    """The granules normalized to each other on their overlap (kernel/overlap.py), mosaicked,
    and balanced per band to the tile's MOD09A1 reference (skipped without one)."""
    from gmi_engine.kernel.balance import balance, tile_latitude
    from gmi_engine.kernel.overlap import normalize

    arrays, infos, kinds = _stack(rows, params)
    reference = _reference(rows)
    arrays, overlap_meta = normalize(arrays, reference, params["balancing"], infos)
    result, provenance, meta = _mosaic(rows, params, (arrays, infos, kinds))
    del arrays
    balancing = dict(params["balancing"] or {})
    if balancing.get("balance_latitude") is None:  # ground size of the statistics cells
        balancing["balance_latitude"] = tile_latitude(int(rows[0]["tile_y"]), int(params["tile_px"]))
    balanced, meta["balancing"] = balance(result, reference, balancing, provenance, overwrite=True)
    del result  # corrected in place
    meta["balancing"]["overlap"] = overlap_meta
    return balanced, provenance, meta


def _common_meta(method: str, rows: Sequence[Mapping[str, Any]], params: Mapping[str, Any],
                 step_meta: Mapping[str, Any]) -> Dict[str, Any]:
    granules = []
    for row in rows:
        ac = row.get("ac") or {}
        granules.append({
            "granule_id": row["granule_id"],
            "acquired": row["acquired"],
            "swir_usable": bool((row.get("quality") or {}).get("swir_usable", True)),
            "ac_source": ac.get("source"),
            "ac_state": ac.get("state"),
            # 6S inputs that came from a default, not data (ingest.DEFAULTABLE_INPUTS)
            "ac_defaults": list((ac.get("inputs") or {}).get("defaults") or []),
        })
    return {
        "method": method,
        "kernel_version": KERNEL_VERSION,
        "params": dict(params),
        "granules": granules,
        "steps": json.loads(json.dumps(step_meta, sort_keys=True, default=float)),
    }


def inputs_digest(rows: Sequence[Mapping[str, Any]], method: str,
                  params: Optional[Mapping[str, Any]] = None) -> str:
    """sha256 of everything that determines a tile's results: rows, method, params, kernel.

    Computed on the kernel's row dicts, so every backend gets the same digest for the same
    inputs (the local runner uses it to skip tiles that are up to date).
    """
    return ordered_inputs_digest(sorted(rows, key=_digest_order), method, params)


def ordered_inputs_digest(rows: Iterable[Mapping[str, Any]], method: str,
                          params: Optional[Mapping[str, Any]] = None) -> str:
    """:func:`inputs_digest` of rows that come sorted by (acquired, granule_id), one at a time.

    Each row is hashed as it arrives and can be dropped after, so a tile's digest needs the
    memory of one row instead of all of them (what a store's ordered query yields).
    """
    h = hashlib.sha256()
    h.update(json.dumps({"method": method, "params": merged_params(params),
                         "kernel": KERNEL_VERSION}, sort_keys=True).encode())
    previous = None  # type: Optional[Tuple[str, str]]
    for row in rows:
        order = _digest_order(row)
        if previous is not None and order < previous:
            raise GmiInputError("inputs digest: row {} at {} comes after {} at {}; rows must be sorted "
                                "by (acquired, granule_id)".format(order[1], order[0], previous[1], previous[0]))
        previous = order
        h.update(json.dumps([row["granule_id"], row["acquired"], [int(v) for v in row["bbox"]],
                             row.get("meta"), row.get("ac"), row.get("quality")],
                            sort_keys=True).encode())
        for group in ("bands", "modis"):
            arrays = row.get(group) or {}
            for name in sorted(arrays):
                h.update(name.encode() + np.ascontiguousarray(arrays[name]).tobytes())
        del row, arrays  # not held while the next row is decoded
    return h.hexdigest()


def _digest_order(row: Mapping[str, Any]) -> Tuple[str, str]:
    return row["acquired"], row["granule_id"]


def _result(tile: Tuple[int, int], method: str, output: str, data: np.ndarray,
            meta: Mapping[str, Any]) -> Dict[str, Any]:
    return {"tile_x": tile[0], "tile_y": tile[1], "method": method, "output": output,
            "data": data, "meta": meta}


def _same_source(provenance: np.ndarray, mosaic_meta: Mapping[str, Any]) -> Any:
    """True, or per pixel False where VNIR and SWIR come from two granules (mixed provenance).

    With the mosaic parameter ``allow_mixed_provenance`` true, or where no pixel is mixed, True.
    """
    from gmi_engine.kernel.mosaic import mixed_provenance

    if mosaic_meta["params"]["allow_mixed_provenance"] or not mosaic_meta["mixed_provenance_fraction"]:
        return True
    return ~mixed_provenance(provenance)


def run(method: str, rows: Sequence[Mapping[str, Any]],
        params: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
    """Compute ``method`` for the source rows of one tile; returns the result rows."""
    if method not in METHODS:
        raise GmiInputError("method: {!r} is not one of {}".format(method, ", ".join(METHODS)))
    if not rows:
        raise GmiInputError("run({}): no source rows".format(method))
    tiles = {(int(r["tile_x"]), int(r["tile_y"])) for r in rows}
    if len(tiles) != 1:
        raise GmiInputError("run({}): rows of several tiles {}".format(method, sorted(tiles)))
    tile = tiles.pop()
    rows = sorted(rows, key=lambda r: (r["acquired"], r["granule_id"]))
    p = merged_params(params)
    use_balance = method == "color_balancing" or (method == "mineral_indices" and p["balance"])
    if use_balance:
        refl, provenance, step_meta = _balanced(rows, p)
    else:
        refl, provenance, step_meta = _mosaic(rows, p)
    meta = _common_meta(method, rows, p, step_meta)
    swir_bands = range(band_index("04"), refl.shape[0]) if method == "mineral_indices" else None
    finite, swir_ok = finite_masks(refl, swir_bands)
    valid = finite.view(np.uint8)  # bool is one byte of 0 or 1
    out = []
    if method == "mineral_indices":
        from gmi_engine.kernel.indices import compute_indices

        indices = compute_indices(refl, ids=p["indices"], swir_usable=swir_ok,
                                  same_source=_same_source(provenance, step_meta["mosaic"]))
        for index_id, data in indices.items():
            out.append(_result(tile, method, index_id, data, meta))
    else:
        for k, column in enumerate(BAND_COLUMNS):
            out.append(_result(tile, method, column, refl[k], meta))
        for plane, name in enumerate(PROVENANCE_OUTPUTS):
            out.append(_result(tile, method, name, provenance[plane], meta))
    out.append(_result(tile, method, MASK_OUTPUT, valid, meta))
    return out
