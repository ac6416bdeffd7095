"""ECS metadata of a synthetic AST_L1T granule (formats.md §2.5, §2.6).

Attribute order follows real ASTER files: ``productmetadata.0``, ``.1``, ``.v``, ``.s``, ``.t``
and ``coremetadata.0`` last. Numbers carry the real files' text formats (6 decimals for angles,
corners and INCL; ``OFFSET = -INCL``; ``YYYY-MM-DDThh:mm:ssZ`` times).
"""
from __future__ import annotations

from datetime import datetime

from gmi_engine.kernel import bands
from gmi_engine.synth.odl import Group, Obj, Raw, additional_attributes, to_odl

VNIR_BANDS = tuple(bands.label(b) for b in bands.VNIR_BANDS)  # "1", "2", "3N"
SWIR_BANDS = tuple(bands.label(b) for b in bands.SWIR_BANDS)  # "4" .. "9"
TIR_BANDS = bands.TIR_BANDS
GAIN_BANDS = bands.BANDS


def f6(x: float) -> Raw:
    """A number printed with 6 decimals, as ASTER metadata do."""
    return Raw("{:.6f}".format(x))


def _pair(a: float, b: float) -> tuple:
    return (f6(a), f6(b))


def _metres(northing: float, easting: float) -> tuple:
    """A (northing, easting) corner as real L1T files print it: ``1744560.0, 252000.0``."""
    return (Raw("{:.1f}".format(northing)), Raw("{:.1f}".format(easting)))


def _band_group(subsystem: str, bands: tuple, ucc: dict, sizes: dict, zone: int,
                bytes_per_px: int) -> str:
    children = []
    for b in bands:
        rows, cols = sizes[b]
        children.append(Group("UNITCONVERSIONCOEFF" + b, [
            Obj("INCL" + b, f6(ucc[b])),
            Obj("OFFSET" + b, f6(-ucc[b])),
            Obj("CONUNIT" + b, "W/m2/sr/um"),
        ]))
        children.append(Group("IMAGEDATAINFORMATION", [
            Obj("IMAGEDATAINFORMATION" + b, (Raw(str(cols)), Raw(str(rows)), Raw(str(bytes_per_px)))),
        ]))
        children.append(Group("DATAQUALITY" + b, [
            Obj("NUMBEROFBADPIXELS" + b, (Raw("0"), Raw("0"), Raw("0"))),
        ]))
        children.append(Group("PROCESSINGPARAMETERS" + b, [
            Obj("MPMETHOD" + b, "UTM"),
            Obj("UTMZONECODE" + b, Raw(str(zone))),
        ]))
    return to_odl(Group("PRODUCTSPECIFICMETADATA" + subsystem, children, grouptype="MASTERGROUP"))


def build_metadata(*, granule_id: str, acquired: datetime, production: datetime, zone: int,
                   south: bool, ul: tuple, ur: tuple, ll: tuple, lr: tuple,
                   ulm: tuple, urm: tuple, llm: tuple, lrm: tuple,
                   centre: tuple, bounds: tuple, sun_azimuth: float, sun_elevation: float,
                   pointing: tuple, gains: dict, ucc: dict, sizes: dict, subsystems: tuple,
                   cloud_cover: int, orientation_deg: float, night: bool) -> list:
    """(attribute name, ODL text) pairs in file order.

    ``ul``…``lr`` are (lat, lon) footprint corners; ``ulm``…``lrm`` are (northing, easting) pixel
    centres; ``bounds`` is (west, south, east, north); ``sizes`` maps band -> (rows, cols).
    """
    stamp = acquired.strftime("%Y-%m-%dT%H:%M:%SZ")
    gain_objs = [Obj("GAIN", (b, gains.get(b, "OFF")), cls=str(i))
                 for i, b in enumerate(GAIN_BANDS, start=1)]
    modes = [("VNIR1", "VNIR"), ("VNIR2", "VNIR"), ("SWIR", "SWIR"), ("TIR", "TIR")]
    mode_objs = [Obj("OBSERVATIONMODE", (name, "ON" if sub in subsystems else "OFF"), cls=str(i))
                 for i, (name, sub) in enumerate(modes, start=1)]
    pointing_objs = []
    for i, angle in enumerate(pointing, start=1):
        pointing_objs.append(Obj("POINTINGANGLE", Raw("{:.3f}".format(angle)), cls=str(i)))
        pointing_objs.append(Obj("SETTINGTIMEOFPOINTING", stamp, cls=str(i)))
    pm0 = Group("ASTERGENERICMETADATA", grouptype="MASTERGROUP", children=[
        Obj("IDOFASTERGDSDATAGRANULE", "ASTL1A " + acquired.strftime("%y%m%d%H%M%S") + "0000000000"),
        Group("SCENEINFORMATION", [
            Obj("ASTERSCENEID", (Raw("128"), Raw("49"), Raw("1"))),
            Obj("FLYINGDIRECTION", "DE"),
            Obj("SOLARDIRECTION", _pair(sun_azimuth, sun_elevation)),
            Obj("SPATIALRESOLUTION", (Raw("15"), Raw("30"), Raw("90"))),
            Obj("SCENECENTER", _pair(*centre)),
            Group("SCENEFOURCORNERS", [
                Obj("UPPERLEFT", _pair(*ul)), Obj("UPPERRIGHT", _pair(*ur)),
                Obj("LOWERLEFT", _pair(*ll)), Obj("LOWERRIGHT", _pair(*lr)),
            ]),
            Obj("SCENECLOUDCOVERAGE", Raw(str(cloud_cover))),
            Obj("SCENEORIENTATIONANGLE", f6(orientation_deg)),
        ]),
        Group("POINTINGANGLES", pointing_objs),
        Group("GAININFORMATION", gain_objs),
        Group("OBSERVATIONMODES", mode_objs),
        Obj("INSTRUMENTSHORTNAME", "ASTER"),
    ])
    pm1 = Group("PRODUCTGENERICMETADATA", grouptype="MASTERGROUP", children=[
        Group("SCENEFOURCORNERSMETERS", [
            Obj("UPPERLEFTM", _metres(*ulm)), Obj("UPPERRIGHTM", _metres(*urm)),
            Obj("LOWERLEFTM", _metres(*llm)), Obj("LOWERRIGHTM", _metres(*lrm)),
        ]),
        Obj("UTMZONENUMBER", Raw(str(zone))),
        Obj("MAPPROJECTIONNAME", "Universal Transverse Mercator"),
        Obj("RESAMPLINGMETHOD", "CC"),
    ])
    west, south_b, east, north = bounds
    gains_text = ", ".join("{} {}".format(b, gains.get(b, "OFF")) for b in GAIN_BANDS)
    psas = [
        ("ASTERGains", gains_text),
        ("ASTERMapOrientationAngle", "{:.1f}".format(0.0)),
        ("ASTERMapProjection", "Universal Transverse Mercator"),
        ("ASTERVNIRPointingAngle", "{:.3f}".format(pointing[0])),
        ("Band3B_Available", "No, band was not acquired"),
        ("CorrectionAchieved", "Terrain+Systematic"),
        ("FlyingDirection", "DE"),
        ("GeometricDBVersion", "03.01"),
        ("NumberGCPChipsCorrelated", "23"),
        ("RadiometricDBVersion", "04.00"),
        ("Resampling", "CC"),
        ("SceneCloudCoverage", str(cloud_cover)),
        ("Solar_Azimuth_Angle", "{:.6f}".format(sun_azimuth)),
        ("Solar_Elevation_Angle", "{:.6f}".format(sun_elevation)),
        ("SpheroidCode", "WGS84"),
        ("UTMZoneNumber", str(zone)),
    ]
    core = Group("INVENTORYMETADATA", grouptype="MASTERGROUP", children=[
        Group("ECSDATAGRANULE", [
            Obj("LOCALGRANULEID", granule_id + ".hdf"),
            Obj("PRODUCTIONDATETIME", production.strftime("%Y-%m-%dT%H:%M:%S.000Z")),
            Obj("DAYNIGHTFLAG", "Night" if night else "Day"),
            Obj("REPROCESSINGACTUAL", "processed once"),
        ]),
        Group("SINGLEDATETIME", [
            Obj("CALENDARDATE", acquired.strftime("%Y%m%d")),
            Obj("TIMEOFDAY", acquired.strftime("%H%M%S") + "{:06d}Z".format(acquired.microsecond)),
        ]),
        Group("COLLECTIONDESCRIPTIONCLASS", [
            Obj("SHORTNAME", "AST_L1T"),
            Obj("VERSIONID", Raw("3")),
        ]),
        Group("SPATIALDOMAINCONTAINER", [Group("HORIZONTALSPATIALDOMAINCONTAINER", [
            Group("BOUNDINGRECTANGLE", [
                Obj("WESTBOUNDINGCOORDINATE", Raw("{:.12f}".format(west))),
                Obj("NORTHBOUNDINGCOORDINATE", Raw("{:.12f}".format(north))),
                Obj("EASTBOUNDINGCOORDINATE", Raw("{:.12f}".format(east))),
                Obj("SOUTHBOUNDINGCOORDINATE", Raw("{:.12f}".format(south_b))),
            ]),
        ])]),
        Group("MEASUREDPARAMETER", [Obj("MEASUREDPARAMETERCONTAINER", cls="1", children=[
            Obj("PARAMETERNAME", "QAPercentCloudCover", cls="1"),
            Group("QAFLAGS", cls="1", children=[Obj("QAPERCENTCLOUDCOVER", Raw(str(cloud_cover)), cls="1")]),
        ])]),
        additional_attributes(psas),
        Group("INPUTGRANULE", [Obj("INPUTPOINTER", "ASTL1A " + acquired.strftime("%y%m%d%H%M%S"))]),
    ])
    attrs = [("productmetadata.0", to_odl(pm0)), ("productmetadata.1", to_odl(pm1))]
    if "VNIR" in subsystems:
        attrs.append(("productmetadata.v", _band_group("VNIR", VNIR_BANDS, ucc, sizes, zone, 1)))
    if "SWIR" in subsystems:
        attrs.append(("productmetadata.s", _band_group("SWIR", SWIR_BANDS, ucc, sizes, zone, 1)))
    if "TIR" in subsystems:
        attrs.append(("productmetadata.t", _band_group("TIR", TIR_BANDS, ucc, sizes, zone, 2)))
    attrs.append(("coremetadata.0", to_odl(core)))
    return attrs
