"""The aggregate cases over shards, in one process: real two-phase distributed queries in chDB.

1. **Two shards of the same data**: every stored table a query reads (facts and rollups) is read
   as `remote('127.0.0.1,127.0.0.1', db, table)`, so each shard computes partial aggregate states
   and the initiator merges them, as a ClickHouse cluster does. Every shard holds every row, so
   additive measures (sum, count, and the stock, which is a sum over the cell's rows at its last
   date) come out exactly double, and distinct counts (bitmaps, HLL), min, max and averages
   identical. This is what finds a non-mergeable aggregate or a wrong `-Merge`: a final value
   stored instead of a state would be added or picked, not merged.
2. **Facts split over two shards**, each with its own rollups filled by its own materialized views
   (rows split by person, as the cluster's sharding key does), read together with `merge()`: every
   case gives exactly the one table's answer — the rollup-equals-facts property over shards.

The cases are tests/cases/aggregate_cases.yaml, with rollups and without, as on every engine.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import fresh_database, make_engine
from test_aggregate_cases import (
    CASES,
    CUBE,
    MODEL_DIR,
    build_query,
    compare_rows,
    drain,
    expected_value,
    read_facts,
    same,
)

from labis_olap.compiler.apply import apply_model
from labis_olap.engine.base import Engine
from labis_olap.engine.embedded import EmbeddedEngine
from labis_olap.errors import EngineError, UserError
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.model.schema import Function
from labis_olap.physical.layout import CubeLayout
from labis_olap.physical.topology import Topology
from labis_olap.service import ANONYMOUS, CubeService

TWO_SHARDS = "remote('127.0.0.1,127.0.0.1', {database}, {table})"
ADDITIVE = {Function.sum, Function.count, Function.last}
SAME = {Function.count_distinct, Function.min, Function.max, Function.avg}
ANSWERED = [c for c in CASES if "expect" in c and not c.get("xfail")]


@pytest.fixture(scope="module")
def model() -> Model:
    return read_model(MODEL_DIR)


def factor(model: Model, name: str) -> int:
    """How many times the two-shard answer of a measure is its one-table answer: 2 for additive
    measures, 1 for the rest; an expression's follows from its parts (a ratio of two doubled
    measures is unchanged; a doubled measure over a distinct count doubles)."""
    cube = model.cubes[CUBE]
    measure = next(m for m in cube.measures if m.name == name)
    if measure.expression is None:
        assert measure.function in ADDITIVE | SAME, f"{name}: {measure.function} is not classified"
        return 2 if measure.function in ADDITIVE else 1

    def of(node: ast.AST) -> float:
        if isinstance(node, ast.Name):
            return factor(model, node.id)
        if isinstance(node, ast.Constant):
            return 1
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
            left, right = of(node.left), of(node.right)
            return left * right if isinstance(node.op, ast.Mult) else left / right
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            left, right = of(node.left), of(node.right)
            assert left == right, f"{name}: a sum of parts that scale differently"
            return left
        raise AssertionError(f"{name}: cannot tell how {ast.dump(node)} scales")

    result = of(ast.parse(measure.expression, mode="eval").body)
    assert result in (1, 2), f"{name} scales by {result}"
    return int(result)


def scaled(model: Model, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    measures = {m.name for m in model.cubes[CUBE].measures}
    out = []
    for row in rows:
        new = {}
        for k, v in row.items():
            value = expected_value(v)
            if k in measures and value is not None and factor(model, k) == 2:
                value = value * 2
            new[k] = value
        out.append(new)
    return out


def run_case(
    model: Model, engine: Engine, case: dict[str, Any], expect_rows: list[dict[str, Any]], summary: Any
) -> list[str]:
    """The case with rollups and without, on `engine`; what differs from the expectation."""
    expect = case["expect"]
    failures: list[str] = []
    for use_rollups in (True, False):
        label = "rollups" if use_rollups else "facts only"
        try:
            result = CubeService(model, engine, use_rollups=use_rollups).aggregate(
                build_query(case["query"]), ANONYMOUS
            )
        except (UserError, EngineError) as exc:
            failures.append(f"[{label}] {type(exc).__name__}: {exc}")
            if isinstance(exc, EngineError):
                drain(engine)
            continue
        rows = result.cells.to_pylist()
        problems = compare_rows(rows, expect_rows)
        if result.total_cell_count != expect["total_cell_count"]:
            problems.append(f"total_cell_count = {result.total_cell_count}")
        want_source = expect.get("source") if use_rollups else "facts"
        if want_source is not None and result.source != want_source:
            problems.append(f"source = {result.source!r}, expected {want_source!r}")
        for k, v in (summary or {}).items():
            if not same((result.summary or {}).get(k), v):
                problems.append(f"summary {k} = {(result.summary or {}).get(k)!r}, expected {v!r}")
        if problems:
            failures.append(
                f"[{label}] from {result.source}:\n    " + "\n    ".join(problems) + f"\n    {rows}"
            )
    return failures


def _load(model: Model, engine: Engine, facts: pa.Table) -> None:
    apply_model(model, engine)
    engine.insert_arrow(CubeLayout(model, model.cubes[CUBE], engine.database).facts_table, facts)


# --- 1. the same data read as two shards ---------------------------------------------------------


@pytest.fixture(scope="module")
def two_shards(data_dir: Path, model: Model) -> Iterator[Engine]:
    """The mini facts in one database, and an engine on it whose queries read every stored table
    as two shards."""
    plain = make_engine("embedded", data_dir, fresh_database("shard"))
    try:
        _load(model, plain, read_facts(model))
        yield EmbeddedEngine(data_dir, plain.database, Topology(reads=TWO_SHARDS))
    finally:
        plain.execute(f"DROP DATABASE IF EXISTS `{plain.database}`")


def test_two_shards_really_read_twice(two_shards: Engine, model: Model) -> None:
    facts = CubeLayout(model, model.cubes[CUBE], two_shards.database, two_shards.topology)
    sql = f"SELECT count() AS n FROM {facts.source(facts.facts_table)}"
    assert "remote(" in sql
    assert two_shards.query(sql).to_pylist()[0]["n"] == 2 * read_facts(model).num_rows


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in ANSWERED])
def test_case_over_two_shards(case: dict[str, Any], two_shards: Engine, model: Model) -> None:
    expect = case["expect"]
    summary = None
    if "summary" in expect:
        summary = scaled(model, [expect["summary"]])[0]
    failures = run_case(model, two_shards, case, scaled(model, expect["rows"]), summary)
    assert not failures, "\n".join(failures)


# --- 2. facts split over two shards, each with its own rollups -----------------------------------


@pytest.fixture(scope="module")
def split(data_dir: Path, model: Model) -> Iterator[Engine]:
    """Two databases, each with the model applied and the facts of half the persons (its
    materialized views fill its rollups); an engine on the first reading both through merge()."""
    facts = read_facts(model)
    on_first = pc.equal(pc.bit_wise_and(facts.column("person"), pa.scalar(1, facts.column("person").type)), 1)
    halves = (facts.filter(on_first), facts.filter(pc.invert(on_first)))
    assert all(h.num_rows for h in halves)
    shards = [make_engine("embedded", data_dir, fresh_database("split")) for _ in halves]
    try:
        for engine, half in zip(shards, halves, strict=True):
            _load(model, engine, half)
        names = "|".join(e.database for e in shards)
        reads = "merge(REGEXP('^(" + names + ")$'), '^{name}$')"
        yield EmbeddedEngine(data_dir, shards[0].database, Topology(reads=reads))
    finally:
        for engine in shards:
            engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


def test_split_shards_hold_half_each(split: Engine, model: Model) -> None:
    layout = CubeLayout(model, model.cubes[CUBE], split.database)
    own = split.query(f"SELECT count() AS n FROM `{split.database}`.`{layout.facts_table}`").to_pylist()
    both = split.query(
        f"SELECT count() AS n FROM {split.topology.source(split.database, layout.facts_table)}"
    )
    assert 0 < own[0]["n"] < both.to_pylist()[0]["n"] == read_facts(model).num_rows


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in ANSWERED])
def test_case_over_split_shards(case: dict[str, Any], split: Engine, model: Model) -> None:
    expect = case["expect"]
    failures = run_case(model, split, case, expect["rows"], expect.get("summary"))
    assert not failures, "\n".join(failures)
