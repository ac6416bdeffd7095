"""The scale-run set's layout (gmi_engine/synth/scale_set.py) and its errors."""
from __future__ import annotations

import pytest

from gmi_engine.errors import GmiInputError
from gmi_engine.synth.scale_set import BLOCKS, GROUP_OFFSETS, scale_specs


def test_more_granules_than_the_set_holds_is_an_input_error_naming_the_limit():
    assert len(scale_specs(len(BLOCKS) * len(GROUP_OFFSETS))) == 40
    with pytest.raises(GmiInputError, match="40 granules at most"):
        scale_specs(41)
