"""Loading while serving: with `labis serve` holding the embedded directory, `labis load` hands the
batch to the server, queries keep answering during the load, and other commands ask it too.
Real processes: the server, the loader and the query command are each a `python -m
labis_olap.cli` subprocess on one data directory.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import AS_ANALYST, KEYS_FILE
from served import start_server
from test_loader_faults import ROWS, write_extract

pytestmark = pytest.mark.slow  # a real server, loader and query processes: ~20 s; run by .ci/run
ROOT = Path(__file__).resolve().parent.parent
KEY = "serve-test-key-0123456789"
# Registrations per month in the extract's two years: the answer moves as the load publishes.
QUERY = "/cube/unemployment/aggregate?aggregates=new_registrations&drilldown=time:year"


def _labis(*args: str, env: dict[str, str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labis_olap.cli", *args], env=env, capture_output=True, text=True, **kw
    )  # type: ignore[call-overload, no-any-return]


def _get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=AS_ANALYST), timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


@dataclass
class Served:
    env: dict[str, str]
    base: str
    data: Path
    server: subprocess.Popen[str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the module; the last test stops it."""
    data = tmp_path_factory.mktemp("serve") / "data"
    env = {
        **os.environ,
        "LABIS_DATA_DIR": str(data),
        "LABIS_MODEL_DIR": str(ROOT / "model"),
        "LABIS_LOADERS_DIR": str(ROOT / "loaders"),
        "LABIS_PSEUDONYM_KEY": KEY,
        "LABIS_LOAD_CHUNK_ROWS": "5000",  # many published chunks: queries run between them
        "LABIS_API_KEYS_FILE": str(KEYS_FILE),
    }
    assert _labis("apply", env=env).returncode == 0
    server, base = start_server(env, ready="/health")
    yield Served(env, base, data, server)
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def test_load_is_handed_to_the_server_while_queries_answer(served: Served, tmp_path: Path) -> None:
    env, base, server = served.env, served.base, served.server
    extract = tmp_path / "burvis.csv"
    write_extract(extract)
    expected = {2023: 0, 2024: 0}
    for line in extract.read_bytes().decode("windows-1257").splitlines()[1:]:
        fields = line.split(";")
        expected[int(fields[0][-4:])] += fields[7] == "jā"

    answers: list[tuple[int, float]] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            status, _ = _get(base + QUERY)
            answers.append((status, time.perf_counter() - started))

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        loaded = _labis("load", "nva_burvis", str(extract), env=env, timeout=300)
    finally:
        stop.set()
        asker.join()
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "handing the load to " + base in loaded.stdout
    assert f"{ROWS:,} read, {ROWS:,} accepted" in loaded.stdout
    assert len(answers) >= 3 and all(status == 200 for status, _ in answers), answers[:5]

    status, body = _get(base + QUERY)
    assert status == 200
    got = {c["time.year"]: c["new_registrations"] for c in body["cells"]}  # type: ignore[index, union-attr]
    assert got == expected

    again = _labis("load", "nva_burvis", str(extract), env=env, timeout=300)
    assert again.returncode == 0 and "already loaded as batch" in again.stdout

    batch = re.search(r"→ batch ([0-9a-f]{16}) ok", loaded.stdout)
    assert batch, loaded.stdout
    unloaded = _labis("unload", batch.group(1), env=env, timeout=300)
    assert unloaded.returncode == 0 and "unloading via " + base in unloaded.stdout, unloaded.stderr
    status, body = _get(base + QUERY)
    assert status == 200 and body["cells"] == []

    # Other commands go through the server too (every command: test_commands_while_serving.py).
    asked = _labis("query", "unemployment", "-M", "new_registrations", env=env, timeout=120)
    assert asked.returncode == 0, asked.stderr
    assert f"`labis serve` (pid {server.pid}) holds the data: asking it at {base}" in asked.stderr


def test_admin_route_wants_the_token(served: Served) -> None:
    base, data = served.base, served.data
    request = urllib.request.Request(
        base + "/admin/load/nva_burvis?file_name=x.csv",
        data=b"Datums;\n",
        headers={"Authorization": "Bearer not-the-token"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    assert info.value.code == 401
    assert json.load(info.value)["error"] == "unauthorized"
    assert (data / "admin.token").stat().st_mode & 0o077 == 0  # readable by its owner only


def test_announcement_is_withdrawn_when_the_server_stops(served: Served) -> None:
    data, server = served.data, served.server
    assert (data / "serve.json").exists()
    server.send_signal(signal.SIGINT)
    server.wait(timeout=30)
    assert not (data / "serve.json").exists() and not (data / "admin.token").exists()
