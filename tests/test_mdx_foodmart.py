"""Mondrian's own FoodMart test queries, with Mondrian's published results, answered by LabIS
over examples/foodmart (tests/cases/mondrian_foodmart.yaml; what is compared is described in
tests/mondrian_grid.py and at the head of the corpus).

Every statement is answered through the cube service and through POST /mdx (the same tuples and
cells in the JSON cell set); a few through `labis mdx` as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import fresh_database, make_engine
from fastapi.testclient import TestClient
from mondrian_grid import differences, number, read_axis, read_printed
from ruamel.yaml import YAML

from labis_olap.api import create_app
from labis_olap.compiler.apply import apply_model
from labis_olap.engine.base import Engine
from labis_olap.loaders.run import load_file
from labis_olap.loaders.spec import find_spec, load_plan
from labis_olap.mdx import execute
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.service import ANONYMOUS, CubeService
from labis_olap.settings import Settings

HERE = Path(__file__).parent
EXAMPLE = HERE.parent / "examples" / "foodmart"
CORPUS = YAML(typ="safe").load((HERE / "cases" / "mondrian_foodmart.yaml").read_text(encoding="utf-8"))[
    "cases"
]


@pytest.fixture(scope="module")
def loaded(data_dir: Path) -> Iterator[tuple[Model, Engine]]:
    model = read_model(EXAMPLE / "model")
    engine = make_engine("embedded", data_dir, fresh_database("mondrian"))
    apply_model(model, engine)
    plan = load_plan(find_spec(EXAMPLE / "loaders", "foodmart_sales"), model)
    report = load_file(plan, EXAMPLE / "data" / "sales_fact_1997.parquet", model, engine, None)
    assert report.status == "ok", report
    yield model, engine
    engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


@pytest.fixture(scope="module")
def service(loaded: tuple[Model, Engine]) -> CubeService:
    return CubeService(*loaded)


@pytest.fixture(scope="module")
def client(loaded: tuple[Model, Engine], data_dir: Path) -> Iterator[TestClient]:
    model, engine = loaded
    # FoodMart has 10,281 customers; Mondrian's queries list them all (a level's members in one
    # answer, more than the default page of 10,000).
    settings = Settings(
        model_dir=EXAMPLE / "model", data_dir=data_dir, database=engine.database, max_pagesize=20_000
    )
    with TestClient(create_app(settings, model, engine)) as c:
        yield c


def test_the_corpus_has_thirty_of_mondrians_grids() -> None:
    grids = [c for c in CORPUS if c.get("compare", "grid") == "grid"]
    assert len(grids) >= 30 and len({c["name"] for c in CORPUS}) == len(CORPUS)
    assert {c["source"].split(".")[0] for c in CORPUS} == {"BasicQueryTest", "FunctionTest"}


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_mondrians_result(case: dict[str, Any], service: CubeService, client: TestClient) -> None:
    axes_only = case.get("compare") == "axes"
    printed = read_axis(case["expected"]) if axes_only else read_printed(case["expected"])
    result = execute(service, ANONYMOUS, case["mdx"], lang="en")
    assert not differences(result, printed, axes_only=axes_only)
    r = client.post("/mdx", json={"query": case["mdx"], "lang": "en"})
    assert r.status_code == 200, r.text
    body = r.json()
    ours = result.as_json()
    assert [[m["unique_name"] for t in ax["tuples"] for m in t["members"]] for ax in body["axes"]] == [
        [m["unique_name"] for t in ax["tuples"] for m in t["members"]] for ax in ours["axes"]
    ]
    assert [c["formatted_value"] for c in body["cells"]] == [c.formatted for c in result.cells]


CLI_CASES = [c for c in CORPUS if c.get("cli")]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c["name"] for c in CLI_CASES])
def test_labis_mdx_prints_mondrians_numbers(
    case: dict[str, Any], loaded: tuple[Model, Engine], data_dir: Path
) -> None:
    from typer.testing import CliRunner

    from labis_olap.cli import app

    _, engine = loaded
    out = CliRunner().invoke(
        app,
        ["mdx", case["mdx"], "--lang", "en", "--model", str(EXAMPLE / "model"), "--data-dir", str(data_dir)],
        env={"LABIS_DATABASE": engine.database, "COLUMNS": "300"},
    )
    assert out.exit_code == 0, out.output
    shown = out.output.replace(",", "")
    for text in read_printed(case["expected"]).cells:
        parsed = number(text)
        if parsed is not None and text.strip():
            value, _ = parsed
            whole = str(int(value)) if "%" not in text else None
            assert whole is None or whole in shown, (text, out.output)


# --- the drill functions, VisualTotals and the properties, beyond Mondrian's own tests -------

US = "[Store].[USA]"
DRILLS = [
    # (set expression, the members it gives, Mondrian's way)
    (f"DrillupLevel({{{US}, {US}.[CA], {US}.[CA].[Alameda], {US}.[OR]}}, [Store].[Store Country])", [US]),
    (f"DrillupLevel({{{US}, {US}.[CA], {US}.[CA].[Alameda], {US}.[OR]}})", [US, f"{US}.[CA]", f"{US}.[OR]"]),
    (
        f"DrillupMember({{{US}, {US}.[CA], {US}.[CA].[Alameda], {US}.[OR], {US}.[OR].[Salem]}},"
        f" {{{US}.[CA]}})",
        [US, f"{US}.[CA]", f"{US}.[OR]", f"{US}.[OR].[Salem]"],
    ),
    (f"DrillupMember({{{US}, {US}.[CA], {US}.[CA].[Alameda]}}, {{{US}}})", [US]),
    (
        f"ToggleDrillState({{{US}.[OR]}}, {{{US}.[OR]}}, RECURSIVE)",
        [
            f"{US}.[OR]",
            f"{US}.[OR].[Portland]",
            f"{US}.[OR].[Portland].[Store 11]",
            f"{US}.[OR].[Salem]",
            f"{US}.[OR].[Salem].[Store 13]",
        ],
    ),
    ("DrilldownLevel({[Store].[All Stores]})", ["[Store].[All]", "[Store].[Canada]", "[Store].[Mexico]", US]),
    (
        f"DrilldownMember({{{US}}}, {{{US}, {US}.[OR]}}, RECURSIVE)",
        [
            US,
            f"{US}.[CA]",
            f"{US}.[OR]",
            f"{US}.[OR].[Portland]",
            f"{US}.[OR].[Salem]",
            f"{US}.[WA]",
        ],
    ),
]


@pytest.mark.parametrize(("expr", "members"), DRILLS)
def test_drill_functions(service: CubeService, expr: str, members: list[str]) -> None:
    from mondrian_grid import mondrian_name

    result = execute(service, ANONYMOUS, f"SELECT {{{expr}}} ON 0 FROM [Sales]", lang="en")
    assert [mondrian_name(result, t[0]) for t in result.axes[0].tuples] == members


def test_drilldown_level_includes_calculated_members_only_when_asked(service: CubeService) -> None:
    text = """WITH MEMBER [Store].[USA].[West] AS [Store].[USA].[CA] + [Store].[USA].[OR]
              SELECT {DrilldownLevel({[Store].[USA]}{flag})} ON 0 FROM [Sales]"""
    plain = execute(service, ANONYMOUS, text.replace("{flag}", ""), lang="en")
    calcs = execute(service, ANONYMOUS, text.replace("{flag}", ",,,INCLUDE_CALC_MEMBERS"), lang="en")
    assert [m.caption for (m,) in plain.axes[0].tuples] == ["USA", "CA", "OR", "WA"]
    assert [m.caption for (m,) in calcs.axes[0].tuples] == ["USA", "CA", "OR", "WA", "West"]
    assert calcs.cells[4].value == calcs.cells[1].value + calcs.cells[2].value


def test_visual_totals_and_sub_selects_are_unions(service: CubeService, loaded: tuple[Model, Engine]) -> None:
    """A visual total of distinct customers is the distinct count of the union of what is shown
    under it (the customers of Q1 or Q2, by SQL on the example's files), never the sum."""
    from test_foodmart import by_sql

    (ref,) = by_sql(
        loaded[1],
        "SELECT uniqExact(f.customer_id) AS n FROM FACTS AS f JOIN TIME_BY_DAY AS t ON f.time_id = t.time_id"
        " WHERE toMonth(t.the_date) <= 6",
    )
    visual = execute(
        service,
        ANONYMOUS,
        "SELECT {[Measures].[Customer Count], [Measures].[Unit Sales]} ON 0, "
        "VisualTotals({[Time].[1997], [Time].[1997].[Q1], [Time].[1997].[Q2]}, '* (shown)') ON 1 "
        "FROM [Sales]",
        lang="en",
    )
    assert [m.caption for (m,) in visual.axes[1].tuples] == ["1997 (shown)", "1997-Q1", "1997-Q2"]
    (h1_n, h1_u), (q1_n, q1_u), (q2_n, q2_u) = [
        [c.value for c in visual.cells[i : i + 2]] for i in range(0, 6, 2)
    ]
    assert h1_n == ref["n"] and h1_n < q1_n + q2_n
    assert h1_u == q1_u + q2_u == 66_291 + 62_610  # Mondrian's quarters
    sub = execute(
        service,
        ANONYMOUS,
        "SELECT {[Measures].[Customer Count], [Measures].[Unit Sales]} ON 0, "
        "{[Time].[1997], [Time].[All]} ON 1 "
        "FROM (SELECT {[Time].[1997].[Q1], [Time].[1997].[Q2]} ON 0 FROM [Sales])",
        lang="en",
    )
    assert [c.value for c in sub.cells] == [h1_n, h1_u, h1_n, h1_u]


def test_dimension_and_cell_properties_shape_the_json(client: TestClient) -> None:
    text = (
        "SELECT {[Measures].[Store Sales]} DIMENSION PROPERTIES MEMBER_TYPE ON 0, "
        "{[Store].[All Stores], [Store].[USA]} DIMENSION PROPERTIES PARENT_UNIQUE_NAME,"
        " [Store].[Store Country].[LEVEL_NUMBER], CHILDREN_CARDINALITY, MEMBER_KEY ON 1 FROM [Sales]"
        " CELL PROPERTIES VALUE, FORMAT_STRING, LANGUAGE"
    )
    body = client.post("/mdx", json={"query": text, "lang": "en"}).json()
    rows = [t["members"][0] for t in body["axes"][1]["tuples"]]
    assert rows[1]["properties"] == {
        "PARENT_UNIQUE_NAME": "[store].[default].[All]",
        "LEVEL_NUMBER": 1,
        "CHILDREN_CARDINALITY": 3,  # CA, OR, WA
        "MEMBER_KEY": "USA",
    }
    assert rows[0]["properties"]["PARENT_UNIQUE_NAME"] is None
    assert body["axes"][0]["tuples"][0]["members"][0]["properties"] == {"MEMBER_TYPE": 3}
    assert body["cell_properties"] == ["VALUE", "FORMAT_STRING", "LANGUAGE"]
    assert body["cells"][1] == {
        "ordinal": 1,
        "value": pytest.approx(565238.13),
        "format_string": "#,##0.00",
        "language": 1033,
    }
    plain = client.post("/mdx", json={"query": "SELECT FROM [Sales]"}).json()
    assert set(plain["cells"][0]) == {"ordinal", "value", "formatted_value"}
    assert (
        "properties"
        not in client.post("/mdx", json={"query": "SELECT {[Store].[USA]} ON 0 FROM [Sales]"}).json()["axes"][
            0
        ]["tuples"][0]["members"][0]
    )
    bad = client.post("/mdx", json={"query": "SELECT FROM [Sales] CELL PROPERTIES VALUE, FORMATED_VALUE"})
    assert bad.status_code == 400 and "FORMATTED_VALUE" in bad.json()["hint"]
    attr = client.post(
        "/mdx",
        json={
            "query": "SELECT {[Store].[USA]} DIMENSION PROPERTIES [Store].[Store Name].[Store Type] ON 0 "
            "FROM [Sales]"
        },
    )
    assert attr.status_code in (400, 501) and "Store Type" in attr.json()["message"]
