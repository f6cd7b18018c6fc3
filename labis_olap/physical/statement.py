"""A DDL statement with what it creates and what it belongs to (apply decides by these)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "database",
    "table",
    "dictionary",
    "view",
    "backfill",
    "drop",
    "alter",
    "exchange",
    "truncate",
    "backup",
    "restore",
]


@dataclass(frozen=True)
class Statement:
    kind: Kind
    name: str
    """Object name inside the database (for `database`, the database itself)."""
    sql: str
    owner: str
    """What the statement belongs to: 'facts:<cube>', 'dimension:<dim>', 'rollup:<cube>.<rollup>',
    'lineage', 'persons', 'stage:<batch>' …"""


def render(statements: Iterable[Statement]) -> str:
    """Statements as a reviewable script (what `labis compile` prints and golden files hold)."""
    return "".join(f"-- {s.owner}\n{s.sql};\n\n" for s in statements)
