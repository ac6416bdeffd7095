"""The GMI exception hierarchy.

One root, :class:`GmiError`; every narrow subclass also inherits the builtin that a caller
would naturally catch (``ValueError`` for bad input, ``OSError`` for unreadable files). It lives
in the kernel because the kernel may import nothing of the project outside itself.
"""


class GmiError(Exception):
    """Root of every error GMI raises on purpose."""


class GmiInputError(GmiError, ValueError):
    """A value given to GMI is out of range or malformed."""


class GmiFileError(GmiError, OSError):
    """A file cannot be opened or read as the product it should be."""


class NotAsterL1TError(GmiFileError):
    """The file opens but is not an ASTER L1T granule."""


class MissingMetadataError(GmiError, ValueError):
    """A granule lacks a metadata key GMI needs; names the file and the key."""

    def __init__(self, path, key, detail=""):
        self.path = str(path)
        self.key = key
        msg = "{}: metadata key {!r} is missing".format(self.path, key)
        if detail:
            msg += " ({})".format(detail)
        super(MissingMetadataError, self).__init__(msg)


class MetadataValueError(GmiError, ValueError):
    """A metadata key exists but its value cannot be parsed; names the file, key and value."""

    def __init__(self, path, key, value, expected):
        self.path = str(path)
        self.key = key
        self.value = value
        super(MetadataValueError, self).__init__(
            "{}: metadata key {!r} = {!r} is not {}".format(self.path, key, value, expected))


class FormulaError(GmiInputError):
    """An index formula is not allowed or cannot be parsed."""


class IndexLibraryError(GmiInputError):
    """An index-library file or entry is malformed; names the file, the index and the field."""


class BlobError(GmiInputError):
    """A blob cannot be encoded or decoded (wrong size, dtype, or over the cell limit)."""


class CellTooLargeError(BlobError):
    """A table cell would exceed the 8 MB MaxCompute limit."""


class SchemaError(GmiInputError):
    """A table row does not match the source/result schema."""


class BackendError(GmiError, RuntimeError):
    """A backend (local pool or MaxCompute) failed to run a job."""


class SixSError(GmiError, RuntimeError):
    """A 6S run failed or its output could not be read; carries the tail of 6S's stderr."""


class LutChecksumError(GmiFileError):
    """A 6S LUT file's stored checksum does not match its content."""


class OutsideEnvelopeError(GmiInputError):
    """A 6S state lies outside the envelope a LUT was built for; names the field and range."""
