"""The GMI plugin: toolbar, Raster ▸ GMI menu, Options page, Processing provider, translations."""
from __future__ import annotations

from typing import Dict, List, Optional

from qgis.core import QgsApplication
from qgis.gui import QgisInterface
from qgis.PyQt.QtCore import QCoreApplication, QTranslator
from qgis.PyQt.QtWidgets import QDialog, QToolBar

try:  # Qt6 (QGIS 4) moved QAction to QtGui
    from qgis.PyQt.QtGui import QAction
except ImportError:  # Qt5
    from qgis.PyQt.QtWidgets import QAction

from gmi_qgis_plugin.__about__ import __title__, __title_long__, plugin_path
from gmi_qgis_plugin.toolbelt.i18n import ui_locale
from gmi_qgis_plugin.toolbelt.icons import plugin_icon, theme_icon

MENU = "&GMI"


class GmiPlugin:
    """Created by :func:`gmi_qgis_plugin.classFactory`; QGIS calls initGui/initProcessing/unload."""

    def __init__(self, iface: QgisInterface) -> None:
        self.iface = iface
        self.provider = None
        self.options_factory = None
        self.toolbar: Optional[QToolBar] = None
        self.actions: Dict[str, QAction] = {}
        self.dialogs: Dict[str, QDialog] = {}
        self.state = None
        self.translator: Optional[QTranslator] = None
        self._install_translator()

    @staticmethod
    def tr(text: str) -> str:
        """Translate ``text`` in the plugin's context."""
        return QCoreApplication.translate("GmiPlugin", text)

    def _install_translator(self) -> None:
        """Load ``i18n/gmi_<locale>.qm`` (then the two-letter language) when it exists."""
        locale = ui_locale()
        for name in (locale, locale[:2]):
            path = plugin_path("i18n", f"gmi_{name}.qm")
            if name and path.exists():
                translator = QTranslator()
                if translator.load(str(path)):
                    QCoreApplication.installTranslator(translator)
                    self.translator = translator
                return

    # -- QGIS hooks ---------------------------------------------------------------------------
    def initProcessing(self) -> None:
        """Register the ``gmi`` Processing provider (also called by qgis_process)."""
        from gmi_qgis_plugin.processing.provider import GmiProvider

        if self.provider is None:
            self.provider = GmiProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:
        """Toolbar, menu, Options page and the Processing provider."""
        from gmi_qgis_plugin.gui.dlg_settings import PlgOptionsFactory
        from gmi_qgis_plugin.toolbelt.state import PluginState

        self.state = PluginState()
        self.toolbar = self.iface.addToolBar(__title__)
        self.toolbar.setObjectName("GmiToolbar")
        self.toolbar.setToolTip(__title_long__)
        specs = [
            ("search", theme_icon("mActionZoomToArea.svg"), self.tr("Search ASTER (Earthdata)…"), self.open_search,
             True),
            ("load", plugin_icon("load_granules"), self.tr("Load ASTER granules…"), self.open_load, True),
            ("tiles", plugin_icon("tiles"), self.tr("Tiles…"), self.open_tiles, True),
            ("run", plugin_icon("run"), self.tr("Run…"), self.open_run, True),
            ("jobs", plugin_icon("jobs"), self.tr("Jobs…"), self.open_jobs, True),
            ("settings", theme_icon("mActionOptions.svg"), self.tr("Settings…"), self.open_settings, False),
            ("help", theme_icon("mActionHelpContents.svg"), self.tr("Help"), self.open_help, False),
        ]
        for key, icon, text, slot, on_toolbar in specs:
            action = QAction(icon, text, self.iface.mainWindow())
            action.setObjectName("gmi_action_" + key)
            action.triggered.connect(slot)
            self.iface.addPluginToRasterMenu(MENU, action)
            if on_toolbar:
                self.toolbar.addAction(action)
            self.actions[key] = action
        self.options_factory = PlgOptionsFactory()
        self.iface.registerOptionsWidgetFactory(self.options_factory)
        self.initProcessing()

    def unload(self) -> None:
        """Remove everything initGui added; cancel nothing (running jobs finish in the background)."""
        for dialog in self.dialogs.values():
            dialog.close()
            dialog.deleteLater()
        self.dialogs.clear()
        for action in self.actions.values():
            self.iface.removePluginRasterMenu(MENU, action)
            if self.toolbar is not None:
                self.toolbar.removeAction(action)
            action.deleteLater()
        self.actions.clear()
        if self.toolbar is not None:
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.options_factory is not None:
            self.iface.unregisterOptionsWidgetFactory(self.options_factory)
            self.options_factory = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        if self.translator is not None:
            QCoreApplication.removeTranslator(self.translator)
            self.translator = None

    # -- dialogs ------------------------------------------------------------------------------
    def _show(self, key: str, factory) -> QDialog:
        dialog = self.dialogs.get(key)
        if dialog is None:
            dialog = factory()
            self.dialogs[key] = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def open_search(self) -> QDialog:
        """Show *Search ASTER*."""
        from gmi_qgis_plugin.gui.dlg_search import DlgSearch

        return self._show("search", lambda: DlgSearch(self.state, self.iface.mapCanvas(), self.iface.mainWindow()))

    def open_load(self) -> QDialog:
        """Show *Load ASTER granules*."""
        from gmi_qgis_plugin.gui.dlg_load_granules import DlgLoadGranules

        return self._show("load", lambda: DlgLoadGranules(self.state, self.iface.mainWindow()))

    def open_tiles(self) -> QDialog:
        """Show *Tiles* (draws the grid over the map)."""
        from gmi_qgis_plugin.gui.dlg_tiles import DlgTiles

        dialog = self._show("tiles", lambda: DlgTiles(self.state, self.iface.mapCanvas(), self.iface.mainWindow()))
        dialog.refresh_grid()
        return dialog

    def open_run(self) -> QDialog:
        """Show *Run*."""
        from gmi_qgis_plugin.gui.dlg_run import DlgRun

        def make() -> DlgRun:
            dialog = DlgRun(self.state, self.iface.mainWindow())
            dialog.btn_jobs.clicked.connect(self.open_jobs)
            return dialog

        return self._show("run", make)

    def open_jobs(self) -> QDialog:
        """Show *Jobs*."""
        from gmi_qgis_plugin.gui.dlg_jobs import DlgJobs

        return self._show("jobs", lambda: DlgJobs(self.state, self.iface.mainWindow()))

    def open_settings(self) -> None:
        """Open Settings ▸ Options on the GMI page."""
        from gmi_qgis_plugin.gui.dlg_settings import PAGE_NAME

        self.iface.showOptionsDialog(self.iface.mainWindow(), currentPage=PAGE_NAME)

    def open_help(self) -> None:
        """Open the project home page."""
        from qgis.PyQt.QtCore import QUrl
        from qgis.PyQt.QtGui import QDesktopServices

        from gmi_qgis_plugin.__about__ import __uri_homepage__

        QDesktopServices.openUrl(QUrl(__uri_homepage__))

    @property
    def open_dialogs(self) -> List[str]:
        """Keys of the dialogs created so far."""
        return list(self.dialogs)

