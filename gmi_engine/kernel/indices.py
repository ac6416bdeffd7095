"""The mineral-index library (data in ``gmi_engine/kernel/data/library.json``) and its evaluation.

:func:`compute_indices` turns nine float32 bands into float32 index rasters, NaN where undefined.
The library file is read with :func:`pkgutil.get_data`, so it also loads when the package runs
from a zip archive (a MaxCompute resource); it is checked on load: every formula compiles, its
``bands`` field matches the bands the formula reads, and a reference-CSV equation that differs
from the formula carries a ``fix`` note.
"""
from __future__ import annotations

import json
import os
import pkgutil
import re
from typing import Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import FormulaError, GmiFileError, GmiInputError, IndexLibraryError
from .formula import BANDS, SWIR_BANDS, Formula, band_name, compile_formula
from .program import Program

#: The packaged library, relative to the ``kernel`` package (it ships with the kernel to MaxCompute).
LIBRARY_RESOURCE = "data/library.json"
LIBRARY_SCHEMA = "gmi-index-library/1"
STRETCH_METHODS = ("percentile", "minmax")

_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

BandsInput = Union[Mapping[str, np.ndarray], np.ndarray]
SwirUsable = Union[bool, np.ndarray]


class IndexDefinition(NamedTuple):
    """One index of the library; ``formula`` is the text, ``compiled`` the checked formula."""

    id: str
    name: str
    formula: str
    bands: Tuple[str, ...]
    references: Tuple[str, ...]
    stretch: Dict[str, Any]
    ramp: str
    compiled: Formula
    name_zh_CN: str = ""  # noqa: N815 (the locale code zh_CN, as in the library JSON)
    group: str = ""
    targets: Tuple[str, ...] = ()
    credit: str = ""
    reference_csv: Optional[Dict[str, Any]] = None
    fix: str = ""
    notes: str = ""

    @property
    def needs_swir(self) -> bool:
        """True when the index reads any SWIR band (NaN where SWIR is unusable)."""
        return any(band in SWIR_BANDS for band in self.bands)

    @property
    def crosses_groups(self) -> bool:
        """True when the index reads a VNIR and a SWIR band (NaN where they come from two granules)."""
        return self.compiled.crosses_groups

    def to_dict(self) -> Dict[str, Any]:
        """The entry as it is stored in the library file."""
        entry = self._asdict()
        del entry["compiled"]
        entry["bands"] = list(self.bands)
        entry["references"] = list(self.references)
        entry["targets"] = list(self.targets)
        return entry


class IndexLibrary(object):
    """An ordered, immutable set of index definitions; :meth:`with_index` returns a new one."""

    def __init__(self, definitions: Sequence[IndexDefinition],
                 sources: Optional[Mapping[str, str]] = None, version: str = "",
                 description: str = "", origin: str = "<library>"):
        self._definitions = {}  # type: Dict[str, IndexDefinition]
        for definition in definitions:
            if definition.id in self._definitions:
                raise IndexLibraryError("{}: index id {!r} appears twice".format(
                    origin, definition.id))
            self._definitions[definition.id] = definition
        self.sources = dict(sources or {})
        self.version = version
        self.description = description
        self.origin = origin
        self._programs = {}  # type: Dict[Tuple[str, ...], Program]

    @property
    def ids(self) -> Tuple[str, ...]:
        """Index ids in library order."""
        return tuple(self._definitions)

    def __getitem__(self, index_id: str) -> IndexDefinition:
        try:
            return self._definitions[index_id]
        except KeyError:
            raise GmiInputError("{}: no index {!r} (known: {})".format(
                self.origin, index_id, ", ".join(self._definitions)))

    def __contains__(self, index_id: object) -> bool:
        return index_id in self._definitions

    def __iter__(self) -> Iterator[IndexDefinition]:
        return iter(self._definitions.values())

    def __len__(self) -> int:
        return len(self._definitions)

    def with_index(self, definition: IndexDefinition) -> "IndexLibrary":
        """A new library with ``definition`` added (or replacing the entry of the same id)."""
        definitions = dict(self._definitions)
        definitions[definition.id] = definition
        sources = dict(self.sources)
        for key in definition.references:
            sources.setdefault(key, key)  # a reference without a citation cites itself
        return IndexLibrary(list(definitions.values()), sources, self.version,
                            self.description, self.origin)

    def program(self, ids: Sequence[str]) -> Program:
        """The compiled program evaluating ``ids`` together (cached per id tuple)."""
        key = tuple(ids)
        program = self._programs.get(key)
        if program is None:
            program = Program({index_id: self[index_id].compiled for index_id in key})
            self._programs[key] = program
        return program

    def compute(self, bands: BandsInput, ids: Optional[Sequence[str]] = None,
                swir_usable: SwirUsable = True, out: Optional[Mapping[str, np.ndarray]] = None,
                same_source: SwirUsable = True) -> Dict[str, np.ndarray]:
        """See :func:`compute_indices`."""
        return compute_indices(bands, ids, swir_usable, library=self, out=out,
                               same_source=same_source)

    def to_dict(self) -> Dict[str, Any]:
        """The library in its file layout."""
        return {"schema": LIBRARY_SCHEMA, "version": self.version,
                "description": self.description, "sources": dict(self.sources),
                "indices": [definition.to_dict() for definition in self]}


# ------------------------------------------------------------------------------------ loading

def make_definition(entry: Mapping[str, Any], origin: str = "<index>",
                    sources: Optional[Mapping[str, str]] = None) -> IndexDefinition:
    """A checked :class:`IndexDefinition` from one library entry (a dict in the file layout).

    ``bands`` may be omitted (it is derived from the formula); when given it must match.
    Raises :class:`IndexLibraryError` naming ``origin``, the index and the field.
    """
    if not isinstance(entry, Mapping):
        raise IndexLibraryError("{}: an index entry must be an object, not {}".format(
            origin, type(entry).__name__))
    index_id = entry.get("id")
    if not isinstance(index_id, str) or not _ID_PATTERN.match(index_id):
        raise IndexLibraryError("{}: field 'id' = {!r} is not a lower-case identifier".format(
            origin, index_id))
    where = "{}: index {!r}".format(origin, index_id)
    formula = _text_field(entry, "formula", where)
    try:
        compiled = compile_formula(formula)
    except FormulaError as exc:
        raise IndexLibraryError("{} field 'formula': {}".format(where, exc))
    bands = entry.get("bands", list(compiled.bands))
    if not isinstance(bands, (list, tuple)) or list(bands) != list(compiled.bands):
        raise IndexLibraryError("{} field 'bands': {!r} but the formula reads {}".format(
            where, bands, list(compiled.bands)))
    references = _text_list(entry, "references", where, required=True)
    if sources is not None:
        unknown = [key for key in references if key not in sources]
        if unknown:
            raise IndexLibraryError("{} field 'references': {} not in the library's "
                                    "'sources'".format(where, unknown))
    reference_csv = entry.get("reference_csv")
    fix = entry.get("fix", "")
    _check_reference_csv(reference_csv, fix, compiled, where)
    return IndexDefinition(
        id=index_id, name=_text_field(entry, "name", where), formula=formula,
        bands=compiled.bands, references=tuple(references),
        stretch=_checked_stretch(entry.get("stretch"), where),
        ramp=_text_field(entry, "ramp", where), compiled=compiled,
        name_zh_CN=_text_field(entry, "name_zh_CN", where, required=False),
        group=_text_field(entry, "group", where, required=False),
        targets=tuple(_text_list(entry, "targets", where)),
        credit=_text_field(entry, "credit", where, required=False),
        reference_csv=dict(reference_csv) if reference_csv else None,
        fix=_text_field(entry, "fix", where, required=False),
        notes=_text_field(entry, "notes", where, required=False))


def parse_library(data: Union[bytes, str, Mapping[str, Any]], origin: str = "<library>"
                  ) -> IndexLibrary:
    """A checked :class:`IndexLibrary` from the file's bytes/text or its decoded JSON."""
    if isinstance(data, (bytes, str)):
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            document = json.loads(text)
        except (UnicodeDecodeError, ValueError) as exc:
            raise IndexLibraryError("{}: not a JSON document ({})".format(origin, exc))
    else:
        document = data
    if not isinstance(document, Mapping):
        raise IndexLibraryError("{}: the library must be a JSON object".format(origin))
    if document.get("schema") != LIBRARY_SCHEMA:
        raise IndexLibraryError("{}: field 'schema' = {!r}, expected {!r}".format(
            origin, document.get("schema"), LIBRARY_SCHEMA))
    sources = document.get("sources", {})
    if not isinstance(sources, Mapping) or not all(
            isinstance(value, str) for value in sources.values()):
        raise IndexLibraryError("{}: field 'sources' must map a key to a citation".format(origin))
    entries = document.get("indices")
    if not isinstance(entries, list) or not entries:
        raise IndexLibraryError("{}: field 'indices' must be a non-empty list".format(origin))
    definitions = [make_definition(entry, "{} indices[{}]".format(origin, position), sources)
                   for position, entry in enumerate(entries)]
    return IndexLibrary(definitions, sources, str(document.get("version", "")),
                        str(document.get("description", "")), origin)


def load_library(path: Optional[str] = None) -> IndexLibrary:
    """The library from ``path``, or the packaged ``kernel/data/library.json`` when None."""
    if path is not None:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise GmiFileError("{}: cannot read the index library ({})".format(path, exc))
        return parse_library(data, os.fspath(path))
    package = __package__ or ""
    origin = "{}/{}".format(package.replace(".", "/") or "<no package>", LIBRARY_RESOURCE)
    data = None
    if package:
        try:
            data = pkgutil.get_data(package, LIBRARY_RESOURCE)
        except (OSError, ImportError) as exc:
            raise GmiFileError("{}: cannot read the packaged index library ({})".format(
                origin, exc))
    if data is None:
        raise GmiFileError("{}: the packaged index library is not available".format(origin))
    return parse_library(data, origin)


_DEFAULT = []  # type: List[IndexLibrary]


def default_library() -> IndexLibrary:
    """The packaged library, loaded once per process."""
    if not _DEFAULT:
        _DEFAULT.append(load_library())
    return _DEFAULT[0]


def _text_field(entry: Mapping[str, Any], field: str, where: str, required: bool = True
                ) -> str:
    value = entry.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise IndexLibraryError("{} field {!r}: must be {}text, not {!r}".format(
            where, field, "non-empty " if required else "", value))
    return value


def _text_list(entry: Mapping[str, Any], field: str, where: str, required: bool = False
               ) -> List[str]:
    value = entry.get(field, [])
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value) \
            or (required and not value):
        raise IndexLibraryError("{} field {!r}: must be a {}list of text, not {!r}".format(
            where, field, "non-empty " if required else "", value))
    return list(value)


def _checked_stretch(stretch: Any, where: str) -> Dict[str, Any]:
    def fail(detail: str) -> IndexLibraryError:
        return IndexLibraryError("{} field 'stretch': {} (got {!r})".format(where, detail, stretch))

    if not isinstance(stretch, Mapping) or stretch.get("method") not in STRETCH_METHODS:
        raise fail("must be an object with 'method' one of {}".format(STRETCH_METHODS))
    low_key, high_key = ("low", "high") if stretch["method"] == "percentile" else ("min", "max")
    low, high = stretch.get(low_key), stretch.get(high_key)
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool)
               for value in (low, high)) or not low < high:
        raise fail("needs numbers {!r} < {!r}".format(low_key, high_key))
    if stretch["method"] == "percentile" and not 0 <= low < high <= 100:
        raise fail("percentiles must lie in 0..100")
    return dict(stretch)


def _check_reference_csv(reference_csv: Any, fix: Any, compiled: Formula, where: str) -> None:
    """The reference CSV row must compile (reference notation); a different formula needs a fix."""
    if reference_csv is None:
        return
    if not isinstance(reference_csv, Mapping) or not isinstance(
            reference_csv.get("equation"), str):
        raise IndexLibraryError("{} field 'reference_csv': needs 'equation' text, got {!r}".format(
            where, reference_csv))
    equation = reference_csv["equation"]
    try:
        as_written = compile_formula(equation).expression
    except FormulaError:
        as_written = None
    if as_written != compiled.expression and not fix:
        raise IndexLibraryError(
            "{} field 'fix': the reference CSV equation {!r} does not read as the formula {!r} "
            "in Python; explain the difference".format(where, equation, compiled.expression))
    try:
        compile_formula(equation, reference_syntax=True)
    except FormulaError as exc:
        raise IndexLibraryError("{} field 'reference_csv': {}".format(where, exc))


# ---------------------------------------------------------------------------------- computing

def band_arrays(bands: BandsInput) -> Dict[str, np.ndarray]:
    """Band name -> array from a mapping (``b1``.., any case, ``b3n``) or a (9, ...) stack."""
    if isinstance(bands, Mapping):
        return dict(bands)
    stack = np.asarray(bands)
    if stack.ndim < 1 or stack.shape[0] != len(BANDS):
        raise GmiInputError("a band stack must have shape (9, ...), got {}".format(stack.shape))
    if stack.dtype != np.float32:
        stack = stack.astype(np.float32)
    return {band: stack[position] for position, band in enumerate(BANDS)}


def compute_indices(bands: BandsInput, ids: Optional[Sequence[str]] = None,
                    swir_usable: SwirUsable = True, library: Optional[IndexLibrary] = None,
                    out: Optional[Mapping[str, np.ndarray]] = None,
                    same_source: SwirUsable = True) -> Dict[str, np.ndarray]:
    """Index id -> float32 array for ``ids`` (default: every index of the library, in order).

    ``bands``: band name -> array (all one shape) or a (9, ...) array, b1 first; anything not
    float32 is converted. ``swir_usable``: False makes every index that reads a SWIR band all-NaN
    (its SWIR bands may then be absent); a boolean array of the band shape does so per pixel.
    NaN in a band gives NaN in every index reading it; see :mod:`.formula` for division rules.
    ``out``: arrays to write into (e.g. the previous result), see :meth:`.Program.run`.
    ``same_source``: True where the pixel's VNIR and SWIR bands come from one acquisition; a
    boolean array of the band shape makes the indices that read both a VNIR and a SWIR band
    (:attr:`IndexDefinition.crosses_groups`) NaN where it is False.
    """
    library = library if library is not None else default_library()
    ids = tuple(library.ids if ids is None else ids)
    definitions = [library[index_id] for index_id in ids]
    arrays = band_arrays(bands)
    usable = None if isinstance(swir_usable, (bool, np.bool_)) else np.asarray(swir_usable)
    skipped = () if usable is not None or swir_usable else tuple(
        definition.id for definition in definitions if definition.needs_swir)
    computed = tuple(index_id for index_id in ids if index_id not in skipped)
    results = {}  # type: Dict[str, np.ndarray]
    if computed:
        program = library.program(computed)
        if usable is not None:
            arrays = _mask_swir(arrays, usable, program.bands)
        results = program.run(arrays, out=out)
    if skipped:
        shape = _common_shape(arrays, library.program(computed).bands if computed else ())
        for index_id in skipped:
            target = out.get(index_id) if out is not None else None
            if isinstance(target, np.ndarray) and target.shape == shape \
                    and target.dtype == np.float32:
                target.fill(np.nan)
                results[index_id] = target
            else:
                results[index_id] = np.full(shape, np.nan, dtype=np.float32)
    _mask_mixed(results, definitions, same_source)
    return {index_id: results[index_id] for index_id in ids}


def _mask_mixed(results: Mapping[str, np.ndarray], definitions: Sequence[IndexDefinition],
                same_source: SwirUsable) -> None:
    """NaN in the cross-group indices where ``same_source`` is False (in place)."""
    if isinstance(same_source, (bool, np.bool_)):
        if same_source:
            return
        mixed = None  # type: Optional[np.ndarray]
    else:
        agree = np.asarray(same_source)
        if agree.dtype != np.bool_:
            raise GmiInputError("same_source must be a bool or a boolean array, got dtype {}".format(
                agree.dtype))
        if agree.all():
            return
        mixed = ~agree
    for definition in definitions:
        if not definition.crosses_groups:
            continue
        data = results[definition.id]
        if mixed is None:
            data.fill(np.nan)
            continue
        if mixed.shape != data.shape:
            raise GmiInputError("same_source has shape {}, index {} has {}".format(
                mixed.shape, definition.id, data.shape))
        np.copyto(data, np.float32(np.nan), where=mixed)


def _mask_swir(arrays: Dict[str, np.ndarray], usable: np.ndarray, needed: Sequence[str]
               ) -> Dict[str, np.ndarray]:
    """Copies of the needed SWIR bands with NaN where ``usable`` is False."""
    if usable.dtype != np.bool_:
        raise GmiInputError("swir_usable must be a bool or a boolean array, got dtype {}".format(
            usable.dtype))
    swir = {key: band_name(key) for key in arrays if isinstance(key, str)}
    swir = {key: band for key, band in swir.items() if band in SWIR_BANDS and band in needed}
    for key in swir:
        if np.shape(arrays[key]) != usable.shape:
            raise GmiInputError("swir_usable has shape {}, band {} has {}".format(
                usable.shape, key, np.shape(arrays[key])))
    if usable.all():
        return arrays
    masked = dict(arrays)
    for key in swir:
        masked[key] = np.where(usable, np.asarray(arrays[key], dtype=np.float32),
                               np.float32(np.nan))
    return masked


def _common_shape(arrays: Mapping[str, np.ndarray], preferred: Sequence[str]) -> Tuple[int, ...]:
    for band in tuple(preferred) + tuple(arrays):
        if band in arrays:
            return np.shape(arrays[band])
    raise GmiInputError("no band given: cannot tell the raster shape")
