"""``gmi run``: compute a method over a workspace's tiles (the reference's Script3)."""
from __future__ import annotations

import argparse
from pathlib import Path

from gmi_engine.cli.odps import add_job_options
from gmi_engine.cli.options import (
    add_file_options,
    add_method,
    add_method_params,
    add_tiles,
    add_workspace,
    file_options,
    method_params,
)
from gmi_engine.errors import BackendError, GmiInputError

_EXAMPLES = """examples:
  gmi run --workspace ws --method mineral_indices            # all cores, resumable
  gmi run --workspace ws --method mosaic --strategy median --workers 1
  gmi run --workspace ws --method mineral_indices --indices ferric_iron kaolinite_index --tiles 260,526
  gmi run --workspace ws --method mineral_indices --backend odps   # see `gmi odps --help`
  gmi run --workspace ws --method mineral_indices --backend dask --local-cluster 4
  gmi run --workspace ws --method mineral_indices --backend dask --scheduler tcp://10.0.0.5:8786
  gmi run --workspace ws --method mineral_indices --export out     # + GeoTIFFs, VRTs, styles, STAC

Methods: mosaic (9-band surface reflectance + provenance), color_balancing (the mosaic balanced
to MOD09A1, --balance-method shape|block|tasseled_cap), mineral_indices (the index library on the balanced mosaic).
A rerun skips tiles whose inputs and parameters did not change (--force recomputes them).
--export writes what `gmi export` would, while the tiles are computed (one pass, no decoding of
the stored results; local and dask backends; with dask the export folder must be on a
filesystem the workers share). With --export the store keeps each exported output as a reference
to its GeoTIFF instead of a second compressed copy (--store-cells keeps both, so the workspace
does not depend on the export folder). --backend dask: docs/dask.md (LocalCluster, SLURM/PBS, Kubernetes).
"""


def _cmd_run(args) -> int:
    from gmi_engine.backends.local_runner import run_local
    from gmi_engine.progress import ProgressBar

    if args.backend == "odps":
        if args.export is not None:
            raise GmiInputError("--export works with the local backend; after an ODPS run, download "
                                "the results and use `gmi export`")
        try:
            from gmi_engine.cli.odps import run_from_cli
        except ImportError:
            raise BackendError("--backend odps: the MaxCompute backend is not part of this "
                               "build yet") from None
        return run_from_cli(args)
    if args.backend != "dask" and (args.scheduler or args.local_cluster):
        raise GmiInputError("--scheduler and --local-cluster go with --backend dask")
    params = method_params(args)
    tiles = args.tiles or None
    export = None
    if args.export is not None:
        from gmi_engine.backends.local_runner import ExportJob

        export = ExportJob(str(args.export), file_options(args), store_files=not args.store_cells)
    if args.backend == "dask":
        from gmi_engine.backends.dask import run_dask

        report = run_dask(args.workspace, args.method, params, scheduler=args.scheduler,
                          local_cluster=args.local_cluster or (None if args.scheduler else args.workers),
                          tiles=tiles, progress=ProgressBar(100, args.method), force=args.force, export=export)
    else:
        report = run_local(args.workspace, args.method, params, workers=args.workers, tiles=tiles,
                           progress=ProgressBar(100, args.method), force=args.force, export=export)
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
    add_workspace(p, "workspace folder (made by gmi ingest)")
    add_method(p)
    p.add_argument("--backend", choices=("local", "odps", "dask"), default="local")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    dask = p.add_mutually_exclusive_group()
    dask.add_argument("--scheduler", metavar="ADDRESS",
                      help="--backend dask: a running Dask scheduler (tcp://host:8786)")
    dask.add_argument("--local-cluster", type=int, metavar="N",
                      help="--backend dask: start a LocalCluster of N worker processes "
                           "(default without --scheduler: --workers, else all cores)")
    add_tiles(p)
    add_method_params(p)
    p.add_argument("--force", action="store_true", help="recompute tiles that are up to date")
    add_job_options(p)
    export = p.add_argument_group("export while computing (local backend; as `gmi export`)")
    export.add_argument("--export", type=Path, metavar="DIR",
                        help="also write GeoTIFF/COG per tile and output, VRTs, styles, STAC to DIR")
    export.add_argument("--store-cells", action="store_true",
                        help="keep the exported outputs' pixels in the store too (default: the store "
                             "refers to the GeoTIFFs, so each result is compressed once)")
    add_file_options(export)
    p.set_defaults(func=_cmd_run)
