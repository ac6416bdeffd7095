"""The safe formula compiler: whitelist, error messages, NaN semantics, shared evaluation."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gmi_engine.errors import FormulaError, GmiInputError
from gmi_engine.kernel.formula import (
    BANDS,
    MAX_FORMULA_LENGTH,
    TINY_DENOMINATOR,
    compile_formula,
    from_reference_syntax,
)
from gmi_engine.kernel.program import compile_program


def random_bands(shape=(64, 48), seed=0, low=0.01, high=0.8):
    rng = np.random.default_rng(seed)
    return {band: rng.uniform(low, high, shape).astype(np.float32) for band in BANDS}


# ------------------------------------------------------------------------------ rejection

REJECTED = [
    ("__import__('os')", "__import__"),
    ("__import__('os').system('true')", "only the calls"),
    ("b1.real", "attribute"),
    ("b1[0]", "subscript"),
    ("open('x')", "open"),
    ("lambda: 1", "lambda"),
    ("b10", "TIR"),
    ("b0", "unknown name"),
    ("x", "unknown name"),
    ("'a'", "real numbers"),
    ("b'a'", "real numbers"),
    ("b1 if b2 else b3", "conditional"),
    ("b1 ** 1000000", "exponent"),
    ("b1 ** 0", "exponent"),
    ("b1 ** b2", "constant"),
    ("9 ** 9 ** 9 * b1", "finite"),
    ("b1 ** 2 ** 5", "exponent 32"),
    ("b1 * 10 ** 400", "finite"),
    ("b1 * 1e999", "finite"),
    ("b1 * 1j", "real numbers"),
    ("b1 * True", "real numbers"),
    ("b1 + None", "real numbers"),
    ("b1 / 0", "~0"),
    ("b1 / (2 - 2)", "~0"),
    ("b1 // b2", "floor division"),
    ("b1 % b2", "modulo"),
    ("b1 @ b2", "'@'"),
    ("b6 ^ 2", "XOR"),
    ("b5 \\ b7", "reference_syntax"),
    ("~b1", "'~'"),
    ("not b1", "'not'"),
    ("b1 < b2", "comparison"),
    ("b1 and b2", "'and'/'or'"),
    ("[b1 for b1 in b2]", "comprehension"),
    ("(b1, b2)", "tuple"),
    ("[b1]", "list"),
    ("{b1: b2}", "dict"),
    ("f'{b1}'", "f-string"),
    ("sqrt(x=b1)", "keyword"),
    ("sqrt(*b1)", "'*'"),
    ("abs(b1, b2)", "argument"),
    ("max(b1)", "at least 2"),
    ("sqrt", "must be called"),
    ("np.sqrt(b1)", "calls"),
    ("b1(2)", "call of 'b1'"),
    ("getattr(b1, 'real')", "getattr"),
    ("(b1 := 2)", "':='"),
    ("3", "no band"),
    ("", "empty"),
    ("   ", "empty"),
    ("b1 +", "invalid syntax"),
    ("b1\x00", "null"),
    ("\ud800", "cannot be parsed"),
    ("-" * 1500 + "b1", "too complex"),
    ("(" * 300 + "b1" + ")" * 300, "nested"),
    ("b1 + " * 600 + "b1", "longer than"),
]


@pytest.mark.parametrize("text, fragment", REJECTED)
def test_rejects_everything_outside_the_whitelist(text, fragment):
    with pytest.raises(FormulaError) as caught:
        compile_formula(text)
    message = str(caught.value)
    assert fragment in message
    assert message.startswith("formula ")
    assert isinstance(caught.value, ValueError)  # GmiInputError is also a ValueError


def test_error_names_the_offending_part_and_its_position():
    with pytest.raises(FormulaError) as caught:
        compile_formula("b1 + b2.real")
    error = caught.value
    assert error.position == (1, 6)
    assert "'b1 + b2.real', column 6 ('b2.real'): attribute access" in str(error)
    assert error.formula == "'b1 + b2.real'"
    with pytest.raises(FormulaError) as caught:
        compile_formula("(b1 +\n  x)")
    assert caught.value.position == (2, 3)
    assert "line 2, column 3 ('x')" in str(caught.value)


def test_rejects_non_text():
    with pytest.raises(FormulaError):
        compile_formula(3)
    with pytest.raises(FormulaError):
        compile_formula(None)


def test_length_limit_is_the_documented_one():
    text = "b1" + " " * (MAX_FORMULA_LENGTH - 2)
    assert compile_formula(text).bands == ("b1",)
    with pytest.raises(FormulaError):
        compile_formula(text + "+b2")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_garbage_text_only_ever_raises_formula_error(text):
    try:
        formula = compile_formula(text)
    except FormulaError:
        return
    assert formula.bands  # accepted text reads at least one band


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="bB0123456789n.e+-*/^\\()[],:=<>!%&|~ \t\r\n'\"_xlq", max_size=40),
       st.booleans())
def test_formula_like_garbage_only_ever_raises_formula_error(text, reference_syntax):
    try:
        formula = compile_formula(text, reference_syntax=reference_syntax)
    except FormulaError:
        return
    assert compile_formula(formula.expression).expression == formula.expression


TOKENS = ["b1", "b3n", "B9", "b10", "x", "2", "0", "0.5", "1e9", "+", "-", "*", "/", "**", "^",
          "\\", "(", ")", ",", "sqrt", "log", "min", "max", "abs", "exp", ".", "[", "]", "'",
          "lambda", ":", "if", "else", "__import__", " "]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14), st.booleans())
def test_token_soup_is_rejected_cleanly_or_evaluates_safely(tokens, reference_syntax):
    text = " ".join(tokens)
    try:
        formula = compile_formula(text, reference_syntax=reference_syntax)
    except FormulaError:
        return
    bands = random_bands((3, 4), low=-1.0, high=1.0)
    bands["b1"][0, 0] = 0.0
    for band in formula.bands:
        bands[band][2, 3] = np.nan
    result = formula(bands)
    assert result.dtype == np.float32 and result.shape == (3, 4)
    assert not np.isinf(result).any()
    assert np.isnan(result[2, 3])  # NaN in any band read gives NaN


# ---------------------------------------------------------------------------- acceptance

def test_band_names_are_case_insensitive_and_b3n_is_b3():
    bands = random_bands()
    assert compile_formula("B3N / b2").expression == "(b3 / b2)"
    np.testing.assert_array_equal(compile_formula("b3N - B1")(bands), bands["b3"] - bands["b1"])
    upper = {band.upper(): array for band, array in bands.items()}
    np.testing.assert_array_equal(compile_formula("b2 / b1")(upper), bands["b2"] / bands["b1"])


def test_whitelisted_calls_match_numpy():
    bands = random_bands()
    b1, b2, b3 = bands["b1"], bands["b2"], bands["b3"]
    cases = {
        "abs(b1 - b2)": np.abs(b1 - b2),
        "sqrt(b1)": np.sqrt(b1),
        "log(b1)": np.log(b1),
        "log10(b2)": np.log10(b2),
        "exp(b3)": np.exp(b3),
        "min(b1, b2, b3)": np.minimum(np.minimum(b1, b2), b3),
        "max(b1, b2)": np.maximum(b1, b2),
        "-b1 + +b2": -b1 + b2,
        "b1 ** 3": b1 ** np.float32(3),
        "b1 ** 0.5": np.sqrt(b1),
        "b1 ** -1": np.float32(1) / b1,
        "2 ** 3 * b1": 8 * b1,
    }
    for text, expected in cases.items():
        result = compile_formula(text)(bands)
        assert result.dtype == np.float32, text
        np.testing.assert_allclose(result, expected, rtol=2e-6, err_msg=text)


def test_reference_syntax_reads_backslash_as_times_and_caret_as_power():
    assert from_reference_syntax("((b5 \\ b7) / (b6^2))") == "((b5 * b7) / (b6**2))"
    formula = compile_formula("((b5 \\ b7) / (b6^2))", reference_syntax=True)
    assert formula.expression == compile_formula("(b5 * b7) / b6 ** 2").expression
    with pytest.raises(FormulaError):
        compile_formula("((b5 \\ b7) / (b6^2))")
    with pytest.raises(FormulaError) as caught:
        compile_formula("b5 \\ x", reference_syntax=True)
    assert "read as 'b5 * x'" in str(caught.value)


def test_float64_and_integer_inputs_give_float32():
    bands = {"b1": np.array([1.0, 2.0]), "b2": np.array([3, 4], dtype=np.int16)}
    result = compile_formula("b2 / b1")(bands)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, [3.0, 2.0])


def test_bad_inputs_name_the_band():
    with pytest.raises(GmiInputError, match="band b2 is needed but missing"):
        compile_formula("b2 / b1")({"b1": np.ones(3, np.float32)})
    with pytest.raises(GmiInputError, match="band b2 has shape"):
        compile_formula("b2 / b1")({"b1": np.ones(3, np.float32), "b2": np.ones(4, np.float32)})
    with pytest.raises(GmiInputError, match="dtype"):
        compile_formula("b1 + 1")({"b1": np.array(["a"])})


# ------------------------------------------------------------------------- NaN semantics

def test_zero_and_tiny_denominators_give_nan_not_zero_or_inf():
    b1 = np.array([0.0, 1e-7, -1e-7, 2e-6, 0.5, np.nan, 0.0], dtype=np.float32)
    b2 = np.array([0.3, 0.3, 0.3, 0.3, 0.0, 0.3, 0.0], dtype=np.float32)
    result = compile_formula("b2 / b1")({"b1": b1, "b2": b2})
    expected = np.array([np.nan, np.nan, np.nan, 0.3 / 2e-6, 0.0, np.nan, np.nan], np.float32)
    np.testing.assert_allclose(result, expected, rtol=1e-6)
    assert not np.isinf(result).any()


def test_inputs_are_never_modified():
    bands = random_bands((4, 4))
    bands["b1"][0, 0] = 0.0
    bands["b5"][1, 1] = 1e-9
    before = {band: array.copy() for band, array in bands.items()}
    program = compile_program({"a": "b2 / b1", "b": "b1 / b5", "c": "(b1 + b5) / (b1 * b5)"})
    program.run(bands)
    for band in BANDS:
        np.testing.assert_array_equal(bands[band], before[band])


def test_overflow_and_undefined_results_become_nan():
    b1 = np.array([1e30, 0.0, -1.0, 2.0, np.inf], dtype=np.float32)
    bands = {"b1": b1, "b2": np.ones(5, np.float32)}
    assert np.isnan(compile_formula("b1 * b1 * b2")(bands)[[0, 4]]).all()
    log = compile_formula("log(b1)")(bands)
    assert np.isnan(log[[1, 2, 4]]).all() and log[3] == np.float32(np.log(2.0))
    assert np.isnan(compile_formula("sqrt(b1)")(bands)[2])
    assert np.isnan(compile_formula("b1 ** -2")(bands)[1])
    assert np.isnan(compile_formula("b2 / b1")(bands)[1])
    assert np.isnan(compile_formula("b2 * b1")(bands)[4])  # inf input -> NaN output
    for text in ("b1 * b1 * b2", "log(b1)", "exp(b1 * 100)", "b1 ** 9", "b2 / b1"):
        assert not np.isinf(compile_formula(text)(bands)).any(), text


def test_nan_input_propagates_through_min_and_max():
    bands = {"b1": np.array([np.nan, 1.0], np.float32), "b2": np.array([2.0, np.nan], np.float32)}
    assert np.isnan(compile_formula("min(b1, b2)")(bands)).all()
    assert np.isnan(compile_formula("max(b1, b2) - 1")(bands)).all()


def test_scalar_and_one_dimensional_bands():
    assert compile_formula("b2 / b1")({"b1": np.float32(2.0), "b2": np.float32(1.0)}) == 0.5
    spectrum = np.arange(1, 6, dtype=np.float32)
    np.testing.assert_array_equal(compile_formula("b1 * 2")({"b1": spectrum}), spectrum * 2)


# ----------------------------------------------------------------- shared program evaluation

def test_program_shares_common_subexpressions():
    program = compile_program({"laterite": "b4 / b5", "kli": "(b4 / b5) * (b8 / b6)",
                               "again": "b4/b5", "sum": "(b6 + b9) / b8",
                               "sum2": "(b9 + b6) / (b7 + b8)"})
    divisions = [ins for ins in program.instructions if ins.op == "div"]
    additions = [ins for ins in program.instructions if ins.op == "add"]
    assert len(divisions) == 4  # b4/b5, b8/b6, (b6+b9)/b8, (b6+b9)/(b7+b8)
    assert len(additions) == 2  # b6+b9 once, b7+b8
    result = program.run(random_bands())
    assert result["laterite"] is not result["again"]
    np.testing.assert_array_equal(result["laterite"], result["again"])


def test_chunked_evaluation_equals_one_pass_and_writes_into_out():
    bands = random_bands((37, 29), seed=5, low=-1.0, high=1.0)
    bands["b2"][3:9, :] = 0.0
    program = compile_program({"a": "b1 / b2", "b": "(b1 + b2) / (b1 - b2) * b1 ** -2",
                               "c": "exp(b3 * 90)"})
    whole = program.run(bands, chunk_pixels=37 * 29)
    out = {name: np.full((37, 29), 7.0, np.float32) for name in ("a", "b", "c")}
    chunked = program.run(bands, out=out, chunk_pixels=100)
    for name in ("a", "b", "c"):
        assert chunked[name] is out[name]
        np.testing.assert_array_equal(chunked[name], whole[name])
    assert np.isnan(whole["a"][3:9]).all() and not np.isinf(whole["c"]).any()
    with pytest.raises(GmiInputError, match="out\\['a'\\]"):
        program.run(bands, out={"a": np.zeros((37, 29))})


def test_outputs_own_their_memory():
    bands = random_bands((5, 5))
    result = compile_program({"copy": "b1", "same": "b1 * 1", "other": "b1*1"}).run(bands)
    result["copy"][:] = -1
    result["same"][:] = -2
    np.testing.assert_array_equal(result["other"], bands["b1"])


def test_a_shared_denominator_survives_later_in_place_reuse():
    bands = random_bands((8, 8))
    b1, b2, b5, b7 = (bands[band] for band in ("b1", "b2", "b5", "b7"))
    b9 = bands["b9"]
    # b2 + b5 is read as a denominator, then for the last time as a value; its buffer must stay
    # intact while the shared denominator check still refers to it
    program = compile_program({"first": "b1 / (b2 + b5)", "scaled": "(b2 + b5) * 2",
                               "second": "(b1 * b9 + b7) / (b2 + b5)"})
    result = program.run(bands)
    np.testing.assert_allclose(result["first"], b1 / (b2 + b5), rtol=1e-6)
    np.testing.assert_allclose(result["scaled"], (b2 + b5) * 2, rtol=1e-6)
    np.testing.assert_allclose(result["second"], (b1 * b9 + b7) / (b2 + b5), rtol=1e-6)


def _oracle(text, bands):
    """Independent float32 evaluation with the documented semantics (for generated formulas)."""
    def divide(numerator, denominator):
        with np.errstate(all="ignore"):
            quotient = np.float32(numerator) / denominator
        return np.where(np.abs(denominator) < TINY_DENOMINATOR, np.float32(np.nan), quotient)

    namespace = dict(bands, divide=divide, minimum=np.minimum, maximum=np.maximum,
                     sqrt=np.sqrt, absolute=np.abs, f=np.float32)
    with np.errstate(all="ignore"):
        value = eval(text, {"__builtins__": {}}, namespace).astype(np.float32)
    value[np.isinf(value)] = np.nan
    return value


@st.composite
def expressions(draw, depth=0):
    """(formula text, oracle text) pairs built from a small grammar; every subtree reads a band."""
    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        band = draw(st.sampled_from(["b1", "b2", "b5", "b7"]))
        return band, band
    kind = draw(st.sampled_from(["add", "sub", "mul", "div", "const", "min", "sqrt", "pow",
                                 "neg"]))
    left, left_oracle = draw(expressions(depth=depth + 1))
    if kind in ("add", "sub", "mul", "div", "min"):
        right, right_oracle = draw(expressions(depth=depth + 1))
        if kind == "div":
            return "({}) / ({})".format(left, right), "divide({}, {})".format(
                left_oracle, right_oracle)
        if kind == "min":
            return "min({}, {})".format(left, right), "minimum({}, {})".format(
                left_oracle, right_oracle)
        symbol = {"add": "+", "sub": "-", "mul": "*"}[kind]
        return "({}) {} ({})".format(left, symbol, right), "({}) {} ({})".format(
            left_oracle, symbol, right_oracle)
    if kind == "const":
        number = draw(st.sampled_from(["2", "0.5", "3"]))
        return "{} * ({})".format(number, left), "f({}) * ({})".format(number, left_oracle)
    if kind == "sqrt":
        return "sqrt({})".format(left), "sqrt({})".format(left_oracle)
    if kind == "neg":
        return "-({})".format(left), "-({})".format(left_oracle)
    power = draw(st.sampled_from(["2", "3", "-1", "-2"]))
    if power.startswith("-"):
        return "({}) ** {}".format(left, power), "divide(1, ({}) ** f({}))".format(
            left_oracle, power[1:])
    return "({}) ** {}".format(left, power), "({}) ** f({})".format(left_oracle, power)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(expressions(), min_size=1, max_size=6), st.integers(1, 50))
def test_shared_program_equals_independent_oracle(pairs, chunk_pixels):
    bands = random_bands((6, 7), seed=3, low=-1.0, high=1.0)
    bands["b1"][0, :] = 0.0
    bands["b2"][1, 2] = np.nan
    bands["b5"][2, :3] = 1e-8
    # repeat every formula so common sub-expressions and in-place reuse are exercised
    formulas = {"f{}".format(i): text for i, (text, _) in enumerate(pairs + pairs)}
    before = {band: array.copy() for band, array in bands.items()}
    for text in formulas.values():  # the canonical text reads back as the same formula
        expression = compile_formula(text).expression
        assert compile_formula(expression).expression == expression
    results = compile_program(formulas).run(bands, chunk_pixels=chunk_pixels)
    for i, (_, oracle) in enumerate(pairs + pairs):
        expected = _oracle(oracle, bands)
        np.testing.assert_allclose(results["f{}".format(i)], expected, rtol=2e-5, atol=1e-30,
                                   equal_nan=True, err_msg=formulas["f{}".format(i)])
    for band in BANDS:
        np.testing.assert_array_equal(bands[band], before[band])
