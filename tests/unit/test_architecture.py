"""The import structure: every arrow points down the layers, and only ``cli/`` imports the CLI.

Layers (an area may import its own layer and the layers below):
  0 kernel  <-  1 errors/memory/progress/paths/grid/aster/ancillary/atmosphere/table
            <-  2 tiling/refcsv/synth/ingest/export/backends/indices  <-  3 cli, and the QGIS plugin.
The walk reads every ``import`` statement (module level and inside functions) with ``ast``, so
``python -m pytest tests/unit/test_architecture.py`` shows any arrow running back up.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS: Dict[str, int] = {
    "kernel": 0,
    "__init__": 1, "errors": 1, "memory": 1, "progress": 1, "paths": 1, "grid": 1, "aster": 1, "ancillary": 1,
    "atmosphere": 1, "table": 1,
    "tiling": 2, "refcsv": 2, "synth": 2, "ingest": 2, "export": 2, "backends": 2, "indices": 2,
    "acquire": 2, "thermal": 2,
    "cli": 3,
}
PLUGIN_LAYER = 4


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[Tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, relative ones resolved."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            yield node.lineno, module
            if not node.module:  # ``from . import x`` names modules
                for alias in node.names:
                    yield node.lineno, module + "." + alias.name


def _engine_area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _exists(module: str) -> bool:
    """Whether ``module`` (or the package holding the imported name) is a file of the tree."""
    base = ROOT.joinpath(*module.split("."))
    parent = base.parent
    return (base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()
            or parent.with_suffix(".py").is_file())


def _sources(folder: str) -> Iterator[Path]:
    yield from sorted((ROOT / folder).rglob("*.py"))


def test_every_engine_area_has_a_layer():
    areas = {_engine_area(_module_name(p)) for p in _sources("gmi_engine")}
    assert areas <= set(LAYERS), "add these areas to LAYERS: {}".format(sorted(areas - set(LAYERS)))


def test_no_arrow_runs_back_up():
    upward = []
    for folder, own_layer in (("gmi_engine", None), ("gmi_qgis_plugin", PLUGIN_LAYER)):
        for path in _sources(folder):
            layer = own_layer if own_layer is not None else LAYERS[_engine_area(_module_name(path))]
            for line, module in _imports(path):
                if module == "gmi_engine" or module.startswith("gmi_engine."):
                    target = LAYERS.get(_engine_area(module))
                    if not _exists(module):
                        upward.append("{}:{} imports {}, which does not exist".format(
                            path.relative_to(ROOT), line, module))
                    elif target is None:
                        upward.append("{}:{} imports {}, which is in no layer".format(
                            path.relative_to(ROOT), line, module))
                    elif target > layer or (folder == "gmi_qgis_plugin" and target == LAYERS["cli"]):
                        upward.append("{}:{} imports {}".format(path.relative_to(ROOT), line, module))
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_the_engine_never_imports_qgis_and_the_kernel_only_numpy_and_stdlib():
    stdlib = set(sys.stdlib_module_names)
    found = []
    for path in _sources("gmi_engine"):
        in_kernel = _engine_area(_module_name(path)) == "kernel"
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top in ("qgis", "PyQt5") or (in_kernel and top not in stdlib | {"numpy", "gmi_engine"}):
                found.append("{}:{} imports {}".format(path.relative_to(ROOT), line, module))
    assert not found, "\n".join(found)


@pytest.mark.parametrize("argv", [["--help"], ["grid", "--help"], ["grid", "tile-of", "-108.07", "32.793"],
                                  ["grid", "bounds", "260", "526"]])
def test_gmi_help_and_grid_do_not_load_gdal(argv):
    code = ("import sys\nfrom gmi_engine.cli.main import main\n"
            "try:\n    main({!r})\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('osgeo', 'qgis')))").format(argv)
    out = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out


def test_cli_compression_choices_match_the_writer():
    from gmi_engine.cli.options import COMPRESSIONS
    from gmi_engine.export.geotiff import COMPRESSIONS as WRITER_COMPRESSIONS

    assert COMPRESSIONS == WRITER_COMPRESSIONS


def test_the_tile_argument_takes_pairs_and_keys_and_names_the_bad_value():
    import argparse

    from gmi_engine.cli.options import tile_arg
    from gmi_engine.grid import DEFAULT_GRID

    assert tile_arg("260,526") == tile_arg("260, 526") == tile_arg(DEFAULT_GRID.key(DEFAULT_GRID.tile(260, 526)))
    with pytest.raises(argparse.ArgumentTypeError, match="'260-526'"):
        tile_arg("260-526")
