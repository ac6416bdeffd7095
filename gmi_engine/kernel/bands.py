"""ASTER VNIR/SWIR band constants shared by the kernel, the reader and the 6S code.

Sources (see ``science.md`` §1): the unit-conversion coefficients are the ASTER User Handbook v2
Table 5 values; the band-mean solar irradiances are the ones 6SV1.1 itself uses (its integrated
solar spectrum over the ASTER filter at 1 AU), so a TOA reflectance computed here is consistent
with the 6S coefficients; the centroids are those of the 6S ASTER filter functions.

Gain codes: ``HGH``, ``NOR``, ``LO1``, ``LO2`` as in the L1T ``GAIN`` metadata; ``OFF`` means the
band was not acquired. ``LOW`` (used by some archives, e.g. the GEE schema, for the VNIR low gain)
is read as ``LO1`` on the VNIR bands, where only one low gain exists. On a SWIR band ``LOW`` is
ambiguous (LO1 and LO2 differ by up to 5x) and is rejected rather than guessed.
"""
import datetime
from typing import Union

from gmi_engine.kernel.errors import GmiInputError

#: The nine reflective bands, in row/array order (``3N`` is the nadir band 3; L1T has no 3B).
BANDS = ("01", "02", "3N", "04", "05", "06", "07", "08", "09")  # type: Tuple[str, ...]
#: Table column of each band's DN blob / ``ac`` entry (``b03`` is band 3N), same order as BANDS.
BAND_COLUMNS = tuple("b{:02d}".format(i) for i in range(1, 10))  # type: Tuple[str, ...]
VNIR_BANDS = BANDS[:3]
SWIR_BANDS = BANDS[3:]
#: The five thermal bands (in the granule only; no GMI method reads them).
TIR_BANDS = ("10", "11", "12", "13", "14")  # type: Tuple[str, ...]


def label(band: str) -> str:
    """The metadata/subdataset spelling of a band code: ``"01"`` -> ``"1"``, ``"3N"``, ``"10"``."""
    return band.lstrip("0")


def column_label(column: str) -> str:
    """The band name users read for a table/output column: ``"b01"`` -> ``"B1"``, ``"b03"`` -> ``"B3N"``."""
    return "B" + label(BANDS[BAND_COLUMNS.index(column)])


#: First day of unusable SWIR: data acquired on or after it are saturated and striped
#: (detector failure of April 2008, science.md §1.5). Compare a naive UTC datetime's ``.date()``.
SWIR_CUTOFF = datetime.date(2008, 4, 1)

#: Gain codes with a coefficient column, and the "band absent" code.
GAINS = ("HGH", "NOR", "LO1", "LO2")
GAIN_OFF = "OFF"

#: Handbook unit-conversion coefficients, W m-2 sr-1 um-1 per DN, by band and gain.
#: VNIR has no LO2 gain (absent from the table on purpose).
HANDBOOK_UCC = {
    "01": {"HGH": 0.676, "NOR": 1.688, "LO1": 2.25},
    "02": {"HGH": 0.708, "NOR": 1.415, "LO1": 1.89},
    "3N": {"HGH": 0.423, "NOR": 0.862, "LO1": 1.15},
    "04": {"HGH": 0.1087, "NOR": 0.2174, "LO1": 0.290, "LO2": 0.290},
    "05": {"HGH": 0.0348, "NOR": 0.0696, "LO1": 0.0925, "LO2": 0.409},
    "06": {"HGH": 0.0313, "NOR": 0.0625, "LO1": 0.0830, "LO2": 0.390},
    "07": {"HGH": 0.0299, "NOR": 0.0597, "LO1": 0.0795, "LO2": 0.332},
    "08": {"HGH": 0.0209, "NOR": 0.0417, "LO1": 0.0556, "LO2": 0.245},
    "09": {"HGH": 0.0159, "NOR": 0.0318, "LO1": 0.0424, "LO2": 0.265},
}  # type: Dict[str, Dict[str, float]]

#: Band-mean exo-atmospheric irradiance at 1 AU, W m-2 um-1, as used inside 6SV1.1
#: (``science.md`` §1.3, "6S internal, measured").
E0_6S = (1846.01, 1554.92, 1119.47, 225.38, 86.67, 81.18, 73.85, 66.46, 60.20)

#: Centroid wavelength of the 6S ASTER filter functions, um.
CENTRE_UM = (0.5563, 0.6610, 0.8068, 1.6558, 2.1670, 2.2081, 2.2656, 2.3344, 2.3974)

_ALIASES = {}  # type: Dict[str, int]
for _i, _b in enumerate(BANDS):
    _num = _b.lstrip("0").rstrip("N")  # "1" .. "9", "3"
    for _name in (_b, _num, "B" + _b, "B" + _num, "B" + _num.zfill(2), _num.zfill(2)):
        _ALIASES[_name.upper()] = _i
_ALIASES["3N"] = _ALIASES["B3N"] = _ALIASES["3"] = 2
del _i, _b, _num, _name


def band_index(band: Union[str, int]) -> int:
    """Position 0..8 of a band given as ``"01"``, ``"1"``, ``"B1"``, ``"3N"``, ``"b09"`` or number 1..9."""
    if isinstance(band, bool):
        raise GmiInputError("band: {!r} is not an ASTER band".format(band))
    if isinstance(band, int):
        if 1 <= band <= 9:
            return band - 1
        raise GmiInputError("band: {!r} is not an ASTER reflective band number (1..9)".format(band))
    key = str(band).strip().upper()
    if key in _ALIASES:
        return _ALIASES[key]
    raise GmiInputError("band: {!r} is not one of the ASTER reflective bands {}".format(band, BANDS))


def band_name(band: Union[str, int]) -> str:
    """Canonical band name (``"01"`` … ``"3N"`` … ``"09"``) of any accepted spelling."""
    return BANDS[band_index(band)]


def normalise_gain(band: Union[str, int], gain: str) -> str:
    """Canonical gain code for ``band`` (``LOW`` -> ``LO1`` on VNIR); ``OFF`` is returned as is.

    Raises GmiInputError for unknown codes, VNIR ``LO2`` and SWIR ``LOW``.
    """
    name = band_name(band)
    code = str(gain).strip().upper()
    if code == GAIN_OFF:
        return code
    if code == "LOW":
        if name in VNIR_BANDS:
            return "LO1"
        raise GmiInputError(
            "gain of band {}: 'LOW' is ambiguous on a SWIR band (LO1 or LO2); "
            "use the granule's INCL{} coefficient".format(name, name.lstrip("0")))
    if code not in GAINS:
        raise GmiInputError("gain of band {}: {!r} is not one of {} / LOW / OFF".format(
            name, gain, "/".join(GAINS)))
    if code not in HANDBOOK_UCC[name]:
        raise GmiInputError("gain of band {}: {} does not exist for a VNIR band".format(name, code))
    return code
