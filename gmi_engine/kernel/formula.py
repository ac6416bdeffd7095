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

Several formulas compiled together (:func:`compile_program`) share common sub-expressions and
denominator checks. Evaluation runs in cache-sized chunks of pixels; the min/max of each band in
a chunk bound every intermediate value, which lets the evaluator skip the ``|d| < TINY`` and inf
checks that cannot trigger there.
"""
from __future__ import annotations

import ast
import math
import sys
import warnings
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import FormulaError, GmiInputError

#: Band names of the formula language, in band order (``b3`` is ASTER band 3N).
BANDS = ("b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9")
#: VNIR bands (15 m telescope); the rest are SWIR.
VNIR_BANDS = frozenset(("b1", "b2", "b3"))
#: SWIR bands, unusable for granules acquired from April 2008 on.
SWIR_BANDS = frozenset(("b4", "b5", "b6", "b7", "b8", "b9"))
#: A denominator with a smaller absolute value gives NaN.
TINY_DENOMINATOR = 1e-6
#: Pixels per evaluation chunk (a chunk's bands and temporaries stay in the CPU cache).
CHUNK_PIXELS = 131072
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
# A result bound below this cannot round to inf in float32 (a wide margin for rounding).
_SAFE_BOUND = _FLOAT32_MAX / 2
_NAN = float("nan")
_BINARY_OPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_COMMUTATIVE = frozenset(("add", "mul", "min", "max"))
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
        self._program = None  # type: Optional[Program]

    @property
    def needs_swir(self) -> bool:
        """True when the formula reads any SWIR band (b4..b9)."""
        return any(band in SWIR_BANDS for band in self.bands)

    def evaluate(self, bands: Mapping[str, np.ndarray]) -> np.ndarray:
        """The formula on ``bands`` (band name -> array, all one shape) as a float32 array."""
        if self._program is None:
            self._program = compile_program({"value": self})
        return self._program.run(bands)["value"]

    __call__ = evaluate

    def __repr__(self) -> str:
        return "Formula({!r})".format(self.expression)


def compile_formula(text: str, reference_syntax: bool = False) -> Formula:
    """Check ``text`` and return a :class:`Formula`; raises :class:`FormulaError`."""
    return Formula(text, reference_syntax)


# ----------------------------------------------------------------------------------- evaluation

class _Instruction(object):
    """One numpy operation on value slots; ``target`` says where its result goes."""

    __slots__ = ("op", "operands", "slot", "dies", "target")

    def __init__(self, op: str, operands: Tuple[int, ...], slot: int):
        self.op = op
        self.operands = operands
        self.slot = slot
        self.dies = ()  # type: Tuple[int, ...]  # temporaries read here for the last time
        self.target = None  # type: Optional[Tuple[str, int]]  # ("output"|"scratch", index)


class _Builder(object):
    """Lowers checked trees to one instruction list over value slots.

    Slots 0..8 are the bands, then constants and results. Common sub-expressions (also across
    formulas) get one slot; every division by a non-constant goes through a shared ``guard``.
    """

    def __init__(self):
        self.instructions = []  # type: List[_Instruction]
        self.known = {}  # type: Dict[tuple, int]
        self.constants = {}  # type: Dict[int, float]
        self.slots = len(BANDS)

    def lower(self, tree: Node) -> int:
        op = tree[0]
        if op == "band":
            return BANDS.index(tree[1])
        if op == "num":
            return self.constant(tree[1])
        if op == "pow":
            base = self.lower(tree[1])
            exponent = tree[2]
            if exponent < 0:
                power = self._power(base, -exponent)
                return self.emit("div", (self.constant(1.0), self.emit("guard", (power,))))
            return self._power(base, exponent)
        operands = tuple(self.lower(child) for child in tree[1:])
        if op == "div" and operands[1] not in self.constants:
            operands = (operands[0], self.emit("guard", (operands[1],)))
        return self.emit(op, operands)

    def constant(self, value: float) -> int:
        key = ("num", value)
        if key not in self.known:
            self.known[key] = self.slots
            self.constants[self.slots] = value
            self.slots += 1
        return self.known[key]

    def _power(self, base: int, exponent: float) -> int:
        if exponent == 1:
            return base
        if exponent == 2:
            return self.emit("square", (base,))
        if exponent == 0.5:
            return self.emit("sqrt", (base,))
        return self.emit("pow", (base, self.constant(exponent)))

    def emit(self, op: str, operands: Tuple[int, ...]) -> int:
        if op in _COMMUTATIVE:
            operands = tuple(sorted(operands))
        key = (op,) + operands
        slot = self.known.get(key)
        if slot is None:
            slot = self.slots
            self.slots += 1
            self.known[key] = slot
            self.instructions.append(_Instruction(op, operands, slot))
        return slot


class Program(object):
    """Several named formulas compiled together; :meth:`run` evaluates them on float32 bands.

    Common sub-expressions and denominator checks are computed once. Pixels are processed in
    chunks that stay in the CPU cache, so memory traffic is about one read of each band and one
    write of each output; temporaries reuse a few chunk-sized buffers planned at compile time.
    """

    def __init__(self, formulas: Mapping[str, Formula]):
        self.formulas = dict(formulas)
        self.names = tuple(formulas)
        builder = _Builder()
        self.outputs = tuple((name, builder.lower(formula.tree))
                             for name, formula in formulas.items())
        self.instructions = tuple(builder.instructions)
        self.slot_count = builder.slots
        self._constants = dict(builder.constants)
        used = set()
        for formula in formulas.values():
            used.update(formula.bands)
        self.bands = tuple(band for band in BANDS if band in used)
        self._first_output = {}  # type: Dict[int, int]  # computed slot -> its output position
        for position, (_, slot) in enumerate(self.outputs):
            if slot not in self._first_output and slot not in self._constants \
                    and slot >= len(BANDS):
                self._first_output[slot] = position
        self.scratch_count = self._plan_buffers()

    def _plan_buffers(self) -> int:
        """Give every temporary a scratch buffer, reusing dead ones; returns the buffer count."""
        last = {}  # type: Dict[int, int]
        for position, instruction in enumerate(self.instructions):
            for item in instruction.operands:
                last[item] = position
        temporary = {instruction.slot for instruction in self.instructions} \
            - set(self._first_output)
        buffer_of = {}  # type: Dict[int, int]
        users = {}  # type: Dict[int, set]
        free = []  # type: List[int]
        count = 0
        for position, instruction in enumerate(self.instructions):
            instruction.dies = tuple(sorted({
                item for item in instruction.operands
                if item in temporary and last[item] == position}))
            released = []
            for item in instruction.dies:
                buffer = buffer_of.get(item)
                if buffer is not None:
                    users[buffer].discard(item)
                    if not users[buffer]:
                        released.append(buffer)
            slot = instruction.slot
            if instruction.op == "guard":
                # a guard shares (and may overwrite in place) the buffer of a temporary source
                buffer = buffer_of.get(instruction.operands[0])
                if buffer is not None:
                    if buffer in released:
                        released.remove(buffer)
                    buffer_of[slot] = buffer
                    users[buffer].add(slot)
            elif slot in self._first_output:
                instruction.target = ("output", self._first_output[slot])
            else:
                free.extend(released)
                released = []
                if free:
                    buffer = free.pop()
                else:
                    buffer = count
                    count += 1
                buffer_of[slot] = buffer
                users[buffer] = {slot}
                instruction.target = ("scratch", buffer)
            free.extend(released)
        return count

    def run(self, bands: Mapping[str, np.ndarray], out: Optional[Mapping[str, np.ndarray]] = None,
            chunk_pixels: int = 0) -> Dict[str, np.ndarray]:
        """Evaluate every formula; returns name -> float32 array, NaN where undefined.

        ``out`` (optional) maps each name to a C-contiguous float32 array of the band shape to
        write into, e.g. the result of the previous call: reusing memory saves the cost of
        faulting in fresh pages. Without it, the outputs are views of one new block.
        ``chunk_pixels`` overrides :data:`CHUNK_PIXELS`.
        """
        inputs = _float32_inputs(bands, self.bands)
        if not self.outputs:
            return {}
        shape = next(iter(inputs.values())).shape
        size = int(np.prod(shape, dtype=np.int64))
        flat = [(BANDS.index(band), np.ascontiguousarray(array).reshape(-1))
                for band, array in inputs.items()]
        results = self._output_arrays(out, shape)
        rows = [results[name].reshape(-1) for name, _ in self.outputs]
        step = max(1, min(size, chunk_pixels or CHUNK_PIXELS))
        scratch = np.empty((self.scratch_count, step), dtype=np.float32)
        with np.errstate(all="ignore"):
            for start in range(0, size, step):
                stop = min(start + step, size)
                self._run_chunk([(slot, array[start:stop]) for slot, array in flat],
                                [row[start:stop] for row in rows], scratch[:, :stop - start])
        return results

    def _output_arrays(self, out: Optional[Mapping[str, np.ndarray]], shape: Tuple[int, ...]
                       ) -> Dict[str, np.ndarray]:
        if out is None:
            block = np.empty((len(self.outputs),) + shape, dtype=np.float32)
            return {name: block[position, ...] for position, (name, _) in enumerate(self.outputs)}
        results = {}
        for name, _ in self.outputs:
            array = out.get(name) if isinstance(out, Mapping) else None
            if not isinstance(array, np.ndarray) or array.dtype != np.float32 \
                    or array.shape != shape or not array.flags.c_contiguous \
                    or not array.flags.writeable:
                raise GmiInputError("out[{!r}] must be a writeable C-contiguous float32 array "
                                    "of shape {}".format(name, shape))
            results[name] = array
        return results

    def _run_chunk(self, inputs: Sequence[Tuple[int, np.ndarray]], outputs: List[np.ndarray],
                   scratch: np.ndarray) -> None:
        values = [None] * self.slot_count  # type: List[Any]
        ranges = [_UNBOUNDED] * self.slot_count  # type: List[Tuple[float, float]]
        for slot, value in self._constants.items():
            values[slot] = value
            ranges[slot] = (value, value)
        for slot, array in inputs:
            values[slot] = array
            ranges[slot] = _array_range(array)
        for instruction in self.instructions:
            slot = instruction.slot
            operands = instruction.operands
            args = [values[item] for item in operands]
            arg_ranges = [ranges[item] for item in operands]
            if instruction.op == "guard":
                low, high = arg_ranges[0]
                ranges[slot] = arg_ranges[0]
                values[slot] = _guard(args[0], low, high, operands[0] in instruction.dies)
                continue
            kind, index = instruction.target
            target = outputs[index] if kind == "output" else scratch[index]
            values[slot] = _UFUNCS[instruction.op](*args, out=target)
            ranges[slot] = _result_range(instruction.op, arg_ranges)
        for position, (_, slot) in enumerate(self.outputs):
            array = outputs[position]
            if self._first_output.get(slot) != position:  # a band itself, or a repeated formula
                np.copyto(array, values[slot])
            low, high = ranges[slot]
            if not (-_SAFE_BOUND <= low and high <= _SAFE_BOUND):
                infinite = np.isinf(array)
                if infinite.any():
                    array[infinite] = np.nan


def compile_program(formulas: Mapping[str, Union[str, Formula]]) -> Program:
    """Compile named formulas (text or :class:`Formula`) into one :class:`Program`."""
    checked = {}
    for name, formula in formulas.items():
        checked[name] = formula if isinstance(formula, Formula) else compile_formula(formula)
    return Program(checked)


def _float32_inputs(bands: Mapping[str, np.ndarray], needed: Iterable[str]
                    ) -> Dict[str, np.ndarray]:
    """The needed bands as float32 arrays of one shape; raises GmiInputError naming the band."""
    by_name = {}
    for key, array in bands.items():
        name = band_name(key) if isinstance(key, str) else None
        if name is not None:
            by_name[name] = array
    result = {}
    shape = None
    for band in needed:
        if band not in by_name:
            raise GmiInputError("band {} is needed but missing (given: {})".format(
                band, ", ".join(sorted(map(str, bands))) or "none"))
        array = np.asarray(by_name[band])
        if array.dtype != np.float32:
            if not (np.issubdtype(array.dtype, np.floating)
                    or np.issubdtype(array.dtype, np.integer)):
                raise GmiInputError("band {} has dtype {}, not a number type".format(
                    band, array.dtype))
            array = array.astype(np.float32)
        if shape is None:
            shape = array.shape
        elif array.shape != shape:
            raise GmiInputError("band {} has shape {}, other bands {}".format(
                band, array.shape, shape))
        result[band] = array
    return result


_UNBOUNDED = (-math.inf, math.inf)
_UFUNCS = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "neg": np.negative, "abs": np.absolute, "sqrt": np.sqrt, "log": np.log, "log10": np.log10,
    "exp": np.exp, "square": np.square, "min": np.minimum, "max": np.maximum, "pow": np.power,
}


def _array_range(array: np.ndarray) -> Tuple[float, float]:
    """(min, max) ignoring NaN; NaN when there is no value (callers then assume no bound)."""
    if array.size == 0:
        return (math.nan, math.nan)
    return (float(np.fmin.reduce(array)), float(np.fmax.reduce(array)))


def _guard(array: np.ndarray, low: float, high: float, may_overwrite: bool) -> np.ndarray:
    """``array`` with NaN where ``|value| < TINY_DENOMINATOR`` (the same array if none is)."""
    margin = TINY_DENOMINATOR * 1.001
    if low >= margin or high <= -margin:
        return array
    small = np.less(np.absolute(array), TINY_DENOMINATOR)
    if not small.any():
        return array
    result = array if may_overwrite else array.copy()
    np.copyto(result, np.float32(np.nan), where=small)
    return result


def _result_range(op: str, ranges: Sequence[Tuple[float, float]]) -> Tuple[float, float]:
    """Conservative (min, max) of an instruction's result from its operands' ranges."""
    for low, high in ranges:
        if not -_SAFE_BOUND <= low <= high <= _SAFE_BOUND:  # also False for NaN
            return _UNBOUNDED
    try:
        low, high = _interval(op, ranges)
    except (ArithmeticError, ValueError):
        return _UNBOUNDED
    if not -_SAFE_BOUND <= low <= high <= _SAFE_BOUND:
        return _UNBOUNDED
    return (low, high)


def _interval(op: str, ranges: Sequence[Tuple[float, float]]) -> Tuple[float, float]:
    (a_low, a_high) = ranges[0]
    if op == "neg":
        return (-a_high, -a_low)
    if op in ("abs", "square"):
        magnitude = max(abs(a_low), abs(a_high))
        floor = 0.0 if a_low <= 0 <= a_high else min(abs(a_low), abs(a_high))
        return (floor, magnitude) if op == "abs" else (floor * floor, magnitude * magnitude)
    if op == "sqrt":
        return (math.sqrt(max(a_low, 0.0)), math.sqrt(max(a_high, 0.0)))
    if op in ("log", "log10"):
        if a_low <= 0:
            return (-math.inf, math.inf)
        function = math.log if op == "log" else math.log10
        return (function(a_low), function(a_high))
    if op == "exp":
        return (math.exp(a_low), math.exp(a_high))
    (b_low, b_high) = ranges[1]
    if op == "add":
        return (a_low + b_low, a_high + b_high)
    if op == "sub":
        return (a_low - b_high, a_high - b_low)
    if op in ("min", "max"):
        pick = min if op == "min" else max
        return (pick(a_low, b_low), pick(a_high, b_high))
    if op == "mul":
        products = (a_low * b_low, a_low * b_high, a_high * b_low, a_high * b_high)
        return (min(products), max(products))
    if op == "div":
        if b_low > 0 or b_high < 0:
            quotients = (a_low / b_low, a_low / b_high, a_high / b_low, a_high / b_high)
            return (min(quotients), max(quotients))
        bound = max(abs(a_low), abs(a_high)) / TINY_DENOMINATOR
        return (-bound, bound)
    if op == "pow":
        bound = max(abs(a_low), abs(a_high), 1.0) ** abs(b_low)
        return (-bound, bound)
    return (-math.inf, math.inf)
