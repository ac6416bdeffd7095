"""QGIS layer styles (.qml, QGIS 3.22 format) for exported rasters, and the stretches they use.

Three renderers are written, each as the ``<pipe>`` QGIS itself saves:

- ``singlebandpseudocolor`` for an index: an interpolated colour-ramp shader with one item per
  ramp stop, spread evenly over the index's stretch, and the ramp itself (so QGIS's style panel
  shows it as an editable gradient);
- ``multibandcolor`` for the RGB presets of reflectance (min/max stretch per channel);
- ``singlebandgray`` for a single reflectance band or any other output.

NaN (the band nodata) is drawn transparent: ``nodataColor`` is empty.

A library stretch is either ``{"method": "minmax", "min": a, "max": b}`` (fixed values) or
``{"method": "percentile", "low": p, "high": q}``, resolved on a deterministic sample of the
exported data (:class:`StretchSampler`), so every tile of an output and its VRT share one stretch.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union
from xml.etree import ElementTree as ET

import numpy as np

from gmi_engine.errors import GmiFileError, GmiInputError
from gmi_engine.export.ramps import canonical_ramp_name, hex_to_rgb, ramp_colors

QGIS_VERSION = "3.22.0"
DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
REFLECTANCE_RANGE = (0.0, 0.4)
"""Default display range of surface reflectance (RGB presets and single bands)."""

# ------------------------------------------------------------------------------------ stretches


@dataclass(frozen=True)
class OutputStyle:
    """How one output is drawn: renderer kind, display name, ramp name and library stretch."""

    output: str
    name: str
    kind: str  # "pseudocolor" | "gray"
    ramp: Optional[str] = None
    stretch: Optional[Mapping[str, Any]] = None


class StretchSampler:
    """A bounded, deterministic sample of the finite values of many tiles of one output.

    Each tile contributes the pixels on a regular grid of ``step`` pixels (its top-left pixel
    first). When the finite values pass ``max_samples`` (or all kept values, NaN included, four
    times that) every kept tile grid is thinned to every other row and column and the step
    doubles. The final step is the smallest that fits the whole set of tiles, so the sample does
    not depend on the order in which tiles arrive (a parallel export and a serial one draw the
    same styles).
    """

    def __init__(self, step: int = 8, max_samples: int = 1_000_000) -> None:
        self.step = step
        self.max_samples = max_samples
        self._parts: List[np.ndarray] = []
        self._finite = 0
        self._kept = 0

    def add(self, array: np.ndarray, nodata: Optional[float] = None) -> None:
        """Sample the finite values of ``array`` (leaving out ``nodata``)."""
        self.add_sampled(np.asarray(array)[::self.step, ::self.step], self.step, nodata)

    def add_sampled(self, sample: np.ndarray, sample_step: int, nodata: Optional[float] = None) -> None:
        """Like :meth:`add`, given ``array[::sample_step, ::sample_step]`` instead of the array
        (``sample_step`` must divide the current step): the same values are kept."""
        if self.step % sample_step:
            raise GmiInputError("stretch sample: step {} is not a multiple of {}".format(self.step, sample_step))
        stride = self.step // sample_step
        part = np.array(sample[::stride, ::stride], dtype=np.float64)
        if nodata is not None and not math.isnan(nodata):
            part[part == nodata] = np.nan
        self._parts.append(part)
        self._finite += int(np.isfinite(part).sum())
        self._kept += part.size
        while self._finite > self.max_samples or self._kept > 4 * self.max_samples:
            self._parts = [p[::2, ::2] for p in self._parts]
            self._finite = sum(int(np.isfinite(p).sum()) for p in self._parts)
            self._kept = sum(p.size for p in self._parts)
            self.step *= 2

    def values(self) -> np.ndarray:
        """All sampled values (float64, finite)."""
        if not self._parts:
            return np.empty(0)
        values = np.concatenate([p.ravel() for p in self._parts])
        return values[np.isfinite(values)]


def resolve_stretch(stretch: Mapping[str, Any], sample: np.ndarray, what: str = "stretch"
                    ) -> Tuple[float, float]:
    """(vmin, vmax) of a library stretch on ``sample``; a flat or empty sample gets a unit span."""
    method = stretch.get("method")
    if method == "minmax":
        low, high = float(stretch["min"]), float(stretch["max"])
    elif method == "percentile":
        if sample.size == 0:
            return 0.0, 1.0
        low, high = (float(v) for v in np.percentile(sample, [stretch["low"], stretch["high"]]))
    else:
        raise GmiInputError("{}: method {!r} is not 'minmax' or 'percentile'".format(what, method))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise GmiInputError("{}: limits {!r}, {!r} are not finite".format(what, low, high))
    if high <= low:
        pad = abs(low) * 0.01 or 0.5
        low, high = low - pad, high + pad
    return low, high


def index_style(index_id: str, library: Any = None) -> Optional[OutputStyle]:
    """The style of library index ``index_id`` (display name, stretch, ramp); None if not an index.

    ``library`` is an :class:`gmi_engine.indices.IndexLibrary` (default: the packaged one).
    """
    if library is None:
        from gmi_engine.kernel.indices import default_library

        library = default_library()
    if index_id not in library:
        return None
    definition = library[index_id]
    return OutputStyle(output=index_id, name=definition.name, kind="pseudocolor",
                       ramp=canonical_ramp_name(definition.ramp), stretch=dict(definition.stretch))


# ------------------------------------------------------------------------------------ QML XML


def _num(value: float) -> str:
    return format(float(value), ".8g")


def _sub(parent: ET.Element, tag: str, text: Optional[str] = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def _document(renderer_attrs: Mapping[str, str]) -> Tuple[ET.Element, ET.Element]:
    root = ET.Element("qgis", {"version": QGIS_VERSION, "styleCategories": "Symbology",
                               "hasScaleBasedVisibilityFlag": "0", "minScale": "1e+08", "maxScale": "0"})
    pipe = _sub(root, "pipe")
    renderer = _sub(pipe, "rasterrenderer", opacity="1", alphaBand="-1", nodataColor="",
                    **dict(renderer_attrs))
    _sub(renderer, "rasterTransparency")
    origin = _sub(renderer, "minMaxOrigin")
    for tag, text in (("limits", "None"), ("extent", "WholeRaster"), ("statAccuracy", "Estimated"),
                      ("cumulativeCutLower", "0.02"), ("cumulativeCutUpper", "0.98"),
                      ("stdDevFactor", "2")):
        _sub(origin, tag, text)
    return root, renderer


def _finish(root: ET.Element) -> str:
    pipe = root.find("pipe")
    _sub(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    _sub(pipe, "huesaturation", saturation="0", grayscaleMode="0", invertColors="0", colorizeOn="0",
         colorizeRed="255", colorizeGreen="128", colorizeBlue="128", colorizeStrength="100")
    _sub(pipe, "rasterresampler", maxOversampling="2")
    _sub(pipe, "resamplingStage", "resamplingFilter")
    _sub(root, "blendMode", "0")
    ET.indent(root, space="  ")
    return DOCTYPE + "\n" + ET.tostring(root, encoding="unicode") + "\n"


def _contrast(parent: ET.Element, tag: str, vmin: float, vmax: float) -> None:
    element = _sub(parent, tag)
    _sub(element, "minValue", _num(vmin))
    _sub(element, "maxValue", _num(vmax))
    _sub(element, "algorithm", "StretchToMinimumMaximum")


def _rgba(color: str) -> str:
    return "{},{},{},255".format(*hex_to_rgb(color))


def pseudocolor_qml(ramp: str, vmin: float, vmax: float, band: int = 1, precision: int = 4) -> str:
    """A ``singlebandpseudocolor`` style: ramp ``ramp`` interpolated from ``vmin`` to ``vmax``."""
    if not (math.isfinite(vmin) and math.isfinite(vmax) and vmin < vmax):
        raise GmiInputError("style: need finite vmin < vmax, got {!r}, {!r}".format(vmin, vmax))
    colors = ramp_colors(ramp)
    root, renderer = _document({"type": "singlebandpseudocolor", "band": str(band),
                                "classificationMin": _num(vmin), "classificationMax": _num(vmax)})
    shader = _sub(_sub(renderer, "rastershader"), "colorrampshader", colorRampType="INTERPOLATED",
                  classificationMode="1", clip="0", minimumValue=_num(vmin), maximumValue=_num(vmax),
                  labelPrecision=str(precision))
    positions = [i / (len(colors) - 1) for i in range(len(colors))]
    props = [("color1", _rgba(colors[0])), ("color2", _rgba(colors[-1])), ("discrete", "0"),
             ("rampType", "gradient"),
             ("stops", ":".join("{};{}".format(_num(p), _rgba(c))
                                for p, c in zip(positions[1:-1], colors[1:-1])))]
    cramp = _sub(shader, "colorramp", name="[source]", type="gradient")
    options = _sub(cramp, "Option", type="Map")
    for key, value in props:
        _sub(options, "Option", name=key, value=value, type="QString")
    for key, value in props:
        _sub(cramp, "prop", k=key, v=value)
    for position, color in zip(positions, colors):
        value = vmin + position * (vmax - vmin)
        _sub(shader, "item", value=_num(value), color=color, alpha="255",
             label="{:.{}g}".format(value, precision))
    return _finish(root)


def multiband_qml(vmin: Union[float, Sequence[float]] = REFLECTANCE_RANGE[0],
                  vmax: Union[float, Sequence[float]] = REFLECTANCE_RANGE[1],
                  bands: Tuple[int, int, int] = (1, 2, 3)) -> str:
    """A ``multibandcolor`` style: bands -> red, green, blue, each stretched min..max."""
    lows = list(vmin) if isinstance(vmin, (list, tuple)) else [vmin] * 3
    highs = list(vmax) if isinstance(vmax, (list, tuple)) else [vmax] * 3
    root, renderer = _document({"type": "multibandcolor", "redBand": str(bands[0]),
                                "greenBand": str(bands[1]), "blueBand": str(bands[2])})
    for colour, low, high in zip(("red", "green", "blue"), lows, highs):
        _contrast(renderer, colour + "ContrastEnhancement", low, high)
    return _finish(root)


def gray_qml(vmin: float, vmax: float, band: int = 1) -> str:
    """A ``singlebandgray`` style, black at ``vmin`` to white at ``vmax``."""
    root, renderer = _document({"type": "singlebandgray", "grayBand": str(band), "gradient": "BlackToWhite"})
    _contrast(renderer, "contrastEnhancement", vmin, vmax)
    return _finish(root)


def style_path(raster: Union[str, os.PathLike]) -> Path:
    """The .qml QGIS loads by default for ``raster``: same folder and base name."""
    return Path(raster).with_suffix(".qml")


def write_qml(raster: Union[str, os.PathLike], qml_text: str) -> Path:
    """Write ``qml_text`` beside ``raster`` (``<base>.qml``); returns the .qml path."""
    path = style_path(raster)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(qml_text, encoding="utf-8")
    except OSError as exc:
        raise GmiFileError("{}: cannot write the style ({})".format(path, exc)) from None
    return path
