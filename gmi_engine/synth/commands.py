"""``gmi synth …``: write realistic synthetic AST_L1T / MCD19A2 / MOD09A1 / GDEM files."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``synth`` command group."""
    p = sub.add_parser("synth", help="write synthetic ASTER/MODIS/GDEM products",
                       description=__doc__)
    p.set_defaults(func=lambda args: p.print_help())
