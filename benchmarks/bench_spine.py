"""Spine benchmarks: demo load throughput and engine time of the same query on rollups vs facts.

    python benchmarks/bench_spine.py [--rows 10000000] [--runs 15] [--data-dir /tmp/labis-bench]

Prints a table of medians (this machine is 2-core and noisy: medians, not means). Engine time is
the time of the engine call alone (SQL in, Arrow out), as measured by the aggregate executor.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from labis_olap.demo.generate import DICTIONARIES, generate
from labis_olap.demo.load import BATCH_ROWS, insert_batches, load_demo, reset_demo_tables
from labis_olap.engine.embedded import EmbeddedEngine
from labis_olap.model.cut_grammar import parse_drilldowns
from labis_olap.model.reader import read_model
from labis_olap.query.cell import CubeQuery
from labis_olap.query.executor import AggregateExecutor

ROOT = Path(__file__).resolve().parent.parent


def median_ms(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up: dictionaries loaded, caches filled
    return statistics.median(fn() for _ in range(runs))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--data-dir", default="/tmp/labis-bench")
    ap.add_argument("--keep", action="store_true", help="reuse data already loaded in --data-dir")
    args = ap.parse_args()
    console = Console(width=160)
    model = read_model(ROOT / "model")
    data_dir = Path(args.data_dir)
    if not args.keep and data_dir.exists():
        shutil.rmtree(data_dir)
    engine = EmbeddedEngine(data_dir)

    load = Table(title=f"Demo load, {args.rows:,} facts ({platform.machine()}, {platform.python_version()})")
    for col in ("step", "seconds", "rows/s"):
        load.add_column(col, justify="right")
    if not args.keep:
        t0 = time.perf_counter()
        generated = sum(b.num_rows for c, b in generate(args.rows) if c not in DICTIONARIES)
        gen_s = time.perf_counter() - t0
        load.add_row("generate only (no insert)", f"{gen_s:.1f}", f"{generated / gen_s:,.0f}")
        stats = load_demo(model, engine, args.rows, 42, None)
        load.add_row(
            "labis demo: generate + insert, every rollup live",
            f"{stats.seconds:.1f}",
            f"{stats.rows / stats.seconds:,.0f}",
        )
        # The ceiling of the line above: the same inserts of batches generated beforehand.
        batches = list(generate(args.rows, 42, BATCH_ROWS))
        reset_demo_tables(model, engine)
        inserted = insert_batches(model, engine, batches)
        del batches
        load.add_row(
            "insert only (batches made beforehand), every rollup live",
            f"{inserted.seconds:.1f}",
            f"{inserted.rows / inserted.seconds:,.0f}",
        )
        console.print(load)

    rollups = AggregateExecutor(model, engine)
    facts = AggregateExecutor(model, engine, use_rollups=False)

    def timed(
        executor: AggregateExecutor, cube: str, measures: tuple[str, ...], drill: str
    ) -> tuple[float, str]:
        q = CubeQuery(cube, measures, (), parse_drilldowns(drill))
        source = executor.aggregate(q, with_summary=False).source
        return median_ms(lambda: executor.aggregate(q, with_summary=False).engine_ms, args.runs), source

    cases = [
        (
            "sum/count by region × quarter",
            "social_assistance",
            ("amount", "payments"),
            "territory:region|time:quarter",
        ),
        ("sum by region × quarter", "unemployment", ("new_registrations",), "territory:region|time:quarter"),
        (
            "exact distinct persons by region × quarter",
            "unemployment",
            ("persons",),
            "territory:region|time:quarter",
        ),
        (
            "approx. distinct persons by region × quarter",
            "unemployment",
            ("persons_approx",),
            "territory:region|time:quarter",
        ),
        (
            "stock at quarter end by region",
            "unemployment",
            ("registered_unemployed",),
            "territory:region|time:quarter",
        ),
        (
            "exact distinct recipients by region × month",
            "social_assistance",
            ("recipients",),
            "territory:region|time:month",
        ),
    ]
    table = Table(title=f"Engine time, median of {args.runs} runs (ms)")
    for col in ("query", "source chosen", "rollup ms", "facts ms", "facts / rollup"):
        table.add_column(col, justify="right")
    for title, cube, measures, drill in cases:
        r_ms, source = timed(rollups, cube, measures, drill)
        f_ms, _ = timed(facts, cube, measures, drill)
        table.add_row(title, source, f"{r_ms:.1f}", f"{f_ms:.1f}", f"{f_ms / r_ms:.1f}×")
    # Baselines from the issue: raw scans with an approximate and an exact count, by hand.
    db = engine.database
    from labis_olap.physical.layout import map_dict

    terr = map_dict(model, db, model.dimensions["territory"])
    for label, fn in (
        ("raw scan, uniqCombined (approx.)", "uniqCombined"),
        ("raw scan, uniqExact", "uniqExact"),
    ):
        sql = (
            f"SELECT dictGet('{terr}', 'region', tuple(toString(municipality)), snapshot_date) AS r, "
            f"toStartOfQuarter(snapshot_date) AS q, {fn}(person) FROM `{db}`.facts_unemployment GROUP BY r, q"
        )

        def run(sql: str = sql) -> float:
            t = time.perf_counter()
            engine.query(sql)
            return (time.perf_counter() - t) * 1000

        table.add_row(
            f"distinct persons by region × quarter: {label}",
            "facts (hand SQL)",
            "",
            f"{median_ms(run, args.runs):.1f}",
            "",
        )
    console.print(table)


if __name__ == "__main__":
    main()
