"""``gmi synth …``: write realistic synthetic AST_L1T / MCD19A2 / MOD09A1 / GDEM files.

The real products cannot be downloaded here; these files are read by GDAL's HDF4 driver exactly
like the real ones, and their content is forward-modelled through 6S from a known ground truth
that is saved beside each file (``*.truth.json``).
"""
from __future__ import annotations

import argparse
import time
from datetime import datetime

from gmi_engine.cli.options import command_group
from gmi_engine.errors import GmiInputError

_EXAMPLES = """examples:
  gmi synth demo ./demo-data                 # the full-size demo set (two granules over Chino)
  gmi synth demo ./demo-small --small        # 12 km scenes, seconds to write
  gmi synth aster ./out --lon -108.07 --lat 32.79 --date 2006-09-06T18:02:42 --side-km 20
  gmi synth aster ./out --lon 133.5 --lat -23.7 --date 2005-07-14T01:15:00 --gains 01=HGH,02=HGH
  gmi synth aster ./out --lon -108 --lat 32.8 --date 2006-09-07T05:00:00 --subsystems TIR
  gmi synth mcd19a2 ./out --h 8 --v 5 --date 2006-09-06 --aod 0.12 --wv 1.1
  gmi synth gdem ./out --lat0 32 --lon0 -108
"""


def _datetime(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not an ISO date/time: {!r}".format(text)) from None


def _gains(text: str) -> dict:
    gains = {}
    for item in filter(None, text.split(",")):
        band, _, gain = item.partition("=")
        if not gain:
            raise argparse.ArgumentTypeError("gains look like 01=HGH,3N=NOR, got {!r}".format(item))
        gains[band.strip()] = gain.strip().upper()
    return gains


def _cmd_demo(args) -> int:
    from gmi_engine.synth.demo import write_demo_set

    start = time.perf_counter()
    demo = write_demo_set(args.out_dir, small=args.small, scene=args.scene,
                          progress=lambda fraction, msg: print("  writing " + msg, flush=True))
    print("demo set in {} ({:.1f} s): {} granules, {} MCD19A2, {} MOD09A1, {} GDEM".format(
        demo.root, time.perf_counter() - start, len(demo.granules), len(demo.mcd19a2),
        len(demo.mod09a1), len(demo.gdem)))
    return 0


def _cmd_aster(args) -> int:
    from gmi_engine.synth.aster import AsterSpec, write_aster_l1t

    kwargs = dict(side_km=args.side_km, subsystems=tuple(args.subsystems.split(",")),
                  aod550=args.aod, water_vapour=args.wv, altitude_km=args.altitude_km,
                  processing_number=args.number)
    if args.gains:
        from gmi_engine.kernel.bands import BANDS

        gains = {b: "NOR" for b in BANDS}
        gains.update(args.gains)
        kwargs["gains"] = gains
    if args.pointing is not None:
        kwargs["pointing_deg"] = (args.pointing,) * 3
    bad = set(kwargs["subsystems"]) - {"VNIR", "SWIR", "TIR"}
    if bad:
        raise GmiInputError("--subsystems: unknown {}".format(", ".join(sorted(bad))))
    path = write_aster_l1t(AsterSpec(args.lon, args.lat, args.date, **kwargs), args.out_dir)
    print(path)
    return 0


def _cmd_mcd19a2(args) -> int:
    from gmi_engine.synth.modis import write_mcd19a2

    print(write_mcd19a2(args.out_dir, args.h, args.v, args.date.date(), aod550=args.aod,
                        water_vapour=args.wv, orbits=args.orbits, size=args.size))
    return 0


def _cmd_gdem(args) -> int:
    from gmi_engine.synth.gdem import write_gdem

    print(write_gdem(args.out_dir, args.lat0, args.lon0, elevation_m=args.elevation, size=args.size))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``synth`` command group."""
    s = command_group(sub, "synth", "PRODUCT", help="write synthetic ASTER/MODIS/GDEM products",
                      description=__doc__, epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)

    d = s.add_parser("demo", help="the demo set: two overlapping granules over Chino + ancillaries")
    d.add_argument("out_dir")
    d.add_argument("--small", action="store_true", help="12 km scenes (fast, for tests)")
    d.add_argument("--scene", choices=("porphyry", "checkerboard"), default=None,
                   help="the ground: the zoned porphyry-copper system on relief (default of the full "
                        "set) or the flat mineral checkerboard (default with --small)")
    d.set_defaults(func=_cmd_demo)

    a = s.add_parser("aster", help="one AST_L1T v003 granule", epilog=_EXAMPLES,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("out_dir")
    a.add_argument("--lon", type=float, required=True, help="scene centre longitude")
    a.add_argument("--lat", type=float, required=True, help="scene centre latitude")
    a.add_argument("--date", type=_datetime, required=True, help="acquisition time, UTC (ISO)")
    a.add_argument("--side-km", type=float, default=60.0, help="footprint side (default 60 km)")
    a.add_argument("--gains", type=_gains, default=None, help="e.g. 01=HGH,02=HGH,07=LO2 (default NOR)")
    a.add_argument("--subsystems", default="VNIR,SWIR,TIR", help="subset of VNIR,SWIR,TIR")
    a.add_argument("--pointing", type=float, default=None, help="cross-track pointing angle, degrees")
    a.add_argument("--aod", type=float, default=0.12, help="AOD at 550 nm of the forward model")
    a.add_argument("--wv", type=float, default=1.1, help="water vapour, g/cm2")
    a.add_argument("--altitude-km", type=float, default=1.75, help="target altitude, km")
    a.add_argument("--number", type=int, default=17781, help="processing number in the file name")
    a.set_defaults(func=_cmd_aster)

    m = s.add_parser("mcd19a2", help="one MCD19A2 v061 tile (AOD, water vapour)")
    m.add_argument("out_dir")
    m.add_argument("--h", type=int, required=True)
    m.add_argument("--v", type=int, required=True)
    m.add_argument("--date", type=_datetime, required=True)
    m.add_argument("--aod", type=float, default=0.12)
    m.add_argument("--wv", type=float, default=1.1)
    m.add_argument("--orbits", type=int, default=2)
    m.add_argument("--size", type=int, default=1200)
    m.set_defaults(func=_cmd_mcd19a2)

    g = s.add_parser("gdem", help="one ASTER GDEM v3 tile")
    g.add_argument("out_dir")
    g.add_argument("--lat0", type=int, required=True, help="south edge latitude")
    g.add_argument("--lon0", type=int, required=True, help="west edge longitude")
    g.add_argument("--elevation", type=float, default=1750.0, help="mean elevation, m")
    g.add_argument("--size", type=int, default=3601)
    g.set_defaults(func=_cmd_gdem)
