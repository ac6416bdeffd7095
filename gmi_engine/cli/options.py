"""Options shared by several ``gmi`` commands: tiles, workspace, method and strategy, written files.

The method and strategy choices come from the kernel (:data:`gmi_engine.kernel.pipeline.METHODS`,
:data:`gmi_engine.kernel.mosaic.STRATEGIES`), so a new method appears on the command line by
itself. Nothing here imports GDAL.
"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, List, Optional

from gmi_engine.errors import GmiError
from gmi_engine.grid import TileIndex, tile_index
from gmi_engine.kernel.balance import BALANCE_DEFAULTS, BALANCE_METHODS
from gmi_engine.kernel.mosaic import STRATEGIES
from gmi_engine.kernel.pipeline import METHODS

if TYPE_CHECKING:
    from gmi_engine.export.results import ExportOptions

#: Storage types of exported reflectance bands.
REFLECTANCE_DTYPES = ("float32", "uint16")
#: GeoTIFF compressions of exported files (the first is the default); kept equal to
#: :data:`gmi_engine.export.geotiff.COMPRESSIONS` by a test, without importing GDAL here.
COMPRESSIONS = ("zstd", "deflate", "lzw", "none")


def command_group(sub: Any, name: str, metavar: str, dest: Optional[str] = None,
                  **parser_options: Any) -> Any:
    """Add the command group ``gmi NAME`` (its help when given no sub-command); returns the
    subparsers its sub-commands are added to."""
    parser = sub.add_parser(name, **parser_options)
    parser.set_defaults(func=lambda args: parser.print_help())
    return parser.add_subparsers(metavar=metavar, **({"dest": dest} if dest else {}))


def subcommand(cmds: Any, name: str, func: Any, **parser_options: Any) -> argparse.ArgumentParser:
    """Add the sub-command ``name`` that runs ``func(args)``; its description is printed as written."""
    parser = cmds.add_parser(name, formatter_class=argparse.RawDescriptionHelpFormatter, **parser_options)
    parser.set_defaults(func=func)
    return parser


def tile_arg(text: str) -> TileIndex:
    """argparse type of a tile: ``IX,IY`` (e.g. ``260,526``) or a tile key (``res-30_..._x-260_y-526``)."""
    try:
        return tile_index(text)
    except GmiError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_tiles(parser: Any, help_text: str = "only these tiles") -> None:
    """``--tiles IX,IY ...`` parsed into :class:`~gmi_engine.grid.TileIndex` values (None when absent)."""
    parser.add_argument("--tiles", nargs="*", metavar="IX,IY", type=tile_arg, help=help_text)


def add_workspace(parser: Any, help_text: str, required: bool = True) -> None:
    """``--workspace/-w DIR``."""
    parser.add_argument("--workspace", "-w", required=required, help=help_text)


def add_method(parser: Any) -> None:
    """``--method/-m`` with the kernel's methods."""
    parser.add_argument("--method", "-m", required=True, choices=METHODS)


def add_strategy(parser: Any) -> None:
    """``--strategy`` with the kernel's mosaic strategies (default best-pixel)."""
    parser.add_argument("--strategy", default=STRATEGIES[0], choices=STRATEGIES,
                        help="how granules are combined per pixel (default {}): best-pixel = the best "
                             "granule by coverage, cloud cover and date; first-valid = the earliest; "
                             "median = the medoid (the granule whose spectrum is nearest the others', "
                             "never an average of dates); docs/kernel.md".format(STRATEGIES[0]))


def add_method_params(parser: Any) -> None:
    """``--strategy``, ``--allow-mixed-provenance``, ``--no-balance``, ``--indices``: the method parameters."""
    add_strategy(parser)
    parser.add_argument("--allow-mixed-provenance", action="store_true",
                        help="compute the indices that read VNIR and SWIR bands (ferrous_iron, gossan, "
                             "ferric_oxides) also where the mosaic took the two band groups from "
                             "different granules (default: NaN there)")
    parser.add_argument("--no-balance", action="store_true",
                        help="mineral_indices on the unbalanced mosaic")
    parser.add_argument("--balance-method", default=BALANCE_DEFAULTS["balance_method"],
                        choices=BALANCE_METHODS,
                        help="colour balancing to MOD09A1 (default {}: one regional gain per spectral "
                             "group, keeps the index anomalies; docs/kernel.md)".format(
                                 BALANCE_DEFAULTS["balance_method"]))
    parser.add_argument("--indices", nargs="*", metavar="ID", help="only these index ids")


def method_params(args: argparse.Namespace) -> dict:
    """The kernel parameters of :func:`add_method_params`.

    ``balancing`` is set only for a non-default ``--balance-method``, so a default run keeps the
    parameters (and the up-to-date digest) of earlier runs.
    """
    params = {"strategy": args.strategy, "balance": not args.no_balance}
    if args.allow_mixed_provenance:
        params["mosaic"] = {"allow_mixed_provenance": True}
    if args.indices:
        params["indices"] = list(args.indices)
    method = getattr(args, "balance_method", None)
    if method and method != BALANCE_DEFAULTS["balance_method"]:
        params["balancing"] = {"balance_method": method}
    return params


def add_file_options(parser: Any) -> None:
    """The options of the written files, shared by ``gmi export`` and ``gmi run --export``."""
    parser.add_argument("--reflectance-dtype", choices=REFLECTANCE_DTYPES, default=REFLECTANCE_DTYPES[0],
                        help="reflectance bands as float32 (NaN nodata, default) or uint16 counts of "
                             "1e-4 (scale 1e-4 in the file, nodata 65535, negatives stored as 0)")
    parser.add_argument("--no-cog", action="store_true", help="plain tiled GeoTIFFs instead of COGs")
    parser.add_argument("--no-stac", action="store_true", help="skip the STAC items")
    parser.add_argument("--compress", choices=COMPRESSIONS, default=COMPRESSIONS[0],
                        help="GeoTIFF compression (default zstd level 1; deflate for readers without ZSTD)")


def file_options(args: argparse.Namespace, outputs: Optional[List[str]] = None) -> "ExportOptions":
    """The checked :class:`~gmi_engine.export.results.ExportOptions` of :func:`add_file_options`."""
    from gmi_engine.export.results import ExportOptions

    return ExportOptions(tuple(outputs) if outputs else None, args.reflectance_dtype, not args.no_cog,
                         args.compress, not args.no_stac).checked()
