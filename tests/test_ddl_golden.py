"""Golden DDL: the LabIS model compiles to exactly the reviewed SQL (single node and cluster).

Regenerate after a deliberate change with `LABIS_UPDATE_GOLDEN=1 pytest tests/test_ddl_golden.py`
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labis_olap.model.loader import load_model
from labis_olap.physical.cube_ddl import compile_model
from labis_olap.physical.statement import render as render_statements
from labis_olap.physical.topology import Topology

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"


def render(cluster: str | None) -> str:
    model = load_model(ROOT / "model")
    return render_statements(compile_model(model, "labis", Topology(cluster)))


@pytest.mark.parametrize(
    ("name", "cluster"), [("labis_ddl.sql", None), ("labis_ddl_cluster.sql", "labis_cluster")]
)
def test_ddl_matches_golden(name: str, cluster: str | None) -> None:
    got = render(cluster)
    path = GOLDEN / name
    if os.environ.get("LABIS_UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with LABIS_UPDATE_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")


def test_cluster_ddl_is_replicated_and_distributed() -> None:
    sql = render("labis_cluster")
    assert "ON CLUSTER `labis_cluster`" in sql
    assert "ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/labis/rollup_unemployment_" in sql
    assert "ENGINE = Distributed(`labis_cluster`, `labis`, `facts_unemployment_local`, rand())" in sql
    # Every MV reads the node-local facts so each shard keeps its own rollup rows.
    assert "FROM `labis`.`facts_unemployment_local`" in sql
    assert "MergeTree()" not in sql.replace("ReplicatedMergeTree", "").replace(
        "ReplicatedAggregatingMergeTree", ""
    )
