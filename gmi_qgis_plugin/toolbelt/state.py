"""What the plugin's dialogs share during a QGIS session: loaded granules, picked tiles, jobs."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Dict, List, Optional

from qgis.PyQt.QtCore import QObject, pyqtSignal

from gmi_engine.grid import TileIndex
from gmi_qgis_plugin.toolbelt.granules import GranuleSummary
from gmi_qgis_plugin.toolbelt.jobs import JobRegistry


class PluginState(QObject):
    """Session state; dialogs read it and listen to its signals."""

    tiles_changed = pyqtSignal()
    granules_changed = pyqtSignal()
    workspace_changed = pyqtSignal()

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.jobs = JobRegistry(self)
        self._tiles: List[TileIndex] = []
        self.granules: Dict[str, GranuleSummary] = {}
        self.footprint_layer_id = ""

    @property
    def selected_tiles(self) -> List[TileIndex]:
        """The picked tiles, sorted (empty: none picked)."""
        return list(self._tiles)

    def set_selected_tiles(self, tiles: Iterable[TileIndex]) -> None:
        """Replace the picked tiles."""
        new = sorted(set(tiles))
        if new != self._tiles:
            self._tiles = new
            self.tiles_changed.emit()

    def set_granules(self, granules: Iterable[GranuleSummary]) -> None:
        """Replace the granules shown by the loader."""
        self.granules = {g.granule_id: g for g in granules}
        self.granules_changed.emit()
