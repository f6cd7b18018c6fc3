"""Tables beside the model — members files, snowflaked tables, date lookups — read as rows of
text with where each row is, and joined many-to-one.

CSV and Parquet read alike: every value becomes its text (a Parquet integer `7` is the CSV's
`7`), dates stay dates and empty values are None, so that keys compare the same whichever
format a table came in, and the engine's member tables (text keys) receive the same rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostics, Location, did_you_mean
from .schema import Join
from .source import NodePath, SourceDoc

Row = dict[str, Any]


@dataclass
class Table:
    path: str
    header: list[str]
    rows: list[Row] = field(default_factory=list)
    locs: list[Location] = field(default_factory=list)
    """Where each row is: its CSV line, or (Parquet) its row number counted from 2, as a
    spreadsheet would show it under its header."""


def beside(doc: SourceDoc, name: str) -> Path:
    """A file named in a YAML document, relative to that document."""
    return Path(os.path.normpath(Path(doc.path).parent / name))


def _text(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return str(value)


def read_table(path: Path, what: str, loc: Location, diags: Diagnostics, code: str = "E113") -> Table | None:
    """A CSV (UTF-8, a BOM allowed) or Parquet file; None (and a located error) if unreadable."""
    if path.suffix.lower() == ".parquet":
        return _read_parquet(path, what, loc, diags, code)
    table = Table(str(path), [])
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:  # Excel writes a BOM
            reader = csv.reader(fh)
            table.header = next(reader, [])
            bad = False
            for fields in reader:
                if not fields:
                    continue
                if len(fields) != len(table.header):
                    diags.add(
                        code,
                        f"{what} row has {len(fields)} field(s), its header {len(table.header)}",
                        Location(str(path), reader.line_num, 1),
                        "quote a value that contains a comma",
                    )
                    bad = True
                    continue
                table.rows.append(
                    {k: (v if v != "" else None) for k, v in zip(table.header, fields, strict=True)}
                )
                table.locs.append(Location(str(path), reader.line_num, 1))
    except OSError as exc:
        diags.add(code, f"cannot read {what} '{path.name}': {exc.strerror}", loc)
        return None
    except (UnicodeDecodeError, csv.Error) as exc:
        diags.add(code, f"{what} '{path.name}' is not a UTF-8 CSV: {exc}", loc)
        return None
    return None if bad else table


def _read_parquet(path: Path, what: str, loc: Location, diags: Diagnostics, code: str) -> Table | None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        data = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        diags.add(code, f"cannot read {what} '{path.name}': {exc}", loc)
        return None
    header = list(data.column_names)
    columns = [[_text(v) for v in data.column(c).to_pylist()] for c in header]
    rows = [dict(zip(header, values, strict=True)) for values in zip(*columns, strict=True)]
    locs = [Location(str(path), n, 1) for n in range(2, len(rows) + 2)]
    return Table(str(path), header, rows, locs)


def joined_columns(joins: list[Join], doc: SourceDoc) -> tuple[list[str], list[str]]:
    """What joins need of the members and bring to them: the `on` columns a member row must
    carry itself (not one an earlier join brings), and the columns the joined tables add.
    Unreadable tables add nothing here: the join itself reports them."""
    needs: list[str] = []
    brings: list[str] = []
    for j in joins:
        if j.on not in brings and j.on not in needs:
            needs.append(j.on)
        path = beside(doc, j.file)
        table = read_table(path, "joined table", Location(str(path), 1, 1), Diagnostics(), "E132")
        if table is not None:
            brings += [c for c in table.header if c != j.key_column and c not in brings]
    return needs, brings


def join_tables(
    members: Table, joins: list[Join], doc: SourceDoc, at: NodePath, diags: Diagnostics
) -> Table | None:
    """The members with each joined table's columns added, in order (a later join may start
    from a column an earlier one brought: product → product_class → department). Refused,
    located, unless every join is many-to-one and total: a key column that is not there, a key
    that recurs in its table, a member whose key the table lacks, a column in both tables."""
    rows = members.rows
    header = list(members.header)
    ok = True
    for i, j in enumerate(joins):
        where = (*at, "join", i)
        table = read_table(beside(doc, j.file), "joined table", doc.loc((*where, "file")), diags, "E132")
        if table is None:
            ok = False
            continue
        if j.on not in header:
            diags.add("E132", f"unknown join column '{j.on}' in the members", doc.loc((*where, "on")),
                      did_you_mean(j.on, header))  # fmt: skip
            ok = False
            continue
        key = j.key_column
        if key not in table.header:
            at_key = doc.loc((*where, "key" if j.key else "on"))
            diags.add("E132", f"unknown column '{key}' in joined table '{j.file}'", at_key,
                      did_you_mean(key, table.header))  # fmt: skip
            ok = False
            continue
        both = [c for c in table.header if c != key and c in header]
        if both:
            diags.add("E132", f"column(s) {', '.join(both)} in both the members and '{j.file}'",
                      doc.loc((*where, "file")), "rename the column in one of the tables")  # fmt: skip
            ok = False
            continue
        by_key: dict[str, Row] = {}
        for r, loc in zip(table.rows, table.locs, strict=True):
            k = r[key]
            if k is None:
                diags.add("E132", f"empty key '{key}' in joined table '{j.file}'", loc)
                ok = False
            elif str(k) in by_key:
                diags.add("E132", f"join on '{j.on}' is not many-to-one: key '{k}' recurs in '{j.file}'", loc,
                          "a joined table has one row per key")  # fmt: skip
                ok = False
            else:
                by_key[str(k)] = r
        extra = [c for c in table.header if c != key]
        joined: list[Row] = []
        for r, loc in zip(rows, members.locs, strict=True):
            found = by_key.get(str(r[j.on])) if r[j.on] is not None else None
            if found is None:
                diags.add("E132", f"member's '{j.on}' {r[j.on]!r} has no row in '{j.file}'", loc,
                          f"every member needs its row in '{j.file}' (a join loses no member)")  # fmt: skip
                ok = False
                joined.append(r)
                continue
            joined.append({**r, **{c: found[c] for c in extra}})
        rows = joined
        header.extend(extra)
    return Table(members.path, header, rows, members.locs) if ok else None


WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAYS_LV = ("pirmdiena", "otrdiena", "trešdiena", "ceturtdiena", "piektdiena", "sestdiena", "svētdiena")


def calendar_rows(first: dt.date, last: dt.date) -> list[Row]:
    """One member row per day, first to last (schema.CALENDAR_COLUMNS), values as text."""
    rows: list[Row] = []
    day = first
    while day <= last:
        iso = day.isocalendar()
        rows.append(
            {
                "date": day.isoformat(),
                "year": str(day.year),
                "month": str(day.month),
                "day": str(day.day),
                "iso_year": str(iso.year),
                "iso_week": str(iso.week),
                "weekday": str(iso.weekday),
                "weekday_en": WEEKDAYS_EN[iso.weekday - 1],
                "weekday_lv": WEEKDAYS_LV[iso.weekday - 1],
            }
        )
        day += dt.timedelta(days=1)
    return rows
