"""Loader benchmark: rows/s of `labis load` into the LabIS unemployment cube, every rollup live.

    python benchmarks/bench_loaders.py [--rows 10000000] [--dir /tmp/labis-bench-loaders]

Writes the demo's unemployment facts as an NVA BURVIS extract twice — a Windows-1257 CSV in the
layout of loaders/nva_burvis.yaml (DD.MM.YYYY dates, V/S, '25-34', jā/nē, person codes with and
without the hyphen) and a Parquet file in the layout of loaders/nva_burvis_parquet.yaml — then
loads each with `python -m labis_olap.cli load` in a fresh process and data folder (all checks,
crosswalk, pseudonymisation in the engine, persons numbering, rollups), timing the whole command
(process start and model loading included; "of which loading" is the load's own time, from its
summary line) and its peak RSS (the process's VmHWM, read until it exits). The reference is
chDB inserting the same rows, already typed (the facts as Arrow, person numbers instead of
codes), into a plain MergeTree table: no checks, no pseudonyms, no rollups. Between the two,
the ceiling of any load with every rollup live: the same typed facts inserted into the cube's
facts table with its rollups' views.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-pseudonym-key-0123456789"


def unemployment_batches(rows: int):  # type: ignore[no-untyped-def]
    """The demo generator's unemployment facts, about `rows` of them (its other cubes skipped)."""
    from labis_olap.demo.generate import generate, plan_rows

    share = plan_rows(rows)["unemployment"] / rows
    for cube, batch in generate(int(rows / share) + 1):
        if cube == "unemployment":
            yield batch


def person_codes(person: pa.Array) -> pa.Array:
    from labis_olap.demo.generate import _person_code_bytes

    codes = _person_code_bytes(np.asarray(person))
    n = len(codes)
    offsets = np.arange(0, 12 * (n + 1), 12, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(codes.tobytes())])


def write_files(rows: int, csv_path: Path, parquet_path: Path) -> tuple[int, pa.Table]:
    """Both extracts; returns the row count and a sample of typed facts (for the reference)."""
    utf8 = csv_path.with_suffix(".utf8.csv")
    n = 0
    writer: pq.ParquetWriter | None = None
    reference: list[pa.Table] = []
    with pacsv.CSVWriter(
        str(utf8),
        pa.schema([(c, pa.string()) for c in HEADER]),
        write_options=pacsv.WriteOptions(delimiter=";", quoting_style="none"),
    ) as out:
        for batch in unemployment_batches(rows):
            batch = batch.slice(0, min(batch.num_rows, rows - n))
            if batch.num_rows == 0:
                break
            n += batch.num_rows
            codes = person_codes(batch.column("person"))
            plain = pc.replace_substring(codes, "-", "")
            odd = pa.array(np.arange(batch.num_rows) % 3 == 0)
            gender = batch.column("gender").cast(pa.string())
            age = batch.column("age_group").cast(pa.string())
            out.write_table(
                pa.table(
                    [
                        pc.strftime(batch.column("snapshot_date").cast(pa.timestamp("s")), format="%d.%m.%Y"),
                        batch.column("municipality").cast(pa.string()),
                        pc.if_else(pc.equal(gender, "M"), "V", "S"),
                        pc.replace_substring(pc.replace_substring(age, "A", ""), "_", "-"),
                        batch.column("education").cast(pa.string()),
                        pc.if_else(odd, plain, codes),
                        pc.if_else(pc.equal(batch.column("new_registration"), 1), "jā", "nē"),
                        batch.column("duration_months").cast(pa.string()),
                    ],
                    names=HEADER,
                )
            )
            table = pa.table(
                {
                    "snapshot_date": batch.column("snapshot_date"),
                    "atvk": batch.column("municipality").cast(pa.string()),
                    "gender": gender,
                    "age_group": age,
                    "isced": batch.column("education").cast(pa.string()),
                    "person_code": codes,
                    "new_registration": batch.column("new_registration"),
                    "duration_months": batch.column("duration_months"),
                }
            )
            if writer is None:
                writer = pq.ParquetWriter(parquet_path, table.schema)
            writer.write_table(table, row_group_size=256 * 1024)
            reference.append(batch)
    assert writer is not None
    writer.close()
    # The spec reads Windows-1257, as NVA exports it: transcode the UTF-8 file.
    with (
        utf8.open("r", encoding="utf-8", newline="") as src,
        csv_path.open("w", encoding="windows-1257", newline="") as dst,
    ):
        shutil.copyfileobj(src, dst, 16 << 20)
    utf8.unlink()
    return n, pa.concat_tables(reference)


HEADER = [
    "Datums",
    "ATVK kods",
    "Dzimums",
    "Vecuma grupa",
    "Izglītība (ISCED)",
    "Personas kods",
    "Jaunreģistrēts",
    "Bezdarba ilgums (mēn.)",
]


def run_load(source: str, path: Path, data_dir: Path) -> tuple[float, float, str]:
    """`labis load` in a fresh process: (seconds, peak RSS in MB, its last line)."""
    if data_dir.exists():
        shutil.rmtree(data_dir)
    env = {
        **os.environ,
        "LABIS_DATA_DIR": str(data_dir),
        "LABIS_MODEL_DIR": str(ROOT / "model"),
        "LABIS_LOADERS_DIR": str(ROOT / "loaders"),
        "LABIS_PSEUDONYM_KEY": KEY,
    }
    # Create the tables first, so the timing is the load's alone.
    subprocess.run(
        [sys.executable, "-m", "labis_olap.cli", "apply"], env=env, check=True, capture_output=True
    )
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labis_olap.cli", "load", source, str(path)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        # The peak is the process's own high-water mark (VmHWM), read until it exits: wait4's
        # ru_maxrss also counts this benchmark's memory at fork time (it holds the 10M reference
        # rows), which made both loads report the same 1,104 MB.
        peak_kb = 0
        while proc.poll() is None:
            peak_kb = max(peak_kb, _hwm_kb(proc.pid))
            time.sleep(0.02)
        seconds = time.perf_counter() - t0
        out.seek(0)
        output = out.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"load failed:\n{output}")
    return seconds, peak_kb / 1024, output.strip().splitlines()[-1]


def _hwm_kb(pid: int) -> int:
    """A running process's peak resident memory so far (kB), 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((ln for ln in status.splitlines() if ln.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1])



def reference_insert(facts: pa.Table, data_dir: Path) -> float:
    """chDB inserting the same facts, typed, into a plain MergeTree (no checks, no rollups)."""
    from labis_olap.engine.embedded import EmbeddedEngine

    if data_dir.exists():
        shutil.rmtree(data_dir)
    engine = EmbeddedEngine(data_dir, database="bench")
    engine.execute(
        "CREATE TABLE bench.plain (snapshot_date Date, municipality LowCardinality(String), "
        "gender LowCardinality(String), age_group LowCardinality(String), education LowCardinality(String), "
        "source LowCardinality(String), person UInt64, registered Int32, new_registration Int32, "
        "duration_months Int32) ENGINE = MergeTree PARTITION BY toYear(snapshot_date) ORDER BY snapshot_date"
    )
    t0 = time.perf_counter()
    for batch in facts.to_batches(max_chunksize=1_000_000):
        engine.insert_arrow("plain", pa.Table.from_batches([batch]))
    seconds = time.perf_counter() - t0
    engine.close()
    return seconds


def rollups_insert(facts: pa.Table, data_dir: Path) -> float:
    """The ceiling of a load with every rollup live: chDB inserting the same facts, typed, into the
    cube's real facts table with its 3 rollups' views live (the demo's insert settings: 4M-row
    inserts in 2 streams), with no reading, checks, pseudonyms, staging or persons numbering."""
    from labis_olap.compiler.apply import apply_model
    from labis_olap.demo.load import BATCH_ROWS, INSERT_SETTINGS
    from labis_olap.engine.embedded import EmbeddedEngine
    from labis_olap.model.reader import read_model
    from labis_olap.physical.layout import CubeLayout

    if data_dir.exists():
        shutil.rmtree(data_dir)
    model = read_model(ROOT / "model")
    engine = EmbeddedEngine(data_dir)
    apply_model(model, engine)
    table = CubeLayout(model, model.cubes["unemployment"], engine.database).facts_table
    t0 = time.perf_counter()
    for start in range(0, facts.num_rows, BATCH_ROWS):
        engine.insert_arrow(table, facts.slice(start, BATCH_ROWS), INSERT_SETTINGS)
    seconds = time.perf_counter() - t0
    engine.close()
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--dir", default="/tmp/labis-bench-loaders")
    args = ap.parse_args()
    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    csv_path, parquet_path = work / "burvis.csv", work / "burvis.parquet"
    console = Console(width=160)
    t0 = time.perf_counter()
    rows, facts = write_files(args.rows, csv_path, parquet_path)
    console.print(
        f"wrote {rows:,} rows in {time.perf_counter() - t0:.0f} s: "
        f"CSV {csv_path.stat().st_size / 1e6:,.0f} MB, "
        f"Parquet {parquet_path.stat().st_size / 1e6:,.0f} MB"
    )
    table = Table(
        title=f"Loading {rows:,} unemployment rows ({platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()})"
    )
    for col in ("load", "seconds", "rows/s", "of which loading", "peak RSS MB"):
        table.add_column(col, justify="left" if col == "load" else "right")
    for label, source, path in (
        ("labis load, Parquet (checks, pseudonyms, 3 rollups)", "nva_burvis_parquet", parquet_path),
        ("labis load, CSV windows-1257 (checks, pseudonyms, 3 rollups)", "nva_burvis", csv_path),
    ):
        seconds, rss, line = run_load(source, path, work / "data")
        console.print(line, highlight=False)
        inner = re.search(r" in ([0-9.]+) s \(", line)
        table.add_row(
            label,
            f"{seconds:.1f}",
            f"{rows / seconds:,.0f}",
            f"{inner.group(1)} s" if inner else "?",
            f"{rss:,.0f}",
        )
    seconds = rollups_insert(facts, work / "data_ceiling")
    table.add_row(
        "ceiling: chDB insert of the typed facts into the facts table, 3 rollups live",
        f"{seconds:.1f}",
        f"{rows / seconds:,.0f}",
        f"{seconds:.1f} s",
        "–",
    )
    seconds = reference_insert(facts, work / "data_ref")
    table.add_row(
        "reference: chDB insert of the typed Arrow facts, plain MergeTree",
        f"{seconds:.1f}",
        f"{rows / seconds:,.0f}",
        f"{seconds:.1f} s",
        "–",
    )
    console.print(table)


if __name__ == "__main__":
    main()
