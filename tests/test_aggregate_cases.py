"""Aggregate query cases as data: tests/cases/aggregate_cases.yaml over the mini model.

The mini model (tests/fixtures/mini_model) is applied to a fresh database on each engine,
tests/fixtures/mini_facts.csv is inserted (the materialized views fill every rollup), and
each case runs through the cube service twice, with rollups and without: both answers must equal
the hand-computed expectation. With rollups the planner must pick the expected `source`.

Applying the model takes about half a second, so the database is built once per engine
kind for the whole module (the `engine` fixture gives a fresh one per test); the cases only
read it.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import datetime as dt
import decimal
import operator
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conftest import ENGINE_KINDS, fresh_database, make_engine
from ruamel.yaml import YAML

from labis_olap.compiler.apply import apply_model
from labis_olap.engine.base import Engine
from labis_olap.errors import EngineError, UserError
from labis_olap.model.cut_grammar import parse_cuts, parse_drilldowns, parse_order
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.model.schema import ColumnType
from labis_olap.physical.layout import ARROW_TYPES, CubeLayout
from labis_olap.query.cell import CubeQuery
from labis_olap.service import ANONYMOUS, CubeService

HERE = Path(__file__).parent
MODEL_DIR = HERE / "fixtures" / "mini_model"
FACTS_CSV = HERE / "fixtures" / "mini_facts.csv"
CASES_FILE = HERE / "cases" / "aggregate_cases.yaml"
CUBE = "benefits"
MIN_CASES = 40

CASE_KEYS = {"name", "query", "expect", "expect_error", "xfail"}
QUERY_KEYS = {"cube", "measures", "cut", "drilldown", "order", "page", "pagesize", "as_of", "lang"}
EXPECT_KEYS = {"rows", "total_cell_count", "source", "summary"}
ERROR_KEYS = {"type", "contains"}

PARSERS: dict[ColumnType, Callable[[str], Any]] = {
    ColumnType.int: int,
    ColumnType.int64: int,
    ColumnType.person: int,
    ColumnType.float: float,
    ColumnType.decimal: decimal.Decimal,
    ColumnType.date: dt.date.fromisoformat,
    ColumnType.datetime: dt.datetime.fromisoformat,
    ColumnType.bool: lambda s: s.lower() in ("1", "true", "yes"),
}


# --- the cases ------------------------------------------------------------------------------


def load_cases() -> list[dict[str, Any]]:
    data = YAML(typ="safe").load(CASES_FILE.read_text(encoding="utf-8"))
    cases: list[dict[str, Any]] = data["cases"]
    names = [c.get("name") for c in cases]
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, f"duplicate case names: {sorted(dup)}"
    for c in cases:
        where = f"case {c.get('name')!r}"
        assert set(c) <= CASE_KEYS, f"{where}: unknown keys {set(c) - CASE_KEYS}"
        assert ("expect" in c) != ("expect_error" in c), f"{where}: give exactly one of expect / expect_error"
        assert set(c["query"]) <= QUERY_KEYS, f"{where}: unknown query keys {set(c['query']) - QUERY_KEYS}"
        if "expect" in c:
            extra = set(c["expect"]) - EXPECT_KEYS
            assert not extra, f"{where}: unknown expect keys {extra}"
            missing = {"rows", "total_cell_count"} - set(c["expect"])
            assert not missing, f"{where}: expect lacks {missing}"
        else:
            assert set(c["expect_error"]) == ERROR_KEYS, f"{where}: expect_error needs exactly {ERROR_KEYS}"
    return cases


CASES = load_cases()


def _params() -> list[Any]:
    out = []
    for c in CASES:
        marks = [pytest.mark.xfail(reason=c["xfail"], strict=True)] if c.get("xfail") else []
        out.append(pytest.param(c, id=c["name"], marks=marks))
    return out


def test_enough_cases() -> None:
    answered = [c for c in CASES if "expect" in c]
    assert len(CASES) >= MIN_CASES, f"only {len(CASES)} cases in {CASES_FILE.name}"
    assert len(answered) >= MIN_CASES, f"only {len(answered)} cases with expected rows"


# --- expected values ------------------------------------------------------------------------

_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def arithmetic(text: str) -> float:
    """'=2045/23' → 88.913…: numbers, + - * / and parentheses only."""

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return float(_OPS[type(node.op)](ev(node.left), ev(node.right)))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        raise ValueError(f"not plain arithmetic: {text!r}")

    return ev(ast.parse(text[1:], mode="eval"))


def expected_value(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("="):
        return arithmetic(value)
    return value


def same(actual: Any, expected: Any) -> bool:
    expected = expected_value(expected)
    if expected is None or actual is None:
        return actual is None and expected is None
    if isinstance(actual, decimal.Decimal):
        actual = float(actual)
    numeric = (int, float)
    if isinstance(expected, numeric) and not isinstance(expected, bool):
        if not isinstance(actual, numeric) or isinstance(actual, bool):
            return False
        if isinstance(expected, float) or isinstance(actual, float):
            return bool(actual == pytest.approx(expected, rel=1e-9, abs=1e-9))
        return actual == expected
    return bool(actual == expected) and type(actual) is type(expected)


def compare_rows(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> list[str]:
    problems = []
    if len(actual) != len(expected):
        problems.append(f"{len(actual)} row(s), expected {len(expected)}")
    for i, (a, e) in enumerate(zip(actual, expected, strict=False)):
        if set(a) != set(e):
            problems.append(f"row {i}: columns {sorted(a)}, expected {sorted(e)}")
            continue
        for k, v in e.items():
            if not same(a[k], v):
                problems.append(f"row {i}: {k} = {a[k]!r}, expected {expected_value(v)!r}")
    return problems


# --- the database ----------------------------------------------------------------------------


def read_facts(model: Model) -> pa.Table:
    cube = model.cubes[CUBE]
    with FACTS_CSV.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    columns: dict[str, pa.Array] = {}
    for col in cube.columns:
        parse = PARSERS.get(col.type, str)
        values = []
        for r in rows:
            text = r[col.name]
            if text == "":
                assert col.nullable, f"{FACTS_CSV.name}: empty {col.name} but the column is not nullable"
                values.append(None)
            else:
                values.append(parse(text))
        columns[col.name] = pa.array(values, type=ARROW_TYPES[col.type])
    return pa.table(columns)


@pytest.fixture(scope="module")
def model() -> Model:
    return read_model(MODEL_DIR)


@pytest.fixture(scope="module", params=ENGINE_KINDS)
def loaded(request: pytest.FixtureRequest, data_dir: Path, model: Model) -> Iterator[Engine]:
    """One database per engine kind with the mini model applied and the facts loaded."""
    eng = make_engine(request.param, data_dir, fresh_database("agg" + request.param[:3]))
    try:
        apply_model(model, eng)
        facts = read_facts(model)
        eng.insert_arrow(CubeLayout(model, model.cubes[CUBE], eng.database).facts_table, facts)
        yield eng
    finally:
        eng.execute(f"DROP DATABASE IF EXISTS `{eng.database}`")


def test_facts_loaded(loaded: Engine, model: Model) -> None:
    layout = CubeLayout(model, model.cubes[CUBE], loaded.database)
    table = loaded.query(f"SELECT count() AS n FROM `{loaded.database}`.`{layout.facts_table}`")
    assert table.column("n")[0].as_py() == read_facts(model).num_rows


# --- running a case ---------------------------------------------------------------------------


def build_query(q: dict[str, Any]) -> CubeQuery:
    return CubeQuery(
        cube=q["cube"],
        measures=tuple(q.get("measures") or ()),
        cuts=parse_cuts(q.get("cut")),
        drilldowns=parse_drilldowns(q.get("drilldown")),
        order=parse_order(q.get("order")),
        page=q.get("page"),
        pagesize=q.get("pagesize"),
        as_of=None if q.get("as_of") is None else str(q["as_of"]),
        lang=q.get("lang", "lv"),
    )


def drain(engine: Engine) -> None:
    """After a query fails while running, chDB hands its partial Arrow output to the next
    query on the connection ("Message metadata too long", "Invalid flatbuffers message").
    One throw-away query absorbs it, so a failing case does not fail the ones after it."""
    with contextlib.suppress(EngineError):
        engine.query("SELECT 1 AS one")


@pytest.mark.parametrize("case", _params())
def test_aggregate_case(case: dict[str, Any], loaded: Engine, model: Model) -> None:
    if "expect_error" in case:
        want = case["expect_error"]
        for use_rollups in (True, False):
            with pytest.raises(UserError) as info:
                CubeService(model, loaded, use_rollups=use_rollups).aggregate(
                    build_query(case["query"]), ANONYMOUS
                )
            err = info.value
            assert err.error_type == want["type"], f"{type(err).__name__}: {err}"
            assert want["contains"] in str(err), str(err)
        return

    expect = case["expect"]
    failures: list[str] = []
    for use_rollups in (True, False):
        label = "rollups" if use_rollups else "facts only"
        try:
            result = CubeService(model, loaded, use_rollups=use_rollups).aggregate(
                build_query(case["query"]), ANONYMOUS
            )
        except (UserError, EngineError) as exc:
            failures.append(f"[{label}] {type(exc).__name__}: {exc}")
            if isinstance(exc, EngineError):
                drain(loaded)
            continue
        rows = result.cells.to_pylist()
        problems = compare_rows(rows, expect["rows"])
        if result.total_cell_count != expect["total_cell_count"]:
            problems.append(
                f"total_cell_count = {result.total_cell_count}, expected {expect['total_cell_count']}"
            )
        want_source = expect.get("source") if use_rollups else "facts"
        if want_source is not None and result.source != want_source:
            problems.append(f"source = {result.source!r}, expected {want_source!r}")
        if "summary" in expect:
            summary = result.summary or {}
            for k, v in expect["summary"].items():
                if not same(summary.get(k), v):
                    problems.append(f"summary {k} = {summary.get(k)!r}, expected {expected_value(v)!r}")
        if problems:
            failures.append(
                f"[{label}] from {result.source}:\n    " + "\n    ".join(problems) + f"\n    got rows: {rows}"
            )
    assert not failures, "\n".join(failures)
