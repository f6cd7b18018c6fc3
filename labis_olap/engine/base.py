"""The Engine protocol: SQL with bound parameters in, Arrow tables out.

Both engines receive the same compiled SQL; values travel only as `{name:Type}` parameters
that the ClickHouse server binds, so no value is ever spliced into SQL text.
"""

from __future__ import annotations

import bisect
import datetime as dt
import decimal
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from ..physical.topology import Topology

Params = Mapping[str, Any]

FACT_INSERT_SETTINGS: Mapping[str, Any] = {"parallel_view_processing": 1}
"""Inserts into facts feed every rollup's materialized view; run those views in parallel."""

CLUSTER_INSERT_SETTINGS: Mapping[str, Any] = {"distributed_foreground_insert": 1}
"""An insert through a Distributed facts table on a cluster is done when the statement ends: each
shard's rows are written (with the block's deduplication token, which the shard's Replicated table
checks) before it returns, so a failure is the loader's to see and retry, not a queue's on disk.
The sharding key is the person (physical/cube_ddl.py), never random: a retried chunk splits into
the same blocks per shard, which their tokens then drop."""


QUERY_SECONDS_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
"""Upper bounds of the engine-time histogram (seconds); the last bucket is everything above."""


class QueryTimes:
    """How long this process's engine queries took, as histogram counts: the engine keeps them
    itself (two clock reads and a bisect per query), and the API's /metrics reads them when
    scraped, so the engine room needs no metrics library."""

    def __init__(self) -> None:
        self.counts = [0] * (len(QUERY_SECONDS_BUCKETS) + 1)
        self.total = 0.0
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        i = bisect.bisect_left(QUERY_SECONDS_BUCKETS, seconds)
        with self._lock:
            self.counts[i] += 1
            self.total += seconds

    def snapshot(self) -> tuple[tuple[float, ...], list[int], float]:
        """(the buckets' upper bounds; count per bucket, the last one above every bound; sum of
        seconds)."""
        with self._lock:
            return QUERY_SECONDS_BUCKETS, list(self.counts), self.total


@runtime_checkable
class Engine(Protocol):
    """What the compiler, the planner, the loaders and the API need from ClickHouse.

    Implemented by EmbeddedEngine (engine/embedded.py) and ServerEngine (engine/server.py);
    `open_engine` (engine/open.py) picks one from the settings."""

    database: str
    """The ClickHouse database every table of the model lives in (statements name it)."""

    topology: Topology
    """Where the tables live (one node, or a cluster whose DDL runs ON CLUSTER): apply, the
    loaders and the lineage create what this says (physical/topology.py)."""

    times: QueryTimes
    """How long this object's queries took (read by /metrics)."""

    @property
    def shared(self) -> bool:
        """Whether other processes may write to the same data: True for a ClickHouse server, whose
        other clients load too; False for embedded chDB, whose directory one process holds. When
        False, `writes` alone tells whether the data changed (the result cache needs no query)."""
        ...

    @property
    def writes(self) -> int:
        """Statements this object has run that may have changed data (DDL, INSERT, TRUNCATE, …),
        counted once each is over, failed ones too; part of the result cache's data version."""
        ...

    def query(self, sql: str, params: Params | None = None) -> pa.Table:
        """Run a SELECT; the answer as an Arrow table."""
        ...

    def execute(self, sql: str, params: Params | None = None) -> None:
        """Run a statement that returns nothing worth reading (DDL, INSERT … SELECT)."""
        ...

    def insert_arrow(self, table: str, data: pa.Table, settings: Mapping[str, Any] | None = None) -> None:
        """Append an Arrow table to `database.table` (columns by name)."""
        ...

    def insert_select(
        self,
        table: str,
        data: pa.Table,
        columns: Sequence[str],
        exprs: Sequence[str],
        params: Params | None = None,
    ) -> None:
        """Append rows computed by SQL `exprs` over the batch's columns (e.g. a keyed hash), so a
        value can be transformed by the engine without ever being stored as it came."""
        ...

    def release_memory(self) -> None:
        """Hand memory freed by finished statements back to the system (a long load's peak)."""
        ...

    def close(self) -> None:
        """Close every connection; the object is not used afterwards."""
        ...


def param_text(value: Any) -> str:
    """A value as ClickHouse's text format for query parameters (NULL is `\\N`)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float, decimal.Decimal)):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        return "[" + ",".join(_quoted(v) for v in value) + "]"
    raise TypeError(f"unsupported parameter type {type(value).__name__}")


def text_params(params: Params | None) -> dict[str, str] | None:
    """Parameters as ClickHouse text, so that both engines bind exactly the same strings."""
    if not params:
        return None
    return {k: param_text(v) for k, v in params.items()}


def first_line(exc: BaseException) -> str:
    """The first line of an engine's message (ClickHouse appends a stack trace)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _quoted(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if value is None:
        return "NULL"
    return param_text(value)
