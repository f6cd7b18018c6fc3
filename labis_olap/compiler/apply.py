"""Make the engine match the model: create what is missing, back-fill new rollups, drop stale ones.

The statements are the physical catalogue's for the engine's topology (physical/cube_ddl.py, the
same code `labis compile` prints and the golden files hold): on a cluster every one runs
`ON CLUSTER`, and each is complete in itself, so any node behind a load balancer may take it.

Idempotent: objects are named after a hash of their definition, so an unchanged model finds
everything in place and does nothing. A changed rollup or dimension is built beside the old
one (table, back-fill, then materialized view) and the old objects are dropped afterwards, so
a query never reads a half-built rollup. Facts tables are never dropped or rewritten: a new
column is added; any other change is refused with an explanation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ..engine.base import Engine
from ..errors import EngineError, UserError
from ..model.definition import Model
from ..physical.cube_ddl import compile_model
from ..physical.layout import CubeLayout, dim_tables, fact_column_type, q
from ..physical.maintenance import (
    add_fact_column,
    delete_lineage_of_cube,
    drop_facts,
    drop_stale,
    drop_tables,
)
from ..physical.members import label_rows, map_rows
from ..physical.names import LOADS, MANAGED_PREFIXES, StageNames
from .members import attach_loaded_members

APPLY_LOCK = threading.Lock()
"""Apply and loads take this lock: a back-fill must not race an insert in the same process."""


@dataclass
class ApplyReport:
    actions: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.actions)


def existing_objects(engine: Engine) -> dict[str, str]:
    """name → engine of every table, view and dictionary in the database."""
    t = engine.query(
        "SELECT name, engine FROM system.tables WHERE database = {db:String}", {"db": engine.database}
    )
    return dict(zip(t.column("name").to_pylist(), t.column("engine").to_pylist(), strict=True))


def apply_model(model: Model, engine: Engine, log: Callable[[str], None] | None = None) -> ApplyReport:
    report = ApplyReport()

    def did(message: str) -> None:
        report.actions.append(message)
        if log:
            log(message)

    with APPLY_LOCK:
        model = attach_loaded_members(model, engine)
        have = existing_objects(engine)
        statements = compile_model(model, engine.database, engine.topology)
        wanted = {s.name for s in statements if s.kind != "database"}
        created: set[str] = set()
        for st in statements:
            if st.kind == "database":
                continue
            if st.kind == "backfill":
                if st.name in created:
                    _run(engine, st.sql, st.owner, "back-filling")
                    did(f"back-filled {st.owner}")
                continue
            if st.name in have:
                if st.owner.startswith("facts:"):
                    dropped = _migrate_facts(model, engine, st.owner.split(":", 1)[1], did)
                    for name in dropped:
                        have.pop(name, None)
                    if st.name in have:
                        continue
                else:
                    continue
            _run(engine, st.sql, st.owner, "creating")
            created.add(st.name)
            did(f"created {st.kind} {st.name}")
            if st.owner.startswith("dimension:") and st.kind == "table":
                _fill_dimension(model, engine, st.owner.split(":", 1)[1], st.name)
        _drop_stale(engine, have, wanted, did)
    return report


def _run(engine: Engine, sql: str, owner: str, doing: str) -> None:
    try:
        engine.execute(sql)
    except EngineError as exc:
        raise EngineError(f"{doing} {owner}: {exc.message}") from exc


def _fill_dimension(model: Model, engine: Engine, dim_name: str, table: str) -> None:
    dim = model.dimensions[dim_name]
    map_table, _labels_table = dim_tables(model, dim)
    rows = map_rows(model, dim) if table == map_table else label_rows(model, dim)
    engine.insert_arrow(table, rows)


def _migrate_facts(model: Model, engine: Engine, cube_name: str, did: Callable[[str], None]) -> list[str]:
    """Add the columns the model gained; a column whose type changed is a rebuild of an empty
    facts table (its views and rollups with it: they are created again after it), and on a
    table with rows an error that says what to do. Returns the objects dropped."""
    layout = CubeLayout(model, model.cubes[cube_name], engine.database)
    t = engine.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}",
        {"db": engine.database, "t": layout.facts_table},
    )
    have = dict(zip(t.column("name").to_pylist(), t.column("type").to_pylist(), strict=True))
    changed = [
        (col, have[col.name])
        for col in layout.cube.columns
        if col.name in have and have[col.name] != fact_column_type(col)
    ]
    if changed:
        rows = _count(engine, layout.facts_table)
        if rows == 0:
            dropped = _drop_cube_tables(engine, layout, with_lineage=False)
            col, was = changed[0]
            did(
                f"rebuilt the empty {layout.facts_table}: column {col.name} {was} → {fact_column_type(col)}"
                + (f" (and {len(changed) - 1} more)" if len(changed) > 1 else "")
            )
            return dropped
        col, was = changed[0]
        if col.pseudonymous:
            raise UserError(
                f"cube '{cube_name}': column '{col.name}' is pseudonymised now ({col.type}), but the "
                f"engine's facts hold it as {was}: those may be clear identifiers",
                hint=f"the facts table holds {rows:,} row(s): `labis drop {cube_name} --yes` removes them "
                "(or unload every batch: `labis loads`, `labis unload`), then `labis apply` and load "
                "the files again; `labis demo` replaces demo data by itself",
            )
        raise UserError(
            f"cube '{cube_name}': column '{col.name}' is {was} in the engine but the model says "
            f"{fact_column_type(col)}, and the facts table holds {rows:,} row(s)",
            hint=f"apply rebuilds an empty facts table only: `labis drop {cube_name} --yes` (or unload "
            "every batch: `labis loads`, `labis unload BATCH`), then `labis apply` and load the files "
            "again; or give the new type to a new column",
        )
    for col in layout.cube.columns:
        if col.name not in have:
            want = fact_column_type(col)
            for st in add_fact_column(layout, col.name, want, engine.topology):
                _run(engine, st.sql, st.owner, "adding a column to")
            did(f"added column {col.name} to {layout.facts_table}")
    return []


def _count(engine: Engine, table: str) -> int:
    t = engine.query(f"SELECT count() AS n FROM {q(engine.database)}.{q(table)}")
    return int(t.column("n")[0].as_py())


@dataclass
class DropPlan:
    """What `labis drop CUBE` removes, said before it does (`objects`, and the lineage rows)."""

    cube: str
    objects: list[str]
    rows: int
    batches: int


def cube_objects(engine: Engine, layout: CubeLayout) -> list[str]:
    """Every object of a cube in the engine: its facts table, the materialized views reading
    it and the rollups they feed (any version: named `rollup_<cube>_…`), its batches' staging
    tables. Dimension tables are shared by cubes and stay."""
    have = existing_objects(engine)
    prefix = f"rollup_{layout.cube.name}_"
    views = _views_of(engine, layout.facts_table)
    names = [layout.facts_table] if layout.facts_table in have else []
    names += sorted(v for v in views if v in have)
    names += sorted(n for n in have if n.startswith(prefix) or n.startswith("mv_" + prefix))
    names += sorted(n for n in have if n in _stages_of(engine, layout.cube.name))
    return list(dict.fromkeys(names))


def _views_of(engine: Engine, table: str) -> list[str]:
    found = engine.query(
        "SELECT dependencies_table AS v FROM system.tables"
        " WHERE database = {db:String} AND name = {t:String}",
        {"db": engine.database, "t": table},
    ).to_pylist()
    return list(found[0]["v"]) if found else []


def _stages_of(engine: Engine, cube: str) -> set[str]:
    """Staging tables of the cube's batches that were never finished (a crashed load)."""
    if LOADS not in existing_objects(engine):
        return set()
    batches = (
        engine.query(
            f"SELECT DISTINCT batch FROM {q(engine.database)}.{q(LOADS)} WHERE cube = {{c:String}}",
            {"c": cube},
        )
        .column("batch")
        .to_pylist()
    )
    return {name for b in batches for name in StageNames(b).all}


def plan_drop(engine: Engine, layout: CubeLayout) -> DropPlan:
    objects = cube_objects(engine, layout)
    rows = _count(engine, layout.facts_table) if layout.facts_table in objects else 0
    batches = 0
    if LOADS in existing_objects(engine):
        batches = int(
            engine.query(
                f"SELECT uniqExact(batch) AS n FROM {q(engine.database)}.{q(LOADS)}"
                " WHERE cube = {c:String}",
                {"c": layout.cube.name},
            )
            .column("n")[0]
            .as_py()
        )
    return DropPlan(layout.cube.name, objects, rows, batches)


def drop_cube_tables(engine: Engine, layout: CubeLayout, *, with_lineage: bool = True) -> list[str]:
    """Drop a cube's facts, views, rollups and staging tables (views first, so no insert feeds a
    half-dropped rollup) and, `with_lineage`, its batches' rows in `loads` and `rejects`.
    Returns the objects dropped."""
    with APPLY_LOCK:
        return _drop_cube_tables(engine, layout, with_lineage=with_lineage)


def _drop_cube_tables(engine: Engine, layout: CubeLayout, *, with_lineage: bool) -> list[str]:
    """`drop_cube_tables` under the apply lock, which the caller holds."""
    objects = cube_objects(engine, layout)
    views = [n for n in objects if n.startswith("mv_")]
    for st in drop_facts(engine.database, layout.facts_table, views):
        _run(engine, st.sql, f"cube {layout.cube.name}", "dropping")
    rest = [n for n in objects if n not in views and n != layout.facts_table]
    for st in drop_tables(engine.database, rest):
        _run(engine, st.sql, f"cube {layout.cube.name}", "dropping")
    if with_lineage and LOADS in existing_objects(engine):
        for st in delete_lineage_of_cube(engine.database):
            engine.execute(st.sql, {"c": layout.cube.name})
    return objects


def _drop_stale(engine: Engine, have: dict[str, str], wanted: set[str], did: Callable[[str], None]) -> None:
    stale = [n for n in have if n.startswith(MANAGED_PREFIXES) and n not in wanted]
    for kind, st in drop_stale(engine.database, stale, engine.topology):
        _run(engine, st.sql, st.name, "dropping")
        did(f"dropped {kind} {st.name}")
