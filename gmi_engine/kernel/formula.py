"""Safe band-math formulas: parse with :mod:`ast`, check against a whitelist, evaluate with numpy.

A formula is one expression over the ASTER VNIR/SWIR bands ``b1`` .. ``b9`` (``b3`` is band 3N).
Allowed: numbers, band names, ``+ - * / **``, unary ``-``/``+``, parentheses and the calls
``abs sqrt log log10 exp min max`` (``min``/``max`` take two or more arguments and act per pixel).
Band names are case-insensitive and ``b3n`` is accepted for ``b3``; ``b10``..``b14`` (TIR) are
not available. An exponent must be a constant number, within ``0 < |p| <= MAX_EXPONENT`` when
it applies to a band expression.
Everything else (attribute access, subscripts, other names or calls, keyword arguments,
strings, comparisons, conditionals, lambdas, comprehensions ...) raises :class:`FormulaError`
naming the formula, the offending part and its position.

``reference_syntax=True`` reads the notation of the reference engine's ``Mineral_Indices.csv``:
``\\`` means multiplication and ``^`` means power (in Python ``^`` is XOR).

Evaluation semantics (float32 throughout, NaN is nodata):

- NaN in any band used by a formula gives NaN (``min``/``max`` propagate NaN too).
- A denominator with ``|d| < TINY_DENOMINATOR`` gives NaN, never 0 or inf; a negative exponent
  ``x ** -p`` is ``1 / x ** p`` and follows the same rule.
- A result that is +-inf (overflow, ``log(0)``, ``exp`` of a large value) becomes NaN. An
  intermediate inf inside a larger expression follows IEEE rules (``1 / inf`` is 0).

Lowering checked trees to a shared instruction program and evaluating it on numpy arrays is
in :mod:`.program` (:func:`~.program.compile_program`).
"""
from __future__ import annotations

import ast
import math
import sys
import warnings
from typing import TYPE_CHECKING, List, Mapping, Optional, Tuple

import numpy as np

from .errors import FormulaError

if TYPE_CHECKING:  # pragma: no cover
    from .program import Program

#: Band names of the formula language, in band order (``b3`` is ASTER band 3N).
BANDS = ("b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9")
#: VNIR bands (15 m telescope); the rest are SWIR.
VNIR_BANDS = frozenset(("b1", "b2", "b3"))
#: SWIR bands, unusable for granules acquired from April 2008 on.
SWIR_BANDS = frozenset(("b4", "b5", "b6", "b7", "b8", "b9"))
#: A denominator with a smaller absolute value gives NaN.
TINY_DENOMINATOR = 1e-6
#: Largest allowed absolute exponent in ``x ** p``.
MAX_EXPONENT = 16.0
#: Longest accepted formula text, in characters.
MAX_FORMULA_LENGTH = 2000
#: Largest number of syntax-tree nodes and deepest nesting accepted.
MAX_NODES = 500
MAX_DEPTH = 64
#: Whitelisted calls: name -> (minimum, maximum) number of arguments (None = unbounded).
CALLS = {
    "abs": (1, 1), "sqrt": (1, 1), "log": (1, 1), "log10": (1, 1), "exp": (1, 1),
    "min": (2, None), "max": (2, None),
}

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_NAN = float("nan")
_BINARY_OPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_REJECTED_OPERATORS = {
    ast.FloorDiv: "'//' (floor division)", ast.Mod: "'%' (modulo)", ast.BitOr: "'|'",
    ast.BitAnd: "'&'", ast.LShift: "'<<'", ast.RShift: "'>>'",
    ast.BitXor: "'^'",
}
_OPERATOR_HINTS = {
    ast.BitXor: " ('^' is XOR in Python: write ** for a power, or use reference_syntax=True)",
}
_MAT_MULT = getattr(ast, "MatMult", None)
# Python 3.7 parses numbers to ast.Num; 3.8+ to ast.Constant (ast.Num is deprecated there).
_LEGACY_NUM = getattr(ast, "Num", None) if sys.version_info < (3, 8) else None

Node = tuple  # the checked expression tree: ("band", "b1"), ("num", 2.0), (op, child, ...)


# --------------------------------------------------------------------------------------- parsing

def from_reference_syntax(text: str) -> str:
    """Translate the reference CSV notation to Python: ``\\`` -> ``*`` and ``^`` -> ``**``."""
    return text.replace("\\", "*").replace("^", "**")


def band_name(name: str) -> Optional[str]:
    """The canonical band name (``b1``..``b9``) for ``name`` (any case, ``b3n`` alias), or None."""
    lowered = name.lower()
    if lowered == "b3n":
        return "b3"
    return lowered if lowered in BANDS else None


class _Checker(object):
    """Turns a parsed :mod:`ast` expression into a checked tree, or raises FormulaError."""

    def __init__(self, text: str, shown: str):
        self.text = text
        self.shown = shown
        self.lines = text.split("\n")

    def fail(self, message: str, node: Optional[ast.AST] = None) -> FormulaError:
        """A FormulaError naming the formula, the offending part and its position."""
        where = ""
        position = None
        if node is not None and hasattr(node, "lineno"):
            line, column = node.lineno, self._char_column(node.lineno, node.col_offset)
            position = (line, column + 1)
            where = ", {}column {}".format(
                "line {}, ".format(line) if len(self.lines) > 1 else "", column + 1)
            part = self._segment(node)
            if part:
                where += " ({!r})".format(part)
        return _formula_error("formula {}{}: {}".format(self.shown, where, message),
                              self.shown, position)

    def _char_column(self, lineno: int, byte_offset: int) -> int:
        line = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        return len(line.encode("utf-8")[:byte_offset].decode("utf-8", "replace"))

    def _segment(self, node: ast.AST) -> str:
        end_line = getattr(node, "end_lineno", None)
        end_col = getattr(node, "end_col_offset", None)
        if end_line != node.lineno or end_col is None or node.lineno > len(self.lines):
            return ""  # (Python 3.7 has no end positions)
        line = self.lines[node.lineno - 1].encode("utf-8")
        return line[node.col_offset:end_col].decode("utf-8", "replace")

    def check(self, node: ast.AST) -> Node:
        """The checked tree for ``node`` (constant sub-expressions folded)."""
        number = _number(node)
        if number is not None:
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                raise self.fail("only real numbers are allowed, not {!r}".format(number), node)
            try:
                value = float(number)
            except OverflowError:
                raise self.fail("number is too large", node)
            if not math.isfinite(value):
                raise self.fail("number is not finite", node)
            return ("num", value)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return self._fold(("neg", self.check(node.operand)), node)
            if isinstance(node.op, ast.UAdd):
                return self.check(node.operand)
            raise self.fail("unary operator {} is not allowed".format(
                "'not'" if isinstance(node.op, ast.Not) else "'~'"), node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise self.fail("{} is not allowed".format(_describe(node)), node)

    def _name(self, node: ast.Name) -> Node:
        name = band_name(node.id)
        if name is not None:
            return ("band", name)
        lowered = node.id.lower()
        if lowered in ("b10", "b11", "b12", "b13", "b14"):
            raise self.fail("band {} is a TIR band; formulas use b1..b9 (VNIR and SWIR)".format(
                node.id), node)
        if node.id in CALLS:
            raise self.fail("{} must be called, e.g. {}(b1)".format(node.id, node.id), node)
        raise self.fail("unknown name {!r} (bands are b1..b9, b3n is b3)".format(node.id), node)

    def _binary(self, node: ast.BinOp) -> Node:
        op_type = type(node.op)
        if op_type not in _BINARY_OPS:
            label = _REJECTED_OPERATORS.get(op_type)
            if label is None:
                label = "'@'" if _MAT_MULT is not None and op_type is _MAT_MULT else op_type.__name__
            raise self.fail("operator {} is not allowed{}".format(
                label, _OPERATOR_HINTS.get(op_type, "")), node)
        op = _BINARY_OPS[op_type]
        left = self.check(node.left)
        right = self.check(node.right)
        if op == "pow":
            if right[0] != "num":
                raise self.fail("the exponent must be a constant number", node.right)
            exponent = right[1]
            if left[0] != "num" and (exponent == 0 or abs(exponent) > MAX_EXPONENT):
                raise self.fail("exponent {:g} is outside 0 < |p| <= {:g}".format(
                    exponent, MAX_EXPONENT), node.right)
            return self._fold(("pow", left, exponent), node)
        if op == "div" and right[0] == "num" and abs(right[1]) < TINY_DENOMINATOR:
            raise self.fail("division by a constant ~0", node.right)
        return self._fold((op, left, right), node)

    def _call(self, node: ast.Call) -> Node:
        func = node.func
        if not isinstance(func, ast.Name):
            raise self.fail("only the calls {} are allowed".format(", ".join(sorted(CALLS))), node)
        name = func.id
        if name not in CALLS:
            raise self.fail("call of {!r} is not allowed (allowed: {})".format(
                name, ", ".join(sorted(CALLS))), node)
        if node.keywords:
            raise self.fail("keyword arguments are not allowed", node)
        low, high = CALLS[name]
        for arg in node.args:
            if type(arg).__name__ == "Starred":
                raise self.fail("'*' arguments are not allowed", arg)
        count = len(node.args)
        if count < low or (high is not None and count > high):
            raise self.fail("{}() takes {} argument{}, got {}".format(
                name, low if high == low else "at least {}".format(low),
                "" if low == 1 else "s", count), node)
        args = [self.check(arg) for arg in node.args]
        if name in ("min", "max"):
            tree = args[0]
            for arg in args[1:]:
                tree = self._fold((name, tree, arg), node)
            return tree
        return self._fold((name, args[0]), node)

    def _fold(self, tree: Node, node: ast.AST) -> Node:
        """Replace an operation on constants by its value; a non-finite value is an error."""
        op = tree[0]
        operands = tree[1:] if op != "pow" else tree[1:2]
        if not all(child[0] == "num" for child in operands):
            return tree
        try:
            value = _fold_constant(op, [child[1] for child in operands],
                                   tree[2] if op == "pow" else None)
        except (ArithmeticError, ValueError):
            value = _NAN
        if not math.isfinite(value) or abs(value) > _FLOAT32_MAX:
            raise self.fail("constant part is not a finite float32 number", node)
        return ("num", value)


def _fold_constant(op: str, values: List[float], exponent: Optional[float]) -> float:
    if op == "neg":
        return -values[0]
    if op == "add":
        return values[0] + values[1]
    if op == "sub":
        return values[0] - values[1]
    if op == "mul":
        return values[0] * values[1]
    if op == "div":
        return values[0] / values[1]
    if op == "pow":
        return float(values[0] ** exponent) if values[0] >= 0 or exponent == int(exponent) \
            else _NAN
    if op == "min":
        return min(values)
    if op == "max":
        return max(values)
    return float(getattr(math, "fabs" if op == "abs" else op)(values[0]))


def _number(node: ast.AST) -> object:
    """The literal value of a constant node, or None when ``node`` is not a constant."""
    if isinstance(node, ast.Constant):
        return node.value if node.value is not None else "None"
    if _LEGACY_NUM is not None and isinstance(node, _LEGACY_NUM):
        return node.n
    return None


def _describe(node: ast.AST) -> str:
    """A human name for a rejected syntax element."""
    names = {
        "Attribute": "attribute access", "Subscript": "subscripting", "Compare": "a comparison",
        "BoolOp": "'and'/'or'", "IfExp": "a conditional expression", "Lambda": "lambda",
        "ListComp": "a comprehension", "SetComp": "a comprehension",
        "DictComp": "a comprehension", "GeneratorExp": "a generator expression",
        "Str": "a string", "Bytes": "bytes", "JoinedStr": "an f-string", "List": "a list",
        "Tuple": "a tuple", "Dict": "a dict", "Set": "a set", "NameConstant": "a constant",
        "Starred": "'*' unpacking", "NamedExpr": "':=' assignment", "Await": "await",
        "Yield": "yield", "YieldFrom": "yield", "Ellipsis": "'...'", "Slice": "a slice",
    }
    kind = type(node).__name__
    return names.get(kind, "syntax element {}".format(kind))


def _formula_error(message: str, formula: str, position: Optional[Tuple[int, int]]
                   ) -> FormulaError:
    error = FormulaError(message)
    error.formula = formula
    error.position = position
    return error


def _tree_size_and_depth(root: ast.AST) -> Tuple[int, int]:
    count, deepest = 0, 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        deepest = max(deepest, depth)
        if count > MAX_NODES or deepest > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return count, deepest


def parse_formula(text: str, reference_syntax: bool = False) -> Node:
    """The checked expression tree of ``text``; raises :class:`FormulaError` on anything else."""
    if not isinstance(text, str):
        raise _formula_error("formula {!r}: must be text, not {}".format(
            text, type(text).__name__), repr(text), None)
    original = text.strip()
    lines = original.replace("\r\n", "\n").replace("\r", "\n")  # line ends as ast sees them
    source = from_reference_syntax(lines) if reference_syntax else lines
    shown = repr(original) if source == lines else "{!r} (read as {!r})".format(
        original, source)
    if not source:
        raise _formula_error("formula {}: is empty".format(shown), shown, None)
    if len(source) > MAX_FORMULA_LENGTH:
        raise _formula_error("formula {}...: longer than {} characters".format(
            shown[:60], MAX_FORMULA_LENGTH), shown[:60], None)
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal": the checks decide
            warnings.simplefilter("ignore")
            module = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        hint = ""
        if "\\" in source:
            hint = " ('\\' is not an operator: write * for a product, or use reference_syntax=True)"
        position = (exc.lineno or 1, exc.offset or 1)
        raise _formula_error("formula {}, column {}: {}{}".format(
            shown, position[1], exc.msg, hint), shown, position)
    except (ValueError, MemoryError, RecursionError, OverflowError) as exc:
        raise _formula_error("formula {}: cannot be parsed ({})".format(
            shown, str(exc) or type(exc).__name__), shown, None)
    count, depth = _tree_size_and_depth(module.body)
    if count > MAX_NODES or depth > MAX_DEPTH:
        raise _formula_error("formula {}: too complex (more than {} parts or {} levels)".format(
            shown, MAX_NODES, MAX_DEPTH), shown, None)
    checker = _Checker(source, shown)
    tree = checker.check(module.body)
    if not tree_bands(tree):
        raise _formula_error("formula {}: uses no band".format(shown), shown, None)
    return tree


def tree_bands(tree: Node) -> Tuple[str, ...]:
    """The bands a checked tree reads, in band order."""
    found = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if node[0] == "band":
            found.add(node[1])
        elif node[0] != "num":
            stack.extend(child for child in node[1:] if isinstance(child, tuple))
    return tuple(band for band in BANDS if band in found)


def render(tree: Node) -> str:
    """Fully parenthesised Python text of a checked tree."""
    op = tree[0]
    if op == "band":
        return tree[1]
    if op == "num":
        return _render_number(tree[1])
    if op == "neg":
        return "(-{})".format(render(tree[1]))
    if op == "pow":
        return "({} ** {})".format(render(tree[1]), _render_number(tree[2]))
    if op in _SYMBOLS:
        return "({} {} {})".format(render(tree[1]), _SYMBOLS[op], render(tree[2]))
    return "{}({})".format(op, ", ".join(render(child) for child in tree[1:]))


def _render_number(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


class Formula(object):
    """A checked formula: its text, the bands it reads and a numpy evaluator."""

    __slots__ = ("text", "reference_syntax", "tree", "bands", "expression", "_program")

    def __init__(self, text: str, reference_syntax: bool = False):
        self.text = text
        self.reference_syntax = reference_syntax
        self.tree = parse_formula(text, reference_syntax)
        self.bands = tree_bands(self.tree)
        self.expression = render(self.tree)
        self._program: Optional[Program] = None

    @property
    def needs_swir(self) -> bool:
        """True when the formula reads any SWIR band (b4..b9)."""
        return any(band in SWIR_BANDS for band in self.bands)

    @property
    def crosses_groups(self) -> bool:
        """True when the formula reads a VNIR band (b1..b3) and a SWIR band (b4..b9)."""
        return self.needs_swir and any(band in VNIR_BANDS for band in self.bands)

    def evaluate(self, bands: Mapping[str, np.ndarray]) -> np.ndarray:
        """The formula on ``bands`` (band name -> array, all one shape) as a float32 array."""
        if self._program is None:
            from .program import compile_program  # evaluation builds on this module
            self._program = compile_program({"value": self})
        return self._program.run(bands)["value"]

    __call__ = evaluate

    def __repr__(self) -> str:
        return "Formula({!r})".format(self.expression)


def compile_formula(text: str, reference_syntax: bool = False) -> Formula:
    """Check ``text`` and return a :class:`Formula`; raises :class:`FormulaError`."""
    return Formula(text, reference_syntax)
