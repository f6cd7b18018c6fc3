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
