"""Hardening (issue 12, item 6): the server's announcement goes when it stops, `labis load` sends
nothing to a server that cannot prove it wrote the announcement, the data directory is its
owner's only, fact ids and pages never 500 or wrap, and every answer carries security headers.

Real processes where the point is a process: `python -m labis_olap.cli serve`, `demo`, `load`
run as subprocesses on their own data directory.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import ANALYST, AS_ANALYST, KEYS_FILE, analyst_client, demo_database, demo_settings
from fastapi.testclient import TestClient
from served import start_server

from labis_olap.api import create_app
from labis_olap.engine import holder
from labis_olap.engine.base import Engine
from labis_olap.errors import QueryError, UserError
from labis_olap.loaders.handoff import hand_off, hand_off_unload
from labis_olap.model.definition import Model
from labis_olap.query.cell import CubeQuery
from labis_olap.service import CubeService

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "fixtures" / "loaders" / "nva_burvis_2024.csv"
KEY = "hardening-test-key-0123456789"


def _env(data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LABIS_DATA_DIR": str(data),
        "LABIS_MODEL_DIR": str(ROOT / "model"),
        "LABIS_LOADERS_DIR": str(ROOT / "loaders"),
        "LABIS_PSEUDONYM_KEY": KEY,
        "LABIS_API_KEYS_FILE": str(KEYS_FILE),
    }


def _labis(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labis_olap.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def get(url: str) -> tuple[int, Any]:
    """A GET as the analyst (the servers of `_env` know the key)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=AS_ANALYST), timeout=60) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


# --- the announcement ----------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_server_withdraws_its_announcement(tmp_path: Path, sig: signal.Signals) -> None:
    data = tmp_path / "data"
    server, _ = start_server(_env(data))
    try:
        assert (data / holder.SERVE_FILE).exists() and (data / holder.TOKEN_FILE).exists()
        for name in (holder.SERVE_FILE, holder.TOKEN_FILE):
            assert stat.S_IMODE((data / name).stat().st_mode) == 0o600
        server.send_signal(sig)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert not (data / holder.SERVE_FILE).exists()
    assert not (data / holder.TOKEN_FILE).exists()
    assert server.returncode == 128 + sig


class Impostor:
    """An HTTP server that takes anything: it answers 200 `{}` and records what it was sent."""

    def __init__(self, answer: bytes = b"{}") -> None:
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                outer.bodies.append(self.rfile.read(n) if n else b"")
                outer.headers.append(dict(self.headers))
                outer.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Impostor:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _stale_announcement(data: Path, url: str) -> None:
    """What a killed server leaves, with a live pid (this test's own: a pid reused)."""
    data.mkdir(parents=True, exist_ok=True)
    (data / holder.SERVE_FILE).write_text(json.dumps({"pid": os.getpid(), "url": url}))
    (data / holder.TOKEN_FILE).write_text("the-old-servers-token")


@pytest.mark.parametrize("answer", [b"{}", b'{"proof": "00"}', b"not json"])
def test_hand_off_refuses_an_impostor_and_sends_it_nothing(tmp_path: Path, answer: bytes) -> None:
    data = tmp_path / "data"
    with Impostor(answer) as impostor:
        _stale_announcement(data, impostor.url)
        with pytest.raises(UserError, match="did not prove") as refused:
            hand_off(data, "nva_burvis", [SAMPLE])
        assert "nothing was sent" in refused.value.message
        with pytest.raises(UserError, match="did not prove"):
            hand_off_unload(data, "b1")
    sample = SAMPLE.read_bytes()
    assert impostor.paths and all(p.startswith("/admin/challenge?nonce=") for p in impostor.paths)
    assert all(body == b"" for body in impostor.bodies)  # not a byte of the file
    assert not any(sample[:64] in body for body in impostor.bodies)
    assert not any("Authorization" in h or "authorization" in h for h in impostor.headers)
    assert not any("the-old-servers-token" in p for p in impostor.paths)


def test_labis_load_ignores_a_stale_announcement(tmp_path: Path) -> None:
    """The announced pid is alive (this test's) but holds no lock on the directory: the
    announcement is stale, the load runs directly, and the impostor is not even asked."""
    data = tmp_path / "data"
    with Impostor() as impostor:
        _stale_announcement(data, impostor.url)
        done = _labis("load", "nva_burvis", str(SAMPLE), env=_env(data))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "handing the load" not in done.stdout and "40 accepted" in done.stdout, done.stdout
    assert not impostor.paths


def test_labis_load_refuses_an_impostor(tmp_path: Path) -> None:
    """The announced pid does hold the directory (a program holding it with chDB), but the
    announced URL answers for someone else: nothing is sent but the challenge."""
    data = tmp_path / "data"
    data.mkdir()
    script = (
        "import sys, time, chdb; c = chdb.connect(sys.argv[1]); print('holding', flush=True); time.sleep(120)"
    )
    program = subprocess.Popen([sys.executable, "-c", script, str(data)], stdout=subprocess.PIPE, text=True)
    try:
        assert program.stdout is not None and program.stdout.readline().strip() == "holding"
        with Impostor() as impostor:
            (data / holder.SERVE_FILE).write_text(json.dumps({"pid": program.pid, "url": impostor.url}))
            (data / holder.TOKEN_FILE).write_text("the-old-servers-token")
            done = _labis("load", "nva_burvis", str(SAMPLE), env=_env(data))
    finally:
        program.kill()
        program.wait(timeout=30)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "did not prove" in done.stderr and "nothing was sent" in done.stderr, done.stderr
    assert impostor.paths and all(p.startswith("/admin/challenge?nonce=") for p in impostor.paths)
    assert all(body == b"" for body in impostor.bodies)


def test_hand_off_proves_the_real_server_and_the_data_dir_is_private(tmp_path: Path) -> None:
    """`labis demo` then a load handed to a real `labis serve`: the load goes through, and no file
    or folder under the data directory is readable by group or others."""
    data = tmp_path / "data"
    env = _env(data)
    demo = _labis("demo", "--rows", "1000", "--no-query", env=env)
    assert demo.returncode == 0, demo.stderr
    server, _ = start_server(env)
    try:
        loaded = _labis("load", "nva_burvis", str(SAMPLE), env=env)
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        assert "handing the load" in loaded.stdout and "40 accepted" in loaded.stdout, loaded.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    direct = _labis("load", "nva_burvis", str(SAMPLE), env=env)  # a direct load, server stopped
    assert direct.returncode == 0, direct.stdout + direct.stderr
    exposed = [
        f"{p} {stat.filemode(p.stat().st_mode)}"
        for p in [data, *data.rglob("*")]
        if not p.is_symlink() and p.stat().st_mode & 0o077
    ]
    assert not exposed, exposed


def test_opening_the_engine_makes_an_old_data_dir_private(tmp_path: Path) -> None:
    data = tmp_path / "old"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    done = _labis("apply", env=_env(data))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


# --- fact ids, pages, headers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(data_dir: Path) -> Iterator[tuple[Model, Engine]]:
    with demo_database(data_dir, "hard", 5_000, seed=3) as demo:
        yield demo


@pytest.fixture(scope="module")
def client(demo: tuple[Model, Engine], data_dir: Path) -> Iterator[TestClient]:
    model, engine = demo
    settings = demo_settings(data_dir, engine, max_pagesize=1000)
    with analyst_client(create_app(settings, model, engine), raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("fact_id", ["%E2%91%A0", "%C2%B2", "%D9%A3", "1%C2%B2", "%EF%BC%91", str(2**64)])
def test_fact_ids_that_are_not_ascii_digits_are_not_found(client: TestClient, fact_id: str) -> None:
    r = client.get(f"/cube/unemployment/fact/{fact_id}")
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "url",
    [
        "/cube/unemployment/aggregate?drilldown=territory&cut=time:2024",
        "/cube/unemployment/facts?cut=time:2024",
        "/cube/unemployment/members/territory",
        "/cube/unemployment/members/territory?depth=2",
    ],
)
def test_a_page_past_the_last_is_empty_never_a_wrap(client: TestClient, url: str) -> None:
    for page in (10**6, 2**40):
        r = client.get(
            f"{url}&page={page}&pagesize=1000" if "?" in url else f"{url}?page={page}&pagesize=1000"
        )
        assert r.status_code == 200, (page, r.text)
        body = r.json()
        rows = body if isinstance(body, list) else body.get("cells", body.get("data"))
        assert rows == [], (url, page, body)
    r = client.get(f"{url}{'&' if '?' in url else '?'}page={2**40 + 1}&pagesize=1")
    assert r.status_code == 400 and r.json()["error"] == "bad_query"


def test_page_times_pagesize_past_the_engines_range_is_refused(demo: tuple[Model, Engine]) -> None:
    """Without a page-size limit (the CLI's service) a product past 2**62 is refused, not wrapped."""
    service = CubeService(*demo)
    query = CubeQuery("unemployment", (), (), (), (), 2**40, 2**30, None, "en")
    with pytest.raises(QueryError, match="page × pagesize"):
        service.aggregate(query, ANALYST)


def test_security_headers(client: TestClient) -> None:
    for url in (
        "/cubes",
        "/cube/unemployment/aggregate?cut=time:2024",
        "/cube/unemployment/facts?pagesize=1",
        "/cube/unemployment/aggregate?cut=time:2024&format=csv",
        "/health",
        "/no/such/route",
    ):
        r = client.get(url)
        assert r.headers["x-content-type-options"] == "nosniff", url
    for url in ("/browser", "/browser/indicators", "/browser/indicators/nope"):
        r = client.get(url)
        assert r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "<script>" not in r.text and " on" not in r.text.split("<body", 1)[-1].split(">", 1)[0]


def test_no_swagger_ui_from_a_cdn(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200
