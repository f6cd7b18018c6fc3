"""Output formats: JSON (optionally pretty), CSV with a header row, XLSX, Arrow IPC file and
stream, Parquet (and SDMX-CSV, api/sdmx.py).

Values from the engine are made JSON-safe in one place: Decimal as a number (an integer when it
has no fraction), dates as ISO text, NaN and infinities as null. JSON is written by orjson
straight from the payload (no pydantic pass over every cell: it is the hot path of /aggregate);
Arrow and Parquet carry the engine's column types as they are.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
import typing
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import orjson
import pyarrow as pa
from fastapi import Response

Format = Literal["json", "csv", "xlsx", "arrow", "arrows", "parquet"]
"""What every table route writes: `arrow` is the Arrow IPC *file* format (what pyarrow's
`open_file`, Polars' `read_ipc` and DuckDB read from a download), `arrows` the IPC *stream*."""
CellFormat = Literal["json", "csv", "xlsx", "arrow", "arrows", "parquet", "sdmx-csv"]
"""What the cell routes (/aggregate, /indicator) write: the tables, and SDMX-CSV (one
observation per cell and measure)."""
Header = Literal["names", "labels", "none"]

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ARROW_FILE_TYPE = "application/vnd.apache.arrow.file"
ARROW_STREAM_TYPE = "application/vnd.apache.arrow.stream"
PARQUET_TYPE = "application/vnd.apache.parquet"
SDMX_CSV_TYPE = "application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8"
BOM = "\ufeff"
"""Written first in a CSV with `bom=true`: Excel reads a CSV as UTF-8 only after it, else in the
system's code page ('reģions' becomes 'reÄ£ions')."""

TABLE_FORMATS = ("csv", "xlsx", "arrow", "arrows", "parquet")
"""The formats every table route writes besides JSON."""
CELL_FORMATS = (*TABLE_FORMATS, "sdmx-csv")
"""The formats the cell routes (/aggregate, /indicator) write besides JSON."""

MEDIA_TYPES: dict[str, str] = {
    "json": JSON_TYPE,
    "csv": CSV_TYPE,
    "xlsx": XLSX_TYPE,
    "arrow": ARROW_FILE_TYPE,
    "arrows": ARROW_STREAM_TYPE,
    "parquet": PARQUET_TYPE,
    "sdmx-csv": SDMX_CSV_TYPE,
}
"""Each format's media type (the OpenAPI document declares them on the routes: `responses_of`)."""


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


def _default(value: Any) -> Any:
    """What orjson does not write itself (Decimal, …), as `jsonable` writes it."""
    out = jsonable(value)
    if out is value:
        raise TypeError(f"not JSON: {type(value).__name__}")
    return out


def json_bytes(data: Any, *, prettyprint: bool = False) -> bytes:
    """UTF-8 JSON; NaN and infinities become null (orjson's rule, also `jsonable`'s)."""
    option = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE if prettyprint else 0
    try:
        return orjson.dumps(data, default=_default, option=option)
    except orjson.JSONEncodeError:  # e.g. an integer past 64 bits: the standard library can
        text = json.dumps(
            jsonable(data),
            ensure_ascii=False,
            allow_nan=False,
            indent=2 if prettyprint else None,
            separators=None if prettyprint else (",", ":"),
        )
        return (text + ("\n" if prettyprint else "")).encode()


def json_response(data: Any, *, prettyprint: bool = False, status: int = 200) -> Response:
    return Response(json_bytes(data, prettyprint=prettyprint), status_code=status, media_type=JSON_TYPE)


def raw_json_response(body: bytes) -> Response:
    """JSON already rendered (a cached aggregate)."""
    return Response(body, media_type=JSON_TYPE)


def _cell(value: Any) -> Any:
    value = jsonable(value)
    return "" if value is None else value


def csv_response(
    columns: Sequence[str],
    rows: Iterable[dict[str, Any]],
    *,
    header: Sequence[str] | None,
    filename: str,
    bom: bool = False,
) -> Response:
    buf = io.StringIO()
    if bom:
        buf.write(BOM)
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


def arrow_response(table: pa.Table, fmt: Literal["arrow", "arrows", "parquet"], filename: str) -> Response:
    """An Arrow IPC file (`arrow`), an Arrow IPC stream (`arrows`) or a Parquet file of the
    table, with the engine's types; the file name ends as the format is named."""
    sink = io.BytesIO()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, sink)
    else:
        new = pa.ipc.new_file if fmt == "arrow" else pa.ipc.new_stream
        with new(sink, table.schema) as writer:
            writer.write_table(table)
    return Response(
        sink.getvalue(),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'},
    )


def table_response(
    fmt: Format,
    columns: Sequence[str],
    rows: list[dict[str, Any]],
    *,
    header: Header,
    labels: dict[str, str],
    filename: str,
    table: pa.Table | None = None,
    bom: bool = False,
) -> Response:
    """CSV (after a UTF-8 BOM with `bom`) or XLSX of rows: header row of names (default), of
    labels, or none. Arrow and Parquet of `table` when given (the engine's types), else of the
    rows (types as Arrow infers them); their header is always the column names."""
    if fmt in ("arrow", "arrows", "parquet"):
        data = table.select(list(columns)) if table is not None else _from_rows(columns, rows)
        return arrow_response(data, typing.cast(Literal["arrow", "arrows", "parquet"], fmt), filename)
    head: list[str] | None
    if header == "none":
        head = None
    elif header == "labels":
        head = [labels.get(c, c) for c in columns]
    else:
        head = list(columns)
    if fmt == "xlsx":
        return xlsx_response(columns, rows, header=head, filename=filename)
    return csv_response(columns, rows, header=head, filename=filename, bom=bom)


def responses_of(formats: Iterable[str], what: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route that writes `formats` besides JSON: each media type
    with a binary (or text) schema, so that clients and generated SDKs know what comes back."""
    content: dict[str, Any] = {}
    for fmt in formats:
        media = MEDIA_TYPES[fmt].split(";")[0]
        text = media.startswith("text/") or fmt == "sdmx-csv"
        content[media] = {"schema": {"type": "string"} if text else {"type": "string", "format": "binary"}}
    return {200: {"description": f"{what}; `format` chooses the media type", "content": content}}


def _from_rows(columns: Sequence[str], rows: list[dict[str, Any]]) -> pa.Table:
    return (
        pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows])
        if rows
        else pa.table({c: pa.array([], pa.null()) for c in columns})
    )
