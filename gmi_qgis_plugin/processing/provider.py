"""The ``gmi`` Processing provider: the GMI algorithms plus the shipped ``.model3`` models.

Registered by the plugin's ``initProcessing``; ``hasProcessingProvider=yes`` in metadata.txt
lets ``qgis_process`` load it too (``qgis_process run gmi:<algorithm> -- KEY=VALUE``).
"""
from __future__ import annotations

from pathlib import Path
from typing import List

from qgis.core import (
    Qgis,
    QgsMessageLog,
    QgsProcessingModelAlgorithm,
    QgsProcessingProvider,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from gmi_qgis_plugin.__about__ import __icon_path__, __title__, __version__, plugin_path
from gmi_qgis_plugin.processing.atmospheric_parameters import AtmosphericParameters
from gmi_qgis_plugin.processing.custom_index import CustomIndex
from gmi_qgis_plugin.processing.export_results import ExportResults
from gmi_qgis_plugin.processing.granules_to_indices import GranulesToIndices
from gmi_qgis_plugin.processing.ingest_granules import IngestGranules
from gmi_qgis_plugin.processing.list_tiles import ListTiles
from gmi_qgis_plugin.processing.odps_smoke_check import OdpsSmokeCheck
from gmi_qgis_plugin.processing.run_method import RunMethod
from gmi_qgis_plugin.processing.search_download import SearchDownload

PROVIDER_ID = "gmi"
ALGORITHMS = (SearchDownload, IngestGranules, ListTiles, AtmosphericParameters, RunMethod, ExportResults,
              CustomIndex, GranulesToIndices, OdpsSmokeCheck)
"""Every algorithm class, in toolbox order."""


def models_dir() -> Path:
    """``resources/models``: the shipped ``.model3`` files."""
    return plugin_path("resources", "models")


def model_files() -> List[Path]:
    """The shipped ``.model3`` files, sorted."""
    folder = models_dir()
    return sorted(folder.glob("*.model3")) if folder.is_dir() else []


class GmiProvider(QgsProcessingProvider):
    """Provider ``gmi``: ingest, tiles, 6S parameters, run, export, custom index, the chain, models.

    Keep a Python reference to the instance for as long as it is registered (the plugin keeps
    ``self.provider``): if Python collects its wrapper, the registry loses the algorithms.
    """

    def id(self) -> str:
        """Fixed short id: algorithm ids are ``gmi:<name>``."""
        return PROVIDER_ID

    def name(self) -> str:
        """Shown in the Processing toolbox."""
        return QCoreApplication.translate("GmiProvider", "GMI - Global Mineral Indices")

    def longName(self) -> str:
        """Name with the version."""
        return f"{self.name()} {__version__}"

    def versionInfo(self) -> str:
        """The plugin version."""
        return __version__

    def icon(self) -> QIcon:
        """The plugin icon."""
        return QIcon(str(__icon_path__))

    def loadAlgorithms(self) -> None:
        """Add every algorithm, then every shipped model that loads."""
        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())
        for path in model_files():
            model = QgsProcessingModelAlgorithm()
            if model.fromFile(str(path)):
                self.addAlgorithm(model)
            else:
                QgsMessageLog.logMessage(f"cannot load the Processing model {path}", __title__,
                                         Qgis.Warning)
