"""LabIS OLAP: YAML cube models compiled into ClickHouse and answered from rollups."""

__version__ = "0.1.0"
