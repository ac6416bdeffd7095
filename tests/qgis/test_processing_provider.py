"""The ``gmi`` Processing provider without the demo data: registration, conventions, help, quick runs.

Runs in pytest-qgis (offscreen, QGIS 3.22). Checks that every algorithm follows the provider's
conventions (ids, UPPER_CASE parameters, help from resources/help, flags), that the fast
algorithms give the grid's answers, that engine errors surface as QgsProcessingException with the
engine's text (a MaxCompute secret never does), and that ``qgis_process`` (Debian's ``qgis``
package) loads the GMI plugin, lists the provider and runs an algorithm.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from plugin_support import RecordingFeedback, auth_config
from qgis.core import (
    QgsApplication,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterDefinition,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)

from gmi_engine.grid import DEFAULT_GRID, TileIndex
from gmi_engine.indices import compile_formula
from gmi_engine.synth.reflectance_raster import write_reflectance_geotiff
from gmi_qgis_plugin.processing.base import help_path, markdown_to_html, parse_tiles
from gmi_qgis_plugin.processing.provider import ALGORITHMS, PROVIDER_ID, model_files

REPO = Path(__file__).resolve().parents[2]
ALGORITHM_IDS = {"ingest_granules", "list_tiles", "atmospheric_parameters", "run_method", "export_results",
                 "custom_index", "granules_to_indices", "odps_smoke_check", "search_download"}
MODEL_ID = "granules_to_indices_model"


def run(alg_id: str, params: dict, context: QgsProcessingContext = None, feedback=None) -> dict:
    """``processing.run`` with a fresh context bound to the current project."""
    import processing

    if context is None:
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
    return processing.run("gmi:" + alg_id, params, context=context, feedback=feedback or QgsProcessingFeedback())


def test_provider_lists_every_algorithm_and_the_model(provider):
    registry = QgsApplication.processingRegistry()
    assert registry.providerById(PROVIDER_ID).longName().startswith("GMI - Global Mineral Indices")
    ids = {a.name() for a in registry.providerById(PROVIDER_ID).algorithms()}
    assert ids == ALGORITHM_IDS | {MODEL_ID}
    assert {cls.NAME for cls in ALGORITHMS} == ALGORITHM_IDS
    assert [p.name for p in model_files()] == ["gmi_granules_to_indices.model3"]
    model = registry.algorithmById("gmi:" + MODEL_ID)
    assert sorted(model.childAlgorithms()) == ["export", "ingest", "run"]
    assert {model.childAlgorithm(c).algorithmId() for c in model.childAlgorithms()} == {
        "gmi:ingest_granules", "gmi:run_method", "gmi:export_results"}


@pytest.mark.parametrize("alg_id", sorted(ALGORITHM_IDS))
def test_algorithm_conventions(provider, alg_id):
    alg = QgsApplication.processingRegistry().createAlgorithmById("gmi:" + alg_id)
    assert alg is not None and alg.id() == "gmi:" + alg_id
    assert re.fullmatch(r"[a-z][a-z0-9_]*", alg.name())
    assert alg.displayName() and alg.displayName() != alg.name()
    assert alg.groupId() in ("pipeline", "analysis") and alg.group() in ("Pipeline", "Analysis")
    flags = alg.flags()
    assert flags & QgsProcessingAlgorithm.FlagSupportsBatch and flags & QgsProcessingAlgorithm.FlagCanCancel
    assert not flags & (QgsProcessingAlgorithm.FlagHideFromModeler | QgsProcessingAlgorithm.FlagHideFromToolbox)
    for definition in alg.parameterDefinitions():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", definition.name()), definition.name()
        assert definition.description(), definition.name()
        if definition.flags() & QgsProcessingParameterDefinition.FlagAdvanced:
            assert definition.help(), "advanced parameter {} has no help".format(definition.name())
    for output in alg.outputDefinitions():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", output.name()), output.name()
    # help is data: resources/help/<id>.md rendered to HTML, naming every output a model can chain
    source = help_path(alg_id).read_text(encoding="utf-8")
    html = alg.shortHelpString()
    assert html == markdown_to_html(source) and html.startswith("<p>")
    assert "**" not in re.sub(r"<code>.*?</code>", "", html)
    assert alg.helpUrl().endswith("resources/help/{}.md".format(alg_id))
    outputs = [o.name() for o in alg.outputDefinitions() if o.name() not in ("OUTPUT", "JSON")]
    for name in outputs:
        assert "`{}`".format(name) in source, "help of {} does not mention output {}".format(alg_id, name)


def test_enum_parameters_use_stable_strings(provider):
    alg = QgsApplication.processingRegistry().createAlgorithmById("gmi:run_method")
    method = alg.parameterDefinition("METHOD")
    assert method.usesStaticStrings() and method.options() == ["mosaic", "color_balancing", "mineral_indices"]
    assert method.defaultValue() == "mineral_indices"
    assert alg.parameterDefinition("INDICES").allowMultiple()
    assert alg.parameterDefinition("WORKERS").defaultValue() == 1
    ingest = QgsApplication.processingRegistry().createAlgorithmById("gmi:ingest_granules")
    ozone = ingest.parameterDefinition("OZONE")  # empty: the engine's ozone climatology
    assert ozone.defaultValue() is None and ozone.flags() & QgsProcessingParameterDefinition.FlagOptional
    export = QgsApplication.processingRegistry().createAlgorithmById("gmi:export_results")
    from gmi_engine.export import REFLECTANCE_DTYPES
    from gmi_engine.export.geotiff import COMPRESSIONS

    assert export.parameterDefinition("COMPRESSION").options() == list(COMPRESSIONS)
    assert export.parameterDefinition("COMPRESSION").defaultValue() == "zstd"
    assert export.parameterDefinition("REFLECTANCE_DTYPE").options() == list(REFLECTANCE_DTYPES)


def test_markdown_subset():
    html = markdown_to_html("Intro **bold** and `b1/b2` <x> `a**2`\nnext line\n\n"
                            "## Inputs\n- one\n  cont\n- *two*\n\nEnd")
    assert html == ("<p>Intro <b>bold</b> and <code>b1/b2</code> &lt;x&gt; <code>a**2</code> next line</p>\n"
                    "<h3>Inputs</h3>\n<ul>\n<li>one cont</li>\n<li><i>two</i></li>\n</ul>\n<p>End</p>")


def test_parse_tiles_accepts_pairs_and_keys_and_names_the_bad_item():
    assert parse_tiles("") is None
    assert parse_tiles("260,526; res-30_tilesize-1024_x-261_y-526\n260,526") == [
        TileIndex(260, 526), TileIndex(261, 526)]
    with pytest.raises(QgsProcessingException, match=r"TILES: '260-526' is not IX,IY"):
        parse_tiles("260,526 260-526")
    with pytest.raises(QgsProcessingException, match=r"out of range"):
        parse_tiles("5000,1")


def test_list_tiles_for_an_extent_matches_the_grid(provider):
    result = run("list_tiles", {"EXTENT": "-108.40,-107.90,32.60,32.95 [EPSG:4326]", "OUTPUT": "memory:"})
    layer = result["OUTPUT"]
    assert isinstance(layer, QgsVectorLayer) and layer.crs().authid() == "EPSG:3857"
    assert [f.name() for f in layer.fields()] == ["key", "ix", "iy"]
    first = DEFAULT_GRID.tile_of_lonlat(-108.40, 32.95)
    last = DEFAULT_GRID.tile_of_lonlat(-107.90, 32.60)
    expected = {(ix, iy) for ix in range(first.ix, last.ix + 1) for iy in range(first.iy, last.iy + 1)}
    features = list(layer.getFeatures())
    assert {(f["ix"], f["iy"]) for f in features} == expected and len(expected) >= 4
    assert result["TILE_COUNT"] == len(expected)
    for feature in features:
        tile = TileIndex(feature["ix"], feature["iy"])
        assert feature["key"] == DEFAULT_GRID.key(tile)
        b = DEFAULT_GRID.bounds(tile)
        box = feature.geometry().boundingBox()
        assert (box.xMinimum(), box.yMinimum(), box.xMaximum(), box.yMaximum()) == pytest.approx(
            (b.xmin, b.ymin, b.xmax, b.ymax), abs=1e-6)
    assert result["TILES"].split(";") == [DEFAULT_GRID.key(TileIndex(*t)) for t in sorted(expected)]


def test_list_tiles_leaves_out_tiles_that_only_touch_the_extent(provider):
    b = DEFAULT_GRID.bounds(TileIndex(260, 526))
    extent = "{},{},{},{} [EPSG:3857]".format(b.xmin, b.xmax, b.ymin, b.ymax)
    result = run("list_tiles", {"EXTENT": extent, "OUTPUT": "memory:"})
    assert result["TILES"] == "res-30_tilesize-1024_x-260_y-526"
    with pytest.raises(QgsProcessingException, match="MAX_TILES"):
        run("list_tiles", {"EXTENT": "-120,-100,30,40 [EPSG:4326]", "MAX_TILES": 100, "OUTPUT": "memory:"})
    with pytest.raises(QgsProcessingException, match="granules, an extent or a workspace"):
        run("list_tiles", {"OUTPUT": "memory:"})


def test_custom_index_reports_the_formula_error(provider, tmp_path):
    with pytest.raises(QgsProcessingException) as info:
        run("custom_index", {"FORMULA": "b1 + __import__('os')", "INDEX_ID": "bad",
                             "WORKSPACE": str(tmp_path), "OUTPUT": str(tmp_path / "out")})
    message = str(info.value)
    assert message.startswith("FORMULA: ") and "__import__" in message
    with pytest.raises(QgsProcessingException, match="snake_case"):
        run("custom_index", {"FORMULA": "b1/b2", "INDEX_ID": "Bad Id", "WORKSPACE": str(tmp_path),
                             "OUTPUT": str(tmp_path / "out")})


def _nine_band_raster(path: Path) -> np.ndarray:
    """A 9-band uint16 reflectance raster (scale 1e-4, nodata 65535) in UTM; returns the float truth."""
    rng = np.random.default_rng(11)
    truth = rng.uniform(0.02, 0.5, (9, 300, 70)).astype(np.float32)
    truth[:, :5, :] = np.nan
    truth[5, 100:110, 10:20] = 0.0  # b6 = 0: division gives NaN
    return write_reflectance_geotiff(path, truth)


def test_custom_index_on_a_nine_band_raster(provider, tmp_path):
    source = tmp_path / "refl.tif"
    bands = _nine_band_raster(source)
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    result = run("custom_index", {"FORMULA": "(b5*b7)/b6**2", "INDEX_ID": "clay_ratio", "INDEX_NAME": "Clay ratio",
                                  "INPUT": str(source), "OUTPUT": str(tmp_path / "out")}, context)
    path = Path(result["INDEX_LAYER"])
    assert path == tmp_path / "out" / "custom_index" / "clay_ratio.tif"
    assert result["EXPRESSION"] == compile_formula("(b5*b7)/b6**2").expression
    ds = gdal.Open(str(path))
    got = ds.GetRasterBand(1).ReadAsArray()
    assert ds.GetGeoTransform() == (600000.0, 30.0, 0.0, 3640000.0, 0.0, -30.0)
    assert np.isnan(ds.GetRasterBand(1).GetNoDataValue())
    expected = compile_formula("(b5*b7)/b6**2").evaluate({"b{}".format(i + 1): bands[i] for i in range(9)})
    np.testing.assert_allclose(got, expected, rtol=1e-6, equal_nan=True)
    assert np.isnan(got[:5]).all() and np.isnan(got[100:110, 10:20]).all() and np.isfinite(got[5:100]).all()
    queued = context.layersToLoadOnCompletion()
    assert list(queued) == [str(path)] and queued[str(path)].name == "Clay ratio"
    assert queued[str(path)].outputName == "INDEX_LAYER"
    layer = QgsRasterLayer(str(path), "clay", "gdal")
    assert layer.isValid() and layer.renderer().type() == "singlebandpseudocolor"
    assert layer.crs().authid() == "EPSG:32612"


def test_custom_index_refuses_a_raster_without_nine_bands(provider, tmp_path):
    path = tmp_path / "rgb.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 8, 8, 3, gdal.GDT_Float32)
    ds.SetGeoTransform((0.0, 30.0, 0.0, 0.0, 0.0, -30.0))
    ds = None
    with pytest.raises(QgsProcessingException, match="has 3 band"):
        run("custom_index", {"FORMULA": "b1/b2", "INDEX_ID": "x", "INPUT": str(path), "OUTPUT": str(tmp_path / "o")})
    with pytest.raises(QgsProcessingException, match="exactly one"):
        run("custom_index", {"FORMULA": "b1/b2", "INDEX_ID": "x", "OUTPUT": str(tmp_path / "o")})


def test_engine_errors_surface_with_the_engine_text(provider, tmp_path):
    with pytest.raises(QgsProcessingException, match=r"no GMI store here"):
        run("run_method", {"WORKSPACE": str(tmp_path), "METHOD": "mosaic"})
    with pytest.raises(QgsProcessingException, match=r"ODPS_AUTH: no MaxCompute authentication configured"):
        run("run_method", {"WORKSPACE": str(tmp_path), "METHOD": "mosaic", "BACKEND": "odps", "ODPS_AUTH": ""})
    bogus = tmp_path / "AST_L1T_bogus.hdf"
    bogus.write_bytes(b"not an HDF file")
    with pytest.raises(QgsProcessingException, match=re.escape(str(bogus))):
        run("ingest_granules", {"GRANULES": [str(bogus)], "WORKSPACE": str(tmp_path / "ws")})


def _fake_auth_config(access_id: str, secret: str) -> str:
    """A Basic auth config holding a MaxCompute AccessKey."""
    return auth_config("Basic", "MaxCompute processing test", username=access_id, password=secret)


def test_run_on_odps_takes_the_secret_from_the_auth_database_and_never_shows_it(provider, tmp_path):
    from odps import options

    from gmi_engine.backends.local import LocalStore

    secret = "pRoCeSsInG-sEcReT-1234567890"
    auth_id = _fake_auth_config("LTAI5tProcessingTestId", secret)
    LocalStore(tmp_path / "ws").close()
    feedback = RecordingFeedback()
    retries = options.retry_times
    options.retry_times = 0  # the endpoint below refuses at once; no need to retry
    try:
        with pytest.raises(QgsProcessingException) as info:
            run("run_method", {"WORKSPACE": str(tmp_path / "ws"), "METHOD": "mosaic", "BACKEND": "odps",
                               "ODPS_PROJECT": "gmi_test", "ODPS_ENDPOINT": "http://127.0.0.1:9/api",
                               "ODPS_AUTH": auth_id}, feedback=feedback)
    finally:
        options.retry_times = retries
        QgsApplication.authManager().removeAuthenticationConfig(auth_id)
    message = str(info.value)
    assert message.startswith("BACKEND odps: ") and "cannot reach MaxCompute" in message and "127.0.0.1" in message
    assert secret not in message and all(secret not in text for text in feedback.texts)
    assert "LTAI5tProcessingTestId" not in message  # the access id is shortened when described
    assert feedback.texts and "connecting to MaxCompute project gmi_test" in feedback.texts


# ------------------------------------------------------------------------------------ qgis_process


def _qgis_process() -> list:
    """The qgis_process command. Debian 12's /usr/bin/qgis_process wrapper passes
    ``--noversioncheck`` (from /etc/default/qgis), which QGIS 3.22's qgis_process rejects, so the
    binary it wraps is called directly."""
    for name in ("qgis_process.bin", "qgis_process"):
        found = shutil.which(name)
        if found:
            return [found]
    return []


@pytest.fixture(scope="module")
def qgis_process_env(tmp_path_factory):
    """A private QGIS profile where the GMI plugin is installed (as symlinks) and enabled.

    The plugin folder is what ``make package`` ships minus the bundled engine: the package's
    entries plus ``metadata.txt``; the engine comes from the source tree on PYTHONPATH.
    """
    root = tmp_path_factory.mktemp("qgis_process")
    plugin = root / "plugins" / "gmi_qgis_plugin"
    plugin.mkdir(parents=True)
    for entry in (REPO / "gmi_qgis_plugin").iterdir():
        if entry.name != "__pycache__":
            (plugin / entry.name).symlink_to(entry)
    shutil.copy(str(REPO / "metadata.txt"), str(plugin / "metadata.txt"))
    # a private settings folder, never the one pytest-qgis gives this session (QGIS_CUSTOM_CONFIG_PATH)
    env = dict(os.environ, HOME=str(root / "home"), QGIS_PLUGINPATH=str(root / "plugins"),
               QGIS_CUSTOM_CONFIG_PATH=str(root / "config"), QGIS_OPTIONS_PATH=str(root / "config"),
               QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(root),
               PYTHONPATH=os.pathsep.join([str(REPO)] + [p for p in sys.path if p.endswith("site-packages")]))
    (root / "home").mkdir()
    root.chmod(0o700)
    # what `qgis_process plugins enable gmi_qgis_plugin` writes (saves one 6 s QGIS start)
    ini = root / "config" / "profiles" / "default" / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True)
    ini.write_text("[PythonPlugins]\ngmi_qgis_plugin=true\n", encoding="utf-8")
    return _qgis_process(), env, root


def test_qgis_process_lists_and_runs_the_provider(provider, qgis_process_env):
    command, env, root = qgis_process_env
    if not command:  # without Debian's `qgis` package: the registry is what qgis_process would list
        assert {a.id() for a in QgsApplication.processingRegistry().providerById("gmi").algorithms()} >= {
            "gmi:" + a for a in ALGORITHM_IDS}
        return
    listing = subprocess.run(command + ["list"], env=env, capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert "error starting plugin" not in listing.stderr + listing.stdout, listing.stderr
    block = listing.stdout.split("GMI - Global Mineral Indices", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"^\s+gmi:(\w+)", block, flags=re.M))
    assert listed == ALGORITHM_IDS | {MODEL_ID}, listing.stdout[-2000:]

    out = root / "tiles.gpkg"
    ran = subprocess.run(command + ["--json", "run", "gmi:list_tiles", "--",
                                    "EXTENT=-108.2,-108.0,32.7,32.9 [EPSG:4326]", "OUTPUT={}".format(out)],
                         env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr + ran.stdout
    answer = json.loads(ran.stdout[ran.stdout.index("{"):])
    assert answer["results"]["TILES"] == "res-30_tilesize-1024_x-260_y-525;res-30_tilesize-1024_x-260_y-526"
    layer = QgsVectorLayer(str(out), "tiles", "ogr")
    assert layer.isValid() and layer.featureCount() == 2 and layer.crs().authid() == "EPSG:3857"


def test_the_plugin_errors_share_one_root_and_the_natural_builtins():
    from gmi_qgis_plugin.errors import GmiPluginError
    from gmi_qgis_plugin.processing.base import Cancelled
    from gmi_qgis_plugin.toolbelt.credentials import CredentialsError
    from gmi_qgis_plugin.toolbelt.layers import TooManyTiles
    from gmi_qgis_plugin.toolbelt.odps_bridge import OdpsUnavailable
    from gmi_qgis_plugin.toolbelt.tasks import TaskCancelled

    for error in (Cancelled, CredentialsError, TooManyTiles, OdpsUnavailable, TaskCancelled):
        assert issubclass(error, GmiPluginError)
    assert issubclass(TooManyTiles, ValueError)
    assert issubclass(CredentialsError, RuntimeError) and issubclass(OdpsUnavailable, RuntimeError)
