"""`labis backup` / `labis restore`: ClickHouse's own BACKUP and RESTORE of the whole database,
checked by totals.

Before a backup the totals that say whether data is whole are counted — every facts table's rows
and exact sums (integer and decimal columns), every rollup's fact rows (`__rows`), the pseudonym
dictionaries' and the lineage's rows — and written into the database itself
(`backup_totals`), so the backup carries its own check wherever it is kept. A restore recounts
the same totals and compares them with the latest ones the restored table holds: a backup
that restores short is an error, not a quiet loss.

The same code runs on the embedded engine (`File(<folder>)`, any folder: chDB is started with
`backups.allowed_path=/`) and on a server (`File` under its allowed path, or a configured
`Disk`); on a cluster the statements run `ON CLUSTER` and the totals are read through the
Distributed tables.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

import pyarrow as pa

from ..errors import UserError
from ..model.definition import Model
from ..physical import lineage_ddl, maintenance
from ..physical.cube_ddl import pseudonym_namespaces
from ..physical.layout import ROWS, CubeLayout, q
from ..physical.names import BACKUP_TOTALS, LOADS, pseudonym_table
from .base import Engine
from .health import EXACT_TYPES


@dataclass
class BackupReport:
    backup: str
    """The id this backup's totals are kept under."""
    totals: dict[tuple[str, str], str] = field(default_factory=dict)
    """(table, total) → value as text (exact)."""


@dataclass
class RestoreReport:
    backup: str
    totals: dict[tuple[str, str], str]
    mismatches: list[str]
    """What was counted otherwise after the restore than before the backup ([] when whole)."""


def count_totals(engine: Engine, model: Model) -> dict[tuple[str, str], str]:
    """The totals a whole copy must reproduce, for every table of the model that exists."""
    db = q(engine.database)
    have = set(
        engine.query("SELECT name FROM system.tables WHERE database = {db:String}", {"db": engine.database})
        .column("name")
        .to_pylist()
    )
    out: dict[tuple[str, str], str] = {}

    def count(table: str, exprs: dict[str, str]) -> None:
        if table not in have:
            return
        cols = ", ".join(f"toString({sql}) AS `c{i}`" for i, sql in enumerate(exprs.values()))
        row = engine.query(f"SELECT {cols} FROM {db}.{q(table)}").to_pylist()[0]
        out.update({(table, name): str(row[f"c{i}"]) for i, name in enumerate(exprs)})

    for cube in model.cubes.values():
        layout = CubeLayout(model, cube, engine.database)
        exact = {f"sum({c.name})": f"sum({q(c.name)})" for c in cube.columns if c.type in EXACT_TYPES}
        count(layout.facts_table, {"rows": "count()", **exact})
        for rollup in cube.rollups:
            count(layout.rollup_table(rollup), {"rows": f"sum({q(ROWS.name)})"})
    for namespace in pseudonym_namespaces(model):
        count(pseudonym_table(namespace), {"rows": "count()"})
    count(LOADS, {"rows": "count()"})
    return out


def backup(engine: Engine, model: Model, target: str) -> BackupReport:
    """Count the totals, keep them in the database, then BACKUP it to `target`
    (physical.maintenance.backup_target)."""
    t = engine.topology
    report = BackupReport(secrets.token_hex(8), count_totals(engine, model))
    engine.execute(lineage_ddl.backup_totals_table(engine.database, t).sql)
    now = dt.datetime.now(dt.UTC)
    rows = [
        {"backup": report.backup, "taken": now, "table": table, "total": total, "value": value}
        for (table, total), value in sorted(report.totals.items())
    ]
    if rows:
        schema = pa.schema(
            [
                ("backup", pa.string()),
                ("taken", pa.timestamp("ms", tz="UTC")),
                ("table", pa.string()),
                ("total", pa.string()),
                ("value", pa.string()),
            ]
        )
        engine.insert_arrow(BACKUP_TOTALS, pa.Table.from_pylist(rows, schema))
    engine.execute(maintenance.backup_database(engine.database, target, t).sql)
    return report


def restore(engine: Engine, model: Model, target: str, source: str | None = None) -> RestoreReport:
    """RESTORE `target` into the engine's database, which must hold no table, then recount the
    totals and compare them with the ones the backup kept (`source`: the database the backup was
    taken of, if it had another name)."""
    tables = engine.query(
        "SELECT count() AS n FROM system.tables WHERE database = {db:String}", {"db": engine.database}
    ).to_pylist()[0]["n"]
    if tables:
        raise UserError(
            f"the database {engine.database} already holds {tables} table(s): a restore goes into an "
            "empty one",
            hint="restore into a new data directory (--data-dir) or another database (LABIS_DATABASE)",
        )
    engine.execute(maintenance.restore_database(engine.database, target, engine.topology, source=source).sql)
    return check_restored(engine, model)


def check_restored(engine: Engine, model: Model) -> RestoreReport:
    """Recount the totals and compare them with the latest ones the database keeps."""
    kept = engine.query(
        f"SELECT backup, table, total, value FROM {q(engine.database)}.{q(BACKUP_TOTALS)} "
        f"WHERE backup = (SELECT argMax(backup, taken) FROM {q(engine.database)}.{q(BACKUP_TOTALS)})"
    ).to_pylist()
    if not kept:
        raise UserError("the backup holds no totals to check it by", hint="was it made by `labis backup`?")
    expected = {(r["table"], r["total"]): r["value"] for r in kept}
    found = count_totals(engine, model)
    mismatches = [
        f"{table} {total}: {found.get((table, total), 'missing')} restored, {value} backed up"
        for (table, total), value in sorted(expected.items())
        if found.get((table, total)) != value
    ]
    return RestoreReport(kept[0]["backup"], found, mismatches)
