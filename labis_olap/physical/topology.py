"""Where the tables live: one node (embedded or a single server), or a ClickHouse cluster.

The same objects are emitted for both; on a cluster every statement runs `ON CLUSTER`, tables
holding rows use Replicated* engines with Keeper paths, and sharded tables are `_local` tables
behind a Distributed table, so a deployment can grow past one machine without a model change.
Queries name a stored table by its name either way (on a cluster, the Distributed table), unless
the topology reads through a table function (`reads`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .quote import q


@dataclass(frozen=True)
class Topology:
    cluster: str | None = None
    """The cluster's name in the server's `remote_servers`; None for a single node."""
    reads: str | None = None
    """A table function queries read every facts table and rollup through instead of its name,
    with `{database}` and `{table}` (quoted identifiers) and `{name}` (the bare table name) to
    fill in: `cluster('c', {database}, {table})` reads each shard's local tables without
    Distributed tables, `remote('127.0.0.1,127.0.0.1', {database}, {table})` is the two-shard
    source the tests build in one process. None: the table by its name."""

    @property
    def is_cluster(self) -> bool:
        return bool(self.cluster)

    def on_cluster(self) -> str:
        """The clause that makes a DDL statement run on every node (empty on one node)."""
        return f" ON CLUSTER {q(self.cluster)}" if self.cluster else ""

    def engine(self, family: str, database: str, table: str, *, replicated_everywhere: bool = False) -> str:
        """A table engine: `family()` on one node, else its Replicated form with a Keeper path
        per shard (or one path for all nodes when every node keeps every row)."""
        if not self.cluster:
            return f"{family}()"
        shard = "all" if replicated_everywhere else "{shard}"
        return f"Replicated{family}('/clickhouse/tables/{shard}/{database}/{table}', '{{replica}}')"

    def local(self, table: str) -> str:
        """The name of the table that holds rows on each node."""
        return f"{table}_local" if self.cluster else table

    def source(self, database: str, table: str) -> str:
        """What a query's FROM names to read a stored table (see `reads`)."""
        if self.reads is None:
            return f"{q(database)}.{q(table)}"
        return self.reads.format(database=q(database), table=q(table), name=table)


SINGLE_NODE = Topology()
"""The default: embedded chDB or one ClickHouse server."""
