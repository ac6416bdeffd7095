"""*Run*: choose a method, indices, tiles and a backend; start the job in a background task."""
from __future__ import annotations

from dataclasses import replace
from typing import List, Optional

from qgis.core import Qgis
from qgis.gui import QgsAuthConfigSelect, QgsFileWidget, QgsMessageBar
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gmi_qgis_plugin.toolbelt.credentials import CredentialsError, read_odps_credentials
from gmi_qgis_plugin.toolbelt.icons import plugin_icon
from gmi_qgis_plugin.toolbelt.jobs import FINISHED, JobRecord, JobSpec
from gmi_qgis_plugin.toolbelt.log_handler import PlgLogger
from gmi_qgis_plugin.toolbelt.odps_bridge import odps_status
from gmi_qgis_plugin.toolbelt.preferences import BALANCE_CHOICES, NO_BALANCE, PlgOptionsManager
from gmi_qgis_plugin.toolbelt.run_options import (
    balance_method_help,
    balance_params,
    help_summary,
    mixed_provenance_help,
)
from gmi_qgis_plugin.toolbelt.state import PluginState
from gmi_qgis_plugin.toolbelt.workspace import workspace_tiles

METHODS = ("mineral_indices", "color_balancing", "mosaic")


class DlgRun(QDialog):
    """Starts one job per click; progress, cancel and the MaxCompute Logview link follow it."""

    def __init__(self, state: PluginState, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.job: Optional[JobRecord] = None
        self.setWindowTitle(self.tr("GMI – Run"))
        self.setWindowIcon(plugin_icon("run"))
        self.resize(760, 820)
        self._build()
        state.tiles_changed.connect(self._update_tiles)
        state.workspace_changed.connect(self._update_tiles)
        state.jobs.job_changed.connect(self._job_changed)
        self._load_settings()

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.message_bar = QgsMessageBar(self)
        layout.addWidget(self.message_bar)

        method_box = QGroupBox(self.tr("Method"), self)
        method_layout = QVBoxLayout(method_box)
        self.cmb_method = QComboBox(self)
        titles = {"mineral_indices": self.tr("Mineral indices"),
                  "color_balancing": self.tr("Colour-balanced mosaic (MODIS balancing)"),
                  "mosaic": self.tr("Mosaic of surface reflectance")}
        for method in METHODS:
            self.cmb_method.addItem(titles[method], method)
        self.lbl_method = QLabel(self)
        self.lbl_method.setWordWrap(True)
        self.lbl_method.setStyleSheet("color: #555;")
        method_layout.addWidget(self.cmb_method)
        method_layout.addWidget(self.lbl_method)
        layout.addWidget(method_box)

        self.index_box = QGroupBox(self.tr("Indices"), self)
        index_layout = QVBoxLayout(self.index_box)
        self.lst_indices = QListWidget(self)
        self.lst_indices.setAlternatingRowColors(True)
        self._fill_indices()
        index_layout.addWidget(self.lst_indices, 1)
        row = QHBoxLayout()
        self.btn_all = QPushButton(self.tr("All"), self)
        self.btn_none = QPushButton(self.tr("None"), self)
        self.btn_vnir = QPushButton(self.tr("VNIR only (post-2008 granules)"), self)
        self.btn_all.clicked.connect(lambda: self.set_indices(None))
        self.btn_none.clicked.connect(lambda: self.set_indices([]))
        self.btn_vnir.clicked.connect(self._vnir_only)
        for button in (self.btn_all, self.btn_none, self.btn_vnir):
            row.addWidget(button)
        row.addStretch(1)
        self.lbl_index_count = QLabel(self)
        row.addWidget(self.lbl_index_count)
        index_layout.addLayout(row)
        self.lst_indices.itemChanged.connect(self._update_index_count)
        layout.addWidget(self.index_box, 1)
        layout.addWidget(self._build_options())

        where_box = QGroupBox(self.tr("Tiles and backend"), self)
        grid = QGridLayout(where_box)
        grid.setColumnStretch(1, 1)

        def add_row(label, field) -> None:
            """Label and field on the next grid row (rows whose widgets are hidden take no space)."""
            row = grid.rowCount()
            if label is None:
                grid.addWidget(field, row, 0, 1, 2)
                return
            if isinstance(label, str):
                label = QLabel(label, self)
            grid.addWidget(label, row, 0)
            if isinstance(field, QHBoxLayout):
                grid.addLayout(field, row, 1)
            else:
                grid.addWidget(field, row, 1)
        self.wdg_workspace = QgsFileWidget(self)
        self.wdg_workspace.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.wdg_workspace.fileChanged.connect(lambda *_: self._update_tiles())
        add_row(self.tr("Workspace"), self.wdg_workspace)
        tiles_row = QHBoxLayout()
        self.rad_picked = QRadioButton(self)
        self.rad_all = QRadioButton(self)
        self.tiles_group = QButtonGroup(self)
        self.tiles_group.addButton(self.rad_picked)
        self.tiles_group.addButton(self.rad_all)
        tiles_row.addWidget(self.rad_picked)
        tiles_row.addWidget(self.rad_all)
        tiles_row.addStretch(1)
        add_row(self.tr("Tiles"), tiles_row)
        self.cmb_backend = QComboBox(self)
        self.cmb_backend.addItem(self.tr("This computer"), "local")
        self.cmb_backend.addItem(self.tr("Alibaba Cloud MaxCompute (ODPS)"), "odps")
        self.cmb_backend.addItem(self.tr("Dask cluster (local or a scheduler)"), "dask")
        add_row(self.tr("Backend"), self.cmb_backend)

        self.spn_workers = QSpinBox(self)
        self.spn_workers.setRange(1, 64)
        self.spn_workers.setToolTip(self.tr("Worker processes, one tile each."))
        self.lbl_workers = QLabel(self.tr("Worker processes"), self)
        add_row(self.lbl_workers, self.spn_workers)
        self.txt_scheduler = QLineEdit(self)
        self.txt_scheduler.setPlaceholderText(self.tr("tcp://host:8786 (empty: a local cluster of the workers above)"))
        self.lbl_scheduler = QLabel(self.tr("Dask scheduler"), self)
        add_row(self.lbl_scheduler, self.txt_scheduler)
        self.txt_project = QLineEdit(self)
        self.txt_project.setPlaceholderText(self.tr("MaxCompute project"))
        self.txt_endpoint = QLineEdit(self)
        self.txt_endpoint.setPlaceholderText("https://service.cn-hangzhou.maxcompute.aliyun.com/api")
        self.wdg_auth = QgsAuthConfigSelect(self)
        self.lbl_project = QLabel(self.tr("Project"), self)
        self.lbl_endpoint = QLabel(self.tr("Endpoint"), self)
        self.lbl_auth = QLabel(self.tr("AccessKey"), self)
        add_row(self.lbl_project, self.txt_project)
        add_row(self.lbl_endpoint, self.txt_endpoint)
        add_row(self.lbl_auth, self.wdg_auth)
        self.lbl_odps = QLabel(self)
        self.lbl_odps.setWordWrap(True)
        add_row(None, self.lbl_odps)
        self._local_rows = (self.lbl_workers, self.spn_workers)
        self._dask_rows = (self.lbl_scheduler, self.txt_scheduler)
        self._odps_rows = (self.lbl_project, self.txt_project, self.lbl_endpoint, self.txt_endpoint,
                           self.lbl_auth, self.wdg_auth)
        layout.addWidget(where_box)

        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        self.lbl_status = QLabel(self)
        self.lbl_status.setWordWrap(True)
        self.lbl_logview = QLabel(self)
        self.lbl_logview.setOpenExternalLinks(True)
        self.lbl_logview.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.lbl_logview.setVisible(False)
        layout.addWidget(self.progress)
        layout.addWidget(self.lbl_status)
        layout.addWidget(self.lbl_logview)

        self.button_box = QDialogButtonBox(self)
        self.btn_run = self.button_box.addButton(self.tr("Run"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.btn_run.setIcon(plugin_icon("run"))
        self.btn_cancel = self.button_box.addButton(self.tr("Cancel job"), QDialogButtonBox.ButtonRole.ActionRole)
        self.btn_jobs = self.button_box.addButton(self.tr("Jobs…"), QDialogButtonBox.ButtonRole.ActionRole)
        self.btn_jobs.setIcon(plugin_icon("jobs"))
        self.btn_close = self.button_box.addButton(QDialogButtonBox.StandardButton.Close)
        self.btn_run.clicked.connect(self.run)
        self.btn_cancel.clicked.connect(self.cancel)
        self.btn_close.clicked.connect(self.close)
        self.btn_cancel.setEnabled(False)
        layout.addWidget(self.button_box)

        self.cmb_method.currentIndexChanged.connect(self._method_changed)
        self.cmb_backend.currentIndexChanged.connect(self._backend_changed)

    def _build_options(self) -> QGroupBox:
        """Colour-balancing method (the engine's methods, then none) and mixed provenance."""
        box = QGroupBox(self.tr("Mosaic and colour balancing"), self)
        grid = QGridLayout(box)
        grid.setColumnStretch(1, 1)
        titles = {"shape": self.tr("Shape-preserving (default)"),
                  "tasseled_cap": self.tr("Tasseled cap (the reference engine's)"),
                  "block": self.tr("Per-band blocks (earlier method)"),
                  NO_BALANCE: self.tr("None (indices on the unbalanced mosaic)")}
        help_items = balance_method_help()
        self.cmb_balance = QComboBox(self)
        for choice in BALANCE_CHOICES:
            self.cmb_balance.addItem(titles.get(choice, choice), choice)
            self.cmb_balance.setItemData(self.cmb_balance.count() - 1, help_items.get(choice, ""),
                                         Qt.ItemDataRole.ToolTipRole)
        self.lbl_balance_help = QLabel(self)
        self.lbl_balance_help.setWordWrap(True)
        self.lbl_balance_help.setStyleSheet("color: #555;")
        self.chk_mixed = QCheckBox(self.tr("VNIR+SWIR indices also where VNIR and SWIR come from different "
                                           "granules"), self)
        self.chk_mixed.setToolTip(mixed_provenance_help())
        grid.addWidget(QLabel(self.tr("Colour balancing"), self), 0, 0)
        grid.addWidget(self.cmb_balance, 0, 1)
        grid.addWidget(self.lbl_balance_help, 1, 0, 1, 2)
        grid.addWidget(self.chk_mixed, 2, 0, 1, 2)
        self.cmb_balance.currentIndexChanged.connect(self._balance_changed)
        return box

    def _fill_indices(self) -> None:
        from gmi_engine.kernel.indices import default_library

        self.lst_indices.blockSignals(True)
        for definition in default_library():
            swir = definition.needs_swir
            text = "{}  —  {}{}".format(definition.name, definition.formula, "   [SWIR]" if swir else "")
            item = QListWidgetItem(text, self.lst_indices)
            item.setData(Qt.ItemDataRole.UserRole, definition.id)
            item.setData(Qt.ItemDataRole.UserRole + 1, swir)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            tip = [definition.id, definition.formula]
            if definition.name_zh_CN:
                tip.append(definition.name_zh_CN)
            if definition.notes:
                tip.append(definition.notes)
            item.setToolTip("\n".join(tip))
        self.lst_indices.blockSignals(False)

    def _load_settings(self) -> None:
        settings = PlgOptionsManager.get_plg_settings()
        self.wdg_workspace.setFilePath(settings.workspace)
        self.spn_workers.setValue(settings.workers)
        self.txt_project.setText(settings.odps_project)
        self.txt_endpoint.setText(settings.odps_endpoint)
        self.wdg_auth.setConfigId(settings.odps_auth_id)
        self.cmb_backend.setCurrentIndex(max(0, self.cmb_backend.findData(settings.default_backend)))
        self.set_balance(settings.balance_method)
        self.chk_mixed.setChecked(settings.allow_mixed_provenance)
        self._balance_changed()
        self._method_changed()
        self._backend_changed()
        self._update_tiles()
        self._update_index_count()

    # -- reactions ----------------------------------------------------------------------------
    def _method_changed(self, *_args) -> None:
        method = self.method
        texts = {
            "mineral_indices": self.tr("Surface reflectance (6S), mosaic of every granule of a tile, "
                                       "MODIS colour balancing, then the chosen band-ratio indices (float32, "
                                       "NaN = no data)."),
            "color_balancing": self.tr("Surface reflectance (6S), mosaic of every granule of a tile, then "
                                       "balanced to the MOD09A1 reference: bands 1–9 plus RGB presets."),
            "mosaic": self.tr("Surface reflectance (6S) of every granule of a tile, mosaicked best-pixel "
                              "first, without colour balancing.")}
        self.lbl_method.setText(texts[method])
        self.index_box.setEnabled(method == "mineral_indices")
        self.cmb_balance.setEnabled(method != "mosaic")
        self.chk_mixed.setEnabled(method == "mineral_indices")

    def _balance_changed(self, *_args) -> None:
        """Below the choice: its summary (the whole help item is the tooltip)."""
        text = self.cmb_balance.currentData(Qt.ItemDataRole.ToolTipRole) or ""
        self.lbl_balance_help.setText(help_summary(text))
        self.lbl_balance_help.setToolTip(text)

    def _backend_changed(self, *_args) -> None:
        backend = self.backend
        for widget in self._local_rows:
            widget.setVisible(backend in ("local", "dask"))
        for widget in self._dask_rows:
            widget.setVisible(backend == "dask")
        for widget in self._odps_rows:
            widget.setVisible(backend == "odps")
        if backend == "odps":
            ok, reason = odps_status()
            self.lbl_odps.setText("" if ok else f"<span style='color:#b0441a'>⚠ {reason}</span>")
            self.lbl_odps.setVisible(not ok)
            self.btn_run.setEnabled(ok)
        else:
            self.lbl_odps.setVisible(False)
            self.btn_run.setEnabled(True)

    def _update_tiles(self, *_args) -> None:
        picked = len(self.state.selected_tiles)
        available = len(workspace_tiles(self.workspace))
        self.rad_picked.setText(self.tr("Picked tiles ({})").format(picked))
        self.rad_all.setText(self.tr("Every tile of the workspace ({})").format(available))
        self.rad_picked.setEnabled(picked > 0)
        if picked:
            self.rad_picked.setChecked(True)
        else:
            self.rad_all.setChecked(True)

    def _update_index_count(self, *_args) -> None:
        chosen = self.indices
        total = self.lst_indices.count()
        self.lbl_index_count.setText(self.tr("{} of {} chosen").format(total if chosen is None else len(chosen), total))

    def _vnir_only(self) -> None:
        self.set_indices([self.lst_indices.item(i).data(Qt.ItemDataRole.UserRole)
                          for i in range(self.lst_indices.count())
                          if not self.lst_indices.item(i).data(Qt.ItemDataRole.UserRole + 1)])

    # -- values -------------------------------------------------------------------------------
    @property
    def method(self) -> str:
        """The chosen method id."""
        return self.cmb_method.currentData()

    @property
    def backend(self) -> str:
        """``local``, ``odps`` or ``dask``."""
        return self.cmb_backend.currentData()

    @property
    def workspace(self) -> str:
        """The workspace folder."""
        return self.wdg_workspace.filePath().strip()

    @property
    def indices(self) -> Optional[List[str]]:
        """Chosen index ids; None when all are chosen (the engine's default)."""
        ids = [self.lst_indices.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.lst_indices.count())
               if self.lst_indices.item(i).checkState() == Qt.CheckState.Checked]
        return None if len(ids) == self.lst_indices.count() else ids

    @property
    def balance(self) -> str:
        """The colour-balancing choice: an engine method or ``none``."""
        return self.cmb_balance.currentData()

    def set_balance(self, choice: str) -> None:
        """Choose a colour-balancing method or ``none``."""
        self.cmb_balance.setCurrentIndex(max(0, self.cmb_balance.findData(choice)))

    def set_method(self, method: str) -> None:
        """Choose ``method``."""
        self.cmb_method.setCurrentIndex(self.cmb_method.findData(method))

    def set_backend(self, backend: str) -> None:
        """Choose ``local``, ``odps`` or ``dask``."""
        self.cmb_backend.setCurrentIndex(self.cmb_backend.findData(backend))

    def set_indices(self, ids: Optional[List[str]]) -> None:
        """Check exactly ``ids`` (None: all)."""
        for i in range(self.lst_indices.count()):
            item = self.lst_indices.item(i)
            on = ids is None or item.data(Qt.ItemDataRole.UserRole) in ids
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def spec(self) -> JobSpec:
        """The job the dialog describes."""
        params = {}
        if self.method == "mineral_indices" and self.indices is not None:
            params["indices"] = self.indices
        if self.method == "mineral_indices" or (self.method == "color_balancing" and self.balance != NO_BALANCE):
            params.update(balance_params(self.balance))
        if self.method == "mineral_indices" and self.chk_mixed.isChecked():
            params["mosaic"] = {"allow_mixed_provenance": True}
        tiles = self.state.selected_tiles if self.rad_picked.isChecked() and self.rad_picked.isEnabled() else None
        return JobSpec(method=self.method, workspace=self.workspace, backend=self.backend, tiles=tiles,
                       params=params, workers=self.spn_workers.value(),
                       odps_project=self.txt_project.text().strip(), odps_endpoint=self.txt_endpoint.text().strip(),
                       odps_auth_id=self.wdg_auth.configId(), dask_scheduler=self.txt_scheduler.text().strip())

    # -- running ------------------------------------------------------------------------------
    def _refuse(self, text: str) -> None:
        PlgLogger.log(text, Qgis.MessageLevel.Warning, push=True, parent_location=self)

    def run(self) -> Optional[JobRecord]:
        """Validate, remember the choices as defaults, and start the job."""
        spec = self.spec()
        available = set(workspace_tiles(spec.workspace))
        if not available:
            self._refuse(self.tr("The workspace {} holds no ingested granule: load and ingest granules first.")
                         .format(spec.workspace))
            return None
        if spec.tiles is not None:
            kept = [t for t in spec.tiles if t in available]
            if not kept:
                self._refuse(self.tr("None of the picked tiles holds an ingested granule."))
                return None
            if len(kept) < len(spec.tiles):
                PlgLogger.log(self.tr("{} picked tile(s) hold no ingested granule and are left out.")
                              .format(len(spec.tiles) - len(kept)), Qgis.MessageLevel.Info, push=True,
                              parent_location=self)
            spec = replace(spec, tiles=kept)
        if spec.method == "mineral_indices" and spec.params.get("indices") == []:
            self._refuse(self.tr("Choose at least one index."))
            return None
        if spec.method == "color_balancing" and self.balance == NO_BALANCE:
            self._refuse(self.tr("The colour-balanced mosaic needs a balancing method: choose one, or run "
                                 "the plain mosaic."))
            return None
        credentials = None
        if spec.backend == "odps":
            ok, reason = odps_status()
            if not ok:
                self._refuse(reason)
                return None
            if not spec.odps_project or not spec.odps_endpoint:
                self._refuse(self.tr("Set the MaxCompute project and endpoint."))
                return None
            try:
                credentials = read_odps_credentials(spec.odps_auth_id)
            except CredentialsError as exc:
                self._refuse(str(exc))
                return None
        for key, value in (("workspace", spec.workspace), ("default_backend", spec.backend),
                           ("workers", spec.workers), ("odps_project", spec.odps_project),
                           ("odps_endpoint", spec.odps_endpoint), ("odps_auth_id", spec.odps_auth_id),
                           ("balance_method", self.balance),
                           ("allow_mixed_provenance", self.chk_mixed.isChecked())):
            PlgOptionsManager.set_value_from_key(key, value)
        self.job = self.state.jobs.submit(spec, credentials)
        del credentials
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.lbl_logview.setVisible(False)
        self.lbl_status.setText(self.tr("{} started ({}).").format(self.job.title, self.job.tiles_text))
        self.btn_cancel.setEnabled(True)
        self.btn_run.setEnabled(False)
        return self.job

    def cancel(self) -> None:
        """Cancel the job this dialog started."""
        if self.job is not None:
            self.state.jobs.cancel(self.job.job_id)

    def _job_changed(self, job_id: int) -> None:
        if self.job is None or job_id != self.job.job_id:
            return
        job = self.job
        self.progress.setValue(int(job.progress))
        if job.message:
            self.lbl_status.setText(f"{job.title}: {job.message}")
        if job.logview:
            self.lbl_logview.setText("<a href='{0}'>{1}</a>".format(job.logview, self.tr("Open MaxCompute Logview")))
            self.lbl_logview.setVisible(True)
        if job.done:
            self.btn_cancel.setEnabled(False)
            self._backend_changed()
            if job.status == FINISHED:
                self.progress.setValue(100)
