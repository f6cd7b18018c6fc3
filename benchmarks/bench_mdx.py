"""MDX benchmark: statements as clients send them over the demo cubes, through the cube service.

    python benchmarks/bench_mdx.py [--rows 1000000] [--runs 9] [--data-dir /tmp/labis-bench-mdx] [--keep]

(a) The median time per statement over a corpus of client-style statements on the
    unemployment and social_assistance cubes, with the number of `aggregate` calls each made.
(b) Excel's pivot table drilling one region open — `NON EMPTY Hierarchize(DrilldownMember(
    DrilldownLevel({[territory].[All]}), {region}))` by year — against the REST aggregate that
    answers the same cells (municipality drilldown with rollup subtotals, one call), in the same
    run; the goal is at most 2×.

The result cache is off (every statement runs its engine queries). Medians, not means: a
shared 2-core machine is noisy.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from labis_olap.demo.load import load_demo
from labis_olap.engine.embedded import EmbeddedEngine
from labis_olap.mdx import execute
from labis_olap.model.cut_grammar import parse_cuts, parse_drilldowns
from labis_olap.model.reader import read_model
from labis_olap.query.cell import CubeQuery
from labis_olap.service import ANONYMOUS, CubeService

ROOT = Path(__file__).resolve().parent.parent
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--data-dir", default="/tmp/labis-bench-mdx")
    ap.add_argument("--keep", action="store_true", help="reuse data already loaded in --data-dir")
    args = ap.parse_args()
    console = Console(width=140)
    model = read_model(ROOT / "model")
    data_dir = Path(args.data_dir)
    if not args.keep and data_dir.exists():
        shutil.rmtree(data_dir)
    engine = EmbeddedEngine(data_dir)
    if not args.keep:
        load_demo(model, engine, args.rows, 42, None)
    service = CubeService(model, engine)

    table = Table(title=f"MDX statements, {args.rows:,} demo facts, cache off (median of {args.runs})")
    for col in ("statement", "ms", "aggregates", "cells"):
        table.add_column(col, justify="left" if col == "statement" else "right")
    for title, text in CORPUS.items():
        result = execute(service, ANONYMOUS, text)
        ms = median_ms(lambda t=text: execute(service, ANONYMOUS, t), args.runs)
        table.add_row(title, f"{ms:.1f}", str(result.stats.aggregates), str(len(result.cells)))
    console.print(table)

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
    vs = Table(title="Excel's drilled pivot against the REST aggregate of the same cells")
    for col in ("query", "ms", "ratio"):
        vs.add_column(col, justify="left" if col == "query" else "right")
    vs.add_row(
        f"MDX, {len(result.axes[1].tuples)} rows, {result.stats.aggregates} aggregate(s)",
        f"{mdx_ms:.1f}",
        f"{mdx_ms / rest_ms:.2f}×",
    )
    vs.add_row("REST /aggregate, municipality + rollup subtotals", f"{rest_ms:.1f}", "1.00×")
    console.print(vs)


if __name__ == "__main__":
    main()
