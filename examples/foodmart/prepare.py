"""Make examples/foodmart's data from Mondrian's FoodMart CSVs (../shared/reference/foodmart):

    python examples/foodmart/prepare.py [REFERENCE_DIR]

The load step the model cannot do itself yet (issue 16: snowflakes and time lookup tables):

* the facts (sales_fact_1997) with each `time_id` replaced by its date from time_by_day, as
  Parquet (a tenth of the CSV's size), every other column as it is;
* the product members: product joined to product_class (the snowflake flattened);
* the store, customer and promotion members: the columns the model names, every row.

The outputs are committed; this script says how they were made, and makes them again.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
DEFAULT_REFERENCE = HERE.parent.parent.parent / "shared" / "reference" / "foodmart"


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_csv(path: Path, header: list[str], records: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for r in records:
            w.writerow([r[c] for c in header])


def main(reference: Path) -> None:
    members = HERE / "model" / "members"
    members.mkdir(parents=True, exist_ok=True)
    classes = {r["product_class_id"]: r for r in rows(reference / "product_class.csv")}
    products = [{**p, **classes[p["product_class_id"]]} for p in rows(reference / "product.csv")]
    write_csv(
        members / "product.csv",
        ["product_id", "product_family", "product_department", "product_category", "product_subcategory",
         "brand_name", "product_name"],
        products,
    )  # fmt: skip
    write_csv(
        members / "store.csv",
        ["store_id", "store_country", "store_state", "store_city", "store_name", "store_type", "store_sqft"],
        rows(reference / "store.csv"),
    )
    write_csv(
        members / "customer.csv",
        ["customer_id", "country", "state_province", "city", "fullname", "gender", "marital_status",
         "education", "yearly_income"],
        rows(reference / "customer.csv"),
    )  # fmt: skip
    write_csv(
        members / "promotion.csv",
        ["promotion_id", "promotion_name", "media_type"],
        rows(reference / "promotion.csv"),
    )
    dates = {r["time_id"]: r["the_date"][:10] for r in rows(reference / "time_by_day.csv")}
    facts = rows(reference / "sales_fact_1997.csv")
    table = pa.table(
        {
            "product_id": pa.array([int(r["product_id"]) for r in facts], pa.int32()),
            "the_date": pa.array([dates[r["time_id"]] for r in facts]).cast(pa.date32()),
            "customer_id": pa.array([int(r["customer_id"]) for r in facts], pa.int32()),
            "promotion_id": pa.array([int(r["promotion_id"]) for r in facts], pa.int32()),
            "store_id": pa.array([int(r["store_id"]) for r in facts], pa.int32()),
            "store_sales": pa.array([r["store_sales"] for r in facts]),
            "store_cost": pa.array([r["store_cost"] for r in facts]),
            "unit_sales": pa.array([r["unit_sales"] for r in facts]),
        }
    )
    (HERE / "data").mkdir(exist_ok=True)
    pq.write_table(table, HERE / "data" / "sales_fact_1997.parquet", compression="zstd")
    print(f"{len(facts):,} facts, {len(products):,} products")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_REFERENCE)
