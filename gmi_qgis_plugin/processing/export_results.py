"""``gmi:export_results``: a method's result rows -> GeoTIFF/COG per tile, VRTs, styles, STAC; load them."""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterString,
)

from gmi_engine.kernel.bands import BAND_COLUMNS, column_label
from gmi_qgis_plugin.processing.base import (
    Cancelled,
    GmiAlgorithm,
    WorkspaceParameters,
    engine_errors,
    load_on_completion,
    plugin_settings,
)

REFLECTANCE_DTYPES = ("float32", "uint16")
"""``gmi_engine.export.REFLECTANCE_DTYPES``."""
COMPRESSIONS = ("zstd", "deflate", "lzw", "none")
"""``gmi_engine.export.geotiff.COMPRESSIONS`` (a test checks they agree)."""


def layer_title(output: str, library: Any = None) -> str:
    """A layer name for an exported output or RGB preset (index name, band label or preset title)."""
    from gmi_engine.export.layout import RGB_TITLES
    from gmi_engine.export.style import index_style

    if output in RGB_TITLES:
        return RGB_TITLES[output]
    style = index_style(output, library)
    if style is not None:
        return style.name
    if output in BAND_COLUMNS:
        return "ASTER {} surface reflectance".format(column_label(output))
    return output


def mosaic_layers(report: Any) -> List[Tuple[str, str]]:
    """(path, output) of the VRTs that span every tile: one per output, one per RGB preset."""
    from gmi_engine.export.layout import RGB_PRESETS, ExportLayout

    layout = ExportLayout.at(report.out_dir)
    layers = [(str(layout.output_vrt(report.method, o)), o) for o in report.outputs]
    written = {str(p) for p in report.vrts}
    for preset in RGB_PRESETS:
        path = str(layout.rgb_vrt(report.method, preset))
        if path in written:
            layers.append((path, preset))
    return layers


class ExportResults(WorkspaceParameters, GmiAlgorithm):
    """Write the results as files QGIS opens styled, and load the mosaic VRTs."""

    NAME = "export_results"
    OUTPUT = "OUTPUT"
    REFLECTANCE_DTYPE = "REFLECTANCE_DTYPE"
    OUTPUTS = "OUTPUTS"
    COG = "COG"
    COMPRESSION = "COMPRESSION"
    STAC = "STAC"
    LOAD = "LOAD"
    LAYERS = "LAYERS"
    TILE_COUNT = "TILE_COUNT"
    GEOTIFF_COUNT = "GEOTIFF_COUNT"
    VRT_COUNT = "VRT_COUNT"

    def displayName(self) -> str:
        """Translated name."""
        return self.tr("Export results")

    def initAlgorithm(self, config: Any = None) -> None:
        """Workspace, method, folder, encoding -> files and layers."""
        self.add_workspace_and_method(plugin_settings().workspace)
        self.add_export_folder(self.OUTPUT)
        dtype = self.enum_parameter(self.REFLECTANCE_DTYPE, self.tr("Reflectance encoding"),
                                    REFLECTANCE_DTYPES, REFLECTANCE_DTYPES[0])
        dtype.setHelp(self.tr("uint16 stores counts of 1e-4 (scale 1e-4, nodata 65535); float32 keeps NaN "
                              "nodata. Indices are always float32."))
        self.addParameter(dtype)
        self.add_advanced(QgsProcessingParameterString(
            self.OUTPUTS, self.tr("Only these outputs (ids separated by ';' or spaces)"), optional=True),
            self.tr("e.g. 'ferric_iron; kaolinite_index' or 'b01 b02 b03'. Empty exports every output."))
        self.add_advanced(QgsProcessingParameterBoolean(self.COG, self.tr("Cloud Optimized GeoTIFF"), True),
                          self.tr("COG with overviews; off writes plain tiled GeoTIFFs."))
        self.add_advanced(self.enum_parameter(self.COMPRESSION, self.tr("Compression"), COMPRESSIONS,
                                              COMPRESSIONS[0]),
                          self.tr("zstd is the fastest to write; deflate for software without ZSTD support; "
                                  "none writes the largest files."))
        self.add_advanced(QgsProcessingParameterBoolean(self.STAC, self.tr("Write STAC items"), True),
                          self.tr("One STAC item per tile with the provenance of its results."))
        self.add_advanced(QgsProcessingParameterBoolean(self.LOAD, self.tr("Open the layers when done"), True),
                          self.tr("Adds one styled VRT layer per output and per RGB preset."))
        self.addOutput(QgsProcessingOutputMultipleLayers(self.LAYERS, self.tr("Mosaic layers (VRT)")))
        self.addOutput(QgsProcessingOutputNumber(self.TILE_COUNT, self.tr("Tiles exported")))
        self.addOutput(QgsProcessingOutputNumber(self.GEOTIFF_COUNT, self.tr("GeoTIFFs written")))
        self.addOutput(QgsProcessingOutputNumber(self.VRT_COUNT, self.tr("VRTs written")))

    def processAlgorithm(self, parameters: Dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        """Stream the rows to files; cancel is checked after every GeoTIFF."""
        from gmi_engine.backends.local import LocalStore
        from gmi_engine.export import export_results

        workspace = self.parameterAsFile(parameters, self.WORKSPACE, context)
        method = self.enum_value(parameters, self.METHOD, context)
        out_dir = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        outputs = [o for o in self.parameterAsString(parameters, self.OUTPUTS, context).replace(";", " ").split()
                   if o] or None
        done = [0]

        with engine_errors(self.tr("export of {} from {}").format(method, workspace)), \
                LocalStore(workspace, create=False) as store:
            def progress(fraction: float, message: str) -> None:
                if feedback.isCanceled():
                    raise Cancelled()
                done[0] += 1
                feedback.setProgress(min(99.0, 100.0 * fraction))
                feedback.setProgressText(message)

            try:
                report = export_results(
                    store, out_dir, method, outputs=outputs,
                    reflectance_dtype=self.enum_value(parameters, self.REFLECTANCE_DTYPE, context),
                    cog=self.parameterAsBool(parameters, self.COG, context),
                    compression=self.enum_value(parameters, self.COMPRESSION, context),
                    stac=self.parameterAsBool(parameters, self.STAC, context), progress=progress)
            except Cancelled:
                raise QgsProcessingException(self.tr("Export cancelled after {} GeoTIFF(s); the folder {} is "
                                                     "incomplete").format(done[0], out_dir)) from None
        for line in report.summary().splitlines():
            feedback.pushInfo(line)
        layers = mosaic_layers(report)
        if self.parameterAsBool(parameters, self.LOAD, context):
            for path, output in layers:
                load_on_completion(context, path, f"{layer_title(output)} ({method})", self.LAYERS)
        feedback.setProgress(100.0)
        return {self.OUTPUT: str(report.out_dir), self.LAYERS: [p for p, _ in layers],
                self.TILE_COUNT: len(report.tiles), self.GEOTIFF_COUNT: len(report.geotiffs),
                self.VRT_COUNT: len(report.vrts)}
