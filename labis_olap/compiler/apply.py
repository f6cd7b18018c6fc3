"""Make the engine match the model: create what is missing, back-fill new rollups, drop stale ones.

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
from ..physical.layout import CubeLayout, dim_tables, fact_column_type
from ..physical.maintenance import add_fact_column, drop_stale
from ..physical.members import label_rows, map_rows
from ..physical.names import MANAGED_PREFIXES

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
        have = existing_objects(engine)
        statements = compile_model(model, engine.database)
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
                    _migrate_facts(model, engine, st.owner.split(":", 1)[1], did)
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


def _migrate_facts(model: Model, engine: Engine, cube_name: str, did: Callable[[str], None]) -> None:
    layout = CubeLayout(model, model.cubes[cube_name], engine.database)
    t = engine.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}",
        {"db": engine.database, "t": layout.facts_table},
    )
    have = dict(zip(t.column("name").to_pylist(), t.column("type").to_pylist(), strict=True))
    for col in layout.cube.columns:
        want = fact_column_type(col)
        if col.name not in have:
            for st in add_fact_column(layout, col.name, want):
                _run(engine, st.sql, st.owner, "adding a column to")
            did(f"added column {col.name} to {layout.facts_table}")
        elif have[col.name] != want and col.pseudonymous:
            raise UserError(
                f"cube '{cube_name}': column '{col.name}' is pseudonymised now ({col.type}), but the "
                f"engine's facts hold it as {have[col.name]}: those may be clear identifiers",
                hint="unload the cube's batches (`labis loads`, `labis unload`), drop the facts table "
                "and load the files again; `labis demo` replaces demo data by itself",
            )
        elif have[col.name] != want:
            raise UserError(
                f"cube '{cube_name}': column '{col.name}' is {have[col.name]} in the engine "
                f"but the model says {want}",
                hint="labis apply never rewrites facts; load into a new cube, "
                "or drop the facts table yourself",
            )


def _drop_stale(engine: Engine, have: dict[str, str], wanted: set[str], did: Callable[[str], None]) -> None:
    stale = [n for n in have if n.startswith(MANAGED_PREFIXES) and n not in wanted]
    for kind, st in drop_stale(engine.database, stale):
        _run(engine, st.sql, st.name, "dropping")
        did(f"dropped {kind} {st.name}")
