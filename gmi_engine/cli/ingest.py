"""``gmi ingest``: AST_L1T granules -> source rows in a workspace (the reference's Script1)."""
from __future__ import annotations

import argparse
from pathlib import Path

from gmi_engine.cli.options import add_tiles, add_workspace
from gmi_engine.errors import GmiFileError
from gmi_engine.paths import expand

_EXAMPLES = """examples:
  gmi ingest demo-data/aster/*.hdf --workspace ws \\
      --aod demo-data/mcd19a2 --dem demo-data/gdem --modis-ref demo-data/mod09a1
  gmi ingest AST_L1T_00309062006180242_20150516014601_17781.hdf --workspace ws --tiles 260,526
  gmi ingest demo-data/aster --workspace ws --aod demo-data/mcd19a2 --lut   # shipped 6S LUT

A folder laid out by `gmi fetch --download` (aster/, mcd19a2/, mod09a1/, gdem/) stands for its
granules, and its ancillaries are used for any of --aod/--dem/--modis-ref not given.
Files or folders may be given to --aod/--dem/--modis-ref (folders stand for their MCD19A2*.hdf,
*_dem.tif or ASTGTM*.tif, MOD09A1*.hdf and *.tif files).
Without --aod the 6S state uses the documented default AOD/water vapour; without --dem sea level.
Without --lut every tile state runs 6S directly (cached on disk); --lut looks coefficients up in
the shipped table (or the given .npz) and runs 6S only for states outside its envelope.
--workers N cuts, samples and encodes N tiles of a granule at once (threads, no processes); the
rows are the same bytes for any N.
"""


def _lut_path(args) -> "Path | None":
    """The --lut file: None without the flag, the shipped LUT for the aerosol model without a path."""
    if args.lut is None:
        return None
    if args.lut == "":
        from gmi_engine.atmosphere.lut import default_lut_path

        model = args.aerosol_model if args.aerosol_model not in (None, "auto") else "continental"
        return default_lut_path(model)
    path = Path(args.lut)
    if not path.is_file():
        raise GmiFileError("--lut {}: no such file".format(path))
    return path


def fetched_folders(args) -> None:
    """Replace each ``gmi fetch`` folder in ``args.granules`` by its ``aster/`` and fill empty ancillary options.

    Ingest then picks, per granule, the same-day MCD19A2 and the GDEM tiles under its footprint.
    """
    from gmi_engine.ancillary.discovery import discover

    granules = []
    for item in args.granules:
        folder = Path(item)
        if folder.is_dir() and (folder / "aster").is_dir():
            granules.append(str(folder / "aster"))
            found = discover(folder)
            args.aod = args.aod or [str(p) for p in found.mcd19a2]
            args.dem = args.dem or [str(p) for p in found.gdem]
            args.modis_ref = args.modis_ref or [str(p) for p in found.modis_ref]
        else:
            granules.append(item)
    args.granules = granules


def _cmd_ingest(args) -> int:
    from gmi_engine.ancillary.discovery import GDEM_PATTERNS, MCD19A2_PATTERNS, MOD09A1_FOLDER_PATTERNS
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.ingest import IngestOptions, ingest_many
    from gmi_engine.progress import ProgressBar

    fetched_folders(args)
    granules = expand(args.granules, ("*.hdf",))
    options = IngestOptions(
        mcd19a2=expand(args.aod, MCD19A2_PATTERNS), gdem=expand(args.dem, GDEM_PATTERNS),
        modis_ref=expand(args.modis_ref, MOD09A1_FOLDER_PATTERNS),
        tiles=args.tiles or None,
        processes=args.processes, workers=args.workers, aerosol_model=args.aerosol_model, lut=_lut_path(args))
    bar = ProgressBar(len(granules), "ingest")
    summary = ingest_many(granules, args.workspace, options,
                          on_granule=lambda g: bar.update(note="{}: {} tiles".format(g.path.name, g.rows)))
    for path, why in summary.skipped:
        print("skipped {}: {}".format(path, why))
    summary.raise_first_error()
    with LocalStore(args.workspace) as store:
        stats = store.stats() if hasattr(store, "stats") else None
    print("ingested {} granule(s), {} source rows into {}".format(len(summary.ingested), summary.rows, args.workspace))
    if stats is not None:
        print(stats)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``ingest`` command."""
    p = sub.add_parser("ingest", help="granules -> source rows of a workspace (Script1)",
                       description=__doc__, epilog=_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("granules", nargs="+", metavar="GRANULE", help="AST_L1T .hdf files or folders")
    add_workspace(p, "workspace folder (created if missing)")
    p.add_argument("--aod", nargs="*", default=[], metavar="MCD19A2",
                   help="MCD19A2 files/folders: AOD550 and water vapour of the acquisition day")
    p.add_argument("--dem", nargs="*", default=[], metavar="GDEM", help="GDEM files/folders (*_dem.tif, ASTGTM*.tif)")
    p.add_argument("--modis-ref", nargs="*", default=[], metavar="MOD09A1",
                   help="MOD09A1 files/folders: the colour-balancing reference")
    add_tiles(p, "only these tiles (default: all touched)")
    p.add_argument("--aerosol-model", default=None,
                   help="6S aerosol model: continental (default, recorded as a default), auto (desert inside "
                        "the desert boxes of gmi_engine.atmosphere.aerosol_rule, else continental), "
                        "maritime, urban, desert, biomass")
    p.add_argument("--processes", type=int, default=2, help="6S worker processes (default 2)")
    p.add_argument("--workers", type=int, default=None,
                   help="threads that cut the tiles of a granule (default: all cores)")
    p.add_argument("--lut", nargs="?", const="", default=None, metavar="NPZ",
                   help="6S coefficients from a look-up table: the shipped one for --aerosol-model, "
                        "or this .npz (default: direct 6S runs)")
    p.set_defaults(func=_cmd_ingest)
