"""Ingest with tile threads (IngestOptions.workers): the same row bytes, errors, cancel, progress.

Real GDAL warps of the synthetic HDF4 demo granules (small set: two granules over tiles 260,525
and 260,526), real ancillary files, the shipped LUT with coefficient fields, real SQLite stores.
"""
from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from gmi_engine.atmosphere.lut import default_lut_path
from gmi_engine.backends.local import LocalStore
from gmi_engine.errors import GmiError, GmiFileError
from gmi_engine.ingest import IngestCancelled, IngestOptions, ingest_granule, ingest_many, ingest_workers


def _options(demo, workers, **extra):
    return IngestOptions(mcd19a2=demo.mcd19a2, gdem=demo.gdem, modis_ref=demo.mod09a1,
                         lut=default_lut_path(), workers=workers, **extra)


def _stored_rows(workspace):
    """Every stored source row, every column as stored (the bytes the kernel reads)."""
    paths = sorted(workspace.glob("*.gpkg"))
    assert len(paths) == 1
    with closing(sqlite3.connect(str(paths[0]))) as conn:
        cur = conn.execute("SELECT * FROM gmi_source ORDER BY granule_id, tile_x, tile_y")
        names = [c[0] for c in cur.description]
        return [{n: v for n, v in zip(names, row) if n != "fid"} for row in cur]


def test_two_workers_store_the_same_bytes_as_one(demo_small, tmp_path):
    stored = {}
    for workers in (1, 2):
        summary = ingest_many(demo_small.granules, tmp_path / "w{}".format(workers), _options(demo_small, workers))
        assert not summary.failed
        stored[workers] = _stored_rows(tmp_path / "w{}".format(workers))
    assert len(stored[1]) >= 2
    assert all(row["m01"] is not None and row["b01"] is not None for row in stored[1])
    assert [sorted(r) for r in stored[2]] == [sorted(r) for r in stored[1]]
    for one, two in zip(stored[1], stored[2]):
        for name in one:
            assert two[name] == one[name], "{} {}/{}: column {} differs".format(
                one["granule_id"], one["tile_x"], one["tile_y"], name)


def test_the_returned_rows_decode_to_what_was_stored(demo_small, tmp_path):
    with LocalStore(tmp_path / "ws") as store:
        rows = ingest_granule(demo_small.granules[0], store, _options(demo_small, 2))
        back = {(r.tile_x, r.tile_y): r for r in store.tile_rows(rows[0].tile)}
    row = rows[0]
    stored = back[(row.tile_x, row.tile_y)]
    assert set(row.blobs) == set(row.bands) | set(row.modis)  # encoded in the tile threads
    for name, array in list(row.bands.items()) + list(row.modis.items()):
        theirs = stored.bands[name] if name in stored.bands else stored.modis[name]
        assert (theirs == array).all(), name


def test_a_failing_tile_fails_the_granule_naming_it_and_the_file(demo_small, tmp_path):
    bad = tmp_path / "ASTGTMV003_N34W118_dem.tif"
    bad.write_bytes(b"not a GeoTIFF")
    granule = demo_small.granules[0]
    options = IngestOptions(mcd19a2=demo_small.mcd19a2, gdem=[bad], workers=2)
    with LocalStore(tmp_path / "ws") as store:
        with pytest.raises(GmiFileError) as caught:
            ingest_granule(granule, store, options)
        assert store.tiles() == []
    text = str(caught.value)
    assert granule.stem in text and "tile" in text and bad.name in text
    summary = ingest_many([granule], tmp_path / "ws2", options)
    assert [f.path for f in summary.failed] == [granule] and isinstance(summary.failed[0].error, GmiError)


def test_cancel_during_the_tiles_writes_nothing(demo_small, tmp_path):
    seen = []
    with LocalStore(tmp_path / "ws") as store:
        with pytest.raises(IngestCancelled):
            ingest_granule(demo_small.granules[0], store, _options(demo_small, 2),
                           progress=lambda f, text: seen.append((f, text)), cancelled=lambda: bool(seen))
        assert store.tiles() == []
    assert seen and "tile 1/2" in seen[0][1]


def test_progress_runs_over_the_tiles_with_two_workers(demo_small, tmp_path):
    seen = []
    with LocalStore(tmp_path / "ws") as store:
        ingest_granule(demo_small.granules[1], store, _options(demo_small, 2),
                       progress=lambda f, text: seen.append((f, text)))
    assert [f for f, _ in seen] == [0.5, 1.0]
    assert seen[-1][1].endswith("tile 2/2")


def test_workers_default_to_the_cores_and_one_means_one():
    import os

    assert ingest_workers(IngestOptions()) == (os.cpu_count() or 1)
    assert ingest_workers(IngestOptions(workers=1)) == 1
    assert ingest_workers(IngestOptions(workers=3)) == 3


def test_blobs_that_no_longer_match_the_arrays_are_encoded_again():
    import numpy as np

    from gmi_engine.kernel import blob
    from gmi_engine.table import SourceRow

    band = np.arange(12, dtype=np.uint8).reshape(3, 4)
    row = SourceRow("AST_L1T_00309062006180242_20150516014601_17781", 260, 526,
                    "2006-09-06T18:02:42Z", 0, 2, 0, 3, {"b01": band}).encode_blobs()
    assert row.to_dict()["b01"] == blob.encode(band)
    row.bands["b01"] = np.zeros((2, 4), dtype=np.uint8)
    row.max_row = 1
    assert (blob.decode(row.to_dict()["b01"]) == 0).all()
    assert row.to_dict(compress=False)["b01"] == blob.encode(row.bands["b01"], compress=False)
