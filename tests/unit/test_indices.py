"""The mineral-index library: the 23 reference outputs, oracle values, SWIR/NaN rules, materials."""
import copy
import csv
import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from gmi_engine.errors import GmiFileError, GmiInputError, IndexLibraryError
from gmi_engine.indices import (
    LIBRARY_PATH,
    QGIS_COLOR_RAMPS,
    compute_indices,
    default_library,
    load_library,
    parse_library,
    read_mineral_indices_csv,
    user_index,
)

REFERENCE_OUTPUTS = [
    "ferric_iron", "ferrous_iron", "laterite", "gossan", "ferrous_silicates", "ferric_oxides",
    "carbonate_chlorite_epidote", "mgoh_epidote_chlorite_amphibole", "amphibole_mgoh",
    "amphibole", "dolomite", "sericite_muscovite_illite_smectite",
    "alunite_kaolinite_pyrophyllite", "phengitic", "muscovite", "kaolinite", "clay",
    "kaolinite_index", "alunite_index", "aloh_phyllic", "calcite_index", "ndwi", "ndvi",
]
VNIR_ONLY = {"ferric_iron", "ndwi", "ndvi"}


def oracle(b):
    """The 23 indices written out by hand (independent of library.json)."""
    b1, b2, b3, b4, b5, b6, b7, b8, b9 = (b[i] for i in range(9))
    return {
        "ferric_iron": b2 / b1,
        "ferrous_iron": b5 / b3 + b1 / b2,
        "laterite": b4 / b5,
        "gossan": b4 / b2,
        "ferrous_silicates": b5 / b4,
        "ferric_oxides": b4 / b3,
        "carbonate_chlorite_epidote": (b7 + b9) / b8,
        "mgoh_epidote_chlorite_amphibole": (b6 + b9) / (b7 + b8),
        "amphibole_mgoh": (b6 + b9) / b8,
        "amphibole": b6 / b8,
        "dolomite": (b6 + b8) / b7,
        "sericite_muscovite_illite_smectite": (b5 + b7) / b6,
        "alunite_kaolinite_pyrophyllite": (b4 + b6) / b5,
        "phengitic": b5 / b6,
        "muscovite": b7 / b6,
        "kaolinite": b7 / b5,
        "clay": (b5 * b7) / (b6 * b6),
        "kaolinite_index": (b4 / b5) * (b8 / b6),
        "alunite_index": (b7 / b5) * (b7 / b8),
        "aloh_phyllic": (b4 * b7) / (b6 * b6),
        "calcite_index": (b6 * b9) / (b8 * b8),
        "ndwi": (b1 - b3) / (b1 + b3),
        "ndvi": (b3 - b2) / (b3 + b2),
    }


@pytest.fixture(scope="module")
def stack():
    rng = np.random.default_rng(42)
    return rng.uniform(0.02, 0.9, (9, 96, 80)).astype(np.float32)


def test_the_23_reference_outputs_exist_in_order():
    library = default_library()
    assert list(library.ids) == REFERENCE_OUTPUTS
    assert list(compute_indices(np.ones((9, 2, 2), np.float32))) == REFERENCE_OUTPUTS


def test_every_index_equals_the_hand_written_oracle(stack):
    result = compute_indices(stack)
    expected32 = oracle(stack)
    expected64 = oracle(stack.astype(np.float64))
    for index_id in REFERENCE_OUTPUTS:
        assert result[index_id].dtype == np.float32, index_id
        assert result[index_id].shape == stack.shape[1:]
        np.testing.assert_allclose(result[index_id], expected32[index_id], rtol=1e-6,
                                   err_msg=index_id)
        np.testing.assert_allclose(result[index_id], expected64[index_id], rtol=2e-6,
                                   err_msg=index_id)


def test_entries_are_complete_and_styled():
    library = default_library()
    with open(LIBRARY_PATH, encoding="utf-8") as handle:
        raw = json.load(handle)
    assert [entry["id"] for entry in raw["indices"]] == REFERENCE_OUTPUTS
    for definition in library:
        assert definition.name and definition.name_zh_CN, definition.id
        assert any("\u4e00" <= char <= "\u9fff" for char in definition.name_zh_CN)
        assert definition.targets and definition.references
        assert all(key in library.sources for key in definition.references)
        assert definition.ramp in QGIS_COLOR_RAMPS, definition.id
        assert definition.stretch["method"] in ("percentile", "minmax")
        assert definition.needs_swir == (definition.id not in VNIR_ONLY)
    assert library["dolomite"].formula == "(b6 + b8) / b7"
    assert "precedence" in library["dolomite"].fix
    assert library["dolomite"].reference_csv["equation"] == "(b6 + b8 / b7)"
    for index_id in ("clay", "aloh_phyllic", "calcite_index"):
        assert "\\" in library[index_id].reference_csv["equation"] and library[index_id].fix
    assert [d.reference_csv["id"] for d in library if d.reference_csv] == list(range(21))
    assert library["ndvi"].stretch == {"method": "minmax", "min": -0.2, "max": 0.8}


def reference_csv_text():
    """The reference engine's Mineral_Indices.csv, rebuilt from the library's reference fields."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Index ID", "Index Name", "Equation"])
    for definition in default_library():
        if definition.reference_csv:
            row = definition.reference_csv
            writer.writerow([row["id"], row["name"], row["equation"]])
    return out.getvalue()


def test_reference_syntax_reproduces_the_reference_csv_except_dolomite(stack):
    rows = read_mineral_indices_csv(reference_csv_text())
    assert len(rows) == 21
    library = default_library()
    by_number = {d.reference_csv["id"]: d for d in library if d.reference_csv}
    bands = {"b{}".format(i + 1): stack[i] for i in range(9)}
    ours = compute_indices(stack)
    for row in rows:
        definition = by_number[row.number]
        theirs = row.formula(bands)
        if definition.id == "dolomite":
            b6, b7, b8 = stack[5], stack[6], stack[7]
            np.testing.assert_allclose(theirs, b6 + b8 / b7, rtol=1e-6)  # as written
            assert not np.allclose(theirs, ours["dolomite"])
        else:
            np.testing.assert_allclose(theirs, ours[definition.id], rtol=1e-6,
                                       err_msg=definition.id)
    for index_id in ("clay", "aloh_phyllic", "calcite_index"):
        row = rows[library[index_id].reference_csv["id"]]
        assert row.formula.expression == library[index_id].compiled.expression


def test_zero_denominators_give_nan_never_zero_or_inf(stack):
    bands = stack.copy()
    bands[0, 0, 0] = 0.0            # b1 = 0: ferric_iron
    bands[4, 1, 1] = 0.0            # b5 = 0: laterite, kaolinite, kaolinite_index, alunite_index
    bands[7, 2, 2] = 0.0            # b8 = 0: calcite_index (b8**2), amphibole
    bands[0, 3, 3], bands[2, 3, 3] = 0.3, -0.3   # b1 + b3 = 0: ndwi
    bands[5, 4, 4] = 5e-4           # b6**2 = 2.5e-7 < 1e-6: clay, aloh_phyllic
    result = compute_indices(bands)
    assert np.isnan(result["ferric_iron"][0, 0])
    for index_id in ("laterite", "kaolinite", "kaolinite_index", "alunite_index"):
        assert np.isnan(result[index_id][1, 1]), index_id
    for index_id in ("calcite_index", "amphibole", "carbonate_chlorite_epidote"):
        assert np.isnan(result[index_id][2, 2]), index_id
    assert np.isnan(result["ndwi"][3, 3])
    assert np.isnan(result["clay"][4, 4]) and np.isnan(result["aloh_phyllic"][4, 4])
    assert np.isfinite(result["phengitic"][4, 4])  # b5 / b6 with b6 = 5e-4 is a valid ratio
    for index_id, array in result.items():
        assert not np.isinf(array).any(), index_id
        assert np.isfinite(array[10:, 10:]).all(), index_id


def test_nan_input_gives_nan_only_in_indices_reading_that_band(stack):
    bands = stack.copy()
    bands[4, 5, 6] = np.nan  # b5
    result = compute_indices(bands)
    for definition in default_library():
        assert np.isnan(result[definition.id][5, 6]) == ("b5" in definition.bands), definition.id


def test_unusable_swir_blanks_swir_indices_and_keeps_vnir_ones(stack):
    vnir = {"b1": stack[0], "b2": stack[1], "B3N": stack[2]}  # no SWIR bands at all
    result = compute_indices(vnir, swir_usable=False)
    expected = oracle(stack)
    assert list(result) == REFERENCE_OUTPUTS
    for index_id, array in result.items():
        assert array.dtype == np.float32 and array.shape == stack.shape[1:]
        if index_id in VNIR_ONLY:
            np.testing.assert_allclose(array, expected[index_id], rtol=1e-6)
        else:
            assert np.isnan(array).all(), index_id
    with pytest.raises(GmiInputError, match="b4"):
        compute_indices(vnir, swir_usable=True)


def test_per_pixel_swir_mask(stack):
    usable = np.ones(stack.shape[1:], dtype=bool)
    usable[:10] = False
    before = stack.copy()
    result = compute_indices(stack, swir_usable=usable)
    expected = oracle(stack)
    for index_id, array in result.items():
        if index_id in VNIR_ONLY:
            np.testing.assert_allclose(array, expected[index_id], rtol=1e-6)
        else:
            assert np.isnan(array[:10]).all(), index_id
            np.testing.assert_allclose(array[10:], expected[index_id][10:], rtol=1e-6)
    np.testing.assert_array_equal(stack, before)
    with pytest.raises(GmiInputError, match="shape"):
        compute_indices(stack, swir_usable=np.ones((3, 3), bool))


def test_results_can_be_written_into_the_previous_ones(stack):
    first = compute_indices(stack)
    second_stack = stack[::-1].copy()
    second = compute_indices(second_stack, out=first)
    expected = oracle(second_stack)
    for index_id in REFERENCE_OUTPUTS:
        assert second[index_id] is first[index_id]
        np.testing.assert_allclose(second[index_id], expected[index_id], rtol=1e-6)
    vnir = {"b1": stack[0], "b2": stack[1], "b3": stack[2]}
    blank = compute_indices(vnir, swir_usable=False, out=second)
    assert blank["clay"] is second["clay"] and np.isnan(blank["clay"]).all()
    with pytest.raises(GmiInputError, match="out"):
        compute_indices(stack, out={"ndvi": np.zeros(3, np.float32)})


def test_selected_ids_and_input_forms(stack):
    picked = compute_indices(stack.astype(np.float64), ids=["ndvi", "clay"])
    assert list(picked) == ["ndvi", "clay"] and picked["clay"].dtype == np.float32
    np.testing.assert_allclose(picked["clay"], oracle(stack)["clay"], rtol=1e-6)
    with pytest.raises(GmiInputError, match="no index 'quartz'"):
        compute_indices(stack, ids=["quartz"])
    with pytest.raises(GmiInputError, match="shape"):
        compute_indices(stack[:8])


# Plausible 9-band surface reflectance (ASTER band centres 0.556 .. 2.397 um), read off the
# shapes of library spectra: kaolinite's 2.165/2.205 um doublet lowers b5 and b6, alunite's
# 2.17 and 2.32 um features lower b5 and b8 against b7, calcite's 2.34 um feature lowers b8.
MATERIALS = {
    "background": [0.30, 0.30, 0.30, 0.30, 0.30, 0.30, 0.30, 0.30, 0.30],
    "kaolinite": [0.62, 0.70, 0.74, 0.82, 0.63, 0.56, 0.72, 0.74, 0.70],
    "alunite": [0.58, 0.64, 0.68, 0.74, 0.55, 0.62, 0.68, 0.56, 0.58],
    "calcite": [0.48, 0.52, 0.55, 0.60, 0.58, 0.57, 0.52, 0.40, 0.50],
}


def test_known_materials_light_up_in_their_indices():
    spectra = np.array([MATERIALS[name] for name in MATERIALS], dtype=np.float32).T  # (9, 4)
    result = compute_indices(spectra, ids=["kaolinite_index", "alunite_index", "calcite_index"])
    values = {index_id: dict(zip(MATERIALS, array.tolist())) for index_id, array in result.items()}
    print("material index values:", json.dumps(values, indent=1))
    for index_id, mineral in (("kaolinite_index", "kaolinite"), ("alunite_index", "alunite"),
                              ("calcite_index", "calcite")):
        row = values[index_id]
        assert row["background"] == pytest.approx(1.0)
        assert row[mineral] > 1.3 * row["background"], index_id
        assert row[mineral] == max(row.values()), index_id  # its own mineral is the brightest
    assert values["kaolinite_index"]["kaolinite"] == pytest.approx(
        (0.82 / 0.63) * (0.74 / 0.56), rel=1e-6)


# ---------------------------------------------------------------------------- library checks

def library_document():
    with open(LIBRARY_PATH, encoding="utf-8") as handle:
        return json.load(handle)


def _broken(edit):
    document = library_document()
    edit(document)
    return document


@pytest.mark.parametrize("edit, fragment", [
    (lambda d: d["indices"][10].update(bands=["b6", "b7"]), "'dolomite' field 'bands'"),
    (lambda d: d["indices"][10].pop("fix"), "'dolomite' field 'fix'"),
    (lambda d: d["indices"][16].pop("fix"), "'clay' field 'fix'"),
    (lambda d: d["indices"][0].update(formula="b2 / b1.real"), "'ferric_iron' field 'formula'"),
    (lambda d: d["indices"][0].update(formula="__import__('os')"), "'ferric_iron' field 'formula'"),
    (lambda d: d["indices"][0].update(references=["Nobody 2020"]), "field 'references'"),
    (lambda d: d["indices"][0].update(stretch={"method": "percentile", "low": 98, "high": 2}),
     "field 'stretch'"),
    (lambda d: d["indices"][0].update(ramp=""), "field 'ramp'"),
    (lambda d: d["indices"][1].update(id="ferric_iron"), "appears twice"),
    (lambda d: d["indices"][1].update(id="Bad Id"), "field 'id'"),
    (lambda d: d.update(schema="other/2"), "field 'schema'"),
    (lambda d: d.update(indices=[]), "field 'indices'"),
])
def test_library_errors_name_the_index_and_field(edit, fragment):
    with pytest.raises(IndexLibraryError) as caught:
        parse_library(_broken(edit), origin="test.json")
    assert fragment in str(caught.value)
    assert str(caught.value).startswith("test.json")


def test_load_library_from_path_and_errors(tmp_path):
    assert load_library(LIBRARY_PATH).ids == default_library().ids
    with pytest.raises(GmiFileError, match="missing.json"):
        load_library(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(IndexLibraryError, match="bad.json: not a JSON document"):
        load_library(str(bad))


def test_user_index_extends_a_new_library_without_touching_the_default(stack):
    library = default_library()
    extended = library.with_index(user_index("opaque", "b1 / b4", ramp="Greys"))
    assert extended.ids[-1] == "opaque" and "opaque" not in library
    result = compute_indices(stack, library=extended, ids=["opaque", "ndvi"])
    np.testing.assert_allclose(result["opaque"], stack[0] / stack[3], rtol=1e-6)
    legacy = user_index("clay_csv", "((b5 \\ b7) / (b6^2))", reference_syntax=True)
    assert legacy.formula == library["clay"].compiled.expression
    with pytest.raises(IndexLibraryError, match="'bad' field 'formula'"):
        user_index("bad", "b1 + open('x')")
    assert copy.deepcopy(library["clay"].to_dict())["bands"] == ["b5", "b6", "b7"]
    assert parse_library(library.to_dict()).ids == library.ids
    assert parse_library(extended.to_dict()).ids == extended.ids
    np.testing.assert_allclose(extended.compute(stack, ids=["opaque"])["opaque"],
                               result["opaque"])


def test_library_loads_from_a_zip_archive(tmp_path):
    """As on MaxCompute: the package is imported from an archive; pkgutil reads the JSON."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(LIBRARY_PATH)))  # .../gmi_engine
    archive = tmp_path / "gmi.zip"
    with zipfile.ZipFile(str(archive), "w") as bundle:
        bundle.write(os.path.join(root, "__init__.py"), "gmi_engine/__init__.py")
        bundle.write(LIBRARY_PATH, "gmi_engine/kernel/data/library.json")
        for name in os.listdir(os.path.join(root, "kernel")):
            if name.endswith(".py"):
                bundle.write(os.path.join(root, "kernel", name), "gmi_engine/kernel/" + name)
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import numpy as np; "
              "from gmi_engine.kernel.indices import compute_indices, default_library; "
              "import gmi_engine; assert gmi_engine.__file__.startswith(sys.argv[1]); "
              "r = compute_indices(np.full((9, 2, 2), 0.5, np.float32)); "
              "print(len(default_library()), float(r['clay'][0, 0]))")
    done = subprocess.run([sys.executable, "-c", script, str(archive)], capture_output=True,
                          text=True, cwd=str(tmp_path), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["23", "1.0"]
