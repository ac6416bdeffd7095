"""The same job with GRASS GIS: one AST_L1T granule -> TOA reflectance -> 23 index GeoTIFFs.

The chain a GRASS 8.2 user runs (``anchors.md``), timed step by step:

1. ``gdal_translate`` x 9: each VNIR/SWIR band out of the HDF with the L1T georeference (GDAL gives
   L1T swaths none; GRASS 8.2 ``r.in.aster`` has no L1T support): ``-nogcp -a_srs EPSG:<utm>
   -a_ullr`` with the metadata corners, which are pixel centres;
2. a throw-away GRASS location in the granule's UTM zone (``grass --tmp-location``);
3. ``r.in.gdal`` x 9, then ``g.region`` on band 4 (30 m, the SWIR grid);
4. ``i.aster.toar``: it wants exactly 15 maps (1, 2, 3N, 3B, 4-9, 10-14) and takes one gain flag
   per telescope, so band 3N stands in for 3B, band 9 for the five TIR bands, and a granule with
   mixed gains within a telescope needs one run per gain (each band is then read from the run
   made with its gain);
5. ``r.mapcalc``: the 23 indices of GMI's library in one call;
6. ``r.out.gdal -c ... type=Float32`` x 23 (``-c`` avoids a colour-table error on Float32).

Untimed, after the chain: the 9 TOA reflectance maps GMI compares with its own TOA fallback.

Run: ``python -m benchmarks.grass_chain GRANULE.hdf WORKDIR`` prints a JSON result. Inside the GRASS
session this module runs again with ``--inner CONFIG``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Tuple

if __package__ in (None, ""):  # run as a script inside the GRASS session
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import REPO, largest, run_measured, settle_disk

#: i.aster.toar's input order (15 maps) and the GMI band standing in for each.
TOAR_INPUTS = ("01", "02", "3N", "3N", "04", "05", "06", "07", "08", "09",
               "09", "09", "09", "09", "09")
#: i.aster.toar output suffix of the nine reflective bands.
TOAR_SUFFIX = {"01": "1", "02": "2", "3N": "3N", "04": "4", "05": "5", "06": "6", "07": "7",
               "08": "8", "09": "9"}
VNIR = ("01", "02", "3N")
SWIR = ("04", "05", "06", "07", "08", "09")
VNIR_FLAGS = {"HGH": "a", "NOR": "", "LO1": "c"}
SWIR_FLAGS = {"HGH": "b", "NOR": "", "LO1": "d", "LO2": "e"}
#: i.aster.toar's solar irradiances (GRASS 8.2 source, W m-2 um-1), bands 1, 2, 3N, 4 .. 9.
GRASS_E0 = (1828.0, 1559.0, 1045.0, 226.73, 86.50, 81.99, 74.72, 66.41, 59.83)


def map_name(band: str) -> str:
    """GRASS raster name of an imported DN band."""
    return "dn_" + band


def toar_runs(gains: Mapping[str, str]) -> List[Dict[str, Any]]:
    """The i.aster.toar runs a granule needs: flags per run and which bands each run provides."""
    vnir = sorted({gains[b] for b in VNIR})
    swir = sorted({gains[b] for b in SWIR})
    for band in VNIR + SWIR:
        table = VNIR_FLAGS if band in VNIR else SWIR_FLAGS
        if gains[band] not in table:
            raise ValueError("band {}: gain {!r} has no i.aster.toar flag".format(band, gains[band]))
    runs = []
    for k in range(max(len(vnir), len(swir))):
        v = vnir[min(k, len(vnir) - 1)]
        s = swir[min(k, len(swir) - 1)]
        bands = [b for b in VNIR if gains[b] == v and k < len(vnir)] + \
                [b for b in SWIR if gains[b] == s and k < len(swir)]
        runs.append({"output": "toa{}".format(k), "flags": VNIR_FLAGS[v] + SWIR_FLAGS[s],
                     "bands": bands})
    return runs


def toa_map(runs: Sequence[Mapping[str, Any]], band: str) -> str:
    """The i.aster.toar output map holding ``band`` at its own gain."""
    for run in runs:
        if band in run["bands"]:
            return "{}.{}".format(run["output"], TOAR_SUFFIX[band])
    raise ValueError("band {} is in no i.aster.toar run".format(band))


def mapcalc_expressions(runs: Sequence[Mapping[str, Any]]) -> Dict[str, str]:
    """index id -> r.mapcalc expression of GMI's library formula on the TOA maps."""
    from gmi_engine.indices import default_library
    from gmi_engine.kernel.bands import BANDS

    names = {"b{}".format(i + 1): '"{}"'.format(toa_map(runs, band)) for i, band in enumerate(BANDS)}
    out = {}
    for definition in default_library():
        text = definition.compiled.expression.replace("**", "^")
        out[definition.id] = re.sub(r"\bb[1-9]\b", lambda m: names[m.group(0)], text)
    return out


def plan(hdf: Path, work: Path) -> Dict[str, Any]:
    """Everything the chain needs, read from the granule's metadata (GMI's L1T reader)."""
    from gmi_engine.aster.reader import open_granule

    granule = open_granule(hdf)
    runs = toar_runs({b: granule.gains[b] for b in VNIR + SWIR})
    bands = {}
    for band in VNIR + SWIR:
        info = granule.bands[band]
        x0, res, _, y0, _, _ = granule.geotransform(info.subsystem)
        bands[band] = {"subdataset": info.subdataset, "tif": str(work / "dn_{}.tif".format(band)),
                       "ullr": [x0, y0, x0 + info.cols * res, y0 - info.rows * res]}
    return {
        "granule": str(hdf), "work": str(work), "epsg": granule.epsg,
        "doy": granule.acquired.timetuple().tm_yday, "sun_elevation": granule.sun_elevation,
        "gains": dict(granule.gains), "bands": bands, "runs": runs,
        "expressions": mapcalc_expressions(runs),
        "toa_maps": {band: toa_map(runs, band) for band in VNIR + SWIR},
    }


def _step(log: List[Dict[str, Any]], name: str, command: Sequence[str]) -> None:
    result = run_measured(command)
    log.append({"step": name, "seconds": result.seconds, "peak_rss_mb": result.peak_rss_mb})


def inner(config_path: Path) -> Dict[str, Any]:
    """Inside the GRASS session: import, TOA, indices, export; every module call is timed."""
    config = json.loads(Path(config_path).read_text())
    work = Path(config["work"])
    out_dir = work / "indices"
    out_dir.mkdir(parents=True, exist_ok=True)
    log = []  # type: List[Dict[str, Any]]
    for band, info in config["bands"].items():
        _step(log, "r.in.gdal", ["r.in.gdal", "--quiet", "input=" + info["tif"],
                                 "output=" + map_name(band)])
    _step(log, "g.region", ["g.region", "raster=" + map_name("04")])
    inputs = ",".join(map_name(b) for b in TOAR_INPUTS)
    for run in config["runs"]:
        flags = ["-" + run["flags"]] if run["flags"] else []
        _step(log, "i.aster.toar", ["i.aster.toar", "--quiet"] + flags + [
            "input=" + inputs, "dayofyear={}".format(config["doy"]),
            "sun_elevation={!r}".format(config["sun_elevation"]), "output=" + run["output"]])
    script = work / "indices.mapcalc"
    script.write_text("".join("idx_{} = {}\n".format(k, v) for k, v in config["expressions"].items()))
    _step(log, "r.mapcalc", ["r.mapcalc", "--quiet", "file=" + str(script)])
    for index_id in config["expressions"]:
        _step(log, "r.out.gdal", ["r.out.gdal", "-c", "--quiet", "input=idx_" + index_id,
                                  "output=" + str(out_dir / (index_id + ".tif")), "format=GTiff",
                                  "type=Float32"])
    untimed = []  # type: List[Dict[str, Any]]
    if config.get("export_toa"):
        toa_dir = work / "toa"
        toa_dir.mkdir(exist_ok=True)
        for band, name in config["toa_maps"].items():
            _step(untimed, "r.out.gdal (TOA, untimed)", [
                "r.out.gdal", "-c", "--quiet", "input=" + name,
                "output=" + str(toa_dir / "toa_{}.tif".format(band)), "format=GTiff",
                "type=Float64"])
    return {"steps": log, "untimed": untimed}


def _raster_pixels(path: Path) -> int:
    """Width x height of a raster."""
    from osgeo import gdal

    ds = gdal.Open(str(path))
    return ds.RasterXSize * ds.RasterYSize


def run_chain(hdf: Path, work: Path, export_toa: bool = False) -> Dict[str, Any]:
    """Run the whole chain on ``hdf`` in ``work`` (emptied first); returns timings and paths.

    Result: ``total_s`` (wall, everything), ``phases`` {name: seconds}, ``peak_rss_mb`` per phase
    (largest single process), ``session_s`` (GRASS start-up/tear-down), the output folders.
    """
    if shutil.which("grass") is None:
        raise RuntimeError("GRASS GIS is not installed: the `grass` command is not on PATH "
                           "(Debian: apt-get install grass-core)")
    hdf = Path(hdf).resolve()
    work = Path(work).resolve()
    shutil.rmtree(str(work), ignore_errors=True)
    work.mkdir(parents=True)
    config = plan(hdf, work)
    config["export_toa"] = export_toa
    config_path = work / "chain.json"
    config_path.write_text(json.dumps(config, indent=1))

    settle_disk()  # as before every timed GMI step
    start = time.perf_counter()
    steps = []  # type: List[Dict[str, Any]]
    for band, info in config["bands"].items():
        command = ["gdal_translate", "-q", "-nogcp", "-of", "GTiff",
                   "-a_srs", "EPSG:{}".format(config["epsg"]), "-a_ullr"]
        command += ["{!r}".format(v) for v in info["ullr"]] + [info["subdataset"], info["tif"]]
        _step(steps, "gdal_translate", command)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    session = run_measured(["grass", "--tmp-location", "EPSG:{}".format(config["epsg"]), "--exec",
                            sys.executable, str(Path(__file__).resolve()), "--inner",
                            str(config_path)], env=env)
    total = time.perf_counter() - start
    lines = [line for line in session.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError("GRASS session printed no result:\n" + session.stderr[-3000:])
    inner_result = json.loads(lines[-1])
    steps += inner_result["steps"]
    untimed = sum(s["seconds"] for s in inner_result["untimed"])
    phases, rss, counts = summarise_steps(steps)
    inner_sum = sum(s["seconds"] for s in inner_result["steps"]) + untimed
    return {
        "granule": str(hdf), "total_s": total - untimed, "phases": phases, "counts": counts,
        "peak_rss_mb": rss, "session_s": session.seconds - inner_sum,
        "toar_runs": len(config["runs"]), "indices_dir": str(work / "indices"),
        "toa_dir": str(work / "toa") if export_toa else None, "untimed_s": untimed,
        "pixels_per_output": _raster_pixels(next((work / "indices").glob("*.tif"))),
        "sun_elevation": config["sun_elevation"], "doy": config["doy"], "gains": config["gains"],
    }


def summarise_steps(steps: Sequence[Mapping[str, Any]]
                    ) -> Tuple[Dict[str, float], Dict[str, float], Dict[str, int]]:
    """Per step name: total seconds, peak RSS MB of its calls (NaN when one was not measured),
    number of calls."""
    phases = {}  # type: Dict[str, float]
    peaks = {}  # type: Dict[str, List[float]]
    counts = {}  # type: Dict[str, int]
    for s in steps:
        phases[s["step"]] = phases.get(s["step"], 0.0) + s["seconds"]
        peaks.setdefault(s["step"], []).append(s["peak_rss_mb"])
        counts[s["step"]] = counts.get(s["step"], 0) + 1
    return phases, {name: largest(values) for name, values in peaks.items()}, counts


def main(argv: Sequence[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("granule", nargs="?", help="AST_L1T HDF file")
    parser.add_argument("work", nargs="?", help="working folder (emptied)")
    parser.add_argument("--toa", action="store_true", help="also export the TOA maps (untimed)")
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        print(json.dumps(inner(Path(args.inner))))
        return 0
    if not (args.granule and args.work):
        parser.error("granule and work are required")
    print(json.dumps(run_chain(Path(args.granule), Path(args.work), args.toa), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
