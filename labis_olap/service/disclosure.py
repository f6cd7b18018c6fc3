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

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..engine.base import Engine
from ..errors import QueryError
from ..model.cut_grammar import parse_drilldowns
from ..model.cuts import PointCut
from ..model.definition import Model
from ..model.disclosure import contributors_of, threshold_of
from ..model.resolve import ResolvedCut, check_cuts
from ..model.schema import Cube, Disclosure, Function
from ..query.cell import CubeQuery
from ..query.executor import AggregateExecutor, AggregateResult
from ..query.resolve import ResolvedDrilldown, resolve_drilldown
from .cellset import STATUS
from .suppression import PRIMARY, SECONDARY, Coord, Pattern, TableCell, Unprotectable, protect

TABLE_CELLS = 200_000
"""The most cells (all margins included) a publication table may have."""


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
    """Each table's suppression pattern, kept per data version (computed once, under a lock)."""

    items: dict[Hashable, Pattern]
    lock: threading.Lock

    @classmethod
    def new(cls) -> Patterns:
        return cls({}, threading.Lock())

    def get(self, key: Hashable, make: Callable[[], Pattern]) -> Pattern:
        with self.lock:  # one computation per table and version, however many ask at once
            found = self.items.get(key)
            if found is None:
                if len(self.items) > 256:
                    self.items.clear()
                found = self.items[key] = make()
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
    def threshold(self) -> int:
        return max(threshold_of(self.rules, m.name) for m in self.cube.measures)

    def table_queries(self) -> list[CubeQuery]:
        """Each table with every margin: the contributors and the additive measures."""
        additive = [
            m.name
            for m in self.cube.measures
            if m.function in (Function.sum, Function.count) and m.name != self.contributors
        ]
        return [
            CubeQuery(
                self.cube.name,
                (self.contributors, *additive),
                drilldowns=tuple(
                    replace(d, level=r.level.name)
                    for d, r in zip(parse_drilldowns(t.text), t.drills, strict=True)
                ),
                subtotals="cube",
            )
            for t in self.tables
        ]

    def prepare(self, engine: Engine) -> None:
        """Make ready what `table_queries` read, before the data version is taken (the cell
        key method's record keys; nothing for suppression)."""

    def executor_for(self, executor: AggregateExecutor) -> AggregateExecutor:
        """The executor that answers `table_queries` (the cell key method reads more)."""
        return executor

    def pattern(self, results: list[AggregateResult]) -> Pattern:
        """One suppression pattern for all the cube's tables together, from their answers
        (`table_queries`'): a cell in two tables (a margin they share) is one cell, so a
        partner hidden for one table's sake is hidden in the other too."""
        contributors = self.contributors
        cells: dict[Coord, TableCell] = {}
        for result in results:
            for rows, levels in _row_sets(result):
                for row in rows.to_pylist():
                    values = {m: float(row[m] or 0) for m in result.measures if m != contributors}
                    coord = self._coord(row, levels, by_cut=False)
                    cells.setdefault(coord, TableCell(coord, int(row[contributors] or 0), values))
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
            )
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

    @staticmethod
    def _row(row: dict[str, Any], status: str | None, measures: list[str]) -> dict[str, Any]:
        out = {k: v for k, v in row.items() if k not in measures}
        for m in measures:
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
            columns[m] = pc.if_else(secret, pa.scalar(None, values.type), values)
            columns[status_column(m)] = status
        return pa.table(columns)


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
