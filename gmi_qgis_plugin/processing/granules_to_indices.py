"""``gmi:granules_to_indices``: ingest -> mineral_indices -> export, as one algorithm.

The steps are the building-block algorithms, run through ``processing.run`` as children with
this algorithm's context (so the exported layers load when the whole chain completes) and a
QgsProcessingMultiStepFeedback (so progress and cancel span the three steps).
"""
from __future__ import annotations

from typing import Any, Dict

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
)

from gmi_qgis_plugin.processing.base import (
    AncillaryParameters,
    GmiAlgorithm,
    GranuleParameters,
    TilesParameter,
    plugin_settings,
)
from gmi_qgis_plugin.processing.export_results import ExportResults
from gmi_qgis_plugin.processing.ingest_granules import IngestGranules
from gmi_qgis_plugin.processing.run_method import STRATEGIES, RunMethod, index_ids

METHOD = "mineral_indices"


def next_step(steps: QgsProcessingMultiStepFeedback, step: int) -> None:
    """Move to ``step`` and reset the step's own progress (QgsFeedback ignores a repeated value,
    so a child reporting 100 % again after the previous child's 100 % would not be heard)."""
    steps.setCurrentStep(step)
    steps.setProgress(0.0)


class GranulesToIndices(GranuleParameters, AncillaryParameters, TilesParameter, GmiAlgorithm):
    """The whole local chain from AST_L1T files to styled mineral-index layers."""

    NAME = "granules_to_indices"
    WORKSPACE = "WORKSPACE"
    INDICES = "INDICES"
    STRATEGY = "STRATEGY"
    WORKERS = "WORKERS"
    OUTPUT = "OUTPUT"
    ROWS = "ROWS"
    COMPUTED = "COMPUTED"
    SKIPPED = "SKIPPED"
    LAYERS = "LAYERS"

    def displayName(self) -> str:
        """Translated name."""
        return self.tr("Granules → mineral indices")

    def initAlgorithm(self, config: Any = None) -> None:
        """The inputs of the three steps that a user chooses."""
        settings = plugin_settings()
        self.add_granules()
        self.addParameter(QgsProcessingParameterFolderDestination(
            self.WORKSPACE, self.tr("Workspace folder"), defaultValue=settings.workspace))
        self.add_ancillary()
        self.add_tiles(self.tr("Only these tiles (IX,IY or tile keys; empty = every tile touched)"))
        self.addParameter(self.enum_parameter(self.INDICES, self.tr("Indices (none = all)"), index_ids(), None,
                                              optional=True, multiple=True))
        self.addParameter(self.enum_parameter(self.STRATEGY, self.tr("Mosaic strategy"), STRATEGIES,
                                              STRATEGIES[0]))
        self.addParameter(QgsProcessingParameterNumber(
            self.WORKERS, self.tr("Worker processes"), QgsProcessingParameterNumber.Integer, 1, False, 1, 64))
        self.addParameter(QgsProcessingParameterFolderDestination(
            self.OUTPUT, self.tr("Export folder"), defaultValue=str(settings.export_dir)))
        self.addOutput(QgsProcessingOutputNumber(self.ROWS, self.tr("Source rows written")))
        self.addOutput(QgsProcessingOutputNumber(self.COMPUTED, self.tr("Tiles computed")))
        self.addOutput(QgsProcessingOutputNumber(self.SKIPPED, self.tr("Tiles up to date (skipped)")))
        self.addOutput(QgsProcessingOutputMultipleLayers(self.LAYERS, self.tr("Index layers (VRT)")))

    def processAlgorithm(self, parameters: Dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        """Ingest, compute, export; stop between steps when cancelled."""
        import processing

        steps = QgsProcessingMultiStepFeedback(3, feedback)
        workspace = self.parameterAsFileOutput(parameters, self.WORKSPACE, context)
        tiles = self.parameterAsString(parameters, self.TILES, context)
        options = self.ingest_options(parameters, context, self.tiles(parameters, self.TILES, context))
        ingest = processing.run("gmi:" + IngestGranules.NAME, {
            IngestGranules.GRANULES: [str(p) for p in self.granule_files(parameters, context)],
            IngestGranules.WORKSPACE: workspace,
            IngestGranules.MCD19A2: [str(p) for p in options.mcd19a2],
            IngestGranules.GDEM: [str(p) for p in options.gdem],
            IngestGranules.MOD09A1: [str(p) for p in options.modis_ref],
            IngestGranules.TILES: tiles,
            IngestGranules.OZONE: options.ozone,
            IngestGranules.AEROSOL_MODEL: options.aerosol_model,
            IngestGranules.PROCESSES: options.processes,
            IngestGranules.SIXS_LUT: str(options.lut) if options.lut else None,
        }, context=context, feedback=steps, is_child_algorithm=True)
        results: Dict[str, Any] = {self.WORKSPACE: ingest[IngestGranules.WORKSPACE],
                                   self.ROWS: ingest[IngestGranules.ROWS]}
        if steps.isCanceled():
            return results

        next_step(steps, 1)
        run = processing.run("gmi:" + RunMethod.NAME, {
            RunMethod.WORKSPACE: ingest[IngestGranules.WORKSPACE],
            RunMethod.METHOD: METHOD,
            RunMethod.INDICES: [i for i in self.parameterAsEnumStrings(parameters, self.INDICES, context) if i],
            RunMethod.STRATEGY: self.enum_value(parameters, self.STRATEGY, context),
            RunMethod.BACKEND: "local",
            RunMethod.WORKERS: self.parameterAsInt(parameters, self.WORKERS, context),
            RunMethod.TILES: tiles,
        }, context=context, feedback=steps, is_child_algorithm=True)
        results.update({self.COMPUTED: run[RunMethod.COMPUTED], self.SKIPPED: run[RunMethod.SKIPPED]})
        if steps.isCanceled():
            return results

        next_step(steps, 2)
        export = processing.run("gmi:" + ExportResults.NAME, {
            ExportResults.WORKSPACE: run[RunMethod.WORKSPACE],
            ExportResults.METHOD: METHOD,
            ExportResults.OUTPUT: self.parameterAsFileOutput(parameters, self.OUTPUT, context),
            ExportResults.LOAD: True,
        }, context=context, feedback=steps, is_child_algorithm=True)
        results.update({self.OUTPUT: export[ExportResults.OUTPUT], self.LAYERS: export[ExportResults.LAYERS]})
        return results
