"""Helpers for the plugin tests: event-loop waits, log capture, recording feedback, auth configs."""
from __future__ import annotations

import time
from typing import Callable, List, Tuple

from qgis.core import QgsApplication, QgsAuthMethodConfig, QgsProcessingFeedback, QgsProject
from qgis.PyQt.QtCore import QCoreApplication

LOG_TAG = "GMI"


def wait_until(condition: Callable[[], bool], timeout: float = 120.0, what: str = "condition") -> None:
    """Spin the Qt event loop until ``condition()`` holds (task finished() runs on this thread)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out after {:.0f} s waiting for {}".format(timeout, what))
        QCoreApplication.processEvents()
        time.sleep(0.02)
    QCoreApplication.processEvents()


def wait_for_tasks(timeout: float = 120.0) -> None:
    """Wait until the QGIS task manager is idle."""
    manager = QgsApplication.taskManager()
    wait_until(lambda: manager.countActiveTasks() == 0, timeout, "background tasks")


class LogCapture:
    """Every QgsMessageLog message (all tags) while active."""

    def __init__(self) -> None:
        self.messages: List[Tuple[str, str, int]] = []

    def _on_message(self, message: str, tag: str, level) -> None:
        self.messages.append((message, tag, int(level)))

    def __enter__(self) -> "LogCapture":
        QgsApplication.messageLog().messageReceived.connect(self._on_message)
        return self

    def __exit__(self, *exc) -> None:
        QCoreApplication.processEvents()
        QgsApplication.messageLog().messageReceived.disconnect(self._on_message)

    def texts(self, tag: str = LOG_TAG) -> List[str]:
        """Messages logged under ``tag``."""
        return [m for m, t, _ in self.messages if t == tag]

    @property
    def all_text(self) -> str:
        """Every message of every tag, joined."""
        return "\n".join(m for m, _, _ in self.messages)


def layer_by_name(name: str):
    """The one project layer called ``name``."""
    found = QgsProject.instance().mapLayersByName(name)
    assert len(found) == 1, (name, [layer.name() for layer in QgsProject.instance().mapLayers().values()])
    return found[0]


class RecordingFeedback(QgsProcessingFeedback):
    """Keeps what an algorithm reports: progress values, infos, warnings, and every text in order.

    Cancels itself when a progress text starts with ``cancel_on``.
    """

    def __init__(self, cancel_on: str = "") -> None:
        super().__init__()
        self.progress: List[float] = []
        self.infos: List[str] = []
        self.warnings: List[str] = []
        self.texts: List[str] = []
        self.cancel_on = cancel_on
        self.progressChanged.connect(self.progress.append)

    def setProgressText(self, text: str) -> None:
        self.texts.append(text)
        if self.cancel_on and text.startswith(self.cancel_on):
            self.cancel()
        super().setProgressText(text)

    def pushInfo(self, info: str) -> None:
        self.infos.append(info)
        self.texts.append(info)
        super().pushInfo(info)

    def pushWarning(self, warning: str) -> None:
        self.warnings.append(warning)
        self.texts.append(warning)
        super().pushWarning(warning)

    def reportError(self, error: str, fatal: bool = False) -> None:
        self.texts.append(error)
        super().reportError(error, fatal)


def auth_config(method: str, name: str, **values: str) -> str:
    """A QGIS auth config of ``method`` (``Basic``, ``EsriToken``, …) holding ``values``; returns its id.

    Sets the test master password first (erasing an auth database another test profile locked
    with a different one).
    """
    manager = QgsApplication.authManager()
    if not manager.setMasterPassword("gmi-test-master", True):
        manager.clearMasterPassword()
        manager.eraseAuthenticationDatabase(False)
        assert manager.setMasterPassword("gmi-test-master", True)
    config = QgsAuthMethodConfig(method)
    config.setName(name)
    for key, value in values.items():
        config.setConfig(key, value)
    result = manager.storeAuthenticationConfig(config)
    stored = result[1] if isinstance(result, tuple) else config  # the tuple form in some QGIS versions
    assert stored.id()
    return stored.id()
