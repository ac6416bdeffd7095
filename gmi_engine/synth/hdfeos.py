"""Write HDF-EOS2 swath and grid files with pyhdf alone (no HDF-EOS C library).

GDAL 3.6 opens such a file exactly like a library-made one as long as it has the Vgroups of the
right classes, SDS dimension names of the form ``Dim:Object`` and a ``StructMetadata.0`` text
(formats.md §1.2, §1.3, §1.6). Field order in StructMetadata decides the subdataset order.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence, Union

import numpy as np
import pyhdf.V  # noqa: F401  (registers the V interface used by HDF.vgstart)
from pyhdf.HDF import HC, HDF
from pyhdf.SD import SD, SDC

_SDC_TYPES = {
    np.dtype(np.uint8): (SDC.UINT8, "DFNT_UINT8"),
    np.dtype(np.int8): (SDC.INT8, "DFNT_INT8"),
    np.dtype(np.uint16): (SDC.UINT16, "DFNT_UINT16"),
    np.dtype(np.int16): (SDC.INT16, "DFNT_INT16"),
    np.dtype(np.uint32): (SDC.UINT32, "DFNT_UINT32"),
    np.dtype(np.int32): (SDC.INT32, "DFNT_INT32"),
    np.dtype(np.float32): (SDC.FLOAT32, "DFNT_FLOAT32"),
    np.dtype(np.float64): (SDC.FLOAT64, "DFNT_FLOAT64"),
}

AttrValue = Union[str, np.generic, np.ndarray]


@dataclass
class Field:
    """One SDS: its name, data, dimension names (without the ``:Object`` suffix) and attributes."""

    name: str
    data: np.ndarray
    dims: Sequence[str]
    attrs: dict = field(default_factory=dict)


@dataclass
class DimensionMap:
    """A swath dimension map from a geolocation dimension to a data dimension."""

    geo_dim: str
    data_dim: str
    offset: int
    increment: int


@dataclass
class Swath:
    """An HDF-EOS swath (``class='SWATH'``)."""

    name: str
    dims: dict
    data_fields: list
    geo_fields: list = field(default_factory=list)
    dim_maps: list = field(default_factory=list)


@dataclass
class Grid:
    """An HDF-EOS grid (``class='GRID'``); corners are the outer edges of the corner pixels."""

    name: str
    xdim: int
    ydim: int
    upper_left: tuple
    lower_right: tuple
    fields: list
    extra_dims: dict = field(default_factory=dict)
    projection: str = "GCTP_SNSOID"
    proj_params: tuple = (6371007.181, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    sphere_code: int = -1


def _hdf_type(dtype: np.dtype) -> tuple:
    try:
        return _SDC_TYPES[np.dtype(dtype)]
    except KeyError:
        raise TypeError("no HDF4 type for numpy dtype {}".format(dtype)) from None


def _set_attr(obj, name: str, value: AttrValue) -> None:
    attr = obj.attr(name)
    if isinstance(value, str):
        attr.set(SDC.CHAR8, value)
        return
    arr = np.atleast_1d(np.asarray(value))
    sdc_type, _ = _hdf_type(arr.dtype)
    attr.set(sdc_type, arr.tolist() if arr.size > 1 else arr.tolist()[0])


def _block(lines: list, level: int, text: str) -> None:
    lines.append("\t" * level + text)


def _fields_text(lines: list, group: str, kind: str, fields: Sequence[Field], level: int) -> None:
    _block(lines, level, "GROUP={}".format(group))
    for i, f in enumerate(fields, start=1):
        _block(lines, level + 1, "OBJECT={}_{}".format(kind, i))
        _block(lines, level + 2, '{}Name="{}"'.format(kind, f.name))
        _block(lines, level + 2, "DataType={}".format(_hdf_type(f.data.dtype)[1]))
        _block(lines, level + 2, "DimList=({})".format(",".join('"{}"'.format(d) for d in f.dims)))
        _block(lines, level + 1, "END_OBJECT={}_{}".format(kind, i))
    _block(lines, level, "END_GROUP={}".format(group))


def _dimensions_text(lines: list, dims: dict, level: int) -> None:
    _block(lines, level, "GROUP=Dimension")
    for i, (name, size) in enumerate(dims.items(), start=1):
        _block(lines, level + 1, "OBJECT=Dimension_{}".format(i))
        _block(lines, level + 2, 'DimensionName="{}"'.format(name))
        _block(lines, level + 2, "Size={}".format(size))
        _block(lines, level + 1, "END_OBJECT=Dimension_{}".format(i))
    _block(lines, level, "END_GROUP=Dimension")


def _end_object_text(lines: list, group: str, data_fields: Sequence[Field]) -> None:
    """A swath's or grid's data fields, its (empty) MergedFields group and its END_GROUP line."""
    _fields_text(lines, "DataField", "DataField", data_fields, 2)
    _block(lines, 2, "GROUP=MergedFields")
    _block(lines, 2, "END_GROUP=MergedFields")
    _block(lines, 1, "END_GROUP={}".format(group))


def struct_metadata(objects: Sequence[Union[Swath, Grid]]) -> str:
    """The ``StructMetadata.0`` text for the given swaths and grids (formats.md §1.3)."""
    swaths = [o for o in objects if isinstance(o, Swath)]
    grids = [o for o in objects if isinstance(o, Grid)]
    lines: list = ["GROUP=SwathStructure"]
    for n, s in enumerate(swaths, start=1):
        _block(lines, 1, "GROUP=SWATH_{}".format(n))
        _block(lines, 2, 'SwathName="{}"'.format(s.name))
        _dimensions_text(lines, s.dims, 2)
        _block(lines, 2, "GROUP=DimensionMap")
        for i, m in enumerate(s.dim_maps, start=1):
            _block(lines, 3, "OBJECT=DimensionMap_{}".format(i))
            _block(lines, 4, 'GeoDimension="{}"'.format(m.geo_dim))
            _block(lines, 4, 'DataDimension="{}"'.format(m.data_dim))
            _block(lines, 4, "Offset={}".format(m.offset))
            _block(lines, 4, "Increment={}".format(m.increment))
            _block(lines, 3, "END_OBJECT=DimensionMap_{}".format(i))
        _block(lines, 2, "END_GROUP=DimensionMap")
        _block(lines, 2, "GROUP=IndexDimensionMap")
        _block(lines, 2, "END_GROUP=IndexDimensionMap")
        _fields_text(lines, "GeoField", "GeoField", s.geo_fields, 2)
        _end_object_text(lines, "SWATH_{}".format(n), s.data_fields)
    lines.append("END_GROUP=SwathStructure")
    lines.append("GROUP=GridStructure")
    for n, g in enumerate(grids, start=1):
        _block(lines, 1, "GROUP=GRID_{}".format(n))
        _block(lines, 2, 'GridName="{}"'.format(g.name))
        _block(lines, 2, "XDim={}".format(g.xdim))
        _block(lines, 2, "YDim={}".format(g.ydim))
        _block(lines, 2, "UpperLeftPointMtrs=({:.6f},{:.6f})".format(*g.upper_left))
        _block(lines, 2, "LowerRightMtrs=({:.6f},{:.6f})".format(*g.lower_right))
        _block(lines, 2, "Projection={}".format(g.projection))
        params = ",".join("{:.6f}".format(p) if isinstance(p, float) else str(p) for p in g.proj_params)
        _block(lines, 2, "ProjParams=({})".format(params))
        _block(lines, 2, "SphereCode={}".format(g.sphere_code))
        _block(lines, 2, "GridOrigin=HDFE_GD_UL")
        _dimensions_text(lines, g.extra_dims, 2)
        _end_object_text(lines, "GRID_{}".format(n), g.fields)
    lines.append("END_GROUP=GridStructure")
    lines.append("GROUP=PointStructure")
    lines.append("END_GROUP=PointStructure")
    lines.append("END")
    return "\n".join(lines) + "\n"


def _write_sds(sd: SD, f: Field, owner: str) -> int:
    sdc_type, _ = _hdf_type(f.data.dtype)
    if len(f.dims) != f.data.ndim:
        raise ValueError("field {}: {} dims for a {}-D array".format(f.name, len(f.dims), f.data.ndim))
    sds = sd.create(f.name, sdc_type, f.data.shape)
    for i, d in enumerate(f.dims):
        sds.dim(i).setname("{}:{}".format(d, owner))
    for name, value in f.attrs.items():
        _set_attr(sds, name, value)
    sds[:] = np.ascontiguousarray(f.data)
    ref = sds.ref()
    sds.endaccess()
    return ref


def write_hdfeos(path: Union[str, os.PathLike], objects: Sequence[Union[Swath, Grid]],
                 global_attrs: Sequence[tuple] = (), hdfeos_version: str = "HDFEOS_V2.19") -> None:
    """Write ``objects`` to a new HDF4 file at ``path``.

    ``global_attrs`` are (name, text) pairs written after ``HDFEOSVersion`` and
    ``StructMetadata.0``, in the given order (real ASTER files write ``coremetadata.0`` last).
    """
    path = os.fspath(path)
    sd = SD(path, SDC.WRITE | SDC.CREATE | SDC.TRUNC)
    refs: dict = {}
    try:
        for obj in objects:
            if isinstance(obj, Swath):
                refs[obj.name] = {
                    "Geolocation Fields": [_write_sds(sd, f, obj.name) for f in obj.geo_fields],
                    "Data Fields": [_write_sds(sd, f, obj.name) for f in obj.data_fields],
                    "Swath Attributes": [],
                }
            else:
                refs[obj.name] = {
                    "Data Fields": [_write_sds(sd, f, obj.name) for f in obj.fields],
                    "Grid Attributes": [],
                }
        _set_attr(sd, "HDFEOSVersion", hdfeos_version)
        _set_attr(sd, "StructMetadata.0", struct_metadata(objects))
        for name, text in global_attrs:
            _set_attr(sd, name, text)
    finally:
        sd.end()
    hdf = HDF(path, HC.WRITE)
    vg = hdf.vgstart()
    try:
        for obj in objects:
            kind = "SWATH" if isinstance(obj, Swath) else "GRID"
            top = vg.create(obj.name)
            top._class = kind
            for child_name, child_refs in refs[obj.name].items():
                child = vg.create(child_name)
                child._class = kind + " Vgroup"
                for ref in child_refs:
                    child.add(HC.DFTAG_NDG, ref)
                top.insert(child)
                child.detach()
            top.detach()
    finally:
        vg.end()
        hdf.close()
