"""Cloud mask with the B13 brightness-temperature test on the porphyry scene (issue 16 item 4).

Bright, flat ground (halite/gypsum playa, bleached argillic clays on sunlit slopes) passes the
reflectance-only cloud rule; the thermal test must tell it from bright, cold cloud. Clouds are
inserted as soft blobs whose top temperatures follow a 6.5 K/km lapse rate for tops 2-8 km above a
300 K ground (248-287 K); the ground's brightness temperature is the scene's kinetic temperature
lowered by 3 K for an emissivity below one.
"""
from __future__ import annotations

import numpy as np

from gmi_engine.kernel.masks import MASK_DEFAULTS, cloud_mask, dilate, granule_masks
from gmi_engine.synth.clouds import bright_ground
from gmi_engine.synth.clouds import cloudy_scene as make_cloudy_scene


def cloudy_scene(seed: int = 5):
    """The shared cloudy scene as the tuple these tests unpack."""
    c = make_cloudy_scene(seed)
    return c.scene, c.reflectance, c.bt13, c.cloud_fraction, c.abundances


def test_thermal_test_spares_playa_and_argillic_and_finds_cloud():
    scene, refl, bt13, frac, ab = cloudy_scene()
    clear = ~dilate(frac > 0, MASK_DEFAULTS["cloud_buffer"])
    ground = bright_ground(scene, ab) & clear
    assert ground.sum() > 500
    cloud = cloud_mask(refl, bt13=bt13)
    false_positive = int((cloud & ground).sum())
    detected = float(cloud[frac >= 0.9].mean())
    assert false_positive == 0
    assert detected >= 0.95
    assert float(cloud[clear].mean()) == 0.0  # no clear pixel of the scene is cloud


def test_reflectance_only_rule_flags_the_bright_ground():
    """Why the thermal test exists: without B13 the playa and bright clays look like cloud."""
    scene, refl, bt13, frac, ab = cloudy_scene()
    clear = ~dilate(frac > 0, MASK_DEFAULTS["cloud_buffer"])
    ground = bright_ground(scene, ab) & clear
    assert (cloud_mask(refl) & ground).sum() > 100


def test_nan_bt13_falls_back_to_the_reflectance_rule_and_threshold_is_a_parameter():
    _, refl, bt13, frac, _ = cloudy_scene()
    no_tir = np.full_like(bt13, np.nan)
    assert np.array_equal(cloud_mask(refl, bt13=no_tir), cloud_mask(refl))
    # a threshold below every cloud top finds no cloud
    assert not cloud_mask(refl, {"cloud_bt13_max": 200.0}, bt13=bt13).any()


def test_granule_masks_pass_bt13_through():
    _, refl, bt13, frac, _ = cloudy_scene()
    m = granule_masks(refl, swir_usable=True, bt13=bt13)
    assert np.array_equal(m.cloud, cloud_mask(refl, bt13=bt13) & m.vnir)


def test_b13_brightness_temperature_inverts_plancks_law():
    from gmi_engine.kernel.masks import brightness_temperature_b13

    # Planck radiance at ASTER band 13's effective wavelength 10.657 um, physical constants
    c1, c2, lam = 1.191042e8, 14387.77, 10.657  # W um4 m-2 sr-1, um K, um
    temps = np.array([250.0, 290.0, 320.0])
    radiance = c1 / (lam ** 5 * (np.exp(c2 / (lam * temps)) - 1.0))
    assert np.allclose(brightness_temperature_b13(radiance), temps, atol=0.1)
    assert np.isnan(brightness_temperature_b13(np.array([0.0, -1.0]))).all()


def test_bt13_row_entry_round_trips_and_old_rows_have_none():
    import pytest

    from gmi_engine.kernel.errors import SchemaError
    from gmi_engine.kernel.thermal import decode_bt13, encode_bt13

    grid = np.array([[250.0, 291.23], [np.nan, 305.5]])
    entry = encode_bt13(grid)
    tile = decode_bt13({"bt13": entry, "swir_usable": True}, 4)
    # nearest cell: tile pixels 0-1 take cell 0, 2-3 cell 1; 0.01 K steps; NaN stays NaN
    expected = np.repeat(np.repeat(grid, 2, axis=0), 2, axis=1)
    assert np.allclose(tile, expected, atol=0.006, equal_nan=True)
    assert decode_bt13({"swir_usable": True}, 4) is None  # rows ingested without TIR / before
    assert decode_bt13(None, 4) is None
    with pytest.raises(SchemaError, match="quality.bt13"):
        decode_bt13({"bt13": {"format": "other"}}, 4)
    with pytest.raises(SchemaError, match="quality.bt13.data"):
        decode_bt13({"bt13": dict(entry, data="not base64!")}, 4)


def test_accuracy_section_counts_agree_with_a_direct_count():
    """The make-accuracy cloud section scores seed 5 as counted here, and renders both rules."""
    from benchmarks.accuracy_sections import cloud as section

    scene, refl, bt13, frac, ab = cloudy_scene(5)
    clear = ~dilate(frac > 0, MASK_DEFAULTS["cloud_buffer"])
    thermal, reflectance_only = section.score(5)
    assert thermal["false_positive_bright_px"] == 0
    assert thermal["detected_core_px"] == int(cloud_mask(refl, bt13=bt13)[frac >= 0.9].sum())
    assert reflectance_only["false_positive_bright_px"] == int(
        (cloud_mask(refl) & bright_ground(scene, ab) & clear).sum()) > 100
    text = section.render({"seeds": [5], "rows": [thermal, reflectance_only]})
    assert "| B13 thermal test (default) |" in text and "| reflectance only |" in text
