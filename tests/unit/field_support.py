"""Helpers of the coefficient-field accuracy tests (relief and haze cases)."""
from __future__ import annotations

from typing import Any, Callable, Dict, Tuple

from benchmarks.accuracy_sections.fields import retrieval_errors

#: Per band, what the retrieval may miss the direct-6S truth by.
RMSE_MAX = 0.005
BIAS_MAX = 0.003


def retrieved_case(tmp_path_factory: Any, name: str, write_case: Callable[[Any], Any],
                   **variants: Tuple[int, Dict[str, Any]]) -> Dict[str, Any]:
    """Write a case in a new temporary folder ``name`` and retrieve it once per variant
    (``label=(field_nodes, ingest options)``, in the order given): ``{"case": case, label: errors}``."""
    work = tmp_path_factory.mktemp(name)
    case = write_case(work / "case")
    out: Dict[str, Any] = {"case": case}
    for label, (field_nodes, options) in variants.items():
        out[label] = retrieval_errors(case, work, field_nodes, **options)
    return out


def assert_bands_within_limits(bands: Dict[str, Dict[str, float]]) -> None:
    """Every band's RMSE <= RMSE_MAX and |bias| <= BIAS_MAX (the message lists them all)."""
    worst = {c: (round(v["rmse"], 4), round(v["bias"], 4)) for c, v in bands.items()}
    assert all(v["rmse"] <= RMSE_MAX and abs(v["bias"]) <= BIAS_MAX for v in bands.values()), worst
