"""Cell key method benchmark: a public-role aggregate under `method: cell_key` against the same
aggregate for an unprotected role, on the demo data, in one run (goal: ≤ 2×).

    python benchmarks/bench_cellkey.py [--rows 10000000] [--data-dir /tmp/labis-bench-ckm]
                                       [--source /tmp/labis-demo-10m] [--runs 21]

The demo model is copied with a `disclosure:` block added to social_assistance (cell key
method, two publication tables), and the cube service is opened in this process on a copy of
a demo data directory (`--source`, copied to `--data-dir` once: chDB locks a data directory;
else `labis demo --rows N` fills `--data-dir`). For each query, the medians of `--runs`, the
three taking turns run by run:

- floor: the engine running the analyst's SQL (what the planner chose), raw chDB;
- analyst: the cube service's answer for a role that is not protected (cache off);
- public: the same for the public role: the analyst's engine query, then each cell looked up
  in the perturbation computed once per data version (cache off).

The one-off computation of the perturbation (every cell of both tables, every margin, with
its cell key from the contributors' bitmaps) is timed apart: the first public request of a
data version pays it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from bench_api import MARKER, ensure_demo  # noqa: E402

from labis_olap.engine.embedded import EmbeddedEngine  # noqa: E402
from labis_olap.model.cut_grammar import parse_cuts, parse_drilldowns  # noqa: E402
from labis_olap.model.reader import read_model  # noqa: E402
from labis_olap.query.cell import CubeQuery  # noqa: E402
from labis_olap.service import CubeService, Principal  # noqa: E402

CUBE = "social_assistance"
RULES = """
disclosure:
  method: cell_key
  threshold: 5
  tables:
    - "territory:municipality|time:year|benefit_type:benefit_type"
    - "territory:region|time:month"
"""
QUERIES = [
    ("recipients by region × year", "territory:region|time:year", ""),
    ("recipients by municipality, 2024", "territory:municipality", "time:2024"),
    ("recipients by benefit, Latgale 2024", "benefit_type:benefit_type", "territory:LV005|time:2024"),
    ("recipients by month, 2024", "time:month", "time:2024"),
    ("recipients, total", "", ""),
]
PUBLIC = Principal("visitor")
ANALYST = Principal("anna", frozenset({"analyst", "public"}))
ROLES = {
    "public": "role: public\ncubes: [{cube: social_assistance}]\n",
    "analyst": "role: analyst\ncubes: [{cube: '*', microdata: true}]\n",
}


def model_copy(into: Path) -> Path:
    root = into / "model"
    shutil.copytree(ROOT / "model", root)
    cube = root / "cubes" / f"{CUBE}.yaml"
    text = cube.read_text()
    if "\ndisclosure:" in text:  # the demo model's own rules (another method) give way
        text = text[: text.index("\ndisclosure:")] + "\n"
    cube.write_text(text + textwrap.dedent(RULES))
    roles = root / "roles"
    shutil.rmtree(roles, ignore_errors=True)
    roles.mkdir()
    for name, body in ROLES.items():
        (roles / f"{name}.yaml").write_text(body)
    return root


def medians_ms(fns: list[Callable[[], object]], runs: int) -> list[float]:
    """Each function's median time, the functions taking turns run by run (a shared machine's
    noise then falls on all of them alike)."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, out in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            out.append((time.perf_counter() - start) * 1000)
    return [statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/labis-bench-ckm"))
    parser.add_argument("--source", type=Path, default=Path("/tmp/labis-demo-10m"))
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    marker = args.data_dir / MARKER
    if not marker.exists() and (args.source / MARKER).exists():
        print(f"data: copying {args.source} to {args.data_dir}", flush=True)
        shutil.copytree(args.source, args.data_dir, symlinks=True)
    ensure_demo(args.data_dir, args.rows)

    with tempfile.TemporaryDirectory() as tmp:
        model = read_model(model_copy(Path(tmp)))
        engine = EmbeddedEngine(args.data_dir)
        service = CubeService(model, engine)
        start = time.perf_counter()
        service._pattern(service._protection(model.cubes[CUBE], None, CubeQuery(CUBE)))  # type: ignore[arg-type]
        once = (time.perf_counter() - start) * 1000

        print(f"\n{args.rows:,} facts; cube {CUBE}, method cell_key; medians of {args.runs} runs (ms)\n")
        head = f"{'query':<38} {'floor':>8} {'analyst':>8} {'public':>8} {'pub/floor':>9} {'pub/analyst':>11}"
        print(head)
        print("-" * len(head))
        worst = 0.0
        for title, drill, cut in QUERIES:
            query = CubeQuery(CUBE, ("recipients",), parse_cuts(cut), parse_drilldowns(drill))
            plain = service.aggregate(query, ANALYST)
            sql, params = plain.explain.sql, plain.explain.params
            published = service.aggregate(query, PUBLIC)
            assert published.cells.num_rows == plain.cells.num_rows or not drill
            floor, analyst, public = medians_ms(
                [
                    lambda sql=sql, params=params: engine.query(sql, params),  # type: ignore[misc]
                    lambda q=query: service.aggregate(q, ANALYST),  # type: ignore[misc]
                    lambda q=query: service.aggregate(q, PUBLIC),  # type: ignore[misc]
                ],
                args.runs,
            )
            worst = max(worst, public / analyst)
            print(
                f"{title:<38} {floor:>8.2f} {analyst:>8.2f} {public:>8.2f} "
                f"{public / floor:>8.2f}× {public / analyst:>10.2f}×"
            )
        print(f"\nthe perturbation of both tables, once per data version: {once:,.0f} ms")
        print(f"worst public/analyst: {worst:.2f}× (goal ≤ 2×)")
        engine.close()


if __name__ == "__main__":
    main()
