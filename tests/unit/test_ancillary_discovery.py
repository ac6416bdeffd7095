"""The one rule for ancillary file names: ancillary.discover and the product patterns."""
from __future__ import annotations

from pathlib import Path

from gmi_engine.ancillary import Ancillaries, discover
from gmi_engine.ancillary.discovery import GDEM_PATTERNS, MOD09A1_FOLDER_PATTERNS, product
from gmi_engine.aster.names import granule_id, is_granule_file
from gmi_engine.paths import expand


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_discover_sorts_a_folder_by_product(tmp_path):
    _touch(tmp_path, "MCD19A2.A2006249.h08v05.061.hdf", "mcd19a2.a2006250.h08v05.061.hdf",
           "MOD09A1.A2006241.h08v05.061.hdf", "ASTGTMV003_N32W108_dem.tif", "ASTER_GDEM_N32W109.tif",
           "GDEM_N33W108.tif", "srtm_like_dem.tif", "other.tif", "notes.txt",
           "AST_L1T_00309062006180242_20150516014601_17781.hdf", "sub/ASTGTMV003_N31W108_dem.tif")
    found = discover(tmp_path)
    assert [p.name for p in found.mcd19a2] == ["MCD19A2.A2006249.h08v05.061.hdf", "mcd19a2.a2006250.h08v05.061.hdf"]
    assert [p.name for p in found.modis_ref] == ["MOD09A1.A2006241.h08v05.061.hdf"]
    assert sorted(p.name for p in found.gdem) == ["ASTER_GDEM_N32W109.tif", "ASTGTMV003_N31W108_dem.tif",
                                                  "ASTGTMV003_N32W108_dem.tif", "GDEM_N33W108.tif",
                                                  "srtm_like_dem.tif"]
    assert found.describe() == "2 MCD19A2 · 1 MOD09A1 · 5 GDEM" and not found.empty


def test_discover_depth_and_missing_folders(tmp_path):
    _touch(tmp_path, "a/MCD19A2.A2006249.h08v05.061.hdf", "a/b/ASTGTMV003_N32W108_dem.tif")
    assert discover(tmp_path, max_depth=0).empty
    assert discover(tmp_path, max_depth=1).describe() == "1 MCD19A2 · 0 MOD09A1 · 0 GDEM"
    assert discover(tmp_path, max_depth=2).describe() == "1 MCD19A2 · 0 MOD09A1 · 1 GDEM"
    assert discover(tmp_path / "missing") == Ancillaries()
    assert discover(tmp_path / "a" / "MCD19A2.A2006249.h08v05.061.hdf").empty


def test_product_names():
    assert product("x/MCD19A2.A2006249.h08v05.061.hdf") == "mcd19a2"
    assert product("MOD09A1.A2006241.h08v05.061.HDF") == "modis_ref"
    assert product("ASTGTMV003_N32W108_dem.tif") == "gdem"
    assert product("ASTGTMV003_N32W108_num.tif") == "gdem"
    assert product("other.tif") is None and product("MOD09A1.tif") is None


def test_both_gdem_names_pass_a_folder_given_to_dem_once_each(tmp_path):
    _touch(tmp_path, "ASTGTMV003_N32W108_dem.tif", "ASTGTM2_N33W108.tif", "cut_dem.tif", "other.tif")
    assert [p.name for p in expand([str(tmp_path)], GDEM_PATTERNS)] == [
        "ASTGTM2_N33W108.tif", "ASTGTMV003_N32W108_dem.tif", "cut_dem.tif"]
    assert len(expand([str(tmp_path)], MOD09A1_FOLDER_PATTERNS)) == 4  # a reference folder: every GeoTIFF


def test_granule_names():
    name = "AST_L1T_00309062006180242_20150516014601_17781.hdf"
    assert granule_id("some/dir/" + name) == name[:-4]
    assert granule_id("AST_L1T_x.hdf") is None
    assert is_granule_file(name) and is_granule_file("ast_l1t_x.HDF")
    assert not is_granule_file("MCD19A2.A2006249.h08v05.061.hdf") and not is_granule_file(name[:-4] + ".tif")
