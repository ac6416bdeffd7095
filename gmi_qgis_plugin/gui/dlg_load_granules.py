"""*Load ASTER granules*: read AST_L1T metadata, show footprints, ingest into the workspace."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from qgis.core import Qgis, QgsProject
from qgis.gui import QgsFileWidget, QgsMessageBar
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gmi_qgis_plugin.toolbelt.granules import (
    SWIR_ABSENT,
    SWIR_OK,
    SWIR_POST_2008,
    GranuleSummary,
    find_granule_files,
    guess_ancillary_folder,
    summarize,
)
from gmi_qgis_plugin.toolbelt.icons import plugin_icon, theme_icon
from gmi_qgis_plugin.toolbelt.layers import footprints_layer
from gmi_qgis_plugin.toolbelt.log_handler import PlgLogger
from gmi_qgis_plugin.toolbelt.preferences import PlgOptionsManager
from gmi_qgis_plugin.toolbelt.state import PluginState
from gmi_qgis_plugin.toolbelt.tasks import EngineTask, TaskCancelled, TaskContext, start_task

COLUMNS = ("acquired", "swir", "cloud", "sun", "gains", "bands", "granule")


def scan_granules(paths: Sequence[str], ctx: TaskContext) -> Tuple[List[GranuleSummary], List[str]]:
    """Read every granule's metadata (worker thread); returns (summaries, problems)."""
    from gmi_engine.aster.reader import open_granule
    from gmi_engine.errors import GmiError

    files = find_granule_files(paths)
    found, problems = [], []
    for k, path in enumerate(files):
        ctx.check()
        try:
            found.append(summarize(open_granule(path)))
        except (GmiError, OSError, RuntimeError) as exc:
            problems.append("{}: {}".format(path.name, exc))
        ctx.progress(100.0 * (k + 1) / max(len(files), 1), path.name)
    return found, problems


def ingest_granules(paths: Sequence[str], workspace: str, ancillary_folder: str, processes: int,
                    ctx: TaskContext) -> Dict[str, int]:
    """Ingest granules into ``workspace`` (worker thread); returns granule file name -> tiles written."""
    from gmi_engine.ancillary import Ancillaries, discover
    from gmi_engine.ingest import IngestOptions, ingest_many

    found = discover(ancillary_folder) if ancillary_folder else Ancillaries()
    options = IngestOptions(mcd19a2=found.mcd19a2, gdem=found.gdem, modis_ref=found.modis_ref,
                            processes=max(1, processes))
    summary = ingest_many(paths, workspace, options, progress=lambda f, text: ctx.progress(100.0 * f, text),
                          cancelled=ctx.is_canceled)
    summary.raise_first_error()
    if summary.cancelled:
        raise TaskCancelled()
    return {g.path.name: g.rows for g in summary.ingested}


class DlgLoadGranules(QDialog):
    """Pick AST_L1T files or folders, inspect them, map their footprints, ingest them."""

    def __init__(self, state: PluginState, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.granules: List[GranuleSummary] = []
        self.scan_task: Optional[EngineTask] = None
        self.ingest_task: Optional[EngineTask] = None
        self.setWindowTitle(self.tr("GMI – Load ASTER granules"))
        self.setWindowIcon(plugin_icon("load_granules"))
        self.resize(1180, 620)
        self._build()
        self._refresh_buttons()

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.message_bar = QgsMessageBar(self)
        layout.addWidget(self.message_bar)

        files_box = QGroupBox(self.tr("AST_L1T granules"), self)
        files_layout = QVBoxLayout(files_box)
        buttons = QHBoxLayout()
        self.btn_add_files = QPushButton(theme_icon("mActionAddRasterLayer.svg"), self.tr("Add files…"), self)
        self.btn_add_folder = QPushButton(theme_icon("mActionFileOpen.svg"), self.tr("Add folder…"), self)
        self.btn_remove = QPushButton(theme_icon("mActionRemove.svg"), self.tr("Remove"), self)
        self.btn_clear = QPushButton(theme_icon("mActionDeleteSelected.svg"), self.tr("Clear"), self)
        for button in (self.btn_add_files, self.btn_add_folder, self.btn_remove, self.btn_clear):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.chk_footprints = QCheckBox(self.tr("Show footprints on the map"), self)
        self.chk_footprints.setChecked(True)
        buttons.addWidget(self.chk_footprints)
        files_layout.addLayout(buttons)

        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels([
            self.tr("Acquired (UTC)"), self.tr("SWIR"), self.tr("Cloud %"), self.tr("Sun elev. (°)"),
            self.tr("Gains (bands 1–9)"), self.tr("Bands present"), self.tr("Granule")])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._refresh_buttons)
        files_layout.addWidget(self.table, 1)
        self.lbl_empty = QLabel(self.tr("Add AST_L1T .hdf files, or a folder that holds them."), self)
        self.lbl_empty.setStyleSheet("color: palette(mid); font-style: italic;")
        files_layout.addWidget(self.lbl_empty)
        self.lbl_swir = QLabel(self)
        self.lbl_swir.setWordWrap(True)
        self.lbl_swir.setVisible(False)
        files_layout.addWidget(self.lbl_swir)
        layout.addWidget(files_box, 1)

        ingest_box = QGroupBox(self.tr("Ingest into the workspace"), self)
        form = QFormLayout(ingest_box)
        self.wdg_workspace = QgsFileWidget(self)
        self.wdg_workspace.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.wdg_workspace.setFilePath(PlgOptionsManager.get_plg_settings().workspace)
        form.addRow(self.tr("Workspace folder"), self.wdg_workspace)
        self.wdg_ancillary = QgsFileWidget(self)
        self.wdg_ancillary.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.wdg_ancillary.setToolTip(self.tr(
            "Folder searched for MCD19A2 (aerosol, water vapour), MOD09A1 (colour-balancing reference) "
            "and ASTER GDEM tiles. Without them 6S uses documented default atmospheres."))
        self.wdg_ancillary.fileChanged.connect(self._update_ancillary_label)
        form.addRow(self.tr("Ancillary data folder"), self.wdg_ancillary)
        self.lbl_ancillary = QLabel(self)
        form.addRow("", self.lbl_ancillary)
        layout.addWidget(ingest_box)

        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setVisible(False)
        self.lbl_status = QLabel(self)
        status_row = QHBoxLayout()
        status_row.addWidget(self.progress, 1)
        status_row.addWidget(self.lbl_status, 2)
        layout.addLayout(status_row)

        self.button_box = QDialogButtonBox(self)
        self.btn_ingest = self.button_box.addButton(self.tr("Ingest"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.btn_ingest.setIcon(plugin_icon("run"))
        self.btn_cancel = self.button_box.addButton(self.tr("Cancel task"), QDialogButtonBox.ButtonRole.ActionRole)
        self.btn_close = self.button_box.addButton(QDialogButtonBox.StandardButton.Close)
        layout.addWidget(self.button_box)

        self.btn_add_files.clicked.connect(self._pick_files)
        self.btn_add_folder.clicked.connect(self._pick_folder)
        self.btn_remove.clicked.connect(self._remove_selected)
        self.btn_clear.clicked.connect(lambda: self.set_granules([]))
        self.btn_ingest.clicked.connect(self.ingest)
        self.btn_cancel.clicked.connect(self.cancel_tasks)
        self.btn_close.clicked.connect(self.close)
        self._update_ancillary_label()

    # -- picking files --------------------------------------------------------------------
    def _pick_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, self.tr("AST_L1T granules"), "",
                                                self.tr("ASTER L1T HDF (AST_L1T_*.hdf *.hdf);;All files (*)"))
        if files:
            self.add_paths(files)

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Folder with AST_L1T granules"))
        if folder:
            self.add_paths([folder])

    def add_paths(self, paths: Sequence[str]) -> EngineTask:
        """Read the metadata of the granules in ``paths`` (files or folders) in a background task."""
        known = [g.path for g in self.granules]
        if not self.wdg_ancillary.filePath():
            guess = guess_ancillary_folder([p for p in paths if Path(p).is_file()] or
                                           [str(f) for f in find_granule_files(paths)[:1]])
            if guess:
                self.wdg_ancillary.setFilePath(guess)
        self.lbl_status.setText(self.tr("Reading granule metadata…"))
        task = EngineTask(self.tr("GMI: reading AST_L1T metadata"),
                          lambda ctx: scan_granules(list(paths), ctx),
                          lambda result, error: self._scanned(known, result, error))
        task.progressChanged.connect(lambda v: self.progress.setValue(int(v)))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.scan_task = start_task(task)
        self._refresh_buttons()
        return task

    def _scanned(self, known: List[str], result, error) -> None:
        self.scan_task = None
        self.progress.setVisible(False)
        if error is not None:
            self.lbl_status.setText("")
            if not isinstance(error, TaskCancelled):
                PlgLogger.log(self.tr("Cannot read the granules: {}").format(error),
                              Qgis.MessageLevel.Critical, push=True, parent_location=self)
            self._refresh_buttons()
            return
        found, problems = result
        merged = {g.path: g for g in self.granules}
        merged.update({g.path: g for g in found})
        self.set_granules(sorted(merged.values(), key=lambda g: g.acquired))
        new = len([g for g in found if g.path not in known])
        self.lbl_status.setText(self.tr("{} granule(s) read").format(new))
        if problems:
            PlgLogger.log(self.tr("{} file(s) are not readable AST_L1T granules").format(len(problems)),
                          Qgis.MessageLevel.Warning, push=True, details="\n".join(problems),
                          parent_location=self)
        elif not found:
            PlgLogger.log(self.tr("No AST_L1T granule found there."), Qgis.MessageLevel.Warning,
                          push=True, parent_location=self)

    def _remove_selected(self) -> None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        self.set_granules([g for k, g in enumerate(self.granules) if k not in rows])

    # -- the table ------------------------------------------------------------------------
    def set_granules(self, granules: Sequence[GranuleSummary]) -> None:
        """Show ``granules`` in the table and, if wanted, as the footprint layer."""
        self.granules = list(granules)
        self.state.set_granules(self.granules)
        self.table.setRowCount(len(self.granules))
        for row, g in enumerate(self.granules):
            for col, item in enumerate(self._row_items(g)):
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self.lbl_empty.setVisible(not self.granules)
        self._update_swir_label()
        if self.chk_footprints.isChecked():
            self.show_footprints()
        self._refresh_buttons()

    def _row_items(self, g: GranuleSummary) -> List[QTableWidgetItem]:
        def item(text: str, tip: str = "", align_right: bool = False) -> QTableWidgetItem:
            cell = QTableWidgetItem(text)
            if tip:
                cell.setToolTip(tip)
            if align_right:
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return cell

        first = item(g.granule_id, g.path)
        first.setData(Qt.ItemDataRole.UserRole, g.path)
        gains_tip = "\n".join("B{}: {}".format(b.lstrip("0"), v) for b, v in g.gains.items())
        swir_texts = {SWIR_OK: self.tr("usable"), SWIR_POST_2008: self.tr("unusable (post-2008)"),
                      SWIR_ABSENT: self.tr("no SWIR bands")}
        swir = item(swir_texts[g.swir])
        if g.swir == SWIR_POST_2008:
            swir.setIcon(theme_icon("mIconWarning.svg"))
            swir.setForeground(QColor(190, 60, 20))
            swir.setToolTip(self.tr("ASTER's SWIR detectors failed in April 2008: bands 4–9 are saturated "
                                    "and striped. GMI keeps them out of SWIR indices (NaN)."))
        elif g.swir == SWIR_OK:
            swir.setIcon(theme_icon("mIconSuccess.svg"))
        return [item(g.date_text), swir, item(g.cloud_text, align_right=True),
                item("{:.1f}".format(g.sun_elevation), align_right=True), item(g.gains_text, gains_tip),
                item(g.bands_text), first]

    def _update_swir_label(self) -> None:
        late = [g for g in self.granules if g.swir == SWIR_POST_2008]
        self.lbl_swir.setVisible(bool(late))
        if late:
            self.lbl_swir.setText(
                "<span style='color:#b0441a'>⚠ " + self.tr(
                    "{} granule(s) acquired after 2008-03-31: their SWIR bands (4–9) are saturated and "
                    "striped, so SWIR-based indices are NaN where only they cover a tile.").format(len(late))
                + "</span>")

    def _update_ancillary_label(self, *_args) -> None:
        folder = self.wdg_ancillary.filePath()
        if not folder:
            self.lbl_ancillary.setText(self.tr("No folder: 6S uses default aerosol and water vapour, "
                                               "and colour balancing has no MODIS reference."))
            return
        from gmi_engine.ancillary import discover

        found = discover(folder)
        self.lbl_ancillary.setText(self.tr("Found: {}").format(found.describe()))

    # -- footprints -----------------------------------------------------------------------
    def show_footprints(self) -> None:
        """Replace the footprint layer with the listed granules."""
        project = QgsProject.instance()
        old = project.mapLayer(self.state.footprint_layer_id) if self.state.footprint_layer_id else None
        if old is not None:
            project.removeMapLayer(old.id())
        self.state.footprint_layer_id = ""
        if not self.granules:
            return
        layer = footprints_layer(self.granules, self.tr("GMI granule footprints"))
        project.addMapLayer(layer)
        self.state.footprint_layer_id = layer.id()

    # -- ingest ---------------------------------------------------------------------------
    def ingest(self) -> Optional[EngineTask]:
        """Ingest the listed granules into the workspace in a background task."""
        workspace = self.wdg_workspace.filePath().strip()
        if not workspace:
            PlgLogger.log(self.tr("Choose a workspace folder first."), Qgis.MessageLevel.Warning,
                          push=True, parent_location=self)
            return None
        if not self.granules:
            return None
        PlgOptionsManager.set_value_from_key("workspace", workspace)
        paths = [g.path for g in self.granules]
        processes = PlgOptionsManager.get_plg_settings().workers
        ancillary = self.wdg_ancillary.filePath().strip()
        task = EngineTask(self.tr("GMI: ingesting {} granule(s)").format(len(paths)),
                          lambda ctx: ingest_granules(paths, workspace, ancillary, processes, ctx),
                          self._ingested)
        task.progressChanged.connect(lambda v: self.progress.setValue(int(v)))
        task.message.connect(self.lbl_status.setText)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.ingest_task = start_task(task)
        self._refresh_buttons()
        return task

    def _ingested(self, result, error) -> None:
        self.ingest_task = None
        self.progress.setVisible(False)
        self._refresh_buttons()
        if isinstance(error, TaskCancelled):
            self.lbl_status.setText(self.tr("Ingest cancelled; granules already ingested are kept."))
            return
        if error is not None:
            self.lbl_status.setText(self.tr("Ingest failed."))
            PlgLogger.log(self.tr("Ingest failed: {}").format(error), Qgis.MessageLevel.Critical,
                          push=True, parent_location=self)
            return
        self.progress.setValue(100)
        tiles = sum(result.values())
        text = self.tr("Ingested {} granule(s): {} granule-tile rows.").format(len(result), tiles)
        self.lbl_status.setText(text)
        PlgLogger.log(text, Qgis.MessageLevel.Success, push=True, parent_location=self)
        self.state.workspace_changed.emit()

    def cancel_tasks(self) -> None:
        """Cancel the running scan or ingest."""
        for task in (self.scan_task, self.ingest_task):
            if task is not None:
                task.cancel()

    def _refresh_buttons(self) -> None:
        busy = self.scan_task is not None or self.ingest_task is not None
        self.btn_ingest.setEnabled(bool(self.granules) and not busy)
        self.btn_cancel.setEnabled(busy)
        self.btn_remove.setEnabled(bool(self.table.selectedIndexes()) and not busy)
        self.btn_clear.setEnabled(bool(self.granules) and not busy)
        self.btn_add_files.setEnabled(not busy)
        self.btn_add_folder.setEnabled(not busy)
