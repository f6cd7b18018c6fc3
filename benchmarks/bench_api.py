"""API benchmark: a real `labis serve` on loopback, engine time vs HTTP, load, and Cubes 1.1.

    python benchmarks/bench_api.py [--rows 10000000] [--data-dir /tmp/labis-bench-api]
                                   [--seconds 15] [--clients 32] [--runs 41] [--skip-cubes]
                                   [--skip-auth | --only-auth]

(a) For rollup-served aggregates on the demo data: the engine time the server reports
    (`explain=1`, cache off) against the end-to-end HTTP p50 measured by a client, one request
    at a time, on a kept-alive connection.
(b) 32 concurrent clients for N seconds over the same query mix, with the result cache on
    (after the first round every request is a hit) and off (every request runs the engine):
    requests/s, p50, p99, errors. `wrk` (Debian package) when installed, with a Lua script
    cycling through the mix; else an asyncio httpx load generator in a separate process.
(c) The same social-assistance aggregates against Cubes 1.1's Slicer on SQLite over the same
    facts (exported as one denormalised table, regions as at each payment's date as LabIS
    counts them), with a check that both answer the same numbers; `--skip-cubes` to leave out.
    Cubes runs in its own venv (`--cubes-python`, default /tmp/cubes-venv/bin/python, created
    when missing with `cubes==1.1` and CUBES_PINS) through benchmarks/cubes_slicer.py.
(d) Authentication and policy: the same queries one at a time in open demo mode and with a
    bearer JWT of a real issuer (oauth2-mock-server, tests/oauth2_issuer.py) whose role cuts
    every answer to one municipality (a row-level filter bound to a token claim), cache on and
    off; `--skip-auth` to leave out.

The data directory is filled by `labis demo --rows N` when it does not hold that many rows
already (else brought up to the current model by `labis apply`); servers are started and
stopped by the script (ports from --port up). Medians and percentiles, not means: a shared
2-core machine is noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
MARKER = ".bench_api_rows"


@dataclass(frozen=True)
class Query:
    title: str
    labis: str
    cubes: str | None = None
    """The same question in the Cubes model below (social_assistance only), if any."""


SA = "/cube/social_assistance/aggregate?aggregates=amount|payments"
CUBES_SA = "/cube/social_assistance/aggregate?aggregates=amount_sum|record_count"
QUERIES = [
    Query("amount by region × year", f"{SA}&drilldown=territory:region|time:year",
          f"{CUBES_SA}&drilldown=territory:region|date:year"),
    Query("amount by region, 2024", f"{SA}&drilldown=territory:region&cut=time:2024",
          f"{CUBES_SA}&drilldown=territory:region&cut=date:2024"),
    Query("amount by benefit, 2024 Q2", f"{SA}&drilldown=benefit_type:benefit_type&cut=time:2024,2",
          f"{CUBES_SA}&drilldown=benefit_type:benefit_type&cut=date:2024,2"),
    Query("amount by month, Latgale", f"{SA}&drilldown=time:month&cut=territory:LV005|time:2024",
          f"{CUBES_SA}&drilldown=date:month&cut=territory:LV005|date:2024"),
    Query("distinct unemployed by region × quarter",
          "/cube/unemployment/aggregate?aggregates=persons&drilldown=territory:region|time:quarter"),
    Query("registered unemployed (stock) by region, 2024",
          "/cube/unemployment/aggregate?aggregates=registered_unemployed&drilldown=territory&cut=time:2024"),
]  # fmt: skip


# --- data --------------------------------------------------------------------------------------


def ensure_demo(data_dir: Path, rows: int) -> None:
    """`labis demo --rows N` into data_dir unless a previous run of this script left exactly that."""
    marker = data_dir / MARKER
    if marker.exists() and marker.read_text().strip() == str(rows):
        print(f"data: {rows:,} demo facts already in {data_dir}; labis apply (the model may have changed)")
        applied = subprocess.run(_labis("apply"), env=_env(data_dir), cwd=ROOT, stdout=subprocess.DEVNULL)
        if applied.returncode == 0:
            return
        print("data: the model changed past what apply does; loading the demo again")
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    print(f"data: loading {rows:,} demo facts into {data_dir} (labis demo)…", flush=True)
    start = time.perf_counter()
    subprocess.run(_labis("demo", "--rows", str(rows)), env=_env(data_dir), cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    marker.write_text(str(rows))
    print(f"data: loaded in {time.perf_counter() - start:.0f} s")


def _labis(*args: str) -> list[str]:
    return [sys.executable, "-c", "from labis_olap.cli import main; main()", *args]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABIS_")}
    # The rate limit (20 requests/s per visitor address by default) off: the load runs measure
    # what the server can answer, from one address.
    env.update(LABIS_DATA_DIR=str(data_dir), LABIS_MODEL_DIR=str(ROOT / "model"), LABIS_RATE_LIMIT="0")
    env.update(extra)
    return env


EXPORT_CODE = """
import sqlite3, sys
from pathlib import Path
from labis_olap.physical.layout import CubeLayout
from labis_olap.engine.embedded import EmbeddedEngine
from labis_olap.model.reader import read_model
from labis_olap.query.planner import facts_shape, Needs
from labis_olap.query.sqlgen import Params, RowContext

model = read_model(Path(sys.argv[1]))
engine = EmbeddedEngine(sys.argv[2])
layout = CubeLayout(model, model.cubes["social_assistance"], engine.database)
ctx = RowContext(layout, facts_shape(layout, Needs({}, None, [], None)), Params(), None, on_facts=True)
sql = (
    "SELECT toYear(payment_date) AS year, toQuarter(payment_date) AS quarter, "
    "toMonth(payment_date) AS month, "
    f"{ctx.level_key('territory', 'region')} AS region, municipality, "
    f"{ctx.level_key('benefit_type', 'category')} AS category, benefit_type, toFloat64(amount) AS amount "
    f"FROM `{engine.database}`.`{layout.facts_table}`"
)
db = sqlite3.connect(sys.argv[3])
db.execute("CREATE TABLE social_assistance (year INTEGER, quarter INTEGER, month INTEGER, region TEXT, "
           "municipality TEXT, category TEXT, benefit_type TEXT, amount REAL)")
for batch in engine.query(sql).to_batches(200_000):
    cols = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
    db.executemany("INSERT INTO social_assistance VALUES (?, ?, ?, ?, ?, ?, ?, ?)", zip(*cols))
db.commit()
print(db.execute("SELECT count(*) FROM social_assistance").fetchone()[0])
"""

CUBES_MODEL = {
    "dimensions": [
        {
            "name": "date",
            "role": "time",
            "levels": [{"name": "year"}, {"name": "quarter"}, {"name": "month"}],
        },
        {"name": "territory", "levels": [{"name": "region"}, {"name": "municipality"}]},
        {"name": "benefit_type", "levels": [{"name": "category"}, {"name": "benefit_type"}]},
    ],
    "cubes": [
        {
            "name": "social_assistance",
            "dimensions": ["date", "territory", "benefit_type"],
            "measures": [{"name": "amount"}],
            "aggregates": [
                {"name": "amount_sum", "function": "sum", "measure": "amount"},
                {"name": "record_count", "function": "count"},
            ],
            "mappings": {
                "date.year": "year",
                "date.quarter": "quarter",
                "date.month": "month",
                "territory.region": "region",
                "territory.municipality": "municipality",
                "benefit_type.category": "category",
                "benefit_type.benefit_type": "benefit_type",
            },
        }
    ],
}


def export_for_cubes(data_dir: Path, work: Path) -> Path:
    """The social-assistance facts as one SQLite table, regions mapped as LabIS maps them."""
    path = work / "social_assistance.sqlite"
    if path.exists():
        path.unlink()
    out = subprocess.run(
        [sys.executable, "-c", EXPORT_CODE, str(ROOT / "model"), str(data_dir), str(path)],
        cwd=ROOT, env=_env(data_dir), check=True, capture_output=True, text=True,
    )  # fmt: skip
    print(f"cubes: exported {int(out.stdout.split()[-1]):,} social-assistance facts to SQLite")
    return path


IN_PROCESS_CODE = """
import json, sys, threading, time
from urllib.parse import parse_qs, urlparse
from labis_olap.api import slicer
from labis_olap.api.state import AppState
from labis_olap.service import ANONYMOUS
from labis_olap.settings import Settings

paths, seconds = json.loads(sys.argv[1]), float(sys.argv[2])
state = AppState(Settings())
state.start()
work = []
for path in paths:
    url = urlparse(path)
    p = {k: v[0] for k, v in parse_qs(url.query).items()}
    query = slicer.aggregate_query(url.path.split("/")[2], cut=p.get("cut"), drilldown=p.get("drilldown"),
                                   aggregates=p.get("aggregates"))
    work.append(query)
done = [0] * state.settings.threads
stop = time.monotonic() + seconds

def run(i):
    n = i
    while time.monotonic() < stop:
        slicer.aggregate_json(state.service.aggregate(work[n % len(work)], ANONYMOUS))
        n += 1
        done[i] += 1

threads = [threading.Thread(target=run, args=(i,)) for i in range(len(done))]
t0 = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"rps": sum(done) / (time.monotonic() - t0), "threads": len(done)}))
"""


def in_process_rate(data_dir: Path, paths: list[str], seconds: int) -> dict[str, float]:
    """The uncached ceiling without HTTP: the same aggregates through the service, planner and
    engine in one process, from as many threads as the server has (its `threads` setting)."""
    out = subprocess.run(
        [sys.executable, "-c", IN_PROCESS_CODE, json.dumps(paths), str(seconds)],
        cwd=ROOT, env=_env(data_dir, LABIS_CACHE_BYTES="0"), check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --- servers -----------------------------------------------------------------------------------


@contextlib.contextmanager
def server(cmd: list[str], env: dict[str, str], port: int, probe: str, log: Path) -> Iterator[str]:
    """A server process on 127.0.0.1:port, up when `probe` answers 200; stopped on exit."""
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited ({proc.returncode}); see {log}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(base + probe, timeout=5).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not answer in 180 s; see {log}")
                time.sleep(0.3)
            yield base
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def labis_server(
    data_dir: Path, port: int, cache: bool, work: Path
) -> contextlib.AbstractContextManager[str]:
    env = _env(data_dir, LABIS_CACHE_BYTES=str(64 * 2**20 if cache else 0))
    cmd = _labis("serve", "--port", str(port))
    return server(cmd, env, port, "/health", work / f"labis_{'cache' if cache else 'nocache'}.log")


def cubes_server(
    python: str, sqlite_path: Path, port: int, work: Path
) -> contextlib.AbstractContextManager[str]:
    model = work / "cubes_model.json"
    model.write_text(json.dumps(CUBES_MODEL, indent=1))
    ini = work / "slicer.ini"
    ini.write_text(
        "[workspace]\nlog_level = error\n\n"
        f"[server]\nhost = 127.0.0.1\nport = {port}\nreload = no\nthreaded = yes\n\n"
        f"[store]\ntype = sql\nurl = sqlite:///{sqlite_path}\n\n"
        f"[models]\nmain = {model}\n"
    )
    cmd = [python, str(ROOT / "benchmarks" / "cubes_slicer.py"), str(ini)]
    return server(cmd, dict(os.environ), port, "/version", work / "cubes.log")


CUBES_PINS = [
    "sqlalchemy<1.4",
    "flask<2.1",
    "werkzeug<2.1",
    "itsdangerous<2.1",
    "jinja2<3.1",
    "markupsafe<2.1",
]
"""Cubes 1.1 wants SQLAlchemy 1.3 and imports `flask.safe_join` (gone in Flask 2.1)."""


def ensure_cubes_python(python: str) -> str:
    if Path(python).exists():
        return python
    venv = Path(python).parent.parent
    print(f"cubes: creating {venv} (cubes==1.1)…", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "cubes==1.1", *CUBES_PINS],
        check=True,
    )
    return python


# --- authentication and policy -------------------------------------------------------------------

ROLE = """\
role: municipal_service
cubes:
  - cube: social_assistance
    rows: "territory:{region},{municipality}"
  - cube: unemployment
    rows: "territory:{region},{municipality}"
"""
"""A role whose every answer is cut to the municipality its token names (a row-level filter)."""
CLAIMS = {"region": "LV005", "municipality": "0006000"}  # Rēzekne


AUTH_QUERIES = [q for q in QUERIES if "drilldown=territory&" not in q.labis]
"""The queries whose drilldowns name their levels: under the role's cut to one municipality,
`drilldown=territory` would drill below the last level (a 400, as for anyone so cut)."""


def auth_overhead(data_dir: Path, port: int, work: Path, runs: int, rounds: int = 2) -> dict[str, Any] | None:
    """p50 of each query, one at a time, in open demo mode and with a bearer JWT of a real issuer
    (oauth2-mock-server; key set and verified token cached) whose role adds a row-level cut;
    result cache on (the difference is then what authenticating and the policy cost) and off
    (the engine answers a narrower question too). Servers alternate `rounds` times, since only
    one process may hold the data directory; the medians of the rounds are kept."""
    sys.path.insert(0, str(ROOT / "tests"))
    from oauth2_issuer import AUDIENCE, MockIssuer, missing

    why = missing()
    if why is not None:
        print(f"(d) skipped: {why}")
        return None
    model = work / "model_roles"
    shutil.copytree(ROOT / "model", model)
    (model / "roles").mkdir(exist_ok=True)
    (model / "roles" / "municipal_service.yaml").write_text(ROLE)
    issuer = MockIssuer()
    try:
        token = issuer.token(roles=["municipal_service"], **CLAIMS)
        bearer = {"Authorization": f"Bearer {token}"}
        auth_env = {
            "LABIS_MODEL_DIR": str(model),
            "LABIS_ISSUER": issuer.url,
            "LABIS_AUDIENCE": AUDIENCE,
            "LABIS_PRINCIPAL_CLAIMS": "region,municipality",
        }
        out: dict[str, dict[str, list[float]]] = {}
        for r in range(rounds):
            for mode, extra, headers in (("open", {}, None), ("auth", auth_env, bearer)):
                for cache in (True, False):
                    env = _env(data_dir, LABIS_CACHE_BYTES=str(64 * 2**20 if cache else 0), **extra)
                    log = work / f"labis_{mode}_{cache}_{r}.log"
                    with server(_labis("serve", "--port", str(port)), env, port, "/health", log) as base:
                        for q in AUTH_QUERIES:
                            p50 = sequential(base, q.labis, runs, explain=False, headers=headers)[1]
                            out.setdefault(f"{mode} {'cached' if cache else 'uncached'}", {}).setdefault(
                                q.title, []
                            ).append(p50)
                    port += 1
        return {k: {t: statistics.median(v) for t, v in d.items()} for k, d in out.items()}
    finally:
        issuer.stop()


# --- measurements --------------------------------------------------------------------------------


def sequential(
    base: str, path: str, runs: int, explain: bool, headers: dict[str, str] | None = None
) -> tuple[float, float, str]:
    """(engine ms median from explain or nan, HTTP p50 ms, source) for one query, one at a time.

    The client is the standard library's http.client on one kept-alive connection: httpx adds
    about 0.5 ms per request of its own, which is not the server's time."""
    host, _, port = base.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=600)

    def get(url: str) -> bytes:
        conn.request("GET", url, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status} {body[:300]!r}")
        return body

    engine_ms: list[float] = []
    wall: list[float] = []
    source = ""
    try:
        for i in range(runs + 3):  # 3 warm-up requests
            if explain:
                ex = json.loads(get(path + "&explain=1"))["explain"]
                engine_ms.append(ex["engine_ms"])
                source = ex["source"]
            start = time.perf_counter()
            get(path)
            if i >= 3:
                wall.append((time.perf_counter() - start) * 1000)
    finally:
        conn.close()
    engine = statistics.median(engine_ms[3:]) if engine_ms else float("nan")
    return engine, statistics.median(wall), source


LUA = """
local paths = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("LABIS_RESULT %%d %%d %%d %%d %%f %%f\\n", summary.requests,
    e.connect + e.read + e.write + e.timeout, e.status, summary.duration,
    latency:percentile(50), latency:percentile(99)))
end
"""


def load(base: str, paths: list[str], seconds: int, clients: int, work: Path) -> dict[str, float]:
    """requests/s, p50 ms, p99 ms and errors of `clients` concurrent clients for `seconds`."""
    if shutil.which("wrk"):
        script = work / "mix.lua"
        script.write_text(LUA % ", ".join(json.dumps(p) for p in paths))
        out = subprocess.run(
            ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), base],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        line = next(ln for ln in out.splitlines() if ln.startswith("LABIS_RESULT"))
        n, sock_err, status_err, duration_us, p50_us, p99_us = (float(x) for x in line.split()[1:])
        return {
            "rps": n / (duration_us / 1e6),
            "p50": p50_us / 1000,
            "p99": p99_us / 1000,
            "errors": sock_err + status_err,
            "tool": "wrk",  # type: ignore[dict-item]
        }
    out = subprocess.run(
        [sys.executable, __file__, "_load", base, json.dumps(paths), str(seconds), str(clients)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {**json.loads(out), "tool": "httpx"}


async def _httpx_load(base: str, paths: list[str], seconds: float, clients: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(k: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, timeout=10) as c:
            i = k
            while time.perf_counter() < stop:
                start = time.perf_counter()
                try:
                    r = await c.get(paths[i % len(paths)])
                    if r.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append((time.perf_counter() - start) * 1000)
                i += 1

    start = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    took = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / took, "p50": q[49], "p99": q[98], "errors": errors}


def same_numbers(labis: dict[str, Any], cubes: dict[str, Any]) -> bool:
    """Both servers' cells as sorted (count, amount) pairs, amounts to the cent."""

    def pairs(cells: list[dict[str, Any]], count: str, amount: str) -> list[tuple[int, float]]:
        return sorted((int(c[count]), round(float(c[amount]), 2)) for c in cells)

    return pairs(labis["cells"], "payments", "amount") == pairs(cubes["cells"], "record_count", "amount_sum")


# --- report --------------------------------------------------------------------------------------


def table(title: str, head: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print(f"\n{title}")
    print(
        "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths, strict=True)))
    )
    for r in rows:
        print(
            "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        )


def auth_table(auth: dict[str, Any] | None) -> None:
    if auth is None:
        return
    table(
        "(d) authentication and policy: a bearer JWT (cached) whose role cuts every answer to one "
        "municipality, against open demo mode, one request at a time, p50 ms",
        ["query", "open cached", "auth cached", "overhead", "open uncached", "auth uncached"],
        [
            [
                q.title,
                f"{auth['open cached'][q.title]:.2f}",
                f"{auth['auth cached'][q.title]:.2f}",
                f"{auth['auth cached'][q.title] - auth['open cached'][q.title]:+.2f}",
                f"{auth['open uncached'][q.title]:.1f}",
                f"{auth['auth uncached'][q.title]:.1f}",
            ]
            for q in AUTH_QUERIES
        ],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/labis-bench-api"))
    ap.add_argument("--port", type=int, default=8810)
    ap.add_argument("--runs", type=int, default=41, help="sequential requests per query")
    ap.add_argument("--seconds", type=int, default=15, help="duration of each load run")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--skip-cubes", action="store_true")
    ap.add_argument("--skip-auth", action="store_true", help="leave out (d), authentication overhead")
    ap.add_argument("--only-auth", action="store_true", help="run only (d), authentication overhead")
    ap.add_argument("--cubes-python", default="/tmp/cubes-venv/bin/python")
    args = ap.parse_args()

    load_avg = os.getloadavg()[0]
    machine = f"{platform.node()}: {os.cpu_count()} cores, load average {load_avg:.1f}"
    print(f"{machine}, Python {platform.python_version()}")
    ensure_demo(args.data_dir, args.rows)
    if args.only_auth:
        with tempfile.TemporaryDirectory(prefix="bench_api_") as tmp:
            auth_table(auth_overhead(args.data_dir, args.port + 10, Path(tmp), args.runs))
        return
    paths = [q.labis for q in QUERIES]
    with tempfile.TemporaryDirectory(prefix="bench_api_") as tmp:
        work = Path(tmp)
        with labis_server(args.data_dir, args.port, cache=False, work=work) as base:
            seq = {q.title: sequential(base, q.labis, args.runs, explain=True) for q in QUERIES}
            uncached = load(base, paths, args.seconds, args.clients, work)
        with labis_server(args.data_dir, args.port + 1, cache=True, work=work) as base:
            cached_seq = {q.title: sequential(base, q.labis, args.runs, explain=False)[1] for q in QUERIES}
            cached = load(base, paths, args.seconds, args.clients, work)
        ceiling = in_process_rate(args.data_dir, paths, args.seconds)
        auth = None if args.skip_auth else auth_overhead(args.data_dir, args.port + 10, work, args.runs)
        cubes_p50: dict[str, float] = {}
        agree: dict[str, bool] = {}
        if not args.skip_cubes:
            python = ensure_cubes_python(args.cubes_python)
            sqlite_path = export_for_cubes(args.data_dir, work)
            with (
                cubes_server(python, sqlite_path, args.port + 2, work) as cubes_base,
                labis_server(args.data_dir, args.port + 3, cache=False, work=work) as labis_base,
            ):
                for q in QUERIES:
                    if q.cubes is None:
                        continue
                    cubes_p50[q.title] = sequential(cubes_base, q.cubes, max(5, args.runs // 4), False)[1]
                    agree[q.title] = same_numbers(
                        httpx.get(labis_base + q.labis, timeout=60).json(),
                        httpx.get(cubes_base + q.cubes, timeout=600).json(),
                    )

    rows = []
    for q in QUERIES:
        engine, http, source = seq[q.title]
        row = [
            q.title,
            source,
            f"{engine:.1f}",
            f"{http:.1f}",
            f"{http - engine:+.1f}",
            f"{cached_seq[q.title]:.1f}",
        ]
        if cubes_p50:
            if q.title in cubes_p50:
                c = cubes_p50[q.title]
                row += [
                    f"{c:.1f}",
                    f"{http / c:.4f} ({c / http:.0f}× faster)",
                    "yes" if agree[q.title] else "NO",
                ]
            else:
                row += ["", "", ""]
        rows.append(row)
    head = ["query", "source", "engine p50", "HTTP p50", "overhead", "HTTP p50 cached"]
    if cubes_p50:
        head += ["Cubes 1.1 p50", "LabIS / Cubes", "same numbers"]
    table(f"(a) one request at a time, ms ({args.rows:,} demo facts)", head, rows)
    table(
        f"(b) {args.clients} concurrent clients × {args.seconds} s, the {len(paths)} queries above in turn",
        ["result cache", "tool", "req/s", "p50 ms", "p99 ms", "errors"],
        [
            [
                "off, no HTTP: the same aggregates in-process (the ceiling of the row below)",
                f"{ceiling['threads']:.0f} threads",
                f"{ceiling['rps']:.0f}",
                "",
                "",
                "",
            ],
            *(
                [
                    name,
                    str(r["tool"]),
                    f"{r['rps']:.0f}",
                    f"{r['p50']:.1f}",
                    f"{r['p99']:.1f}",
                    f"{r['errors']:.0f}",
                ]
                for name, r in (
                    ("off (every request runs the engine)", uncached),
                    ("on (hits after the first round)", cached),
                )
            ),
        ],
    )
    auth_table(auth)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (at the start {load_avg:.1f})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_load":
        base, paths, seconds, clients = (
            sys.argv[2],
            json.loads(sys.argv[3]),
            float(sys.argv[4]),
            int(sys.argv[5]),
        )
        print(json.dumps(asyncio.run(_httpx_load(base, paths, seconds, clients))))
    else:
        main()
