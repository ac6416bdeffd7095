"""Per-tile AOD / water vapour / altitude / MOD09A1 sampling on synthetic files with known truth."""
from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import numpy as np
import pytest
from osgeo import gdal
from pyproj import Transformer

from gmi_engine.ancillary import (
    DEFAULT_ALTITUDE_KM,
    DEFAULT_AOD550,
    DEFAULT_WATER_VAPOUR,
    Sample,
    as_bounds,
    sample_altitude,
    sample_aod_wv,
    sample_mod09a1,
)
from gmi_engine.errors import GmiFileError, GmiInputError
from gmi_engine.synth.gdem import elevation_at, write_gdem
from gmi_engine.synth.modis import aster_to_modis, truth_path, write_mcd19a2, write_mod09a1
from gmi_engine.synth.scene import MATERIALS, SurfaceScene

HALF, STEP = 20037495.0, 30720.0
CHINO = (-HALF + 260 * STEP, HALF - 527 * STEP, -HALF + 261 * STEP, HALF - 526 * STEP)  # tile (260, 526)
DATE = dt.date(2006, 9, 6)


def _sds(path, field):
    return 'HDF4_EOS:EOS_GRID:"{}":grid1km:{}'.format(path, field)


@pytest.fixture(scope="module")
def mcd(tmp_path_factory):
    """600 px (1.85 km) tile with many bad-QA pixels: ignoring QA would bias the mean a lot."""
    return write_mcd19a2(tmp_path_factory.mktemp("mcd"), 8, 5, DATE, aod550=0.12, water_vapour=1.1,
                         size=600, cloud_fraction=0.15, bad_qa_fraction=0.2, seed=1)


# ------------------------------------------------------------------ bounds and Sample

def test_bounds_accept_objects_and_tuples():
    obj = SimpleNamespace(xmin=1.0, ymin=2.0, xmax=3.0, ymax=4.0)
    assert as_bounds(obj) == as_bounds([1, 2, 3, 4]) == (1.0, 2.0, 3.0, 4.0)
    for bad in [(3, 2, 1, 4), (1, 2, 3), "abcd", (1, 2, float("nan"), 4), 5]:
        with pytest.raises(GmiInputError):
            as_bounds(bad)


def test_sample_is_frozen():
    s = Sample(1.0, "default: test", 0)
    assert s.is_default
    with pytest.raises(AttributeError):
        s.value = 2.0


# ------------------------------------------------------------------ AOD and water vapour

def test_aod_wv_recovered_with_qa(mcd):
    aod, wv = sample_aod_wv([mcd], CHINO)
    assert aod.value == pytest.approx(0.12, abs=0.01) and wv.value == pytest.approx(1.1, abs=0.02)
    assert aod.source == "MCD19A2: " + mcd.name and not aod.is_default
    assert aod.n_valid > 100 and wv.n_valid > aod.n_valid  # bad-AOD pixels still give vapour
    counts = aod.detail["counts"]
    assert counts["aod_qa_not_best"] > 0 and counts["not_clear"] > 0
    files = aod.detail["files"]
    assert files[0]["orbits"] == 2 and len(files[0]["orbit_time_stamp"]) == 2
    assert sum(files[0]["aod_valid_per_orbit"]) == aod.n_valid
    # Same result through a bounds object.
    aod2, _ = sample_aod_wv(mcd, SimpleNamespace(xmin=CHINO[0], ymin=CHINO[1], xmax=CHINO[2], ymax=CHINO[3]))
    assert aod2 == aod


def test_ignoring_qa_would_be_wrong(mcd):
    """The same tile pixels read naively (fill only) through GDAL: far from the truth."""
    aod, wv = sample_aod_wv([mcd], CHINO)
    ds = gdal.Warp("", _sds(mcd, "Optical_Depth_055"), format="MEM", dstSRS="EPSG:3857",
                   outputBounds=CHINO, width=16, height=16, resampleAlg="near")
    raw = ds.ReadAsArray()
    naive = raw[raw != -28672].mean() * 0.001
    assert naive - 0.12 > 0.2 and abs(aod.value - 0.12) < 0.01
    ds = gdal.Warp("", _sds(mcd, "Column_WV"), format="MEM", dstSRS="EPSG:3857",
                   outputBounds=CHINO, width=16, height=16, resampleAlg="near")
    raw = ds.ReadAsArray()
    assert 1.1 - raw[raw != -28672].mean() * 0.001 > 0.05  # above-cloud vapour drags it down
    assert abs(wv.value - 1.1) < 0.02


def test_all_bad_qa_falls_back_to_default_but_keeps_vapour(tmp_path):
    p = write_mcd19a2(tmp_path, 8, 5, DATE, size=300, cloud_fraction=0.0, bad_qa_fraction=1.0)
    aod, wv = sample_aod_wv([p], CHINO)
    assert aod.value == DEFAULT_AOD550 and aod.is_default and aod.n_valid == 0
    assert p.name in aod.source and "no usable AOD550" in aod.source
    assert wv.value == pytest.approx(1.1, abs=0.02) and not wv.is_default


def test_all_fill_gives_defaults(tmp_path):
    p = write_mcd19a2(tmp_path, 8, 5, DATE, size=300, cloud_fraction=1.0)
    aod, wv = sample_aod_wv([p], CHINO)
    assert (aod.value, wv.value) == (DEFAULT_AOD550, DEFAULT_WATER_VAPOUR) == (0.1, 1.5)
    assert aod.source.startswith("default: ") and wv.source.startswith("default: ")
    assert aod.n_valid == wv.n_valid == 0
    none_aod, none_wv = sample_aod_wv([], CHINO)
    assert none_aod.source.startswith("default: no MCD19A2 file given") and none_wv.is_default


def test_file_of_another_tile_does_not_cover(tmp_path):
    p = write_mcd19a2(tmp_path, 10, 5, DATE, size=60)
    aod, _ = sample_aod_wv([p], CHINO)
    assert aod.is_default and "do not cover" in aod.source


def test_zero_aod_is_data_not_missing(tmp_path):
    p = write_mcd19a2(tmp_path, 8, 5, DATE, aod550=0.0, size=300, cloud_fraction=0.0, bad_qa_fraction=0.0)
    aod, _ = sample_aod_wv([p], CHINO)
    assert not aod.is_default and aod.value == pytest.approx(0.0, abs=0.002)


def test_several_files_are_pooled_over_orbits(tmp_path):
    a = write_mcd19a2(tmp_path / "a", 8, 5, DATE, aod550=0.10, size=300, cloud_fraction=0.0,
                      bad_qa_fraction=0.0, orbits=1)
    b = write_mcd19a2(tmp_path / "b", 8, 5, DATE + dt.timedelta(days=1), aod550=0.30, size=300,
                      cloud_fraction=0.0, bad_qa_fraction=0.0, orbits=3)
    aod, _ = sample_aod_wv([a, b], CHINO)
    # One orbit at 0.1 and three at 0.3, equal pixel counts: pooled mean 0.25.
    assert aod.value == pytest.approx(0.25, abs=0.003)
    assert a.name in aod.source and b.name in aod.source
    assert [f["orbits"] for f in aod.detail["files"]] == [1, 3]


def test_bad_files_raise_naming_the_file(tmp_path):
    with pytest.raises(GmiFileError, match="missing.hdf"):
        sample_aod_wv([tmp_path / "missing.hdf"], CHINO)
    dem = write_gdem(tmp_path, 32, -108, size=11)
    with pytest.raises(GmiFileError, match="Optical_Depth_055"):
        sample_aod_wv([dem], CHINO)


# ------------------------------------------------------------------ altitude

def _truth_mean_m(bounds, west_m, east_m, ripple_m):
    x = np.linspace(bounds[0], bounds[2], 401)[:-1] + (bounds[2] - bounds[0]) / 800
    y = np.linspace(bounds[1], bounds[3], 401)[:-1] + (bounds[3] - bounds[1]) / 800
    lon, lat = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True).transform(*np.meshgrid(x, y))
    base = np.where(lon < -108.0, west_m, east_m)
    return float(np.mean(base + elevation_at(lon, lat, 0.0, ripple_m)))


@pytest.fixture(scope="module")
def dems(tmp_path_factory):
    """The Chino tile straddles 108°W: two GDEM tiles at different heights, strong ripple."""
    out = tmp_path_factory.mktemp("dem")
    return (write_gdem(out / "clean", 32, -109, elevation_m=1500, ripple_m=120, size=1201),
            write_gdem(out / "clean", 32, -108, elevation_m=2000, ripple_m=120, size=1201),
            write_gdem(out / "voids", 32, -109, elevation_m=1500, ripple_m=120, size=1201,
                       void_fraction=0.3, seed=1),
            write_gdem(out / "voids", 32, -108, elevation_m=2000, ripple_m=120, size=1201,
                       void_fraction=0.3, seed=2))


def test_altitude_mosaic_matches_truth(dems):
    s = sample_altitude(dems[:2], CHINO)
    truth = _truth_mean_m(CHINO, 1500.0, 2000.0, 120.0)
    assert 1500 < truth < 2000  # both tiles contribute
    assert abs(s.value * 1000 - truth) < 5.0
    assert s.source == "GDEM: ASTGTMV003_N32W109_dem.tif, ASTGTMV003_N32W108_dem.tif"
    assert s.n_valid == 128 * 128 and s.detail["coverage"] == 1.0


def test_altitude_ignores_voids(dems):
    clean = sample_altitude(dems[:2], CHINO)
    voids = sample_altitude(dems[2:], CHINO)
    assert abs(voids.value - clean.value) * 1000 < 5.0
    assert voids.n_valid == clean.n_valid


def test_altitude_partial_and_missing_coverage(dems, tmp_path):
    east_only = sample_altitude([dems[1]], CHINO)
    assert east_only.value == pytest.approx(2.0, abs=0.03)
    assert 0 < east_only.detail["coverage"] < 1 and "covers" in east_only.source
    far = write_gdem(tmp_path, 40, -100, size=11)
    s = sample_altitude([far], CHINO)
    assert s.value == DEFAULT_ALTITUDE_KM == 0.0 and s.is_default and far.name in s.source
    s = sample_altitude([], CHINO)
    assert s.is_default and s.n_valid == 0
    all_void = write_gdem(tmp_path / "v", 32, -108, size=101, void_fraction=1.0)
    assert sample_altitude([all_void], CHINO).is_default
    with pytest.raises(GmiFileError, match="nothere.tif"):
        sample_altitude([tmp_path / "nothere.tif"], CHINO)


# ------------------------------------------------------------------ MOD09A1 reference

def test_mod09a1_uniform_scene_on_tile(tmp_path):
    uniform = SurfaceScene(weights={"calcite": 1.0}, texture_amplitude=0.0)
    p = write_mod09a1(tmp_path, 8, 5, DATE, uniform, size=240)
    ref = sample_mod09a1(p, CHINO)
    assert ref.shape == (7, 256, 256) and ref.dtype == np.int16
    expected = np.rint(aster_to_modis(np.array(MATERIALS["calcite"])) * 1e4).astype(np.int16)
    assert np.array_equal(ref, np.broadcast_to(expected[:, None, None], ref.shape))
    assert json.loads(truth_path(p).read_text())["size"] == 240


def test_mod09a1_outside_coverage_is_fill(tmp_path):
    p = write_mod09a1(tmp_path, 10, 5, DATE, SurfaceScene(), size=48)
    assert (sample_mod09a1(p, CHINO, size=32) == -28672).all()
    assert (sample_mod09a1([], CHINO, size=8) == -28672).all()
    with pytest.raises(GmiFileError):
        sample_mod09a1(tmp_path / "absent.hdf", CHINO)


def test_mod09a1_fill_in_one_band_stays_in_that_band(tmp_path):
    """The 7 bands are warped together; a fill pixel of one band must not mix into its average
    (nor make the other bands' pixels fill)."""
    from pyhdf.SD import SD, SDC

    uniform = SurfaceScene(weights={"calcite": 1.0}, texture_amplitude=0.0)
    p = write_mod09a1(tmp_path, 8, 5, DATE, uniform, size=240)
    sd = SD(str(p), SDC.WRITE)
    try:
        sds = sd.select("sur_refl_b02")
        data = sds[:]
        data[::2, ::2] = -28672  # a quarter of the 500 m pixels, spread over the whole tile
        sds[:] = data
        sds.endaccess()
    finally:
        sd.end()
    ref = sample_mod09a1(p, CHINO)
    expected = np.rint(aster_to_modis(np.array(MATERIALS["calcite"])) * 1e4).astype(np.int16)
    others = [0] + list(range(2, 7))
    assert np.array_equal(ref[others], np.broadcast_to(expected[others, None, None], (6, 256, 256)))
    b02 = ref[1]
    fill = b02 == -28672
    assert 0.05 < fill.mean() < 0.5  # cells inside a fill pixel are fill ...
    assert (b02[~fill] == expected[1]).all()  # ... and cells across pixel edges average only valid ones


def _as_netcdf(tif, out):
    """The LP DAAC NetCDF form: ``ASTGTMV003_N32W108_dem.nc``, variable ``ASTER_GDEM_DEM`` on lat/lon."""
    vrt = gdal.Translate("", str(tif), format="VRT")
    vrt.GetRasterBand(1).SetMetadataItem("NETCDF_VARNAME", "ASTER_GDEM_DEM")
    gdal.Translate(str(out), vrt, format="netCDF").FlushCache()
    return out


def _as_zip(tifs, out):
    """The LP DAAC zip form: ``ASTGTMV003_N32W108.zip`` holding ``…_dem.tif`` and ``…_num.tif``."""
    import zipfile

    with zipfile.ZipFile(out, "w") as zf:
        for tif in tifs:
            zf.write(tif, tif.name)
            zf.writestr(tif.name.replace("_dem.tif", "_num.tif"), b"")  # source-count files: never read
    return out


def test_zipped_and_netcdf_gdem_are_discovered_and_read(dems, tmp_path):
    from gmi_engine.ancillary import discover

    west, east = dems[0], dems[1]
    assert "ASTER_GDEM_DEM" in gdal.Info(str(_as_netcdf(east, tmp_path / east.name.replace(".tif", ".nc"))))
    _as_zip([west], tmp_path / west.name.replace("_dem.tif", ".zip"))
    found = discover(tmp_path)
    assert sorted(p.name for p in found.gdem) == ["ASTGTMV003_N32W108_dem.nc", "ASTGTMV003_N32W109.zip"]
    expected = sample_altitude([east, west], CHINO)  # same order: the later tile wins on the shared edge
    got = sample_altitude(found.gdem, CHINO)
    assert abs(got.value - expected.value) * 1000 < 0.5 and got.n_valid == expected.n_valid
    assert got.source == "GDEM: ASTGTMV003_N32W108_dem.nc, ASTGTMV003_N32W109.zip"
