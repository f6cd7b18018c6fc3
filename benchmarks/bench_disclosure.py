"""Disclosure control's cost on the demo facts (issue 13): a public-role aggregate against the
same aggregate for an unprotected analyst, with the demo model's own rules and roles
(model/cubes/*.yaml `disclosure:`, model/roles/), and each cube's pattern computation.

Run in process on a copy of a demo data directory (chDB locks the one it opens):

    python benchmarks/bench_disclosure.py --data /tmp/labis-bench-sdc [--runs 15]

Per query, medians of interleaved runs: the engine's time for the analyst, for the public role
(suppression: the same SQL, protection looks cells up in the pattern; the cell key method reads
each cell's persons too), the whole service call of each, and the floor — the analyst's SQL run
as raw chDB SQL in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from labis_olap.engine.embedded import EmbeddedEngine  # noqa: E402
from labis_olap.model.cut_grammar import parse_cuts, parse_drilldowns  # noqa: E402
from labis_olap.model.reader import read_model  # noqa: E402
from labis_olap.physical.layout import CubeLayout  # noqa: E402
from labis_olap.query.cell import CubeQuery  # noqa: E402
from labis_olap.service import ANONYMOUS, CubeService, Principal  # noqa: E402

PUBLIC = ANONYMOUS
ANALYST = Principal("anna", frozenset({"analyst", "public"}))
QUERIES = [
    ("unemployment", "municipality × year", ("persons", "new_registrations"),
     "territory:municipality|time:year", ""),
    ("unemployment", "region × month, 2024", ("persons", "new_registrations"),
     "territory:region|time:month", "time:2024"),
    ("social_assistance", "region × month × benefit, 2024", ("recipients", "amount", "payments"),
     "territory:region|time:month|benefit_type:benefit_type", "time:2024"),
    ("social_assistance", "grand total", ("recipients", "amount", "payments"), "", ""),
    ("pensions", "region × year × benefit × gender", ("pensioners", "amount"),
     "territory:region|time:year|benefit_type:benefit_type|gender", ""),
    ("disability", "region × month × group, 2024 (cell key)", ("persons",),
     "territory:region|time:month|disability_group", "time:2024"),
]  # fmt: skip


def query(cube: str, measures: tuple[str, ...], drill: str, cut: str) -> CubeQuery:
    return CubeQuery(cube, measures, parse_cuts(cut), parse_drilldowns(drill))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("/tmp/labis-bench-sdc"))
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    if not (args.data / "store").exists():
        sys.exit(f"{args.data}: no demo data (copy a `labis demo` data directory there first)")
    model = read_model(ROOT / "model")
    engine = EmbeddedEngine(args.data)
    service = CubeService(model, engine)
    for cube in dict.fromkeys(c for c, *_ in QUERIES):
        table = CubeLayout(model, model.cubes[cube], engine.database).facts_table
        facts = engine.query(f"SELECT count() AS n FROM `{engine.database}`.`{table}`").column("n")[0]
        start = time.perf_counter()
        first = next(q for q in QUERIES if q[0] == cube)
        service.aggregate(query(cube, *first[2:]), PUBLIC)  # the first computes the pattern
        took = time.perf_counter() - start
        if model.cubes[cube].disclosure.method == "suppression":  # type: ignore[union-attr]
            pattern = service.disclosure_pattern(cube)
            print(
                f"{cube}: {facts.as_py():,} facts; pattern {took:.2f} s: {pattern.cells} cells, "
                f"{pattern.primary} primary ({pattern.dominated} by dominance), {pattern.secondary} "
                f"secondary, {pattern.rounds} audit rounds, narrowest interval {pattern.narrowest:.2f}× "
                f"the protection level ({pattern.status_limited} counts as wide as their statuses allow)"
            )
        else:
            print(f"{cube}: {facts.as_py():,} facts; first public answer {took:.2f} s (cell key)")
    head = ["query", "floor ms", "analyst eng", "public eng", "pub/ana eng", "analyst call",
            "public call", "pub/ana call", "pub/floor"]  # fmt: skip
    rows = []
    for cube, name, measures, drill, cut in QUERIES:
        q = query(cube, measures, drill, cut)
        sql = service.aggregate(q, ANALYST).explain
        samples: dict[str, list[float]] = {k: [] for k in ("floor", "ae", "pe", "ac", "pc")}
        for _ in range(args.runs):  # interleaved: the machine's drift hits all alike
            samples["floor"].append(_timed(lambda s=sql: engine.query(s.sql, s.params)) * 1000)
            t = time.perf_counter()
            a = service.aggregate(q, ANALYST)
            samples["ac"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            p = service.aggregate(q, PUBLIC)
            samples["pc"].append((time.perf_counter() - t) * 1000)
            samples["ae"].append(a.explain.engine_ms)
            samples["pe"].append(p.explain.engine_ms)
        m = {k: statistics.median(v) for k, v in samples.items()}
        rows.append([name, f"{m['floor']:.1f}", f"{m['ae']:.1f}", f"{m['pe']:.1f}",
                     f"{m['pe'] / m['ae']:.2f}", f"{m['ac']:.1f}", f"{m['pc']:.1f}",
                     f"{m['pc'] / m['ac']:.2f}", f"{m['pc'] / m['floor']:.2f}"])  # fmt: skip
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print(f"(medians of {args.runs} interleaved runs; eng = the engine's time, call = the service call)")


def _timed(f: object) -> float:
    assert callable(f)
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
