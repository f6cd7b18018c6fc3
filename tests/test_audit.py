"""The audit log: every request of every front end recorded by the cube service, never a value.

A real app over demo data in embedded chDB, with the fast path and without; the log is read
back from its file and through `labis audit`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import KEYS_FILE, analyst_client, demo_database
from typer.testing import CliRunner

from labis_olap.api import create_app
from labis_olap.cli import app as cli
from labis_olap.engine.base import Engine
from labis_olap.model.definition import Model
from labis_olap.service.audit import AuditLog, read
from labis_olap.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PERSONAL = "cut=territory:LV005,0006000|gender:M|age_group:retirement_age,A65_74|time:2024"


@pytest.fixture(scope="module")
def demo(data_dir: Path) -> Iterator[tuple[Model, Engine]]:
    with demo_database(data_dir, "audit", 3_000, seed=2) as demo:
        yield demo


def records_of(
    demo: tuple[Model, Engine], tmp_path: Path, urls: list[str], fast: bool
) -> list[dict[str, Any]]:
    model, engine = demo
    log = tmp_path / "audit.jsonl"
    settings = Settings(
        model_dir=ROOT / "model",
        api_keys_file=KEYS_FILE,
        data_dir=tmp_path,
        database=engine.database,
        audit_file=log,
    )
    with analyst_client(
        create_app(settings, model, engine, fast_path=fast), raise_server_exceptions=False
    ) as c:
        for url in urls:
            c.get(url)
    return list(read(log))


@pytest.mark.parametrize("fast", [True, False])
def test_every_request_is_recorded_without_its_values(
    demo: tuple[Model, Engine], tmp_path: Path, fast: bool
) -> None:
    urls = [
        f"/cube/unemployment/aggregate?drilldown=territory:region&aggregates=registered_unemployed&{PERSONAL}",
        f"/cube/unemployment/aggregate?drilldown=territory:region&aggregates=registered_unemployed&{PERSONAL}",
        f"/cube/unemployment/facts?pagesize=3&{PERSONAL}",
        "/cube/unemployment/members/territory?depth=1",
        "/cube/nope/aggregate",
        "/cube/unemployment/aggregate?cut=territory:LV005&drilldown=nope",
    ]
    records = records_of(demo, tmp_path, urls, fast)
    assert [(r["op"], r["status"]) for r in records] == [
        ("aggregate", 200),
        ("aggregate", 200),
        ("facts", 200),
        ("members", 200),
        ("cube", 404),
        ("aggregate", 404),
    ]
    first, second = records[0], records[1]
    assert first["principal"].startswith("key:") and first["roles"] == ["analyst", "public"]
    assert first["cut_dimensions"] == ["age_group", "gender", "territory", "time"]
    assert first["drilldown"] == ["territory:region"] and first["measures"] == ["registered_unemployed"]
    assert first["cache"] == "miss" and second["cache"] == "hit"
    assert first["rows"] >= 0 and first["source"] and first["ms"] >= 0
    assert records[4]["error"] == "not_found" and records[4]["cube"] == "nope"
    text = (tmp_path / "audit.jsonl").read_text()
    for value in ("LV005", "0006000", "A65_74", "retirement_age"):
        assert value not in text, f"the cut value {value} reached the audit log"


def test_the_log_rotates_and_is_read_in_order(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=2**16, backups=3)
    for i in range(5_000):
        log.record({"op": "aggregate", "n": i, "pad": "x" * 40})
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "audit.jsonl",
        "audit.jsonl.1",
        "audit.jsonl.2",
        "audit.jsonl.3",
    ]
    numbers = [r["n"] for r in read(tmp_path / "audit.jsonl")]
    assert 1_000 < len(numbers) < 5_000, "the oldest files beyond the backups are dropped"
    assert numbers == list(range(5_000 - len(numbers), 5_000)), "records are read oldest first, none lost"


def test_labis_audit_shows_the_records(
    demo: tuple[Model, Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = ["/cube/unemployment/aggregate?drilldown=gender", "/cube/nope/aggregate"]
    records_of(demo, tmp_path, urls, True)
    monkeypatch.setenv("LABIS_AUDIT_FILE", str(tmp_path / "audit.jsonl"))
    shown = CliRunner().invoke(cli, ["audit"])
    assert shown.exit_code == 0, shown.output
    assert "by gender" in shown.output and "404 not_found" in shown.output and "2 record(s)" in shown.output
    refused = CliRunner().invoke(cli, ["audit", "--refused"])
    assert "1 record(s)" in refused.output
    monkeypatch.setenv("LABIS_AUDIT_FILE", str(tmp_path / "none.jsonl"))
    missing = CliRunner().invoke(cli, ["audit"])
    assert missing.exit_code == 1 and "no audit log" in missing.output
