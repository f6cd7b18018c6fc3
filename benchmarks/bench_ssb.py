"""SSB benchmark: the Star Schema Benchmark's 13 queries through the REST API against the same
queries written by hand in chDB SQL, load time against a raw insert, and model validation time.

    python benchmarks/bench_ssb.py [--tbl /tmp/ssb/sf1] [--work /tmp/ssb/out] [--runs 7]

`--tbl` holds dbgen's *.tbl files (the public generator github.com/vadimtk/ssb-dbgen, built
with gcc outside the repository: `make && ./dbgen -s 1 -T a`); examples/ssb/ssb.py turns them
into the example model's members files and Parquet (in `--work`, never in the repository).

(a) Validation: reading and validating the model with its 200,000-member part dimension.
(b) Load: `labis load`'s path (loaders.run.load_file) for the line orders into the cube's facts,
    its rollups' materialized views live, against a raw `INSERT … SELECT FROM file(Parquet)` of
    the same file into a second copy of the same tables and views.
(c) Queries: each through the API in process (the ASGI app, result cache off), against SSB's SQL
    written by hand over raw tables (lineorder stored as the facts are: by date, partitioned by
    year; customer, supplier, part and date tables) in the same chDB. Answers must be equal.
    Median of `--runs` interleaved runs after a warm-up; the ratio is API time / SQL time.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from labis_olap.api import create_app  # noqa: E402
from labis_olap.compiler.apply import apply_model  # noqa: E402
from labis_olap.engine.embedded import EmbeddedEngine  # noqa: E402
from labis_olap.loaders.run import load_file  # noqa: E402
from labis_olap.loaders.spec import find_spec, load_plan  # noqa: E402
from labis_olap.model.reader import read_model  # noqa: E402
from labis_olap.settings import Settings  # noqa: E402

GOAL = 1.5


def _ssb() -> Any:
    spec = importlib.util.spec_from_file_location("ssb_example", ROOT / "examples" / "ssb" / "ssb.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ssb_example"] = module
    spec.loader.exec_module(module)
    return module


ssb = _ssb()


def timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def load(model: Any, args: argparse.Namespace, facts_file: Path) -> tuple[EmbeddedEngine, float, float]:
    """A fresh data directory: the model applied twice (LabIS's database and the floor's), the
    line orders loaded into each, and the raw SSB tables for the hand-written SQL."""
    shutil.rmtree(args.data_dir, ignore_errors=True)
    engine = EmbeddedEngine(args.data_dir, database="ssb")
    floor_engine = EmbeddedEngine(args.data_dir, database="ssb_floor")
    apply_model(model, engine)
    apply_model(model, floor_engine)

    # (b) load: LabIS's loader against a raw insert of the same file, the same views live.
    plan = load_plan(find_spec(args.work / "loaders", "ssb_lineorder"), model)
    ms_load, report = timed(lambda: load_file(plan, facts_file, model, engine, None))
    assert report.status == "ok" and report.rows_rejected == 0, report
    cols = ", ".join(f"`{c.name}`" for c in model.cubes["lineorder"].columns)
    ms_raw_load, _ = timed(
        lambda: floor_engine.execute(
            f"INSERT INTO `ssb_floor`.`facts_lineorder` ({cols})"
            f" SELECT {cols} FROM file('{facts_file}', Parquet)"
        )
    )

    # Raw SSB tables for the hand-written SQL.
    engine.execute("CREATE DATABASE IF NOT EXISTS `ssb_raw`")
    for name, columns in ssb.RAW_DDL.items():
        part = " PARTITION BY toYear(lo_orderdate)" if name == "lineorder" else ""
        engine.execute(
            f"CREATE TABLE `ssb_raw`.`{name}` ({columns})"
            f" ENGINE = MergeTree{part} ORDER BY {ssb.RAW_ORDER[name]}"
        )
        path = (args.work / f"raw_{name}.parquet").resolve()
        engine.execute(f"INSERT INTO `ssb_raw`.`{name}` SELECT * FROM file('{path}', Parquet)")
    engine.execute("OPTIMIZE TABLE `ssb_raw`.`lineorder` FINAL")
    engine.execute("OPTIMIZE TABLE `ssb`.`facts_lineorder` FINAL")

    floor_engine.close()
    return engine, ms_load, ms_raw_load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tbl", type=Path, default=Path("/tmp/ssb/sf1"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/ssb/out"))
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/ssb/chdb"))
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-rollups", action="store_true", help="answer every query from the facts")
    ap.add_argument("--reuse", action="store_true", help="query the data loaded by an earlier run (no load)")
    args = ap.parse_args()

    if not (args.work / "lineorder.parquet").exists():
        ssb.from_dbgen(args.tbl, args.work)
    model_dir = args.work / "model"
    os.environ["LABIS_CACHE_DIR"] = tempfile.mkdtemp(prefix="ssb-cache-")  # validate, not a cache hit
    ms_validate, model = timed(lambda: read_model(model_dir))
    asked = model  # the model queries are planned on (loads always keep every rollup)
    if args.no_rollups:
        cubes = {n: c.model_copy(update={"rollups": []}) for n, c in model.cubes.items()}
        asked = dataclasses.replace(model, cubes=cubes)
    facts_file = (args.work / "lineorder.parquet").resolve()

    marker = args.data_dir / ".ssb_loaded"
    if args.reuse and marker.exists():
        engine = EmbeddedEngine(args.data_dir, database="ssb")
        ms_load = ms_raw_load = float("nan")
    else:
        engine, ms_load, ms_raw_load = load(model, args, facts_file)
        marker.write_text("ok")
    rows = engine.query("SELECT count() AS n FROM `ssb`.`facts_lineorder`").column("n")[0].as_py()

    settings = Settings(model_dir=model_dir, data_dir=args.data_dir, database="ssb", cache_bytes=0)
    results = []
    with TestClient(create_app(settings, asked, engine)) as client:
        for q in ssb.QUERIES:
            url = f"/cube/lineorder/{q.url}&explain=1"
            sql = q.sql.format(db="`ssb_raw`")
            body = client.get(url).json()
            expected = {tuple(r.values()) for r in engine.query(sql).to_pylist()}
            if q.keys:
                got = {(*(c[k] for k in q.keys), c[q.measure]) for c in body["cells"]}
            else:
                got = {(body["summary"][q.measure],)}
            api_ms, sql_ms = [], []
            for _ in range(args.runs):
                api_ms.append(timed(lambda: client.get(url))[0])  # noqa: B023
                sql_ms.append(timed(lambda: engine.query(sql))[0])  # noqa: B023
            a, s = statistics.median(api_ms), statistics.median(sql_ms)
            results.append((q.name, body["explain"]["source"], len(got), got == expected, a, s))
    engine.close()

    print(f"\nSSB, {rows:,} line orders; medians of {args.runs} interleaved runs (ms); goal ≤ {GOAL}×\n")
    print(f"{'query':6} {'source':8} {'cells':>6} {'equal':>5} {'API':>9} {'SQL':>9} {'ratio':>6}")
    for name, source, n, equal, a, s in results:
        print(f"{name:6} {source:8} {n:6} {equal!s:>5} {a:9.1f} {s:9.1f} {a / s:6.2f}")
    total_a = sum(r[4] for r in results)
    total_s = sum(r[5] for r in results)
    print(f"{'sum':6} {'':8} {'':6} {'':5} {total_a:9.1f} {total_s:9.1f} {total_a / total_s:6.2f}")
    print(
        f"\nload {rows:,} line orders: labis {ms_load / 1000:.1f} s, raw INSERT {ms_raw_load / 1000:.1f} s,"
        f" ratio {ms_load / ms_raw_load:.2f}"
    )
    print(f"model validation (read_model, {len(model.members['part']):,} parts): {ms_validate / 1000:.2f} s")
    if not all(r[3] for r in results):
        sys.exit("some answers differ from the hand-written SQL")


if __name__ == "__main__":
    main()
