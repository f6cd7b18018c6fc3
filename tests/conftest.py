"""Shared fixtures: real ClickHouse (embedded chDB) for every test that touches data.

chDB allows one data directory per process, so the whole session shares one; isolation
comes from a fresh database per test. The same cases run on every engine: embedded chDB,
clickhouse-connect (through its chDB interface), and a real server when
LABIS_TEST_CLICKHOUSE_URL is set.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from labis_olap.engine.base import Engine
from labis_olap.engine.embedded import EmbeddedEngine
from labis_olap.engine.server import ServerEngine
from labis_olap.model.definition import Model

ROOT = Path(__file__).resolve().parent.parent
# The tests send requests faster than a public server's rate limit allows one principal (they are
# all anonymous); the limiter has its own tests (test_limits.py), which set it explicitly.
os.environ.setdefault("LABIS_RATE_LIMIT", "0")
ENGINE_KINDS = ["embedded", "connect"] + (["server"] if os.environ.get("LABIS_TEST_CLICKHOUSE_URL") else [])
_counter = itertools.count()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


def make_engine(kind: str, data_dir: Path, database: str) -> Engine:
    if kind == "embedded":
        return EmbeddedEngine(data_dir, database=database)
    if kind == "connect":
        return ServerEngine(f"chdb://{data_dir}", database=database)
    return ServerEngine(os.environ["LABIS_TEST_CLICKHOUSE_URL"], database=database)


def fresh_database(prefix: str = "t") -> str:
    return f"{prefix}_{os.getpid()}_{next(_counter)}"


@contextlib.contextmanager
def demo_database(data_dir: Path, prefix: str, rows: int, seed: int) -> Iterator[tuple[Model, Engine]]:
    """The LabIS model with `rows` demo facts in a fresh embedded database, dropped after."""
    from labis_olap.demo.load import load_demo
    from labis_olap.model.reader import read_model

    model = read_model(ROOT / "model")
    engine = make_engine("embedded", data_dir, fresh_database(prefix))
    try:
        load_demo(model, engine, rows, seed=seed)
        yield model, engine
    finally:
        engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


@pytest.fixture(params=ENGINE_KINDS)
def engine(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[Engine]:
    """A fresh, empty database on each engine kind."""
    eng = make_engine(request.param, data_dir, fresh_database(request.param[:3]))
    yield eng
    eng.execute(f"DROP DATABASE IF EXISTS `{eng.database}`")


@pytest.fixture
def embedded(data_dir: Path) -> Iterator[Engine]:
    """A fresh database on the embedded engine only (for tests about the embedded engine)."""
    eng = make_engine("embedded", data_dir, fresh_database("emb"))
    yield eng
    eng.execute(f"DROP DATABASE IF EXISTS `{eng.database}`")
