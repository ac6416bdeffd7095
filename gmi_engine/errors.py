"""Public exception hierarchy (defined in the kernel so the UDTF can raise the same types)."""
from gmi_engine.kernel.errors import (  # noqa: F401  (re-exported)
    BackendError,
    BlobError,
    CellTooLargeError,
    FormulaError,
    GmiError,
    GmiFileError,
    GmiInputError,
    IndexLibraryError,
    LutChecksumError,
    MetadataValueError,
    MissingMetadataError,
    NotAsterL1TError,
    OutsideEnvelopeError,
    SchemaError,
    SixSError,
)
