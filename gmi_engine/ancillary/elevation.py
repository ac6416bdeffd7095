"""Target altitude (km) for a tile from ASTER GDEM tiles.

The tiles (GeoTIFF, NetCDF or zipped, mixed) are mosaicked and warped in one ``gdal.Warp`` to EPSG:3857 over the area at
``resolution`` metres with average resampling (voids, -9999, are ignored whether or not the file
carries a NoData tag), and the valid cells are averaged; metres become km. With no valid cell the
altitude defaults to :data:`DEFAULT_ALTITUDE_KM` (sea level) and the source says why.
Many areas (the tiles of a granule): :class:`GdemTiles` opens the files once, so GDAL keeps their
decoded blocks between the warps (the same heights as from the file names, faster).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np
from osgeo import gdal

from gmi_engine.ancillary import Sample, as_bounds, existing_files, open_gdal
from gmi_engine.errors import GmiFileError

DEFAULT_ALTITUDE_KM = 0.0
NODATA = -9999


def gdal_name(path: str) -> str:
    """The GDAL name of a GDEM tile's heights: the file, its ``*_dem.tif`` inside a zip, its DEM NetCDF variable."""
    if path.lower().endswith(".zip"):
        members = gdal.ReadDir("/vsizip/" + path) or []
        rasters = [m for m in members if m.lower().endswith((".tif", ".nc"))]
        dems = [m for m in rasters if "_dem." in m.lower()] or rasters
        if len(dems) != 1:
            raise GmiFileError("{}: expected one *_dem.tif in the GDEM zip, found {}".format(path, members))
        name = "/vsizip/{}/{}".format(path, dems[0])
        return gdal_name(name) if name.lower().endswith(".nc") else name
    ds = open_gdal(path, "GDEM tile")
    if ds.RasterCount == 0:
        subs = [n for n, _ in ds.GetSubDatasets() if n.upper().endswith("DEM")]
        if len(subs) != 1:
            raise GmiFileError("{}: no single DEM variable (ASTER_GDEM_DEM) in the GDEM file".format(path))
        return subs[0]
    return path


def _paths(paths: Any) -> list:
    out = existing_files(paths, "GDEM tile")
    names = [gdal_name(p) for p in out]
    for name in names:
        open_gdal(name, "GDEM tile")
    return out, names


class GdemTiles:
    """GDEM tiles opened once, for the heights of many areas (one thread's GDAL handles: do not
    share an instance between threads)."""

    def __init__(self, gdem_paths: Iterable) -> None:
        self.paths, self.names = _paths(gdem_paths)
        self.datasets = [open_gdal(name, "GDEM tile") for name in self.names]


def _opened(gdem: Any) -> GdemTiles:
    """``gdem`` as :class:`GdemTiles` (file names are opened now)."""
    return gdem if isinstance(gdem, GdemTiles) else GdemTiles(gdem)


def _warp_mean_m(paths: list, bounds: tuple, resolution: float, cells: Optional[int] = None,
                 sources: Optional[list] = None) -> np.ndarray:
    """Average-resampled heights (float32, NaN = no data) on the EPSG:3857 grid of the area
    (``cells`` x ``cells`` when given, else cells of ``resolution`` metres); warped from the
    opened ``sources`` when given (the datasets of ``paths``), else from ``paths``."""
    xmin, ymin, xmax, ymax = bounds
    width = cells or max(1, int(math.ceil((xmax - xmin) / resolution - 1e-9)))
    height = cells or max(1, int(math.ceil((ymax - ymin) / resolution - 1e-9)))
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        out = gdal.Warp("", sources or paths, format="MEM", dstSRS="EPSG:3857", outputBounds=bounds, width=width,
                        height=height, resampleAlg="average", srcNodata=NODATA, dstNodata=float("nan"),
                        outputType=gdal.GDT_Float32, multithread=False)
        if out is None:
            raise GmiFileError("{}: cannot warp GDEM tiles ({})".format(
                ", ".join(paths), gdal.GetLastErrorMsg()))
    finally:
        gdal.PopErrorHandler()
    return out.ReadAsArray().astype(np.float64)


def sample_altitude(gdem_paths: Any, bounds: Any, resolution: float = 240.0) -> Sample:
    """Mean terrain height (km) over an EPSG:3857 area from GDEM tiles (GeoTIFF, NetCDF or
    zipped; file names or :class:`GdemTiles`)."""
    gdem = _opened(gdem_paths)
    paths, gdal_names = gdem.paths, gdem.names
    b = as_bounds(bounds)
    names = ", ".join(Path(p).name for p in paths)
    if not paths:
        return Sample(DEFAULT_ALTITUDE_KM, "default: no GDEM tile given; using sea level 0 km", 0,
                      {"bounds_3857": list(b)})
    heights = _warp_mean_m(gdal_names, b, resolution, sources=gdem.datasets)
    valid = np.isfinite(heights)
    detail = {"bounds_3857": list(b), "resolution_m": resolution, "cells": int(heights.size),
              "coverage": float(valid.mean())}
    if not valid.any():
        return Sample(DEFAULT_ALTITUDE_KM,
                      "default: GDEM tiles hold no valid height over the area ({}); using sea level 0 km"
                      .format(names), 0, detail)
    h = heights[valid]
    detail.update(mean_m=float(h.mean()), min_m=float(h.min()), max_m=float(h.max()))
    source = "GDEM: " + names
    if not valid.all():
        source += " (covers {:.0%} of the area)".format(valid.mean())
    return Sample(float(h.mean()) / 1000.0, source, int(valid.sum()), detail)


def altitude_nodes(gdem_paths: Any, bounds: Any, nodes: int) -> np.ndarray:
    """Terrain height (km, float64, NaN = no data) at ``nodes`` x ``nodes`` points spanning an
    EPSG:3857 area corner to corner (row 0 north), each the GDEM mean over one node spacing
    around the point (the coefficient-field grid of :mod:`gmi_engine.kernel.fields`). ``gdem_paths``:
    file names or :class:`GdemTiles`."""
    gdem = _opened(gdem_paths)
    paths, gdal_names = gdem.paths, gdem.names
    xmin, ymin, xmax, ymax = as_bounds(bounds)
    if not paths:
        return np.full((nodes, nodes), np.nan)
    hx = (xmax - xmin) / (nodes - 1) / 2.0
    hy = (ymax - ymin) / (nodes - 1) / 2.0
    return _warp_mean_m(gdal_names, (xmin - hx, ymin - hy, xmax + hx, ymax + hy), 0.0, cells=nodes,
                        sources=gdem.datasets) / 1000.0
