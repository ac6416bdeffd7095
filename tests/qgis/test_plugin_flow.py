"""The geologist's path through the plugin on the synthetic demo, in real QGIS (offscreen):
load granules -> footprints -> ingest -> tile grid and picking -> run locally -> styled layers
in a group per run -> jobs list and STAC provenance; and the same run on MaxCompute (a loopback
MaxCompute that checks request signatures) with the AccessKey kept in the QGIS auth database,
checking that the secret never reaches QgsSettings, the message log or the message bar."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from odps_fake import FAKE_ACCESS_ID, FAKE_SECRET, FakeMaxCompute, host_numpy_archive, isolated_udtf_executor
from plugin_support import LogCapture, auth_config, layer_by_name, wait_until
from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsGeometry,
    QgsLayerTreeGroup,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsRuleBasedRenderer,
    QgsSettings,
    QgsVectorLayer,
)

import gmi_qgis_plugin
from gmi_engine.backends.local import LocalStore
from gmi_engine.grid import DEFAULT_GRID, TileIndex
from gmi_engine.synth.demo import ingest_demo_set, write_demo_set
from gmi_qgis_plugin.gui.maptool_tiles import TOGGLE
from gmi_qgis_plugin.toolbelt.jobs import FINISHED
from gmi_qgis_plugin.toolbelt.layers import grid_extent, tiles_in_extent
from gmi_qgis_plugin.toolbelt.preferences import SETTINGS_GROUP, PlgOptionsManager

CHINO = TileIndex(260, 526)
NORTH = TileIndex(260, 525)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The small two-granule Chino demo set (~10 s)."""
    return write_demo_set(tmp_path_factory.mktemp("demo") / "data", small=True)


@pytest.fixture(scope="module")
def ingested(demo, tmp_path_factory):
    """A workspace with the demo ingested by the engine (6S results are cached by then)."""
    workspace = tmp_path_factory.mktemp("ingested") / "workspace"
    ingest_demo_set(demo, workspace)
    return workspace


@pytest.fixture
def plugin(qgis_iface, qgis_new_project, tmp_path):
    settings = QgsSettings()
    settings.remove(SETTINGS_GROUP)
    PlgOptionsManager.set_value_from_key("workspace", str(tmp_path / "workspace"))
    PlgOptionsManager.set_value_from_key("workers", 2)  # 6S processes of the ingest (runs use 1)
    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    b = DEFAULT_GRID.bounds(CHINO)
    canvas.setExtent(QgsRectangle(b.xmin - 40000, b.ymin - 30000, b.xmax + 40000, b.ymax + 50000))
    instance = gmi_qgis_plugin.classFactory(qgis_iface)
    instance.initGui()
    yield instance
    instance.unload()
    settings.remove(SETTINGS_GROUP)


def _group(name_start: str) -> QgsLayerTreeGroup:
    groups = [g for g in QgsProject.instance().layerTreeRoot().children()
              if isinstance(g, QgsLayerTreeGroup) and g.name().startswith(name_start)]
    assert len(groups) == 1, [g.name() for g in QgsProject.instance().layerTreeRoot().children()]
    return groups[0]


def _run(plugin, method, tiles, indices=None):
    plugin.state.set_selected_tiles(tiles)
    dialog = plugin.open_run()
    dialog.set_method(method)
    dialog.set_backend("local")
    dialog.spn_workers.setValue(1)
    if indices is not None:
        dialog.set_indices(indices)
    job = dialog.run()
    assert job is not None, dialog.message_bar.items()
    wait_until(lambda: job.done, 180, "the {} job".format(method))
    assert job.status == FINISHED, (job.status, job.error)
    assert dialog.progress.value() == 100
    return job


def test_load_tiles_run_and_results(plugin, demo, tmp_path):
    project = QgsProject.instance()
    workspace = str(tmp_path / "workspace")

    # -- Load ASTER granules: metadata table, footprints, ingest -------------------------------
    load = plugin.open_load()
    load.add_paths([str(demo.root / "aster")])
    wait_until(lambda: load.scan_task is None, 60, "the granule scan")
    assert load.table.rowCount() == 2
    first = [load.table.item(0, c).text() for c in range(load.table.columnCount())]
    assert first[6] == "AST_L1T_00309062006180242_20150516014601_17781"
    assert first[0] == "2006-09-06 18:02" and first[1] == "usable" and first[2] == "2"
    assert first[3] == "59.4" and first[4] == "NOR 1–9"
    assert first[5] == "VNIR 1 2 3N · SWIR 4–9 · TIR 10–14"
    assert load.table.item(1, 4).text() == "HGH 1–2 · NOR 3N–9"
    assert Path(load.wdg_ancillary.filePath()) == demo.root  # guessed from the granule folder
    assert load.lbl_ancillary.text() == "Found: 2 MCD19A2 · 1 MOD09A1 · 2 GDEM"
    footprints = layer_by_name("GMI granule footprints")
    assert footprints.crs().authid() == "EPSG:3857" and footprints.featureCount() == 2
    assert isinstance(footprints.renderer(), QgsCategorizedSymbolRenderer)
    assert {c.value() for c in footprints.renderer().categories()} == {"usable", "post-2008", "absent"}
    assert {f["swir"] for f in footprints.getFeatures()} == {"usable"}

    load.wdg_workspace.setFilePath(workspace)
    task = load.ingest()
    assert task is not None
    wait_until(lambda: load.ingest_task is None, 120, "the ingest")
    assert load.progress.value() == 100, load.lbl_status.text()
    with LocalStore(workspace, create=False) as store:
        assert store.tiles() == [NORTH, CHINO] and len(store.granules()) == 2

    # -- Tiles: grid over the canvas, granule counts, picking ------------------------------------
    tiles = plugin.open_tiles()
    grid = layer_by_name("GMI tile grid")
    assert grid.crs().authid() == "EPSG:3857"
    assert isinstance(grid.renderer(), QgsRuleBasedRenderer)
    drawn = {TileIndex(f["ix"], f["iy"]): f for f in grid.getFeatures()}
    canvas = plugin.iface.mapCanvas()
    in_view = tiles_in_extent(grid_extent(canvas.extent(), canvas.mapSettings().destinationCrs()))
    assert set(drawn) == set(in_view) and len(drawn) == tiles.refresh_grid()
    assert CHINO in drawn and NORTH in drawn
    assert drawn[CHINO]["granules"] == 2 and drawn[CHINO]["key"] == DEFAULT_GRID.key(CHINO)
    b = DEFAULT_GRID.bounds(CHINO)
    assert drawn[CHINO].geometry().boundingBox() == QgsRectangle(b.xmin, b.ymin, b.xmax, b.ymax)

    assert tiles.select_by_footprints() == [NORTH, CHINO]
    assert tiles.table.rowCount() == 2
    assert tiles.table.item(1, 0).text() == "res-30_tilesize-1024_x-260_y-526"
    assert tiles.table.item(1, 3).text() == "2"
    selected_in_layer = {TileIndex(f["ix"], f["iy"]) for f in grid.getFeatures() if f["selected"] == 1}
    assert selected_in_layer == {NORTH, CHINO}

    centre = QgsPointXY(*DEFAULT_GRID.bounds(NORTH).centre)
    assert tiles.map_tool.pick_point(centre) == [NORTH]  # toggles NORTH off
    assert plugin.state.selected_tiles == [CHINO]
    box = DEFAULT_GRID.bounds(CHINO)
    tiles.map_tool.pick_rect(QgsRectangle(box.xmin + 10, box.ymin - 100, box.xmin + 20000, box.ymin + 100))
    assert plugin.state.selected_tiles == [CHINO, TileIndex(260, 527)]
    tiles.apply_pick([TileIndex(260, 527)], TOGGLE)

    polygons = QgsVectorLayer("Polygon?crs=EPSG:4326", "area of interest", "memory")
    feature = QgsFeature()
    feature.setGeometry(QgsGeometry.fromWkt("POLYGON((-108.10 32.78, -108.05 32.78, -108.05 32.82, "
                                            "-108.10 32.82, -108.10 32.78))"))
    polygons.dataProvider().addFeatures([feature])
    project.addMapLayer(polygons)
    tiles.cmb_layer.setLayer(polygons)
    assert tiles.select_by_layer() == [CHINO]
    assert plugin.state.selected_tiles == [CHINO]

    # -- Run (local) on the picked tile, results in a group per run -----------------------------
    job = _run(plugin, "mineral_indices", [CHINO], ["ferric_iron", "ndvi"])
    assert job.outcome.computed == 1 and job.outcome.tiles == [DEFAULT_GRID.key(CHINO)]
    group = _group("GMI #1 Mineral indices · 1 tile")
    assert job.group_name == group.name()
    assert [g.name() for g in group.children()] == ["Iron", "Water and vegetation"]
    layers = [node.layer() for node in group.findLayers()]
    assert [layer.name() for layer in layers] == ["Ferric iron (Fe3+)", "NDVI (normalised difference vegetation index)"]
    for layer in layers:
        assert isinstance(layer, QgsRasterLayer) and layer.isValid()
        assert layer.crs().authid() == "EPSG:3857"
        assert layer.bandCount() == 1
        assert layer.renderer().type() == "singlebandpseudocolor"
        assert layer.source().endswith(".vrt")
        assert Path(layer.source()).with_suffix(".qml").is_file()
        extent = layer.extent()
        assert abs(extent.xMinimum() - b.xmin) < 1e-6 and abs(extent.yMaximum() - b.ymax) < 1e-6
    assert [node.isVisible() for node in group.findLayers()] == [True, False]

    # -- Reflectance: RGB presets as multiband layers --------------------------------------------
    job2 = _run(plugin, "color_balancing", [CHINO])
    group2 = _group("GMI #2 Colour-balanced mosaic · 1 tile")
    layers2 = {node.layer().name(): node.layer() for node in group2.findLayers()}
    rgb = layers2["ASTER 3-2-1 false colour (B3N, B2, B1)"]
    assert rgb.bandCount() == 3 and rgb.renderer().type() == "multibandcolor"
    assert rgb.crs().authid() == "EPSG:3857"
    assert layers2["ASTER 4-6-8 SWIR false colour (B4, B6, B8)"].renderer().type() == "multibandcolor"
    assert layers2["B1 reflectance"].renderer().type() == "singlebandgray"
    assert [g.name() for g in group2.children() if isinstance(g, QgsLayerTreeGroup)] == ["Bands", "Provenance"]
    assert Path(job2.outcome.export_dir).parent == Path(workspace) / "export"

    # -- Jobs: both runs listed; provenance viewer shows the STAC item ---------------------------
    jobs = plugin.open_jobs()
    assert jobs.table.rowCount() == 2
    assert [jobs.table.item(r, 4).text() for r in range(2)] == ["finished", "finished"]
    jobs.select_job(job.job_id)
    assert jobs.selected_job() is job and jobs.btn_stac.isEnabled()
    viewer = jobs.show_provenance(job)
    assert viewer.cmb_file.count() == 1
    assert viewer.document["type"] == "Feature" and "properties" in viewer.document
    top_keys = {viewer.tree.topLevelItem(i).text(0) for i in range(viewer.tree.topLevelItemCount())}
    assert {"type", "properties", "assets", "geometry"} <= top_keys
    viewer.close()
    before = len(project.mapLayers())
    jobs.load_results(job)  # loading again adds a second group
    assert len(project.mapLayers()) == before + 2


def test_run_refuses_an_empty_workspace(plugin):
    dialog = plugin.open_run()
    assert dialog.run() is None
    assert plugin.state.jobs.jobs == {}
    assert dialog.message_bar.items(), "the refusal is shown in the dialog's message bar"


def _workspace_copy(ingested, tmp_path) -> Path:
    """A copy of the ingested workspace that a test may change."""
    workspace = tmp_path / "workspace"
    shutil.copytree(str(ingested), str(workspace))
    return workspace


def _run_dialog(plugin, workspace, method: str, backend: str):
    """The Run dialog on ``workspace`` with ``method`` and ``backend`` chosen."""
    dialog = plugin.open_run()
    dialog.wdg_workspace.setFilePath(str(workspace))
    dialog.set_method(method)
    dialog.set_backend(backend)
    return dialog


def _auth_config(access_id: str, secret: str) -> str:
    """A Basic auth config holding a MaxCompute AccessKey."""
    return auth_config("Basic", "MaxCompute test account", username=access_id, password=secret)


def _deploy(fake, tmp_path) -> None:
    """`gmi odps deploy`, done once per project; numpy is an archive resource already there (this
    machine's numpy zipped, so that the isolated UDTF imports it from the deployed archive)."""
    from gmi_engine.backends import odps as ob

    fake.resources["gmi_numpy_host.zip"] = {"type": "archive", "comment": "test",
                                            "content": host_numpy_archive(tmp_path).read_bytes()}
    admin = ob.OdpsBackend(ob.OdpsConfig(project=fake.project, endpoint=fake.endpoint,
                                         access_id=FAKE_ACCESS_ID, secret=FAKE_SECRET))
    admin.deploy(ob.deploy_plan(numpy_resource="gmi_numpy_host.zip"))


def test_run_on_maxcompute_with_the_secret_in_the_auth_database(plugin, ingested, tmp_path, monkeypatch,
                                                                 qgis_iface):
    from gmi_engine.backends import odps as ob
    from gmi_qgis_plugin.toolbelt import odps_bridge
    from gmi_qgis_plugin.toolbelt.credentials import read_odps_credentials

    monkeypatch.setattr(odps_bridge, "POLL_SECONDS", 0.1)
    workspace = _workspace_copy(ingested, tmp_path)
    auth_id = _auth_config(FAKE_ACCESS_ID, FAKE_SECRET)
    credentials = read_odps_credentials(auth_id)
    assert credentials.secret == FAKE_SECRET and FAKE_SECRET not in repr(credentials) + str(credentials)

    with FakeMaxCompute() as fake:
        fake.executor = isolated_udtf_executor(tmp_path / "exec")
        fake.job_seconds = 0.3
        _deploy(fake, tmp_path)

        plugin.state.set_selected_tiles([CHINO])
        dialog = _run_dialog(plugin, workspace, "mineral_indices", "odps")
        dialog.set_indices(["ferric_iron"])
        assert dialog.txt_project.isVisibleTo(dialog) and not dialog.spn_workers.isVisibleTo(dialog)
        assert dialog.btn_run.isEnabled()
        dialog.txt_project.setText(fake.project)
        dialog.txt_endpoint.setText(fake.endpoint)
        dialog.wdg_auth.setConfigId(auth_id)
        qgis_iface.messageBar().clear_messages()
        with LogCapture() as log:
            job = dialog.run()
            assert job is not None
            wait_until(lambda: job.done, 180, "the MaxCompute job")
        assert job.status == FINISHED, job.error
        assert fake.calls("PUT", via="tunnel"), "source rows were uploaded through the tunnel"
        sql = [i.sql for i in fake.instances.values() if "INSERT OVERWRITE" in i.sql]
        assert len(sql) == 1 and "tile_x = 260 AND tile_y = 526" in sql[0]

    # The workspace state is the command line's: `gmi odps status --workspace` finds this run.
    state = ob.load_state(workspace)
    assert state["runs"][state["last_run"]]["downloaded"] and state["batch"] == "workspace"
    assert FAKE_SECRET not in (workspace / ob.STATE_FILE).read_text(encoding="utf-8")
    # Logview link in the dialog and the job; results loaded like a local run's.
    assert job.logview.startswith("http") and dialog.lbl_logview.isVisible()
    assert job.logview in dialog.lbl_logview.text()
    group = _group("GMI #1 Mineral indices · 1 tile")
    layer = group.findLayers()[0].layer()
    assert layer.name() == "Ferric iron (Fe3+)" and layer.crs().authid() == "EPSG:3857"
    assert layer.renderer().type() == "singlebandpseudocolor"

    # Settings keep the auth-config id, never the secret.
    stored = PlgOptionsManager.get_plg_settings()
    assert stored.odps_auth_id == auth_id and stored.default_backend == "odps"
    settings = QgsSettings()
    for key in settings.allKeys():
        assert FAKE_SECRET not in str(settings.value(key)), key
    settings.sync()
    assert FAKE_SECRET not in Path(settings.fileName()).read_text(encoding="utf-8", errors="replace")
    # Nor the log (every tag), the message bar, or the job record.
    assert log.texts(), "the run logged messages"
    assert FAKE_SECRET not in log.all_text
    bar = qgis_iface.messageBar()
    pushed = [m for level in bar.messages for m in bar.get_messages(level)]
    assert any("finished" in m for m in pushed) and not any(FAKE_SECRET in m for m in pushed)
    assert FAKE_SECRET not in repr(job) + job.message + job.error


def test_maxcompute_failure_is_reported_without_the_secret(plugin, ingested, tmp_path, monkeypatch, qgis_iface):
    from gmi_qgis_plugin.toolbelt import odps_bridge

    monkeypatch.setattr(odps_bridge, "POLL_SECONDS", 0.1)
    auth_id = _auth_config(FAKE_ACCESS_ID, "wrong-" + FAKE_SECRET)
    with FakeMaxCompute() as fake:
        dialog = plugin.open_run()
        dialog.wdg_workspace.setFilePath(str(ingested))
        dialog.set_backend("odps")
        dialog.txt_project.setText(fake.project)
        dialog.txt_endpoint.setText(fake.endpoint)
        dialog.wdg_auth.setConfigId(auth_id)
        with LogCapture() as log:
            job = dialog.run()
            wait_until(lambda: job.done, 60, "the failing MaxCompute job")
    assert job.status == "failed" and job.error
    assert "wrong-" + FAKE_SECRET not in log.all_text + job.error
    assert any(job.error[:40] in m for m in log.texts())
    assert not dialog.btn_cancel.isEnabled() and dialog.btn_run.isEnabled()


def test_run_dialog_dask_backend_runs_on_a_local_cluster(plugin, ingested, tmp_path):
    workspace = _workspace_copy(ingested, tmp_path)
    dialog = _run_dialog(plugin, workspace, "mosaic", "dask")
    assert dialog.txt_scheduler.isVisibleTo(dialog) and dialog.spn_workers.isVisibleTo(dialog)
    assert not dialog.txt_project.isVisibleTo(dialog)
    dialog.spn_workers.setValue(2)
    job = dialog.run()
    assert job is not None, dialog.message_bar.items()
    assert (job.spec.backend, job.spec.dask_scheduler, job.spec.workers) == ("dask", "", 2)
    wait_until(lambda: job.done, 180, "the dask job")
    assert job.status == FINISHED, (job.status, job.error)
    with LocalStore(workspace, create=False) as store:
        tiles = store.tiles()
        assert store.result_tiles("mosaic") == tiles
    assert job.outcome.computed == len(tiles) and job.outcome.vrts
    jobs = plugin.open_jobs()
    assert jobs.table.item(0, 2).text() == "Dask"


def test_cancelled_job_is_reported_and_adds_no_layers(plugin, ingested, tmp_path):
    dialog = _run_dialog(plugin, _workspace_copy(ingested, tmp_path), "mosaic", "local")
    before = len(QgsProject.instance().mapLayers())
    job = dialog.run()
    assert dialog.btn_cancel.isEnabled() and not dialog.btn_run.isEnabled()
    dialog.btn_cancel.click()
    wait_until(lambda: job.done, 120, "the cancelled job")
    assert job.status == "cancelled" and job.outcome is None
    assert len(QgsProject.instance().mapLayers()) == before
    assert dialog.btn_run.isEnabled() and not dialog.btn_cancel.isEnabled()
    jobs = plugin.open_jobs()
    assert jobs.table.item(0, 4).text() == "cancelled" and not jobs.btn_load.isEnabled()


def test_smoke_check_and_a_failed_tile_through_processing(plugin, ingested, tmp_path, monkeypatch):
    import processing
    from plugin_support import RecordingFeedback

    from gmi_engine.kernel import records
    from gmi_qgis_plugin.toolbelt import odps_bridge

    monkeypatch.setattr(odps_bridge, "POLL_SECONDS", 0.1)
    workspace = _workspace_copy(ingested, tmp_path)
    with LocalStore(workspace, create=False) as store:
        tiles = sorted(store.tiles(), key=lambda t: (t.ix, t.iy))
    assert len(tiles) >= 2
    auth_id = _auth_config(FAKE_ACCESS_ID, FAKE_SECRET)
    with FakeMaxCompute() as fake:
        run_udtf = isolated_udtf_executor(tmp_path / "exec")
        fake.job_seconds = 0.1
        _deploy(fake, tmp_path)
        connection = {"ODPS_PROJECT": fake.project, "ODPS_ENDPOINT": fake.endpoint, "ODPS_AUTH": auth_id}
        fake.executor = run_udtf
        feedback = RecordingFeedback()
        result = processing.run("gmi:odps_smoke_check", dict(connection, WORKSPACE=str(workspace)),
                                feedback=feedback)
        assert result["OK"] == 1 and "outputs identical to the local kernel" in result["SUMMARY"]
        assert result["LOGVIEW"].startswith("http") and not fake.tables["gmi_source"].partitions

        def with_a_bad_row(fake, inst, func):  # one uploaded row of the last tile is damaged
            table = fake.tables["gmi_source"]
            names = [n for n, _, _ in table.columns]
            for row in next(iter(table.partitions.values())):
                if (row[names.index("tile_x")], row[names.index("tile_y")]) == (tiles[-1].ix, tiles[-1].iy):
                    row[names.index("b01")] = b"not a GMI blob"
            return run_udtf(fake, inst, func)

        fake.executor = with_a_bad_row
        feedback = RecordingFeedback()
        result = processing.run("gmi:run_method", dict(connection, WORKSPACE=str(workspace), METHOD="mosaic",
                                                        BACKEND="odps"), feedback=feedback)
    assert result["COMPUTED"] == len(tiles) - 1
    warning = next(w for w in feedback.warnings if "failed on MaxCompute" in w)
    assert "1 tile(s) failed" in warning and "tile {},{} (mosaic): BlobError".format(tiles[-1].ix, tiles[-1].iy) \
        in warning
    with LocalStore(workspace, create=False) as store:
        assert {(r.tile_x, r.tile_y) for r in store.iter_results("mosaic")} == {(t.ix, t.iy) for t in tiles[:-1]}
        assert not any(r.output == records.ERROR_OUTPUT for r in store.iter_results())
    assert FAKE_SECRET not in " ".join(feedback.texts + feedback.warnings)
