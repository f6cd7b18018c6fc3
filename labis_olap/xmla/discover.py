"""Discover: the rows of every rowset, from the model as the principal may see it.

Cubes, dimensions, hierarchies, levels and measures come from `CubeService.visible_model`
(hidden cubes, measures and dimensions are left out there); members come from the MDX catalog,
which asks `CubeService.members` with the principal (member roles apply). Names are the MDX
room's (docs/mdx.md), so what Discover lists is what Execute resolves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..mdx.functions import FUNCTIONS
from ..mdx.names import MEASURES, Catalog, Hier, Level, Member
from ..mdx.parse import parse_expression
from ..model.definition import Model
from ..model.schema import Cube, Function, TimeRole
from ..query.cell import MembersQuery
from ..query.results import MembersResult
from ..service.cellset import MeasureInfo
from ..service.cube_service import CubeService
from ..service.principal import Principal
from .envelope import XmlaError
from .rowsets import ROWSETS, Rowset

CATALOG = "LabIS"
PROVIDER = "LabIS OLAP"
PROVIDER_VERSION = "10.0.0"
"""What Excel reads to decide which MDX it may send (SSAS 2008's major version)."""

Row = dict[str, Any]

# MDMEASURE_AGGR_* of OLE DB for OLAP
AGGREGATORS = {
    Function.sum: 1,
    Function.count: 2,
    Function.min: 3,
    Function.max: 4,
    Function.avg: 5,
    Function.count_distinct: 8,
    Function.last: 14,
}
CALCULATED = 127
# MDLEVEL_TYPE_* of the time roles
TIME_LEVEL_TYPES = {
    TimeRole.year: 0x14,
    TimeRole.quarter: 0x44,
    TimeRole.month: 0x84,
    TimeRole.day: 0x204,
}
TREE_CHILDREN, TREE_SIBLINGS, TREE_PARENT, TREE_SELF, TREE_DESCENDANTS, TREE_ANCESTORS = 1, 2, 4, 8, 16, 32
BITMASKS = frozenset(
    {
        "CUBE_SOURCE",
        "HIERARCHY_VISIBILITY",
        "LEVEL_VISIBILITY",
        "MEASURE_VISIBILITY",
        "DIMENSION_VISIBILITY",
        "PROPERTY_VISIBILITY",
        "HIERARCHY_ORIGIN",
        "LEVEL_ORIGIN",
        "PROPERTY_ORIGIN",
        "PROPERTY_TYPE",
    }
)
"""Restrictions that are bit masks: a row is kept if its value shares a bit with the mask."""

KEYWORDS = [
    "AND",
    "AS",
    "ASC",
    "AXIS",
    "BASC",
    "BDESC",
    "CASE",
    "CELL",
    "CHAPTERS",
    "COLUMNS",
    "DESC",
    "DIMENSION",
    "ELSE",
    "EMPTY",
    "END",
    "FROM",
    "INCLUDE_CALC_MEMBERS",
    "IS",
    "MEMBER",
    "NON",
    "NOT",
    "ON",
    "OR",
    "PAGES",
    "POST",
    "PROPERTIES",
    "RECURSIVE",
    "ROWS",
    "SECTIONS",
    "SELECT",
    "SELF",
    "SELF_AND_AFTER",
    "SELF_AND_BEFORE",
    "SELF_BEFORE_AFTER",
    "AFTER",
    "BEFORE",
    "LEAVES",
    "SET",
    "THEN",
    "WHEN",
    "WHERE",
    "WITH",
    "XOR",
]

LITERALS = (
    # name, value, invalid characters, invalid first characters, max length, enum value
    ("DBLITERAL_CATALOG_NAME", "", ".", "0123456789", 24, 2),
    ("DBLITERAL_CATALOG_SEPARATOR", ".", None, None, 0, 3),
    ("DBLITERAL_COLUMN_ALIAS", "", "'\"[]", "0123456789", -1, 5),
    ("DBLITERAL_COLUMN_NAME", "", ".", "0123456789", -1, 6),
    ("DBLITERAL_CORRELATION_NAME", "", "'\"[]", "0123456789", -1, 7),
    ("DBLITERAL_CUBE_NAME", "", ".", "0123456789", -1, 21),
    ("DBLITERAL_DIMENSION_NAME", "", ".", "0123456789", -1, 22),
    ("DBLITERAL_HIERARCHY_NAME", "", ".", "0123456789", -1, 23),
    ("DBLITERAL_LEVEL_NAME", "", ".", "0123456789", -1, 24),
    ("DBLITERAL_MEMBER_NAME", "", ".", "0123456789", -1, 25),
    ("DBLITERAL_PROCEDURE_NAME", "", ".", "0123456789", -1, 14),
    ("DBLITERAL_PROPERTY_NAME", "", ".", "0123456789", -1, 26),
    ("DBLITERAL_QUOTE_PREFIX", "[", None, None, -1, 15),
    ("DBLITERAL_QUOTE_SUFFIX", "]", None, None, -1, 28),
    ("DBLITERAL_TABLE_NAME", "", ".", "0123456789", -1, 17),
    ("DBLITERAL_TEXT_COMMAND", "", None, None, -1, 18),
    ("DBLITERAL_USER_NAME", "", None, None, 0, 19),
)

ENUMERATORS = (
    # enum, type, element, value, description
    ("ProviderType", "string", "TDP", "tabular data provider"),
    ("ProviderType", "string", "MDP", "multidimensional data provider"),
    ("AuthenticationMode", "string", "Unauthenticated", "open demo mode"),
    ("AuthenticationMode", "string", "Authenticated", "HTTP Basic with an API key, or a bearer token"),
    ("PropertyAccessType", "string", "Read", "read only"),
    ("PropertyAccessType", "string", "Write", "write only"),
    ("PropertyAccessType", "string", "ReadWrite", "read and write"),
    ("StateSupport", "string", "None", "no sessions"),
    ("StateSupport", "string", "Sessions", "BeginSession, Session and EndSession headers"),
    ("Format", "string", "Tabular", "a rowset"),
    ("Format", "string", "Multidimensional", "an mddataset"),
    ("AxisFormat", "string", "TupleFormat", "axes as tuples of members"),
    ("TreeOp", "int", "MDTREEOP_CHILDREN", "1"),
    ("TreeOp", "int", "MDTREEOP_SIBLINGS", "2"),
    ("TreeOp", "int", "MDTREEOP_PARENT", "4"),
    ("TreeOp", "int", "MDTREEOP_SELF", "8"),
    ("TreeOp", "int", "MDTREEOP_DESCENDANTS", "16"),
    ("TreeOp", "int", "MDTREEOP_ANCESTORS", "32"),
)


@dataclass
class Context:
    """One request's view: who asks, in which language, through which service."""

    service: CubeService
    principal: Principal
    lang: str
    properties: dict[str, str]
    url: str = ""
    authenticated: bool = False

    def model(self) -> Model:
        return self.service.visible_model(self.principal)

    def catalog(self, cube: Cube) -> Catalog:
        def members(q: MembersQuery) -> MembersResult:
            return self.service.members(q, self.principal)

        return Catalog(self.model(), cube, self.lang, members)


def _label(obj: Any, lang: str, fallback: str) -> str:
    label = getattr(obj, "label", None)
    return label.get(lang) if label is not None else fallback


def _description(obj: Any, lang: str) -> str | None:
    d = getattr(obj, "description", None)
    return d.get(lang) if d is not None else None


# --- properties ------------------------------------------------------------------------------


def properties(ctx: Context) -> list[tuple[str, str, str, str, str]]:
    """(name, description, type, access, value) of every property the server knows."""
    lcid = "1033" if ctx.lang == "en" else "1062"
    return [
        ("Catalog", "the catalog (database) of the request", "string", "ReadWrite", CATALOG),
        ("Format", "Tabular or Multidimensional", "string", "Write", "Multidimensional"),
        ("AxisFormat", "how axes are written", "string", "Write", "TupleFormat"),
        ("Content", "SchemaData: the schema and the data", "string", "Write", "SchemaData"),
        ("LocaleIdentifier", "1062 Latvian or 1033 English captions", "int", "ReadWrite", lcid),
        ("DataSourceInfo", "the data source", "string", "ReadWrite", "Provider=LabIS"),
        ("Timeout", "seconds; the server's own time limits apply", "int", "ReadWrite", "0"),
        ("StateSupport", "sessions", "string", "Read", "Sessions"),
        ("ProviderName", "the server", "string", "Read", PROVIDER),
        ("ProviderVersion", "the version clients read", "string", "Read", PROVIDER_VERSION),
        ("DbpropMsmdSubqueries", "sub-selects in FROM (1: yes)", "int", "Read", "1"),
        ("MdpropMdxSubqueries", "sub-select support as a bit mask", "int", "Read", "15"),
        ("MdpropMdxNamedSets", "WITH SET", "int", "Read", "15"),
        ("MdpropMdxSolveOrder", "SOLVE_ORDER", "int", "Read", "1"),
        ("MdpropMdxDrillFunctions", "drill functions", "int", "Read", "3"),
        ("MdpropMdxFormulas", "WITH MEMBER", "int", "Read", "63"),
        ("DbpropMsmdMDXCompatibility", "MDX compatibility", "int", "ReadWrite", "1"),
        ("BeginRange", "not supported (-1: all)", "int", "ReadWrite", "-1"),
        ("EndRange", "not supported (-1: all)", "int", "ReadWrite", "-1"),
        ("ShowHiddenCubes", "hidden cubes are never shown", "boolean", "ReadWrite", "false"),
        ("Password", "not read: send HTTP Basic", "string", "Write", ""),
        ("UserName", "who asks", "string", "Read", ctx.principal.subject),
    ]


# --- rows, rowset by rowset --------------------------------------------------------------------


def rows_datasources(ctx: Context) -> Iterator[Row]:
    yield {
        "DataSourceName": CATALOG,
        "DataSourceDescription": "LabIS OLAP cube server",
        "URL": ctx.url,
        "DataSourceInfo": "Provider=LabIS",
        "ProviderName": PROVIDER,
        "ProviderType": "MDP",
        "AuthenticationMode": "Authenticated" if ctx.authenticated else "Unauthenticated",
    }


def rows_properties(ctx: Context) -> Iterator[Row]:
    for name, description, kind, access, value in properties(ctx):
        yield {
            "PropertyName": name,
            "PropertyDescription": description,
            "PropertyType": kind,
            "PropertyAccessType": access,
            "IsRequired": False,
            "Value": value,
        }


def rows_schema_rowsets(ctx: Context) -> Iterator[Row]:
    for r in ROWSETS.values():
        yield {
            "SchemaName": r.name,
            "SchemaGuid": r.guid,
            "Restrictions": ",".join(c.name for c in r.restrictions),
            "Description": r.description or r.name,
            "RestrictionsMask": (1 << len(r.restrictions)) - 1,
        }


def rows_enumerators(ctx: Context) -> Iterator[Row]:
    for enum, kind, element, description in ENUMERATORS:
        yield {
            "EnumName": enum,
            "EnumType": kind,
            "ElementName": element,
            "ElementDescription": description,
            "ElementValue": description if kind == "int" else element,
        }


def rows_literals(ctx: Context) -> Iterator[Row]:
    for name, value, invalid, first, length, enum in LITERALS:
        yield {
            "LiteralName": name,
            "LiteralValue": value,
            "LiteralInvalidChars": invalid,
            "LiteralInvalidStartingChars": first,
            "LiteralMaxLength": length,
            "LiteralNameEnumValue": enum,
        }


def rows_keywords(ctx: Context) -> Iterator[Row]:
    for k in KEYWORDS:
        yield {"Keyword": k}


def rows_catalogs(ctx: Context) -> Iterator[Row]:
    yield {
        "CATALOG_NAME": CATALOG,
        "DESCRIPTION": "the LabIS model",
        "ROLES": ",".join(sorted(ctx.principal.roles)),
    }


def _cubes(ctx: Context) -> Iterator[Cube]:
    yield from ctx.model().cubes.values()


def rows_tables(ctx: Context) -> Iterator[Row]:
    for cube in _cubes(ctx):
        yield {
            "TABLE_CATALOG": CATALOG,
            "TABLE_NAME": cube.name,
            "TABLE_TYPE": "TABLE",
            "DESCRIPTION": _description(cube, ctx.lang) or _label(cube, ctx.lang, cube.name),
        }


def _base(cube: Cube) -> Row:
    return {"CATALOG_NAME": CATALOG, "SCHEMA_NAME": None, "CUBE_NAME": cube.name}


def rows_cubes(ctx: Context) -> Iterator[Row]:
    for cube in _cubes(ctx):
        yield {
            **_base(cube),
            "CUBE_TYPE": "CUBE",
            "DESCRIPTION": _description(cube, ctx.lang),
            "IS_DRILLTHROUGH_ENABLED": False,
            "IS_LINKABLE": False,
            "IS_WRITE_ENABLED": False,
            "IS_SQL_ENABLED": False,
            "CUBE_CAPTION": _label(cube, ctx.lang, cube.name),
            "CUBE_SOURCE": 1,
            "PREFERRED_QUERY_PATTERNS": 0,
        }


def _hiers(ctx: Context) -> Iterator[tuple[Cube, Catalog]]:
    for cube in _cubes(ctx):
        yield cube, ctx.catalog(cube)


def _dim_type(h: Hier) -> int:
    return 1 if h.is_time else 3  # MD_DIMTYPE_TIME, MD_DIMTYPE_OTHER


def rows_dimensions(ctx: Context) -> Iterator[Row]:
    for cube, cat in _hiers(ctx):
        yield {
            **_base(cube),
            "DIMENSION_NAME": MEASURES,
            "DIMENSION_UNIQUE_NAME": f"[{MEASURES}]",
            "DIMENSION_CAPTION": MEASURES,
            "DIMENSION_ORDINAL": 0,
            "DIMENSION_TYPE": 2,  # MD_DIMTYPE_MEASURE
            "DIMENSION_CARDINALITY": len(cat.measures),
            "DEFAULT_HIERARCHY": f"[{MEASURES}]",
            "IS_VIRTUAL": False,
            "IS_READWRITE": False,
            "DIMENSION_UNIQUE_SETTINGS": 1,
            "DIMENSION_IS_VISIBLE": True,
            "CUBE_SOURCE": 1,
            "DIMENSION_VISIBILITY": 1,
        }
        for i, (dim, hs) in enumerate(cat.dims.items(), start=1):
            default = next(h for h in hs if h.default)
            yield {
                **_base(cube),
                "DIMENSION_NAME": dim,
                "DIMENSION_UNIQUE_NAME": f"[{dim}]",
                "DIMENSION_CAPTION": default.caption,
                "DIMENSION_ORDINAL": i,
                "DIMENSION_TYPE": _dim_type(default),
                "DEFAULT_HIERARCHY": default.unique_name,
                "DESCRIPTION": _description(ctx.model().dimensions[cube.link(dim).dimension], ctx.lang),
                "IS_VIRTUAL": False,
                "IS_READWRITE": False,
                "DIMENSION_UNIQUE_SETTINGS": 1,
                "DIMENSION_IS_VISIBLE": True,
                "CUBE_SOURCE": 1,
                "DIMENSION_VISIBILITY": 1,
            }


def _first_measure(cat: Catalog) -> str:
    return cat.measure(cat.measures[0]).unique_name(cat.hiers)


def rows_hierarchies(ctx: Context) -> Iterator[Row]:
    for cube, cat in _hiers(ctx):
        yield {
            **_base(cube),
            "DIMENSION_UNIQUE_NAME": f"[{MEASURES}]",
            "HIERARCHY_NAME": MEASURES,
            "HIERARCHY_UNIQUE_NAME": f"[{MEASURES}]",
            "HIERARCHY_CAPTION": MEASURES,
            "DIMENSION_TYPE": 2,
            "HIERARCHY_CARDINALITY": len(cat.measures),
            "DEFAULT_MEMBER": _first_measure(cat),
            "STRUCTURE": 0,
            "IS_VIRTUAL": False,
            "IS_READWRITE": False,
            "DIMENSION_UNIQUE_SETTINGS": 1,
            "DIMENSION_IS_VISIBLE": True,
            "HIERARCHY_ORDINAL": 0,
            "DIMENSION_IS_SHARED": True,
            "HIERARCHY_IS_VISIBLE": True,
            "HIERARCHY_ORIGIN": 1,
            "HIERARCHY_DISPLAY_FOLDER": "",
            "CUBE_SOURCE": 1,
            "HIERARCHY_VISIBILITY": 1,
            "PARENT_CHILD": False,
            "LEVELS": 1,
        }
        for i, h in enumerate(cat.hiers.values(), start=1):
            everything = cat.all_member(h.key).unique_name(cat.hiers)
            yield {
                **_base(cube),
                "DIMENSION_UNIQUE_NAME": f"[{h.dim}]",
                "HIERARCHY_NAME": h.name,
                "HIERARCHY_UNIQUE_NAME": h.unique_name,
                "HIERARCHY_CAPTION": h.caption if h.default else f"{h.caption} ({h.name})",
                "DIMENSION_TYPE": _dim_type(h),
                "DEFAULT_MEMBER": everything,
                "ALL_MEMBER": everything,
                "STRUCTURE": 0,
                "IS_VIRTUAL": False,
                "IS_READWRITE": False,
                "DIMENSION_UNIQUE_SETTINGS": 1,
                "DIMENSION_IS_VISIBLE": True,
                "HIERARCHY_ORDINAL": i,
                "DIMENSION_IS_SHARED": True,
                "HIERARCHY_IS_VISIBLE": True,
                "HIERARCHY_ORIGIN": 1,
                "HIERARCHY_DISPLAY_FOLDER": "",
                "CUBE_SOURCE": 1,
                "HIERARCHY_VISIBILITY": 1,
                "PARENT_CHILD": False,
                "LEVELS": len(h.levels) + 1,
            }


def rows_levels(ctx: Context) -> Iterator[Row]:
    for cube, cat in _hiers(ctx):
        yield {
            **_base(cube),
            "DIMENSION_UNIQUE_NAME": f"[{MEASURES}]",
            "HIERARCHY_UNIQUE_NAME": f"[{MEASURES}]",
            "LEVEL_NAME": "MeasuresLevel",
            "LEVEL_UNIQUE_NAME": f"[{MEASURES}].[MeasuresLevel]",
            "LEVEL_CAPTION": MEASURES,
            "LEVEL_NUMBER": 0,
            "LEVEL_CARDINALITY": len(cat.measures),
            "LEVEL_TYPE": 0,
            "CUSTOM_ROLLUP_SETTINGS": 0,
            "LEVEL_UNIQUE_SETTINGS": 1,
            "LEVEL_IS_VISIBLE": True,
            "LEVEL_DBTYPE": 130,
            "LEVEL_KEY_CARDINALITY": 1,
            "LEVEL_ORIGIN": 1,
            "CUBE_SOURCE": 1,
            "LEVEL_VISIBILITY": 1,
        }
        for h in cat.hiers.values():
            for depth in range(len(h.levels) + 1):
                name = "(All)" if depth == 0 else h.levels[depth - 1]
                role = h.roles[depth - 1] if depth and depth <= len(h.roles) else None
                kind = 1 if depth == 0 else TIME_LEVEL_TYPES.get(role, 0) if role is not None else 0
                yield {
                    **_base(cube),
                    "DIMENSION_UNIQUE_NAME": f"[{h.dim}]",
                    "HIERARCHY_UNIQUE_NAME": h.unique_name,
                    "LEVEL_NAME": name,
                    "LEVEL_UNIQUE_NAME": h.level_unique_name(depth),
                    "LEVEL_CAPTION": "(All)" if depth == 0 else h.level_captions[depth - 1],
                    "LEVEL_NUMBER": depth,
                    "LEVEL_CARDINALITY": 1 if depth == 0 else None,
                    "LEVEL_TYPE": kind,
                    "CUSTOM_ROLLUP_SETTINGS": 0,
                    "LEVEL_UNIQUE_SETTINGS": 1 if depth else 0,
                    "LEVEL_IS_VISIBLE": True,
                    "LEVEL_DBTYPE": 130,
                    "LEVEL_KEY_CARDINALITY": 1,
                    "LEVEL_ORIGIN": 1,
                    "CUBE_SOURCE": 1,
                    "LEVEL_VISIBILITY": 1,
                }


def rows_measures(ctx: Context) -> Iterator[Row]:
    for cube, cat in _hiers(ctx):
        for m in cube.measures:
            info = MeasureInfo(m.name, {}, m.function, m.unit, m.decimals)
            yield {
                **_base(cube),
                "MEASURE_NAME": m.name,
                "MEASURE_UNIQUE_NAME": cat.measure(m.name).unique_name(cat.hiers),
                "MEASURE_CAPTION": cat.measure_captions[m.name],
                "MEASURE_AGGREGATOR": CALCULATED if m.is_calculated else AGGREGATORS.get(m.function, 0),  # type: ignore[arg-type]
                "DATA_TYPE": 5,  # DBTYPE_R8
                "NUMERIC_PRECISION": 16,
                "NUMERIC_SCALE": m.decimals if m.decimals is not None else -1,
                "MEASURE_UNITS": m.unit,
                "DESCRIPTION": _description(m, ctx.lang),
                "EXPRESSION": m.expression,
                "MEASURE_IS_VISIBLE": True,
                "MEASURE_UNQUALIFIED_CAPTION": cat.measure_captions[m.name],
                "MEASUREGROUP_NAME": cube.name,
                "MEASURE_DISPLAY_FOLDER": "",
                "DEFAULT_FORMAT_STRING": info.format_string,
                "CUBE_SOURCE": 1,
                "MEASURE_VISIBILITY": 1,
            }


def rows_measuregroups(ctx: Context) -> Iterator[Row]:
    for cube in _cubes(ctx):
        yield {
            **_base(cube),
            "MEASUREGROUP_NAME": cube.name,
            "DESCRIPTION": _description(cube, ctx.lang),
            "IS_WRITE_ENABLED": False,
            "MEASUREGROUP_CAPTION": _label(cube, ctx.lang, cube.name),
        }


def rows_measuregroup_dimensions(ctx: Context) -> Iterator[Row]:
    for cube, cat in _hiers(ctx):
        for dim, hs in cat.dims.items():
            default = next(h for h in hs if h.default)
            yield {
                **_base(cube),
                "MEASUREGROUP_NAME": cube.name,
                "MEASUREGROUP_CARDINALITY": "MANY",
                "DIMENSION_UNIQUE_NAME": f"[{dim}]",
                "DIMENSION_CARDINALITY": "ONE",
                "DIMENSION_IS_VISIBLE": True,
                "DIMENSION_IS_FACT_DIMENSION": False,
                "DIMENSION_GRANULARITY": default.level_unique_name(len(default.levels)),
                "DIMENSION_VISIBILITY": 1,
            }


CELL_PROPERTIES = (
    ("VALUE", "the value of the cell", 12),
    ("FORMATTED_VALUE", "the value as shown", 130),
    ("FORMAT_STRING", "the format of the value", 130),
    ("CELL_ORDINAL", "the cell's ordinal", 19),
)


def rows_properties_md(ctx: Context) -> Iterator[Row]:
    for name, description, dbtype in CELL_PROPERTIES:
        yield {
            "CATALOG_NAME": CATALOG,
            "PROPERTY_TYPE": 2,  # MDPROP_CELL
            "PROPERTY_NAME": name,
            "PROPERTY_CAPTION": name,
            "DATA_TYPE": dbtype,
            "DESCRIPTION": description,
            "PROPERTY_CONTENT_TYPE": 0,
            "PROPERTY_ORIGIN": 1,
            "PROPERTY_IS_VISIBLE": True,
            "CUBE_SOURCE": 1,
            "PROPERTY_VISIBILITY": 1,
        }


def rows_none(ctx: Context) -> Iterator[Row]:
    """Named sets, KPIs and actions: the model has none (the rowset and its schema still are)."""
    return iter(())


def rows_functions(ctx: Context) -> Iterator[Row]:
    for name in sorted(FUNCTIONS):
        yield {
            "FUNCTION_NAME": name.upper(),
            "DESCRIPTION": "docs/mdx.md",
            "PARAMETER_LIST": "",
            "RETURN_TYPE": 1,
            "ORIGIN": 1,  # MDFF_BUILTIN
            "INTERFACE_NAME": "MDX",
            "CAPTION": name,
        }


# --- members ---------------------------------------------------------------------------------


MEMBERS_CONSUMED = frozenset(
    {
        "CUBE_NAME",
        "HIERARCHY_UNIQUE_NAME",
        "DIMENSION_UNIQUE_NAME",
        "LEVEL_UNIQUE_NAME",
        "LEVEL_NUMBER",
        "MEMBER_UNIQUE_NAME",
        "TREE_OP",
    }
)


def _one(restrictions: dict[str, list[str]], name: str) -> str | None:
    values = restrictions.get(name)
    return values[0] if values else None


def rows_members(ctx: Context, restrictions: dict[str, list[str]]) -> Iterator[Row]:
    """Members of the hierarchies the restrictions name (all of a cube's without any), or the
    members a TREE_OP relates to MEMBER_UNIQUE_NAME."""
    for cube in _cubes(ctx):
        wanted = restrictions.get("CUBE_NAME")
        if wanted and cube.name.lower() not in {w.lower() for w in wanted}:
            continue
        cat = ctx.catalog(cube)
        writer = _MemberRows(cube, cat)
        unique = _one(restrictions, "MEMBER_UNIQUE_NAME")
        if unique is not None:
            found = _resolve_member(cat, unique)
            if found is None:
                continue
            op = int(_one(restrictions, "TREE_OP") or TREE_SELF)
            yield from (writer.row(m) for m in _tree(cat, found, op))
            continue
        for h in _hierarchies_of(cat, restrictions):
            level_name = _one(restrictions, "LEVEL_UNIQUE_NAME")
            level_number = _one(restrictions, "LEVEL_NUMBER")
            if h is None:  # Measures
                if level_number not in (None, "0") or (
                    level_name and level_name.lower() != "[measures].[measureslevel]"
                ):
                    continue
                yield from (writer.row(cat.measure(m)) for m in cat.measures)
                continue
            depths = range(len(h.levels) + 1)
            if level_name is not None:
                depths = range(0)
                for d in range(len(h.levels) + 1):
                    if h.level_unique_name(d).lower() == level_name.lower():
                        depths = range(d, d + 1)
            if level_number is not None:
                depths = (
                    range(int(level_number), int(level_number) + 1)
                    if int(level_number) in depths
                    else range(0)
                )
            for d in depths:
                yield from (writer.row(m) for m in cat.level(h.key, d))


def _hierarchies_of(cat: Catalog, restrictions: dict[str, list[str]]) -> Iterator[Hier | None]:
    """The hierarchies the restrictions name; None stands for Measures."""
    hier_name = _one(restrictions, "HIERARCHY_UNIQUE_NAME")
    dim_name = _one(restrictions, "DIMENSION_UNIQUE_NAME")
    level_name = _one(restrictions, "LEVEL_UNIQUE_NAME")
    measures = f"[{MEASURES}]".lower()
    candidates: list[Hier | None] = [None, *cat.hiers.values()]
    for h in candidates:
        uname = measures if h is None else h.unique_name.lower()
        dname = measures if h is None else f"[{h.dim}]".lower()
        if hier_name is not None and hier_name.lower() != uname:
            continue
        if dim_name is not None and dim_name.lower() != dname:
            continue
        if level_name is not None and not level_name.lower().startswith(uname + "."):
            continue
        yield h


def _resolve_member(cat: Catalog, text: str) -> Member | None:
    try:
        found = cat.resolve(parse_expression(text), {})  # type: ignore[arg-type]
    except Exception:  # an unknown member is an empty rowset, as SSAS answers it
        return None
    return found if isinstance(found, Member) else None


def _tree(cat: Catalog, m: Member, op: int) -> list[Member]:
    out: list[Member] = []
    if m.is_measure:
        return (
            [m]
            if op & TREE_SELF
            else ([cat.measure(x) for x in cat.measures if x != m.path[0]] if op & TREE_SIBLINGS else [])
        )
    if op & TREE_ANCESTORS:
        chain, p = [], cat.parent(m)
        while p is not None:
            chain.append(p)
            p = cat.parent(p)
        out += reversed(chain)
    elif op & TREE_PARENT:
        p = cat.parent(m)
        out += [p] if p is not None else []
    if op & TREE_SIBLINGS:
        parent = cat.parent(m)
        sibs = cat.children(parent) if parent is not None else [m]
        out += [s for s in sibs if s != m]
    if op & TREE_SELF:
        out.append(m)
    if op & TREE_DESCENDANTS:
        h = cat.hiers[m.hier]
        for d in range(m.depth + 1, len(h.levels) + 1):
            out += cat.descendants_at(m, d)
    elif op & TREE_CHILDREN:
        out += cat.children(m)
    return out


class _MemberRows:
    def __init__(self, cube: Cube, cat: Catalog) -> None:
        self.cube, self.cat = cube, cat
        self._children: dict[tuple[Any, int], Counter[tuple[str | None, ...]]] = {}

    def children_count(self, m: Member) -> int:
        if m.is_measure or m.calc is not None:
            return 0
        h = self.cat.hiers[m.hier]
        if m.depth >= len(h.levels):
            return 0
        if h.is_time and m.depth > 0:
            return len(self.cat.children(m))
        key = (m.hier, m.depth)
        counts = self._children.get(key)
        if counts is None:
            counts = Counter(c.path[: m.depth] for c in self.cat.level(m.hier, m.depth + 1))
            self._children[key] = counts
        return counts.get(m.path, 0)

    def row(self, m: Member) -> Row:
        cat = self.cat
        if m.is_measure:
            return {
                **_base(self.cube),
                "DIMENSION_UNIQUE_NAME": f"[{MEASURES}]",
                "HIERARCHY_UNIQUE_NAME": f"[{MEASURES}]",
                "LEVEL_UNIQUE_NAME": f"[{MEASURES}].[MeasuresLevel]",
                "LEVEL_NUMBER": 0,
                "MEMBER_ORDINAL": 0,
                "MEMBER_NAME": m.path[0],
                "MEMBER_UNIQUE_NAME": m.unique_name(cat.hiers),
                "MEMBER_TYPE": 3,  # MDMEMBER_TYPE_MEASURE
                "MEMBER_CAPTION": m.caption,
                "CHILDREN_CARDINALITY": 0,
                "PARENT_LEVEL": 0,
                "PARENT_COUNT": 0,
                "MEMBER_KEY": m.path[0],
                "IS_PLACEHOLDERMEMBER": False,
                "IS_DATAMEMBER": False,
            }
        h = cat.hiers[m.hier]
        parent = cat.parent(m)
        return {
            **_base(self.cube),
            "DIMENSION_UNIQUE_NAME": f"[{h.dim}]",
            "HIERARCHY_UNIQUE_NAME": h.unique_name,
            "LEVEL_UNIQUE_NAME": h.level_unique_name(m.depth),
            "LEVEL_NUMBER": m.depth,
            "MEMBER_ORDINAL": 0,
            "MEMBER_NAME": m.caption if m.depth else "All",
            "MEMBER_UNIQUE_NAME": m.unique_name(cat.hiers),
            "MEMBER_TYPE": 2 if m.is_all else 1,
            "MEMBER_CAPTION": m.caption,
            "CHILDREN_CARDINALITY": self.children_count(m),
            "PARENT_LEVEL": max(m.depth - 1, 0),
            "PARENT_UNIQUE_NAME": parent.unique_name(cat.hiers) if parent is not None else None,
            "PARENT_COUNT": 0 if parent is None else 1,
            "MEMBER_KEY": "All" if m.is_all else ("" if m.path[-1] is None else m.path[-1]),
            "IS_PLACEHOLDERMEMBER": False,
            "IS_DATAMEMBER": False,
        }


# --- dispatch --------------------------------------------------------------------------------

Producer = Callable[[Context], Iterable[Row]]
PRODUCERS: dict[str, Producer] = {
    "DISCOVER_DATASOURCES": rows_datasources,
    "DISCOVER_PROPERTIES": rows_properties,
    "DISCOVER_SCHEMA_ROWSETS": rows_schema_rowsets,
    "DISCOVER_ENUMERATORS": rows_enumerators,
    "DISCOVER_LITERALS": rows_literals,
    "DISCOVER_KEYWORDS": rows_keywords,
    "DBSCHEMA_CATALOGS": rows_catalogs,
    "DBSCHEMA_TABLES": rows_tables,
    "MDSCHEMA_CUBES": rows_cubes,
    "MDSCHEMA_DIMENSIONS": rows_dimensions,
    "MDSCHEMA_HIERARCHIES": rows_hierarchies,
    "MDSCHEMA_LEVELS": rows_levels,
    "MDSCHEMA_MEASURES": rows_measures,
    "MDSCHEMA_MEASUREGROUPS": rows_measuregroups,
    "MDSCHEMA_MEASUREGROUP_DIMENSIONS": rows_measuregroup_dimensions,
    "MDSCHEMA_PROPERTIES": rows_properties_md,
    "MDSCHEMA_SETS": rows_none,
    "MDSCHEMA_KPIS": rows_none,
    "MDSCHEMA_ACTIONS": rows_none,
    "MDSCHEMA_FUNCTIONS": rows_functions,
}


def rowset_of(name: str) -> Rowset:
    rowset = ROWSETS.get(name.upper())
    if rowset is None:
        raise XmlaError(
            f"unknown rowset '{name}'",
            code="0xc10a0002",
            hint="DISCOVER_SCHEMA_ROWSETS lists the rowsets this server answers",
        )
    return rowset


def discover(ctx: Context, name: str, restrictions: dict[str, list[str]]) -> tuple[Rowset, list[Row]]:
    """The rowset and its rows, filtered by the restrictions (each a column the rowset declares
    as one; an unknown one is refused, not ignored)."""
    rowset = rowset_of(name)
    allowed = {c.name.upper(): c.name for c in rowset.restrictions}
    given: dict[str, list[str]] = {}
    for key, written in restrictions.items():
        values = [v for v in written if v.strip()]  # an empty restriction restricts nothing
        if not values:
            continue
        column = allowed.get(key.upper())
        if column is None:
            raise XmlaError(
                f"{rowset.name} has no restriction '{key}'",
                hint="its restrictions: " + ", ".join(allowed.values()),
            )
        given[column] = values
    catalog = ctx.properties.get("Catalog")
    if catalog and catalog.lower() != CATALOG.lower():
        raise XmlaError(f"unknown catalog '{catalog}'", hint=f"the catalog is {CATALOG}")
    if rowset.name == "MDSCHEMA_MEMBERS":
        _check_int(given, "TREE_OP", "LEVEL_NUMBER")
        rows: Iterable[Row] = rows_members(ctx, given)
        rest = {k: v for k, v in given.items() if k not in MEMBERS_CONSUMED}
    else:
        rows = PRODUCERS[rowset.name](ctx)
        rest = given
    return rowset, [r for r in rows if _matches(r, rest)]


def _check_int(given: dict[str, list[str]], *names: str) -> None:
    for n in names:
        for v in given.get(n, ()):
            if not v.strip().lstrip("-").isdigit():
                raise XmlaError(f"the restriction {n} is a number, not '{v}'")


def _matches(row: Row, restrictions: dict[str, list[str]]) -> bool:
    for name, values in restrictions.items():
        if not values:
            continue
        value = row.get(name)
        if name in BITMASKS:
            try:
                mask = 0
                for v in values:
                    mask |= int(v)
            except ValueError:
                raise XmlaError(f"the restriction {name} is a bit mask, not {values}") from None
            if value is None or not int(value) & mask:
                return False
            continue
        text = _text(value)
        if text is None or text.lower() not in {v.lower() for v in values}:
            return False
    return True


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


__all__ = ["CATALOG", "Context", "Level", "discover", "rowset_of"]
