"""Make examples/foodmart's data from Mondrian's FoodMart CSVs (../shared/reference/foodmart):

    python examples/foodmart/prepare.py [REFERENCE_DIR]

Nothing is joined or computed here: each table the model names is copied as it is in the
reference, as Parquet (a tenth of the CSV's size), keeping only the columns the model or the
tests use. The model joins them itself: product → product_class (a snowflake, `join:`), the
facts' `time_id` → its date in time_by_day (`date_key:`), Gender and the other customer
columns as attributes and one-level dimensions over customer.

* data/sales_fact_1997.parquet: the facts, every row and column (time_id, not a date);
* model/tables/*.parquet: product, product_class, store, customer, promotion, time_by_day.

The outputs are committed; this script says how they were made, and makes them again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
DEFAULT_REFERENCE = HERE.parent.parent.parent / "shared" / "reference" / "foodmart"

TABLES: dict[str, list[str]] = {
    "product": ["product_id", "product_class_id", "brand_name", "product_name"],
    "product_class": [
        "product_class_id", "product_subcategory", "product_category", "product_department", "product_family"
    ],
    "store": [
        "store_id", "store_country", "store_state", "store_city", "store_name", "store_type", "store_sqft"
    ],
    "customer": [
        "customer_id", "country", "state_province", "city", "fullname", "gender", "marital_status",
        "education", "yearly_income", "member_card", "occupation",
    ],
    "promotion": ["promotion_id", "promotion_name", "media_type"],
    "time_by_day": ["time_id", "the_date", "the_day", "week_of_year", "the_year"],
}  # fmt: skip
FACT_COLUMNS = [
    "product_id", "time_id", "customer_id", "promotion_id", "store_id",
    "store_sales", "store_cost", "unit_sales",
]  # fmt: skip
AS_TEXT = {"store_sales", "store_cost", "unit_sales", "the_date", "store_sqft"}
"""Read as the CSV writes them: decimals keep their four places, a date its text."""


def read(path: Path, columns: list[str]) -> pa.Table:
    types = {c: pa.string() for c in columns if c in AS_TEXT}
    return pacsv.read_csv(
        path, convert_options=pacsv.ConvertOptions(include_columns=columns, column_types=types)
    )


def main(reference: Path) -> None:
    tables = HERE / "model" / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    for name, columns in TABLES.items():
        table = read(reference / f"{name}.csv", columns)
        if name == "time_by_day":  # '1997-01-01 00:00:00.0': the day; ISO weekday numbers to order by
            day = pc.utf8_slice_codeunits(table.column("the_date"), 0, 10).cast(pa.date32())
            table = table.set_column(1, "the_date", day)
            table = table.append_column("day_number", pc.add(pc.day_of_week(day), 1))
        pq.write_table(table, tables / f"{name}.parquet", compression="zstd")
    facts = read(reference / "sales_fact_1997.csv", FACT_COLUMNS)
    (HERE / "data").mkdir(exist_ok=True)
    pq.write_table(facts, HERE / "data" / "sales_fact_1997.parquet", compression="zstd")
    print(f"{facts.num_rows:,} facts, {len(TABLES)} tables")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_REFERENCE)
