"""Write ECS ODL metadata text (the ``coremetadata.0`` / ``productmetadata.*`` attributes).

The layout follows the SDP toolkit's: keywords padded to 23 characters, two more spaces per
nesting level, ``CLASS``/``NUM_VAL``/``VALUE`` lines inside objects (formats.md §1.4). Numbers
must be given already formatted (:class:`Raw`) because readers see the text exactly as written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence, Union


@dataclass(frozen=True)
class Raw:
    """A value written without quotes, e.g. a number formatted by the caller."""

    text: str


Scalar = Union[str, int, Raw]
Value = Union[Scalar, Sequence[Scalar]]


@dataclass
class Obj:
    """An ODL OBJECT with a VALUE, or a container OBJECT holding children."""

    name: str
    value: Value | None = None
    cls: str | None = None
    children: list = field(default_factory=list)


@dataclass
class Group:
    """An ODL GROUP."""

    name: str
    children: list = field(default_factory=list)
    cls: str | None = None
    grouptype: str | None = None


def _scalar(v: Scalar) -> str:
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, bool):
        raise TypeError("ODL has no booleans")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        if not v:
            raise ValueError("empty ODL strings are misread by GDAL (formats.md §1.4 rule 7)")
        return '"{}"'.format(v)
    raise TypeError("unsupported ODL value {!r}; format numbers with Raw".format(v))


def format_value(v: Value) -> tuple[str, int]:
    """Return the VALUE text and NUM_VAL for a scalar or a list."""
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_scalar(x) for x in v) + ")", len(v)
    return _scalar(v), 1


def _line(level: int, key: str, value: str) -> str:
    return "{}{:<23}= {}".format("  " * level, key, value)


def _emit(node, level: int, out: list) -> None:
    if isinstance(node, Group):
        out.append(_line(level, "GROUP", node.name))
        out.append("")
        if node.grouptype:
            out.append(_line(level + 1, "GROUPTYPE", node.grouptype))
            out.append("")
        if node.cls is not None:
            out.append(_line(level + 1, "CLASS", '"{}"'.format(node.cls)))
            out.append("")
        for child in node.children:
            _emit(child, level + 1, out)
        out.append(_line(level, "END_GROUP", node.name))
        out.append("")
    elif isinstance(node, Obj):
        out.append(_line(level, "OBJECT", node.name))
        if node.cls is not None:
            out.append(_line(level + 1, "CLASS", '"{}"'.format(node.cls)))
        if node.value is not None:
            text, n = format_value(node.value)
            out.append(_line(level + 1, "NUM_VAL", str(n)))
            out.append(_line(level + 1, "VALUE", text))
        for child in node.children:
            _emit(child, level + 1, out)
        out.append(_line(level, "END_OBJECT", node.name))
        out.append("")
    else:
        raise TypeError("not an ODL node: {!r}".format(node))


def to_odl(top: Group) -> str:
    """Render one top-level group as an ODL document ending in ``END``."""
    out: list = [""]
    _emit(top, 0, out)
    out.append("END")
    out.append("")
    return "\n".join(out)


def additional_attributes(pairs: Sequence[tuple[str, str]]) -> Group:
    """The ECS ADDITIONALATTRIBUTES group: GDAL flattens each pair to ``name=value``."""
    containers = []
    for i, (name, value) in enumerate(pairs, start=1):
        cls = str(i)
        containers.append(Obj("ADDITIONALATTRIBUTESCONTAINER", cls=cls, children=[
            Obj("ADDITIONALATTRIBUTENAME", name, cls=cls),
            Group("INFORMATIONCONTENT", cls=cls, children=[Obj("PARAMETERVALUE", value, cls=cls)]),
        ]))
    return Group("ADDITIONALATTRIBUTES", containers)
