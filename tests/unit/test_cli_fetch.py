"""``gmi fetch`` (search table, --download into the product folders) and ``gmi ingest`` of such a folder.

CMR and the data URLs are replayed with ``responses`` under the real earthaccess/requests stack.
"""
from __future__ import annotations

import pytest
import responses
from cmr_replay import CmrReplay, with_served_files

from gmi_engine.backends.local import LocalStore
from gmi_engine.cli.main import main

CUPRITE = ["--bbox", "-117.6", "37.0", "-116.5", "38.0"]
CHINO = (260, 526)


def test_fetch_prints_the_summary_table(tmp_path, capsys):
    with responses.RequestsMock() as mock:
        replay = CmrReplay(mock)
        assert main(["fetch", *CUPRITE, "--start", "2000-01-01", "--end", "2010-12-31", "--max-cloud", "20",
                     "--swir-usable", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["granule", "start", "(UTC)", "ver", "cloud%", "day", "SWIR", "MB"]
    assert out[1].split()[:6] == ["AST_L1T_03109062006180242_20240301093312_12345", "2006-09-06", "18:02",
                                  "031", "3", "Day"]
    assert out[-1] == "1 granule(s), 111.6 MB"
    assert {q["temporal[]"][0] for q in replay.of("AST_L1T")} == {"2000-01-01T00:00:00Z,2008-03-31T23:59:59Z"}
    assert list(tmp_path.iterdir()) == []


def test_fetch_download_puts_granules_and_ancillaries_in_product_folders(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EARTHDATA_TOKEN", "token-for-the-replay")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        CmrReplay(mock, items=with_served_files(mock, repeat=10))
        assert main(["fetch", *CUPRITE, "--start", "2006-09-01", "--end", "2006-09-30", "--out", str(tmp_path),
                     "--download"]) == 0
        fetched = [c.request for c in mock.calls if "lp-prod-protected" in c.request.url]
    assert all(r.headers["Authorization"] == "Bearer token-for-the-replay" for r in fetched)
    names = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert names == ["aster/AST_L1T_03109062006180242_20240301093312_12345.hdf",
                     "gdem/ASTGTMV003_N37W117_dem.tif", "gdem/ASTGTMV003_N37W118_dem.tif",
                     "mcd19a2/MCD19A2.A2006249.h08v05.061.2023102152031.hdf",
                     "mod09a1/MOD09A1.A2006249.h08v05.061.2021110123456.hdf"]
    assert "ancillaries: 1 MCD19A2 · 1 MOD09A1 · 2 GDEM" in capsys.readouterr().out


@pytest.mark.slow
def test_ingest_of_a_fetch_folder_finds_its_ancillaries(demo_small, tmp_path, capsys):
    ws = tmp_path / "ws"
    assert main(["ingest", str(demo_small.root), "--workspace", str(ws), "--tiles", "260,526", "--lut"]) == 0
    with LocalStore(ws) as store:
        rows = store.tile_rows(CHINO)
    assert len(rows) == 2
    for row in rows:
        assert "MCD19A2" in row.ac["inputs"]["aod550"]["source"]
        assert "GDEM" in row.ac["inputs"]["altitude_km"]["source"]
        assert set(row.modis) == {"m%02d" % i for i in range(1, 8)}  # MOD09A1 taken from mod09a1/
