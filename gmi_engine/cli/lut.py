"""``gmi lut …`` (build, inspect and check 6S look-up tables) and ``gmi ac params``.

The default LUT (continental aerosol) ships in ``resources/lut/``; other aerosol models need a
LUT built with ``gmi lut build --aerosol-model NAME`` (about 45 min on two cores).
"""
from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path

from gmi_engine.atmosphere.state import AEROSOL_MODELS
from gmi_engine.cli.options import command_group, tile_arg

_LUT_EXAMPLES = """examples:
  gmi lut build --out resources/lut/gmi-6s-continental.npz      # the default LUT (~45 min)
  gmi lut build --quick --out /tmp/quick.npz                    # tiny LUT for trials (~1 min)
  gmi lut build --aerosol-model desert --out ~/gmi-6s-desert.npz
  gmi lut info resources/lut/gmi-6s-continental.npz
  gmi lut check resources/lut/gmi-6s-continental.npz --states 200 --seed 1
"""

_AC_EXAMPLES = """examples:
  gmi ac params AST_L1T_00309062006180242_20150516014601_17781.hdf --tile 260,526 \\
      --aod-file MCD19A2.A2006249.h08v05.061.hdf --dem ASTGTMV003_N32W108_dem.tif
  gmi ac params GRANULE.hdf --tile 260,526 --direct          # direct 6S instead of the LUT
"""


def _stamp(message: str) -> None:
    print("{} {}".format(datetime.now().strftime("%H:%M:%S"), message), flush=True)


def _say(fraction: float, message: str) -> None:
    """A :data:`~gmi_engine.progress.Progress` that stamps the message (it carries its own count)."""
    _stamp(message)


def _cmd_build(args) -> int:
    from gmi_engine.atmosphere.lut import DEFAULT_SPEC, QUICK_SPEC, build_lut, lut_file_name, save_lut

    spec = QUICK_SPEC if args.quick else DEFAULT_SPEC
    out = Path(args.out) if args.out else Path(lut_file_name(args.aerosol_model))
    _stamp("building LUT {!r} for aerosol model {} with {} processes -> {}".format(
        spec.name, args.aerosol_model, args.processes, out))
    start = time.perf_counter()
    arrays, meta = build_lut(spec, args.aerosol_model, processes=args.processes,
                             cache_dir=args.cache_dir, progress=_say)
    path = save_lut(arrays, meta, out)
    _stamp("wrote {} ({:.0f} kB) in {:.1f} min".format(
        path, path.stat().st_size / 1024.0, (time.perf_counter() - start) / 60.0))
    return 0


def _lut_summary(lut) -> list:
    meta = lut.meta
    spec = meta.get("spec", {})
    lines = [
        "file          {}".format(lut.path),
        "format        {}   name {}   created {}".format(meta.get("format"), meta.get("name"),
                                                         meta.get("created")),
        "6S            {}".format(meta.get("sixs_version")),
        "aerosol model {}".format(meta.get("aerosol_model")),
        "envelope",
    ]
    for name, (low, high) in lut.envelope.items():
        lines.append("  {:<14}{:g} .. {:g}".format(name, low, high))
    lines.append("reference     {}".format(json.dumps(meta.get("reference", {}), sort_keys=True)))
    lines.append("nodes")
    for name in ("airmass", "aot", "altitude", "view_zenith", "azimuth", "view_airmass",
                 "view_aot", "gas_wv", "gas_altitude", "ozone"):
        if name in spec:
            lines.append("  {:<14}{}".format(name, " ".join("{:g}".format(v) for v in spec[name])))
    build = meta.get("build", {})
    lines.append("build         {} states, {} band runs, {:.1f} min with {} processes".format(
        build.get("states"), build.get("band_runs"), build.get("seconds", 0.0) / 60.0,
        build.get("processes")))
    lines.append("consistency   {}".format(json.dumps(meta.get("consistency", {}), sort_keys=True)))
    return lines


def _cmd_info(args) -> int:
    from gmi_engine.atmosphere.lut import load_lut

    lut = load_lut(args.file)
    print("\n".join(_lut_summary(lut)))
    print("checksum      ok ({} kB)".format(int(lut.path.stat().st_size / 1024.0)))
    return 0


def _cmd_check(args) -> int:
    from gmi_engine.atmosphere.lut import check_lut, load_lut
    from gmi_engine.kernel.bands import BANDS

    lut = load_lut(args.file)
    _stamp("checking {} on {} random states (seed {}) against direct 6S".format(
        lut.path, args.states, args.seed))
    result = check_lut(lut, args.states, args.seed, processes=args.processes,
                       cache_dir=args.cache_dir, progress=_say)
    header = "band  " + "  ".join("rho={:<5g}".format(r) for r in result.reflectances) + "   max"
    print(header)
    per = result.errors.max(axis=0)  # (9, n_rho)
    for b, name in enumerate(BANDS):
        print("B{:<4}".format(name) + "  ".join("{:9.5f}".format(v) for v in per[b])
              + "  {:.5f}".format(per[b].max()))
    worst = int(result.max_per_band.argmax())
    print("max |d rho| {:.5f} (band {}; state {})".format(
        result.max_per_band.max(), BANDS[worst], result.worst_state(worst).canonical_text()))
    print("direct 6S {:.1f} s for {} states; LUT {:.2f} ms for all of them".format(
        result.seconds_direct, len(result.states), result.seconds_lut * 1000.0))
    limit = args.limit
    if limit is not None and result.max_per_band.max() > limit:
        print("FAIL: above {:g}".format(limit))
        return 1
    return 0


def _cmd_params(args) -> int:
    from gmi_engine.aster.reader import open_granule
    from gmi_engine.atmosphere.coefficients import merge_telescopes
    from gmi_engine.atmosphere.lut import load_lut
    from gmi_engine.atmosphere.sixs import compute_coefficients
    from gmi_engine.errors import GmiInputError
    from gmi_engine.grid import DEFAULT_GRID
    from gmi_engine.ingest import IngestOptions, tile_state
    from gmi_engine.kernel.bands import BANDS
    from gmi_engine.tiling import granule_tiles

    granule = open_granule(args.granule)
    tile = args.tile
    if tile not in granule_tiles(granule, DEFAULT_GRID):
        raise GmiInputError("--tile {},{}: not touched by granule {}".format(
            tile.ix, tile.iy, granule.granule_id))
    options = IngestOptions(mcd19a2=[Path(p) for p in args.aod_file],
                            gdem=[Path(p) for p in args.dem], ozone=args.ozone,
                            aerosol_model=args.aerosol_model)
    state, swir_state, inputs = tile_state(granule, DEFAULT_GRID.bounds(tile), options)
    if args.direct:
        vnir, swir = (compute_coefficients(s, processes=args.processes) for s in (state, swir_state))
    else:
        lut = load_lut(args.lut, args.aerosol_model)
        vnir, swir = lut.coefficients(state), lut.coefficients(swir_state)
    coeffs = merge_telescopes(vnir, swir)  # B1-B3N at the VNIR pointing, B4-B9 at the SWIR pointing (as ingest)
    print("granule  {}   tile {},{}".format(granule.granule_id, tile.ix, tile.iy))
    print("6S state")
    for key, value in state.to_dict().items():
        print("  {:<14}{}".format(key, value))
    print("  {:<14}{:g}".format("rel. azimuth", state.relative_azimuth))
    print("sources")
    for key, value in inputs.items():
        print("  {:<14}{}".format(key, json.dumps(value, sort_keys=True)))
    print("coefficients ({}, {})".format(coeffs.source, coeffs.sixs_version))
    print("  band        xa          xb          xc")
    for i, band in enumerate(BANDS):
        print("  B{:<4}{:12.7f}{:12.7f}{:12.7f}".format(band, coeffs.xa[i], coeffs.xb[i],
                                                    coeffs.xc[i]))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``lut`` and ``ac`` command groups."""
    s = command_group(sub, "lut", "ACTION", help="build, inspect and check 6S look-up tables",
                      description=__doc__, epilog=_LUT_EXAMPLES,
                      formatter_class=argparse.RawDescriptionHelpFormatter)

    b = s.add_parser("build", help="run 6S over the LUT grid and write the LUT file",
                     epilog=_LUT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("--out", help="output file (default ./gmi-6s-<model>.npz)")
    b.add_argument("--quick", action="store_true",
                   help="tiny LUT (nadir, sun zenith <= 50, AOT <= 0.3): ~1 min, for tests")
    b.add_argument("--aerosol-model", default="continental", choices=AEROSOL_MODELS)
    b.add_argument("--processes", type=int, default=2, help="6S processes at a time (default 2)")
    b.add_argument("--cache-dir", default=None, help="6S run cache (default ~/.cache/gmi/6s)")
    b.set_defaults(func=_cmd_build)

    i = s.add_parser("info", help="print a LUT's envelope, nodes and provenance "
                                  "(verifies the checksum)")
    i.add_argument("file")
    i.set_defaults(func=_cmd_info)

    c = s.add_parser("check", help="compare LUT lookups with direct 6S on random states",
                     epilog=_LUT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("file", nargs="?", default=None, help="LUT file (default: the shipped LUT)")
    c.add_argument("--states", type=int, default=200, help="random states (default 200)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--processes", type=int, default=2)
    c.add_argument("--cache-dir", default=None)
    c.add_argument("--limit", type=float, default=None,
                   help="exit with status 1 if any |d rho| exceeds this (e.g. 0.002)")
    c.set_defaults(func=_cmd_check)

    asub = command_group(sub, "ac", "ACTION", help="atmospheric-correction parameters of a granule's tile",
                         description=__doc__)
    q = asub.add_parser("params", help="print the 6S state of a tile, its sources and xa/xb/xc",
                        epilog=_AC_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("granule", help="AST_L1T .hdf file")
    q.add_argument("--tile", type=tile_arg, required=True, help="global tile X,Y (or a tile key)")
    q.add_argument("--aod-file", action="append", default=[], help="MCD19A2 file (repeatable)")
    q.add_argument("--dem", action="append", default=[], help="GDEM tile (repeatable)")
    q.add_argument("--ozone", type=float, default=None,
                   help="total ozone, cm-atm (default: the latitude/day climatology, recorded as a default)")
    q.add_argument("--aerosol-model", default="continental", choices=AEROSOL_MODELS)
    q.add_argument("--processes", type=int, default=2)
    how = q.add_mutually_exclusive_group()
    how.add_argument("--lut", default=None, help="LUT file (default: the shipped LUT)")
    how.add_argument("--direct", action="store_true", help="direct 6S runs instead of the LUT")
    q.set_defaults(func=_cmd_params)

