"""*Search ASTER*: AST_L1T granules over an area from NASA Earthdata, a footprint layer, download and ingest.

The area is the canvas extent, a rectangle drawn on the canvas (``QgsMapToolExtent``, a rubber
band) or the bounding box of a polygon layer (its selected features, or all). Results become a
memory layer in EPSG:4326 styled by cloud cover and SWIR usability, and a table whose ticks
follow (and set) the layer selection. *Download and ingest* is one QgsTask: the ticked granules
and their MCD19A2, MOD09A1 and ASTGTM files through ``gmi_engine.acquire``, then ``ingest_many``
into the workspace. Credentials come from a QGIS auth config at run time only.
"""
from __future__ import annotations

from datetime import date
from typing import List, Optional, Sequence

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsField,
    QgsFillSymbol,
    QgsGeometry,
    QgsMapLayerProxyModel,
    QgsPointXY,
    QgsProject,
    QgsRectangle,
    QgsRuleBasedRenderer,
    QgsSymbolLayerUtils,
    QgsVectorLayer,
)
from qgis.gui import QgsAuthConfigSelect, QgsFileWidget, QgsMapLayerComboBox, QgsMapToolExtent
from qgis.PyQt.QtCore import QDate, Qt, QVariant
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from gmi_qgis_plugin.toolbelt.preferences import PlgOptionsManager
from gmi_qgis_plugin.toolbelt.tasks import EngineTask, TaskCancelled, TaskContext, start_task

WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")
AOI_CANVAS, AOI_DRAWN, AOI_LAYER = "canvas", "drawn", "layer"
#: (label, filter expression, colour) of the footprint styles, first match wins; an unknown cloud
#: cover counts as cloudy.
STYLE_RULES = (
    ("SWIR usable, cloud ≤ 10 %", '"swir_usable" AND coalesce("cloud", 100) <= 10', "#1a9641"),
    ("SWIR usable, cloud > 10 %", '"swir_usable" AND coalesce("cloud", 100) > 10', "#a6d96a"),
    ("no SWIR (after 2008-04), cloud ≤ 10 %", 'NOT "swir_usable" AND coalesce("cloud", 100) <= 10', "#fdae61"),
    ("no SWIR (after 2008-04), cloud > 10 %", "ELSE", "#d7191c"),
)
FILL_ALPHA = 102
"""Opacity (0-255) of the footprint fills; the outlines are opaque."""


def footprint_renderer() -> QgsRuleBasedRenderer:
    """Rule-based renderer of :data:`STYLE_RULES` (half-transparent fills, the last rule is ELSE)."""
    root = QgsRuleBasedRenderer.Rule(None)
    for label, expression, colour in STYLE_RULES:
        fill = QColor(colour)
        fill.setAlpha(FILL_ALPHA)
        symbol = QgsFillSymbol.createSimple({"color": QgsSymbolLayerUtils.encodeColor(fill), "outline_color": colour,
                                             "outline_width": "0.4"})
        root.appendChild(QgsRuleBasedRenderer.Rule(symbol, 0, 0, expression, label))  # "ELSE" makes an else rule
    return QgsRuleBasedRenderer(root)


def footprint_layer(records: Sequence) -> QgsVectorLayer:
    """A memory layer in EPSG:4326, one multipolygon per granule record, feature ids 1..n in order."""
    layer = QgsVectorLayer("MultiPolygon?crs=EPSG:4326", "ASTER search results", "memory")
    fields = [QgsField("granule", QVariant.String), QgsField("start", QVariant.String),
              QgsField("version", QVariant.String), QgsField("cloud", QVariant.Double),
              QgsField("day_night", QVariant.String), QgsField("swir_usable", QVariant.Bool),
              QgsField("size_mb", QVariant.Double)]
    layer.dataProvider().addAttributes(fields)
    layer.updateFields()
    features = []
    for record in records:
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromMultiPolygonXY(
            [[[QgsPointXY(x, y) for x, y in ring]] for ring in record.footprint]))
        feature.setAttributes([record.granule_id, record.start.isoformat(), record.version, record.cloud_cover,
                               record.day_night, record.swir_usable, record.size_mb])
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    layer.setRenderer(footprint_renderer())
    return layer


def download_and_ingest(records: Sequence, folder: str, workspace: str, auth_id: str, ctx: TaskContext) -> dict:
    """Worker thread: download ``records`` and their ancillaries into ``folder``, then ingest the granules."""
    from gmi_engine.acquire.auth import login
    from gmi_engine.acquire.download import download
    from gmi_engine.acquire.search import search_ancillaries
    from gmi_qgis_plugin.gui.dlg_load_granules import ingest_granules
    from gmi_qgis_plugin.toolbelt.earthdata import read_earthdata_credentials

    credentials = read_earthdata_credentials(auth_id)
    auth = login(**({"token": credentials.token, "username": credentials.username,
                     "password": credentials.password} if credentials else {}))
    ctx.progress(0.0, "searching the ancillaries of {} granule(s)".format(len(records)))
    ancillaries = search_ancillaries(records, auth=auth)
    result = download(list(records) + ancillaries.all(), folder, session=auth.get_session(),
                      progress=lambda f, text: ctx.progress(50.0 * f, text), cancelled=ctx.is_canceled)
    if result.cancelled:
        raise TaskCancelled()
    ctx.check()
    from pathlib import Path

    names = {f.name for r in records for f in r.files if f.name.lower().endswith(".hdf")}
    granules = sorted(str(p) for p in (Path(folder) / "aster").glob("*.hdf") if p.name in names)

    class _Half:
        def progress(self, percent: float, text: str = "") -> None:
            ctx.progress(50.0 + percent / 2.0, text)

        def is_canceled(self) -> bool:
            return ctx.is_canceled()

    rows = ingest_granules(granules, workspace, folder, 1, _Half())
    return {"downloaded": len(result.downloaded), "already": len(result.skipped), "rows": rows}


class DlgSearch(QDialog):
    """Search AST_L1T granules, show them, download and ingest the ticked ones."""

    def __init__(self, state, canvas=None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("GmiSearchDialog")
        self.setWindowTitle(self.tr("GMI – Search ASTER L1T (NASA Earthdata)"))
        self.state = state
        self.canvas = canvas
        self.records: List = []
        self.layer: Optional[QgsVectorLayer] = None
        self.task: Optional[EngineTask] = None
        self.drawn: Optional[QgsRectangle] = None
        self._syncing = False
        self._tool = None
        self._build()

    # -- widgets -------------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        self.cbo_aoi = QComboBox(self)
        self.cbo_aoi.addItem(self.tr("Canvas extent"), AOI_CANVAS)
        self.cbo_aoi.addItem(self.tr("Rectangle drawn on the canvas"), AOI_DRAWN)
        self.cbo_aoi.addItem(self.tr("Polygon layer"), AOI_LAYER)
        self.btn_draw = QPushButton(self.tr("Draw…"), self)
        self.btn_draw.clicked.connect(self.start_drawing)
        aoi_row = QHBoxLayout()
        aoi_row.addWidget(self.cbo_aoi, 1)
        aoi_row.addWidget(self.btn_draw)
        form.addRow(self.tr("Area of interest"), aoi_row)
        self.cbo_layer = QgsMapLayerComboBox(self)
        self.cbo_layer.setFilters(QgsMapLayerProxyModel.PolygonLayer)
        self.chk_selected = QCheckBox(self.tr("selected features only"), self)
        layer_row = QHBoxLayout()
        layer_row.addWidget(self.cbo_layer, 1)
        layer_row.addWidget(self.chk_selected)
        form.addRow(self.tr("Polygon layer"), layer_row)
        self.date_start = QDateEdit(QDate(2000, 3, 1), self)
        self.date_end = QDateEdit(QDate(2008, 3, 31), self)
        for edit in (self.date_start, self.date_end):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        dates = QHBoxLayout()
        dates.addWidget(self.date_start)
        dates.addWidget(QLabel("–", self))
        dates.addWidget(self.date_end)
        form.addRow(self.tr("Dates"), dates)
        self.spn_cloud = QDoubleSpinBox(self)
        self.spn_cloud.setRange(0.0, 100.0)
        self.spn_cloud.setValue(20.0)
        self.spn_cloud.setSuffix(" %")
        form.addRow(self.tr("Largest cloud cover"), self.spn_cloud)
        self.chk_day = QCheckBox(self.tr("Day granules only"), self)
        self.chk_day.setChecked(True)
        self.chk_swir = QCheckBox(self.tr("SWIR usable (before 2008-04)"), self)
        flags = QHBoxLayout()
        flags.addWidget(self.chk_day)
        flags.addWidget(self.chk_swir)
        form.addRow("", flags)
        self.auth_select = QgsAuthConfigSelect(self)
        form.addRow(self.tr("Earthdata Login"), self.auth_select)
        self.wdg_folder = QgsFileWidget(self)
        self.wdg_folder.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        form.addRow(self.tr("Download folder"), self.wdg_folder)
        self.wdg_workspace = QgsFileWidget(self)
        self.wdg_workspace.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.wdg_workspace.setFilePath(PlgOptionsManager.get_plg_settings().workspace)
        form.addRow(self.tr("Workspace folder"), self.wdg_workspace)
        self.btn_search = QPushButton(self.tr("Search"), self)
        self.btn_search.clicked.connect(self.search)
        self.table = QTableWidget(0, 5, self)
        self.table.setHorizontalHeaderLabels([self.tr("Granule"), self.tr("Date"), self.tr("Cloud %"),
                                              self.tr("SWIR"), self.tr("Version")])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemChanged.connect(self._on_ticked)
        self.lbl_status = QLabel(self)
        self.btn_go = QPushButton(self.tr("Download and ingest"), self)
        self.btn_go.clicked.connect(self.download_and_ingest)
        self.btn_cancel = QPushButton(self.tr("Cancel"), self)
        self.btn_cancel.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.btn_search)
        buttons.addStretch(1)
        buttons.addWidget(self.btn_go)
        buttons.addWidget(self.btn_cancel)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.lbl_status)
        layout.addLayout(buttons)
        self.resize(760, 640)

    # -- area of interest ----------------------------------------------------------------------
    def start_drawing(self) -> None:
        """Let the user drag a rectangle on the canvas (a rubber band); it becomes the AOI."""
        if self.canvas is None:
            return
        self._tool = QgsMapToolExtent(self.canvas)
        self._tool.extentChanged.connect(self.set_drawn_extent)
        self.canvas.setMapTool(self._tool)

    def set_drawn_extent(self, extent: QgsRectangle) -> None:
        """The drawn rectangle (canvas CRS) as AOI."""
        self.drawn = QgsRectangle(extent)
        self.cbo_aoi.setCurrentIndex(self.cbo_aoi.findData(AOI_DRAWN))

    def _to_wgs84(self, rect: QgsRectangle, crs: QgsCoordinateReferenceSystem) -> QgsRectangle:
        if crs.isValid() and crs != WGS84:
            return QgsCoordinateTransform(crs, WGS84, QgsProject.instance()).transformBoundingBox(rect)
        return rect

    def aoi_bbox(self) -> tuple:
        """(west, south, east, north) in degrees of the chosen area of interest."""
        kind = self.cbo_aoi.currentData()
        canvas_crs = self.canvas.mapSettings().destinationCrs() if self.canvas is not None else WGS84
        if kind == AOI_DRAWN:
            if self.drawn is None:
                raise ValueError(self.tr("draw a rectangle on the canvas first"))
            rect = self._to_wgs84(self.drawn, canvas_crs)
        elif kind == AOI_LAYER:
            layer = self.cbo_layer.currentLayer()
            if layer is None:
                raise ValueError(self.tr("choose a polygon layer"))
            features = layer.selectedFeatures() if self.chk_selected.isChecked() else list(layer.getFeatures())
            if not features:
                raise ValueError(self.tr("the layer has no (selected) features"))
            rect = QgsRectangle(features[0].geometry().boundingBox())
            for feature in features[1:]:
                rect.combineExtentWith(feature.geometry().boundingBox())
            rect = self._to_wgs84(rect, layer.crs())
        else:
            if self.canvas is None:
                raise ValueError(self.tr("no map canvas"))
            rect = self._to_wgs84(self.canvas.extent(), canvas_crs)
        return (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())

    # -- search and results --------------------------------------------------------------------
    def search(self) -> List:
        """Search CMR (main thread: one short request per product version) and show the results."""
        from gmi_engine.acquire.search import search_aster
        from gmi_engine.errors import GmiError

        try:
            bbox = self.aoi_bbox()
            start = date.fromisoformat(self.date_start.date().toString("yyyy-MM-dd"))
            end = date.fromisoformat(self.date_end.date().toString("yyyy-MM-dd"))
            records = search_aster(bbox, start, end, max_cloud=self.spn_cloud.value(),
                                   day_only=self.chk_day.isChecked(),
                                   swir_usable=True if self.chk_swir.isChecked() else None)
        except (GmiError, ValueError, OSError) as exc:
            self.lbl_status.setText(self.tr("Search failed: {}").format(exc))
            return []
        self.show_results(records)
        return records

    def show_results(self, records: Sequence) -> QgsVectorLayer:
        """Replace the footprint layer and the table by ``records``."""
        if self.layer is not None and QgsProject.instance().mapLayer(self.layer.id()) is not None:
            QgsProject.instance().removeMapLayer(self.layer.id())
        self.records = list(records)
        self.layer = footprint_layer(self.records)
        QgsProject.instance().addMapLayer(self.layer)
        self.cbo_layer.setExceptedLayerList([self.layer])  # the AOI is never the results themselves
        self.layer.selectionChanged.connect(self._on_layer_selection)
        self._syncing = True
        self.table.setRowCount(len(self.records))
        for row, record in enumerate(self.records):
            item = QTableWidgetItem(record.granule_id)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Unchecked)
            cloud = "" if record.cloud_cover is None else "{:.0f}".format(record.cloud_cover)
            cells = [item, QTableWidgetItem(record.start.strftime("%Y-%m-%d %H:%M")), QTableWidgetItem(cloud),
                     QTableWidgetItem(self.tr("yes") if record.swir_usable else self.tr("no")),
                     QTableWidgetItem(record.version)]
            for column, cell in enumerate(cells):
                if column:
                    cell.setFlags(cell.flags() & ~Qt.ItemIsEditable)
                self.table.setItem(row, column, cell)
        self.table.resizeColumnsToContents()
        self._syncing = False
        self.lbl_status.setText(self.tr("{} granule(s) found").format(len(self.records)))
        return self.layer

    def ticked(self) -> List:
        """The ticked granule records, in table order."""
        return [r for row, r in enumerate(self.records) if self.table.item(row, 0).checkState() == Qt.Checked]

    def set_ticked(self, granule_ids: Sequence[str]) -> None:
        """Tick exactly the granules ``granule_ids`` (the layer selection follows)."""
        for row, record in enumerate(self.records):
            self.table.item(row, 0).setCheckState(Qt.Checked if record.granule_id in granule_ids else Qt.Unchecked)

    def _on_ticked(self, item: QTableWidgetItem) -> None:
        if self._syncing or item.column() != 0 or self.layer is None:
            return
        self._syncing = True
        ids = [f.id() for f in self.layer.getFeatures() if f["granule"] in {r.granule_id for r in self.ticked()}]
        self.layer.selectByIds(ids)
        self._syncing = False

    def _on_layer_selection(self, *_args) -> None:
        if self._syncing or self.layer is None:
            return
        chosen = {f["granule"] for f in self.layer.selectedFeatures()}
        self._syncing = True
        for row, record in enumerate(self.records):
            self.table.item(row, 0).setCheckState(Qt.Checked if record.granule_id in chosen else Qt.Unchecked)
        self._syncing = False

    # -- download and ingest -------------------------------------------------------------------
    def download_and_ingest(self) -> Optional[EngineTask]:
        """One background task: download the ticked granules + ancillaries, ingest into the workspace."""
        records = self.ticked()
        folder = self.wdg_folder.filePath().strip()
        workspace = self.wdg_workspace.filePath().strip()
        if not records or not folder or not workspace:
            self.lbl_status.setText(self.tr("Tick granules and choose a download folder and a workspace"))
            return None
        auth_id = self.auth_select.configId()
        task = EngineTask(self.tr("GMI: download and ingest {} ASTER granule(s)").format(len(records)),
                          lambda ctx: download_and_ingest(records, folder, workspace, auth_id, ctx), self._finished)
        task.message.connect(self.lbl_status.setText)
        self.btn_go.setEnabled(False)
        self.task = start_task(task)
        return self.task

    def cancel(self) -> None:
        """Cancel the running task (unfinished downloads stay as .part and resume next time)."""
        if self.task is not None:
            self.task.cancel()

    def _finished(self, result, error) -> None:
        self.btn_go.setEnabled(True)
        if isinstance(error, TaskCancelled):
            self.lbl_status.setText(self.tr("Cancelled: unfinished files stay as .part and resume next time"))
        elif error is not None:
            self.lbl_status.setText(self.tr("Failed: {}").format(error))
        else:
            self.lbl_status.setText(self.tr("{} file(s) downloaded, {} granule(s) ingested").format(
                result["downloaded"], len(result["rows"])))
            self.state.workspace_changed.emit()
