"""One settings class for the whole server (environment variables prefixed LABIS_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LABIS_")

    model_dir: Path = Path("model")
    data_dir: Path = Path("var/labis")
    database: str = Field(default="labis", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    clickhouse_url: str | None = None
    """A ClickHouse server (http://user:pass@host:8123); unset means embedded chDB in data_dir."""
