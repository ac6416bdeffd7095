"""Lowering checked formulas to one instruction program, and its evaluation with numpy.

Several formulas compiled together (:func:`compile_program`) share common sub-expressions and
denominator checks. Evaluation runs in cache-sized chunks of pixels; the min/max of each band in
a chunk bound every intermediate value, which lets the evaluator skip the ``|d| < TINY`` and inf
checks that cannot trigger there. The semantics (float32, NaN nodata, guarded denominators) are
described in :mod:`.formula`, which parses and checks the formulas.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import GmiInputError
from .formula import BANDS, TINY_DENOMINATOR, Formula, Node, band_name, compile_formula

#: Pixels per evaluation chunk (a chunk's bands and temporaries stay in the CPU cache).
CHUNK_PIXELS = 131072

_FLOAT32_MAX = float(np.finfo(np.float32).max)
# A result bound below this cannot round to inf in float32 (a wide margin for rounding).
_SAFE_BOUND = _FLOAT32_MAX / 2
_COMMUTATIVE = frozenset(("add", "mul", "min", "max"))


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
        values: List[Any] = [None] * self.slot_count
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
