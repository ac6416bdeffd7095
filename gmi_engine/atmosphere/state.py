"""The inputs of one 6S atmospheric-correction run: geometry, date, aerosol, gases, altitude."""
from __future__ import annotations

import calendar
import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from gmi_engine.errors import GmiInputError

#: Aerosol models GMI accepts (6S predefined types).
AEROSOL_MODELS = ("continental", "maritime", "urban", "desert", "biomass_burning")

#: 6S reads angles, AOT, gases and altitude with 6 decimals: the cache key uses the same.
KEY_DECIMALS = 6

_RANGES = {
    "sun_zenith": (0.0, 89.0),
    "view_zenith": (0.0, 60.0),
    "aot550": (0.0, 5.0),
    "water_vapour": (0.0, 30.0),
    "ozone": (0.0, 1.0),
    "altitude_km": (0.0, 8.8),
}
_UNITS = {"sun_zenith": "deg", "view_zenith": "deg", "water_vapour": "g/cm2",
          "ozone": "cm-atm", "altitude_km": "km"}


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise GmiInputError("AtmosphereState.{}: {!r} is not a number".format(name, value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise GmiInputError("AtmosphereState.{}: {!r} is not a number".format(name, value)) from None
    if not math.isfinite(number):
        raise GmiInputError("AtmosphereState.{}: {!r} is not finite".format(name, value))
    return number


def _as_int(name: str, value: Any) -> int:
    number = _as_float(name, value)
    if number != int(number):
        raise GmiInputError("AtmosphereState.{}: {!r} is not a whole number".format(name, value))
    return int(number)


def normalise_aerosol_model(name: str) -> str:
    """Canonical aerosol model name (``"Biomass-Burning"`` -> ``"biomass_burning"``)."""
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if key == "biomassburning":
        key = "biomass_burning"
    if key not in AEROSOL_MODELS:
        raise GmiInputError("AtmosphereState.aerosol_model: {!r} is not one of {}".format(
            name, ", ".join(AEROSOL_MODELS)))
    return key


@dataclass(frozen=True)
class AtmosphereState:
    """Everything a 6S run for one tile depends on.

    Angles in degrees (azimuths are normalised to [0, 360)); ``month``/``day`` of acquisition;
    ``aot550`` aerosol optical thickness at 550 nm; ``water_vapour`` (g/cm2) and ``ozone`` (cm-atm)
    are the values 6S reads, sea-level referenced: 6S absorbs ``water_vapour * U(h) / 1.424``
    above a target at ``altitude_km`` (:mod:`gmi_engine.atmosphere.columns` converts a measured
    column above the target, e.g. MCD19A2's, into this input); ``altitude_km`` target height.
    """

    sun_zenith: float
    sun_azimuth: float
    view_zenith: float
    view_azimuth: float
    month: int
    day: int
    aot550: float
    water_vapour: float
    ozone: float
    altitude_km: float
    aerosol_model: str = "continental"

    def __post_init__(self) -> None:
        for f in fields(self):
            name = f.name
            value = getattr(self, name)
            if name in ("month", "day"):
                value = _as_int(name, value)
            elif name == "aerosol_model":
                value = normalise_aerosol_model(value)
            else:
                value = _as_float(name, value) + 0.0  # no negative zero in keys
                if name in ("sun_azimuth", "view_azimuth"):
                    value = value % 360.0
                else:
                    low, high = _RANGES[name]
                    if not low <= value <= high:
                        raise GmiInputError("AtmosphereState.{}: {!r} {} is outside [{}, {}]".format(
                            name, value, _UNITS.get(name, ""), low, high).replace("  ", " "))
            object.__setattr__(self, name, value)
        if not 1 <= self.month <= 12:
            raise GmiInputError("AtmosphereState.month: {!r} is not 1..12".format(self.month))
        last = calendar.monthrange(2000, self.month)[1]  # leap year: 29 Feb is a valid date
        if not 1 <= self.day <= last:
            raise GmiInputError("AtmosphereState.day: {!r} is not a day of month {}".format(
                self.day, self.month))

    @property
    def relative_azimuth(self) -> float:
        """Sun-view relative azimuth in [0, 180] degrees."""
        diff = abs(self.sun_azimuth - self.view_azimuth) % 360.0
        return 360.0 - diff if diff > 180.0 else diff

    def to_dict(self) -> dict:
        """Plain JSON-ready dict of the fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AtmosphereState":
        """Inverse of :meth:`to_dict`; unknown or missing keys are errors that name the key."""
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise GmiInputError("AtmosphereState: unknown key(s) {}".format(", ".join(unknown)))
        missing = [n for n in names if n not in data and n != "aerosol_model"]
        if missing:
            raise GmiInputError("AtmosphereState: missing key(s) {}".format(", ".join(missing)))
        return cls(**dict(data))

    def canonical_text(self) -> str:
        """The state as 6S reads it (floats to 6 decimals), as sorted-key JSON text."""
        items = {}
        for name, value in self.to_dict().items():
            if isinstance(value, float):
                value = "{:.{}f}".format(value, KEY_DECIMALS)
            items[name] = value
        return json.dumps(items, sort_keys=True, separators=(",", ":"))

    def cache_key(self) -> str:
        """Stable 32-hex-digit key: equal for states that 6S cannot tell apart."""
        return hashlib.sha256(self.canonical_text().encode("ascii")).hexdigest()[:32]
