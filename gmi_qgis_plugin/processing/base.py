"""What every GMI Processing algorithm shares: identity, help, translation, errors, parameter blocks.

An algorithm subclasses :class:`GmiAlgorithm` (plus the parameter-block mixins it needs), sets
``NAME`` (the stable snake_case id) and ``GROUP_ID``, and implements ``displayName``,
``initAlgorithm`` and ``processAlgorithm``. Help is data: ``resources/help/<NAME>.md``.
Settings only supply parameter defaults; every input is a parameter.
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterAuthConfig,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingUtils,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from gmi_engine.atmosphere.state import AEROSOL_MODELS
from gmi_engine.kernel.pipeline import METHODS
from gmi_qgis_plugin.__about__ import __icon_path__, __uri_repository__, plugin_path
from gmi_qgis_plugin.errors import GmiPluginError

GROUP_PIPELINE = "pipeline"
GROUP_ANALYSIS = "analysis"


_TILE_SPLIT = re.compile(r"[;\s]+")


class Cancelled(GmiPluginError):
    """Raised from an engine progress callback to stop between tiles when the user cancels."""


# ----------------------------------------------------------------------------------------- help


def _inline(text: str) -> str:
    """Escape, then `code` (kept verbatim), **bold** and *italic* outside code spans."""
    parts = re.split(r"`([^`]+)`", text)
    out = []
    for i, part in enumerate(parts):
        part = html.escape(part, quote=False)
        if i % 2:
            out.append(f"<code>{part}</code>")
            continue
        part = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", part)
        out.append(re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<i>\1</i>", part))
    return "".join(out)


def markdown_to_html(text: str) -> str:
    """The small Markdown subset of the help files (headings, lists, paragraphs, code, bold)."""
    out: List[str] = []
    paragraph: List[str] = []
    in_list = False

    def flush() -> None:
        nonlocal in_list
        if paragraph:
            out.append("<p>{}</p>".format(_inline(" ".join(paragraph))))
            paragraph.clear()
        if in_list:
            out.append("</ul>")
            in_list = False

    for raw in text.splitlines():
        line = raw.strip()
        heading = re.match(r"(#{1,6})\s+(.*)", line)
        item = re.match(r"[-*]\s+(.*)", line)
        if not line:
            flush()
        elif heading:
            flush()
            level = min(len(heading.group(1)) + 1, 6)
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item:
            if paragraph:
                out.append("<p>{}</p>".format(_inline(" ".join(paragraph))))
                paragraph.clear()
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{_inline(item.group(1))}</li>")
        elif in_list and raw.startswith((" ", "\t")):
            out[-1] = out[-1][:-len("</li>")] + " " + _inline(line) + "</li>"
        else:
            if in_list:
                out.append("</ul>")
                in_list = False
            paragraph.append(line)
    flush()
    return "\n".join(out)


def help_path(name: str) -> Path:
    """``resources/help/<name>.md``."""
    return plugin_path("resources", "help", name + ".md")


def help_html(name: str) -> str:
    """The help of algorithm ``name`` as the HTML the Processing dialog shows ('' if missing)."""
    path = help_path(name)
    if not path.is_file():
        return ""
    return markdown_to_html(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------- errors


@contextmanager
def engine_errors(what: str) -> Iterator[None]:
    """Turn the engine's errors (GmiError, OSError) into QgsProcessingException with their text."""
    from gmi_engine.errors import GmiError

    try:
        yield
    except (QgsProcessingException, Cancelled):
        raise
    except (GmiError, OSError) as exc:
        raise QgsProcessingException(f"{what}: {exc}") from exc


def parse_tiles(text: Optional[str], parameter: str = "TILES") -> Optional[list]:
    """Tiles from ``'260,526; 261,526'`` or tile keys (``;``/space/newline separated); None if empty."""
    from gmi_engine.errors import GmiError
    from gmi_engine.grid import tile_index

    items = [t for t in _TILE_SPLIT.split(text or "") if t]
    if not items:
        return None
    tiles = []
    for item in items:
        try:
            tiles.append(tile_index(item))
        except GmiError as exc:
            raise QgsProcessingException(
                f"{parameter}: {item!r} is not IX,IY (e.g. 260,526) or a tile key ({exc})"
            ) from None
    return list(dict.fromkeys(tiles))


def tile_keys(tiles: Sequence[Any]) -> str:
    """Tile keys joined by ``;`` (the format TILES parameters accept)."""
    from gmi_engine.grid import DEFAULT_GRID

    return ";".join(DEFAULT_GRID.key(t) for t in tiles)


def load_on_completion(context: QgsProcessingContext, path: Any, name: str, output_name: str) -> None:
    """Queue a raster file for loading when the algorithm (or its parent) completes.

    The ``.qml`` beside the file is its default style, so the layer arrives styled.
    """
    details = QgsProcessingContext.LayerDetails(name, context.project(), output_name,
                                                QgsProcessingUtils.LayerHint.Raster)
    context.addLayerToLoadOnCompletion(str(path), details)


def plugin_settings() -> Any:
    """The plugin's typed settings (defaults for parameters only)."""
    from gmi_qgis_plugin.toolbelt.preferences import PlgOptionsManager

    return PlgOptionsManager.get_plg_settings()


# ------------------------------------------------------------------------------------ algorithm


class GmiAlgorithm(QgsProcessingAlgorithm):
    """Base of the ``gmi`` algorithms: id, group, help and translation plumbing."""

    NAME = ""
    GROUP_ID = GROUP_PIPELINE

    def name(self) -> str:
        """The stable id (``gmi:<name>``); never translated."""
        return self.NAME

    def groupId(self) -> str:
        """Stable group id."""
        return self.GROUP_ID

    def group(self) -> str:
        """Translated group name."""
        if self.GROUP_ID == GROUP_ANALYSIS:
            return QCoreApplication.translate("GmiAlgorithm", "Analysis")
        return QCoreApplication.translate("GmiAlgorithm", "Pipeline")

    def tr(self, text: str) -> str:
        """``text`` translated in this class's context (pylupdate files ``self.tr`` under the class name)."""
        return QCoreApplication.translate(type(self).__name__, text)

    def shortHelpString(self) -> str:
        """The help page ``resources/help/<name>.md``, as HTML."""
        return help_html(self.NAME)

    def helpUrl(self) -> str:
        """The help page in the repository."""
        return f"{__uri_repository__}/blob/main/resources/help/{self.NAME}.md"

    def icon(self) -> QIcon:
        """The plugin icon."""
        return QIcon(str(__icon_path__))

    def createInstance(self) -> GmiAlgorithm:
        """A fresh instance (Processing calls this before every run)."""
        return type(self)()

    # -- helpers for subclasses ---------------------------------------------------------------
    def add_advanced(self, parameter: QgsProcessingParameterDefinition, help_text: str) -> None:
        """Add an expert parameter, collapsed under "Advanced parameters"."""
        parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        parameter.setHelp(help_text)
        self.addParameter(parameter)

    def enum_parameter(self, name: str, description: str, options: Sequence[str], default: Any,
                       optional: bool = False, multiple: bool = False) -> QgsProcessingParameterEnum:
        """An enum whose values are its option strings (stable in models and on the command line)."""
        parameter = QgsProcessingParameterEnum(name, description, list(options), multiple, default, optional)
        parameter.setUsesStaticStrings(True)
        return parameter

    def enum_value(self, parameters: Dict[str, Any], name: str, context: QgsProcessingContext) -> str:
        """The chosen option string of a static-string enum."""
        return self.parameterAsEnumString(parameters, name, context)

    def files(self, parameters: Dict[str, Any], name: str, context: QgsProcessingContext,
              patterns: Sequence[str]) -> List[Path]:
        """Files of a multiple-file parameter; a folder given stands for its files matching ``patterns``."""
        from gmi_engine.paths import expand

        items = [str(i) for i in self.parameterAsFileList(parameters, name, context) or [] if i]
        with engine_errors(name):
            return expand(items, tuple(patterns))

    def tiles(self, parameters: Dict[str, Any], name: str, context: QgsProcessingContext) -> Optional[list]:
        """Tiles of a tile-list string parameter (None when empty: all tiles)."""
        return parse_tiles(self.parameterAsString(parameters, name, context), name)

    def add_export_folder(self, name: str = "OUTPUT") -> None:
        """The export folder destination (default: the plugin's export folder setting)."""
        tr = translator("GmiAlgorithm")
        self.addParameter(QgsProcessingParameterFolderDestination(
            name, tr("Export folder"), defaultValue=str(plugin_settings().export_dir)))

    @staticmethod
    def progress_to(feedback: QgsProcessingFeedback) -> Callable[[float, str], None]:
        """An engine progress callback (fraction, text) that drives ``feedback``'s bar and text."""
        def progress(fraction: float, text: str) -> None:
            feedback.setProgress(100.0 * fraction)
            feedback.setProgressText(text)

        return progress


def translator(context: str) -> Callable[[str], str]:
    """``tr`` for a parameter block: translates in the block's own class context.

    pylupdate files a ``tr("...")`` call under the class it appears in; ``self.tr`` would look
    the text up under the algorithm's class instead, so the blocks bind ``tr`` to their name.
    """
    return lambda text: QCoreApplication.translate(context, text)


class GranuleParameters:
    """Parameter block: AST_L1T granules (several files or folders)."""

    GRANULES = "GRANULES"

    def add_granules(self, optional: bool = False) -> None:
        """Add the GRANULES parameter."""
        tr = translator("GranuleParameters")
        parameter = QgsProcessingParameterMultipleLayers(
            self.GRANULES, tr("ASTER L1T granules (.hdf files or folders)"), QgsProcessing.TypeFile,
            optional=optional)
        parameter.setHelp(tr("AST_L1T HDF-EOS files; a folder stands for every *.hdf in it."))
        self.addParameter(parameter)

    def granule_files(self, parameters: Dict[str, Any], context: QgsProcessingContext) -> List[Path]:
        """The granule files (folders expanded)."""
        return self.files(parameters, self.GRANULES, context, ("*.hdf",))


class AncillaryParameters:
    """Parameter block: MCD19A2 (AOD, water vapour), GDEM (altitude), MOD09A1 (balancing reference)."""

    MCD19A2 = "MCD19A2"
    GDEM = "GDEM"
    MOD09A1 = "MOD09A1"
    OZONE = "OZONE"
    AEROSOL_MODEL = "AEROSOL_MODEL"
    PROCESSES = "PROCESSES"
    SIXS_LUT = "SIXS_LUT"

    def add_ancillary(self, modis_reference: bool = True) -> None:
        """Add the optional ancillary file lists and the advanced 6S options."""
        tr = translator("AncillaryParameters")
        blocks = [(self.MCD19A2, tr("MCD19A2 files (aerosol optical depth, water vapour)"),
                   tr("Daily MAIAC files; the granule's acquisition day is used. Without them the "
                      "documented default AOD and water vapour apply.")),
                  (self.GDEM, tr("ASTER GDEM tiles (*_dem.tif)"),
                   tr("Target altitude for 6S; sea level without them."))]
        if modis_reference:
            blocks.append((self.MOD09A1, tr("MOD09A1 files (colour-balancing reference)"),
                           tr("8-day surface reflectance sampled onto each tile at 256 x 256 px.")))
        for name, description, help_text in blocks:
            parameter = QgsProcessingParameterMultipleLayers(name, description, QgsProcessing.TypeFile,
                                                             optional=True)
            parameter.setHelp(help_text)
            self.addParameter(parameter)
        self.add_advanced(QgsProcessingParameterNumber(
            self.OZONE, tr("Total ozone (cm-atm; empty = climatology)"), QgsProcessingParameterNumber.Double,
            None, True, 0.0, 1.0),
            tr("Ozone column for 6S. Empty: the zonal-mean climatology by latitude and day of year "
               "(docs/atmosphere.md), recorded as a default in each tile's provenance."))
        self.add_advanced(self.enum_parameter(
            self.AEROSOL_MODEL, tr("6S aerosol model"), AEROSOL_MODELS, AEROSOL_MODELS[0]),
            tr("6S predefined aerosol type."))
        self.add_advanced(QgsProcessingParameterNumber(
            self.PROCESSES, tr("6S processes"), QgsProcessingParameterNumber.Integer, 2, False, 1, 32),
            tr("How many 6S runs go at once (threads driving 6S executables)."))
        self.add_advanced(QgsProcessingParameterFile(
            self.SIXS_LUT, tr("6S lookup table (empty = direct 6S runs)"), optional=True),
            tr("A GMI 6S LUT file: xa/xb/xc are interpolated; states outside its envelope fall "
               "back to direct 6S runs (recorded in the row)."))

    def optional_ozone(self, parameters: Dict[str, Any], context: QgsProcessingContext) -> Optional[float]:
        """The OZONE value, or None (the climatology) when it is left empty."""
        value = parameters.get(self.OZONE)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return self.parameterAsDouble(parameters, self.OZONE, context)

    def ingest_options(self, parameters: Dict[str, Any], context: QgsProcessingContext,
                       tiles: Optional[list] = None) -> Any:
        """The engine's IngestOptions from the ancillary parameters."""
        from gmi_engine.ancillary.discovery import GDEM_PATTERNS, MCD19A2_PATTERNS, MOD09A1_FOLDER_PATTERNS
        from gmi_engine.ingest import IngestOptions

        modis = (self.files(parameters, self.MOD09A1, context, MOD09A1_FOLDER_PATTERNS)
                 if self.parameterDefinition(self.MOD09A1) is not None else [])
        lut = self.parameterAsFile(parameters, self.SIXS_LUT, context)
        return IngestOptions(
            mcd19a2=self.files(parameters, self.MCD19A2, context, MCD19A2_PATTERNS),
            gdem=self.files(parameters, self.GDEM, context, GDEM_PATTERNS),
            modis_ref=modis, tiles=tiles,
            ozone=self.optional_ozone(parameters, context),
            aerosol_model=self.enum_value(parameters, self.AEROSOL_MODEL, context),
            processes=self.parameterAsInt(parameters, self.PROCESSES, context),
            lut=Path(lut) if lut else None)


class WorkspaceParameters:
    """Parameter block: an existing WORKSPACE folder and the compute METHOD (run, export, smoke check)."""

    WORKSPACE = "WORKSPACE"
    METHOD = "METHOD"

    def add_workspace_and_method(self, workspace: str, description: str = "",
                                 methods: Sequence[str] = METHODS, default: str = "mineral_indices") -> None:
        """Add WORKSPACE (default ``workspace``; ``description`` replaces the label) and METHOD."""
        tr = translator("WorkspaceParameters")
        self.addParameter(QgsProcessingParameterFile(
            self.WORKSPACE, description or tr("Workspace folder"), behavior=QgsProcessingParameterFile.Folder,
            defaultValue=workspace))
        self.addParameter(self.enum_parameter(self.METHOD, tr("Method"), methods, default))


class OdpsParameters:
    """Parameter block: the MaxCompute project, endpoint and AccessKey (a QGIS auth config).

    :meth:`read_odps_credentials` runs in ``prepareAlgorithm`` (the auth database wants the main
    thread) and keeps a failure; :meth:`odps_connection` raises it in ``processAlgorithm``.
    """

    ODPS_PROJECT = "ODPS_PROJECT"
    ODPS_ENDPOINT = "ODPS_ENDPOINT"
    ODPS_AUTH = "ODPS_AUTH"

    def add_odps(self, optional: bool = False) -> None:
        """Add the three parameters: required, or optional and advanced (for a backend choice)."""
        tr = translator("OdpsParameters")
        settings = plugin_settings()
        blocks = (
            (QgsProcessingParameterString(self.ODPS_PROJECT, tr("MaxCompute project"), settings.odps_project,
                                          optional=optional),
             tr("ODPS backend only.")),
            (QgsProcessingParameterString(self.ODPS_ENDPOINT, tr("MaxCompute endpoint"), settings.odps_endpoint,
                                          optional=optional),
             tr("ODPS backend only, e.g. https://service.cn-shanghai.maxcompute.aliyun.com/api")),
            (QgsProcessingParameterAuthConfig(self.ODPS_AUTH, tr("MaxCompute credentials (QGIS auth config)"),
                                              settings.odps_auth_id or None, optional=optional),
             tr("A Basic auth config: user name = AccessKey ID, password = AccessKey secret.")),
        )
        for parameter, help_text in blocks:
            if optional:
                self.add_advanced(parameter, help_text)
            else:
                self.addParameter(parameter)

    def read_odps_credentials(self, parameters: Dict[str, Any], context: QgsProcessingContext) -> None:
        """Read the AccessKey of ODPS_AUTH (main thread); a failure is kept for :meth:`odps_connection`."""
        from gmi_qgis_plugin.toolbelt.credentials import CredentialsError, read_odps_credentials

        self._credentials, self._credentials_error = None, ""
        try:
            self._credentials = read_odps_credentials(self.parameterAsString(parameters, self.ODPS_AUTH, context))
        except CredentialsError as exc:
            self._credentials_error = f"ODPS_AUTH: {exc}"

    def odps_connection(self, parameters: Dict[str, Any], context: QgsProcessingContext) -> tuple:
        """(credentials, project, endpoint) for the MaxCompute bridge; raises a credentials failure."""
        if getattr(self, "_credentials_error", ""):
            raise QgsProcessingException(self._credentials_error)
        return (getattr(self, "_credentials", None),
                self.parameterAsString(parameters, self.ODPS_PROJECT, context).strip(),
                self.parameterAsString(parameters, self.ODPS_ENDPOINT, context).strip())

    def forget_odps_credentials(self) -> None:
        """Drop the AccessKey (it lives no longer than the run)."""
        self._credentials = None


class TilesParameter:
    """Parameter block: an optional tile subset."""

    TILES = "TILES"

    def add_tiles(self, description: str = "") -> None:
        """Add the TILES string parameter (``description`` replaces the default label)."""
        tr = translator("TilesParameter")
        parameter = QgsProcessingParameterString(
            self.TILES, description or tr("Tiles (IX,IY or tile keys; empty = all)"),
            optional=True, multiLine=False)
        parameter.setHelp(tr("Separate tiles with ';' or spaces, e.g. '260,526; 260,525' or "
                             "'res-30_tilesize-1024_x-260_y-526'."))
        self.addParameter(parameter)
