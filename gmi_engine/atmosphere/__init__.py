"""6S atmospheric correction: the run state, coefficients, and direct Py6S runs.

- :class:`AtmosphereState`: what a 6S run depends on (geometry, date, aerosol, gases, altitude).
- :class:`Coefficients`: xa, xb, xc for the nine ASTER bands, from direct runs or a LUT.
- :func:`compute_coefficients`: direct, cached, parallel 6S runs (:mod:`.sixs`).
- :func:`forward_radiance`: surface reflectance -> at-sensor radiance (inverse of the correction).

The correction itself (``rho = y / (1 + xc*y)``, ``y = xa*L - xb``) is applied by
:func:`gmi_engine.kernel.radiometry.surface_reflectance`.
"""
from gmi_engine.atmosphere.coefficients import Coefficients, forward_radiance
from gmi_engine.atmosphere.sixs import BandRun, compute_coefficients, compute_many
from gmi_engine.atmosphere.state import AEROSOL_MODELS, AtmosphereState

__all__ = [
    "AEROSOL_MODELS", "AtmosphereState", "BandRun", "Coefficients", "compute_coefficients",
    "compute_many", "forward_radiance",
]
