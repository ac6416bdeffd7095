"""``gmi export``: result rows -> GeoTIFF/COG, VRTs, QGIS styles and STAC items (the reference's Script5).

Labels, as in the reference engine's Script5:
  ASTRef          reflectance: method color_balancing if the workspace has it, else mosaic
  MineralIndices  the mineral_indices method (the 23 library indices)

Layout of OUT:
  <method>/<output>/<tile key>.tif (+ .qml)   one COG per tile and output (float32, NaN nodata)
  <method>/<output>.vrt (+ .qml)              all tiles of an output as one layer
  <method>/rgb_321.vrt, rgb_468.vrt (+ .qml)  reflectance RGB presets (and per tile in rgb_*/)
  <method>/stac/<tile key>.json               STAC 1.0.0 item per tile
Drag a .tif or .vrt into QGIS: the .qml beside it is applied automatically.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import List

from gmi_engine.cli.options import add_file_options, add_workspace, file_options
from gmi_engine.errors import GmiInputError
from gmi_engine.table import STORE_FILENAME

LABELS = {"ASTRef": ("color_balancing", "mosaic"), "MineralIndices": ("mineral_indices",)}
"""Script5 labels -> methods to export, the first one present in the workspace wins."""

_EXAMPLES = """examples:
  gmi export --workspace ws --label MineralIndices --out out
  gmi export --workspace ws --label ASTRef --out out --reflectance-dtype uint16
  gmi export -w ws --label MineralIndices --out out --outputs ferric_iron kaolinite ndvi
  gmi export -w ws --method mosaic --out out --quicklook out/quicklook.png
  gmi export -w ws --label MineralIndices --out out --no-stac --no-cog
"""


def resolve_method(label: str, available: List[str]) -> str:
    """The method a Script5 label exports, given the methods with results in the workspace."""
    if label not in LABELS:
        raise GmiInputError("--label: {!r} is not one of {}".format(label, ", ".join(LABELS)))
    for method in LABELS[label]:
        if method in available:
            return method
    raise GmiInputError("--label {}: the workspace has no {} results (it has: {}); run `gmi run --method {}` first"
                        .format(label, " or ".join(LABELS[label]), ", ".join(available) or "none",
                                LABELS[label][-1]))


def _cmd_export(args: argparse.Namespace) -> int:
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.export import export_results, quicklook_png
    from gmi_engine.progress import ProgressBar

    with LocalStore(args.workspace, create=False) as store:
        method = args.method or resolve_method(args.label, store.methods())
        bar = ProgressBar(len(store.result_tiles(method)), "export " + method)
        shown = [-1]

        def progress(fraction: float, message: str) -> None:
            done = int(round(fraction * bar.total))
            if done != shown[0]:  # one line per tile, not per GeoTIFF
                shown[0] = done
                bar.update(done=done, note=message)

        options = file_options(args, args.outputs)
        report = export_results(store, args.out, method, outputs=options.outputs,
                                reflectance_dtype=options.reflectance_dtype, cog=options.cog,
                                stac=options.stac, progress=progress, compression=options.compression,
                                threads=args.threads)
        bar.update(done=bar.total)
    print(report.summary())
    if args.quicklook:
        print("quick-look: {}".format(quicklook_png(args.out, args.quicklook)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``export`` command."""
    p = sub.add_parser("export", help="results -> GeoTIFF/COG + VRT + .qml + STAC (Script5)",
                       description=__doc__, epilog=_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_workspace(p, "workspace folder holding " + STORE_FILENAME)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--label", choices=sorted(LABELS), help="what to export, as in Script5")
    which.add_argument("--method", help="export this method's results (mosaic, color_balancing, mineral_indices)")
    p.add_argument("--out", "-o", required=True, type=Path, help="output folder (created; files are overwritten)")
    p.add_argument("--outputs", nargs="+", metavar="OUTPUT",
                   help="only these outputs, e.g. b01 b02 or ferric_iron ndvi (default: all but the mask)")
    add_file_options(p)
    p.add_argument("--threads", type=int, default=None,
                   help="GeoTIFFs written at the same time (default: CPU count, at most 4)")
    p.add_argument("--quicklook", type=Path, metavar="PNG",
                   help="also draw a quick-look PNG (3-2-1 composite + first index) of the export folder")
    p.set_defaults(func=_cmd_export)
