"""Small synthetic granules shared by several test modules (written once per session)."""
from __future__ import annotations

from datetime import datetime

from gmi_engine.synth.aster import AsterSpec

SMALL = 6.0
CASES = {
    "north": AsterSpec(-108.07, 32.793, datetime(2006, 9, 6, 18, 2, 42), side_km=SMALL),
    "south": AsterSpec(133.5, -23.7, datetime(2005, 7, 14, 1, 15, 0), side_km=SMALL,
                       orientation_deg=-9.0, processing_number=2788),
    "zone60": AsterSpec(178.9, -17.8, datetime(2004, 6, 2, 22, 40, 0), side_km=SMALL,
                        processing_number=60),
    "equator": AsterSpec(36.8, 0.0, datetime(2003, 2, 10, 8, 0, 0), side_km=12.0,
                         processing_number=103734),
    "no_swir": AsterSpec(-108.07, 32.793, datetime(2009, 3, 1, 18, 0, 0), side_km=SMALL,
                         subsystems=("VNIR", "TIR"), processing_number=11),
    "night_tir": AsterSpec(-108.07, 32.793, datetime(2006, 9, 7, 5, 0, 0), side_km=SMALL,
                           subsystems=("TIR",), processing_number=12),
    "post2008": AsterSpec(-108.07, 32.793, datetime(2008, 6, 1, 18, 0, 0), side_km=SMALL,
                          processing_number=13),
    "mixed_gains": AsterSpec(-108.07, 32.793, datetime(2006, 6, 20, 18, 0, 0), side_km=SMALL,
                             gains={"01": "HGH", "02": "HGH", "3N": "NOR", "04": "LO1",
                                    "05": "NOR", "06": "NOR", "07": "LO2", "08": "HGH",
                                    "09": "NOR"}, processing_number=14),
}
