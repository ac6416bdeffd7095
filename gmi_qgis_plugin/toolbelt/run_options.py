"""The run options the Run dialog and the Processing algorithms share: colour balancing and
mixed provenance, with their help (the text lives in ``resources/help/run_method.md``)."""
from __future__ import annotations

import re
from typing import Any, Dict

from qgis.PyQt.QtCore import QCoreApplication

from gmi_engine.errors import GmiInputError
from gmi_engine.kernel.balance import BALANCE_DEFAULTS
from gmi_qgis_plugin.toolbelt.preferences import BALANCE_CHOICES, NO_BALANCE

DEFAULT_BALANCE_METHOD = BALANCE_DEFAULTS["balance_method"]
BALANCE_HELP_HEADING = "Colour-balancing methods"
"""The section of ``resources/help/run_method.md`` with one list item per balancing choice."""
_CONTEXT = "GmiRunOptions"


def mixed_provenance_help() -> str:
    """Tooltip / parameter help of the allow-mixed-provenance choice."""
    return QCoreApplication.translate(
        _CONTEXT,
        "Ferrous iron, gossan and ferric oxides divide a VNIR band (B1–B3N) by a SWIR band (B4–B9). "
        "Where the mosaic took the two band groups of a pixel from different granules (dates), these "
        "indices are NaN by default: a change of sun, moisture or vegetation between the dates would "
        "read as an iron anomaly. Tick this only when the granules are close in time and the ground did "
        "not change, e.g. to fill the gaps of a survey with a neighbouring date, and check such pixels "
        "with the provenance bands (kernel parameter allow_mixed_provenance, CLI "
        "--allow-mixed-provenance).")


def balance_method_help() -> Dict[str, str]:
    """Choice (``shape``, …, ``none``) -> its help item of ``run_method.md``, as plain text.

    The item is the list entry of the "Colour-balancing methods" section that starts with the
    choice in backticks.
    """
    from gmi_qgis_plugin.processing.base import help_path

    text = help_path("run_method").read_text(encoding="utf-8")
    section = re.search(r"^## {}\n(.*?)(?=^## |\Z)".format(re.escape(BALANCE_HELP_HEADING)), text,
                        re.M | re.S)
    out: Dict[str, str] = {}
    if section is None:
        return out
    for item in re.split(r"^- ", section.group(1), flags=re.M)[1:]:
        match = re.match(r"`([a-z_]+)`", item)
        if match and match.group(1) in BALANCE_CHOICES:
            plain = re.sub(r"[`*]", "", " ".join(item.split()))
            out[match.group(1)] = plain
    return out


def help_summary(item: str) -> str:
    """The first sentence of a help item and its "Use it …" sentence."""
    sentences = re.split(r"(?<=[.)])\s+(?=[A-Z])", item.strip())
    use = [t for t in sentences[1:] if t.startswith("Use it")]
    return " ".join(sentences[:1] + use[:1])


def balance_params(choice: str) -> Dict[str, Any]:
    """Kernel parameters of a balancing choice: ``balance`` false for "none"; ``balancing`` only
    for a non-default method (a default run keeps the parameters and digest of earlier runs)."""
    if choice not in BALANCE_CHOICES:
        raise GmiInputError("balancing: {!r} is not one of {}".format(choice, ", ".join(BALANCE_CHOICES)))
    if choice == NO_BALANCE:
        return {"balance": False}
    if choice == DEFAULT_BALANCE_METHOD:
        return {}
    return {"balancing": {"balance_method": choice}}
