"""The *Search ASTER* dialog with results, for docs/acquire.md (CMR replayed from tests/data/cmr).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_search_screenshot.py

earthaccess runs for real against the recorded UMM-G replies of the tests (``responses``), so the
table shows what a search over Cuprite returns from those replies; two granules are ticked.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots" / "dlg_search.png"
if os.environ.get("DISPLAY"):
    os.environ["QT_QPA_PLATFORM"] = "xcb"
os.environ["QGIS_CUSTOM_CONFIG_PATH"] = tempfile.mkdtemp(prefix="gmi-search-shot-")
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "unit")]

from qgis.core import QgsApplication  # noqa: E402
from qgis.PyQt.QtCore import QCoreApplication, QDate  # noqa: E402
from qgis.PyQt.QtGui import QFont  # noqa: E402
from qgis.PyQt.QtWidgets import QApplication  # noqa: E402

APP = QgsApplication([], True)
APP.initQgis()
QApplication.setFont(QFont("DejaVu Sans", 9))

import responses  # noqa: E402
from cmr_replay import CmrReplay  # noqa: E402
from qgis.core import QgsRectangle  # noqa: E402
from qgis.gui import QgsMapCanvas  # noqa: E402

from gmi_qgis_plugin.gui.dlg_search import AOI_DRAWN, DlgSearch  # noqa: E402
from gmi_qgis_plugin.toolbelt.state import PluginState  # noqa: E402


def main() -> None:
    """Search the replay over Cuprite 2000–2010, tick two granules, save the dialog."""
    canvas = QgsMapCanvas()
    dialog = DlgSearch(PluginState(), canvas)
    dialog.set_drawn_extent(QgsRectangle(-117.6, 37.0, -116.5, 38.0))
    dialog.cbo_aoi.setCurrentIndex(dialog.cbo_aoi.findData(AOI_DRAWN))
    dialog.date_start.setDate(QDate(2000, 1, 1))
    dialog.date_end.setDate(QDate(2010, 12, 31))
    dialog.chk_day.setChecked(False)
    dialog.wdg_folder.setFilePath("/data/cuprite")
    dialog.wdg_workspace.setFilePath("/data/ws")
    with responses.RequestsMock() as mock:
        CmrReplay(mock)
        records = dialog.search()
    dialog.set_ticked([r.granule_id for r in records[:2]])
    dialog.show()
    for _ in range(40):
        QCoreApplication.processEvents()
        time.sleep(0.01)
    dialog.grab().save(str(OUT))
    print("wrote", OUT.relative_to(ROOT), len(records), "granules")


if __name__ == "__main__":
    main()
