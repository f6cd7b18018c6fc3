"""Queries with bounds: ClickHouse's max_execution_time and max_memory_usage, bound like any value.

Past a bound the engine stops the query and the user gets a 4xx that says what to narrow; the
server is never the one to run out of time or memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..engine.base import Engine
from ..errors import EngineError, QueryTimeoutError, QueryTooLargeError

TIMEOUT_MARKERS = ("TIMEOUT_EXCEEDED", "Code: 159.")
MEMORY_MARKERS = ("MEMORY_LIMIT_EXCEEDED", "Code: 241.")


@dataclass(frozen=True)
class QueryLimits:
    seconds: float
    max_memory: int | None = None
    """Bytes one query may hold (None: the engine's own limit)."""

    def run(
        self, engine: Engine, sql: str, params: Mapping[str, Any], what: str, *, single_thread: bool = False
    ) -> pa.Table:
        """Run a SELECT within the bounds; past one, a QueryTimeoutError / QueryTooLargeError.
        `single_thread`: for small inputs, where ClickHouse's parallel pipeline costs more than
        it saves (measured: 0.4 ms of 5.8 on a rollup of a thousand rows)."""
        bound = {**params, "limit_seconds": float(self.seconds)}
        settings = "max_execution_time = {limit_seconds:Float64}"
        if single_thread:
            settings += ", max_threads = 1"
        if self.max_memory is not None:
            bound["limit_memory"] = int(self.max_memory)
            settings += ", max_memory_usage = {limit_memory:UInt64}"
        try:
            return engine.query(f"{sql} SETTINGS {settings}", bound)
        except EngineError as exc:
            if any(m in exc.message for m in TIMEOUT_MARKERS):
                raise QueryTimeoutError(
                    f"{what} took longer than the server's limit of {self.seconds:g} s",
                    hint="narrow the cut, drill fewer levels or ask for a smaller page",
                ) from exc
            if any(m in exc.message for m in MEMORY_MARKERS):
                raise QueryTooLargeError(
                    f"{what} needs more memory than the server's limit per query",
                    hint="narrow the cut or drill fewer levels",
                ) from exc
            raise


def run_limited(engine: Engine, sql: str, params: Mapping[str, Any], seconds: float, what: str) -> pa.Table:
    """Run a SELECT that must finish within `seconds`; past it, a QueryTimeoutError (a 4xx)."""
    return QueryLimits(seconds).run(engine, sql, params, what)
