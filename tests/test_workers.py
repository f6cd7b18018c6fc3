"""`labis serve` as a real process: several workers need a ClickHouse server (refused without one,
with the reason); JSON logs are one object per line, an access line without its query string; and,
where a server is reachable (LABIS_TEST_CLICKHOUSE_URL), two worker processes answer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT
from served import start_server


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LABIS_MODEL_DIR": str(ROOT / "model"),
        "LABIS_DATA_DIR": str(tmp_path / "data"),
        "LABIS_AUDIT": "false",
        **extra,
    }
    env.pop("LABIS_CLICKHOUSE_URL", None)
    env.update(extra)
    return env


def test_workers_need_a_server(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "labis_olap.cli", "serve", "--workers", "2"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "--workers needs a ClickHouse server" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was opened


def test_json_logs_from_a_real_server(tmp_path: Path) -> None:
    env = _env(tmp_path, LABIS_LOG_JSON="true")
    server, base = start_server(env, ready="/livez")
    try:
        with urllib.request.urlopen(base + "/livez?cut=territory:0001234", timeout=5) as answer:
            assert json.loads(answer.read()) == {"status": "alive"}
    finally:
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=60)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert records, out
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any(r["logger"].startswith("uvicorn") for r in records)
    assert "0001234" not in out


@pytest.mark.skipif(
    not os.environ.get("LABIS_TEST_CLICKHOUSE_URL"),
    reason="no ClickHouse server here: set LABIS_TEST_CLICKHOUSE_URL (deploy/compose.yaml)",
)
def test_two_worker_processes_on_a_server(tmp_path: Path) -> None:
    url = os.environ["LABIS_TEST_CLICKHOUSE_URL"]
    env = _env(tmp_path, LABIS_CLICKHOUSE_URL=url, LABIS_WORKERS="2", LABIS_DATABASE="workers_test")
    setup = subprocess.run(
        [sys.executable, "-m", "labis_olap.cli", "demo", "--rows", "2000", "--no-query", "--yes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert setup.returncode == 0, setup.stderr
    server, base = start_server(env, ready="/readyz")
    try:
        for _ in range(20):
            with urllib.request.urlopen(base + "/cube/unemployment/aggregate", timeout=30) as answer:
                assert answer.status == 200
        children = subprocess.run(
            ["pgrep", "-P", str(server.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(children) >= 2, "uvicorn should run two worker processes"
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=60)
