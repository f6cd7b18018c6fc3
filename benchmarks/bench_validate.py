"""Validation benchmark: seconds to read and validate a model with one large dimension.

    python benchmarks/bench_validate.py [--members 10000,50000,200000]

Writes the generated model of tests/big_members.py (category → brand → part, SSB's part
dimension has 200,000 members) for each size and times, in this process with a fresh model
cache, reading the folder (YAML and the members CSV) and validating it. The floor, measured
in the same run: the duplicate-key check as it was (counting every key in the whole list,
quadratic), on the smaller sizes only — at 200,000 members it would run for minutes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from big_members import write_big_model  # noqa: E402

from labis_olap.model.diagnostics import Diagnostics  # noqa: E402
from labis_olap.model.reader import read_model  # noqa: E402
from labis_olap.model.validate import validate_model  # noqa: E402

QUADRATIC_UP_TO = 20_000
"""The old check is timed only up to this many members."""


def quadratic_duplicates(keys: list[str]) -> list[str]:
    """The duplicate-key check as it was before it became one pass (for the floor only)."""
    return sorted({k for k in keys if keys.count(k) > 1})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", default="5000,10000,20000,50000,200000")
    args = parser.parse_args()
    sizes = [int(x) for x in args.members.split(",")]
    table = Table(title="model validation, one dimension of N members")
    for col in ("members", "read (s)", "validate (s)", "total (s)", "old duplicate check (s)"):
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LABIS_CACHE_DIR"] = str(Path(tmp) / "cache")
        for n in sizes:
            root = write_big_model(Path(tmp) / f"m{n}", n)
            start = time.perf_counter()
            model = read_model(root, validate=False)
            read = time.perf_counter() - start
            start = time.perf_counter()
            diags = Diagnostics()
            validate_model(model, diags)
            check = time.perf_counter() - start
            assert not diags, diags.items[:3]
            old = "—"
            if n <= QUADRATIC_UP_TO:
                keys = [str(r["part"]) for r in model.members["part"]]
                start = time.perf_counter()
                quadratic_duplicates(keys)
                old = f"{time.perf_counter() - start:.2f}"
            table.add_row(f"{n:,}", f"{read:.2f}", f"{check:.2f}", f"{read + check:.2f}", old)
    Console().print(table)


if __name__ == "__main__":
    main()
