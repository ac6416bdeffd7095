"""Which files are MCD19A2, MOD09A1 and GDEM: the one naming rule, and a folder's ancillaries.

Names are compared without regard to case. GDEM tiles are accepted under both names in use:
the product's own (``ASTGTMV003_N32W108_dem.tif``, any ``*_dem.tif``) and the ``ASTGTM*``,
``ASTER_GDEM*`` or ``GDEM*`` GeoTIFFs of other downloads, and as NetCDF (``ASTGTMV003_N64W052_dem.nc``)
or zipped (``ASTGTMV003_N64W052.zip``, read through ``/vsizip/``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import List, Optional, Sequence, Union

MCD19A2_PATTERNS = ("MCD19A2*.hdf",)
"""MAIAC daily aerosol optical depth and water vapour."""
MOD09A1_PATTERNS = ("MOD09A1*.hdf",)
"""8-day surface reflectance, the colour-balancing reference."""
MOD09A1_FOLDER_PATTERNS = MOD09A1_PATTERNS + ("*.tif",)
"""A folder given as *the* MOD09A1 reference also stands for its GeoTIFFs (e.g. a mosaic)."""
GDEM_PATTERNS = ("*_dem.tif", "ASTGTM*.tif", "ASTER_GDEM*.tif", "GDEM*.tif",
                 "*_dem.nc", "ASTGTM*.nc", "ASTGTM*.zip", "*_dem.zip")
"""ASTER GDEM elevation tiles: GeoTIFF, LP DAAC's NetCDF (``*_dem.nc``) or zip (``ASTGTMV003_N64W052.zip``)."""

PathLike = Union[str, Path]


def matches(name: PathLike, patterns: Sequence[str]) -> bool:
    """True when the file name of ``name`` matches one of the glob ``patterns`` (any case)."""
    lower = Path(name).name.lower()
    return any(fnmatchcase(lower, pattern.lower()) for pattern in patterns)


@dataclass
class Ancillaries:
    """Ancillary inputs of an ingest, by product (the lists of :class:`~gmi_engine.ingest.IngestOptions`)."""

    mcd19a2: List[Path] = field(default_factory=list)
    modis_ref: List[Path] = field(default_factory=list)
    gdem: List[Path] = field(default_factory=list)

    def describe(self) -> str:
        """``2 MCD19A2 · 1 MOD09A1 · 2 GDEM``."""
        return "{} MCD19A2 · {} MOD09A1 · {} GDEM".format(len(self.mcd19a2), len(self.modis_ref), len(self.gdem))

    @property
    def empty(self) -> bool:
        """True when no ancillary file was found."""
        return not (self.mcd19a2 or self.modis_ref or self.gdem)


def product(name: PathLike) -> Optional[str]:
    """``"mcd19a2"``, ``"modis_ref"`` (MOD09A1) or ``"gdem"`` for an ancillary file name, else None."""
    for kind, patterns in (("mcd19a2", MCD19A2_PATTERNS), ("modis_ref", MOD09A1_PATTERNS),
                           ("gdem", GDEM_PATTERNS)):
        if matches(name, patterns):
            return kind
    return None


def _files(root: Path, max_depth: int) -> List[Path]:
    """Files under ``root`` down to ``max_depth`` folder levels (-1: no limit), sorted."""
    if max_depth < 0:
        return sorted(p for p in root.rglob("*") if p.is_file())
    out, level = [], [root]
    for _ in range(max_depth + 1):
        deeper = []
        for folder in level:
            try:
                entries = list(folder.iterdir())
            except OSError:
                continue
            out.extend(p for p in entries if p.is_file())
            deeper.extend(p for p in entries if p.is_dir())
        level = deeper
    return sorted(out)


def discover(folder: PathLike, max_depth: int = -1) -> Ancillaries:
    """The MCD19A2, MOD09A1 and GDEM files under ``folder`` (``max_depth`` levels deep, -1: all).

    A path that is not a folder has none.
    """
    found = Ancillaries()
    root = Path(folder)
    if not root.is_dir():
        return found
    for path in _files(root, max_depth):
        kind = product(path)
        if kind is not None:
            getattr(found, kind).append(path)
    return found
