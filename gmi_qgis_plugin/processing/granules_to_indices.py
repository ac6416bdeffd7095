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
from gmi_qgis_plugin.processing.run_method import MethodOptionParameters, RunMethod

METHOD = "mineral_indices"


def run_child(algorithm: type, parameters: Dict[str, Any], context: QgsProcessingContext,
              steps: QgsProcessingMultiStepFeedback) -> Dict[str, Any]:
    """Run ``gmi:<algorithm.NAME>`` as a child with the chain's context and multi-step feedback."""
    import processing

    return processing.run("gmi:" + algorithm.NAME, parameters, context=context, feedback=steps,
                          is_child_algorithm=True)


def next_step(steps: QgsProcessingMultiStepFeedback, step: int) -> None:
    """Move to ``step`` and reset the step's own progress (QgsFeedback ignores a repeated value,
    so a child reporting 100 % again after the previous child's 100 % would not be heard)."""
    steps.setCurrentStep(step)
    steps.setProgress(0.0)


class GranulesToIndices(GranuleParameters, AncillaryParameters, MethodOptionParameters, TilesParameter, GmiAlgorithm):
    """The whole local chain from AST_L1T files to styled mineral-index layers."""

    NAME = "granules_to_indices"
    WORKSPACE = "WORKSPACE"
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
        self.add_indices_and_strategy(self.tr("Indices (none = all)"))
        self.addParameter(QgsProcessingParameterNumber(
            self.WORKERS, self.tr("Worker processes"), QgsProcessingParameterNumber.Integer, 1, False, 1, 64))
        self.add_export_folder(self.OUTPUT)
        self.addOutput(QgsProcessingOutputNumber(self.ROWS, self.tr("Source rows written")))
        self.addOutput(QgsProcessingOutputNumber(self.COMPUTED, self.tr("Tiles computed")))
        self.addOutput(QgsProcessingOutputNumber(self.SKIPPED, self.tr("Tiles up to date (skipped)")))
        self.addOutput(QgsProcessingOutputMultipleLayers(self.LAYERS, self.tr("Index layers (VRT)")))

    def processAlgorithm(self, parameters: Dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        """Ingest, compute, export; stop between steps when cancelled."""
        steps = QgsProcessingMultiStepFeedback(3, feedback)
        workspace = self.parameterAsFileOutput(parameters, self.WORKSPACE, context)
        tiles = self.parameterAsString(parameters, self.TILES, context)
        options = self.ingest_options(parameters, context, self.tiles(parameters, self.TILES, context))
        ingest = run_child(IngestGranules, {
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
        }, context, steps)
        results: Dict[str, Any] = {self.WORKSPACE: ingest[IngestGranules.WORKSPACE],
                                   self.ROWS: ingest[IngestGranules.ROWS]}
        if steps.isCanceled():
            return results

        next_step(steps, 1)
        run = run_child(RunMethod, {
            RunMethod.WORKSPACE: ingest[IngestGranules.WORKSPACE],
            RunMethod.METHOD: METHOD,
            RunMethod.INDICES: self.chosen_indices(parameters, context),
            RunMethod.STRATEGY: self.enum_value(parameters, self.STRATEGY, context),
            RunMethod.ALLOW_MIXED_PROVENANCE: self.parameterAsBool(parameters, self.ALLOW_MIXED_PROVENANCE,
                                                                   context),
            RunMethod.BACKEND: "local",
            RunMethod.WORKERS: self.parameterAsInt(parameters, self.WORKERS, context),
            RunMethod.TILES: tiles,
        }, context, steps)
        results.update({self.COMPUTED: run[RunMethod.COMPUTED], self.SKIPPED: run[RunMethod.SKIPPED]})
        if steps.isCanceled():
            return results

        next_step(steps, 2)
        export = run_child(ExportResults, {
            ExportResults.WORKSPACE: run[RunMethod.WORKSPACE],
            ExportResults.METHOD: METHOD,
            ExportResults.OUTPUT: self.parameterAsFileOutput(parameters, self.OUTPUT, context),
            ExportResults.LOAD: True,
        }, context, steps)
        results.update({self.OUTPUT: export[ExportResults.OUTPUT], self.LAYERS: export[ExportResults.LAYERS]})
        return results
