"""Model → ClickHouse DDL (facts, dimension tables and dictionaries, rollups with their MVs)."""
