"""Queries with a time limit: ClickHouse's max_execution_time, bound like any other value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from ..engine.base import Engine
from ..errors import EngineError, QueryTimeoutError

TIMEOUT_MARKERS = ("TIMEOUT_EXCEEDED", "Code: 159.")


def run_limited(engine: Engine, sql: str, params: Mapping[str, Any], seconds: float, what: str) -> pa.Table:
    """Run a SELECT that must finish within `seconds`; past it, a QueryTimeoutError (a 4xx)."""
    bound = {**params, "limit_seconds": float(seconds)}
    try:
        return engine.query(f"{sql} SETTINGS max_execution_time = {{limit_seconds:Float64}}", bound)
    except EngineError as exc:
        if any(m in exc.message for m in TIMEOUT_MARKERS):
            raise QueryTimeoutError(
                f"{what} took longer than the server's limit of {seconds:g} s",
                hint="narrow the cut or ask for a smaller page",
            ) from exc
        raise
