"""Generate model/members/territory.csv from the Latvian territory reference table.

Run from anywhere (stdlib only):  python model/members/make_territory.py

Input:  examples/reference/latvia/territory_lv_2021.csv (in the repository; see SOURCES.md
        there for where each code comes from and how sure it is).
Output: territory.csv beside this script: versioned (SCD2) member rows of the
        `territory` dimension, one row per ATVK code per validity range.

Why versioned: facts carry only the ATVK code of a municipality (`fact_key`). What region
that municipality belongs to changed on 2024-01-01 (6 NUTS 3 statistical regions became
5, Pierīga was split up), and on 2025-07-01 Varakļāni was merged into Madona (new code
0038001). A fact dated D is attached to the row whose [valid_from, valid_to] contains D
("as the territory was then"); the query layer can also take the rows valid at another
date ("as it is now"). valid_to is inclusive; an empty valid_to means still valid.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SOURCE = REPO / "examples" / "reference" / "latvia" / "territory_lv_2021.csv"
TARGET = HERE / "territory.csv"

COLUMNS = [
    "fact_key", "valid_from", "valid_to",
    "region_code", "region_lv", "region_en",
    "municipality_code", "municipality_lv", "municipality_en",
    "kind_code", "kind_lv", "kind_en",
]

# The two NUTS 3 region sets and the dates they apply (valid_to inclusive, None = open).
PERIODS = [
    (dt.date(2021, 7, 1), dt.date(2023, 12, 31), "nuts3_2021_2023_code"),
    (dt.date(2024, 1, 1), None, "nuts3_2024_code"),
]

# Region labels. The four regions that ceased on 2023-12-31 carry "(2021–2023)" because
# LV003/LV006/LV008 share their plain names with LV00B/LV00A/LV00C, whose territory
# differs; a table spanning both periods would otherwise show two different "Rīga" rows.
# LV005 Latgale and LV009 Zemgale kept code and territory across the 2024 change.
REGIONS = {
    "LV003": ("Kurzemes statistiskais reģions (2021–2023)", "Kurzeme statistical region (2021–2023)"),
    "LV005": ("Latgales statistiskais reģions", "Latgale statistical region"),
    "LV006": ("Rīgas statistiskais reģions (2021–2023)", "Riga statistical region (2021–2023)"),
    "LV007": ("Pierīgas statistiskais reģions (2021–2023)", "Pieriga statistical region (2021–2023)"),
    "LV008": ("Vidzemes statistiskais reģions (2021–2023)", "Vidzeme statistical region (2021–2023)"),
    "LV009": ("Zemgales statistiskais reģions", "Zemgale statistical region"),
    "LV00A": ("Rīgas statistiskais reģions", "Riga statistical region"),
    "LV00B": ("Kurzemes statistiskais reģions", "Kurzeme statistical region"),
    "LV00C": ("Vidzemes statistiskais reģions", "Vidzeme statistical region"),
}

KINDS = {
    "valstspilsēta": ("state_city", "valstspilsēta", "state city"),
    "novads": ("municipality", "novads", "municipality"),
}

# Municipalities that ended, and the code that took them over the day after. The
# reference table gives the end date but no successor column; SOURCES.md (verification C)
# records the Varakļāni → Madona merger and the new code 0038001.
SUCCESSORS = {"0038000": "0038001", "0055000": "0038001"}

# The reference names 0038001 "Madonas novads" like 0038000; the lv label says which one.
LABEL_OVERRIDES = {"0038001": ("Madonas novads (ar bijušo Varakļānu novadu)", None)}


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _iso(d: dt.date | None) -> str:
    return d.isoformat() if d else ""


def own_rows(ref: dict[str, str]) -> list[dict[str, str]]:
    """A unit's rows under its own code: its life clipped to each region period."""
    start, end = _date(ref["valid_from"]), _date(ref["valid_to"])
    kind_code, kind_lv, kind_en = KINDS[ref["type"]]
    lv_override, en_override = LABEL_OVERRIDES.get(ref["atvk_code"], (None, None))
    rows = []
    for p_start, p_end, region_col in PERIODS:
        lo = max(start, p_start) if start else p_start
        ends = [e for e in (end, p_end) if e is not None]
        hi = min(ends) if ends else None
        if hi is not None and hi < lo:
            continue
        region = ref[region_col]
        if not region:
            raise SystemExit(f"{ref['atvk_code']}: no region in '{region_col}' for {lo}..{hi}")
        region_lv, region_en = REGIONS[region]
        rows.append({
            "fact_key": ref["atvk_code"],
            "valid_from": _iso(lo),
            "valid_to": _iso(hi),
            "region_code": region,
            "region_lv": region_lv,
            "region_en": region_en,
            "municipality_code": ref["atvk_code"],
            "municipality_lv": lv_override or ref["name_lv"],
            "municipality_en": en_override or ref["name_en"],
            "kind_code": kind_code,
            "kind_lv": kind_lv,
            "kind_en": kind_en,
        })
    return rows


def main() -> None:
    with SOURCE.open(encoding="utf-8", newline="") as fh:
        refs = {r["atvk_code"]: r for r in csv.DictReader(fh)}
    by_code = {code: own_rows(ref) for code, ref in refs.items()}
    rows = [r for code in refs for r in by_code[code]]
    # After a merger, facts still keyed by the old code map to the successor's members.
    for old, new in SUCCESSORS.items():
        end = _date(refs[old]["valid_to"])
        if end is None:
            raise SystemExit(f"{old} has a successor but no valid_to")
        day_after = end + dt.timedelta(days=1)
        for r in by_code[new]:
            if _date(r["valid_from"]) >= day_after:
                rows.append({**r, "fact_key": old})
    rows.sort(key=lambda r: (r["fact_key"], r["valid_from"]))
    with TARGET.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {TARGET}")


if __name__ == "__main__":
    main()
