"""Queries with bounds: ClickHouse's max_execution_time and max_memory_usage, bound like any value.

Past a bound the engine stops the query and the user gets a 4xx that says what to narrow; the
server is never the one to run out of time or memory.

A query run inside a `Cancellation` (a front end's request) is tagged with its token in
ClickHouse's `log_comment` setting, so that `cancel` can stop it from another thread with `KILL
QUERY` when the client goes away: chDB takes no `query_id` setting and has no interrupt call,
but honours KILL QUERY from another connection of the same process (verified on chDB 4.4).
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..engine.base import Engine
from ..errors import EngineError, QueryCancelledError, QueryTimeoutError, QueryTooLargeError

TIMEOUT_MARKERS = ("TIMEOUT_EXCEEDED", "Code: 159.")
MEMORY_MARKERS = ("MEMORY_LIMIT_EXCEEDED", "Code: 241.")
CANCEL_MARKERS = ("QUERY_WAS_CANCELLED", "Code: 394.")
TAG_PREFIX = "labis-request-"
_PROCESS = secrets.token_hex(4)
_NEXT = itertools.count()


def _tag() -> str:
    """A tag unique in this process and apart from other processes' (a request's tag need not be
    secret: it only names the request's queries). A counter, not `secrets` per request: reading
    the system's random source cost a system call per request, a fifth of a cached answer."""
    return f"{TAG_PREFIX}{_PROCESS}-{next(_NEXT)}"


@dataclass
class Cancellation:
    """One request's engine queries: their tag, and whether the request was given up."""

    tag: str = field(default_factory=_tag)
    cancelled: bool = False
    reason: str = "the client went away"
    """Why it was given up, for the error of a query it stops."""
    on_query: Callable[[], None] | None = None
    """Called (from the query's thread) before each engine query: a front end starts watching
    its client only then, so that an answer from the cache costs no watch."""


CURRENT: ContextVar[Cancellation | None] = ContextVar("labis_cancellation", default=None)
"""The request whose queries run in this context (copied into worker threads with the context)."""


@contextmanager
def cancellable() -> Iterator[Cancellation]:
    """Tag every bounded query run in this context (and threads started from it) as one request."""
    token = Cancellation()
    reset = CURRENT.set(token)
    try:
        yield token
    finally:
        CURRENT.reset(reset)


def cancel(engine: Engine, token: Cancellation, reason: str | None = None) -> None:
    """Stop the request's running queries and refuse its next ones (from any thread)."""
    if reason is not None:
        token.reason = reason
    token.cancelled = True
    engine.query("KILL QUERY WHERE Settings['log_comment'] = {tag:String} ASYNC", {"tag": token.tag})


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
        token = CURRENT.get()
        if token is not None:
            if not token.cancelled and token.on_query is not None:
                token.on_query()  # then again: a cancel while it ran stops this query too
            if token.cancelled:
                raise QueryCancelledError(f"{what} was not run: {token.reason}")
            bound["limit_tag"] = token.tag
            settings += ", log_comment = {limit_tag:String}"
        if single_thread:
            settings += ", max_threads = 1"
        if self.max_memory is not None:
            bound["limit_memory"] = int(self.max_memory)
            settings += ", max_memory_usage = {limit_memory:UInt64}"
        try:
            return engine.query(f"{sql} SETTINGS {settings}", bound)
        except EngineError as exc:
            if any(m in exc.message for m in CANCEL_MARKERS):
                reason = token.reason if token is not None else "it was cancelled"
                raise QueryCancelledError(f"{what} was stopped: {reason}") from exc
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


def run_limited(
    engine: Engine,
    sql: str,
    params: Mapping[str, Any],
    seconds: float,
    what: str,
    max_memory: int | None = None,
) -> pa.Table:
    """Run a SELECT that must finish within `seconds` (and `max_memory` bytes); past a bound, a
    QueryTimeoutError / QueryTooLargeError (a 4xx)."""
    return QueryLimits(seconds, max_memory).run(engine, sql, params, what)
