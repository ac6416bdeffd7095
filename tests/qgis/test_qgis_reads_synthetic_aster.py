"""QGIS (pytest-qgis, offscreen) shows a synthetic AST_L1T band with GMI's georeference.

QGIS on its own warps an L1T swath through the GCPs of its geolocation lattice (which carry no
projection); GMI hands QGIS a VRT with the exact UTM pixel-centre georeference instead.
"""
from __future__ import annotations

from datetime import datetime

from osgeo import gdal
from qgis.core import QgsRasterLayer

from gmi_engine.aster.reader import open_granule
from gmi_engine.synth.aster import AsterSpec, write_aster_l1t


def test_qgis_opens_a_georeferenced_l1t_band(tmp_path, qgis_iface):
    spec = AsterSpec(-108.07, 32.793, datetime(2006, 9, 6, 18, 2, 42), side_km=4.0,
                     subsystems=("TIR",))
    granule = open_granule(write_aster_l1t(spec, tmp_path))
    vrt_path = str(tmp_path / "b13.vrt")
    gdal.Translate(vrt_path, granule.georeferenced("13"), format="VRT").FlushCache()
    layer = QgsRasterLayer(vrt_path, "B13", "gdal")
    assert layer.isValid(), layer.error().summary()
    assert layer.crs().authid() == "EPSG:32612"
    info = granule.bands["13"]
    assert (layer.width(), layer.height(), layer.bandCount()) == (info.cols, info.rows, 1)
    gt = granule.geotransform("TIR")
    extent = layer.extent()
    assert abs(extent.xMinimum() - gt[0]) < 1e-6 and abs(extent.yMaximum() - gt[3]) < 1e-6
    stats = layer.dataProvider().bandStatistics(1)
    assert stats.maximumValue > 1000  # TIR DN of ~296 K surfaces
