"""The GMI page of Settings ▸ Options: workspace, backend defaults, MaxCompute account id."""
from __future__ import annotations

from typing import Optional

from qgis.gui import (
    QgsAuthConfigSelect,
    QgsFileWidget,
    QgsOptionsPageWidget,
    QgsOptionsWidgetFactory,
)
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gmi_qgis_plugin.__about__ import __title__, __uri_homepage__, __version__
from gmi_qgis_plugin.toolbelt.icons import plugin_icon
from gmi_qgis_plugin.toolbelt.preferences import PlgOptionsManager, PlgSettingsStructure

PAGE_NAME = f"mOptionsPage{__title__}"


class ConfigOptionsPage(QgsOptionsPageWidget):
    """Edits :class:`PlgSettingsStructure`; the AccessKey itself stays in the auth database."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName(PAGE_NAME)
        layout = QVBoxLayout(self)

        general = QGroupBox(self.tr("Defaults"), self)
        form = QFormLayout(general)
        self.wdg_workspace = QgsFileWidget(self)
        self.wdg_workspace.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        form.addRow(self.tr("Workspace folder"), self.wdg_workspace)
        self.cmb_backend = QComboBox(self)
        self.cmb_backend.addItem(self.tr("This computer"), "local")
        self.cmb_backend.addItem(self.tr("Alibaba Cloud MaxCompute (ODPS)"), "odps")
        self.cmb_backend.addItem(self.tr("Dask cluster"), "dask")
        form.addRow(self.tr("Default backend"), self.cmb_backend)
        self.spn_workers = QSpinBox(self)
        self.spn_workers.setRange(1, 64)
        form.addRow(self.tr("Worker processes"), self.spn_workers)
        self.chk_debug = QCheckBox(self.tr("Debug mode (log every info message)"), self)
        form.addRow("", self.chk_debug)
        layout.addWidget(general)

        odps = QGroupBox(self.tr("MaxCompute (ODPS)"), self)
        odps_form = QFormLayout(odps)
        self.txt_project = QLineEdit(self)
        odps_form.addRow(self.tr("Project"), self.txt_project)
        self.txt_endpoint = QLineEdit(self)
        self.txt_endpoint.setPlaceholderText("https://service.cn-hangzhou.maxcompute.aliyun.com/api")
        odps_form.addRow(self.tr("Endpoint"), self.txt_endpoint)
        self.wdg_auth = QgsAuthConfigSelect(self)
        odps_form.addRow(self.tr("AccessKey"), self.wdg_auth)
        note = QLabel(self.tr("Store the AccessKey as a <i>Basic</i> authentication: user name = AccessKey ID, "
                              "password = AccessKey secret. GMI keeps only the configuration's id; the secret "
                              "stays in the QGIS authentication database."), self)
        note.setWordWrap(True)
        odps_form.addRow(note)
        layout.addWidget(odps)

        about = QLabel(f"{__title__} {__version__} · <a href='{__uri_homepage__}'>{__uri_homepage__}</a>", self)
        about.setOpenExternalLinks(True)
        layout.addWidget(about)
        layout.addStretch(1)
        self.load_settings()

    def load_settings(self) -> None:
        """Show the stored settings."""
        settings = PlgOptionsManager.get_plg_settings()
        self.wdg_workspace.setFilePath(settings.workspace)
        self.cmb_backend.setCurrentIndex(max(0, self.cmb_backend.findData(settings.default_backend)))
        self.spn_workers.setValue(settings.workers)
        self.chk_debug.setChecked(settings.debug_mode)
        self.txt_project.setText(settings.odps_project)
        self.txt_endpoint.setText(settings.odps_endpoint)
        self.wdg_auth.setConfigId(settings.odps_auth_id)

    def apply(self) -> None:
        """Store the edited settings (QGIS calls this on OK)."""
        PlgOptionsManager.save_from_object(PlgSettingsStructure(
            workspace=self.wdg_workspace.filePath().strip(), default_backend=self.cmb_backend.currentData(),
            workers=self.spn_workers.value(), odps_project=self.txt_project.text().strip(),
            odps_endpoint=self.txt_endpoint.text().strip(), odps_auth_id=self.wdg_auth.configId(),
            debug_mode=self.chk_debug.isChecked()))


class PlgOptionsFactory(QgsOptionsWidgetFactory):
    """Registers the GMI page in Settings ▸ Options."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle(__title__)

    def icon(self) -> QIcon:
        """The GMI icon on the options page tab."""
        return plugin_icon("gmi")

    def createWidget(self, parent: QWidget) -> ConfigOptionsPage:
        """A new GMI options page."""
        return ConfigOptionsPage(parent)
