"""Which 6S aerosol model a tile runs with: a documented, overridable rule by region.

The rule (``auto``): ``desert`` inside the hot/cold desert boxes below (the cores of Köppen BWh/BWk
regions: Sahara-Arabia-Iran-Thar, Taklamakan-Gobi, the Australian interior, Namib-Kalahari, Atacama,
the Sonoran-Mojave and the Patagonian steppe core), otherwise ``continental``. Any model named in
the options (``--aerosol-model``) overrides the rule; the provenance records which applied.
"""
from __future__ import annotations

from typing import Tuple

#: (name, west, south, east, north) in degrees: coarse boxes around Köppen BW regions.
DESERT_BOXES = (
    ("Sahara", -17.0, 15.0, 35.0, 33.0),
    ("Arabia-Iran", 35.0, 15.0, 62.0, 33.0),
    ("Thar", 68.0, 24.0, 75.0, 30.0),
    ("Taklamakan-Gobi", 75.0, 36.0, 112.0, 46.0),
    ("Australian interior", 119.0, -32.0, 142.0, -20.0),
    ("Namib-Kalahari", 12.0, -28.0, 22.0, -18.0),
    ("Atacama", -71.5, -27.0, -68.5, -18.0),
    ("Sonoran-Mojave", -117.5, 26.0, -109.0, 37.0),
    ("Patagonia", -71.0, -50.0, -66.0, -40.0),
)
#: The options value that asks for the rule instead of a fixed model.
AUTO = "auto"


def regional_aerosol_model(lon: float, lat: float) -> Tuple[str, str]:
    """(6S aerosol model, reason) for a tile centred at ``lon``, ``lat`` by the desert-box rule."""
    for name, west, south, east, north in DESERT_BOXES:
        if west <= lon <= east and south <= lat <= north:
            return "desert", "default: regional rule, inside the {} desert box".format(name)
    return "continental", "default: regional rule, outside the desert boxes"
