"""``gmi run --export`` compresses each result once: the store refers to the exported GeoTIFF.

Issue 18: the local store and the exported files must not both hold a compressed copy of the
same pixels, while resumability and byte-identical outputs for any worker count hold as before.
"""
from __future__ import annotations

import os
import shutil
import sqlite3

import numpy as np
import pytest
from osgeo import gdal

from gmi_engine.backends.file_cells import MAGIC, array_sha256, decode_reference, is_reference
from gmi_engine.backends.local import LocalStore
from gmi_engine.backends.local_runner import ExportJob, run_local
from gmi_engine.errors import GmiFileError
from gmi_engine.export import export_results
from gmi_engine.export.layout import ExportLayout
from gmi_engine.export.results import ExportOptions
from gmi_engine.grid import DEFAULT_GRID, TileIndex
from gmi_engine.kernel.pipeline import MASK_OUTPUT
from gmi_engine.table import STORE_FILENAME

METHOD = "mineral_indices"
TILES = 2
INDICES = 23


def _decoded(ws) -> dict:
    """(tile, method, output) -> (blob of the decoded array, meta) for every result row."""
    with LocalStore(ws, create=False) as store:
        return {r.key: (r.to_dict()["data"], r.to_dict()["meta"]) for r in store.iter_results(METHOD)}


def _raw_cells(ws) -> dict:
    """(tile_x, tile_y, output) -> the stored data cell, as SQLite holds it."""
    conn = sqlite3.connect(str(ws / STORE_FILENAME))
    try:
        return {(x, y, o): bytes(d) for x, y, o, d in conn.execute(
            'SELECT tile_x, tile_y, output, data FROM "gmi_result" WHERE method = ?', (METHOD,))}
    finally:
        conn.close()


def _tree(root) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def blob_run(demo_workspace, tmp_path_factory):
    """A plain run (results as blobs) and its separate export: what a one-pass run must equal."""
    root = tmp_path_factory.mktemp("blobs")
    shutil.copytree(demo_workspace[0], root / "ws")
    run_local(root / "ws", METHOD, workers=1)
    with LocalStore(root / "ws", create=False) as store:
        export_results(store, root / "out", METHOD)
    return root


@pytest.fixture(scope="module")
def one_pass(demo_workspace, tmp_path_factory):
    """``gmi run --export`` on 2 workers: workspace ``ws`` and export folder ``out`` side by side."""
    root = tmp_path_factory.mktemp("onepass")
    shutil.copytree(demo_workspace[0], root / "ws")
    report = run_local(root / "ws", METHOD, workers=2, export=ExportJob(str(root / "out")))
    assert len(report.computed) == TILES
    return root


def test_exported_outputs_are_stored_once_as_file_references(one_pass, blob_run):
    cells = _raw_cells(one_pass / "ws")
    references = {k: v for k, v in cells.items() if is_reference(v)}
    assert len(cells) == TILES * (INDICES + 1)
    assert len(references) == TILES * INDICES  # every index; the valid mask keeps its blob
    assert not is_reference(cells[(260, 526, MASK_OUTPUT)])
    layout = ExportLayout.at(one_pass / "out")
    for (x, y, output), cell in references.items():
        path, digest = decode_reference(cell)
        expected = layout.tile_raster(METHOD, output, DEFAULT_GRID.key(TileIndex(x, y)))
        # relative to the workspace, so the pair of folders can move together
        assert path == os.path.relpath(str(expected), str(one_pass / "ws")) and not path.startswith("/")
    with LocalStore(one_pass / "ws", create=False) as store:
        stats = store.stats()
    with LocalStore(blob_run / "ws", create=False) as store:
        blob_stats = store.stats()
    assert stats.result_file_cells == TILES * INDICES and blob_stats.result_file_cells == 0
    # The pixels live in the COGs only: the store's result cells shrink to the masks and references.
    assert stats.result_blob_bytes < 0.05 * blob_stats.result_blob_bytes


def test_a_reference_reads_back_the_very_array_a_blob_run_stores(one_pass, blob_run):
    assert _decoded(one_pass / "ws") == _decoded(blob_run / "ws")
    cell = _raw_cells(one_pass / "ws")[(260, 526, "ferric_iron")]
    path = (one_pass / "ws" / decode_reference(cell)[0]).resolve()
    dataset = gdal.Open(str(path))  # kept alive while its band is read
    data = dataset.GetRasterBand(1).ReadAsArray()
    dataset = None
    assert array_sha256(data) == decode_reference(cell)[1] and np.isnan(data).any()


def test_one_pass_files_and_a_later_export_equal_a_separate_export(one_pass, blob_run, tmp_path):
    assert _tree(one_pass / "out") == _tree(blob_run / "out")
    with LocalStore(one_pass / "ws", create=False) as store:  # reads the COGs back
        export_results(store, tmp_path / "again", METHOD)
    assert _tree(tmp_path / "again") == _tree(blob_run / "out")


def test_worker_counts_give_byte_identical_stores_and_files(one_pass, demo_workspace, tmp_path):
    shutil.copytree(demo_workspace[0], tmp_path / "ws")
    run_local(tmp_path / "ws", METHOD, workers=1, export=ExportJob(str(tmp_path / "out")))
    assert _raw_cells(tmp_path / "ws") == _raw_cells(one_pass / "ws")
    assert _tree(tmp_path / "out") == _tree(one_pass / "out")


def test_a_changed_file_is_a_clear_error_and_a_deleted_one_is_recomputed(one_pass, tmp_path):
    shutil.copytree(one_pass, tmp_path / "pair")
    ws, out = tmp_path / "pair" / "ws", tmp_path / "pair" / "out"
    target = ExportLayout.at(out).tile_raster(METHOD, "kaolinite", DEFAULT_GRID.key(TileIndex(260, 526)))
    assert target.is_file()
    dataset = gdal.Open(str(target), gdal.GA_Update)
    band = dataset.GetRasterBand(1)
    pixels = band.ReadAsArray()
    pixels[np.isfinite(pixels)] += 1.0
    band.WriteArray(pixels)
    dataset = band = None
    with LocalStore(ws, create=False) as store:
        with pytest.raises(GmiFileError, match="kaolinite.*was changed after the run"):
            store.results(TileIndex(260, 526), METHOD)
    target.unlink()
    with LocalStore(ws, create=False) as store:
        with pytest.raises(GmiFileError, match="kaolinite.*which cannot be read"):
            store.results(TileIndex(260, 526), METHOD)
    report = run_local(ws, METHOD, workers=1, export=ExportJob(str(out)))
    assert report.computed == [TileIndex(260, 526)] and len(report.skipped) == 1
    assert target.is_file() and _raw_cells(ws) == _raw_cells(one_pass / "ws")


def test_store_files_false_and_lossy_exports_keep_blobs(demo_workspace, tmp_path):
    shutil.copytree(demo_workspace[0], tmp_path / "ws")
    run_local(tmp_path / "ws", "mosaic", workers=1, tiles=[TileIndex(260, 526)],
              export=ExportJob(str(tmp_path / "u16"), ExportOptions(reflectance_dtype="uint16")))
    conn = sqlite3.connect(str(tmp_path / "ws" / STORE_FILENAME))
    kinds = {o: bytes(d[:len(MAGIC)]) == MAGIC for o, d in conn.execute(
        'SELECT output, data FROM "gmi_result" WHERE method = ?', ("mosaic",))}
    conn.close()
    assert kinds["b01"] is False  # uint16 counts do not hold the float reflectance exactly
    assert kinds["provenance_vnir"] is True  # written as it is
    shutil.rmtree(str(tmp_path / "ws"))
    shutil.copytree(demo_workspace[0], tmp_path / "ws")
    from gmi_engine.cli.main import main

    assert main(["run", "-w", str(tmp_path / "ws"), "-m", METHOD, "--workers", "1", "--tiles", "260,526",
                 "--export", str(tmp_path / "out"), "--store-cells"]) == 0  # ExportJob(store_files=False)
    cells = _raw_cells(tmp_path / "ws")
    assert len(cells) == INDICES + 1 and not any(is_reference(v) for v in cells.values())


def test_stored_results_without_blobs_keep_references_metas_and_keys(one_pass):
    """``iter_stored_results(blobs=False)`` (the planner's up-to-date check): blob cells come
    back empty, file references and every other cell as stored."""
    cells = _raw_cells(one_pass / "ws")
    with LocalStore(one_pass / "ws", create=False) as store:
        full = {(s.tile_x, s.tile_y, s.output): s.record for s in store.iter_stored_results(METHOD)}
        light = {(s.tile_x, s.tile_y, s.output): s.record
                 for s in store.iter_stored_results(METHOD, blobs=False)}
    assert set(light) == set(full) == set(cells)
    for key, record in light.items():
        expected = dict(full[key], data=cells[key] if is_reference(cells[key]) else b"")
        assert dict(record) == expected, key
    assert light[(260, 526, MASK_OUTPUT)]["data"] == b"" and full[(260, 526, MASK_OUTPUT)]["data"]
