"""``gmi table …``: inspect the workspace table store and exchange it with the reference engine's CSV."""
from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, List, Optional

from gmi_engine.cli.options import command_group, subcommand, tile_arg
from gmi_engine.errors import GmiInputError
from gmi_engine.table import STORE_FILENAME

if TYPE_CHECKING:
    from gmi_engine.table import SourceRow

log = logging.getLogger(__name__)

_RAW = argparse.RawDescriptionHelpFormatter
IMPORT_BATCH_ROWS = 16
"""Rows per import transaction: bounds memory; a re-import replaces the same rows (idempotent)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``table`` command group."""
    cmds = command_group(sub, "table", "TABLE_COMMAND", dest="table_command",
                         help="inspect the table store; import/export the reference CSV",
                         description=__doc__ + "\n\nThe store is DIR/" + STORE_FILENAME
                         + ", a GeoPackage that QGIS opens as layers.", formatter_class=_RAW)

    info = subcommand(
        cmds, "info", _info, help="tiles, granules, rows and bytes of a workspace store",
        description="Summarise the workspace store: tiles, granules, source and result rows, sizes.\n\n"
                    "examples:\n  gmi table info --workspace work/\n  gmi table info --workspace work/ --json")
    _workspace(info)
    info.add_argument("--json", action="store_true", help="print the numbers as one JSON object")

    export = subcommand(
        cmds, "export-csv", _export, help="write source rows as a reference-engine CSV (hex cells)",
        description="Write the workspace's source rows in the reference engine's CSV layout (the\n"
                    "columns of its Script1/Script2, band cells as hex text), e.g. for its\n"
                    "Script2_upload_table_to_odps.py. GMI-only fields travel in reserved JSON keys,\n"
                    "so an export imports back losslessly.\n\n"
                    "examples:\n  gmi table export-csv --workspace work/ rows.csv\n"
                    "  gmi table export-csv --workspace work/ --tile 260,526 chino.csv\n"
                    "  gmi table export-csv --workspace work/ \\\n"
                    "      --granule AST_L1T_00309062006180242_20150516014601_17781 g.csv")
    _workspace(export)
    export.add_argument("out", metavar="OUT.csv", type=Path, help="CSV file to write (overwritten)")
    export.add_argument("--tile", action="append", type=tile_arg, metavar="IX,IY",
                        help="only this tile (repeatable)")
    export.add_argument("--granule", action="append", metavar="ID", help="only this granule (repeatable)")

    imp = subcommand(
        cmds, "import-csv", _import, help="read reference-engine CSVs into the store",
        description="Read CSVs in the reference engine's layout (as written by its Script1 or by\n"
                    "'gmi table export-csv') into the workspace store. A row replaces the stored row\n"
                    "of the same granule and tile, so importing twice changes nothing. Rows are\n"
                    "written {} at a time; on an error the rows before the bad line stay imported.\n\n"
                    "examples:\n  gmi table import-csv --workspace work/ GMI_ComputeEngine_Demo_ASTER_Tiles_Table.csv\n"
                    "  gmi table import-csv --workspace work/ a.csv b.csv".format(IMPORT_BATCH_ROWS))
    _workspace(imp)
    imp.add_argument("inputs", nargs="+", metavar="IN.csv", type=Path, help="CSV file(s) to read")


def _workspace(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", "-w", required=True, type=Path, metavar="DIR",
                        help="workspace directory holding " + STORE_FILENAME)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return "{:.0f} {}".format(n, unit) if unit == "B" else "{:.1f} {}".format(n, unit)
        n /= 1024.0
    return str(n)  # pragma: no cover


def _info(args: argparse.Namespace) -> int:
    from gmi_engine.backends.local import LocalStore

    with LocalStore(args.workspace, create=False) as store:
        stats = store.stats()
    if args.json:
        out = asdict(stats)
        out["methods"] = list(stats.methods)
        out["bytes_per_source_row"] = stats.bytes_per_source_row
        print(json.dumps(out, indent=2))
        return 0
    print("store        {}".format(stats.path))
    print("grid         {}".format(stats.grid))
    print("tiles        {}".format(stats.tiles))
    print("granules     {}".format(stats.granules))
    print("source rows  {}  (blobs {}, {} per row)".format(
        stats.source_rows, _size(stats.source_blob_bytes), _size(stats.bytes_per_source_row)))
    print("result rows  {}  on {} tiles, methods: {}  (blobs {})".format(
        stats.result_rows, stats.result_tiles, ", ".join(stats.methods) or "-", _size(stats.result_blob_bytes)))
    if stats.result_file_cells:
        print("             {} of them kept in their exported GeoTIFFs (gmi run --export)".format(
            stats.result_file_cells))
    print("file         {}".format(_size(stats.file_bytes)))
    return 0


def _export(args: argparse.Namespace) -> int:
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.refcsv import write_reference_csv

    with LocalStore(args.workspace, create=False) as store:
        rows = store.iter_source_rows(tiles=args.tile, granules=args.granule)
        count = write_reference_csv(args.out, rows, grid=store.grid)
    print("wrote {} source rows to {}".format(count, args.out))
    return 0


def _batches(rows: Iterator["SourceRow"], size: int) -> Iterator[List["SourceRow"]]:
    while True:
        batch = list(islice(rows, size))
        if not batch:
            return
        yield batch


def _import(args: argparse.Namespace) -> int:
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.refcsv import read_reference_csv

    missing = [str(p) for p in args.inputs if not p.is_file()]
    if missing:
        raise GmiInputError("no such CSV file: {}".format(", ".join(missing)))
    total = 0
    with LocalStore(args.workspace) as store:
        for path in args.inputs:
            count = 0
            for batch in _batches(read_reference_csv(path, grid=store.grid), IMPORT_BATCH_ROWS):
                count += store.upsert_source_rows(_dedupe(batch, path))
            log.info("%s: %d rows", path, count)
            total += count
    print("imported {} source rows into {}".format(total, Path(args.workspace) / STORE_FILENAME))
    return 0


def _dedupe(batch: List["SourceRow"], path: Optional[Path]) -> List["SourceRow"]:
    """Keep the last of rows repeating a (granule, tile) inside one batch, as a re-import would."""
    by_key = {}
    for row in batch:
        key = (row.granule_id, row.tile_x, row.tile_y)
        if key in by_key:
            log.warning("%s: granule %s tile (%d, %d) appears more than once; the last row wins",
                        path, key[0], key[1], key[2])
        by_key[key] = row
    return list(by_key.values())
