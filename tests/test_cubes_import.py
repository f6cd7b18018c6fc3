"""Cubes import: the hello_world tutorial model and data through `labis import-cubes`, then the
API must give the tutorial's numbers and Slicer's response shapes (../shared/SLICER_API.md). The facts
are loaded through the loaders, with the loader spec the import writes: checked, with rejects, lineage
and a batch that can be unloaded. The model and data are in tests/fixtures/cubes_hello_world."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import fresh_database, make_engine
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from labis_olap.api import create_app
from labis_olap.cli import app as cli_app
from labis_olap.compiler.apply import apply_model
from labis_olap.engine.base import Engine
from labis_olap.errors import UserError
from labis_olap.importers.cubes import ImportResult, import_cubes, load_facts
from labis_olap.loaders import store
from labis_olap.loaders.run import reject_rows
from labis_olap.model.cuts import Drilldown
from labis_olap.model.reader import read_model
from labis_olap.query.cell import CubeQuery
from labis_olap.service import ANONYMOUS, CubeService
from labis_olap.settings import Settings

HELLO = Path(__file__).resolve().parent / "fixtures" / "cubes_hello_world"
"""The Cubes tutorial's model.json and data.csv (the IBRD balance sheet), copied from
../shared/reference/cubes_hello_world so the tests run in a fresh clone."""

CUBE = "irbd_balance"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("hello_world")
    result = import_cubes(HELLO / "model.json", data=HELLO / "data.csv")
    result.write(out)
    return out, result


@pytest.fixture(scope="module")
def loaded(imported: tuple[Path, Any], data_dir: Path) -> Iterator[tuple[Any, Engine, str]]:
    """The import applied to a fresh database and its facts loaded: (model, engine, batch)."""
    out, result = imported
    model = read_model(ImportResult.model_dir(out))
    engine = make_engine("embedded", data_dir, fresh_database("hello"))
    apply_model(model, engine)
    report = load_facts(result, out, model, engine)[CUBE]
    assert (report.status, report.rows_read, report.rows_accepted, report.rows_rejected) == ("ok", 62, 62, 0)
    yield model, engine, report.batch
    engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


@pytest.fixture(scope="module")
def client(
    imported: tuple[Path, Any], loaded: tuple[Any, Engine, str], data_dir: Path
) -> Iterator[TestClient]:
    out, _ = imported
    model, engine, _ = loaded
    settings = Settings(model_dir=ImportResult.model_dir(out), data_dir=data_dir, database=engine.database)
    with TestClient(create_app(settings, model, engine)) as c:
        yield c


def get(client: TestClient, url: str) -> Any:
    r = client.get(url)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_tutorial_numbers(client: TestClient) -> None:
    agg = f"/cube/{CUBE}/aggregate"
    assert get(client, agg)["summary"] == {"amount_sum": 1_116_860, "record_count": 62}
    assert get(client, agg + "?cut=year:2009")["summary"] == {"amount_sum": 550_840, "record_count": 31}
    assert get(client, agg + "?cut=year:2010")["summary"] == {"amount_sum": 566_020, "record_count": 31}
    by_year = get(client, agg + "?drilldown=year")["cells"]
    assert [(c["year.year"], c["record_count"], c["amount_sum"]) for c in by_year] == [
        (2009, 31, 550_840),
        (2010, 31, 566_020),
    ]
    by_category = get(client, agg + "?drilldown=item")["cells"]
    assert [(c["item.category"], c["record_count"], c["amount_sum"]) for c in by_category] == [
        ("a", 32, 558_430),
        ("e", 8, 77_592),
        ("l", 22, 480_838),
    ]
    assert [c["item.category_label"] for c in by_category] == ["Assets", "Equity", "Liabilities"]


def test_the_drilldown_response_shape(client: TestClient) -> None:
    body = get(client, f"/cube/{CUBE}/aggregate?drilldown=item&cut=item:e")
    assert list(body) == ["summary", "remainder", "cells", "total_cell_count", "aggregates", "cell", "levels",
                          "attributes", "has_split"]  # fmt: skip
    assert body["summary"] == {"amount_sum": 77592, "record_count": 8}
    assert body["remainder"] == {} and body["has_split"] is False
    assert body["cells"][0] == {
        "item.category": "e",
        "item.category_label": "Equity",
        "item.subcategory": "cs",
        "item.subcategory_label": "Capital Stock",
        "amount_sum": 22983,
        "record_count": 2,
    }
    assert body["total_cell_count"] == 4
    assert body["aggregates"] == ["amount_sum", "record_count"]
    assert body["cell"] == [
        {"type": "point", "dimension": "item", "hierarchy": "default", "level_depth": 1, "invert": False,
         "hidden": False, "path": ["e"]}
    ]  # fmt: skip
    assert body["levels"] == {"item": ["category", "subcategory"]}
    assert body["attributes"] == [
        "item.category",
        "item.category_label",
        "item.subcategory",
        "item.subcategory_label",
    ]


def test_subtotals_split_and_formats_on_the_tutorial(client: TestClient) -> None:
    agg = f"/cube/{CUBE}/aggregate"
    body = get(client, agg + "?drilldown=item:subcategory|year&subtotals=rollup")
    by_set = {tuple(s["levels"].get("item", [])): s for s in body["subtotals"]}
    assert set(by_set) == {("category", "subcategory"), ("category",)}
    cats = {c["item.category"]: (c["record_count"], c["amount_sum"]) for c in by_set[("category",)]["cells"]}
    assert cats == {"a": (32, 558_430), "e": (8, 77_592), "l": (22, 480_838)}
    assert body["summary"] == {"amount_sum": 1_116_860, "record_count": 62}
    years = get(client, agg + "?drilldown=item|year&subtotals=cube")["subtotals"]
    by_year = next(s for s in years if s["levels"] == {"year": ["year"]})["cells"]
    assert [(c["year.year"], c["record_count"], c["amount_sum"]) for c in by_year] == [
        (2009, 31, 550_840),
        (2010, 31, 566_020),
    ]
    split = get(client, agg + "?split=year:2009")
    assert split["has_split"] is True
    assert [(c["__within_split__"], c["record_count"], c["amount_sum"]) for c in split["cells"]] == [
        (True, 31, 550_840),
        (False, 31, 566_020),
    ]
    import pyarrow as pa

    arrow = client.get(agg + "?drilldown=item&format=arrow")
    assert arrow.headers["content-type"] == "application/vnd.apache.arrow.file"
    rows = pa.ipc.open_file(pa.BufferReader(arrow.content)).read_all().to_pylist()
    stream = client.get(agg + "?drilldown=item&format=arrows")
    assert stream.headers["content-type"] == "application/vnd.apache.arrow.stream"
    assert pa.ipc.open_stream(stream.content).read_all().to_pylist() == rows
    assert [(r["item.category"], r["record_count"], r["amount_sum"]) for r in rows] == [
        ("a", 32, 558_430),
        ("e", 8, 77_592),
        ("l", 22, 480_838),
    ]


def test_model_members_and_facts(client: TestClient) -> None:
    model = get(client, f"/cube/{CUBE}/model")
    assert [a["name"] for a in model["aggregates"]] == ["amount_sum", "record_count"]
    assert model["aggregates"][0] == {
        "name": "amount_sum", "ref": "amount_sum", "label": "amount_sum", "description": None,
        "function": "sum", "measure": "amount", "expression": None, "info": {},
    }  # fmt: skip
    dims = {d["name"]: d for d in model["dimensions"]}
    assert [lv["name"] for lv in dims["item"]["levels"]] == ["category", "subcategory", "line_item"]
    assert dims["year"]["role"] == "time" and dims["year"]["levels"][0]["role"] == "year"
    members = get(client, f"/cube/{CUBE}/members/item?depth=1")
    assert members == {
        "dimension": "item",
        "hierarchy": "default",
        "depth": 1,
        "data": [
            {"item.category": "a", "item.category_label": "Assets"},
            {"item.category": "e", "item.category_label": "Equity"},
            {"item.category": "l", "item.category_label": "Liabilities"},
        ],
    }
    facts = get(client, f"/cube/{CUBE}/facts?cut=item:e&order=amount:desc")
    assert len(facts) == 8 and facts[0]["amount"] == max(f["amount"] for f in facts)
    assert facts[0]["category"] == "e" and set(facts[0]) >= {"__fact_key__", "line_item", "year", "amount"}
    assert get(client, f"/cube/{CUBE}/fact/{facts[0]['__fact_key__']}") == facts[0]


def test_keys_that_recur_under_other_parents_get_their_path(
    client: TestClient, imported: tuple[Path, Any]
) -> None:
    """'da' is Derivative Assets under a and Deferred Amounts under e; 'Investments' is a line
    item under a/da and l/dl: one LabIS member each, named by their path."""
    out, result = imported
    text = (out / "model" / "dimensions" / "item.yaml").read_text(encoding="utf-8")
    assert "subcategory: da" in text and "line_item: Borrowings, Investments, Other" in text
    cells = get(client, f"/cube/{CUBE}/aggregate?drilldown=item:subcategory&cut=item:a")["cells"]
    labels = {c["item.subcategory"]: c["item.subcategory_label"] for c in cells}
    assert labels["a/da"] == "Derivative Assets" and labels["dfb"] == "Due from Banks"
    lines = get(client, f"/cube/{CUBE}/aggregate?drilldown=item:line_item&cut=item:l,dl")["cells"]
    assert {c["item.line_item_label"] for c in lines} >= {"Investments", "Borrowings", "Other"}
    assert sum(c["record_count"] for c in lines) == 8
    assert any("double_amount_sum" in w for w in result.warnings)


def test_a_model_without_aggregates_gets_cubes_defaults(tmp_path: Path, embedded: Engine) -> None:
    spec = {
        "dimensions": [
            {"name": "date", "role": "time", "levels": [{"name": "year"}, {"name": "month"}]},
            {
                "name": "shop",
                "levels": [{"name": "city"}, {"name": "shop", "attributes": ["shop", "shop_name"]}],
            },
        ],
        "cubes": [{"name": "Sales", "dimensions": ["date", "shop"], "measures": [{"name": "amount"}]}],
    }
    data = tmp_path / "sales.csv"
    rows = [
        ["year", "month", "city", "shop", "shop_name", "amount"],
        ["2024", "1", "riga", "s1", "Shop One", "10.5"],
        ["2024", "2", "riga", "s2", "Shop Two", "4"],
        ["2025", "3", "cesis", "s3", "Shop Three", "1"],
    ]
    with data.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    result = import_cubes(spec, data=data)
    assert result.cubes == ["sales"] and any("'Sales' is named 'sales'" in w for w in result.warnings)
    out = tmp_path / "model"
    result.write(out)
    model = read_model(out / "model")
    cube = model.cubes["sales"]
    assert [m.name for m in cube.measures] == ["amount_sum", "record_count"]
    assert {c.name: c.type.value for c in cube.columns}["date_date"] == "date"
    apply_model(model, embedded)
    assert load_facts(result, out, model, embedded)["sales"].rows_accepted == 3
    res = CubeService(model, embedded).aggregate(
        CubeQuery("sales", (), (), (Drilldown("date", None, "month"), Drilldown("shop", None, "city"))),
        ANONYMOUS,
    )
    assert [
        (r["date.year"], r["date.month"], r["shop.city"], r["amount_sum"]) for r in res.cells.to_pylist()
    ] == [
        (2024, 1, "riga", 10.5),
        (2024, 2, "riga", 4.0),
        (2025, 3, "cesis", 1.0),
    ]


# --- the load goes through the loaders ------------------------------------------------------


def test_the_import_writes_a_loader_spec(imported: tuple[Path, Any], loaded: tuple[Any, Engine, str]) -> None:
    from ruamel.yaml import YAML

    from labis_olap.loaders.spec import check_all

    out, result = imported
    model, _, _ = loaded
    assert result.loader_specs == {CUBE: "loaders/irbd_balance.yaml"}
    assert result.facts_files == {CUBE: "data/irbd_balance.csv"}
    spec = YAML(typ="safe").load((out / "loaders" / "irbd_balance.yaml").read_text(encoding="utf-8"))
    assert (spec["source"], spec["cube"], spec["kind"], spec["max_reject_share"]) == (CUBE, CUBE, "csv", 0.0)
    assert [(c["to"], c["from"]) for c in spec["columns"]] == [
        (c.name, c.name) for c in model.cubes[CUBE].columns
    ]
    plans, diags = check_all(out / "loaders", model)  # what `labis loaders` checks
    assert not diags and list(plans) == [CUBE]
    assert not plans[CUBE].personal_columns  # so no pseudonymisation key is needed
    assert plans[CUBE].column("item_key").members is not None  # keys are checked against the members


def test_the_load_is_a_batch_in_lineage(
    loaded: tuple[Any, Engine, str], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, engine, batch = loaded
    rows = store.latest(engine, source=CUBE)
    assert [
        (
            r["batch"],
            r["cube"],
            r["file_name"],
            r["status"],
            r["rows_read"],
            r["rows_accepted"],
            r["rows_rejected"],
        )
        for r in rows
    ] == [(batch, CUBE, "irbd_balance.csv", "ok", 62, 62, 0)]
    monkeypatch.setenv("LABIS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("LABIS_DATABASE", engine.database)
    monkeypatch.delenv("LABIS_CLICKHOUSE_URL", raising=False)
    shown = CliRunner().invoke(cli_app, ["loads", "--source", CUBE])
    assert shown.exit_code == 0, shown.output
    assert batch in shown.output and "irbd_balance.csv" in shown.output and "1 batch(es)" in shown.output


def test_loading_the_same_import_again_does_not_double_the_facts(
    loaded: tuple[Any, Engine, str], tmp_path: Path
) -> None:
    model, engine, batch = loaded
    again = import_cubes(HELLO / "model.json", data=HELLO / "data.csv")
    again.write(tmp_path)
    report = load_facts(again, tmp_path, read_model(tmp_path / "model"), engine)[CUBE]
    assert (report.status, report.batch) == ("skipped", batch)
    summary = CubeService(model, engine).aggregate(CubeQuery(CUBE), ANONYMOUS).summary
    assert summary == {"amount_sum": 1_116_860, "record_count": 62}
    assert [r["batch"] for r in store.latest(engine, source=CUBE)] == [batch]


def test_a_row_that_fails_a_check_is_rejected_not_loaded(tmp_path: Path, embedded: Engine) -> None:
    with (HELLO / "data.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    lost = int(rows[2][6]) + int(rows[5][6])
    rows[2][6] = ""  # no amount
    rows[5][5] = "1900"  # 1900-01-01: ClickHouse dates start in 1970
    broken = tmp_path / "data.csv"
    with broken.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    out = tmp_path / "imported"

    strict = import_cubes(HELLO / "model.json", data=broken)  # max_reject_share 0: the file is refused
    strict.write(out)
    model = read_model(out / "model")
    report = load_facts(strict, out, model, embedded)[CUBE]
    assert (report.status, report.rows_read, report.rows_rejected) == ("rejected", 62, 2)
    assert store.latest(embedded, batch=report.batch)[0]["status"] == "rejected"
    assert CubeService(model, embedded).aggregate(CubeQuery(CUBE), ANONYMOUS).summary["record_count"] == 0
    rejected = [
        (r["column"], r["value"], r["reason"]) for r in reject_rows(embedded, report.batch).to_pylist()
    ]
    assert [(c, v) for c, v, _ in rejected] == [("amount", ""), ("year", "1900-01-01")]
    assert "not an integer" in rejected[0][2] and "outside the storable dates" in rejected[1][2]

    lenient = import_cubes(HELLO / "model.json", data=broken, max_reject_share=0.05)
    lenient.write(out)
    report = load_facts(lenient, out, read_model(out / "model"), embedded)[CUBE]
    assert (report.status, report.rows_accepted, report.rows_rejected) == ("ok", 60, 2)
    summary = CubeService(model, embedded).aggregate(CubeQuery(CUBE), ANONYMOUS).summary
    assert summary == {"amount_sum": 1_116_860 - lost, "record_count": 60}
    assert len(reject_rows(embedded, report.batch).to_pylist()) == 2


def test_import_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="'cubes'"):
        import_cubes({"dimensions": []})
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(UserError, match="cannot read"):
        import_cubes(bad)
    short = tmp_path / "short.csv"
    short.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(UserError, match="no column"):
        import_cubes(HELLO / "model.json", data=short)


# --- the commands ----------------------------------------------------------------------------


def test_import_cubes_command_loads_the_data(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = fresh_database("cli_hello")
    monkeypatch.setenv("LABIS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("LABIS_DATABASE", database)  # for `labis unload`
    monkeypatch.delenv("LABIS_CLICKHOUSE_URL", raising=False)
    monkeypatch.delenv("LABIS_PSEUDONYM_KEY", raising=False)  # the import has no person columns
    monkeypatch.delenv("LABIS_PSEUDONYM_KEY_FILE", raising=False)
    out = tmp_path / "imported"
    args = [
        "import-cubes",
        str(HELLO / "model.json"),
        "--out",
        str(out),
        "--data",
        str(HELLO / "data.csv"),
        "--load",
        "--database",
        database,
    ]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert "loaded 62 facts into irbd_balance" in result.output
    assert "double_amount_sum" in result.output  # the warning
    assert "→ batch" in result.output and "62 accepted, 0 rejected" in result.output
    engine = make_engine("embedded", data_dir, database)
    try:
        summary = CubeService(read_model(out / "model"), engine).aggregate(CubeQuery(CUBE), ANONYMOUS).summary
        assert summary == {"amount_sum": 1_116_860, "record_count": 62}
        again = CliRunner().invoke(cli_app, args)  # the same import and load: nothing to do
        assert again.exit_code == 0, again.output
        assert "already loaded" in again.output and "loaded 62 facts" not in again.output
        summary = CubeService(read_model(out / "model"), engine).aggregate(CubeQuery(CUBE), ANONYMOUS).summary
        assert summary == {"amount_sum": 1_116_860, "record_count": 62}
        [batch] = [r["batch"] for r in store.latest(engine, source=CUBE)]
        unloaded = CliRunner().invoke(cli_app, ["unload", batch, "--model", str(out / "model")])
        assert unloaded.exit_code == 0, unloaded.output
        assert f"unloaded batch {batch} (62 rows of irbd_balance.csv)" in unloaded.output
        summary = CubeService(read_model(out / "model"), engine).aggregate(CubeQuery(CUBE), ANONYMOUS).summary
        assert summary["record_count"] == 0
    finally:
        engine.execute(f"DROP DATABASE IF EXISTS `{database}`")
    failed = CliRunner().invoke(cli_app, ["import-cubes", str(tmp_path / "missing.json"), "--out", str(out)])
    assert failed.exit_code == 1 and "cannot read" in failed.output


def test_openapi_and_serve_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "openapi.json"
    result = CliRunner().invoke(cli_app, ["openapi", "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["info"]["title"] == "LabIS OLAP"

    import uvicorn

    seen: dict[str, Any] = {}

    def fake_run(app: Any, **kw: Any) -> None:
        seen.update(kw, app=app)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    result = CliRunner().invoke(cli_app, ["serve", "--port", "8123", "--threads", "3"])
    assert result.exit_code == 0, result.output
    assert seen["port"] == 8123 and seen["host"] == "127.0.0.1" and seen["workers"] == 1
    assert seen["app"].state.labis.settings.threads == 3


def test_cubes_paths_name_members_within_their_parent(client: TestClient) -> None:
    """'da' is a subcategory of both a (Derivative Assets) and e (Deferred Amounts): the import
    keys them a/da and e/da, and a Cubes path names them as Cubes does (numbers: the 8 rows of
    a,da in data.csv, 13249 + 18467 + 17633 + 19559 + 87457 + 82793 + 3287 + 2246)."""
    agg = f"/cube/{CUBE}/aggregate"
    assert get(client, agg + "?cut=item:a,da")["summary"] == {"amount_sum": 244_691, "record_count": 8}
    assert get(client, agg + "?cut=item:e,da")["summary"] == {"amount_sum": 313 + 359, "record_count": 2}
    # All but a,da,Other (3287 + 2246 in 2010 and 2009).
    assert get(client, agg + "?cut=!item:a,da,Other")["summary"] == {
        "amount_sum": 1_116_860 - 3287 - 2246,
        "record_count": 60,
    }
    cells = get(client, agg + "?cut=item:a,da&drilldown=item")["cells"]
    assert sorted((c["item.line_item_label"], c["record_count"]) for c in cells) == [
        ("Borrowings", 2), ("Client operations", 2), ("Investments", 2), ("Other", 2)
    ]  # fmt: skip


def test_a_one_level_dimension_drills_at_its_level(client: TestClient) -> None:
    body = get(client, f"/cube/{CUBE}/aggregate?cut=year:2009&drilldown=year")
    assert [(c["year.year"], c["record_count"], c["amount_sum"]) for c in body["cells"]] == [
        (2009, 31, 550_840)
    ]


def test_unknown_members_and_short_paths_are_400s(client: TestClient) -> None:
    r = client.get(f"/cube/{CUBE}/aggregate?cut=item:da")
    assert r.status_code == 400, r.text
    body = r.json()
    assert "'da' is a member of level 'subcategory'" in body["message"], body
    assert "item:a,da" in str(body), body
    r = client.get(f"/cube/{CUBE}/aggregate?cut=item:x")
    assert r.status_code == 400 and "no member 'x'" in r.json()["message"], r.text
