"""The scale-run set: synthetic AST_L1T granules in blocks of tiles with 1–8 granules per tile.

``make bench-scale`` runs the real ``gmi ingest`` and ``gmi run`` over this set. The granules
come in *groups* of :data:`GROUP_SIZE`; each group lies over its own block of the global grid,
far enough from the others that no tile sees two groups, and every group has the same layout
(:data:`GROUP_OFFSETS`, in tile widths from the block's corner): seven granules piled around the
block's middle and three spread out, which gives one group about 15 tiles with 1 to 8 granules
each. The first ``10 k`` granules are therefore ``k`` whole groups: the job grows with the number
of granules while what one tile sees stays the same, which is what a test of "no structure that
grows with the whole job" needs.

Every granule has its own date (2000–2011, so some are post-2008 with failed SWIR), time, sun,
orientation, gains and cloud cover. They are 30 km scenes instead of ASTER's 60 km, so that 40
of them are written and ingested within the benchmark's budget; a tile is still the full
1024 × 1024 px grid tile, so the per-tile work of ``gmi run`` is the real one.
"""
from __future__ import annotations

from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from pyproj import Transformer

from gmi_engine.ancillary.aerosol import DEFAULT_AOD550, DEFAULT_WATER_VAPOUR
from gmi_engine.ancillary.elevation import DEFAULT_ALTITUDE_KM
from gmi_engine.errors import GmiInputError
from gmi_engine.grid import DEFAULT_GRID, TileGrid, TileIndex
from gmi_engine.synth.aster import AsterSpec, make_footprint, specs_region, write_aster_l1t

#: Granules per group (one block of tiles).
GROUP_SIZE = 10
#: Granule centres in tile widths from the block's north-west corner (x east, y south).
GROUP_OFFSETS = ((1.14, 1.32), (1.90, 1.47), (1.59, 1.16), (1.42, 1.05), (1.83, 1.22),
                 (1.81, 1.33), (1.15, 1.46), (3.04, 2.36), (2.75, 0.63), (0.56, 1.36))
#: Blocks in tiles from :data:`FIRST_BLOCK` (all in UTM zone 12, within one MOD09A1 tile).
BLOCKS = ((0, 0), (5, 0), (0, 5), (5, 5))
#: The north-west tile of the first block: south-east Arizona, MODIS h08v05.
FIRST_BLOCK_LONLAT = (-111.5, 33.6)
MODIS_TILE = (8, 5)
SIDE_KM = 30.0
#: ``--quick``: two blocks of two small granules (one tile with two, one with one granule each).
QUICK_OFFSETS = ((1.50, 1.50), (1.95, 1.50))
QUICK_SIDE_KM = 10.0
_HIGH_GAIN = {"01": "HGH", "02": "HGH"}
_LOW_SWIR = {"{:02d}".format(b): "LO1" for b in range(4, 10)}


def _block_corner(grid: TileGrid, block: Tuple[int, int]) -> Tuple[float, float]:
    """EPSG:3857 (x, y) of the north-west corner of ``block``."""
    first = grid.tile_of_lonlat(*FIRST_BLOCK_LONLAT)
    b = grid.bounds(TileIndex(first.ix + block[0], first.iy + block[1]))
    return b.xmin, b.ymax


def _gains(k: int) -> dict:
    base = {b: "NOR" for b in ("01", "02", "3N", "04", "05", "06", "07", "08", "09")}
    if k % 3 == 1:
        base.update(_HIGH_GAIN)
    if k % 4 == 2:
        base.update(_LOW_SWIR)
    return base


def scale_specs(n: int, quick: bool = False, grid: TileGrid = DEFAULT_GRID) -> List[AsterSpec]:
    """The first ``n`` granules of the set (``quick``: the small two-per-block layout)."""
    offsets = QUICK_OFFSETS if quick else GROUP_OFFSETS
    side = QUICK_SIDE_KM if quick else SIDE_KM
    to_lonlat = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    specs = []
    for k in range(n):
        group, slot = divmod(k, len(offsets))
        if group >= len(BLOCKS):
            raise GmiInputError("scale set: n {} is more than its {} granules at most".format(
                n, len(BLOCKS) * len(offsets)))
        x0, y0 = _block_corner(grid, BLOCKS[group])
        u, v = offsets[slot]
        lon, lat = to_lonlat.transform(x0 + u * grid.tile_size_m, y0 - v * grid.tile_size_m)
        # Dates spread over 2000-2011 and the seasons; mid-morning local time, as ASTER flies.
        acquired = datetime(2000 + (7 * k) % 12, 1 + (5 * k) % 12, 1 + (11 * k) % 28, 17, 50) + \
            timedelta(minutes=(13 * k) % 40)
        specs.append(AsterSpec(
            lon, lat, acquired, side_km=side, orientation_deg=7.5 + (k % 4) * 0.7,
            pointing_deg=(2.5, 2.5, 2.5),  # VNIR and SWIR share one 6S state per granule
            gains=_gains(k), cloud_cover=k % 7, processing_number=30000 + k,
            # the atmosphere ingest assumes without MCD19A2/GDEM files: one 6S state per granule
            aod550=DEFAULT_AOD550, water_vapour=DEFAULT_WATER_VAPOUR, altitude_km=DEFAULT_ALTITUDE_KM))
    return specs


def footprint_tiles(spec: AsterSpec, grid: TileGrid = DEFAULT_GRID) -> List[TileIndex]:
    """Tiles whose interior the granule's footprint overlaps (what ingest will cut)."""
    fp = make_footprint(spec)
    to_lonlat = Transformer.from_crs("EPSG:{}".format(32600 + fp.zone), "EPSG:4326", always_xy=True)
    return grid.tiles_for_polygon([to_lonlat.transform(e, n) for e, n in fp.corner_points()])


def granules_per_tile(tiles_of_granules: Iterable[Sequence[TileIndex]]) -> Dict[TileIndex, int]:
    """Tile -> number of granules over it."""
    count: Counter = Counter()
    for tiles in tiles_of_granules:
        count.update(tiles)
    return dict(count)


def overlap_histogram(per_tile: Dict[TileIndex, int]) -> Dict[int, int]:
    """Granules per tile -> number of tiles with that many."""
    return dict(sorted(Counter(per_tile.values()).items()))


def set_digest(specs: Sequence[AsterSpec]) -> str:
    """12 hex digits of the specs and of the synthesis code that writes them: the name of a
    folder whose files can be reused only while neither changed."""
    import hashlib

    import gmi_engine.synth as synth

    h = hashlib.sha256(repr(list(specs)).encode())
    for source in sorted(Path(synth.__file__).parent.glob("*.py")):
        h.update(source.name.encode() + source.read_bytes())
    return h.hexdigest()[:12]


@dataclass
class ScaleSet:
    """Paths of a written scale set: granules in set order and the MOD09A1 reference."""

    root: Path
    granules: List[Path] = field(default_factory=list)
    modis: Optional[Path] = None


def _write_one(spec: AsterSpec, out_dir: str) -> str:
    return str(write_aster_l1t(spec, out_dir))


def write_scale_set(out_dir, specs: Sequence[AsterSpec], processes: int = 2) -> ScaleSet:
    """Write the granules (``processes`` at a time) and one MOD09A1 over all of them.

    A granule whose HDF file already exists is kept (the name holds its date and processing
    number, and the set is deterministic), so a second run reuses the files; name ``out_dir``
    after :func:`set_digest` so that files from other specs or older synthesis code are not.
    """
    from gmi_engine.synth.modis import write_mod09a1

    root = Path(out_dir)
    aster = root / "aster"
    todo = [s for s in specs if not (aster / (s.granule_id + ".hdf")).is_file()]
    if todo:
        aster.mkdir(parents=True, exist_ok=True)
        if processes > 1 and len(todo) > 1:
            with ProcessPoolExecutor(max_workers=processes) as pool:
                list(pool.map(_write_one, todo, [str(aster)] * len(todo)))
        else:
            for spec in todo:
                _write_one(spec, str(aster))
    out = ScaleSet(root, [aster / (s.granule_id + ".hdf") for s in specs])
    first = specs[0]
    out.modis = write_mod09a1(root / "mod09a1", *MODIS_TILE, first.acquired_utc.date(), first.scene,
                              region=specs_region(specs))
    return out


def describe(per_tile: Dict[TileIndex, int]) -> str:
    """One line: tiles and the histogram of granules per tile."""
    hist = overlap_histogram(per_tile)
    return "{} tiles; granules per tile -> tiles: {}".format(
        len(per_tile), ", ".join("{}: {}".format(g, t) for g, t in hist.items()))
