"""FoodMart through the naive normalised model against hand-written chDB SQL on the same tables.

    python benchmarks/bench_foodmart.py [--runs 15] [--data-dir /tmp/labis-bench-foodmart]

(a) Load: `labis load` of sales_fact_1997 (each time_id looked up in time_by_day by the
    model's date_key, checked, staged, published with its rollup) against a raw chDB
    `INSERT … SELECT` of the same Parquet file joined to the same lookup table.
(b) Queries through the REST API (in process, result cache off) against the join a person
    would write over plain MergeTree copies of FoodMart's tables (sales, product →
    product_class, customer, store, time_by_day) in the same engine: the same answers are
    checked, then the median times of `--runs` runs are compared.

The floor is measured in the same run, on the same engine and data. Medians: a shared
2-core machine is noisy.
"""

from __future__ import annotations

import argparse
import decimal
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "foodmart"
TABLES = EXAMPLE / "model" / "tables"
FACTS = EXAMPLE / "data" / "sales_fact_1997.parquet"
RAW = "raw"

QUERIES: list[tuple[str, str, str, str]] = [
    # (title, API query, the cell's key attribute, hand-written SQL giving (key, unit_sales))
    (
        "product families (snowflake)",
        "drilldown=product",
        "product.product_family",
        "SELECT pc.product_family AS k, sum(f.unit_sales) AS u FROM raw.sales AS f"
        " JOIN raw.product AS p ON f.product_id = p.product_id"
        " JOIN raw.product_class AS pc ON p.product_class_id = pc.product_class_id GROUP BY k ORDER BY k",
    ),
    (
        "months of 1997 (time_id lookup)",
        "cut=time:1997&drilldown=time:month",
        "time.month",
        "SELECT toMonth(t.the_date) AS k, sum(f.unit_sales) AS u FROM raw.sales AS f"
        " JOIN raw.time_by_day AS t ON f.time_id = t.time_id"
        " WHERE toYear(t.the_date) = 1997 GROUP BY k ORDER BY k",
    ),
    (
        "gender (below the fact key)",
        "drilldown=gender",
        "gender.gender",
        "SELECT c.gender AS k, sum(f.unit_sales) AS u FROM raw.sales AS f"
        " JOIN raw.customer AS c ON f.customer_id = c.customer_id GROUP BY k ORDER BY k",
    ),
    (
        "member card (attribute hierarchy)",
        "drilldown=customers@member_card:member_card",
        "customers.member_card",
        "SELECT c.member_card AS k, sum(f.unit_sales) AS u FROM raw.sales AS f"
        " JOIN raw.customer AS c ON f.customer_id = c.customer_id GROUP BY k ORDER BY k",
    ),
    (
        "weekday (calendar table)",
        "drilldown=weekday",
        "weekday.the_day",
        "SELECT t.the_day AS k, sum(f.unit_sales) AS u FROM raw.sales AS f"
        " JOIN raw.time_by_day AS t ON f.time_id = t.time_id GROUP BY k, t.day_number ORDER BY t.day_number",
    ),
    (
        "CA stores with their type",
        "cut=store:USA,CA&drilldown=store:store_name",
        "store.store_name",
        "SELECT s.store_name AS k, sum(f.unit_sales) AS u FROM raw.sales AS f"
        " JOIN raw.store AS s ON f.store_id = s.store_id"
        " WHERE s.store_country = 'USA' AND s.store_state = 'CA' GROUP BY k ORDER BY k",
    ),
]


def median_ms(fn: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/labis-bench-foodmart"))
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from fastapi.testclient import TestClient

    from labis_olap.api import create_app
    from labis_olap.compiler.apply import apply_model
    from labis_olap.engine.embedded import EmbeddedEngine
    from labis_olap.loaders.run import load_file
    from labis_olap.loaders.spec import find_spec, load_plan
    from labis_olap.model.reader import read_model
    from labis_olap.settings import Settings

    shutil.rmtree(args.data_dir, ignore_errors=True)
    model = read_model(EXAMPLE / "model")
    engine = EmbeddedEngine(args.data_dir, database="foodmart")
    apply_model(model, engine)
    plan = load_plan(find_spec(EXAMPLE / "loaders", "foodmart_sales"), model)

    t0 = time.perf_counter()
    report = load_file(plan, FACTS, model, engine, None)
    load_s = time.perf_counter() - t0
    assert report.status == "ok" and report.rows_accepted == 86_837, report

    engine.execute(f"CREATE DATABASE IF NOT EXISTS {RAW}")
    for name in ("product", "product_class", "customer", "store", "time_by_day"):
        engine.execute(
            f"CREATE TABLE {RAW}.{name} ENGINE = MergeTree ORDER BY tuple() AS "
            f"SELECT * FROM file('{TABLES / (name + '.parquet')}', Parquet)"
        )
    engine.execute(
        f"CREATE TABLE {RAW}.sales (product_id Int32, time_id Int32, customer_id Int32, promotion_id Int32,"
        " store_id Int32, the_date Date, store_sales Decimal(18, 4), store_cost Decimal(18, 4),"
        " unit_sales Decimal(18, 4)) ENGINE = MergeTree ORDER BY tuple()"
    )
    raw_insert = (
        f"INSERT INTO {RAW}.sales SELECT f.product_id, f.time_id, f.customer_id, f.promotion_id, f.store_id,"
        " t.the_date, toDecimal64(f.store_sales, 4), toDecimal64(f.store_cost, 4),"
        " toDecimal64(f.unit_sales, 4)"
        f" FROM file('{FACTS}', Parquet) AS f JOIN file('{TABLES / 'time_by_day.parquet'}', Parquet) AS t"
        " ON f.time_id = t.time_id"
    )
    t0 = time.perf_counter()
    engine.execute(raw_insert)
    raw_s = time.perf_counter() - t0

    settings = Settings(
        model_dir=EXAMPLE / "model", data_dir=args.data_dir, database="foodmart", cache_bytes=0
    )
    rows = []
    with TestClient(create_app(settings, model, engine)) as client:
        for title, query, key, sql in QUERIES:
            url = f"/cube/sales/aggregate?{query}"
            cells = client.get(url).json()["cells"]
            got = [(str(c[key]), decimal.Decimal(str(c["unit_sales"]))) for c in cells]
            ref = [(str(r["k"]), decimal.Decimal(str(r["u"]))) for r in engine.query(sql).to_pylist()]
            if sorted(got) != sorted(ref):
                raise SystemExit(f"{title}: the API and the hand-written SQL disagree:\n{got}\n{ref}")
            api = median_ms(lambda url=url: client.get(url).raise_for_status(), args.runs)
            floor = median_ms(lambda sql=sql: engine.query(sql), args.runs)
            rows.append((title, api, floor))

    print(f"FoodMart, {report.rows_accepted:,} facts, medians of {args.runs} runs (cache off)\n")
    print(f"{'what':<36} {'LabIS':>10} {'raw chDB':>10} {'ratio':>7}")
    load = f"{load_s * 1000:>8.0f}ms {raw_s * 1000:>8.0f}ms {load_s / raw_s:>6.2f}×"
    print(f"{'load (time_id lookup, checks)':<36} {load}")
    for title, api, floor in rows:
        print(f"{title:<36} {api:>8.1f}ms {floor:>8.1f}ms {api / floor:>6.2f}×")
    print("\n(answers equal to the hand-written SQL for every query)")
    engine.close()


if __name__ == "__main__":
    main()
