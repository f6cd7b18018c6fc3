"""The Star Schema Benchmark for LabIS: data, the hand-written SQL and the same 13 queries
through the Slicer API.

    python examples/ssb/ssb.py from-dbgen TBL_DIR OUT_DIR   # dbgen's *.tbl → OUT_DIR
    python examples/ssb/ssb.py generate OUT_DIR [--rows 4000] [--seed 16]

Either way OUT_DIR gets `model/` (this folder's model with the members CSVs written next to the
committed ones), `lineorder.parquet` (the facts as the loader reads them) and the raw SSB
tables as Parquet (`raw_*.parquet`: lineorder, customer, supplier, part, date with SSB's column
names) that the hand-written SQL runs on. The generator is seeded and SSB-shaped (the same
schema, regions, nations, cities, manufacturers, categories, brands and dbgen's week numbers),
small enough for CI, with some line orders aimed at the narrow SSB filters (two cities, one
week, one month) so that every query has cells.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
MODEL = HERE / "model"
LOADERS = HERE / "loaders"

NATIONS = {
    "AFRICA": ["ALGERIA", "ETHIOPIA", "KENYA", "MOROCCO", "MOZAMBIQUE"],
    "AMERICA": ["ARGENTINA", "BRAZIL", "CANADA", "PERU", "UNITED STATES"],
    "ASIA": ["CHINA", "INDIA", "INDONESIA", "JAPAN", "VIETNAM"],
    "EUROPE": ["FRANCE", "GERMANY", "ROMANIA", "RUSSIA", "UNITED KINGDOM"],
    "MIDDLE EAST": ["EGYPT", "IRAN", "IRAQ", "JORDAN", "SAUDI ARABIA"],
}
FIRST_DAY, LAST_DAY = dt.date(1992, 1, 1), dt.date(1998, 12, 31)


@dataclass(frozen=True)
class Query:
    name: str
    url: str
    """The Slicer request (path and query) under /cube/lineorder/."""
    sql: str
    """SSB's query written by hand over the raw tables ({db} is their database)."""
    keys: tuple[str, ...]
    """The answer's key columns, in the API's attribute names and the SQL's column order."""
    measure: str


_JOIN = "FROM {db}.lineorder AS lo JOIN {db}.dates AS d ON lo.lo_orderdate = d.d_datekey"
_PART = " JOIN {db}.part AS p ON lo_partkey = p_partkey"
_SUPP = " JOIN {db}.supplier AS s ON lo_suppkey = s_suppkey"
_CUST = " JOIN {db}.customer AS c ON lo_custkey = c_custkey"
QUERIES = [
    Query("Q1.1", "aggregate?aggregates=discount_revenue&cut=time:1993|discount:1-3|quantity:1-24",
          f"SELECT sum(lo_extendedprice * lo_discount) {_JOIN} WHERE d_year = 1993"
          " AND lo_discount BETWEEN 1 AND 3 AND lo_quantity < 25", (), "discount_revenue"),
    Query("Q1.2", "aggregate?aggregates=discount_revenue&cut=time:1994,1|discount:4-6|quantity:26-35",
          f"SELECT sum(lo_extendedprice * lo_discount) {_JOIN} WHERE d_yearmonthnum = 199401"
          " AND lo_discount BETWEEN 4 AND 6 AND lo_quantity BETWEEN 26 AND 35", (), "discount_revenue"),
    # Week 6 of 1994 in dbgen's numbering (day of year // 7 + 1) is 4-10 February.
    Query("Q1.3", "aggregate?aggregates=discount_revenue"
          "&cut=time:1994,2,4-1994,2,10|discount:5-7|quantity:26-35",
          f"SELECT sum(lo_extendedprice * lo_discount) {_JOIN} WHERE d_weeknuminyear = 6"
          " AND d_year = 1994 AND lo_discount BETWEEN 5 AND 7 AND lo_quantity BETWEEN 26 AND 35",
          (), "discount_revenue"),
    Query("Q2.1", "aggregate?aggregates=revenue&drilldown=time:year|part:brand"
          "&cut=part:MFGR%231,MFGR%2312|supplier:AMERICA",
          f"SELECT d_year, p_brand1, sum(lo_revenue) {_JOIN}{_PART}{_SUPP}"
          " WHERE p_category = 'MFGR#12' AND s_region = 'AMERICA' GROUP BY d_year, p_brand1",
          ("time.year", "part.brand"), "revenue"),
    Query("Q2.2", "aggregate?aggregates=revenue&drilldown=time:year|part:brand"
          "&cut=part:MFGR%232,MFGR%2322,MFGR%232221-MFGR%232,MFGR%2322,MFGR%232228|supplier:ASIA",
          f"SELECT d_year, p_brand1, sum(lo_revenue) {_JOIN}{_PART}{_SUPP}"
          " WHERE p_brand1 BETWEEN 'MFGR#2221' AND 'MFGR#2228' AND s_region = 'ASIA'"
          " GROUP BY d_year, p_brand1", ("time.year", "part.brand"), "revenue"),
    Query("Q2.3", "aggregate?aggregates=revenue&drilldown=time:year|part:brand"
          "&cut=part:MFGR%232,MFGR%2322,MFGR%232239|supplier:EUROPE",
          f"SELECT d_year, p_brand1, sum(lo_revenue) {_JOIN}{_PART}{_SUPP}"
          " WHERE p_brand1 = 'MFGR#2239' AND s_region = 'EUROPE' GROUP BY d_year, p_brand1",
          ("time.year", "part.brand"), "revenue"),
    Query("Q3.1", "aggregate?aggregates=revenue&drilldown=customer:nation|supplier:nation|time:year"
          "&cut=customer:ASIA|supplier:ASIA|time:1992-1997",
          f"SELECT c_nation, s_nation, d_year, sum(lo_revenue) {_JOIN}"
          f"{_CUST}{_SUPP}"
          " WHERE c_region = 'ASIA' AND s_region = 'ASIA' AND d_year >= 1992 AND d_year <= 1997"
          " GROUP BY c_nation, s_nation, d_year",
          ("customer.nation", "supplier.nation", "time.year"), "revenue"),
    Query("Q3.2", "aggregate?aggregates=revenue&drilldown=customer:city|supplier:city|time:year"
          "&cut=customer:AMERICA,UNITED STATES|supplier:AMERICA,UNITED STATES|time:1992-1997",
          f"SELECT c_city, s_city, d_year, sum(lo_revenue) {_JOIN}"
          f"{_CUST}{_SUPP}"
          " WHERE c_nation = 'UNITED STATES' AND s_nation = 'UNITED STATES'"
          " AND d_year >= 1992 AND d_year <= 1997 GROUP BY c_city, s_city, d_year",
          ("customer.city", "supplier.city", "time.year"), "revenue"),
    Query("Q3.3", "aggregate?aggregates=revenue&drilldown=customer:city|supplier:city|time:year"
          "&cut=customer:EUROPE,UNITED KINGDOM,UNITED KI1;EUROPE,UNITED KINGDOM,UNITED KI5"
          "|supplier:EUROPE,UNITED KINGDOM,UNITED KI1;EUROPE,UNITED KINGDOM,UNITED KI5|time:1992-1997",
          f"SELECT c_city, s_city, d_year, sum(lo_revenue) {_JOIN}"
          f"{_CUST}{_SUPP}"
          " WHERE c_city IN ('UNITED KI1', 'UNITED KI5') AND s_city IN ('UNITED KI1', 'UNITED KI5')"
          " AND d_year >= 1992 AND d_year <= 1997 GROUP BY c_city, s_city, d_year",
          ("customer.city", "supplier.city", "time.year"), "revenue"),
    Query("Q3.4", "aggregate?aggregates=revenue&drilldown=customer:city|supplier:city|time:year"
          "&cut=customer:EUROPE,UNITED KINGDOM,UNITED KI1;EUROPE,UNITED KINGDOM,UNITED KI5"
          "|supplier:EUROPE,UNITED KINGDOM,UNITED KI1;EUROPE,UNITED KINGDOM,UNITED KI5|time:1997,12",
          f"SELECT c_city, s_city, d_year, sum(lo_revenue) {_JOIN}"
          f"{_CUST}{_SUPP}"
          " WHERE c_city IN ('UNITED KI1', 'UNITED KI5') AND s_city IN ('UNITED KI1', 'UNITED KI5')"
          " AND d_yearmonth = 'Dec1997' GROUP BY c_city, s_city, d_year",
          ("customer.city", "supplier.city", "time.year"), "revenue"),
    Query("Q4.1", "aggregate?aggregates=profit&drilldown=time:year|customer:nation"
          "&cut=customer:AMERICA|supplier:AMERICA|part:MFGR%231;MFGR%232",
          f"SELECT d_year, c_nation, sum(lo_revenue - lo_supplycost) {_JOIN}"
          f"{_CUST}{_SUPP}{_PART}"
          " WHERE c_region = 'AMERICA' AND s_region = 'AMERICA' AND p_mfgr IN ('MFGR#1', 'MFGR#2')"
          " GROUP BY d_year, c_nation", ("time.year", "customer.nation"), "profit"),
    Query("Q4.2", "aggregate?aggregates=profit&drilldown=time:year|supplier:nation|part:category"
          "&cut=customer:AMERICA|supplier:AMERICA|time:1997;1998|part:MFGR%231;MFGR%232",
          f"SELECT d_year, s_nation, p_category, sum(lo_revenue - lo_supplycost) {_JOIN}"
          f"{_CUST}{_SUPP}{_PART}"
          " WHERE c_region = 'AMERICA' AND s_region = 'AMERICA' AND (d_year = 1997 OR d_year = 1998)"
          " AND p_mfgr IN ('MFGR#1', 'MFGR#2') GROUP BY d_year, s_nation, p_category",
          ("time.year", "supplier.nation", "part.category"), "profit"),
    Query("Q4.3", "aggregate?aggregates=profit&drilldown=time:year|supplier:city|part:brand"
          "&cut=supplier:AMERICA,UNITED STATES|time:1997;1998|part:MFGR%231,MFGR%2314",
          f"SELECT d_year, s_city, p_brand1, sum(lo_revenue - lo_supplycost) {_JOIN}"
          f"{_SUPP}{_PART}"
          " WHERE s_nation = 'UNITED STATES' AND (d_year = 1997 OR d_year = 1998)"
          " AND p_category = 'MFGR#14' GROUP BY d_year, s_city, p_brand1",
          ("time.year", "supplier.city", "part.brand"), "profit"),
]  # fmt: skip

RAW_DDL = {
    "lineorder": "lo_orderdate Date, lo_custkey Int32, lo_suppkey Int32, lo_partkey Int32, lo_quantity Int32,"
    " lo_discount Int32, lo_extendedprice Int32, lo_revenue Int32, lo_supplycost Int32",
    "customer": "c_custkey Int32, c_name String, c_city String, c_nation String, c_region String",
    "supplier": "s_suppkey Int32, s_name String, s_city String, s_nation String, s_region String",
    "part": "p_partkey Int32, p_name String, p_mfgr String, p_category String, p_brand1 String",
    "dates": "d_datekey Date, d_year Int32, d_yearmonthnum Int32, d_yearmonth String, d_weeknuminyear Int32",
}
"""The raw SSB tables the hand-written SQL reads (the columns the 13 queries use)."""
RAW_ORDER = {"lineorder": "lo_orderdate", "customer": "c_custkey", "supplier": "s_suppkey",
             "part": "p_partkey", "dates": "d_datekey"}  # fmt: skip


def city(nation: str, digit: int) -> str:
    """dbgen's city: the nation's first nine characters, padded, and a digit."""
    return f"{nation[:9]:<9}{digit}"


def date_rows(first: dt.date = FIRST_DAY, last: dt.date = LAST_DAY) -> pa.Table:
    """SSB's date table columns the queries use, as dbgen computes them."""
    days = [first + dt.timedelta(n) for n in range((last - first).days + 1)]
    return pa.table(
        {
            "d_datekey": pa.array(days, pa.date32()),
            "d_year": pa.array([d.year for d in days], pa.int32()),
            "d_yearmonthnum": pa.array([d.year * 100 + d.month for d in days], pa.int32()),
            "d_yearmonth": [d.strftime("%b") + str(d.year) for d in days],
            "d_weeknuminyear": pa.array([d.timetuple().tm_yday // 7 + 1 for d in days], pa.int32()),
        }
    )


def write_model(out: Path, customers: pa.Table, suppliers: pa.Table, parts: pa.Table) -> Path:
    """This folder's model and loader spec, with the members files of the data set."""
    model = out / "model"
    if model.exists():
        shutil.rmtree(model)
    shutil.copytree(MODEL, model)
    shutil.copytree(LOADERS, out / "loaders", dirs_exist_ok=True)
    for name, table, prefix in (("customer", customers, "c_"), ("supplier", suppliers, "s_")):
        cols = {"key": f"{prefix}{name[:4] if name == 'customer' else 'supp'}key"}
        cols |= {c: f"{prefix}{c}" for c in ("name", "city", "nation", "region")}
        _csv(model / "members" / f"{name}.csv", table, cols)
    part_cols = {"key": "p_partkey", "name": "p_name", "mfgr": "p_mfgr", "category": "p_category"}
    _csv(model / "members" / "part.csv", parts, part_cols | {"brand": "p_brand1"})
    return model


def _csv(path: Path, table: pa.Table, cols: dict[str, str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(cols)
        w.writerows(zip(*(table.column(c).to_pylist() for c in cols.values()), strict=True))


def facts_of(lineorder: pa.Table) -> pa.Table:
    """The raw line orders under the cube's column names (what the loader reads)."""
    return lineorder.rename_columns([c.removeprefix("lo_") for c in lineorder.column_names])


def save(out: Path, raw: dict[str, pa.Table]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for name, table in raw.items():
        pq.write_table(table, out / f"raw_{name}.parquet")
    pq.write_table(facts_of(raw["lineorder"]), out / "lineorder.parquet")
    return write_model(out, raw["customer"], raw["supplier"], raw["part"])


def generate(out: Path, rows: int = 4000, seed: int = 16) -> Path:
    """A seeded SSB-shaped data set (see the module's docstring); returns the model folder."""
    rnd = random.Random(seed)
    nations = [(n, r) for r, ns in NATIONS.items() for n in ns]

    def people(n: int, prefix: str, label: str) -> pa.Table:
        picked = [nations[rnd.randrange(len(nations))] for _ in range(n)]
        # The narrow filters (UNITED KI1 / KI5, UNITED STATES) get members of their own.
        picked[:6] = [("UNITED KINGDOM", "EUROPE")] * 4 + [("UNITED STATES", "AMERICA")] * 2
        digits = [1, 5, 1, 5, 3, 7] + [rnd.randrange(10) for _ in range(n - 6)]
        return pa.table(
            {
                f"{prefix}key": pa.array(range(1, n + 1), pa.int32()),
                f"{prefix[:2]}name": [f"{label}#{i:09d}" for i in range(1, n + 1)],
                f"{prefix[:2]}city": [city(nat, d) for (nat, _), d in zip(picked, digits, strict=True)],
                f"{prefix[:2]}nation": [nat for nat, _ in picked],
                f"{prefix[:2]}region": [reg for _, reg in picked],
            }
        )

    customers = people(200, "c_cust", "Customer")
    suppliers = people(30, "s_supp", "Supplier")
    n_parts = 400
    mfgr = [rnd.randint(1, 5) for _ in range(n_parts)]
    cat = [rnd.randint(1, 5) for _ in range(n_parts)]
    brand = [rnd.randint(1, 40) for _ in range(n_parts)]
    # Parts in the brands and categories the queries name.
    for i, (m, c, b) in enumerate([(2, 2, 21), (2, 2, 25), (2, 2, 28), (2, 2, 39), (1, 2, 3), (1, 4, 7)]):
        mfgr[i], cat[i], brand[i] = m, c, b
    parts = pa.table(
        {
            "p_partkey": pa.array(range(1, n_parts + 1), pa.int32()),
            "p_name": [f"part {i}" for i in range(1, n_parts + 1)],
            "p_mfgr": [f"MFGR#{m}" for m in mfgr],
            "p_category": [f"MFGR#{m}{c}" for m, c in zip(mfgr, cat, strict=True)],
            "p_brand1": [f"MFGR#{m}{c}{b:02d}" for m, c, b in zip(mfgr, cat, brand, strict=True)],
        }
    )
    span = (dt.date(1998, 8, 2) - FIRST_DAY).days
    aimed = [
        (dt.date(1994, 2, 3), 9),  # week 6 of 1994 and a day either side
        (dt.date(1997, 12, 1), 31),
        (dt.date(1994, 1, 1), 31),
    ]
    cols: dict[str, list[object]] = {c.split()[0]: [] for c in RAW_DDL["lineorder"].split(", ")}
    for i in range(rows):
        if i % 10 == 0:
            first, days = aimed[(i // 10) % len(aimed)]
            day = first + dt.timedelta(rnd.randrange(days))
            cust, supp = rnd.randint(1, 4), rnd.randint(1, 4)
        else:
            day = FIRST_DAY + dt.timedelta(rnd.randrange(span))
            cust, supp = rnd.randint(1, 200), rnd.randint(1, 30)
        price = rnd.randint(90_000, 10_000_000)
        discount = rnd.randint(0, 10)
        row = {
            "lo_orderdate": day,
            "lo_custkey": cust,
            "lo_suppkey": supp,
            "lo_partkey": rnd.randint(1, 6) if i % 7 == 0 else rnd.randint(1, n_parts),
            "lo_quantity": rnd.randint(1, 50),
            "lo_discount": discount,
            "lo_extendedprice": price,
            "lo_revenue": price * (100 - discount) // 100,
            "lo_supplycost": rnd.randint(50_000, 120_000),
        }
        for k, v in row.items():
            cols[k].append(v)
    lineorder = pa.table(
        {k: pa.array(v, pa.date32() if k == "lo_orderdate" else pa.int32()) for k, v in cols.items()}
    )
    return save(out, {"lineorder": lineorder, "customer": customers, "supplier": suppliers,
                      "part": parts, "dates": date_rows()})  # fmt: skip


def from_dbgen(tbl: Path, out: Path) -> Path:
    """dbgen's *.tbl files (comma-separated, quoted, a trailing comma) → the same layout."""
    import pyarrow.csv as pcsv

    def read(name: str, names: list[str], keep: dict[str, pa.DataType]) -> pa.Table:
        table = pcsv.read_csv(
            tbl / f"{name}.tbl",
            read_options=pcsv.ReadOptions(column_names=[*names, "_end"], block_size=1 << 26),
            convert_options=pcsv.ConvertOptions(include_columns=list(keep), column_types=keep),
        )
        return table.select(list(keep))

    s, i32, d = pa.string(), pa.int32(), pa.date32()
    order_cols = (
        "orderkey linenumber custkey partkey suppkey orderdate orderpriority shippriority quantity"
        " extendedprice ordtotalprice discount revenue supplycost tax commitdate shipmode"
    )
    numbers = (
        "custkey",
        "suppkey",
        "partkey",
        "quantity",
        "discount",
        "extendedprice",
        "revenue",
        "supplycost",
    )
    lineorder = read("lineorder", order_cols.split(), {"orderdate": d} | dict.fromkeys(numbers, i32))
    lineorder = lineorder.rename_columns([f"lo_{c}" for c in lineorder.column_names])
    people = ["key", "name", "address", "city", "nation", "region", "phone"]
    texts = dict.fromkeys(("name", "city", "nation", "region"), s)
    customer = read("customer", [*people, "mktsegment"], {"key": i32} | texts)
    customer = customer.rename_columns(["c_custkey", "c_name", "c_city", "c_nation", "c_region"])
    supplier = read("supplier", people, {"key": i32} | texts)
    supplier = supplier.rename_columns(["s_suppkey", "s_name", "s_city", "s_nation", "s_region"])
    part_cols = ["partkey", "name", "mfgr", "category", "brand1", "color", "type", "size", "container"]
    part = read(
        "part", part_cols, {"partkey": i32} | dict.fromkeys(("name", "mfgr", "category", "brand1"), s)
    )
    part = part.rename_columns(["p_partkey", "p_name", "p_mfgr", "p_category", "p_brand1"])
    date_cols = (
        "datekey date dayofweek month year yearmonthnum yearmonth daynuminweek daynuminmonth daynuminyear"
        " monthnuminyear weeknuminyear sellingseason lastdayinweekfl lastdayinmonthfl holidayfl weekdayfl"
    )
    days = read(
        "date",
        date_cols.split(),
        {"datekey": s, "year": i32, "yearmonthnum": i32, "yearmonth": s, "weeknuminyear": i32},
    )
    keys = [dt.datetime.strptime(k, "%Y%m%d").date() for k in days.column("datekey").to_pylist()]
    days = days.set_column(0, "datekey", pa.array(keys, pa.date32()))
    days = days.rename_columns(["d_datekey", "d_year", "d_yearmonthnum", "d_yearmonth", "d_weeknuminyear"])
    raw = {"lineorder": lineorder, "customer": customer, "supplier": supplier, "part": part, "dates": days}
    return save(out, raw)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("from-dbgen")
    a.add_argument("tbl", type=Path)
    a.add_argument("out", type=Path)
    g = sub.add_parser("generate")
    g.add_argument("out", type=Path)
    g.add_argument("--rows", type=int, default=4000)
    g.add_argument("--seed", type=int, default=16)
    args = ap.parse_args()
    model = (
        from_dbgen(args.tbl, args.out)
        if args.cmd == "from-dbgen"
        else generate(args.out, args.rows, args.seed)
    )
    print(model)


if __name__ == "__main__":
    main()
