"""``gmi:list_tiles``: the global grid tiles under granule footprints and/or an extent, as polygons."""
from __future__ import annotations

import math
from collections import Counter
from typing import Any, Dict, List, Optional

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsRectangle,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from gmi_qgis_plugin.processing.base import (
    GROUP_ANALYSIS,
    GmiAlgorithm,
    GranuleParameters,
    engine_errors,
    tile_keys,
)

GRID_CRS = "EPSG:3857"


class ListTiles(GranuleParameters, GmiAlgorithm):
    """Tile polygons (EPSG:3857) with key, ix, iy and granule counts."""

    NAME = "list_tiles"
    GROUP_ID = GROUP_ANALYSIS
    EXTENT = "EXTENT"
    WORKSPACE = "WORKSPACE"
    MAX_TILES = "MAX_TILES"
    OUTPUT = "OUTPUT"
    TILES = "TILES"
    TILE_COUNT = "TILE_COUNT"

    def displayName(self) -> str:
        """Translated name."""
        return self.tr("List grid tiles")

    def initAlgorithm(self, config: Any = None) -> None:
        """Granules and/or an extent (+ a workspace for counts) -> tile polygons."""
        self.add_granules(optional=True)
        self.addParameter(QgsProcessingParameterExtent(self.EXTENT, self.tr("Extent"), optional=True))
        workspace = QgsProcessingParameterFile(
            self.WORKSPACE, self.tr("Workspace (adds the stored granule count and computed methods)"),
            behavior=QgsProcessingParameterFile.Folder, optional=True)
        self.addParameter(workspace)
        self.add_advanced(QgsProcessingParameterNumber(
            self.MAX_TILES, self.tr("Maximum number of tiles"), QgsProcessingParameterNumber.Integer,
            20000, False, 1), self.tr("Refuse extents covering more tiles than this (a 30 km grid has "
                                      "1.7 million tiles)."))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, self.tr("Grid tiles"), QgsProcessing.TypeVectorPolygon))
        self.addOutput(QgsProcessingOutputString(self.TILES, self.tr("Tile keys")))
        self.addOutput(QgsProcessingOutputNumber(self.TILE_COUNT, self.tr("Number of tiles")))

    def processAlgorithm(self, parameters: Dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        """Union of the footprint tiles and the extent tiles (or the workspace's tiles if neither)."""
        from gmi_engine.aster.reader import open_granule
        from gmi_engine.grid import DEFAULT_GRID

        grid = DEFAULT_GRID
        granules = self.granule_files(parameters, context)
        workspace = self.parameterAsString(parameters, self.WORKSPACE, context)
        max_tiles = self.parameterAsInt(parameters, self.MAX_TILES, context)
        footprint_counts: Counter = Counter()
        for path in granules:
            if feedback.isCanceled():
                return {}
            with engine_errors(str(path)):
                footprint_counts.update(grid.tiles_for_polygon(list(open_granule(path).footprint_lonlat)))
        tiles = set(footprint_counts)
        if parameters.get(self.EXTENT) not in (None, ""):
            extent = self.parameterAsExtent(parameters, self.EXTENT, context,
                                            QgsCoordinateReferenceSystem(GRID_CRS))
            tiles.update(extent_tiles(extent, max_tiles))
        stored: Optional[Counter] = None
        methods: Dict[Any, List[str]] = {}
        if workspace:
            stored, methods = _workspace_counts(workspace)
            if not granules and not tiles:
                tiles = set(stored)
        if not tiles and not granules and not workspace:
            raise QgsProcessingException(self.tr("Give granules, an extent or a workspace"))
        if len(tiles) > max_tiles:
            raise QgsProcessingException(self.tr("{} tiles is more than MAX_TILES = {}").format(
                len(tiles), max_tiles))

        fields = QgsFields()
        fields.append(QgsField("key", QVariant.String))
        fields.append(QgsField("ix", QVariant.Int))
        fields.append(QgsField("iy", QVariant.Int))
        if granules:
            fields.append(QgsField("granules", QVariant.Int))
        if stored is not None:
            fields.append(QgsField("stored", QVariant.Int))
            fields.append(QgsField("results", QVariant.String))
        sink, dest = self.parameterAsSink(parameters, self.OUTPUT, context, fields, QgsWkbTypes.Polygon,
                                          QgsCoordinateReferenceSystem(GRID_CRS))
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT))
        ordered = sorted(tiles)
        for n, tile in enumerate(ordered):
            if feedback.isCanceled():
                break
            b = grid.bounds(tile)
            feature = QgsFeature(fields)
            feature.setGeometry(QgsGeometry.fromRect(QgsRectangle(b.xmin, b.ymin, b.xmax, b.ymax)))
            attributes = [grid.key(tile), tile.ix, tile.iy]
            if granules:
                attributes.append(footprint_counts.get(tile, 0))
            if stored is not None:
                attributes += [stored.get(tile, 0), ",".join(methods.get(tile, []))]
            feature.setAttributes(attributes)
            sink.addFeature(feature, QgsFeatureSink.FastInsert)
            feedback.setProgress(100.0 * (n + 1) / len(ordered))
        feedback.pushInfo(self.tr("{} tile(s)").format(len(ordered)))
        return {self.OUTPUT: dest, self.TILES: tile_keys(ordered), self.TILE_COUNT: len(ordered)}


def extent_tiles(extent: QgsRectangle, max_tiles: int) -> list:
    """Tiles whose interior overlaps an EPSG:3857 extent (edge-only contact left out)."""
    from gmi_engine.grid import DEFAULT_GRID, WORLD_HALF_WIDTH_M, TileIndex

    grid = DEFAULT_GRID
    limit = WORLD_HALF_WIDTH_M

    def clamp(v: float) -> float:
        return max(-limit, min(limit, v)) if math.isfinite(v) else math.copysign(limit, v)

    x0, x1 = clamp(extent.xMinimum()), clamp(extent.xMaximum())
    y0, y1 = clamp(extent.yMinimum()), clamp(extent.yMaximum())
    if not (x1 > x0 and y1 > y0):
        raise QgsProcessingException(f"EXTENT: the extent has no area in {GRID_CRS}")
    top_left = grid.tile_of_xy(x0, y1)
    bottom_right = grid.tile_of_xy(x1, y0)
    ix1, iy1 = bottom_right.ix, bottom_right.iy
    corner = grid.bounds(bottom_right)
    if ix1 > top_left.ix and corner.xmin >= x1:
        ix1 -= 1
    if iy1 > top_left.iy and corner.ymax <= y0:
        iy1 -= 1
    count = (ix1 - top_left.ix + 1) * (iy1 - top_left.iy + 1)
    if count > max_tiles:
        raise QgsProcessingException(f"EXTENT covers {count} tiles, more than MAX_TILES = {max_tiles}")
    return [TileIndex(ix, iy) for iy in range(top_left.iy, iy1 + 1) for ix in range(top_left.ix, ix1 + 1)]


def _workspace_counts(workspace: str) -> tuple:
    """(tile -> stored granule count, tile -> computed methods) of a workspace store."""
    from gmi_engine.backends.local import LocalStore

    with engine_errors(workspace), LocalStore(workspace, create=False) as store:
        counts: Counter = Counter()
        for granule_id in store.granules():
            counts.update(store.tiles_of_granule(granule_id))
        methods: Dict[Any, List[str]] = {}
        for method in store.methods():
            for tile in store.result_tiles(method):
                methods.setdefault(tile, []).append(method)
    return counts, methods
