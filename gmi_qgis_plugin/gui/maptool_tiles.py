"""Map tool picking grid tiles: click toggles a tile, drag adds a box of tiles (Ctrl+drag removes)."""
from __future__ import annotations

from typing import List

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCsException,
    QgsGeometry,
    QgsPointXY,
    QgsProject,
    QgsRectangle,
    QgsWkbTypes,
)
from qgis.gui import QgsMapCanvas, QgsMapMouseEvent, QgsMapTool, QgsRubberBand
from qgis.PyQt.QtCore import QPoint, Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor

from gmi_engine.errors import GmiInputError
from gmi_engine.grid import DEFAULT_GRID, TileIndex
from gmi_qgis_plugin.toolbelt.layers import (
    CRS_GRID,
    TooManyTiles,
    grid_extent,
    tiles_in_extent,
)

TOGGLE, ADD, REMOVE = "toggle", "add", "remove"
DRAG_PX = 4
"""A press and release further apart than this many pixels is a drag, not a click."""


class MapToolTiles(QgsMapTool):
    """Emits ``tiles_picked(tiles, mode)`` with mode ``toggle`` (click), ``add`` or ``remove`` (drag)."""

    tiles_picked = pyqtSignal(list, str)
    too_many = pyqtSignal(str)

    def __init__(self, canvas: QgsMapCanvas) -> None:
        super().__init__(canvas)
        self._start: QPoint = QPoint()
        self._pressed = False
        self._band = QgsRubberBand(canvas, QgsWkbTypes.GeometryType.PolygonGeometry)
        self._band.setColor(QColor(230, 85, 13, 60))
        self._band.setStrokeColor(QColor(230, 85, 13))
        self._band.setWidth(1)
        self.setCursor(Qt.CursorShape.CrossCursor)

    def canvasPressEvent(self, event: QgsMapMouseEvent) -> None:
        """Start a click or a drag."""
        if event.button() == Qt.MouseButton.LeftButton:
            self._pressed = True
            self._start = event.pos()

    def canvasMoveEvent(self, event: QgsMapMouseEvent) -> None:
        """Draw the rectangle being dragged."""
        if not self._pressed:
            return
        rect = self._map_rect(self._start, event.pos())
        self._band.setToGeometry(QgsGeometry.fromRect(rect), None)

    def canvasReleaseEvent(self, event: QgsMapMouseEvent) -> None:
        """Pick the tile clicked, or add (remove with Ctrl) the tiles of the dragged rectangle."""
        if not self._pressed or event.button() != Qt.MouseButton.LeftButton:
            return
        self._pressed = False
        self._band.reset(QgsWkbTypes.GeometryType.PolygonGeometry)
        end = event.pos()
        if (end - self._start).manhattanLength() <= DRAG_PX:
            self.pick_point(self.toMapCoordinates(end))
        else:
            remove = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
            self.pick_rect(self._map_rect(self._start, end), REMOVE if remove else ADD)

    def deactivate(self) -> None:
        """Drop the rubber band when another tool takes over."""
        self._band.reset(QgsWkbTypes.GeometryType.PolygonGeometry)
        self._pressed = False
        super().deactivate()

    def _map_rect(self, a: QPoint, b: QPoint) -> QgsRectangle:
        pa, pb = self.toMapCoordinates(a), self.toMapCoordinates(b)
        return QgsRectangle(pa, pb)

    # -- picking in map coordinates (also used by tests) ------------------------------------
    def pick_point(self, point: QgsPointXY) -> List[TileIndex]:
        """Toggle the tile under ``point`` (canvas CRS)."""
        crs = self.canvas().mapSettings().destinationCrs()
        if crs.authid() != CRS_GRID:
            transform = QgsCoordinateTransform(crs, QgsCoordinateReferenceSystem(CRS_GRID), QgsProject.instance())
            try:
                point = transform.transform(point)
            except QgsCsException:
                return []
        try:
            tiles = [DEFAULT_GRID.tile_of_xy(point.x(), point.y())]
        except GmiInputError:  # outside the Web-Mercator world
            return []
        self.tiles_picked.emit(tiles, TOGGLE)
        return tiles

    def pick_rect(self, rect: QgsRectangle, mode: str = ADD) -> List[TileIndex]:
        """Add (or remove) every tile meeting ``rect`` (canvas CRS)."""
        box = grid_extent(rect, self.canvas().mapSettings().destinationCrs())
        if box is None:
            return []
        try:
            tiles = tiles_in_extent(box)
        except TooManyTiles as exc:
            self.too_many.emit(str(exc))
            return []
        self.tiles_picked.emit(tiles, mode)
        return tiles
