"""A changed model applied while `labis serve` runs: `labis apply` hands it to the server, which
applies its own model folder and serves the new model from the next request on — the same
process, no restart. A broken model changes nothing; another folder is refused.

Real processes on one embedded data directory (the server and each command are
`python -m labis_olap.cli` subprocesses), as in test_commands_while_serving.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import AS_ANALYST, KEYS_FILE
from served import start_server

pytestmark = pytest.mark.slow  # a real server and a few command processes: run by .ci/run
ROOT = Path(__file__).resolve().parent.parent
CUBE = "social_assistance"
NEW_MEASURE = """
  - name: largest_payment
    label: {lv: Lielākā izmaksa, en: Largest payment}
    function: max
    column: amount
    unit: EUR
    decimals: 2
"""
NEW_ROLLUP = """
  - name: by_region_year
    grain: {territory: region, time: year}
    measures: [amount, payments, largest_payment]
"""


@dataclass
class Served:
    env: dict[str, str]
    base: str
    pid: int
    model: Path


def labis(*args: str, env: dict[str, str], code: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "labis_olap.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )
    shown = f"labis {' '.join(args)} → {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.returncode == code, shown
    assert "Traceback" not in done.stdout + done.stderr and "DB::Exception" not in done.stderr, shown
    return done


def get(base: str, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(urllib.request.Request(base + path, headers=AS_ANALYST), timeout=60) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("apply_serving")
    model = root / "model"
    shutil.copytree(ROOT / "model", model)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LABIS_DATA_DIR": str(root / "data"),
        "LABIS_MODEL_DIR": str(model),
        "LABIS_PSEUDONYM_KEY": "apply-serving-key-0123456789",
        "LABIS_API_KEYS_FILE": str(KEYS_FILE),
        "COLUMNS": "200",
    }
    labis("demo", "--rows", "2000", "--no-query", env=env)
    server, base = start_server(env, ready="/health")
    try:
        yield Served(env, base, server.pid, model)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


def _edit(cube_file: Path, measure: str, rollup: str) -> None:
    text = cube_file.read_text()
    head, rollups = text.split("\nrollups:\n")
    head, rules = head.split("\n# What the public may read")  # the measures end before the rules
    measures = head.rstrip("\n") + "\n" + measure.strip("\n") + "\n# What the public may read" + rules
    cube_file.write_text(measures + "\nrollups:\n" + rollups.rstrip("\n") + "\n" + rollup.strip("\n") + "\n")


def test_unchanged_model_is_up_to_date_through_the_server(served: Served) -> None:
    done = labis("apply", env=served.env)
    assert f"`labis serve` (pid {served.pid}) holds the data" in " ".join(done.stderr.split())
    assert "up to date; the server serves model" in done.stdout


def test_a_changed_model_is_served_without_a_restart(served: Served) -> None:
    by_region = f"/cube/{CUBE}/aggregate?aggregates=amount|payments&drilldown=territory:region|time:year"
    status, before = get(served.base, by_region + "&explain=1")
    assert status == 200
    status, body = get(served.base, f"/cube/{CUBE}/aggregate?aggregates=largest_payment")
    assert status == 404 and "largest_payment" in body["message"], body

    _edit(served.model / "cubes" / f"{CUBE}.yaml", NEW_MEASURE, NEW_ROLLUP)
    done = labis("apply", env=served.env)
    assert "applied" in done.stdout and "by_region_year" in done.stdout, done.stdout

    # the same server process answers the new measure, from the new rollup, with equal totals
    status, after = get(served.base, by_region + "&explain=1")
    assert status == 200
    assert after["explain"]["source"] == "by_region_year", after["explain"]
    assert before["explain"]["source"] != "by_region_year"
    key = [(c["territory.region"], c["time.year"]) for c in before["cells"]]
    assert key == [(c["territory.region"], c["time.year"]) for c in after["cells"]]
    assert [c["amount"] for c in before["cells"]] == [c["amount"] for c in after["cells"]]
    assert before["summary"] == after["summary"]
    status, largest = get(
        served.base, f"/cube/{CUBE}/aggregate?aggregates=largest_payment|amount&drilldown=territory:region"
    )
    assert status == 200, largest
    assert all(0 < c["largest_payment"] <= c["amount"] for c in largest["cells"]), largest["cells"]
    assert labis("apply", env=served.env).stdout.startswith("up to date")
    assert "model version" in done.stdout or "serves model" in done.stdout


def test_a_broken_model_changes_nothing(served: Served) -> None:
    cube_file = served.model / "cubes" / f"{CUBE}.yaml"
    good = cube_file.read_text()
    cube_file.write_text(good.replace("function: max", "function: maximum", 1))
    try:
        done = labis("apply", env=served.env, code=1)
        assert "social_assistance.yaml:" in done.stderr and "maximum" in done.stderr, done.stderr
        assert "asking it" not in done.stderr  # checked here: the server was never asked
        status, body = get(served.base, f"/cube/{CUBE}/aggregate?aggregates=largest_payment")
        assert status == 200 and body["summary"]["largest_payment"] > 0, body
    finally:
        cube_file.write_text(good)


def test_another_model_folder_is_refused(served: Served, tmp_path: Path) -> None:
    other = tmp_path / "model"
    shutil.copytree(served.model, other)
    done = labis("apply", "--model", str(other), env=served.env, code=1)
    text = " ".join(done.stderr.split())
    assert (
        f"this server serves the model in {served.model.resolve()}, not the one in {other.resolve()}" in text
    )
    assert "stop the server to apply another" in text
