"""The *Search ASTER* dialog offscreen: search, footprint layer, ticks, one download+ingest task over loopback.

The searches (the dialog's and the task's ancillary searches) go through the real
earthaccess/python-cmr/requests stack to a ``responses`` replay of CMR whose items (UMM-G, as in
tests/data/cmr) describe synthetic files: the two demo AST_L1T granules, their MCD19A2, a
MOD09A1 composite and GDEM tiles. Their URLs point at a loopback HTTP server (loopback_http.py,
the same as the unit download tests') that serves those files' bytes and checks the bearer token
of the QGIS auth config; requests to it pass through ``responses`` to the real socket.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

import pytest
import responses
from cmr_replay import CmrReplay, umm_item
from loopback_http import closed_port_url, loopback_server
from plugin_support import auth_config, wait_until
from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsExpressionContextUtils,
    QgsProject,
    QgsRectangle,
    QgsRenderContext,
    QgsRuleBasedRenderer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QDate, Qt

from gmi_engine.acquire.errors import DownloadError
from gmi_engine.acquire.search import search_aster
from gmi_engine.aster.reader import open_granule
from gmi_engine.backends.local import LocalStore
from gmi_engine.synth.aster import write_aster_l1t
from gmi_engine.synth.demo import GDEM_TILES, MODIS_TILE, demo_specs
from gmi_engine.synth.gdem import write_gdem
from gmi_engine.synth.modis import write_mcd19a2, write_mod09a1
from gmi_qgis_plugin.gui.dlg_search import FILL_ALPHA, STYLE_RULES, DlgSearch, footprint_layer
from gmi_qgis_plugin.toolbelt.state import PluginState
from gmi_qgis_plugin.toolbelt.tasks import TaskCancelled

TOKEN = "edl-token-dialog-loopback-3c1d"
AOI = (-108.3, 32.7, -107.9, 33.0)
H08V05 = (-130.5407, 30.0, -103.9134, 40.0)
LATER = "AST_L1T_03101152009181502_20240305101010_33333"
"""A v3.1 granule after the SWIR failure, cloudier: listed and styled, never ticked nor served."""
Locate = Callable[[str, bytes], str]


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Dict[str, List[Path]]:
    """The demo granules (small) and ancillaries at reduced MODIS sizes, by product folder name."""
    root = tmp_path_factory.mktemp("archive")
    specs = demo_specs(small=True)
    out: Dict[str, List[Path]] = {"aster": [], "mcd19a2": [], "mod09a1": [], "gdem": []}
    for spec in specs:
        out["aster"].append(write_aster_l1t(spec, root / "aster"))
        out["mcd19a2"].append(write_mcd19a2(root / "mcd19a2", *MODIS_TILE, spec.acquired_utc.date(), size=60,
                                            aod550=spec.aod550, water_vapour=spec.water_vapour,
                                            seed=spec.processing_number))
    out["mod09a1"].append(write_mod09a1(root / "mod09a1", *MODIS_TILE, specs[0].acquired_utc.date(),
                                        specs[0].scene, size=120))
    for lat0, lon0 in GDEM_TILES:
        out["gdem"].append(write_gdem(root / "gdem", lat0, lon0, elevation_m=specs[0].altitude_km * 1000.0,
                                      size=361))
    return out


def _day(when: datetime) -> Tuple[datetime, datetime]:
    start = datetime(when.year, when.month, when.day)
    return start, start + timedelta(hours=23, minutes=59, seconds=59)


def _catalogue(archive: Dict[str, List[Path]], locate: Locate) -> Dict[tuple, list]:
    """CMR items for every archive file (and the later v3.1 granule), URLs from ``locate(name, body)``."""
    def entry(path: Path) -> Tuple[str, str, bytes]:
        body = path.read_bytes()
        return path.name, locate(path.name, body), body

    aster = []
    for path in archive["aster"]:
        g = open_granule(path)
        aster.append(umm_item(g.granule_id, "AST_L1T", "003", g.acquired, g.acquired + timedelta(seconds=9),
                              [entry(path)], ring=tuple(reversed(g.footprint_lonlat)), cloud=g.cloud_cover))
    first = aster[0]["umm"]["SpatialExtent"]["HorizontalSpatialDomain"]["Geometry"]["GPolygons"][0]
    ring = [(p["Longitude"] + 0.02, p["Latitude"]) for p in first["Boundary"]["Points"][:-1]]
    body = b"never fetched"
    later = umm_item(LATER, "AST_L1T", "031", datetime(2009, 1, 15, 18, 15, 2), datetime(2009, 1, 15, 18, 15, 11),
                     [(LATER + ".hdf", locate(LATER + ".hdf", body), body)], ring=ring, cloud=15.0)
    mcd = [umm_item(p.stem, "MCD19A2", "061", *_day(open_granule(a).acquired), [entry(p)], box=H08V05,
                    day_night="Both") for p, a in zip(archive["mcd19a2"], archive["aster"])]
    composite = _day(open_granule(archive["aster"][0]).acquired)[0]
    mod = [umm_item(p.stem, "MOD09A1", "061", composite, composite + timedelta(days=7, hours=23, minutes=59),
                    [entry(p)], box=H08V05, day_night="Both") for p in archive["mod09a1"]]
    gdem = []
    for path, (lat0, lon0) in zip(archive["gdem"], GDEM_TILES):
        num = path.with_name(path.name.replace("_dem", "_num"))
        tile = path.name.replace("_dem.tif", "")
        gdem.append(umm_item(tile, "ASTGTM", "003", datetime(2000, 3, 1), datetime(2013, 11, 30, 23, 59, 59),
                             [entry(path), (num.name, locate(num.name, b"num"), b"num")],
                             box=(lon0, lat0, lon0 + 1, lat0 + 1), day_night="Unspecified"))
    return {("AST_L1T", "003"): aster, ("AST_L1T", "031"): [later], ("MCD19A2", "061"): mcd,
            ("MOD09A1", "061"): mod, ("ASTGTM", "003"): gdem}


@contextmanager
def _dialog(qgis_iface, tmp_path: Path, archive, locate: Locate) -> Iterator[Tuple[DlgSearch, CmrReplay]]:
    """The dialog set up over AOI (drawn, EPSG:4326 canvas) with CMR replayed; cleans up after."""
    auth_id = auth_config("EsriToken", "Earthdata token (dialog test)", token=TOKEN)
    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
    dialog = DlgSearch(PluginState(), canvas)
    try:
        dialog.set_drawn_extent(QgsRectangle(*AOI))
        dialog.date_end.setDate(QDate(2009, 12, 31))
        dialog.wdg_folder.setFilePath(str(tmp_path / "fetch"))
        dialog.wdg_workspace.setFilePath(str(tmp_path / "ws"))
        dialog.auth_select.setConfigId(auth_id)
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            mock.add_passthru("http://127.0.0.1")
            yield dialog, CmrReplay(mock, items=_catalogue(archive, locate))
    finally:
        QgsApplication.authManager().removeAuthenticationConfig(auth_id)
        if dialog.layer is not None:
            QgsProject.instance().removeMapLayer(dialog.layer.id())
        dialog.deleteLater()


def _tick(dialog: DlgSearch, granule_ids) -> None:
    """Tick the table rows of ``granule_ids`` the way a click does (the check state of column 0)."""
    for row in range(dialog.table.rowCount()):
        if dialog.table.item(row, 0).text() in granule_ids:
            dialog.table.item(row, 0).setCheckState(Qt.Checked)


def _run(dialog: DlgSearch):
    task = dialog.download_and_ingest()
    assert task is not None, dialog.lbl_status.text()
    wait_until(lambda: dialog.btn_go.isEnabled(), 300, "download+ingest task")
    return task


def _style_classes(layer) -> Dict[str, List[Tuple[str, str, int]]]:
    """Granule -> (label, fill colour, fill alpha) of every renderer rule that draws it."""
    renderer = layer.renderer()
    context = QgsRenderContext()
    context.expressionContext().appendScopes(QgsExpressionContextUtils.globalProjectLayerScopes(layer))
    rules = {rule.ruleKey(): rule for rule in renderer.rootRule().children()}
    renderer.startRender(context, layer.fields())
    try:
        out = {}
        for f in layer.getFeatures():
            drawn = [rules[k] for k in renderer.legendKeysForFeature(f, context) if k in rules]
            out[f["granule"]] = sorted((r.label(), r.symbol().color().name(), r.symbol().color().alpha())
                                       for r in drawn)
        return out
    finally:
        renderer.stopRender(context)


def _workspace_rows(path: Path) -> list:
    if not path.is_dir():
        return []
    with LocalStore(path, create=False) as store:
        return [r for t in store.tiles() for r in store.tile_rows(t)]


def test_search_footprints_ticks_and_download_ingest_over_loopback_fill_the_workspace(qgis_iface, archive, tmp_path):
    demo = [p.stem for p in archive["aster"]]
    with loopback_server(TOKEN) as server, _dialog(qgis_iface, tmp_path, archive, server.serve) as (dialog, replay):
        records = dialog.search()
        assert [r.granule_id for r in records] == demo + [LATER]
        sent = replay.of("AST_L1T")
        assert sorted(q["version"][0] for q in sent) == ["003", "031"]
        assert {(q["bounding_box"][0], q["cloud_cover"][0], q["day_night_flag"][0], q["temporal[]"][0])
                for q in sent} == {("-108.3,32.7,-107.9,33.0", "0,20.0", "day",
                                    "2000-03-01T00:00:00Z,2009-12-31T23:59:59Z")}
        layer = dialog.layer
        assert layer.crs().authid() == "EPSG:4326" and layer.wkbType() == QgsWkbTypes.MultiPolygon
        assert layer.featureCount() == 3 and all(f.geometry().isGeosValid() for f in layer.getFeatures())
        assert isinstance(layer.renderer(), QgsRuleBasedRenderer)
        usable, cloudy_no_swir = [(STYLE_RULES[i][0], STYLE_RULES[i][2], FILL_ALPHA) for i in (0, 3)]
        assert _style_classes(layer) == {demo[0]: [usable], demo[1]: [usable], LATER: [cloudy_no_swir]}
        _tick(dialog, demo)
        assert sorted(f["granule"] for f in layer.selectedFeatures()) == sorted(demo)
        assert [r.granule_id for r in dialog.ticked()] == demo
        task = _run(dialog)
    assert task.error is None, task.traceback_text
    fetch = tmp_path / "fetch"
    assert sorted(p.relative_to(fetch).as_posix() for p in fetch.rglob("*") if p.is_file()) == sorted(
        ["aster/" + p.name for p in archive["aster"]] + ["mcd19a2/" + p.name for p in archive["mcd19a2"]]
        + ["mod09a1/" + archive["mod09a1"][0].name, "gdem/ASTGTMV003_N32W109_dem.tif"])
    for product, paths in archive.items():
        for path in paths:
            if (fetch / product / path.name).exists():
                assert (fetch / product / path.name).read_bytes() == path.read_bytes()
    assert "/" + LATER + ".hdf" not in server.served and not any("_num" in p for p in server.served)
    rows = _workspace_rows(tmp_path / "ws")
    assert sorted({r.granule_id for r in rows}) == sorted(demo)
    assert sorted({r.meta["file"] for r in rows}) == sorted(p.name for p in archive["aster"])
    assert {r.meta["version"] for r in rows} == {"003"}
    for row in rows:  # the downloaded MCD19A2, GDEM and MOD09A1 were used, not the defaults
        assert not {"aod550", "water_vapour", "altitude_km"} & set(row.ac["inputs"]["defaults"]), row.ac["inputs"]
        assert row.ac["inputs"]["modis_ref"]
    assert "2 granule(s) ingested" in dialog.lbl_status.text()


def test_download_to_a_closed_port_fails_and_ingests_nothing(qgis_iface, archive, tmp_path):
    demo = [p.stem for p in archive["aster"]]
    with _dialog(qgis_iface, tmp_path, archive, lambda name, body: closed_port_url(name)) as (dialog, _):
        dialog.search()
        _tick(dialog, demo)
        task = _run(dialog)
    assert isinstance(task.error, DownloadError) and "127.0.0.1" in str(task.error)
    assert dialog.lbl_status.text().startswith("Failed:")
    assert not [p for p in (tmp_path / "fetch").rglob("*") if p.is_file() and not p.name.endswith(".part")]
    assert _workspace_rows(tmp_path / "ws") == []


def test_cancel_leaves_a_part_file_and_an_empty_workspace(qgis_iface, archive, tmp_path):
    demo = [p.stem for p in archive["aster"]]
    held = archive["aster"][1]
    part = tmp_path / "fetch" / "aster" / (held.name + ".part")
    with loopback_server(TOKEN) as server, _dialog(qgis_iface, tmp_path, archive, server.serve) as (dialog, _):
        server.hold["/" + held.name] = gate = threading.Event()
        dialog.search()
        _tick(dialog, demo)
        task = dialog.download_and_ingest()
        wait_until(lambda: part.exists() and part.stat().st_size > 0, 120, "the held granule's first chunk")
        dialog.cancel()
        gate.set()
        wait_until(lambda: dialog.btn_go.isEnabled(), 120, "the cancelled task")
    assert isinstance(task.error, TaskCancelled)
    assert dialog.lbl_status.text().startswith("Cancelled")
    assert 0 < part.stat().st_size < held.stat().st_size and not (part.parent / held.name).exists()
    assert _workspace_rows(tmp_path / "ws") == []


def test_footprints_across_the_antimeridian_are_valid_multipolygons():
    """Both CMR forms (a polygon jumping from +179 to -179 and two GPolygons meeting at ±180)."""
    with responses.RequestsMock() as mock:
        CmrReplay(mock)
        records = search_aster((179.0, -18.0, 180.0, -16.0), date(2005, 1, 1), date(2007, 12, 31))
    layer = footprint_layer(records)
    assert layer.crs().authid() == "EPSG:4326" and layer.featureCount() == 2
    for feature in layer.getFeatures():
        parts = feature.geometry().asMultiPolygon()
        assert len(parts) == 2 and feature.geometry().isGeosValid(), feature["granule"]
        box = feature.geometry().boundingBox()
        assert (box.xMinimum(), box.xMaximum()) == (-180.0, 180.0)


def test_area_of_interest_from_the_canvas_a_drawn_rectangle_and_a_polygon_layer(qgis_iface):
    """Each AOI kind in degrees, projected with pyproj (not QGIS) for the expectation."""
    from pyproj import Transformer
    from qgis.core import QgsFeature, QgsGeometry, QgsVectorLayer

    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    canvas.setExtent(QgsRectangle(*to_merc.transform_bounds(*AOI)))
    dialog = DlgSearch(PluginState(), canvas)
    layer = QgsVectorLayer("Polygon?crs=EPSG:32613", "aoi polygons", "memory")
    try:
        shown = canvas.extent()
        west, south = to_merc.transform(shown.xMinimum(), shown.yMinimum(), direction="INVERSE")
        east, north = to_merc.transform(shown.xMaximum(), shown.yMaximum(), direction="INVERSE")
        assert dialog.aoi_bbox() == pytest.approx((west, south, east, north), abs=1e-6)
        dialog.start_drawing()
        assert canvas.mapTool() is dialog._tool
        dialog._tool.extentChanged.emit(QgsRectangle(*to_merc.transform_bounds(-108.2, 32.8, -108.0, 32.9)))
        assert dialog.cbo_aoi.currentData() == "drawn"
        assert dialog.aoi_bbox() == pytest.approx((-108.2, 32.8, -108.0, 32.9), abs=1e-6)
        to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32613", always_xy=True)
        boxes = [to_utm.transform_bounds(*box) for box in ((-108.3, 32.7, -108.1, 32.8), (-107.6, 33.1, -107.5, 33.2))]
        features = []
        for box in boxes:
            feature = QgsFeature()
            feature.setGeometry(QgsGeometry.fromRect(QgsRectangle(*box)))
            features.append(feature)
        assert layer.dataProvider().addFeatures(features)[0]
        QgsProject.instance().addMapLayer(layer)
        dialog.cbo_aoi.setCurrentIndex(dialog.cbo_aoi.findData("layer"))
        dialog.cbo_layer.setLayer(layer)
        union = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
        expected = Transformer.from_crs("EPSG:32613", "EPSG:4326", always_xy=True).transform_bounds(*union)
        got = dialog.aoi_bbox()
        assert got[0] <= -108.3 and got[2] >= -107.5 and got == pytest.approx(expected, abs=1e-3)
        dialog.chk_selected.setChecked(True)
        layer.selectByIds([next(layer.getFeatures()).id()])
        assert dialog.aoi_bbox() == pytest.approx((-108.3, 32.7, -108.1, 32.8), abs=0.01)
    finally:
        canvas.unsetMapTool(dialog._tool)
        QgsProject.instance().removeMapLayer(layer.id())
        dialog.deleteLater()
