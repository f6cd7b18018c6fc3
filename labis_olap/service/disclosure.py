"""Statistical disclosure control of the answers publication roles get (docs/disclosure.md).

Applied by the cube service after the roles' own restrictions, to every front end alike. A
publication role may ask only what one of the cube's publication tables answers (see
service/suppression.py); each table's suppression pattern — primary cells under the frequency
threshold, secondary cells so that none can be recovered — is computed once per data version
from the whole table and looked up for every cell, total and subtotal of an answer. A
suppressed cell has no values (null) and, beside each measure, a status column
`<measure>:status` with the SDMX CONF_STATUS code: `A` primary (small count), `D` secondary.

Refused to publication roles, because the answer would not be cells of a published table:
drilldowns or point cuts finer than every table, a set, range or exclusion that would merge
members into a new cell (where it filters a drilled dimension, the totals above it — grand
total, subtotals without that level — are hidden with status `D` for the same reason),
splits, another hierarchy version (`as_of`), ordering by a measure
(the order of suppressed cells would reveal their values), member or row restrictions on the
role itself, and fact rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..engine.base import Engine
from ..errors import QueryCancelledError, QueryError, QueryTimeoutError, QueryTooLargeError
from ..model.cut_grammar import parse_drilldowns
from ..model.cuts import PointCut
from ..model.definition import Model
from ..model.disclosure import (
    Sensitivity,
    contributors_of,
    publishable,
    sensitive,
    sensitivity_of,
    threshold_of,
)
from ..model.resolve import ResolvedCut, check_cuts
from ..model.schema import Cube, Disclosure, Function, Measure, Rollup
from ..physical.layout import CubeLayout
from ..query.cell import CubeQuery
from ..query.executor import AggregateExecutor, AggregateResult
from ..query.resolve import ResolvedDrilldown, resolve_drilldown
from .cellset import STATUS
from .suppression import (
    NOT_PUBLISHED,
    PRIMARY,
    SECONDARY,
    Coord,
    InconsistentStock,
    Pattern,
    TableCell,
    Unprotectable,
    protect,
)

TABLE_CELLS = 200_000
"""The most cells (all margins included) a publication table may have."""

LATEST = "__latest__"
"""The internal measure of the stock queries: each cell's latest date (the greatest of its
facts' dates), the date at which its stocks (`last` measures) are read."""


class LatestLayout(CubeLayout):
    """The cube with one more measure, LATEST (the max of the time dimension's fact column),
    kept in no rollup: a query that asks it is answered from the facts; every other query is
    planned over the rollups as before."""

    def __init__(self, base: CubeLayout) -> None:
        assert base.time_link is not None  # validation: a stock needs the time dimension
        synthetic = Measure.model_construct(name=LATEST, function=Function.max, column=base.time_link[1])
        cube = base.cube.model_copy(update={"measures": [*base.cube.measures, synthetic]})
        model = dataclasses.replace(base.model, cubes={**base.model.cubes, cube.name: cube})
        super().__init__(model, cube, base.database, base.topology)
        self.base = base

    def rollup_measures(self, r: Rollup) -> list[Measure]:
        return self.base.rollup_measures(r)

    def rollup_table(self, r: Rollup) -> str:
        return self.base.rollup_table(r)


class OneLayoutExecutor(AggregateExecutor):
    """The service's executor reading one cube through a layout of its own (LatestLayout, the
    cell key method's CellKeyLayout): the pattern queries' extra measures, over the same
    engine and rollups."""

    def __init__(self, layout: CubeLayout, executor: AggregateExecutor) -> None:
        super().__init__(layout.model, executor.engine, use_rollups=executor.use_rollups)
        self.unhealthy = executor.unhealthy
        self._own_layout = layout

    def layout(self, cube: str) -> CubeLayout:
        return self._own_layout


@functools.lru_cache(maxsize=16)
def _latest_executor(executor: AggregateExecutor, base: CubeLayout) -> OneLayoutExecutor:
    """One per service executor and cube layout (the planner keeps caches per layout)."""
    return OneLayoutExecutor(LatestLayout(base), executor)


def status_column(measure: str) -> str:
    """The column (or summary key) carrying a measure's status; `:` is in no model name."""
    return measure + STATUS


@dataclass(frozen=True)
class Table:
    """One publication table: per dimension, its hierarchy and how deep it is published."""

    text: str
    drills: tuple[ResolvedDrilldown, ...]

    @cached_property
    def aliases(self) -> tuple[str, ...]:
        return tuple(d.ref.alias for d in self.drills)

    def depth(self, alias: str, hierarchy: str) -> int:
        """Levels of `alias` published along `hierarchy` (0: only its total)."""
        for d in self.drills:
            if d.ref.alias == alias:
                return len(d.levels) if d.ref.hierarchy.name == hierarchy else -1
        return 0


def tables_of(model: Model, cube: Cube, rules: Disclosure) -> list[Table]:
    out = []
    for text in rules.tables:
        drills = tuple(resolve_drilldown(model, cube, d, []) for d in parse_drilldowns(text))
        out.append(Table(text, drills))
    return out


def _refused(what: str, hint: str) -> QueryError:
    return QueryError(f"published answers cannot {what}", hint=hint)


def covering(
    model: Model, cube: Cube, tables: list[Table], query: CubeQuery
) -> tuple[Table, list[ResolvedCut]]:
    """The first table whose cells answer the query, and the query's cuts resolved; a
    QueryError saying what to ask instead when none does."""
    if query.split:
        raise _refused("be split", "ask for the two parts as cuts")
    if query.as_of is not None:
        raise _refused("take another hierarchy version", "ask without as_of")
    cuts = check_cuts(model, cube, query.cuts)
    drills = [resolve_drilldown(model, cube, d, cuts) for d in query.drilldowns]
    drilled = {d.ref.alias: d for d in drills}
    for cut in cuts:
        c = cut.cut
        merges = not isinstance(c, PointCut) or c.invert
        d = drilled.get(cut.ref.alias)
        if merges and (d is None or d.ref.hierarchy != cut.ref.hierarchy or len(d.levels) < cut.depth):
            raise _refused(
                f"merge members of '{cut.ref.alias}' into one cell (a set, range or exclusion cut)",
                f"drill '{cut.ref.alias}' at the level of the cut, or cut one member",
            )
    for table in tables:
        if all(table.depth(d.ref.alias, d.ref.hierarchy.name) >= len(d.levels) for d in drills) and all(
            table.depth(c.ref.alias, c.ref.hierarchy.name) >= c.depth for c in cuts
        ):
            return table, cuts
    raise _refused(
        "go finer than the publication tables",
        "published tables: " + "; ".join(t.text for t in tables),
    )


@dataclass
class Patterns:
    """Each table's suppression pattern, kept per data version: computed once, under a lock of
    its own (a sparse cube's audit, seconds long, does not hold up another cube's answers)."""

    items: dict[Hashable, Pattern | QueryError]
    lock: threading.Lock
    """Guards `items` and `making`; never held while a pattern is made."""
    making: dict[Hashable, threading.Lock]

    @classmethod
    def new(cls) -> Patterns:
        return cls({}, threading.Lock(), {})

    def get(
        self, key: Hashable, make: Callable[[], Pattern], *, cube: str = "", wait: float | None = None
    ) -> Pattern:
        """The pattern of `key`, made once. A refusal (tables that cannot be protected, or too
        large) is kept too and raised again: it holds until the data change, and making it again
        for every request would let anyone keep the server solving linear programs. A request
        that finds the pattern being made waits at most `wait` seconds (its time limit), then
        is told to ask again; the one making it goes on, so the next finds it made."""
        with self.lock:
            found = self.items.get(key)
            own = self.making.setdefault(key, threading.Lock()) if found is None else None
        if own is not None:
            if not own.acquire(timeout=-1 if wait is None else wait):
                raise QueryTimeoutError(
                    f"the protection of cube '{cube}' is still being computed (once after each load)",
                    hint="ask again in a moment",
                )
            try:  # one computation per table and version, however many ask at once
                with self.lock:
                    found = self.items.get(key)
                if found is None:
                    try:
                        found = make()
                    except (QueryTimeoutError, QueryCancelledError, QueryTooLargeError):
                        raise  # this request's limits or the server's load: the next may succeed
                    except QueryError as exc:
                        found = exc
                    with self.lock:
                        if len(self.items) > 256:
                            self.items.clear()
                        self.items[key] = found
                        self.making.pop(key, None)
            finally:
                own.release()
        assert found is not None
        if isinstance(found, QueryError):  # a new error each time: no traceback piles up
            raise QueryError(found.message, hint=found.hint)
        return found


@dataclass(frozen=True)
class Protection:
    cube: Cube
    rules: Disclosure
    table: Table
    """The table that answers the query."""
    tables: list[Table]
    """All the cube's tables: one pattern covers them all."""
    cuts: list[ResolvedCut]

    @cached_property
    def merged(self) -> dict[str, int]:
        """Dimensions a set, range or exclusion cut filters, and how deep: a row that totals
        them above that depth merges members into a cell no table has."""
        out: dict[str, int] = {}
        for rc in self.cuts:
            if not isinstance(rc.cut, PointCut) or rc.cut.invert:
                out[rc.ref.alias] = max(out.get(rc.ref.alias, 0), rc.depth)
        return out

    @cached_property
    def contributors(self) -> str:
        name = contributors_of(self.cube, self.rules)
        if name is None:  # validation refuses this model; never answer unprotected
            raise QueryError(
                f"cube '{self.cube.name}' cannot be published: no measure counts its contributors"
            )
        return name

    @cached_property
    def unpublished(self) -> frozenset[str]:
        """The measures publication roles never get (`model.disclosure.publishable`): empty,
        status `N`, on every row — calculated ones on them too."""
        return frozenset(m.name for m in self.cube.measures if not publishable(self.cube, self.rules, m.name))

    @cached_property
    def threshold(self) -> int:
        return max(threshold_of(self.rules, m.name) for m in self.cube.measures)

    @cached_property
    def stocks(self) -> list[str]:
        """The published stock measures (`last`): audited by their own relations."""
        last = [m.name for m in self.cube.measures if m.function == Function.last]
        return [m for m in last if m not in self.unpublished]

    def table_queries(self) -> list[CubeQuery]:
        """Each table with every margin: the contributors and the additive measures; and, where
        stocks are published, each table again with the stocks and each cell's latest date (from
        the facts: LATEST is in no rollup)."""
        additive = [
            m.name
            for m in self.cube.measures
            if m.function in (Function.sum, Function.count)
            and m.name != self.contributors
            and m.name not in self.unpublished
        ]
        measures: list[tuple[str, ...]] = [(self.contributors, *additive)]
        if self.stocks:
            measures.append((*self.stocks, LATEST))
        return [
            CubeQuery(
                self.cube.name,
                asked,
                drilldowns=tuple(
                    replace(d, level=r.level.name)
                    for d, r in zip(parse_drilldowns(t.text), t.drills, strict=True)
                ),
                subtotals="cube",
            )
            for asked in measures
            for t in self.tables
        ]

    def prepare(self, engine: Engine) -> None:
        """Make ready what `table_queries` read, before the data version is taken (the cell
        key method's record keys; nothing for suppression)."""

    def executor_for(self, executor: AggregateExecutor) -> AggregateExecutor:
        """The executor that answers `table_queries` (with stocks, one that knows LATEST; the
        cell key method reads more)."""
        if not self.stocks:
            return executor
        run = _latest_executor(executor, executor.layout(self.cube.name))
        if run.unhealthy != executor.unhealthy:  # the storage checks found more (or fewer) broken
            run.set_unhealthy(executor.unhealthy)
        return run

    # --- dominance and p% (issue 13): the sums under those rules and who contributes ---

    @cached_property
    def sensitivity(self) -> dict[str, Sensitivity]:
        """The sum measures under the (n,k) or p% rule (empty: the frequency rule only)."""
        return sensitivity_of(self.cube, self.rules)

    @cached_property
    def contributor_column(self) -> str | None:
        """The fact column naming a contributor (None: each record is one)."""
        m = self.cube.measure(self.contributors)
        return m.column if m.function == Function.count_distinct else None

    def sensitive(self, tops: list[tuple[pa.Table, dict[str, list[str]]]]) -> dict[Coord, dict[str, float]]:
        """Cells failing the dominance or p% rule on some sum, with the interval each needs,
        from `query.contributors.top_contributors`' rows for every table."""
        out: dict[Coord, dict[str, float]] = {}
        for rows, levels in tops:
            for row in rows.to_pylist():
                coord = self._coord(row, levels, by_cut=False)
                for m, rule in self.sensitivity.items():
                    need = sensitive(rule, row[f"__total__{m}"] or 0.0, row[f"__top__{m}"] or [])
                    if need > 0:
                        out.setdefault(coord, {})[m] = need
        return out

    def sensitive_cells(
        self, run: Callable[[Table, list[tuple[int, ...]]], list[tuple[pa.Table, dict[str, list[str]]]]]
    ) -> dict[Coord, dict[str, float]]:
        """The cells failing the dominance or p% rule in every table. `run(table, sets)`: the
        largest contributors of those grouping sets' cells (`query.contributors`). The finest
        cells first; a margin's largest contributors hold at most what the largest of its
        finest cells hold together (a person's value there is the sum of theirs), so a margin
        set whose every cell passes the rules with those bounds needs no exact query — on large
        data, nearly all of them (with a negative value anywhere, every set is queried)."""
        out: dict[Coord, dict[str, float]] = {}
        for table in self.tables:
            full = tuple(len(d.levels) for d in table.drills)
            found = run(table, [full])
            rest = self._uncertain_sets(table, found[0][0])
            if rest:
                found += run(table, rest)
            for coord, needs in self.sensitive(found).items():
                out.setdefault(coord, {}).update(needs)
        return out

    def _uncertain_sets(self, table: Table, finest: pa.Table) -> list[tuple[int, ...]]:
        """The margin sets of a table some cell of which might fail a rule (see above)."""
        sets = [
            g
            for g in itertools.product(*(range(len(d.levels), -1, -1) for d in table.drills))
            if g != tuple(len(d.levels) for d in table.drills)
        ]
        rows = finest.to_pylist()
        if any((r[f"__low__{m}"] or 0.0) < 0 for r in rows for m in self.sensitivity):
            return sets
        uncertain = []
        for g in sets:
            kept = [
                f"{d.ref.alias}.{lv.name}"
                for d, depth in zip(table.drills, g, strict=True)
                for lv in d.levels[:depth]
            ]
            bounds: dict[tuple[Any, ...], dict[str, tuple[float, list[float]]]] = {}
            for r in rows:
                cell = bounds.setdefault(tuple(r[k] for k in kept), {})
                for m in self.sensitivity:
                    total, top = cell.get(m, (0.0, []))
                    mine = r[f"__top__{m}"] or []
                    top = [a + b for a, b in itertools.zip_longest(top, mine, fillvalue=0.0)]
                    cell[m] = (total + (r[f"__total__{m}"] or 0.0), top)
            if any(
                sensitive(self.sensitivity[m], total, top) > 0
                for cell in bounds.values()
                for m, (total, top) in cell.items()
            ):
                uncertain.append(g)
        return uncertain

    def pattern(
        self, results: list[AggregateResult], sensitive: dict[Coord, dict[str, float]] | None = None
    ) -> Pattern:
        """One suppression pattern for all the cube's tables together, from their answers
        (`table_queries`'): a cell in two tables (a margin they share) is one cell, so a
        partner hidden for one table's sake is hidden in the other too. `sensitive`: the
        cells the dominance and p% rules make primary (`sensitive()`)."""
        contributors = self.contributors
        found: dict[Coord, tuple[int, dict[str, float]]] = {}
        stocks: dict[Coord, tuple[dict[str, float], dt.date | None]] = {}
        for result in results:
            for rows, levels in _row_sets(result):
                for row in rows.to_pylist():
                    coord = self._coord(row, levels, by_cut=False)
                    if LATEST in result.measures:
                        values = {m: float(row[m] or 0) for m in result.measures if m != LATEST}
                        stocks.setdefault(coord, (values, _day(row[LATEST])))
                    else:
                        values = {m: float(row[m] or 0) for m in result.measures if m != contributors}
                        found.setdefault(coord, (int(row[contributors] or 0), values))
        cells: dict[Coord, TableCell] = {}
        for coord, (n, values) in found.items():
            stock, latest = stocks.get(coord, ({}, None))
            if self.stocks and not stock and n:  # the two queries read the same facts
                raise QueryError(f"cube '{self.cube.name}' cannot be published: no stock for a cell")
            cells[coord] = TableCell(coord, n, values, stock, latest)
        if len(cells) > TABLE_CELLS:
            raise QueryError(
                f"the publication tables of cube '{self.cube.name}' have more than {TABLE_CELLS} cells"
            )
        distinct = self.cube.measure(contributors).function == Function.count_distinct
        try:
            return protect(
                list(cells.values()),
                self.threshold,
                zeros_disclosive=self.rules.zeros == "disclosive",
                distinct=distinct,
                protection=self.rules.protection,
                sensitive=sensitive,
            )
        except InconsistentStock as exc:  # never publish a stock the audit could not bound
            raise QueryError(
                f"the publication tables of cube '{self.cube.name}' cannot be protected: {exc}"
            ) from None
        except Unprotectable:
            raise QueryError(
                f"the publication tables of cube '{self.cube.name}' cannot be protected",
                hint="declare coarser tables (docs/disclosure.md)",
            ) from None

    @cached_property
    def aliases(self) -> tuple[str, ...]:
        """Every dimension of any table, in the order they first appear."""
        return tuple(dict.fromkeys(a for t in self.tables for a in t.aliases))

    def _coord(self, row: dict[str, Any], levels: dict[str, list[str]], *, by_cut: bool = True) -> Coord:
        out = []
        for alias in self.aliases:
            names = next((lv for ref, lv in levels.items() if ref.split("@")[0] == alias), None)
            if names:
                out.append(tuple(str(row[f"{alias}.{n}"]) for n in names))
                continue
            cut = _point(self.cuts, alias) if by_cut else None
            out.append(tuple(str(p) for p in cut.path) if cut is not None else ())
        return tuple(out)

    def check_order(self, query: CubeQuery) -> None:
        measures = {m.name for m in self.cube.measures}
        if any(o.field in measures for o in query.order):
            raise _refused(
                "be ordered by a measure",
                "order by a level (e.g. `order=territory.region`): the order of confidential cells "
                "would reveal their values",
            )

    def apply(self, result: AggregateResult, pattern: Pattern) -> AggregateResult:
        """The answer with the pattern's cells emptied and every measure's status beside it."""
        summary = result.summary
        if summary is not None:
            summary = self._row(summary, self._status(pattern, summary, {}, result.measures), result.measures)
        subtotals = [
            replace(s, rows=self._table(s.rows, s.levels, pattern, result.measures)) for s in result.subtotals
        ]
        cells = self._table(result.cells, result.levels, pattern, result.measures)
        return replace(result, cells=cells, summary=summary, subtotals=subtotals)

    def _status(
        self, pattern: Pattern, row: dict[str, Any], levels: dict[str, list[str]], measures: list[str]
    ) -> str | None:
        """A row's status from the pattern. A row that is no cell of the table has no
        contributors: confidential if zeros are; and, defensively, a row outside the table
        with a value is hidden (it cannot happen when the table and the answer agree)."""
        for alias, depth in self.merged.items():
            kept = next((lv for ref, lv in levels.items() if ref.split("@")[0] == alias), [])
            if len(kept) < depth:
                # A total over members a set, range or exclusion cut chose ("all but X") is no
                # cell of any table: shown, it would give X by differencing.
                return SECONDARY
        coord = self._coord(row, levels)
        if coord in pattern.known:
            return pattern.of(coord)
        if self.rules.zeros == "disclosive":
            return PRIMARY
        return None if all(not row.get(m) for m in measures) else SECONDARY

    def _row(self, row: dict[str, Any], status: str | None, measures: list[str]) -> dict[str, Any]:
        out = {k: v for k, v in row.items() if k not in measures}
        for m in measures:
            if m in self.unpublished:
                out[m], out[status_column(m)] = None, NOT_PUBLISHED
                continue
            out[m] = None if status else row.get(m)
            out[status_column(m)] = status
        return out

    def _table(
        self, table: pa.Table, levels: dict[str, list[str]], pattern: Pattern, measures: list[str]
    ) -> pa.Table:
        statuses = [self._status(pattern, r, levels, measures) for r in table.to_pylist()]
        status = pa.array(statuses, pa.string())
        secret = pc.is_valid(status)
        columns: dict[str, pa.ChunkedArray | pa.Array] = {
            n: table.column(n) for n in table.column_names if n not in measures
        }
        for m in measures:
            values = table.column(m)
            if m in self.unpublished:
                columns[m] = pa.nulls(table.num_rows, values.type)
                columns[status_column(m)] = pa.array([NOT_PUBLISHED] * table.num_rows, pa.string())
                continue
            columns[m] = pc.if_else(secret, pa.scalar(None, values.type), values)
            columns[status_column(m)] = status
        return pa.table(columns)


def _day(value: Any) -> dt.date | None:
    """A cell's latest date at the stocks' grain (a day: a stock is read per date)."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None


def _point(cuts: list[ResolvedCut], alias: str) -> PointCut | None:
    for rc in cuts:
        if rc.ref.alias == alias and isinstance(rc.cut, PointCut) and not rc.cut.invert:
            return rc.cut
    return None


def _row_sets(result: AggregateResult) -> list[tuple[pa.Table, dict[str, list[str]]]]:
    sets = [(result.cells, result.levels)] + [(s.rows, s.levels) for s in result.subtotals]
    if result.summary is not None:
        sets.append((pa.Table.from_pylist([result.summary]), {}))
    return sets


def protection(model: Model, cube: Cube, query: CubeQuery, restricted_by_role: bool) -> Protection | None:
    """The protection of a query on a cube with disclosure rules (None: the cube has none);
    a QueryError when a publication role may not ask it."""
    rules = cube.disclosure
    if rules is None:
        return None
    if restricted_by_role:
        raise QueryError(
            "a publication role with member or row restrictions cannot be answered",
            hint="publication roles see whole publication tables (docs/disclosure.md)",
        )
    tables = tables_of(model, cube, rules)
    table, cuts = covering(model, cube, tables, query)
    found = Protection(cube, rules, table, tables, cuts)
    found.check_order(query)
    return found
