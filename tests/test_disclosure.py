"""Disclosure control for publication roles: the primary frequency rule on every path.

The mini model (tests/fixtures/mini_model: 41 payments to 12 persons) with disclosure rules on
its cube (threshold 3 distinct recipients; `amount` needs 4) and roles: `public` (published),
`publisher` (marked `publication: true`), `analyst` (not for publication). Every expected
number is the analyst's answer to the same question, whose recipients are checked here against
an independent SQL count over the facts table; a published cell is either the analyst's cell
unchanged or, when its recipients number 1..threshold−1, a cell with no values and status `A`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import fresh_database, make_engine
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_aggregate_cases import read_facts

from labis_olap.api import create_app, deps
from labis_olap.compiler.apply import apply_model
from labis_olap.engine.base import Engine
from labis_olap.errors import ForbiddenError, QueryError
from labis_olap.model.cut_grammar import parse_cuts, parse_drilldowns, parse_order
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import CubeLayout
from labis_olap.query.cell import CubeQuery, FactsQuery
from labis_olap.service import CubeService, Principal
from labis_olap.settings import Settings

MINI = Path(__file__).parent / "fixtures" / "mini_model"
CUBE = "benefits"
THRESHOLD = 3
AMOUNT_THRESHOLD = 4
RULES = f"""
disclosure:
  threshold: {THRESHOLD}
  measures:
    amount: {{threshold: {AMOUNT_THRESHOLD}}}
"""
ROLES = {
    "public": "role: public\ncubes: [{cube: benefits}]\n",
    "publisher": "role: publisher\npublication: true\ncubes: [{cube: benefits, microdata: true}]\n",
    "analyst": "role: analyst\ncubes: [{cube: '*', microdata: true}]\n",
}
LEVELS = [
    "territory:region",
    "territory:municipality",
    "time:year",
    "time:quarter",
    "time:month",
    "benefit_type:category",
    "benefit_type:benefit_type",
    "gender",
]
PUBLIC = Principal("visitor")
ANALYST = Principal("anna", frozenset({"analyst", "public"}))
PUBLISHER = Principal("paul", frozenset({"publisher", "public"}))


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Model:
    root = tmp_path_factory.mktemp("disclosure_model") / "model"
    shutil.copytree(MINI, root)
    cube = root / "cubes" / "benefits.yaml"
    cube.write_text(cube.read_text() + textwrap.dedent(RULES))
    (root / "roles").mkdir()
    for name, text in ROLES.items():
        (root / "roles" / f"{name}.yaml").write_text(text)
    return read_model(root)


@pytest.fixture(scope="module")
def engine(data_dir: Path, model: Model) -> Iterator[Engine]:
    eng = make_engine("embedded", data_dir, fresh_database("disclosure"))
    apply_model(model, eng)
    eng.insert_arrow(CubeLayout(model, model.cubes[CUBE], eng.database).facts_table, read_facts(model))
    yield eng
    eng.execute(f"DROP DATABASE IF EXISTS `{eng.database}`")


@pytest.fixture(scope="module")
def service(model: Model, engine: Engine) -> CubeService:
    return CubeService(model, engine)


def ask(service: CubeService, who: Principal, drill: str, cut: str = "", subtotals: str = "none") -> Any:
    query = CubeQuery(
        CUBE,
        ("amount", "payments", "recipients"),
        parse_cuts(cut),
        parse_drilldowns(drill),
        subtotals=subtotals,
    )
    return service.aggregate(query, who)


def rows_by_key(rows: list[dict[str, Any]], keys: list[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(r[k] for k in keys): r for r in rows}


def check_published(published: dict[str, Any], truth: dict[str, Any]) -> int:
    """One published cell (or total) against the analyst's: hidden exactly when its recipients
    are too few for the measure; returns how many values were hidden."""
    n = truth["recipients"] or 0
    hidden = 0
    for measure, threshold in (
        ("amount", AMOUNT_THRESHOLD),
        ("payments", THRESHOLD),
        ("recipients", THRESHOLD),
    ):
        secret = 0 < n < threshold
        if secret:
            assert published[measure] is None, (measure, published, truth)
            assert published[f"{measure}:status"] == "A"
            hidden += 1
        else:
            assert published[measure] == truth[measure], (measure, published, truth)
            assert published[f"{measure}:status"] is None
    return hidden


def test_recipients_are_counted_right(service: CubeService, engine: Engine, model: Model) -> None:
    """The analyst's recipients, which the checks below trust, equal SQL over the facts."""
    table = CubeLayout(model, model.cubes[CUBE], engine.database).facts_table
    sql = engine.query(
        f"SELECT benefit AS m, toYear(paid_on) AS y, uniqExact(person) AS n "
        f"FROM `{engine.database}`.`{table}` GROUP BY m, y"
    ).to_pylist()
    cells = ask(service, ANALYST, "benefit_type:benefit_type|time:year").cells.to_pylist()
    got = {(c["benefit_type.benefit_type"], c["time.year"]): c["recipients"] for c in cells}
    assert got == {(r["m"], r["y"]): r["n"] for r in sql}
    assert any(0 < n < THRESHOLD for n in got.values()), "the fixture must have small cells"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    drills=st.lists(st.sampled_from(LEVELS), min_size=0, max_size=3, unique_by=lambda d: d.split(":")[0]),
    cut=st.sampled_from(["", "time:2023", "time:2024", "gender:F", "benefit_type:assist", "territory:R1"]),
    subtotals=st.sampled_from(["none", "rollup", "cube"]),
)
def test_no_published_cell_shows_a_small_count(
    service: CubeService, drills: list[str], cut: str, subtotals: str
) -> None:
    # a cut dimension drilled too: a one-level one cannot drill below its cut (issue 16)
    assume(not cut or cut.split(":")[0] not in {d.split(":")[0] for d in drills})
    drill = "|".join(drills)
    published = ask(service, PUBLIC, drill, cut, subtotals)
    truth = ask(service, ANALYST, drill, cut, subtotals)
    keys = published.attributes
    assert keys == truth.attributes
    shown = rows_by_key(published.cells.to_pylist(), keys)
    real = rows_by_key(truth.cells.to_pylist(), keys)
    assert shown.keys() == real.keys()
    for key, cell in shown.items():
        check_published(cell, real[key])
    check_published(published.summary, truth.summary)
    for pub, tru in zip(published.subtotals, truth.subtotals, strict=True):
        sub_keys = pub.attributes
        real_sub = rows_by_key(tru.rows.to_pylist(), sub_keys)
        for key, row in rows_by_key(pub.rows.to_pylist(), sub_keys).items():
            check_published(row, real_sub[key])


def test_publication_roles_are_protected_and_others_not(service: CubeService) -> None:
    drill = "territory:municipality|time:year"
    truth = ask(service, ANALYST, drill).cells.to_pylist()
    assert "amount:status" not in truth[0], "an analyst's answer carries no statuses"
    by_publisher = ask(service, PUBLISHER, drill).cells.to_pylist()
    hidden = sum(check_published(c, t) for c, t in zip(by_publisher, truth, strict=True))
    assert hidden > 0


def test_fact_rows_are_never_published(service: CubeService) -> None:
    for who in (PUBLIC, PUBLISHER):  # the publisher's role grants microdata: still refused
        with pytest.raises(ForbiddenError, match="not published"):
            service.facts(FactsQuery(CUBE), who)
        with pytest.raises(ForbiddenError, match="not published"):
            service.fact(CUBE, "1", who)
    assert service.facts(FactsQuery(CUBE), ANALYST).rows.num_rows > 0


def test_ordering_by_a_measure_is_refused(service: CubeService) -> None:
    query = CubeQuery(
        CUBE, ("amount",), (), parse_drilldowns("territory:municipality"), parse_order("amount:desc")
    )
    with pytest.raises(QueryError, match="ordered by a measure"):
        service.aggregate(query, PUBLIC)
    by_level = CubeQuery(
        CUBE,
        ("amount",),
        (),
        parse_drilldowns("territory:municipality"),
        parse_order("territory.municipality"),
    )
    assert service.aggregate(by_level, PUBLIC).cells.num_rows > 0
    assert service.aggregate(query, ANALYST).cells.num_rows > 0


def test_zeros_can_be_declared_disclosive(model: Model, engine: Engine) -> None:
    """A cell with no contributor — here the total of a year without payments — is shown as
    0 by default and is confidential when the cube declares zeros disclosive."""
    cube = model.cubes[CUBE]
    assert cube.disclosure is not None
    strict = cube.model_copy(
        update={"disclosure": cube.disclosure.model_copy(update={"zeros": "disclosive"})}
    )
    strict_model = dataclasses.replace(model, cubes={**model.cubes, CUBE: strict})
    query = CubeQuery(CUBE, ("payments", "recipients"), parse_cuts("time:2019"))
    lenient = CubeService(model, engine).aggregate(query, PUBLIC).summary
    assert lenient == {"payments": 0, "payments:status": None, "recipients": 0, "recipients:status": None}
    hidden = CubeService(strict_model, engine).aggregate(query, PUBLIC).summary
    assert hidden == {"payments": None, "payments:status": "A", "recipients": None, "recipients:status": "A"}


def published_cells(client: TestClient, url: str) -> list[dict[str, Any]]:
    got = client.get(url)
    assert got.status_code == 200, got.text[:300]
    fmt = url.partition("format=")[2].partition("&")[0] or "json"
    if fmt == "json":
        cells: list[dict[str, Any]] = got.json()["cells"]
        return cells
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(got.text)))
        return [{k: (None if v == "" else v) for k, v in r.items()} for r in rows]
    return pq.read_table(io.BytesIO(got.content)).to_pylist()


@pytest.mark.parametrize("fast", [True, False], ids=["fast_path", "fastapi"])
def test_every_way_in_publishes_the_same_protected_cells(
    model: Model, engine: Engine, data_dir: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    principal = [PUBLIC]
    monkeypatch.setattr(deps, "principal_of", lambda scope: principal[0])
    settings_ = Settings(model_dir=MINI, data_dir=data_dir, database=engine.database)
    drill = "drilldown=territory:municipality|time:year"
    agg = f"/cube/{CUBE}/aggregate?{drill}&aggregates=amount|payments|recipients"
    with TestClient(create_app(settings_, model, engine, fast_path=fast), raise_server_exceptions=False) as c:
        principal[0] = ANALYST
        truth = {(r["territory.municipality"], r["time.year"]): r for r in c.get(agg).json()["cells"]}
        principal[0] = PUBLIC
        for fmt in ("json", "csv", "parquet"):
            cells = published_cells(c, f"{agg}&format={fmt}")
            assert len(cells) == len(truth)
            for cell in cells:
                real = truth[(cell["territory.municipality"], int(cell["time.year"]))]
                secret = 0 < real["recipients"] < THRESHOLD
                assert (cell["recipients"] is None) == secret, (fmt, cell, real)
                assert (cell["recipients:status"] == "A") == secret
                if 0 < real["recipients"] < AMOUNT_THRESHOLD:
                    assert cell["amount"] is None and cell["amount:status"] == "A"
        report = {
            "queries": {"a": {"query": "aggregate", "drilldown": ["territory:municipality", "time:year"]}}
        }
        for cell in c.post(f"/cube/{CUBE}/report", json=report).json()["a"]["cells"]:
            real = truth[(cell["territory.municipality"], cell["time.year"])]
            assert (cell["recipients"] is None) == (0 < real["recipients"] < THRESHOLD)
        sdmx = list(csv.DictReader(io.StringIO(c.get(f"{agg}&format=sdmx-csv").text)))
        hidden = [r for r in sdmx if r["CONF_STATUS"] == "A"]
        assert hidden and all(r["OBS_VALUE"] == "" for r in hidden)
        assert all(r["OBS_VALUE"] != "" for r in sdmx if r["CONF_STATUS"] == "")
        assert c.get(f"/cube/{CUBE}/facts").status_code == 403
        assert c.get(f"{agg}&order=amount:desc").status_code == 400
