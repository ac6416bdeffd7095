"""The AST_L1T reader on synthetic granules: values, georeference and specific errors."""
from __future__ import annotations

import re
import shutil
from datetime import date

import pytest
from pyhdf.SD import SD, SDC

from gmi_engine.aster.reader import open_granule
from gmi_engine.errors import GmiError, GmiFileError, MetadataValueError, MissingMetadataError, NotAsterL1TError
from gmi_engine.ingest import granule_meta
from gmi_engine.synth.aster import load_truth


def test_reader_values_match_the_truth(granule_path):
    path = granule_path("north")
    g = open_granule(path)
    truth = load_truth(path)
    assert g.granule_id == path.stem
    assert g.acquired.isoformat() == "2006-09-06T18:02:42+00:00"
    assert g.sun_azimuth == pytest.approx(truth["sun"]["azimuth"], abs=1e-6)
    assert g.sun_elevation == pytest.approx(truth["sun"]["elevation"], abs=1e-6)
    assert g.sun_zenith == pytest.approx(90 - truth["sun"]["elevation"], abs=1e-6)
    assert g.pointing == {"VNIR": 2.5, "SWIR": 2.46, "TIR": 2.49}
    assert set(g.bands) == {"01", "02", "3N", "04", "05", "06", "07", "08", "09",
                            "10", "11", "12", "13", "14"}
    assert g.bands["3N"].incl == pytest.approx(truth["ucc"]["3N"])
    assert g.utm_zone == 12 and not g.south and g.epsg == 32612
    assert g.swir_usable
    assert len(g.footprint_lonlat) == 4
    c = g.corners
    assert g.geotransform("SWIR") == (c.ul_easting - 15, 30.0, 0.0, c.ul_northing + 15, 0.0, -30.0)


def test_south_geotransform_adds_the_false_northing(granule_path):
    g = open_granule(granule_path("south"))
    assert g.south and g.epsg == 32753
    gt = g.geotransform("VNIR")
    assert gt[3] == pytest.approx(g.corners.ul_northing + 10_000_000 + 7.5)


def test_post_2008_granule_is_flagged(granule_path):
    assert not open_granule(granule_path("post2008")).swir_usable
    assert open_granule(granule_path("north")).swir_usable


def _copy_with_attr(src, dst, name, edit):
    shutil.copy(src, dst)
    sd = SD(str(dst), SDC.WRITE)
    try:
        text = sd.attributes()[name]
        sd.attr(name).set(SDC.CHAR8, edit(text))
    finally:
        sd.end()
    return dst


def test_missing_key_names_file_and_key(granule_path, tmp_path):
    src = granule_path("north")
    bad = _copy_with_attr(src, tmp_path / src.name, "productmetadata.1",
                          lambda text: text.replace("UPPERLEFTM", "UPPERLEFTX"))
    with pytest.raises(MissingMetadataError) as err:
        open_granule(bad)
    assert err.value.key == "UPPERLEFTM" and str(bad) in str(err.value)
    assert isinstance(err.value, ValueError) and isinstance(err.value, GmiError)


def test_malformed_value_names_file_key_and_value(granule_path, tmp_path):
    src = granule_path("north")
    bad = _copy_with_attr(src, tmp_path / src.name, "productmetadata.0",
                          lambda text: text.replace('"01", "NOR"', '"01", "XYZ"'))
    with pytest.raises(MetadataValueError, match=r"GAIN\.1.*01, XYZ"):
        open_granule(bad)


def test_non_l1t_hdf_is_rejected(tmp_path):
    from gmi_engine.synth.modis import write_mcd19a2

    path = write_mcd19a2(tmp_path, 8, 5, date(2006, 9, 6), size=20)
    with pytest.raises(NotAsterL1TError, match="SHORTNAME is 'MCD19A2'"):
        open_granule(path)


def test_not_hdf_and_truncated_files_raise_file_errors(granule_path, tmp_path):
    text = tmp_path / "AST_L1T_fake.hdf"
    text.write_text("not an hdf file")
    with pytest.raises(NotAsterL1TError, match="not an HDF4 file"):
        open_granule(text)
    src = granule_path("north")
    truncated = tmp_path / src.name
    truncated.write_bytes(src.read_bytes()[:4096])
    with pytest.raises(GmiFileError) as err:
        open_granule(truncated)
    assert str(truncated) in str(err.value) and isinstance(err.value, OSError)
    with pytest.raises(GmiFileError, match="no such file"):
        open_granule(tmp_path / "missing.hdf")


def test_v31_granule_name_and_versionid_are_read_and_recorded(granule_path, tmp_path):
    src = granule_path("north")
    assert open_granule(src).version == "003"
    name = src.name.replace("AST_L1T_003", "AST_L1T_031", 1)
    versionid = r"(OBJECT += VERSIONID\s+NUM_VAL += 1\s+VALUE += )3"
    v31 = _copy_with_attr(src, tmp_path / name, "coremetadata.0",
                          lambda text: re.sub(versionid, r'\g<1>"3.1"', text))
    g = open_granule(v31)
    assert g.version == "031" and g.metadata["VERSIONID"].strip('"') == "3.1"
    assert g.granule_id == name[:-4] and g.acquired.isoformat() == "2006-09-06T18:02:42+00:00"
    assert granule_meta(g)["version"] == "031"  # what ingest writes into every source row


# --- real downloads (issue 21): files rewritten to the forms found in real products -------------

_GAIN_CLASS = re.compile(r'(OBJECT += GAIN\n)\s+CLASS += "\d+"\n')


def test_gain_keys_without_class_suffix_are_parsed(granule_path, tmp_path):
    """``GAIN=01, HGH`` (no ``.N``): every GAIN object without CLASS; GDAL lists them all under one key."""
    src = granule_path("mixed_gains")
    expected = open_granule(src).gains
    bare = _copy_with_attr(src, tmp_path / src.name, "productmetadata.0", lambda t: _GAIN_CLASS.sub(r"\1", t))
    from osgeo import gdal

    listed = [item for item in gdal.Open(str(bare)).GetMetadata_List() if item.startswith("GAIN")]
    assert listed and all(item.startswith("GAIN=") for item in listed)  # the rewrite is the real form
    assert open_granule(bare).gains == expected and expected["04"] == "LO1"


def test_empty_gain_table_with_image_data_is_an_error(granule_path, tmp_path):
    src = granule_path("north")
    no_gains = _copy_with_attr(src, tmp_path / src.name, "productmetadata.0",
                               lambda t: re.sub(r"OBJECT += GAIN\n.*?END_OBJECT += GAIN\n", "", t, flags=re.S))
    with pytest.raises(MissingMetadataError) as err:
        open_granule(no_gains)
    assert err.value.key == "GAIN" and str(no_gains) in str(err.value)


def _pointing_group(pairs) -> str:
    objs = []
    for i, (sensor, angle) in enumerate(pairs, start=1):
        for name, value in (("SENSORNAME", '"{}"'.format(sensor)), ("POINTINGANGLE", angle)):
            objs.append('    OBJECT                 = {0}\n      CLASS                  = "{1}"\n'
                        '      NUM_VAL                = 1\n      VALUE                  = {2}\n'
                        '    END_OBJECT             = {0}\n\n'.format(name, i, value))
    return "GROUP                  = POINTINGANGLES\n\n" + "".join(objs) + "  END_GROUP              = POINTINGANGLES"


@pytest.mark.parametrize("case, pairs, expected", [
    ("night_tir", [("TIR", "2.490")], {"TIR": 2.49}),
    ("no_swir", [("VNIR", "5.721"), ("TIR", "5.709")], {"VNIR": 5.721, "TIR": 5.709}),
])
def test_pointing_angles_follow_the_sensor_named(granule_path, tmp_path, case, pairs, expected):
    """TIR-only and no-SWIR granules: POINTINGANGLE.1 is the TIR (or .2 the TIR) when SENSORNAME says so."""
    src = granule_path(case)
    group = re.compile(r"GROUP += POINTINGANGLES\n.*?END_GROUP += POINTINGANGLES", re.S)
    real = _copy_with_attr(src, tmp_path / src.name, "productmetadata.0",
                           lambda t: group.sub(lambda _m: _pointing_group(pairs), t))
    assert open_granule(real).pointing == expected
