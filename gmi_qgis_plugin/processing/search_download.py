"""``gmi:search_download``: AST_L1T granules over an extent from NASA Earthdata, optionally downloaded.

The footprints come out as EPSG:4326 polygons (a footprint crossing the antimeridian is one
multipolygon of its two halves). With DOWNLOAD the granules and their MCD19A2, MOD09A1 and
ASTGTM files go to OUTPUT_FOLDER in the layout ``gmi ingest`` reads (aster/, mcd19a2/, …).
"""
from __future__ import annotations

from typing import Any, Dict

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsPointXY,
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterAuthConfig,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProject,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from gmi_qgis_plugin.processing.base import GmiAlgorithm, engine_errors

VERSIONS = ("auto", "003", "3.1")


class SearchDownload(GmiAlgorithm):
    """Search CMR for AST_L1T granules; download them and their ancillaries on request."""

    NAME = "search_download"
    EXTENT = "EXTENT"
    START = "START"
    END = "END"
    MAX_CLOUD = "MAX_CLOUD"
    DAY_ONLY = "DAY_ONLY"
    SWIR_USABLE = "SWIR_USABLE"
    VERSION = "VERSION"
    EARTHDATA_AUTH = "EARTHDATA_AUTH"
    DOWNLOAD = "DOWNLOAD"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    OUTPUT = "OUTPUT"
    GRANULE_COUNT = "GRANULE_COUNT"
    FILES_DOWNLOADED = "FILES_DOWNLOADED"

    def displayName(self) -> str:
        """Translated name."""
        return self.tr("Search and download ASTER L1T (NASA Earthdata)")

    def initAlgorithm(self, config: Any = None) -> None:
        """Extent, dates, filters, credentials, download switch and folder -> footprints."""
        self.addParameter(QgsProcessingParameterExtent(self.EXTENT, self.tr("Area of interest")))
        self.addParameter(QgsProcessingParameterString(self.START, self.tr("First day (YYYY-MM-DD)"), "2000-03-01"))
        self.addParameter(QgsProcessingParameterString(self.END, self.tr("Last day (YYYY-MM-DD)"), "2008-03-31"))
        self.addParameter(QgsProcessingParameterNumber(
            self.MAX_CLOUD, self.tr("Largest cloud cover (%)"), QgsProcessingParameterNumber.Double, 20.0,
            False, 0.0, 100.0))
        self.addParameter(QgsProcessingParameterBoolean(self.DAY_ONLY, self.tr("Day granules only"), True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.SWIR_USABLE, self.tr("SWIR usable (acquired before 2008-04)"), False))
        self.add_advanced(self.enum_parameter(self.VERSION, self.tr("AST_L1T version"), VERSIONS, "auto"),
                          self.tr("auto: v003 and v3.1, keeping v3.1 where a scene is in both."))
        self.addParameter(QgsProcessingParameterAuthConfig(
            self.EARTHDATA_AUTH, self.tr("Earthdata Login (QGIS auth config: Basic or token)"), optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.DOWNLOAD, self.tr("Download granules and ancillaries"), False))
        self.addParameter(QgsProcessingParameterFolderDestination(
            self.OUTPUT_FOLDER, self.tr("Download folder"), optional=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, self.tr("ASTER footprints"), QgsProcessing.TypeVectorPolygon))
        self.addOutput(QgsProcessingOutputNumber(self.GRANULE_COUNT, self.tr("Granules found")))
        self.addOutput(QgsProcessingOutputNumber(self.FILES_DOWNLOADED, self.tr("Files downloaded")))

    def _date(self, parameters: Dict[str, Any], name: str, context: QgsProcessingContext):
        from datetime import date

        text = self.parameterAsString(parameters, name, context).strip()
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise QgsProcessingException(f"{name}: {text!r} is not a YYYY-MM-DD date") from None

    def processAlgorithm(self, parameters: Dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        """Search, write the footprints, download when asked (cancel stops between chunks)."""
        from gmi_engine.acquire.search import search_ancillaries, search_aster

        wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
        extent = self.parameterAsExtent(parameters, self.EXTENT, context, wgs84)
        crs = self.parameterAsExtentCrs(parameters, self.EXTENT, context)
        if crs.isValid() and crs != wgs84:
            extent = QgsCoordinateTransform(crs, wgs84, QgsProject.instance()).transformBoundingBox(extent)
        with engine_errors(self.tr("search")):
            records = search_aster(
                (extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()),
                self._date(parameters, self.START, context), self._date(parameters, self.END, context),
                max_cloud=self.parameterAsDouble(parameters, self.MAX_CLOUD, context),
                day_only=self.parameterAsBool(parameters, self.DAY_ONLY, context),
                swir_usable=True if self.parameterAsBool(parameters, self.SWIR_USABLE, context) else None,
                version=self.enum_value(parameters, self.VERSION, context))
        fields = QgsFields()
        for name, kind in (("granule", QVariant.String), ("start", QVariant.String), ("version", QVariant.String),
                           ("cloud", QVariant.Double), ("day_night", QVariant.String), ("swir_usable", QVariant.Bool),
                           ("size_mb", QVariant.Double), ("url", QVariant.String)):
            fields.append(QgsField(name, kind))
        sink, dest = self.parameterAsSink(parameters, self.OUTPUT, context, fields, QgsWkbTypes.MultiPolygon, wgs84)
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT))
        for record in records:
            feature = QgsFeature(fields)
            feature.setGeometry(QgsGeometry.fromMultiPolygonXY(
                [[[QgsPointXY(x, y) for x, y in ring]] for ring in record.footprint]))
            feature.setAttributes([record.granule_id, record.start.isoformat(), record.version, record.cloud_cover,
                                   record.day_night, record.swir_usable, record.size_mb,
                                   record.urls[0] if record.urls else ""])
            sink.addFeature(feature, QgsFeatureSink.FastInsert)
        feedback.pushInfo(self.tr("{} granule(s)").format(len(records)))
        downloaded = 0
        if self.parameterAsBool(parameters, self.DOWNLOAD, context) and records:
            downloaded = self._download(records, parameters, context, feedback, search_ancillaries)
        return {self.OUTPUT: dest, self.GRANULE_COUNT: len(records), self.FILES_DOWNLOADED: downloaded,
                self.OUTPUT_FOLDER: self.parameterAsFileOutput(parameters, self.OUTPUT_FOLDER, context)}

    def _download(self, records, parameters, context, feedback, search_ancillaries) -> int:
        from gmi_engine.acquire.auth import login
        from gmi_engine.acquire.download import download
        from gmi_qgis_plugin.toolbelt.earthdata import read_earthdata_credentials

        folder = self.parameterAsFileOutput(parameters, self.OUTPUT_FOLDER, context)
        if not folder:
            raise QgsProcessingException(self.tr("OUTPUT_FOLDER: needed to download"))
        try:
            credentials = read_earthdata_credentials(self.parameterAsString(parameters, self.EARTHDATA_AUTH, context))
        except RuntimeError as exc:
            raise QgsProcessingException(f"EARTHDATA_AUTH: {exc}") from None
        with engine_errors(self.tr("download")):
            auth = login(**({"token": credentials.token, "username": credentials.username,
                             "password": credentials.password} if credentials else {}))
            ancillaries = search_ancillaries(records, auth=auth)
            result = download(list(records) + ancillaries.all(), folder, session=auth.get_session(),
                              progress=lambda f, m: feedback.setProgress(100.0 * f), cancelled=feedback.isCanceled)
        if result.cancelled:
            feedback.pushWarning(self.tr("Cancelled: unfinished files stay as .part and resume next time"))
        feedback.pushInfo(self.tr("{} file(s) downloaded, {} already there").format(
            len(result.downloaded), len(result.skipped)))
        return len(result.downloaded)
