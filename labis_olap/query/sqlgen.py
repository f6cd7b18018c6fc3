"""SQL for an aggregate query over a chosen source.

The shape is the same whether the source is a rollup or the facts (pre-aggregated on the fly
to the same columns), which is what makes "rollup answer = facts answer" hold by
construction. Identifiers come only from the validated model (via `q`); every value a user
sent is a bound `{pN:Type}` parameter.

    cells:  SELECT level keys, merged measures FROM source WHERE cuts
            GROUP BY GROUPING SETS ((level keys), (), (subtotal keys)…)
    stock:  last value per cell = argMax(per-date sum, date), grouped the same way
    final:  keys, measures, calculated measures; capped per grouping set (LIMIT BY), or
            ordered and paged per grouping set (a window) when a page was asked for
    (flows only or stocks only, unpaged: the cells' SELECT is the final one)

The engine returns level keys as grouped (a period's start date, a member key); `Shown` says how
the Browser turns them into the answer's attributes (year numbers, '2024-Q2', members' labels,
'' as null), and `SortKey` how it orders unpaged cells. Each expression costs ClickHouse's
analyzer time, which on a rollup of a few thousand rows is most of the query. With labels,
period numbers, the ORDER BY, the grand total's grouping set (for counts and exact sums),
coarser time and member keys and an extra query level in the SQL, bench_api.py's six
aggregates took 8.5-20.0 ms of engine time; without them 4.2-15.3 ms (-27 to -55 %; interleaved
medians of 40, 2026-11-26).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import QueryError
from ..model.cuts import Cut, Order, Path, PointCut, RangeCut, SetCut
from ..model.definition import Model
from ..model.dependencies import determined, level_parents
from ..model.diagnostics import did_you_mean
from ..model.expressions import ParsedExpr, parse_expression
from ..model.resolve import ResolvedCut, member_index, period
from ..model.schema import ColumnType, Dimension, Function, Measure, TimeRole
from ..physical.layout import CubeLayout, dim_tables, fact_key_sql, labels_dict, map_dict, q, time_bucket
from .planner import StoredShape
from .resolve import ResolvedDrilldown

TIME_KEY = {
    TimeRole.year: "toYear",
    TimeRole.quarter: "toQuarter",
    TimeRole.month: "toMonth",
    TimeRole.day: "toDayOfMonth",
}
TIME_LABEL = {
    TimeRole.year: "toString(toYear({0}))",
    TimeRole.quarter: "concat(toString(toYear({0})), '-Q', toString(toQuarter({0})))",
    TimeRole.month: "formatDateTime({0}, '%Y-%m')",
    TimeRole.day: "toString({0})",
}


@dataclass
class Params:
    values: dict[str, Any] = field(default_factory=dict)

    def add(self, value: Any, type_sql: str) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"{{{name}:{type_sql}}}"


@dataclass
class RowContext:
    """Expressions for one kind of row: fact rows, or source rows (rollup / pre-aggregated facts)."""

    layout: CubeLayout
    shape: StoredShape
    params: Params
    as_of: dt.date | None
    on_facts: bool
    mapped: frozenset[str] = frozenset()
    """Dimensions whose level keys the facts' source query already joined in (`mapped_column`)."""

    def time_expr(self) -> str:
        if not self.on_facts:
            return "`__t`"
        assert self.layout.time_link is not None
        col = self.layout.cube.column(self.layout.time_link[1])
        return q(col.name) if col.type == ColumnType.date else f"toDate({q(col.name)})"

    def raw_key(self, alias: str) -> str:
        if not self.on_facts:
            return q(alias)
        return fact_key_sql(self.layout.cube, self.layout.cube.link(alias).column)

    def level_key(self, alias: str, level: str) -> str:
        dim = self.layout.dimension(alias)
        if alias in self.mapped and not self.on_facts:
            return q(mapped_column(alias, level))
        kind, stored = self.shape.dims.get(alias, ("key", dim.leaf.name))
        if kind == "level" and not self.on_facts:
            if level == stored:
                return q(alias)
            # A coarser level of a stored middle one (the planner checked the members say which
            # parent each key has): mapped once per stored key, from the model's members.
            parents = level_parents(self.layout.model, dim, stored).maps[level]
            keys = self.params.add(list(parents), "Array(String)")
            values = self.params.add(list(parents.values()), "Array(String)")
            return f"transform({q(alias)}, {keys}, {values}, '')"
        if not dim.is_versioned and dim.keyed_at_leaf and level == dim.leaf.name:
            return self.raw_key(alias)
        args = f"tuple({self.raw_key(alias)})"
        if dim.is_versioned:
            args += ", " + (self.time_expr() if self.as_of is None else self.params.add(self.as_of, "Date"))
        # dictGetOrDefault, not dictGet: ClickHouse 26's optimize_inverse_dictionary_lookup
        # rewrites `dictGet(complex-key dict, …) = const` into an IN that fails with a type
        # mismatch (TYPE_MISMATCH, "Expected: Tuple(…). Got: Array"); the default '' is the
        # same value dictGet gives a missing key.
        mapping = map_dict(self.layout.model, self.layout.database, dim)
        return f"dictGetOrDefault('{mapping}', '{level}', {args}, '')"


def cut_condition(rc: ResolvedCut, ctx: RowContext) -> str:
    cut = rc.cut
    if rc.ref.dim.is_time:
        t = ctx.time_expr()
        if isinstance(cut, RangeCut):
            parts = []
            if cut.from_path:
                parts.append(f"{t} >= {ctx.params.add(period(rc.ref, cut.from_path)[0], 'Date')}")
            if cut.to_path:
                parts.append(f"{t} < {ctx.params.add(period(rc.ref, cut.to_path)[1], 'Date')}")
            cond = " AND ".join(parts)
        else:
            paths = cut.paths if isinstance(cut, SetCut) else (cut.path,)
            spans = [period(rc.ref, p) for p in paths]
            cond = " OR ".join(
                f"({t} >= {ctx.params.add(a, 'Date')} AND {t} < {ctx.params.add(b, 'Date')})"
                for a, b in spans
            )
    else:
        keyset = fact_key_set(rc, ctx) if ctx.on_facts else None
        cond = keyset or member_condition(
            cut,
            rc.ref.hierarchy.levels,
            lambda level: ctx.level_key(rc.ref.alias, level),
            lambda v: ctx.params.add(v or "", "String"),
            member_index(ctx.layout.model, rc.ref.dim, rc.ref.hierarchy).numeric,
            ctx.params,
        )
    return f"NOT ({cond})" if cut.invert else f"({cond})"


_INT_KEYS: dict[tuple[int, str, str], tuple[Model, bool]] = {}
INT_RANGE = {"Int32": (-(2**31), 2**31 - 1), "Int64": (-(2**63), 2**63 - 1)}


def int_key_check(model: Model, dim: Dimension, t: str) -> str:
    """' AND <condition>' keeping only members whose fact key is the text of an integer of type
    `t` ('7', not '007' or '+7': what `toString(column)` matches), or '' when every member's
    key is one already (checked once per model: the condition costs a conversion per member)."""
    key = (id(model), dim.name, t)
    hit = _INT_KEYS.get(key)
    if hit is None or hit[0] is not model:
        low, high = INT_RANGE[t]
        column = dim.fact_key_column

        def canonical(value: object) -> bool:
            text = "" if value is None else str(value)
            try:
                return str(int(text)) == text and low <= int(text) <= high
            except ValueError:
                return False

        hit = (model, all(canonical(r.get(column)) for r in model.members.get(dim.name, [])))
        _INT_KEYS[key] = hit
    return "" if hit[1] else f" AND toString(to{t}OrNull(`fact_key`)) = `fact_key`"


def fact_key_set(rc: ResolvedCut, ctx: RowContext) -> str | None:
    """A member cut on fact rows as one set of fact keys, built once from the dimension's map
    table (the rows its dictionary holds), instead of a dictionary lookup per fact row.

    The same condition selects the same members, so the answer is the one the lookup gives, for
    inverted cuts too: a fact key that no member has is in no set, as the lookup's '' matches no
    named member. None (use the lookup) where that does not hold: a path naming the unknown
    member '' (it matches every missing key), or versioned members (the member depends on the
    fact's date). An integer key column is compared as stored, with the members' keys that are
    that integer's text, which is what the lookup on `toString(column)` matches."""
    cut = rc.cut
    dim = rc.ref.dim
    if dim.is_versioned:
        return None
    if isinstance(cut, (PointCut, SetCut)):
        paths = cut.paths if isinstance(cut, SetCut) else (cut.path,)
        if any(v in (None, "") for p in paths for v in p):
            return None
    layout = ctx.layout
    levels = rc.ref.hierarchy.levels
    index = member_index(layout.model, dim, rc.ref.hierarchy)
    members = member_condition(
        cut, levels, q, lambda v: ctx.params.add(v or "", "String"), index.numeric, ctx.params
    )
    table = f"{q(layout.database)}.{q(dim_tables(layout.model, dim)[0])}"
    col = layout.cube.column(layout.cube.link(rc.ref.alias).column)
    if col.type in (ColumnType.int, ColumnType.int64):
        t = "Int32" if col.type == ColumnType.int else "Int64"
        same = int_key_check(layout.model, dim, t)
        test = f"{q(col.name)} IN (SELECT to{t}OrZero(`fact_key`) FROM {table} WHERE ({members}){same})"
        return f"(isNotNull({q(col.name)}) AND {test})" if col.nullable else test
    key = fact_key_sql(layout.cube, col.name)
    return f"{key} IN (SELECT `fact_key` FROM {table} WHERE {members})"


def member_condition(
    cut: Cut,
    levels: list[str],
    key_of: Callable[[str], str],
    value: Callable[[str | None], str],
    numeric: Callable[[str], str | None] = lambda level: None,
    params: Params | None = None,
) -> str:
    """A point, set or range cut over member paths, given each level's key SQL and a binder.

    Ranges compare whole paths level by level (as Cubes does): R1,M1-R1,M2 stays inside R1
    rather than taking M1..M2 of every region. A level whose keys are all numbers (`numeric`
    says which type) compares as numbers, so that `quantity:1-24` does not take '100' (as text
    it sorts between '1' and '24'). Unknown and NULL members are stored as '' and would sort
    into every open range, so ranges leave them out.
    """
    if isinstance(cut, RangeCut):
        ref_path = cut.from_path or cut.to_path
        assert ref_path is not None
        names = levels[: len(ref_path)]
        kinds = [numeric(lv) if params is not None else None for lv in names]
        raw = [key_of(lv) for lv in names]
        keys = [f"to{k}OrNull({sql})" if k else sql for sql, k in zip(raw, kinds, strict=True)]
        key = "tuple(" + ", ".join(keys) + ")"

        def element(v: str | None, kind: str | None, level: str) -> str:
            if kind is None:
                return value(v)
            assert params is not None
            try:
                number: float | int = int(v or "") if kind == "Int64" else float(v or "")
            except ValueError:
                raise QueryError(
                    f"range on '{cut.dimension}': level '{level}' has numbers for keys, '{v}' is not one"
                ) from None
            return params.add(number, kind)

        def bound(path: Path) -> str:
            return (
                "tuple("
                + ", ".join(element(v, k, n) for v, k, n in zip(path, kinds, names, strict=True))
                + ")"
            )

        parts = []
        if cut.from_path:
            parts.append(f"{key} >= {bound(cut.from_path)}")
        if cut.to_path:
            parts.append(f"{key} <= {bound(cut.to_path)}")
        parts.append(f"{raw[-1]} != ''")
        return " AND ".join(parts)
    paths = cut.paths if isinstance(cut, SetCut) else (cut.path,)
    return " OR ".join(
        "(" + " AND ".join(f"{key_of(levels[i])} = {value(v)}" for i, v in enumerate(p)) + ")" for p in paths
    )


@dataclass(frozen=True)
class OutColumn:
    name: str
    sql: str


@dataclass(frozen=True)
class Shown:
    """An attribute of the answer, made by the Browser from the engine's `column`: `how` is
    "member" ('' is null), "label" (the member's label in `lang`, null if it has none),
    "split" (0/1 as a boolean), or a time role with or without "_label" ("year": 2024,
    "quarter_label": '2024-Q2')."""

    name: str
    column: str
    how: str
    dimension: str = ""
    level: str = ""
    lang: str = ""


@dataclass(frozen=True)
class Derived:
    """A level key the Browser adds to the engine's answer: the member at `level` of the fact
    key in `source` (from the model's members, '' for an unknown key as dictGetOrDefault)."""

    column: str
    source: str
    dimension: str
    level: str


@dataclass(frozen=True)
class SortKey:
    """A key of the order the Browser sorts an unpaged answer by, instead of an ORDER
    BY (which cost the analyzer ≈ 1.7 ms on a small rollup: more than sorting its cells): the
    values `shown` makes from the engine's column ("raw": as returned; "sort": the member's sort
    key, '' for an unknown member, as dictGet gives)."""

    shown: Shown
    descending: bool = False


Grouping = tuple[int, ...] | None
"""One grouping set of an aggregate: how many levels of each drilldown it keeps (in drilldown
order; a split is kept whenever the tuple is given), or None for the grand total of the cell."""

SUMMARY: Grouping = None


@dataclass
class AggregateSQL:
    sql: str
    params: dict[str, Any]
    key_columns: list[str]
    label_columns: list[str]
    measure_columns: list[str]
    measure_sources: list[str]
    """The engine's column of each measure column (its name, or the merged `v__…`)."""
    shown: list[Shown]
    """How to make each attribute, top-down (see `Shown`)."""
    derived: list[Derived]
    """Level keys to add before presenting (see `Derived`)."""
    sort: list[SortKey] | None
    """The order to sort the rows in within each grouping set; None: the engine ordered them."""
    masks: dict[int, Grouping]
    """`__g` value of each grouping set's rows (ClickHouse's grouping() bitmask) → the set."""
    paged: bool
    """Rows carry `__total_cells` (the number of cells before paging)."""


@dataclass(frozen=True)
class _Key:
    """A group key over source rows; `drill` is the drilldown's index (-1: the split)."""

    drill: int
    depth: int
    column: OutColumn


MAP_PER_ROW = 8
"""A drilled dimension with this many times more fact keys than members at the drilled level
has its levels joined to the fact rows (a hash join on the fact key, as SQL written by hand
would) rather than the facts grouped by fact key: grouping 6M line orders by customer × supplier
× year to map them to nations afterwards makes nearly as many groups as rows."""


def mapped_column(alias: str, level: str) -> str:
    """A level key joined to the fact rows (`l__` is no fact column's, state column's or key's)."""
    return f"l__{alias}__{level}"


_COUNTS: dict[tuple[int, str, str], tuple[Model, int]] = {}


def _distinct_keys(model: Model, dim: Dimension, column: str) -> int:
    """How many distinct values a members column has (cached per model)."""
    key = (id(model), dim.name, column)
    hit = _COUNTS.get(key)
    if hit is not None and hit[0] is model:
        return hit[1]
    n = len({str(r.get(column)) for r in model.members.get(dim.name, [])})
    _COUNTS[key] = (model, n)
    return n


def map_per_row(layout: CubeLayout, d: ResolvedDrilldown) -> bool:
    """Whether a drilldown answered from the facts joins its levels to the fact rows: a
    dimension without versions (else the member depends on the date), not drilled to its fact
    key, over a non-nullable text or integer key (a NULL key's lookup would find a member keyed
    '', a join nothing), with many fact keys per drilled member (MAP_PER_ROW)."""
    dim = d.ref.dim
    if dim.is_versioned or dim.is_time or dim.members is None:
        return False
    if d.level.key_column == dim.fact_key_column:
        return False
    if not _join_keyed(layout, d.ref.alias):
        return False
    fact_keys = _distinct_keys(layout.model, dim, dim.fact_key_column)
    return fact_keys >= MAP_PER_ROW * _distinct_keys(layout.model, dim, d.level.key_column)


def _join_keyed(layout: CubeLayout, alias: str) -> bool:
    """Whether a dimension's members can be joined to the fact rows on the fact key: members
    without versions (one per key, E113) and a non-nullable text or integer key column."""
    dim = layout.dimension(alias)
    if dim.is_versioned or dim.is_time or dim.members is None:
        return False
    col = layout.cube.column(layout.cube.link(alias).column)
    return not col.nullable and col.type in (ColumnType.string, ColumnType.int, ColumnType.int64)


def _level_join(
    layout: CubeLayout, alias: str, levels: list[str], cuts: list[ResolvedCut], ctx: RowContext, n: int
) -> str:
    """A join of a dimension's level keys to the fact rows, from its map table. With `cuts`
    (every cut on the dimension, none inverted) an inner join of the members they select, which
    filters the facts as their key sets would; else a left join of every member (an unknown key
    gets '' as the dictionary lookup gives)."""
    dim = layout.dimension(alias)
    col = layout.cube.column(layout.cube.link(alias).column)
    join_key = f"j__{alias}"
    picked = [f"{q(lv)} AS {q(mapped_column(alias, lv))}" for lv in levels]
    where = []
    if col.type == ColumnType.string:
        key = f"`fact_key` AS {q(join_key)}"
    else:
        t = "Int32" if col.type == ColumnType.int else "Int64"
        key = f"to{t}OrZero(`fact_key`) AS {q(join_key)}"
        if check := int_key_check(layout.model, dim, t):
            where.append(check.removeprefix(" AND "))
    for rc in cuts:
        index = member_index(layout.model, dim, rc.ref.hierarchy)
        value = lambda v: ctx.params.add(v or "", "String")  # noqa: E731
        where.append(
            "(" + member_condition(rc.cut, rc.ref.hierarchy.levels, q, value, index.numeric, ctx.params) + ")"
        )
    table = f"{q(layout.database)}.{q(dim_tables(layout.model, dim)[0])}"
    right = f"SELECT {', '.join([key, *picked])} FROM {table}" + (
        f" WHERE {' AND '.join(where)}" if where else ""
    )
    # Fact keys are unique in the members of a dimension without versions (E113), so a join
    # matches each fact row once. (Not ANY INNER JOIN: that keeps one left row per key.)
    kind = "INNER JOIN" if cuts else "ANY LEFT JOIN"
    return f" {kind} ({right}) AS `__j{n}` ON {q(col.name)} = {q(join_key)}"


def _joinable(rc: ResolvedCut) -> bool:
    """A cut that an inner join of the members it selects can apply (as `fact_key_set`)."""
    cut = rc.cut
    if cut.invert:
        return False
    if isinstance(cut, (PointCut, SetCut)):
        paths = cut.paths if isinstance(cut, SetCut) else (cut.path,)
        return not any(v in (None, "") for p in paths for v in p)
    return True


def _facts_source(
    layout: CubeLayout,
    shape: StoredShape,
    cuts: list[ResolvedCut],
    params: Params,
    as_of: dt.date | None,
    grouped: set[str],
    mapped: dict[str, list[str]],
) -> str:
    """The facts grouped by the fact keys of the `grouped` dimensions (the drilled and split
    ones; a dimension only cut is filtered here and summed away), so that level keys and labels
    are looked up once per key in the outer query, not once per fact row — or, for the
    `mapped` ones (alias → levels), by those levels' keys joined to the fact rows."""
    ctx = RowContext(layout, shape, params, as_of, on_facts=True)
    cols: list[str] = []
    keys: list[str] = []
    joins: list[str] = []
    if shape.time_grain is not None:
        assert layout.time_link is not None
        cols.append(f"{time_bucket(shape.time_grain, q(layout.time_link[1]))} AS `__t`")
        keys.append("`__t`")
    for alias in shape.dims:
        if alias not in grouped:
            continue
        if alias in mapped:
            # Grouped by the drilled level alone where its members determine the coarser ones
            # (city → nation → region): a narrower hash key, the others carried along by any().
            *above, deepest = mapped[alias]
            given = determined(layout.model, layout.dimension(alias), deepest)
            for lv in above:
                name = q(mapped_column(alias, lv))
                cols.append(f"any({name}) AS {name}" if lv in given else name)
                if lv not in given:
                    keys.append(name)
            cols.append(q(mapped_column(alias, deepest)))
            keys.append(q(mapped_column(alias, deepest)))
            continue
        cols.append(f"{ctx.raw_key(alias)} AS {q(alias)}")
        keys.append(q(alias))
    for m in shape.measures:
        cols.extend(f"{s.fill} AS {q(s.name)}" for s in layout.state_columns(m))
    filters = list(cuts)
    for n, (alias, levels) in enumerate(mapped.items()):
        own = [c for c in cuts if c.ref.alias == alias and not c.ref.dim.is_time]
        joined = own if own and all(_joinable(c) for c in own) else []
        filters = [c for c in filters if c not in joined]
        joins.append(_level_join(layout, alias, levels, joined, ctx, n))
    # A dimension only cut: an inner join of the members its cuts select filters the facts as
    # the key set would, and ClickHouse runs it faster than `IN (subquery)` (its join passes
    # the keys down to the scan). Same conditions as for a mapped dimension.
    only_cut = dict.fromkeys(c.ref.alias for c in cuts if not c.ref.dim.is_time and c.ref.alias not in mapped)
    for n, alias in enumerate(only_cut, start=len(mapped)):
        own = [c for c in cuts if c.ref.alias == alias]
        if alias in grouped or not all(_joinable(c) for c in own) or not _join_keyed(layout, alias):
            continue
        filters = [c for c in filters if c not in own]
        joins.append(_level_join(layout, alias, [], own, ctx, n))
    where = " AND ".join(cut_condition(c, ctx) for c in filters)
    return (
        f"(SELECT {', '.join(cols)} FROM {layout.source(layout.facts_table)}"
        + (f" AS `__f`{''.join(joins)}" if joins else "")
        + (f" WHERE {where}" if where else "")
        + (f" GROUP BY {', '.join(keys)}" if keys else "")
        + ")"
    )


def build_aggregate(
    layout: CubeLayout,
    shape: StoredShape,
    measures: list[Measure],
    cuts: list[ResolvedCut],
    drills: list[ResolvedDrilldown],
    order: tuple[Order, ...],
    page: int | None,
    pagesize: int | None,
    as_of: dt.date | None,
    lang: str,
    *,
    split: list[ResolvedCut] | None = None,
    groupings: tuple[Grouping, ...] = (),
    limit: int | None = None,
) -> AggregateSQL:
    """The cells, plus the rows of every extra grouping set (grand total, subtotals) in ONE query.

    Every level of the SQL groups by GROUPING SETS, so a total is computed from the source rows,
    never by adding cells: distinct counts, averages and stocks come out right. Rows say their
    set in `__g`. With `pagesize`, only the cells are paged (a window numbers them); else
    `limit` caps every set at limit + 1 rows, so that an oversized answer is seen, not shipped.
    """
    params = Params()
    if shape.name == "facts":
        split_dims = {c.ref.alias for c in split or []}
        grouped = {d.ref.alias for d in drills} | split_dims
        mapped = {
            d.ref.alias: [lv.name for lv in d.levels]
            for d in drills
            if d.ref.alias not in split_dims and map_per_row(layout, d)
        }
        source = _facts_source(layout, shape, cuts, params, as_of, grouped, mapped)
        where = ""
    else:
        mapped = {}
        source = layout.source(shape.table)
        ctx_where = RowContext(layout, shape, params, as_of, on_facts=False)
        where = " AND ".join(cut_condition(c, ctx_where) for c in cuts)
    ctx = RowContext(layout, shape, params, as_of, on_facts=False, mapped=frozenset(mapped))

    # Group keys over source rows: one per drilled level; time levels are period starts.
    # `finals` and `labels` hold each attribute's SQL, used only where a client orders by it;
    # the engine returns the keys, and `shown` says how to present them.
    keys: list[_Key] = []
    finals: list[OutColumn] = []
    labels: list[OutColumn] = []
    shown: list[Shown] = []
    default_order: list[str] = []
    default_sort: list[SortKey] = []
    derived: list[Derived] = []
    if split:
        cond = " AND ".join(cut_condition(c, ctx) for c in split)
        keys.append(_Key(-1, 1, OutColumn("k____split", f"toUInt8({cond})")))
        finals.append(OutColumn(SPLIT_ATTRIBUTE, "toBool(`k____split`)"))
        shown.append(Shown(SPLIT_ATTRIBUTE, "k____split", "split"))
        default_order.append("`k____split` DESC")
        default_sort.append(SortKey(Shown("", "k____split", "raw"), descending=True))
    # Without subtotals no set drops a finer period and keeps a coarser one, so a time drilldown
    # groups by its deepest period alone: the year or quarter of a month's start is the month's.
    full: Grouping = tuple(len(d.levels) for d in drills)
    only_whole = all(g is None or g == full for g in groupings)
    for i, d in enumerate(drills):
        alias = d.ref.alias
        if d.ref.dim.is_time:
            for depth, lv in enumerate(d.levels, 1):
                assert lv.role is not None
                pk = f"k__{alias}__{lv.name}"
                if only_whole and depth < len(d.levels):
                    pk = f"k__{alias}__{d.levels[-1].name}"  # the deepest level's key (below)
                else:
                    keys.append(_Key(i, depth, OutColumn(pk, time_bucket(lv.role, "`__t`"))))
                    default_order.append(q(pk))
                    default_sort.append(SortKey(Shown("", pk, "raw")))
                finals.append(OutColumn(f"{alias}.{lv.name}", f"{TIME_KEY[lv.role]}({q(pk)})"))
                labels.append(OutColumn(f"{alias}.{lv.name}_label", TIME_LABEL[lv.role].format(q(pk))))
                shown.append(Shown(f"{alias}.{lv.name}", pk, lv.role.value))
                shown.append(Shown(f"{alias}.{lv.name}_label", pk, f"{lv.role.value}_label"))
            continue
        ldict = labels_dict(layout.model, layout.database, d.ref.dim)
        # Drilled to the fact key of a dimension without versions, the coarser levels are
        # functions of it: group by the key alone and look them up from the model (`derived`).
        leaf = (
            d.levels[-1].name == d.ref.dim.leaf.name
            and d.ref.dim.keyed_at_leaf
            and not d.ref.dim.is_versioned
        )
        # (Unpaged only: a page is ordered by the engine, which needs every key.)
        by_leaf = only_whole and leaf and pagesize is None and shape.dims.get(alias, ("key", ""))[0] == "key"
        leaf_key = f"k__{alias}__{d.levels[-1].name}"
        for depth, lv in enumerate(d.levels, 1):
            k = f"k__{alias}__{lv.name}"
            if by_leaf and depth < len(d.levels):
                derived.append(Derived(k, leaf_key, d.ref.dim.name, lv.name))
            else:
                keys.append(_Key(i, depth, OutColumn(k, ctx.level_key(alias, lv.name))))
            finals.append(OutColumn(f"{alias}.{lv.name}", f"nullIf({q(k)}, '')"))
            lookup = f"tuple('{lv.name}', {q(k)})"
            label_col = f"label_{'en' if lang == 'en' else 'lv'}"
            label = f"{alias}.{lv.name}_label"
            labels.append(OutColumn(label, f"nullIf(dictGet('{ldict}', '{label_col}', {lookup}), '')"))
            shown.append(Shown(f"{alias}.{lv.name}", k, "member"))
            shown.append(Shown(label, k, "label", d.ref.dim.name, lv.name, lang))
            default_order.append(f"dictGet('{ldict}', 'sort', {lookup})")
            default_order.append(q(k))
            default_sort.append(SortKey(Shown("", k, "sort", d.ref.dim.name, lv.name, lang)))
            default_sort.append(SortKey(Shown("", k, "raw")))

    sets: list[Grouping] = [full]
    if keys:
        sets.extend(g for g in dict.fromkeys(groupings) if g != full)
    key_names = [q(k.column.name) for k in keys]
    masks = {_mask(keys, g): g for g in sets}
    if len(sets) == 1:
        group_by = f" GROUP BY {', '.join(key_names)}" if keys else ""
        mark = ["0 AS `__g`"] if keys else []
    else:
        listed = ", ".join("(" + ", ".join(_kept(keys, g)) + ")" for g in sets)
        group_by = f" GROUP BY GROUPING SETS ({listed})"
        mark = [f"grouping({', '.join(key_names)}) AS `__g`"]

    base = [m for m in _bases(layout, measures)]
    flows = [m for m in base if m.function != Function.last]
    stocks = [m for m in base if m.function == Function.last]
    group_sql = [f"{k.column.sql} AS {q(k.column.name)}" for k in keys]
    where_sql = f" WHERE {where}" if where else ""

    parts: list[str] = []
    vals = [f"{_merged(layout, m)} AS {q('v__' + m.name)}" for m in flows]
    if flows or not stocks:
        select_list = ", ".join(group_sql + mark + vals) or "1 AS `__one`"
        parts.append(f"SELECT {select_list} FROM {source}{where_sql}{group_by}")
    if stocks:
        per_date = [f"sum({q(layout.state_columns(m)[0].name)}) AS {q('d__' + m.name)}" for m in stocks]
        if len(sets) == 1:
            inner_group = " GROUP BY " + ", ".join([*key_names, "`__t`"])
        else:
            listed = ", ".join("(" + ", ".join([*_kept(keys, g), "`__t`"]) + ")" for g in sets)
            inner_group = f" GROUP BY GROUPING SETS ({listed})"
        inner_cols = ", ".join([*group_sql, "`__t`", *mark, *per_date])
        inner = f"SELECT {inner_cols} FROM {source}{where_sql}{inner_group}"
        lasts = [f"argMax({q('d__' + m.name)}, `__t`) AS {q('v__' + m.name)}" for m in stocks]
        outer_keys = [*key_names, "`__g`"] if keys else []
        stock_select = [*outer_keys, *lasts]
        stock_from = f" FROM ({inner})" + (f" GROUP BY {', '.join(outer_keys)}" if outer_keys else "")
        parts.append(f"SELECT {', '.join(stock_select)}{stock_from}")
    measure_cols = [OutColumn(m.name, _final_measure(layout, m)) for m in measures]
    label_of = {c.name: c for c in labels}
    attrs = [c for k in finals for c in (k, label_of.get(f"{k.name}_label")) if c is not None]
    terms = _order_terms(order, attrs, measure_cols, default_order)
    measures_sql = [f"{c.sql} AS {q(c.name)}" for c in measure_cols]
    select = ", ".join([*(q(k.column.name) for k in keys), *measures_sql])
    paged = bool(keys) and pagesize is not None
    cap = ""
    if limit is not None:
        cap = f" LIMIT {params.add(limit + 1, 'UInt64')}" + (" BY `__g`" if len(sets) > 1 else "")
    taken = {*shape.dims, "__t", "__rows", "__g", *(k.column.name for k in keys)}
    flat = len(parts) == 1 and not paged and not taken & {m.name for m in measures}
    # The engine's column of each measure: flat, a plain measure is its merged value (`v__…`),
    # read as it is (an alias of it cost the analyzer ≈ 0.3 ms); a calculated one is named.
    sources = [("v__" if flat and not m.is_calculated else "") + m.name for m in measures]
    # Unpaged cells are sorted by the Browser (`sort`; LIMIT BY only caps each set, in any
    # order); a page must be cut from ordered cells, so the engine orders those.
    sort: list[SortKey] | None = None
    if keys and not paged:
        by_name = {s.name: s for s in shown} | {
            c.name: Shown(c.name, src, "raw") for c, src in zip(measure_cols, sources, strict=True)
        }
        sort = [SortKey(by_name[o.field], o.direction == "desc") for o in order] + default_sort
    if flat:
        # The cells' SELECT is the final one: the calculated measures join the merged ones (or
        # the stocks' last values) over the group keys.
        calculated = [
            f"{c.sql} AS {q(c.name)}" for c, m in zip(measure_cols, measures, strict=True) if m.is_calculated
        ]
        if not stocks:
            flat_sql = ", ".join([*group_sql, *(mark or ["0 AS `__g`"]), *vals, *calculated])
            sql = f"SELECT {flat_sql} FROM {source}{where_sql}{group_by}"
        else:
            flat_sql = ", ".join([*stock_select, *([] if keys else ["0 AS `__g`"]), *calculated])
            sql = f"SELECT {flat_sql}{stock_from}"
        sql += cap if keys else ""
    else:
        if len(parts) == 2:
            join = (
                f"INNER JOIN ({parts[1]}) AS s USING ({', '.join([*key_names, '`__g`'])})"
                if keys
                else f"CROSS JOIN ({parts[1]}) AS s"
            )
            cells = f"(SELECT * FROM ({parts[0]}) AS c {join})"
        else:
            cells = f"({parts[0]})"
        if not keys:
            sql = f"SELECT {select}, 0 AS `__g` FROM {cells} AS cells"
        elif pagesize is not None:
            first = params.add((page or 0) * pagesize, "UInt64")
            last = params.add(((page or 0) + 1) * pagesize, "UInt64")
            capped = f" AND `__rn` <= {params.add(limit + 1, 'UInt64')}" if limit is not None else ""
            window = f"PARTITION BY `__g` ORDER BY {', '.join(terms)}" if terms else "PARTITION BY `__g`"
            sql = (
                f"SELECT * EXCEPT (`__rn`) FROM (SELECT {select}, `__g`,"
                f" countIf(`__g` = 0) OVER () AS `__total_cells`, row_number() OVER ({window}) AS `__rn`"
                f" FROM {cells} AS cells)"
                f" WHERE (`__g` = 0 AND `__rn` > {first} AND `__rn` <= {last}) OR (`__g` != 0{capped})"
                " ORDER BY `__g`, `__rn`"
            )
        else:
            sql = f"SELECT {select}, `__g` FROM {cells} AS cells{cap}"
    return AggregateSQL(
        sql,
        params.values,
        [c.name for c in finals],
        [c.name for c in labels],
        [c.name for c in measure_cols],
        sources,
        shown,
        derived,
        sort,
        masks,
        paged,
    )


SPLIT_ATTRIBUTE = "__within_split__"
"""Slicer's pseudo-dimension of a split: true for cells inside the split cut, false outside."""


def _in_set(key: _Key, g: Grouping) -> bool:
    if g is None:
        return False
    return key.drill < 0 or key.depth <= g[key.drill]


def _kept(keys: list[_Key], g: Grouping) -> list[str]:
    return [q(k.column.name) for k in keys if _in_set(k, g)]


def _mask(keys: list[_Key], g: Grouping) -> int:
    """ClickHouse's grouping(k1, …, kn) for the set: bit n-1-i is set when key i is rolled up."""
    n = len(keys)
    return sum(1 << (n - 1 - i) for i, k in enumerate(keys) if not _in_set(k, g))


def _bases(layout: CubeLayout, measures: list[Measure]) -> list[Measure]:
    from ..model.validate import base_measures

    return base_measures(layout.cube, [m.name for m in measures])


def _merged(layout: CubeLayout, m: Measure) -> str:
    merged = {s.name: s.merge.format(q(s.name)) for s in layout.state_columns(m)}
    if m.function == Function.avg:
        # Decimal / integer keeps the decimal's scale and truncates (2045/23 → 88.91).
        merged = {name: f"toFloat64({sql})" for name, sql in merged.items()}
    return layout.measure_value(m, merged)


def _final_measure(layout: CubeLayout, m: Measure) -> str:
    """A measure over the cells: aggregated ones by name, calculated ones expanded inline."""
    if not m.is_calculated:
        return q("v__" + m.name)
    assert m.expression is not None
    parsed = parse_expression(m.expression, kind="calc", known=[x.name for x in layout.cube.measures])
    assert isinstance(parsed, ParsedExpr)

    # Operands as Float64: on Decimal measures ClickHouse's '/' keeps the dividend's scale and
    # truncates, so a share 60/115*100 would come out as 0.52*100 = 52 instead of 52.17.
    def operand(ref: str) -> str:
        return f"toFloat64({_final_measure(layout, layout.cube.measure(ref))})"

    return "(" + parsed.render(operand) + ")"


def _order_terms(
    order: tuple[Order, ...], attrs: list[OutColumn], measures: list[OutColumn], default: list[str]
) -> list[str]:
    """ORDER BY terms: an attribute by its SQL (the query returns it unpresented), a measure by
    its alias, then the default order (members' sort keys, periods)."""
    by_name = {c.name: c.sql for c in attrs} | {c.name: q(c.name) for c in measures}
    terms = []
    for o in order:
        if o.field not in by_name:
            raise QueryError(
                f"cannot order by '{o.field}': not a drilled attribute or a requested measure",
                hint=did_you_mean(o.field, list(by_name)),
            )
        terms.append(f"{by_name[o.field]} {o.direction.upper()}")
    terms.extend(default)
    return terms
