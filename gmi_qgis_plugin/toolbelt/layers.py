"""Map layers the plugin makes: granule footprints, the visible tile grid, a run's results.

Main thread only. Memory layers are declared by URI (no ``QVariant`` field types, so the code
is the same under Qt5 and Qt6); everything is in EPSG:3857, the CRS of the tile grid.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsFillSymbol,
    QgsGeometry,
    QgsLayerTreeGroup,
    QgsPalLayerSettings,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsRendererCategory,
    QgsRuleBasedRenderer,
    QgsTextBufferSettings,
    QgsTextFormat,
    QgsVectorLayer,
    QgsVectorLayerSimpleLabeling,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QCoreApplication
from qgis.PyQt.QtGui import QColor, QFont

from gmi_engine.grid import DEFAULT_GRID, TileGrid, TileIndex
from gmi_engine.kernel.bands import BAND_COLUMNS, column_label
from gmi_qgis_plugin.errors import GmiPluginError
from gmi_qgis_plugin.toolbelt.granules import SWIR_ABSENT, SWIR_OK, SWIR_POST_2008, GranuleSummary

CRS_GRID = "EPSG:3857"
FOOTPRINT_LAYER_NAME = "GMI granule footprints"
GRID_LAYER_NAME = "GMI tile grid"
MAX_GRID_TILES = 5000
"""More tiles than this in view: the grid is not drawn (zoom in)."""
PROP_ROLE = "gmi/role"
PROP_JOB = "gmi/job"
PROP_OUTPUT = "gmi/output"
TR_CONTEXT = "GmiLayers"
SWIR_STYLE = {  # state -> (fill RGBA, stroke, legend label)
    SWIR_OK: ("26,152,80,70", "26,120,60", QT_TRANSLATE_NOOP("GmiLayers", "SWIR usable")),
    SWIR_POST_2008: ("244,109,67,70", "200,70,40",
                     QT_TRANSLATE_NOOP("GmiLayers", "SWIR unusable (acquired after 2008-03-31)")),
    SWIR_ABSENT: ("150,150,150,60", "110,110,110", QT_TRANSLATE_NOOP("GmiLayers", "no SWIR bands")),
}
INDEX_GROUPS = (("iron", QT_TRANSLATE_NOOP("GmiLayers", "Iron")),
                ("aloh_clay", QT_TRANSLATE_NOOP("GmiLayers", "AlOH / clays")),
                ("mgoh_carbonate", QT_TRANSLATE_NOOP("GmiLayers", "MgOH / carbonates")),
                ("mask", QT_TRANSLATE_NOOP("GmiLayers", "Water and vegetation")))
RGB_NAMES = {"rgb_321": QT_TRANSLATE_NOOP("GmiLayers", "ASTER 3-2-1 false colour (B3N, B2, B1)"),
             "rgb_468": QT_TRANSLATE_NOOP("GmiLayers", "ASTER 4-6-8 SWIR false colour (B4, B6, B8)")}


def tr(text: str) -> str:
    """``text`` translated in the layer-naming context."""
    return QCoreApplication.translate(TR_CONTEXT, text)


def _transform_to_grid(crs: QgsCoordinateReferenceSystem) -> QgsCoordinateTransform:
    return QgsCoordinateTransform(crs, QgsCoordinateReferenceSystem(CRS_GRID), QgsProject.instance())


def _memory_layer(geometry: str, name: str, fields: Sequence[Tuple[str, str]]) -> QgsVectorLayer:
    uri = "{}?crs={}&{}".format(geometry, CRS_GRID, "&".join("field={}:{}".format(n, t) for n, t in fields))
    layer = QgsVectorLayer(uri, name, "memory")
    if not layer.isValid():
        raise RuntimeError("cannot create the memory layer {!r}".format(name))
    return layer


def _fill(fill: str, stroke: str, width: float = 0.4) -> QgsFillSymbol:
    return QgsFillSymbol.createSimple({"color": fill, "outline_color": stroke,
                                      "outline_width": str(width), "outline_width_unit": "MM"})


def _labels(layer: QgsVectorLayer, expression: str, size: float, min_size_mm: float = 0.0) -> None:
    settings = QgsPalLayerSettings()
    settings.fieldName = expression
    settings.isExpression = True
    settings.minFeatureSize = min_size_mm
    text = QgsTextFormat()
    text.setFont(QFont("Sans Serif"))
    text.setSize(size)
    text.setColor(QColor(40, 40, 40))
    buffer = QgsTextBufferSettings()
    buffer.setEnabled(True)
    buffer.setSize(0.8)
    buffer.setColor(QColor(255, 255, 255, 220))
    text.setBuffer(buffer)
    settings.setFormat(text)
    layer.setLabeling(QgsVectorLayerSimpleLabeling(settings))
    layer.setLabelsEnabled(True)


# ------------------------------------------------------------------------------ footprints

def footprint_geometry(lonlat_ring: Iterable[Sequence[float]]) -> QgsGeometry:
    """A footprint ring (lon, lat) as an EPSG:3857 polygon, edges densified every 0.01°."""
    points = [QgsPointXY(float(lon), float(lat)) for lon, lat in lonlat_ring]
    if points[0] != points[-1]:
        points.append(points[0])
    geometry = QgsGeometry.fromPolygonXY([points]).densifyByDistance(0.01)
    geometry.transform(_transform_to_grid(QgsCoordinateReferenceSystem("EPSG:4326")))
    return geometry


def footprints_layer(granules: Sequence[GranuleSummary], name: str = FOOTPRINT_LAYER_NAME) -> QgsVectorLayer:
    """A memory layer of the granules' footprints, categorized by SWIR health."""
    layer = _memory_layer("Polygon", name, [
        ("granule_id", "string(64)"), ("acquired", "string(20)"), ("sun_elev", "double"),
        ("cloud_pct", "double"), ("gains", "string(80)"), ("bands", "string(80)"),
        ("swir", "string(12)"), ("path", "string(1024)")])
    features = []
    for g in granules:
        feature = QgsFeature(layer.fields())
        feature.setGeometry(footprint_geometry(g.footprint_lonlat))
        feature.setAttributes([g.granule_id, g.date_text, g.sun_elevation,
                               None if g.cloud_cover is None else float(g.cloud_cover),
                               g.gains_text, g.bands_text, g.swir, g.path])
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    layer.updateExtents()
    categories = [QgsRendererCategory(state, _fill(fill, stroke, 0.5), tr(label))
                  for state, (fill, stroke, label) in SWIR_STYLE.items()]
    layer.setRenderer(QgsCategorizedSymbolRenderer("swir", categories))
    _labels(layer, "left(\"acquired\", 10)", 8.0, min_size_mm=8.0)
    layer.setCustomProperty(PROP_ROLE, "footprints")
    return layer


# ------------------------------------------------------------------------------ tile grid

class TooManyTiles(GmiPluginError, ValueError):
    """The extent holds more tiles than :data:`MAX_GRID_TILES`."""


def grid_extent(extent: QgsRectangle, crs: QgsCoordinateReferenceSystem,
                grid: TileGrid = DEFAULT_GRID) -> Optional[QgsRectangle]:
    """``extent`` (in ``crs``) as EPSG:3857, clipped to the grid; None if outside it."""
    if crs.authid() != CRS_GRID:
        extent = _transform_to_grid(crs).transformBoundingBox(extent)
    half = grid.half_extent
    clipped = extent.intersect(QgsRectangle(-half, -half, half, half))
    return None if clipped.isEmpty() else clipped


def tiles_in_extent(extent3857: QgsRectangle, grid: TileGrid = DEFAULT_GRID,
                    max_tiles: int = MAX_GRID_TILES) -> List[TileIndex]:
    """Every tile meeting an EPSG:3857 extent; :class:`TooManyTiles` past ``max_tiles``."""
    half, size, last = grid.half_extent, grid.tile_size_m, grid.tiles_per_axis - 1
    ix0 = max(0, int(math.floor((extent3857.xMinimum() + half) / size)))
    ix1 = min(last, int(math.floor((extent3857.xMaximum() + half) / size)))
    iy0 = max(0, int(math.floor((half - extent3857.yMaximum()) / size)))
    iy1 = min(last, int(math.floor((half - extent3857.yMinimum()) / size)))
    count = (ix1 - ix0 + 1) * (iy1 - iy0 + 1)
    if count > max_tiles:
        raise TooManyTiles("{} tiles in view (at most {} are drawn): zoom in".format(count, max_tiles))
    return [TileIndex(ix, iy) for iy in range(iy0, iy1 + 1) for ix in range(ix0, ix1 + 1)]


def tile_geometry(tile: TileIndex, grid: TileGrid = DEFAULT_GRID) -> QgsGeometry:
    """The tile's square in EPSG:3857."""
    b = grid.bounds(tile)
    return QgsGeometry.fromRect(QgsRectangle(b.xmin, b.ymin, b.xmax, b.ymax))


def grid_layer(name: str = GRID_LAYER_NAME) -> QgsVectorLayer:
    """An empty, styled tile-grid layer; fill it with :func:`fill_grid_layer`."""
    layer = _memory_layer("Polygon", name, [("key", "string(48)"), ("ix", "integer"), ("iy", "integer"),
                                            ("granules", "integer"), ("selected", "integer")])
    root = QgsRuleBasedRenderer.Rule(None)
    for label, expression, symbol in (
            (QT_TRANSLATE_NOOP("GmiLayers", "Picked"), '"selected" = 1', _fill("253,141,60,45", "230,85,13", 0.9)),
            (QT_TRANSLATE_NOOP("GmiLayers", "Holds ingested granules"), '"selected" = 0 AND "granules" > 0',
             _fill("49,130,189,30", "49,130,189", 0.5)),
            (QT_TRANSLATE_NOOP("GmiLayers", "Tile"), "ELSE", _fill("0,0,0,0", "100,100,100,170", 0.25))):
        root.appendChild(QgsRuleBasedRenderer.Rule(symbol, 0, 0, expression, tr(label)))
    layer.setRenderer(QgsRuleBasedRenderer(root))
    _labels(layer, "concat('x ', \"ix\", '  y ', \"iy\", "
                   "if(\"granules\" > 0, '\\n' || \"granules\" || ' granule' || "
                   "if(\"granules\" > 1, 's', ''), ''))", 7.5, min_size_mm=12.0)
    layer.setCustomProperty(PROP_ROLE, "tile_grid")
    return layer


def fill_grid_layer(layer: QgsVectorLayer, tiles: Sequence[TileIndex], selected: Set[TileIndex],
                    counts: Mapping[TileIndex, int], grid: TileGrid = DEFAULT_GRID) -> int:
    """Replace the layer's features with ``tiles``; returns the feature count."""
    provider = layer.dataProvider()
    provider.truncate()
    features = []
    for tile in tiles:
        feature = QgsFeature(layer.fields())
        feature.setGeometry(tile_geometry(tile, grid))
        feature.setAttributes([grid.key(tile), tile.ix, tile.iy, int(counts.get(tile, 0)),
                               1 if tile in selected else 0])
        features.append(feature)
    provider.addFeatures(features)
    layer.updateExtents()
    layer.triggerRepaint()
    return len(features)


def tiles_of_geometries(geometries: Iterable[QgsGeometry], crs: QgsCoordinateReferenceSystem,
                        grid: TileGrid = DEFAULT_GRID, max_tiles: int = 20000) -> List[TileIndex]:
    """Tiles whose interior a set of polygons (in ``crs``) overlaps, sorted."""
    transform = None if crs.authid() == CRS_GRID else _transform_to_grid(crs)
    found: Set[TileIndex] = set()
    for geometry in geometries:
        g = QgsGeometry(geometry)
        if g.isEmpty():
            continue
        if transform is not None:
            g.transform(transform)
        box = grid_extent(g.boundingBox(), QgsCoordinateReferenceSystem(CRS_GRID), grid)
        if box is None:
            continue
        for tile in tiles_in_extent(box, grid, max_tiles):
            square = tile_geometry(tile, grid)
            if g.intersects(square) and not g.touches(square):
                found.add(tile)
    return sorted(found)


# ------------------------------------------------------------------------------ results

@dataclass(frozen=True)
class ResultLayer:
    """One raster to load: file, layer name, legend sub-group, visible or not."""

    path: Path
    name: str
    output: str
    subgroup: str = ""
    visible: bool = False


def _index_names(locale: str) -> Dict[str, Tuple[str, str]]:
    from gmi_engine.kernel.indices import default_library

    names = {}
    for definition in default_library():
        name = definition.name_zh_CN if locale.startswith("zh") and definition.name_zh_CN else definition.name
        names[definition.id] = (name, definition.group)
    return names


def result_layers(export_root: Path, method: str, locale: str = "en") -> List[ResultLayer]:
    """The rasters of one export to load, in legend order (top first), the first one visible."""
    from gmi_engine.export.layout import ExportLayout

    layout = ExportLayout.at(export_root)
    folder = layout.method_dir(method)
    vrts = {p.stem: p for p in sorted(folder.glob("*.vrt"))}
    layers: List[ResultLayer] = []
    if method == "mineral_indices":
        names = _index_names(locale)
        group_titles = {key: tr(title) for key, title in INDEX_GROUPS}
        ordered = [i for i in names if i in vrts] + sorted(set(vrts) - set(names))
        for output in ordered:
            name, group = names.get(output, (output, ""))
            layers.append(ResultLayer(vrts[output], name, output, group_titles.get(group, group)))
    else:
        for preset in ("rgb_321", "rgb_468"):
            if preset in vrts:
                layers.append(ResultLayer(vrts[preset], tr(RGB_NAMES[preset]), preset))
        bands = sorted(o for o in vrts if o in BAND_COLUMNS)
        for output in bands:
            label = column_label(output)
            name = QCoreApplication.translate("GmiLayers", "{} reflectance").format(label)
            layers.append(ResultLayer(vrts[output], name, output, QCoreApplication.translate("GmiLayers", "Bands")))
        for output in sorted(set(vrts) - set(bands) - set(RGB_NAMES)):
            layers.append(ResultLayer(vrts[output], output.replace("_", " ").capitalize(), output,
                                      QCoreApplication.translate("GmiLayers", "Provenance")))
    if layers:
        first = layers[0]
        layers[0] = ResultLayer(first.path, first.name, first.output, first.subgroup, True)
    return layers


def add_results_group(title: str, layers: Sequence[ResultLayer], job_id: int,
                      project: Optional[QgsProject] = None) -> Tuple[QgsLayerTreeGroup, List[QgsRasterLayer]]:
    """Add ``layers`` (their .qml styles load with them) in a new top legend group ``title``."""
    project = project or QgsProject.instance()
    root = project.layerTreeRoot()
    group = root.insertGroup(0, title)
    subgroups: Dict[str, QgsLayerTreeGroup] = {}
    added = []
    for item in layers:
        layer = QgsRasterLayer(str(item.path), item.name, "gdal")
        if not layer.isValid():
            raise RuntimeError("{}: QGIS cannot open it ({})".format(item.path, layer.error().summary()))
        layer.setCustomProperty(PROP_ROLE, "result")
        layer.setCustomProperty(PROP_JOB, job_id)
        layer.setCustomProperty(PROP_OUTPUT, item.output)
        project.addMapLayer(layer, False)
        parent = group
        if item.subgroup:
            if item.subgroup not in subgroups:
                subgroups[item.subgroup] = group.addGroup(item.subgroup)
            parent = subgroups[item.subgroup]
        node = parent.addLayer(layer)
        node.setItemVisibilityChecked(item.visible)
        if not item.visible:
            node.setExpanded(False)
        added.append(layer)
    for name, sub in subgroups.items():
        sub.setExpanded(any(i.visible for i in layers if i.subgroup == name))
    return group, added
