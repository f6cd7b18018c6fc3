"""The DDL a model compiles to, as an ordered list of statements (golden-tested): the database,
the pseudonym dictionaries (persons, identifiers of each kind), each dimension's map and labels
tables with their dictionaries, each cube's facts and its rollups with their materialized views.

One node gets MergeTree tables; on a cluster topology the same objects are emitted `ON CLUSTER`,
on Replicated*MergeTree `_local` tables behind Distributed tables.
"""

from __future__ import annotations

from ..model.definition import Model
from ..model.schema import PERSON_NAMESPACE, Dimension, Rollup
from .layout import (
    ROWS,
    CubeLayout,
    dim_digest,
    dim_tables,
    fact_column_type,
    fact_key_sql,
    map_dict,
    q,
    time_bucket,
)
from .lineage_ddl import pseudonym_dictionary
from .names import view_name
from .statement import Statement
from .topology import SINGLE_NODE, Topology


def create_database(database: str, topology: Topology = SINGLE_NODE) -> str:
    """The statement every engine runs when it opens, and the first one of a compiled model."""
    return f"CREATE DATABASE IF NOT EXISTS {q(database)}{topology.on_cluster()}"


def compile_model(model: Model, database: str = "labis", topology: Topology = SINGLE_NODE) -> list[Statement]:
    """Everything the model needs in the engine, in the order it can be created."""
    out = [Statement("database", database, create_database(database, topology), "database")]
    for namespace in pseudonym_namespaces(model):
        out.append(pseudonym_dictionary(database, namespace, topology))
    for dim in model.dimensions.values():
        if not dim.is_time:
            out.extend(dimension_statements(model, dim, database, topology))
    for cube in model.cubes.values():
        layout = CubeLayout(model, cube, database)
        out.extend(facts_statements(layout, topology))
        for rollup in cube.rollups:
            out.extend(rollup_statements(layout, rollup, topology))
    return out


def pseudonym_namespaces(model: Model) -> list[str]:
    """Every namespace the model's pseudonymous columns use: persons first, then kinds by name."""
    found = {c.namespace for cube in model.cubes.values() for c in cube.columns if c.namespace}
    return sorted(found, key=lambda ns: (ns != PERSON_NAMESPACE, ns))


def dimension_statements(
    model: Model, dim: Dimension, database: str, t: Topology = SINGLE_NODE
) -> list[Statement]:
    """A dimension's map and labels tables (filled by apply from the members) and the
    dictionaries over them that queries and rollups look levels and labels up in."""
    owner = f"dimension:{dim.name}"
    h = dim_digest(model, dim)
    map_table, labels_table = dim_tables(model, dim)
    level_cols = "".join(f",\n  {q(lv.name)} String" for lv in dim.levels)
    validity = ",\n  `valid_from` Date,\n  `valid_to` Date" if dim.is_versioned else ""
    db = database
    engine = t.engine("MergeTree", db, map_table, replicated_everywhere=True)
    out = [
        Statement(
            "table",
            map_table,
            f"CREATE TABLE IF NOT EXISTS {q(db)}.{q(map_table)}{t.on_cluster()} (\n"
            f"  `fact_key` String{validity}{level_cols}\n)\nENGINE = {engine}\nORDER BY `fact_key`",
            owner,
        ),
        Statement(
            "table",
            labels_table,
            f"CREATE TABLE IF NOT EXISTS {q(db)}.{q(labels_table)}{t.on_cluster()} (\n"
            "  `level` String,\n  `key` String,\n  `label_lv` String,\n  `label_en` String,\n"
            "  `sort` String,\n  `attributes` String\n)\n"
            f"ENGINE = {t.engine('MergeTree', db, labels_table, replicated_everywhere=True)}\n"
            "ORDER BY (`level`, `key`)",
            owner,
        ),
    ]
    layout = "COMPLEX_KEY_RANGE_HASHED()" if dim.is_versioned else "COMPLEX_KEY_HASHED()"
    rng = "\nRANGE(MIN `valid_from` MAX `valid_to`)" if dim.is_versioned else ""
    dict_cols = "".join(f",\n  {q(lv.name)} String" for lv in dim.levels)
    map_dict = f"dict_{dim.name}_map_{h}"
    out.append(
        Statement(
            "dictionary",
            map_dict,
            f"CREATE DICTIONARY IF NOT EXISTS {q(db)}.{q(map_dict)}{t.on_cluster()} (\n"
            f"  `fact_key` String{validity}{dict_cols}\n)\nPRIMARY KEY `fact_key`\n"
            f"SOURCE(CLICKHOUSE(DB '{db}' TABLE '{map_table}'))\nLIFETIME(0)\nLAYOUT({layout}){rng}",
            owner,
        )
    )
    labels_dict = f"dict_{dim.name}_labels_{h}"
    out.append(
        Statement(
            "dictionary",
            labels_dict,
            f"CREATE DICTIONARY IF NOT EXISTS {q(db)}.{q(labels_dict)}{t.on_cluster()} (\n"
            "  `level` String,\n  `key` String,\n  `label_lv` String,\n  `label_en` String,\n"
            "  `sort` String\n)\n"
            "PRIMARY KEY `level`, `key`\n"
            f"SOURCE(CLICKHOUSE(DB '{db}' TABLE '{labels_table}'))\nLIFETIME(0)\n"
            "LAYOUT(COMPLEX_KEY_HASHED())",
            owner,
        )
    )
    return out


def facts_statements(layout: CubeLayout, t: Topology = SINGLE_NODE) -> list[Statement]:
    """A cube's facts table (behind a Distributed table on a cluster)."""
    cube = layout.cube
    db = layout.database
    owner = f"facts:{cube.name}"
    table = layout.facts_table
    cols = ",\n".join(f"  {q(c.name)} {fact_column_type(c)}" for c in cube.columns)
    cols += ",\n  `_batch` LowCardinality(String) DEFAULT ''"
    order = _facts_order(layout)
    partition = f"\nPARTITION BY toYear({q(layout.time_link[1])})" if layout.time_link else ""
    local = t.local(table)
    out = [
        Statement(
            "table",
            local,
            f"CREATE TABLE IF NOT EXISTS {q(db)}.{q(local)}{t.on_cluster()} (\n{cols}\n)\n"
            f"ENGINE = {t.engine('MergeTree', db, local)}{partition}\nORDER BY ({', '.join(order)})\n"
            "SETTINGS non_replicated_deduplication_window = 1000",
            owner,
        )
    ]
    if t.is_cluster:
        out.append(distributed_table(db, t, table, owner, sharding_key(layout)))
    return out


def sharding_key(layout: CubeLayout) -> str:
    """Which shard a fact row goes to: a hash of its person (the first person column), so that
    a person's rows sit on one shard — and since it depends on the row only, a retried chunk is
    split into the same block per shard, which that block's deduplication token drops. Without a
    person column, a hash of the whole row (deterministic for the same reason, never `rand()`)."""
    person = next((c for c in layout.cube.columns if c.namespace == PERSON_NAMESPACE), None)
    if person is not None:
        col = q(person.name)
        return f"intHash64(ifNull({col}, 0))" if person.nullable else f"intHash64({col})"
    # As text, so that a NULL hashes too (a hash of a NULL argument is NULL, no shard).
    return "cityHash64(toString(tuple(" + ", ".join(q(c.name) for c in layout.cube.columns) + ")))"


def _facts_order(layout: CubeLayout) -> list[str]:
    """Facts sort by date alone: time cuts skip granules, and inserts stay fast (a sort on
    (municipality, gender, date) cost a quarter of the insert time, measured on the demo).
    Without a time dimension, by the first non-nullable dimension key."""
    if layout.time_link:
        return [q(layout.time_link[1])]
    keys = [q(d.column) for d in layout.cube.dimensions if not layout.cube.column(d.column).nullable][:1]
    return keys or ["tuple()"]


def distributed_table(db: str, t: Topology, table: str, owner: str, key: str = "rand()") -> Statement:
    """The Distributed table over every shard's local table (rollups are never inserted into
    through theirs, so a random key does no harm there)."""
    assert t.cluster is not None
    return Statement(
        "table",
        table,
        f"CREATE TABLE IF NOT EXISTS {q(db)}.{q(table)}{t.on_cluster()} "
        f"AS {q(db)}.{q(t.local(table))}\n"
        f"ENGINE = Distributed({q(t.cluster)}, {q(db)}, {q(t.local(table))}, {key})",
        owner,
    )


PARALLEL_BACKFILL = "SETTINGS parallel_distributed_insert_select = 2"
"""An INSERT … SELECT from one Distributed table into another over the same cluster runs as
`INSERT INTO local SELECT … FROM local` on every shard at once: one statement, any node may take
it, and each shard's rollup is filled from that shard's facts (as its materialized view fills it)."""


def backfill_sql(layout: CubeLayout, rollup: Rollup, t: Topology, into: str) -> str:
    """Fill a rollup table (`into`: its name, on a cluster the Distributed one over it) from all
    the facts."""
    db = layout.database
    _, select = rollup_select(layout, rollup, f"{q(db)}.{q(layout.facts_table)}")
    settings = f" {PARALLEL_BACKFILL}" if t.is_cluster else ""
    return f"INSERT INTO {q(db)}.{q(into)}{settings}\n{select}"


def rollup_select(layout: CubeLayout, rollup: Rollup, source: str) -> tuple[list[str], str]:
    """The SELECT that turns fact rows into rollup rows (used by the MV and the back-fill)."""
    model, cube = layout.model, layout.cube
    keys: list[str] = []
    exprs: list[str] = []
    for alias, level in rollup.grain.items():
        dim = layout.dimension(alias)
        column = cube.link(alias).column
        if dim.is_time:
            role = dim.level(level).role
            assert role is not None
            exprs.append(f"{time_bucket(role, q(column))} AS `__t`")
            keys.append("`__t`")
        elif layout.grain_kind(alias, level) == "key":
            exprs.append(f"{fact_key_sql(cube, column)} AS {q(alias)}")
            keys.append(q(alias))
        else:
            args = f"tuple({fact_key_sql(cube, column)})"
            if dim.is_versioned:
                assert layout.time_link is not None
                args += f", toDate({q(layout.time_link[1])})"
            exprs.append(
                f"dictGet('{map_dict(model, layout.database, dim)}', '{level}', {args}) AS {q(alias)}"
            )
            keys.append(q(alias))
    for m in layout.rollup_measures(rollup):
        for s in layout.state_columns(m):
            exprs.append(f"{s.fill} AS {q(s.name)}")
    exprs.append(f"{ROWS.fill} AS {q(ROWS.name)}")
    group = f"\nGROUP BY {', '.join(keys)}" if keys else ""
    return keys, "SELECT\n  " + ",\n  ".join(exprs) + f"\nFROM {source}{group}"


def rollup_table_sql(
    layout: CubeLayout, rollup: Rollup, t: Topology = SINGLE_NODE, *, name: str | None = None
) -> str:
    """CREATE TABLE of a rollup's node-local table; `name` builds the same table under another
    name (a rebuild), whose Keeper path on a cluster is then the table's own (`{uuid}`), as a
    name's path would clash with the table it is exchanged with."""
    db = layout.database
    local = t.local(layout.rollup_table(rollup))
    engine = t.engine("AggregatingMergeTree", db, local)
    if name is not None:
        local = name
        if t.is_cluster:
            engine = "ReplicatedAggregatingMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')"
    cols: list[str] = []
    order: list[str] = []
    for alias in rollup.grain:
        if layout.dimension(alias).is_time:
            cols.append("  `__t` Date")
        else:
            cols.append(f"  {q(alias)} LowCardinality(String)")
            order.append(q(alias))
    if any(layout.dimension(a).is_time for a in rollup.grain):
        order.append("`__t`")
    for m in layout.rollup_measures(rollup):
        cols.extend(f"  {q(s.name)} {s.type_sql}" for s in layout.state_columns(m))
    cols.append(f"  {q(ROWS.name)} {ROWS.type_sql}")
    return (
        f"CREATE TABLE IF NOT EXISTS {q(db)}.{q(local)}{t.on_cluster()} (\n"
        + ",\n".join(cols)
        + f"\n)\nENGINE = {engine}\n"
        + f"ORDER BY ({', '.join(order) or 'tuple()'})\n"
        # A load retried after a crash re-sends its blocks with the same dedup tokens; the
        # materialized view passes them on, and the rollup must drop the ones it has.
        + "SETTINGS non_replicated_deduplication_window = 1000"
    )


def rollup_statements(layout: CubeLayout, rollup: Rollup, t: Topology = SINGLE_NODE) -> list[Statement]:
    """A rollup's table, its back-fill from the facts and the materialized view that keeps it
    filled (on a cluster each shard's view reads that shard's facts, and the back-fill runs on
    every shard at once through the Distributed tables, so it is created first)."""
    db = layout.database
    owner = f"rollup:{layout.cube.name}.{rollup.name}"
    table = layout.rollup_table(rollup)
    local = t.local(table)
    facts = f"{q(db)}.{q(t.local(layout.facts_table))}"
    _, select = rollup_select(layout, rollup, facts)
    mv = view_name(table)
    out = [Statement("table", local, rollup_table_sql(layout, rollup, t), owner)]
    if t.is_cluster:
        out.append(distributed_table(db, t, table, owner))
    out += [
        # Named after the local table: apply back-fills what it just created.
        Statement("backfill", local, backfill_sql(layout, rollup, t, table), owner),
        Statement(
            "view",
            mv,
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {q(db)}.{q(mv)}{t.on_cluster()}\n"
            f"TO {q(db)}.{q(local)} AS\n{select}",
            owner,
        ),
    ]
    return out
