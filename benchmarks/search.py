"""CMR search cost: ``search_aster`` over one year and a 1° box returning 200 AST_L1T granules.

earthaccess (python-cmr, requests) runs for real; ``responses`` answers the granule search with
200 UMM-G items built from tests/data/cmr/ast_l1t_003.json (one page, as CMR would for <= 2000
hits). The time spent inside the replay's callback (filtering and JSON encoding, what the CMR
server would do) is measured and subtracted: what is left is GMI's own time plus the client
stack's (request building, JSON decoding, footprint and record construction). Issue 21 asks
for <= 1 s.

    python -m benchmarks.search [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import date
from urllib.parse import parse_qs, urlsplit

import responses

from benchmarks.common import REPO

DATA = REPO / "tests" / "data" / "cmr" / "ast_l1t_003.json"
URL = "https://cmr.earthdata.nasa.gov/search/granules.umm_json"
BOX = (-118.0, 37.0, -117.0, 38.0)
N_RESULTS = 200


def year_of_granules(n: int = N_RESULTS) -> list:
    """``n`` copies of the recorded AST_L1T item spread over 2006, each with its own id and time."""
    item = json.loads(DATA.read_text())["items"][0]
    out = []
    for i in range(n):
        copy = json.loads(json.dumps(item))
        month, day = 1 + i // 28 % 12, 1 + i % 28
        copy["umm"]["GranuleUR"] = "AST_L1T_003{:02d}{:02d}2006{:02d}0242_20150516014601_{}".format(
            month, day, 10 + i % 10, i)
        copy["umm"]["TemporalExtent"]["RangeDateTime"]["BeginningDateTime"] = (
            "2006-{:02d}-{:02d}T18:02:42Z".format(month, day))
        out.append(copy)
    return out


def one_search(items: list) -> dict:
    """Run one search against the replay; total seconds, seconds inside the replay, results."""
    replay = [0.0]

    def answer(request):
        t0 = time.perf_counter()
        query = parse_qs(urlsplit(request.url).query)
        size = int(query.get("page_size", ["10"])[0])
        body = json.dumps({"hits": len(items), "took": 1, "items": items[:size]})
        headers = {"CMR-Hits": str(len(items)), "Content-Type": "application/vnd.nasa.cmr.umm_results+json"}
        replay[0] += time.perf_counter() - t0
        return 200, headers, body

    from gmi_engine.acquire.search import search_aster

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.GET, URL, callback=answer)
        t0 = time.perf_counter()
        found = search_aster(BOX, date(2006, 1, 1), date(2006, 12, 31), version="003")
        total = time.perf_counter() - t0
    return {"total_s": total, "replay_s": replay[0], "own_s": total - replay[0], "results": len(found)}


def main(argv=None) -> int:
    """Print the median of ``--rounds`` searches (after one warm-up) as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    items = year_of_granules()
    one_search(items)  # warm-up: imports, earthaccess set-up
    runs = [one_search(items) for _ in range(args.rounds)]
    assert all(r["results"] == N_RESULTS for r in runs), runs
    result = {key: statistics.median(r[key] for r in runs) for key in ("total_s", "replay_s", "own_s")}
    result.update(results=N_RESULTS, rounds=args.rounds, limit_s=1.0, met=result["own_s"] <= 1.0)
    print(json.dumps(result, indent=1))
    return 0 if result["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
