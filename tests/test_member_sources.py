"""Dimension members fed by loads (issue 16, item 2) and a time dimension keyed yyyymmdd (item 5).

A small shop: products (category → product, with a colour attribute) whose classifier is a
loader source, and sales whose day is an integer 20240115. Successive snapshots of the
classifier become validity ranges; answers as at each fact's date and `as_of` are checked
against SQL written by hand over the same CSV files and the ranges the snapshots imply."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import fresh_database, make_engine
from fastapi.testclient import TestClient

from labis_olap.api import create_app
from labis_olap.compiler.apply import apply_model
from labis_olap.compiler.members import attach_loaded_members
from labis_olap.engine.base import Engine
from labis_olap.loaders.members import load_members
from labis_olap.loaders.run import load_file, unload_batch
from labis_olap.loaders.spec import find_spec, load_plan
from labis_olap.loaders.store import ensure_tables, latest
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.settings import Settings

FILES = {
    "model/dimensions/product.yaml": """
dimension: product
levels:
  - {name: category}
  - name: product
    key: product_id
    label_column: {lv: name, en: name}
    attributes: [colour]
members: {source: products, fact_key: product_id}
""",
    "model/dimensions/time.yaml": """
dimension: time
role: time
levels:
  - {name: year, role: year}
  - {name: month, role: month}
date_key: {format: yyyymmdd}
""",
    "model/dimensions/week.yaml": """
dimension: week
levels:
  - {name: iso_year}
  - {name: iso_week}
members: {calendar: {from: 2024-01-01, to: 2024-12-31}, fact_key: date}
""",
    "model/dimensions/weekday.yaml": """
dimension: weekday
levels:
  - {name: weekday, label_column: {lv: weekday_lv, en: weekday_en}}
members: {calendar: {from: 2024-01-01, to: 2024-12-31}, fact_key: date}
""",
    "model/cubes/sales.yaml": """
cube: sales
columns:
  - {name: day, type: date}
  - {name: product_id, type: string}
  - {name: amount, type: int}
dimensions:
  - {dimension: time, column: day}
  - {dimension: product, column: product_id}
  - {dimension: week, column: day}
  - {dimension: weekday, column: day}
measures:
  - {name: amount, function: sum, column: amount}
rollups:
  - {name: by_category, grain: {product: category, time: month}}
""",
    "loaders/products.yaml": """
source: products
dimension: product
kind: csv
columns:
  - {to: product_id, from: id}
  - {to: category, from: cat}
  - {to: name, from: name}
  - {to: colour, from: colour}
""",
    "loaders/sales.yaml": """
source: sales
cube: sales
kind: csv
columns:
  - {to: day, from: day}
  - {to: product_id, from: product}
  - {to: amount, from: amount}
""",
    "data/products_1.csv": "id,cat,name,colour\np1,A,Apple,red\np2,A,Apricot,orange\np3,B,Bean,green\n",
    "data/products_2.csv": "id,cat,name,colour\np1,B,Apple,red\np2,A,Apricot,yellow\np3,B,Bean,green\n",
    "data/products_dup.csv": "id,cat,name,colour\np1,A,Apple,red\np1,B,Apple,red\n",
    "data/products_empty_key.csv": "id,cat,name,colour\np1,,Apple,red\n",
    "data/sales.csv": "day,product,amount\n20240115,p1,10\n20240715,p1,5\n20240301,p2,7\n20240801,p3,1\n",
    "data/sales_bad_day.csv": "day,product,amount\n2024071,p1,5\n",
}
AGG = "/cube/sales/aggregate"


def write_files(root: Path, files: dict[str, str]) -> None:
    """A shop's model, loader specs and data files under `root`."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text.lstrip(), encoding="utf-8")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[tuple[Path, Model, Engine]]:
    root = tmp_path_factory.mktemp("shop")
    write_files(root, FILES)
    model = read_model(root / "model")
    engine = make_engine("embedded", data_dir, fresh_database("members"))
    apply_model(model, engine)
    yield root, model, engine
    engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


def plan_of(root: Path, model: Model, source: str, engine: Engine | None = None) -> Any:
    """A source's plan; a facts plan checks keys against the members loaded (`engine`)."""
    current = attach_loaded_members(model, engine) if engine is not None else model
    return load_plan(find_spec(root / "loaders", source), current)


def cells(root: Path, model: Model, engine: Engine, url: str) -> dict[str, int]:
    settings = Settings(model_dir=root / "model", data_dir=Path("/nonexistent"), database=engine.database)
    with TestClient(create_app(settings, read_model(root / "model"), engine)) as c:
        r = c.get(url)
    assert r.status_code == 200, r.text
    return {str(x["product.category"]): x["amount"] for x in r.json()["cells"]}


def by_hand(
    engine: Engine, root: Path, snapshots: list[tuple[str, dt.date]], as_of: dt.date | None
) -> dict[str, int]:
    """Amount per category by a hand-written join of the sales CSV to the snapshots' CSVs, each
    snapshot valid from its day until the next one's (as at each sale's day, or at `as_of`)."""
    parts = []
    for i, (name, start) in enumerate(snapshots):
        end = snapshots[i + 1][1] - dt.timedelta(days=1) if i + 1 < len(snapshots) else dt.date(2149, 6, 6)
        first = dt.date(1970, 1, 1) if i == 0 else start
        parts.append(
            f"SELECT id, cat, toDate('{first}') AS f, toDate('{end}') AS t "
            f"FROM file('{root / 'data' / name}', CSVWithNames)"
        )
    on = (
        "p.f <= s.d AND s.d <= p.t"
        if as_of is None
        else f"p.f <= toDate('{as_of}') AND toDate('{as_of}') <= p.t"
    )
    sql = (
        "SELECT p.cat AS cat, sum(s.amount) AS a FROM"
        " (SELECT parseDateTimeBestEffort(toString(day))::Date AS d,"
        f" product, amount FROM file('{root / 'data' / 'sales.csv'}', CSVWithNames)) AS s"
        f" JOIN ({' UNION ALL '.join(parts)}) AS p ON s.product = p.id WHERE {on} GROUP BY cat ORDER BY cat"
    )
    return {r["cat"]: r["a"] for r in engine.query(sql).to_pylist()}


def test_snapshots_become_validity_ranges(shop: tuple[Path, Model, Engine]) -> None:
    root, model, engine = shop
    products = plan_of(root, model, "products")
    first = load_members(
        products, root / "data" / "products_1.csv", model, engine, effective=dt.date(2024, 1, 1)
    )
    assert (first.status, first.rows_accepted) == ("ok", 3), first.message
    report = load_file(
        plan_of(root, model, "sales", engine), root / "data" / "sales.csv", model, engine, None
    )
    assert (report.status, report.rows_accepted) == ("ok", 4), report.message
    one = [("products_1.csv", dt.date(2024, 1, 1))]
    assert (
        cells(root, model, engine, AGG + "?drilldown=product")
        == by_hand(engine, root, one, None)
        == {"A": 22, "B": 1}
    )

    # p1 moves from A to B on 1 July: its January sale stays in A, its July sale is B's.
    second = load_members(
        products, root / "data" / "products_2.csv", model, engine, effective=dt.date(2024, 7, 1)
    )
    assert second.status == "ok", second.message
    two = [*one, ("products_2.csv", dt.date(2024, 7, 1))]
    at_fact = cells(root, model, engine, AGG + "?drilldown=product")
    settings = Settings(model_dir=root / "model", data_dir=Path("/nonexistent"), database=engine.database)
    with TestClient(create_app(settings, read_model(root / "model"), engine)) as c:
        explained = c.get(AGG + "?drilldown=product&explain=1").json()["explain"]
    assert explained["source"] == "by_category"  # rebuilt from the facts under the new members
    assert at_fact == by_hand(engine, root, two, None) == {"A": 17, "B": 6}
    now = cells(root, model, engine, AGG + "?drilldown=product&as_of=2024-08-01")
    assert now == by_hand(engine, root, two, dt.date(2024, 8, 1)) == {"A": 7, "B": 16}
    january = cells(root, model, engine, AGG + "?drilldown=product&as_of=2024-01-31")
    assert january == by_hand(engine, root, two, dt.date(2024, 1, 31)) == {"A": 22, "B": 1}

    # The lineage lists member loads like fact loads.
    loads = {r["batch"]: r for r in latest(engine, source="products")}
    assert {r["cube"] for r in loads.values()} == {"members:product"}
    assert {r["status"] for r in loads.values()} == {"ok"} and len(loads) == 2

    # The attribute comes with the member, from its newest version.
    settings = Settings(model_dir=root / "model", data_dir=Path("/nonexistent"), database=engine.database)
    with TestClient(create_app(settings, read_model(root / "model"), engine)) as c:
        leaf = c.get(AGG + "?drilldown=product:product&cut=product:A").json()
        members = c.get("/cube/sales/members/product?depth=2").json()["data"]
    assert {x["product.product"]: x["product.colour"] for x in leaf["cells"]} == {"p2": "yellow", "p1": "red"}
    colours = {m["product.product"]: m["product.colour"] for m in members}
    assert (colours["p2"], colours["p3"]) == ("yellow", "green")

    # Nothing partial: a duplicate key fails the load, an empty key rejects it; members stay.
    dup = load_members(
        products, root / "data" / "products_dup.csv", model, engine, effective=dt.date(2024, 9, 1)
    )
    assert dup.status == "failed" and "duplicate member key" in dup.message
    empty = load_members(
        products, root / "data" / "products_empty_key.csv", model, engine, effective=dt.date(2024, 9, 1)
    )
    assert (empty.status, empty.rows_rejected) == ("rejected", 1)
    assert cells(root, model, engine, AGG + "?drilldown=product") == {"A": 17, "B": 6}

    # Unload: only the current members, and then the snapshot before is current again.
    with pytest.raises(Exception, match="not the current members"):
        unload_batch(engine, model, first.batch)
    unload_batch(engine, model, second.batch)
    assert cells(root, model, engine, AGG + "?drilldown=product") == {"A": 22, "B": 1}


def test_a_yyyymmdd_day_is_a_date_and_a_short_one_a_reject(shop: tuple[Path, Model, Engine]) -> None:
    root, model, engine = shop
    bad = load_file(
        plan_of(root, model, "sales", engine), root / "data" / "sales_bad_day.csv", model, engine, None
    )
    assert (bad.status, bad.rows_rejected) == ("rejected", 1)
    assert {reason for (_, reason) in bad.reasons} == {"does not match [0-9]{8}"}
    settings = Settings(model_dir=root / "model", data_dir=Path("/nonexistent"), database=engine.database)
    with TestClient(create_app(settings, read_model(root / "model"), engine)) as c:
        months = c.get(AGG + "?drilldown=time:month").json()["cells"]
    assert {(x["time.year"], x["time.month"]): x["amount"] for x in months} == {
        (2024, 1): 10, (2024, 3): 7, (2024, 7): 5, (2024, 8): 1
    }  # fmt: skip


def test_validity_from_the_source_columns(tmp_path: Path, data_dir: Path) -> None:
    """A classifier that keeps its own history: the spec names the validity columns, and the
    rows' ranges answer as they say (p1 in A until June, in B from July)."""
    files = {
        **FILES,
        "loaders/products.yaml": FILES["loaders/products.yaml"]
        + "  - {to: valid_from, from: start}\n  - {to: valid_to, from: end}\n"
        + "valid_from: valid_from\nvalid_to: valid_to\n",
        "data/products_ranges.csv": "id,cat,name,colour,start,end\n"
        "p1,A,Apple,red,2000-01-01,2024-06-30\np1,B,Apple,red,2024-07-01,\n"
        "p2,A,Apricot,orange,2000-01-01,\np3,B,Bean,green,2000-01-01,\n",
        "data/products_overlap.csv": "id,cat,name,colour,start,end\n"
        "p1,A,Apple,red,2000-01-01,2024-07-31\np1,B,Apple,red,2024-07-01,\n",
    }
    root = tmp_path
    write_files(root, files)
    model = read_model(root / "model")
    engine = make_engine("embedded", data_dir, fresh_database("ranges"))
    try:
        apply_model(model, engine)
        products = plan_of(root, model, "products")
        overlap = load_members(products, root / "data" / "products_overlap.csv", model, engine)
        assert overlap.status == "failed" and "overlapping validity" in overlap.message
        ranges = load_members(products, root / "data" / "products_ranges.csv", model, engine)
        assert (ranges.status, ranges.rows_accepted) == ("ok", 4), ranges.message
        facts = plan_of(root, model, "sales", engine)
        sales = load_file(facts, root / "data" / "sales.csv", model, engine, None)
        assert sales.status == "ok", sales.message
        assert cells(root, model, engine, AGG + "?drilldown=product") == {"A": 17, "B": 6}
        assert cells(root, model, engine, AGG + "?drilldown=product&as_of=2024-03-01") == {"A": 22, "B": 1}
    finally:
        engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


def test_iso_weeks_and_weekdays_from_a_calendar(shop: tuple[Path, Model, Engine]) -> None:
    """Calendar members (one per day) give the ISO week and the weekday of each fact's date,
    as ClickHouse's toISOWeek and dateName say over the same CSV (the sales are loaded by the
    first test, or here when it is run alone)."""
    root, model, engine = shop
    ensure_tables(engine)
    if not latest(engine, source="sales"):
        products = plan_of(root, model, "products")
        load_members(products, root / "data" / "products_1.csv", model, engine, effective=dt.date(2024, 1, 1))
        load_file(plan_of(root, model, "sales", engine), root / "data" / "sales.csv", model, engine, None)
    settings = Settings(model_dir=root / "model", data_dir=Path("/nonexistent"), database=engine.database)
    with TestClient(create_app(settings, read_model(root / "model"), engine)) as c:
        weeks = c.get(AGG + "?drilldown=week:iso_week").json()["cells"]
        days = c.get(AGG + "?drilldown=weekday&lang=en").json()["cells"]
        one = c.get(AGG + "?cut=week:2024,3").json()["summary"]
    sales = f"file('{root / 'data' / 'sales.csv'}', CSVWithNames)"
    day = "parseDateTimeBestEffort(toString(day))::Date"
    ref_weeks = engine.query(
        f"SELECT toString(toISOWeek({day})) AS w, sum(amount) AS a FROM {sales} GROUP BY w"
    ).to_pylist()
    ref_days = engine.query(
        f"SELECT dateName('weekday', {day}) AS d, sum(amount) AS a FROM {sales} GROUP BY d"
    ).to_pylist()
    assert {x["week.iso_week"]: x["amount"] for x in weeks} == {r["w"]: r["a"] for r in ref_weeks}
    assert {x["weekday.weekday_label"]: x["amount"] for x in days} == {r["d"]: r["a"] for r in ref_days}
    assert one["amount"] == 10  # 2024-01-15 is in ISO week 3


def test_a_parquet_classifier_and_a_source_not_feeding_the_dimension(tmp_path: Path, data_dir: Path) -> None:
    """Member sources read any file kind (here Parquet, integers as their text); a spec naming
    a dimension whose members do not come from it is refused, located."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from labis_olap.loaders.spec import SpecError

    files = {
        **FILES,
        "loaders/products.yaml": FILES["loaders/products.yaml"].replace("kind: csv", "kind: parquet"),
        "loaders/stray.yaml": FILES["loaders/products.yaml"].replace("source: products", "source: stray"),
    }
    write_files(tmp_path, files)
    table = pa.table(
        {"id": [1, 2], "cat": ["A", "B"], "name": ["One", "Two"], "colour": [None, "blue"]},
    )
    pq.write_table(table, tmp_path / "data" / "products.parquet")
    model = read_model(tmp_path / "model")
    with pytest.raises(SpecError) as info:
        plan_of(tmp_path, model, "stray")
    assert "error[L102]" in info.value.rendered and "stray.yaml:2:12" in info.value.rendered, (
        info.value.rendered
    )
    engine = make_engine("embedded", data_dir, fresh_database("pq"))
    try:
        apply_model(model, engine)
        report = load_members(
            plan_of(tmp_path, model, "products"), tmp_path / "data" / "products.parquet", model, engine
        )
        assert (report.status, report.rows_accepted) == ("ok", 2), report.message
        attached = attach_loaded_members(model, engine)
        assert [(r["product_id"], r["category"], r["colour"]) for r in attached.members["product"]] == [
            ("1", "A", None), ("2", "B", "blue")
        ]  # fmt: skip
    finally:
        engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


def test_a_classifier_read_from_a_database(tmp_path: Path, data_dir: Path) -> None:
    """A member source of kind sql (here SQLite through SQLAlchemy, as the facts' sql sources):
    each load reads the whole table as a snapshot; a changed table makes a new version, an
    unchanged one is skipped, and a watermark (which reads increments) is refused."""
    import sqlite3

    from labis_olap.errors import UserError
    from labis_olap.loaders.run import load_source

    db = tmp_path / "classifier.sqlite"
    spec = (
        "source: products\ndimension: product\nkind: sql\n"
        f"sql:\n  url: sqlite:///{db}\n  query: SELECT id, cat, name, colour FROM products ORDER BY id\n"
        "columns:\n  - {to: product_id, from: id}\n  - {to: category, from: cat}\n"
        "  - {to: name, from: name}\n  - {to: colour, from: colour}\n"
    )
    root = tmp_path / "shop"
    write_files(root, {**FILES, "loaders/products.yaml": spec})
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE products (id TEXT, cat TEXT, name TEXT, colour TEXT)")
        rows = [("p1", "A", "Apple", "red"), ("p2", "A", "Apricot", "orange"), ("p3", "B", "Bean", "green")]
        con.executemany("INSERT INTO products VALUES (?, ?, ?, ?)", rows)
    model = read_model(root / "model")
    engine = make_engine("embedded", data_dir, fresh_database("sqlmembers"))
    try:
        apply_model(model, engine)
        first = load_source(plan_of(root, model, "products"), model, engine, None)
        assert (first.status, first.rows_accepted) == ("ok", 3), first.message
        assert first.file.startswith("sqlite:///") and "members:product" in {
            r["cube"] for r in latest(engine, source="products")
        }
        sales = load_file(
            plan_of(root, model, "sales", engine), root / "data" / "sales.csv", model, engine, None
        )
        assert sales.status == "ok", sales.message
        assert cells(root, model, engine, AGG + "?drilldown=product") == {"A": 22, "B": 1}
        again = load_source(plan_of(root, model, "products"), model, engine, None)
        assert again.status == "skipped", again.message  # the same classifier: no new version
        with sqlite3.connect(db) as con:  # p3 moves to A in the source system
            con.execute("UPDATE products SET cat = 'A' WHERE id = 'p3'")
        moved = load_source(plan_of(root, model, "products"), model, engine, None)
        assert moved.status == "ok", moved.message
        assert cells(root, model, engine, AGG + "?drilldown=product&as_of=now") == {"A": 23}
        watermarked = root / "loaders" / "products.yaml"
        watermarked.write_text(spec.replace("ORDER BY id\n", "ORDER BY id\n  watermark: id\n"))
        with pytest.raises(UserError, match="a member source is read whole"):
            load_source(plan_of(root, model, "products"), model, engine, None)
    finally:
        engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


def test_a_loaded_classifier_joined_to_a_table_beside_the_model(tmp_path: Path, data_dir: Path) -> None:
    """A snowflake over a member source: the loaded rows carry a class id, the category comes
    from a table beside the model (`members.join`), joined at each load; a member whose class
    the table lacks fails the load (E132, nothing kept), and the spec cannot give the joined
    columns itself (they are not the source's)."""
    files = {
        **FILES,
        "model/dimensions/product.yaml": FILES["model/dimensions/product.yaml"].replace(
            "members: {source: products, fact_key: product_id}",
            "members:\n  source: products\n  fact_key: product_id\n"
            "  join: [{file: ../tables/product_class.csv, on: class_id}]",
        ),
        "model/tables/product_class.csv": "class_id,category\nc1,A\nc2,B\n",
        "loaders/products.yaml": "source: products\ndimension: product\nkind: csv\ncolumns:\n"
        "  - {to: product_id, from: id}\n  - {to: class_id, from: class}\n"
        "  - {to: name, from: name}\n  - {to: colour, from: colour}\n",
        "data/products_classes.csv": "id,class,name,colour\n"
        "p1,c1,Apple,red\np2,c1,Apricot,orange\np3,c2,Bean,green\n",
        "data/products_lost.csv": "id,class,name,colour\np1,c9,Apple,red\n",
    }
    root = tmp_path
    write_files(root, files)
    model = read_model(root / "model")
    engine = make_engine("embedded", data_dir, fresh_database("joinmembers"))
    try:
        apply_model(model, engine)
        products = plan_of(root, model, "products")
        assert "category" not in {c.name for c in products.cube.columns}  # the table's to give
        loaded = load_members(products, root / "data" / "products_classes.csv", model, engine)
        assert (loaded.status, loaded.rows_accepted) == ("ok", 3), loaded.message
        sales = load_file(
            plan_of(root, model, "sales", engine), root / "data" / "sales.csv", model, engine, None
        )
        assert sales.status == "ok", sales.message
        one = [("products_1.csv", dt.date(2024, 1, 1))]  # the same categories, written flat
        (root / "data" / "products_1.csv").write_text(FILES["data/products_1.csv"].lstrip())
        assert cells(root, model, engine, AGG + "?drilldown=product") == by_hand(engine, root, one, None)
        lost = load_members(products, root / "data" / "products_lost.csv", model, engine)
        assert lost.status == "failed" and "E132" in lost.message and "has no row in" in lost.message
        assert cells(root, model, engine, AGG + "?drilldown=product") == {"A": 22, "B": 1}
    finally:
        engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


def test_a_classifier_read_from_a_web_service(tmp_path: Path, data_dir: Path) -> None:
    """A member source of kind http (a JSON API on loopback, as the facts' http sources read):
    the whole classifier at each load; unchanged, it is skipped."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from labis_olap.loaders.run import load_source

    records = [
        {"id": "p1", "cat": "A", "name": "Apple", "colour": "red"},
        {"id": "p2", "cat": "A", "name": "Apricot", "colour": "orange"},
        {"id": "p3", "cat": "B", "name": "Bean", "colour": "green"},
    ]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            data = json.dumps({"data": records}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    spec = (
        "source: products\ndimension: product\nkind: http\n"
        f"http:\n  url: http://127.0.0.1:{server.server_address[1]}/v1/products\n  records: data\n"
        "columns:\n  - {to: product_id, from: id}\n  - {to: category, from: cat}\n"
        "  - {to: name, from: name}\n  - {to: colour, from: colour}\n"
    )
    root = tmp_path / "shop"
    write_files(root, {**FILES, "loaders/products.yaml": spec})
    model = read_model(root / "model")
    engine = make_engine("embedded", data_dir, fresh_database("httpmembers"))
    try:
        apply_model(model, engine)
        first = load_source(plan_of(root, model, "products"), model, engine, None)
        assert (first.status, first.rows_accepted) == ("ok", 3), first.message
        sales = load_file(
            plan_of(root, model, "sales", engine), root / "data" / "sales.csv", model, engine, None
        )
        assert sales.status == "ok", sales.message
        assert cells(root, model, engine, AGG + "?drilldown=product") == {"A": 22, "B": 1}
        assert load_source(plan_of(root, model, "products"), model, engine, None).status == "skipped"
    finally:
        server.shutdown()
        server.server_close()
        engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")
