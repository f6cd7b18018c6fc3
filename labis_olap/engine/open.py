"""The engine the settings name; the implementations are imported only when one is opened (chDB
and clickhouse-connect are large), and engine/base.py imports neither."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Engine

if TYPE_CHECKING:
    from ..settings import Settings


def open_engine(settings: Settings) -> Engine:
    """The engine the settings ask for: a ClickHouse URL wins, else embedded chDB."""
    if settings.clickhouse_url:
        from .server import ServerEngine

        return ServerEngine(settings.clickhouse_url, database=settings.database)
    from .embedded import EmbeddedEngine

    return EmbeddedEngine(settings.data_dir, database=settings.database)
