"""``gmi:ingest_granules``: AST_L1T granules -> source rows of a workspace (one per granule and tile)."""
from __future__ import annotations

from typing import Any, Dict

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFolderDestination,
)

from gmi_qgis_plugin.processing.base import (
    AncillaryParameters,
    GmiAlgorithm,
    GranuleParameters,
    TilesParameter,
    engine_errors,
    plugin_settings,
    tile_keys,
)


class IngestGranules(GranuleParameters, AncillaryParameters, TilesParameter, GmiAlgorithm):
    """Cut each granule onto the global tiles, with its 6S coefficients and MODIS reference."""

    NAME = "ingest_granules"
    WORKSPACE = "WORKSPACE"
    ROWS = "ROWS"
    GRANULE_COUNT = "GRANULE_COUNT"
    TILES_TOUCHED = "TILES_TOUCHED"
    TILE_COUNT = "TILE_COUNT"

    def displayName(self) -> str:
        """Translated name."""
        return self.tr("Ingest ASTER granules")

    def initAlgorithm(self, config: Any = None) -> None:
        """Granules, ancillaries, tile subset -> workspace."""
        self.add_granules()
        workspace = QgsProcessingParameterFolderDestination(
            self.WORKSPACE, self.tr("Workspace folder (created if missing)"),
            defaultValue=plugin_settings().workspace)
        workspace.setHelp(self.tr("Holds gmi.gpkg; re-ingesting a granule replaces its rows."))
        self.addParameter(workspace)
        self.add_ancillary()
        self.add_tiles(self.tr("Only these tiles (IX,IY or tile keys; empty = every tile touched)"))
        self.addOutput(QgsProcessingOutputNumber(self.ROWS, self.tr("Source rows written")))
        self.addOutput(QgsProcessingOutputNumber(self.GRANULE_COUNT, self.tr("Granules ingested")))
        self.addOutput(QgsProcessingOutputString(self.TILES_TOUCHED, self.tr("Tiles touched (keys)")))
        self.addOutput(QgsProcessingOutputNumber(self.TILE_COUNT, self.tr("Number of tiles touched")))

    def processAlgorithm(self, parameters: Dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        """Ingest the granules one by one; cancel stops between tiles (nothing half-written)."""
        from gmi_engine.ingest import ingest_many

        granules = self.granule_files(parameters, context)
        if not granules:
            raise QgsProcessingException(self.tr("GRANULES: no granule given"))
        workspace = self.parameterAsFileOutput(parameters, self.WORKSPACE, context)
        options = self.ingest_options(parameters, context, self.tiles(parameters, self.TILES, context))

        def started(k: int, path) -> None:
            feedback.setProgressText(self.tr("Granule {} of {}: {}").format(k, len(granules), path.name))

        def progress(fraction: float, message: str) -> None:
            feedback.setProgress(100.0 * fraction)

        def ingested(granule) -> None:
            if granule.rows:
                feedback.pushInfo(self.tr("{}: {} tile(s): {}").format(
                    granule.path.name, granule.rows, " ".join("{},{}".format(t.ix, t.iy) for t in granule.tiles)))
            else:
                feedback.pushWarning(self.tr("{}: no tile with valid pixels").format(granule.path.name))
            if getattr(granule, "defaulted", None):
                feedback.pushWarning(self.tr("{}: 6S ran on defaults, not data, for: {}").format(
                    granule.path.name, ", ".join(granule.defaulted)))

        with engine_errors(self.tr("ingest")):
            summary = ingest_many(granules, workspace, options, progress=progress,
                                  cancelled=feedback.isCanceled, on_granule=ingested,
                                  on_start=started)
        for failure in summary.failed:
            with engine_errors(str(failure.path)):
                raise failure.error
        if summary.interrupted is not None:
            feedback.pushWarning(self.tr("Cancelled: {} was not ingested").format(summary.interrupted.name))
        feedback.setProgress(100.0)
        return {self.WORKSPACE: workspace, self.ROWS: summary.rows, self.GRANULE_COUNT: len(summary.ingested),
                self.TILES_TOUCHED: tile_keys(summary.tiles), self.TILE_COUNT: len(summary.tiles)}
