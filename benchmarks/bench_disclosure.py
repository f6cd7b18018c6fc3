"""Disclosure control's cost on the demo facts (issue 13): a public-role aggregate against the
same aggregate for an unprotected analyst, and the suppression pattern's computation.

The model is the repository's with disclosure rules on `social_assistance` (RULES below: the
regions by month and benefit type, and years by gender and age group, each with every margin)
and two roles, `public` and `analyst`. Run in process on a copy of a demo data directory (chDB
locks the one it opens):

    python benchmarks/bench_disclosure.py --data /tmp/labis-bench-sdc [--runs 15]

Per query, medians of interleaved runs: the engine's time for the analyst, for the public role
(the same SQL: protection looks cells up in the pattern, it adds no engine work), the whole
service call of each, and the floor — the analyst's SQL run as raw chDB SQL in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from labis_olap.engine.embedded import EmbeddedEngine  # noqa: E402
from labis_olap.model.cut_grammar import parse_cuts, parse_drilldowns  # noqa: E402
from labis_olap.model.reader import read_model  # noqa: E402
from labis_olap.physical.layout import CubeLayout  # noqa: E402
from labis_olap.query.cell import CubeQuery  # noqa: E402
from labis_olap.service import CubeService, Principal  # noqa: E402

CUBE = "social_assistance"
RULES = """
disclosure:
  tables:
    - "territory:region|time:month|benefit_type:benefit_type"
    - "time:year|gender|age_group"
  threshold: 5
"""
ROLES = {
    "public": "role: public\ncubes: [{cube: '*'}]\n",
    "analyst": "role: analyst\ncubes: [{cube: '*', microdata: true}]\n",
}
PUBLIC = Principal("visitor")
ANALYST = Principal("anna", frozenset({"analyst", "public"}))
QUERIES = [
    ("region × year, social assistance", "territory:region|time:year", "benefit_type:social_assistance"),
    ("region × month, 2024", "territory:region|time:month", "time:2024"),
    ("benefit type × quarter", "benefit_type:benefit_type|time:quarter", ""),
    ("gender × age group, 2024", "gender|age_group", "time:2024"),
    ("grand total", "", ""),
]


def model_with_rules(work: Path) -> Path:
    root = work / "model"
    shutil.copytree(ROOT / "model", root)
    cube = root / "cubes" / f"{CUBE}.yaml"
    cube.write_text(cube.read_text() + RULES)
    (root / "roles").mkdir(exist_ok=True)
    for name, text in ROLES.items():
        (root / "roles" / f"{name}.yaml").write_text(text)
    return root


def query(drill: str, cut: str) -> CubeQuery:
    return CubeQuery(CUBE, ("recipients", "amount", "payments"), parse_cuts(cut), parse_drilldowns(drill))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("/tmp/labis-bench-sdc"))
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    if not (args.data / "store").exists():
        sys.exit(f"{args.data}: no demo data (copy a `labis demo` data directory there first)")
    with tempfile.TemporaryDirectory() as tmp:
        model = read_model(model_with_rules(Path(tmp)))
        engine = EmbeddedEngine(args.data)
        table = CubeLayout(model, model.cubes[CUBE], engine.database).facts_table
        facts = engine.query(f"SELECT count() AS n FROM `{engine.database}`.`{table}`")
        print(f"data: {facts.column('n')[0].as_py():,} facts of {CUBE} in {args.data}")
        service = CubeService(model, engine)
        start = time.perf_counter()
        service.aggregate(query(*QUERIES[0][1:]), PUBLIC)  # the first computes the pattern
        first = time.perf_counter() - start
        warm = min(_timed(lambda: service.aggregate(query(*QUERIES[0][1:]), PUBLIC)) for _ in range(5))
        pattern = service.disclosure_pattern(CUBE)
        print(
            f"pattern: {first:.2f} s (first public answer {first * 1000:.0f} ms, warm {warm * 1000:.1f} ms): "
            f"{pattern.cells} cells, {pattern.primary} primary ({pattern.dominated} by dominance), "
            f"{pattern.secondary} secondary, {pattern.rounds} audit rounds, narrowest interval "
            f"{pattern.narrowest:.2f}× the protection level"
        )
        head = ["query", "floor ms", "analyst eng", "public eng", "pub/ana eng", "analyst call",
                "public call", "pub/ana call", "pub/floor"]  # fmt: skip
        rows = []
        for name, drill, cut in QUERIES:
            q = query(drill, cut)
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
