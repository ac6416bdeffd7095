"""``gmi:custom_index``: a user band-math formula on a workspace's reflectance or a 9-band raster."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
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

from gmi_qgis_plugin.processing.base import (
    GROUP_ANALYSIS,
    Cancelled,
    GmiAlgorithm,
    TilesParameter,
    engine_errors,
    load_on_completion,
)

SOURCE_METHODS = ("auto", "color_balancing", "mosaic")
"""Which reflectance results of a workspace the formula reads (auto: balanced if computed)."""
RESULT_METHOD = "custom_index"
"""The method folder of the export (``<out>/custom_index/<id>/<tile key>.tif``)."""
BLOCK_ROWS = 256
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
            raise QgsProcessingException(f"FORMULA: {exc}") from None
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
        from gmi_engine.backends.local import LocalStore
        from gmi_engine.export import export_results
        from gmi_engine.export.layout import ExportLayout

        wanted = self.tiles(parameters, self.TILES, context)
        choice = self.enum_value(parameters, self.SOURCE_METHOD, context)
        with engine_errors(workspace), LocalStore(workspace, create=False) as store:
            method = _source_method(store, choice)
            available = store.result_tiles(method)
            tiles = [t for t in (wanted or available)]
            missing = [t for t in tiles if t not in available]
            if missing:
                raise QgsProcessingException(self.tr("TILES: no {} results on {} (run gmi:run_method first)").format(
                    method, ", ".join(f"{t.ix},{t.iy}" for t in missing)))
            feedback.pushInfo(self.tr("reflectance: {} results of {} tile(s)").format(method, len(tiles)))
            rows = _index_rows(store, method, tiles, index_id, library, feedback)
            try:
                report = export_results(rows, out_dir, RESULT_METHOD, library=library)
            except Cancelled:
                raise QgsProcessingException(self.tr("Cancelled; {} is incomplete").format(out_dir)) from None
        return ExportLayout.at(out_dir).output_vrt(RESULT_METHOD, index_id), len(report.tiles)

    # -- a 9-band raster --------------------------------------------------------------------------
    def from_raster(self, layer: Any, feedback: QgsProcessingFeedback, library: Any, index_id: str,
                    out_dir: Path) -> tuple:
        """One float32 GeoTIFF on the raster's grid, block by block; returns (GeoTIFF, 0)."""
        from osgeo import gdal

        from gmi_engine.export.style import (
            StretchSampler,
            index_style,
            pseudocolor_qml,
            resolve_stretch,
            write_qml,
        )

        if layer.providerType() != "gdal":
            raise QgsProcessingException(self.tr("INPUT: {} is not a GDAL raster").format(layer.source()))
        source = layer.source()
        with engine_errors(source):
            src = gdal.Open(source)
            if src is None:
                raise QgsProcessingException(self.tr("INPUT: GDAL cannot open {}").format(source))
            if src.RasterCount < 9:
                raise QgsProcessingException(self.tr("INPUT: {} has {} band(s); b1..b9 reflectance needs 9").format(
                    source, src.RasterCount))
            path = out_dir / RESULT_METHOD / (index_id + ".tif")
            path.parent.mkdir(parents=True, exist_ok=True)
            dst = gdal.GetDriverByName("GTiff").Create(
                str(path), src.RasterXSize, src.RasterYSize, 1, gdal.GDT_Float32,
                ["TILED=YES", "COMPRESS=DEFLATE", "PREDICTOR=3", "BIGTIFF=IF_SAFER"])
            dst.SetGeoTransform(src.GetGeoTransform())
            dst.SetProjection(src.GetProjection())
            band = dst.GetRasterBand(1)
            band.SetNoDataValue(float("nan"))
            band.SetDescription(index_id)
            sampler = StretchSampler()
            for y in range(0, src.RasterYSize, BLOCK_ROWS):
                if feedback.isCanceled():
                    dst = None
                    raise QgsProcessingException(self.tr("Cancelled; {} is incomplete").format(path))
                rows = min(BLOCK_ROWS, src.RasterYSize - y)
                data = _evaluate(_read_block(src, y, rows), index_id, library)
                band.WriteArray(data, 0, y)
                sampler.add(data)
                feedback.setProgress(100.0 * (y + rows) / src.RasterYSize)
            dst.FlushCache()
            dst = None
            style = index_style(index_id, library)
            vmin, vmax = resolve_stretch(style.stretch or {}, sampler.values(), index_id)
            write_qml(path, pseudocolor_qml(style.ramp or "Viridis", vmin, vmax))
        return path, 0


def _source_method(store: Any, choice: str) -> str:
    """The reflectance method to read: the chosen one, or (auto) color_balancing, else mosaic."""
    computed = store.methods()
    if choice != "auto":
        if choice not in computed:
            raise QgsProcessingException(f"SOURCE_METHOD: the workspace has no {choice} results "
                                         f"(run gmi:run_method with METHOD {choice})")
        return choice
    for method in ("color_balancing", "mosaic"):
        if method in computed:
            return method
    raise QgsProcessingException("WORKSPACE: no reflectance results (run gmi:run_method with METHOD "
                                 "color_balancing or mosaic first; mineral_indices keeps only the indices)")


def _index_rows(store: Any, method: str, tiles: list, index_id: str, library: Any,
                feedback: QgsProcessingFeedback) -> Iterator[Any]:
    """Result rows of the index, one tile at a time (cancel raises :class:`Cancelled`)."""
    from gmi_engine.kernel.bands import BAND_COLUMNS
    from gmi_engine.table import MASK_OUTPUT, ResultRow

    for n, tile in enumerate(tiles):
        if feedback.isCanceled():
            raise Cancelled()
        results = store.results(tile, method)
        missing = [c for c in BAND_COLUMNS if c not in results]
        if missing:
            raise QgsProcessingException("tile {},{}: {} results lack {}".format(
                tile.ix, tile.iy, method, ", ".join(missing)))
        stack = np.stack([results[c].data for c in BAND_COLUMNS]).astype(np.float32, copy=False)
        meta = dict(results[MASK_OUTPUT].meta if MASK_OUTPUT in results else results[BAND_COLUMNS[0]].meta)
        meta["custom_index"] = {"id": index_id, "formula": library[index_id].formula, "source_method": method}
        data = _evaluate(stack, index_id, library)
        feedback.setProgress(100.0 * (n + 1) / len(tiles))
        yield ResultRow(tile.ix, tile.iy, RESULT_METHOD, index_id, data, meta)


def _evaluate(stack: np.ndarray, index_id: str, library: Any) -> np.ndarray:
    """The index on a (9, rows, cols) reflectance stack; SWIR masked where any SWIR band is NaN."""
    from gmi_engine.kernel.indices import compute_indices

    swir_ok = np.isfinite(stack[3:]).all(axis=0)
    return compute_indices(stack, ids=[index_id], swir_usable=swir_ok, library=library)[index_id]


def _read_block(ds: Any, y: int, rows: int) -> np.ndarray:
    """Bands 1..9 of rows ``y``..``y+rows`` as float32 reflectance (scale/offset applied, nodata NaN)."""
    out = np.empty((9, rows, ds.RasterXSize), dtype=np.float32)
    for i in range(9):
        band = ds.GetRasterBand(i + 1)
        raw = band.ReadAsArray(0, y, ds.RasterXSize, rows)
        values = raw.astype(np.float32)
        nodata: Optional[float] = band.GetNoDataValue()
        if nodata is not None and not np.isnan(nodata):
            values[raw == nodata] = np.nan
        scale, offset = band.GetScale(), band.GetOffset()
        if scale not in (None, 1.0) or offset not in (None, 0.0):
            values = values * np.float32(scale if scale is not None else 1.0) + np.float32(offset or 0.0)
        out[i] = values
    return out
