"""A generated model with one large dimension (category → brand → part), for the validation
scale test and benchmarks/bench_validate.py: SSB's part dimension has 200,000 members."""

from __future__ import annotations

import csv
from pathlib import Path


def write_big_model(root: Path, members: int, *, duplicate: bool = False) -> Path:
    """A model folder with `members` parts; with `duplicate`, the last part repeats the first's key."""
    (root / "dimensions").mkdir(parents=True, exist_ok=True)
    (root / "cubes").mkdir(parents=True, exist_ok=True)
    with (root / "dimensions" / "part.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["category", "brand", "part", "part_name"])
        for i in range(members):
            key = 0 if duplicate and i == members - 1 else i
            w.writerow([f"MFGR#{i % 25}", f"MFGR#{i % 1000}", f"P{key}", f"part {i}"])
    (root / "dimensions" / "part.yaml").write_text(
        "dimension: part\n"
        "levels:\n"
        "  - {name: category}\n"
        "  - {name: brand}\n"
        "  - {name: part, label_column: {lv: part_name, en: part_name}}\n"
        "members: {file: part.csv}\n",
        encoding="utf-8",
    )
    (root / "cubes" / "lineorder.yaml").write_text(
        "cube: lineorder\n"
        "columns:\n"
        "  - {name: part, type: string}\n"
        "  - {name: revenue, type: int64}\n"
        "dimensions:\n"
        "  - {dimension: part, column: part}\n"
        "measures:\n"
        "  - {name: revenue, function: sum, column: revenue}\n"
        "rollups:\n"
        "  - {name: by_brand, grain: {part: brand}}\n",
        encoding="utf-8",
    )
    return root
