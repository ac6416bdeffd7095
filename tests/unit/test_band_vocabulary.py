"""The band names users read come from kernel/bands.py only (ASTER User Handbook spelling)."""
from gmi_engine.kernel.bands import BAND_COLUMNS, BANDS, SWIR_BANDS, TIR_BANDS, VNIR_BANDS, column_label, label

HANDBOOK_NAMES = ["B1", "B2", "B3N", "B4", "B5", "B6", "B7", "B8", "B9"]  # L1T carries the nadir band 3N


def test_column_labels_are_the_handbook_band_names():
    assert [column_label(c) for c in BAND_COLUMNS] == HANDBOOK_NAMES


def test_subsystem_sets_partition_the_reflective_bands():
    assert VNIR_BANDS + SWIR_BANDS == BANDS
    assert [label(b) for b in TIR_BANDS] == ["10", "11", "12", "13", "14"]
