"""The plugin's door to the MaxCompute (ODPS) backend, :mod:`gmi_engine.backends.odps`.

The backend is optional: without it (or without pyodps) :func:`odps_status` says why, the Run
dialog shows that text and a run on ODPS fails with :class:`OdpsUnavailable` before anything
starts. A run is the engine's :func:`~gmi_engine.backends.odps.run_odps` (what ``gmi run
--backend odps`` does: upload if changed, check, submit, record, poll with cancel, download into
the local workspace, from where the results are exported like a local run's); the workspace's
``odps_state.json`` is the command line's, so ``gmi odps status|cancel|download --workspace``
also find plugin runs.

Credentials arrive as an :class:`~gmi_qgis_plugin.toolbelt.credentials.OdpsCredentials` read
from the QGIS auth database just before the run; they live only in the backend's in-memory
config for the length of the run and are never logged.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from gmi_engine.progress import Cancelled, Progress
from gmi_qgis_plugin.errors import GmiPluginError

if TYPE_CHECKING:
    from gmi_engine.backends.odps import OdpsRunReport, SmokeReport

POLL_SECONDS = 5.0


class OdpsUnavailable(GmiPluginError, RuntimeError):
    """The MaxCompute backend cannot be used in this installation."""


def _backend() -> Any:
    try:
        import odps  # noqa: F401  (pyodps: only its presence is checked here)

        from gmi_engine.backends import odps as backend
    except ImportError as exc:
        raise OdpsUnavailable("MaxCompute backend not available in this installation ({}). Install pyodps "
                              "in the Python that runs QGIS, or run locally.".format(exc)) from None
    return backend


def odps_status() -> Tuple[bool, str]:
    """(available, human-readable reason when not)."""
    try:
        _backend()
    except OdpsUnavailable as exc:
        return False, str(exc)
    return True, ""


def _connected(credentials: Any, project: str, endpoint: str) -> Tuple[Any, Any]:
    """(the engine's odps package, an OdpsBackend with these credentials)."""
    if not project or not endpoint:
        raise OdpsUnavailable("MaxCompute project and endpoint must both be set")
    if credentials is None:
        raise OdpsUnavailable("no MaxCompute credentials were given")
    odps = _backend()
    return odps, odps.OdpsBackend(odps.OdpsConfig(project=project, endpoint=endpoint,
                                                  access_id=credentials.access_id, secret=credentials.secret))


def run_on_odps(workspace: str, method: str, params: Dict[str, Any], tiles: Optional[List[Any]],
                credentials: Any, project: str, endpoint: str, progress: Progress,
                cancelled: Cancelled, on_logview: Callable[[str], None],
                poll_seconds: Optional[float] = None) -> OdpsRunReport:
    """Run ``method`` on MaxCompute with the auth database's credentials (the engine's ``run_odps``).

    ``progress(fraction, text)`` covers the whole MaxCompute part; the job's state is polled
    every ``poll_seconds`` at most (default :data:`POLL_SECONDS`). Tiles the kernel failed on
    are the report's ``failed_tiles`` (the other tiles are stored).
    """
    odps, backend = _connected(credentials, project, endpoint)
    return odps.run_odps(backend, workspace, method, params, tiles,
                         poll_seconds=POLL_SECONDS if poll_seconds is None else poll_seconds,
                         progress=progress, cancelled=cancelled, on_logview=on_logview)


def smoke_on_odps(workspace: str, tile: Any, method: str, credentials: Any, project: str, endpoint: str,
                  progress: Progress, cancelled: Cancelled, poll_seconds: Optional[float] = None) -> SmokeReport:
    """The engine's ``smoke_check``: one tile on MaxCompute, compared cell by cell with the local kernel."""
    odps, backend = _connected(credentials, project, endpoint)
    return odps.smoke_check(backend, workspace, tile=tile, method=method, progress=progress, cancelled=cancelled,
                            poll_seconds=POLL_SECONDS if poll_seconds is None else poll_seconds)


def failed_tiles_text(failures: List[Any]) -> str:
    """The lines a user sees for tiles that failed on MaxCompute (empty when none)."""
    if not failures:
        return ""
    return _backend().failures_text(failures)
