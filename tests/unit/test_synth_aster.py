"""The synthetic AST_L1T generator, checked through GDAL 3.6's HDF4 driver (formats.md §1.5, §2)."""
from __future__ import annotations

import re

import numpy as np
import pytest
from osgeo import gdal, ogr, osr
from pyhdf.SD import SD, SDC
from pyproj import Transformer

from gmi_engine.aster.reader import open_granule
from gmi_engine.synth.aster import load_truth

gdal.UseExceptions()

BAND_ORDER = [("VNIR", "1"), ("VNIR", "2"), ("VNIR", "3N")] + \
    [("SWIR", str(b)) for b in range(4, 10)] + [("TIR", str(b)) for b in range(10, 15)]
SIX_DECIMALS = r"-?\d+\.\d{6}"


def test_fourteen_subdatasets_named_as_real_products(granule_path):
    path = granule_path("north")
    subs = gdal.Open(str(path)).GetSubDatasets()
    assert len(subs) == 14
    g = open_granule(path)
    for (name, desc), (swath, band) in zip(subs, BAND_ORDER):
        assert name == 'HDF4_EOS:EOS_SWATH:"{}":{}_Swath:ImageData{}'.format(path, swath, band)
        rows, cols = g.bands[band if not band.isdigit() else "{:02d}".format(int(band))].rows, \
            g.bands[band if not band.isdigit() else "{:02d}".format(int(band))].cols
        kind = "16-bit unsigned integer" if swath == "TIR" else "8-bit unsigned integer"
        assert desc == "[{}x{}] ImageData{} {}_Swath ({})".format(rows, cols, band, swath, kind)


def test_metadata_keys_and_formats(granule_path):
    md = gdal.Open(str(granule_path("north"))).GetMetadata()
    assert re.fullmatch(SIX_DECIMALS + ", " + SIX_DECIMALS, md["SOLARDIRECTION"])
    for i in (1, 2, 3):
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", md["SETTINGTIMEOFPOINTING.%d" % i])
        float(md["POINTINGANGLE.%d" % i])
    assert md["CALENDARDATE"] == "20060906"
    assert re.fullmatch(r"\d{12}Z", md["TIMEOFDAY"])
    gains = [md["GAIN.%d" % i] for i in range(1, 10)]
    assert gains[0] == "01, NOR" and gains[2] == "3N, NOR" and gains[8] == "09, NOR"
    for band in ["1", "2", "3N"] + [str(b) for b in range(4, 15)]:
        incl = md["INCL" + band]
        assert re.fullmatch(r"\d+\.\d{6}", incl)
        assert float(md["OFFSET" + band]) == -float(incl)
        cols, rows, nbytes = (int(v) for v in md["IMAGEDATAINFORMATION" + band].split(", "))
        assert nbytes == (2 if int(band.rstrip("N")) >= 10 else 1)
    for key in ("UPPERLEFTM", "LOWERRIGHTM", "UPPERRIGHTM", "LOWERLEFTM"):
        assert re.fullmatch(r"-?\d+\.0, \d+\.0", md[key])
    for key in ("UPPERLEFT", "UPPERRIGHT", "LOWERLEFT", "LOWERRIGHT", "SCENECENTER"):
        assert re.fullmatch(SIX_DECIMALS + ", " + SIX_DECIMALS, md[key])
    assert md["UTMZONENUMBER"] == "12" and md["UTMZoneNumber"] == "12"
    for key in ("NORTH", "SOUTH", "EAST", "WEST"):
        float(md[key + "BOUNDINGCOORDINATE"])
    assert md["SHORTNAME"] == "AST_L1T"
    assert md["Solar_Azimuth_Angle"] == md["SOLARDIRECTION"].split(", ")[0]
    assert md["ASTERGains"].startswith("01 NOR, 02 NOR, 3N NOR")
    assert md["DAYNIGHTFLAG"] == "Day"


def test_coremetadata_written_last(granule_path):
    sd = SD(str(granule_path("north")), SDC.READ)
    try:
        order = sorted(sd.attributes(full=1).items(), key=lambda kv: kv[1][1])
    finally:
        sd.end()
    names = [k for k, _ in order]
    assert names[:2] == ["HDFEOSVersion", "StructMetadata.0"]
    assert names[-1] == "coremetadata.0"
    assert names.index("productmetadata.0") < names.index("productmetadata.1") < names.index("productmetadata.t")


def test_swath_gcps_have_empty_projection(granule_path):
    path = granule_path("north")
    sub = gdal.Open(gdal.Open(str(path)).GetSubDatasets()[3][0])
    assert sub.GetProjection() == ""
    assert sub.GetGCPCount() > 0
    assert sub.GetGCPProjection() == ""


@pytest.mark.parametrize("case,epsg,negative_northing", [
    ("north", 32612, False), ("south", 32753, True), ("zone60", 32760, True), ("equator", 32637, None)])
def test_size_relation_and_pixel_centre_corners(granule_path, case, epsg, negative_northing):
    path = granule_path(case)
    g = open_granule(path)
    md = g.metadata
    assert g.epsg == epsg
    c = g.corners
    for v in (c.ul_northing, c.ul_easting, c.lr_northing, c.lr_easting):
        assert v % 90 == 0
    if negative_northing is not None:
        assert (c.ul_northing < 0) == negative_northing
    else:  # straddles the equator: north zone, the southern corner row is negative
        assert c.ul_northing > 0 > c.lr_northing
    n_tir = g.bands["10"].rows
    assert g.bands["01"].rows == 6 * (n_tir - 1) + 1
    assert g.bands["04"].rows == 3 * (n_tir - 1) + 1
    assert g.bands["01"].cols == 6 * (g.bands["10"].cols - 1) + 1
    # The GCPs GDAL builds from the Latitude/Longitude lattice land exactly on the pixel-centre
    # transform: corners are pixel centres, shared by every subsystem.
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:%d" % epsg, always_xy=True)
    for band in ("01", "04", "10"):
        sub = gdal.Open(g.bands[band].subdataset)
        gt = g.geotransform(g.bands[band].subsystem)
        for gcp in sub.GetGCPs():
            e, n = to_utm.transform(gcp.GCPX, gcp.GCPY)
            assert abs(gt[0] + gcp.GCPPixel * gt[1] - e) < 1e-3
            assert abs(gt[3] + gcp.GCPLine * gt[5] - n) < 1e-3
    south = float(md["NORTHBOUNDINGCOORDINATE"]) < 0
    assert g.south == south


@pytest.mark.parametrize("case", ["north", "south", "zone60"])
def test_footprint_is_a_rotated_parallelogram_with_zero_fill_outside(granule_path, case):
    g = open_granule(granule_path(case))
    dn = g.read_band("04")
    assert dn[0, 0] == dn[0, -1] == dn[-1, 0] == dn[-1, -1] == 0  # rotated: corners are fill
    srs_ll = osr.SpatialReference()
    srs_ll.ImportFromEPSG(4326)
    srs_ll.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for lon, lat in g.footprint_lonlat + (g.footprint_lonlat[0],):
        ring.AddPoint_2D(lon, lat)
    poly = ogr.Geometry(ogr.wkbPolygon)
    poly.AddGeometry(ring)
    poly.AssignSpatialReference(srs_ll)
    utm = osr.SpatialReference()
    utm.ImportFromEPSG(g.epsg)
    utm.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    poly.TransformTo(utm)
    inner, outer = poly.Buffer(-45), poly.Buffer(45)
    gt = g.geotransform("SWIR")
    rng = np.random.default_rng(0)
    rows = rng.integers(0, dn.shape[0], 3000)
    cols = rng.integers(0, dn.shape[1], 3000)
    for r, col in zip(rows, cols):
        pt = ogr.Geometry(ogr.wkbPoint)
        pt.AddPoint_2D(gt[0] + (col + 0.5) * gt[1], gt[3] + (r + 0.5) * gt[5])
        if inner.Contains(pt):
            assert dn[r, col] > 0
        elif not outer.Contains(pt):
            assert dn[r, col] == 0


def test_radiance_from_dn_matches_forward_model_within_one_step(granule_path):
    path = granule_path("north")
    g = open_granule(path)
    truth = load_truth(path)
    scene, coef = truth["scene"], truth["coefficients"]
    to_merc = Transformer.from_crs("EPSG:%d" % g.epsg, "EPSG:3857", always_xy=True)
    checked = 0
    for k, band in enumerate(("01", "02", "3N", "04", "05", "06", "07", "08", "09")):
        info = g.bands[band]
        dn = g.read_band(band)
        gt = g.geotransform(info.subsystem)
        rr, cc = np.nonzero((dn > 0) & (dn < 255))
        pick = np.random.default_rng(k).choice(len(rr), 2000, replace=False)
        rr, cc = rr[pick], cc[pick]
        x, y = to_merc.transform(gt[0] + (cc + 0.5) * gt[1], gt[3] + (rr + 0.5) * gt[5])
        away = scene.edge_distance_at_xy(x, y) > 1.0
        rho = scene.reflectance_at_xy(x, y)[k].astype(np.float64)
        yy = rho / (1 - coef["xc"][k] * rho)
        forward = (yy + coef["xb"][k]) / coef["xa"][k]
        derived = (dn[rr, cc].astype(np.float64) - 1) * info.incl
        err = np.abs(derived - forward)[away]
        assert err.max() <= info.incl / 2 + 1e-6, band
        checked += err.size
    assert checked > 15000


def test_variants_no_swir_and_night_tir_only(granule_path):
    g = open_granule(granule_path("no_swir"))
    assert g.subsystems == ("VNIR", "TIR")
    assert g.gains["04"] == "OFF" and g.gains["01"] == "NOR"
    assert g.metadata["OBSERVATIONMODE.3"] == "SWIR, OFF"
    assert not g.swir_usable  # 2009: post-failure granule
    night = open_granule(granule_path("night_tir"))
    assert night.subsystems == ("TIR",)
    assert night.sun_elevation < 0
    assert night.metadata["DAYNIGHTFLAG"] == "Night"
    assert all(night.gains[b] == "OFF" for b in ("01", "3N", "09"))
    tir = night.read_band("13")
    assert tir.dtype == np.uint16 and 500 < np.median(tir[tir > 0]) < 4095


def test_post_2008_swir_is_saturated_and_striped(granule_path):
    path = granule_path("post2008")
    g = open_granule(path)
    assert not g.swir_usable and load_truth(path)["swir_failed"]
    dn = g.read_band("06")
    valid = dn > 0
    assert (dn[valid] == 255).mean() > 0.1
    unsaturated = valid & (dn < 255)
    striped = np.zeros(dn.shape, bool)
    striped[:, 2::7] = True  # band 6 is the third SWIR band: every 7th column from column 2
    lift = np.median(dn[unsaturated & striped]) - np.median(dn[unsaturated & ~striped])
    assert lift > 20
    pre = open_granule(granule_path("north")).read_band("06")
    assert (pre[pre > 0] == 255).mean() < 0.01


def test_mixed_gains_change_the_coefficients_and_saturate_bright_targets(granule_path):
    g = open_granule(granule_path("mixed_gains"))
    assert g.gains["01"] == "HGH" and g.gains["04"] == "LO1" and g.gains["07"] == "LO2"
    assert g.bands["01"].incl == pytest.approx(0.676)
    assert g.bands["07"].incl == pytest.approx(0.332)
    b1 = g.read_band("01")
    assert (b1 == 255).any(), "HGH band 1 should saturate on bright clay patches"


def test_a_night_granule_with_vnir_is_refused_with_a_gmi_error_naming_it(tmp_path):
    from datetime import datetime

    from gmi_engine.errors import GmiInputError
    from gmi_engine.synth.aster import AsterSpec, write_aster_l1t

    spec = AsterSpec(-108.07, 32.793, datetime(2006, 9, 6, 6, 0, 0), side_km=6.0)  # local midnight
    with pytest.raises(GmiInputError, match="below the horizon") as info:
        write_aster_l1t(spec, tmp_path)
    assert spec.granule_id in str(info.value)
