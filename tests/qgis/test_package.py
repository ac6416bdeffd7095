"""`make package` builds a plugin zip that passes the checks plugins.qgis.org / qgis-plugin-ci apply,
and the unpacked plugin runs its bundled engine."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from configparser import ConfigParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("name", "qgisMinimumVersion", "description", "about", "version", "author", "email", "repository")


@pytest.fixture(scope="module")
def package():
    env = dict(os.environ, MAKEFLAGS="")
    out = subprocess.run(["make", "-s", "package"], cwd=str(ROOT), env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    version = re.search(r"^version=(.+)$", (ROOT / "metadata.txt").read_text(encoding="utf-8"), re.M).group(1)
    path = ROOT / "dist" / "gmi_qgis_plugin-{}.zip".format(version.strip())
    assert path.is_file(), out.stdout
    return path


def _metadata(archive: zipfile.ZipFile) -> ConfigParser:
    parser = ConfigParser(interpolation=None)
    parser.optionxform = str  # keep the camelCase keys
    parser.read_string(archive.read("gmi_qgis_plugin/metadata.txt").decode("utf-8"))
    return parser


def test_one_top_folder_with_a_valid_name(package):
    with zipfile.ZipFile(package) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"gmi_qgis_plugin"}
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", tops.pop())


def test_required_files_and_nothing_that_does_not_belong(package):
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
    for required in ("metadata.txt", "__init__.py", "LICENSE", "plugin_main.py", "__about__.py",
                     "processing/provider.py", "i18n/gmi_zh_CN.qm", "resources/icons/gmi.svg",
                     "ext_libs/gmi_engine/__init__.py", "ext_libs/gmi_engine/kernel/data/library.json",
                     "ext_libs/gmi_engine/kernel/pipeline.py",
                     "ext_libs/gmi_engine/data/gmi-6s-continental.npz"):  # the 6S LUT, a real file
        assert "gmi_qgis_plugin/" + required in names, required
    assert any(n.startswith("gmi_qgis_plugin/resources/help/") and n.endswith(".md") for n in names)
    for name in names:
        parts = name.split("/")
        assert "__pycache__" not in parts and not name.endswith((".pyc", ".pyo")), name
        assert not ({"tests", "test", ".git"} & set(parts)), name
        assert not name.endswith((".ts", ".pro", ".egg-info")), name


def test_metadata_fields(package):
    with zipfile.ZipFile(package) as archive:
        general = _metadata(archive)["general"]
        names = set(archive.namelist())
    for key in REQUIRED:
        assert general.get(key, "").strip(), key
    assert re.fullmatch(r"\d+\.\d+\.\d+", general["version"])
    assert general["hasProcessingProvider"] == "yes" and general["supportsQt6"] == "True"
    minimum = tuple(int(x) for x in general["qgisMinimumVersion"].split("."))
    maximum = tuple(int(x) for x in general["qgisMaximumVersion"].split("."))
    assert minimum == (3, 22) and minimum <= maximum
    assert "\n" not in general["description"] and "<" not in general["description"]
    assert "<" not in general["about"]
    assert "gmi_qgis_plugin/" + general["icon"] in names
    assert general["repository"].startswith("https://") and "@" in general["email"]
    assert general["category"] == "Raster"
    assert general == dict(_parse_repo_metadata())  # the zip carries the repository's metadata.txt


def _parse_repo_metadata():
    parser = ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(ROOT / "metadata.txt", encoding="utf-8")
    return parser["general"]


def test_unpacked_plugin_imports_its_bundled_engine(package, tmp_path):
    with zipfile.ZipFile(package) as archive:
        archive.extractall(tmp_path)
    code = ("import sys; sys.path.insert(0, {root!r}); import gmi_qgis_plugin, gmi_engine; "
            "from gmi_qgis_plugin import __about__; "
            "from gmi_engine.kernel.indices import default_library; "
            "print(gmi_engine.__file__); print(__about__.plugin_path('resources', 'icons', 'gmi.svg')); "
            "print(len(default_library()))").format(root=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    engine_file, icon, count = out.stdout.split()
    assert Path(engine_file).is_relative_to(tmp_path / "gmi_qgis_plugin" / "ext_libs")
    assert Path(icon).is_relative_to(tmp_path / "gmi_qgis_plugin") and Path(icon).is_file()
    assert int(count) == 23


_LOAD_IN_PYTHON = """
import sys
sys.path.insert(0, sys.argv[1])
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
import gmi_qgis_plugin, gmi_engine
plugin = gmi_qgis_plugin.classFactory(None)
plugin.initProcessing()
print(gmi_engine.__file__)
print(" ".join(sorted(a.id() for a in QgsApplication.processingRegistry().providerById("gmi").algorithms())))
"""


def test_qgis_loads_the_packaged_plugin_and_its_provider(package, tmp_path):
    """The unpacked zip in a private profile: QGIS loads it and lists the gmi provider.

    With Debian's ``qgis`` package this is ``qgis_process list``; without it, the same plugin
    start-up (classFactory + initProcessing) in a fresh QGIS Python process.
    """
    plugins = tmp_path / "plugins"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(plugins)
    (tmp_path / "home").mkdir()
    site = [p for p in sys.path if p.endswith("site-packages") and ".venv" in p]  # Py6S, pyodps, ...
    env = dict(os.environ, HOME=str(tmp_path / "home"), QGIS_PLUGINPATH=str(plugins),
               QGIS_CUSTOM_CONFIG_PATH=str(tmp_path / "config"), QGIS_OPTIONS_PATH=str(tmp_path / "config"),
               QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(tmp_path), PYTHONPATH=os.pathsep.join(site))
    tmp_path.chmod(0o700)
    # Debian 12's /usr/bin/qgis_process wrapper adds --noversioncheck, which 3.22 rejects: call the binary.
    qgis_process = shutil.which("qgis_process.bin") or shutil.which("qgis_process")
    if qgis_process:
        ini = tmp_path / "config" / "profiles" / "default" / "QGIS" / "QGIS3.ini"
        ini.parent.mkdir(parents=True)
        ini.write_text("[PythonPlugins]\ngmi_qgis_plugin=true\n", encoding="utf-8")
        out = subprocess.run([qgis_process, "list"], env=env, cwd=str(tmp_path), capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "error starting plugin" not in (out.stdout + out.stderr).lower(), out.stderr
        assert "GMI - Global Mineral Indices" in out.stdout
    else:
        out = subprocess.run([sys.executable, "-c", _LOAD_IN_PYTHON, str(plugins)], env=env, cwd=str(tmp_path),
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        engine_file = out.stdout.splitlines()[-2]
        assert Path(engine_file).is_relative_to(plugins / "gmi_qgis_plugin" / "ext_libs")
    assert "gmi:ingest_granules" in out.stdout and "gmi:run_method" in out.stdout
