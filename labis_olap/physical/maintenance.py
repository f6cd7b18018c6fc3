"""Statements that change what exists: rebuild and exchange a rollup, drop stale objects, add a
facts column, delete a batch's rows, set a table's deduplication window, empty the data.

On a cluster they act on the node-local tables, `ON CLUSTER`. A rebuild's INSERT … SELECT has
no `ON CLUSTER` form: it goes through Distributed tables with `parallel_distributed_insert_select`,
which runs it on every shard from that shard's facts, in one statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..model.definition import Model
from .cube_ddl import backfill_sql, distributed_table, pseudonym_namespaces, rollup_table_sql
from .layout import CubeLayout, q
from .names import LOADS, PERSONS, REJECTS, pseudonym_table, rebuild_name
from .statement import Statement
from .topology import SINGLE_NODE, Topology

DEDUP_WINDOW = 1000
"""Blocks a table remembers the dedup tokens of (a retried load's blocks are dropped)."""

_DROP_ORDER: tuple[tuple[str, str, str], ...] = (
    ("mv_", "view", "VIEW"),
    ("rollup_", "table", "TABLE"),
    ("dict_", "dictionary", "DICTIONARY"),
    ("dim_", "table", "TABLE"),
)
"""Views first (they read rollups' sources), then rollups, dictionaries, dimension tables."""


def rebuild_rollup(layout: CubeLayout, rollup: Any, t: Topology = SINGLE_NODE) -> list[Statement]:
    """Rebuild a rollup from the facts into a new table and swap it in with EXCHANGE TABLES:
    readers see the old rollup until the new one is complete (the materialized view writes by
    name, so it feeds the swapped-in table)."""
    db = q(layout.database)
    owner = f"rollup:{layout.cube.name}.{rollup.name}"
    table = t.local(layout.rollup_table(rollup))
    fresh = t.local(rebuild_name(layout.rollup_table(rollup)))
    on = t.on_cluster()
    if not t.is_cluster:  # a copy of the live table as it is (settings added later included)
        create = f"CREATE TABLE {db}.{q(fresh)} AS {db}.{q(table)}"
        return [
            Statement("drop", fresh, f"DROP TABLE IF EXISTS {db}.{q(fresh)}", owner),
            Statement("table", fresh, create, owner),
            Statement("backfill", fresh, backfill_sql(layout, rollup, t, fresh), owner),
            Statement("exchange", table, f"EXCHANGE TABLES {db}.{q(fresh)} AND {db}.{q(table)}", owner),
            Statement("drop", fresh, f"DROP TABLE {db}.{q(fresh)}", owner),
        ]
    # On a cluster: the fresh local tables, a Distributed table over them for the back-fill to
    # write through (every shard from its own facts), the swap on every node, then both dropped.
    over = rebuild_name(layout.rollup_table(rollup))
    return [
        Statement("drop", over, f"DROP TABLE IF EXISTS {db}.{q(over)}{on}", owner),
        Statement("drop", fresh, f"DROP TABLE IF EXISTS {db}.{q(fresh)}{on}", owner),
        Statement("table", fresh, rollup_table_sql(layout, rollup, t, name=fresh), owner),
        distributed_table(layout.database, t, over, owner),
        Statement("backfill", fresh, backfill_sql(layout, rollup, t, over), owner),
        Statement("exchange", table, f"EXCHANGE TABLES {db}.{q(fresh)} AND {db}.{q(table)}{on}", owner),
        Statement("drop", over, f"DROP TABLE {db}.{q(over)}{on}", owner),
        Statement("drop", fresh, f"DROP TABLE {db}.{q(fresh)}{on}", owner),
    ]


def drop_stale(database: str, stale: Iterable[str], t: Topology = SINGLE_NODE) -> list[tuple[str, Statement]]:
    """(object kind, DROP statement) for managed objects the model no longer names, in an order
    in which nothing dropped is still read by what remains."""
    names = set(stale)
    out = []
    for prefix, kind, keyword in _DROP_ORDER:
        for name in sorted(n for n in names if n.startswith(prefix)):
            sql = f"DROP {keyword} IF EXISTS {q(database)}.{q(name)}{t.on_cluster()}"
            out.append((kind, Statement("drop", name, sql, name)))
    return out


def drop_facts(
    database: str, facts_table: str, views: Iterable[str], t: Topology = SINGLE_NODE
) -> list[Statement]:
    """Drop a facts table with the materialized views that read it and the rollups they feed
    (views first): for `labis demo`, which replaces the data anyway, when the model changed the
    type of a facts column, which `apply` never does to facts."""
    db, on = q(database), t.on_cluster()
    out = []
    for view in sorted(views):
        out.append(Statement("drop", view, f"DROP VIEW IF EXISTS {db}.{q(view)}{on}", facts_table))
        target = view.removeprefix("mv_")
        if target != view:
            out.append(Statement("drop", target, f"DROP TABLE IF EXISTS {db}.{q(target)}{on}", facts_table))
    out.append(Statement("drop", facts_table, f"DROP TABLE IF EXISTS {db}.{q(facts_table)}{on}", facts_table))
    return out


def add_fact_column(
    layout: CubeLayout, column: str, type_sql: str, t: Topology = SINGLE_NODE
) -> list[Statement]:
    """Add a column the model gained to a cube's facts (the only change apply makes to facts);
    on a cluster to the local tables and the Distributed table over them."""
    db = q(layout.database)
    owner = f"facts:{layout.cube.name}"
    tables = [t.local(layout.facts_table)]
    if t.is_cluster:
        tables.append(layout.facts_table)
    return [
        Statement(
            "alter",
            name,
            f"ALTER TABLE {db}.{q(name)}{t.on_cluster()} ADD COLUMN {q(column)} {type_sql}",
            owner,
        )
        for name in tables
    ]


def delete_facts_of_batch(layout: CubeLayout, t: Topology = SINGLE_NODE) -> Statement:
    """Delete one batch's fact rows, waiting for the mutation; bind `b` to the batch."""
    table = t.local(layout.facts_table)
    return Statement(
        "alter",
        table,
        f"ALTER TABLE {q(layout.database)}.{q(table)}{t.on_cluster()} DELETE WHERE `_batch` = {{b:String}} "
        "SETTINGS mutations_sync = 2",
        f"facts:{layout.cube.name}",
    )


def drop_tables(database: str, names: Iterable[str], t: Topology = SINGLE_NODE) -> list[Statement]:
    """DROP TABLE for each named table (a dropped cube's rollups and staging tables)."""
    return [
        Statement("drop", n, f"DROP TABLE IF EXISTS {q(database)}.{q(n)}{t.on_cluster()}", n) for n in names
    ]


def delete_lineage_of_cube(database: str, t: Topology = SINGLE_NODE) -> list[Statement]:
    """Delete a dropped cube's rows from `rejects` (of its batches) and `loads`; bind `c` to the
    cube. Rejects first: they are found through the cube's batches in `loads`."""
    db, on = q(database), t.on_cluster()
    return [
        Statement(
            "alter",
            REJECTS,
            f"ALTER TABLE {db}.{q(REJECTS)}{on} DELETE WHERE batch IN "
            f"(SELECT batch FROM {db}.{q(LOADS)} WHERE cube = {{c:String}}) SETTINGS mutations_sync = 2",
            "lineage",
        ),
        Statement(
            "alter",
            LOADS,
            f"ALTER TABLE {db}.{q(LOADS)}{on} DELETE WHERE cube = {{c:String}} SETTINGS mutations_sync = 2",
            "lineage",
        ),
    ]


def delete_rejects_of_batch(database: str, t: Topology = SINGLE_NODE) -> Statement:
    """Delete one batch's rejected rows (before it is checked again); bind `b` to the batch."""
    return Statement(
        "alter",
        REJECTS,
        f"ALTER TABLE {q(database)}.{q(REJECTS)}{t.on_cluster()} DELETE WHERE batch = {{b:String}} "
        "SETTINGS mutations_sync = 2",
        "lineage",
    )


def set_dedup_window(database: str, table: str, t: Topology = SINGLE_NODE) -> Statement:
    """Give a rollup made before loaders existed its deduplication window (a setting only)."""
    return Statement(
        "alter",
        table,
        f"ALTER TABLE {q(database)}.{q(table)}{t.on_cluster()} "
        f"MODIFY SETTING non_replicated_deduplication_window = {DEDUP_WINDOW}",
        "dedup",
    )


def backup_target(path: str | None = None, disk: str | None = None, name: str | None = None) -> str:
    """Where BACKUP writes and RESTORE reads: `File('<path>')` (a folder of the embedded engine's
    machine, or of the server's under its `backups.allowed_path`), or `Disk('<disk>', '<name>')`
    (a disk the server's configuration names, deploy/clickhouse/backups.xml). ClickHouse takes
    no query parameter here, so the text is a quoted literal."""
    if disk is not None:
        assert name is not None
        return f"Disk({_literal(disk)}, {_literal(name)})"
    assert path is not None
    return f"File({_literal(path)})"


def backup_database(database: str, target: str, t: Topology = SINGLE_NODE) -> Statement:
    """Back up the whole database (facts, rollups, dimensions, dictionaries, lineage, persons,
    the totals just counted); on a cluster, every shard's part of it."""
    return Statement(
        "backup", database, f"BACKUP DATABASE {q(database)}{t.on_cluster()} TO {target}", "backup"
    )


def restore_database(
    database: str, target: str, t: Topology = SINGLE_NODE, *, source: str | None = None
) -> Statement:
    """Restore a backup into the database, which must hold no table yet; `source` names the
    database the backup was taken of when it had another name."""
    what = q(database) if source in (None, database) else f"{q(source)} AS {q(database)}"
    return Statement("restore", database, f"RESTORE DATABASE {what}{t.on_cluster()} FROM {target}", "backup")


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def empty_data(model: Model, database: str, t: Topology = SINGLE_NODE) -> list[Statement]:
    """Empty facts, rollups, the pseudonym dictionaries, lineage and rejects (a demo run replaces
    the previous one)."""
    dictionaries = {PERSONS, *(pseudonym_table(ns) for ns in pseudonym_namespaces(model))}
    tables = [*(t.local(d) for d in sorted(dictionaries)), LOADS, REJECTS]
    for cube in model.cubes.values():
        layout = CubeLayout(model, cube, database)
        tables.append(t.local(layout.facts_table))
        tables.extend(t.local(layout.rollup_table(r)) for r in cube.rollups)
    return [
        Statement(
            "truncate", name, f"TRUNCATE TABLE IF EXISTS {q(database)}.{q(name)}{t.on_cluster()}", "data"
        )
        for name in tables
    ]
