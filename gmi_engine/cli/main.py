"""The ``gmi`` command.

Each area of the engine registers its own sub-commands through a ``register(subparsers)``
function listed in :data:`COMMAND_MODULES`; this module only wires them together and turns
:class:`~gmi_engine.errors.GmiError` into one clear line (a traceback with ``--debug``).
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

from gmi_engine import __version__
from gmi_engine.errors import GmiError

# Modules exposing ``register(subparsers: argparse._SubParsersAction) -> None``.
COMMAND_MODULES: list[str] = [
    "gmi_engine.synth.commands",
    "gmi_engine.grid_commands",
    "gmi_engine.ingest_commands",
    "gmi_engine.run_commands",
    "gmi_engine.demo_commands",
    "gmi_engine.table_commands",
    "gmi_engine.export_commands",
    "gmi_engine.backends.odps_commands",
    "gmi_engine.atmosphere.commands",
]


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
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
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
