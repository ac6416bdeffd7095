"""AST_L1T file names: the granule id in a name, and which files look like granules (no GDAL).

A granule is named ``AST_L1T_<collection 3><start 14>_<production 14>_<number>.hdf``, e.g.
``AST_L1T_00309062006180242_20150516014601_17781.hdf`` (collection ``003``) or
``AST_L1T_03109062006180242_20240301093312_12345.hdf`` (``031``, version 3.1); :func:`open_granule
<gmi_engine.aster.reader.open_granule>` checks the content.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Union

_GRANULE_ID = re.compile(r"AST_L1T_(?P<collection>\d{3})(?P<start>\d{14})_(?P<production>\d{14})_(?P<number>\d+)")
_GRANULE_FILE = re.compile(r"^AST_L1T_.*\.hdf$", re.IGNORECASE)


def granule_id(name: Union[str, Path]) -> Optional[str]:
    """The ``AST_L1T_…_<number>`` id in a file name, or None when the name holds none."""
    match = _GRANULE_ID.search(Path(name).name)
    return match.group(0) if match else None


def is_granule_file(name: Union[str, Path]) -> bool:
    """True for a file named like an AST_L1T granule (``AST_L1T_*.hdf``, any case, not a ``_BR.hdf`` browse)."""
    return bool(_GRANULE_FILE.match(Path(name).name)) and auxiliary_kind(name) is None


_AUXILIARY = (
    (re.compile(r"_BR(\.[^.]+)*\.(hdf|jpe?g)$", re.IGNORECASE), "browse"),
    (re.compile(r"_[VT]\.tif$", re.IGNORECASE), "browse image"),
    (re.compile(r"\.hdf\.(met|xml)$", re.IGNORECASE), "ECS metadata"),
    (re.compile(r"_QA\.txt$", re.IGNORECASE), "geometric QA report"),
)


def auxiliary_kind(name: Union[str, Path]) -> Optional[str]:
    """What a file shipped beside a granule is, by its name (``"browse"``, ``"ECS metadata"``, …), else None.

    Real L1T downloads hold ``*_BR.hdf`` / ``*_BR.*.jpg``, ``*_V.tif`` / ``*_T.tif``, ``*.hdf.met`` /
    ``*.hdf.xml`` and ``*_QA.txt`` next to the science ``.hdf``.
    """
    text = Path(name).name
    for pattern, kind in _AUXILIARY:
        if pattern.search(text):
            return kind
    return None


_VERSIONS = {"3": "003", "003": "003", "3.0": "003", "31": "031", "031": "031", "3.1": "031"}


def normalise_version(text: Optional[str]) -> Optional[str]:
    """CMR's version string (``"003"``, ``"031"``) for a VERSIONID or collection text, else the text stripped."""
    if text is None or not str(text).strip():
        return None
    value = str(text).strip().strip('"')
    return _VERSIONS.get(value, value)


def collection_version(name: Union[str, Path]) -> Optional[str]:
    """The collection in a granule file name (``"003"`` or ``"031"``), or None."""
    match = _GRANULE_ID.search(Path(name).name)
    return normalise_version(match.group("collection")) if match else None
