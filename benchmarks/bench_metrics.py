"""Metrics benchmark: what counting a request for /metrics adds to one cached aggregate, in process.

    python benchmarks/bench_metrics.py [--rows 20000] [--requests 4000] [--data-dir DIR]

The same aggregate (from the result cache after the first request) is sent straight to two ASGI
apps over one engine, through the fast path, in alternating rounds: LABIS_METRICS off (the
floor) and on (api/metrics.py's RequestMetrics layer). Medians and p90 in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from labis_olap.api import create_app
from labis_olap.demo.load import load_demo
from labis_olap.engine.embedded import EmbeddedEngine
from labis_olap.model.reader import read_model
from labis_olap.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PATH = "/cube/social_assistance/aggregate"
QUERY = b"drilldown=territory:region|time:year&aggregates=amount|payments"


async def one(app: Any) -> tuple[int, int]:
    """One request straight into the ASGI app: (status, nanoseconds). The body comes once; then
    the connection stays open (a second receive waits) until the answer is sent."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "root_path": "",
        "query_string": QUERY, "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1), "server": ("bench", 80),
    }  # fmt: skip
    status = 0
    sent = False
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            done.set()

    start = time.perf_counter_ns()
    await app(scope, receive, send)
    return status, time.perf_counter_ns() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=4_000, help="per mode")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="labis-bench-metrics-"))
    model = read_model(ROOT / "model")
    engine = EmbeddedEngine(data_dir, database="bench_metrics")
    load_demo(model, engine, args.rows, seed=7)
    try:
        base = Settings(
            model_dir=ROOT / "model", data_dir=data_dir, database=engine.database, audit=False, rate_limit=0
        )
        apps: dict[str, Any] = {
            "metrics off (floor)": create_app(base.model_copy(update={"metrics": False}), model, engine),
            "metrics on": create_app(base.model_copy(update={"metrics": True}), model, engine),
        }
        for app in apps.values():
            app.state.labis.start()
        times: dict[str, list[int]] = {m: [] for m in apps}

        async def run() -> None:
            for app in apps.values():
                for _ in range(100):
                    status, _ns = await one(app)
                    assert status == 200, status
            rounds = 40
            for _ in range(rounds):
                for name, app in apps.items():
                    for _ in range(args.requests // rounds):
                        status, ns = await one(app)
                        assert status == 200
                        times[name].append(ns)

        asyncio.run(run())
        floor = statistics.median(times["metrics off (floor)"]) / 1000
        print(f"\nOne cached aggregate through the fast path, in process ({args.requests} requests per mode)")
        print(f"{'mode':<24} {'median µs':>10} {'p90 µs':>8} {'+ vs off':>10}")
        for name, ns in times.items():
            med = statistics.median(ns) / 1000
            p90 = statistics.quantiles(ns, n=10)[-1] / 1000
            print(f"{name:<24} {med:>10.1f} {p90:>8.1f} {med - floor:>+10.1f}")
        for app in apps.values():
            app.state.labis.close()
    finally:
        engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


if __name__ == "__main__":
    main()
