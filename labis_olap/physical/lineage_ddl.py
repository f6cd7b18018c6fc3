"""DDL of what loads write besides facts: lineage (`loads`, `source_state`), `rejects`, the
global pseudonym dictionaries (`persons`, `identifiers_<kind>`), and the staging tables of a
batch in flight.

On a cluster the lineage tables and the dictionaries are replicated to every node (each is small, and
every node must see every batch and number every person alike). Staging tables stay on the
node the loader talks to whatever the topology: they live for one load, are read by that
node's INSERT … SELECT into the facts, and must not reach Keeper.
"""

from __future__ import annotations

import pyarrow as pa

from ..model.schema import PERSON_NAMESPACE
from .layout import CubeLayout, fact_column_type, q
from .names import (
    BACKUP_TOTALS,
    LOADS,
    MEMBER_ROWS,
    PERSONS,
    REJECTS,
    SOURCE_STATE,
    StageNames,
    number_column,
    pseudonym_table,
    stage_key_column,
)
from .statement import Statement
from .topology import SINGLE_NODE, Topology

LOADS_COLUMNS = [
    ("event_time", "DateTime64(6, 'UTC')", pa.timestamp("us", tz="UTC")),
    ("batch", "String", pa.string()),
    ("source", "LowCardinality(String)", pa.string()),
    ("cube", "LowCardinality(String)", pa.string()),
    ("file_name", "String", pa.string()),
    ("file_sha256", "String", pa.string()),
    ("file_bytes", "UInt64", pa.uint64()),
    ("rows_read", "UInt64", pa.uint64()),
    ("rows_accepted", "UInt64", pa.uint64()),
    ("rows_rejected", "UInt64", pa.uint64()),
    ("started", "DateTime64(3, 'UTC')", pa.timestamp("ms", tz="UTC")),
    ("finished", "Nullable(DateTime64(3, 'UTC'))", pa.timestamp("ms", tz="UTC")),
    ("status", "LowCardinality(String)", pa.string()),
    ("model_version", "String", pa.string()),
    ("key_id", "String", pa.string()),
    ("message", "String", pa.string()),
]
"""(name, ClickHouse type, Arrow type) of each `loads` column: the table and the rows written."""


def _replicated(t: Topology, database: str, table: str) -> str:
    """`MergeTree` on one node (the text these tables were always created with), else one
    replicated table on every node."""
    return t.engine("MergeTree", database, table, replicated_everywhere=True) if t.is_cluster else "MergeTree"


def lineage_tables(database: str, t: Topology = SINGLE_NODE) -> list[Statement]:
    """`loads`, `rejects` and `source_state`, created if missing before any load."""
    db = q(database)
    on = t.on_cluster()
    loads = ",\n".join(f"  {q(n)} {ty}" for n, ty, _ in LOADS_COLUMNS)
    return [
        # One row per status change (an append-only log); a batch's state is its latest row.
        Statement(
            "table",
            LOADS,
            f"CREATE TABLE IF NOT EXISTS {db}.{q(LOADS)}{on} (\n{loads}\n)\n"
            f"ENGINE = {_replicated(t, database, LOADS)}\nORDER BY (`batch`, `event_time`)",
            "lineage",
        ),
        Statement(
            "table",
            REJECTS,
            f"CREATE TABLE IF NOT EXISTS {db}.{q(REJECTS)}{on} (\n"
            "  `batch` String,\n  `source` LowCardinality(String),\n  `row` UInt64,\n"
            "  `column` LowCardinality(String),\n  `fact_column` LowCardinality(String),\n"
            "  `value` String,\n  `reason` LowCardinality(String)\n)\n"
            f"ENGINE = {_replicated(t, database, REJECTS)}\nORDER BY (`batch`, `row`)",
            "lineage",
        ),
        # What a fetched source (sql, http) looked like per batch: the watermark range read and
        # the coarse type of each column; the next run starts above the highest range loaded.
        Statement(
            "table",
            SOURCE_STATE,
            f"CREATE TABLE IF NOT EXISTS {db}.{q(SOURCE_STATE)}{on} (\n"
            "  `event_time` DateTime64(6, 'UTC'),\n  `source` LowCardinality(String),\n  `batch` String,\n"
            "  `watermark_type` String,\n  `low` Nullable(String),\n  `high` Nullable(String),\n"
            f"  `kinds` String\n)\nENGINE = {_replicated(t, database, SOURCE_STATE)}\n"
            "ORDER BY (`source`, `event_time`)",
            "lineage",
        ),
        # Loaded dimension members: each member batch holds the dimension's whole history as it
        # stands after that load (every version, as JSON), so the newest `ok` batch is the
        # members and an older one is what they were.
        Statement(
            "table",
            MEMBER_ROWS,
            f"CREATE TABLE IF NOT EXISTS {db}.{q(MEMBER_ROWS)}{on} (\n"
            "  `dimension` LowCardinality(String),\n  `batch` String,\n  `row` String,\n"
            f"  `valid_from` Date,\n  `valid_to` Date\n)\nENGINE = {_replicated(t, database, MEMBER_ROWS)}\n"
            "ORDER BY (`dimension`, `batch`)",
            "lineage",
        ),
    ]


def persons_table(database: str, t: Topology = SINGLE_NODE) -> Statement:
    """The global person dictionary (Kylin's idea): pseudonym → dense number. Facts carry only
    the number, so bitmaps count distinct persons exactly and no identifier sits in facts.
    Numbers are handed out in order, so sorting by number costs nothing on insert (sorting
    random 64-character pseudonyms took a second per million persons); a lookup by
    pseudonym is a hash join over the whole table either way."""
    table = t.local(PERSONS)
    sql = (
        f"CREATE TABLE IF NOT EXISTS {q(database)}.{q(table)}{t.on_cluster()} (\n"
        f"  `person_num` UInt64,\n  `pseudonym` String\n)\n"
        f"ENGINE = {t.engine('MergeTree', database, table, replicated_everywhere=True)}\n"
        f"ORDER BY `person_num`"
    )
    return Statement("table", table, sql, "persons")


def pseudonym_dictionary(database: str, namespace: str, t: Topology = SINGLE_NODE) -> Statement:
    """The dictionary of one pseudonym namespace: `persons` for persons (the text it was always
    created with), else `identifiers_<kind>` (pseudonym → dense `num`), built alike and for the
    same reasons: distinct counts over dense numbers are exact bitmaps, and only the keyed
    hash is kept, in its own namespace's table."""
    if namespace == PERSON_NAMESPACE:
        return persons_table(database, t)
    table = t.local(pseudonym_table(namespace))
    num = number_column(namespace)
    sql = (
        f"CREATE TABLE IF NOT EXISTS {q(database)}.{q(table)}{t.on_cluster()} (\n"
        f"  {q(num)} UInt64,\n  `pseudonym` String\n)\n"
        f"ENGINE = {t.engine('MergeTree', database, table, replicated_everywhere=True)}\n"
        f"ORDER BY {q(num)}"
    )
    return Statement("table", table, sql, f"identifiers:{namespace}")


# --- a batch in flight (node-local whatever the topology) ----------------------------------------


def drop_stage(database: str, batch: str, t: Topology = SINGLE_NODE) -> list[Statement]:
    """Drop a batch's staging tables: before staging it afresh, and after it is published."""
    owner = f"stage:{batch}"
    return [
        Statement("drop", name, f"DROP TABLE IF EXISTS {q(database)}.{q(name)}", owner)
        for name in StageNames(batch).all
    ]


def create_stage(layout: CubeLayout, batch: str, t: Topology = SINGLE_NODE) -> list[Statement]:
    """The staging table of a batch's checked rows (pseudonymous columns replaced by their staged
    key) and, if the cube has such columns, the table of its distinct codes' pseudonyms (with
    their namespace: one person, household, … numbering each)."""
    db = q(layout.database)
    names = StageNames(batch)
    owner = f"stage:{batch}"
    cols = []
    for c in layout.cube.columns:
        if c.pseudonymous:
            ty = "Nullable(UInt64)" if c.nullable else "UInt64"
            cols.append(f"  {q(stage_key_column(c.name))} {ty}")
        else:
            cols.append(f"  {q(c.name)} {fact_column_type(c)}")
    cols.append("  `_row` UInt64")
    out = [
        Statement(
            "table",
            names.table,
            f"CREATE TABLE {db}.{q(names.table)} (\n" + ",\n".join(cols) + "\n)\nENGINE = MergeTree\n"
            "ORDER BY `_row`",
            owner,
        )
    ]
    if any(c.pseudonymous for c in layout.cube.columns):
        out.append(
            Statement(
                "table",
                names.codes,
                f"CREATE TABLE {db}.{q(names.codes)} (`key` UInt64, `ns` LowCardinality(String),\n"
                "  `pseudonym` String, `h` UInt64 DEFAULT cityHash64(`pseudonym`))\n"
                "ENGINE = MergeTree ORDER BY (`ns`, `h`)",
                owner,
            )
        )
    return out


def create_persons_map(database: str, batch: str, t: Topology = SINGLE_NODE) -> list[Statement]:
    """A fresh lookup staged key → dense number for publishing the batch (RAM only)."""
    name = StageNames(batch).persons_map
    owner = f"stage:{batch}"
    return [
        Statement("drop", name, f"DROP TABLE IF EXISTS {q(database)}.{q(name)}", owner),
        Statement(
            "table",
            name,
            f"CREATE TABLE {q(database)}.{q(name)} (`key` UInt64, `num` UInt64)\n"
            "ENGINE = Join(ANY, LEFT, `key`) SETTINGS persistent = 0",
            owner,
        ),
    ]


def backup_totals_table(database: str, t: Topology = SINGLE_NODE) -> Statement:
    """The totals each backup counted (names.BACKUP_TOTALS), created before the first backup;
    replicated to every node on a cluster, like the lineage."""
    sql = (
        f"CREATE TABLE IF NOT EXISTS {q(database)}.{q(BACKUP_TOTALS)}{t.on_cluster()} (\n"
        "  `backup` String,\n  `taken` DateTime64(3, 'UTC'),\n  `table` String,\n  `total` String,\n"
        f"  `value` String\n)\nENGINE = {_replicated(t, database, BACKUP_TOTALS)}\n"
        "ORDER BY (`backup`, `table`, `total`)"
    )
    return Statement("table", BACKUP_TOTALS, sql, "backup")
