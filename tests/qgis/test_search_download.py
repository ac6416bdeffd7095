"""``gmi:search_download`` in QGIS offscreen: CMR and the data URLs replayed under the real earthaccess stack.

The Earthdata credentials come from a QGIS auth config (a token config of type EsriToken, or
Basic: user name and password that earthaccess trades for a token at URS) and must reach the data
requests as a bearer token without the secret appearing in any feedback text.
"""
from __future__ import annotations

import base64
from pathlib import Path

import pytest
import responses
from cmr_replay import CmrReplay, with_served_files
from plugin_support import RecordingFeedback, auth_config
from qgis.core import (
    QgsApplication,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProject,
    QgsWkbTypes,
)

CUPRITE = "-117.6,-116.5,37.0,38.0 [EPSG:4326]"


def _run(params, feedback):
    import processing

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return processing.run("gmi:search_download", params, context=context, feedback=feedback), context


def _token_config(token: str) -> str:
    """An Earthdata token config (EsriToken: the type QGIS 3.22 has for a bare token)."""
    return auth_config("EsriToken", "Earthdata token test", token=token)


def test_search_writes_epsg4326_footprints_with_attributes(provider):
    feedback = RecordingFeedback()
    with responses.RequestsMock() as mock:
        replay = CmrReplay(mock)
        result, _ = _run({"EXTENT": CUPRITE, "START": "2000-01-01", "END": "2010-12-31", "MAX_CLOUD": 20,
                          "OUTPUT": "memory:footprints"}, feedback)
    layer = result["OUTPUT"]
    assert layer.crs().authid() == "EPSG:4326" and layer.wkbType() == QgsWkbTypes.MultiPolygon
    rows = {f["granule"]: f for f in layer.getFeatures()}
    assert sorted(rows) == ["AST_L1T_03106152009183011_20240305101010_22222",
                            "AST_L1T_03109062006180242_20240301093312_12345"]
    first = rows["AST_L1T_03109062006180242_20240301093312_12345"]
    assert first["version"] == "031" and first["cloud"] == 3.0 and first["swir_usable"] is True
    assert first.geometry().boundingBox().xMinimum() == pytest.approx(-117.5512)
    assert result["GRANULE_COUNT"] == 2 and result["FILES_DOWNLOADED"] == 0
    assert {q["cloud_cover"][0] for q in replay.of("AST_L1T")} == {"0,20.0"}


def _basic_config(username: str, password: str) -> str:
    """A Basic auth config (Earthdata Login user name and password)."""
    return auth_config("Basic", "Earthdata Login test", username=username, password=password)


def _download_september(mock, auth_id: str, folder: Path, feedback) -> tuple:
    """Replay CMR and every data URL (small bodies with their sizes and MD5), run a September download.

    Returns the algorithm's result and the data requests sent.
    """
    CmrReplay(mock, items=with_served_files(mock))
    result, _ = _run({"EXTENT": CUPRITE, "START": "2006-09-01", "END": "2006-09-30", "MAX_CLOUD": 20,
                      "EARTHDATA_AUTH": auth_id, "DOWNLOAD": True, "OUTPUT_FOLDER": str(folder),
                      "OUTPUT": "memory:footprints"}, feedback)
    return result, [c.request for c in mock.calls if "lp-prod-protected" in c.request.url]


def test_download_uses_the_auth_config_token_and_never_shows_it(provider, tmp_path):
    token = "edl-TOKEN-from-qgis-auth-5521"
    auth_id = _token_config(token)
    feedback = RecordingFeedback()
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            result, data = _download_september(mock, auth_id, tmp_path, feedback)
    finally:
        QgsApplication.authManager().removeAuthenticationConfig(auth_id)
    assert data and all(r.headers["Authorization"] == "Bearer " + token for r in data)
    assert result["FILES_DOWNLOADED"] == 5
    assert (tmp_path / "aster" / "AST_L1T_03109062006180242_20240301093312_12345.hdf").is_file()
    assert sorted(p.name for p in (tmp_path / "gdem").iterdir()) == ["ASTGTMV003_N37W117_dem.tif",
                                                                     "ASTGTMV003_N37W118_dem.tif"]
    assert all(token not in text for text in feedback.texts)


def test_a_basic_auth_config_logs_in_to_earthdata_with_user_and_password(provider, tmp_path):
    """earthaccess trades the Basic config's user name and password for a token at URS (replayed)."""
    password = "pw-QGIS-basic-8812"
    auth_id = _basic_config("geologist", password)
    feedback = RecordingFeedback()
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            mock.add(responses.POST, "https://urs.earthdata.nasa.gov/api/users/find_or_create_token",
                     json={"access_token": "tok-from-urs", "token_type": "Bearer", "expiration_date": "1/1/2100"})
            result, data = _download_september(mock, auth_id, tmp_path, feedback)
            urs = [c.request for c in mock.calls if "urs.earthdata" in c.request.url]
    finally:
        QgsApplication.authManager().removeAuthenticationConfig(auth_id)
    basic = "Basic " + base64.b64encode(b"geologist:" + password.encode()).decode()
    # earthaccess posts without credentials first, then again with them from its response hook
    assert urs[-1].method == "POST" and urs[-1].headers["Authorization"] == basic
    assert data and all(r.headers["Authorization"] == "Bearer tok-from-urs" for r in data)
    assert result["FILES_DOWNLOADED"] == 5 and all(password not in text for text in feedback.texts)


def test_an_auth_config_earthdata_cannot_use_is_a_clear_error(provider, tmp_path):
    auth_id = auth_config("Identity-Cert", "not for Earthdata", certid="none")
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            CmrReplay(mock)
            with pytest.raises(QgsProcessingException, match="EARTHDATA_AUTH: .*needs 'Basic'"):
                _run({"EXTENT": CUPRITE, "START": "2006-09-01", "END": "2006-09-30", "EARTHDATA_AUTH": auth_id,
                      "DOWNLOAD": True, "OUTPUT_FOLDER": str(tmp_path), "OUTPUT": "memory:footprints"},
                     RecordingFeedback())
    finally:
        QgsApplication.authManager().removeAuthenticationConfig(auth_id)
