"""The global tile grid of DESIGN.md: EPSG:3857, 30 m pixels, 1024 x 1024 px tiles.

``half = floor(2*pi*R / res) * res / 2`` (20 037 495 m at 30 m); the grid's top-left corner is
(-half, +half). Tile (ix, iy) counts east and south from 0 and covers ``x`` in [left, right) and
``y`` in (bottom, top]. The Chino mine (-108.07, 32.793) is tile (260, 526).

Conventions beyond DESIGN.md, chosen so that every point of the Web-Mercator world has a tile:

- ``2*half`` is not a whole number of tiles (1304.52 at 30 m / 1024), so the grid has
  ``ceil(2*half / tile_size)`` = 1305 columns and rows: 1304 whole ones plus a last column/row
  that reaches past ``+half``/``-half``. The reference engine's ``floor((x + half) / 30720)`` gives
  index 1304 in that strip too. (On a grid where ``2*half`` is a whole number of tiles, the far
  edge x = +half / y = -half belongs to the last column / row.)
- The 13 m strip of Web-Mercator x west of ``-half`` wraps round the antimeridian into the last
  column; y beyond ``±half`` and latitudes beyond Web-Mercator's limit (85.0511°) clamp to the
  edge row ("the poles' clamp").
- A lon/lat box of the last column crosses the antimeridian: its ``west > east`` (as in STAC).
"""
from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterable, List, Optional, Sequence, Tuple, Union

from gmi_engine.errors import GmiInputError

if TYPE_CHECKING:
    import pyproj
    from osgeo import ogr

EARTH_RADIUS_M = 6378137.0
"""Web-Mercator sphere radius (WGS 84 semi-major axis)."""
WORLD_HALF_WIDTH_M = math.pi * EARTH_RADIUS_M
"""Web-Mercator x of longitude 180 (20 037 508.34 m)."""
MERCATOR_MAX_LAT = math.degrees(math.atan(math.sinh(math.pi)))
"""Latitude whose Web-Mercator y equals ``WORLD_HALF_WIDTH_M`` (85.0511°)."""
MODIS_TILE_PX = 256
"""Pixels per side of the MODIS reference sampled onto a tile (120 m at the default grid)."""

_KEY_RE = re.compile(r"res-(?P<res>\d+(?:\.\d+)?)_tilesize-(?P<px>\d+)_x-(?P<ix>\d+)_y-(?P<iy>\d+)")


@lru_cache(maxsize=None)
def _to_mercator() -> "pyproj.Transformer":
    import pyproj  # imported when first needed: a tile worker never transforms (0.05 s less start-up)

    return pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


@lru_cache(maxsize=None)
def _to_lonlat() -> "pyproj.Transformer":
    import pyproj

    return pyproj.Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)


def _index(value: object, name: str) -> int:
    """``value`` as a non-negative int (numpy ints accepted, bools and floats refused)."""
    if isinstance(value, bool):
        raise GmiInputError("{} must be an integer tile index, got {!r}".format(name, value))
    try:
        number = operator.index(value)
    except TypeError:
        raise GmiInputError("{} must be an integer tile index, got {!r}".format(name, value)) from None
    if number < 0:
        raise GmiInputError("{} must be >= 0, got {}".format(name, number))
    return number


@dataclass(frozen=True, order=True)
class TileIndex:
    """A tile of the grid: ``ix`` counts columns east, ``iy`` rows south, both from 0."""

    ix: int
    iy: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "ix", _index(self.ix, "tile x index"))
        object.__setattr__(self, "iy", _index(self.iy, "tile y index"))


@dataclass(frozen=True)
class BoundsXY:
    """A box in EPSG:3857 metres, axis order (xmin, ymin, xmax, ymax)."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float

    @property
    def centre(self) -> Tuple[float, float]:
        """(x, y) of the box centre."""
        return (self.xmin + self.xmax) / 2.0, (self.ymin + self.ymax) / 2.0

    def to_wkt(self) -> str:
        """The box as a closed WKT polygon (for GeoPackage tile outlines)."""
        return _box_polygon(self.xmin, self.ymin, self.xmax, self.ymax).ExportToWkt()


@dataclass(frozen=True)
class LonLatBounds:
    """A box in EPSG:4326 degrees, axis order (west, south, east, north); ``west > east`` crosses 180°."""

    west: float
    south: float
    east: float
    north: float


@dataclass(frozen=True)
class TileGrid:
    """The global grid for one pixel size ``res`` (metres) and tile size ``tile_px`` (pixels)."""

    res: float = 30.0
    tile_px: int = 1024

    def __post_init__(self) -> None:
        res = float(self.res)
        if not math.isfinite(res) or res <= 0:
            raise GmiInputError("grid res must be a positive number of metres, got {!r}".format(self.res))
        object.__setattr__(self, "res", res)
        px = _index(self.tile_px, "grid tile_px")
        if px == 0:
            raise GmiInputError("grid tile_px must be >= 1, got 0")
        object.__setattr__(self, "tile_px", px)

    # -- geometry of the grid -------------------------------------------------------------
    @property
    def half_extent(self) -> float:
        """``floor(2*pi*R / res) * res / 2``: the grid origin is (-half, +half)."""
        return math.floor(2.0 * math.pi * EARTH_RADIUS_M / self.res) * self.res / 2.0

    @property
    def tile_size_m(self) -> float:
        """Side of one tile in metres (30 720 m at the default grid)."""
        return self.res * self.tile_px

    @property
    def tiles_per_axis(self) -> int:
        """Columns (= rows) needed to cover [-half, +half] (1305 at the default grid)."""
        return int(math.ceil(2.0 * self.half_extent / self.tile_size_m))

    @property
    def name(self) -> str:
        """``res-30_tilesize-1024``: the grid part of a tile key."""
        return "res-{:g}_tilesize-{}".format(self.res, self.tile_px)

    def tile(self, ix: int, iy: int) -> TileIndex:
        """A validated tile of this grid."""
        return self.check(TileIndex(ix, iy))

    def check(self, tile: TileIndex) -> TileIndex:
        """Return ``tile`` if it lies on this grid, else raise :class:`GmiInputError`."""
        last = self.tiles_per_axis - 1
        for name, value in (("x", tile.ix), ("y", tile.iy)):
            if value > last:
                raise GmiInputError("tile {} index {} is out of range 0..{} of the {} grid".format(
                    name, value, last, self.name))
        return tile

    def _left(self, ix: int) -> float:
        return -self.half_extent + ix * self.tile_size_m

    def _top(self, iy: int) -> float:
        return self.half_extent - iy * self.tile_size_m

    # -- points -> tiles ------------------------------------------------------------------
    def tile_of_xy(self, x: float, y: float) -> TileIndex:
        """The tile holding EPSG:3857 point (x, y); see the module notes for the edges."""
        x, y = float(x), float(y)
        limit = WORLD_HALF_WIDTH_M * (1 + 1e-12)
        for name, value in (("x", x), ("y", y)):
            if not math.isfinite(value) or abs(value) > limit:
                raise GmiInputError("EPSG:3857 {} = {!r} is outside the Web-Mercator world (±{:.2f} m)"
                                    .format(name, value, WORLD_HALF_WIDTH_M))
        if x < -self.half_extent:
            x += 2.0 * WORLD_HALF_WIDTH_M
        last = self.tiles_per_axis - 1
        ix = min(max(math.floor((x + self.half_extent) / self.tile_size_m), 0), last)
        iy = min(max(math.floor((self.half_extent - y) / self.tile_size_m), 0), last)
        # Division can round across a tile edge; settle on the tile whose bounds hold the point.
        if ix > 0 and x < self._left(ix):
            ix -= 1
        elif ix < last and x >= self._left(ix + 1):
            ix += 1
        if iy > 0 and y > self._top(iy):
            iy -= 1
        elif iy < last and y <= self._top(iy + 1):
            iy += 1
        return TileIndex(ix, iy)

    def tile_of_lonlat(self, lon: float, lat: float) -> TileIndex:
        """The tile holding WGS 84 (lon, lat); latitudes past ±85.0511° clamp to the edge row."""
        lon, lat = float(lon), float(lat)
        if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
            raise GmiInputError("longitude {!r} is outside -180..180".format(lon))
        if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
            raise GmiInputError("latitude {!r} is outside -90..90".format(lat))
        lat = max(-MERCATOR_MAX_LAT, min(MERCATOR_MAX_LAT, lat))
        x, y = _to_mercator().transform(lon, lat)
        return self.tile_of_xy(max(-WORLD_HALF_WIDTH_M, min(WORLD_HALF_WIDTH_M, x)),
                               max(-WORLD_HALF_WIDTH_M, min(WORLD_HALF_WIDTH_M, y)))

    # -- tiles -> boxes -------------------------------------------------------------------
    def bounds(self, tile: TileIndex) -> BoundsXY:
        """The tile's box in EPSG:3857 metres."""
        self.check(tile)
        left, top = self._left(tile.ix), self._top(tile.iy)
        return BoundsXY(left, top - self.tile_size_m, left + self.tile_size_m, top)

    def lonlat_bounds(self, tile: TileIndex) -> LonLatBounds:
        """The tile's box in degrees (a Web-Mercator tile is a lon/lat rectangle)."""
        b = self.bounds(tile)
        (west, east), (south, north) = _to_lonlat().transform([b.xmin, b.xmax], [b.ymin, b.ymax])
        return LonLatBounds(west, south, east, north)

    def geotransform(self, tile: TileIndex, px: Optional[int] = None) -> Tuple[float, ...]:
        """GDAL geotransform of the tile sampled at ``px`` x ``px`` pixels (default ``tile_px``).

        ``px=MODIS_TILE_PX`` gives the 256² MODIS reference sampling (120 m pixels at 30 m / 1024).
        """
        px = self.tile_px if px is None else _index(px, "pixels per tile side")
        if px == 0:
            raise GmiInputError("pixels per tile side must be >= 1, got 0")
        b = self.bounds(tile)
        step = self.tile_size_m / px
        return (b.xmin, step, 0.0, b.ymax, 0.0, -step)

    # -- keys -----------------------------------------------------------------------------
    def key(self, tile: TileIndex) -> str:
        """The reference engine's ``tile_info`` text, e.g. ``res-30_tilesize-1024_x-260_y-526``."""
        self.check(tile)
        return "{}_x-{}_y-{}".format(self.name, tile.ix, tile.iy)

    def parse_key(self, text: str) -> TileIndex:
        """The tile of a key made by :meth:`key`; the key must name this grid."""
        match = _KEY_RE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise GmiInputError("tile key {!r} is not of the form 'res-<m>_tilesize-<px>_x-<ix>_y-<iy>'"
                                .format(text))
        if float(match["res"]) != self.res or int(match["px"]) != self.tile_px:
            raise GmiInputError("tile key {!r} is not on the {} grid".format(text, self.name))
        return self.tile(int(match["ix"]), int(match["iy"]))

    # -- footprints -----------------------------------------------------------------------
    def tiles_for_polygon(self, lonlat_ring: Iterable[Sequence[float]],
                          max_step_deg: float = 0.01) -> List[TileIndex]:
        """Sorted tiles whose interior the footprint polygon overlaps (not its bounding box).

        ``lonlat_ring`` lists (lon, lat) vertices in order, open or closed, e.g. the four corners
        of an ASTER scene. Edges are straight in lon/lat, densified every ``max_step_deg`` before
        projecting to EPSG:3857. A ring spanning more than 180° of longitude is taken to cross the
        antimeridian. Tiles that only share an edge or corner with the polygon are left out.
        """
        from osgeo import gdal

        ring = _checked_ring(lonlat_ring)
        xs, ys = _project_ring(_densify(ring, max_step_deg))
        polygon = _ring_polygon(xs, ys)
        gdal.PushErrorHandler("CPLQuietErrorHandler")  # IsValid() logs why; the error below says it
        try:
            valid = polygon.IsValid() and polygon.GetArea() > 0.0
        finally:
            gdal.PopErrorHandler()
        if not valid:
            raise GmiInputError("footprint polygon {} is self-intersecting or has no area "
                                "(are the corners in ring order?)".format(ring))
        found = set()
        for shift in (0.0, 2.0 * WORLD_HALF_WIDTH_M, -2.0 * WORLD_HALF_WIDTH_M):
            part = polygon if shift == 0.0 else _ring_polygon([x + shift for x in xs], ys)
            found.update(self._tiles_overlapping(part))
        return sorted(found)

    def _tiles_overlapping(self, polygon: "ogr.Geometry") -> List[TileIndex]:
        xmin, xmax, ymin, ymax = polygon.GetEnvelope()
        last, size, half = self.tiles_per_axis - 1, self.tile_size_m, self.half_extent
        ix0 = max(math.floor((xmin + half) / size), 0)
        ix1 = min(math.floor((xmax + half) / size), last)
        iy0 = max(math.floor((half - ymax) / size), 0)
        iy1 = min(math.floor((half - ymin) / size), last)
        tiles = []
        for iy in range(iy0, iy1 + 1):
            for ix in range(ix0, ix1 + 1):
                b = self.bounds(TileIndex(ix, iy))
                square = _box_polygon(b.xmin, b.ymin, b.xmax, b.ymax)
                if polygon.Intersects(square) and not polygon.Touches(square):
                    tiles.append(TileIndex(ix, iy))
        return tiles


DEFAULT_GRID = TileGrid()
"""The grid of DESIGN.md: 30 m pixels, 1024 px tiles."""


TileLike = Union[TileIndex, Tuple[int, int], str]
"""What :func:`tile_index` accepts: a TileIndex, an (ix, iy) pair, ``"IX,IY"`` text or a tile key."""


def tile_index(value: Any, grid: Optional[TileGrid] = DEFAULT_GRID) -> TileIndex:
    """The one normaliser of a tile given as a TileIndex, an (ix, iy) pair, ``"IX,IY"`` text
    (``"260,526"``, blanks allowed) or a tile key of ``grid`` (``"res-30_tilesize-1024_x-260_y-526"``).

    The tile is checked to lie on ``grid``; ``grid=None`` skips that check (keys are then read on
    :data:`DEFAULT_GRID`). Raises :class:`GmiInputError` (a ValueError) naming the bad value.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("res-"):
            return (grid or DEFAULT_GRID).parse_key(text)
        try:
            ix, iy = (int(v) for v in text.replace(" ", "").split(","))
        except ValueError:
            raise GmiInputError("{!r} is not IX,IY (e.g. 260,526) or a tile key".format(value)) from None
        tile = TileIndex(ix, iy)
    elif isinstance(value, TileIndex):
        tile = value
    else:
        try:
            ix, iy = value
        except (TypeError, ValueError):
            raise GmiInputError("{!r} is not a tile: give a TileIndex, (ix, iy), 'IX,IY' or a tile key"
                                .format(value)) from None
        tile = TileIndex(ix, iy)
    return tile if grid is None else grid.check(tile)


def bounds_xy(value: Any) -> BoundsXY:
    """The one normaliser of EPSG:3857 bounds: an object with ``xmin``/``ymin``/``xmax``/``ymax``
    (e.g. a :class:`BoundsXY`) or a 4-sequence in that order; finite with xmin < xmax, ymin < ymax.

    Raises :class:`GmiInputError` (a ValueError) naming the bad value.
    """
    if all(hasattr(value, k) for k in ("xmin", "ymin", "xmax", "ymax")):
        values = (value.xmin, value.ymin, value.xmax, value.ymax)
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise GmiInputError("bounds {!r}: need xmin/ymin/xmax/ymax or a 4-tuple".format(value)) from None
        if len(values) != 4:
            raise GmiInputError("bounds {!r}: need 4 numbers (xmin, ymin, xmax, ymax)".format(value))
    try:
        xmin, ymin, xmax, ymax = (float(v) for v in values)
    except (TypeError, ValueError):
        raise GmiInputError("bounds {!r}: values must be numbers".format(value)) from None
    if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)) or xmin >= xmax or ymin >= ymax:
        raise GmiInputError("bounds {!r}: need finite xmin < xmax and ymin < ymax".format(value))
    return BoundsXY(xmin, ymin, xmax, ymax)


def _checked_ring(points: Iterable[Sequence[float]]) -> List[Tuple[float, float]]:
    """Finite (lon, lat) pairs in range, without the closing repeat; at least three."""
    ring = []
    for n, point in enumerate(points):
        try:
            lon, lat = (float(v) for v in point)
        except (TypeError, ValueError):
            raise GmiInputError("footprint vertex {} is not a (lon, lat) pair: {!r}"
                                .format(n, point)) from None
        if not (math.isfinite(lon) and -180.0 <= lon <= 180.0
                and math.isfinite(lat) and -90.0 <= lat <= 90.0):
            raise GmiInputError("footprint vertex {} = ({!r}, {!r}) is not a valid lon/lat"
                                .format(n, lon, lat))
        ring.append((lon, lat))
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()
    if len(ring) < 3:
        raise GmiInputError("a footprint polygon needs at least 3 distinct vertices, got {}"
                            .format(len(ring)))
    if max(lon for lon, _ in ring) - min(lon for lon, _ in ring) > 180.0:
        ring = [(lon + 360.0 if lon < 0 else lon, lat) for lon, lat in ring]
    return ring


def _densify(ring: List[Tuple[float, float]], max_step_deg: float) -> List[Tuple[float, float]]:
    """The closed ring with extra vertices so no edge is longer than ``max_step_deg``."""
    if not (math.isfinite(max_step_deg) and max_step_deg > 0):
        raise GmiInputError("max_step_deg must be > 0, got {!r}".format(max_step_deg))
    dense = []
    for (lon0, lat0), (lon1, lat1) in zip(ring, ring[1:] + ring[:1]):
        steps = max(1, math.ceil(max(abs(lon1 - lon0), abs(lat1 - lat0)) / max_step_deg))
        dense.extend((lon0 + (lon1 - lon0) * k / steps, lat0 + (lat1 - lat0) * k / steps)
                     for k in range(steps))
    dense.append(dense[0])
    return dense


def _project_ring(ring: List[Tuple[float, float]]) -> Tuple[List[float], List[float]]:
    """EPSG:3857 coordinates; longitudes past 180° (antimeridian unwrap) continue eastwards."""
    lons = [lon for lon, _ in ring]
    lats = [max(-MERCATOR_MAX_LAT, min(MERCATOR_MAX_LAT, lat)) for _, lat in ring]
    xs, ys = _to_mercator().transform([lon - 360.0 if lon > 180.0 else lon for lon in lons], lats)
    xs = [x + 2.0 * WORLD_HALF_WIDTH_M if lon > 180.0 else x for x, lon in zip(xs, lons)]
    return list(xs), list(ys)


def _ring_polygon(xs: Sequence[float], ys: Sequence[float]) -> "ogr.Geometry":
    from osgeo import ogr  # GDAL is loaded only by footprint work (`gmi --help` must not need it)

    ogr.UseExceptions()
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in zip(xs, ys):
        ring.AddPoint_2D(x, y)
    polygon = ogr.Geometry(ogr.wkbPolygon)
    polygon.AddGeometry(ring)
    return polygon


def _box_polygon(xmin: float, ymin: float, xmax: float, ymax: float) -> "ogr.Geometry":
    return _ring_polygon([xmin, xmax, xmax, xmin, xmin], [ymin, ymin, ymax, ymax, ymin])
