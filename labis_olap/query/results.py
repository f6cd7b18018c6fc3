"""What the members and facts queries return (the cube service hands these to front ends)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


@dataclass
class MembersResult:
    dimension: str
    hierarchy: str
    depth: int
    levels: list[str]
    data: pa.Table
    sql: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class FactsResult:
    rows: pa.Table
    fields: list[str]
    sql: str
    params: dict[str, Any] = field(default_factory=dict)
    limit: int | None = None
    """Set when an unpaged answer was cut at the server's record limit (as Cubes cuts it): the
    rows are the first `limit` of more."""
