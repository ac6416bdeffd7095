"""``gmi:odps_smoke_check``: the deployed MaxCompute function on one tile, compared with the local kernel."""
from __future__ import annotations

from typing import Any, Dict

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterAuthConfig,
    QgsProcessingParameterFile,
    QgsProcessingParameterString,
)

from gmi_qgis_plugin.processing.base import GmiAlgorithm, parse_tiles, plugin_settings

METHODS = ("mineral_indices", "color_balancing", "mosaic")


class OdpsSmokeCheck(GmiAlgorithm):
    """Upload one tile, run it on MaxCompute, download it and compare every cell with the local kernel."""

    NAME = "odps_smoke_check"
    WORKSPACE = "WORKSPACE"
    TILE = "TILE"
    METHOD = "METHOD"
    ODPS_PROJECT = "ODPS_PROJECT"
    ODPS_ENDPOINT = "ODPS_ENDPOINT"
    ODPS_AUTH = "ODPS_AUTH"
    OK = "OK"
    SUMMARY = "SUMMARY"
    LOGVIEW = "LOGVIEW"

    def displayName(self) -> str:
        """Translated name."""
        return self.tr("MaxCompute smoke check (one tile end to end)")

    def initAlgorithm(self, config: Any = None) -> None:
        """Workspace, tile, method, MaxCompute connection -> OK, SUMMARY, LOGVIEW."""
        settings = plugin_settings()
        self.addParameter(QgsProcessingParameterFile(
            self.WORKSPACE, self.tr("Workspace folder (one of its tiles is run)"),
            behavior=QgsProcessingParameterFile.Folder, defaultValue=settings.workspace))
        self.addParameter(QgsProcessingParameterString(
            self.TILE, self.tr("Tile (empty: the workspace's first)"), "", optional=True))
        self.addParameter(self.enum_parameter(self.METHOD, self.tr("Method"), METHODS, METHODS[0]))
        self.addParameter(QgsProcessingParameterString(
            self.ODPS_PROJECT, self.tr("MaxCompute project"), settings.odps_project))
        self.addParameter(QgsProcessingParameterString(
            self.ODPS_ENDPOINT, self.tr("MaxCompute endpoint"), settings.odps_endpoint))
        self.addParameter(QgsProcessingParameterAuthConfig(
            self.ODPS_AUTH, self.tr("MaxCompute credentials (QGIS auth config)"), settings.odps_auth_id or None))
        self.addOutput(QgsProcessingOutputNumber(self.OK, self.tr("1 when MaxCompute matches the local kernel")))
        self.addOutput(QgsProcessingOutputString(self.SUMMARY, self.tr("What the check found")))
        self.addOutput(QgsProcessingOutputString(self.LOGVIEW, self.tr("MaxCompute Logview link")))

    def prepareAlgorithm(self, parameters: Dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> bool:
        """On the main thread: read the AccessKey from the QGIS auth database."""
        from gmi_qgis_plugin.toolbelt.credentials import CredentialsError, read_odps_credentials

        self._credentials, self._credentials_error = None, ""
        try:
            self._credentials = read_odps_credentials(self.parameterAsString(parameters, self.ODPS_AUTH, context))
        except CredentialsError as exc:
            self._credentials_error = f"ODPS_AUTH: {exc}"
        return True

    def processAlgorithm(self, parameters: Dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        """Run the engine's smoke check; a mismatch or a failed tile is reported, not raised."""
        from gmi_engine.errors import GmiError
        from gmi_qgis_plugin.toolbelt.odps_bridge import OdpsUnavailable, smoke_on_odps

        if self._credentials_error:
            raise QgsProcessingException(self._credentials_error)
        tiles = parse_tiles(self.parameterAsString(parameters, self.TILE, context), self.TILE)
        if tiles and len(tiles) > 1:
            raise QgsProcessingException(self.tr("TILE: give one tile, not {}").format(len(tiles)))

        def progress(fraction: float, text: str) -> None:
            feedback.setProgress(100.0 * fraction)
            feedback.setProgressText(text)

        try:
            result = smoke_on_odps(
                self.parameterAsFile(parameters, self.WORKSPACE, context), tiles[0] if tiles else None,
                self.enum_value(parameters, self.METHOD, context), self._credentials,
                self.parameterAsString(parameters, self.ODPS_PROJECT, context).strip(),
                self.parameterAsString(parameters, self.ODPS_ENDPOINT, context).strip(),
                progress=progress, cancelled=feedback.isCanceled)
        except (OdpsUnavailable, GmiError, OSError) as exc:
            raise QgsProcessingException(self.tr("MaxCompute smoke check: {}").format(exc)) from None
        finally:
            self._credentials = None  # the secret lives no longer than the check
        summary = result.summary()
        (feedback.pushInfo if result.ok else feedback.reportError)(summary)
        return {self.OK: 1 if result.ok else 0, self.SUMMARY: summary, self.LOGVIEW: result.logview}
