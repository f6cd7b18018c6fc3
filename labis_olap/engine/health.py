"""Storage health: is every table a query may read whole, and does every rollup add up to its facts?

A rollup part cut short on disk is detached by ClickHouse when the data directory is opened
(`broken-on-start`), and the rollup then silently answers less than the facts. These checks
find that, and a rollup that lost rows any other way (a mutation, a detached part), before a
query reads it:

- parts: a part detached as broken or unexpected (`system.detached_parts`), and `CHECK TABLE`
  on every facts table and rollup (the checksums of every part);
- consistency, per rollup: the totals it carries against the same totals over its facts. Every
  rollup counts the fact rows it holds (`__rows`, physical/layout.py `ROWS`), so the row count
  is always compared; so is every kept `sum` or `count` measure over an integer or decimal
  column (exact, unlike a float sum). Since every rollup carries `__rows`, none lacks an
  additive total and the distinct-key comparison is never needed.

What is found is a list of `Problem`s naming the table. The server runs the checks at start:
`/health` reports them, and the cube service reads no broken rollup (its queries are answered
from the facts) and refuses the cubes whose facts are broken. `labis check` runs them on demand.
Against a ClickHouse server that another process is loading into, a rollup can look out of step
for a moment (see loaders/store.py `rollups_out_of_step`); with the embedded engine nothing else
can write while they run.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..errors import LabisError
from ..model.definition import Model
from ..model.schema import ColumnType, Function, Measure
from ..physical.layout import ROWS, CubeLayout, StateColumn, q
from .base import Engine, first_line

EXACT_TYPES = (ColumnType.int, ColumnType.int64, ColumnType.decimal, ColumnType.bool)
BROKEN_REASONS = ("broken", "unexpected", "noquorum", "covered-by-broken")
"""Prefixes of `system.detached_parts.reason` that ClickHouse gives a part it found damaged
(a part a person detached has no reason and is not reported: the consistency check sees what
its absence does to a rollup)."""


@dataclass(frozen=True)
class Problem:
    table: str
    problem: str
    cube: str | None = None
    rollup: str | None = None
    """The rollup's name in the model (None: the cube's facts, or a table of no cube)."""

    def json(self) -> dict[str, Any]:
        return {"table": self.table, "problem": self.problem}


def check_storage(engine: Engine, model: Model) -> list[Problem]:
    """Every problem found in the tables the model's cubes read; [] when all is well."""
    layouts = [CubeLayout(model, cube, engine.database) for cube in model.cubes.values()]
    owners: dict[str, tuple[str, str | None]] = {}
    for layout in layouts:
        owners[layout.facts_table] = (layout.cube.name, None)
        for r in layout.cube.rollups:
            owners[layout.rollup_table(r)] = (layout.cube.name, r.name)
    problems = _detached(engine, owners) + _checked_tables(engine, owners)
    for layout in layouts:
        problems += _consistency(engine, layout, {p.table for p in problems})
    return problems


def _problem(owners: dict[str, tuple[str, str | None]], table: str, text: str) -> Problem:
    cube, rollup = owners.get(table, (None, None))
    return Problem(table, text, cube, rollup)


def _detached(engine: Engine, owners: dict[str, tuple[str, str | None]]) -> list[Problem]:
    rows = engine.query(
        "SELECT table, name, reason FROM system.detached_parts WHERE database = {db:String} "
        "ORDER BY table, name",
        {"db": engine.database},
    ).to_pylist()
    named = {engine.topology.local(t): t for t in owners}
    return [
        _problem(
            owners,
            named.get(r["table"], r["table"]),
            f"part {r['name']} was detached as {r['reason']}: its rows are missing",
        )
        for r in rows
        if str(r["reason"] or "").startswith(BROKEN_REASONS)
    ]


def _checked_tables(engine: Engine, owners: dict[str, tuple[str, str | None]]) -> list[Problem]:
    present = {
        r["name"]
        for r in engine.query(
            "SELECT name FROM system.tables WHERE database = {db:String}", {"db": engine.database}
        ).to_pylist()
    }
    problems = []
    for table in sorted(owners):
        if table not in present:
            problems.append(_problem(owners, table, "the table is missing (run `labis apply`)"))
            continue
        # On a cluster the parts are the node-local table's (this node's; `labis check` on each
        # node checks its own), the totals below the Distributed table's.
        local = engine.topology.local(table)
        try:
            rows = engine.query(
                f"CHECK TABLE {q(engine.database)}.{q(local)} SETTINGS check_query_single_value_result = 0"
            ).to_pylist()
        except LabisError as exc:
            problems.append(_problem(owners, table, f"CHECK TABLE failed: {first_line(exc)}"))
            continue
        for r in rows:
            if not r.get("is_passed", 1):
                what = f"part {r.get('part_path')} failed CHECK TABLE"
                problems.append(
                    _problem(owners, table, what + (f": {r['message']}" if r.get("message") else ""))
                )
    return problems


def additive(layout: CubeLayout, m: Measure) -> list[StateColumn]:
    """The state columns of a measure whose total over a rollup equals the same total over the
    facts, exactly: sums and counts over integer or decimal columns (and counts of rows)."""
    if m.function == Function.count:
        return layout.state_columns(m)
    if m.function == Function.sum and m.column and layout.cube.column(m.column).type in EXACT_TYPES:
        return layout.state_columns(m)
    return []


def _consistency(engine: Engine, layout: CubeLayout, broken: set[str]) -> list[Problem]:
    """Each rollup's totals against its facts' (tables already found broken are not read)."""
    db = q(engine.database)
    if layout.facts_table in broken:
        return []
    columns: dict[str, StateColumn] = {ROWS.name: ROWS}
    for r in layout.cube.rollups:
        for m in layout.rollup_measures(r):
            columns |= {s.name: s for s in additive(layout, m)}
    select = ", ".join(f"{s.fill} AS {q(s.name)}" for s in columns.values())
    try:
        facts = engine.query(f"SELECT {select} FROM {db}.{q(layout.facts_table)}").to_pylist()[0]
    except LabisError as exc:
        return [Problem(layout.facts_table, f"cannot be read: {first_line(exc)}", layout.cube.name)]
    problems = []
    for r in layout.cube.rollups:
        table = layout.rollup_table(r)
        if table in broken:
            continue
        kept = {ROWS.name: ROWS} | {s.name: s for m in layout.rollup_measures(r) for s in additive(layout, m)}
        totals = ", ".join(f"{s.merge.format(q(s.name))} AS {q(s.name)}" for s in kept.values())
        try:
            got = engine.query(f"SELECT {totals} FROM {db}.{q(table)}").to_pylist()[0]
        except LabisError as exc:
            problems.append(Problem(table, f"cannot be read: {first_line(exc)}", layout.cube.name, r.name))
            continue
        for name in kept:
            want, have = _number(facts[name]), _number(got[name])
            if want != have:
                what = "fact rows" if name == ROWS.name else f"total of {name.removeprefix('m__')}"
                problems.append(
                    Problem(
                        table,
                        f"rollup '{r.name}' does not add up to its facts: {what} {have} in the rollup, "
                        f"{want} in the facts",
                        layout.cube.name,
                        r.name,
                    )
                )
                break
    return problems


def _number(value: Any) -> int | Decimal:
    if value is None:
        return 0
    return value if isinstance(value, Decimal) else int(value)
