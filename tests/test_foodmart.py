"""examples/foodmart: Mondrian's FoodMart `Sales` cube, modelled the natural way over its
normalised tables (fact keys at the bottom of their hierarchies or below them, product →
product_class joined by the model, the facts' time_id looked up in time_by_day, customer
attributes), loaded through its loader spec into chDB and asked through the REST API.

The expected numbers are Mondrian's (its tests' results for sales_fact_1997, listed in
../shared/reference/foodmart/README.md) and each is also computed here by a hand-written SQL
GROUP BY over the example's own files (the Parquet facts joined to the Parquet tables), so the
copy in the repository is checked too; neither comes from LabIS."""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import fresh_database, make_engine
from fastapi.testclient import TestClient

from labis_olap.api import create_app
from labis_olap.compiler.apply import apply_model
from labis_olap.engine.base import Engine
from labis_olap.loaders.run import load_file
from labis_olap.loaders.spec import find_spec, load_plan
from labis_olap.model.reader import read_model
from labis_olap.settings import Settings

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "foodmart"
FACTS = EXAMPLE / "data" / "sales_fact_1997.parquet"
TABLES = EXAMPLE / "model" / "tables"
AGG = "/cube/sales/aggregate"


@pytest.fixture(scope="module")
def loaded(data_dir: Path) -> Iterator[tuple[Any, Engine]]:
    model = read_model(EXAMPLE / "model")
    engine = make_engine("embedded", data_dir, fresh_database("foodmart"))
    apply_model(model, engine)
    plan = load_plan(find_spec(EXAMPLE / "loaders", "foodmart_sales"), model)
    report = load_file(plan, FACTS, model, engine, None)
    assert (report.status, report.rows_accepted, report.rows_rejected) == ("ok", 86_837, 0), report
    yield model, engine
    engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


@pytest.fixture(scope="module")
def client(loaded: tuple[Any, Engine], data_dir: Path) -> Iterator[TestClient]:
    model, engine = loaded
    settings = Settings(model_dir=EXAMPLE / "model", data_dir=data_dir, database=engine.database)
    with TestClient(create_app(settings, model, engine)) as c:
        yield c


def get(client: TestClient, url: str) -> Any:
    r = client.get(url)
    assert r.status_code == 200, r.text
    return r.json()


def by_sql(engine: Engine, sql: str) -> list[dict[str, Any]]:
    """An independent answer: chDB's SQL over the example's files, never over LabIS's tables."""
    text = sql.replace("FACTS", f"file('{FACTS}', Parquet)")
    for name in ("PRODUCT_CLASS", "PRODUCT", "CUSTOMER", "STORE", "PROMOTION", "TIME_BY_DAY"):
        text = text.replace(name, f"file('{TABLES / (name.lower() + '.parquet')}', Parquet)")
    return engine.query(text).to_pylist()


def num(x: Any) -> decimal.Decimal:
    return decimal.Decimal(str(x))


def test_the_totals_are_mondrians(client: TestClient, loaded: tuple[Any, Engine]) -> None:
    _, engine = loaded
    s = get(client, AGG)["summary"]
    assert num(s["unit_sales"]) == 266_773
    assert num(s["store_sales"]) == decimal.Decimal("565238.13")
    assert num(s["store_cost"]) == decimal.Decimal("225627.2336")
    assert s["sales_count"] == 86_837 and s["customer_count"] == 5_581
    assert num(s["profit"]) == decimal.Decimal("565238.13") - decimal.Decimal("225627.2336")
    (ref,) = by_sql(
        engine,
        "SELECT sum(toDecimal128(unit_sales, 4)) AS u, sum(toDecimal128(store_sales, 4)) AS s,"
        " sum(toDecimal128(store_sales, 4) - toDecimal128(store_cost, 4)) AS p,"
        " uniqExact(customer_id) AS c, count() AS n FROM FACTS",
    )
    assert (num(ref["u"]), num(ref["s"]), num(ref["p"]), ref["c"], ref["n"]) == (
        num(s["unit_sales"]), num(s["store_sales"]), num(s["profit"]), s["customer_count"], s["sales_count"]
    )  # fmt: skip


def test_gender_keyed_by_customer(client: TestClient, loaded: tuple[Any, Engine]) -> None:
    """Gender is one level keyed `gender` over members keyed customer_id: two cells, not 5,581."""
    _, engine = loaded
    cells = get(client, AGG + "?drilldown=gender")["cells"]
    assert [(c["gender.gender"], num(c["unit_sales"])) for c in cells] == [("F", 131_558), ("M", 135_215)]
    assert num(get(client, AGG + "?cut=gender:F")["summary"]["unit_sales"]) == 131_558
    ref = by_sql(
        engine,
        "SELECT c.gender AS g, sum(toDecimal128(f.unit_sales, 4)) AS u FROM FACTS AS f"
        " JOIN CUSTOMER AS c ON f.customer_id = c.customer_id GROUP BY g ORDER BY g",
    )
    assert [(r["g"], num(r["u"])) for r in ref] == [("F", 131_558), ("M", 135_215)]
    married = get(client, AGG + "?drilldown=marital_status")["cells"]
    assert [(c["marital_status.marital_status"], num(c["unit_sales"])) for c in married] == [
        ("M", 131_796), ("S", 134_977)
    ]  # fmt: skip


def test_store_states_and_short_paths(client: TestClient, loaded: tuple[Any, Engine]) -> None:
    _, engine = loaded
    cells = get(client, AGG + "?cut=store:USA&drilldown=store")["cells"]
    got = [(c["store.store_state"], num(c["unit_sales"]), num(c["store_sales"])) for c in cells]
    assert got == [
        ("CA", 74_748, decimal.Decimal("159167.84")),
        ("OR", 67_659, decimal.Decimal("142277.07")),
        ("WA", 124_366, decimal.Decimal("263793.22")),
    ]
    ref = by_sql(
        engine,
        "SELECT s.store_state AS st, sum(toDecimal128(f.unit_sales, 4)) AS u FROM FACTS AS f"
        " JOIN STORE AS s ON f.store_id = s.store_id GROUP BY st ORDER BY st",
    )
    assert [(r["st"], num(r["u"])) for r in ref] == [(s, u) for s, u, _ in got]
    # Customer Count per state: distinct customers, never a sum of the cities' counts.
    counts = {c["store.store_state"]: c["customer_count"] for c in cells}
    assert (counts["CA"], counts["OR"]) == (2_716, 1_037)
    assert get(client, AGG + "?cut=store:USA,CA;USA,OR")["summary"]["customer_count"] == 3_753
    # `store:CA` names a state as if it were a country: a 400 that shows the full path.
    r = client.get(AGG + "?cut=store:CA")
    assert r.status_code == 400, r.text
    assert "store:USA,CA" in r.json()["hint"] and "level 'store_state'" in r.json()["message"]


def test_quarters_families_and_promotions(client: TestClient, loaded: tuple[Any, Engine]) -> None:
    _, engine = loaded
    quarters = get(client, AGG + "?cut=time:1997&drilldown=time")["cells"]
    assert [num(c["unit_sales"]) for c in quarters] == [66_291, 62_610, 65_848, 72_024]
    families = get(client, AGG + "?drilldown=product")["cells"]
    assert [(c["product.product_family"], num(c["unit_sales"])) for c in families] == [
        ("Drink", 24_597), ("Food", 191_940), ("Non-Consumable", 50_236)
    ]  # fmt: skip
    promoted = get(client, AGG + "?cut=!promotions:No Promotion")["summary"]
    assert num(promoted["store_sales"]) == decimal.Decimal("151211.21")
    (ref,) = by_sql(
        engine, "SELECT sum(toDecimal128(store_sales, 4)) AS s FROM FACTS WHERE promotion_id != 0"
    )
    assert num(ref["s"]) == num(promoted["store_sales"])
    media = get(client, AGG + "?drilldown=promotion_media&order=unit_sales:desc")["cells"]
    ref_media = by_sql(
        engine,
        "SELECT p.media_type AS m, sum(toDecimal128(f.unit_sales, 4)) AS u FROM FACTS AS f"
        " JOIN PROMOTION AS p ON f.promotion_id = p.promotion_id GROUP BY m ORDER BY u DESC",
    )
    assert [(c["promotion_media.media_type"], num(c["unit_sales"])) for c in media] == [
        (r["m"], num(r["u"])) for r in ref_media
    ]


def test_a_brand_under_two_subcategories(client: TestClient, loaded: tuple[Any, Engine]) -> None:
    """Names are unique only under their parent: a path names the member under its parent, and
    a drilldown keeps the same brand under two subcategories apart."""
    _, engine = loaded
    ref = by_sql(
        engine,
        "SELECT pc.product_family AS a, pc.product_department AS b, pc.product_category AS c,"
        " pc.product_subcategory AS d, sum(toDecimal128(f.unit_sales, 4)) AS u FROM FACTS AS f"
        " JOIN PRODUCT AS p ON f.product_id = p.product_id"
        " JOIN PRODUCT_CLASS AS pc ON p.product_class_id = pc.product_class_id"
        " WHERE p.brand_name = 'Washington'"
        " GROUP BY a, b, c, d ORDER BY a, b, c, d",
    )
    assert len(ref) > 1  # the brand is in several subcategories
    for r in ref:
        path = ",".join(str(r[k]) for k in "abcd") + ",Washington"
        got = get(client, AGG + f"?cut=product:{path}")["summary"]
        assert num(got["unit_sales"]) == num(r["u"]), path


def test_a_range_over_number_keys_compares_numbers(client: TestClient, loaded: tuple[Any, Engine]) -> None:
    """Customers are keyed by number: 1-10000 is every Altadena customer, where as text it would
    be only those whose number sorts between '1' and '10000' ('1', '10', '100', …)."""
    _, engine = loaded
    got = get(client, AGG + "?cut=customers:USA,CA,Altadena,1-USA,CA,Altadena,10000")["summary"]
    (ref,) = by_sql(
        engine,
        "SELECT uniqExact(f.customer_id) AS c, sum(toDecimal128(f.unit_sales, 4)) AS u FROM FACTS AS f"
        " JOIN CUSTOMER AS c ON f.customer_id = c.customer_id"
        " WHERE c.city = 'Altadena' AND c.state_province = 'CA' AND c.customer_id BETWEEN 1 AND 10000",
    )
    assert ref["c"] > 10
    assert (got["customer_count"], num(got["unit_sales"])) == (ref["c"], num(ref["u"]))


def test_time_ids_looked_up_in_time_by_day(client: TestClient, loaded: tuple[Any, Engine]) -> None:
    """The facts carry FoodMart's integer time_id; the time dimension's date_key turns each into
    its day at load: months equal a hand-written join to time_by_day."""
    _, engine = loaded
    months = get(client, AGG + "?cut=time:1997&drilldown=time:month")["cells"]
    ref = by_sql(
        engine,
        "SELECT toMonth(t.the_date) AS m, sum(toDecimal128(f.unit_sales, 4)) AS u FROM FACTS AS f"
        " JOIN TIME_BY_DAY AS t ON f.time_id = t.time_id GROUP BY m ORDER BY m",
    )
    assert len(ref) == 12
    assert [(c["time.month"], num(c["unit_sales"])) for c in months] == [(r["m"], num(r["u"])) for r in ref]
    day = get(client, AGG + "?cut=time:1997,1,3,15")["summary"]
    (one,) = by_sql(
        engine,
        "SELECT sum(toDecimal128(f.unit_sales, 4)) AS u FROM FACTS AS f"
        " JOIN TIME_BY_DAY AS t ON f.time_id = t.time_id WHERE t.the_date = '1997-03-15'",
    )
    assert num(day["unit_sales"]) == num(one["u"]) > 0


def test_the_product_snowflake_is_joined_by_the_model(client: TestClient, loaded: tuple[Any, Engine]) -> None:
    _, engine = loaded
    cells = get(client, AGG + "?cut=product:Food&drilldown=product")["cells"]
    ref = by_sql(
        engine,
        "SELECT pc.product_department AS d, sum(toDecimal128(f.unit_sales, 4)) AS u FROM FACTS AS f"
        " JOIN PRODUCT AS p ON f.product_id = p.product_id"
        " JOIN PRODUCT_CLASS AS pc ON p.product_class_id = pc.product_class_id"
        " WHERE pc.product_family = 'Food' GROUP BY d ORDER BY d",
    )
    assert len(ref) > 5
    assert [(c["product.product_department"], num(c["unit_sales"])) for c in cells] == [
        (r["d"], num(r["u"])) for r in ref
    ]


def test_level_attributes_in_cells_and_members(client: TestClient, loaded: tuple[Any, Engine]) -> None:
    """A level's attributes (customer gender, store type) come with its members and its cells,
    as Slicer attributes `dim.attribute`, each the member's own value in its table."""
    _, engine = loaded
    reply = get(client, AGG + "?cut=customers:USA,CA,Altadena&drilldown=customers")
    assert "customers.gender" in reply["attributes"] and "customers.occupation" in reply["attributes"]
    ref = {
        str(r["id"]): r
        for r in by_sql(
            engine,
            "SELECT customer_id AS id, gender, education, occupation FROM CUSTOMER WHERE city = 'Altadena'",
        )
    }
    assert len(reply["cells"]) > 10
    for c in reply["cells"]:
        mine = ref[c["customers.name"]]
        assert (c["customers.gender"], c["customers.education"], c["customers.occupation"]) == (
            mine["gender"], mine["education"], mine["occupation"]
        )  # fmt: skip
    stores = get(client, "/cube/sales/members/store?depth=4")["data"]
    names = {r["store_name"]: r["t"] for r in by_sql(engine, "SELECT store_name, store_type AS t FROM STORE")}
    assert stores and len(names) > 10
    assert all(m["store.store_type"] == names[m["store.store_name"]] for m in stores)
    cells = get(client, AGG + "?cut=store:USA,CA&drilldown=store:store_name")["cells"]
    assert {c["store.store_name"]: c["store.store_type"] for c in cells} == {
        c["store.store_name"]: names[c["store.store_name"]] for c in cells
    }


def test_an_attribute_hierarchy_cuts_and_drills(client: TestClient, loaded: tuple[Any, Engine]) -> None:
    """member_card is a hierarchy of its own over the customers (member_card → name): drilled
    and cut as `customers@member_card`, as a hand-written join by card says."""
    _, engine = loaded
    ref = by_sql(
        engine,
        "SELECT c.member_card AS card, sum(toDecimal128(f.unit_sales, 4)) AS u, uniqExact(f.customer_id) AS n"
        " FROM FACTS AS f JOIN CUSTOMER AS c ON f.customer_id = c.customer_id GROUP BY card ORDER BY card",
    )
    assert len(ref) == 4
    cells = get(client, AGG + "?drilldown=customers@member_card:member_card")["cells"]
    got = [(c["customers.member_card"], num(c["unit_sales"]), c["customer_count"]) for c in cells]
    assert got == [(r["card"], num(r["u"]), r["n"]) for r in ref]
    gold = get(client, AGG + "?cut=customers@member_card:Golden")["summary"]
    assert num(gold["unit_sales"]) == next(num(r["u"]) for r in ref if r["card"] == "Golden")


def test_the_weekday_from_the_calendar_table(client: TestClient, loaded: tuple[Any, Engine]) -> None:
    """Day of week: a dimension over time_by_day by the facts' time_id, in ISO order."""
    _, engine = loaded
    ref = by_sql(
        engine,
        "SELECT t.the_day AS d, sum(toDecimal128(f.unit_sales, 4)) AS u FROM FACTS AS f"
        " JOIN TIME_BY_DAY AS t ON f.time_id = t.time_id GROUP BY d, t.day_number ORDER BY t.day_number",
    )
    week = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    assert [r["d"] for r in ref] == week
    cells = get(client, AGG + "?drilldown=weekday")["cells"]
    got = [(c["weekday.the_day"], num(c["unit_sales"])) for c in cells]
    assert got == [(r["d"], num(r["u"])) for r in ref]
