"""6S correction coefficients xa, xb, xc for the nine bands, whatever produced them (direct or LUT).

Meaning (``science.md`` §2.1): ``y = xa * L - xb``; ``rho = y / (1 + xc * y)`` turns at-sensor
radiance L into Lambertian surface reflectance rho. :func:`forward_radiance` is the inverse.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Tuple, Union

import numpy as np

from gmi_engine.atmosphere.state import AtmosphereState
from gmi_engine.errors import GmiInputError
from gmi_engine.kernel.bands import BAND_COLUMNS, BANDS, band_index

#: Version tag of the ``to_dict`` layout (the source row's ``ac`` JSON).
AC_FORMAT = "gmi-ac/1"


def _coefficient_array(name: str, values: Any) -> np.ndarray:
    array = np.array(values, dtype=np.float64)
    if array.shape != (len(BANDS),):
        raise GmiInputError("Coefficients.{}: shape {} is not ({},)".format(
            name, array.shape, len(BANDS)))
    if not np.all(np.isfinite(array)):
        raise GmiInputError("Coefficients.{}: non-finite value in {}".format(name, array.tolist()))
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Coefficients:
    """xa, xb, xc (float64, shape (9,), in :data:`~gmi_engine.kernel.bands.BANDS` order).

    ``state`` is the input they were made for, ``source`` says how (``"6s-direct"``,
    ``"lut:<file>"``), ``sixs_version`` which 6S build.
    """

    xa: np.ndarray
    xb: np.ndarray
    xc: np.ndarray
    state: AtmosphereState
    source: str = "6s-direct"
    sixs_version: str = ""
    bands: Tuple[str, ...] = field(default=BANDS)

    def __post_init__(self) -> None:
        if tuple(self.bands) != BANDS:
            raise GmiInputError("Coefficients.bands: {!r} is not {!r}".format(self.bands, BANDS))
        for name in ("xa", "xb", "xc"):
            object.__setattr__(self, name, _coefficient_array(name, getattr(self, name)))
        if np.any(self.xa <= 0.0):
            raise GmiInputError("Coefficients.xa: not all positive: {}".format(self.xa.tolist()))
        if not isinstance(self.state, AtmosphereState):
            raise GmiInputError("Coefficients.state: {!r} is not an AtmosphereState".format(self.state))

    def band(self, band: Union[str, int]) -> Tuple[float, float, float]:
        """(xa, xb, xc) of one band, any spelling :func:`~gmi_engine.kernel.bands.band_index` accepts."""
        i = band_index(band)
        return float(self.xa[i]), float(self.xb[i]), float(self.xc[i])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Coefficients):
            return NotImplemented
        return (self.state == other.state and self.source == other.source
                and self.sixs_version == other.sixs_version
                and all(np.array_equal(getattr(self, n), getattr(other, n)) for n in ("xa", "xb", "xc")))

    __hash__ = None  # type: ignore[assignment]  # arrays: not hashable

    def to_dict(self) -> dict:
        """JSON-ready dict (exact float round trip): the source row's ``ac`` cell.

        Layout (``gmi_engine.table``): ``{"format", "bands": {"b01": {"xa", "xb", "xc"}, ...},
        "state", "source", "sixs_version"}``; ``b03`` is band 3N.
        """
        return {
            "format": AC_FORMAT,
            "bands": {column: {"xa": float(self.xa[i]), "xb": float(self.xb[i]),
                               "xc": float(self.xc[i])}
                      for i, column in enumerate(BAND_COLUMNS)},
            "state": self.state.to_dict(),
            "source": self.source,
            "sixs_version": self.sixs_version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Coefficients":
        """Inverse of :meth:`to_dict`; a wrong format or missing key is a GmiInputError naming it."""
        if data.get("format") != AC_FORMAT:
            raise GmiInputError("ac.format: {!r} is not {!r}".format(data.get("format"), AC_FORMAT))
        for key in ("bands", "state"):
            if key not in data:
                raise GmiInputError("ac: missing key {!r}".format(key))
        bands = data["bands"]
        values = {"xa": [], "xb": [], "xc": []}  # type: dict
        for column in BAND_COLUMNS:
            entry = bands.get(column) if isinstance(bands, Mapping) else None
            if not isinstance(entry, Mapping):
                raise GmiInputError("ac.bands: missing band {!r}".format(column))
            for name in values:
                if name not in entry:
                    raise GmiInputError("ac.bands.{}: missing {!r}".format(column, name))
                values[name].append(entry[name])
        return cls(xa=values["xa"], xb=values["xb"], xc=values["xc"],
                   state=AtmosphereState.from_dict(data["state"]),
                   source=str(data.get("source", "")), sixs_version=str(data.get("sixs_version", "")))

def forward_radiance(rho: Any, coeffs: Coefficients, band: Union[str, int]) -> Any:
    """At-sensor radiance that the correction maps back to surface reflectance ``rho``.

    ``y = rho / (1 - xc * rho)``; ``L = (y + xb) / xa`` (float64; NaN where ``1 - xc*rho <= 0``).
    """
    xa, xb, xc = coeffs.band(band)
    r = np.asarray(rho, dtype=np.float64)
    denom = 1.0 - xc * r
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(denom > 0.0, r / denom, np.nan)
    radiance = (y + xb) / xa
    return float(radiance) if radiance.ndim == 0 else radiance


#: Bands seen by ASTER's VNIR telescope (the others by SWIR), indices into BANDS.
VNIR_BAND_COUNT = 3


def merge_telescopes(vnir: Coefficients, swir: Coefficients) -> Coefficients:
    """Bands 1-3N from ``vnir`` (its state is kept) and bands 4-9 from ``swir``: each telescope
    has its own pointing, hence its own view geometry."""
    k = VNIR_BAND_COUNT
    return Coefficients(xa=np.concatenate([vnir.xa[:k], swir.xa[k:]]),
                        xb=np.concatenate([vnir.xb[:k], swir.xb[k:]]),
                        xc=np.concatenate([vnir.xc[:k], swir.xc[k:]]),
                        state=vnir.state, source=vnir.source, sixs_version=vnir.sixs_version)
