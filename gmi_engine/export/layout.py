"""Where an export puts its files (one folder per method, one sub-folder per output).

::

    <out>/<method>/<output>/<tile key>.tif   one band per file, e.g. mineral_indices/ferric_iron/
                                             res-30_tilesize-1024_x-260_y-526.tif
    <out>/<method>/<output>/<tile key>.qml   its QGIS style (QGIS loads <base>.qml with <base>.tif)
    <out>/<method>/<output>.vrt  (+ .qml)    all tiles of one output as one layer
    <out>/<method>/<preset>/<tile key>.vrt   RGB presets of reflectance (rgb_321, rgb_468) per tile,
    <out>/<method>/<preset>.vrt  (+ .qml)    and over all tiles (a stack of the per-band VRTs)
    <out>/<method>/stac/<tile key>.json      STAC item per tile; asset hrefs are relative

One folder per output keeps every VRT a plain glob (``gdalbuildvrt x.vrt ferric_iron/*.tif``)
and lets QGIS users drag a whole folder in. All paths inside VRTs and STAC items are relative,
so the export folder can be moved or zipped.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Tuple, Union

RGB_PRESETS: Dict[str, Tuple[str, str, str]] = {
    "rgb_321": ("b03", "b02", "b01"),
    "rgb_468": ("b04", "b06", "b08"),
}
"""RGB presets of reflectance: name -> (red, green, blue) outputs.

``rgb_321``: B3N, B2, B1 -- the standard VNIR false colour (vegetation red).
``rgb_468``: B4, B6, B8 -- SWIR false colour (AlOH, MgOH/carbonate absorptions in colour).
"""

RGB_TITLES = {"rgb_321": "ASTER 3-2-1 false colour (B3N, B2, B1)",
              "rgb_468": "ASTER 4-6-8 SWIR false colour (B4, B6, B8)"}


@dataclass(frozen=True)
class ExportLayout:
    """Path rules of an export rooted at ``root``."""

    root: Path

    @classmethod
    def at(cls, root: Union[str, os.PathLike]) -> "ExportLayout":
        """The layout rooted at ``root``."""
        return cls(Path(root))

    def method_dir(self, method: str) -> Path:
        """``<out>/<method>``."""
        return self.root / method

    def tile_raster(self, method: str, output: str, key: str) -> Path:
        """GeoTIFF of one output on one tile."""
        return self.root / method / output / (key + ".tif")

    def output_vrt(self, method: str, output: str) -> Path:
        """VRT mosaicking every tile of one output."""
        return self.root / method / (output + ".vrt")

    def rgb_tile_vrt(self, method: str, preset: str, key: str) -> Path:
        """Three-band VRT of an RGB preset on one tile."""
        return self.root / method / preset / (key + ".vrt")

    def rgb_vrt(self, method: str, preset: str) -> Path:
        """Three-band VRT of an RGB preset over every tile."""
        return self.root / method / (preset + ".vrt")

    def stac_item(self, method: str, key: str) -> Path:
        """STAC item of one tile."""
        return self.root / method / "stac" / (key + ".json")
