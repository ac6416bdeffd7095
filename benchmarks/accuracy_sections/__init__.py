"""Extra sections of ``docs/accuracy.md``, one module each.

A section module defines ``TITLE: str``, ``measure(work: Path, quick: bool) -> Dict[str, Any]``
(the measurement, JSON-ready) and ``render(result: Dict[str, Any]) -> str`` (markdown below its
heading). ``benchmarks.accuracy`` runs every module here in name order after the 6S cases, so a
new check is a new file, not an edit of the report.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import List


def section_modules() -> List[ModuleType]:
    """The section modules of this package, sorted by module name."""
    names = sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))
    return [importlib.import_module("{}.{}".format(__name__, name)) for name in names]
