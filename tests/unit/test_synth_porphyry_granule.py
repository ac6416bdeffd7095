"""Synthetic AST_L1T over the porphyry scene: reflectance, illumination, noise and TIR in the DN.

The expectations are computed here from the scene's fields at the pixel centres (pyproj for the
pixel positions, the 6S coefficients saved in the truth, the handbook UCC, Planck's law with band
13's constants): the DN must invert to the scene's mixture times the illumination of the
granule's sun, with ASTER's noise level, and band 13 to the scene's brightness temperature.
"""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from pyproj import Transformer

from gmi_engine.aster.reader import open_granule
from gmi_engine.synth.aster import AsterSpec, load_truth, make_footprint, truth_paths, write_aster_l1t
from gmi_engine.synth.porphyry import NE_DELTA_RHO, PorphyryScene


@pytest.fixture(scope="module")
def granule(tmp_path_factory):
    spec = AsterSpec(-108.05, 32.80, datetime(2006, 9, 6, 18, 2, 42), side_km=6.0, scene=PorphyryScene(),
                     production=datetime(2015, 5, 16, 1, 46, 1), processing_number=99)
    path = write_aster_l1t(spec, tmp_path_factory.mktemp("porphyry-granule"))
    return spec, path, load_truth(path)


def _pixel_xy(spec, res, rows, cols):
    fp = make_footprint(spec)
    to_merc = Transformer.from_crs("EPSG:{}".format(32600 + fp.zone), "EPSG:3857", always_xy=True)
    e, n = np.meshgrid(fp.corners.ul_easting + np.arange(cols) * res, fp.corners.ul_northing - np.arange(rows) * res)
    return fp, e, n, to_merc.transform(e, n)


def test_truth_is_the_porphyry_scene_with_90m_fields(granule):
    spec, path, truth = granule
    assert truth["scene"] == spec.scene
    with np.load(truth_paths(path)[1]) as f:
        assert {"abundances_tir", "elevation_tir", "cos_i_tir", "cloud_fraction_tir",
                "brightness_temperature_13_tir", "material_swir"} <= set(f.files)
        assert f["abundances_tir"].shape[0] == len(spec.scene.material_names)


def test_dn_invert_to_mixture_times_illumination_with_aster_noise(granule):
    spec, path, truth = granule
    g = open_granule(path)
    scene = spec.scene
    sun_az, sun_el = truth["sun"]["azimuth"], truth["sun"]["elevation"]
    c = truth["coefficients"]
    residual_sd = []
    for k, band in ((0, "01"), (2, "3N"), (5, "06"), (7, "08")):
        dn = g.read_band(band).astype(np.float64)
        res = 15.0 if k < 3 else 30.0
        fp, e, n, (x, y) = _pixel_xy(spec, res, *dn.shape)
        inside = fp.inside(e, n) & (dn > 0) & (dn < 255)
        inside[:4], inside[-4:], inside[:, :4], inside[:, -4:] = False, False, False, False
        x, y, dn = x[inside][::7], y[inside][::7], dn[inside][::7]
        expected = scene.reflectance_at_xy(x, y)[k] * scene.illumination_factor(
            scene.cos_incidence_at_xy(x, y, sun_az, sun_el), sun_el)
        radiance = (dn - 1.0) * truth["ucc"][str(int(band)) if band != "3N" else band]
        yy = c["xa"][k] * radiance - c["xb"][k]
        rho = yy / (1.0 + c["xc"][k] * yy)
        err = rho - expected
        assert abs(np.median(err)) < 0.01, band
        residual_sd.append(float(np.std(err)))
    # ASTER's noise (0.5 % VNIR, 1.3 % SWIR at the sensor) is larger than the DN step; bilinear
    # resampling of the 45 m lattice at 15/30 m and the GDAL transform add a little.
    assert residual_sd[0] < residual_sd[2]
    assert 0.5 * NE_DELTA_RHO[5] < residual_sd[2] < 2.5 * NE_DELTA_RHO[5]
    # relief shows: illumination spreads the flat-terrain reflectance
    assert np.ptp(scene.cos_incidence_at_xy(x, y, sun_az, sun_el)) > 0.3


def test_band13_is_the_scene_brightness_temperature(granule):
    spec, path, truth = granule
    g = open_granule(path)
    dn = g.read_band("13").astype(np.float64)
    radiance = (dn - 1.0) * truth["ucc"]["13"]
    c1, c2, lam = 1.191042e8, 14387.77, 10.657  # Planck at band 13's effective wavelength (um)
    with np.errstate(invalid="ignore", divide="ignore"):  # fill DN 0 -> radiance < 0
        bt = c2 / (lam * np.log(c1 / (lam ** 5 * radiance) + 1.0))
    with np.load(truth_paths(path)[1]) as f:
        expected = f["brightness_temperature_13_tir"]
    ok = (dn > 0) & np.isfinite(expected) & (radiance > 0)
    assert ok.sum() > 1000
    assert abs(np.median(bt[ok] - expected[ok])) < 0.5
    assert 275.0 < np.median(bt[ok]) < 310.0
