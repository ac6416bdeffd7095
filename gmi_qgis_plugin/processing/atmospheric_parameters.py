"""``gmi:atmospheric_parameters``: the 6S state, its sources and xa/xb/xc of a granule on tiles."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from qgis.core import (
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from gmi_qgis_plugin.processing.base import (
    GROUP_ANALYSIS,
    AncillaryParameters,
    GmiAlgorithm,
    TilesParameter,
    engine_errors,
)

STATE_FIELDS = ("sun_zenith", "sun_azimuth", "view_zenith", "view_azimuth", "month", "day",
                "aot550", "water_vapour", "ozone", "altitude_km")
_INTEGER_FIELDS = ("month", "day")


class AtmosphericParameters(AncillaryParameters, TilesParameter, GmiAlgorithm):
    """What ingest would feed 6S for a granule on a tile, and the coefficients 6S returns."""

    NAME = "atmospheric_parameters"
    GROUP_ID = GROUP_ANALYSIS
    GRANULE = "GRANULE"
    OUTPUT = "OUTPUT"
    JSON = "JSON"
    TILE_COUNT = "TILE_COUNT"
    TILES_DONE = "TILES_DONE"
    AOT550 = "AOT550"
    WATER_VAPOUR = "WATER_VAPOUR"
    ALTITUDE_KM = "ALTITUDE_KM"

    def displayName(self) -> str:
        """Translated name."""
        return self.tr("Atmospheric parameters (6S)")

    def initAlgorithm(self, config: Any = None) -> None:
        """A granule, tiles and ancillaries -> a coefficient table and a JSON record."""
        self.addParameter(QgsProcessingParameterFile(
            self.GRANULE, self.tr("ASTER L1T granule"), extension="hdf"))
        self.add_tiles(self.tr("Tiles (IX,IY or tile keys; empty = every tile of the granule)"))
        self.add_ancillary(modis_reference=False)
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, self.tr("6S coefficients"), QgsProcessing.TypeVector))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.JSON, self.tr("6S record (JSON)"), self.tr("JSON files (*.json)"), optional=True,
            createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber(self.TILE_COUNT, self.tr("Number of tiles")))
        self.addOutput(QgsProcessingOutputString(self.TILES_DONE, self.tr("Tile keys")))
        self.addOutput(QgsProcessingOutputNumber(self.AOT550, self.tr("AOD at 550 nm (first tile)")))
        self.addOutput(QgsProcessingOutputNumber(self.WATER_VAPOUR, self.tr("Water vapour, g/cm² (first tile)")))
        self.addOutput(QgsProcessingOutputNumber(self.ALTITUDE_KM, self.tr("Target altitude, km (first tile)")))

    def processAlgorithm(self, parameters: Dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        """One 6S state and nine band runs per tile; cancel is checked between tiles."""
        from gmi_engine.aster.reader import open_granule
        from gmi_engine.atmosphere.coefficients import merge_telescopes
        from gmi_engine.grid import DEFAULT_GRID
        from gmi_engine.ingest import tile_coefficients, tile_state
        from gmi_engine.kernel.bands import BAND_COLUMNS
        from gmi_engine.tiling import granule_tiles

        path = Path(self.parameterAsFile(parameters, self.GRANULE, context))
        options = self.ingest_options(parameters, context)
        with engine_errors(str(path)):
            granule = open_granule(path)
            covered = granule_tiles(granule, DEFAULT_GRID)
        tiles = self.tiles(parameters, self.TILES, context) or covered
        for tile in tiles:
            if tile not in covered:
                feedback.pushWarning(self.tr("{}: the granule's footprint does not touch tile {}").format(
                    path.name, DEFAULT_GRID.key(tile)))

        fields = QgsFields()
        for name, kind in (("tile", QVariant.String), ("ix", QVariant.Int), ("iy", QVariant.Int),
                           ("band", QVariant.String), ("xa", QVariant.Double), ("xb", QVariant.Double),
                           ("xc", QVariant.Double)):
            fields.append(QgsField(name, kind))
        for name in STATE_FIELDS:
            fields.append(QgsField(name, QVariant.Int if name in _INTEGER_FIELDS else QVariant.Double))
        for name in ("aerosol_model", "aot550_source", "water_vapour_source", "altitude_source", "ac_source",
                     "sixs"):
            fields.append(QgsField(name, QVariant.String))
        sink, dest = self.parameterAsSink(parameters, self.OUTPUT, context, fields, QgsWkbTypes.NoGeometry)
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT))

        records: List[Dict[str, Any]] = []
        for n, tile in enumerate(tiles):
            if feedback.isCanceled():
                break
            key = DEFAULT_GRID.key(tile)
            feedback.setProgressText(self.tr("6S for tile {}").format(key))
            with engine_errors(f"{path.name} tile {key}"):
                state, swir_state, inputs = tile_state(granule, DEFAULT_GRID.bounds(tile), options)
                (vnir, swir), reasons = tile_coefficients([state, swir_state], options)
                coefficients = merge_telescopes(vnir, swir)  # B1-B3N VNIR pointing, B4-B9 SWIR pointing
                fallback = "; ".join(r for r in reasons if r) or None
            state_values = state.to_dict()
            for i, column in enumerate(BAND_COLUMNS):
                feature = QgsFeature(fields)
                feature.setAttributes(
                    [key, tile.ix, tile.iy, column, float(coefficients.xa[i]), float(coefficients.xb[i]),
                     float(coefficients.xc[i])]
                    + [state_values[name] for name in STATE_FIELDS]
                    + [state.aerosol_model, inputs["aod550"]["source"], inputs["water_vapour"]["source"],
                       inputs["altitude_km"]["source"], coefficients.source, coefficients.sixs_version])
                sink.addFeature(feature, QgsFeatureSink.FastInsert)
            ac = coefficients.to_dict()
            ac["inputs"] = inputs
            if fallback:
                ac["lut_fallback"] = fallback
                feedback.pushWarning(self.tr("{}: LUT not usable, direct 6S: {}").format(key, fallback))
            records.append({"granule_id": granule.granule_id, "tile": key, "tile_x": tile.ix,
                            "tile_y": tile.iy, "ac": ac})
            feedback.pushInfo(self.tr("{}: AOD550 {:.3f} ({}), water vapour {:.2f} g/cm² ({}), "
                                      "altitude {:.3f} km ({})").format(
                key, state.aot550, inputs["aod550"]["source"], state.water_vapour,
                inputs["water_vapour"]["source"], state.altitude_km, inputs["altitude_km"]["source"]))
            feedback.setProgress(100.0 * (n + 1) / len(tiles))

        results: Dict[str, Any] = {self.OUTPUT: dest, self.TILE_COUNT: len(records),
                                   self.TILES_DONE: ";".join(r["tile"] for r in records)}
        if records:
            first = records[0]["ac"]["state"]
            results.update({self.AOT550: first["aot550"], self.WATER_VAPOUR: first["water_vapour"],
                            self.ALTITUDE_KM: first["altitude_km"]})
        json_path = self.parameterAsFileOutput(parameters, self.JSON, context)
        if json_path:
            with engine_errors(json_path):
                Path(json_path).write_text(json.dumps({"granule": str(path), "tiles": records}, indent=2),
                                           encoding="utf-8")
            results[self.JSON] = json_path
        return results
