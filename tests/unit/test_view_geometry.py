"""ASTER view geometry for 6S (issue 14), against an independent orbit calculation in this file."""
from __future__ import annotations

import numpy as np
import pytest

from gmi_engine.aster.geometry import view_geometry

R_KM, H_KM, INCL_DEG = 6371.0, 705.0, 98.2
GM, OMEGA = 398600.4418, 7.2921159e-5


def orbit_view(pointing_deg: float, latitude_deg: float):
    """(view zenith, sensor azimuth seen from the target, target latitude) by 3-D vectors: Terra on
    a circular orbit descending through ``latitude_deg``; the look leaves nadir by ``pointing_deg``
    about the velocity over the rotating Earth, positive towards the left of the track."""
    a = R_KM + H_KM
    n = np.sqrt(GM / a ** 3)
    inc = np.radians(INCL_DEG)
    # argument of latitude u on the descending half: sin(lat) = sin(i) sin(u), u in (90°, 270°)
    u = np.pi - np.arcsin(np.sin(np.radians(latitude_deg)) / np.sin(inc))
    node = np.array([1.0, 0.0, 0.0])
    in_plane = np.array([0.0, np.cos(inc), np.sin(inc)])
    r = a * (np.cos(u) * node + np.sin(u) * in_plane)
    v = a * n * (-np.sin(u) * node + np.cos(u) * in_plane)
    v_ground = v - np.cross([0.0, 0.0, OMEGA], r)  # velocity over the rotating Earth
    up = r / np.linalg.norm(r)
    left = np.cross(up, v_ground)
    left /= np.linalg.norm(left)
    p = np.radians(pointing_deg)
    d = np.cos(p) * -up + np.sin(p) * left
    b = np.dot(r, d)
    t = -b - np.sqrt(b * b - (np.dot(r, r) - R_KM ** 2))
    target = r + t * d
    zen = target / R_KM
    to_sat = (r - target) / np.linalg.norm(r - target)
    east = np.cross([0.0, 0.0, 1.0], zen)
    east /= np.linalg.norm(east)
    north = np.cross(zen, east)
    vz = np.degrees(np.arccos(np.dot(to_sat, zen)))
    va = np.degrees(np.arctan2(np.dot(to_sat, east), np.dot(to_sat, north))) % 360.0
    return vz, va, np.degrees(np.arcsin(zen[2]))


def test_swir_limit_is_9_5_degrees_at_the_ground():
    vz, _ = view_geometry(8.55, 0.0)
    assert vz == pytest.approx(orbit_view(8.55, 0.0)[0], abs=0.01)
    assert 9.45 < vz < 9.55


@pytest.mark.parametrize("pointing", [8.55, 2.5, -5.7, -24.0])
@pytest.mark.parametrize("latitude", [0.0, 32.8, -23.7, 60.0])
def test_zenith_and_azimuth_match_the_orbit(pointing, latitude):
    vz_exp, va_exp, lat_target = orbit_view(pointing, latitude)
    vz, va = view_geometry(pointing, lat_target)
    assert vz == pytest.approx(vz_exp, abs=0.02)

    assert (va - va_exp + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=0.3)


def test_ingest_uses_each_telescopes_pointing_at_the_ground(demo_small, demo_workspace):
    from gmi_engine.aster.reader import open_granule
    from gmi_engine.backends.local import LocalStore

    g = open_granule(demo_small.granules[0])
    with LocalStore(demo_workspace[0]) as store:
        row = store.get_source_row(g.granule_id, (260, 526))
    for state, telescope in ((row.ac["state"], "VNIR"), (row.ac["state_swir"], "SWIR")):
        expected = np.degrees(np.arcsin((R_KM + H_KM) / R_KM * np.sin(np.radians(g.pointing[telescope]))))
        assert state["view_zenith"] == pytest.approx(expected, abs=1e-6)
