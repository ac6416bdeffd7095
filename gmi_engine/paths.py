"""Input paths: files named directly, or folders standing for their matching files."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Optional, Sequence

from gmi_engine.errors import GmiFileError


def expand(items: Optional[Iterable[str]], patterns: Sequence[str]) -> List[Path]:
    """Files named directly, plus the files matching ``patterns`` inside named folders.

    A missing path, or a folder without any matching file, is an error naming it.
    """
    out: List[Path] = []
    for item in items or []:
        path = Path(item)
        if path.is_dir():
            found = sorted({f for pattern in patterns for f in path.glob(pattern)})
            if not found:
                raise GmiFileError("{}: no {} files in this folder".format(path, "/".join(patterns)))
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            raise GmiFileError("{}: no such file or folder".format(path))
    return out
