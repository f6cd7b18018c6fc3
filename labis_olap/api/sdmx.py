"""The SDMX front end: a cube's structure as an SDMX-ML 3.0 structure message, its cells as
SDMX-CSV 2.0 observations (docs/sdmx.md).

A cube is one data structure (DSD): one dimension per cube dimension (its name in upper case,
coded by a codelist of the dimension's members at every level), a `MEASURE` dimension coded by
the cube's measures, the time dimension `TIME_PERIOD`, the measure `OBS_VALUE` and the
attributes `UNIT_MEASURE`, `OBS_STATUS` and `CONF_STATUS`. One SDMX observation is one value,
so a cell of several measures is one observation per measure (the `MEASURE` dimension), and an
aggregate of several measures is one file. The cube has a dataflow, and so has each of its
indicators (its data: the cube's aggregate of its one measure under its fixed cuts).

Everything is read through the cube service as the principal may see it: the cube, its
dimensions and measures from `visible_model`, the members from `members`, the cells from
`aggregate` — a hidden cube answers 404, a hidden dimension, measure or member is absent.

The structure message is written here with ElementTree, not with pysdmx's writer: pysdmx's
model holds one name per artefact and writes it as English, and codes without parents, while a
LabIS codelist carries Latvian and English names and each member's parent. The SDMX-CSV file is
written by pysdmx (`pysdmx.io.csv.sdmx20`). tests/test_sdmx.py validates the structure against
the SDMX-ML 3.0 schemas and reads both with pysdmx and sdmx1.
"""

from __future__ import annotations

import datetime as dt
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from fastapi import Response

from ..errors import QueryError
from ..model.definition import Model
from ..model.schema import Cube, Dimension, Indicator, Text, TimeRole
from ..query.cell import MembersQuery
from ..service import STATUS, CellSet, CubeService, Principal
from ..service.cellkey import PERTURBED
from .render import BOM, SDMX_CSV_TYPE, jsonable

STRUCTURE_TYPE = "application/vnd.sdmx.structure+xml; version=3.0.0; charset=utf-8"
NS = {
    "mes": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message",
    "str": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/structure",
    "com": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/common",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
LANGS = ("lv", "en")
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)  # the prefixes SDMX messages are read with, not ns0…

TIME_PERIOD, MEASURE, OBS_VALUE = "TIME_PERIOD", "MEASURE", "OBS_VALUE"
UNIT_MEASURE, OBS_STATUS, CONF_STATUS = "UNIT_MEASURE", "OBS_STATUS", "CONF_STATUS"
CONCEPTS: dict[str, tuple[str, str]] = {
    TIME_PERIOD: ("Laika periods", "Time period"),
    MEASURE: ("Rādītājs", "Measure"),
    OBS_VALUE: ("Novērojuma vērtība", "Observation value"),
    UNIT_MEASURE: ("Mērvienība", "Unit of measure"),
    OBS_STATUS: ("Novērojuma statuss", "Observation status"),
    CONF_STATUS: ("Konfidencialitātes statuss", "Confidentiality status"),
}
"""The fixed concepts of every LabIS data structure, with their names (lv, en)."""
OBS_STATUSES: dict[str, tuple[str, str]] = {
    "A": ("Normāla vērtība", "Normal value"),
    "O": ("Trūkstoša vērtība", "Missing value"),
    "E": ("Novērtēta vērtība", "Estimated value"),
}
"""OBS_STATUS codes used, as SDMX's CL_OBS_STATUS names them: a value, none (a cell whose
measure is empty, e.g. a total the role may not see), or an estimate (a count perturbed by
the cell key method, whose CONF_STATUS is then `F`, free for publication)."""
CL_OBS_STATUS = "CL_OBS_STATUS"


@dataclass(frozen=True)
class Ids:
    """The ids of a cube's artefacts (model: the cube's `sdmx:` block, docs/sdmx.md)."""

    agency: str
    flow: str
    version: str

    @classmethod
    def of(cls, cube: Cube) -> Ids:
        ids = cube.sdmx_ids
        assert ids.id is not None
        return cls(ids.agency, ids.id, ids.version)

    @property
    def dsd(self) -> str:
        return f"DSD_{self.flow}"

    @property
    def concepts(self) -> str:
        return f"CS_{self.flow}"

    def codelist(self, component: str) -> str:
        return f"CL_{self.flow}_{component}"

    def ref(self, ident: str) -> str:
        """`AGENCY:ID(VERSION)`, as SDMX-CSV's STRUCTURE_ID names a dataflow."""
        return f"{self.agency}:{ident}({self.version})"

    def urn(self, kind: str, ident: str, item: str | None = None) -> str:
        return f"urn:sdmx:org.sdmx.infomodel.{kind}={self.ref(ident)}" + (f".{item}" if item else "")


def component(alias: str) -> str:
    """A cube dimension's SDMX component id (validated free of clashes: model E130)."""
    return alias.upper()


# --- the structure message ---------------------------------------------------------------------------
@dataclass
class Code:
    id: str
    names: dict[str, str]
    parent: str | None = None
    depth: int = 0
    """Its level's place from the top (parents are written before their children)."""


def structure_response(
    service: CubeService, principal: Principal, cube_name: str, indicator: str | None = None
) -> Response:
    """The SDMX-ML 3.0 structure message of a cube (of an indicator's cube, with only that
    indicator's dataflow), as the principal may see it."""
    model = service.visible_model(principal)
    layout = service.layout(cube_name, principal)  # 404 for a cube the principal may not see
    cube = model.cubes[layout.cube.name]
    inds = [i for i in model.indicators.values() if i.cube == cube.name and indicator in (None, i.code)]
    body = structure_xml(
        model,
        cube,
        inds,
        lambda alias, dim: _codes(service, principal, cube, alias, dim),
        only_indicators=indicator is not None,
    )
    name = f"{cube.sdmx_ids.id}_structure" if indicator is None else f"{indicator}_structure"
    return Response(
        body, media_type=STRUCTURE_TYPE, headers={"Content-Disposition": f'inline; filename="{name}.xml"'}
    )


def _codes(service: CubeService, principal: Principal, cube: Cube, alias: str, dim: Dimension) -> list[Code]:
    """The dimension's members at every level of every hierarchy, as the principal may see them:
    every member that ever existed (a versioned dimension's old members are in old data), named
    and placed under its parent (in the default hierarchy) as it is now, where it still is."""
    codes: dict[str, Code] = {}
    default = dim.hierarchy()
    hierarchies = [default, *(h for h in dim.all_hierarchies if h.name != default.name)]
    for as_of in (None, "now") if dim.is_versioned else (None,):
        for h in hierarchies:
            by_lang = {
                lang: _all_members(
                    service,
                    principal,
                    MembersQuery(cube.name, alias, hierarchy=h.name, lang=lang, as_of=as_of),
                )
                for lang in LANGS
            }
            for i, row in enumerate(by_lang["lv"]):
                parent = None
                for depth, level in enumerate(h.levels):
                    key = row.get(f"{alias}.{level}")
                    if key is None or key == "":
                        break
                    code = codes.setdefault(str(key), Code(str(key), {}, depth=depth))
                    for lang in LANGS:
                        label = by_lang[lang][i].get(f"{alias}.{level}_label")
                        code.names[lang] = str(label) if label not in (None, "") else str(key)
                    if h is default and parent is not None:
                        code.parent = parent
                    parent = str(key)
    return sorted(codes.values(), key=lambda c: c.depth)


def _all_members(service: CubeService, principal: Principal, query: MembersQuery) -> list[dict[str, Any]]:
    """Every member, page by page of the server's record limit (a codelist is not cut)."""
    size = service.limits.max_rows
    if size is None:
        return list(service.members(query, principal).data.to_pylist())
    out: list[dict[str, Any]] = []
    page = 0
    while True:
        rows = service.members(replace(query, page=page, pagesize=size), principal).data.to_pylist()
        out += rows
        if len(rows) < size:
            return out
        page += 1


def structure_xml(
    model: Model,
    cube: Cube,
    indicators: Iterable[Indicator],
    codes_of: Any,
    *,
    only_indicators: bool = False,
    prepared: dt.datetime | None = None,
) -> bytes:
    """The structure message: codelists, concept scheme, dataflows (the cube's, unless
    `only_indicators`, and the indicators'), data structure (the order the SDMX-ML 3.0 schema
    requires). `codes_of(alias, dimension)` lists a dimension's codes."""
    ids = Ids.of(cube)
    root = ET.Element(_n("mes", "Structure"))
    header = _sub(root, "mes", "Header")
    _sub(header, "mes", "ID").text = f"LABIS-{uuid.uuid4().hex[:16]}"
    _sub(header, "mes", "Test").text = "false"
    _sub(header, "mes", "Prepared").text = (prepared or dt.datetime.now(dt.UTC)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    _sub(header, "mes", "Sender", id=ids.agency)
    structures = _sub(root, "mes", "Structures")

    dims = [(link.alias, model.dimensions[link.dimension]) for link in cube.dimensions]
    coded = [(alias, dim) for alias, dim in dims if not dim.is_time]
    has_time = any(dim.is_time for _, dim in dims)

    codelists = _sub(structures, "str", "Codelists")
    for alias, dim in coded:
        _codelist(
            codelists, ids, ids.codelist(component(alias)), _texts(dim.label, alias), codes_of(alias, dim)
        )
    measures = [Code(m.name, _texts(m.label, m.name)) for m in cube.measures]
    _codelist(codelists, ids, ids.codelist(MEASURE), CONCEPTS[MEASURE], measures)
    statuses = [Code(k, dict(zip(LANGS, v, strict=True))) for k, v in OBS_STATUSES.items()]
    _codelist(codelists, ids, CL_OBS_STATUS, CONCEPTS[OBS_STATUS], statuses)

    schemes = _sub(structures, "str", "ConceptSchemes")
    scheme = _maintainable(schemes, "ConceptScheme", ids, ids.concepts, _texts(cube.label, cube.name))
    scheme.set("isPartial", "false")
    concepts = [(component(a), _texts(d.label, a)) for a, d in coded]
    concepts += [(c, dict(zip(LANGS, names, strict=True))) for c, names in CONCEPTS.items()]
    for cid, names in concepts:
        if cid == TIME_PERIOD and not has_time:
            continue
        concept = _sub(scheme, "str", "Concept", id=cid)
        _names(concept, names)

    flows = _sub(structures, "str", "Dataflows")
    dsd_urn = ids.urn("datastructure.DataStructure", ids.dsd)
    if not only_indicators:
        flow = _maintainable(flows, "Dataflow", ids, ids.flow, _texts(cube.label, cube.name))
        _sub(flow, "str", "Structure").text = dsd_urn
    for ind in indicators:
        flow = _maintainable(
            flows, "Dataflow", ids, ind.sdmx_id, {lang: ind.name.get(lang) for lang in LANGS}
        )
        _sub(flow, "str", "Structure").text = dsd_urn

    dsds = _sub(structures, "str", "DataStructures")
    dsd = _maintainable(dsds, "DataStructure", ids, ids.dsd, _texts(cube.label, cube.name))
    parts = _sub(dsd, "str", "DataStructureComponents")
    dim_list = _sub(parts, "str", "DimensionList", id="DimensionDescriptor")
    position = 0
    for alias, _dim in coded:
        position += 1
        _component(dim_list, "Dimension", ids, component(alias), ids.codelist(component(alias)), position)
    position += 1
    _component(dim_list, "Dimension", ids, MEASURE, ids.codelist(MEASURE), position)
    if has_time:
        _component(dim_list, "TimeDimension", ids, TIME_PERIOD, text_type="ObservationalTimePeriod")
    attrs = _sub(parts, "str", "AttributeList", id="AttributeDescriptor")
    _attribute(attrs, ids, UNIT_MEASURE, text_type="String")
    _attribute(attrs, ids, OBS_STATUS, codelist=CL_OBS_STATUS)
    # CONF_STATUS: the disclosure status of a protected answer (docs/disclosure.md), as text
    # holding CL_CONF_STATUS codes (`A`: primary confidentiality due to small counts).
    _attribute(attrs, ids, CONF_STATUS, text_type="String")
    measure_list = _sub(parts, "str", "MeasureList", id="MeasureDescriptor")
    _component(measure_list, "Measure", ids, OBS_VALUE, text_type="Double")

    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _n(prefix: str, tag: str) -> str:
    return f"{{{NS[prefix]}}}{tag}"


def _sub(parent: ET.Element, prefix: str, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, _n(prefix, tag), attrs)


def _texts(text: Text | None, default: str) -> dict[str, str]:
    return {lang: text.get(lang) if text is not None else default for lang in LANGS}


def _names(parent: ET.Element, names: dict[str, str]) -> None:
    """A Name per language (a missing one: another language's)."""
    fallback = next((v for v in names.values() if v), "")
    for lang in LANGS:
        el = _sub(parent, "com", "Name")
        el.set(XML_LANG, lang)
        el.text = names.get(lang) or fallback


def _maintainable(parent: ET.Element, tag: str, ids: Ids, ident: str, names: dict[str, str]) -> ET.Element:
    el = _sub(parent, "str", tag, id=ident, agencyID=ids.agency, version=ids.version)
    el.set("isExternalReference", "false")
    _names(el, names)
    return el


def _codelist(parent: ET.Element, ids: Ids, ident: str, names: Any, codes: list[Code]) -> None:
    names = names if isinstance(names, dict) else dict(zip(LANGS, names, strict=True))
    cl = _maintainable(parent, "Codelist", ids, ident, names)
    cl.set("isPartial", "false")
    known = {c.id for c in codes}
    for c in codes:
        code = _sub(cl, "str", "Code", id=c.id)
        _names(code, c.names)
        # A parent is referenced by an NCName id (a letter first): codes such as ATVK numbers
        # '0001000' can be children, not parents, in SDMX-ML.
        if c.parent is not None and c.parent in known and c.parent[:1].isalpha():
            _sub(code, "str", "Parent").text = c.parent


def _component(
    parent: ET.Element,
    tag: str,
    ids: Ids,
    ident: str,
    codelist: str | None = None,
    position: int | None = None,
    text_type: str | None = None,
) -> ET.Element:
    el = _sub(parent, "str", tag, id=ident)
    if position is not None:
        el.set("position", str(position))
    _sub(el, "str", "ConceptIdentity").text = ids.urn("conceptscheme.Concept", ids.concepts, ident)
    rep = _sub(el, "str", "LocalRepresentation")
    if codelist is not None:
        _sub(rep, "str", "Enumeration").text = ids.urn("codelist.Codelist", codelist)
    else:
        _sub(rep, "str", "TextFormat", textType=text_type or "String")
    return el


def _attribute(
    parent: ET.Element, ids: Ids, ident: str, *, codelist: str | None = None, text_type: str | None = None
) -> None:
    el = _component(parent, "Attribute", ids, ident, codelist, text_type=text_type)
    el.set("usage", "optional")
    # Attached to the observation; no MeasureRelationship (optional, and the structure has one
    # measure): sdmx1 does not read that element.
    _sub(_sub(el, "str", "AttributeRelationship"), "str", "Observation")


# --- SDMX-CSV ------------------------------------------------------------------------------------------
def data_response(
    service: CubeService, principal: Principal, cells: CellSet, indicator: str | None, bom: bool = False
) -> Response:
    """The cells as SDMX-CSV 2.0 observations of the cube's dataflow (or the indicator's)."""
    model = service.visible_model(principal)
    cube = model.cubes[cells.cube]
    ids = Ids.of(cube)
    flow = model.indicators[indicator].sdmx_id if indicator is not None else ids.flow
    text = data_csv(model, cube, cells, flow)
    name = indicator or f"{cells.cube}_aggregate"
    return Response(
        (BOM if bom else "") + text,
        media_type=SDMX_CSV_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.sdmx.csv"'},
    )


def data_csv(model: Model, cube: Cube, cells: CellSet, flow: str) -> str:
    """SDMX-CSV 2.0 text: a row per cell and measure. Columns: STRUCTURE, STRUCTURE_ID, ACTION,
    the dimensions the cells are split by or cut at one member (cube order), MEASURE,
    TIME_PERIOD (when time is drilled or cut at one period), OBS_VALUE, UNIT_MEASURE,
    OBS_STATUS, and CONF_STATUS (SDMX CL_CONF_STATUS codes: `A` for a small count) when the
    answer is under disclosure control."""
    import pandas as pd
    from pysdmx.io.csv.sdmx20.writer import write
    from pysdmx.io.pd import PandasDataset

    if cells.has_split:
        raise QueryError("SDMX-CSV has no place for a split", hint="ask without split, or for format=csv")
    if cells.subtotal_kind != "none":
        raise QueryError("SDMX-CSV carries the cells only, not subtotal rows", hint="ask without subtotals")
    ids = Ids.of(cube)
    keys = _keys(model, cube, cells)
    columns = [c for c in (*(component(link.alias) for link in cube.dimensions), TIME_PERIOD) if c in keys]
    rows = cells.cells.to_pylist() if cells.has_cells else [cells.summary or {}]
    status = cells.protected
    records: list[dict[str, Any]] = []
    for row in rows:
        coords = {c: keys[c](row) for c in columns}
        for m in cells.measures:
            value = jsonable(row.get(m.name))
            record = {
                **coords,
                MEASURE: m.name,
                OBS_VALUE: None if value is None else str(value),
                UNIT_MEASURE: m.unit,
                OBS_STATUS: "O" if value is None else "A",
            }
            if status:  # the service's status (service/disclosure.py), never one made up here
                record[CONF_STATUS] = row.get(m.name + STATUS)
                if record[CONF_STATUS] == PERTURBED:  # SDMX has no code for it: an estimate
                    record[OBS_STATUS], record[CONF_STATUS] = "E", "F"
            records.append(record)
    names = [c for c in columns if c != TIME_PERIOD] + [MEASURE] + [c for c in columns if c == TIME_PERIOD]
    names += [OBS_VALUE, UNIT_MEASURE, OBS_STATUS] + ([CONF_STATUS] if status else [])
    frame = pd.DataFrame(records, columns=names, dtype=object)
    dataset = PandasDataset(structure=_writing_schema(ids, flow, names), data=frame)
    return str(write([dataset]))


def _keys(model: Model, cube: Cube, cells: CellSet) -> dict[str, Any]:
    """Per SDMX dimension of the file, how a cell's row gives its code: the deepest drilled
    level's key, or the one member a point cut names (an undrilled dimension cut at one member
    is that member in every observation)."""
    keys: dict[str, Any] = {}
    for axis in cells.axes:
        dim = model.dimensions[axis.model_dimension]
        if dim.is_time:
            roles = [dim.level(lv.name).role for lv in axis.levels]
            cols = [lv.key for lv in axis.levels]
            keys[TIME_PERIOD] = lambda row, roles=roles, cols=cols: period(roles, [row[c] for c in cols])
        else:
            col = axis.levels[-1].key
            keys[component(axis.dimension)] = lambda row, col=col: "" if row[col] is None else str(row[col])
    for info in cells.cuts:
        cut = info.cut
        path = getattr(cut, "path", None)
        link = next((lk for lk in cube.dimensions if lk.alias == cut.dimension), None)
        if cut.invert or path is None or link is None:
            continue
        dim = model.dimensions[link.dimension]
        name = TIME_PERIOD if dim.is_time else component(link.alias)
        if name in keys:
            continue
        if dim.is_time:
            roles = [dim.level(lv).role for lv in dim.hierarchy(info.hierarchy).levels[: len(path)]]
            value = period(roles, list(path))
        else:
            value = str(path[-1])
        keys[name] = lambda row, value=value: value
    return keys


def period(roles: list[TimeRole | None], values: list[Any]) -> str:
    """A time member's path as an SDMX reporting period: `2024`, `2024-Q1`, `2024-03`,
    `2024-03-31` (ISO 8601 forms that SDMX 2.1 and 3.0 take as they are)."""
    parts = dict(zip(roles, (int(v) for v in values), strict=True))
    year = parts[TimeRole.year]
    if TimeRole.day in parts:
        return f"{year:04d}-{parts[TimeRole.month]:02d}-{parts[TimeRole.day]:02d}"
    if TimeRole.month in parts:
        return f"{year:04d}-{parts[TimeRole.month]:02d}"
    if TimeRole.quarter in parts:
        return f"{year:04d}-Q{parts[TimeRole.quarter]}"
    return f"{year:04d}"


def _writing_schema(ids: Ids, flow: str, names: list[str]) -> Any:
    """The schema pysdmx writes the file by: the components' roles and order (values are
    written as the cells give them, so its types are text: an integer stays `34`, not `34.0`)."""
    from pysdmx.model import Component, Components, Concept, DataType, Role
    from pysdmx.model.dataflow import Schema

    role = {OBS_VALUE: Role.MEASURE, UNIT_MEASURE: Role.ATTRIBUTE, OBS_STATUS: Role.ATTRIBUTE}
    role[CONF_STATUS] = Role.ATTRIBUTE
    comps = [
        Component(
            id=n,
            required=n not in role,
            role=role.get(n, Role.DIMENSION),
            concept=Concept(id=n),
            local_dtype=DataType.STRING,
            attachment_level="O" if role.get(n) == Role.ATTRIBUTE else None,
        )
        for n in names
    ]
    return Schema(
        context="dataflow", agency=ids.agency, id=flow, version=ids.version, components=Components(comps)
    )
