"""The *Search ASTER* dialog offscreen: footprint layer, ticks <-> selection, one download+ingest task.

CMR and the data URLs are replayed with ``responses`` under the real earthaccess/requests stack;
the data URLs serve the bytes of real (synthetic) AST_L1T granules, which are then ingested.
"""
from __future__ import annotations

import hashlib
import sys
from datetime import datetime, timedelta
from pathlib import Path

import responses
from plugin_support import wait_until
from qgis.core import QgsApplication, QgsProject, QgsRuleBasedRenderer, QgsWkbTypes
from test_search_download import _token_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from cmr_replay import CmrReplay

from gmi_engine.acquire.search import GranuleRecord, RemoteFile
from gmi_engine.aster.reader import open_granule
from gmi_engine.backends.local import LocalStore
from gmi_engine.synth.demo import write_demo_set
from gmi_qgis_plugin.gui.dlg_search import DlgSearch
from gmi_qgis_plugin.toolbelt.state import PluginState

BASE = "https://data.lpdaac.earthdatacloud.nasa.gov/lp-prod-protected/AST_L1T.003/"


def _record(path: Path, mock) -> GranuleRecord:
    g = open_granule(path)
    body = path.read_bytes()
    mock.add(responses.GET, BASE + path.name, body=body)
    ring = tuple(g.footprint_lonlat) + (g.footprint_lonlat[0],)
    return GranuleRecord(g.granule_id, "G1-LPCLOUD", "AST_L1T", "003", g.acquired, g.acquired + timedelta(seconds=9),
                         g.cloud_cover, "Day", (ring,), (RemoteFile(BASE + path.name, path.name, len(body),
                                                                   hashlib.md5(body).hexdigest(), "MD5"),),
                         len(body) / 1e6)


def test_dialog_footprints_ticks_and_download_ingest_fill_the_workspace(qgis_iface, tmp_path):
    demo = write_demo_set(tmp_path / "demo", small=True)
    auth_id = _token_config("edl-token-dialog-test")
    dialog = DlgSearch(PluginState(), qgis_iface.mapCanvas())
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            CmrReplay(mock, items={("MCD19A2", "061"): []})  # no ancillary in CMR: ingest uses its defaults
            records = [_record(p, mock) for p in demo.granules]
            later = records[0].__class__(**{**records[0].__dict__, "granule_id": "AST_L1T_00301012009180000_x_1",
                                            "start": datetime(2009, 1, 1, 18), "cloud_cover": 40.0})
            layer = dialog.show_results(records + [later])
            assert layer.crs().authid() == "EPSG:4326" and layer.wkbType() == QgsWkbTypes.MultiPolygon
            assert layer.featureCount() == 3 and all(f.geometry().isGeosValid() for f in layer.getFeatures())
            assert isinstance(layer.renderer(), QgsRuleBasedRenderer)
            assert len(layer.renderer().rootRule().children()) == 4
            dialog.set_ticked([r.granule_id for r in records])
            assert sorted(f["granule"] for f in layer.selectedFeatures()) == sorted(r.granule_id for r in records)
            layer.selectByIds([])
            assert dialog.ticked() == []
            layer.selectByIds([f.id() for f in layer.getFeatures() if f["granule"] != later.granule_id])
            assert dialog.ticked() == records
            dialog.wdg_folder.setFilePath(str(tmp_path / "fetch"))
            dialog.wdg_workspace.setFilePath(str(tmp_path / "ws"))
            dialog.auth_select.setConfigId(auth_id)
            task = dialog.download_and_ingest()
            assert task is not None
            wait_until(lambda: dialog.btn_go.isEnabled(), 300, "download+ingest task")
        assert task.error is None, task.traceback_text
        assert sorted(p.name for p in (tmp_path / "fetch" / "aster").iterdir()) == sorted(p.name for p in demo.granules)
        with LocalStore(tmp_path / "ws", create=False) as store:
            files = sorted({r.meta["file"] for t in store.tiles() for r in store.tile_rows(t)})
        assert files == sorted(p.name for p in demo.granules)
        assert "2 granule(s) ingested" in dialog.lbl_status.text()
    finally:
        QgsApplication.authManager().removeAuthenticationConfig(auth_id)
        if dialog.layer is not None:
            QgsProject.instance().removeMapLayer(dialog.layer.id())
        dialog.deleteLater()
