"""Perturbation tables (p-tables) of the cell key method (docs/disclosure.md).

A p-table says how much noise (`pvalue`) a count gets from its cell's key: one row per
perturbation cell value `pcv` (the count, or where the count exceeds the table its place in
the table's repeating tail) and cell key `ckey` 0–255 — the CSV form of the ONS
`cell-key-perturbation` package and the ABS (columns `pcv,ckey,pvalue`; other columns are
ignored, a missing row is no noise). The published count is count + pvalue.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

CELL_KEYS = 256
"""Record and cell keys are 0–255; a cell key is the sum of record keys mod 256."""
TAIL = 250
"""Counts above a table's largest pcv reuse its last 250 rows, as the ONS package does."""


@dataclass(frozen=True)
class PTable:
    noise: dict[tuple[int, int], int]
    """(pcv, ckey) → pvalue; absent: 0."""
    max_pcv: int

    def pcv(self, count: int) -> int:
        """The row of the table a count reads: the count itself up to the largest pcv, then the
        last `TAIL` rows over and over (ONS: ((count − 1) mod 250) + 501 for a 750-row table)."""
        if count <= self.max_pcv:
            return count
        tail = min(TAIL, self.max_pcv)
        return (count - 1) % tail + self.max_pcv - tail + 1

    def published(self, count: int, ckey: int) -> int:
        return count + self.noise.get((self.pcv(count), ckey % CELL_KEYS), 0)


class PTableError(ValueError):
    """A p-table file that cannot be used (with the line it is about, if any)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def ptable_path(root: Path, name: str) -> Path | None:
    """The p-table file a cube names, relative to the model folder (None: not a file in it)."""
    path = (root / name).resolve()
    return path if path.is_file() and path.is_relative_to(root.resolve()) else None


def read_ptable(path: Path) -> PTable:
    """A p-table from its CSV file; a PTableError saying what is wrong and where."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PTableError(f"cannot read {path.name}: {exc.strerror}") from None
    reader = csv.DictReader(text.splitlines())
    missing = {"pcv", "ckey", "pvalue"} - set(reader.fieldnames or [])
    if missing:
        raise PTableError(f"{path.name} lacks the column(s) {', '.join(sorted(missing))}", 1)
    noise: dict[tuple[int, int], int] = {}
    for row in reader:
        line = reader.line_num
        try:
            pcv, ckey, pvalue = int(row["pcv"]), int(row["ckey"]), int(row["pvalue"])
        except (TypeError, ValueError):
            raise PTableError("pcv, ckey and pvalue must be whole numbers", line) from None
        if pcv < 0 or not 0 <= ckey < CELL_KEYS:
            raise PTableError(f"pcv must be ≥ 0 and ckey 0–{CELL_KEYS - 1}", line)
        if pcv + pvalue < 0:
            raise PTableError(f"pvalue {pvalue} would make the count {pcv} negative", line)
        if noise.setdefault((pcv, ckey), pvalue) != pvalue:
            raise PTableError(f"two pvalues for pcv {pcv}, ckey {ckey}", line)
    if not noise:
        raise PTableError(f"{path.name} has no rows", 1)
    return PTable(noise, max(p for p, _ in noise))


DEFAULT_MAX_PCV = 750
DEFAULT_NOISE = ((-2, 13), (-1, 51), (0, 128), (1, 51), (2, 13))
"""The default table's noise and how many of the 256 cell keys get each (≈ 5 %, 20 %, 50 %,
20 %, 5 %): symmetric, variance ≈ 0.6, so that averaging many cells of one table does not
reveal a count and a count is still within 2 of the truth."""


def default_ptable(threshold: int) -> PTable:
    """The p-table used when a cube names none: a count under the threshold becomes 0 (not
    shown), a count at or above it gets noise −2 … +2 by its cell key, never taking it under
    the threshold (where −d would, the noise is 0)."""
    noise: dict[tuple[int, int], int] = {}
    for pcv in range(1, DEFAULT_MAX_PCV + 1):
        ckey = 0
        for d, keys in DEFAULT_NOISE:
            for k in range(ckey, ckey + keys):
                if pcv < threshold:
                    noise[(pcv, k)] = -pcv
                elif d and pcv + d >= threshold:
                    noise[(pcv, k)] = d
            ckey += keys
    return PTable(noise, DEFAULT_MAX_PCV)
