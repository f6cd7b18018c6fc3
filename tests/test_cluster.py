"""Cluster mode as code: what can be proven in one process, and the rest against a real cluster.

In process: a batch transformed on its way in (`insert_select`) is one statement on every
engine, so behind a load balancer no second statement can land on another replica; `apply` runs
the physical catalogue's statements for the engine's topology (the cluster's are the golden
files of tests/test_ddl_golden.py, made by the same call), which chDB refuses at the first
`ON CLUSTER`; a cluster without a server is refused with a reason.

Against a real cluster (`LABIS_TEST_CLICKHOUSE_URL` a node of it and `LABIS_TEST_CLUSTER` its
name: deploy/cluster/compose.yaml), the mini model is applied ON CLUSTER, its facts inserted
through the Distributed table, and every aggregate case answered through the Distributed tables;
each person's rows are on one shard, both shards hold rows, and a chunk sent twice with its
deduplication token is kept once. Skipped, saying so, where no cluster is reachable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conftest import fresh_database, make_engine
from test_aggregate_cases import CASES, CUBE, MODEL_DIR, build_query, compare_rows, read_facts

from labis_olap.compiler.apply import apply_model
from labis_olap.engine.base import CLUSTER_INSERT_SETTINGS, Engine
from labis_olap.engine.embedded import EmbeddedEngine
from labis_olap.engine.open import open_engine
from labis_olap.errors import EngineError, UserError
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import CubeLayout
from labis_olap.physical.topology import Topology
from labis_olap.service import ANONYMOUS, CubeService
from labis_olap.settings import Settings

AWKWARD = ["a", " b ", 'c"q', "d,e", "f\ng", "ā\\x", "", "'", "\\N", "NULL", "{x:String}", "\t"]


def test_insert_select_is_one_statement_on_every_engine(engine: Engine) -> None:
    engine.execute(
        f"CREATE TABLE `{engine.database}`.`t` (`k` UInt64, `ns` String, `p` String) "
        "ENGINE = MergeTree ORDER BY k"
    )
    data = pa.table({"key": pa.array(range(len(AWKWARD)), pa.uint64()), "code": AWKWARD})
    before = engine.writes
    engine.insert_select("t", data, ["k", "ns", "p"], ["`key`", "{ns:String}", "`code`"], {"ns": "persons"})
    assert engine.writes == before + 1  # one statement, no transfer table made and dropped
    rows = engine.query(f"SELECT k, ns, p FROM `{engine.database}`.`t` ORDER BY k").to_pylist()
    assert [r["p"] for r in rows] == AWKWARD and {r["ns"] for r in rows} == {"persons"}
    tables = engine.query(
        "SELECT name FROM system.tables WHERE database = {d:String}", {"d": engine.database}
    ).column("name")
    assert tables.to_pylist() == ["t"]


def test_apply_runs_the_catalogue_of_the_engine_topology(data_dir: Path) -> None:
    """chDB has no distributed DDL: the cluster's first statement is refused, which shows that
    apply ran the cluster's catalogue (ON CLUSTER), not the single node's."""
    model = read_model(MODEL_DIR)
    engine = EmbeddedEngine(data_dir, fresh_database("clu"), Topology("labis_cluster"))
    try:
        with pytest.raises(EngineError) as info:
            apply_model(model, engine)
        assert "creating persons" in str(info.value)
        assert not engine.query(
            "SELECT name FROM system.tables WHERE database = {d:String}", {"d": engine.database}
        ).num_rows
    finally:
        engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


def test_a_cluster_needs_a_server(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="needs a ClickHouse server"):
        open_engine(Settings(data_dir=tmp_path, cluster="labis_cluster"))


# --- a real cluster --------------------------------------------------------------------------

CLUSTER = os.environ.get("LABIS_TEST_CLUSTER")
needs_cluster = pytest.mark.skipif(
    not (CLUSTER and os.environ.get("LABIS_TEST_CLICKHOUSE_URL")),
    reason="no ClickHouse cluster here: set LABIS_TEST_CLICKHOUSE_URL and LABIS_TEST_CLUSTER "
    "(deploy/cluster/compose.yaml)",
)


@pytest.fixture(scope="module")
def on_cluster(data_dir: Path) -> Iterator[Engine]:
    model = read_model(MODEL_DIR)
    engine = make_engine("server", data_dir, fresh_database("onc"))
    assert engine.topology.cluster == CLUSTER
    try:
        apply_model(model, engine)
        facts = CubeLayout(model, model.cubes[CUBE], engine.database).facts_table
        engine.insert_arrow(facts, read_facts(model), CLUSTER_INSERT_SETTINGS)
        yield engine
    finally:
        engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}` ON CLUSTER `{CLUSTER}` SYNC")


@needs_cluster
def test_cluster_shards_by_person_and_answers_every_case(on_cluster: Engine) -> None:
    model = read_model(MODEL_DIR)
    db, facts = on_cluster.database, CubeLayout(model, model.cubes[CUBE], on_cluster.database).facts_table
    spread = on_cluster.query(
        f"SELECT person, uniqExact(_shard_num) AS shards FROM `{db}`.`{facts}` GROUP BY person"
    ).to_pylist()
    assert spread and all(r["shards"] == 1 for r in spread)
    per_shard = on_cluster.query(f"SELECT _shard_num AS s, count() AS n FROM `{db}`.`{facts}` GROUP BY s")
    assert per_shard.num_rows >= 2
    failures: list[str] = []
    for case in (c for c in CASES if "expect" in c and not c.get("xfail")):
        for use_rollups in (True, False):
            got = CubeService(model, on_cluster, use_rollups=use_rollups).aggregate(
                build_query(case["query"]), ANONYMOUS
            )
            problems = compare_rows(got.cells.to_pylist(), case["expect"]["rows"])
            if problems:
                failures.append(f"{case['name']} ({'rollups' if use_rollups else 'facts'}): {problems}")
    assert not failures, "\n".join(failures)


@needs_cluster
def test_cluster_drops_a_retried_chunk(on_cluster: Engine) -> None:
    model = read_model(MODEL_DIR)
    facts = CubeLayout(model, model.cubes[CUBE], on_cluster.database).facts_table
    chunk = read_facts(model).slice(0, 5)
    settings: dict[str, Any] = {**CLUSTER_INSERT_SETTINGS, "insert_deduplication_token": "retry-test-1"}
    count = f"SELECT count() AS n FROM `{on_cluster.database}`.`{facts}`"
    before = on_cluster.query(count).to_pylist()[0]["n"]
    for _ in range(2):
        on_cluster.insert_arrow(facts, chunk, settings)
    assert on_cluster.query(count).to_pylist()[0]["n"] == before + 5
