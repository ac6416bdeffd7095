"""The ``gmi`` command.

Each command group is one module of this package with a ``register(subparsers)`` function
(listed in :data:`COMMAND_MODULES`); this module only wires them together and turns
:class:`~gmi_engine.errors.GmiError` into one clear line (a traceback with ``--debug``).
Command modules import GDAL and the heavy engine parts inside their command functions, so
``gmi --help`` (and argument errors) stay fast and need no GDAL.
"""
from __future__ import annotations

import argparse
import logging
import sys
from types import ModuleType
from typing import Sequence, Tuple

from gmi_engine import __version__
from gmi_engine.cli import demo, export, fetch, grid, ingest, lut, odps, run, synth, table
from gmi_engine.errors import GmiError
from gmi_engine.memory import fix_mmap_threshold

#: Command groups in ``gmi --help`` order; each has ``register(subparsers) -> None``.
COMMAND_MODULES: Tuple[ModuleType, ...] = (synth, grid, fetch, ingest, run, demo, table, export, odps, lut)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="gmi",
        description="GMI: ASTER L1T granules to atmospherically corrected mosaics and mineral indices.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="gmi " + __version__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gmi`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    fix_mmap_threshold()  # this process is ours (not QGIS's): RSS flat over long jobs
    try:
        return int(args.func(args) or 0)
    except GmiError as exc:
        if args.debug:
            raise
        print("gmi: error: {}".format(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gmi: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
