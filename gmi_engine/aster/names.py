"""AST_L1T file names: the granule id in a name, and which files look like granules (no GDAL).

A granule is named ``AST_L1T_<collection 3><start 14>_<production 14>_<number>.hdf``, e.g.
``AST_L1T_00309062006180242_20150516014601_17781.hdf``; :func:`open_granule
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
    """True for a file named like an AST_L1T granule (``AST_L1T_*.hdf``, any case)."""
    return bool(_GRANULE_FILE.match(Path(name).name))
