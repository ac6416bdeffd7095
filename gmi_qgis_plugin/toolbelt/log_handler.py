"""The plugin's one logging facade: QgsMessageLog under the ``GMI`` tag, message bar on request.

``PlgLogger.log(message, level, push=True)`` writes to the Log Messages panel and, when pushed,
also shows the message in a message bar: the dialog's own bar when ``parent_location`` is given,
the main window's otherwise. Info messages that are not pushed are muted unless the
``debug_mode`` setting is on. Any text registered with :meth:`PlgLogger.register_secret` is
masked before it reaches the log or a bar, as a last guard: code must never pass secrets anyway.
"""
from __future__ import annotations

import threading
from typing import Optional, Set

from qgis.core import Qgis, QgsMessageLog
from qgis.gui import QgsMessageBar
from qgis.PyQt.QtWidgets import QMessageBox, QPushButton, QWidget

from gmi_qgis_plugin.__about__ import __title__
from gmi_qgis_plugin.toolbelt.preferences import PlgOptionsManager

LOG_TAG = __title__
MASK = "********"
_DURATIONS = {Qgis.MessageLevel.Info: 5, Qgis.MessageLevel.Success: 5,
              Qgis.MessageLevel.Warning: 10, Qgis.MessageLevel.Critical: 0}


class PlgLogger:
    """Static facade; safe to call from a task thread when ``push`` is False."""

    _secrets: Set[str] = set()
    _lock = threading.Lock()

    @classmethod
    def register_secret(cls, value: str) -> None:
        """Mask ``value`` wherever it would appear in a logged or pushed message."""
        if value and len(value) >= 4:
            with cls._lock:
                cls._secrets.add(value)

    @classmethod
    def redact(cls, text: str) -> str:
        """``text`` with every registered secret replaced by a mask."""
        with cls._lock:
            secrets = sorted(cls._secrets, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, MASK)
        return text

    @classmethod
    def log(cls, message: str, log_level: Qgis.MessageLevel = Qgis.MessageLevel.Info,
            push: bool = False, duration: Optional[int] = None, title: str = "",
            details: str = "", parent_location: Optional[QWidget] = None) -> None:
        """Log ``message``; with ``push`` also show it in a message bar (main thread only).

        :param message: the text (one line for a bar; more lines are fine in the log)
        :param log_level: a ``Qgis.MessageLevel``
        :param push: also show it in a message bar
        :param duration: seconds in the bar (default by level; 0 keeps it until closed)
        :param title: bold title in the bar (default: the plugin title)
        :param details: longer text behind a "Details…" button in the bar, also logged
        :param parent_location: a widget owning a ``message_bar`` (or a QgsMessageBar) to push to
        """
        message = cls.redact(str(message))
        details = cls.redact(str(details)) if details else ""
        if not push and log_level == Qgis.MessageLevel.Info:
            if not PlgOptionsManager.get_plg_settings().debug_mode:
                return
        text = message if not details else f"{message}\n{details}"
        QgsMessageLog.logMessage(text, LOG_TAG, log_level, notifyUser=push)
        if push:
            cls._push(message, log_level, duration, title or LOG_TAG, details, parent_location)

    @staticmethod
    def _bar(parent_location: Optional[QWidget]) -> Optional[QgsMessageBar]:
        if isinstance(parent_location, QgsMessageBar):
            return parent_location
        bar = getattr(parent_location, "message_bar", None)
        if isinstance(bar, QgsMessageBar):
            return bar
        from qgis.utils import iface

        return iface.messageBar() if iface is not None else None

    @classmethod
    def _push(cls, message: str, level: Qgis.MessageLevel, duration: Optional[int], title: str,
              details: str, parent_location: Optional[QWidget]) -> None:
        bar = cls._bar(parent_location)
        if bar is None:
            return
        seconds = _DURATIONS.get(level, 5) if duration is None else duration
        if not details:
            bar.pushMessage(title, message, level, seconds)
            return
        item = bar.createMessage(title, message)
        button = QPushButton(item)
        button.setText(cls.tr_details())
        button.clicked.connect(lambda: QMessageBox.information(bar.window(), title, details))
        item.layout().addWidget(button)
        bar.pushWidget(item, level, seconds)

    @staticmethod
    def tr_details() -> str:
        """Label of the details button."""
        from qgis.PyQt.QtCore import QCoreApplication

        return QCoreApplication.translate("PlgLogger", "Details…")
