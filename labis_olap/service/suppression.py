"""Cell suppression over a cube's publication tables (docs/disclosure.md).

A publication table is a drilldown (`territory:municipality|time:year|gender`) whose every
margin is published too: each cell at any prefix of each drilled hierarchy, the grand total
included — exactly the cells and subtotals of `subtotals=cube` over that drilldown. A
publication role may ask only what one table's cells answer (a drilldown at or above its
levels, point cuts on its members, sets and ranges only where they filter drilled cells), so
everything it can ever obtain of a cube is the union of the tables' cells. The pattern is
computed on that whole table, once per data version, never per request: two requests cannot
be differenced.

Primary cells fail the frequency rule. Secondary cells are then chosen so that no primary
value can be recovered from the published ones: first, until no additivity relation (a total
and its children along one dimension, every other coordinate fixed) has exactly one suppressed
cell, the smallest shown cell of such a relation is suppressed too; then an attacker's linear
program (HiGHS, through highspy) bounds each primary cell's count and additive values under every
relation and what the statuses reveal (a primary count is 1 … threshold − 1, a secondary one
at least the threshold); a cell whose interval is narrower than its protection level gets one
more partner, and the audit runs again. A table that cannot be protected is refused.

Written here rather than taken from a library: Tau-Argus (pytauargus) is a batch program
over files, sdcTable is R; neither runs inside a request's process.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Coord = tuple[tuple[str, ...], ...]
"""A cell of a table: per table dimension, the path of member keys (empty: all members)."""

PRIMARY = "A"
"""SDMX CONF_STATUS: primary confidentiality due to small counts (and, here, to a sum dominated by
its largest contributors: one status, so that the code does not say which rule a cell failed)."""
SECONDARY = "D"
"""SDMX CONF_STATUS: secondary confidentiality set by the sender, not for publication."""
NOT_PUBLISHED = "N"
"""SDMX CONF_STATUS: not for publication — a measure the method cannot protect, empty on every
row (model.disclosure.publishable)."""


@dataclass(frozen=True)
class TableCell:
    coord: Coord
    contributors: int
    values: dict[str, float]
    """The additive measures' values (sums and record counts), for the audit."""
    stocks: dict[str, float] = field(default_factory=dict)
    """The stock measures' values (`last`: the per-date sum at the cell's latest date)."""
    latest: Any = None
    """The cell's latest date (the stocks are read at it; None: the cell has no facts)."""


@dataclass
class Pattern:
    """The statuses of a table's cells; a cell not listed is shown."""

    status: dict[Coord, str] = field(default_factory=dict)
    known: frozenset[Coord] = frozenset()
    """Every cell of the table (an answer's cell outside it has no contributors)."""
    cells: int = 0
    rounds: int = 0
    narrowest: float = math.inf
    """The smallest attacker interval of a primary cell, over what it had to span (≥ 1)."""
    dominated: int = 0
    """Primary cells by the dominance or p% rule alone (their counts pass the threshold)."""
    status_limited: int = 0
    """Primary cells whose count the statuses alone narrow below the protection level (with every
    non-empty cell hidden): protected as far as any pattern can, to that width (`StatusLimits`)."""

    def of(self, coord: Coord) -> str | None:
        return self.status.get(coord)

    @property
    def primary(self) -> int:
        return sum(1 for s in self.status.values() if s == PRIMARY)

    @property
    def secondary(self) -> int:
        return sum(1 for s in self.status.values() if s == SECONDARY)


class Unprotectable(Exception):
    """No pattern found within the rounds allowed (the table is refused, never published)."""


class InconsistentStock(Exception):
    """A stock relation does not hold in the data (the table is refused, never published)."""


@dataclass(frozen=True)
class Relation:
    total: Coord
    parts: tuple[Coord, ...]


def relations(coords: Iterable[Coord]) -> list[Relation]:
    """Every total with its children along one dimension (other coordinates fixed)."""
    children: dict[tuple[int, Coord], list[Coord]] = {}
    for c in coords:
        for d, path in enumerate(c):
            if path:
                parent = (*c[:d], path[:-1], *c[d + 1 :])
                children.setdefault((d, parent), []).append(c)
    return [Relation(total, tuple(parts)) for (_, total), parts in children.items()]


def stock_relations(rels: Iterable[Relation], by: dict[Coord, TableCell]) -> list[Relation]:
    """What an attacker knows of a stock along each relation: a total's stock is the sum of
    the stocks of its parts whose latest date is the total's (a part whose facts end earlier
    has none at that date). Along time, the one child period holding the total's latest date
    (a year's stock is its latest non-empty month's); along territory with month-end
    snapshots, every part (plain additivity)."""
    return [
        Relation(rel.total, tuple(p for p in rel.parts if by[p].latest == by[rel.total].latest))
        for rel in rels
    ]


def _check_stocks(stock_rels: list[Relation], by: dict[Coord, TableCell], measures: list[str]) -> None:
    """Every stock relation holds in the data, or the table is refused: the audit's programs
    hold only true relations (a false one could prove an exposed cell safe)."""
    for m in measures:
        for rel in stock_rels:
            total = by[rel.total].stocks.get(m, 0.0)
            parts = [by[p].stocks.get(m, 0.0) for p in rel.parts]
            if abs(total - sum(parts)) > 1e-6 * max(1.0, abs(total), *(abs(v) for v in parts)):
                raise InconsistentStock(
                    f"stock '{m}' of a total ({total}) is not the sum of its parts at its latest date "
                    f"({sum(parts)})"
                )


def protect(
    cells: Sequence[TableCell],
    threshold: int,
    *,
    zeros_disclosive: bool,
    distinct: bool,
    protection: float,
    sensitive: dict[Coord, dict[str, float]] | None = None,
    max_rounds: int = 200,
) -> Pattern:
    """The suppression pattern of a table. `distinct`: the contributors are distinct persons
    (not additive: a total lies between its largest part and the sum of its parts).
    `protection`: the share of a primary cell's value its attacker interval must span (at
    least one contributor, and 1 unit of a value). `sensitive`: cells failing the dominance or
    p% rule, with the interval each of their sums needs (docs/disclosure.md) — primary too."""
    sensitive = sensitive or {}
    by = {c.coord: c for c in cells}
    rels = [r for r in relations(by) if r.total in by and all(p in by for p in r.parts)]
    stocks = Stocks.of(rels, by)
    # A partner for a cell whose stock is too narrow is found among the cells of its stock
    # relations too (a year's stock is its latest month's, whichever other months are hidden);
    # those relations are left out of the lonely rule, which would hide the one partner of every
    # hidden cell, the dominated ones' (whose stocks need no protection) included.
    linked = _relations_of(list({(r.total, r.parts): r for r in rels + stocks.relations}.values()))
    status: dict[Coord, str] = {}
    for c in cells:
        n = c.contributors
        if n < threshold and (n > 0 or zeros_disclosive):
            status[c.coord] = PRIMARY
    # Dominated only: its count passes the frequency rule (what the attacker may not narrow is
    # its sums, not its count).
    dominated = {c: need for c, need in sensitive.items() if c in by and c not in status}
    status.update(dict.fromkeys(dominated, PRIMARY))
    pattern = Pattern(status, frozenset(by), len(cells))
    pattern.dominated = len(dominated)
    if not status:
        return pattern
    # Suppressing one more cell only removes a known value from the attacker's equations, so an
    # interval never narrows: a cell found wide enough once stays so, and each round audits
    # only the cells the last one found too narrow.
    todo: list[Coord] | None = None
    widths: dict[Coord, float] = {}
    limits = StatusLimits(by, rels, set(status), threshold, distinct, zeros_disclosive, dominated)
    for round_ in range(1, max_rounds + 1):
        _no_lonely_suppression(rels, by, status)
        failing = _audit(
            by,
            rels,
            status,
            threshold,
            distinct,
            protection,
            widths,
            zeros_disclosive,
            todo,
            sensitive,
            dominated,
            stocks,
            limits,
        )
        pattern.rounds = round_
        if not failing:
            pattern.narrowest = min(widths.values(), default=math.inf)
            pattern.status_limited = len(limits.capped)
            return pattern
        before = len(status)
        for coord in failing:
            _partner(coord, linked, by, status)
        if len(status) == before:  # every cell it could hide is hidden: more rounds cannot help
            break
        todo = failing
    raise Unprotectable(f"no suppression pattern found in {max_rounds} rounds")


@dataclass(frozen=True)
class Stocks:
    """The stock measures of a table, their relations, and those whose every cell's stock is at
    most its contributors (a stock of persons): there an `A` says the stock is ≤ threshold − 1."""

    measures: list[str]
    relations: list[Relation]
    bounded: frozenset[str]

    @classmethod
    def of(cls, rels: list[Relation], by: dict[Coord, TableCell]) -> Stocks:
        measures = sorted({m for c in by.values() for m in c.stocks})
        if not measures:
            return cls([], [], frozenset())
        stock_rels = stock_relations(rels, by)
        _check_stocks(stock_rels, by, measures)
        bounded = frozenset(
            m for m in measures if all(c.stocks.get(m, 0.0) <= c.contributors + 1e-9 for c in by.values())
        )
        return cls(measures, stock_rels, bounded)


def _cost(cell: TableCell) -> tuple[int, int]:
    # The cheapest partner hides least: fewest contributors, and a finer cell before a total.
    return (cell.contributors, -sum(len(p) for p in cell.coord))


def _candidates(rel: Relation, by: dict[Coord, TableCell], status: dict[Coord, str]) -> list[TableCell]:
    """Shown cells of a relation that can hide something (a shown zero protects nothing: its
    value is known whether suppressed or not, if zeros are safe)."""
    return [by[c] for c in (rel.total, *rel.parts) if c not in status and by[c].contributors > 0]


def _no_lonely_suppression(
    rels: list[Relation], by: dict[Coord, TableCell], status: dict[Coord, str]
) -> None:
    changed = True
    while changed:
        changed = False
        for rel in rels:
            members = (rel.total, *rel.parts)
            hidden = sum(1 for c in members if c in status)
            if hidden == 1:
                shown = _candidates(rel, by, status)
                if not shown:
                    continue  # the other cells are empty: the relation gives the attacker nothing
                status[min(shown, key=_cost).coord] = SECONDARY
                changed = True


def _partner(
    coord: Coord, rels_of: dict[Coord, list[Relation]], by: dict[Coord, TableCell], status: dict[Coord, str]
) -> None:
    """One more suppressed cell in a relation of a cell the audit found too narrow; when all
    of those are hidden already, in a relation of the hidden cells next to it, and so on
    outwards (a stock can be pinned by a chain of equalities whose known end is far away: a
    grand total's stock at its latest date and one region's give the other region's, and with
    it every cell of the chain below it)."""
    frontier, visited = [coord], {coord}
    while frontier:
        options: list[TableCell] = []
        after: list[Coord] = []
        for c in frontier:
            for rel in rels_of.get(c, []):
                options += _candidates(rel, by, status)
                after += [x for x in (rel.total, *rel.parts) if x in status and x not in visited]
        if options:
            status[min(options, key=_cost).coord] = SECONDARY
            return
        frontier = list(dict.fromkeys(after))
        visited.update(frontier)


def _relations_of(rels: list[Relation]) -> dict[Coord, list[Relation]]:
    out: dict[Coord, list[Relation]] = {}
    for rel in rels:
        for c in (rel.total, *rel.parts):
            out.setdefault(c, []).append(rel)
    return out


def _audit(
    by: dict[Coord, TableCell],
    rels: list[Relation],
    status: dict[Coord, str],
    threshold: int,
    distinct: bool,
    protection: float,
    widths: dict[Coord, float],
    zeros: bool,
    todo: list[Coord] | None,
    sensitive: dict[Coord, dict[str, float]],
    dominated: dict[Coord, dict[str, float]],
    stocks: Stocks,
    limits: StatusLimits,
) -> list[Coord]:
    """Primary cells whose attacker interval is too narrow, on the contributors count, on
    any additive value or on a stock: per measure and per connected group of suppressed cells one linear
    program (HiGHS), built once, its objective changed for each cell's minimum and maximum (a
    warm start each time). Suppressed cells that share no relation, directly or through other
    suppressed cells, constrain each other in no way: their programs are solved apart, each a
    fraction of the whole (the audit is most of a pattern's time)."""
    audited = set(c for c in status if status[c] == PRIMARY) if todo is None else set(todo)
    parent = {c: c for c in status}

    def find(c: Coord) -> Coord:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    touching: list[tuple[Relation, Coord]] = []
    for rel in rels:
        inside = [c for c in (rel.total, *rel.parts) if c in parent]
        if inside:
            for c in inside[1:]:
                parent[find(c)] = find(inside[0])
            touching.append((rel, inside[0]))
    groups: dict[Coord, list[Coord]] = {}
    for c in sorted(status):
        groups.setdefault(find(c), []).append(c)
    rels_of: dict[Coord, list[Relation]] = {}
    for rel, member in touching:
        rels_of.setdefault(find(member), []).append(rel)
    failing: set[Coord] = set()
    seen: set[Coord] = set()  # widths of this audit (a cell audited again starts afresh)
    for root, hidden in groups.items():
        primary = [c for c in hidden if c in audited]
        if primary:
            failing |= _audit_group(
                by, rels_of.get(root, []), status, hidden, primary, threshold, distinct, protection,
                widths, zeros, sensitive, dominated, seen, stocks, limits,
            )  # fmt: skip
    return sorted(failing)


def _audit_group(
    by: dict[Coord, TableCell],
    rels: list[Relation],
    status: dict[Coord, str],
    hidden: list[Coord],
    primary: list[Coord],
    threshold: int,
    distinct: bool,
    protection: float,
    widths: dict[Coord, float],
    zeros: bool,
    sensitive: dict[Coord, dict[str, float]],
    dominated: dict[Coord, dict[str, float]],
    seen: set[Coord],
    stocks: Stocks,
    limits: StatusLimits,
) -> set[Coord]:
    index = {c: i for i, c in enumerate(hidden)}
    measures = sorted({m for c in by.values() for m in c.values})
    failing: set[Coord] = set()
    programs = [(None, distinct, False)] + [(m, False, False) for m in measures]
    programs += [(m, False, True) for m in stocks.measures]
    for measure, inequal, stock in programs:
        value = _value_of(by, measure, stock)
        program = _program(
            by, rels, status, index, value, measure, inequal, stock, threshold, zeros, dominated, stocks
        )
        solver = program.solver()
        for c in primary:
            if c in dominated and (measure is None or stock or measure not in dominated[c]):
                continue  # hidden for its dominated sums: only those must stay uncertain
            need = max(1.0, protection * abs(value(c)))
            if measure is None:  # the status alone says 1 … threshold − 1: no more to span
                need = min(need, float(threshold - 2))
            elif not stock:  # a dominated sum needs the interval its rule asks for (Tau-Argus' levels)
                need = max(need, sensitive.get(c, {}).get(measure, 0.0))
            if need <= 0:
                continue
            spread = solver.spread(index[c])
            if spread >= need - 1e-9:  # two feasible points already this far apart: safe
                widths[c] = min(spread / need, widths[c] if c in seen else math.inf)
                seen.add(c)
                continue
            width = solver.width(index[c])
            if width is INFEASIBLE:
                failing.add(c)  # never proven safe: the assumptions do not hold, hide more
                continue
            if measure is None and width < need - 1e-9:  # no pattern can do more than the statuses allow
                need = limits.need(c, need)
            widths[c] = min(width / need, widths[c] if c in seen else math.inf)
            seen.add(c)
            if width < need - 1e-9:
                failing.add(c)
    return failing


def _value_of(by: dict[Coord, TableCell], measure: str | None, stock: bool) -> Any:
    """A cell's value in a program: its contributors (measure None), an additive value or a stock."""

    def value(c: Coord) -> float:
        cell = by[c]
        if measure is None:
            return float(cell.contributors)
        return float((cell.stocks if stock else cell.values).get(measure, 0.0))

    return value


def _program(
    by: dict[Coord, TableCell],
    rels: list[Relation],
    status: dict[Coord, str],
    index: dict[Coord, int],
    value: Any,
    measure: str | None,
    inequal: bool,
    stock: bool,
    threshold: int,
    zeros: bool,
    dominated: dict[Coord, dict[str, float]],
    stocks: Stocks,
) -> _Program:
    """The attacker's program for one measure over the hidden cells (`index`): the relations,
    the known cells on the right, and what each hidden cell's status says of it."""
    program = _Program(len(index))
    # a stock: the total is the sum of its parts at the total's latest date
    for rel in stock_relations(rels, by) if stock else rels:
        total_minus_parts = {rel.total: 1.0}
        for p in rel.parts:
            total_minus_parts[p] = total_minus_parts.get(p, 0.0) - 1.0
        if inequal:  # each part ≤ total ≤ Σ parts (distinct persons)
            for p in rel.parts:
                program.row(index, {p: 1.0, rel.total: -1.0}, value, upper_only=True)
            program.row(index, total_minus_parts, value, upper_only=True)
        else:
            program.row(index, total_minus_parts, value)
    for c, i in index.items():
        if measure is None:  # what the statuses tell the attacker about a count
            if c in dominated:  # `A` for a dominated sum: the count may be anything ≥ 1
                program.bound(i, 0.0 if zeros else 1.0, None)
            elif status[c] == PRIMARY:  # 1 … t − 1 (0 too where zeros are confidential)
                program.bound(i, 0.0 if zeros else 1.0, float(threshold - 1))
            else:
                program.bound(i, float(threshold), None)
        elif stock and measure in stocks.bounded and status[c] == PRIMARY and c not in dominated:
            # a stock ≤ the contributors (true of every cell), and those are ≤ threshold − 1
            program.bound(i, min(0.0, value(c)), float(threshold - 1))
        else:
            program.bound(i, min(0.0, value(c)), None)
    return program


class StatusLimits:
    """How wide a primary cell's count can be made at all: the attacker's interval with every
    non-empty cell of the table hidden, so that only the statuses speak (a primary count is
    1 … threshold − 1, a passing one at least the threshold; an empty cell is shown, zeros being
    safe). A small total whose parts are all primary is at least as many as its non-empty parts
    whatever else is hidden; requiring more of it would refuse the whole table for what its
    statuses say. Built on first use, each cell's width solved once."""

    def __init__(
        self,
        by: dict[Coord, TableCell],
        rels: list[Relation],
        primary: set[Coord],
        threshold: int,
        distinct: bool,
        zeros: bool,
        dominated: dict[Coord, dict[str, float]],
    ) -> None:
        hidden = [c for c in by if c in primary or by[c].contributors > 0]
        self.index = {c: i for i, c in enumerate(hidden)}

        def program() -> _Program:
            status = {c: PRIMARY if c in primary else SECONDARY for c in hidden}
            return _program(
                by, rels, status, self.index, _value_of(by, None, False), None, distinct, False,
                threshold, zeros, dominated, Stocks([], [], frozenset()),
            )  # fmt: skip

        self._program = program
        self._solver: _Solver | None = None
        self.widths: dict[Coord, float] = {}
        self.capped: set[Coord] = set()
        """Cells whose count the statuses alone narrow below the protection level asked."""

    def need(self, coord: Coord, asked: float) -> float:
        """The interval a count must span: `asked`, or what the statuses leave if that is less
        (at least 1: a count the statuses pin exactly cannot be protected)."""
        cap = max(1.0, self.width(coord))
        if cap < asked:
            self.capped.add(coord)
        return min(asked, cap)

    def width(self, coord: Coord) -> float:
        if coord not in self.widths:
            if self._solver is None:
                self._solver = self._program().solver()
            width = self._solver.width(self.index[coord])
            # the statuses contradict: no cap, the audit decides
            self.widths[coord] = math.inf if width is INFEASIBLE else width
        return self.widths[coord]


def _quiet_highs() -> Any:
    """A HiGHS instance that writes nothing. `highspy.Highs()` installs a logging callback
    whose first message, HiGHS' banner, goes to stdout before any option can be set (into a CSV
    `labis query` writes there, or a JSON log; ERGO-Code/HiGHS#2749); its base class is the
    same solver without callbacks, which the audit does not use."""
    import highspy

    core = getattr(highspy, "_core", None)
    return getattr(core, "_Highs", highspy.Highs)()


INFEASIBLE = math.nan
"""What `optimum` answers when no value fits (checked with `is`: the one NaN object)."""


class _Program:
    """The attacker's linear program over the suppressed cells, known cells on the right."""

    def __init__(self, columns: int) -> None:
        self.columns = columns
        self.entries: list[tuple[int, int, float]] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.col_lower = [0.0] * columns
        self.col_upper = [math.inf] * columns

    def row(
        self,
        index: dict[Coord, int],
        coefficients: dict[Coord, float],
        value: Any,
        *,
        upper_only: bool = False,
    ) -> None:
        rhs = 0.0
        cols: dict[int, float] = {}
        for c, k in coefficients.items():
            if c in index:
                cols[index[c]] = cols.get(index[c], 0.0) + k
            else:
                rhs -= k * value(c)
        cols = {j: k for j, k in cols.items() if k}
        if not cols:
            return
        r = len(self.lower)
        self.entries += [(r, j, k) for j, k in cols.items()]
        self.lower.append(-math.inf if upper_only else rhs)
        self.upper.append(rhs)

    def bound(self, column: int, lower: float, upper: float | None) -> None:
        self.col_lower[column] = lower
        self.col_upper[column] = math.inf if upper is None else upper

    def solver(self) -> _Solver:
        import highspy
        import numpy as np

        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_ = self.columns
        lp.num_row_ = len(self.lower)
        lp.col_cost_ = np.zeros(self.columns)
        lp.col_lower_ = np.array(self.col_lower)
        lp.col_upper_ = np.array([inf if math.isinf(u) else u for u in self.col_upper])
        lp.row_lower_ = np.array([-inf if math.isinf(v) else v for v in self.lower])
        lp.row_upper_ = np.array(self.upper)
        order = sorted(self.entries, key=lambda e: (e[1], e[0]))
        starts = np.zeros(self.columns + 1, dtype=np.int32)
        for _, j, _ in order:
            starts[j + 1] += 1
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.cumsum(starts).astype(np.int32)
        lp.a_matrix_.index_ = np.array([r for r, _, _ in order], dtype=np.int32)
        lp.a_matrix_.value_ = np.array([k for _, _, k in order])
        h = _quiet_highs()
        h.setOptionValue("output_flag", False)
        # Primal simplex: a changed objective leaves the last basis feasible, a warm start.
        h.setOptionValue("simplex_strategy", 4)
        h.passModel(lp)
        return _Solver(h, self.columns)


class _Solver:
    """The attacker's program, solved for one cell's minimum or maximum at a time. Every optimum
    is a feasible point for all cells: the smallest and largest value each cell took in any of
    them bound its interval from inside (`spread`), which proves most cells safe unsolved."""

    def __init__(self, highs: Any, columns: int) -> None:
        import numpy as np

        self.highs = highs
        self.columns = columns
        self.last: int | None = None
        self.low = np.full(columns, np.inf)
        self.high = np.full(columns, -np.inf)

    def spread(self, column: int) -> float:
        """How far apart two feasible values of the cell were found (0: none or one yet)."""
        return max(0.0, float(self.high[column] - self.low[column]))

    def width(self, column: int) -> float:
        """The cell's attacker interval, max − min (inf: unbounded), or INFEASIBLE."""
        lo = self.optimum(column, 1.0)
        hi = self.optimum(column, -1.0)
        if lo is INFEASIBLE or hi is INFEASIBLE:
            return INFEASIBLE
        return (math.inf if hi is None else -hi) - (-math.inf if lo is None else lo)

    def optimum(self, column: int, sign: float) -> float | None:
        """min of sign × x[column]: the optimum, None when unbounded, INFEASIBLE when nothing fits."""
        import highspy
        import numpy as np

        if self.last is not None and self.last != column:
            self.highs.changeColsCost(1, np.array([self.last], dtype=np.int32), np.array([0.0]))
        self.highs.changeColsCost(1, np.array([column], dtype=np.int32), np.array([sign]))
        self.last = column
        self.highs.run()
        found = self.highs.getModelStatus()
        if found == highspy.HighsModelStatus.kOptimal:
            point = np.asarray(self.highs.getSolution().col_value)
            np.minimum(self.low, point, out=self.low)
            np.maximum(self.high, point, out=self.high)
            return float(self.highs.getInfo().objective_function_value)
        if found in (highspy.HighsModelStatus.kUnbounded, highspy.HighsModelStatus.kUnboundedOrInfeasible):
            return None
        return INFEASIBLE
