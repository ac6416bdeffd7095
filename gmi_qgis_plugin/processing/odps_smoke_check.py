"""``gmi:odps_smoke_check``: the deployed MaxCompute function on one tile, compared with the local kernel."""
from __future__ import annotations

from typing import Any, Dict

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterString,
)

from gmi_qgis_plugin.processing.base import (
    GmiAlgorithm,
    OdpsParameters,
    WorkspaceParameters,
    parse_tiles,
    plugin_settings,
)

METHODS = ("mineral_indices", "color_balancing", "mosaic")


class OdpsSmokeCheck(WorkspaceParameters, OdpsParameters, GmiAlgorithm):
    """Upload one tile, run it on MaxCompute, download it and compare every cell with the local kernel."""

    NAME = "odps_smoke_check"
    TILE = "TILE"
    OK = "OK"
    SUMMARY = "SUMMARY"
    LOGVIEW = "LOGVIEW"

    def displayName(self) -> str:
        """Translated name."""
        return self.tr("MaxCompute smoke check (one tile end to end)")

    def initAlgorithm(self, config: Any = None) -> None:
        """Workspace, tile, method, MaxCompute connection -> OK, SUMMARY, LOGVIEW."""
        self.add_workspace_and_method(plugin_settings().workspace,
                                      self.tr("Workspace folder (one of its tiles is run)"), METHODS, METHODS[0])
        self.addParameter(QgsProcessingParameterString(
            self.TILE, self.tr("Tile (empty: the workspace's first)"), "", optional=True))
        self.add_odps()
        self.addOutput(QgsProcessingOutputNumber(self.OK, self.tr("1 when MaxCompute matches the local kernel")))
        self.addOutput(QgsProcessingOutputString(self.SUMMARY, self.tr("What the check found")))
        self.addOutput(QgsProcessingOutputString(self.LOGVIEW, self.tr("MaxCompute Logview link")))

    def prepareAlgorithm(self, parameters: Dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> bool:
        """On the main thread: read the AccessKey from the QGIS auth database."""
        self.read_odps_credentials(parameters, context)
        return True

    def processAlgorithm(self, parameters: Dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        """Run the engine's smoke check; a mismatch or a failed tile is reported, not raised."""
        from gmi_engine.errors import GmiError
        from gmi_qgis_plugin.toolbelt.odps_bridge import OdpsUnavailable, smoke_on_odps

        connection = self.odps_connection(parameters, context)
        tiles = parse_tiles(self.parameterAsString(parameters, self.TILE, context), self.TILE)
        if tiles and len(tiles) > 1:
            raise QgsProcessingException(self.tr("TILE: give one tile, not {}").format(len(tiles)))

        try:
            result = smoke_on_odps(
                self.parameterAsFile(parameters, self.WORKSPACE, context), tiles[0] if tiles else None,
                self.enum_value(parameters, self.METHOD, context), *connection,
                progress=self.progress_to(feedback), cancelled=feedback.isCanceled)
        except (OdpsUnavailable, GmiError, OSError) as exc:
            raise QgsProcessingException(self.tr("MaxCompute smoke check: {}").format(exc)) from None
        finally:
            self.forget_odps_credentials()
        summary = result.summary()
        (feedback.pushInfo if result.ok else feedback.reportError)(summary)
        return {self.OK: 1 if result.ok else 0, self.SUMMARY: summary, self.LOGVIEW: result.logview}
