"""Colour ramps as explicit stops, for the .qml styles and the quick-look PNG.

The names are those of QGIS's default style (``gmi_engine.indices.QGIS_COLOR_RAMPS``), so an index
library entry names its ramp the way a QGIS user knows it. Each ramp is a tuple of ``#rrggbb``
colours spaced evenly from the low end (first) to the high end (last):

- ColorBrewer sequential ramps: the 9-class scheme; diverging ramps: the 11-class scheme
  (Cynthia Brewer, colorbrewer2.org).
- Perceptual ramps (Viridis, Magma, Inferno, Plasma, Cividis, Turbo, Mako, Rocket): 16 samples of
  the published 256-entry tables, enough that linear interpolation between stops is visually exact.
"""
from __future__ import annotations

from typing import Dict, Tuple

from gmi_engine.errors import GmiInputError

RAMPS: Dict[str, Tuple[str, ...]] = {
    "Blues": (
        "#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c",
        "#08306b",
    ),
    "BrBG": (
        "#543005", "#8c510a", "#bf812d", "#dfc27d", "#f6e8c3", "#f5f5f5", "#c7eae5", "#80cdc1",
        "#35978f", "#01665e", "#003c30",
    ),
    "BuGn": (
        "#f7fcfd", "#e5f5f9", "#ccece6", "#99d8c9", "#66c2a4", "#41ae76", "#238b45", "#006d2c",
        "#00441b",
    ),
    "BuPu": (
        "#f7fcfd", "#e0ecf4", "#bfd3e6", "#9ebcda", "#8c96c6", "#8c6bb1", "#88419d", "#810f7c",
        "#4d004b",
    ),
    "Cividis": (
        "#00224e", "#002e6c", "#1e3a6f", "#35456c", "#47516c", "#575d6d", "#666970", "#757575",
        "#848279", "#948e77", "#a59c74", "#b7a96e", "#c8b866", "#dbc75a", "#eed649", "#fee838",
    ),
    "GnBu": (
        "#f7fcf0", "#e0f3db", "#ccebc5", "#a8ddb5", "#7bccc4", "#4eb3d3", "#2b8cbe", "#0868ac",
        "#084081",
    ),
    "Greens": (
        "#f7fcf5", "#e5f5e0", "#c7e9c0", "#a1d99b", "#74c476", "#41ab5d", "#238b45", "#006d2c",
        "#00441b",
    ),
    "Greys": (
        "#ffffff", "#f0f0f0", "#d9d9d9", "#bdbdbd", "#969696", "#737373", "#525252", "#252525",
        "#000000",
    ),
    "Inferno": (
        "#000004", "#0c0826", "#240c4f", "#420a68", "#5d126e", "#781c6d", "#932667", "#ae305c",
        "#c73e4c", "#dd513a", "#ed6925", "#f8850f", "#fca50a", "#fac62d", "#f2e661", "#fcffa4",
    ),
    "Magma": (
        "#000004", "#0b0924", "#20114b", "#3b0f70", "#57157e", "#721f81", "#8c2981", "#a8327d",
        "#c43c75", "#de4968", "#f1605d", "#fa7f5e", "#fe9f6d", "#febf84", "#fddea0", "#fcfdbf",
    ),
    "Mako": (
        "#0b0405", "#1d111d", "#2d1d38", "#382a54", "#403873", "#40498e", "#395d9c", "#3671a0",
        "#3485a5", "#3498a9", "#39abac", "#46bead", "#62cfac", "#94dcb5", "#bee8ca", "#def5e5",
    ),
    "Oranges": (
        "#fff5eb", "#fee6ce", "#fdd0a2", "#fdae6b", "#fd8d3c", "#f16913", "#d94801", "#a63603",
        "#7f2704",
    ),
    "OrRd": (
        "#fff7ec", "#fee8c8", "#fdd49e", "#fdbb84", "#fc8d59", "#ef6548", "#d7301f", "#b30000",
        "#7f0000",
    ),
    "PiYG": (
        "#8e0152", "#c51b7d", "#de77ae", "#f1b6da", "#fde0ef", "#f7f7f7", "#e6f5d0", "#b8e186",
        "#7fbc41", "#4d9221", "#276419",
    ),
    "Plasma": (
        "#0d0887", "#330597", "#5002a2", "#6a00a8", "#8405a7", "#9c179e", "#b12a90", "#c33d80",
        "#d35171", "#e16462", "#ed7953", "#f68f44", "#fca636", "#fec029", "#f9dc24", "#f0f921",
    ),
    "PRGn": (
        "#40004b", "#762a83", "#9970ab", "#c2a5cf", "#e7d4e8", "#f7f7f7", "#d9f0d3", "#a6dba0",
        "#5aae61", "#1b7837", "#00441b",
    ),
    "PuBu": (
        "#fff7fb", "#ece7f2", "#d0d1e6", "#a6bddb", "#74a9cf", "#3690c0", "#0570b0", "#045a8d",
        "#023858",
    ),
    "PuBuGn": (
        "#fff7fb", "#ece2f0", "#d0d1e6", "#a6bddb", "#67a9cf", "#3690c0", "#02818a", "#016c59",
        "#014636",
    ),
    "PuOr": (
        "#7f3b08", "#b35806", "#e08214", "#fdb863", "#fee0b6", "#f7f7f7", "#d8daeb", "#b2abd2",
        "#8073ac", "#542788", "#2d004b",
    ),
    "PuRd": (
        "#f7f4f9", "#e7e1ef", "#d4b9da", "#c994c7", "#df65b0", "#e7298a", "#ce1256", "#980043",
        "#67001f",
    ),
    "Purples": (
        "#fcfbfd", "#efedf5", "#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#54278f",
        "#3f007d",
    ),
    "RdBu": (
        "#67001f", "#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#f7f7f7", "#d1e5f0", "#92c5de",
        "#4393c3", "#2166ac", "#053061",
    ),
    "RdGy": (
        "#67001f", "#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#ffffff", "#e0e0e0", "#bababa",
        "#878787", "#4d4d4d", "#1a1a1a",
    ),
    "RdPu": (
        "#fff7f3", "#fde0dd", "#fcc5c0", "#fa9fb5", "#f768a1", "#dd3497", "#ae017e", "#7a0177",
        "#49006a",
    ),
    "RdYlBu": (
        "#a50026", "#d73027", "#f46d43", "#fdae61", "#fee090", "#ffffbf", "#e0f3f8", "#abd9e9",
        "#74add1", "#4575b4", "#313695",
    ),
    "RdYlGn": (
        "#a50026", "#d73027", "#f46d43", "#fdae61", "#fee08b", "#ffffbf", "#d9ef8b", "#a6d96a",
        "#66bd63", "#1a9850", "#006837",
    ),
    "Reds": (
        "#fff5f0", "#fee0d2", "#fcbba1", "#fc9272", "#fb6a4a", "#ef3b2c", "#cb181d", "#a50f15",
        "#67000d",
    ),
    "Rocket": (
        "#03051a", "#1a102a", "#33183c", "#4c1d4b", "#681f55", "#851e5a", "#a21a5b", "#be1655",
        "#d72549", "#e8403e", "#f16144", "#f48059", "#f69e75", "#f6b995", "#f8d3ba", "#faebdd",
    ),
    "Spectral": (
        "#9e0142", "#d53e4f", "#f46d43", "#fdae61", "#fee08b", "#ffffbf", "#e6f598", "#abdda4",
        "#66c2a5", "#3288bd", "#5e4fa2",
    ),
    "Turbo": (
        "#30123b", "#4143a7", "#4771e9", "#3e9bfe", "#22c5e2", "#1ae4b6", "#46f884", "#88ff4e",
        "#b9f635", "#e1dd37", "#faba39", "#fd8d27", "#f05b12", "#d63506", "#af1801", "#7a0403",
    ),
    "Viridis": (
        "#440154", "#481a6c", "#472f7d", "#414487", "#39568c", "#31688e", "#2a788e", "#23888e",
        "#1f988b", "#22a884", "#35b779", "#54c568", "#7ad151", "#a5db36", "#d2e21b", "#fde725",
    ),
    "YlGn": (
        "#ffffe5", "#f7fcb9", "#d9f0a3", "#addd8e", "#78c679", "#41ab5d", "#238443", "#006837",
        "#004529",
    ),
    "YlGnBu": (
        "#ffffd9", "#edf8b1", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#253494",
        "#081d58",
    ),
    "YlOrBr": (
        "#ffffe5", "#fff7bc", "#fee391", "#fec44f", "#fe9929", "#ec7014", "#cc4c02", "#993404",
        "#662506",
    ),
    "YlOrRd": (
        "#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026",
        "#800026",
    ),
}


def ramp_colors(name: str) -> Tuple[str, ...]:
    """The stops of ramp ``name`` (case-insensitive), low end first; GmiInputError if unknown."""
    for known, colors in RAMPS.items():
        if known.lower() == str(name).lower():
            return colors
    raise GmiInputError("colour ramp {!r} is not one of {}".format(name, ", ".join(RAMPS)))


def canonical_ramp_name(name: str) -> str:
    """The QGIS spelling of ramp ``name`` (e.g. ``viridis`` -> ``Viridis``)."""
    for known in RAMPS:
        if known.lower() == str(name).lower():
            return known
    raise GmiInputError("colour ramp {!r} is not one of {}".format(name, ", ".join(RAMPS)))


def hex_to_rgb(color: str) -> Tuple[int, int, int]:
    """``#rrggbb`` -> (r, g, b) in 0..255."""
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)
