"""Synthetic MCD19A2 / MOD09A1 files as GDAL 3.6 sees them (formats.md §1.5, §3, §4, §6)."""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import time

import numpy as np
import pytest
from osgeo import gdal, osr

from gmi_engine.ancillary import sample_mod09a1
from gmi_engine.synth import sinusoidal as sinu
from gmi_engine.synth.modis import (
    BACKGROUND_REFLECTANCE,
    MODIS_FROM_ASTER,
    aster_to_modis,
    composite_start,
    truth_path,
    write_mcd19a2,
    write_mod09a1,
)
from gmi_engine.synth.scene import MATERIALS, SurfaceScene

DATE = dt.date(2006, 9, 6)
CHINO_REGION = (-108.8, 32.0, -107.3, 33.5)


def sds(path, grid, field):
    return 'HDF4_EOS:EOS_GRID:"{}":{}:{}'.format(path, grid, field)


def open_sds(path, grid, field):
    ds = gdal.Open(sds(path, grid, field))
    assert ds is not None, (path, field)
    return ds


@pytest.fixture(scope="module")
def mcd(tmp_path_factory):
    out = tmp_path_factory.mktemp("mcd")
    return write_mcd19a2(out, 8, 5, DATE, aod550=0.12, water_vapour=1.1, orbits=2, size=60,
                         cloud_fraction=0.2, bad_qa_fraction=0.1, seed=3)


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    out = tmp_path_factory.mktemp("mod")
    return write_mod09a1(out, 8, 5, dt.date(2006, 9, 10), SurfaceScene(), size=120)


# ------------------------------------------------------------------ sinusoidal grid

def test_sinusoidal_tile_math():
    assert sinu.tile_of_lonlat(-108.07, 32.793) == (8, 5)
    x, y = sinu.lonlat_to_xy(-108.07, 32.793)
    ulx, uly, lrx, lry = sinu.tile_corners(8, 5)
    px = sinu.TILE_M / 1200
    assert (int((uly - y) // px), int((x - ulx) // px)) == (864, 1098)  # formats.md §6
    assert (lrx - ulx, uly - lry) == pytest.approx((sinu.TILE_M, sinu.TILE_M))
    lon, lat = sinu.xy_to_lonlat(x, y)
    assert (float(lon), float(lat)) == pytest.approx((-108.07, 32.793), abs=1e-9)
    with pytest.raises(ValueError):
        sinu.tile_corners(36, 0)


def test_sinusoidal_window_covers_the_bbox():
    bbox = (-108.8, 32.0, -107.3, 33.5)
    rows, cols = sinu.window_of_lonlat_bbox(8, 5, 240, bbox)
    x, y = sinu.pixel_centres(8, 5, 240)
    lon, lat = sinu.xy_to_lonlat(x, y)
    inside = (lon >= bbox[0]) & (lon <= bbox[2]) & (lat >= bbox[1]) & (lat <= bbox[3])
    r, c = np.nonzero(inside)
    assert inside.sum() > 100
    assert rows.start <= r.min() and r.max() < rows.stop and cols.start <= c.min() and c.max() < cols.stop
    assert (rows.stop - rows.start) <= r.ptp() + 3 and (cols.stop - cols.start) <= c.ptp() + 6
    assert sinu.window_of_lonlat_bbox(8, 5, 240, (10.0, 32.0, 11.0, 33.0))[1] == slice(240, 240)


# ------------------------------------------------------------------ MCD19A2

def test_mcd19a2_name_and_truth(mcd):
    assert mcd.name == "MCD19A2.A2006249.h08v05.061.2022278214439.hdf"
    truth = json.loads(truth_path(mcd).read_text())
    assert truth_path(mcd).name == "MCD19A2.A2006249.h08v05.061.2022278214439.truth.json"
    assert truth["aod550"] == 0.12 and truth["water_vapour_cm"] == 1.1 and truth["orbits"] == 2
    assert truth["cloud_fraction_per_orbit"][1] > truth["cloud_fraction_per_orbit"][0] > 0.1


def test_mcd19a2_subdatasets(mcd):
    subs = gdal.Open(str(mcd)).GetSubDatasets()
    names = [n.split(":")[-1] for n, _ in subs]
    assert names[:8] == ["Optical_Depth_047", "Optical_Depth_055", "AOD_Uncertainty", "FineModeFraction",
                         "Column_WV", "Injection_Height", "AOD_QA", "AngstromExp_470-780"]
    assert names[8:] == ["cosSZA", "cosVZA", "RelAZ", "Scattering_Angle", "Glint_Angle"]
    descs = dict(subs)
    assert descs[sds(mcd, "grid1km", "Optical_Depth_055")] == \
        "[2x60x60] Optical_Depth_055 grid1km (16-bit integer)"
    assert descs[sds(mcd, "grid1km", "AOD_QA")] == "[2x60x60] AOD_QA grid1km (16-bit unsigned integer)"
    assert descs[sds(mcd, "grid1km", "FineModeFraction")] == \
        "[2x60x60] FineModeFraction grid1km (32-bit floating-point)"
    assert descs[sds(mcd, "grid5km", "cosSZA")] == "[2x12x12] cosSZA grid5km (16-bit integer)"


@pytest.mark.parametrize("grid,field,scale,unit", [
    ("grid1km", "Optical_Depth_055", 0.001, "none"), ("grid1km", "Optical_Depth_047", 0.001, "none"),
    ("grid1km", "AOD_Uncertainty", 0.0001, "none"), ("grid1km", "Column_WV", 0.001, "cm"),
    ("grid1km", "AngstromExp_470-780", 0.0001, "none"), ("grid5km", "cosSZA", 0.0001, "none"),
    ("grid5km", "RelAZ", 0.01, "degree"), ("grid5km", "Glint_Angle", 0.01, "degree"),
])
def test_mcd19a2_field_attributes(mcd, grid, field, scale, unit):
    ds = open_sds(mcd, grid, field)
    band = ds.GetRasterBand(1)
    assert ds.RasterCount == 2
    assert band.GetNoDataValue() == -28672.0
    assert band.GetScale() == pytest.approx(scale, rel=1e-12)
    assert band.GetOffset() == 0.0
    md = ds.GetMetadata()
    assert md["unit"] == unit and "units" not in md
    assert md["long_name"] and len(md["valid_range"].split(", ")) == 2


def test_mcd19a2_qa_and_float_fields(mcd):
    qa_ds = open_sds(mcd, "grid1km", "AOD_QA")
    qa = qa_ds.GetRasterBand(1)
    assert qa.DataType == gdal.GDT_UInt16 and qa.GetNoDataValue() == 0.0
    inj_ds = open_sds(mcd, "grid1km", "Injection_Height")
    inj = inj_ds.GetRasterBand(1)
    assert inj.DataType == gdal.GDT_Float32 and inj.GetNoDataValue() == -99999.0


def test_mcd19a2_global_metadata(mcd):
    ds = open_sds(mcd, "grid1km", "Optical_Depth_055")
    md = ds.GetMetadata()
    assert md["Orbit_amount"] == "2" and md["HDFEOSVersion"] == "HDFEOS_V2.19"
    tokens = md["Orbit_time_stamp"].split()
    assert len(tokens) == 2 and all(re.fullmatch(r"2006249\d{4}[TA]", t) for t in tokens)
    assert md["Orbit_time_stamp"].endswith("  ") and tokens[0].endswith("T") and tokens[1].endswith("A")
    assert md["SHORTNAME"] == "MCD19A2" and md["VERSIONID"] == "61"
    assert md["HORIZONTALTILENUMBER"] == "8" and md["VERTICALTILENUMBER"] == "5"
    assert md["TileID"] == "51008005"
    assert md["LOCALGRANULEID"] == mcd.name
    assert md["RANGEBEGINNINGDATE"] == "2006-09-06"
    assert re.fullmatch(r"\d\d:\d\d:00\.000000", md["RANGEBEGINNINGTIME"])
    assert len(md["GRANULEBEGINNINGDATETIME"].split(", ")) == 2
    assert md["ASSOCIATEDPLATFORMSHORTNAME.1"] == "Terra" and md["ASSOCIATEDPLATFORMSHORTNAME.2"] == "Aqua"
    assert float(md["NORTHBOUNDINGCOORDINATE"]) == pytest.approx(40.0, abs=1e-6)
    assert float(md["SOUTHBOUNDINGCOORDINATE"]) == pytest.approx(30.0, abs=1e-6)


def test_mcd19a2_small_geotransform_and_projection(mcd):
    ds = open_sds(mcd, "grid1km", "Optical_Depth_055")
    gt = ds.GetGeoTransform()
    assert gt == pytest.approx(sinu.tile_geotransform(8, 5, 60), abs=1e-6)
    assert gt[1] == pytest.approx(sinu.TILE_M / 60, rel=1e-12)
    srs = osr.SpatialReference(wkt=ds.GetProjection())
    proj4 = srs.ExportToProj4()
    assert "+proj=sinu" in proj4 and "+R=6371007.181" in proj4
    gt5 = open_sds(mcd, "grid5km", "cosSZA").GetGeoTransform()
    assert gt5[0] == gt[0] and gt5[3] == gt[3] and gt5[1] == pytest.approx(5 * gt[1])


def test_mcd19a2_content_clouds_and_bad_qa(mcd):
    aod = open_sds(mcd, "grid1km", "Optical_Depth_055").ReadAsArray()
    wv = open_sds(mcd, "grid1km", "Column_WV").ReadAsArray()
    qa = open_sds(mcd, "grid1km", "AOD_QA").ReadAsArray()
    cloud = qa & 7
    aod_qa = (qa >> 8) & 15
    best = (cloud == 1) & (aod_qa == 0)
    assert aod[best].mean() * 0.001 == pytest.approx(0.12, abs=0.002)
    assert np.all(aod[cloud == 3] == -28672)
    assert np.all(aod_qa[cloud == 3] == 5)
    # Column_WV over clouds is the vapour above the cloud, not the column.
    assert np.allclose(wv[cloud == 3] * 0.001, 0.275, atol=0.001)
    assert wv[cloud == 1].mean() * 0.001 == pytest.approx(1.1, abs=0.005)
    bad = (cloud == 1) & (aod_qa != 0)
    assert bad.mean() > 0.05 and set(np.unique(aod_qa[bad])) <= {3, 4}
    assert aod[bad].mean() * 0.001 > 2.5
    # A reader that ignored QA would be far off the truth.
    assert aod[aod != -28672].mean() * 0.001 > 0.3
    # The second orbit is the cloudier one.
    assert (cloud[1] == 3).mean() > (cloud[0] == 3).mean()


def test_mcd19a2_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        write_mcd19a2(tmp_path, 8, 5, DATE, size=61)
    with pytest.raises(ValueError):
        write_mcd19a2(tmp_path, 36, 5, DATE, size=60)
    with pytest.raises(ValueError):
        write_mcd19a2(tmp_path, 8, 5, DATE, size=60, orbits=0)


# ------------------------------------------------------------------ MOD09A1

def test_band_pairing():
    spectrum = np.arange(1, 10, dtype=float) / 10.0  # B1..B9 = 0.1..0.9
    assert aster_to_modis(spectrum, b07="mean") == pytest.approx([0.2, 0.3, 0.08, 0.1, 0.35, 0.4, 0.7])
    # default b07: the continuum at 2.130 um, here the chord B4 (0.4, 1.656 um) - B9 (0.9, 2.400 um)
    continuum = 0.4 + (0.9 - 0.4) * (2.130 - 1.656) / (2.400 - 1.656)
    assert aster_to_modis(spectrum) == pytest.approx([0.2, 0.3, 0.08, 0.1, 0.35, 0.4, continuum])
    assert MODIS_FROM_ASTER.shape == (7, 9)
    assert BACKGROUND_REFLECTANCE == pytest.approx(aster_to_modis(np.array(MATERIALS["background"])))


def test_composite_start():
    assert composite_start(dt.date(2006, 9, 6)) == dt.date(2006, 9, 6)  # DOY 249
    assert composite_start(dt.date(2006, 9, 10)) == dt.date(2006, 9, 6)
    assert composite_start(dt.date(2006, 12, 31)) == dt.date(2006, 12, 27)  # DOY 361


def test_mod09a1_subdatasets_and_attributes(mod):
    assert mod.name == "MOD09A1.A2006249.h08v05.061.2022278214439.hdf"
    subs = gdal.Open(str(mod)).GetSubDatasets()
    names = [n.split(":")[-1] for n, _ in subs]
    assert names == ["sur_refl_b0{}".format(i) for i in range(1, 8)] + [
        "sur_refl_qc_500m", "sur_refl_szen", "sur_refl_vzen", "sur_refl_raz", "sur_refl_state_500m",
        "sur_refl_day_of_year"]
    grid = "MOD_Grid_500m_Surface_Reflectance"
    assert dict(subs)[sds(mod, grid, "sur_refl_b01")] == \
        "[120x120] sur_refl_b01 MOD_Grid_500m_Surface_Reflectance (16-bit integer)"
    ds = open_sds(mod, grid, "sur_refl_b04")
    band = ds.GetRasterBand(1)
    assert band.GetNoDataValue() == -28672.0 and band.GetScale() == pytest.approx(0.0001, rel=1e-12)
    md = ds.GetMetadata()
    assert md["long_name"] == "Surface_reflectance_for_band_4" and md["units"] == "reflectance"
    assert md["valid_range"] == "-100, 16000" and md["calibrated_nt"] == "5"
    assert md["SHORTNAME"] == "MOD09A1" and md["RANGEBEGINNINGDATE"] == "2006-09-06"
    assert md["RANGEENDINGDATE"] == "2006-09-13"
    qc_ds = open_sds(mod, grid, "sur_refl_qc_500m")
    qc = qc_ds.GetRasterBand(1)
    assert qc.DataType == gdal.GDT_UInt32 and qc.GetNoDataValue() == 4294967295.0
    szen = open_sds(mod, grid, "sur_refl_szen")
    assert szen.GetRasterBand(1).GetNoDataValue() == 0.0 and szen.GetRasterBand(1).GetScale() == 0.01
    # September, 33°N, ~10:30 local: solar zenith 35-50 degrees.
    assert 3500 < szen.ReadAsArray()[60, 60] < 5000
    state_ds = open_sds(mod, grid, "sur_refl_state_500m")
    state = state_ds.GetRasterBand(1)
    assert state.DataType == gdal.GDT_UInt16 and state.GetNoDataValue() == 65535.0
    assert gdal.Open(sds(mod, grid, "sur_refl_b01")).GetGeoTransform() == \
        pytest.approx(sinu.tile_geotransform(8, 5, 120), abs=1e-6)


def test_mod09a1_content_is_band_paired_scene(mod):
    """Whole tile evaluated (region=None): pixels match the 4x4-point mean of the scene."""
    grid = "MOD_Grid_500m_Surface_Reflectance"
    bands = np.stack([open_sds(mod, grid, "sur_refl_b0{}".format(i)).ReadAsArray() for i in range(1, 8)])
    x, y = sinu.pixel_centres(8, 5, 120, slice(40, 44), slice(70, 74), sub=4)
    lon, lat = sinu.xy_to_lonlat(x, y)
    # reflectance at 2.13 um per sample point (the continuum is not linear), then the pixel mean
    expected = aster_to_modis(SurfaceScene().reflectance_at_lonlat(lon, lat)).mean(axis=(-2, -1))
    assert np.abs(bands[:, 40:44, 70:74] * 1e-4 - expected).max() <= 0.00005 + 1e-7


def test_mod09a1_region_background_and_lens_fill(tmp_path):
    uniform = SurfaceScene(weights={"kaolinite": 1.0}, texture_amplitude=0.0)
    p = write_mod09a1(tmp_path, 8, 5, DATE, uniform, size=120, region=CHINO_REGION)
    b = gdal.Open(sds(p, "MOD_Grid_500m_Surface_Reflectance", "sur_refl_b02")).ReadAsArray()
    truth = json.loads(truth_path(p).read_text())
    r0, r1 = truth["scene_window"]["rows"]
    c0, c1 = truth["scene_window"]["cols"]
    kaol = int(round(aster_to_modis(np.array(MATERIALS["kaolinite"]))[1] * 1e4))
    assert np.all(b[r0:r1, c0:c1] == kaol)
    assert b[0, 0] == int(round(BACKGROUND_REFLECTANCE[1] * 1e4))
    # The Chino mine lies inside the evaluated window.
    x, y = sinu.lonlat_to_xy(-108.07, 32.793)
    row, col = int((sinu.tile_corners(8, 5)[1] - y) // (sinu.TILE_M / 120)), \
        int((x - sinu.tile_corners(8, 5)[0]) // (sinu.TILE_M / 120))
    assert r0 <= row < r1 and c0 <= col < c1
    # A tile at the edge of the sinusoid has fill outside the lens, as real tiles do.
    edge = write_mod09a1(tmp_path / "edge", 3, 5, DATE, uniform, size=24)
    e = gdal.Open(sds(edge, "MOD_Grid_500m_Surface_Reflectance", "sur_refl_b01")).ReadAsArray()
    assert e[0, 0] == -28672 and e[-1, -1] != -28672


# ------------------------------------------------------------------ full size

@pytest.fixture(scope="module")
def full_size(tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    t0 = time.perf_counter()
    mcd = write_mcd19a2(out, 8, 5, DATE)
    t1 = time.perf_counter()
    mod = write_mod09a1(out, 8, 5, DATE, SurfaceScene(), region=CHINO_REGION)
    t2 = time.perf_counter()
    yield mcd, mod, (t1 - t0, t2 - t1)
    shutil.rmtree(out, ignore_errors=True)  # ~220 MB


def test_full_size_geotransforms_match_formats(full_size):
    mcd, mod, (t_mcd, t_mod) = full_size
    ds = open_sds(mcd, "grid1km", "Optical_Depth_055")
    assert (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (1200, 1200, 2)
    # formats.md §3.3 (a libhdfeos-made file) to 1e-3 m; the §6 formula exactly.
    expected = (-11119505.195868, 926.6254331391677, 0, 4447802.078167, 0, -926.625433138333)
    gt = ds.GetGeoTransform()
    assert gt == pytest.approx(expected, abs=1e-3)
    assert gt == pytest.approx(sinu.tile_geotransform(8, 5, 1200), abs=1e-6)
    assert open_sds(mcd, "grid5km", "cosSZA").GetGeoTransform()[1] == pytest.approx(4633.1271657, abs=1e-4)
    ds = open_sds(mod, "MOD_Grid_500m_Surface_Reflectance", "sur_refl_b01")
    assert (ds.RasterXSize, ds.RasterYSize) == (2400, 2400)
    expected = (-11119505.195868, 463.31271656958387, 0, 4447802.078167, 0, -463.3127165691665)
    assert ds.GetGeoTransform() == pytest.approx(expected, abs=1e-3)
    assert t_mcd < 60 and t_mod < 60  # measured ~1 s and ~8 s on the 2-core build machine


def test_full_size_mod09a1_on_chino_tile_matches_scene(full_size):
    """The patchy scene, written at 500 m and sampled to the 120 m tile grid, keeps its mean."""
    _, mod, _ = full_size
    half, step = 20037495.0, 30720.0
    bounds = (-half + 260 * step, half - 527 * step, -half + 261 * step, half - 526 * step)
    ref = sample_mod09a1(mod, bounds)
    assert ref.shape == (7, 256, 256) and ref.dtype == np.int16 and not (ref == -28672).any()
    xs = bounds[0] + (np.arange(512) + 0.5) * step / 512
    ys = bounds[3] - (np.arange(512) + 0.5) * step / 512
    x, y = np.meshgrid(xs, ys)
    truth = aster_to_modis(SurfaceScene().reflectance_at_xy(x, y)).reshape(7, -1).mean(axis=1)
    got = ref.reshape(7, -1).mean(axis=1) * 1e-4
    assert np.abs(got - truth).max() < 0.004
    # Not the background constant: the scene was evaluated here.
    assert np.abs(got - BACKGROUND_REFLECTANCE).max() > 0.01


def test_b07_continuum_is_the_shoulder_before_the_absorptions():
    """Independent hull: B4 at 1.656 um, B5..B9 at 2.167..2.400 um, evaluated at 2.130 um."""
    kaol = np.array(MATERIALS["kaolinite"])
    centres = [1.656, 2.167, 2.209, 2.262, 2.336, 2.400]
    chords = [kaol[3] + (kaol[3 + j] - kaol[3]) * (2.130 - 1.656) / (centres[j] - 1.656) for j in range(1, 6)]
    m = aster_to_modis(kaol, b07="continuum")
    assert m[6] == pytest.approx(max(chords), abs=1e-12)
    assert m[6] > kaol[4:].mean() + 0.02  # above the absorption-including band mean
    assert m[:6] == pytest.approx(aster_to_modis(kaol)[:6])
    with pytest.raises(ValueError):
        aster_to_modis(kaol, b07="max")


def test_mod09a1_continuum_b07(tmp_path):
    uniform = SurfaceScene(weights={"kaolinite": 1.0}, texture_amplitude=0.0)
    p = write_mod09a1(tmp_path, 8, 5, DATE, uniform, size=60, b07="continuum")
    b7 = gdal.Open(sds(p, "MOD_Grid_500m_Surface_Reflectance", "sur_refl_b07")).ReadAsArray()
    expected = int(round(aster_to_modis(np.array(MATERIALS["kaolinite"]), b07="continuum")[6] * 1e4))
    assert np.count_nonzero(b7 == expected) > 0.5 * b7.size
    assert json.loads(truth_path(p).read_text())["b07"] == "continuum"
