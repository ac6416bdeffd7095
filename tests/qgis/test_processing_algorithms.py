"""Every ``gmi`` algorithm, the composite and the shipped model, run through ``processing.run``.

On the small synthetic demo (two overlapping pre-2008 granules over the Chino mine, with their
MCD19A2, MOD09A1 and GDEM files; written once for this module), in pytest-qgis (offscreen,
QGIS 3.22): a batch ingest of two granules, tiles, 6S parameters, runs, export with layers to
load, a custom formula, the granules -> indices chain and the .model3, and cancellation.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from plugin_support import RecordingFeedback
from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)

from gmi_engine.backends.local import LocalStore
from gmi_engine.grid import DEFAULT_GRID, TileIndex
from gmi_engine.indices import compile_formula, default_library
from gmi_engine.kernel.bands import BAND_COLUMNS
from gmi_engine.synth.demo import write_demo_set

TILE = TileIndex(260, 526)
KEY = DEFAULT_GRID.key(TILE)
FOOTPRINT_TILES = [TileIndex(260, 525), TileIndex(260, 526)]
"""Both demo granules touch these two tiles; the tests ingest only TILE (half the 6S runs)."""
SOME_INDICES = ["ferric_iron", "kaolinite_index", "ndvi"]


def new_context() -> QgsProcessingContext:
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return context


def run(alg_id: str, params: dict, context: QgsProcessingContext = None, feedback=None) -> dict:
    import processing

    return processing.run("gmi:" + alg_id, params, context=context or new_context(),
                          feedback=feedback or QgsProcessingFeedback())


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return write_demo_set(tmp_path_factory.mktemp("demo"), small=True)


def ancillaries(demo) -> dict:
    return {"MCD19A2": [str(p) for p in demo.mcd19a2], "GDEM": [str(p) for p in demo.gdem],
            "MOD09A1": [str(p) for p in demo.mod09a1]}


@pytest.fixture(scope="module")
def batch(provider, demo, tmp_path_factory):
    """The batch a user would set up: one ingest row per granule, into one workspace (tile TILE only)."""
    workspace = tmp_path_factory.mktemp("ws")
    results = []
    for granule in demo.granules:
        feedback = RecordingFeedback()
        result = run("ingest_granules", dict(ancillaries(demo), GRANULES=[str(granule)], WORKSPACE=str(workspace),
                                             TILES="260,526"), feedback=feedback)
        results.append((result, feedback))
    return workspace, results


def test_batch_ingest_of_two_granules(batch, demo):
    workspace, results = batch
    for (result, feedback), granule in zip(results, demo.granules):
        assert result == {"WORKSPACE": str(workspace), "ROWS": 1, "GRANULE_COUNT": 1, "TILES_TOUCHED": KEY,
                          "TILE_COUNT": 1}
        assert feedback.progress[-1] == 100.0 and feedback.progress == sorted(feedback.progress)
        assert any(granule.name in line for line in feedback.infos)
    with LocalStore(workspace, create=False) as store:
        assert len(store.granules()) == 2 and store.tiles() == [TILE]
        rows = store.tile_rows(TILE)
        assert len(rows) == 2 and all(r.modis and len(r.ac["bands"]) == 9 for r in rows)
        assert all("MCD19A2" in r.ac["inputs"]["aod550"]["source"] for r in rows), rows[0].ac["inputs"]


def test_ingest_without_ancillaries_warns_that_the_tile_ran_on_defaults(provider, demo, tmp_path):
    """No MCD19A2 / GDEM: the run summary says which 6S inputs were defaults (issue 14 item 6)."""
    feedback = RecordingFeedback()
    run("ingest_granules", {"GRANULES": [str(demo.granules[0])], "WORKSPACE": str(tmp_path / "ws"),
                            "TILES": "260,526"}, feedback=feedback)
    warned = [w for w in feedback.warnings if "ran on defaults" in w]
    assert len(warned) == 1 and demo.granules[0].name in warned[0], feedback.warnings
    assert "aod550" in warned[0] and "water_vapour" in warned[0] and "altitude_km" in warned[0]
    assert "ozone" in warned[0]  # OZONE left empty: the climatology, a default, not a user's value


def test_list_tiles_of_granules_with_workspace_counts(batch, demo):
    workspace, _ = batch
    result = run("list_tiles", {"GRANULES": [str(g) for g in demo.granules], "WORKSPACE": str(workspace),
                                "OUTPUT": "memory:"})
    layer = result["OUTPUT"]
    assert isinstance(layer, QgsVectorLayer) and layer.crs().authid() == "EPSG:3857"
    assert [f.name() for f in layer.fields()] == ["key", "ix", "iy", "granules", "stored", "results"]
    rows = sorted((f["key"], f["granules"], f["stored"]) for f in layer.getFeatures())
    assert rows == [(DEFAULT_GRID.key(FOOTPRINT_TILES[0]), 2, 0), (KEY, 2, 2)]
    assert result["TILES"] == ";".join(DEFAULT_GRID.key(t) for t in FOOTPRINT_TILES) and result["TILE_COUNT"] == 2


def test_atmospheric_parameters_match_what_ingest_stored(batch, demo, tmp_path):
    workspace, _ = batch
    granule = demo.granules[1]
    record = tmp_path / "sixs.json"
    result = run("atmospheric_parameters", {"GRANULE": str(granule), "TILES": "260,526",
                                            "MCD19A2": [str(p) for p in demo.mcd19a2],
                                            "GDEM": [str(p) for p in demo.gdem], "OUTPUT": "memory:",
                                            "JSON": str(record)})
    with LocalStore(workspace, create=False) as store:
        stored = [r for r in store.tile_rows(TILE) if r.meta["file"] == granule.name][0].ac
    table = result["OUTPUT"]
    features = list(table.getFeatures())
    assert [f["band"] for f in features] == list(BAND_COLUMNS)
    for feature in features:
        expected = stored["bands"][feature["band"]]
        assert (feature["xa"], feature["xb"], feature["xc"]) == (expected["xa"], expected["xb"], expected["xc"])
        assert feature["aot550"] == stored["state"]["aot550"] and feature["tile"] == DEFAULT_GRID.key(TILE)
        assert feature["aot550_source"] == stored["inputs"]["aod550"]["source"]
        assert feature["ac_source"] == stored["source"] == "6s-direct"
    assert result["AOT550"] == stored["state"]["aot550"] == pytest.approx(0.20, abs=0.05)  # granule B's haze
    assert result["WATER_VAPOUR"] == stored["state"]["water_vapour"]
    assert result["ALTITUDE_KM"] == stored["state"]["altitude_km"] and result["TILE_COUNT"] == 1
    saved = json.loads(record.read_text())
    ac = saved["tiles"][0]["ac"]
    stored_6s_inputs = {k: v for k, v in stored["inputs"].items() if k != "modis_ref"}  # balancing, not 6S
    assert ac["bands"] == stored["bands"] and ac["inputs"] == stored_6s_inputs


def test_run_method_computes_then_skips_up_to_date_tiles(batch):
    workspace, _ = batch
    params = {"WORKSPACE": str(workspace), "METHOD": "mineral_indices", "INDICES": SOME_INDICES, "WORKERS": 1}
    feedback = RecordingFeedback()
    first = run("run_method", params, feedback=feedback)
    assert first == {"WORKSPACE": str(workspace), "METHOD": "mineral_indices", "COMPUTED": 1, "SKIPPED": 0,
                     "TILES_DONE": KEY, "LOGVIEW": ""}
    assert feedback.progress[-1] == 100.0
    again = run("run_method", params)
    assert (again["COMPUTED"], again["SKIPPED"]) == (0, 1)
    with LocalStore(workspace, create=False) as store:
        assert set(store.results(TILE, "mineral_indices")) == set(SOME_INDICES) | {"valid_mask"}


def test_run_method_on_a_dask_local_cluster_matches_the_local_backend(batch, tmp_path):
    import shutil

    workspace, _ = batch
    stored = {}
    for backend in ("local", "dask"):
        copy = tmp_path / backend
        shutil.copytree(workspace, copy)
        feedback = RecordingFeedback()
        result = run("run_method", {"WORKSPACE": str(copy), "METHOD": "mineral_indices", "INDICES": SOME_INDICES,
                                    "BACKEND": backend, "WORKERS": 2, "FORCE": True}, feedback=feedback)
        assert (result["COMPUTED"], result["SKIPPED"], result["TILES_DONE"]) == (1, 0, KEY)
        assert feedback.progress[-1] == 100.0
        with LocalStore(copy, create=False) as store:
            stored[backend] = {r.key: (r.to_dict()["data"], r.to_dict()["meta"])
                               for r in store.iter_results("mineral_indices")}
    assert len(stored["dask"]) == len(SOME_INDICES) + 1
    assert stored["dask"] == stored["local"]


def test_export_results_queues_styled_vrt_layers(batch):
    workspace, _ = batch
    out = Path(str(workspace) + "-export")
    context = new_context()
    run("run_method", {"WORKSPACE": str(workspace), "METHOD": "mineral_indices", "INDICES": SOME_INDICES})
    result = run("export_results", {"WORKSPACE": str(workspace), "METHOD": "mineral_indices", "OUTPUT": str(out),
                                    "COMPRESSION": "deflate"}, context)
    vrts = [str(out / "mineral_indices" / (i + ".vrt")) for i in SOME_INDICES]
    assert sorted(result["LAYERS"]) == sorted(vrts)
    assert (result["OUTPUT"], result["TILE_COUNT"], result["GEOTIFF_COUNT"]) == (str(out), 1, 3)
    queued = context.layersToLoadOnCompletion()
    assert sorted(queued) == sorted(vrts)
    library = default_library()
    for path, details in queued.items():
        index_id = Path(path).stem
        assert details.name == "{} (mineral_indices)".format(library[index_id].name)
        layer = QgsRasterLayer(path, details.name, "gdal")
        assert layer.isValid() and layer.crs().authid() == "EPSG:3857" and layer.bandCount() == 1
        assert layer.renderer().type() == "singlebandpseudocolor"  # the .qml beside the VRT
        tile = gdal.Open(str(next((out / "mineral_indices" / index_id).glob("*.tif"))))
        assert tile.GetMetadata("IMAGE_STRUCTURE")["COMPRESSION"] == "DEFLATE"
    with pytest.raises(QgsProcessingException, match="no result rows of method 'mosaic'"):
        run("export_results", {"WORKSPACE": str(workspace), "METHOD": "mosaic", "OUTPUT": str(out)})


def test_custom_index_on_the_workspace_reflectance(batch, tmp_path):
    workspace, _ = batch
    with pytest.raises(QgsProcessingException, match="no reflectance results"):
        run("custom_index", {"FORMULA": "b4/b6", "INDEX_ID": "x", "WORKSPACE": str(workspace),
                             "OUTPUT": str(tmp_path / "x")})
    mosaic = run("run_method", {"WORKSPACE": str(workspace), "METHOD": "mosaic"})
    assert mosaic["COMPUTED"] == 1
    context = new_context()
    result = run("custom_index", {"FORMULA": "(b5*b7)/b6**2", "INDEX_ID": "clay_ratio", "WORKSPACE": str(workspace),
                                  "OUTPUT": str(tmp_path / "out")}, context)
    assert result["TILE_COUNT"] == 1 and result["EXPRESSION"] == compile_formula("(b5*b7)/b6**2").expression
    vrt = Path(result["INDEX_LAYER"])
    assert vrt == tmp_path / "out" / "custom_index" / "clay_ratio.vrt"
    assert list(context.layersToLoadOnCompletion()) == [str(vrt)]
    with LocalStore(workspace, create=False) as store:
        bands = store.results(TILE, "mosaic")
    expected = compile_formula("(b5*b7)/b6**2").evaluate({"b{}".format(i + 1): bands[c].data
                                                          for i, c in enumerate(BAND_COLUMNS)})
    tif = tmp_path / "out" / "custom_index" / "clay_ratio" / (KEY + ".tif")
    dataset = gdal.Open(str(tif))
    got = dataset.GetRasterBand(1).ReadAsArray()
    np.testing.assert_allclose(got, expected, rtol=1e-6, equal_nan=True)
    assert np.isfinite(got).sum() > 100000 and np.isnan(got).any()  # 12 km scenes on a 30 km tile
    layer = QgsRasterLayer(str(vrt), "clay", "gdal")
    assert layer.isValid() and layer.crs().authid() == "EPSG:3857"
    assert layer.renderer().type() == "singlebandpseudocolor"


def test_granules_to_indices_runs_the_chain_with_one_progress(provider, demo, tmp_path):
    feedback = RecordingFeedback()
    context = new_context()
    result = run("granules_to_indices", dict(ancillaries(demo), GRANULES=[str(g) for g in demo.granules],
                                             WORKSPACE=str(tmp_path / "ws"), TILES="260,526",
                                             INDICES=["ferric_iron"], OUTPUT=str(tmp_path / "out")),
                 context, feedback)
    vrt = str(tmp_path / "out" / "mineral_indices" / "ferric_iron.vrt")
    assert result == {"WORKSPACE": str(tmp_path / "ws"), "ROWS": 2, "COMPUTED": 1, "SKIPPED": 0,
                      "OUTPUT": str(tmp_path / "out"), "LAYERS": [vrt]}
    assert list(context.layersToLoadOnCompletion()) == [vrt]
    # one 0..100 progress over the three steps: ingest ends at 33 %, run at 67 %
    assert feedback.progress == sorted(feedback.progress) and feedback.progress[-1] == pytest.approx(100.0)
    assert any(32 < p < 34 for p in feedback.progress) and any(66 < p < 67 for p in feedback.progress)


def test_the_shipped_model_runs(provider, demo, tmp_path):
    context = new_context()
    result = run("granules_to_indices_model", {
        "granules": [str(g) for g in demo.granules], "mcd19a2": [str(p) for p in demo.mcd19a2],
        "gdem": [str(p) for p in demo.gdem], "mod09a1": [str(p) for p in demo.mod09a1], "tiles": "260,526",
        "indices": ["ferric_iron", "ndvi"], "workers": 1,
        "ingest:workspace": str(tmp_path / "ws"), "export:indices": str(tmp_path / "out")}, context)
    assert result["ingest:workspace"] == str(tmp_path / "ws")
    assert result["export:indices"] == str(tmp_path / "out")
    vrts = sorted((tmp_path / "out" / "mineral_indices").glob("*.vrt"))
    assert [p.stem for p in vrts] == ["ferric_iron", "ndvi"]
    assert sorted(context.layersToLoadOnCompletion()) == [str(p) for p in vrts]
    with LocalStore(tmp_path / "ws", create=False) as store:
        assert store.result_tiles("mineral_indices") == [TILE] and len(store.granules()) == 2


def test_cancel_stops_ingest_between_tiles_and_run_before_a_tile(batch, demo, tmp_path):
    workspace, _ = batch
    # cancelled while the second granule is being cut: it is not written (all or nothing), the first is
    feedback = RecordingFeedback(cancel_on="Granule 2 of 2")
    result = run("ingest_granules", dict(ancillaries(demo), GRANULES=[str(g) for g in demo.granules],
                                         WORKSPACE=str(tmp_path / "ws"), TILES="260,526"), feedback=feedback)
    assert (result["GRANULE_COUNT"], result["ROWS"], result["TILES_TOUCHED"]) == (1, 1, KEY)
    cancelled = [w for w in feedback.warnings if "ran on defaults" not in w]  # ozone: the climatology
    assert cancelled == ["Cancelled: {} was not ingested".format(demo.granules[1].name)]
    with LocalStore(tmp_path / "ws", create=False) as store:
        assert [r.meta["file"] for r in store.tile_rows(TILE)] == [demo.granules[0].name]
    # a run cancelled before its first tile computes nothing and says so
    feedback = RecordingFeedback()
    feedback.cancel()
    result = run("run_method", {"WORKSPACE": str(workspace), "METHOD": "mosaic", "FORCE": True}, feedback=feedback)
    assert (result["COMPUTED"], result["SKIPPED"]) == (0, 0)
    assert any("Cancelled" in w for w in feedback.warnings)
