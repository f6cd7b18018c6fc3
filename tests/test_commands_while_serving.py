"""Every command while `labis serve` holds the embedded data directory (one test per command):
the read-only ones (`loads`, `rejects`, `query`, `check`) ask the server and print what they
print without it, `apply` has the server apply its model (test_apply_while_serving.py); the
ones that would change what it serves (`drop`, `demo`,
`import-cubes --load`, a second `serve`) stop at once with one sentence naming the server and
what to do; those that open no engine (`audit`, `keys`) just work. Then the directory held by a
process that is no LabIS server, and a stale `serve.json`.

Real processes on one data directory: the server and each command are
`python -m labis_olap.cli` subprocesses (load/unload through the server: test_load_while_serving.py).
chDB prints its own `Code: 76 … Cannot lock file` line on the process's stderr when it finds a
directory locked, which only a separate process shows, so no command may get that far.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import AS_ANALYST, KEYS_FILE
from served import start_server

pytestmark = pytest.mark.slow  # a real server and a dozen command processes: ~40 s; run by .ci/run
ROOT = Path(__file__).resolve().parent.parent
KEY = "serve-test-key-0123456789"
SAMPLE = ROOT / "tests" / "fixtures" / "loaders" / "nva_burvis_2024.csv"
CUBES_HELLO = ROOT / "tests" / "fixtures" / "cubes_hello_world"
ENGINE_WORDS = ("Code: 76", "DB::Exception", "Cannot lock", "Traceback")


def _env(data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LABIS_DATA_DIR": str(data),
        "LABIS_MODEL_DIR": str(ROOT / "model"),
        "LABIS_LOADERS_DIR": str(ROOT / "loaders"),
        "LABIS_PSEUDONYM_KEY": KEY,
        "LABIS_API_KEYS_FILE": str(KEYS_FILE),
        "COLUMNS": "200",
    }


def labis(*args: str, env: dict[str, str], code: int = 0) -> subprocess.CompletedProcess[str]:
    """Run a command; check its exit code and that no engine message or traceback reached the user."""
    done = subprocess.run(
        [sys.executable, "-m", "labis_olap.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )
    shown = f"labis {' '.join(args)} → {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.returncode == code, shown
    assert not any(word in done.stdout + done.stderr for word in ENGINE_WORDS), shown
    return done


def one_line(text: str) -> str:
    """Rich wraps long messages; the assertions read them as one line."""
    return " ".join(text.split())


@dataclass
class Served:
    env: dict[str, str]
    base: str
    data: Path
    pid: int
    batch: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Demo data and a batch with rejected rows, then `labis serve` on them for the module."""
    data = tmp_path_factory.mktemp("serving") / "data"
    env = _env(data)
    labis("demo", "--rows", "1000", "--no-query", env=env)
    extract = tmp_path_factory.mktemp("extract") / "burvis_bad.csv"
    lines = SAMPLE.read_bytes().split(b"\r\n")
    lines[3] = lines[3].replace(b";V;", b";X;").replace(b";S;", b";X;")  # one gender no member has
    extract.write_bytes(b"\r\n".join(lines))
    loaded = labis("load", "nva_burvis", str(extract), env=env, code=1)  # over max_reject_share
    batch = re.search(r"→ batch ([0-9a-f]{16}) rejected", loaded.stdout)
    assert batch, loaded.stdout
    server, base = start_server(env, ready="/health")
    try:
        yield Served(env, base, data, server.pid, batch.group(1))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


def asked_the_server(done: subprocess.CompletedProcess[str], s: Served) -> None:
    assert f"`labis serve` (pid {s.pid}) holds the data: asking it at {s.base}" in one_line(done.stderr)


def refused(done: subprocess.CompletedProcess[str], s: Served, command: str) -> str:
    """The one sentence of a command that cannot run beside the server; its hint."""
    text = one_line(done.stderr)
    sentence = f"error: `{command}` cannot run while `labis serve` (pid {s.pid}, {s.base}) holds the data "
    assert sentence + f"directory {s.data}" in text, text
    assert "hint: stop the server first" in text and f"kill {s.pid}" in text, text
    return text


def test_loads_asks_the_server(served: Served) -> None:
    done = labis("loads", env=served.env)
    asked_the_server(done, served)
    row = next(line for line in done.stdout.splitlines() if served.batch in line)
    assert "burvis_bad.csv" in row and "rejected" in row and " 40 " in row, row
    assert "1 batch(es)" in done.stdout


def test_rejects_asks_the_server_with_a_prefix(served: Served) -> None:
    done = labis("rejects", served.batch[:8], env=served.env)
    asked_the_server(done, served)
    assert f"batch {served.batch} (burvis_bad.csv, rejected): 1 row(s) rejected" in done.stdout
    assert "not a member of dimension 'gender'" in done.stdout
    unknown = labis("rejects", "0123456789abcdef", env=served.env, code=1)
    assert "error: no batch '0123456789abcdef' in the lineage table" in unknown.stderr


def test_query_asks_the_server_and_matches_its_api(served: Served) -> None:
    done = labis(
        "query", "unemployment", "-M", "persons", "--drilldown", "territory:region", "--order",
        "persons:desc", "--limit", "2", "--lang", "en", env=served.env,
    )  # fmt: skip
    asked_the_server(done, served)
    url = f"{served.base}/cube/unemployment/aggregate?aggregates=persons&drilldown=territory:region&lang=en"
    with urllib.request.urlopen(urllib.request.Request(url, headers=AS_ANALYST), timeout=30) as r:
        cells = json.load(r)["cells"]  # the operator's command against an analyst's answer
    by_label = {c["territory.region_label"]: c["persons"] for c in cells}
    rows = [[f.strip() for f in line.split("│")[1:-1]] for line in done.stdout.splitlines() if "│" in line]
    printed = {label: int(value.replace(",", "")) for label, value in rows if label != "total"}
    assert len(printed) == 2 and all(by_label[label] == n for label, n in printed.items()), printed
    assert sorted(printed.values(), reverse=True) == sorted(by_label.values(), reverse=True)[:2]
    assert f"2 of {len(cells)} cells from " in done.stdout
    bad = labis("query", "unemploymnet", env=served.env, code=1)
    assert "no cube 'unemploymnet'" in bad.stderr and "did you mean 'unemployment'?" in bad.stderr


def test_check_asks_the_server(served: Served) -> None:
    done = labis("check", env=served.env)
    asked_the_server(done, served)
    assert "tables checked: no damaged part, every rollup adds up to its facts" in done.stdout


def test_apply_asks_the_server(served: Served) -> None:
    done = labis("apply", env=served.env)
    asked_the_server(done, served)
    assert "up to date; the server serves model" in done.stdout


def test_drop_stops_with_one_sentence(served: Served) -> None:
    refused(labis("drop", "unemployment", "--yes", env=served.env, code=1), served, "labis drop")


def test_demo_stops_with_one_sentence(served: Served) -> None:
    refused(labis("demo", "--rows", "1000", env=served.env, code=1), served, "labis demo")


def test_import_cubes_load_stops_before_writing(served: Served, tmp_path: Path) -> None:
    out = tmp_path / "hello"
    args = [
        "import-cubes",
        str(CUBES_HELLO / "model.json"),
        "--out",
        str(out),
        "--data",
        str(CUBES_HELLO / "data.csv"),
    ]
    done = labis(*args, "--load", env=served.env, code=1)
    assert "or leave out --load" in refused(done, served, "labis import-cubes --load")
    assert not out.exists()
    labis(*args, env=served.env)  # without --load it opens no engine
    assert (out / "model").is_dir()


def test_a_second_serve_stops_with_one_sentence(served: Served) -> None:
    done = labis("serve", "--port", "9", env=served.env, code=1)
    text = one_line(done.stderr)
    assert f"`labis serve` (pid {served.pid}, {served.base}) already serves the data directory" in text


def test_audit_and_keys_need_no_engine(served: Served) -> None:
    assert "record(s) from" in labis("audit", env=served.env).stdout
    assert "tests" in labis("keys", "list", env=served.env).stdout  # the analyst's (conftest)


# --- a directory held by something else, a stale announcement -----------------------------------

HOLDER = """
import sys, time, chdb
conn = chdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(120)
"""


@pytest.fixture
def foreign_holder(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A Python program that holds a data directory with chDB itself (no LabIS server)."""
    data = tmp_path / "data"
    data.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLDER), str(data)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    try:
        yield data, holder
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_a_directory_held_by_another_program(foreign_holder: tuple[Path, subprocess.Popen[str]]) -> None:
    data, holder = foreign_holder
    env = _env(data)
    for args in (["loads"], ["query", "unemployment"], ["apply"]):
        text = one_line(labis(*args, env=env, code=1).stderr)
        assert f"another process (pid {holder.pid}: {sys.executable} -c" in text, text
        assert f"{data}" in text and "hint: wait for it to finish or stop it" in text, text


def test_a_stale_announcement_is_ignored(
    foreign_holder: tuple[Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    """`serve.json` naming a live process that is no server of the directory (a reused pid)."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        # The directory is free: the command opens it itself and sends nothing anywhere.
        free = tmp_path / "free"
        env = _env(free)
        labis("apply", env=env)
        (free / "serve.json").write_text(json.dumps({"pid": other.pid, "url": "http://127.0.0.1:9"}))
        done = labis("loads", env=env)
        assert "0 batch(es)" in done.stdout and "asking it" not in done.stderr
        # Held by another program: the message names that program, not the announced pid.
        data, holder = foreign_holder
        (data / "serve.json").write_text(json.dumps({"pid": other.pid, "url": "http://127.0.0.1:9"}))
        text = one_line(labis("rejects", "0123456789abcdef", env=_env(data), code=1).stderr)
        assert f"another process (pid {holder.pid}:" in text and "labis serve" not in text, text
    finally:
        other.kill()
        other.wait(timeout=30)
