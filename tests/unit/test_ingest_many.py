"""ingest_many: the one batch ingest (per-granule errors, cancel, one 0..1 progress)."""
from __future__ import annotations

import pytest

from gmi_engine.backends.local import LocalStore
from gmi_engine.errors import GmiError
from gmi_engine.grid import TileIndex
from gmi_engine.ingest import IngestOptions, ingest_many

CHINO = TileIndex(260, 526)


@pytest.fixture(scope="module")
def options(demo_small):
    return IngestOptions(mcd19a2=demo_small.mcd19a2, gdem=demo_small.gdem, tiles=[CHINO])


@pytest.fixture()
def broken(tmp_path):
    path = tmp_path / "AST_L1T_00300000000000000_00000000000000_1.hdf"
    path.write_bytes(b"not an HDF4 file")
    return path


def _files(workspace):
    with LocalStore(workspace, create=False) as store:
        return [r.meta["file"] for r in store.tile_rows(CHINO)]


def test_progress_is_one_monotonic_run_from_0_to_1(demo_small, options, tmp_path):
    seen = []
    summary = ingest_many(demo_small.granules, tmp_path / "ws", options,
                          progress=lambda f, text: seen.append((f, text)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in fractions)
    names = [p.name for p in demo_small.granules]
    assert [t for _, t in seen if t.startswith("Granule ")] == [
        "Granule 1 of 2: " + names[0], "Granule 2 of 2: " + names[1]]
    assert (0.5, "Granule 2 of 2: " + names[1]) in seen
    assert [g.path.name for g in summary.ingested] == names and summary.rows == 2
    assert summary.tiles == [CHINO] and not summary.failed and not summary.cancelled
    assert sorted(_files(tmp_path / "ws")) == sorted(names)


def test_a_failing_granule_is_recorded_and_stops_the_job(demo_small, options, broken, tmp_path):
    summary = ingest_many([broken] + list(demo_small.granules), tmp_path / "ws", options)
    assert [f.path for f in summary.failed] == [broken] and isinstance(summary.failed[0].error, GmiError)
    assert summary.ingested == [] and summary.not_tried == list(demo_small.granules)
    with pytest.raises(GmiError):
        summary.raise_first_error()


def test_keep_going_reports_every_failure_and_ingests_the_rest(demo_small, options, broken, tmp_path):
    missing = tmp_path / "AST_L1T_missing.hdf"
    done = []
    summary = ingest_many([broken, demo_small.granules[0], missing], tmp_path / "ws", options,
                          keep_going=True, on_granule=done.append)
    assert [f.path for f in summary.failed] == [broken, missing]
    assert all(isinstance(f.error, (GmiError, OSError)) for f in summary.failed)
    assert [g.path for g in summary.ingested] == [demo_small.granules[0]] and done == summary.ingested
    assert _files(tmp_path / "ws") == [demo_small.granules[0].name]


def test_cancel_between_granules_keeps_what_was_written(demo_small, options, tmp_path):
    done = []
    summary = ingest_many(demo_small.granules, tmp_path / "ws", options, cancelled=lambda: bool(done),
                          on_granule=done.append)
    assert summary.cancelled and summary.interrupted is None
    assert [g.path for g in summary.ingested] == [demo_small.granules[0]]
    assert summary.not_tried == [demo_small.granules[1]]
    assert _files(tmp_path / "ws") == [demo_small.granules[0].name]


def test_cancel_inside_a_granule_writes_nothing_of_it(demo_small, options, tmp_path):
    stop = []

    def progress(fraction, text):
        if text.startswith("Granule 2 of 2"):
            stop.append(True)

    summary = ingest_many(demo_small.granules, tmp_path / "ws", options, progress=progress,
                          cancelled=lambda: bool(stop))
    assert summary.cancelled and summary.interrupted == demo_small.granules[1] and summary.not_tried == []
    assert [g.path for g in summary.ingested] == [demo_small.granules[0]]
    assert _files(tmp_path / "ws") == [demo_small.granules[0].name]


def test_on_start_names_each_granule_before_it_is_read(demo_small, options, tmp_path, broken):
    events = []
    summary = ingest_many([broken] + list(demo_small.granules), tmp_path / "ws", options, keep_going=True,
                          on_start=lambda k, path: events.append(("start", k, path.name)),
                          on_granule=lambda g: events.append(("done", g.path.name)))
    names = [p.name for p in demo_small.granules]
    assert events == [("start", 1, broken.name), ("start", 2, names[0]), ("done", names[0]),
                      ("start", 3, names[1]), ("done", names[1])]
    assert [f.path for f in summary.failed] == [broken]


def _browse_hdf(path):
    """An HDF4 file like a real ``_BR.hdf``: browse images, no ImageData swath."""
    import numpy as np
    from pyhdf.SD import SD, SDC

    sd = SD(str(path), SDC.WRITE | SDC.CREATE)
    try:
        sds = sd.create("VNIR_Browse", SDC.UINT8, (8, 8))
        sds[:] = np.arange(64, dtype=np.uint8).reshape(8, 8)
        sds.endaccess()
    finally:
        sd.end()
    return path


def test_a_real_download_folder_ingests_the_granules_and_skips_the_rest(demo_small, options, tmp_path):
    """Browse, ECS metadata and QA files beside the granules (real names) are skipped, never fatal."""
    from osgeo import gdal

    stem = demo_small.granules[0].name[:-4]
    folder = tmp_path / "aster"
    folder.mkdir()
    by_name = [_browse_hdf(folder / (stem + "_BR.hdf")), folder / (stem + ".hdf.met"),
               folder / (stem + "_QA.txt"), folder / (stem + "_V.tif"), folder / (stem + "_T.tif")]
    for path in by_name[1:3]:
        path.write_text("GROUP = INVENTORYMETADATA\nEND\n")
    for path in by_name[3:]:
        gdal.GetDriverByName("GTiff").Create(str(path), 4, 4, 3, gdal.GDT_Byte).FlushCache()
    by_content = [_browse_hdf(folder / "browse_copy.hdf"), _browse_hdf(folder / "AST_L1T_renamed_browse.hdf")]
    files = sorted(by_name + by_content) + list(demo_small.granules)
    summary = ingest_many(files, tmp_path / "ws", options)
    assert [g.path for g in summary.ingested] == list(demo_small.granules) and not summary.failed
    skipped = dict(summary.skipped)
    assert sorted(skipped) == sorted(by_name + by_content)
    assert all("by name" in skipped[p] for p in by_name) and all("by content" in skipped[p] for p in by_content)
    assert sorted(_files(tmp_path / "ws")) == sorted(p.name for p in demo_small.granules)
