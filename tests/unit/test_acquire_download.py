"""download() against a loopback HTTP server (loopback_http.py) through earthaccess's own requests session.

The server checks the bearer token earthaccess puts on its session, serves byte ranges, and can
drop a connection half-way or answer 401, so resume, size/checksum checks, login errors and
cancel are exercised on real sockets.
"""
from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timezone

import pytest
from loopback_http import loopback_server

from gmi_engine.acquire import download as dl
from gmi_engine.acquire.auth import login
from gmi_engine.acquire.errors import DownloadCheckError, EarthdataLoginError
from gmi_engine.acquire.search import GranuleRecord, RemoteFile

TOKEN = "edl-token-not-a-real-secret-7f3a"
PAYLOAD = bytes(range(256)) * 12288  # 3 MiB


@pytest.fixture
def server():
    with loopback_server(TOKEN) as srv:
        yield srv


def _record(server, name, body, size=None, md5=True, product="AST_L1T"):
    url = server.serve(name, body)
    remote = RemoteFile(url, name, len(body) if size is None else size,
                        hashlib.md5(body).hexdigest() if md5 else None, "MD5" if md5 else None)
    when = datetime(2006, 9, 6, 18, 2, 42, tzinfo=timezone.utc)
    return GranuleRecord(name, "G1-TEST", product, "031", when, when, 3.0, "Day", (), (remote,))


def _session(token=TOKEN):
    return login(token=token).get_session()


def test_downloads_in_parallel_into_product_folders_and_skips_complete_files(server, tmp_path):
    records = [_record(server, "AST_L1T_03109062006180242_20240301093312_1.hdf", PAYLOAD),
               _record(server, "MCD19A2.A2006249.h08v05.061.2023102152031.hdf", PAYLOAD[:1000], product="MCD19A2")]
    seen = []
    result = dl.download(records, tmp_path, session=_session(), workers=2, progress=lambda f, m: seen.append(f))
    assert (tmp_path / "aster" / records[0].files[0].name).read_bytes() == PAYLOAD
    assert (tmp_path / "mcd19a2" / records[1].files[0].name).stat().st_size == 1000
    assert len(result.downloaded) == 2 and not list(tmp_path.rglob("*.part")) and seen[-1] == 1.0
    again = dl.download(records, tmp_path, session=_session())
    assert again.downloaded == [] and len(again.skipped) == 2


def test_dropped_connection_is_resumed_with_a_range_request(server, tmp_path):
    record = _record(server, "AST_L1T_03109062006180242_20240301093312_2.hdf", PAYLOAD)
    server.drop_once.add("/" + record.files[0].name)
    dl.download([record], tmp_path, session=_session())
    assert (tmp_path / "aster" / record.files[0].name).read_bytes() == PAYLOAD
    assert server.ranges == [("/" + record.files[0].name, len(PAYLOAD) // 3)]


def test_wrong_size_is_an_error_and_leaves_no_file(server, tmp_path):
    record = _record(server, "AST_L1T_03109062006180242_20240301093312_3.hdf", PAYLOAD[:5000], size=6000)
    with pytest.raises(DownloadCheckError, match="5000 bytes received, CMR gives 6000"):
        dl.download([record], tmp_path, session=_session())
    assert list((tmp_path / "aster").iterdir()) == []


def test_wrong_checksum_is_an_error_and_leaves_no_file(server, tmp_path):
    record = _record(server, "AST_L1T_03109062006180242_20240301093312_4.hdf", PAYLOAD[:5000])
    server.files["/" + record.files[0].name] = b"x" * 5000
    with pytest.raises(DownloadCheckError, match="MD5 checksum differs"):
        dl.download([record], tmp_path, session=_session())
    assert list((tmp_path / "aster").iterdir()) == []


def test_401_is_a_clear_login_error_without_the_secret(server, tmp_path):
    record = _record(server, "AST_L1T_03109062006180242_20240301093312_5.hdf", PAYLOAD[:100])
    wrong = "wrong-secret-token-123456"
    with pytest.raises(EarthdataLoginError, match="Earthdata login failed") as info:
        dl.download([record], tmp_path, session=_session(wrong))
    assert wrong not in str(info.value) and "401" in str(info.value)
    assert not (tmp_path / "aster" / record.files[0].name).exists()


def test_cancel_leaves_only_part_files_that_the_next_run_resumes(server, tmp_path, monkeypatch):
    monkeypatch.setattr(dl, "CHUNK_BYTES", 64 * 1024)
    record = _record(server, "AST_L1T_03109062006180242_20240301093312_6.hdf", PAYLOAD)
    stop = threading.Event()
    result = dl.download([record], tmp_path, session=_session(), cancelled=stop.is_set,
                         progress=lambda f, m: stop.set() if f > 0.1 else None)
    assert result.cancelled and result.downloaded == []
    (part,) = (tmp_path / "aster").iterdir()
    assert part.name.endswith(".part") and 0 < part.stat().st_size < len(PAYLOAD)
    partial = part.stat().st_size
    dl.download([record], tmp_path, session=_session())
    assert (tmp_path / "aster" / record.files[0].name).read_bytes() == PAYLOAD
    assert server.ranges[-1] == ("/" + record.files[0].name, partial)


def test_login_without_any_credentials_says_how_to_get_one(monkeypatch, tmp_path):
    for key in ("EARTHDATA_TOKEN", "EARTHDATA_USERNAME", "EARTHDATA_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "missing-netrc"))
    with pytest.raises(EarthdataLoginError, match="no credentials found.*urs.earthdata.nasa.gov"):
        login()


def test_login_reads_netrc_through_earthaccess(monkeypatch, tmp_path):
    import responses

    for key in ("EARTHDATA_TOKEN", "EARTHDATA_USERNAME", "EARTHDATA_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine urs.earthdata.nasa.gov login geologist password pw-not-real-991\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "https://urs.earthdata.nasa.gov/api/users/find_or_create_token",
                 json={"access_token": "abc", "token_type": "Bearer", "expiration_date": "1/1/2100"})
        auth = login()
        assert auth.authenticated and auth.get_session().headers["Authorization"] == "Bearer abc"
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "https://urs.earthdata.nasa.gov/api/users/find_or_create_token",
                 status=401, json={"error": "invalid_credentials"})
        with pytest.raises(EarthdataLoginError, match="rejected") as info:
            login()
        assert "pw-not-real-991" not in str(info.value)
