"""Errors of the acquire package (all :class:`~gmi_engine.errors.GmiError`)."""
from __future__ import annotations

from gmi_engine.errors import GmiError, GmiFileError


class EarthdataLoginError(GmiError, PermissionError):
    """Earthdata Login refused the credentials, or none were found (the message never holds a secret)."""


class SearchError(GmiError, RuntimeError):
    """CMR answered a search with an error."""


class DownloadError(GmiFileError):
    """A file could not be downloaded completely (HTTP error, dropped too often)."""


class DownloadCheckError(DownloadError):
    """A downloaded file has the wrong size or checksum; it was deleted."""
