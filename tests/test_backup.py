"""`labis backup` / `labis restore` with ClickHouse's BACKUP and RESTORE, checked by totals.

In process: a demo database is backed up and restored under another name in the session's data
directory, its totals equal, and damage done to the restored copy is found by the check. Across
processes (chDB opens one data directory per process): the commands back up a demo directory and
restore it into an empty one, and `labis restore` itself compares every total.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, demo_database, fresh_database, make_engine

from labis_olap.engine.backup import backup, check_restored, count_totals, restore
from labis_olap.errors import UserError
from labis_olap.physical.layout import CubeLayout
from labis_olap.physical.maintenance import backup_target


def test_backup_then_restore_gives_the_same_totals(data_dir: Path, tmp_path: Path) -> None:
    with demo_database(data_dir, "bk", 6_000, seed=3) as (model, engine):
        target = backup_target(path=str(tmp_path / "b1"))
        made = backup(engine, model, target)
        facts = {k: v for k, v in made.totals.items() if k[0].startswith("facts_") and k[1] == "rows"}
        assert len(facts) == len(model.cubes) and sum(int(v) for v in facts.values()) == 6_000
        assert any(k[0].startswith("rollup_") for k in made.totals)
        other = make_engine("embedded", data_dir, fresh_database("rs"))
        try:
            done = restore(other, model, target, source=engine.database)
            assert done.mismatches == []
            assert done.backup == made.backup
            assert count_totals(other, model) == made.totals
            # Into a database that holds tables: refused, nothing overwritten.
            with pytest.raises(UserError, match="already holds"):
                restore(other, model, target, source=engine.database)
            # A restored copy that lost rows is found out: the check can fail.
            cube = next(iter(model.cubes.values()))
            facts_table = CubeLayout(model, cube, other.database).facts_table
            other.execute(
                f"ALTER TABLE `{other.database}`.`{facts_table}` DELETE WHERE rand() % 2 = 0 "
                "SETTINGS mutations_sync = 2"
            )
            lost = check_restored(other, model).mismatches
            assert any(line.startswith(f"{facts_table} rows:") for line in lost), lost
        finally:
            other.execute(f"DROP DATABASE IF EXISTS `{other.database}`")


def _labis(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LABIS_MODEL_DIR": str(ROOT / "model"),
        "LABIS_DATA_DIR": str(data_dir),
    }
    env.pop("LABIS_CLICKHOUSE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "labis_olap.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_backup_and_restore_commands_into_an_empty_data_directory(tmp_path: Path) -> None:
    source, empty, folder = tmp_path / "a", tmp_path / "b", tmp_path / "backup"
    made = _labis("demo", "--rows", "3000", "--no-query", data_dir=source)
    assert made.returncode == 0, made.stderr
    backed = _labis("backup", str(folder), data_dir=source)
    assert backed.returncode == 0, backed.stderr
    assert "backed up labis" in backed.stdout
    again = _labis("backup", str(folder), data_dir=source)
    assert again.returncode == 1 and "exists already" in again.stderr
    restored = _labis("restore", str(folder), data_dir=empty)
    assert restored.returncode == 0, restored.stderr + restored.stdout
    assert "totals equal the backup's" in restored.stdout
    checked = _labis("check", data_dir=empty)
    assert checked.returncode == 0, checked.stderr
