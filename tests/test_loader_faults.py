"""Fault test: `labis load` killed (SIGKILL) at random points, then run again, ends exactly as one
clean load — in the facts, in every rollup and in the persons dictionary.

Each run is a separate process with its own data folder (chDB opens a folder in one process
only): the loader (`python -m labis_olap.cli load …`), killed just after a phase marker it prints
(LABIS_LOAD_TRACE: staging, persons, publishing, each published chunk), the markers chosen
evenly over the clean load's; the same command again; then a probe process that reads the
totals. Small publish chunks (LABIS_LOAD_CHUNK_ROWS) give many kills between two chunks.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from labis_olap.demo.generate import _person_code_bytes

pytestmark = pytest.mark.slow  # kills and reruns real loads: ~75 s; run by .ci/run, not by default
ROOT = Path(__file__).resolve().parent.parent
KILLS = 10
ROWS = 60_000
CHUNK = 4_000
MUNICIPALITIES = ["0001000", "0002000", "0010000", "0022000", "0034000", "0042000", "0054000", "0055000"]
AGES = ["15-24", "25-34", "35-44", "45-54", "55-64"]

PROBE = r"""
import json, sys
from labis_olap.physical.layout import CubeLayout
from labis_olap.engine.embedded import EmbeddedEngine
from labis_olap.model.reader import read_model

model = read_model(sys.argv[2])
engine = EmbeddedEngine(sys.argv[1])
layout = CubeLayout(model, model.cubes["unemployment"], engine.database)

def one(sql):
    return next(iter(engine.query(sql).to_pylist()[0].values()))

out = {
    "facts": one("SELECT count() FROM labis.facts_unemployment"),
    "facts.sums": one("SELECT tuple(sum(registered), sum(new_registration), sum(duration_months), "
                      "uniqExact(person), uniqExact(municipality), uniqExact(snapshot_date)) "
                      "FROM labis.facts_unemployment"),
    "persons": one("SELECT tuple(count(), uniqExact(pseudonym), uniqExact(person_num), max(person_num)) "
                   "FROM labis.persons"),
    "status": one("SELECT argMax(status, event_time) FROM labis.loads"),
    "stages": one("SELECT count() FROM system.tables WHERE database = 'labis' AND name LIKE '\\_load%'"),
}
for r in model.cubes["unemployment"].rollups:
    for m in layout.rollup_measures(r):
        for s in layout.state_columns(m):
            merged = s.merge.format(f"`{s.name}`")
            out[f"{r.name}.{s.name}"] = one(f"SELECT {merged} FROM labis.`{layout.rollup_table(r)}`")
print(json.dumps(out, default=str))
"""


def write_extract(path: Path) -> None:
    rng = np.random.default_rng(11)
    persons = rng.integers(1, 6_000, ROWS)
    codes = [bytes(c).decode() for c in _person_code_bytes(persons)]
    months = rng.integers(0, 24, ROWS)
    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(
        [
            "Datums",
            "ATVK kods",
            "Pašvaldība",
            "Dzimums",
            "Vecuma grupa",
            "Izglītība (ISCED)",
            "Personas kods",
            "Jaunreģistrēts",
            "Bezdarba ilgums (mēn.)",
        ]
    )
    for i in range(ROWS):
        y, m = 2023 + months[i] // 12, months[i] % 12 + 1
        day = 28 if m == 2 else 30 if m in (4, 6, 9, 11) else 31
        w.writerow(
            [
                f"{day:02d}.{m:02d}.{y}",
                MUNICIPALITIES[i % 8],
                "Rīga",
                "VS"[i % 2],
                AGES[i % 5],
                "ED3",
                codes[i] if i % 4 else codes[i].replace("-", ""),
                "jā" if i % 7 == 0 else "nē",
                str(i % 40),
            ]
        )
    path.write_bytes(buf.getvalue().encode("windows-1257"))


def env_for(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LABIS_DATA_DIR": str(data_dir),
        "LABIS_MODEL_DIR": str(ROOT / "model"),
        "LABIS_LOADERS_DIR": str(ROOT / "loaders"),
        "LABIS_PSEUDONYM_KEY": "fault-test-key-0123456789",
        "LABIS_LOAD_CHUNK_ROWS": str(CHUNK),
        "LABIS_LOAD_TRACE": "1",
        "LABIS_DATABASE": "labis",
    }


def load(data_dir: Path, path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "labis_olap.cli", "load", "nva_burvis", str(path)],
        env=env_for(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def trace(stderr: bytes) -> list[tuple[float, str]]:
    out = []
    for line in stderr.decode(errors="replace").splitlines():
        stamp, _, event = line.partition(" ")
        try:
            out.append((float(stamp), event))
        except ValueError:
            continue
    return out


def probe(data_dir: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(data_dir), str(ROOT / "model")],
        env=env_for(data_dir),
        capture_output=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_killed_loads_rerun_to_exactly_one_clean_load(tmp_path: Path) -> None:
    extract = tmp_path / "burvis.csv"
    write_extract(extract)

    clean = load(tmp_path / "clean", extract)
    out, err = clean.communicate(timeout=120)
    assert clean.returncode == 0, (out + err).decode()
    events = {e for _, e in trace(err)}
    assert {"staging", "persons", "publishing", "done"} <= events, err.decode()
    want = probe(tmp_path / "clean")
    assert want["facts"] == ROWS and want["status"] == "ok" and want["stages"] == 0

    # Each run is killed right after a chosen phase marker of the clean run (staging, persons,
    # publishing, then the chunks in turn), plus a few random milliseconds: where a kill lands
    # follows the loader's progress, not this machine's speed.
    rng = random.Random(20240531)
    markers = [e for _, e in trace(err) if e != "done"]
    chosen = [markers[round(i * (len(markers) - 1) / (KILLS - 1))] for i in range(KILLS)]
    landed: list[str] = []
    for i, marker in enumerate(chosen):
        data_dir = tmp_path / f"run{i}"
        proc = load(data_dir, extract)
        assert proc.stderr is not None
        seen: list[bytes] = []
        for line in iter(proc.stderr.readline, b""):
            seen.append(line)
            if line.decode(errors="replace").strip().endswith(f" {marker}"):
                time.sleep(rng.random() * 0.02)
                break
        proc.send_signal(signal.SIGKILL)
        _, rest = proc.communicate(timeout=60)
        reached = trace(b"".join(seen) + rest)
        landed.append(reached[-1][1] if reached else "starting")
        again = load(data_dir, extract)
        out, err2 = again.communicate(timeout=120)
        assert again.returncode == 0, (out + err2).decode()
        got = probe(data_dir)
        assert got == want, f"kill {i} after '{landed[-1]}': {got} != {want}"
    # Kills landed in different phases, and at least two between published chunks (some chunks
    # visible, others not): exactly the case the dedup tokens are for.
    chunks = -(-ROWS // CHUNK)
    partial = [p for p in landed if p.startswith("chunk") and 0 < int(p.split()[1]) < chunks]
    print("kills landed after:", landed)
    assert len(partial) >= 2, landed
    assert len(set(landed)) >= 3, landed
