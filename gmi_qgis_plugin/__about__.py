"""Plugin identity, read once from ``metadata.txt`` (the single source of truth).

In the installed plugin ``metadata.txt``, ``resources/`` and ``i18n/`` sit inside the plugin
folder; in the source tree they sit one level up, at the repository root. :func:`plugin_path`
hides that difference, so every module asks it for files instead of building paths.
"""
from __future__ import annotations

from configparser import ConfigParser
from pathlib import Path
from typing import Dict

DIR_PLUGIN_ROOT = Path(__file__).resolve().parent
"""The plugin package folder (``gmi_qgis_plugin/``)."""
DIR_SOURCE_ROOT = DIR_PLUGIN_ROOT.parent
"""The repository root when running from a source checkout."""


def plugin_path(*parts: str) -> Path:
    """``parts`` under the plugin folder, or under the repository root when not packaged there."""
    inside = DIR_PLUGIN_ROOT.joinpath(*parts)
    if inside.exists():
        return inside
    return DIR_SOURCE_ROOT.joinpath(*parts)


def _read_metadata() -> Dict[str, str]:
    path = plugin_path("metadata.txt")
    parser = ConfigParser(interpolation=None)
    with open(path, encoding="utf-8") as handle:
        parser.read_file(handle)
    return dict(parser["general"])


PLG_METADATA = _read_metadata()

__title__ = "GMI"
"""Short title: the toolbar, menu, settings group and message-log tag."""
__title_long__ = PLG_METADATA["name"]
__summary__ = PLG_METADATA["description"]
__version__ = PLG_METADATA["version"]
__author__ = PLG_METADATA["author"]
__email__ = PLG_METADATA["email"]
__uri_repository__ = PLG_METADATA["repository"]
__uri_tracker__ = PLG_METADATA["tracker"]
__uri_homepage__ = PLG_METADATA["homepage"]
__icon_path__ = plugin_path(PLG_METADATA["icon"])
__qgis_min__ = PLG_METADATA["qgisminimumversion"]
__qgis_max__ = PLG_METADATA["qgismaximumversion"]
