"""Output formats: JSON (optionally pretty), CSV with a header row, XLSX.

Values from the engine are made JSON-safe in one place: Decimal as a number (an integer when it
has no fraction), dates as ISO text, NaN and infinities as null.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from fastapi import Response

Format = Literal["json", "csv", "xlsx"]
Header = Literal["names", "labels", "none"]

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


def json_response(data: Any, *, prettyprint: bool = False, status: int = 200) -> Response:
    text = json.dumps(
        jsonable(data),
        ensure_ascii=False,
        allow_nan=False,
        indent=2 if prettyprint else None,
        separators=None if prettyprint else (",", ":"),
    )
    return Response(text + ("\n" if prettyprint else ""), status_code=status, media_type=JSON_TYPE)


def _cell(value: Any) -> Any:
    value = jsonable(value)
    return "" if value is None else value


def csv_response(
    columns: Sequence[str], rows: Iterable[dict[str, Any]], *, header: Sequence[str] | None, filename: str
) -> Response:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    if header is not None:
        writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return Response(
        buf.getvalue(),
        media_type=CSV_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def xlsx_response(
    columns: Sequence[str], rows: Iterable[dict[str, Any]], *, header: Sequence[str] | None, filename: str
) -> Response:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(filename[:31])
    if header is not None:
        ws.append(list(header))
    for row in rows:
        ws.append([jsonable(row.get(c)) for c in columns])
    buf = io.BytesIO()
    wb.save(buf)
    return Response(
        buf.getvalue(),
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
    )


def table_response(
    fmt: Format,
    columns: Sequence[str],
    rows: list[dict[str, Any]],
    *,
    header: Header,
    labels: dict[str, str],
    filename: str,
) -> Response:
    """CSV or XLSX of rows: header row of names (default), of labels, or none."""
    head: list[str] | None
    if header == "none":
        head = None
    elif header == "labels":
        head = [labels.get(c, c) for c in columns]
    else:
        head = list(columns)
    if fmt == "xlsx":
        return xlsx_response(columns, rows, header=head, filename=filename)
    return csv_response(columns, rows, header=head, filename=filename)
