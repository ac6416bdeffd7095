"""*Tiles*: the global grid over the map, picking tiles by click, drag, footprints or polygons."""
from __future__ import annotations

from typing import Dict, List, Optional

from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsMapLayerProxyModel,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.gui import QgsMapCanvas, QgsMapLayerComboBox, QgsMessageBar
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gmi_engine.grid import DEFAULT_GRID, TileIndex
from gmi_qgis_plugin.gui.maptool_tiles import ADD, REMOVE, TOGGLE, MapToolTiles
from gmi_qgis_plugin.toolbelt.icons import plugin_icon, theme_icon
from gmi_qgis_plugin.toolbelt.layers import (
    CRS_GRID,
    TooManyTiles,
    fill_grid_layer,
    grid_extent,
    grid_layer,
    tiles_in_extent,
    tiles_of_geometries,
)
from gmi_qgis_plugin.toolbelt.log_handler import PlgLogger
from gmi_qgis_plugin.toolbelt.preferences import PlgOptionsManager
from gmi_qgis_plugin.toolbelt.state import PluginState
from gmi_qgis_plugin.toolbelt.workspace import tile_granule_counts, workspace_tiles


class DlgTiles(QDialog):
    """Draws the visible tiles as a layer and keeps the picked tiles in the plugin state."""

    def __init__(self, state: PluginState, canvas: QgsMapCanvas, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.canvas = canvas
        self.grid_layer_id = ""
        self.workspace = ""
        self.counts: Dict[TileIndex, int] = {}
        self.visible_tiles: List[TileIndex] = []
        self.map_tool = MapToolTiles(canvas)
        self.map_tool.tiles_picked.connect(self.apply_pick)
        self.map_tool.too_many.connect(lambda text: PlgLogger.log(text, Qgis.MessageLevel.Warning,
                                                                  push=True, parent_location=self))
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(300)
        self._redraw.timeout.connect(self.refresh_grid)
        self.setWindowTitle(self.tr("GMI – Tiles"))
        self.setWindowIcon(plugin_icon("tiles"))
        self.resize(560, 600)
        self._build()
        state.tiles_changed.connect(self._selection_changed)
        state.workspace_changed.connect(self.reload_counts)
        canvas.extentsChanged.connect(self._canvas_moved)
        canvas.mapToolSet.connect(self._tool_changed)
        self.reload_counts()

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.message_bar = QgsMessageBar(self)
        layout.addWidget(self.message_bar)

        map_box = QGroupBox(self.tr("On the map"), self)
        map_layout = QGridLayout(map_box)
        self.btn_pick = QPushButton(plugin_icon("tiles"), self.tr("Pick tiles on the map"), self)
        self.btn_pick.setCheckable(True)
        self.btn_pick.setToolTip(self.tr("Click a tile to add or remove it; drag a box to add tiles; "
                                         "Ctrl+drag to remove them."))
        self.btn_pick.toggled.connect(self._toggle_tool)
        self.btn_refresh = QPushButton(theme_icon("mActionRefresh.svg"), self.tr("Redraw grid"), self)
        self.btn_refresh.clicked.connect(self.refresh_grid)
        self.chk_follow = QCheckBox(self.tr("Redraw when the map moves"), self)
        self.chk_follow.setChecked(True)
        map_layout.addWidget(self.btn_pick, 0, 0)
        map_layout.addWidget(self.btn_refresh, 0, 1)
        map_layout.addWidget(self.chk_follow, 1, 0, 1, 2)
        layout.addWidget(map_box)

        by_box = QGroupBox(self.tr("Select tiles covered by"), self)
        by_layout = QGridLayout(by_box)
        self.btn_footprints = QPushButton(plugin_icon("load_granules"), self.tr("Loaded granule footprints"), self)
        self.btn_footprints.clicked.connect(self.select_by_footprints)
        self.btn_workspace = QPushButton(theme_icon("mGeoPackage.svg"), self.tr("Ingested granules"), self)
        self.btn_workspace.setToolTip(self.tr("Every tile of the workspace that holds at least one granule."))
        self.btn_workspace.clicked.connect(self.select_workspace_tiles)
        self.cmb_layer = QgsMapLayerComboBox(self)
        self.cmb_layer.setFilters(QgsMapLayerProxyModel.Filter.PolygonLayer)
        self.chk_selected_only = QCheckBox(self.tr("Selected features only"), self)
        self.btn_layer = QPushButton(theme_icon("mIconPolygonLayer.svg"), self.tr("Polygons of layer"), self)
        self.btn_layer.clicked.connect(self.select_by_layer)
        by_layout.addWidget(self.btn_footprints, 0, 0, 1, 2)
        by_layout.addWidget(self.btn_workspace, 0, 2)
        by_layout.addWidget(QLabel(self.tr("Polygon layer"), self), 1, 0)
        by_layout.addWidget(self.cmb_layer, 1, 1, 1, 2)
        by_layout.addWidget(self.chk_selected_only, 2, 1)
        by_layout.addWidget(self.btn_layer, 2, 2)
        by_layout.setColumnStretch(1, 1)
        by_layout.setColumnStretch(2, 1)
        layout.addWidget(by_box)

        picked_box = QGroupBox(self.tr("Picked tiles"), self)
        picked_layout = QVBoxLayout(picked_box)
        self.table = QTableWidget(0, 4, self)
        self.table.setHorizontalHeaderLabels([self.tr("Tile key"), self.tr("x"), self.tr("y"),
                                              self.tr("Granules")])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        picked_layout.addWidget(self.table, 1)
        self.lbl_summary = QLabel(self)
        self.lbl_summary.setWordWrap(True)
        picked_layout.addWidget(self.lbl_summary)
        row = QHBoxLayout()
        self.btn_zoom = QPushButton(theme_icon("mActionZoomToSelected.svg"), self.tr("Zoom to picked"), self)
        self.btn_zoom.clicked.connect(self.zoom_to_selection)
        self.btn_clear = QPushButton(theme_icon("mActionDeselectAll.svg"), self.tr("Clear"), self)
        self.btn_clear.clicked.connect(lambda: self.state.set_selected_tiles([]))
        row.addWidget(self.btn_zoom)
        row.addWidget(self.btn_clear)
        row.addStretch(1)
        picked_layout.addLayout(row)
        layout.addWidget(picked_box, 1)

        self.lbl_grid = QLabel(self)
        self.lbl_grid.setWordWrap(True)
        self.lbl_grid.setStyleSheet("color: palette(mid);")
        layout.addWidget(self.lbl_grid)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)

    # -- the grid layer -----------------------------------------------------------------------
    def grid_layer(self) -> QgsVectorLayer:
        """The tile-grid layer, created (on top of the legend) if missing."""
        project = QgsProject.instance()
        layer = project.mapLayer(self.grid_layer_id) if self.grid_layer_id else None
        if layer is None:
            layer = grid_layer(self.tr("GMI tile grid"))
            project.addMapLayer(layer, False)
            project.layerTreeRoot().insertLayer(0, layer)
            self.grid_layer_id = layer.id()
            self.cmb_layer.setExceptedLayerList([layer])
        return layer

    def reload_counts(self) -> None:
        """Re-read how many granules cover each tile of the workspace."""
        self.workspace = PlgOptionsManager.get_plg_settings().workspace
        self.counts = tile_granule_counts(self.workspace)
        self.refresh_grid()
        self._selection_changed()

    def refresh_grid(self) -> int:
        """Draw the tiles in the canvas extent; returns how many were drawn."""
        layer = self.grid_layer()
        crs = self.canvas.mapSettings().destinationCrs()
        box = grid_extent(self.canvas.extent(), crs)
        selected = set(self.state.selected_tiles)
        try:
            tiles = tiles_in_extent(box) if box is not None else []
            note = self.tr("{} tiles in view. Grid: EPSG:3857, 30 m pixels, 1024 × 1024 px tiles "
                           "(30.72 km).").format(len(tiles))
        except TooManyTiles as exc:
            tiles = sorted(selected | set(self.counts))
            note = self.tr("Too many tiles in view to draw the grid ({}); showing picked and ingested "
                           "tiles only.").format(exc)
        self.visible_tiles = tiles
        fill_grid_layer(layer, tiles, selected, self.counts)
        self.lbl_grid.setText(note)
        return len(tiles)

    def _canvas_moved(self) -> None:
        if self.chk_follow.isChecked() and self.isVisible():
            self._redraw.start()

    # -- picking ------------------------------------------------------------------------------
    def _toggle_tool(self, on: bool) -> None:
        if on:
            self.canvas.setMapTool(self.map_tool)
        elif self.canvas.mapTool() is self.map_tool:
            self.canvas.unsetMapTool(self.map_tool)

    def _tool_changed(self, new_tool, _old_tool=None) -> None:
        if new_tool is not self.map_tool and self.btn_pick.isChecked():
            self.btn_pick.setChecked(False)

    def apply_pick(self, tiles: List[TileIndex], mode: str) -> None:
        """Toggle, add or remove ``tiles`` in the picked set."""
        current = set(self.state.selected_tiles)
        if mode == TOGGLE:
            current ^= set(tiles)
        elif mode == ADD:
            current |= set(tiles)
        elif mode == REMOVE:
            current -= set(tiles)
        self.state.set_selected_tiles(current)

    def select_by_footprints(self) -> List[TileIndex]:
        """Pick the tiles touched by the granules listed in the loader."""
        if not self.state.granules:
            PlgLogger.log(self.tr("No granules loaded: use “Load ASTER granules” first."),
                          Qgis.MessageLevel.Warning, push=True, parent_location=self)
            return []
        tiles = set()
        for granule in self.state.granules.values():
            tiles.update(DEFAULT_GRID.tiles_for_polygon(granule.footprint_lonlat))
        self.state.set_selected_tiles(tiles)
        return self.state.selected_tiles

    def select_workspace_tiles(self) -> List[TileIndex]:
        """Pick every tile of the workspace."""
        tiles = workspace_tiles(PlgOptionsManager.get_plg_settings().workspace)
        if not tiles:
            PlgLogger.log(self.tr("The workspace holds no ingested granule yet."), Qgis.MessageLevel.Warning,
                          push=True, parent_location=self)
        self.state.set_selected_tiles(tiles)
        return tiles

    def select_by_layer(self) -> List[TileIndex]:
        """Pick the tiles overlapped by the (selected) polygons of the chosen layer."""
        layer = self.cmb_layer.currentLayer()
        if not isinstance(layer, QgsVectorLayer):
            PlgLogger.log(self.tr("Choose a polygon layer."), Qgis.MessageLevel.Warning, push=True,
                          parent_location=self)
            return []
        features = layer.selectedFeatures() if self.chk_selected_only.isChecked() else layer.getFeatures()
        try:
            tiles = tiles_of_geometries((f.geometry() for f in features), layer.crs())
        except TooManyTiles as exc:
            PlgLogger.log(str(exc), Qgis.MessageLevel.Warning, push=True, parent_location=self)
            return []
        self.state.set_selected_tiles(tiles)
        return tiles

    # -- the picked list ----------------------------------------------------------------------
    def _selection_changed(self) -> None:
        tiles = self.state.selected_tiles
        self.table.setRowCount(len(tiles))
        for row, tile in enumerate(tiles):
            n = self.counts.get(tile, 0)
            cells = [QTableWidgetItem(DEFAULT_GRID.key(tile)), QTableWidgetItem(str(tile.ix)),
                     QTableWidgetItem(str(tile.iy)), QTableWidgetItem(str(n) if n else "–")]
            for col, cell in enumerate(cells):
                if col:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, cell)
        covered = sum(1 for t in tiles if self.counts.get(t, 0))
        if tiles:
            self.lbl_summary.setText(self.tr("{} tile(s) picked; {} hold ingested granules, {} would be "
                                             "skipped by a run.").format(len(tiles), covered, len(tiles) - covered))
        else:
            self.lbl_summary.setText(self.tr("No tile picked: a run computes every tile of the workspace."))
        self.btn_zoom.setEnabled(bool(tiles))
        self.btn_clear.setEnabled(bool(tiles))
        if self.grid_layer_id and QgsProject.instance().mapLayer(self.grid_layer_id) is not None:
            self.refresh_grid()

    def zoom_to_selection(self) -> None:
        """Zoom the map to the picked tiles."""
        tiles = self.state.selected_tiles
        if not tiles:
            return
        box = QgsRectangle()
        box.setMinimal()
        for tile in tiles:
            b = DEFAULT_GRID.bounds(tile)
            box.combineExtentWith(QgsRectangle(b.xmin, b.ymin, b.xmax, b.ymax))
        transform = QgsCoordinateTransform(QgsCoordinateReferenceSystem(CRS_GRID),
                                           self.canvas.mapSettings().destinationCrs(), QgsProject.instance())
        extent = transform.transformBoundingBox(box)
        extent.scale(1.15)
        self.canvas.setExtent(extent)
        self.canvas.refresh()

    def closeEvent(self, event) -> None:
        """Give the canvas its previous map tool back."""
        if self.canvas.mapTool() is self.map_tool:
            self.canvas.unsetMapTool(self.map_tool)
        super().closeEvent(event)
