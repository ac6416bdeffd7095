"""Granule and ancillary-file discovery for the loader (no QGIS, no widgets: safe in a task).

:func:`summarize` turns an engine :class:`~gmi_engine.aster.reader.Granule` into the plain
values the granule table and the footprint layer show; which files are granules and ancillaries is
the engine's rule (:mod:`gmi_engine.aster.names`, :func:`gmi_engine.ancillary.discover`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

from gmi_engine.aster.names import is_granule_file
from gmi_engine.kernel.bands import BANDS, SWIR_BANDS, TIR_BANDS, VNIR_BANDS

SWIR_OK = "usable"
SWIR_POST_2008 = "post-2008"
SWIR_ABSENT = "absent"
SWIR_STATES = (SWIR_OK, SWIR_POST_2008, SWIR_ABSENT)
"""SWIR health of a granule: usable, acquired on/after 2008-04-01 (saturated, striped), or no SWIR."""

_SUBSYSTEM_BANDS = (("VNIR", VNIR_BANDS + ("3B",)), ("SWIR", SWIR_BANDS), ("TIR", TIR_BANDS))


@dataclass(frozen=True)
class GranuleSummary:
    """What the loader shows about one granule."""

    path: str
    granule_id: str
    acquired: datetime
    sun_elevation: float
    gains: Dict[str, str]
    bands: Tuple[str, ...]
    cloud_cover: object  # float percent, or None when the metadata has none
    swir: str
    footprint_lonlat: Tuple[Tuple[float, float], ...] = field(repr=False)

    @property
    def date_text(self) -> str:
        """Acquisition time as ``YYYY-MM-DD HH:MM`` UTC."""
        return self.acquired.strftime("%Y-%m-%d %H:%M")

    @property
    def cloud_text(self) -> str:
        """Cloud cover as text ('–' when unknown)."""
        return "–" if self.cloud_cover is None else "{:.0f}".format(float(self.cloud_cover))

    @property
    def bands_text(self) -> str:
        """Bands present per subsystem, e.g. ``VNIR 1 2 3N · SWIR 4–9 · TIR 10–14``."""
        parts = []
        for name, codes in _SUBSYSTEM_BANDS:
            present = [c for c in codes if c in self.bands]
            if not present:
                continue
            labels = [c.lstrip("0") for c in present]
            if len(present) == len(codes) and name != "VNIR":
                parts.append("{} {}–{}".format(name, labels[0], labels[-1]))
            else:
                parts.append("{} {}".format(name, " ".join(labels)))
        return " · ".join(parts) if parts else "–"

    @property
    def gains_text(self) -> str:
        """Gains of bands 1–9 as runs of equal gain, e.g. ``HGH 1–2 · NOR 3N–9``."""
        runs: List[List[str]] = []  # [gain, first band, last band]
        for code in BANDS:
            gain = self.gains.get(code) or "OFF"
            label = code.lstrip("0")
            if runs and runs[-1][0] == gain:
                runs[-1][2] = label
            else:
                runs.append([gain, label, label])
        parts = ["{} {}".format(g, a if a == b else "{}–{}".format(a, b)) for g, a, b in runs if g != "OFF"]
        return " · ".join(parts) or "–"


def swir_state(has_swir: bool, usable: bool) -> str:
    """One of :data:`SWIR_STATES`."""
    if not has_swir:
        return SWIR_ABSENT
    return SWIR_OK if usable else SWIR_POST_2008


def summarize(granule) -> GranuleSummary:
    """The summary of an engine ``Granule``."""
    has_swir = "SWIR" in granule.subsystems
    return GranuleSummary(
        path=str(granule.path), granule_id=granule.granule_id, acquired=granule.acquired,
        sun_elevation=float(granule.sun_elevation), gains=dict(granule.gains),
        bands=tuple(granule.bands), cloud_cover=granule.cloud_cover,
        swir=swir_state(has_swir, granule.swir_usable),
        footprint_lonlat=tuple(tuple(p) for p in granule.footprint_lonlat))


def find_granule_files(paths: Iterable) -> List[Path]:
    """AST_L1T ``.hdf`` files among ``paths`` (folders are searched recursively), sorted, unique."""
    found = set()
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.is_file() and is_granule_file(p))
        elif path.is_file():
            found.add(path)
    return sorted(found)


def guess_ancillary_folder(granule_paths: Sequence) -> str:
    """A folder near the granules that holds ancillaries (e.g. the demo set's root), or ''."""
    from gmi_engine.ancillary import discover

    for path in granule_paths:
        for folder in (Path(path).parent, Path(path).parent.parent):
            if not discover(folder, max_depth=1).empty:
                return str(folder)
    return ""
