"""``gmi odps check|deploy|upload|run|download|status|cancel|prune`` and ``gmi run --backend odps``.

Credentials are read from the environment (or a pyodps room), never from arguments: see
``gmi odps check --help`` and docs/maxcompute.md.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Dict, List, Optional

from gmi_engine.backends.odps import default_batch
from gmi_engine.cli.options import add_method, add_method_params, add_tiles, method_params, tile_arg
from gmi_engine.errors import GmiInputError
from gmi_engine.grid import TileIndex
from gmi_engine.kernel.pipeline import METHODS

_EXAMPLES = """examples:
  export ODPS_ACCESS_ID=... ODPS_SECRET_ACCESS_KEY=... ODPS_PROJECT_NAME=my_project
  export ODPS_ENDPOINT=https://service.cn-shanghai.maxcompute.aliyun.com/api
  gmi odps check
  gmi odps deploy --numpy-archive numpy-1.21.6-cp37-cp37m-manylinux_2_12_x86_64.manylinux2010_x86_64.whl
  gmi odps check --smoke --workspace ws                           # one tile end to end, first
  gmi odps upload --workspace ws --lifecycle 30
  gmi odps run --workspace ws --method mineral_indices          # submit, follow, download
  gmi odps run --workspace ws --method mosaic --no-wait           # submit only
  gmi odps status --workspace ws                                  # the last run
  gmi odps download --workspace ws
  gmi odps cancel --workspace ws
  gmi odps prune --keep 3                                         # old result partitions

Credentials: {env}
"""


def _backend(args, **overrides: Any):
    from gmi_engine.backends.odps import OdpsBackend, OdpsConfig

    config = OdpsConfig.from_env(
        project=getattr(args, "project", None), endpoint=getattr(args, "endpoint", None),
        tunnel_endpoint=getattr(args, "tunnel_endpoint", None), quota=getattr(args, "quota", None))
    return OdpsBackend(config, source_table=getattr(args, "source_table", None) or "gmi_source",
                       result_table=getattr(args, "result_table", None) or "gmi_result",
                       function=getattr(args, "function", None) or "gmi_udtf", **overrides)


def _tiles(values: Optional[List[TileIndex]]) -> Optional[List[TileIndex]]:
    """The parsed ``--tiles`` (None for all tiles)."""
    return list(values) if values else None


def _params(args) -> Dict[str, Any]:
    return method_params(args)


def _hints(args) -> Dict[str, str]:
    from gmi_engine.backends.odps import DEFAULT_BATCH_ROWCOUNT, DEFAULT_REDUCER_MEMORY_MB, job_hints

    extra = {}
    for item in getattr(args, "hint", None) or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise GmiInputError("--hint: {!r} is not KEY=VALUE".format(item))
        extra[key.strip()] = value.strip()
    return job_hints(getattr(args, "batch_rowcount", None) or DEFAULT_BATCH_ROWCOUNT,
                     getattr(args, "reducer_memory", None) or DEFAULT_REDUCER_MEMORY_MB,
                     reducers=getattr(args, "reducers", None), max_workers=getattr(args, "max_workers", None),
                     udf_memory_mb=getattr(args, "udf_memory", None), extra=extra)


FAILED_TILES_EXIT = 3
"""Exit status of a MaxCompute run that finished but with tiles the kernel failed on."""


def _failed_exit(failures) -> int:
    return FAILED_TILES_EXIT if failures else 0


def _bar(label: str):
    from gmi_engine.progress import ProgressBar

    bar = ProgressBar(100, label)

    def progress(fraction: float, note: str) -> None:
        bar.update(int(round(100 * max(0.0, min(1.0, fraction)))), note)

    return progress


# ---------------------------------------------------------------------------------------------
# Looking up recorded runs


def _last_run(workspace, run: Optional[str] = None) -> Dict[str, Any]:
    from gmi_engine.backends.odps import load_state

    state = load_state(workspace)
    run = run or state.get("last_run")
    if not run or run not in state.get("runs", {}):
        raise GmiInputError("{}: no MaxCompute run recorded{}; give --instance / --run".format(
            workspace, " named {!r}".format(run) if run else ""))
    return dict(state["runs"][run], run=run)


def _instance(args) -> str:
    if getattr(args, "instance", None):
        return args.instance
    if not getattr(args, "workspace", None):
        raise GmiInputError("give --instance ID or --workspace (to use its last run)")
    return _last_run(args.workspace)["instance"]


# ---------------------------------------------------------------------------------------------
# Sub-commands


def _cmd_smoke(args) -> int:
    from gmi_engine.backends.odps import smoke_check

    if not args.workspace:
        raise GmiInputError("--smoke needs --workspace (one of its tiles is run on MaxCompute)")
    result = smoke_check(_backend(args), args.workspace, tile=args.tile, method=args.method,
                         keep=args.keep, progress=_bar("smoke"))
    print(result.summary())
    if result.logview:
        print("Logview: {}".format(result.logview))
    return 0 if result.ok else 1


def _cmd_check(args) -> int:
    from gmi_engine.backends.odps import OdpsConfig

    if args.smoke:
        return _cmd_smoke(args)
    backend = _backend(args)
    print("connection: {}".format(backend.config.describe()))
    for name in (backend.source_table, backend.result_table):
        with backend._errors("look up table {}".format(name)):
            exists = backend.odps.exist_table(name)
        print("table {}: {}".format(name, "present" if exists else "missing (created by gmi odps upload)"))
    ok, note = backend.check_function()
    print(("ok: " if ok else "not ready: ") + note)
    if args.workspace:
        print("workspace batch: {}".format(default_batch(args.workspace)))
    print("credentials are read from: {}".format(OdpsConfig.ENV_HELP))
    return 0 if ok else 1


def _cmd_deploy(args) -> int:
    from gmi_engine.backends.odps import deploy_plan

    plan = deploy_plan(Path(args.numpy_archive) if args.numpy_archive else None, args.numpy_resource,
                       args.function or "gmi_udtf")
    report = _backend(args).deploy(plan)
    print("function {} {}: {}".format(report.function, report.function_action, report.class_type))
    print("resources: {}".format(", ".join(report.resources)))
    print("uploaded: {}".format(", ".join(report.uploaded) or "nothing (all resources already present)"))
    return 0


def _cmd_upload(args) -> int:
    from gmi_engine.backends.odps import upload_if_changed

    batch = args.batch or default_batch(args.workspace)
    upload_if_changed(_backend(args), args.workspace, batch, _tiles(args.tiles), force=True,
                      lifecycle=args.lifecycle, progress=_bar("upload"), notes=print)
    return 0


def _cmd_run(args) -> int:
    from gmi_engine.backends.odps import download_and_record, submit_and_record

    backend = _backend(args)
    batch = args.batch or default_batch(args.workspace)
    tiles = _tiles(args.tiles)
    job = submit_and_record(backend, args.workspace, batch, args.method, _params(args), tiles, _hints(args),
                            notes=print, fail_fast=args.fail_fast)
    if args.no_wait:
        return 0
    backend.wait(job.instance_id, progress=_bar(args.method), timeout=args.timeout, interval=args.poll)
    if args.no_download:
        return 0
    download = download_and_record(backend, args.workspace, batch, job.run, progress=_bar("download"), notes=print)
    return _failed_exit(download.failures)


def _cmd_prune(args) -> int:
    from gmi_engine.backends.odps import load_state, now_text, save_state

    backend = _backend(args)
    dropped = backend.prune(args.keep, batch=args.batch, dry_run=args.dry_run)
    verb = "would drop" if args.dry_run else "dropped"
    for part in dropped:
        print("{} {} partition {}".format(verb, backend.result_table, part.spec))
    remaining = len(backend.result_partitions())
    print("{} {} partition(s); {} now holds {} (MaxCompute allows at most 60,000 per table)".format(
        verb, len(dropped), backend.result_table, remaining))
    if args.workspace and dropped and not args.dry_run:
        state = load_state(args.workspace)
        for part in dropped:
            if part.run in state.get("runs", {}):
                state["runs"][part.run]["pruned"] = now_text()
        save_state(args.workspace, state)
    return 0


def _cmd_download(args) -> int:
    if args.run and args.batch:
        batch, run = args.batch, args.run
    else:
        entry = _last_run(args.workspace, args.run)
        batch, run = args.batch or entry["batch"], entry["run"]
    from gmi_engine.backends.odps import download_and_record

    download = download_and_record(_backend(args), args.workspace, batch, run, progress=_bar("download"),
                                   notes=print)
    return _failed_exit(download.failures)


def _print_status(status) -> None:
    print("instance {}: {} {:.0f}% {}".format(status.instance_id, status.state, 100 * status.fraction,
                                             status.stages).rstrip())
    if status.error or status.summary:
        from gmi_engine.backends.odps import OdpsBackend

        print(OdpsBackend.failure_text(status))
    elif status.logview:
        print("Logview: {}".format(status.logview))


def _cmd_status(args) -> int:
    status = _backend(args).status(_instance(args))
    _print_status(status)
    return 0 if status.state in ("running", "success") else 1


def _cmd_cancel(args) -> int:
    status = _backend(args).cancel(_instance(args))
    _print_status(status)
    return 0


def run_from_cli(args) -> int:
    """``gmi run --backend odps``: upload (if changed), check the UDTF, run, follow, download."""
    from gmi_engine.backends.odps import run_odps

    if getattr(args, "workers", None):
        print("note: --workers is ignored with --backend odps (MaxCompute sets the parallelism)")

    params = method_params(args)  # type: Dict[str, Any]
    report = run_odps(_backend(args), args.workspace, args.method, params, _tiles(args.tiles),
                      force_upload=bool(args.force), hints=_hints(args),
                      poll_seconds=getattr(args, "poll", None) or 5.0, progress=_bar(args.method), notes=print,
                      fail_fast=bool(getattr(args, "fail_fast", False)))
    print("{}: done on MaxCompute (instance {}){}; Logview: {}".format(
        args.method, report.instance_id,
        ", {} tile(s) FAILED".format(len(report.failed_tiles)) if report.failed_tiles else "", report.logview))
    return _failed_exit(report.failed_tiles)


# ---------------------------------------------------------------------------------------------
# Parser


def _connection_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connection (credentials come from the environment only)")
    g.add_argument("--project", help="MaxCompute project (default: $ODPS_PROJECT_NAME)")
    g.add_argument("--endpoint", help="service endpoint (default: $ODPS_ENDPOINT)")
    g.add_argument("--tunnel-endpoint", help="tunnel endpoint (default: $ODPS_TUNNEL_ENDPOINT or discovered)")
    g.add_argument("--quota", help="quota name for jobs and tunnel (default: $ODPS_QUOTA_NAME)")
    g.add_argument("--source-table", help="source table name (default gmi_source)")
    g.add_argument("--result-table", help="result table name (default gmi_result)")
    g.add_argument("--function", help="UDTF function name (default gmi_udtf)")


def add_job_options(p: argparse.ArgumentParser) -> None:
    """The MaxCompute job's options (``gmi odps run`` and ``gmi run --backend odps``)."""
    g = p.add_argument_group("MaxCompute job (--backend odps; flags documented in docs/maxcompute.md)")
    g.add_argument("--reducers", type=int, metavar="N",
                   help="UDTF instances sharing the tiles: odps.stage.reducer.num (default: MaxCompute's)")
    g.add_argument("--max-workers", type=int, metavar="N",
                   help="cap on the job's concurrent workers: odps.job.workers.limit (default: none)")
    g.add_argument("--reducer-memory", type=int, metavar="MB",
                   help="memory per UDTF worker: odps.stage.reducer.mem, 256..12288 (default 4096)")
    g.add_argument("--batch-rowcount", type=int, metavar="N",
                   help="rows per UDTF batch: odps.sql.executionengine.batch.rowcount (default 8)")
    g.add_argument("--udf-memory", type=int, metavar="MB",
                   help="also set odps.sql.udf.python.memory, 64..3072 (not in Alibaba's official flag list)")
    g.add_argument("--hint", action="append", metavar="KEY=VALUE",
                   help="any other MaxCompute flag, sent as given (repeatable)")
    g.add_argument("--fail-fast", action="store_true",
                   help="fail the whole job on the first tile the kernel fails on (default: that tile "
                        "becomes an error row, the others complete, exit status 3)")
    g.add_argument("--poll", type=float, default=5.0, metavar="S", help="status poll interval (default 5 s)")


def _run_args(p: argparse.ArgumentParser) -> None:
    add_tiles(p)
    add_method_params(p)
    add_job_options(p)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gmi odps`` with its sub-commands."""
    from gmi_engine.backends.odps import OdpsConfig

    top = sub.add_parser("odps", help="run on Alibaba MaxCompute (ODPS): deploy, upload, run, download",
                         description=__doc__, epilog=_EXAMPLES.format(env=OdpsConfig.ENV_HELP),
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    cmds = top.add_subparsers(dest="odps_command", metavar="STEP")

    p = cmds.add_parser("check", help="test the connection, tables and deployed UDTF (--smoke: run one tile)")
    _connection_args(p)
    p.add_argument("--workspace", "-w", help="also show this workspace's batch (--smoke: take the tile from it)")
    p.add_argument("--smoke", action="store_true",
                   help="run the deployed function on one tile end to end and compare every cell with the "
                        "local kernel (uploads that tile into its own batch, dropped afterwards)")
    p.add_argument("--tile", type=tile_arg, metavar="IX,IY", help="--smoke: this tile (default: the first)")
    p.add_argument("--method", "-m", default="mineral_indices", choices=METHODS,
                   help="--smoke: method to run (default mineral_indices)")
    p.add_argument("--keep", action="store_true", help="--smoke: keep the smoke partitions")
    p.set_defaults(func=_cmd_check)

    p = cmds.add_parser("prune", help="drop old result partitions (one per run and batch)")
    _connection_args(p)
    p.add_argument("--keep", type=int, required=True, metavar="N", help="keep the N newest runs of each batch")
    p.add_argument("--batch", help="only this batch's runs")
    p.add_argument("--dry-run", action="store_true", help="list what would be dropped")
    p.add_argument("--workspace", "-w", help="mark the dropped runs in this workspace's state file")
    p.set_defaults(func=_cmd_prune)

    p = cmds.add_parser("deploy", help="upload the kernel + UDTF + numpy archive and register the function")
    _connection_args(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--numpy-archive", metavar="FILE",
                     help="numpy cp37 manylinux x86_64 wheel, or a pyodps-pack .tar.gz")
    src.add_argument("--numpy-resource", metavar="NAME", help="a numpy archive resource already in the project")
    p.set_defaults(func=_cmd_deploy)

    p = cmds.add_parser("upload", help="upload a workspace's source rows (one batch partition)")
    _connection_args(p)
    p.add_argument("--workspace", "-w", required=True)
    p.add_argument("--batch", help="partition name (default: the workspace's recorded batch or folder name)")
    add_tiles(p, "only these tiles (the batch then holds only these)")
    p.add_argument("--lifecycle", type=int, metavar="DAYS", help="lifecycle of tables created now")
    p.set_defaults(func=_cmd_upload)

    p = cmds.add_parser("run", help="submit a method, follow its progress, download the results")
    _connection_args(p)
    p.add_argument("--workspace", "-w", required=True)
    add_method(p)
    p.add_argument("--batch", help="source batch (default: the workspace's)")
    _run_args(p)
    p.add_argument("--timeout", type=float, metavar="S", help="stop waiting after S seconds (the job goes on)")
    p.add_argument("--no-wait", action="store_true", help="submit and return")
    p.add_argument("--no-download", action="store_true", help="do not download the results")
    p.set_defaults(func=_cmd_run)

    p = cmds.add_parser("download", help="download a run's results into the workspace")
    _connection_args(p)
    p.add_argument("--workspace", "-w", required=True)
    p.add_argument("--run", help="run id (default: the last run)")
    p.add_argument("--batch", help="batch (default: the run's)")
    p.set_defaults(func=_cmd_download)

    for name, func, text in (("status", _cmd_status, "show an instance's state, progress, errors, Logview"),
                             ("cancel", _cmd_cancel, "stop an instance")):
        p = cmds.add_parser(name, help=text)
        _connection_args(p)
        p.add_argument("--workspace", "-w", help="use this workspace's last run")
        p.add_argument("--instance", help="instance id")
        p.set_defaults(func=func)

    def _help(args) -> int:
        top.print_help()
        return 2

    top.set_defaults(func=_help)
