"""Storage health (issue 12, item 7): a rollup damaged on disk is found at start, named by /health
and `labis check`, and never read: the aggregate it would have answered comes from the facts.

The real thing: a small demo in its own data directory, one rollup part's data file cut short
on disk, then `labis check` and `labis serve` reopen it (subprocesses). In process: a rollup that
lost rows to a mutation, and facts found broken (refused, never a wrong number).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ANALYST, fresh_database, make_engine
from served import start_server
from test_hardening import ROOT, _env, _labis, get

from labis_olap.demo.load import load_demo
from labis_olap.engine.base import Engine
from labis_olap.engine.health import check_storage
from labis_olap.errors import StorageDamagedError
from labis_olap.model.cut_grammar import parse_cuts, parse_drilldowns
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import CubeLayout
from labis_olap.query.cell import CubeQuery, FactsQuery
from labis_olap.service import CubeService

CUBE, MEASURE, DRILL, CUT = "unemployment", "new_registrations", "territory:region|time:quarter", "time:2024"
QUERY = f"/cube/{CUBE}/aggregate?" + urllib.parse.urlencode(
    {"aggregates": MEASURE, "drilldown": DRILL, "cut": CUT, "explain": "1"}
)

# Run in a process of its own on the demo directory: which rollup the query reads, the files of
# that rollup's parts, and the query's answer from the facts alone.
PREPARE = """
import json, sys
from labis_olap.engine.embedded import EmbeddedEngine
from labis_olap.model.cut_grammar import parse_cuts, parse_drilldowns
from labis_olap.model.reader import read_model
from labis_olap.query.cell import CubeQuery
from labis_olap.service import OPERATOR, CubeService
cube, measure, drill, cut = sys.argv[1:5]
model = read_model(sys.argv[5])
engine = EmbeddedEngine(sys.argv[6])
q = CubeQuery(cube, (measure,), parse_cuts(cut), parse_drilldowns(drill), (), None, None, None, "en")
stored = CubeService(model, engine).aggregate(q, OPERATOR)
facts = CubeService(model, engine, use_rollups=False).aggregate(q, OPERATOR)
rows = engine.query(
    "SELECT table, path FROM system.parts WHERE database = {db:String} AND active"
    " AND startsWith(table, {prefix:String})",
    {"db": engine.database, "prefix": f"rollup_{cube}_"},
).to_pylist()
parts = {}
for r in rows:
    parts.setdefault(r["table"], []).append(r["path"])
print(json.dumps({"rollup": stored.explain.source, "table": stored.explain.table, "parts": parts,
                  "total": facts.summary[measure], "cells": facts.cells.to_pylist()}, default=str))
"""


def _cut_short(parts: list[str]) -> None:
    """Truncate every data file of these parts to a third (as a disk or a copy that failed)."""
    for part in parts:
        for f in Path(part).glob("*.bin"):
            with f.open("r+b") as fh:
                fh.truncate(max(1, f.stat().st_size // 3))


def _answers(base: str) -> tuple[str, object, dict[tuple[str, str], object]]:
    status, body = get(base + QUERY)
    assert status == 200, body
    cells = {(c["territory.region"], c["time.quarter"]): c[MEASURE] for c in body["cells"]}
    return body["explain"]["source"], body["summary"][MEASURE], cells


def test_a_rollup_cut_short_on_disk_is_found_and_skipped(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data)
    demo = _labis("demo", "--rows", "3000", "--no-query", env=env)
    assert demo.returncode == 0, demo.stderr
    assert _labis("check", env=env).returncode == 0
    done = subprocess.run(
        [sys.executable, "-c", PREPARE, CUBE, MEASURE, DRILL, CUT, str(ROOT / "model"), str(data)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    before = json.loads(done.stdout)
    assert before["rollup"] != "facts" and before["parts"][before["table"]] and before["total"] > 0
    want = {(c["territory.region"], c["time.quarter"]): c[MEASURE] for c in before["cells"]}
    _cut_short(before["parts"][before["table"]])  # the rollup the query read

    checked = _labis("check", env=env)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert before["table"] in checked.stderr, checked.stderr

    server, base = start_server(env)
    try:
        status, health = get(base + "/health")
        assert status == 503 and health["status"] == "degraded", health
        assert before["table"] in {p["table"] for p in health["problems"]}, health
        assert all(p["problem"] for p in health["problems"])
        source, total, cells = _answers(base)
        assert source != before["rollup"]  # another rollup that answers it, or the facts
        assert (total, cells) == (before["total"], want)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)

    for table, parts in before["parts"].items():  # now every rollup of the cube
        if table != before["table"]:
            _cut_short(parts)
    server, base = start_server(env)
    try:
        status, health = get(base + "/health")
        assert status == 503 and set(before["parts"]) <= {p["table"] for p in health["problems"]}
        source, total, cells = _answers(base)
        assert source == "facts"
        assert (total, cells) == (before["total"], want)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert _labis("check", env=env).returncode == 1


@pytest.fixture
def demo(data_dir: Path) -> Iterator[tuple[Model, Engine]]:
    model = read_model(ROOT / "model")
    engine = make_engine("embedded", data_dir, fresh_database("health"))
    load_demo(model, engine, 3_000, seed=5)
    yield model, engine
    engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


def _query() -> CubeQuery:
    return CubeQuery(CUBE, (MEASURE,), parse_cuts(CUT), parse_drilldowns(DRILL), (), None, None, None, "en")


def test_a_rollup_that_lost_rows_is_found_and_skipped(demo: tuple[Model, Engine]) -> None:
    model, engine = demo
    assert check_storage(engine, model) == []
    service = CubeService(model, engine)
    first = service.aggregate(_query(), ANALYST)
    assert first.explain.source != "facts"
    engine.execute(
        f"ALTER TABLE `{engine.database}`.`{first.explain.table}` DELETE WHERE rand() % 2 = 0"
        " SETTINGS mutations_sync = 2"
    )
    problems = check_storage(engine, model)
    assert [(p.table, p.rollup) for p in problems] == [(first.explain.table, first.explain.source)]
    assert "does not add up to its facts" in problems[0].problem
    service.set_unhealthy(p.table for p in problems)
    again = service.aggregate(_query(), ANALYST)
    assert again.explain.source != first.explain.source  # another rollup that answers it
    assert again.summary == first.summary and again.cells.to_pylist() == first.cells.to_pylist()
    layout = CubeLayout(model, model.cubes[CUBE], engine.database)
    service.set_unhealthy(layout.rollup_table(r) for r in layout.cube.rollups)
    last = service.aggregate(_query(), ANALYST)
    assert last.explain.source == "facts"
    assert last.summary == first.summary and last.cells.to_pylist() == first.cells.to_pylist()


def test_broken_facts_are_refused_never_answered(demo: tuple[Model, Engine]) -> None:
    model, engine = demo
    service = CubeService(model, engine)
    facts = CubeLayout(model, model.cubes[CUBE], engine.database).facts_table
    service.set_unhealthy([facts])
    with pytest.raises(StorageDamagedError, match=f"cube '{CUBE}' cannot be answered") as refused:
        service.aggregate(_query(), ANALYST)
    assert facts in refused.value.message
    with pytest.raises(StorageDamagedError):
        service.facts(FactsQuery(CUBE, (), (), (), 0, 10, None), ANALYST)
    with pytest.raises(StorageDamagedError):
        service.fact(CUBE, "1", ANALYST)
    other = CubeQuery("pensions", (), (), (), (), None, None, None, "en")
    assert service.aggregate(other, ANALYST).summary  # the other cubes answer
