"""The interface language QGIS uses (for translations and localized layer names)."""
from __future__ import annotations

from qgis.PyQt.QtCore import QLocale, QSettings


def ui_locale() -> str:
    """``locale/userLocale`` when the user overrode the language in QGIS, else the system locale."""
    settings = QSettings()
    if settings.value("locale/overrideFlag", False, type=bool):
        return str(settings.value("locale/userLocale", "") or QLocale.system().name())
    return QLocale.system().name()
