"""Plugin icons (``resources/icons/<name>.svg``) and QGIS theme icons."""
from __future__ import annotations

from qgis.core import QgsApplication
from qgis.PyQt.QtGui import QIcon

from gmi_qgis_plugin.__about__ import plugin_path


def plugin_icon(name: str) -> QIcon:
    """``resources/icons/<name>.svg`` as a QIcon."""
    return QIcon(str(plugin_path("resources", "icons", name + ".svg")))


def theme_icon(name: str) -> QIcon:
    """A QGIS theme icon, e.g. ``mIconWarning.svg``."""
    return QgsApplication.getThemeIcon("/" + name)
