"""A real `labis serve` under attack (docs/security.md, "Limits"): a hostile corpus generated from
the OpenAPI document over every route and parameter gets no 5xx, no traceback and no leak of SQL,
paths or engine messages; a report of 10,000 queries is refused within a second without growing
the server; a client that goes away has its engine query stopped.

The server is a subprocess over a small demo; the corpus goes over several keep-alive
connections at once. A few hundred requests run in the default lane, 40,000 in the slow lane.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from conftest import ANALYST_KEY, KEYS_FILE, demo_settings, fresh_database, make_engine
from hostile import Answer, Request, corpus, problems, send_all
from served import free_port

from labis_olap.api import create_app
from labis_olap.demo.load import load_demo
from labis_olap.model.reader import read_model

ROOT = Path(__file__).resolve().parent.parent


def _rss(pid: int) -> int:
    """Resident bytes of a process (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@dataclass
class Served:
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    openapi: dict[str, object]

    def send(self, requests: list[Request], clients: int = 6) -> list[tuple[Request, Answer]]:
        return asyncio.run(send_all(self.host, self.port, requests, clients))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`labis demo --rows 20000` and `labis serve` on it, with the default limits (no rate limit:
    the corpus is one anonymous principal)."""
    root = tmp_path_factory.mktemp("hostile")
    env = {**os.environ, "LABIS_DATA_DIR": str(root / "data"), "LABIS_MODEL_DIR": str(ROOT / "model")}
    env["LABIS_RATE_LIMIT"] = "0"
    env["LABIS_API_KEYS_FILE"] = str(KEYS_FILE)  # the corpus is the public's; an analyst may come too
    demo = [sys.executable, "-m", "labis_olap.cli", "demo", "--rows", "20000", "--no-query"]
    subprocess.run(demo, env=env, check=True, capture_output=True, timeout=120)
    port = free_port()
    log = root / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labis_olap.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/openapi.json", timeout=5) as r:
                openapi = json.loads(r.read())
                break
        except OSError:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
    yield Served("127.0.0.1", port, proc, log, openapi)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)


def _attack(served: Served, n: int) -> float:
    requests = list(corpus(served.openapi, n))
    assert len(requests) == n
    started = time.monotonic()
    answers = served.send(requests)
    took = time.monotonic() - started
    assert len(answers) == n
    assert problems(answers) == []
    assert served.proc.poll() is None
    log = served.log.read_text(errors="replace")
    assert "Traceback" not in log and "internal error" not in log, log[-3000:]
    statuses = {a.status for _, a in answers}
    assert statuses & {200, 400, 404}, statuses
    return took


def test_a_hostile_sample_gets_no_5xx_and_no_leak(served: Served) -> None:
    _attack(served, 400)


@pytest.mark.slow
def test_a_hostile_corpus_of_40000_requests_gets_no_5xx_and_no_leak(served: Served) -> None:
    took = _attack(served, 40_000)
    print(f"40,000 hostile requests in {took:.1f} s")


def _report(n: int, query: dict[str, object]) -> bytes:
    return json.dumps({"queries": {f"q{i}": query for i in range(n)}}).encode()


def test_a_report_of_10000_queries_is_refused_at_once_without_growing_the_server(served: Served) -> None:
    target = "/cube/unemployment/report"
    heavy = {"query": "aggregate", "drilldown": "territory:municipality|time:month"}
    before = _rss(served.proc.pid)
    for body in (_report(10_000, heavy), _report(10_000, {"query": "cell"})[:200_000] + b"}}"):
        started = time.monotonic()
        ((_, answer),) = served.send([Request("POST", target, body)], clients=1)
        took = time.monotonic() - started
        assert 400 <= answer.status < 500 and took < 1.0, (answer.status, took, answer.body[:200])
    compact = b'{"queries": {' + b",".join(b'"%d":{"query":"cell"}' % i for i in range(10_000)) + b"}}"
    assert len(compact) < 256 * 2**10
    started = time.monotonic()
    ((_, answer),) = served.send([Request("POST", target, compact)], clients=1)
    assert answer.status == 400 and json.loads(answer.body)["error"] == "limit_exceeded"
    assert time.monotonic() - started < 1.0
    # The biggest report the bounds allow (50 queries, 50,000 cells), a few times at once, by
    # an analyst (fact rows are never the public's).
    most = _report(50, {"query": "facts", "pagesize": 1000})
    answers = served.send([Request("POST", target, most, ANALYST_KEY) for _ in range(6)], clients=3)
    assert {a.status for _, a in answers} <= {200, 400}, [a.body[:200] for _, a in answers]
    growth = _rss(served.proc.pid) - before
    print(f"RSS growth {growth / 2**20:.0f} MiB")
    assert growth < 256 * 2**20


# --- cancellation ----------------------------------------------------------------------------------
SLOW = (
    "/cube/unemployment/aggregate?drilldown=time:day|territory:municipality|age_group|education"
    "&subtotals=cube&aggregates=persons&pagesize=10"
)
"""64 grouping sets of exact distinct counts over every fact: seconds of engine time on 1M rows."""


@pytest.mark.slow
def test_a_client_that_goes_away_has_its_engine_query_stopped(data_dir: Path) -> None:
    """A real uvicorn (in a thread of this process, so that this test can read system.processes of
    the same embedded engine); the query is long only because the time and memory bounds are lifted."""
    model = read_model(ROOT / "model")
    engine = make_engine("embedded", data_dir, fresh_database("cancel"))
    load_demo(model, engine, 1_000_000, seed=5)
    settings = demo_settings(
        data_dir, engine, cache_bytes=0, query_timeout=600, query_max_memory=2**32, max_pagesize=1_000_000
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, model, engine), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)

    def running() -> list[dict[str, object]]:
        sql = "SELECT query_id, elapsed FROM system.processes WHERE Settings['log_comment'] LIKE {p:String}"
        rows: list[dict[str, object]] = engine.query(sql, {"p": "labis-request-%"}).to_pylist()
        return rows

    try:
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(Request("GET", SLOW, api_key=ANALYST_KEY).raw())  # finer than the public may ask
        deadline = time.monotonic() + 30
        while not running():
            assert time.monotonic() < deadline, "the slow query never started"
            time.sleep(0.05)
        time.sleep(1.0)
        (seen,) = running()
        client.close()
        closed = time.monotonic()
        while running():
            assert time.monotonic() - closed < 2.0, f"still running after the client left: {running()}"
            time.sleep(0.02)
        print(
            f"stopped {time.monotonic() - closed:.2f} s after the client left (had run {seen['elapsed']} s)"
        )
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")
