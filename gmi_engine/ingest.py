"""Ingest: AST_L1T granules -> one source row per (granule, tile) in a workspace store.

For every tile a granule's footprint touches: the DN bands 1–9 warped onto the tile and cropped
(:mod:`gmi_engine.tiling`), the tile's 6S state (sun and view geometry and date from the granule;
AOD550 and water vapour from the same day's MCD19A2; target altitude from GDEM; ozone from a
zonal-mean climatology; aerosol model given or by a regional rule) and its xa/xb/xc, the MOD09A1
reference sampled at 256² and a quality record.
Re-ingesting a granule replaces its rows. :func:`ingest_many` is the one job every front end runs.

With ``IngestOptions.workers`` > 1 (default: all cores) the tiles of a granule are cut, sampled and
their blobs encoded by that many threads (GDAL, zlib and numpy release the GIL; each thread has its
own GDAL handles, the DN bands and the MOD09A1 copy are read once); the LUT lookups of all tiles and
the write stay in the calling thread, so the rows are the same bytes for any number of workers.
Threads, not processes: nothing starts a process inside QGIS, and no worker imports the engine or
reads the granule again (a process-pool version, branch s30-ingest-par, was slower with 2 processes
than with 1 on the bench granule).
"""
from __future__ import annotations

import logging
import os
import re
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, List, Optional, Sequence, Set

import numpy as np

from gmi_engine.ancillary.aerosol import sample_aod_wv, sample_aod_wv_nodes
from gmi_engine.ancillary.elevation import GdemTiles, altitude_nodes, sample_altitude
from gmi_engine.ancillary.modis_reference import Mod09a1Reference, reference_provenance
from gmi_engine.aster.geometry import view_geometry
from gmi_engine.aster.names import granule_id
from gmi_engine.aster.reader import Granule, open_granule, skip_reason
from gmi_engine.atmosphere.aerosol_rule import AUTO, regional_aerosol_model
from gmi_engine.atmosphere.coefficients import merge_telescopes
from gmi_engine.atmosphere.columns import sixs_columns, sixs_columns_array
from gmi_engine.atmosphere.ozone import OZONE_SOURCE, climatology_ozone
from gmi_engine.atmosphere.sixs import compute_many
from gmi_engine.atmosphere.state import AtmosphereState
from gmi_engine.errors import GmiError, GmiInputError
from gmi_engine.grid import DEFAULT_GRID, TileGrid, TileIndex
from gmi_engine.kernel.bands import BAND_COLUMNS, BANDS
from gmi_engine.kernel.fields import encode_field
from gmi_engine.progress import Cancelled, Progress, fraction, report, sub_range
from gmi_engine.table import MODIS_BANDS, SourceRow, encode_cell
from gmi_engine.thermal import source_bt13, tile_bt13
from gmi_engine.tiling import TileCut, cut_granule, cut_tile, dn_stacks, granule_tiles, subsystem_sources

# The 6S base-case total ozone (300 DU, science.md §2.3); ingest now uses the climatology
# (:mod:`gmi_engine.atmosphere.ozone`) unless ``IngestOptions.ozone`` is given.
DEFAULT_OZONE_CM_ATM = 0.30
#: Names of the ``inputs`` records whose value can come from a default instead of data.
DEFAULTABLE_INPUTS = ("aod550", "water_vapour", "ozone", "altitude_km", "aerosol_model")
_MODIS_DATE = re.compile(r"\.A(\d{4})(\d{3})\.")

log = logging.getLogger(__name__)


#: Default coefficient-field nodes per tile side: 16 x 16 blocks of 64 pixels (~1.9 km).
FIELD_NODES = 17


@dataclass
class IngestOptions:
    """Ancillary inputs and 6S settings for an ingest run."""

    mcd19a2: Sequence[Path] = ()
    gdem: Sequence[Path] = ()
    modis_ref: Sequence[Path] = ()
    tiles: Optional[Sequence[TileIndex]] = None
    #: Total ozone (cm-atm) for every tile; None = the latitude/day climatology (recorded as a default).
    ozone: Optional[float] = None
    #: 6S aerosol model; "auto" = the regional desert/continental rule; None = continental. Both
    #: "auto" and None are recorded as defaults in the row's inputs.
    aerosol_model: Optional[str] = None
    processes: int = 2
    #: Threads that cut, sample and encode the tiles of a granule at once (``gmi ingest
    #: --workers``); None = all cores, 1 = one tile after the other (as before). The rows are the
    #: same bytes for any number: each tile is made alone, the LUT lookups and the write stay here.
    workers: Optional[int] = None
    grid: TileGrid = field(default_factory=lambda: DEFAULT_GRID)
    #: 6S LUT file for xa/xb/xc; None = direct 6S runs. States outside the LUT's envelope fall
    #: back to direct 6S (logged; the row's ``ac`` then has source "6s-direct" and "lut_fallback").
    lut: Optional[Path] = None
    #: Coefficient-field nodes per tile side (``n - 1`` blocks, nodes on the tile edges, see
    #: :mod:`gmi_engine.kernel.fields`); used with a LUT only. 0 = one state per tile (no field).
    field_nodes: int = FIELD_NODES
    #: AOD and water vapour per field node from the MCD19A2 pixels (True) or the tile's values at
    #: every node (False: the fields of session 27, altitude-only; kept to measure the difference).
    field_aod_wv: bool = True


def modis_date(path) -> Optional[date]:
    """The acquisition (or composite start) date in a MODIS file name (``.AYYYYDDD.``)."""
    m = _MODIS_DATE.search(Path(path).name)
    if not m:
        return None
    return date.fromordinal(date(int(m.group(1)), 1, 1).toordinal() + int(m.group(2)) - 1)


def same_day_products(paths: Iterable, day: date) -> List[Path]:
    """The MCD19A2 files of the granule's acquisition day (daily product)."""
    return [Path(p) for p in paths if modis_date(p) == day]


#: Lowest mean tile altitude accepted (Dead Sea shore -0.43 km); 6S runs such tiles at sea level.
MIN_ALTITUDE_KM = -0.5


class TileInputError(GmiInputError):
    """One tile's ancillary values cannot make a 6S state (the tile is skipped and recorded)."""


def _clamped(record: dict, used: float, why: str) -> dict:
    """``record`` plus the value 6S ran with and why it differs from the data."""
    if used != record["value"]:
        record = dict(record, used=used, clamped=why)
    return record


def defaulted_inputs(inputs: dict) -> List[str]:
    """The names in :data:`DEFAULTABLE_INPUTS` whose ``source`` in ``inputs`` is a default, not data."""
    return [name for name in DEFAULTABLE_INPUTS
            if str(inputs.get(name, {}).get("source", "")).startswith("default")]


def tile_state(granule: Granule, cut_bounds, options: IngestOptions, gdem: Optional[GdemTiles] = None) -> tuple:
    """(VNIR state, SWIR state, inputs record) for one tile of a granule (``gdem``: the GDEM
    tiles of ``options`` opened once, else they are opened for this tile).

    MCD19A2 water vapour (and the ozone column) are columns above the surface; 6S wants
    sea-level-referenced inputs, see :mod:`gmi_engine.atmosphere.columns`. AOD below 0 runs as 0,
    altitudes in [:data:`MIN_ALTITUDE_KM`, 0) run at sea level; both are recorded in ``inputs``.
    """
    aod, wv = sample_aod_wv(same_day_products(options.mcd19a2, granule.acquired.date()), cut_bounds,
                            overpass=granule.acquired)
    altitude = sample_altitude(gdem if gdem is not None else list(options.gdem), cut_bounds)
    if altitude.value < MIN_ALTITUDE_KM:
        raise TileInputError("GDEM mean altitude {:.3f} km is below {} km, no land is that low ({})".format(
            altitude.value, MIN_ALTITUDE_KM, altitude.source))
    run_altitude = max(0.0, altitude.value)
    run_aod = max(0.0, aod.value)
    corners = granule.footprint_lonlat
    lon = sum(x for x, _ in corners) / max(1, len(corners))
    latitude = sum(lat for _, lat in corners) / max(1, len(corners))
    if options.ozone is None:
        ozone, ozone_source = climatology_ozone(latitude, granule.acquired.date()), OZONE_SOURCE
    else:
        ozone, ozone_source = float(options.ozone), "options: ozone {} cm-atm".format(options.ozone)
    if options.aerosol_model is None:
        model = "continental"
        model_source = "default: continental (no aerosol model given; 'auto' applies the regional rule)"
    elif str(options.aerosol_model).lower() == AUTO:
        model, model_source = regional_aerosol_model(lon, latitude)
    else:
        model, model_source = options.aerosol_model, "options: aerosol_model"
    uw, uo3 = sixs_columns(wv.value, ozone, run_altitude)
    view_zenith, view_azimuth = view_geometry(granule.pointing.get("VNIR", 0.0), latitude)
    state = AtmosphereState(
        sun_zenith=granule.sun_zenith, sun_azimuth=granule.sun_azimuth,
        view_zenith=view_zenith, view_azimuth=view_azimuth,
        month=granule.acquired.month, day=granule.acquired.day,
        aot550=run_aod, water_vapour=uw, ozone=uo3,
        altitude_km=run_altitude, aerosol_model=model)
    inputs = {
        "aod550": _clamped({"value": aod.value, "source": aod.source, "n_valid": aod.n_valid,
                            "orbits": aod.detail.get("orbit_selection")},
                           run_aod, "MAIAC AOD below 0: 6S run with 0"),
        "water_vapour": {"value": wv.value, "source": wv.source, "n_valid": wv.n_valid,
                         "orbits": wv.detail.get("orbit_selection"),
                         "sixs_input": uw, "note": "column above the target; sixs_input is the "
                         "sea-level-referenced value 6S needs for the same column above the target"},
        "altitude_km": _clamped({"value": altitude.value, "source": altitude.source,
                                 "n_valid": altitude.n_valid},
                                run_altitude, "below sea level: 6S run at 0 km"),
        "ozone": {"value": ozone, "source": ozone_source, "sixs_input": uo3},
        "aerosol_model": {"value": state.aerosol_model, "source": model_source},
        "geometry": {"source": "granule metadata (SOLARDIRECTION, POINTINGANGLE.1 for B1-B3N, "
                     "POINTINGANGLE.2 for B4-B9, CALENDARDATE); view zenith at the ground, 6S view "
                     "azimuth = sensor seen from the target (docs/atmosphere.md)"},
    }
    inputs["defaults"] = defaulted_inputs(inputs)
    swir_pointing = granule.pointing.get("SWIR", granule.pointing.get("VNIR", 0.0))
    swir_zenith, swir_azimuth = view_geometry(swir_pointing, latitude)
    swir_state = replace(state, view_zenith=swir_zenith, view_azimuth=swir_azimuth)
    return state, swir_state, inputs


def tile_coefficients(states: Sequence[AtmosphereState], options: IngestOptions) -> tuple:
    """(coefficients, fallback reasons) per state: LUT lookups when ``options.lut`` is set
    (direct 6S for states outside its envelope, reason recorded), else direct 6S runs."""
    if not states:
        return [], []
    if options.lut is None:
        return compute_many(states, processes=options.processes), [None] * len(states)
    path = Path(options.lut)
    lut = _cached_lut(str(path), path.stat().st_mtime_ns if path.exists() else 0)
    reasons = [lut.outside(s) for s in states]
    inside = [s for s, r in zip(states, reasons) if r is None]
    outside = [s for s, r in zip(states, reasons) if r is not None]
    for reason in filter(None, reasons):
        log.warning("LUT not usable, running 6S directly: %s", reason)
    looked_up = iter(lut.coefficients_many(inside))
    direct = iter(compute_many(outside, processes=options.processes) if outside else [])
    return [next(direct) if r else next(looked_up) for r in reasons], reasons


@lru_cache(maxsize=4)
def _cached_lut(path: str, mtime_ns: int):
    """The LUT at ``path``, loaded once per file version."""
    from gmi_engine.atmosphere.lut import load_lut

    return load_lut(path)


def _node_field(values: np.ndarray, pixels: np.ndarray, tile_value: float, selection: str,
                low: Optional[float] = None) -> tuple:
    """(node values, provenance) of one quantity: NaN nodes filled with the tile value, values
    below ``low`` clamped to it; the record counts both."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    missing = ~np.isfinite(flat)
    filled = np.where(missing, float(tile_value), flat)
    record = {"nodes": int(flat.size), "from_data": int((~missing).sum()),
              "filled_from_tile": int(missing.sum()), "orbits": selection,
              "min_pixels_per_node": int(np.min(pixels)) if np.size(pixels) else 0}
    if low is not None:
        below = filled < low
        if below.any():
            record["clamped_nodes"] = int(below.sum())
        filled = np.maximum(filled, low)
    record.update(min=float(filled.min()), max=float(filled.max()))
    return filled, record


def _node_arrays(state: AtmosphereState, swir: AtmosphereState, inputs: dict, bounds,
                 options: IngestOptions, granule: Optional[Granule] = None,
                 gdem: Optional[GdemTiles] = None) -> dict:
    """LUT lookup arrays of one tile's field nodes: VNIR nodes then SWIR nodes (``2 n n`` states).

    Altitude per node from GDEM (:func:`~gmi_engine.ancillary.elevation.altitude_nodes`; the tile
    mean where GDEM has no data; below sea level runs at 0 km). AOD and above-surface water vapour
    per node from the same day's MCD19A2 (:func:`~gmi_engine.ancillary.aerosol.sample_aod_wv_nodes`,
    Terra orbit nearest the overpass; nodes without a valid pixel take the tile value, AOD below 0
    runs as 0), recorded in ``inputs[...]["field"]``. Water and ozone are rescaled to 6S's
    sea-level columns for each node's altitude.
    """
    n = options.field_nodes
    heights = altitude_nodes(gdem if gdem is not None else list(options.gdem), bounds, n).ravel()
    heights = np.where(np.isfinite(heights), heights, inputs["altitude_km"]["value"])
    heights = np.round(np.maximum(heights, 0.0), 2)
    aod_in, wv_in = inputs["aod550"], inputs["water_vapour"]
    products = same_day_products(options.mcd19a2, granule.acquired.date()) \
        if granule is not None and options.field_aod_wv else []
    if products:
        nodes = sample_aod_wv_nodes(products, bounds, n, overpass=granule.acquired)
        aod, aod_in["field"] = _node_field(nodes.aod, nodes.aod_pixels, aod_in["value"], nodes.aod_orbits, 0.0)
        wv, wv_in["field"] = _node_field(nodes.wv, nodes.wv_pixels, wv_in["value"], nodes.wv_orbits, 0.0)
    else:
        why = ("no same-day MCD19A2 file" if options.field_aod_wv else "field_aod_wv off") + \
            ": every node has the tile value"
        aod = np.full(n * n, max(0.0, float(aod_in["value"])))
        wv = np.full(n * n, float(wv_in["value"]))
        for record, values in ((aod_in, aod), (wv_in, wv)):
            record["field"] = {"nodes": n * n, "from_data": 0, "filled_from_tile": n * n, "orbits": why,
                               "min": float(values.min()), "max": float(values.max())}
    uw, uo3 = sixs_columns_array(wv, inputs["ozone"]["value"], heights)
    args = {}
    for name, vnir_value, swir_value in (
            ("sun_zenith", state.sun_zenith, swir.sun_zenith),
            ("view_zenith", state.view_zenith, swir.view_zenith),
            ("relative_azimuth", state.relative_azimuth, swir.relative_azimuth),
            ("month", state.month, swir.month), ("day", state.day, swir.day)):
        args[name] = np.concatenate([np.full(n * n, float(vnir_value)), np.full(n * n, float(swir_value))])
    args["aot550"] = np.tile(aod, 2)
    args["water_vapour"] = np.tile(uw, 2)
    args["ozone"] = np.tile(uo3, 2)
    args["altitude_km"] = np.tile(heights, 2)
    return args


#: Resolution of node states before the LUT lookup (distinct states are looked up once):
#: altitude 10 m, AOD550 0.005, 6S water input 0.02 g/cm2, ozone 0.001 cm-atm, far finer than
#: MAIAC's uncertainty (AOD +-(0.05 + 15 %), water ~10 %); each step moves reflectance < 2e-4.
_NODE_STEPS = {"altitude_km": 0.01, "aot550": 0.005, "water_vapour": 0.02, "ozone": 0.001}


def tile_fields(states: Sequence[AtmosphereState], swir_states: Sequence[AtmosphereState],
                inputs: Sequence[dict], bounds: Sequence, options: IngestOptions,
                granule: Optional[Granule] = None, gdem: Optional[GdemTiles] = None) -> list:
    """Per tile: its ``ac["field"]`` dict, or a str saying why it has none.

    All tiles' node states go through ONE vectorised LUT lookup; a tile with a node outside the
    LUT's envelope keeps its single state (the reason is returned instead of a field). Without
    ``granule`` (its date and overpass select the MCD19A2 files) AOD and water vapour are the
    tile's values at every node.
    """
    if not _uses_fields(options) or not states:
        return ["one state per tile (no LUT or field_nodes < 2)"] * len(states)
    return _fields_from_nodes([_node_arrays(s, w, i, b, options, granule, gdem)
                               for s, w, i, b in zip(states, swir_states, inputs, bounds)], options)


def _uses_fields(options: IngestOptions) -> bool:
    """Whether ingest makes coefficient fields (a LUT and at least 2 nodes per side)."""
    return options.lut is not None and options.field_nodes >= 2


def _fields_from_nodes(nodes: Sequence[Optional[dict]], options: IngestOptions) -> list:
    """:func:`tile_fields` from each tile's :func:`_node_arrays`: one vectorised LUT lookup."""
    if not _uses_fields(options) or not nodes:
        return ["one state per tile (no LUT or field_nodes < 2)"] * len(nodes)
    path = Path(options.lut)
    tables = _cached_lut(str(path), path.stat().st_mtime_ns if path.exists() else 0).tables
    n = options.field_nodes
    out, parts, usable = [], [], []
    for args in nodes:
        try:
            tables.check_envelope(**{k: v for k, v in args.items()
                                     if k not in ("relative_azimuth", "month", "day")})
        except GmiInputError as exc:
            out.append("field nodes outside the LUT: {}".format(exc))
            continue
        out.append(None)
        parts.append(args)
        usable.append(len(out) - 1)
    if parts:
        names = list(parts[0])
        joined = np.stack([np.concatenate([p[k] for p in parts]) for k in names], axis=1)
        for name, step in _NODE_STEPS.items():  # look each distinct state up once
            joined[:, names.index(name)] = np.round(joined[:, names.index(name)] / step) * step
        distinct, inverse = np.unique(joined, axis=0, return_inverse=True)
        xa, xb, xc = (c[inverse.ravel()] for c in tables.lookup(**dict(zip(names, distinct.T))))
        k, nn = 3, n * n
        for j, t in enumerate(usable):
            base = 2 * nn * j
            coeffs = [np.concatenate([c[base:base + nn, :k], c[base + nn:base + 2 * nn, k:]], axis=1)
                      for c in (xa, xb, xc)]
            values = np.stack([c.T.reshape(len(BANDS), n, n) for c in coeffs])
            out[t] = encode_field(values)
    return out


def granule_meta(granule: Granule) -> dict:
    """The source row's ``meta``: what the kernel needs from the granule's metadata."""
    return {
        "granule_id": granule.granule_id,
        "file": granule.path.name,
        "version": granule.version,  # AST_L1T collection as CMR names it: "003" or "031" (v3.1)
        "acquired": granule.acquired.isoformat(),
        "sun_azimuth": granule.sun_azimuth,
        "sun_elevation": granule.sun_elevation,
        "pointing": granule.pointing,
        "utm_epsg": granule.epsg,
        "footprint_lonlat": [list(p) for p in granule.footprint_lonlat],
        "gains": {c: granule.gains.get(b, "OFF") for b, c in zip(BANDS, BAND_COLUMNS)},
        "incl": {c: granule.bands[b].incl for b, c in zip(BANDS, BAND_COLUMNS)
                 if b in granule.bands and granule.bands[b].incl is not None},
    }


def _quality(granule: Granule, cut: TileCut, bt13: Optional[dict] = None) -> dict:
    saturated = {}
    for b, c in zip(BANDS, BAND_COLUMNS):
        if b in cut.bands:
            arr = cut.bands[b]
            valid = arr > 0
            n = int(valid.sum())
            saturated[c] = float((arr == 255).sum()) / n if n else 0.0
    return {
        "swir_usable": granule.swir_usable,
        "swir_rule": "acquired before 2008-04-01",
        "cloud_cover": granule.cloud_cover,
        "gains": {c: granule.gains.get(b, "OFF") for b, c in zip(BANDS, BAND_COLUMNS)},
        "saturated_fraction": saturated,
        **({"bt13": bt13} if bt13 is not None else {}),
    }


def _area(bounds: Sequence[Any]) -> tuple:
    """(xmin, ymin, xmax, ymax) around the tiles' ``bounds``: the MOD09A1 area of a granule."""
    return (min(b.xmin for b in bounds), min(b.ymin for b in bounds),
            max(b.xmax for b in bounds), max(b.ymax for b in bounds))


def _modis_bands(reference: Mod09a1Reference, bounds: Any, options: IngestOptions) -> dict:
    """One tile's MOD09A1 columns (m01..m07) sampled from ``reference``."""
    stack = reference.sample(bounds, size=256 * options.grid.tile_px // 1024)
    return {name: stack[i] for i, name in enumerate(MODIS_BANDS)}


def _modis(options: IngestOptions, bounds: Sequence[Any], day: date) -> List[dict]:
    """Per tile, its MOD09A1 reference bands: clear land of the composite(s) nearest ``day``,
    the files read once for all the granule's tiles (empty dicts without ``modis_ref``)."""
    if not options.modis_ref or not bounds:
        return [{} for _ in bounds]
    with Mod09a1Reference(list(options.modis_ref), _area(bounds), day=day) as reference:
        return [_modis_bands(reference, b, options) for b in bounds]


def ingest_workers(options: IngestOptions) -> int:
    """Tile threads of ``options``: ``workers``, all cores when None or 0 (as ``gmi run``)."""
    return max(1, int(options.workers or os.cpu_count() or 1))


@dataclass
class TilePart:
    """One tile of a granule as a tile thread makes it (the LUT lookups and the row come after)."""

    tile: TileIndex
    cut: TileCut
    bounds: Any
    #: (VNIR state, SWIR state, inputs) of :func:`tile_state`; None when ``error`` is set.
    state: Optional[tuple] = None
    #: One of :data:`TILE_ERRORS`: the tile is skipped and recorded.
    error: Optional[BaseException] = None
    nodes: Optional[dict] = None
    bt13: Optional[dict] = None
    modis: dict = field(default_factory=dict)
    #: Encoded DN and MODIS cells (:attr:`SourceRow.blobs`).
    blobs: dict = field(default_factory=dict)


class _GranuleTiles:
    """What the tile threads of one granule share (read once) and what each holds alone.

    Shared: the granule, its VNIR/SWIR DN arrays (:meth:`read_stacks`), the MOD09A1 reference
    (built on the pool while the DN bands are read). Per thread (a GDAL dataset must not be used
    by two threads at once): handles on the band stacks, the band-13 VRT and the GDEM tiles.
    """

    def __init__(self, granule: Granule, options: IngestOptions, area: Optional[tuple],
                 pool: ThreadPoolExecutor) -> None:
        self.granule, self.options, self.area = granule, options, area
        self.reference: Optional[Future] = None
        if options.modis_ref and area is not None:
            self.reference = pool.submit(Mod09a1Reference, list(options.modis_ref), area,
                                         day=granule.acquired.date())
        if options.lut is not None:  # loaded while the tiles are cut
            path = Path(options.lut)
            pool.submit(_cached_lut, str(path), path.stat().st_mtime_ns if path.exists() else 0)
        self.stacks: Future = Future()
        self._local = threading.local()

    def read_stacks(self) -> None:
        """Read the DN bands (in the calling thread, while the tile threads sample the first states)."""
        try:
            self.stacks.set_result(dn_stacks(self.granule))
        except BaseException as exc:
            self.stacks.set_exception(exc)

    def _own(self) -> threading.local:
        local = self._local
        if not hasattr(local, "gdem"):
            local.gdem = GdemTiles(self.options.gdem)
            local.bt13 = self.granule.georeferenced("13") if "13" in self.granule.bands else None
        if not hasattr(local, "sources") and self.stacks.done():
            local.sources = subsystem_sources(self.granule, self.stacks.result())
        return local

    def part(self, tile: TileIndex) -> Optional[TilePart]:
        """Cut, sample and encode one tile (in a tile thread); None without a valid pixel.

        The tile's 6S state is sampled first when the DN bands are still being read (it does
        not need them); a tile without valid pixels then drops it, as if never made.
        """
        own, options, granule = self._own(), self.options, self.granule
        bounds = options.grid.bounds(tile)
        state = error = None
        if not hasattr(own, "sources"):
            try:
                state = tile_state(granule, bounds, options, own.gdem)
            except GRANULE_ERRORS as exc:
                error = exc
            own.sources = subsystem_sources(granule, self.stacks.result())
        cut = cut_tile(own.sources, options.grid, tile)
        if cut is None:
            return None
        part = TilePart(tile, cut, bounds)
        try:
            if error is not None:
                raise error
            part.state = state or tile_state(granule, bounds, options, own.gdem)
        except TILE_ERRORS as exc:
            part.error = exc
            return part
        if _uses_fields(options):
            part.nodes = _node_arrays(*part.state, bounds, options, granule, own.gdem)
        if own.bt13 is not None:
            part.bt13 = source_bt13(granule, own.bt13, options.grid, tile)
        part.blobs = {c: encode_cell(cut.bands[b], c) for b, c in zip(BANDS, BAND_COLUMNS) if b in cut.bands}
        if self.reference is not None:
            self.sample_modis(part, self.reference.result())
        return part

    def sample_modis(self, part: TilePart, reference: Mod09a1Reference) -> None:
        """``part.modis`` (and its encoded cells) from ``reference``."""
        part.modis = _modis_bands(reference, part.bounds, self.options)
        part.blobs.update((name, encode_cell(a, name)) for name, a in part.modis.items())

    def close(self) -> None:
        """Free the MOD09A1 copies."""
        if self.reference is not None and self.reference.done() and self.reference.exception() is None:
            self.reference.result().close()


def _named(exc: BaseException, granule_id: str, tile: TileIndex) -> BaseException:
    """``exc`` with the granule and tile in its message (same type), or ``exc`` when it cannot be rebuilt."""
    try:
        named = type(exc)("{} tile {}: {}".format(granule_id, tile, exc))
    except Exception:  # an exception type with another signature keeps its message
        return exc
    return named


def _tile_parts(granule: Granule, tiles: Sequence[TileIndex], options: IngestOptions, workers: int,
                progress: Optional[Progress], check: Callable[[], None]) -> List[TilePart]:
    """:class:`TilePart` of every tile with valid pixels, in ``tiles`` order, made by ``workers``
    threads; the MOD09A1 area is the kept tiles' (sampled again in the rare case a tile drops out)."""
    n = len(tiles)
    area = _area([options.grid.bounds(t) for t in tiles]) if options.modis_ref and tiles else None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gmi-ingest") as pool:
        shared = _GranuleTiles(granule, options, area, pool)
        try:
            running = {pool.submit(shared.part, t): k for k, t in enumerate(tiles)}
            shared.read_stacks()
            results = {}  # type: dict
            try:
                while running:
                    finished, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        k = running.pop(fut)
                        try:
                            results[k] = fut.result()
                        except GRANULE_ERRORS as exc:
                            raise _named(exc, granule.granule_id, tiles[k]) from exc
                        report(progress, fraction(len(results), n),
                               "{}: tile {}/{}".format(granule.granule_id, len(results), n))
                    check()
            finally:
                for fut in running:
                    fut.cancel()
            parts = [results[k] for k in range(n) if results[k] is not None]
            kept = [p for p in parts if p.error is None]
            if shared.reference is not None and kept and _area([p.bounds for p in kept]) != area:
                with Mod09a1Reference(list(options.modis_ref), _area([p.bounds for p in kept]),
                                      day=granule.acquired.date()) as reference:
                    for p in kept:
                        shared.sample_modis(p, reference)
            return parts
        finally:
            shared.close()


class IngestCancelled(Exception):
    """Raised by :func:`ingest_granule` when ``cancelled()`` turned true; nothing was written."""


def ingest_granule(path, store, options: IngestOptions = IngestOptions(),
                   progress: Optional[Progress] = None,
                   cancelled: Optional[Cancelled] = None,
                   tile_failures: Optional[list] = None) -> List[SourceRow]:
    """Ingest one granule into ``store`` (replacing its earlier rows); returns the rows.

    ``options.workers`` tile threads (:func:`ingest_workers`); an error in one of them fails the
    granule with the same error type, its message naming the granule and the tile.

    A tile whose ancillaries cannot make a 6S state (:data:`TILE_ERRORS`) is skipped; its
    ``(tile, error)`` is appended to ``tile_failures`` when given, the other tiles go on.

    ``progress`` goes from 0 to 1 over the granule's tiles; ``cancelled`` is polled between the
    steps and the tiles and stops with :class:`IngestCancelled` before anything is written.
    """
    def check() -> None:
        if cancelled is not None and cancelled():
            raise IngestCancelled(str(path))

    granule = open_granule(path)
    grid = options.grid
    tiles = granule_tiles(granule, grid)
    if options.tiles is not None:
        wanted = set(options.tiles)
        tiles = [t for t in tiles if t in wanted]
    check()
    workers = min(ingest_workers(options), len(tiles))
    blobs = [{} for _ in tiles]  # type: List[dict]
    if workers > 1:
        parts = _tile_parts(granule, tiles, options, workers, progress, check)
        for part in parts:
            if part.error is not None:
                log.warning("%s tile %s skipped: %s", granule.granule_id, part.tile, part.error)
                if tile_failures is not None:
                    tile_failures.append((part.tile, part.error))
        parts = [p for p in parts if p.error is None]
        cuts, bounds = [p.cut for p in parts], [p.bounds for p in parts]
        states, swir_states, inputs = ([p.state[i] for p in parts] for i in range(3))
        check()
        fields = _fields_from_nodes([p.nodes for p in parts], options)
        thermal = {p.tile: p.bt13 for p in parts if p.bt13 is not None}
        modis = [p.modis for p in parts]
        blobs = [p.blobs for p in parts]
    else:
        cuts = list(cut_granule(granule, grid, tiles))
        bounds = [grid.bounds(c.tile) for c in cuts]
        gdem = GdemTiles(options.gdem)
        states, swir_states, inputs, kept = [], [], [], []
        for cut, b in zip(cuts, bounds):
            try:
                s, s_swir, i = tile_state(granule, b, options, gdem)
            except TILE_ERRORS as exc:
                log.warning("%s tile %s skipped: %s", granule.granule_id, cut.tile, exc)
                if tile_failures is not None:
                    tile_failures.append((cut.tile, exc))
                continue
            states.append(s)
            swir_states.append(s_swir)
            inputs.append(i)
            kept.append((cut, b))
        cuts, bounds = [c for c, _ in kept], [b for _, b in kept]
        check()
        fields = tile_fields(states, swir_states, inputs, bounds, options, granule, gdem)
        thermal = tile_bt13(granule, grid, [c.tile for c in cuts])
        modis = _modis(options, bounds, granule.acquired.date())
    both, reasons = tile_coefficients(states + swir_states, options)
    n = len(states)
    coefficients = [merge_telescopes(v, w) for v, w in zip(both[:n], both[n:])]
    fallbacks = ["; ".join(filter(None, r)) or None for r in zip(reasons[:n], reasons[n:])]
    rows = []
    for k, (cut, b, coeffs, inp) in enumerate(zip(cuts, bounds, coefficients, inputs)):
        check()
        ac = coeffs.to_dict()
        ac["inputs"] = inp
        ac["state_swir"] = swir_states[k].to_dict()
        if fallbacks[k]:
            ac["lut_fallback"] = fallbacks[k]
        if options.modis_ref:
            ac["inputs"]["modis_ref"] = reference_provenance(list(options.modis_ref),
                                                             granule.acquired.date())
        if isinstance(fields[k], dict):
            ac["field"] = fields[k]
        else:
            ac["field_note"] = fields[k]
        rows.append(SourceRow(
            granule_id=granule.granule_id, tile_x=cut.tile.ix, tile_y=cut.tile.iy,
            acquired=granule.acquired, min_row=cut.min_row, max_row=cut.max_row,
            min_col=cut.min_col, max_col=cut.max_col,
            bands={c: cut.bands[b_] for b_, c in zip(BANDS, BAND_COLUMNS) if b_ in cut.bands},
            meta=granule_meta(granule), ac=ac, modis=modis[k],
            quality=_quality(granule, cut, thermal.get(cut.tile)), blobs=blobs[k]))
        if workers == 1:
            report(progress, fraction(k + 1, len(cuts)), "{}: tile {}/{}".format(granule.granule_id, k + 1, len(cuts)))
    check()
    store.replace_granule(granule.granule_id, rows)
    return rows


def _defaulted(rows: Sequence[SourceRow]) -> List[str]:
    """The :data:`DEFAULTABLE_INPUTS` that any of ``rows`` ran on a default."""
    used = {name for r in rows for name in (r.ac.get("inputs") or {}).get("defaults") or []}
    return [name for name in DEFAULTABLE_INPUTS if name in used]


#: What makes one tile be skipped within a granule: its ancillary values cannot make a 6S state.
TILE_ERRORS = (TileInputError,)

#: What makes one granule fail without stopping a batch: bad files, unreadable data, GDAL errors.
GRANULE_ERRORS = (GmiError, OSError, RuntimeError)


@dataclass(frozen=True)
class GranuleIngested:
    """One granule written: its file, id, row count and the tiles it touched (sorted)."""

    path: Path
    granule_id: str
    rows: int
    tiles: List[TileIndex]
    #: (tile, error) of the tiles skipped because their ancillaries could not make a 6S state.
    failed_tiles: List[tuple] = field(default_factory=list)
    #: The 6S inputs (:data:`DEFAULTABLE_INPUTS` names) that some tile ran on a default instead of data.
    defaulted: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class GranuleFailed:
    """One granule not written, and why."""

    path: Path
    error: BaseException


@dataclass
class IngestSummary:
    """What :func:`ingest_many` did, granule by granule."""

    ingested: List[GranuleIngested] = field(default_factory=list)
    failed: List[GranuleFailed] = field(default_factory=list)
    #: True when ``cancelled()`` stopped the job; the granules ingested before are kept.
    cancelled: bool = False
    #: The granule that was being ingested when the job was cancelled (not written), if any.
    interrupted: Optional[Path] = None
    #: Granules not tried (after a cancel, or after a failure without ``keep_going``).
    not_tried: List[Path] = field(default_factory=list)
    #: (file, why) of the files that are no granule (browse, metadata, QA…; see ``reader.skip_reason``).
    skipped: List[tuple] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Source rows written."""
        return sum(g.rows for g in self.ingested)

    @property
    def tiles(self) -> List[TileIndex]:
        """Every tile touched by an ingested granule, sorted."""
        touched: Set[TileIndex] = set()
        for g in self.ingested:
            touched.update(g.tiles)
        return sorted(touched)

    def raise_first_error(self) -> None:
        """Re-raise the first granule's error, if any granule failed."""
        if self.failed:
            raise self.failed[0].error


def ingest_many(paths: Sequence, workspace, options: IngestOptions = IngestOptions(),
                progress: Optional[Progress] = None, cancelled: Optional[Cancelled] = None,
                keep_going: bool = False,
                on_granule: Optional[Callable[[GranuleIngested], None]] = None,
                on_start: Optional[Callable[[int, Path], None]] = None) -> IngestSummary:
    """Ingest ``paths`` one granule after another into the store of ``workspace`` (created if missing).

    Every granule is all or nothing. A granule that fails with one of :data:`GRANULE_ERRORS` is
    recorded in ``summary.failed``; the job then stops (the default) or, with ``keep_going``,
    goes on with the next one. ``progress`` reports ``Granule k of n: <file>`` when a granule
    starts and each of its tiles; ``cancelled`` is polled before each granule and between its
    tiles. ``on_start(k, path)`` is called when granule ``k`` (1-based) starts, ``on_granule`` after
    each granule is written.
    """
    from gmi_engine.backends.local import LocalStore

    files = [Path(p) for p in paths]
    n = len(files)
    summary = IngestSummary()
    with LocalStore(workspace) as store:
        for k, path in enumerate(files):
            if cancelled is not None and cancelled():
                summary.cancelled = True
                summary.not_tried = files[k:]
                break
            why = skip_reason(path)
            if why is not None:
                log.info("%s skipped: %s", path, why)
                summary.skipped.append((path, why))
                continue
            if on_start is not None:
                on_start(k + 1, path)
            report(progress, fraction(k, n), "Granule {} of {}: {}".format(k + 1, n, path.name))
            skipped: list = []
            try:
                rows = ingest_granule(path, store, options, sub_range(progress, k / n, (k + 1) / n), cancelled,
                                      tile_failures=skipped)
            except IngestCancelled:
                summary.cancelled, summary.interrupted, summary.not_tried = True, path, files[k + 1:]
                break
            except GRANULE_ERRORS as exc:
                summary.failed.append(GranuleFailed(path, exc))
                if keep_going:
                    continue
                summary.not_tried = files[k + 1:]
                break
            done = GranuleIngested(path, rows[0].granule_id if rows else granule_id(path) or path.stem, len(rows),
                                   sorted({TileIndex(r.tile_x, r.tile_y) for r in rows}), skipped,
                                   _defaulted(rows))
            summary.ingested.append(done)
            if on_granule is not None:
                on_granule(done)
    if not summary.cancelled and not (summary.failed and not keep_going):
        report(progress, 1.0, "ingested {} granule(s), {} source rows".format(len(summary.ingested), summary.rows))
    return summary
