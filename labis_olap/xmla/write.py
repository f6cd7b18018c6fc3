"""Answers written as XMLA: a rowset (`root` of `row`s after its schema) and an `mddataset`
(OlapInfo, Axes, sparse CellData with axis 0 varying fastest).

DisplayInfo, as Excel reads it: the member's child count in the low 16 bits, 0x10000 if the
next tuple shows one of its children at the same position (drilled down), 0x20000 if the member
has the same parent as the one before it. The slicer axis's members carry no child count
(clients draw no slicer; counting would list a level of every hierarchy not on an axis).
"""

from __future__ import annotations

import decimal
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from lxml import etree

from ..mdx import MdxResult
from ..mdx.names import MEASURES, Catalog, Member
from .envelope import NS_MDDATASET, NS_ROWSET, NS_XSD, NS_XSI
from .rowsets import Column
from .xsd import mddataset_schema, rowset_schema

XSI_TYPE = f"{{{NS_XSI}}}type"
INTRINSIC = (
    "PARENT_UNIQUE_NAME",
    "HIERARCHY_UNIQUE_NAME",
    "LEVEL_UNIQUE_NAME",
    "LEVEL_NUMBER",
    "MEMBER_UNIQUE_NAME",
    "MEMBER_CAPTION",
    "MEMBER_NAME",
    "MEMBER_KEY",
    "MEMBER_TYPE",
    "CHILDREN_CARDINALITY",
    "PARENT_LEVEL",
    "PARENT_COUNT",
    "DIMENSION_UNIQUE_NAME",
)
"""The member properties `DIMENSION PROPERTIES` may ask for."""
PROPERTY_TYPES = {
    "LEVEL_NUMBER": "xsd:int",
    "MEMBER_TYPE": "xsd:int",
    "CHILDREN_CARDINALITY": "xsd:unsignedInt",
    "PARENT_LEVEL": "xsd:unsignedInt",
    "PARENT_COUNT": "xsd:unsignedInt",
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def rowset(columns: Sequence[Column], rows: Iterable[dict[str, Any]]) -> etree._Element:
    """`root` with the schema of `columns` and a `row` per dict (None values left out)."""
    root = etree.Element(f"{{{NS_ROWSET}}}root", nsmap={None: NS_ROWSET, "xsd": NS_XSD, "xsi": NS_XSI})
    root.append(rowset_schema(tuple(columns)))
    names = [c.name for c in columns]
    for r in rows:
        row = etree.SubElement(root, f"{{{NS_ROWSET}}}row")
        for name in names:
            value = r.get(name)
            if value is not None:
                etree.SubElement(row, f"{{{NS_ROWSET}}}{name}").text = _text(value)
    return root


def value_type(value: Any) -> tuple[str, str]:
    """A cell value's xsi:type and lexical form."""
    if isinstance(value, bool):
        return "xsd:boolean", "true" if value else "false"
    if isinstance(value, int):
        return ("xsd:int" if -(2**31) <= value < 2**31 else "xsd:long"), str(value)
    if isinstance(value, float | decimal.Decimal):
        return "xsd:double", _number(value)
    return "xsd:string", str(value)


def _number(value: float | decimal.Decimal) -> str:
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return "NaN" if value.is_nan() else ("INF" if value > 0 else "-INF")
        return format(value, "f")
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "INF" if value > 0 else "-INF"
    return repr(value)


def property_names(requested: Sequence[str]) -> list[str]:
    """The intrinsic member properties asked for, in order, without repeats; a property this
    server does not have is refused (by the caller) rather than left out silently."""
    out: list[str] = []
    for p in requested:
        if p not in out:
            out.append(p)
    return out


class _Members:
    """Per-member facts the axes need (child counts read once per level)."""

    def __init__(self, result: MdxResult) -> None:
        self.result, self.cat = result, result.catalog
        self._counts: dict[tuple[Any, int], Counter[tuple[str | None, ...]]] = {}

    def children(self, m: Member) -> int:
        cat: Catalog = self.cat
        if m.is_measure or m.calc is not None:
            return 0
        h = cat.hiers[m.hier]
        if m.depth >= len(h.levels):
            return 0
        if h.is_time and m.depth > 0:
            return len(cat.children(m))
        key = (m.hier, m.depth)
        counts = self._counts.get(key)
        if counts is None:
            counts = Counter(c.path[: m.depth] for c in cat.level(m.hier, m.depth + 1))
            self._counts[key] = counts
        return counts.get(m.path, 0)


def _is_child(child: Member, parent: Member) -> bool:
    return (
        child.hier == parent.hier
        and not child.is_measure
        and child.calc is None
        and child.depth == parent.depth + 1
        and child.path[: parent.depth] == parent.path
    )


def mddataset(
    result: MdxResult, props: Sequence[Sequence[str]], default_measure: str | None
) -> etree._Element:
    """The mddataset of an MDX result; `props[k]` are the member properties axis k asked for."""
    M = f"{{{NS_MDDATASET}}}"
    root = etree.Element(M + "root", nsmap={None: NS_MDDATASET, "xsd": NS_XSD, "xsi": NS_XSI})
    root.append(mddataset_schema())
    facts = _Members(result)
    cat = result.catalog
    info = etree.SubElement(root, M + "OlapInfo")
    cube = etree.SubElement(etree.SubElement(info, M + "CubeInfo"), M + "Cube")
    etree.SubElement(cube, M + "CubeName").text = result.cube
    axes_info = etree.SubElement(info, M + "AxesInfo")
    axes = etree.SubElement(root, M + "Axes")

    on_axes = {hk for ax in result.axes for hk in ax.hierarchies}
    slicer_members: dict[Any, Member] = {m.hier: m for m in result.slicer}
    slicer_hiers = [hk for hk in [(MEASURES, MEASURES), *cat.hiers] if hk not in on_axes]
    slicer_tuple: list[Member] = []
    for hk in slicer_hiers:
        if hk in slicer_members:
            slicer_tuple.append(slicer_members[hk])
        elif hk == (MEASURES, MEASURES):
            if default_measure is None:
                continue
            slicer_tuple.append(cat.measure(default_measure))
        else:
            slicer_tuple.append(cat.all_member(hk))
    layouts = [
        (f"Axis{ax.ordinal}", ax.hierarchies, ax.tuples, props[i] if i < len(props) else ())
        for i, ax in enumerate(result.axes)
    ]
    layouts.append(("SlicerAxis", [m.hier for m in slicer_tuple], [tuple(slicer_tuple)], ()))

    for name, hiers, tuples, wanted in layouts:
        axis_info = etree.SubElement(axes_info, M + "AxisInfo", name=name)
        for hk in hiers:
            hname = result.hier_json(hk)["unique_name"]
            h_info = etree.SubElement(axis_info, M + "HierarchyInfo", name=hname)
            for tag, prop, kind in (
                ("UName", "MEMBER_UNIQUE_NAME", "xsd:string"),
                ("Caption", "MEMBER_CAPTION", "xsd:string"),
                ("LName", "LEVEL_UNIQUE_NAME", "xsd:string"),
                ("LNum", "LEVEL_NUMBER", "xsd:int"),
                ("DisplayInfo", "DISPLAY_INFO", "xsd:unsignedInt"),
            ):
                etree.SubElement(h_info, M + tag, name=f"{hname}.[{prop}]", type=kind)
            for prop in wanted:
                etree.SubElement(
                    h_info, M + prop, name=f"{hname}.[{prop}]", type=PROPERTY_TYPES.get(prop, "xsd:string")
                )
        axis = etree.SubElement(axes, M + "Axis", name=name)
        tuples_el = etree.SubElement(axis, M + "Tuples")
        for i, tup in enumerate(tuples):
            t_el = etree.SubElement(tuples_el, M + "Tuple")
            for pos, m in enumerate(tup):
                prev = tuples[i - 1][pos] if i > 0 and pos < len(tuples[i - 1]) else None
                nxt = tuples[i + 1][pos] if i + 1 < len(tuples) and pos < len(tuples[i + 1]) else None
                _member(t_el, M, result, facts, m, prev, nxt, wanted, counted=name != "SlicerAxis")

    cell_info = etree.SubElement(info, M + "CellInfo")
    etree.SubElement(cell_info, M + "Value", name="VALUE")
    etree.SubElement(cell_info, M + "FmtValue", name="FORMATTED_VALUE")
    etree.SubElement(cell_info, M + "FormatString", name="FORMAT_STRING")
    data = etree.SubElement(root, M + "CellData")
    for ordinal, cell in enumerate(result.cells):
        if cell.value is None and cell.status is None:
            continue
        c = etree.SubElement(data, M + "Cell", CellOrdinal=str(ordinal))
        if cell.value is not None:  # a withheld cell: no value, its status shown (Excel shows FmtValue)
            kind, text = value_type(cell.value)
            v = etree.SubElement(c, M + "Value")
            v.set(XSI_TYPE, kind)
            v.text = text
        etree.SubElement(c, M + "FmtValue").text = cell.formatted
        fmt = cell.format
        if fmt:
            etree.SubElement(c, M + "FormatString").text = fmt
    return root


def _member(
    parent: etree._Element,
    M: str,
    result: MdxResult,
    facts: _Members,
    m: Member,
    prev: Member | None,
    nxt: Member | None,
    wanted: Sequence[str],
    counted: bool = True,
) -> None:
    j = result.member_json(m)
    el = etree.SubElement(parent, M + "Member", Hierarchy=result.hier_json(m.hier)["unique_name"])
    etree.SubElement(el, M + "UName").text = j["unique_name"]
    etree.SubElement(el, M + "Caption").text = j["caption"]
    etree.SubElement(el, M + "LName").text = j["level"]
    etree.SubElement(el, M + "LNum").text = str(j["level_number"])
    children = facts.children(m) if counted else 0
    display = min(children, 0xFFFF)
    if nxt is not None and _is_child(nxt, m):
        display |= 0x10000
    if (
        prev is not None
        and not m.is_measure
        and prev.hier == m.hier
        and prev.path[:-1] == m.path[:-1]
        and prev.depth == m.depth
    ):
        display |= 0x20000
    etree.SubElement(el, M + "DisplayInfo").text = str(display)
    for prop in wanted:
        value = _property(result, facts, m, j, prop, children)
        if value is not None:
            etree.SubElement(el, M + prop).text = value


def _property(
    result: MdxResult, facts: _Members, m: Member, j: dict[str, Any], prop: str, children: int
) -> str | None:
    if prop == "PARENT_UNIQUE_NAME":
        return j["parent_unique_name"]
    if prop == "HIERARCHY_UNIQUE_NAME":
        return str(j["hierarchy"])
    if prop == "LEVEL_UNIQUE_NAME":
        return str(j["level"])
    if prop == "LEVEL_NUMBER":
        return str(j["level_number"])
    if prop == "MEMBER_UNIQUE_NAME":
        return str(j["unique_name"])
    if prop in ("MEMBER_CAPTION", "MEMBER_NAME"):
        return str(j["caption"])
    if prop == "MEMBER_KEY":
        return "" if not m.path or m.path[-1] is None else str(m.path[-1])
    if prop == "MEMBER_TYPE":
        return "3" if m.is_measure else "4" if m.calc is not None else "2" if m.is_all else "1"
    if prop == "CHILDREN_CARDINALITY":
        return str(children)
    if prop == "PARENT_LEVEL":
        return str(max(int(j["level_number"]) - 1, 0))
    if prop == "PARENT_COUNT":
        return "1" if j["parent_unique_name"] else "0"
    if prop == "DIMENSION_UNIQUE_NAME":
        return f"[{m.hier[0]}]"
    return None
