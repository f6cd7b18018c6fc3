"""Cross-reference checks over a whole model; every problem is collected, none stops the rest.

Codes (docs/model.md lists them): E101 duplicate, E103 unknown dimension, E104 unknown level,
E105 unknown column, E106 unknown measure, E107 unknown hierarchy, E108 type mismatch,
E109 bad expression, E110 cycle, E111 rollup cannot be derived, E112 bad indicator,
E113 bad members, E114 bad validity range, E116 time dimension misuse, E117 incomplete measure,
E118 hierarchies ending at different levels; roles: E120–E124 (validate_roles.py); E125
pseudonymous columns (an identifier without a kind, a kind elsewhere, one keying a dimension);
E130 SDMX ids that clash; E131 disclosure rules without a proper contributors count.
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
from collections.abc import Collection, Iterable
from typing import Any

from ..errors import UserError
from .definition import Model
from .diagnostics import Diagnostics, Location, did_you_mean
from .expressions import ParsedExpr, parse_expression, row_type
from .resolve import resolvable
from .schema import (
    NUMERIC_TYPES,
    PERSON_NAMESPACE,
    SDMX_COMPONENTS,
    TIME_ORDER,
    ColumnType,
    Cube,
    Dimension,
    Disclosure,
    Function,
    Measure,
    TimeRole,
)
from .source import NodePath, SourceDoc

NEEDS_COLUMN = {
    Function.sum,
    Function.min,
    Function.max,
    Function.avg,
    Function.count_distinct,
    Function.last,
}
NUMERIC_ONLY = {Function.sum, Function.avg, Function.last}


def validate_model(model: Model, diags: Diagnostics) -> None:
    """Every check, on what could be read: a name defined by a file that could not be read
    (`model.unreadable`) is not reported again where it is used."""
    for dim in model.dimensions.values():
        _check_dimension(model, dim, model.docs[("dimension", dim.name)], diags)
    misnamed = _misnamed_dimensions(model)
    for used, defined in misnamed.items():
        _misnamed_definition(model, used, defined, diags)
    for cube in model.cubes.values():
        _check_cube(model, cube, model.docs[("cube", cube.name)], diags, set(misnamed))
    _check_indicators(model, diags)
    _check_sdmx(model, diags)
    for cube in model.cubes.values():
        if cube.disclosure is not None:
            _check_disclosure(model, cube, cube.disclosure, model.docs[("cube", cube.name)], diags)
    from .validate_roles import validate_roles

    validate_roles(model, diags)


def _misnamed_dimensions(model: Model) -> dict[str, str]:
    """Dimension names the cubes use that no file defines but that are a typo away from a
    dimension no cube links, used more than once (links, and rollup grains on them): then the
    definition is the misspelt one. Used name → the defined one."""
    uses: dict[str, int] = {}
    for cube in model.cubes.values():
        for link in cube.dimensions:
            grains = sum(link.alias in r.grain for r in cube.rollups)
            uses[link.dimension] = uses.get(link.dimension, 0) + 1 + grains
    unlinked = [d for d in model.dimensions if d not in uses]
    found: dict[str, str] = {}
    for name, n in sorted(uses.items(), key=lambda item: -item[1]):
        if n < 2 or name in model.dimensions or ("dimension", name) in model.unreadable:
            continue
        close = difflib.get_close_matches(name, [d for d in unlinked if d not in found.values()], n=1)
        if close:
            found[name] = close[0]
    return found


def _misnamed_definition(model: Model, used: str, defined: str, diags: Diagnostics) -> None:
    cubes = sorted(c.name for c in model.cubes.values() if any(d.dimension == used for d in c.dimensions))
    users = f"cube '{cubes[0]}' links" if len(cubes) == 1 else f"{len(cubes)} cubes ({', '.join(cubes)}) link"
    diags.add(
        "E103",
        f"dimension '{defined}' is linked by no cube, while {users} '{used}', which no file defines",
        model.docs[("dimension", defined)].loc(("dimension",)),
        f"did you mean '{used}'? Rename the dimension (or every link to it)",
    )


def _dups(names: Iterable[tuple[str, NodePath]], what: str, doc: SourceDoc, diags: Diagnostics) -> None:
    seen: set[str] = set()
    for name, path in names:
        if name in seen:
            diags.add("E101", f"duplicate {what} '{name}'", doc.loc(path))
        seen.add(name)


def _check_dimension(model: Model, dim: Dimension, doc: SourceDoc, diags: Diagnostics) -> None:
    _dups(((lv.name, ("levels", i, "name")) for i, lv in enumerate(dim.levels)), "level", doc, diags)
    _dups(
        ((h.name, ("hierarchies", i, "name")) for i, h in enumerate(dim.hierarchies)), "hierarchy", doc, diags
    )
    _dups(((v.name, ("versions", i, "name")) for i, v in enumerate(dim.versions)), "version", doc, diags)
    level_names = [lv.name for lv in dim.levels]
    for i, h in enumerate(dim.hierarchies):
        for j, lname in enumerate(h.levels):
            if lname not in level_names:
                diags.add(
                    "E104",
                    f"unknown level '{lname}' in hierarchy '{h.name}'",
                    doc.loc(("hierarchies", i, "levels", j)),
                    did_you_mean(lname, level_names),
                )
        again = [j for j, lname in enumerate(h.levels) if lname in h.levels[:j]]
        if again:
            diags.add(
                "E101",
                f"hierarchy '{h.name}' lists level '{h.levels[again[0]]}' twice",
                doc.loc(("hierarchies", i, "levels", again[0])),
            )
    if dim.default_hierarchy and dim.default_hierarchy not in [h.name for h in dim.all_hierarchies]:
        diags.add(
            "E107",
            f"unknown default hierarchy '{dim.default_hierarchy}'",
            doc.loc(("default_hierarchy",)),
            did_you_mean(dim.default_hierarchy, [h.name for h in dim.all_hierarchies]),
        )
    default_known = dim.default_hierarchy_name in [h.name for h in dim.all_hierarchies]
    if not dim.is_time and len({h.levels[-1] for h in dim.all_hierarchies}) > 1:
        diags.add(
            "E118",
            f"hierarchies of '{dim.name}' end at different levels "
            f"({', '.join(sorted({h.levels[-1] for h in dim.all_hierarchies}))})",
            doc.loc(("hierarchies",)),
            "every hierarchy must end at the level whose key the facts carry",
        )
        default_known = False
    for i, v in enumerate(dim.versions):
        if v.valid_to is not None and v.valid_to < v.valid_from:
            diags.add(
                "E114", f"version '{v.name}' ends before it starts", doc.loc(("versions", i, "valid_to"))
            )
    ordered = sorted(enumerate(dim.versions), key=lambda iv: iv[1].valid_from)
    for (_, a), (j, b) in itertools.pairwise(ordered):
        if a.valid_to is None or a.valid_to >= b.valid_from:
            diags.add(
                "E114",
                f"version '{b.name}' overlaps version '{a.name}'",
                doc.loc(("versions", j, "valid_from")),
            )
    if dim.is_time:
        _check_time_dimension(dim, doc, diags)
        return
    if dim.date_key is not None:
        diags.add(
            "E133",
            f"'date_key' on dimension '{dim.name}', which is not 'role: time'",
            doc.loc(("date_key",), key=True),
            "a date key says how a time dimension's facts name their day",
        )
    for i, lv in enumerate(dim.levels):
        if lv.role is not None:
            diags.add(
                "E116",
                f"level '{lv.name}' has a time role but the dimension is not 'role: time'",
                doc.loc(("levels", i, "role")),
            )
    if not default_known:
        return  # the leaf level is unknown: member checks would only repeat the problem
    if dim.members is None:
        diags.add(
            "E113",
            f"dimension '{dim.name}' has no members",
            doc.loc(("dimension",)),
            "add 'members:' with 'rows:' or a CSV 'file:'",
        )
        return
    if dim.is_loaded:
        return  # fed by loads: each load is checked as it comes (loaders/members.py)
    rows = model.members.get(dim.name)
    if rows is None:
        return  # unreadable file: already reported
    _check_members(dim, rows, model.member_locs.get(dim.name, []), doc, diags)


def _check_time_dimension(dim: Dimension, doc: SourceDoc, diags: Diagnostics) -> None:
    if dim.members is not None:
        diags.add(
            "E116",
            "a time dimension derives its members from dates; remove 'members'",
            doc.loc(("members",), key=True),
        )
    for i, lv in enumerate(dim.levels):
        if lv.role is None:
            diags.add(
                "E116",
                f"time level '{lv.name}' needs a role",
                doc.loc(("levels", i, "name")),
                "one of: " + ", ".join(r.value for r in TIME_ORDER),
            )
    names = [lv.name for lv in dim.levels]
    for i, h in enumerate(dim.all_hierarchies):
        # Where the hierarchy's j-th level is named: in its list, or (implicit hierarchy) in `levels:`.
        def at(j: int, i: int = i) -> NodePath:
            return ("hierarchies", i, "levels", j) if dim.hierarchies else ("levels", j, "name")

        # (position in the hierarchy, role); unknown levels and levels without a role are reported above.
        roles = [(j, dim.level(n).role) for j, n in enumerate(h.levels) if n in names]
        if roles and roles[0][1] is not None and roles[0][1] != TimeRole.year:
            diags.add(
                "E116", f"time hierarchy '{h.name}' must start at the year level", doc.loc(at(roles[0][0]))
            )
            continue
        ranked = [(j, TIME_ORDER.index(r)) for j, r in roles if r is not None]
        for (_, a), (j, b) in itertools.pairwise(ranked):
            if b <= a:
                diags.add(
                    "E116", f"hierarchy '{h.name}' must go from coarse to fine time levels", doc.loc(at(j))
                )
                break


def _member_columns(dim: Dimension) -> list[tuple[str, NodePath]]:
    cols: list[tuple[str, NodePath]] = []
    for i, lv in enumerate(dim.levels):
        cols.append((lv.key_column, ("levels", i, "key") if lv.key else ("levels", i, "name")))
        if lv.label_column:
            cols.append((lv.label_column.lv, ("levels", i, "label_column", "lv")))
            cols.append((lv.label_column.en, ("levels", i, "label_column", "en")))
        if lv.order_column:
            cols.append((lv.order_column, ("levels", i, "order_column")))
        if lv.path_key:
            cols.append((lv.path_key, ("levels", i, "path_key")))
        cols.extend((a, ("levels", i, "attributes", j)) for j, a in enumerate(lv.attributes))
    m = dim.members
    assert m is not None
    for attr in ("fact_key", "valid_from", "valid_to"):
        value = getattr(m, attr)
        if value:
            cols.append((value, ("members", attr)))
    return cols


def _check_members(
    dim: Dimension, rows: list[dict[str, Any]], locs: list[Location], doc: SourceDoc, diags: Diagnostics
) -> None:
    if not rows:
        diags.add("E113", f"dimension '{dim.name}' has no member rows", doc.loc(("members",), key=True))
        return
    present = set().union(*(r.keys() for r in rows))
    for col, path in _member_columns(dim):
        if col not in present:
            diags.add("E105", f"unknown member column '{col}'", doc.loc(path), did_you_mean(col, present))
    if any(col not in present for col, _ in _member_columns(dim)):
        return
    m = dim.members
    assert m is not None
    fact_key = dim.fact_key_column

    def where(n: int) -> Location:
        """Member row n (1-based): its item under `rows:` or its line in the CSV file."""
        return locs[n - 1] if n <= len(locs) else doc.loc(("members",), key=True)

    level_keys = [(lv.key_column, lv.name) for lv in dim.levels]
    for n, r in enumerate(rows, start=1):
        for col, level in level_keys:
            if r.get(col) in (None, ""):
                diags.add("E113", f"member row {n}: empty key '{col}' of level '{level}'", where(n))
    if not dim.is_versioned:
        # One pass with a set: the counting it replaced was quadratic (minutes for 200,000 members).
        seen: set[str] = set()
        dups: set[str] = set()
        again = 0
        for n, r in enumerate(rows, start=1):
            k = str(r[fact_key])
            if k in seen:
                dups.add(k)
                again = again or n
            seen.add(k)
        dup = sorted(dups)
        above = [lv.name for lv in dim.levels if lv.key_column == fact_key and lv.name != dim.leaf.name]
        if dup and above:
            diags.add(
                "E113",
                f"the facts carry '{fact_key}', the key of level '{above[0]}', but the members go down "
                f"to level '{dim.leaf.name}': a fact cannot say which '{dim.leaf.name}' it is in "
                f"(key(s) {', '.join(dup[:5])} recur)",
                doc.loc(("members", "fact_key") if m.fact_key else ("members",), key=m.fact_key is None),
                f"end the hierarchies at '{above[0]}', or give the facts the key of '{dim.leaf.name}'",
            )
        elif dup:
            diags.add(
                "E113",
                f"duplicate member key(s) {', '.join(dup[:5])} in '{fact_key}'",
                where(again),
                "version members with valid_from/valid_to if they change over time",
            )
        return
    spans: dict[str, list[tuple[dt.date, dt.date, int]]] = {}
    for n, r in enumerate(rows, start=1):
        try:
            start = _date(r.get(m.from_column), dt.date.min)
            end = _date(r.get(m.to_column), dt.date.max)
        except ValueError as exc:
            diags.add("E113", f"member row {n}: {exc}", where(n))
            continue
        if end < start:
            diags.add("E114", f"member row {n}: valid_to is before valid_from", where(n))
        spans.setdefault(str(r[fact_key]), []).append((start, end, n))
    for key, ranges in spans.items():
        ranges.sort()
        for (_, a_end, _), (b_start, _, n) in itertools.pairwise(ranges):
            if b_start <= a_end:
                diags.add("E114", f"member row {n}: key '{key}' has overlapping validity", where(n))


def _date(value: Any, default: dt.date) -> dt.date:
    if value in (None, ""):
        return default
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"'{value}' is not a date (YYYY-MM-DD)") from None


def _check_cube(
    model: Model, cube: Cube, doc: SourceDoc, diags: Diagnostics, misnamed: Collection[str] = ()
) -> None:
    _dups(((c.name, ("columns", i, "name")) for i, c in enumerate(cube.columns)), "column", doc, diags)
    _dups(((m.name, ("measures", i, "name")) for i, m in enumerate(cube.measures)), "measure", doc, diags)
    _dups(((r.name, ("rollups", i, "name")) for i, r in enumerate(cube.rollups)), "rollup", doc, diags)
    _dups(
        ((d.alias, ("dimensions", i, "dimension")) for i, d in enumerate(cube.dimensions)),
        "dimension link",
        doc,
        diags,
    )
    columns = {c.name: c for c in cube.columns}
    _check_identifiers(cube, doc, diags)
    time_links = 0
    unknown_links = 0
    """Links to a dimension that is not there: whether the cube has time is then not known."""
    for i, link in enumerate(cube.dimensions):
        dim = model.dimensions.get(link.dimension)
        if dim is None:
            unknown_links += 1
        # Not again at every use: the dimension's own file is broken, or its name misspelt.
        reported = ("dimension", link.dimension) in model.unreadable or link.dimension in misnamed
        if dim is None and not reported:
            diags.add(
                "E103",
                f"unknown dimension '{link.dimension}'",
                doc.loc(("dimensions", i, "dimension")),
                did_you_mean(link.dimension, model.dimensions),
            )
        col = columns.get(link.column)
        if col is None:
            diags.add(
                "E105",
                f"unknown column '{link.column}'",
                doc.loc(("dimensions", i, "column")),
                did_you_mean(link.column, columns),
            )
        if dim is not None and dim.is_time:
            time_links += 1
            if time_links == 2:
                diags.add(
                    "E116", "a cube links at most one time dimension", doc.loc(("dimensions", i, "dimension"))
                )
        if dim is None or col is None:
            continue
        if col.pseudonymous:
            diags.add(
                "E125",
                f"column '{col.name}' holds pseudonymous identifiers ({col.namespace or col.type}): "
                "it cannot key a dimension",
                doc.loc(("dimensions", i, "column")),
                "cuts and drilldowns would show and select single persons; count them with "
                "count_distinct instead",
            )
        elif dim.is_time:
            if col.type not in (ColumnType.date, ColumnType.datetime):
                diags.add(
                    "E108",
                    f"time dimension '{link.alias}' needs a date column, '{col.name}' is {col.type}",
                    doc.loc(("dimensions", i, "column")),
                )
        elif dim.members is not None and dim.members.calendar is not None:
            if col.type != ColumnType.date:
                diags.add(
                    "E108",
                    f"calendar dimension '{link.alias}' is keyed by the day: '{col.name}' is {col.type}, "
                    "not date",
                    doc.loc(("dimensions", i, "column")),
                )
        elif col.type not in (ColumnType.string, ColumnType.int, ColumnType.int64):
            diags.add(
                "E108",
                f"dimension key column '{col.name}' must be string or int, not {col.type}",
                doc.loc(("dimensions", i, "column")),
            )
    for i, link in enumerate(cube.dimensions):
        linked = model.dimensions.get(link.dimension)
        if linked is not None and linked.is_versioned and time_links == 0 and not unknown_links:
            diags.add(
                "E116",
                f"versioned dimension '{link.alias}' needs the cube to link a time dimension "
                "(members are looked up as at each fact's date)",
                doc.loc(("dimensions", i, "dimension")),
            )
    parsed = _check_measures(cube, columns, doc, diags, has_time=time_links > 0 or unknown_links > 0)
    _check_cycles(cube, parsed, doc, diags)
    _check_rollups(model, cube, doc, diags)


def _check_identifiers(cube: Cube, doc: SourceDoc, diags: Diagnostics) -> None:
    """`identifier` columns name their kind (the pseudonym namespace); nothing else does."""
    for i, c in enumerate(cube.columns):
        if c.type == ColumnType.identifier and c.kind is None:
            diags.add(
                "E125",
                f"identifier column '{c.name}' needs a 'kind'",
                doc.loc(("columns", i, "type")),
                "say what it identifies, e.g. 'kind: household': columns of one kind share one "
                "numbering, so their distinct counts agree across cubes",
            )
        elif c.type == ColumnType.identifier and c.kind == PERSON_NAMESPACE:
            diags.add(
                "E125",
                f"column '{c.name}' identifies persons: give it 'type: person', not kind 'person'",
                doc.loc(("columns", i, "kind")),
            )
        elif c.type != ColumnType.identifier and c.kind is not None:
            diags.add(
                "E125",
                f"'kind' applies to identifier columns only; '{c.name}' is {c.type}",
                doc.loc(("columns", i, "kind"), key=True),
                "use 'type: identifier' for identifiers to pseudonymise, or drop 'kind'",
            )


def _check_measures(
    cube: Cube, columns: dict[str, Any], doc: SourceDoc, diags: Diagnostics, has_time: bool
) -> dict[str, ParsedExpr]:
    parsed: dict[str, ParsedExpr] = {}
    measure_names = [m.name for m in cube.measures]
    for i, m in enumerate(cube.measures):
        base: NodePath = ("measures", i)
        if m.expression is not None:
            if m.function or m.column or m.filter:
                diags.add(
                    "E117", f"calculated measure '{m.name}' takes only 'expression'", doc.loc((*base, "name"))
                )
            others = [n for n in measure_names if n != m.name]
            result = parse_expression(m.expression, kind="calc", known=others)
            if isinstance(result, list):
                _expr_problems(result, doc, (*base, "expression"), diags)
            else:
                parsed[m.name] = result
            continue
        if m.function is None:
            diags.add(
                "E117", f"measure '{m.name}' needs a 'function' or an 'expression'", doc.loc((*base, "name"))
            )
            continue
        if m.column_expression is not None:
            _check_column_expression(m, columns, doc, base, diags)
            if m.filter is not None:
                result = parse_expression(m.filter, kind="filter", known=columns)
                if isinstance(result, list):
                    _expr_problems(result, doc, (*base, "filter"), diags)
            continue
        col = columns.get(m.column) if m.column else None
        if m.column and col is None:
            diags.add(
                "E105",
                f"unknown column '{m.column}'",
                doc.loc((*base, "column")),
                did_you_mean(m.column, columns),
            )
        if m.function in NEEDS_COLUMN and not m.column:
            diags.add("E117", f"measure '{m.name}' ({m.function}) needs a 'column'", doc.loc((*base, "name")))
        if col is not None and m.function in NUMERIC_ONLY and col.type not in NUMERIC_TYPES:
            diags.add(
                "E108",
                f"{m.function} needs a numeric column, '{col.name}' is {col.type}",
                doc.loc((*base, "column")),
            )
        if (
            col is not None
            and m.function in (Function.min, Function.max)
            and (col.type in (ColumnType.string, ColumnType.bool) or col.pseudonymous)
        ):
            diags.add(
                "E108",
                f"{m.function} needs a numeric or date column, '{col.name}' is {col.type}",
                doc.loc((*base, "column")),
            )
        if m.approximate and m.function != Function.count_distinct:
            diags.add("E108", "'approximate' applies only to count_distinct", doc.loc((*base, "approximate")))
        if m.function == Function.last and not has_time:
            diags.add(
                "E116",
                f"stock measure '{m.name}' needs the cube to link a time dimension",
                doc.loc((*base, "function")),
            )
        if m.filter is not None:
            result = parse_expression(m.filter, kind="filter", known=columns)
            if isinstance(result, list):
                _expr_problems(result, doc, (*base, "filter"), diags)
    return parsed


ROW_FUNCTIONS = {Function.sum, Function.min, Function.max, Function.avg}
"""The functions a column expression can feed (a distinct count or a stock of an expression
is not something a statistician means)."""


def _check_column_expression(
    m: Measure, columns: dict[str, Any], doc: SourceDoc, base: NodePath, diags: Diagnostics
) -> None:
    """`column_expression`: arithmetic over numeric fact columns, for sum, min, max or avg."""
    assert m.column_expression is not None
    if m.column is not None:
        diags.add(
            "E117",
            f"measure '{m.name}' gives both 'column' and 'column_expression'",
            doc.loc((*base, "column_expression"), key=True),
            "keep one: a column, or an expression over columns",
        )
    if m.function not in ROW_FUNCTIONS:
        diags.add(
            "E108",
            f"{m.function} cannot take a column expression",
            doc.loc((*base, "function")),
            "column expressions feed sum, min, max and avg",
        )
    result = parse_expression(m.column_expression, kind="row", known=columns)
    if isinstance(result, list):
        _expr_problems(result, doc, (*base, "column_expression"), diags)
        return
    typed = row_type(result, columns, m.column_expression)
    if isinstance(typed, list):
        _expr_problems(typed, doc, (*base, "column_expression"), diags, "E108")
        return
    pseudonymous = [n for n in result.names if columns[n].pseudonymous]
    if pseudonymous:
        diags.add(
            "E108",
            f"column '{pseudonymous[0]}' holds pseudonymous identifiers",
            doc.loc((*base, "column_expression")),
        )


def _expr_problems(
    problems: list[Any], doc: SourceDoc, path: NodePath, diags: Diagnostics, code: str = "E109"
) -> None:
    for p in problems:
        diags.add(code, p.message, doc.text_loc(path, p.offset), p.hint)


def _check_cycles(cube: Cube, parsed: dict[str, ParsedExpr], doc: SourceDoc, diags: Diagnostics) -> None:
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2 or name not in parsed:
            return
        if state.get(name) == 1:
            cycle = [*trail[trail.index(name) :], name]
            idx = next(i for i, m in enumerate(cube.measures) if m.name == cycle[0])
            diags.add(
                "E110",
                "calculated measures form a cycle: " + " → ".join(cycle),
                doc.loc(("measures", idx, "expression")),
            )
            return
        state[name] = 1
        for ref in parsed[name].names:
            visit(ref, [*trail, name])
        state[name] = 2

    for name in parsed:
        visit(name, [])


def base_measures(cube: Cube, names: Iterable[str]) -> list[Measure]:
    """The aggregated measures that the named measures (calculated or not) need, in cube order."""
    wanted: set[str] = set()
    stack = list(names)
    while stack:
        m = cube.measure(stack.pop())
        if m.name in wanted:
            continue
        wanted.add(m.name)
        if m.expression is not None:
            result = parse_expression(m.expression, kind="calc", known=[x.name for x in cube.measures])
            if isinstance(result, ParsedExpr):  # else reported by _check_measures
                stack.extend(result.names)
    return [m for m in cube.measures if m.name in wanted and not m.is_calculated]


def _check_rollups(model: Model, cube: Cube, doc: SourceDoc, diags: Diagnostics) -> None:
    aliases = {d.alias: d for d in cube.dimensions}
    # A link to an unknown dimension is reported at the link; a grain that names the dimension
    # its misspelt alias was meant to be is then right, and the alias is no suggestion.
    broken = [a for a, d in aliases.items() if d.dimension not in model.dimensions]
    good = [a for a in aliases if a not in broken]
    measure_names = [m.name for m in cube.measures]
    for i, r in enumerate(cube.rollups):
        base: NodePath = ("rollups", i)
        time_level = None
        for alias, level in r.grain.items():
            link = aliases.get(alias)
            if link is None:
                if not difflib.get_close_matches(alias, broken, n=1):
                    diags.add(
                        "E103",
                        f"unknown dimension '{alias}' in rollup '{r.name}'",
                        doc.loc((*base, "grain", alias), key=True),
                        did_you_mean(alias, good),
                    )
                continue
            dim = model.dimensions.get(link.dimension)
            if dim is None:
                continue
            if level not in [lv.name for lv in dim.levels]:
                diags.add(
                    "E104",
                    f"unknown level '{level}' of dimension '{alias}'",
                    doc.loc((*base, "grain", alias)),
                    did_you_mean(level, [lv.name for lv in dim.levels]),
                )
            elif dim.is_time:
                time_level = dim.level(level).role
        for j, name in enumerate(r.measures or []):
            if name not in measure_names:
                diags.add(
                    "E106",
                    f"unknown measure '{name}' in rollup '{r.name}'",
                    doc.loc((*base, "measures", j)),
                    did_you_mean(name, measure_names),
                )
        if any(n not in measure_names for n in r.measures or []):
            continue
        kept = base_measures(cube, r.measures or measure_names)
        stock = [m.name for m in kept if m.function == Function.last]
        if stock and r.measures is not None and time_level != "day":
            # Point at the first listed measure that brings a stock measure in.
            j = next(
                j
                for j, n in enumerate(r.measures)
                if any(m.function == Function.last for m in base_measures(cube, [n]))
            )
            diags.add(
                "E111",
                f"rollup '{r.name}' cannot carry stock measure(s) {', '.join(stock)}: "
                "the last value of a period needs the time dimension at its 'day' level",
                doc.loc((*base, "measures", j)),
                "add the time dimension at day level, or drop the measure",
            )


def _check_indicators(model: Model, diags: Diagnostics) -> None:
    for code, ind in model.indicators.items():
        doc, base = model.indicator_paths[code]
        cube = model.cubes.get(ind.cube)
        if cube is None and ("cube", ind.cube) in model.unreadable:
            continue  # its file could not be read
        if cube is None:
            diags.add(
                "E112",
                f"indicator {code}: unknown cube '{ind.cube}'",
                doc.loc((*base, "cube")),
                did_you_mean(ind.cube, model.cubes),
            )
            continue
        names = [m.name for m in cube.measures]
        if ind.measure not in names:
            diags.add(
                "E112",
                f"indicator {code}: unknown measure '{ind.measure}' in cube '{cube.name}'",
                doc.loc((*base, "measure")),
                did_you_mean(ind.measure, names),
            )
        if ind.cuts and resolvable(model, cube):
            from .cut_grammar import parse_cuts
            from .resolve import check_cuts, unknown_members

            try:
                resolved = check_cuts(model, cube, parse_cuts(ind.cuts))
            except UserError as exc:  # from the query layer, located here
                diags.add(
                    "E112", f"indicator {code}: bad cuts: {exc.message}", doc.loc((*base, "cuts")), exc.hint
                )
                continue
            for rc in resolved:
                if ("members", rc.ref.dim.name) in model.unreadable:
                    continue  # not all its members could be read
                for message, hint in unknown_members(model, rc.ref.dim, rc.ref.hierarchy.levels, rc.cut):
                    diags.add(
                        "E112", f"indicator {code}: bad cuts: {message}", doc.loc((*base, "cuts")), hint
                    )


def _table_problem(
    model: Model, cube: Cube, text: str, hierarchies: dict[str, str | None]
) -> tuple[str, str | None] | None:
    """What is wrong with a publication table's drilldown (None: nothing). One dimension is
    published along one hierarchy in every table (`hierarchies` remembers which): the tables
    share one suppression pattern, whose cells are paths of one hierarchy per dimension."""
    from .cut_grammar import parse_drilldowns
    from .resolve import dim_ref

    try:
        drills = parse_drilldowns(text)
        sets = 1
        for d in drills:
            ref = dim_ref(model, cube, d.dimension, d.hierarchy)
            levels = ref.hierarchy.levels
            first = hierarchies.setdefault(d.dimension, ref.hierarchy.name)
            if first != ref.hierarchy.name:
                return (
                    f"'{d.dimension}' along hierarchy '{ref.hierarchy.name}', another table along '{first}'",
                    "publish each dimension along one hierarchy",
                )
            if d.level is not None and d.level not in levels:
                return f"'{d.dimension}' has no level '{d.level}'", did_you_mean(d.level, levels)
            sets *= (levels.index(d.level) + 2) if d.level is not None else 2
    except UserError as exc:
        return exc.message, exc.hint
    if not drills:
        return "no drilldown", "name the dimensions and levels published, e.g. `territory:region|time:year`"
    if sets > 64:
        return f"{sets} combinations of margins (at most 64)", "publish fewer dimensions or coarser levels"
    return None


def _check_disclosure(
    model: Model, cube: Cube, rules: Disclosure, doc: SourceDoc, diags: Diagnostics
) -> None:
    """E131: the contributors measure must count persons exactly (or records, in a cube without
    persons), and per-measure rules must name the cube's measures."""
    from .disclosure import contributors_of, suitable_contributors

    suitable = [m.name for m in suitable_contributors(cube)]
    persons = any(c.pseudonymous for c in cube.columns)
    what = "an exact, unfiltered count_distinct of a person column" if persons else "an unfiltered count"
    chosen = contributors_of(cube, rules)
    if chosen is None:
        diags.add(
            "E131",
            f"cube '{cube.name}' has disclosure rules but no measure counts its contributors",
            doc.loc(("disclosure",)),
            f"add a measure that is {what}",
        )
    elif chosen not in suitable:
        names = [m.name for m in cube.measures]
        diags.add(
            "E131",
            f"disclosure contributors '{chosen}' is not {what} of cube '{cube.name}'",
            doc.loc(("disclosure", "contributors")),
            f"use one of: {', '.join(suitable)}"
            if suitable
            else (did_you_mean(chosen, names) if chosen not in names else f"add a measure that is {what}"),
        )
    hierarchies: dict[str, str | None] = {}
    for i, text in enumerate(rules.tables):
        problem = _table_problem(model, cube, text, hierarchies)
        if problem is not None:
            diags.add(
                "E131",
                f"publication table '{text}': {problem[0]}",
                doc.loc(("disclosure", "tables", i)),
                problem[1],
            )
    names = [m.name for m in cube.measures]
    for name in rules.measures:
        if name not in names:
            diags.add(
                "E131",
                f"disclosure rules for unknown measure '{name}' of cube '{cube.name}'",
                doc.loc(("disclosure", "measures", name), key=True),
                did_you_mean(name, names),
            )
    if rules.method == "cell_key":
        _check_cell_key(model, cube, rules, chosen, doc, diags)
    elif rules.ptable is not None:
        diags.add(
            "E131",
            "a p-table perturbs counts only under `method: cell_key`",
            doc.loc(("disclosure", "ptable")),
            "add `method: cell_key`, or remove `ptable`",
        )


def _check_cell_key(
    model: Model, cube: Cube, rules: Disclosure, chosen: str | None, doc: SourceDoc, diags: Diagnostics
) -> None:
    """E131 for the cell key method: record keys come from pseudonyms, so the contributors must
    be distinct persons (or identifiers); the p-table must be a readable file of the model."""
    from .ptable import PTableError, ptable_path, read_ptable

    measure = next((m for m in cube.measures if m.name == chosen), None)
    if measure is not None and measure.function != Function.count_distinct:
        diags.add(
            "E131",
            f"the cell key method needs contributors that are persons: '{measure.name}' counts records",
            doc.loc(("disclosure", "method")),
            "use suppression, or count a person or identifier column (record keys come from pseudonyms)",
        )
    if rules.ptable is None:
        return
    path = ptable_path(model.root, rules.ptable)
    if path is None:
        diags.add(
            "E131",
            f"p-table '{rules.ptable}' is not a file of the model folder",
            doc.loc(("disclosure", "ptable")),
            "give a path relative to the model folder, inside it",
        )
        return
    try:
        read_ptable(path)
    except PTableError as exc:
        where = f"{path.name}:{exc.line}: " if exc.line else ""
        diags.add(
            "E131", f"p-table {where}{exc}", doc.loc(("disclosure", "ptable")), "columns: pcv,ckey,pvalue"
        )


def _check_sdmx(model: Model, diags: Diagnostics) -> None:
    """SDMX ids (docs/sdmx.md) that would clash in a structure message: two dataflows of one
    agency with one id (cubes' and indicators'), or a dimension named as a fixed component."""
    flows: dict[tuple[str, str], str] = {}

    def flow(agency: str, ident: str, what: str, where: Location) -> None:
        first = flows.setdefault((agency, ident), what)
        if first != what:
            diags.add(
                "E130",
                f"SDMX dataflow {agency}:{ident} of {what} is also that of {first}",
                where,
                "give the cube another `sdmx: {id: …}`",
            )

    for cube in model.cubes.values():
        doc = model.docs[("cube", cube.name)]
        ids = cube.sdmx_ids
        assert ids.id is not None
        flow(ids.agency, ids.id, f"cube '{cube.name}'", doc.loc(("sdmx",) if cube.sdmx else ("cube",)))
        for i, link in enumerate(cube.dimensions):
            dim = model.dimensions.get(link.dimension)
            if dim is not None and not dim.is_time and link.alias.upper() in SDMX_COMPONENTS:
                diags.add(
                    "E130",
                    f"dimension '{link.alias}' would be the SDMX component {link.alias.upper()}, "
                    "which every LabIS data structure has already",
                    doc.loc(("dimensions", i, "name" if link.name else "dimension")),
                    "name it otherwise in the cube (`name:`)",
                )
    for code, ind in model.indicators.items():
        of = model.cubes.get(ind.cube)
        if of is None:
            continue
        doc, base = model.indicator_paths[code]
        flow(of.sdmx_ids.agency, ind.sdmx_id, f"indicator {code}", doc.loc((*base, "code")))


def member_problems(
    dim: Dimension, rows: list[dict[str, Any]], locs: list[Location], doc: SourceDoc
) -> Diagnostics:
    """The checks of a dimension's member rows (columns, empty keys, duplicate keys, overlapping
    validity), for rows that come from a load rather than the model folder."""
    diags = Diagnostics()
    _check_members(dim, rows, locs, doc, diags)
    return diags
