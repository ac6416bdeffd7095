"""QgsTask helpers: run engine work in the background, hand results back on the main thread.

:class:`EngineTask` runs ``work(ctx)`` in a worker thread. ``work`` gets a :class:`TaskContext`
to report progress and poll cancellation; it must not touch the project, layers or widgets.
Its return value (or exception) reaches ``on_finished(result, error)`` in ``finished()``, which
QGIS calls on the main thread: that is where layers are added and widgets updated.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Optional

from qgis.core import Qgis, QgsApplication, QgsTask
from qgis.PyQt.QtCore import pyqtSignal

from gmi_qgis_plugin.errors import GmiPluginError
from gmi_qgis_plugin.toolbelt.log_handler import PlgLogger


class TaskCancelled(GmiPluginError):
    """Raised by :meth:`TaskContext.check` when the user cancelled the task."""


class TaskContext:
    """What background work may use: progress, messages and the cancel flag."""

    def __init__(self, task: EngineTask) -> None:
        self._task = task

    def progress(self, percent: float, text: str = "") -> None:
        """Report ``percent`` (0–100) and, optionally, a status text."""
        self._task.setProgress(max(0.0, min(100.0, float(percent))))
        if text:
            self._task.message.emit(text)

    def note(self, key: str, value: str) -> None:
        """Pass a named value (e.g. ``logview``) to the main thread."""
        self._task.note.emit(key, value)

    def is_canceled(self) -> bool:
        """True once the user asked to cancel."""
        return self._task.isCanceled()

    def check(self) -> None:
        """Raise :class:`TaskCancelled` if the user cancelled."""
        if self._task.isCanceled():
            raise TaskCancelled()


Work = Callable[[TaskContext], Any]
Finished = Callable[[Any, Optional[BaseException]], None]


class EngineTask(QgsTask):
    """A cancellable task running ``work``; ``on_finished(result, error)`` runs on the main thread.

    ``error`` is None on success, a :class:`TaskCancelled` when cancelled, else the exception
    raised by ``work`` (its traceback is in :attr:`traceback_text`).
    """

    message = pyqtSignal(str)
    """Status text from the worker (delivered to the main thread)."""
    note = pyqtSignal(str, str)
    """A named value from the worker, e.g. ``("logview", url)``."""

    def __init__(self, description: str, work: Work, on_finished: Optional[Finished] = None,
                 flags: QgsTask.Flags = QgsTask.Flag.CanCancel) -> None:
        super().__init__(description, flags)
        self._work = work
        self._on_finished = on_finished
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.traceback_text = ""

    def run(self) -> bool:
        """Do the work on the worker thread (no project, layer or widget access here)."""
        try:
            self.result = self._work(TaskContext(self))
        except TaskCancelled as exc:
            self.error = exc
            return False
        except BaseException as exc:  # re-raised nowhere: reported in finished()
            self.error = exc
            self.traceback_text = traceback.format_exc()
            return False
        if self.isCanceled():
            self.error = TaskCancelled()
            return False
        return True

    def finished(self, result: bool) -> None:
        """Report the outcome on the main thread."""
        if not result and self.error is None:
            self.error = TaskCancelled()
        if self.traceback_text:
            PlgLogger.log(f"{self.description()} failed: {self.error}",
                          Qgis.MessageLevel.Critical, details=self.traceback_text)
        if self._on_finished is not None:
            self._on_finished(self.result, self.error)


def start_task(task: EngineTask) -> EngineTask:
    """Queue ``task`` on the QGIS task manager; returns it (keep a reference!)."""
    QgsApplication.taskManager().addTask(task)
    return task


def python_executable() -> str:
    """A Python interpreter for worker processes (inside QGIS ``sys.executable`` is QGIS itself)."""
    exe = Path(sys.executable)
    if exe.name.lower().startswith("python"):
        return str(exe)
    names = ("python.exe", "python3.exe") if os.name == "nt" else ("python3", "python")
    for folder in (Path(sys.exec_prefix), Path(sys.exec_prefix) / "bin"):
        for name in names:
            if (folder / name).is_file():
                return str(folder / name)
    found = shutil.which("python3") or shutil.which("python")
    if not found:
        raise RuntimeError("no Python interpreter found for GMI worker processes; set workers to 1")
    return found


def prepare_worker_processes() -> None:
    """Make ``multiprocessing`` spawn a Python interpreter, not a second QGIS."""
    multiprocessing.set_executable(python_executable())
