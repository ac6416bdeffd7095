"""The plugin's exception hierarchy, shaped like the engine's (:mod:`gmi_engine.errors`).

One root, :class:`GmiPluginError`; each subclass also inherits the builtin a caller would
naturally catch (``ValueError`` for a bad choice, ``RuntimeError`` for a missing service).
The subclasses live next to the code that raises them.
"""
from __future__ import annotations


class GmiPluginError(Exception):
    """Root of every error the QGIS plugin raises on purpose."""
