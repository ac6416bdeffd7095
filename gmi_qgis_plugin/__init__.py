"""GMI QGIS plugin entry point: QGIS calls :func:`classFactory`.

The installed plugin carries its own copy of the engine in ``ext_libs/gmi_engine`` (see
``make package``); it is put first on ``sys.path`` so the plugin always runs the engine of its
own version. A source checkout has no ``ext_libs`` and uses the ``gmi_engine`` next to it.
"""
import sys
from pathlib import Path

_EXT_LIBS = Path(__file__).resolve().parent / "ext_libs"
if _EXT_LIBS.is_dir() and str(_EXT_LIBS) not in sys.path:
    sys.path.insert(0, str(_EXT_LIBS))


def classFactory(iface):
    """Create the plugin; imports stay lazy so QGIS starts fast."""
    from gmi_qgis_plugin.plugin_main import GmiPlugin

    return GmiPlugin(iface)
