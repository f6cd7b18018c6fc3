"""The aggregate executor: runs one typed cube query against an engine.

Resolves names, asks the planner for the smallest source, builds the SQL, runs it and presents
the answer (query/present.py). It knows nothing of who asks, of paging rules, caches or
`as_of` words: the cube service (labis_olap.service) decides those once for every front end and
hands this a checked query and a resolved date. The result carries the chosen source and the
SQL so that `explain` can show them.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import time
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..engine.base import Engine
from ..errors import EngineError, NotFoundError, QueryError, StorageDamagedError
from ..model.definition import Model
from ..model.diagnostics import did_you_mean
from ..model.resolve import ResolvedCut, check_cuts
from ..model.schema import ColumnType, Function, Measure
from ..physical.layout import CubeLayout
from ..physical.members import attribute_columns
from .cell import SUBTOTAL_KINDS, CubeQuery
from .limits import QueryLimits
from .planner import StoredShape, choose_stored, estimated_rows, needs_of
from .present import MemberLookup, derive, present, sort_rows
from .resolve import ResolvedDrilldown, resolve_drilldown, resolve_measures
from .sqlgen import SUMMARY, Grouping, build_aggregate

PLANS = 1024
"""Query plans kept per executor (see AggregateExecutor._plan)."""


@dataclass
class Subtotal:
    """The rows of one subtotal grouping set: the levels it keeps, their attributes, the rows."""

    levels: dict[str, list[str]]
    attributes: list[str]
    rows: pa.Table


@dataclass
class AggregateResult:
    cells: pa.Table
    total_cell_count: int
    levels: dict[str, list[str]]
    attributes: list[str]
    measures: list[str]
    source: str
    sql: str
    params: dict[str, Any]
    engine_ms: float
    summary: dict[str, Any] | None = None
    subtotals: list[Subtotal] = field(default_factory=list)
    explain: dict[str, Any] = field(default_factory=dict)
    cuts: list[ResolvedCut] = field(default_factory=list)
    """The query's cuts as the model names them (hierarchy, depth), resolved once."""
    drills: list[ResolvedDrilldown] = field(default_factory=list)
    """The drilldowns resolved: dimension, hierarchy and levels top-down."""
    table: str = ""
    """The physical table the source is (`explain`)."""

    @property
    def nbytes(self) -> int:
        """About what the result holds in memory (for the result cache's byte budget)."""
        return self.cells.nbytes + sum(s.rows.nbytes for s in self.subtotals) + len(self.sql) + 1024


SMALL_SOURCE_ROWS = 100_000
"""Rollups estimated at most this size are read by one thread (see QueryLimits.run)."""
MAX_GROUPING_SETS = 64


def subtotal_groupings(depths: tuple[int, ...], kind: str) -> tuple[Grouping, ...]:
    """Grouping sets for subtotals, finest first (the cells and the grand total excluded).

    rollup: every prefix of the drilled levels in drilldown order (SQL's ROLLUP): for
    `territory:municipality|gender`, (region, municipality) and (region).
    cube: every combination of a prefix of each drilldown (SQL's CUBE over levels): also the
    gender totals over all territories, as a pivot table's margins.
    """
    if kind == "none" or not depths:
        return ()
    if kind == "rollup":
        out: list[tuple[int, ...]] = []
        total = sum(depths)
        for n in range(total - 1, 0, -1):
            kept, left = [], n
            for d in depths:
                kept.append(min(d, left))
                left -= kept[-1]
            out.append(tuple(kept))
        return tuple(out)
    if kind == "cube":
        combos = list(itertools.product(*(range(d, -1, -1) for d in depths)))
        if len(combos) > MAX_GROUPING_SETS:
            raise QueryError(
                f"subtotals=cube over these drilldowns makes {len(combos)} grouping sets, "
                f"more than {MAX_GROUPING_SETS}",
                hint="use subtotals=rollup, or drill fewer levels",
            )
        return tuple(c for c in combos if c != depths and any(c))
    raise QueryError(f"subtotals must be one of {', '.join(SUBTOTAL_KINDS)}, not '{kind}'")


@dataclass(frozen=True)
class AggregatePlan:
    measures: list[Measure]
    cuts: list[ResolvedCut]
    split: list[ResolvedCut]
    drills: list[ResolvedDrilldown]
    depths: tuple[int, ...]
    groupings: tuple[Grouping, ...]
    shape: StoredShape
    built: Any
    """The SQL, its parameters and how to read its answer (sqlgen.build_aggregate)."""
    summed: bool
    """The grand total is the cells added up (see `adds_up`), not a grouping set of the SQL."""


class AggregateExecutor:
    def __init__(
        self, model: Model, engine: Engine, *, use_rollups: bool = True, limits: QueryLimits | None = None
    ) -> None:
        self.model = model
        self.engine = engine
        self.use_rollups = use_rollups
        self.limits = limits
        """Time and memory bounds of every aggregate query (the API sets them; the CLI does not)."""
        self._layouts: dict[str, CubeLayout] = {}
        self._plans = functools.lru_cache(maxsize=PLANS)(self._plan)
        self.members = MemberLookup(model)
        self.unhealthy: frozenset[str] = frozenset()
        """Tables the storage checks found broken: no plan reads them (see `set_unhealthy`)."""

    def set_unhealthy(self, tables: frozenset[str]) -> None:
        """Read none of these tables from now on: a broken rollup's queries are answered from
        the facts; a cube whose facts are broken is refused (`check_facts`)."""
        self.unhealthy = frozenset(tables)
        self._plans.cache_clear()

    def check_facts(self, layout: CubeLayout) -> None:
        """Refuse, with a clear message, to read facts found broken (never a wrong number)."""
        if layout.facts_table in self.unhealthy:
            raise StorageDamagedError(
                f"cube '{layout.cube.name}' cannot be answered: its facts ({layout.facts_table}) "
                "are damaged on disk",
                hint="see /health or `labis check`; restore the data directory or reload the cube",
            )

    def layout(self, cube: str) -> CubeLayout:
        if cube not in self.model.cubes:
            raise NotFoundError(f"no cube '{cube}'", hint=did_you_mean(cube, self.model.cubes))
        if cube not in self._layouts:
            db, topology = self.engine.database, self.engine.topology
            self._layouts[cube] = CubeLayout(self.model, self.model.cubes[cube], db, topology)
        return self._layouts[cube]

    def aggregate(
        self,
        query: CubeQuery,
        as_of: dt.date | None = None,
        *,
        with_summary: bool = True,
        limit: int | None = None,
    ) -> AggregateResult:
        """Cells, grand total (`summary`) and subtotals of a query, from one engine query.

        `as_of`: the hierarchy version's date (None: as at each fact's date); `query.as_of` is
        not read (the service resolves it). `limit`: the most cells an unpaged answer may have
        (more: a QueryError saying to page), and the most rows of any subtotal set."""
        layout = self.layout(query.cube)
        cube = layout.cube
        plan = self._plans(replace(query, as_of=None), as_of, with_summary, limit)
        measures, cuts, split, drills = plan.measures, plan.cuts, plan.split, plan.drills
        depths, groupings, shape, built = plan.depths, plan.groupings, plan.shape, plan.built
        small = shape.name != "facts" and estimated_rows(layout, shape) <= SMALL_SOURCE_ROWS
        start = time.perf_counter()
        try:
            table = self._run(built.sql, built.params, single_thread=small)
        except EngineError as exc:
            where = "its facts" if shape.name == "facts" else f"rollup '{shape.name}'"
            raise EngineError(f"cube '{cube.name}', reading {where}: {exc.message}") from exc
        elapsed = (time.perf_counter() - start) * 1000
        table = derive(table, built.derived, self.members)
        if built.sort is not None:
            table = sort_rows(table, built.sort, self.members)
        keep = dict(zip(built.measure_columns, built.measure_sources, strict=True))
        keep |= {"__g": "__g", "__total_cells": "__total_cells"}
        table = present(table, built.shown, keep, self.members)
        by_set = _split_sets(table, built.masks)
        full = tuple(depths)
        attributes = _attributes(built.key_columns, built.label_columns)
        cells = by_set.pop(full).select([*attributes, *built.measure_columns])
        cells, attributes = _level_attributes_of(
            self.members, cells, attributes, drills, len(built.measure_columns)
        )
        levels = {_level_key(d): [lv.name for lv in d.levels] for d in drills}
        if built.paged:
            total = _total(table)
            if total is None:
                # A page past the end with no other set: no row carried the count.
                total = self._count_cells(layout, shape, measures, cuts, drills, split, as_of, query.lang)
        else:
            total = cells.num_rows
            if limit is not None and query.pagesize is None and total > limit:
                raise too_many_cells(limit)
        summary: dict[str, Any] | None = None
        if not drills and not split:
            rows = cells.to_pylist()
            summary = rows[0] if rows else {}
        elif plan.summed:
            summary = {m: pc.sum(cells.column(m)).as_py() for m in built.measure_columns}
            if not cells.num_rows:
                summary = self._empty_summary(query, as_of)
        elif SUMMARY in by_set:
            rows = by_set.pop(SUMMARY).select(built.measure_columns).to_pylist()
            summary = rows[0] if rows else self._empty_summary(query, as_of)
        subtotals = []
        subtotal_rows = 0  # all sets together: one response's rendering is bounded by the limit
        for g in groupings:
            if g is None or g not in by_set:
                continue
            rows_g = by_set[g]
            subtotal_rows += rows_g.num_rows
            if limit is not None and subtotal_rows > limit:
                raise too_many_cells(limit, "subtotal rows")
            kept_levels = {
                _level_key(d): [lv.name for lv in d.levels[:n]] for d, n in zip(drills, g, strict=True) if n
            }
            kept = _attributes(
                [k for k in built.key_columns if _keeps(k, drills, g)],
                built.label_columns,
            )
            rows_kept, kept = _level_attributes_of(
                self.members, rows_g.select([*kept, *built.measure_columns]), kept, drills,
                len(built.measure_columns),
            )  # fmt: skip
            subtotals.append(Subtotal(kept_levels, kept, rows_kept))
        result = AggregateResult(
            cells=cells,
            total_cell_count=total,
            levels=levels,
            attributes=attributes,
            measures=built.measure_columns,
            source=shape.name,
            sql=built.sql,
            params=built.params,
            engine_ms=elapsed,
            summary=summary if with_summary else None,
            subtotals=subtotals,
            cuts=cuts,
            drills=drills,
            table=shape.table,
        )
        result.explain = {
            "source": shape.name,
            "table": shape.table,
            "sql": built.sql,
            "params": built.params,
            "engine_ms": round(elapsed, 3),
        }
        return result

    def _plan(
        self, query: CubeQuery, as_of: dt.date | None, with_summary: bool, limit: int | None
    ) -> AggregatePlan:
        """Names resolved, source chosen, SQL built: everything before the engine, which
        depends on the query and the model only (the Browser is per model), so `_plans` keeps
        the last PLANS of them: a repeated query skips ~0.5 ms of Python (measured: 0.93 ms of
        Python around the engine for a cut-and-drilldown aggregate). Errors are not kept."""
        layout = self.layout(query.cube)
        self.check_facts(layout)
        cube = layout.cube
        measures = resolve_measures(cube, tuple(dict.fromkeys(query.measures)))  # a|a: once
        cuts = check_cuts(self.model, cube, query.cuts)
        split = check_cuts(self.model, cube, query.split)
        drills = [resolve_drilldown(self.model, cube, d, cuts) for d in query.drilldowns]
        seen = [d.ref.alias for d in drills]
        if len(set(seen)) != len(seen):
            raise QueryError("a dimension can be drilled down only once per query")
        depths = tuple(len(d.levels) for d in drills)
        groupings = subtotal_groupings(depths, query.subtotals)
        summed = (
            with_summary
            and bool(drills or split)
            and query.pagesize is None
            and not groupings
            and all(adds_up(layout, m) for m in measures)
        )
        if with_summary and not summed:
            groupings += (SUMMARY,)
        needs = needs_of(layout, measures, cuts + split, drills, as_of)
        shape = choose_stored(layout, needs, self.use_rollups, self.unhealthy)
        built = build_aggregate(
            layout,
            shape,
            measures,
            cuts,
            drills,
            query.order,
            query.page,
            query.pagesize,
            as_of,
            query.lang,
            split=split,
            groupings=groupings,
            limit=limit,
        )
        return AggregatePlan(measures, cuts, split, drills, depths, groupings, shape, built, summed)

    def _run(self, sql: str, params: dict[str, Any], *, single_thread: bool = False) -> pa.Table:
        if self.limits is None:
            return self.engine.query(sql, params)
        return self.limits.run(self.engine, sql, params, "the aggregate", single_thread=single_thread)

    def _count_cells(
        self,
        layout: CubeLayout,
        shape: StoredShape,
        measures: list[Measure],
        cuts: list[ResolvedCut],
        drills: list[ResolvedDrilldown],
        split: list[ResolvedCut],
        as_of: dt.date | None,
        lang: str,
    ) -> int:
        unpaged = build_aggregate(
            layout, shape, measures, cuts, drills, (), None, None, as_of, lang, split=split
        )
        counted = self._run(f"SELECT count() AS n FROM ({unpaged.sql})", unpaged.params)
        return int(counted.column("n")[0].as_py())

    def _empty_summary(self, query: CubeQuery, as_of: dt.date | None) -> dict[str, Any]:
        """The grand total of a cell without facts (no grouping-set row came back for it)."""
        total_q = CubeQuery(query.cube, query.measures, query.cuts, lang=query.lang)
        return self.aggregate(total_q, as_of).summary or {}


def adds_up(layout: CubeLayout, m: Measure) -> bool:
    """Whether the grand total of a measure is exactly the sum of its cells: a count, or a sum of
    integers or decimals (not floats: another order of addition may round differently). Every
    fact is in exactly one cell of an unpaged answer (unknown members in the '' cell), so these
    totals are added up in Python instead of an extra grouping set, which cost ≈ 1 ms of the
    engine's 5-6 ms on a small rollup."""
    if m.is_calculated:
        return False
    if m.function == Function.count:
        return True
    if m.function != Function.sum or m.column is None:
        return False
    return layout.cube.column(m.column).type in (ColumnType.int, ColumnType.int64, ColumnType.decimal)


def too_many_cells(limit: int, what: str = "cells") -> QueryError:
    return QueryError(
        f"the answer has more than {limit} {what}, the server's limit per response",
        hint="page through it with page= and pagesize=, or narrow the cut",
    )


def _level_key(d: ResolvedDrilldown) -> str:
    default = d.ref.hierarchy.name == d.ref.dim.default_hierarchy_name
    return d.ref.alias if default else f"{d.ref.alias}@{d.ref.hierarchy.name}"


def _keeps(attribute: str, drills: list[ResolvedDrilldown], g: tuple[int, ...]) -> bool:
    """Whether a grouping set keeps a key attribute (`dim.level`, or the split's)."""
    alias, _, level = attribute.partition(".")
    for d, n in zip(drills, g, strict=True):
        if d.ref.alias == alias:
            return level in [lv.name for lv in d.levels[:n]]
    return True  # the split's pseudo-dimension is in every set but the grand total


def _split_sets(table: pa.Table, masks: dict[int, Grouping]) -> dict[Grouping, pa.Table]:
    """The rows of each grouping set, by the `__g` mask the engine put on them (rows come ordered
    by `__g`, so each set is one slice)."""
    if len(masks) == 1:
        (only,) = masks.values()
        return {only: table}
    out = {g: table.slice(0, 0) for g in masks.values()}
    marks = table.column("__g").to_pylist()
    start = 0
    for i in range(1, len(marks) + 1):
        if i == len(marks) or marks[i] != marks[start]:
            out[masks[marks[start]]] = table.slice(start, i - start)
            start = i
    return out


def _level_attributes_of(
    members: MemberLookup,
    cells: pa.Table,
    attributes: list[str],
    drills: list[ResolvedDrilldown],
    n_measures: int,
) -> tuple[pa.Table, list[str]]:
    """The cells with the drilled levels' attributes (`store.store_type`) after their keys and
    labels, looked up per member key as the labels are (Slicer `attributes`)."""
    for d in drills:
        if d.ref.dim.is_time or not any(lv.attributes for lv in d.levels):
            continue
        keys = {
            lv.name: cells.column(f"{d.ref.alias}.{lv.name}").to_pylist()
            for lv in d.levels
            if f"{d.ref.alias}.{lv.name}" in cells.column_names
        }
        found = members.attributes(d.ref.dim.name)
        for name, col in attribute_columns(d.ref.dim, d.ref.alias, keys, found).items():
            if name in cells.column_names:
                continue
            cells = cells.add_column(cells.num_columns - n_measures, name, col)
            attributes = [*attributes, name]
    return cells, attributes


def _total(table: pa.Table) -> int | None:
    if table.num_rows == 0:
        return None
    return int(table.column("__total_cells")[0].as_py())


def _attributes(keys: list[str], labels: list[str]) -> list[str]:
    """Per drilled level top-down: its key ref, then its label ref where it has one."""
    label_set = set(labels)
    out: list[str] = []
    for k in keys:
        out.append(k)
        if f"{k}_label" in label_set:
            out.append(f"{k}_label")
    return out
