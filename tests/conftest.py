"""Shared fixtures: real ClickHouse (embedded chDB) for every test that touches data.

chDB allows one data directory per process, so the whole session shares one; isolation
comes from a fresh database per test. The same cases run on every engine: embedded chDB,
clickhouse-connect (through its chDB interface), and a real server when
LABIS_TEST_CLICKHOUSE_URL is set (a node of a cluster, its tables ON CLUSTER, when
LABIS_TEST_CLUSTER names it too: docs/deploy.md).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labis_olap.engine.base import Engine
from labis_olap.engine.embedded import EmbeddedEngine
from labis_olap.engine.server import ServerEngine
from labis_olap.model.definition import Model
from labis_olap.physical.topology import Topology
from labis_olap.service.principal import Principal
from labis_olap.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# The tests send requests faster than a public server's rate limit allows one principal (they are
# all anonymous); the limiter has its own tests (test_limits.py), which set it explicitly.
os.environ.setdefault("LABIS_RATE_LIMIT", "0")
# The default pseudonymisation key file is in the user's config folder: no test may find (or
# write) the developer's own key there. A test that wants a default key makes it in its own
# XDG_CONFIG_HOME.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="labis-test-config-")
ENGINE_KINDS = ["embedded", "connect"] + (["server"] if os.environ.get("LABIS_TEST_CLICKHOUSE_URL") else [])
_counter = itertools.count()
ANALYST = Principal("analyst", frozenset({"analyst", "public"}))
"""A ministry analyst of the demo model (model/roles/analyst.yaml): every cube, unprotected. The
demo's anonymous principal is the public (under disclosure control), so the tests of what the
cubes answer ask as this."""


def _analyst_key() -> tuple[Path, str]:
    from labis_olap.security.keys import ApiKeys

    path = Path(tempfile.mkdtemp(prefix="labis-test-keys-")) / "api-keys.json"
    _, key = ApiKeys(path).create("tests", ["analyst"], [])
    return path, key


KEYS_FILE, ANALYST_KEY = _analyst_key()
"""An API keys file holding one key of the role `analyst`, and the key: a server given the file
(`api_keys_file=KEYS_FILE`) answers requests sending it (`AS_ANALYST` headers) as an analyst,
and those without credentials as the public (the demo model declares the role)."""
AS_ANALYST = {"X-API-Key": ANALYST_KEY}


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


def make_engine(kind: str, data_dir: Path, database: str) -> Engine:
    if kind == "embedded":
        return EmbeddedEngine(data_dir, database=database)
    if kind == "connect":
        return ServerEngine(f"chdb://{data_dir}", database=database)
    # LABIS_TEST_CLUSTER: the server is a node of that cluster (deploy/cluster), tables ON CLUSTER.
    cluster = os.environ.get("LABIS_TEST_CLUSTER") or None
    return ServerEngine(
        os.environ["LABIS_TEST_CLICKHOUSE_URL"], database=database, topology=Topology(cluster)
    )


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


@contextlib.contextmanager
def mini_database(data_dir: Path, model: Model, prefix: str) -> Iterator[Engine]:
    """The mini model (tests/fixtures/mini_model, or a copy with rules added) applied in a fresh
    embedded database with its 41 payments loaded, dropped after."""
    from test_aggregate_cases import read_facts

    from labis_olap.compiler.apply import apply_model
    from labis_olap.physical.layout import CubeLayout

    engine = make_engine("embedded", data_dir, fresh_database(prefix))
    try:
        apply_model(model, engine)
        layout = CubeLayout(model, model.cubes["benefits"], engine.database)
        engine.insert_arrow(layout.facts_table, read_facts(model))
        yield engine
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


def clear_hits(engine: Engine, needles: list[str]) -> list[tuple[str, str, int]]:
    """Where any of `needles` occurs as text in the database: (table, column, rows) for every
    column of every table — facts, rollup states, pseudonym dictionaries, lineage, rejects,
    dimension tables, dictionaries — whatever its type (numbers are searched as their decimal
    text). Views are not read: they hold nothing, their tables are searched."""
    tables = engine.query(
        "SELECT name FROM system.tables WHERE database = {d:String} AND engine NOT LIKE '%View'",
        {"d": engine.database},
    ).column("name")
    if len(needles) > 200:  # multiSearchAny takes at most 255 needles
        found: dict[tuple[str, str], int] = {}
        for i in range(0, len(needles), 200):
            for table, column, n in clear_hits(engine, needles[i : i + 200]):
                found[(table, column)] = found.get((table, column), 0) + n
        return [(t, c, n) for (t, c), n in sorted(found.items())]
    hits = []
    for table in tables.to_pylist():
        columns = engine.query(
            "SELECT name FROM system.columns WHERE database = {d:String} AND table = {t:String}",
            {"d": engine.database, "t": table},
        ).column("name")
        names = columns.to_pylist()
        counts = ", ".join(
            f"countIf(multiSearchAny(toString(`{n}`), {{x:Array(String)}})) AS `c{i}`"
            for i, n in enumerate(names)
        )
        row = engine.query(f"SELECT {counts} FROM `{engine.database}`.`{table}`", {"x": needles}).to_pylist()[
            0
        ]
        hits.extend((table, n, row[f"c{i}"]) for i, n in enumerate(names) if row[f"c{i}"])
    return hits


def analyst_client(app: Any, **kw: Any) -> Any:
    """A TestClient sending the analyst's key on every request (the app's settings must name
    KEYS_FILE)."""
    from fastapi.testclient import TestClient

    return TestClient(app, headers={**AS_ANALYST, **kw.pop("headers", {})}, **kw)


def demo_settings(data_dir: Path, engine: Engine, **kw: Any) -> Settings:
    """The server's settings over a demo database of the session's data directory, knowing the
    analyst's key (KEYS_FILE)."""
    return Settings(
        model_dir=ROOT / "model", api_keys_file=KEYS_FILE, data_dir=data_dir, database=engine.database, **kw
    )
