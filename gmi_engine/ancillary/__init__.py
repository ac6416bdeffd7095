"""Ancillary data sampled onto one global tile: MCD19A2 AOD550 and water vapour, GDEM altitude,
the MOD09A1 reference; :func:`discover` finds a folder's ancillary files.

The area is given as EPSG:3857 bounds: an object with ``xmin``/``ymin``/``xmax``/``ymax``
attributes (e.g. the tile grid's bounds) or a 4-tuple in that order. Scalar samplers return a
:class:`Sample` that says where its value came from.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, List, Tuple

from gmi_engine.errors import GmiFileError
from gmi_engine.grid import bounds_xy

Bounds = Tuple[float, float, float, float]


@dataclass(frozen=True)
class Sample:
    """One ancillary value for a tile.

    ``source`` names the files it came from, or starts with ``"default: "`` and gives the reason a
    documented default was used; ``n_valid`` counts the pixels (x orbits) that were averaged.
    """

    value: float
    source: str
    n_valid: int
    detail: dict = field(default_factory=dict, compare=False)

    @property
    def is_default(self) -> bool:
        """True when the value is a documented default, not data."""
        return self.source.startswith("default:")


def as_bounds(bounds: Any) -> Bounds:
    """(xmin, ymin, xmax, ymax) of :func:`gmi_engine.grid.bounds_xy` (checks the order)."""
    b = bounds_xy(bounds)
    return b.xmin, b.ymin, b.xmax, b.ymax


def existing_files(paths: Any, what: str) -> List[str]:
    """``paths`` (one path or an iterable of them) as strings; GmiFileError "<path>: <what> not
    found" for the first that is not a file."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out = [os.fspath(p) for p in paths]
    for p in out:
        if not os.path.isfile(p):
            raise GmiFileError("{}: {} not found".format(p, what))
    return out


def open_gdal(name: str, what: str):
    """``gdal.Open`` that raises :class:`GmiFileError` naming the file and the field."""
    from osgeo import gdal

    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        ds = gdal.Open(name)
        detail = gdal.GetLastErrorMsg()
    except RuntimeError as exc:  # gdal.UseExceptions() is on (the engine turns it on)
        ds, detail = None, str(exc)
    finally:
        gdal.PopErrorHandler()
    if ds is None:
        raise GmiFileError("{}: cannot open {} ({})".format(name, what, detail or "no detail"))
    return ds


from gmi_engine.ancillary.aerosol import DEFAULT_AOD550, DEFAULT_WATER_VAPOUR, sample_aod_wv  # noqa: E402  (Sample must exist first)
from gmi_engine.ancillary.discovery import Ancillaries, discover  # noqa: E402
from gmi_engine.ancillary.elevation import DEFAULT_ALTITUDE_KM, sample_altitude  # noqa: E402
from gmi_engine.ancillary.modis_reference import sample_mod09a1  # noqa: E402

__all__ = ["Ancillaries", "Bounds", "Sample", "as_bounds", "discover", "existing_files", "sample_aod_wv",
           "sample_altitude", "sample_mod09a1", "DEFAULT_AOD550", "DEFAULT_WATER_VAPOUR", "DEFAULT_ALTITUDE_KM"]
