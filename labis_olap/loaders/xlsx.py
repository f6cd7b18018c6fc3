"""Read one sheet of an XLSX workbook as RawBatch (python-calamine), optionally unpivoted.

calamine parses the sheet in Rust and hands rows over one at a time; they are gathered into
Arrow batches of XLSX_BATCH_ROWS records, so Python never holds more than a batch. A column whose
cells in a batch are all dates (or all date-times) stays typed; any other column is text, with
numbers written as Excel holds them (`12.5`, `5001`), so the loader's checks (decimal places,
integers) apply as they do to a CSV.

A wide statistical table (`unpivot:` in the spec) becomes one record per non-empty cell of its
`across` columns: the `ids` of the cell's row, the column's header text, the cell. Every header
of the header row must be an id, an across column or an ignored one, else the file fails: a
changed layout is found before anything is loaded, not as thousands of rejects.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from ..model.diagnostics import did_you_mean
from ..privacy import redact
from .raw import RawBatch, SourceFile
from .spec import Unpivot

XLSX_BATCH_ROWS = 50_000


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out


def cell_text(v: Any) -> str:
    """A cell as text: integral numbers without '.0', dates in ISO form, empty as ''."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _array(values: list[Any]) -> pa.Array:
    kinds = {type(v) for v in values if v is not None and v != ""}
    if kinds == {dt.date}:
        return pa.array([v if isinstance(v, dt.date) else None for v in values], pa.date32())
    if kinds == {dt.datetime}:
        return pa.array([v if isinstance(v, dt.datetime) else None for v in values], pa.timestamp("us"))
    return pa.array([cell_text(v) for v in values], pa.string())


def _open_sheet(reader: SourceFile) -> tuple[str, Any]:
    import python_calamine as cal

    o = reader.plan.spec.options
    try:
        book = cal.CalamineWorkbook.from_path(str(reader.path))
    except cal.PasswordError:
        raise reader.error(
            "L206",
            "the workbook is password-protected",
            hint="save an unprotected copy (File → Info → Protect Workbook → Encrypt with Password: empty)",
        ) from None
    except Exception as exc:  # calamine raises ZipError, XmlError, CalamineError, ValueError, …
        reason = redact(str(exc).splitlines()[0][:200]) if str(exc) else type(exc).__name__
        raise reader.error(
            "L206",
            f"not a readable XLSX workbook: {reason}",
            hint="the file may be truncated or in another format (kind: csv?)",
        ) from None
    names = list(book.sheet_names)
    listed = ", ".join(f"'{redact(n)}'" for n in names)
    if o.sheet is None:
        if not names:
            raise reader.error("L207", "the workbook has no sheets")
        return names[0], book.get_sheet_by_index(0)
    if isinstance(o.sheet, int):
        if not 1 <= o.sheet <= len(names):
            raise reader.error(
                "L207", f"there is no sheet number {o.sheet}; the workbook has {len(names)}: {listed}"
            )
        return names[o.sheet - 1], book.get_sheet_by_index(o.sheet - 1)
    if o.sheet not in names:
        raise reader.error(
            "L207",
            f"there is no sheet '{redact(o.sheet)}'; the workbook has: {listed}",
            hint=did_you_mean(o.sheet, names),
        )
    return o.sheet, book.get_sheet_by_name(o.sheet)


def xlsx_batches(reader: SourceFile) -> Iterator[RawBatch]:
    o = reader.plan.spec.options
    name, sheet = _open_sheet(reader)
    col0 = sheet.start[1] if sheet.start else 0
    rows = iter(sheet.iter_rows())
    header: list[str] = []
    for i, cells in enumerate(rows, start=1):
        if i == o.header_row:
            header = [cell_text(c).strip() for c in cells]
            break

    def where(j: int) -> str:
        return f"sheet '{redact(name)}', column {column_letter(col0 + j)}"

    if reader.plan.spec.unpivot is not None:
        yield from _unpivot(reader, rows, header, name, where)
        return
    names = reader.match_columns(header, what=f"sheet '{redact(name)}'")
    index = {h: j for j, h in reversed(list(enumerate(header)))}
    take = {want: index[have.strip()] for want, have in names.items()}
    batch: list[list[Any]] = []
    numbers: list[int] = []
    for i, cells in enumerate(rows, start=o.header_row + 1):
        if all(c == "" or c is None for c in cells):
            continue
        batch.append(cells)
        numbers.append(i)
        if len(batch) >= XLSX_BATCH_ROWS:
            yield _batch(batch, numbers, take)
            batch, numbers = [], []
    if batch:
        yield _batch(batch, numbers, take)


def _batch(cells: list[list[Any]], numbers: list[int], take: dict[str, int]) -> RawBatch:
    cols = {want: _array([row[j] if j < len(row) else "" for row in cells]) for want, j in take.items()}
    rows = pa.array(np.array(numbers, dtype=np.uint64))
    return RawBatch(numbers[0], cols, len(numbers), rows=rows)


def _unpivot(
    reader: SourceFile, rows: Iterator[list[Any]], header: list[str], name: str, where: Callable[[int], str]
) -> Iterator[RawBatch]:
    u = reader.plan.spec.unpivot
    assert u is not None
    o = reader.plan.spec.options
    across_re = re.compile(u.across)
    ids: dict[str, int] = {}
    across: list[tuple[int, str]] = []
    for j, h in enumerate(header):
        if h in u.ids:
            ids.setdefault(h, j)
        elif across_re.fullmatch(h):
            across.append((j, h))
        elif h and h not in u.ignore:
            raise reader.error(
                "L208",
                f"{where(j)}: header '{redact(h)}' is not an id column and does not match unpivot.across",
                row=o.header_row,
                hint="the layout changed? list it in unpivot.ignore if the column is to be skipped",
            )
    missing = [i for i in u.ids if i not in ids]
    if missing:
        raise reader.error(
            "L202",
            f"sheet '{redact(name)}' has no column '{redact(missing[0])}' in row {o.header_row}",
            row=o.header_row,
            hint=did_you_mean(missing[0], [h for h in header if h]) or "check options.header_row and sheet",
        )
    if not across:
        raise reader.error(
            "L208",
            f"sheet '{redact(name)}': no header in row {o.header_row} matches unpivot.across",
            row=o.header_row,
        )
    nulls = set(reader.plan.null_values)
    out: dict[str, list[Any]] = {k: [] for k in (*u.ids, u.header, u.value)}
    numbers: list[int] = []
    for i, cells in enumerate(rows, start=o.header_row + 1):
        for j, h in across:
            v = cells[j] if j < len(cells) else ""
            if v is None or cell_text(v).strip() in nulls:
                continue
            for k, jj in ids.items():
                out[k].append(cells[jj] if jj < len(cells) else "")
            out[u.header].append(h)
            out[u.value].append(v)
            numbers.append(i)
        if len(numbers) >= XLSX_BATCH_ROWS:
            yield _long(out, numbers, u)
            out, numbers = {k: [] for k in out}, []
    if numbers:
        yield _long(out, numbers, u)


def _long(out: dict[str, list[Any]], numbers: list[int], u: Unpivot) -> RawBatch:
    """One batch of unpivoted records; a rejected cell names its column's header."""
    cols = {k: _array(v) for k, v in out.items()}
    rows = pa.array(np.array(numbers, dtype=np.uint64))
    label = pa.array(out[u.header], pa.string())
    return RawBatch(numbers[0], cols, len(numbers), rows=rows, labels={u.value: label})
