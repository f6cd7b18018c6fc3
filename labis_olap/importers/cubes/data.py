"""The Cubes data: reading the denormalised CSV, deriving member keys, and converting rows into
the members CSV of each dimension and the facts CSV of the cube (header = fact columns).

The facts CSV is what the loaders read (through the loader spec the import writes); nothing
here touches the engine.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

from ...errors import UserError
from ...model.schema import ColumnType
from .parse import CubesDim

PATH_SEP = "/"


@dataclass
class KeyPlan:
    """How one plain dimension's members and fact key are derived from the data."""

    dim: CubesDim
    name: str
    ambiguous: list[set[str]]
    """Per level: keys written with their parent path (see `ambiguous_keys`)."""
    key_columns: list[str]
    """Per level: the member-table column holding the level key."""
    fact_column: str


def read_csv(path: Path, columns: list[str] | None) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise UserError(f"{path}: the file is empty") from None
        body = list(reader)
    names = columns or header
    if len(names) != len(header):
        raise UserError(f"{path}: {len(header)} columns in the file but {len(names)} names given")
    rows = []
    for n, values in enumerate(body, start=2):
        if not values:
            continue
        if len(values) != len(names):
            raise UserError(f"{path}:{n}: {len(values)} values, expected {len(names)}")
        rows.append(dict(zip(names, values, strict=True)))
    return names, rows


def read_cube_data(
    data: Path, columns: list[str] | None, cubes_columns: list[str], warnings: list[str]
) -> list[dict[str, str]]:
    """The data's rows by Cubes column: matched by header name, else (when the header does not
    name them, as the tutorial's "Category Code, …") by position, else by `columns`."""
    header, rows = read_csv(data, columns)
    if set(cubes_columns) <= set(header):
        return rows
    if columns is None and len(header) == len(cubes_columns):
        warnings.append(
            f"{data.name}: header does not name the Cubes columns; read by position as "
            + ", ".join(cubes_columns)
        )
        return read_csv(data, cubes_columns)[1]
    missing = sorted(set(cubes_columns) - set(header))
    raise UserError(
        f"{data}: no column(s) {', '.join(missing)}",
        hint="name the columns with --columns, in the file's order",
    )


def ambiguous_keys(rows: list[dict[str, str]], dim: CubesDim) -> list[set[str]]:
    """Per level, the keys that recur under different parents (Cubes keys are unique only
    within their parent; a LabIS level key names one member)."""
    out = []
    for i, lv in enumerate(dim.levels):
        parents: dict[str, set[tuple[str, ...]]] = {}
        for r in rows:
            path = tuple(r[x.key.column] for x in dim.levels[:i])
            parents.setdefault(r[lv.key.column], set()).add(path)
        out.append({k for k, p in parents.items() if len(p) > 1})
    return out


def key_value(row: dict[str, str], dim: CubesDim, i: int, ambiguous: list[set[str]]) -> str:
    """The level key: the Cubes key, or the path down to it when that key is ambiguous."""
    raw = row[dim.levels[i].key.column]
    if raw not in ambiguous[i]:
        return raw
    return PATH_SEP.join(row[lv.key.column] for lv in dim.levels[: i + 1])


def number_type(values: list[str]) -> ColumnType:
    ints = True
    for v in values:
        if v.strip() == "":
            continue
        try:
            int(v)
        except ValueError:
            ints = False
            try:
                float(v)
            except ValueError:
                raise UserError(f"measure value {v!r} is not a number") from None
    return ColumnType.int64 if ints else ColumnType.float


def time_date(row: dict[str, str], dim: CubesDim) -> str:
    """The date a time dimension's level columns name (year 2010 → 2010-01-01)."""
    parts = {lv.role: row[lv.key.column] for lv in dim.levels}
    try:
        year = int(parts["year"])
        month = int(parts.get("month") or 0) or (3 * int(parts["quarter"]) - 2 if parts.get("quarter") else 1)
        day = int(parts.get("day") or 1)
        return dt.date(year, month, day).isoformat()
    except (KeyError, ValueError) as exc:
        raise UserError(f"time dimension '{dim.name}': cannot make a date from {parts}: {exc}") from None


def members_csv(plan: KeyPlan, rows: list[dict[str, str]], col_of: dict[str, str]) -> str:
    d = plan.dim
    cols: list[str] = []
    for i, lv in enumerate(d.levels):
        for a in lv.attributes:
            if col_of[a.column] not in cols:
                cols.append(col_of[a.column])
        if plan.ambiguous[i]:
            cols.append(plan.key_columns[i])
    seen: dict[str, dict[str, str]] = {}
    for r in rows:
        rec = {col_of[a.column]: r[a.column] for lv in d.levels for a in lv.attributes}
        for i in range(len(d.levels)):
            if plan.ambiguous[i]:
                rec[plan.key_columns[i]] = key_value(r, d, i, plan.ambiguous)
        seen[rec[plan.key_columns[-1]]] = rec
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(cols)
    for rec in seen.values():
        writer.writerow([rec[c] for c in cols])
    return out.getvalue()


def facts_csv(
    rows: list[dict[str, str]],
    names: list[str],
    col_of: dict[str, str],
    time_cols: dict[str, tuple[CubesDim, str]],
    plans: list[KeyPlan],
) -> str:
    """The facts CSV: one row per data row, the header naming the fact columns (`names`):
    Cubes columns copied (`col_of`: Cubes column → fact column), a date per time dimension,
    the path key of a dimension whose leaf keys are ambiguous."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for r in rows:
        rec: dict[str, str] = {}
        for src, col in col_of.items():
            rec[col] = r[src]
        for dim, col in time_cols.values():
            rec[col] = time_date(r, dim)
        for plan in plans:
            if plan.ambiguous[-1]:
                rec[plan.fact_column] = key_value(r, plan.dim, len(plan.dim.levels) - 1, plan.ambiguous)
        writer.writerow([rec.get(n, "") for n in names])
    return out.getvalue()
