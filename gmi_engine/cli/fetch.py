"""``gmi fetch``: search NASA Earthdata for AST_L1T granules over a box, list them, optionally download.

With ``--download`` the granules go to ``OUT/aster`` and their MCD19A2, MOD09A1 and ASTGTM files to
``OUT/mcd19a2``, ``OUT/mod09a1`` and ``OUT/gdem``; ``gmi ingest OUT --workspace WS`` then finds
the ancillaries there by itself. Credentials come from earthaccess's sources: EARTHDATA_TOKEN,
EARTHDATA_USERNAME + EARTHDATA_PASSWORD, or ``~/.netrc`` (searching needs none).
"""
from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import List, Sequence

_EXAMPLES = """examples:
  gmi fetch --bbox -117.6 37.0 -116.5 38.0 --start 2000-03-01 --end 2008-03-31 --max-cloud 10 --out cuprite
  gmi fetch --bbox -117.6 37.0 -116.5 38.0 --start 2000-03-01 --end 2008-03-31 --max-cloud 10 \\
      --swir-usable --out cuprite --download
  gmi ingest cuprite --workspace ws      # ancillaries are picked from cuprite/ by date and place
"""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("{!r}: expected YYYY-MM-DD".format(text)) from None


def summary_table(records: Sequence) -> List[str]:
    """The lines of the granule table ``gmi fetch`` prints."""
    lines = ["{:<48} {:<16} {:>3} {:>6} {:<5} {:<4} {:>8}".format(
        "granule", "start (UTC)", "ver", "cloud%", "day", "SWIR", "MB")]
    for r in records:
        cloud = "-" if r.cloud_cover is None else "{:.0f}".format(r.cloud_cover)
        lines.append("{:<48} {:<16} {:>3} {:>6} {:<5} {:<4} {:>8.1f}".format(
            r.granule_id[:48], r.start.strftime("%Y-%m-%d %H:%M"), r.version, cloud, r.day_night[:5],
            "yes" if r.swir_usable else "no", r.size_mb))
    return lines


def _cmd_fetch(args) -> int:
    from gmi_engine.acquire.search import search_ancillaries, search_aster

    records = search_aster(tuple(args.bbox), args.start, args.end, max_cloud=args.max_cloud,
                           day_only=not args.night, swir_usable=True if args.swir_usable else None,
                           version=args.version)
    for line in summary_table(records):
        print(line)
    print("{} granule(s), {:.1f} MB".format(len(records), sum(r.size_mb for r in records)))
    if not args.download or not records:
        return 0
    from gmi_engine.acquire.auth import login
    from gmi_engine.acquire.download import download
    from gmi_engine.progress import ProgressBar

    auth = login()
    ancillaries = search_ancillaries(records, auth=auth)
    print("ancillaries: {} MCD19A2 · {} MOD09A1 · {} GDEM".format(
        len(ancillaries.mcd19a2), len(ancillaries.mod09a1), len(ancillaries.gdem)))
    bar = ProgressBar(1000, "fetch")
    result = download(list(records) + ancillaries.all(), Path(args.out), session=auth.get_session(),
                      workers=args.workers, progress=bar)
    print("downloaded {} file(s), {} already there, into {}".format(
        len(result.downloaded), len(result.skipped), args.out))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``fetch`` command."""
    p = sub.add_parser("fetch", help="search (and download) ASTER L1T + ancillaries from NASA Earthdata",
                       description=__doc__, epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bbox", nargs=4, type=float, required=True, metavar=("W", "S", "E", "N"),
                   help="area of interest in degrees (EPSG:4326)")
    p.add_argument("--start", type=_date, required=True, help="first day, YYYY-MM-DD")
    p.add_argument("--end", type=_date, required=True, help="last day, YYYY-MM-DD")
    p.add_argument("--max-cloud", type=float, default=None, metavar="PERCENT", help="largest scene cloud cover")
    p.add_argument("--swir-usable", action="store_true", help="only acquisitions before 2008-04-01 (working SWIR)")
    p.add_argument("--night", action="store_true", help="also night granules (default: day only)")
    p.add_argument("--version", default="auto", choices=("auto", "003", "3.1"),
                   help="AST_L1T version (auto: both, v3.1 where a scene is in both)")
    p.add_argument("--out", required=True, help="download folder (aster/, mcd19a2/, mod09a1/, gdem/ inside)")
    p.add_argument("--download", action="store_true", help="download the granules and their ancillaries")
    p.add_argument("--workers", type=int, default=4, help="parallel downloads (default 4)")
    p.set_defaults(func=_cmd_fetch)
