"""Members of a dimension at a level (Slicer's /members/<dim>) and the labels of a cut's path.

Non-time members are read from the dimension's own tables (the map table the dictionaries are
built from), so every member of the dimension is listed whether or not facts mention it. A
versioned dimension lists the members valid on `as_of` when one is given, else every member
that has ever existed. Time has no member table: its members are the distinct periods of the
cube's facts.

Rows carry `dim.level` and `dim.level_label` for each level from the top of the hierarchy
down to the level asked for, the same names the aggregate cells use.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..errors import NotFoundError, QueryError
from ..model.cuts import Cut, Order, Path, PointCut, SetCut
from ..model.diagnostics import did_you_mean
from ..model.resolve import DimRef, ResolvedCut, check_cuts, dim_ref, member_index, period
from ..model.schema import TimeRole
from ..physical.layout import CubeLayout, dim_tables, labels_dict, q, time_bucket
from ..physical.members import attribute_columns, attribute_map
from .limits import run_limited
from .planner import StoredShape
from .results import MembersResult
from .sqlgen import TIME_KEY, TIME_LABEL, Params, RowContext, cut_condition, member_condition


def _depth(ref: DimRef, depth: int | None, level: str | None) -> int:
    names = ref.hierarchy.levels
    if level is not None:
        if level not in names:
            raise NotFoundError(
                f"hierarchy '{ref.hierarchy.name}' of '{ref.alias}' has no level '{level}'",
                hint=did_you_mean(level, names),
            )
        found = names.index(level) + 1
        if depth is not None and depth != found:
            raise QueryError(f"depth {depth} and level '{level}' disagree (the level is at depth {found})")
        return found
    if depth is None:
        return len(names)
    if not 1 <= depth <= len(names):
        raise QueryError(
            f"depth must be between 1 and {len(names)} for hierarchy '{ref.hierarchy.name}' of "
            f"'{ref.alias}', not {depth}"
        )
    return depth


def _map_condition(layout: CubeLayout, rc: ResolvedCut, params: Params) -> str:
    """A cut on the dimension itself, over the map table's level columns (cf. sqlgen.cut_condition)."""
    cut = rc.cut
    levels = rc.ref.hierarchy.levels

    def value(v: str | None) -> str:
        return params.add(v or "", "String")

    index = member_index(layout.model, rc.ref.dim, rc.ref.hierarchy)
    cond = member_condition(cut, levels, q, value, index.numeric, params)
    return f"NOT ({cond})" if cut.invert else f"({cond})"


def _order_terms(order: tuple[Order, ...], names: list[str], default: list[str]) -> str:
    terms = []
    for o in order:
        if o.field not in names:
            raise QueryError(f"cannot order members by '{o.field}'", hint=did_you_mean(o.field, names))
        terms.append(f"{q(o.field)} {o.direction.upper()}")
    return ", ".join([*terms, *default])


def members(
    layout: CubeLayout,
    engine: Any,
    dimension: str,
    *,
    depth: int | None = None,
    level: str | None = None,
    hierarchy: str | None = None,
    cuts: tuple[Cut, ...] = (),
    order: tuple[Order, ...] = (),
    page: int | None = None,
    pagesize: int | None = None,
    as_of: dt.date | None = None,
    lang: str = "lv",
    timeout: float = 30.0,
    max_memory: int | None = None,
) -> MembersResult:
    model, cube = layout.model, layout.cube
    ref = dim_ref(model, cube, dimension, hierarchy)
    n = _depth(ref, depth, level)
    levels = ref.levels(n)
    resolved = check_cuts(model, cube, cuts)
    others = sorted({rc.ref.alias for rc in resolved if rc.ref.alias != ref.alias})
    if others:
        raise QueryError(
            f"members of '{ref.alias}' take cuts on '{ref.alias}' only, not on {', '.join(others)}",
            hint="members are those of the dimension, not of the facts in a cell; drop the other cuts",
        )
    params = Params()
    names: list[str] = []
    for lv in levels:
        names += [f"{ref.alias}.{lv.name}", f"{ref.alias}.{lv.name}_label"]
    if ref.dim.is_time:
        sql = _time_sql(layout, ref, levels, resolved, params)
    else:
        sql = _dimension_sql(layout, ref, levels, resolved, params, as_of, lang)
    default = ["`__order`"] if ref.dim.is_time else _label_order(layout, ref, levels)
    sql += f" ORDER BY {_order_terms(order, names, default)}"
    if pagesize is not None:
        sql += (
            f" LIMIT {params.add(pagesize, 'UInt64')} OFFSET {params.add((page or 0) * pagesize, 'UInt64')}"
        )
    table = run_limited(engine, sql, params.values, timeout, f"members of '{ref.alias}'", max_memory)
    table = table.select(names)
    if not ref.dim.is_time:
        keys = {lv.name: table.column(f"{ref.alias}.{lv.name}").to_pylist() for lv in levels}
        for name, col in attribute_columns(ref.dim, ref.alias, keys, attribute_map(model, ref.dim)).items():
            table = table.append_column(name, col)
    return MembersResult(
        ref.alias, ref.hierarchy.name, n, [lv.name for lv in levels], table, sql, params.values
    )


def _label_order(layout: CubeLayout, ref: DimRef, levels: list[Any]) -> list[str]:
    ldict = labels_dict(layout.model, layout.database, ref.dim)
    out = []
    for lv in levels:
        out.append(f"dictGet('{ldict}', 'sort', tuple('{lv.name}', {q(f'{ref.alias}.{lv.name}')}))")
        out.append(q(f"{ref.alias}.{lv.name}"))
    return out


def _dimension_sql(
    layout: CubeLayout,
    ref: DimRef,
    levels: list[Any],
    cuts: list[ResolvedCut],
    params: Params,
    as_of: dt.date | None,
    lang: str,
) -> str:
    map_table, _ = dim_tables(layout.model, ref.dim)
    where = [_map_condition(layout, rc, params) for rc in cuts]
    if ref.dim.is_versioned and as_of is not None:
        d = params.add(as_of, "Date")
        where.append(f"`valid_from` <= {d} AND {d} <= `valid_to`")
    # A member exists when its own key is set (a fact key with no member maps to '').
    where.append(f"{q(levels[-1].name)} != ''")
    inner = (
        f"SELECT DISTINCT {', '.join(q(lv.name) for lv in levels)} "
        f"FROM {q(layout.database)}.{q(map_table)} WHERE {' AND '.join(where)}"
    )
    ldict = labels_dict(layout.model, layout.database, ref.dim)
    label_col = f"label_{'en' if lang == 'en' else 'lv'}"
    cols = []
    for lv in levels:
        key = f"{ref.alias}.{lv.name}"
        cols.append(f"{q(lv.name)} AS {q(key)}")
        cols.append(
            f"dictGet('{ldict}', '{label_col}', tuple('{lv.name}', {q(lv.name)})) AS {q(key + '_label')}"
        )
    return f"SELECT {', '.join(cols)} FROM ({inner})"


def _time_sql(
    layout: CubeLayout, ref: DimRef, levels: list[Any], cuts: list[ResolvedCut], params: Params
) -> str:
    if layout.time_link is None:  # pragma: no cover - a time dimension is always linked by a date column
        raise QueryError(f"cube '{layout.cube.name}' has no date column for '{ref.alias}'")
    role = levels[-1].role
    assert role is not None
    shape = StoredShape("facts", layout.facts_table, {}, None)
    ctx = RowContext(layout, shape, params, None, on_facts=True)
    where = [cut_condition(rc, ctx) for rc in cuts]
    inner = (
        f"SELECT DISTINCT {time_bucket(role, ctx.time_expr())} AS `__order` "
        f"FROM {layout.source(layout.facts_table)}"
        + (f" WHERE {' AND '.join(where)}" if where else "")
    )
    cols = []
    for lv in levels:
        assert lv.role is not None
        key = f"{ref.alias}.{lv.name}"
        cols.append(f"{TIME_KEY[lv.role]}(`__order`) AS {q(key)}")
        cols.append(f"{TIME_LABEL[lv.role].format('`__order`')} AS {q(key + '_label')}")
    return f"SELECT {', '.join(cols)}, `__order` FROM ({inner})"


# --- labels of a cut's path (Slicer's cell details) ------------------------------------------


def time_label(role: TimeRole, start: dt.date) -> str:
    if role == TimeRole.year:
        return str(start.year)
    if role == TimeRole.quarter:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if role == TimeRole.month:
        return f"{start.year}-{start.month:02d}"
    return start.isoformat()


def path_details(layout: CubeLayout, engine: Any, ref: DimRef, path: Path, lang: str) -> list[dict[str, Any]]:
    """One record per element of `path`, top-down: `dim.level`, `dim.level_label`, `_key`, `_label`."""
    levels = ref.levels(len(path))
    out: list[dict[str, Any]] = []
    if ref.dim.is_time:
        for i, lv in enumerate(levels):
            assert lv.role is not None
            start, _ = period(ref, path[: i + 1])
            value = path[i]
            key: Any = int(value) if value is not None and value.isdigit() else value
            label = time_label(lv.role, start)
            out.append(
                {
                    f"{ref.alias}.{lv.name}": key,
                    f"{ref.alias}.{lv.name}_label": label,
                    "_key": key,
                    "_label": label,
                }
            )
        return out
    params = Params()
    ldict = labels_dict(layout.model, layout.database, ref.dim)
    label_col = f"label_{'en' if lang == 'en' else 'lv'}"
    exprs = [
        f"dictGetOrDefault('{ldict}', '{label_col}', "
        f"tuple('{lv.name}', {params.add(v or '', 'String')}), '') AS `l{i}`"
        for i, (lv, v) in enumerate(zip(levels, path, strict=True))
    ]
    row = engine.query(f"SELECT {', '.join(exprs)}", params.values).to_pylist()[0]
    for i, (lv, v) in enumerate(zip(levels, path, strict=True)):
        found = row[f"l{i}"] or None
        out.append(
            {f"{ref.alias}.{lv.name}": v, f"{ref.alias}.{lv.name}_label": found, "_key": v, "_label": found}
        )
    return out


def cut_details(layout: CubeLayout, engine: Any, cut: Cut, lang: str) -> Any:
    """Point: the path's details; set: a list of them; range: {"from": …, "to": …}."""
    ref = dim_ref(layout.model, layout.cube, cut.dimension, cut.hierarchy)
    if isinstance(cut, PointCut):
        return path_details(layout, engine, ref, cut.path, lang)
    if isinstance(cut, SetCut):
        return [path_details(layout, engine, ref, p, lang) for p in cut.paths]
    return {
        "from": path_details(layout, engine, ref, cut.from_path, lang) if cut.from_path else None,
        "to": path_details(layout, engine, ref, cut.to_path, lang) if cut.to_path else None,
    }
