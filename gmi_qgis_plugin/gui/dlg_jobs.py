"""*Jobs*: the session's runs, their progress, results and provenance."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Optional

from qgis.core import Qgis
from qgis.gui import QgsMessageBar
from qgis.PyQt.QtCore import Qt, QUrl
from qgis.PyQt.QtGui import QDesktopServices
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from gmi_qgis_plugin.gui.dlg_json_viewer import DlgJsonViewer
from gmi_qgis_plugin.toolbelt.icons import plugin_icon, theme_icon
from gmi_qgis_plugin.toolbelt.jobs import (
    CANCELLED,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    JobRecord,
)
from gmi_qgis_plugin.toolbelt.log_handler import PlgLogger
from gmi_qgis_plugin.toolbelt.state import PluginState

COLUMNS = ("#", "method", "backend", "tiles", "status", "progress", "started")
STATUS_ICONS = {QUEUED: "mTaskQueued.svg", RUNNING: "mTaskRunning.svg", FINISHED: "mTaskComplete.svg",
                FAILED: "mIconCritical.svg", CANCELLED: "mTaskTerminated.svg"}


class DlgJobs(QDialog):
    """A table of jobs with actions for the selected one."""

    def __init__(self, state: PluginState, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.viewer: Optional[DlgJsonViewer] = None
        self.setWindowTitle(self.tr("GMI – Jobs"))
        self.setWindowIcon(plugin_icon("jobs"))
        self.resize(900, 560)
        self._build()
        state.jobs.job_added.connect(lambda _id: self.refresh())
        state.jobs.job_changed.connect(self._update_row)
        self.refresh()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.message_bar = QgsMessageBar(self)
        layout.addWidget(self.message_bar)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels([self.tr("#"), self.tr("Method"), self.tr("Backend"),
                                              self.tr("Tiles"), self.tr("Status"), self.tr("Progress"),
                                              self.tr("Started")])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._show_details)
        splitter.addWidget(self.table)
        self.details = QTextBrowser(self)
        self.details.setOpenExternalLinks(True)
        splitter.addWidget(self.details)
        splitter.setSizes([260, 200])
        layout.addWidget(splitter, 1)

        row = QHBoxLayout()
        self.btn_cancel = QPushButton(theme_icon("mTaskCancel.svg"), self.tr("Cancel"), self)
        self.btn_load = QPushButton(theme_icon("mActionAddRasterLayer.svg"), self.tr("Load results"), self)
        self.btn_stac = QPushButton(plugin_icon("provenance"), self.tr("Provenance (STAC)…"), self)
        self.btn_folder = QPushButton(theme_icon("mIconFolderOpen.svg"), self.tr("Open folder"), self)
        self.btn_logview = QPushButton(theme_icon("mIconInfo.svg"), self.tr("Logview"), self)
        for button in (self.btn_cancel, self.btn_load, self.btn_stac, self.btn_folder, self.btn_logview):
            row.addWidget(button)
        row.addStretch(1)
        self.chk_auto = QCheckBox(self.tr("Load results when a job finishes"), self)
        self.chk_auto.setChecked(self.state.jobs.auto_load)
        self.chk_auto.toggled.connect(lambda on: setattr(self.state.jobs, "auto_load", on))
        row.addWidget(self.chk_auto)
        layout.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)

        self.btn_cancel.clicked.connect(lambda: self._with_job(lambda j: self.state.jobs.cancel(j.job_id)))
        self.btn_load.clicked.connect(lambda: self._with_job(self.load_results))
        self.btn_stac.clicked.connect(lambda: self._with_job(self.show_provenance))
        self.btn_folder.clicked.connect(lambda: self._with_job(
            lambda j: QDesktopServices.openUrl(QUrl.fromLocalFile(j.outcome.export_dir))))
        self.btn_logview.clicked.connect(lambda: self._with_job(lambda j: QDesktopServices.openUrl(QUrl(j.logview))))

    # -- table --------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Rebuild the table (newest job first)."""
        jobs = sorted(self.state.jobs.jobs.values(), key=lambda j: -j.job_id)
        self.table.setRowCount(len(jobs))
        for row, job in enumerate(jobs):
            self._fill_row(row, job)
        if jobs and not self.table.selectedIndexes():
            self.table.selectRow(0)
        self._show_details()

    def _fill_row(self, row: int, job: JobRecord) -> None:
        backend = {"local": self.tr("local"), "dask": self.tr("Dask")}.get(job.spec.backend, self.tr("MaxCompute"))
        cells = [f"#{job.job_id}", job.title.split(" ", 1)[1], backend, job.tiles_text,
                 self._status_text(job.status), "", job.created.astimezone().strftime("%H:%M:%S")]
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if col == 0:
                item.setData(Qt.ItemDataRole.UserRole, job.job_id)
            if col == 4:
                item.setIcon(theme_icon(STATUS_ICONS[job.status]))
                if job.message:
                    item.setToolTip(job.message)
            self.table.setItem(row, col, item)
        bar = self.table.cellWidget(row, 5)
        if not isinstance(bar, QProgressBar):
            bar = QProgressBar(self.table)
            bar.setRange(0, 100)
            self.table.setCellWidget(row, 5, bar)
        bar.setValue(int(job.progress))
        bar.setFormat("%p%" if not job.message or job.done else "%p% · " + job.message)

    def _status_text(self, status: str) -> str:
        return {QUEUED: self.tr("queued"), RUNNING: self.tr("running"), FINISHED: self.tr("finished"),
                FAILED: self.tr("failed"), CANCELLED: self.tr("cancelled")}[status]

    def _row_of(self, job_id: int) -> int:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == job_id:
                return row
        return -1

    def _update_row(self, job_id: int) -> None:
        row = self._row_of(job_id)
        if row < 0:
            self.refresh()
            return
        self._fill_row(row, self.state.jobs.jobs[job_id])
        if self.selected_job() is not None and self.selected_job().job_id == job_id:
            self._show_details()

    def selected_job(self) -> Optional[JobRecord]:
        """The job of the selected row."""
        rows = {i.row() for i in self.table.selectedIndexes()}
        if not rows:
            return None
        item = self.table.item(rows.pop(), 0)
        return self.state.jobs.jobs.get(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def select_job(self, job_id: int) -> None:
        """Select the row of ``job_id``."""
        row = self._row_of(job_id)
        if row >= 0:
            self.table.selectRow(row)

    def _with_job(self, action) -> None:
        job = self.selected_job()
        if job is not None:
            action(job)

    # -- details and actions ------------------------------------------------------------------
    def _show_details(self) -> None:
        job = self.selected_job()
        has_results = job is not None and job.outcome is not None
        self.btn_cancel.setEnabled(job is not None and not job.done)
        self.btn_load.setEnabled(has_results)
        self.btn_stac.setEnabled(has_results and bool(job.outcome.stac_items))
        self.btn_folder.setEnabled(has_results)
        self.btn_logview.setEnabled(job is not None and bool(job.logview))
        if job is None:
            self.details.setHtml("<p style='color:gray'>{}</p>".format(
                self.tr("No job yet: start one from “Run”.")))
            return
        spec = job.spec
        rows = [(self.tr("Status"), self._status_text(job.status) + (" — " + job.message if job.message else "")),
                (self.tr("Workspace"), spec.workspace),
                (self.tr("Tiles"), job.tiles_text if spec.tiles is None else
                 ", ".join(f"x{t.ix} y{t.iy}" for t in spec.tiles))]
        indices = spec.params.get("indices")
        if spec.method == "mineral_indices":
            rows.append((self.tr("Indices"), ", ".join(indices) if indices else self.tr("all")))
        other = {k: v for k, v in spec.params.items() if k != "indices"}
        if other:
            rows.append((self.tr("Parameters"), ", ".join(f"{k} = {v}" for k, v in sorted(other.items()))))
        if spec.backend == "odps":
            rows.append((self.tr("MaxCompute"), f"{spec.odps_project} @ {spec.odps_endpoint}"))
        elif spec.backend == "dask":
            rows.append((self.tr("Dask"), spec.dask_scheduler or self.tr("local cluster, {} worker process(es)").format(
                spec.workers)))
        else:
            rows.append((self.tr("Backend"), self.tr("this computer, {} worker process(es)").format(spec.workers)))
        if job.logview:
            rows.append((self.tr("Logview"), "<a href='{0}'>{1}</a>".format(job.logview, self.tr("open in a browser"))))
        if job.outcome is not None:
            rows.append((self.tr("Export folder"), job.outcome.export_dir))
            rows.append((self.tr("Rasters (VRT)"), str(len(job.outcome.vrts))))
        if job.group_name:
            rows.append((self.tr("Legend group"), job.group_name))
        if job.error:
            rows.append((self.tr("Error"), "<span style='color:#b0441a'>{}</span>".format(
                html.escape(job.error).replace("\n", "<br>"))))
        body = "".join(f"<tr><td style='padding-right:12px; color:#555'><b>{k}</b></td><td>{v}</td></tr>"
                       for k, v in rows)
        self.details.setHtml(f"<h3 style='margin:2px 0'>{job.title}</h3><table>{body}</table>")

    def load_results(self, job: JobRecord) -> None:
        """Add the job's rasters to the map."""
        try:
            layers = self.state.jobs.load_results(job.job_id)
        except Exception as exc:
            PlgLogger.log(self.tr("Cannot load the results: {}").format(exc), Qgis.MessageLevel.Critical,
                          push=True, parent_location=self)
            return
        PlgLogger.log(self.tr("{} layers added in “{}”.").format(len(layers), job.group_name),
                      Qgis.MessageLevel.Success, push=True, parent_location=self)

    def show_provenance(self, job: JobRecord) -> DlgJsonViewer:
        """Open the job's STAC items in the JSON viewer."""
        self.viewer = DlgJsonViewer([p for p in job.outcome.stac_items if Path(p).exists()],
                                    self.tr("GMI – Provenance of {}").format(job.title), self)
        self.viewer.show()
        return self.viewer
