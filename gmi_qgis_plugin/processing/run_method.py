"""``gmi:run_method``: compute mosaic / color_balancing / mineral_indices over a workspace's tiles."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFolder,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from gmi_engine.kernel.balance import BALANCE_METHODS
from gmi_qgis_plugin.processing.base import (
    GmiAlgorithm,
    OdpsParameters,
    TilesParameter,
    WorkspaceParameters,
    engine_errors,
    plugin_settings,
    tile_keys,
    translator,
)
from gmi_qgis_plugin.toolbelt.run_options import DEFAULT_BALANCE_METHOD, mixed_provenance_help

BACKENDS = ("local", "odps", "dask")
STRATEGIES = ("best-pixel", "first-valid", "median")


def index_ids() -> tuple:
    """Ids of the packaged index library, in library order."""
    from gmi_engine.indices import default_library

    return default_library().ids


class MethodOptionParameters:
    """Parameter block: the indices to compute and the mosaic strategy (run_method, granules_to_indices)."""

    INDICES = "INDICES"
    STRATEGY = "STRATEGY"
    ALLOW_MIXED_PROVENANCE = "ALLOW_MIXED_PROVENANCE"

    def add_indices_and_strategy(self, indices_description: str) -> None:
        """Add INDICES (several of the packaged library; none = all), STRATEGY and, advanced,
        ALLOW_MIXED_PROVENANCE (default false, the kernel's: never the Run dialog's last choice, so
        a script or model that leaves it out always computes the same results)."""
        tr = translator("MethodOptionParameters")
        self.addParameter(self.enum_parameter(self.INDICES, indices_description, index_ids(), None,
                                              optional=True, multiple=True))
        self.addParameter(self.enum_parameter(self.STRATEGY, tr("Mosaic strategy"), STRATEGIES, STRATEGIES[0]))
        self.add_advanced(QgsProcessingParameterBoolean(
            self.ALLOW_MIXED_PROVENANCE, tr("Compute VNIR+SWIR indices where the mosaic mixes granules"),
            False),
            mixed_provenance_help())

    def mosaic_params(self, parameters: Dict[str, Any], context: QgsProcessingContext) -> Dict[str, Any]:
        """``{"mosaic": {"allow_mixed_provenance": True}}`` when ticked, else nothing (the kernel's
        default false, so an untouched run keeps the parameters and up-to-date digest of earlier runs)."""
        if self.parameterAsBool(parameters, self.ALLOW_MIXED_PROVENANCE, context):
            return {"mosaic": {"allow_mixed_provenance": True}}
        return {}

    def chosen_indices(self, parameters: Dict[str, Any], context: QgsProcessingContext) -> List[str]:
        """The ticked index ids (empty: all)."""
        return [i for i in self.parameterAsEnumStrings(parameters, self.INDICES, context) if i]


class RunMethod(WorkspaceParameters, MethodOptionParameters, OdpsParameters, TilesParameter, GmiAlgorithm):
    """Run a compute method on every (or some) tile of a workspace; resumable."""

    NAME = "run_method"
    BALANCE = "BALANCE"
    BALANCE_METHOD = "BALANCE_METHOD"
    BACKEND = "BACKEND"
    WORKERS = "WORKERS"
    FORCE = "FORCE"
    DASK_SCHEDULER = "DASK_SCHEDULER"
    COMPUTED = "COMPUTED"
    SKIPPED = "SKIPPED"
    TILES_DONE = "TILES_DONE"
    LOGVIEW = "LOGVIEW"

    def displayName(self) -> str:
        """Translated name."""
        return self.tr("Run method (mosaic, colour balancing, mineral indices)")

    def initAlgorithm(self, config: Any = None) -> None:
        """Workspace, method and its options, backend -> computed/skipped counts."""
        settings = plugin_settings()
        self.add_workspace_and_method(settings.workspace)
        self.add_indices_and_strategy(self.tr("Indices (mineral_indices; none = all)"))
        self.addParameter(self.enum_parameter(self.BACKEND, self.tr("Backend"), BACKENDS,
                                              settings.default_backend))
        workers = QgsProcessingParameterNumber(
            self.WORKERS, self.tr("Worker processes (local backend; dask LocalCluster)"),
            QgsProcessingParameterNumber.Integer, 1, False, 1, 64)
        workers.setHelp(self.tr("local: 1 computes inside QGIS; more starts a process pool (fast, but QGIS "
                                "must be able to spawn Python processes). dask without a scheduler: the "
                                "worker processes of a LocalCluster started for the run."))
        self.addParameter(workers)
        self.add_tiles()
        # The balancing defaults are the kernel's, not the Run dialog's last choice (results of a
        # script or model must not depend on what a dialog was last used with).
        self.add_advanced(QgsProcessingParameterBoolean(
            self.BALANCE, self.tr("Colour-balance before the indices"), True),
            self.tr("mineral_indices on the balanced mosaic (on the plain mosaic when off: the method "
                    "'none' of the help)."))
        self.add_advanced(self.enum_parameter(
            self.BALANCE_METHOD, self.tr("Colour-balancing method"), BALANCE_METHODS, DEFAULT_BALANCE_METHOD),
            self.tr("shape (default): one regional gain per spectral group, keeps the index anomalies; "
                    "tasseled_cap: the reference engine's brightness transfer (keeps ratios, not "
                    "reflectance); block: per-band ~7.7 km block gains (can flatten local anomalies). "
                    "The help's 'Colour-balancing methods' says when to use which."))
        self.add_advanced(QgsProcessingParameterBoolean(
            self.FORCE, self.tr("Recompute tiles that are up to date"), False),
            self.tr("A rerun normally skips tiles whose inputs and parameters did not change."))
        self.add_odps(optional=True)
        self.add_advanced(QgsProcessingParameterString(
            self.DASK_SCHEDULER, self.tr("Dask scheduler address"), "", optional=True),
            self.tr("Dask backend only, e.g. tcp://10.0.0.5:8786; empty starts a LocalCluster of WORKERS "
                    "processes. The workspace stays here; the workers get each tile's rows."))
        self.addOutput(QgsProcessingOutputFolder(self.WORKSPACE, self.tr("Workspace folder")))
        self.addOutput(QgsProcessingOutputString(self.METHOD, self.tr("Method")))
        self.addOutput(QgsProcessingOutputNumber(self.COMPUTED, self.tr("Tiles computed")))
        self.addOutput(QgsProcessingOutputNumber(self.SKIPPED, self.tr("Tiles up to date (skipped)")))
        self.addOutput(QgsProcessingOutputString(self.TILES_DONE, self.tr("Tiles computed or up to date")))
        self.addOutput(QgsProcessingOutputString(self.LOGVIEW, self.tr("MaxCompute Logview link (ODPS)")))

    def params(self, parameters: Dict[str, Any], context: QgsProcessingContext, method: str) -> Dict[str, Any]:
        """The kernel parameters of the run."""
        params: Dict[str, Any] = {"strategy": self.enum_value(parameters, self.STRATEGY, context),
                                  "balance": self.parameterAsBool(parameters, self.BALANCE, context)}
        balance_method = self.enum_value(parameters, self.BALANCE_METHOD, context)
        if balance_method and balance_method != DEFAULT_BALANCE_METHOD:
            params["balancing"] = {"balance_method": balance_method}
        params.update(self.mosaic_params(parameters, context))
        indices = self.chosen_indices(parameters, context)
        if method == "mineral_indices" and indices:
            params["indices"] = list(indices)
        return params

    def prepareAlgorithm(self, parameters: Dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> bool:
        """On the main thread: read the MaxCompute AccessKey from the QGIS auth database (ODPS only).

        A failure is kept and raised by processAlgorithm, so it reaches the caller as the exception.
        """
        self._credentials, self._credentials_error = None, ""
        if self.enum_value(parameters, self.BACKEND, context) == "odps":
            self.read_odps_credentials(parameters, context)
        return True

    def processAlgorithm(self, parameters: Dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        """Run locally or on Dask (cancel is polled between tiles) or on MaxCompute (polled while waiting)."""
        workspace = self.parameterAsFile(parameters, self.WORKSPACE, context)
        method = self.enum_value(parameters, self.METHOD, context)
        params = self.params(parameters, context, method)
        tiles = self.tiles(parameters, self.TILES, context)
        backend = self.enum_value(parameters, self.BACKEND, context)
        if backend == "odps":
            return self.run_odps(parameters, context, feedback, workspace, method, params, tiles)
        from gmi_engine.backends.local_runner import run_local

        def progress(fraction: float, message: str) -> None:
            feedback.setProgress(100.0 * fraction)
            feedback.pushInfo(message)

        workers = self.parameterAsInt(parameters, self.WORKERS, context)
        force = self.parameterAsBool(parameters, self.FORCE, context)
        with engine_errors(self.tr("{} on {}").format(method, workspace)):
            if backend == "dask":
                from gmi_engine.backends.dask import run_dask

                scheduler = self.parameterAsString(parameters, self.DASK_SCHEDULER, context).strip() or None
                report = run_dask(workspace, method, params, scheduler=scheduler,
                                  local_cluster=None if scheduler else workers, tiles=tiles, progress=progress,
                                  cancelled=feedback.isCanceled, force=force)
            else:
                report = run_local(workspace, method, params, workers=workers, tiles=tiles, progress=progress,
                                   cancelled=feedback.isCanceled, force=force)
        if report.cancelled:
            feedback.pushWarning(self.tr("Cancelled: {} tile(s) computed before the stop").format(
                len(report.computed)))
        feedback.pushInfo(self.tr("{}: {} tile(s) computed, {} up to date").format(
            method, len(report.computed), len(report.skipped)))
        return {self.WORKSPACE: workspace, self.METHOD: method, self.COMPUTED: len(report.computed),
                self.SKIPPED: len(report.skipped),
                self.TILES_DONE: tile_keys(sorted(report.computed + report.skipped)), self.LOGVIEW: ""}

    def run_odps(self, parameters: Dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback,
                 workspace: str, method: str, params: Dict[str, Any], tiles: Optional[list]) -> Dict[str, Any]:
        """Upload (once per store content), run the UDTF job, download the result rows into the workspace."""
        from gmi_engine.errors import GmiError
        from gmi_qgis_plugin.toolbelt.odps_bridge import OdpsUnavailable, run_on_odps

        connection = self.odps_connection(parameters, context)
        if self.parameterAsInt(parameters, self.WORKERS, context) != 1:
            feedback.pushInfo(self.tr("WORKERS is ignored on MaxCompute (it sets its own parallelism)"))
        logview: List[str] = []

        def on_logview(url: str) -> None:
            logview.append(url)
            feedback.pushInfo(self.tr("MaxCompute Logview: {}").format(url))

        try:
            report = run_on_odps(workspace, method, params, tiles, *connection, progress=self.progress_to(feedback),
                                 cancelled=feedback.isCanceled, on_logview=on_logview)
        except (OdpsUnavailable, GmiError, OSError) as exc:
            raise QgsProcessingException(self.tr("BACKEND odps: {}").format(exc)) from None
        finally:
            self.forget_odps_credentials()
        if report.cancelled:
            feedback.pushWarning(self.tr("Cancelled: the MaxCompute job was stopped"))
        if report.failed_tiles:
            from gmi_qgis_plugin.toolbelt.odps_bridge import failed_tiles_text

            feedback.pushWarning(failed_tiles_text(report.failed_tiles))
        return {self.WORKSPACE: workspace, self.METHOD: method, self.COMPUTED: report.tiles_computed,
                self.SKIPPED: 0, self.TILES_DONE: "", self.LOGVIEW: report.logview or "".join(logview)}
