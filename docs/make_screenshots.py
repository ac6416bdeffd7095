"""Regenerate the plugin screenshots in ``docs/screenshots/`` from the synthetic demo.

Run under a virtual X display (a private QGIS profile is used, your settings are not touched)::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshots.py

It writes the small demo set plus one post-2008 granule (to show the SWIR warning), drives the
dialogs as a user would (load, ingest, pick tiles, run mineral indices and the colour-balanced
mosaic locally), and saves one PNG per dialog and one of the map with the tile grid and a styled
index layer. Takes a few minutes (6S runs).
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
WORK = Path(tempfile.mkdtemp(prefix="gmi-screenshots-"))

if os.environ.get("DISPLAY"):
    os.environ["QT_QPA_PLATFORM"] = "xcb"
os.environ["QGIS_CUSTOM_CONFIG_PATH"] = str(WORK / "profile")
sys.path.insert(0, str(ROOT))

from qgis.core import QgsApplication, QgsCoordinateReferenceSystem, QgsProject, QgsRectangle  # noqa: E402
from qgis.PyQt.QtCore import QCoreApplication, QSize, Qt  # noqa: E402
from qgis.PyQt.QtGui import QFont  # noqa: E402
from qgis.PyQt.QtWidgets import QApplication, QMainWindow, QSplitter, QWidget  # noqa: E402

APP = QgsApplication([], True)
APP.initQgis()
QApplication.setFont(QFont("DejaVu Sans", 9))

from qgis.core import QgsLayerTreeModel  # noqa: E402
from qgis.gui import QgsLayerTreeMapCanvasBridge, QgsLayerTreeView, QgsMapCanvas  # noqa: E402

from gmi_engine.grid import DEFAULT_GRID, TileIndex  # noqa: E402
from gmi_engine.synth.aster import AsterSpec, write_aster_l1t  # noqa: E402
from gmi_engine.synth.demo import write_demo_set  # noqa: E402
from gmi_qgis_plugin.gui.dlg_jobs import DlgJobs  # noqa: E402
from gmi_qgis_plugin.gui.dlg_load_granules import DlgLoadGranules  # noqa: E402
from gmi_qgis_plugin.gui.dlg_run import DlgRun  # noqa: E402
from gmi_qgis_plugin.gui.dlg_settings import ConfigOptionsPage  # noqa: E402
from gmi_qgis_plugin.gui.dlg_tiles import DlgTiles  # noqa: E402
from gmi_qgis_plugin.toolbelt.preferences import PlgOptionsManager  # noqa: E402
from gmi_qgis_plugin.toolbelt.state import PluginState  # noqa: E402

CHINO, NORTH = TileIndex(260, 526), TileIndex(260, 525)


def wait(condition, timeout: float = 900.0) -> None:
    """Process events until ``condition()`` holds."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("screenshot script: timed out")
        QCoreApplication.processEvents()
        time.sleep(0.05)
    for _ in range(20):
        QCoreApplication.processEvents()


def shoot(widget: QWidget, name: str) -> Path:
    """Show ``widget``, let it lay out, save ``docs/screenshots/<name>.png``."""
    widget.show()
    widget.raise_()
    for _ in range(30):
        QCoreApplication.processEvents()
        time.sleep(0.01)
    path = OUT / (name + ".png")
    widget.grab().save(str(path))
    print("wrote", path.relative_to(ROOT), flush=True)
    return path


def map_window(canvas: QgsMapCanvas) -> QMainWindow:
    """A QGIS-like window: the layer tree beside the map canvas."""
    window = QMainWindow()
    window.setWindowTitle("GMI results in QGIS")
    splitter = QSplitter(Qt.Orientation.Horizontal, window)
    view = QgsLayerTreeView(splitter)
    model = QgsLayerTreeModel(QgsProject.instance().layerTreeRoot(), view)
    model.setFlag(QgsLayerTreeModel.Flag.AllowNodeChangeVisibility)
    model.setFlag(QgsLayerTreeModel.Flag.ShowLegendAsTree)
    view.setModel(model)
    canvas.setParent(splitter)
    splitter.addWidget(view)
    splitter.addWidget(canvas)
    splitter.setSizes([430, 970])
    window.setCentralWidget(splitter)
    window.resize(QSize(1400, 860))
    window.bridge = QgsLayerTreeMapCanvasBridge(QgsProject.instance().layerTreeRoot(), canvas)
    window.view = view
    return window


def main() -> None:
    """Write the README and docs screenshots of the plugin on the demo workspace."""
    OUT.mkdir(parents=True, exist_ok=True)
    print("work folder", WORK, flush=True)
    demo = write_demo_set(WORK / "data", small=True)
    write_aster_l1t(AsterSpec(-108.02, 32.70, datetime(2010, 10, 14, 17, 58, 21), side_km=6.0,
                              production=datetime(2015, 6, 2, 11, 4, 51), processing_number=51234),
                    WORK / "data" / "aster")
    workspace = WORK / "workspace"
    PlgOptionsManager.set_value_from_key("workspace", str(workspace))
    PlgOptionsManager.set_value_from_key("workers", 2)

    canvas = QgsMapCanvas()
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    canvas.setCanvasColor(Qt.GlobalColor.white)
    window = map_window(canvas)
    b = DEFAULT_GRID.bounds(CHINO)
    canvas.setExtent(QgsRectangle(b.xmin - 22000, b.ymin - 12000, b.xmax + 22000, b.ymax + 40000))
    window.show()

    state = PluginState()
    load = DlgLoadGranules(state)
    load.add_paths([str(demo.root / "aster")])
    wait(lambda: load.scan_task is None)
    load.table.clearSelection()
    shoot(load, "dlg_load_granules")
    # Ingest only the two demo granules (the post-2008 one was there to show the warning).
    load.set_granules([g for g in load.granules if g.acquired.year < 2008])
    load.ingest()
    wait(lambda: load.ingest_task is None)

    tiles = DlgTiles(state, canvas)
    canvas.setExtent(QgsRectangle(b.xmin - 22000, b.ymin - 12000, b.xmax + 22000, b.ymax + 40000))
    tiles.refresh_grid()
    tiles.select_by_footprints()
    shoot(tiles, "dlg_tiles")

    run = DlgRun(state)
    run.set_method("mineral_indices")
    run.set_indices(["ferric_iron", "ferrous_iron", "gossan", "kaolinite_index", "alunite_index", "ndvi"])
    run.spn_workers.setValue(1)
    run.set_backend("odps")
    run.txt_project.setText("gmi_geology")
    run.txt_endpoint.setText("https://service.cn-hangzhou.maxcompute.aliyun.com/api")
    shoot(run, "dlg_run_odps")
    run.set_backend("local")
    shoot(run, "dlg_run")
    job = run.run()
    wait(lambda: job.done)
    state.jobs.auto_load = True
    run.set_method("color_balancing")
    job2 = run.run()
    wait(lambda: job2.done)
    if job.status != "finished" or job2.status != "finished":
        raise SystemExit("runs failed: {} / {}".format(job.error, job2.error))

    jobs = DlgJobs(state)
    jobs.select_job(job.job_id)
    shoot(jobs, "dlg_jobs")
    viewer = jobs.show_provenance(job)
    viewer.resize(760, 640)
    item = viewer.tree.topLevelItem(0)
    for i in range(viewer.tree.topLevelItemCount()):
        node = viewer.tree.topLevelItem(i)
        if node.text(0) == "properties":
            node.setExpanded(True)
            item = node
    viewer.tree.scrollToItem(item)
    shoot(viewer, "dlg_provenance")

    page = ConfigOptionsPage()
    page.resize(720, 520)
    shoot(page, "options_page")

    # The map: the ferric-iron index of run 1 (its .qml ramp), the tile grid with the picked tile.
    root = QgsProject.instance().layerTreeRoot()
    for group in root.findGroups():
        group.setExpanded(False)
        group.setItemVisibilityChecked(group.name().startswith("GMI #1"))
    run1 = [g for g in root.findGroups() if g.name().startswith("GMI #1")][0]
    run1.setExpanded(True)
    for node in run1.findLayers():
        shown = node.layer().name().startswith("Ferric iron")
        node.setItemVisibilityChecked(shown)
        node.setExpanded(shown)
        if shown:
            node.parent().setExpanded(True)
    for layer in QgsProject.instance().mapLayersByName("GMI granule footprints"):
        root.findLayer(layer.id()).setItemVisibilityChecked(False)
        root.findLayer(layer.id()).setExpanded(False)
    state.set_selected_tiles([CHINO])
    view = QgsRectangle(b.xmin, b.ymin, b.xmax, b.ymax)
    for layer in QgsProject.instance().mapLayersByName("GMI granule footprints"):
        view.combineExtentWith(layer.extent())
    view.grow(2500)
    canvas.setExtent(view)
    tiles.refresh_grid()
    canvas.refresh()
    for _ in range(20):
        QCoreApplication.processEvents()
    for layer in QgsProject.instance().mapLayersByName("GMI tile grid"):
        node = root.findLayer(layer.id())
        node.setExpanded(True)
        window.view.expand(window.view.node2index(node))
    wait(lambda: not canvas.isDrawing(), 60)
    time.sleep(0.5)
    wait(lambda: not canvas.isDrawing(), 60)
    shoot(window, "map_tile_grid_and_index")
    print("done", flush=True)


if __name__ == "__main__":
    main()
    APP.exitQgis()
