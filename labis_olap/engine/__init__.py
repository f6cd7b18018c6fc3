"""Engines: one ClickHouse dialect, reached embedded (chDB) or over HTTP (clickhouse-connect)."""

from .base import Engine
from .open import open_engine

__all__ = ["Engine", "open_engine"]
