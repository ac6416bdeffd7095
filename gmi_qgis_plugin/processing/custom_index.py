"""``gmi:custom_index``: a user band-math formula on a workspace's reflectance or a 9-band raster."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Dict

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputRasterLayer,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from gmi_engine.indices.apply import SOURCE_METHODS
from gmi_qgis_plugin.processing.base import (
    GROUP_ANALYSIS,
    GmiAlgorithm,
    TilesParameter,
    engine_errors,
    load_on_completion,
)

RASTER_COMPRESSION = "deflate"
"""The index GeoTIFF of a raster input: tiled, deflate (not a COG)."""
_ID_RE = re.compile(r"[a-z][a-z0-9_]{0,62}\Z")


class CustomIndex(TilesParameter, GmiAlgorithm):
    """Evaluate a safe formula over b1..b9 surface reflectance; NaN is nodata."""

    NAME = "custom_index"
    GROUP_ID = GROUP_ANALYSIS
    FORMULA = "FORMULA"
    INDEX_ID = "INDEX_ID"
    INDEX_NAME = "INDEX_NAME"
    WORKSPACE = "WORKSPACE"
    SOURCE_METHOD = "SOURCE_METHOD"
    INPUT = "INPUT"
    REFERENCE_SYNTAX = "REFERENCE_SYNTAX"
    OUTPUT = "OUTPUT"
    INDEX_LAYER = "INDEX_LAYER"
    EXPRESSION = "EXPRESSION"
    TILE_COUNT = "TILE_COUNT"

    def displayName(self) -> str:
        """Translated name."""
        return self.tr("Custom index (formula)")

    def initAlgorithm(self, config: Any = None) -> None:
        """Formula, id, and a workspace or a raster -> a styled index layer."""
        formula = QgsProcessingParameterString(self.FORMULA, self.tr("Formula over b1..b9"), "(b5*b7)/b6**2")
        formula.setHelp(self.tr("Numbers, b1..b9 (b3 = 3N), + - * / **, parentheses, abs sqrt log log10 "
                                "exp min max."))
        self.addParameter(formula)
        self.addParameter(QgsProcessingParameterString(self.INDEX_ID, self.tr("Index id (snake_case)"),
                                                       "custom_index"))
        self.addParameter(QgsProcessingParameterString(self.INDEX_NAME, self.tr("Display name"), optional=True))
        self.addParameter(QgsProcessingParameterFile(
            self.WORKSPACE, self.tr("Workspace folder (with mosaic or color_balancing results)"),
            behavior=QgsProcessingParameterFile.Folder, optional=True))
        self.add_tiles()
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.INPUT, self.tr("Or: a 9-band reflectance raster (bands b1..b9 in order)"), optional=True))
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT, self.tr("Output folder")))
        self.add_advanced(self.enum_parameter(self.SOURCE_METHOD, self.tr("Workspace reflectance"),
                                              SOURCE_METHODS, SOURCE_METHODS[0]),
                          self.tr("auto: color_balancing results when the workspace has them, else mosaic."))
        self.add_advanced(QgsProcessingParameterBoolean(
            self.REFERENCE_SYNTAX, self.tr("Reference-engine syntax ('\\' is ×, '^' is power)"), False),
            self.tr("Reads formulas written as in the reference engine's Mineral_Indices.csv."))
        self.addOutput(QgsProcessingOutputRasterLayer(self.INDEX_LAYER, self.tr("Index layer")))
        self.addOutput(QgsProcessingOutputString(self.EXPRESSION, self.tr("Canonical formula")))
        self.addOutput(QgsProcessingOutputNumber(self.TILE_COUNT, self.tr("Tiles computed")))

    def processAlgorithm(self, parameters: Dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        """Compile the formula (its errors name the offending part), then evaluate tile by tile."""
        from gmi_engine.errors import GmiError
        from gmi_engine.indices import compile_formula, default_library, user_index

        text = self.parameterAsString(parameters, self.FORMULA, context)
        index_id = self.parameterAsString(parameters, self.INDEX_ID, context).strip()
        if not _ID_RE.match(index_id):
            raise QgsProcessingException(self.tr(
                "INDEX_ID: {!r} must be snake_case: a lowercase letter, then letters, digits or '_'"
            ).format(index_id))
        reference = self.parameterAsBool(parameters, self.REFERENCE_SYNTAX, context)
        try:
            formula = compile_formula(text, reference_syntax=reference)
            definition = user_index(index_id, formula.expression,
                                    self.parameterAsString(parameters, self.INDEX_NAME, context).strip() or None)
        except GmiError as exc:
            raise QgsProcessingException("FORMULA: {}".format(exc)) from None
        library = default_library().with_index(definition)
        workspace = self.parameterAsString(parameters, self.WORKSPACE, context)
        raster = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if bool(workspace) == (raster is not None):
            raise QgsProcessingException(self.tr("Give either WORKSPACE or an INPUT raster (exactly one)"))
        out_dir = Path(self.parameterAsFileOutput(parameters, self.OUTPUT, context))
        feedback.pushInfo(self.tr("{} = {}").format(index_id, formula.expression))
        if workspace:
            path, tiles = self.from_workspace(parameters, context, feedback, workspace, library, index_id, out_dir)
        else:
            path, tiles = self.from_raster(raster, feedback, library, index_id, out_dir)
        load_on_completion(context, path, definition.name, self.INDEX_LAYER)
        return {self.OUTPUT: str(out_dir), self.INDEX_LAYER: str(path), self.EXPRESSION: formula.expression,
                self.TILE_COUNT: tiles}

    # -- a workspace's mosaic / color_balancing results ---------------------------------------
    def from_workspace(self, parameters: Dict[str, Any], context: QgsProcessingContext,
                       feedback: QgsProcessingFeedback, workspace: str, library: Any, index_id: str,
                       out_dir: Path) -> tuple:
        """One GeoTIFF per tile through the engine's export (VRT, style, STAC); returns (VRT, tiles)."""
        from gmi_engine.indices.apply import index_workspace

        with engine_errors(workspace):
            report = index_workspace(workspace, out_dir, index_id, library,
                                     source=self.enum_value(parameters, self.SOURCE_METHOD, context),
                                     tiles=self.tiles(parameters, self.TILES, context),
                                     progress=_progress(feedback), cancelled=feedback.isCanceled)
        if report.cancelled:
            raise QgsProcessingException(self.tr("Cancelled; {} is incomplete").format(out_dir))
        feedback.pushInfo(self.tr("reflectance: {} results of {} tile(s)").format(report.source_method, report.tiles))
        return report.path, report.tiles

    # -- a 9-band raster --------------------------------------------------------------------------
    def from_raster(self, layer: Any, feedback: QgsProcessingFeedback, library: Any, index_id: str,
                    out_dir: Path) -> tuple:
        """One float32 GeoTIFF on the raster's grid, block by block; returns (GeoTIFF, 0)."""
        from gmi_engine.export.results import ExportOptions
        from gmi_engine.indices.apply import index_raster

        if layer.providerType() != "gdal":
            raise QgsProcessingException(self.tr("INPUT: {} is not a GDAL raster").format(layer.source()))
        with engine_errors("INPUT"):
            report = index_raster(layer.source(), out_dir, index_id, library,
                                  ExportOptions(cog=False, compression=RASTER_COMPRESSION),
                                  progress=_progress(feedback), cancelled=feedback.isCanceled)
        if report.cancelled:
            raise QgsProcessingException(self.tr("Cancelled; {} is incomplete").format(report.path))
        return report.path, 0


def _progress(feedback: QgsProcessingFeedback) -> Callable[[float, str], None]:
    """The engine's ``progress(fraction, message)`` on a Processing feedback."""
    def progress(fraction: float, message: str) -> None:
        feedback.setProgress(100.0 * fraction)
        if message:
            feedback.setProgressText(message)

    return progress
