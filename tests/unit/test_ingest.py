"""Ingest of the small demo set into a local workspace (issue: reader, grid and ingest)."""
from __future__ import annotations

import numpy as np
import pytest

from gmi_engine.aster.reader import open_granule
from gmi_engine.atmosphere.coefficients import Coefficients
from gmi_engine.backends.local import LocalStore
from gmi_engine.cli.main import main
from gmi_engine.grid import TileIndex
from gmi_engine.synth.aster import load_truth
from gmi_engine.tiling import cut_granule, granule_tiles

CHINO = TileIndex(260, 526)


def test_rows_for_every_touched_tile_including_chino(demo_small, demo_workspace):
    ws, _ = demo_workspace
    with LocalStore(ws) as store:
        for path in demo_small.granules:
            g = open_granule(path)
            tiles = set(store.tiles_of_granule(g.granule_id))
            assert tiles == set(granule_tiles(g))
            assert CHINO in tiles
        assert len(store.tile_rows(CHINO)) == 2


def test_decoded_rows_reproduce_the_warped_dn_exactly(demo_small, demo_workspace):
    ws, _ = demo_workspace
    g = open_granule(demo_small.granules[0])
    cuts = {c.tile: c for c in cut_granule(g)}
    with LocalStore(ws) as store:
        for tile, cut in cuts.items():
            row = store.get_source_row(g.granule_id, tile)
            assert (row.min_row, row.max_row, row.min_col, row.max_col) == \
                (cut.min_row, cut.max_row, cut.min_col, cut.max_col)
            for band, column in (("01", "b01"), ("3N", "b03"), ("04", "b04"), ("09", "b09")):
                np.testing.assert_array_equal(row.band_on_tile(column), cut.full_tile(band, 1024))


def test_tile_state_comes_from_the_ancillaries(demo_small, demo_workspace):
    ws, _ = demo_workspace
    for path in demo_small.granules:
        truth = load_truth(path)
        g = open_granule(path)
        with LocalStore(ws) as store:
            row = store.get_source_row(g.granule_id, CHINO)
        inputs = row.ac["inputs"]
        assert inputs["aod550"]["value"] == pytest.approx(truth["atmosphere"]["aod550"], abs=0.01)
        assert inputs["water_vapour"]["value"] == pytest.approx(truth["atmosphere"]["water_vapour"], abs=0.02)
        assert inputs["altitude_km"]["value"] == pytest.approx(truth["atmosphere"]["altitude_km"], abs=0.01)
        assert "MCD19A2" in inputs["aod550"]["source"] and "GDEM" in inputs["altitude_km"]["source"]
        coeffs = Coefficients.from_dict(row.ac)
        assert coeffs.state.sun_zenith == pytest.approx(g.sun_zenith)
        assert coeffs.state.month == g.acquired.month
        assert row.meta["incl"]["b03"] == pytest.approx(g.bands["3N"].incl)
        assert row.quality["swir_usable"] is True
        assert set(row.modis) == {"m%02d" % i for i in range(1, 8)}
        assert row.modis["m01"].shape == (256, 256) and row.modis["m01"].dtype == np.int16


def test_high_gain_saturation_is_recorded(demo_small, demo_workspace):
    ws, _ = demo_workspace
    g = open_granule(demo_small.granules[1])  # granule B: bands 1-2 at high gain
    with LocalStore(ws) as store:
        row = store.get_source_row(g.granule_id, CHINO)
    assert row.quality["gains"]["b01"] == "HGH"
    assert row.quality["saturated_fraction"]["b01"] > 0.01


def test_reingest_replaces_rows_and_cli_ingests_folders(demo_small, tmp_path, capsys):
    root = demo_small.root
    ws = tmp_path / "ws"
    args = ["ingest", str(root / "aster"), "--workspace", str(ws), "--aod", str(root / "mcd19a2"),
            "--dem", str(root / "gdem"), "--tiles", "260,526"]
    assert main(args) == 0
    assert main(args) == 0  # idempotent
    with LocalStore(ws) as store:
        assert store.tiles() == [CHINO]
        rows = store.tile_rows(CHINO)
    assert len(rows) == 2
    assert [r.acquired for r in rows] == sorted(r.acquired for r in rows)
    assert rows[0].modis == {}
    assert "2 granule(s), 2 source rows" in capsys.readouterr().out


def test_cli_lut_flag_takes_coefficients_from_the_shipped_table(demo_small, tmp_path, capsys):
    root = demo_small.root
    ws = tmp_path / "ws"
    args = ["ingest", str(root / "aster"), "--workspace", str(ws), "--aod", str(root / "mcd19a2"),
            "--dem", str(root / "gdem"), "--tiles", "260,526", "--lut"]
    assert main(args) == 0
    with LocalStore(ws) as store:
        sources = {r.ac["source"].split(":")[0] for r in store.tile_rows(CHINO)}
    assert sources == {"lut"}
    assert main(args[:-1] + ["--lut", str(tmp_path / "missing.npz")]) == 1
    assert "missing.npz" in capsys.readouterr().err


def test_cli_reports_a_missing_file_in_one_line(tmp_path, capsys):
    assert main(["ingest", str(tmp_path / "nope.hdf"), "--workspace", str(tmp_path / "ws")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.hdf" in err[0] and "no such file" in err[0]
