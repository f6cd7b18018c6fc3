"""The engine the settings name; the implementations are imported only when one is opened (chDB
and clickhouse-connect are large), and engine/base.py imports neither."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UserError
from .base import Engine

if TYPE_CHECKING:
    from ..settings import Settings


def open_engine(settings: Settings) -> Engine:
    """The engine the settings ask for: a ClickHouse URL wins, else embedded chDB; with a cluster
    name, the server is one entry point of that cluster (its tables ON CLUSTER)."""
    from ..physical.topology import SINGLE_NODE, Topology

    if settings.cluster and not settings.clickhouse_url:
        raise UserError(
            f"LABIS_CLUSTER={settings.cluster} needs a ClickHouse server: the embedded engine is one node",
            hint="set LABIS_CLICKHOUSE_URL to a node of the cluster (docs/deploy.md)",
        )
    if settings.clickhouse_url:
        from .server import ServerEngine

        topology = Topology(settings.cluster) if settings.cluster else SINGLE_NODE
        return ServerEngine(settings.clickhouse_url, database=settings.database, topology=topology)
    from .embedded import EmbeddedEngine

    return EmbeddedEngine(settings.data_dir, database=settings.database)
