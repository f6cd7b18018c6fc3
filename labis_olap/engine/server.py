"""A ClickHouse server (or cluster entry point) through clickhouse-connect.

The same compiled SQL as the embedded engine; parameters are sent for server-side binding.
`interface="chdb"` lets the test suite drive this code path without a server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
import pyarrow as pa
import pyarrow.csv as pa_csv

from ..errors import EngineError
from ..physical.cube_ddl import create_database
from ..physical.layout import input_structure
from ..physical.topology import SINGLE_NODE, Topology
from .base import Params, QueryTimes, first_line, text_params
from .gate import PUBLICATION


class ServerEngine:
    shared = True
    """Other clients may write to the server: the result cache also checks its parts."""

    def __init__(
        self, url: str, database: str = "labis", topology: Topology = SINGLE_NODE, **client_kwargs: Any
    ) -> None:
        self.database = database
        self.topology = topology
        self.times = QueryTimes()
        self.writes = 0
        """Statements this client ran that may have changed data (part of the data version)."""
        self._writes_lock = threading.Lock()
        self._in_process = url.startswith("chdb://")
        if self._in_process:
            from .embedded import CHDB_OPTIONS  # the same start-up arguments as the embedded engine's

            self._client = clickhouse_connect.get_client(
                interface="chdb", path=url[len("chdb://") :], chdb_options=dict(CHDB_OPTIONS)
            )
        else:
            parts = urlparse(url)
            self._client = clickhouse_connect.get_client(
                interface="https" if parts.scheme == "https" else "http",
                host=parts.hostname or "localhost",
                port=parts.port or (8443 if parts.scheme == "https" else 8123),
                username=parts.username or "default",
                password=parts.password or "",
                **client_kwargs,
            )
        self.execute(create_database(database, topology))

    def query(self, sql: str, params: Params | None = None) -> pa.Table:
        start = time.perf_counter()
        try:
            with PUBLICATION.shared():  # this process's readers only (engine/gate.py)
                return self._client.query_arrow(sql, parameters=text_params(params), use_strings=True)
        except Exception as exc:
            raise EngineError(first_line(exc)) from exc
        finally:
            self.times.observe(time.perf_counter() - start)

    def execute(self, sql: str, params: Params | None = None) -> None:
        try:
            self._client.command(sql, parameters=text_params(params))
        except Exception as exc:
            raise EngineError(first_line(exc)) from exc
        finally:
            self._wrote()

    def insert_arrow(self, table: str, data: pa.Table, settings: Mapping[str, Any] | None = None) -> None:
        try:
            self._client.insert_arrow(table, data, database=self.database, settings=dict(settings or {}))
        except Exception as exc:
            raise EngineError(first_line(exc)) from exc
        finally:
            self._wrote()

    def _wrote(self) -> None:
        with self._writes_lock:
            self.writes += 1

    def insert_select(
        self,
        table: str,
        data: pa.Table,
        columns: Sequence[str],
        exprs: Sequence[str],
        params: Params | None = None,
    ) -> None:
        """One statement: the batch travels with it and is transformed on its way into the target.
        No table holds it in between, so behind a load balancer there is nothing for a second
        statement to miss on another replica.

        Over HTTP the batch is the request's body, read by the `input()` table function. Through
        clickhouse-connect's chDB interface (the tests' way to drive this code), whose body is
        text appended to the statement, it is a bound parameter read by `format()` instead. The
        body is CSV with every value quoted (pyarrow's writer; quoted text is never trimmed nor
        taken for NULL); the batches this carries (codes to pseudonymise, dictionary rows) hold
        no NULL, and one is refused rather than turned into a default value."""
        if any(col.null_count for col in data.columns):
            raise ValueError("insert_select carries no NULL (CSV would make it a default value)")
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(data, sink, pa_csv.WriteOptions(include_header=False, quoting_style="all_valid"))
        body = sink.getvalue().to_pybytes()
        cols = ", ".join(f"`{c}`" for c in columns)
        head = f"INSERT INTO `{self.database}`.`{table}` ({cols}) SELECT {', '.join(exprs)} "
        bound = dict(text_params(params) or {})
        try:
            if self._in_process:
                bound["__labis_batch"] = body.decode()
                sql = head + f"FROM format(CSV, {input_structure(data.schema)}, {{__labis_batch:String}})"
                self._client.command(sql, parameters=bound)
            else:
                sql = head + f"FROM input({input_structure(data.schema)}) FORMAT CSV"
                self._client.command(sql, parameters=bound or None, data=body)
        except Exception as exc:
            raise EngineError(f"inserting into {table}: {first_line(exc)}") from exc
        finally:
            self._wrote()

    def release_memory(self) -> None:
        """The server's memory is its own; only this process's Arrow pool is ours to trim."""
        pa.default_memory_pool().release_unused()

    def close(self) -> None:
        self._client.close()
