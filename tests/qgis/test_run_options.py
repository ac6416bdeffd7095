"""The run options of issue 15 in real QGIS (offscreen): the colour-balancing method and
``allow_mixed_provenance``, from the Run dialog and from Processing to the engine's run parameters.

The engine's entry point ``gmi_engine.backends.local_runner.run_local`` is replaced by a recorder,
so what is checked is exactly the parameters the engine would run with, resolved by the engine's
own parameter code (``merged_params``, the mosaic and balancing parameter readers); the kernel's
handling of the parameter itself is tested in ``tests/unit/test_mosaic_medoid.py``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest
from plugin_support import wait_until
from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback, QgsProject, QgsSettings

from gmi_engine.backends.local_runner import RunReport
from gmi_engine.export.results import ExportReport
from gmi_engine.grid import TileIndex
from gmi_engine.kernel.balance import BALANCE_DEFAULTS, BALANCE_METHODS, balance_params
from gmi_engine.kernel.mosaic import _params as mosaic_params
from gmi_engine.kernel.pipeline import merged_params
from gmi_qgis_plugin.toolbelt.jobs import FINISHED
from gmi_qgis_plugin.toolbelt.preferences import SETTINGS_GROUP, PlgOptionsManager

TILE = TileIndex(260, 526)


@pytest.fixture
def clean_settings():
    """No stored GMI settings before and after the test."""
    QgsSettings().remove(SETTINGS_GROUP)
    yield
    QgsSettings().remove(SETTINGS_GROUP)


@pytest.fixture
def engine_runs(monkeypatch) -> List[Dict[str, Any]]:
    """Every call of the engine's ``run_local``: method and params (nothing is computed)."""
    calls: List[Dict[str, Any]] = []

    def recorder(workspace, method, params=None, **kwargs):
        calls.append({"workspace": str(workspace), "method": method, "params": params})
        report = RunReport(method)
        if kwargs.get("export") is not None:
            report.export = ExportReport(out_dir=Path(kwargs["export"].out_dir), method=method)
        return report

    monkeypatch.setattr("gmi_engine.backends.local_runner.run_local", recorder)
    return calls


def effective(params: Dict[str, Any]) -> Dict[str, Any]:
    """What the engine runs with: ``allow_mixed_provenance``, ``balance`` and ``balance_method``."""
    merged = merged_params(params)
    return {"allow_mixed_provenance": mosaic_params(merged["mosaic"])["allow_mixed_provenance"],
            "balance": merged["balance"],
            "balance_method": balance_params(merged["balancing"])["balance_method"]}


def processing_run(alg_id: str, params: dict) -> dict:
    import processing

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return processing.run("gmi:" + alg_id, params, context=context, feedback=QgsProcessingFeedback())


# ------------------------------------------------------------------------- balancing methods


def test_balance_method_enum_is_the_engines_list_with_shape_the_default(provider, clean_settings, qgis_iface):
    from gmi_qgis_plugin.gui.dlg_run import DlgRun
    from gmi_qgis_plugin.toolbelt.run_options import balance_method_help
    from gmi_qgis_plugin.toolbelt.state import PluginState

    assert BALANCE_DEFAULTS["balance_method"] == "shape"
    alg = QgsApplication.processingRegistry().createAlgorithmById("gmi:run_method")
    enum = alg.parameterDefinition("BALANCE_METHOD")
    assert enum.usesStaticStrings() and enum.options() == list(BALANCE_METHODS)
    assert enum.defaultValue() == "shape" and alg.parameterDefinition("BALANCE").defaultValue() is True
    dialog = DlgRun(PluginState())
    try:
        choices = [dialog.cmb_balance.itemData(i) for i in range(dialog.cmb_balance.count())]
        assert choices == list(BALANCE_METHODS) + ["none"]
        assert dialog.balance == "shape"
        # every choice has its help item (resources/help/run_method.md), as tooltip and in the dialog
        items = balance_method_help()
        assert set(items) == set(choices)
        for i, choice in enumerate(choices):
            assert len(items[choice]) > 150, choice
            assert dialog.cmb_balance.itemData(i, 3) == items[choice]  # Qt.ToolTipRole
        summary = dialog.lbl_balance_help.text()
        assert summary.startswith("shape (the default)") and "Use it for mineral mapping." in summary
        assert dialog.lbl_balance_help.toolTip() == items["shape"]
        assert "docs/kernel.md" in alg.shortHelpString() and "<code>tasseled_cap</code>" in alg.shortHelpString()
    finally:
        dialog.deleteLater()


# --------------------------------------------------------------------- Processing -> engine


@pytest.mark.parametrize("ticked, expected", [(None, False), (False, False), (True, True)])
def test_run_method_passes_allow_mixed_provenance_to_the_engine(provider, clean_settings, engine_runs,
                                                                tmp_path, ticked, expected):
    params = {"WORKSPACE": str(tmp_path), "METHOD": "mineral_indices", "TILES": "260,526"}
    if ticked is not None:
        params["ALLOW_MIXED_PROVENANCE"] = ticked
    processing_run("run_method", params)
    (call,) = engine_runs
    assert call["method"] == "mineral_indices"
    assert effective(call["params"]) == {"allow_mixed_provenance": expected, "balance": True,
                                         "balance_method": "shape"}
    if not expected:  # the default leaves the parameters (and up-to-date digests) of earlier runs alone
        assert "mosaic" not in call["params"]


@pytest.mark.parametrize("method", ["tasseled_cap", "block"])
def test_run_method_passes_the_balance_method(provider, clean_settings, engine_runs, tmp_path, method):
    processing_run("run_method", {"WORKSPACE": str(tmp_path), "METHOD": "mineral_indices",
                                  "BALANCE_METHOD": method})
    assert effective(engine_runs[0]["params"])["balance_method"] == method


@pytest.mark.parametrize("ticked", [False, True])
def test_granules_to_indices_passes_allow_mixed_provenance_to_its_run(provider, clean_settings, engine_runs,
                                                                      tmp_path, monkeypatch, ticked):
    """The chain's run step is the real ``gmi:run_method`` child; ingest and export are stood in for."""
    from gmi_qgis_plugin.processing import granules_to_indices as chain
    from gmi_qgis_plugin.processing.export_results import ExportResults
    from gmi_qgis_plugin.processing.ingest_granules import IngestGranules

    real_run_child = chain.run_child

    def run_child(algorithm, parameters, context, steps):
        if algorithm is IngestGranules:
            return {IngestGranules.WORKSPACE: parameters[IngestGranules.WORKSPACE], IngestGranules.ROWS: 2}
        if algorithm is ExportResults:
            return {ExportResults.OUTPUT: parameters[ExportResults.OUTPUT], ExportResults.LAYERS: []}
        return real_run_child(algorithm, parameters, context, steps)

    monkeypatch.setattr(chain, "run_child", run_child)
    granule = tmp_path / "AST_L1T_00309062006180242_20150516014601_17781.hdf"
    granule.write_bytes(b"")
    processing_run("granules_to_indices", {"GRANULES": [str(granule)], "WORKSPACE": str(tmp_path / "ws"),
                                           "ALLOW_MIXED_PROVENANCE": ticked, "OUTPUT": str(tmp_path / "out")})
    (call,) = engine_runs
    assert call["workspace"] == str(tmp_path / "ws")
    assert effective(call["params"])["allow_mixed_provenance"] is ticked


# --------------------------------------------------------------------- Run dialog -> engine


def _dialog_run(monkeypatch, workspace: Path, method: str = "mineral_indices", **choices: Any):
    """Open the Run dialog on ``workspace`` (one tile there), apply ``choices``, run, wait."""
    from gmi_qgis_plugin.gui import dlg_run
    from gmi_qgis_plugin.toolbelt.state import PluginState

    monkeypatch.setattr(dlg_run, "workspace_tiles", lambda _ws: [TILE])
    dialog = dlg_run.DlgRun(PluginState())
    dialog.state.jobs.auto_load = False
    dialog.wdg_workspace.setFilePath(str(workspace))
    dialog.set_method(method)
    dialog.set_backend("local")
    dialog.spn_workers.setValue(1)
    if "balance" in choices:
        dialog.set_balance(choices["balance"])
    if "mixed" in choices:
        dialog.chk_mixed.setChecked(choices["mixed"])
    job = dialog.run()
    if job is not None:
        wait_until(lambda: job.done, 60, "the recorded job")
        assert job.status == FINISHED, (job.status, job.error)
    return dialog, job


def test_run_dialog_passes_and_remembers_the_options(clean_settings, engine_runs, monkeypatch, tmp_path,
                                                     qgis_iface, provider):
    dialog, _ = _dialog_run(monkeypatch, tmp_path)  # untouched: the defaults
    assert not dialog.chk_mixed.isChecked()
    assert effective(engine_runs[-1]["params"]) == {"allow_mixed_provenance": False, "balance": True,
                                                    "balance_method": "shape"}
    assert engine_runs[-1]["params"] == {}  # nothing beyond the engine's defaults
    dialog.deleteLater()

    dialog, _ = _dialog_run(monkeypatch, tmp_path, balance="tasseled_cap", mixed=True)
    assert effective(engine_runs[-1]["params"]) == {"allow_mixed_provenance": True, "balance": True,
                                                    "balance_method": "tasseled_cap"}
    dialog.deleteLater()
    stored = PlgOptionsManager.get_plg_settings()
    assert (stored.balance_method, stored.allow_mixed_provenance) == ("tasseled_cap", True)

    # the next dialog starts from the remembered choices
    dialog, _ = _dialog_run(monkeypatch, tmp_path, balance="none")
    assert dialog.chk_mixed.isChecked()
    assert effective(engine_runs[-1]["params"]) == {"allow_mixed_provenance": True, "balance": False,
                                                    "balance_method": "shape"}
    dialog.deleteLater()
    # ... but Processing does not: a script or model that leaves a parameter out gets the engine's
    # default, whatever a dialog was last used with (else the same call computes other results)
    alg = QgsApplication.processingRegistry().createAlgorithmById("gmi:run_method")
    assert alg.parameterDefinition("ALLOW_MIXED_PROVENANCE").defaultValue() is False
    assert alg.parameterDefinition("BALANCE").defaultValue() is True
    assert alg.parameterDefinition("BALANCE_METHOD").defaultValue() == BALANCE_DEFAULTS["balance_method"]
    chain = QgsApplication.processingRegistry().createAlgorithmById("gmi:granules_to_indices")
    assert chain.parameterDefinition("ALLOW_MIXED_PROVENANCE").defaultValue() is False
    processing_run("run_method", {"WORKSPACE": str(tmp_path), "METHOD": "mineral_indices", "TILES": "260,526"})
    assert effective(engine_runs[-1]["params"]) == {"allow_mixed_provenance": False, "balance": True,
                                                    "balance_method": "shape"}

    # the mosaic method takes neither option; the balanced mosaic refuses "none"
    dialog, _ = _dialog_run(monkeypatch, tmp_path, method="mosaic")
    assert not dialog.chk_mixed.isEnabled() and not dialog.cmb_balance.isEnabled()
    assert engine_runs[-1]["params"] == {}
    dialog.deleteLater()
    runs = len(engine_runs)
    dialog, job = _dialog_run(monkeypatch, tmp_path, method="color_balancing", balance="none")
    assert job is None and len(engine_runs) == runs and dialog.message_bar.items()
    dialog.deleteLater()


def test_unknown_balance_choice_is_a_gmi_input_error():
    from gmi_engine.errors import GmiInputError
    from gmi_qgis_plugin.toolbelt.run_options import balance_params

    assert balance_params("none") == {"balance": False} and balance_params("shape") == {}
    assert balance_params("block") == {"balancing": {"balance_method": "block"}}
    with pytest.raises(GmiInputError, match="balancing: 'histogram' is not one of shape"):
        balance_params("histogram")
