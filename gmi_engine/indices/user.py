"""User index definitions: custom formulas and the reference engine's ``Mineral_Indices.csv``.

Formulas are parsed and checked by :mod:`gmi_engine.kernel.formula` (it must run inside
MaxCompute); this module adds what only the desktop side needs.
"""
from __future__ import annotations

import csv
import io
from typing import Any, List, NamedTuple, Optional, Sequence

from gmi_engine.kernel.errors import FormulaError, IndexLibraryError
from gmi_engine.kernel.formula import Formula, compile_formula
from gmi_engine.kernel.indices import IndexDefinition, make_definition

#: Stretch and colour ramp given to an index that does not choose its own.
DEFAULT_STRETCH = {"method": "percentile", "low": 2, "high": 98}
DEFAULT_RAMP = "Viridis"
REFERENCE_CSV_COLUMNS = ("Index ID", "Index Name", "Equation")


class ReferenceRow(NamedTuple):
    """One row of the reference engine's ``Mineral_Indices.csv``, compiled."""

    number: int
    name: str
    equation: str
    formula: Formula


def user_index(index_id: str, formula: str, name: Optional[str] = None,
               reference_syntax: bool = False, references: Sequence[str] = ("user-defined",),
               **fields: Any) -> IndexDefinition:
    """A checked index definition for a user formula, with default stretch and ramp.

    ``reference_syntax=True`` reads ``\\`` as x and ``^`` as a power; the stored formula is then
    the canonical Python text. Extra ``fields`` (``ramp``, ``stretch``, ``targets`` ...) follow
    the library file layout. Raises :class:`IndexLibraryError` (the formula's FormulaError text
    included) when the entry is not valid.
    """
    text = formula
    if reference_syntax:
        try:
            text = compile_formula(formula, reference_syntax=True).expression
        except FormulaError as exc:
            raise IndexLibraryError("index {!r} field 'formula': {}".format(index_id, exc))
    entry = {"id": index_id, "name": name or index_id, "formula": text,
             "references": list(references), "stretch": dict(DEFAULT_STRETCH),
             "ramp": DEFAULT_RAMP}
    entry.update(fields)
    return make_definition(entry, origin="user index")


def read_mineral_indices_csv(text: str, origin: str = "Mineral_Indices.csv") -> List[ReferenceRow]:
    """Rows of the reference ``Mineral_Indices.csv`` (columns Index ID, Index Name, Equation).

    Equations are read with ``reference_syntax=True``. Note that the reference's Dolomite row,
    ``(b6 + b8 / b7)``, then means b6 + (b8 / b7), as written; the library fixes it.
    """
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(cell.strip() for cell in header) != REFERENCE_CSV_COLUMNS:
        raise IndexLibraryError("{}: header {!r} is not {!r}".format(
            origin, header, REFERENCE_CSV_COLUMNS))
    rows = []
    for line, cells in enumerate(reader, start=2):
        if not cells:
            continue
        if len(cells) != 3:
            raise IndexLibraryError("{} line {}: expected 3 columns, got {}".format(
                origin, line, len(cells)))
        number, name, equation = (cell.strip() for cell in cells)
        try:
            index_number = int(number)
        except ValueError:
            raise IndexLibraryError("{} line {} field 'Index ID': {!r} is not a number".format(
                origin, line, number))
        try:
            formula = compile_formula(equation, reference_syntax=True)
        except FormulaError as exc:
            raise IndexLibraryError("{} line {} field 'Equation': {}".format(origin, line, exc))
        rows.append(ReferenceRow(index_number, name, equation, formula))
    return rows
