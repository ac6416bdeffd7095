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
    Cancelled,
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
        from gmi_engine.backends.local import LocalStore
        from gmi_engine.grid import TileIndex
        from gmi_engine.ingest import ingest_granule

        granules = self.granule_files(parameters, context)
        if not granules:
            raise QgsProcessingException(self.tr("GRANULES: no granule given"))
        workspace = self.parameterAsFileOutput(parameters, self.WORKSPACE, context)
        options = self.ingest_options(parameters, context, self.tiles(parameters, self.TILES, context))
        rows_written, ingested, touched = 0, 0, set()
        n = len(granules)
        with engine_errors(self.tr("ingest")), LocalStore(workspace) as store:
            for k, path in enumerate(granules):
                if feedback.isCanceled():
                    break
                feedback.setProgressText(self.tr("Granule {} of {}: {}").format(k + 1, n, path.name))
                feedback.setProgress(100.0 * k / n)

                def progress(granule_id: str, done: int, total: int, k: int = k) -> None:
                    if feedback.isCanceled():
                        raise Cancelled()
                    feedback.setProgress(100.0 * (k + done / max(total, 1)) / n)

                try:
                    with engine_errors(str(path)):
                        rows = ingest_granule(path, store, options, progress=progress)
                except Cancelled:
                    feedback.pushWarning(self.tr("Cancelled: {} was not ingested").format(path.name))
                    break
                tiles = sorted({(r.tile_x, r.tile_y) for r in rows})
                touched.update(tiles)
                rows_written += len(rows)
                ingested += 1
                if rows:
                    feedback.pushInfo(self.tr("{}: {} tile(s): {}").format(
                        path.name, len(rows), " ".join("{},{}".format(*t) for t in tiles)))
                else:
                    feedback.pushWarning(self.tr("{}: no tile with valid pixels").format(path.name))
        feedback.setProgress(100.0)
        ordered = sorted(touched)
        return {self.WORKSPACE: workspace, self.ROWS: rows_written, self.GRANULE_COUNT: ingested,
                self.TILES_TOUCHED: tile_keys([TileIndex(*t) for t in ordered]),
                self.TILE_COUNT: len(ordered)}
