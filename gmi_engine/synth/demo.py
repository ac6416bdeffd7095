"""The demo set: two overlapping pre-2008 granules over the Chino mine, with matching ancillaries.

It mirrors the reference engine's demo: global tile (260, 526) is covered by both granules, the
MCD19A2 and MOD09A1 tiles are h08v05, and the GDEM tiles are N32W108 and N32W109. Granule A
carries the reference demo's name (2006-09-06 18:02:42 UTC); granule B was acquired eight months
later under a hazier, wetter atmosphere with high gain on bands 1–2, so its bright clays saturate.

The ground is one of :data:`DEMO_SCENES`: ``"porphyry"`` (the zoned porphyry-copper system of
:mod:`gmi_engine.synth.porphyry` on its relief, with topographic illumination, sensor noise,
TIR and the scene DEM in the GDEM tiles; the default of the full set) or ``"checkerboard"`` (the
flat patchwork of :mod:`gmi_engine.synth.scene` with a ripple DEM; the default of the small set,
whose tests use its known patch edges).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Optional, Sequence

from gmi_engine.errors import GmiInputError
from gmi_engine.progress import Progress, fraction, report
from gmi_engine.synth.aster import AsterSpec, specs_region, write_aster_l1t
from gmi_engine.synth.gdem import write_gdem
from gmi_engine.synth.modis import write_mcd19a2, write_mod09a1

CHINO_LONLAT = (-108.07, 32.793)
MODIS_TILE = (8, 5)
GDEM_TILES = ((32, -108), (32, -109))
DEMO_SCENES = ("porphyry", "checkerboard")
_GAINS_B = {"01": "HGH", "02": "HGH", "3N": "NOR", "04": "NOR", "05": "NOR", "06": "NOR",
            "07": "NOR", "08": "NOR", "09": "NOR"}


def demo_scene_name(small: bool, scene: Optional[str] = None) -> str:
    """The scene of a demo set: ``scene``, or porphyry for the full set and checkerboard for small."""
    name = scene or ("checkerboard" if small else "porphyry")
    if name not in DEMO_SCENES:
        raise GmiInputError("demo scene {!r} is not one of {}".format(name, ", ".join(DEMO_SCENES)))
    return name


def demo_specs(small: bool = False, scene: Optional[str] = None) -> list:
    """The two granule specs; ``small`` shrinks them to 12 km scenes around tile (260, 526).

    ``scene`` (see :func:`demo_scene_name`) sets the ground of both granules.
    """
    if demo_scene_name(small, scene) == "porphyry":
        from gmi_engine.synth.porphyry import PorphyryScene

        return [replace(s, scene=PorphyryScene()) for s in _checkerboard_specs(small)]
    return _checkerboard_specs(small)


def _checkerboard_specs(small: bool) -> list:
    """Granule A (the reference demo's) and the hazier granule B: 12 km (small) or 52 km."""
    side_km = 12.0 if small else 52.0
    (lon_a, lat_a), (lon_b, lat_b) = ((-108.10, 32.86), (-108.14, 32.83)) if small else \
        ((-108.07, 32.72), (-108.22, 32.64))
    return [
        AsterSpec(lon_a, lat_a, datetime(2006, 9, 6, 18, 2, 42), side_km=side_km,
                  production=datetime(2015, 5, 16, 1, 46, 1), processing_number=17781),
        AsterSpec(lon_b, lat_b, datetime(2007, 5, 17, 18, 8, 10), side_km=side_km,
                  gains=dict(_GAINS_B), aod550=0.20, water_vapour=1.6,
                  production=datetime(2015, 5, 20, 3, 42, 36), processing_number=70445),
    ]


@dataclass
class DemoSet:
    """Paths of everything the demo needs."""

    root: Path
    granules: list = field(default_factory=list)
    mcd19a2: list = field(default_factory=list)
    mod09a1: list = field(default_factory=list)
    gdem: list = field(default_factory=list)


def write_demo_set(out_dir, small: bool = False,
                   progress: Optional[Progress] = None, scene: Optional[str] = None,
                   specs: Optional[Sequence] = None) -> DemoSet:
    """Write the demo granules, MCD19A2 (one per date), MOD09A1 and GDEM tiles into ``out_dir``.

    ``progress`` names each file before it is written; ``scene`` picks the ground
    (:func:`demo_scene_name`); ``specs`` replaces the two demo granules (their first spec's scene
    then makes the MOD09A1 and, for a porphyry scene, the GDEM).
    """
    root = Path(out_dir)
    demo = DemoSet(root)
    specs = list(specs) if specs is not None else demo_specs(small, scene)
    relief = specs[0].scene if getattr(specs[0].scene, "kind", None) == "porphyry" else None
    total = 2 * len(specs) + 1 + len(GDEM_TILES)

    def say(message: str) -> None:
        report(progress, fraction(len(demo.granules) + len(demo.mcd19a2) + len(demo.mod09a1) + len(demo.gdem),
                                  total), message)
    for spec in specs:
        say("AST_L1T " + spec.granule_id)
        demo.granules.append(write_aster_l1t(spec, root / "aster"))
        say("MCD19A2 " + spec.acquired_utc.date().isoformat())
        demo.mcd19a2.append(write_mcd19a2(root / "mcd19a2", *MODIS_TILE, spec.acquired_utc.date(),
                                          aod550=spec.aod550, water_vapour=spec.water_vapour,
                                          seed=spec.processing_number))
    region = specs_region(specs, margin_deg=0.1)
    say("MOD09A1 " + specs[0].acquired_utc.date().isoformat())
    demo.mod09a1.append(write_mod09a1(root / "mod09a1", *MODIS_TILE, specs[0].acquired_utc.date(),
                                      specs[0].scene, region=region))
    for lat0, lon0 in GDEM_TILES:
        say("GDEM N{}W{}".format(lat0, -lon0))
        demo.gdem.append(write_gdem(root / "gdem", lat0, lon0,
                                    elevation_m=specs[0].altitude_km * 1000.0,
                                    size=361 if small else 3601, scene=relief))
    return demo


def ingest_demo_set(demo: DemoSet, workspace, **options: Any) -> Any:
    """Ingest every granule of ``demo`` into the local workspace folder ``workspace`` (made if
    missing), one after the other, with the demo's MCD19A2, GDEM and MOD09A1 and any further
    :class:`~gmi_engine.ingest.IngestOptions` ``options``; returns the options used."""
    from gmi_engine.backends.local import LocalStore
    from gmi_engine.ingest import IngestOptions, ingest_granule

    ingest_options = IngestOptions(mcd19a2=demo.mcd19a2, gdem=demo.gdem, modis_ref=demo.mod09a1, **options)
    with LocalStore(workspace) as store:
        for path in demo.granules:
            ingest_granule(path, store, ingest_options)
    return ingest_options


