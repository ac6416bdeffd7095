"""The GMI mineral-index library (``kernel/data/library.json``) and its safe formula checker.

The evaluation code is in :mod:`gmi_engine.kernel` (it also runs inside MaxCompute); this
package is the public entry point::

    from gmi_engine.indices import compute_indices, default_library, user_index
    rasters = compute_indices(bands)              # id -> float32 array, NaN nodata
    library = default_library().with_index(user_index("opaque", "b1 / b4"))
"""
import os

from gmi_engine import kernel
from gmi_engine.indices.user import (  # noqa: F401  (re-exported)
    DEFAULT_RAMP,
    DEFAULT_STRETCH,
    ReferenceRow,
    read_mineral_indices_csv,
    user_index,
)
from gmi_engine.kernel.formula import (  # noqa: F401  (re-exported)
    BANDS,
    SWIR_BANDS,
    TINY_DENOMINATOR,
    VNIR_BANDS,
    Formula,
    compile_formula,
)
from gmi_engine.kernel.indices import (  # noqa: F401  (re-exported)
    IndexDefinition,
    IndexLibrary,
    compute_indices,
    default_library,
    load_library,
    make_definition,
    parse_library,
)
from gmi_engine.kernel.program import Program, compile_program  # noqa: F401  (re-exported)

#: The packaged library file (for tools that want the path; the kernel reads it with pkgutil).
LIBRARY_PATH = os.path.join(os.path.dirname(os.path.abspath(kernel.__file__)), "data", "library.json")

#: Colour ramps of QGIS's default style (3.22), the names a library entry's ``ramp`` may use.
QGIS_COLOR_RAMPS = (
    "Blues", "BrBG", "BuGn", "BuPu", "Cividis", "GnBu", "Greens", "Greys", "Inferno", "Magma",
    "Mako", "OrRd", "Oranges", "PRGn", "PiYG", "Plasma", "PuBu", "PuBuGn", "PuOr", "PuRd",
    "Purples", "RdBu", "RdGy", "RdPu", "RdYlBu", "RdYlGn", "Reds", "Rocket", "Spectral", "Turbo",
    "Viridis", "YlGn", "YlGnBu", "YlOrBr", "YlOrRd",
)
