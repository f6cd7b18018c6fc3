"""Golden DDL: the LabIS model compiles to exactly the reviewed SQL (single node and cluster),
and so do the loaders' tables (lineage, rejects, persons, staging) and the maintenance
statements (rebuild and exchange, deletes, drops), from the functions the loaders and apply call.

Regenerate after a deliberate change with `LABIS_UPDATE_GOLDEN=1 pytest tests/test_ddl_golden.py`
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.physical import lineage_ddl, maintenance
from labis_olap.physical.cube_ddl import compile_model
from labis_olap.physical.layout import CubeLayout
from labis_olap.physical.statement import Statement
from labis_olap.physical.statement import render as render_statements
from labis_olap.physical.topology import Topology

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"


BATCH = "0123456789abcdef"
"""A batch id as the loaders make them (16 hex digits)."""


def render(cluster: str | None) -> str:
    model = read_model(ROOT / "model")
    return render_statements(compile_model(model, "labis", Topology(cluster)))


def _person_cube(model: Model) -> CubeLayout:
    """The cube with a person column: its stage has a codes table, publishing a persons map."""
    cube = next(c for c in model.cubes.values() if any(col.type == "person" for col in c.columns))
    return CubeLayout(model, cube, "labis")


def render_lineage(cluster: str | None) -> str:
    """What a load creates: lineage and rejects, persons, a batch's staging tables, and the
    totals table of backups."""
    t = Topology(cluster)
    layout = _person_cube(read_model(ROOT / "model"))
    out: list[Statement] = [
        *lineage_ddl.lineage_tables("labis", t),
        lineage_ddl.persons_table("labis", t),
        *lineage_ddl.drop_stage("labis", BATCH, t),
        *lineage_ddl.create_stage(layout, BATCH, t),
        *lineage_ddl.create_persons_map("labis", BATCH, t),
        lineage_ddl.backup_totals_table("labis", t),
    ]
    return render_statements(out)


def render_maintenance(cluster: str | None) -> str:
    """What loads, unloads, apply, the demo and backups change: deletes of a batch, a rollup's
    rebuild and exchange, its dedup window, a new facts column, stale objects dropped, the data
    emptied, a backup and restores."""
    t = Topology(cluster)
    model = read_model(ROOT / "model")
    layout = _person_cube(model)
    rollup = layout.cube.rollups[0]
    stale = ["dim_x_map_0", "dict_x_map_0", "mv_rollup_x_0", "rollup_x_0", "facts_kept"]
    out: list[Statement] = [
        maintenance.delete_rejects_of_batch("labis", t),
        maintenance.delete_facts_of_batch(layout, t),
        *maintenance.rebuild_rollup(layout, rollup, t),
        maintenance.set_dedup_window("labis", t.local(layout.rollup_table(rollup)), t),
        *maintenance.add_fact_column(layout, "new_column", "Nullable(Int32)", t),
        *(st for _, st in maintenance.drop_stale("labis", stale, t)),
        *maintenance.empty_data(model, "labis", t),
        maintenance.backup_database("labis", maintenance.backup_target(disk="backups", name="b1"), t),
        maintenance.restore_database("labis", maintenance.backup_target(path="/srv/backups/b'1"), t),
        maintenance.restore_database("labis", maintenance.backup_target(path="/b"), t, source="old"),
    ]
    return render_statements(out)


RENDERERS = {"ddl": render, "lineage_ddl": render_lineage, "maintenance_ddl": render_maintenance}


@pytest.mark.parametrize("what", sorted(RENDERERS))
@pytest.mark.parametrize("cluster", [None, "labis_cluster"])
def test_ddl_matches_golden(what: str, cluster: str | None) -> None:
    got = RENDERERS[what](cluster)
    path = GOLDEN / f"labis_{what}{'_cluster' if cluster else ''}.sql"
    if os.environ.get("LABIS_UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with LABIS_UPDATE_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")


def test_cluster_ddl_is_replicated_and_distributed() -> None:
    sql = render("labis_cluster")
    assert "ON CLUSTER `labis_cluster`" in sql
    assert "ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/labis/rollup_unemployment_" in sql
    # Facts are sharded by person: a person's rows on one shard, a retried chunk split alike.
    assert (
        "ENGINE = Distributed(`labis_cluster`, `labis`, `facts_unemployment_local`, intHash64(`person`))"
        in sql
    )
    assert "`facts_occupational_accidents_local`, cityHash64(toString(tuple(" in sql  # no person column
    assert ", rand())" not in sql.split("-- rollup:")[0]  # no facts table is sharded at random
    # Every MV reads the node-local facts so each shard keeps its own rollup rows.
    assert "FROM `labis`.`facts_unemployment_local`" in sql
    # A back-fill runs on every shard at once, one statement through the Distributed tables.
    backfills = [b for b in sql.split(";\n\n") if b.split("\n", 1)[-1].startswith("INSERT INTO")]
    assert backfills and all(
        "SETTINGS parallel_distributed_insert_select = 2" in b and "_local`" not in b for b in backfills
    )
    assert "MergeTree()" not in sql.replace("ReplicatedMergeTree", "").replace(
        "ReplicatedAggregatingMergeTree", ""
    )


def test_cluster_lineage_is_replicated_and_staging_node_local() -> None:
    sql = render_lineage("labis_cluster")
    for table in ("loads", "rejects", "source_state", "persons_local"):
        assert f"ReplicatedMergeTree('/clickhouse/tables/all/labis/{table}', '{{replica}}')" in sql
    # A batch's staging lives on the node the loader talks to: no Keeper, no ON CLUSTER.
    for block in sql.split(";\n\n"):
        if "_load_" in block:
            assert "ON CLUSTER" not in block and "Replicated" not in block
    assert render_lineage(None).count("_load_stage_") == sql.count("_load_stage_")
