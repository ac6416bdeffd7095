"""AOD at 550 nm and column water vapour for a tile from MCD19A2 (MAIAC) files.

For each file the grid1km ``Optical_Depth_055``, ``Column_WV`` and ``AOD_QA`` are read over the
sinusoidal window covering the area; the 1 km pixels whose centres fall inside the EPSG:3857
bounds are kept (every pixel counts once; the pixel holding the area's centre when the area is
smaller than a pixel). Values are ``raw * scale_factor + add_offset`` (GDAL's GetScale/GetOffset).

Rules (documented choices):

- AOD is used where raw != -28672, the cloud mask (bits 0-2) is 1 (clear) and the AOD QA
  (bits 8-11) is 0 (best). Pixels next to clouds carry inflated AOD and a non-best QA.
- Water vapour is used where raw != -28672 and the cloud mask is clear; over clouds MAIAC reports
  the vapour above the cloud, which is not the column 6S needs. The AOD QA does not apply to it.
- AOD 0 (and slightly negative values, valid range from -0.1) is a valid retrieval: the reference
  engine's "0 means missing" rule would drop the cleanest air and bias clean tiles high. The mean
  may therefore be <= 0; the 6S stage clamps it into its LUT envelope.
- The value is the mean over the kept pixels of the Terra orbit(s) nearest the ASTER overpass
  (ASTER flies on Terra); when no Terra orbit has a kept pixel, over every orbit, recorded as a
  fallback in ``detail['orbit_selection']``. Without an overpass time, over every orbit.
- When nothing is kept: AOD :data:`DEFAULT_AOD550` = 0.1 (a continental clear-sky background, the
  mid-point of typical rural AOD550 0.05-0.15) and water vapour :data:`DEFAULT_WATER_VAPOUR` =
  1.5 cm (= g/cm², close to the 1.42 cm of the US-1962 standard atmosphere), with a
  ``"default: <reason>"`` source.
"""
from __future__ import annotations

import datetime as _dt
import functools
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, List, Optional, Tuple

import numpy as np
from pyproj import CRS, Transformer

from gmi_engine.ancillary import Sample, as_bounds, existing_files, open_gdal
from gmi_engine.errors import GmiFileError

DEFAULT_AOD550 = 0.1
DEFAULT_WATER_VAPOUR = 1.5
FILL = -28672
CLOUD_CLEAR = 1
AOD_QA_BEST = 0
GRID = "grid1km"


def cloud_mask(qa: np.ndarray) -> np.ndarray:
    """Cloud mask code of AOD_QA (bits 0-2): 1 clear, 2 possibly cloudy, 3 cloudy, 5 shadow…"""
    return np.asarray(qa, dtype=np.uint16) & 0b111


def aod_quality(qa: np.ndarray) -> np.ndarray:
    """AOD QA code of AOD_QA (bits 8-11): 0 best, 3/4 neighbouring clouds, 5 no retrieval…"""
    return (np.asarray(qa, dtype=np.uint16) >> 8) & 0b1111


def _subdataset(path: str, field: str) -> str:
    return 'HDF4_EOS:EOS_GRID:"{}":{}:{}'.format(path, GRID, field)


def _window(ds, bounds: Tuple[float, float, float, float], to_src: Transformer) -> Tuple[int, int, int, int]:
    """(xoff, yoff, xsize, ysize) of the raster window covering the bounds (may be empty)."""
    xmin, ymin, xmax, ymax = bounds
    t = np.linspace(0.0, 1.0, 33)
    along_x, along_y = xmin + (xmax - xmin) * t, ymin + (ymax - ymin) * t
    ex = np.concatenate([along_x, np.full(33, xmax), along_x[::-1], np.full(33, xmin)])
    ey = np.concatenate([np.full(33, ymin), along_y, np.full(33, ymax), along_y[::-1]])
    sx, sy = to_src.transform(ex, ey)
    ok = np.isfinite(sx) & np.isfinite(sy)
    if not ok.any():
        return 0, 0, 0, 0
    gt = ds.GetGeoTransform()
    cols = (np.asarray(sx)[ok] - gt[0]) / gt[1]
    rows = (np.asarray(sy)[ok] - gt[3]) / gt[5]
    c0 = int(np.clip(np.floor(cols.min()) - 1, 0, ds.RasterXSize))
    c1 = int(np.clip(np.ceil(cols.max()) + 1, 0, ds.RasterXSize))
    r0 = int(np.clip(np.floor(rows.min()) - 1, 0, ds.RasterYSize))
    r1 = int(np.clip(np.ceil(rows.max()) + 1, 0, ds.RasterYSize))
    return c0, r0, max(0, c1 - c0), max(0, r1 - r0)


def _read_window(ds, win: Tuple[int, int, int, int]) -> np.ndarray:
    arr = ds.ReadAsArray(*win)
    if arr is None:
        raise GmiFileError("{}: cannot read window {}".format(ds.GetDescription(), win))
    return arr.reshape((ds.RasterCount, win[3], win[2]))


@functools.lru_cache(maxsize=8)
def _transformers(wkt: str) -> Tuple[Transformer, Transformer]:
    """(EPSG:3857 -> grid CRS, grid CRS -> EPSG:3857), made once per CRS (each costs ~15 ms)."""
    src = CRS.from_wkt(wkt)
    return (Transformer.from_crs("EPSG:3857", src, always_xy=True),
            Transformer.from_crs(src, "EPSG:3857", always_xy=True))


#: Side (pixels) of the blocks MCD19A2 windows are read in and cached by: the tile sample and the
#: field-node sample of one tile (and neighbouring tiles) share their blocks instead of re-reading.
_BLOCK = 64


@functools.lru_cache(maxsize=24)
def _open_field(path: str, mtime_ns: int, field: str):
    """One grid1km field of an MCD19A2 file, opened once per file version."""
    return open_gdal(_subdataset(path, field), "MCD19A2 field grid1km:{}".format(field))


@functools.lru_cache(maxsize=256)
def _block(path: str, mtime_ns: int, field: str, bx: int, by: int) -> np.ndarray:
    """Block (bx, by) of a field, all orbits: (orbits, <= _BLOCK, <= _BLOCK), read once."""
    ds = _open_field(path, mtime_ns, field)
    x0, y0 = bx * _BLOCK, by * _BLOCK
    return _read_window(ds, (x0, y0, min(_BLOCK, ds.RasterXSize - x0), min(_BLOCK, ds.RasterYSize - y0)))


def _read_blocks(path: str, mtime_ns: int, field: str, win: Tuple[int, int, int, int]) -> np.ndarray:
    """The window ``win`` of a field (orbits, rows, cols), assembled from cached blocks."""
    c0, r0, w, h = win
    parts = []
    for by in range(r0 // _BLOCK, (r0 + h - 1) // _BLOCK + 1):
        row = [_block(path, mtime_ns, field, bx, by) for bx in range(c0 // _BLOCK, (c0 + w - 1) // _BLOCK + 1)]
        parts.append(np.concatenate(row, axis=2))
    full = np.concatenate(parts, axis=1)
    y, x = r0 - (r0 // _BLOCK) * _BLOCK, c0 - (c0 // _BLOCK) * _BLOCK
    return full[:, y:y + h, x:x + w]


#: The cached datasets, blocks and transformers are shared: one thread reads at a time.
_READ_LOCK = threading.RLock()


def _area_pixels(path: str, bounds: Tuple[float, float, float, float]) -> dict:
    """Raw AOD, WV and QA (orbits, n_pixels) of the 1 km pixels inside the bounds, their EPSG:3857
    centres ``x``/``y``, plus scales (thread-safe)."""
    with _READ_LOCK:
        return _area_pixels_unlocked(path, bounds)


def _area_pixels_unlocked(path: str, bounds: Tuple[float, float, float, float]) -> dict:
    mtime_ns = os.stat(path).st_mtime_ns
    aod_ds = _open_field(path, mtime_ns, "Optical_Depth_055")
    wv_ds = _open_field(path, mtime_ns, "Column_WV")
    _open_field(path, mtime_ns, "AOD_QA")
    to_src, to_merc = _transformers(aod_ds.GetProjection())
    win = _window(aod_ds, bounds, to_src)
    orbits = aod_ds.RasterCount
    out = {"orbits": orbits, "stamps": aod_ds.GetMetadataItem("Orbit_time_stamp") or "",
           "aod_scale": _scale(aod_ds), "wv_scale": _scale(wv_ds)}
    empty = np.zeros((orbits, 0))
    out.update(aod=empty, wv=empty, qa=empty.astype(np.uint16), x=np.zeros(0), y=np.zeros(0))
    if win[2] == 0 or win[3] == 0:
        return out
    gt = aod_ds.GetGeoTransform()
    cols = win[0] + np.arange(win[2]) + 0.5
    rows = win[1] + np.arange(win[3]) + 0.5
    cx, cy = np.meshgrid(gt[0] + cols * gt[1], gt[3] + rows * gt[5])
    mx, my = (np.asarray(a) for a in to_merc.transform(cx, cy))
    xmin, ymin, xmax, ymax = bounds
    inside = (mx >= xmin) & (mx < xmax) & (my >= ymin) & (my < ymax)
    if not inside.any():
        centre = np.hypot(mx - (xmin + xmax) / 2, my - (ymin + ymax) / 2)
        nearest = np.unravel_index(np.nanargmin(centre), centre.shape) if np.isfinite(centre).any() else None
        if nearest is None or centre[nearest] > abs(gt[1]):
            return out
        inside[nearest] = True
    out["aod"] = _read_blocks(path, mtime_ns, "Optical_Depth_055", win)[:, inside]
    out["wv"] = _read_blocks(path, mtime_ns, "Column_WV", win)[:, inside]
    out["qa"] = _read_blocks(path, mtime_ns, "AOD_QA", win)[:, inside].astype(np.uint16)
    out["x"], out["y"] = mx[inside], my[inside]
    return out


def _scale(ds) -> Tuple[float, float]:
    band = ds.GetRasterBand(1)
    return float(band.GetScale() or 1.0), float(band.GetOffset() or 0.0)


def _paths(paths: Any) -> List[str]:
    return existing_files(paths, "MCD19A2 file")


def orbit_stamps(text: str) -> List[Tuple[Optional[_dt.datetime], str]]:
    """(UTC time or None, platform letter) per orbit of an ``Orbit_time_stamp`` attribute
    (``YYYYDDDHHMM`` + ``T`` Terra / ``A`` Aqua, separated by blanks)."""
    out = []
    for token in text.split():
        m = re.fullmatch(r"(\d{4})(\d{3})(\d{2})(\d{2})([TA]?)", token)
        if not m:
            out.append((None, token[-1:] if token else ""))
            continue
        y, d, hh, mm, platform = m.groups()
        when = _dt.datetime(int(y), 1, 1, int(hh), int(mm)) + _dt.timedelta(days=int(d) - 1)
        out.append((when, platform))
    return out


def _select_orbits(orbits: list, overpass: Optional[_dt.datetime], what: str) -> Tuple[list, str]:
    """The orbits to average for one quantity and the rule that chose them.

    ``orbits`` holds (file, index, time, platform, values). With an overpass time: the Terra
    orbit(s) with data nearest to it (ASTER flies on Terra, so they see the same air); if no Terra
    orbit has data, every orbit with data, saying so. Without an overpass time: every orbit.
    """
    with_data = [o for o in orbits if o[4].size]
    if overpass is None:
        return with_data, "all orbits (no overpass time given)"
    terra = [o for o in with_data if o[3] == "T" and o[2] is not None]
    if not terra:
        if with_data:
            return with_data, "fallback: no Terra orbit with usable {} pixels; using {}".format(
                what, ", ".join("{}[{}]{}".format(o[0], o[1], o[3]) for o in with_data))
        return [], "no orbit with usable {} pixels".format(what)
    when = overpass.replace(tzinfo=None) if overpass.tzinfo is None else \
        overpass.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    best = min(abs((o[2] - when).total_seconds()) for o in terra)
    chosen = [o for o in terra if abs((o[2] - when).total_seconds()) == best]
    return chosen, "Terra orbit(s) nearest the overpass {}: {} ({:.0f} min away)".format(
        when.isoformat(), ", ".join("{}[{}]".format(o[0], o[1]) for o in chosen), best / 60.0)


def _qa_masks(d: dict) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cloud-clear, usable-AOD550 and usable-water-vapour masks of one file's area pixels."""
    qa = d["qa"]
    clear = cloud_mask(qa) == CLOUD_CLEAR
    aod_ok = (d["aod"] != FILL) & clear & (aod_quality(qa) == AOD_QA_BEST)
    wv_ok = (d["wv"] != FILL) & clear
    return clear, aod_ok, wv_ok


def _orbit_values(path: Any, d: dict, aod_ok: np.ndarray, wv_ok: np.ndarray,
                  cell: Optional[np.ndarray] = None) -> Tuple[list, list]:
    """Per orbit ``(file name, orbit, time, platform, usable values[, their cells])`` for AOD550
    and for water vapour (scaled to physical units); cells only when ``cell`` is given."""
    name = Path(path).name
    stamps = orbit_stamps(d["stamps"])
    aod, wv = [], []
    for out, raw, ok, (scale, offset) in ((aod, d["aod"], aod_ok, d["aod_scale"]),
                                          (wv, d["wv"], wv_ok, d["wv_scale"])):
        for k in range(raw.shape[0]):
            when, platform = stamps[k] if k < len(stamps) else (None, "")
            row = (name, k, when, platform, raw[k][ok[k]] * scale + offset)
            out.append(row if cell is None else row + (cell[ok[k]],))
    return aod, wv


def sample_aod_wv(mcd19a2_paths: Iterable, bounds: Any, default_aod: float = DEFAULT_AOD550,
                  default_wv: float = DEFAULT_WATER_VAPOUR,
                  overpass: Optional[_dt.datetime] = None) -> Tuple[Sample, Sample]:
    """Mean AOD550 and water vapour (cm) over an EPSG:3857 area from MCD19A2 files.

    Returns ``(aod_sample, wv_sample)``; see the module docstring for the QA rules and defaults.
    With ``overpass`` (the ASTER acquisition time) only the nearest Terra orbit(s) are used
    (others as a recorded fallback); ``detail["orbit_selection"]`` says which.
    """
    paths = _paths(mcd19a2_paths)
    b = as_bounds(bounds)
    files, aod_orbits, wv_orbits = [], [], []
    counts = {"pixels": 0, "fill": 0, "not_clear": 0, "aod_qa_not_best": 0}
    for path in paths:
        d = _area_pixels(path, b)
        raw_aod, qa = d["aod"], d["qa"]
        clear, aod_ok, wv_ok = _qa_masks(d)
        counts["pixels"] += raw_aod.size
        counts["fill"] += int((raw_aod == FILL).sum())
        counts["not_clear"] += int((~clear).sum())
        counts["aod_qa_not_best"] += int((clear & (aod_quality(qa) != AOD_QA_BEST)).sum())
        aod, wv = _orbit_values(path, d, aod_ok, wv_ok)
        aod_orbits += aod
        wv_orbits += wv
        files.append({"file": Path(path).name, "orbits": d["orbits"], "orbit_time_stamp": d["stamps"].split(),
                      "pixels_in_area": int(raw_aod.shape[1]),
                      "aod_valid_per_orbit": aod_ok.sum(axis=1).tolist(),
                      "wv_valid_per_orbit": wv_ok.sum(axis=1).tolist()})
    detail = {"files": files, "counts": counts, "bounds_3857": list(b)}
    samples = []
    for orbits, what, rule, default, text in (
            (aod_orbits, "AOD550", "cloud mask clear (AOD_QA bits 0-2 = 1) and AOD QA best (bits 8-11 = 0)",
             default_aod, "continental clear-sky background AOD550"),
            (wv_orbits, "water vapour", "cloud mask clear (AOD_QA bits 0-2 = 1)", default_wv,
             "typical column water vapour (cm)")):
        chosen, selection = _select_orbits(orbits, overpass, what)
        used = sorted({o[0] for o in chosen})
        samples.append(_summarise([o[4] for o in chosen], used, what, default, paths,
                                  dict(detail, orbit_selection=selection), rule, text))
    return samples[0], samples[1]


def _summarise(chunks: list, used: list, what: str, default: float, paths: list, detail: dict,
               rule: str, default_text: str) -> Sample:
    values = np.concatenate(chunks) if chunks else np.zeros(0)
    detail = dict(detail, qa_rule=rule)
    if values.size:
        detail.update(std=float(values.std()), min=float(values.min()), max=float(values.max()))
        return Sample(float(values.mean()), "MCD19A2: " + ", ".join(used), int(values.size), detail)
    if not paths:
        reason = "no MCD19A2 file given"
    elif detail["counts"]["pixels"] == 0:
        reason = "MCD19A2 files do not cover the area ({})".format(", ".join(Path(p).name for p in paths))
    else:
        reason = "no usable {} pixel over the area in {}".format(what, ", ".join(Path(p).name for p in paths))
    return Sample(float(default), "default: {}; using {} {}".format(reason, default_text, default), 0, detail)


@dataclass(frozen=True)
class NodeValues:
    """AOD550 and water vapour (cm) on the ``n x n`` coefficient-field nodes of an area.

    ``aod``/``wv`` are float64 ``(n, n)`` (row 0 north), NaN where no valid pixel falls in a
    node's cell; ``*_pixels`` count the valid pixels per node; ``*_orbits`` say which orbits were
    used (the rule of :func:`sample_aod_wv`).
    """

    aod: np.ndarray
    wv: np.ndarray
    aod_pixels: np.ndarray
    wv_pixels: np.ndarray
    aod_orbits: str
    wv_orbits: str


def sample_aod_wv_nodes(mcd19a2_paths: Iterable, bounds: Any, nodes: int,
                        overpass: Optional[_dt.datetime] = None) -> NodeValues:
    """AOD550 and water vapour at ``nodes`` x ``nodes`` points spanning an EPSG:3857 area corner
    to corner (the grid of :mod:`gmi_engine.kernel.fields`).

    Each node is the mean of the valid 1 km pixels (the QA rules and the Terra-nearest-overpass
    orbit choice of :func:`sample_aod_wv`) whose centres fall within half a node spacing of it,
    so edge nodes look beyond the area as far as inner ones. Nodes without a valid pixel are NaN:
    the caller fills them (ingest: with the tile value, recorded).
    """
    if nodes < 2:
        raise ValueError("nodes must be >= 2, got {}".format(nodes))
    paths = _paths(mcd19a2_paths)
    xmin, ymin, xmax, ymax = as_bounds(bounds)
    hx = (xmax - xmin) / (nodes - 1) / 2.0
    hy = (ymax - ymin) / (nodes - 1) / 2.0
    area = (xmin - hx, ymin - hy, xmax + hx, ymax + hy)
    aod_orbits, wv_orbits = [], []
    for path in paths:
        d = _area_pixels(path, area)
        _, aod_ok, wv_ok = _qa_masks(d)
        col = np.clip(np.floor((d["x"] - area[0]) / (2.0 * hx)), 0, nodes - 1).astype(np.intp)
        row = np.clip(np.floor((area[3] - d["y"]) / (2.0 * hy)), 0, nodes - 1).astype(np.intp)
        aod, wv = _orbit_values(path, d, aod_ok, wv_ok, cell=row * nodes + col)
        aod_orbits += aod
        wv_orbits += wv
    out = []
    for orbits, what in ((aod_orbits, "AOD550"), (wv_orbits, "water vapour")):
        chosen, selection = _select_orbits([o[:5] for o in orbits], overpass, what)
        keys = {(o[0], o[1]) for o in chosen}
        used = [o for o in orbits if (o[0], o[1]) in keys]
        values = np.concatenate([o[4] for o in used]) if used else np.zeros(0)
        cells = np.concatenate([o[5] for o in used]) if used else np.zeros(0, dtype=np.intp)
        count = np.bincount(cells, minlength=nodes * nodes)
        total = np.bincount(cells, weights=values, minlength=nodes * nodes)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        out.append((mean.reshape(nodes, nodes), count.reshape(nodes, nodes), selection))
    return NodeValues(out[0][0], out[1][0], out[0][1], out[1][1], out[0][2], out[1][2])
