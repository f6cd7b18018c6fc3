"""Authentication benchmark: what authenticating adds to one cached aggregate, in process.

    python benchmarks/bench_auth.py [--rows 20000] [--requests 3000] [--data-dir DIR]

The same aggregate (served from the result cache after the first request) is sent straight to
the ASGI app, through the fast path, in rounds that alternate the modes: open demo mode (the
floor), a bearer JWT of a real issuer (oauth2-mock-server, tests/oauth2_issuer.py; the key set
and the verified token cached), an API key (`X-API-Key`, checked against its SHA-256 every
time), an API key as the HTTP Basic password, and — to show what the token cache saves — the
same JWT with the cache emptied before every request (a full RS256 check). Medians and p90 in
microseconds per request, and the median's difference to open mode.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from oauth2_issuer import AUDIENCE, MockIssuer, missing  # noqa: E402

from labis_olap.api import create_app  # noqa: E402
from labis_olap.demo.load import load_demo  # noqa: E402
from labis_olap.engine.embedded import EmbeddedEngine  # noqa: E402
from labis_olap.model.reader import read_model  # noqa: E402
from labis_olap.security import ApiKeys  # noqa: E402
from labis_olap.settings import Settings  # noqa: E402

PATH = "/cube/social_assistance/aggregate"
QUERY = b"drilldown=territory:region|time:year&aggregates=amount|payments"


async def one(app: Any, headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    """One request straight into the ASGI app: (status, nanoseconds)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "root_path": "",
        "query_string": QUERY, "headers": [(b"host", b"bench"), *headers],
        "client": ("127.0.0.1", 1), "server": ("bench", 80),
    }  # fmt: skip
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    start = time.perf_counter_ns()
    await app(scope, receive, send)
    return status, time.perf_counter_ns() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=3_000, help="per mode")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    if (reason := missing()) is not None:
        sys.exit(f"bench_auth needs the mock issuer: {reason}")

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="labis-bench-auth-"))
    model = read_model(ROOT / "model")
    engine = EmbeddedEngine(data_dir, database="bench_auth")
    load_demo(model, engine, args.rows, seed=7)
    issuer = MockIssuer()
    try:
        keys = ApiKeys(data_dir / "bench-keys.json")
        _, key = keys.create("bench", ["analyst"], [])
        base = Settings(model_dir=ROOT / "model", data_dir=data_dir, database=engine.database)
        open_app = create_app(
            base.model_copy(update={"api_keys_file": data_dir / "absent.json"}), model, engine
        )
        key_app = create_app(base.model_copy(update={"api_keys_file": keys.path}), model, engine)
        jwt_app = create_app(
            base.model_copy(
                update={"issuer": issuer.url, "audience": AUDIENCE, "api_keys_file": data_dir / "absent.json"}
            ),
            model,
            engine,
        )
        token = issuer.token(roles=["analyst"])
        basic = base64.b64encode(f"excel:{key}".encode())
        jwt_cache = jwt_app.state.labis.authenticator.cache
        modes: dict[str, tuple[Any, list[tuple[bytes, bytes]], Callable[[], None]]] = {
            "open demo mode (floor)": (open_app, [], lambda: None),
            "bearer JWT (cached)": (jwt_app, [(b"authorization", b"Bearer " + token.encode())], lambda: None),
            "API key (X-API-Key)": (key_app, [(b"x-api-key", key.encode())], lambda: None),
            "API key as Basic password": (key_app, [(b"authorization", b"Basic " + basic)], lambda: None),
            "bearer JWT, cache emptied each time": (
                jwt_app,
                [(b"authorization", b"Bearer " + token.encode())],
                jwt_cache.clear,
            ),
        }
        for app in (open_app, key_app, jwt_app):
            app.state.labis.start()
        times: dict[str, list[int]] = {m: [] for m in modes}

        async def run() -> None:
            for app, headers, _ in modes.values():  # warm: the middleware stack, caches, keys
                for _ in range(50):
                    status, _ns = await one(app, headers)
                    assert status == 200, status
            rounds = 20
            for _ in range(rounds):
                for name, (app, headers, before) in modes.items():
                    for _ in range(args.requests // rounds):
                        before()
                        status, ns = await one(app, headers)
                        assert status == 200
                        times[name].append(ns)

        asyncio.run(run())
        floor = statistics.median(times["open demo mode (floor)"]) / 1000
        print(f"\nOne cached aggregate through the fast path, in process ({args.requests} requests per mode)")
        print(f"{'mode':<38} {'median µs':>10} {'p90 µs':>8} {'+ vs open':>10}")
        for name, ns in times.items():
            med = statistics.median(ns) / 1000
            p90 = statistics.quantiles(ns, n=10)[-1] / 1000
            print(f"{name:<38} {med:>10.1f} {p90:>8.1f} {med - floor:>+10.1f}")
        for app in (open_app, key_app, jwt_app):
            app.state.labis.close()
    finally:
        issuer.stop()
        engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


if __name__ == "__main__":
    main()
