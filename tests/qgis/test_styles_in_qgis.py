"""QGIS (pytest-qgis, offscreen) reads every .qml GMI's export writes, on the exported raster.

Checks: the style beside a .tif/.vrt is applied when the layer is opened, ``loadNamedStyle``
succeeds, the renderer type is the intended one, a pseudocolor ramp has one item per ramp stop,
and QGIS draws the documented colours (NaN transparent, the ramp's middle stop at mid-stretch).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qgis.core import QgsRasterLayer, QgsRectangle
from qgis.PyQt.QtGui import QColor

from gmi_engine.export import ExportLayout, export_results
from gmi_engine.export.ramps import ramp_colors
from gmi_engine.export.style import REFLECTANCE_RANGE
from gmi_engine.grid import DEFAULT_GRID, TileIndex
from gmi_engine.indices import default_library
from gmi_engine.table import MASK_OUTPUT, ResultRow

TILES = [TileIndex(260, 526), TileIndex(261, 526)]
META = {"granules": [{"granule_id": "AST_L1T_00309062006180242_20150516014601_17781",
                      "acquired": "2006-09-06T18:02:42.000Z"}]}
PX = DEFAULT_GRID.tile_px


def _index_data(rng: np.random.Generator, index_id: str) -> np.ndarray:
    """Blocky values with an extreme-high and an extreme-low block, NaN in the first 64 columns."""
    data = np.kron(rng.uniform(1.0, 2.0, (32, 32)), np.ones((32, 32))).astype(np.float32)
    if index_id == "ndvi":
        data[:] = np.float32(0.3)  # the middle of NDVI's fixed -0.2..0.8 stretch
    data[:32, -32:] = 100.0
    data[-32:, -32:] = -100.0
    data[:, :64] = np.nan
    return data


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    rng = np.random.default_rng(3)
    rows = []
    for tile in TILES:
        for band in ["b{:02d}".format(i) for i in range(1, 10)]:
            data = np.kron(rng.uniform(0.02, 0.45, (32, 32)), np.ones((32, 32))).astype(np.float32)
            rows.append(ResultRow(tile.ix, tile.iy, "mosaic", band, data, META))
        rows.append(ResultRow(tile.ix, tile.iy, "mosaic", MASK_OUTPUT, np.ones((PX, PX), np.uint8), META))
    for index_id in default_library().ids:  # every index (hence every ramp the library uses), one tile
        rows.append(ResultRow(TILES[0].ix, TILES[0].iy, "mineral_indices", index_id,
                              _index_data(rng, index_id), META))
    out = tmp_path_factory.mktemp("export")
    reports = {m: export_results(rows, out, m) for m in ("mosaic", "mineral_indices")}
    return out, reports


def _raster_of(qml: Path) -> Path:
    for suffix in (".tif", ".vrt"):
        if qml.with_suffix(suffix).exists():
            return qml.with_suffix(suffix)
    raise AssertionError("no raster beside {}".format(qml))


def _expected_type(qml: Path, out: Path) -> str:
    rel = qml.relative_to(out).parts
    if rel[0] == "mineral_indices":
        return "singlebandpseudocolor"
    if rel[1].startswith("rgb_"):
        return "multibandcolor"
    return "singlebandgray"


def test_every_style_loads_in_qgis(export, qgis_iface):
    out, reports = export
    library = default_library()
    qmls = sorted({p for r in reports.values() for p in r.styles})
    assert len(qmls) == len(list(out.rglob("*.qml"))) > 60
    kinds = set()
    for qml in qmls:
        raster = _raster_of(qml)
        expected = _expected_type(qml, out)
        kinds.add(expected)
        layer = QgsRasterLayer(str(raster), raster.stem, "gdal")
        assert layer.isValid(), (raster, layer.error().summary())
        assert layer.renderer().type() == expected, (qml, "default style not auto-loaded")
        message, ok = layer.loadNamedStyle(str(qml))
        assert ok, (qml, message)
        renderer = layer.renderer()
        assert renderer.type() == expected, qml
        if expected == "singlebandpseudocolor":
            index_id = qml.parent.name if qml.parent.name in library else qml.stem
            ramp = ramp_colors(library[index_id].ramp)
            function = renderer.shader().rasterShaderFunction()
            items = function.colorRampItemList()
            assert len(items) == len(ramp), qml
            assert [item.color.name() for item in items] == list(ramp)
            vmin, vmax = reports["mineral_indices"].stretches[index_id]
            assert renderer.classificationMin() == pytest.approx(vmin, rel=1e-6, abs=1e-9)
            assert renderer.classificationMax() == pytest.approx(vmax, rel=1e-6, abs=1e-9)
            assert function.sourceColorRamp() is not None and function.sourceColorRamp().type() == "gradient"
        elif expected == "multibandcolor":
            assert layer.bandCount() == 3
            for enhancement in (renderer.redContrastEnhancement(), renderer.greenContrastEnhancement(),
                                renderer.blueContrastEnhancement()):
                assert (enhancement.minimumValue(), enhancement.maximumValue()) == pytest.approx(REFLECTANCE_RANGE)
        else:
            enhancement = renderer.contrastEnhancement()
            assert (enhancement.minimumValue(), enhancement.maximumValue()) == pytest.approx(REFLECTANCE_RANGE)
    assert kinds == {"singlebandpseudocolor", "multibandcolor", "singlebandgray"}


class _Drawn:
    """The first tile of a raster as QGIS draws it with its default (auto-loaded) style."""

    def __init__(self, raster: Path) -> None:
        layer = QgsRasterLayer(str(raster), raster.stem, "gdal")
        assert layer.isValid()
        b = DEFAULT_GRID.bounds(TILES[0])
        self.block = layer.renderer().block(1, QgsRectangle(b.xmin, b.ymin, b.xmax, b.ymax), PX, PX)

    def color(self, row: int, col: int) -> QColor:
        return QColor.fromRgba(self.block.color(row, col))


_draw = _Drawn


def test_qgis_draws_the_ramp_and_leaves_nan_transparent(export, qgis_iface):
    out, reports = export
    key = DEFAULT_GRID.key(TILES[0])
    layout = ExportLayout.at(out)
    ndvi = _draw(layout.tile_raster("mineral_indices", "ndvi", key))
    ramp = ramp_colors(default_library()["ndvi"].ramp)
    assert ndvi.color(500, 10).alpha() == 0  # NaN: transparent
    assert ndvi.color(500, 500).name() == ramp[len(ramp) // 2]  # 0.3 on -0.2..0.8: the middle stop
    ferric = _draw(layout.tile_raster("mineral_indices", "ferric_iron", key))
    ramp = ramp_colors(default_library()["ferric_iron"].ramp)
    assert ferric.color(10, PX - 10).name() == ramp[-1]  # above the 98th percentile: the last stop
    assert ferric.color(PX - 10, PX - 10).name() == ramp[0]  # below the 2nd percentile: the first stop
    assert ferric.color(500, 10).alpha() == 0
    rgb = _draw(layout.rgb_vrt("mosaic", "rgb_321"))
    assert rgb.color(500, 500).alpha() == 255
