"""MDX benchmark: statements as clients send them, through the cube service.

    python benchmarks/bench_mdx.py [--rows 10000000] [--runs 9] [--data-dir /tmp/labis-bench-mdx]

(a) The median time per statement over a corpus of client-style statements on the
    unemployment and social_assistance cubes, with the number of `aggregate` calls each made.
(b) Mondrian's FoodMart test queries (tests/cases/mondrian_foodmart.yaml) on examples/foodmart,
    loaded into a database of its own in the same data directory: the median time per query.
(c) Excel's pivot table drilling one region open — `NON EMPTY Hierarchize(DrilldownMember(
    DrilldownLevel({[territory].[All]}), {region}))` in 2024 — against the REST aggregate that
    answers the same cells (municipality drilldown with rollup subtotals, one call), in the same
    run; the goal is at most 2×.

Each table has its floor measured in the same run: raw chDB SQL, one GROUP BY over the facts
that reads what the statements read. The demo data is made by `labis demo` (or reused if a
previous run left the same number of rows, as benchmarks/bench_api.py does); never point
--data-dir at a directory another process holds: copy it first.

The result cache is off (every statement runs its engine queries). Medians, not means: a
shared 2-core machine is noisy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from ruamel.yaml import YAML

from labis_olap.compiler.apply import apply_model
from labis_olap.engine.embedded import EmbeddedEngine
from labis_olap.loaders.run import load_file
from labis_olap.loaders.spec import find_spec, load_plan
from labis_olap.mdx import execute
from labis_olap.model.cut_grammar import parse_cuts, parse_drilldowns
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import CubeLayout
from labis_olap.query.cell import CubeQuery
from labis_olap.service import ANONYMOUS, CubeService

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import ensure_demo

ROOT = Path(__file__).resolve().parent.parent
FOODMART = ROOT / "examples" / "foodmart"
MONDRIAN = ROOT / "tests" / "cases" / "mondrian_foodmart.yaml"
REGION = "[territory].[region].[region].&[LV00A]"
CORPUS = {
    "stock by region, 2024": "SELECT {[Measures].[registered_unemployed]} ON 0, "
    "[territory].[region].[region].Members ON 1 FROM [unemployment] WHERE [time].[2024]",
    "flows × gender by year": "SELECT [gender].[gender].Members * {[Measures].[new_registrations]} ON 0, "
    "[time].[ymd].[year].Members ON 1 FROM [unemployment]",
    "Excel drilldown level": "SELECT NON EMPTY Hierarchize({DrilldownLevel({[territory].[region].[All]},,,"
    "INCLUDE_CALC_MEMBERS)}) ON 1, {[Measures].[registered_unemployed], [Measures].[persons]} ON 0 "
    "FROM [unemployment] WHERE [time].[2024]",
    "YTD running sum by month": "WITH MEMBER [Measures].[ytd] AS Sum(YTD(), [Measures].[new_registrations]) "
    "SELECT {[Measures].[new_registrations], [Measures].[ytd]} ON 0, "
    "Descendants([time].[2024], [time].[ymd].[month]) ON 1 FROM [unemployment]",
    "ParallelPeriod, quarters": "WITH MEMBER [Measures].[ly] AS ([Measures].[registered_unemployed], "
    "ParallelPeriod([time].[ymd].[year], 1)) SELECT {[Measures].[registered_unemployed], "
    "[Measures].[ly]} ON 0, "
    "[time].[2024].Children ON 1 FROM [unemployment]",
    "distinct persons over two years": "WITH MEMBER [time].[both] AS Aggregate({[time].[2023], "
    "[time].[2024]}) "
    "SELECT {[Measures].[persons]} ON 0, {[time].[2023], [time].[2024], [time].[both]} ON 1 FROM "
    "[unemployment]",
    "TopCount municipalities": "SELECT {[Measures].[amount]} ON 0, "
    "TopCount([territory].[region].[municipality]"
    ".Members, 10, [Measures].[amount]) ON 1 FROM [social_assistance] WHERE [time].[2024]",
    "sub-select, visual total": "SELECT {[Measures].[amount], [Measures].[recipients]} ON 0, "
    "[benefit_type].[benefit_type].Members ON 1 FROM (SELECT {" + REGION + "} ON 0 FROM [social_assistance])",
    "calculated ratio by region": "WITH MEMBER [Measures].[per_payment] AS [Measures].[amount] / "
    "[Measures].[payments], FORMAT_STRING = '#,##0.00' SELECT {[Measures].[per_payment]} ON 0, "
    "[territory].[region].[region].Members ON 1 FROM [social_assistance]",
    "crossjoin, NON EMPTY": "SELECT {[Measures].[payments]} ON 0, NON EMPTY "
    "CrossJoin([gender].[gender].Members, "
    "[age_group].[age_group].Members) ON 1 FROM [social_assistance] WHERE [time].[2024]",
}
EXCEL = (
    "SELECT {[Measures].[registered_unemployed], [Measures].[new_registrations]} ON 0, "
    "NON EMPTY "
    "Hierarchize(DrilldownMember({DrilldownLevel({[territory].[region].[All]},,,INCLUDE_CALC_MEMBERS)}, "
    "{" + REGION + "},,,INCLUDE_CALC_MEMBERS)) ON 1 FROM [unemployment] WHERE [time].[2024]"
)


def median_ms(run: Callable[[], Any], runs: int) -> float:
    run()  # warm: plans, member lists of the engine's dictionaries
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def foodmart(data_dir: Path) -> tuple[CubeService, EmbeddedEngine]:
    """examples/foodmart in a database of its own (loaded again each run: 86,837 facts)."""
    model = read_model(FOODMART / "model")
    engine = EmbeddedEngine(data_dir, database="bench_foodmart")
    engine.execute("DROP DATABASE IF EXISTS bench_foodmart")
    engine.execute("CREATE DATABASE bench_foodmart")
    apply_model(model, engine)
    plan = load_plan(find_spec(FOODMART / "loaders", "foodmart_sales"), model)
    load_file(plan, FOODMART / "data" / "sales_fact_1997.parquet", model, engine, None)
    return CubeService(model, engine), engine


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--data-dir", default="/tmp/labis-bench-mdx")
    args = ap.parse_args()
    console = Console(width=140)
    model = read_model(ROOT / "model")
    data_dir = Path(args.data_dir)
    ensure_demo(data_dir, args.rows)
    engine = EmbeddedEngine(data_dir)
    service = CubeService(model, engine)
    facts = CubeLayout(model, model.cubes["unemployment"], engine.database).facts_table
    floor_sql = (
        f"SELECT municipality, sum(new_registration) FROM `{engine.database}`.`{facts}` "
        "WHERE snapshot_date BETWEEN '2024-01-01' AND '2024-12-31' GROUP BY municipality"
    )
    floor_ms = median_ms(lambda: engine.query(floor_sql), args.runs)

    table = Table(title=f"MDX statements, {args.rows:,} demo facts, cache off (median of {args.runs})")
    for col in ("statement", "ms", "× floor", "aggregates", "cells"):
        table.add_column(col, justify="left" if col == "statement" else "right")
    for title, text in CORPUS.items():
        result = execute(service, ANONYMOUS, text)
        ms = median_ms(lambda t=text: execute(service, ANONYMOUS, t), args.runs)
        table.add_row(
            title, f"{ms:.1f}", f"{ms / floor_ms:.1f}×", str(result.stats.aggregates), str(len(result.cells))
        )
    table.add_row("floor: raw chDB SQL, municipality GROUP BY of 2024", f"{floor_ms:.1f}", "1.0×", "", "")
    console.print(table)

    fm_service, fm_engine = foodmart(data_dir)
    cases = YAML(typ="safe").load(MONDRIAN.read_text(encoding="utf-8"))["cases"]
    per_query = [
        median_ms(lambda t=c["mdx"]: execute(fm_service, ANONYMOUS, t, lang="en"), max(args.runs // 3, 3))
        for c in cases
    ]
    fm_facts = CubeLayout(fm_service.model, fm_service.model.cubes["sales"], "bench_foodmart").facts_table
    fm_floor = median_ms(
        lambda: fm_engine.query(
            f"SELECT store_id, sum(unit_sales) FROM bench_foodmart.`{fm_facts}` GROUP BY store_id"
        ),
        args.runs,
    )
    fm = Table(title=f"Mondrian's FoodMart test queries ({len(cases)}), 86,837 facts, cache off")
    for col in ("", "ms", "× floor"):
        fm.add_column(col, justify="left" if not col else "right")
    median = statistics.median(per_query)
    fm.add_row("median per query", f"{median:.1f}", f"{median / fm_floor:.1f}×")
    fm.add_row("slowest query", f"{max(per_query):.1f}", f"{max(per_query) / fm_floor:.1f}×")
    fm.add_row("all queries, once each", f"{sum(per_query):.1f}", "")
    fm.add_row("floor: raw chDB SQL, store GROUP BY", f"{fm_floor:.1f}", "1.0×")
    console.print(fm)

    result = execute(service, ANONYMOUS, EXCEL)
    rest = CubeQuery(
        "unemployment",
        ("registered_unemployed", "new_registrations"),
        parse_cuts("time:2024"),
        parse_drilldowns("territory:municipality"),
        subtotals="rollup",
    )
    mdx_ms = median_ms(lambda: execute(service, ANONYMOUS, EXCEL), args.runs)
    rest_ms = median_ms(lambda: service.aggregate(rest, ANONYMOUS), args.runs)
    vs = Table(
        title=f"Excel's drilled pivot against the REST aggregate of the same cells, {args.rows:,} facts"
    )
    for col in ("query", "ms", "× REST", "× floor"):
        vs.add_column(col, justify="left" if col == "query" else "right")
    vs.add_row(
        f"MDX, {len(result.axes[1].tuples)} rows, {result.stats.aggregates} aggregate(s)",
        f"{mdx_ms:.1f}",
        f"{mdx_ms / rest_ms:.2f}×",
        f"{mdx_ms / floor_ms:.1f}×",
    )
    vs.add_row(
        "REST /aggregate, municipality + rollup subtotals",
        f"{rest_ms:.1f}",
        "1.00×",
        f"{rest_ms / floor_ms:.1f}×",
    )
    vs.add_row("floor: raw chDB SQL, municipality GROUP BY of 2024", f"{floor_ms:.1f}", "", "1.0×")
    console.print(vs)
    fm_engine.execute("DROP DATABASE IF EXISTS bench_foodmart")


if __name__ == "__main__":
    main()
