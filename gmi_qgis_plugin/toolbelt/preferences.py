"""Typed plugin settings in the ``GMI`` group of QgsSettings.

Only these fields are ever written, and none is a secret: MaxCompute credentials live in the
QGIS authentication database and the settings keep the *id* of that auth config. An environment
variable ``QGIS_PLG_GMI_<FIELD>`` (e.g. ``QGIS_PLG_GMI_WORKERS=4``) overrides a stored value.
Settings are defaults for the dialogs and the Processing parameters, never hidden inputs.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Dict

from qgis.core import QgsSettings

from gmi_engine.kernel.balance import BALANCE_DEFAULTS, BALANCE_METHODS
from gmi_qgis_plugin.__about__ import __title__

BACKENDS = ("local", "odps", "dask")
"""Where a run computes: this computer, or Alibaba Cloud MaxCompute."""
NO_BALANCE = "none"
"""The colour-balancing choice that runs the indices on the unbalanced mosaic (``balance: false``)."""
BALANCE_CHOICES = tuple(BALANCE_METHODS) + (NO_BALANCE,)
"""The engine's balancing methods, then "none"."""
SETTINGS_GROUP = __title__
ENV_PREFIX = "QGIS_PLG_GMI_"


def _default_workspace() -> str:
    return str(Path.home() / "gmi-workspace")


def _default_workers() -> int:
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass
class PlgSettingsStructure:
    """Every stored setting, with its type and default."""

    workspace: str = ""
    default_backend: str = "local"
    workers: int = 0
    odps_project: str = ""
    odps_endpoint: str = ""
    odps_auth_id: str = ""
    balance_method: str = BALANCE_DEFAULTS["balance_method"]
    allow_mixed_provenance: bool = False
    debug_mode: bool = False

    def __post_init__(self) -> None:
        if not self.workspace:
            self.workspace = _default_workspace()
        if self.workers < 1:
            self.workers = _default_workers()
        if self.default_backend not in BACKENDS:
            self.default_backend = "local"
        if self.balance_method not in BALANCE_CHOICES:
            self.balance_method = BALANCE_DEFAULTS["balance_method"]

    @property
    def export_dir(self) -> Path:
        """Where runs export their rasters: ``<workspace>/export``."""
        return Path(self.workspace) / "export"


_TYPES = {f.name: f.type for f in fields(PlgSettingsStructure)}


def _cast(key: str, value: Any) -> Any:
    kind = _TYPES[key]
    name = kind if isinstance(kind, str) else kind.__name__
    if name == "bool":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if name == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            return 0
    return "" if value is None else str(value)


class PlgOptionsManager:
    """Read and write :class:`PlgSettingsStructure` in QgsSettings."""

    @staticmethod
    def keys() -> tuple:
        """The names of the stored fields (nothing else may be written)."""
        return tuple(_TYPES)

    @classmethod
    def get_plg_settings(cls) -> PlgSettingsStructure:
        """Current settings: stored values, environment overrides, then defaults."""
        settings = QgsSettings()
        settings.beginGroup(SETTINGS_GROUP)
        values: Dict[str, Any] = {}
        for key in _TYPES:
            env = os.environ.get(ENV_PREFIX + key.upper())
            if env is not None:
                values[key] = _cast(key, env)
            elif settings.contains(key):
                values[key] = _cast(key, settings.value(key))
        settings.endGroup()
        return PlgSettingsStructure(**values)

    @classmethod
    def set_value_from_key(cls, key: str, value: Any) -> None:
        """Store one field; unknown keys are refused (so nothing else lands in the group)."""
        if key not in _TYPES:
            raise KeyError("GMI settings: unknown key {!r} (known: {})".format(key, ", ".join(_TYPES)))
        settings = QgsSettings()
        settings.beginGroup(SETTINGS_GROUP)
        settings.setValue(key, _cast(key, value))
        settings.endGroup()

    @classmethod
    def save_from_object(cls, plg_settings: PlgSettingsStructure) -> None:
        """Store every field of ``plg_settings``."""
        for key, value in asdict(plg_settings).items():
            cls.set_value_from_key(key, value)
