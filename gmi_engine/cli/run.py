"""``gmi run``: compute a method over a workspace's tiles (the reference's Script3)."""
from __future__ import annotations

import argparse
from pathlib import Path

from gmi_engine.errors import BackendError, GmiInputError
from gmi_engine.export_commands import add_file_options, file_options

_EXAMPLES = """examples:
  gmi run --workspace ws --method mineral_indices            # all cores, resumable
  gmi run --workspace ws --method mosaic --strategy median --workers 1
  gmi run --workspace ws --method mineral_indices --indices ferric_iron kaolinite_index --tiles 260,526
  gmi run --workspace ws --method mineral_indices --backend odps   # see `gmi odps --help`
  gmi run --workspace ws --method mineral_indices --export out     # + GeoTIFFs, VRTs, styles, STAC

Methods: mosaic (9-band surface reflectance + provenance), color_balancing (the mosaic balanced
per band to MOD09A1), mineral_indices (the index library on the balanced mosaic).
A rerun skips tiles whose inputs and parameters did not change (--force recomputes them).
--export writes what `gmi export` would, while the tiles are computed (one pass, no decoding of
the stored results; local backend).
"""


def _cmd_run(args) -> int:
    from gmi_engine.backends.local_runner import run_local
    from gmi_engine.ingest_commands import parse_tile
    from gmi_engine.progress import ProgressBar

    if args.backend == "odps":
        if args.export is not None:
            raise GmiInputError("--export works with the local backend; after an ODPS run, download "
                                "the results and use `gmi export`")
        try:
            from gmi_engine.backends.odps_commands import run_from_cli
        except ImportError:
            raise BackendError("--backend odps: the MaxCompute backend is not part of this "
                               "build yet") from None
        return run_from_cli(args)
    params = {"strategy": args.strategy, "balance": not args.no_balance}
    if args.indices:
        params["indices"] = list(args.indices)
    tiles = [parse_tile(t) for t in args.tiles] if args.tiles else None
    bar = None

    def progress(done, total, tile, note):
        nonlocal bar
        if bar is None:
            bar = ProgressBar(total, args.method)
        bar.update(done, note if tile is None else "{} {},{}".format(note, tile.ix, tile.iy))

    export = None
    if args.export is not None:
        from gmi_engine.backends.local_runner import ExportJob

        export = ExportJob(str(args.export), file_options(args))
    report = run_local(args.workspace, args.method, params, workers=args.workers, tiles=tiles,
                       progress=progress, force=args.force, export=export)
    print("{}: {} tiles computed, {} up to date{}".format(
        args.method, len(report.computed), len(report.skipped),
        " (cancelled)" if report.cancelled else ""))
    if report.export is not None:
        print(report.export.summary())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` command."""
    p = sub.add_parser("run", help="compute mosaic / color_balancing / mineral_indices (Script3)",
                       description=__doc__, epilog=_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workspace", "-w", required=True, help="workspace folder (made by gmi ingest)")
    p.add_argument("--method", "-m", required=True,
                   choices=("mosaic", "color_balancing", "mineral_indices"))
    p.add_argument("--backend", choices=("local", "odps"), default="local")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--tiles", nargs="*", metavar="IX,IY", help="only these tiles")
    p.add_argument("--strategy", default="best-pixel", choices=("best-pixel", "first-valid", "median"),
                   help="how granules are combined (default best-pixel)")
    p.add_argument("--no-balance", action="store_true",
                   help="mineral_indices on the unbalanced mosaic")
    p.add_argument("--indices", nargs="*", metavar="ID", help="only these index ids")
    p.add_argument("--force", action="store_true", help="recompute tiles that are up to date")
    export = p.add_argument_group("export while computing (local backend; as `gmi export`)")
    export.add_argument("--export", type=Path, metavar="DIR",
                        help="also write GeoTIFF/COG per tile and output, VRTs, styles, STAC to DIR")
    add_file_options(export)
    p.set_defaults(func=_cmd_run)
