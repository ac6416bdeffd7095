"""The B13 cloud test through the real chain: synthetic granule -> ingest (quality["bt13"]) -> kernel.

A 22 km porphyry-scene granule over the playa and the argillic ring carries five cold cloud
blobs (tops 255-275 K). The truth here is the spec's cloud geometry and the scene's abundances
at the tile pixels; the cloud flags come from the kernel's masks on the ingested row. This is a
closed loop of our own generator and pipeline (self-consistency of the thermal path, not an
independent validation of the 290 K threshold).
"""
from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest
from pyproj import Transformer

from gmi_engine.backends.local import LocalStore
from gmi_engine.backends.local_runner import kernel_row
from gmi_engine.grid import DEFAULT_GRID, TileIndex
from gmi_engine.ingest import IngestOptions, ingest_many
from gmi_engine.kernel.masks import MASK_DEFAULTS, dilate, granule_masks
from gmi_engine.kernel.pipeline import row_reflectance, run
from gmi_engine.kernel.thermal import decode_bt13
from gmi_engine.synth.aster import AsterSpec, write_aster_l1t
from gmi_engine.synth.gdem import write_gdem
from gmi_engine.synth.modis import write_mcd19a2
from gmi_engine.synth.porphyry import PorphyryScene

TILE = TileIndex(260, 526)
_TO_LL = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
CLOUDS_OFFSET_M = ((-4000.0, 2500.0), (-9000.0, -3000.0), (-1500.0, -5500.0), (-12500.0, 1500.0),
                   (-6500.0, -12500.0))
CLOUD_TOPS_K = (255.0, 262.0, 268.0, 275.0, 270.0)
CLOUD_RADIUS_M = 900.0


def _clouds(scene: PorphyryScene) -> tuple:
    cx, cy = scene.centre_xy
    out = []
    for (dx, dy), top in zip(CLOUDS_OFFSET_M, CLOUD_TOPS_K):
        lon, lat = _TO_LL.transform(cx + dx, cy + dy)
        out.append((lon, lat, CLOUD_RADIUS_M, top))
    return tuple(out)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    root = tmp_path_factory.mktemp("tir-chain")
    scene = PorphyryScene()
    cx, cy = scene.centre_xy
    lon, lat = _TO_LL.transform(cx - 6500.0, cy - 4000.0)
    spec = AsterSpec(lon, lat, datetime(2006, 9, 6, 18, 2, 42), side_km=22.0, scene=scene,
                     clouds=_clouds(scene), production=datetime(2015, 5, 16, 1, 46, 1),
                     processing_number=1613)
    granule = write_aster_l1t(spec, root / "aster")
    gdem = [write_gdem(root / "gdem", 32, lon0, size=361, scene=scene) for lon0 in (-109, -108)]
    mcd = write_mcd19a2(root / "mcd19a2", 8, 5, spec.acquired.date(), aod550=spec.aod550,
                        water_vapour=spec.water_vapour, cloud_fraction=0.0, bad_qa_fraction=0.0,
                        seed=spec.processing_number)
    ingest_many([granule], root / "ws", IngestOptions(mcd19a2=[mcd], gdem=gdem, tiles=[TILE])
                ).raise_first_error()
    with LocalStore(root / "ws", create=False) as store:
        rows = [kernel_row(r) for r in store.tile_rows(TILE)]
    assert len(rows) == 1
    gt = DEFAULT_GRID.geotransform(TILE)
    cols, lines = np.meshgrid(np.arange(1024), np.arange(1024))
    x, y = gt[0] + (cols + 0.5) * gt[1], gt[3] + (lines + 0.5) * gt[5]
    frac = np.zeros(x.shape)
    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    for c_lon, c_lat, radius, _ in spec.clouds:  # the spec's blob: opaque to r/2, clear at 1.5 r
        mx, my = to_merc.transform(c_lon, c_lat)
        d = np.hypot(x - mx, y - my) / (radius / math.cos(math.radians(c_lat)))
        frac = np.maximum(frac, np.clip(1.5 - d, 0.0, 1.0))
    return rows[0], scene.abundances_at_xy(x, y), frac, scene


def _bright_ground(scene, ab):
    n = scene.material_names
    playa = ab[n.index("halite")] + ab[n.index("gypsum")] >= 0.5
    argillic = ab[n.index("kaolinite")] + ab[n.index("alunite")] >= 0.3
    return playa, argillic | (ab[n.index("gypsum")] >= 0.3)


def test_ingest_row_carries_band13_brightness_temperature(chain):
    row, ab, frac, _ = chain
    bt = decode_bt13(row["quality"], 1024)
    assert bt is not None and bt.shape == (1024, 1024)
    valid = np.isfinite(row_reflectance(row)[0][0])
    clear = valid & (frac == 0)
    # warm daytime ground (scene model: 280-310 K kinetic, 3 K emissivity offset), cold cloud tops
    assert 275.0 < np.nanmedian(bt[clear]) < 305.0
    assert np.nanmax(bt[valid & (frac >= 0.99)]) < MASK_DEFAULTS["cloud_bt13_max"] - 5.0


def test_cold_cloud_masked_warm_playa_and_argillic_not(chain):
    row, ab, frac, scene = chain
    refl, _ = row_reflectance(row)
    valid = np.isfinite(refl[0])
    bt = decode_bt13(row["quality"], 1024)
    clear = valid & ~dilate(frac > 0, MASK_DEFAULTS["cloud_buffer"] + 1)
    playa, argillic = _bright_ground(scene, ab)
    assert (playa & clear).sum() > 2000 and (argillic & clear).sum() > 2000
    masks = granule_masks(refl, swir_usable=True, bt13=bt)
    cloud = masks.cloud
    assert int((cloud & playa & clear).sum()) == 0
    assert int((cloud & argillic & clear).sum()) == 0
    core = masks.vnir & (frac >= 0.9)  # unsaturated cloud pixels: the mask must decide them
    assert core.sum() > 1000
    assert float(cloud[core].mean()) >= 0.95
    # without the thermal test the same row's playa is flagged: the test above can fail
    assert int((granule_masks(refl, swir_usable=True).cloud & playa & clear).sum()) > 500


def test_mosaic_drops_the_cloud_and_keeps_the_playa(chain):
    row, ab, frac, scene = chain
    out = {r["output"]: r["data"] for r in run("mosaic", [row])}
    b1 = out["b01"]
    valid = np.isfinite(row_reflectance(row)[0][0])
    playa, _ = _bright_ground(scene, ab)
    clear = valid & ~dilate(frac > 0, MASK_DEFAULTS["cloud_buffer"] + 1)
    assert np.isfinite(b1[playa & clear]).all()
    assert np.isnan(b1[valid & (frac >= 0.9)]).mean() >= 0.95
