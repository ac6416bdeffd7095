"""Quick, read-only looks into a local workspace store (main thread safe: small SQL queries)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List

from gmi_engine.grid import TileIndex
from gmi_engine.table import STORE_FILENAME


def has_store(workspace: str) -> bool:
    """True if ``workspace`` holds a GMI store."""
    return bool(workspace) and (Path(workspace) / STORE_FILENAME).is_file()


def tile_granule_counts(workspace: str) -> Dict[TileIndex, int]:
    """Tile -> number of ingested granules covering it (empty without a store)."""
    if not has_store(workspace):
        return {}
    from gmi_engine.backends.local import LocalStore

    counts: Dict[TileIndex, int] = {}
    with LocalStore(workspace, create=False) as store:
        for granule_id in store.granules():
            for tile in store.tiles_of_granule(granule_id):
                counts[tile] = counts.get(tile, 0) + 1
    return counts


def workspace_tiles(workspace: str) -> List[TileIndex]:
    """Tiles with source rows in the workspace, sorted (empty without a store)."""
    if not has_store(workspace):
        return []
    from gmi_engine.backends.local import LocalStore

    with LocalStore(workspace, create=False) as store:
        return store.tiles()
