"""Scale benchmark: how load rate, disk size and query time grow with the demo's size.

    python benchmarks/bench_scale.py [--sizes 10000000,100000000] [--repeat 30] [--data-dir DIR]

For each size, in the same run and the same embedded data directory (one database per size,
dropped afterwards unless --keep): `labis demo`'s load with every rollup live (rows per second),
the bytes on disk of the facts and of the rollups (active parts), then through the cube service
with the result cache off (every answer from the engine), the p50 and p90 of

- a rollup-served aggregate: new registrations by region × year (the `by_region_quarter`
  rollup), and the stock of registered unemployed at the end of 2024 by region (`stock_by_day`);
- an exact distinct count: distinct persons by region × quarter from the rollup's bitmaps, and
  the same answer from the facts (`uniqExact`-style bitmaps built per query), checked equal.

The floor each size is measured against is the first size in `--sizes`: the table shows each
figure and its ratio to the first size's. The issue's goal for the rollup-served aggregate is a
p50 of 20 ms or less.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from labis_olap.demo.load import load_demo
from labis_olap.engine.embedded import EmbeddedEngine
from labis_olap.model.cut_grammar import parse_cuts, parse_drilldowns
from labis_olap.model.reader import read_model
from labis_olap.query.cell import CubeQuery
from labis_olap.service import ANONYMOUS, CubeService

ROOT = Path(__file__).resolve().parent.parent
QUERIES = {
    "rollup: new registrations, region × year": (
        "new_registrations",
        "territory:region|time:year",
        None,
        True,
    ),
    "rollup: stock end of 2024, region": ("registered_unemployed", "territory:region", "time:2024", True),
    "distinct persons, region × quarter (rollup)": ("persons", "territory:region|time:quarter", None, True),
    "distinct persons, region × quarter (facts)": ("persons", "territory:region|time:quarter", None, False),
}


@dataclass
class Figures:
    rows: int
    load_seconds: float = 0.0
    facts_bytes: int = 0
    rollup_bytes: int = 0
    times: dict[str, tuple[float, float, str]] = field(default_factory=dict)
    """Query → (p50 ms, p90 ms, the source that answered)."""


def measure(rows: int, data_dir: Path, repeat: int, keep: bool) -> Figures:
    model = read_model(ROOT / "model")
    engine = EmbeddedEngine(data_dir, database=f"bench_scale_{rows}")
    fig = Figures(rows)
    try:
        start = time.perf_counter()
        load_demo(model, engine, rows, seed=42)
        fig.load_seconds = time.perf_counter() - start
        sizes = engine.query(
            "SELECT startsWith(table, 'facts_') AS facts, sum(bytes_on_disk) AS b FROM system.parts "
            "WHERE database = {db:String} AND active AND (startsWith(table, 'facts_') "
            "OR startsWith(table, 'rollup_')) GROUP BY facts",
            {"db": engine.database},
        ).to_pylist()
        for r in sizes:
            if r["facts"]:
                fig.facts_bytes = int(r["b"])
            else:
                fig.rollup_bytes = int(r["b"])
        answers: dict[str, list[object]] = {}
        for name, (measure_name, drill, cut, rollups) in QUERIES.items():
            service = CubeService(model, engine, use_rollups=rollups, cache_bytes=0)
            query = CubeQuery(
                cube="unemployment",
                measures=(measure_name,),
                cuts=parse_cuts(cut),
                drilldowns=parse_drilldowns(drill),
            )
            result = service.aggregate(query, ANONYMOUS)  # warm: plans, dictionaries, pages
            answers[name] = result.cells.to_pylist()
            ms = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                service.aggregate(query, ANONYMOUS)
                ms.append((time.perf_counter() - t0) * 1000)
            p90 = statistics.quantiles(ms, n=10)[-1] if len(ms) > 1 else ms[0]
            fig.times[name] = (statistics.median(ms), p90, result.source)
        rollup, facts = (answers[n] for n in QUERIES if n.startswith("distinct persons"))
        assert rollup == facts, "the rollup's distinct persons differ from the facts'"
    finally:
        if not keep:
            engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")
        engine.close()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000000,100000000", help="demo rows, comma-separated")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="labis-bench-scale-"))
    figures = [measure(n, data_dir, args.repeat, args.keep) for n in sizes]
    base = figures[0]

    def ratio(value: float, floor: float) -> str:
        return f"×{value / floor:.2f}" if floor else ""

    shown = ", ".join(f"{n:,}" for n in sizes)
    print(f"\nDemo sizes {shown} (embedded chDB, every rollup live; ratios to the first)")
    print(f"{'figure':<52} " + " ".join(f"{f.rows:>22,}" for f in figures))
    rate = [f.rows / f.load_seconds for f in figures]
    print(f"{'load rate, rows/s':<52} " + " ".join(f"{r:>14,.0f} {ratio(r, rate[0]):>7}" for r in rate))
    print(
        f"{'load time, s':<52} "
        + " ".join(f"{f.load_seconds:>14.1f} {ratio(f.load_seconds, base.load_seconds):>7}" for f in figures)
    )
    for label, attr in (("facts on disk, MiB", "facts_bytes"), ("rollups on disk, MiB", "rollup_bytes")):
        vals = [getattr(f, attr) / 2**20 for f in figures]
        print(f"{label:<52} " + " ".join(f"{v:>14.1f} {ratio(v, vals[0]):>7}" for v in vals))
    for name in QUERIES:
        p50s = [f.times[name][0] for f in figures]
        print(
            f"{name + ', p50 ms':<52} "
            + " ".join(f"{v:>14.1f} {ratio(v, p50s[0]):>7}" for v in p50s)
            + f"   [{figures[-1].times[name][2]}]"
        )
        p90s = [f.times[name][1] for f in figures]
        print(f"{'  p90 ms':<52} " + " ".join(f"{v:>14.1f} {ratio(v, p90s[0]):>7}" for v in p90s))


if __name__ == "__main__":
    main()
