"""The MaxCompute Python 3 UDTF that runs the GMI kernel over the source rows of each tile.

SQL (made by :mod:`gmi_engine.backends.odps`)::

    SELECT gmi_udtf('<method>', '<params JSON>', granule_id, tile_x, ..., quality)
           AS (tile_x, tile_y, method, output, dtype, height, width, data, meta)
    FROM (SELECT * FROM gmi_source WHERE batch = '...'
          DISTRIBUTE BY tile_x, tile_y SORT BY tile_x, tile_y, acquired, granule_id) t

One UDTF instance sees many tiles, each tile's rows together and sorted by acquisition.
:meth:`GmiUdtf.process` decodes and buffers the rows of the current tile and runs the tile when
the key changes; :meth:`GmiUdtf.close` runs the last tile. A row of a tile that was already
flushed means the input was not grouped: that is an error, never a silent second result.

Method and parameters are the first two (constant) arguments, so the SQL text shows exactly
what ran and no per-run resource is needed. Each forwarded row is one ``gmi_result`` row;
every cell is checked against the 8 MiB MaxCompute limit before it is forwarded.

A tile the kernel fails on (a corrupt row, a cell over 8 MiB, a kernel error) becomes one
error row (output ``_error``, ``meta`` = the error, granules and kernel version) and the job
goes on with the next tile; the download reports it. With ``"udtf_on_error": "fail"`` in the
params (``--fail-fast``) the first such error fails the whole job instead. Errors of the job
itself (rows not grouped by tile, params that change) always fail it.

On MaxCompute this file is uploaded as a ``py`` resource (``gmi odps deploy``) next to an
archive holding ``gmi_engine/kernel`` and the user's numpy archive; deploy fills
:data:`BUNDLE_RESOURCES` so that the archives' folders under ``work/`` join ``sys.path``
before the kernel is imported (lazily, at the first row). Python 3.7 syntax; numpy + stdlib +
``odps.udf`` only (the kernel is imported from the bundle).
"""
import json
import os
import sys
import time

from odps.udf import BaseUDTF, annotate

BUNDLE_RESOURCES = ()  # gmi-deploy: resources
"""Archive resources whose folders (``work/<name>``, ``work/<name>/packages``) are added to
``sys.path`` on MaxCompute; empty in the source tree (the local runner imports the repo)."""

INPUT_TYPES = ("string,string,"  # method, params (JSON)
               "string,bigint,bigint,datetime,string,"  # granule_id, tile_x, tile_y, acquired, meta
               "bigint,bigint,bigint,bigint,"  # min_row, max_row, min_col, max_col
               "binary,binary,binary,binary,binary,binary,binary,binary,binary,"  # b01..b09
               "string,"  # ac
               "binary,binary,binary,binary,binary,binary,binary,"  # m01..m07
               "string")  # quality
OUTPUT_TYPES = "bigint,bigint,string,string,string,bigint,bigint,binary,string"
SIGNATURE = INPUT_TYPES + "->" + OUTPUT_TYPES
"""The UDTF signature: (method, params, every gmi_source column) -> gmi_result columns."""


class BundleImportError(ImportError):
    """The kernel (or numpy) did not import from the deployed archives; says what ``work/`` holds."""


def add_bundle_paths(names=None, root="work"):
    """Put the bundle's archive folders first on ``sys.path``; returns them.

    MaxCompute extracts an archive resource to ``work/<resource name>``: that folder always joins
    (it is the documented place), and ``work/<name>/packages`` too when present (pyodps-pack).
    """
    added = []
    for name in BUNDLE_RESOURCES if names is None else names:
        packages = os.path.join(root, name, "packages")
        for folder in ([packages] if os.path.isdir(packages) else []) + [os.path.join(root, name)]:
            if folder not in sys.path:
                sys.path.insert(0, folder)
                added.append(folder)
    return added


def describe_folder(root="work", depth=2, limit=40):
    """``a.zip/gmi_engine, b.tar.gz`` -- what ``root`` holds, ``depth`` levels down, at most ``limit`` entries."""
    entries = []

    def walk(folder, prefix, level):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return
        for name in names:
            path = os.path.join(folder, name)
            inner = os.path.isdir(path) and level < depth and os.listdir(path)
            if inner:
                walk(path, prefix + name + "/", level + 1)
            else:
                entries.append(prefix + name)

    walk(root, "", 1)
    more = ", ... ({} more)".format(len(entries) - limit) if len(entries) > limit else ""
    return (", ".join(entries[:limit]) + more) if entries else "nothing (or no {}/ folder)".format(root)


def _text(value):
    """A STRING argument as str (some runtimes, e.g. pyodps' local runner, pass bytes)."""
    return value.decode("utf-8") if isinstance(value, (bytes, bytearray)) else value


@annotate(SIGNATURE)
class GmiUdtf(BaseUDTF):
    """Buffer the rows of one tile, run the kernel on it, forward the result rows."""

    def __init__(self):
        super(GmiUdtf, self).__init__()
        add_bundle_paths()
        self._kernel = None
        self._key = None
        self._rows = []
        self._method = None
        self._params_text = None
        self._params = None
        self._fail_fast = False
        self._row_error = None  # the first error decoding a row of the current tile
        self._granules = []
        self._done = set()
        self.tiles = 0
        self.failed = 0
        self.forwarded = 0

    def _load_kernel(self):
        """Import the kernel (from the bundle on MaxCompute) at the first row."""
        try:
            from gmi_engine.kernel import errors, pipeline, records
        except ImportError as exc:
            raise BundleImportError(
                "gmi_udtf: cannot import gmi_engine.kernel ({}). Resources expected: {}; work/ holds: {}; "
                "sys.path starts with {}. Redeploy with `gmi odps deploy` (docs/maxcompute.md).".format(
                    exc, ", ".join(BUNDLE_RESOURCES) or "(none)", describe_folder(), sys.path[:4])) from exc
        self._kernel = (pipeline, records, errors)

    def process(self, method, params, *cells):
        """One source row: flush the buffered tile when the (tile_x, tile_y) key changes."""
        if self._kernel is None:
            self._load_kernel()
        pipeline, records, errors = self._kernel
        method, params = _text(method), _text(params)
        if self._method is None:
            self._start(method, params)
        elif method != self._method or params != self._params_text:
            raise errors.GmiInputError("gmi_udtf: method/params changed within one job ({!r} -> {!r}); "
                                       "they must be constants".format(self._method, method))
        if len(cells) != len(records.SOURCE_COLUMNS):
            raise errors.GmiInputError("gmi_udtf: {} source columns given, expected {} ({})".format(
                len(cells), len(records.SOURCE_COLUMNS), ", ".join(records.SOURCE_COLUMNS)))
        named = dict(zip(records.SOURCE_COLUMNS, cells))
        key = (int(named["tile_x"]), int(named["tile_y"]))
        granule = _text(named["granule_id"])
        if key != self._key:
            self._flush()
            if key in self._done:
                raise errors.BackendError("gmi_udtf: a row of tile {},{} (granule {}) arrived after that tile "
                                          "was computed; the query must DISTRIBUTE BY tile_x, tile_y and "
                                          "SORT BY tile_x, tile_y, acquired".format(key[0], key[1], granule))
            self._key = key
        self._granules.append(granule)
        if self._row_error is not None:
            return  # the tile already failed: its remaining rows are not decoded
        try:
            self._rows.append(records.kernel_row(named))
        except Exception as exc:  # one bad row fails its tile, not the job (unless fail-fast)
            if self._fail_fast:
                raise
            self._row_error, self._rows = exc, []

    def _start(self, method, params):
        """The first row: read the constant method and params (and the on-error policy)."""
        pipeline, records, errors = self._kernel
        self._method = method
        self._params_text = params
        try:
            given = json.loads(params or "{}")
            policy = given.pop(records.ON_ERROR_PARAM, "row")
            if policy not in records.ON_ERROR_CHOICES:
                raise ValueError("{} must be one of {}, not {!r}".format(
                    records.ON_ERROR_PARAM, ", ".join(records.ON_ERROR_CHOICES), policy))
            self._params = pipeline.merged_params(given)
        except (ValueError, AttributeError) as exc:
            raise errors.GmiInputError("gmi_udtf: params argument is not valid ({})".format(exc)) from None
        self._fail_fast = policy == "fail"

    def _flush(self):
        """Run the kernel on the buffered tile and forward its result rows (or its error row)."""
        if not self._granules:
            return
        pipeline, records, _ = self._kernel
        start = time.monotonic()
        rows, granules, error = self._rows, self._granules, self._row_error
        self._rows, self._granules, self._row_error = [], [], None
        digest, outputs = None, []
        if error is None:
            try:
                digest = pipeline.inputs_digest(rows, self._method, self._params)
                # every cell is made (and checked against 8 MiB) before the first is forwarded
                outputs = [records.result_cells(r, digest) for r in pipeline.run(self._method, rows, self._params)]
            except Exception as exc:  # the tile fails, the job goes on (unless fail-fast)
                if self._fail_fast:
                    raise
                error = exc
        if error is not None:
            outputs = [records.error_cells(self._key[0], self._key[1], self._method, error, granules, digest)]
            self.failed += 1
        for cells in outputs:
            records.check_cell_sizes(cells)  # no cell over 8 MiB ever reaches forward()
            self.forward(*records.ordered(cells))
            self.forwarded += 1
        self._done.add(self._key)
        self.tiles += 1
        print("gmi_udtf: tile {},{} {}: {} granule(s) -> {} in {:.1f} s".format(
            self._key[0], self._key[1], self._method, len(granules),
            "{} outputs".format(len(outputs)) if error is None else "FAILED ({}: {})".format(
                type(error).__name__, str(error)[:300]),
            time.monotonic() - start), file=sys.stderr, flush=True)

    def close(self):
        """End of this instance's input: run the last tile."""
        if self._kernel is not None:
            self._flush()
