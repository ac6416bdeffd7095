"""The MaxCompute UDTF under pyodps' own local runner, and the cell <-> kernel-row helpers."""
from __future__ import annotations

import json
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from odps import options
from odps.udf import get_annotation
from odps.udf.tools import runners
from odps_fake import local_reference

from gmi_engine.backends import udtf
from gmi_engine.backends.local import LocalStore
from gmi_engine.backends.local_runner import kernel_row as local_kernel_row
from gmi_engine.backends.udtf import GmiUdtf
from gmi_engine.errors import BackendError, BlobError, CellTooLargeError, GmiInputError, SchemaError
from gmi_engine.kernel import KERNEL_VERSION, pipeline, records
from gmi_engine.table import DN_BANDS, RESULT_SCHEMA, SOURCE_SCHEMA, ResultRow, SourceRow

REPO = Path(__file__).resolve().parents[2]
SMALL = {"tile_px": 16}


@contextmanager
def binary_safe_runner():
    """pyodps' local runner decodes BINARY arguments as UTF-8 unless string_as_binary is set
    (then STRING arguments arrive as bytes, which the UDTF accepts)."""
    old = options.tunnel.string_as_binary
    options.tunnel.string_as_binary = True
    try:
        yield
    finally:
        options.tunnel.string_as_binary = old


def udtf_args(row: SourceRow, method: str, params: str = "{}", naive_utc: bool = True) -> list:
    """A source row as the UDTF's arguments; ``acquired`` as MaxCompute hands it over (a naive
    datetime in the job's time zone, UTC)."""
    cells = row.to_dict()
    if naive_utc:
        cells["acquired"] = cells["acquired"].astimezone(timezone.utc).replace(tzinfo=None)
    return [method, params] + [cells[name] for name in records.SOURCE_COLUMNS]


def run_udtf(args_list) -> list:
    with binary_safe_runner():
        out = runners.simple_run(GmiUdtf, args_list)
    return [dict(zip(records.RESULT_COLUMNS, values)) for values in out]


def small_row(granule: str, tile=(5, 7), minute: int = 2, seed: int = 1) -> SourceRow:
    """A 8 x 10 px granule on a 16 px tile (params tile_px=16), with 6S coefficients."""
    rng = np.random.default_rng(seed)
    return SourceRow(
        granule_id=granule, tile_x=tile[0], tile_y=tile[1],
        acquired=datetime(2006, 9, 6, 18, minute, 42, 347000, tzinfo=timezone.utc),
        min_row=2, max_row=9, min_col=3, max_col=12,
        bands={b: rng.integers(1, 250, (8, 10), dtype=np.uint8) for b in DN_BANDS},
        meta={"gains": {b: "NOR" for b in DN_BANDS}, "sun_elevation": 50.0},
        ac={"bands": {b: {"xa": 0.003, "xb": 0.1, "xc": 0.05} for b in DN_BANDS}, "source": "test"},
        quality={"swir_usable": True, "cloud_cover": 3.0})


# ---------------------------------------------------------------------------------------------
# Acceptance: byte-identical to the local backend on the demo workspace


def test_udtf_under_pyodps_runner_is_byte_identical_to_local_backend(demo_workspace, capsys):
    ws, _ = demo_workspace
    method = "mineral_indices"
    reference = local_reference(ws, method)
    with LocalStore(ws, create=False) as store:
        # iter_source_rows yields (tile_x, tile_y, acquired, granule_id) order: DISTRIBUTE/SORT BY
        args = [udtf_args(row, method) for row in store.iter_source_rows()]
    tiles_in_order = [(a[3], a[4]) for a in args]
    assert len(set(tiles_in_order)) == 2 and tiles_in_order == sorted(tiles_in_order)
    out = run_udtf(args)
    got = {(c["tile_x"], c["tile_y"], c["method"], c["output"]): c for c in out}
    assert len(out) == len(got) == len(reference) == 2 * 24  # 23 indices + mask per tile; close() flushed
    assert got.keys() == reference.keys()
    for key, cells in reference.items():
        assert got[key] == cells, key  # every cell, blob bytes and meta text, identical
    assert all(len(c["data"]) <= 8 * 1024 * 1024 for c in out)
    assert capsys.readouterr().err.count("gmi_udtf: tile ") == 2  # one Logview line per tile


def test_udtf_signature_is_the_table_schemas():
    in_types, out_types = runners.parse_proto(get_annotation(GmiUdtf))
    assert [t.name for t in in_types] == ["string", "string"] + [c.odps_type.lower() for c in SOURCE_SCHEMA.columns]
    assert [t.name for t in out_types] == [c.odps_type.lower() for c in RESULT_SCHEMA.columns]
    assert records.SOURCE_COLUMNS == SOURCE_SCHEMA.names
    assert records.RESULT_COLUMNS == RESULT_SCHEMA.names
    assert records.MASK_OUTPUT == pipeline.MASK_OUTPUT


def test_udtf_flushes_per_tile_and_in_close_on_small_rows():
    rows = [small_row("AST_L1T_a", (5, 7), 2, 1), small_row("AST_L1T_b", (5, 7), 4, 2),
            small_row("AST_L1T_a", (6, 7), 2, 3)]
    out = run_udtf([udtf_args(r, "mosaic", '{"tile_px":16}') for r in rows])
    assert [(c["tile_x"], c["tile_y"]) for c in out] == [(5, 7)] * 12 + [(6, 7)] * 12
    # the same cells as the local runner's path: kernel_row(SourceRow) -> run -> ResultRow.to_dict()
    for tile, group in (((5, 7), rows[:2]), ((6, 7), rows[2:])):
        kernel_rows = [local_kernel_row(r) for r in group]
        digest = pipeline.inputs_digest(kernel_rows, "mosaic", SMALL)
        for res in pipeline.run("mosaic", kernel_rows, SMALL):
            meta = dict(res["meta"], inputs_sha256=digest)
            expected = ResultRow(res["tile_x"], res["tile_y"], res["method"], res["output"], res["data"],
                                 meta).to_dict()
            assert next(c for c in out if (c["tile_x"], c["tile_y"], c["output"]) == tile + (res["output"],)) \
                == expected


def test_udtf_refuses_rows_not_grouped_by_tile():
    rows = [small_row("AST_L1T_a", (5, 7), 2, 1), small_row("AST_L1T_a", (6, 7), 2, 2),
            small_row("AST_L1T_b", (5, 7), 4, 3)]
    with pytest.raises(BackendError, match=r"tile 5,7 .*AST_L1T_b.*DISTRIBUTE BY"):
        run_udtf([udtf_args(r, "mosaic", '{"tile_px":16}') for r in rows])


def test_udtf_method_and_params_must_be_constant_and_valid():
    row = small_row("AST_L1T_a")
    with pytest.raises(GmiInputError, match="must be constants"):
        run_udtf([udtf_args(row, "mosaic", '{"tile_px":16}'), udtf_args(row, "mosaic", '{"tile_px":32}')])
    with pytest.raises(GmiInputError, match="unknown key 'tile_size'"):
        run_udtf([udtf_args(row, "mosaic", '{"tile_size":16}')])
    with pytest.raises(GmiInputError, match="params argument is not valid"):
        run_udtf([udtf_args(row, "mosaic", "{tile_px:16")])


def test_udtf_never_forwards_a_cell_over_8_mib(monkeypatch):
    big = np.frombuffer(np.random.default_rng(0).bytes(1100 * 1000 * 8), dtype=np.float64).reshape(1100, 1000)
    # 8.8 MB of random bits: zlib cannot bring it under 8 MiB

    def huge_run(method, rows, params=None):
        return [{"tile_x": 5, "tile_y": 7, "method": method, "output": "b01", "data": big, "meta": {}}]

    monkeypatch.setattr(pipeline, "run", huge_run)
    for params in ('{"tile_px":16,"udtf_on_error":"fail"}', '{"tile_px":16}'):
        forwarded = []
        obj = GmiUdtf()
        obj.forward = lambda *cells: forwarded.append(dict(zip(records.RESULT_COLUMNS, cells)))
        with binary_safe_runner():
            obj.process(*udtf_args(small_row("AST_L1T_a"), "mosaic", params))
            if "fail" in params:  # --fail-fast: the job fails, nothing was forwarded
                with pytest.raises(CellTooLargeError, match=r"tile 5,7 mosaic b01.*8 MiB"):
                    obj.close()
                assert forwarded == []
            else:  # default: the tile's error row instead of the oversized cell
                obj.close()
                assert [c["output"] for c in forwarded] == [records.ERROR_OUTPUT]
                assert "tile 5,7 mosaic b01" in json.loads(forwarded[0]["meta"])["error"]


# ---------------------------------------------------------------------------------------------
# One bad tile: an error row, the other tiles complete; --fail-fast fails the job


def _corrupt(args: list, column: str, value) -> list:
    args = list(args)
    args[2 + records.SOURCE_COLUMNS.index(column)] = value
    return args


def test_a_tile_that_fails_becomes_one_error_row_and_the_next_tiles_complete():
    params = '{"tile_px":16}'
    rows = [small_row("AST_L1T_a", (5, 7), 2, 1), small_row("AST_L1T_b", (6, 7), 2, 2),
            small_row("AST_L1T_c", (6, 7), 4, 3), small_row("AST_L1T_d", (7, 7), 2, 4)]
    args = [udtf_args(r, "mosaic", params) for r in rows]
    args[1] = _corrupt(args[1], "b01", b"not a GMI blob")
    out = run_udtf(args)
    assert [(c["tile_x"], c["tile_y"]) for c in out] == [(5, 7)] * 12 + [(6, 7)] + [(7, 7)] * 12
    error = out[12]
    assert (error["output"], error["data"], error["height"], error["width"]) == (records.ERROR_OUTPUT, b"", 0, 0)
    meta = json.loads(error["meta"])
    assert "AST_L1T_b" in meta["error"] and "b01" in meta["error"]
    assert meta["granules"] == ["AST_L1T_b", "AST_L1T_c"]
    assert meta["kernel_version"] == KERNEL_VERSION
    # the good tiles are exactly what they are without the bad one
    alone = run_udtf([args[0], args[3]])
    assert out[:12] + out[13:] == alone


def test_fail_fast_fails_the_whole_job_on_the_first_bad_tile():
    params = '{"tile_px":16,"udtf_on_error":"fail"}'
    rows = [small_row("AST_L1T_a", (5, 7), 2, 1), small_row("AST_L1T_b", (6, 7), 2, 2)]
    args = [udtf_args(r, "mosaic", params) for r in rows]
    with pytest.raises(BlobError, match="granule AST_L1T_b tile 6,7: b01"):
        run_udtf([args[0], _corrupt(args[1], "b01", b"not a GMI blob")])
    with pytest.raises(GmiInputError, match="udtf_on_error must be one of row, fail"):
        run_udtf([udtf_args(rows[0], "mosaic", '{"udtf_on_error":"skip"}')])


# ---------------------------------------------------------------------------------------------
# records: cells <-> kernel rows


def _assert_same_kernel_row(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if key in ("bands", "modis"):
            assert list(a[key]) == list(b[key])
            for name in a[key]:
                assert a[key][name].dtype == b[key][name].dtype
                assert np.array_equal(a[key][name], b[key][name])
        else:
            assert a[key] == b[key], key
    assert pipeline.inputs_digest([a], "mosaic") == pipeline.inputs_digest([b], "mosaic")


def test_kernel_row_from_cells_equals_local_runner_kernel_row(demo_workspace):
    with LocalStore(demo_workspace[0], create=False) as store:
        row = next(store.iter_source_rows())
    expected = local_kernel_row(row)
    cells = row.to_dict()
    aware = cells["acquired"]
    millis = int((aware - datetime(1970, 1, 1, tzinfo=timezone.utc)) / timedelta(milliseconds=1))
    for acquired in (aware, aware.astimezone(timezone(timedelta(hours=8))),
                     aware.astimezone(timezone.utc).replace(tzinfo=None), records.format_utc(aware),
                     records.format_utc(aware).encode(), millis):
        _assert_same_kernel_row(records.kernel_row(dict(cells, acquired=acquired)), expected)
    assert records.epoch_millis(expected["acquired"]) == millis
    # JSON and text cells may arrive as bytes (pyodps' local runner with string_as_binary)
    as_bytes = dict(cells, meta=cells["meta"].encode(), granule_id=cells["granule_id"].encode())
    _assert_same_kernel_row(records.kernel_row(as_bytes), expected)


def test_result_cells_equal_result_row_to_dict():
    data = np.linspace(0, 1, 12 * 7, dtype=np.float32).reshape(12, 7)
    data[3, 4] = np.nan
    res = {"tile_x": 1, "tile_y": 2, "method": "mosaic", "output": "b05", "data": data,
           "meta": {"a": np.float32(0.5), "b": [1, 2], "when": datetime(2006, 9, 6, tzinfo=timezone.utc)}}
    expected = ResultRow(1, 2, "mosaic", "b05", data, dict(res["meta"], inputs_sha256="ab")).to_dict()
    assert records.result_cells(res, "ab") == expected
    assert records.ordered(expected) == tuple(expected[c] for c in RESULT_SCHEMA.names)


def test_record_errors_name_granule_tile_and_column(demo_workspace):
    with LocalStore(demo_workspace[0], create=False) as store:
        cells = next(store.iter_source_rows()).to_dict()
    with pytest.raises(SchemaError, match=r"granule AST_L1T_\w+ tile 260,52\d: b01: shape"):
        records.kernel_row(dict(cells, max_row=cells["max_row"] + 1))
    with pytest.raises(SchemaError, match="b02: got text"):
        records.kernel_row(dict(cells, b02=cells["b02"].hex()))
    with pytest.raises(SchemaError, match="ac: not valid JSON"):
        records.kernel_row(dict(cells, ac="{"))
    with pytest.raises(SchemaError, match="acquired: '2006-09-06' is not ISO-8601"):
        records.kernel_row(dict(cells, acquired="2006-09-06"))
    with pytest.raises(SchemaError, match="missing column"):
        records.kernel_row({k: v for k, v in cells.items() if k != "quality"})
    with pytest.raises(SchemaError, match="data: the valid_mask output must be uint8"):
        records.result_cells({"tile_x": 1, "tile_y": 1, "method": "m", "output": "valid_mask",
                              "data": np.zeros((2, 2), np.float32), "meta": {}})
    with pytest.raises(CellTooLargeError, match="meta: cell is .* over the 8388608 byte"):
        records.check_cell_sizes({"meta": "x" * (8 * 1024 * 1024 + 1)})


def test_bundle_paths_join_sys_path(tmp_path, monkeypatch):
    (tmp_path / "work" / "gmi_numpy_1.tar.gz" / "packages").mkdir(parents=True)
    (tmp_path / "work" / "gmi_kernel_1.zip").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", list(sys.path))
    added = udtf.add_bundle_paths(["gmi_kernel_1.zip", "gmi_numpy_1.tar.gz", "absent.zip"],
                                  root=str(tmp_path / "work"))
    # work/<resource> is where MaxCompute documents an archive resource to be: it joins sys.path even
    # when this process cannot see it (yet); a pyodps-pack archive's packages/ folder joins when present.
    assert added == [str(tmp_path / "work" / "gmi_kernel_1.zip"),
                     str(tmp_path / "work" / "gmi_numpy_1.tar.gz" / "packages"),
                     str(tmp_path / "work" / "gmi_numpy_1.tar.gz"),
                     str(tmp_path / "work" / "absent.zip")]
    assert sys.path[:4] == added[::-1]


def test_a_kernel_that_does_not_import_names_what_work_holds(tmp_path, monkeypatch):
    (tmp_path / "work" / "gmi_kernel_1.zip" / "other_layout").mkdir(parents=True)
    (tmp_path / "work" / "numpy.tar.gz").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(udtf, "BUNDLE_RESOURCES", ("gmi_kernel_1.zip", "gmi_numpy_1.tar.gz"))
    monkeypatch.setitem(sys.modules, "gmi_engine.kernel", None)  # the kernel is not importable
    function = udtf.GmiUdtf()
    with pytest.raises(ImportError) as caught:
        function.process("mosaic", "{}", *([None] * 19))
    message = str(caught.value)
    assert isinstance(caught.value, udtf.BundleImportError)
    assert "gmi_engine.kernel" in message and "gmi_kernel_1.zip, gmi_numpy_1.tar.gz" in message
    assert "work/ holds: gmi_kernel_1.zip/other_layout, numpy.tar.gz" in message


def test_udtf_and_records_are_python_37_compatible():
    cmd = [str(Path(sys.executable).with_name("vermin")), "-t=3.7-", "--no-tips", "--violations",
           str(REPO / "gmi_engine" / "backends" / "udtf.py"), str(REPO / "gmi_engine" / "kernel")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    source = (REPO / "gmi_engine" / "backends" / "udtf.py").read_text()
    imports = sorted({line.split()[1] for line in source.splitlines()
                      if line.startswith(("import ", "from "))})
    assert imports == ["json", "odps.udf", "os", "sys", "time"]  # numpy + stdlib + odps.udf only
