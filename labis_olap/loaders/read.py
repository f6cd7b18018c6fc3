"""Stream a source file as Arrow batches of raw values, in order, with their source row numbers.

CSV: every column is read as text (the loader parses and checks it, so that one bad value is one
reject, not a failed file); non-UTF-8 files are transcoded on the fly by a small reader that
knows the line it is on, so a byte that is not valid in the declared encoding is reported with
its row and column. Parquet: row groups are read batch by batch (`iter_batches`), only the
columns the spec uses. Memory stays bounded by the batch size either way.

A malformed file (ragged rows, a truncated quote, bad bytes, a broken Parquet footer) raises
`LoadError` naming the file, the row and the column; no message ever quotes a value.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..model.diagnostics import did_you_mean
from ..privacy import redact
from .raw import LoadError, RawBatch
from .spec import Kind, Plan

CSV_BLOCK_BYTES = 2 << 20
"""pyarrow's CSV reader keeps many blocks in flight (on 2 cores, reading and checking a 490 MB
file peaked at 688 MB of anonymous memory with 8 MB blocks, 251 MB with 2 MB, in the same time),
so blocks are small and then joined into batches of BATCH_ROWS."""
BATCH_ROWS = 256 * 1024
"""Rows per batch handed to the checks and the stage (each batch costs a few engine calls)."""
READ_CHUNK = 1 << 20


class _Counting(io.RawIOBase):
    """Passes bytes through and counts them (for progress)."""

    def __init__(self, raw: Any, on_bytes: Callable[[int], None] | None) -> None:
        self.raw = raw
        self.on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if self.on_bytes and data:
            self.on_bytes(len(data))
        return bytes(data)

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class _Transcoding(io.RawIOBase):
    """Decodes a non-UTF-8 file and hands pyarrow UTF-8, remembering the line it is on, so that a
    byte the encoding cannot decode is reported with its row and column."""

    def __init__(
        self, raw: Any, encoding: str, delimiter: str, on_bytes: Callable[[int], None] | None
    ) -> None:
        self.raw = raw
        self.encoding = encoding
        self.delimiter = delimiter
        self.decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        self.on_bytes = on_bytes
        self.buffer = b""
        self.eof = False
        self.lines_before = 0
        self.tail = b""
        """The current (unfinished) line's bytes so far, to place an error in its columns."""
        self.error: tuple[int, int, int] | None = None
        """(row, field index, bad byte) of the first undecodable byte."""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self.eof and (size < 0 or len(self.buffer) < size):
            chunk = self.raw.read(READ_CHUNK)
            if self.on_bytes and chunk:
                self.on_bytes(len(chunk))
            self.eof = not chunk
            try:
                text = self.decoder.decode(chunk, final=self.eof)
            except UnicodeDecodeError as exc:
                self._locate(chunk, exc)
                raise
            self.buffer += text.encode("utf-8")
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                self.lines_before += chunk.count(b"\n")
                self.tail = chunk[nl + 1 :]
            else:
                self.tail += chunk
        if size < 0:
            out, self.buffer = self.buffer, b""
        else:
            out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def _locate(self, chunk: bytes, exc: UnicodeDecodeError) -> None:
        start = max(0, min(exc.start, len(chunk)))
        before = chunk[:start]
        row = self.lines_before + before.count(b"\n") + 1
        nl = before.rfind(b"\n")
        line = before[nl + 1 :] if nl >= 0 else self.tail + before
        text = line.decode(self.encoding, errors="replace")
        field = next(csv.reader([text], delimiter=self.delimiter), [""])
        bad = chunk[start] if start < len(chunk) else 0
        self.error = (row, max(len(field) - 1, 0), bad)


@dataclass(frozen=True)
class BadHeaderByte:
    """Where the first undecodable byte of the lines up to the header is."""

    row: int
    field: int
    """0-based."""
    byte: int
    name: str | None
    """The field as it reads in another encoding (the column's name on the header row)."""
    reads_as: str | None
    """That encoding, when the whole line decodes in it."""


FALLBACK_ENCODINGS = ("utf-8", "windows-1257")
"""What a Latvian file that is not in its declared encoding usually is."""


def _header(path: Path, plan: Plan) -> tuple[list[str], BadHeaderByte | None]:
    """The column names at `header_row`, decoded as the spec says (read from the file's head),
    and where the first undecodable byte of the lines up to it is."""
    o = plan.spec.options
    with path.open("rb") as fh:
        head = fh.read(1 << 20)
    encoding = "utf-8-sig" if codecs.lookup(o.encoding).name == "utf-8" else o.encoding
    lines = head.split(b"\n")[: o.header_row]
    for row, line in enumerate(lines, start=1):
        try:
            line.decode(encoding if row == 1 else o.encoding)
        except UnicodeDecodeError as exc:
            prefix = line[: exc.start].decode(o.encoding, errors="replace")
            field = len(next(csv.reader([prefix], delimiter=o.delimiter), [""])) - 1
            name, reads_as = _field_elsewhere(line.rstrip(b"\r"), field, o.encoding, o.delimiter)
            return [], BadHeaderByte(row, field, line[exc.start], name, reads_as)
    text = head.decode(encoding, errors="replace")
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=o.delimiter, quotechar=o.quote)
    for i, fields in enumerate(rows, start=1):
        if i == o.header_row:
            return fields, None
    return [], None


def _field_elsewhere(line: bytes, field: int, declared: str, delimiter: str) -> tuple[str | None, str | None]:
    """The `field`-th value of a line that does not decode as declared, read in the first other
    encoding it decodes in (else with the bad bytes replaced), and that encoding."""
    declared_name = codecs.lookup(declared).name
    for encoding in FALLBACK_ENCODINGS:
        if codecs.lookup(encoding).name == declared_name:
            continue
        try:
            text = line.decode(encoding)
        except UnicodeDecodeError:
            continue
        return _nth(text, field, delimiter), encoding
    return _nth(line.decode(declared, errors="replace"), field, delimiter), None


def _nth(text: str, field: int, delimiter: str) -> str | None:
    fields = next(csv.reader([text.lstrip("\ufeff")], delimiter=delimiter), [])
    return redact(fields[field].strip()) if 0 <= field < len(fields) and fields[field].strip() else None


class Reader:
    """One file of one source, streamed; `batches()` yields RawBatch in file order."""

    def __init__(self, plan: Plan, path: Path, display: str, on_bytes: Callable[[int], None] | None = None):
        self.plan = plan
        self.path = path
        self.display = display
        self.on_bytes = on_bytes
        self.total_rows: int | None = None

    def error(self, code: str, message: str, **where: Any) -> LoadError:
        row = where.get("row")
        kind = self.plan.spec.kind
        if row is not None and kind in (Kind.csv, Kind.parquet):
            # A CSV row is its line (the header's and those above it counted); Parquet's from 1.
            first = self.plan.spec.options.header_row + 1 if kind == Kind.csv else 1
            where.setdefault("rows_before", max(0, row - first))
        return LoadError(code, message, source=self.plan.spec.source, file=self.display, **where)

    def batches(self) -> Iterator[RawBatch]:
        if not self.path.is_file():
            raise self.error("L201", "no such file")
        if self.plan.spec.kind == Kind.parquet:
            yield from self._parquet()
        elif self.plan.spec.kind == Kind.xlsx:
            from .xlsx import xlsx_batches

            yield from xlsx_batches(self)
        else:
            yield from self._csv()

    # --- CSV ------------------------------------------------------------------------------------

    def match_columns(self, found: list[str], what: str = "the file") -> dict[str, str]:
        """Spec source column → the file's header text (matched after trimming spaces)."""
        by_clean: dict[str, str] = {}
        for name in found:
            by_clean.setdefault(name.strip().lstrip("\ufeff"), name)
        out = {}
        for want in self.plan.source_columns:
            if want not in by_clean:
                raise self.error(
                    "L202",
                    f"{what} has no column '{want}'",
                    row=self.plan.spec.options.header_row if self.plan.spec.kind != Kind.parquet else None,
                    hint=did_you_mean(want, [redact(n) for n in by_clean])
                    or "check options.header_row, delimiter and encoding",
                )
            out[want] = by_clean[want]
        return out

    def _csv(self) -> Iterator[RawBatch]:
        o = self.plan.spec.options
        try:
            header, bad = _header(self.path, self.plan)
        except OSError as exc:
            raise self.error("L201", f"cannot read the file: {exc.strerror}") from None
        if bad is not None:
            # The header cannot be read as declared, so the column is named as the header reads
            # in the encoding the file seems to be in (its position if it reads in none).
            raise self.error(
                "L204",
                f"byte 0x{bad.byte:02x} is not valid {o.encoding} text",
                row=bad.row,
                column=bad.name or f"#{bad.field + 1}",
                hint=f"the header reads as {bad.reads_as}: is the file in {bad.reads_as}? "
                f"The spec's options.encoding says {o.encoding}"
                if bad.reads_as
                else "is the file in another encoding? set options.encoding in the spec",
            )
        names = self.match_columns(header)
        utf8 = codecs.lookup(o.encoding).name == "utf-8"
        bad_rows: list[tuple[int | None, int, int]] = []

        def on_invalid(row: Any) -> str:
            bad_rows.append((row.number, row.expected_columns, row.actual_columns))
            return "skip"

        raw = self.path.open("rb")
        stream: _Counting | _Transcoding
        stream = (
            _Counting(raw, self.on_bytes)
            if utf8
            else _Transcoding(raw, o.encoding, o.delimiter, self.on_bytes)
        )
        convert = pacsv.ConvertOptions(
            column_types={h: pa.string() for h in header},
            include_columns=list(dict.fromkeys(names.values())),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            check_utf8=False,
        )
        parse = pacsv.ParseOptions(
            delimiter=o.delimiter,
            quote_char=o.quote,
            newlines_in_values=o.multiline,
            invalid_row_handler=on_invalid,
        )
        read = pacsv.ReadOptions(skip_rows=o.header_row - 1, block_size=CSV_BLOCK_BYTES, use_threads=True)
        next_row = o.header_row + 1
        try:
            try:
                reader = pacsv.open_csv(
                    stream, read_options=read, parse_options=parse, convert_options=convert
                )
                for batch in _joined(reader, BATCH_ROWS):
                    if bad_rows:
                        self._ragged(bad_rows[0])
                    cols = {want: batch.column(have) for want, have in names.items()}
                    if utf8:
                        self._check_utf8(cols, next_row)
                    yield RawBatch(next_row, cols, batch.num_rows)
                    next_row += batch.num_rows
                if bad_rows:
                    self._ragged(bad_rows[0])
            except LoadError:
                raise
            except (UnicodeDecodeError, pa.ArrowInvalid, OSError) as exc:
                if isinstance(stream, _Transcoding) and stream.error is not None:
                    row, field, byte = stream.error
                    column = _column_at(header, field)
                    raise self.error(
                        "L204",
                        f"byte 0x{byte:02x} is not valid {o.encoding} text",
                        row=row,
                        column=column,
                        hint="is the file in another encoding? set options.encoding in the spec",
                    ) from None
                raise self.error(
                    "L203",
                    f"cannot parse the CSV after row {next_row - 1}: {_safe_reason(exc)}",
                    row=next_row,
                    hint="the file may be truncated or not a CSV with this delimiter",
                ) from None
        finally:
            raw.close()

    def _ragged(self, bad: tuple[int | None, int, int]) -> None:
        number, expected, actual = bad
        if number is None:  # pyarrow parsing on several threads does not know the line
            number = self._find_ragged(expected)
        raise self.error(
            "L203",
            f"the row has {actual} field(s), the header {expected}",
            row=number,
            hint="the file may be truncated, or a value holds the delimiter unquoted"
            if actual < expected
            else f"a value may hold the delimiter '{self.plan.spec.options.delimiter}' unquoted",
        )

    def _find_ragged(self, expected: int) -> int | None:
        """The line of the first record whose field count is not `expected` (the slow path, on
        error only: the file is read again with Python's csv module)."""
        o = self.plan.spec.options
        encoding = "utf-8-sig" if codecs.lookup(o.encoding).name == "utf-8" else o.encoding
        with self.path.open(encoding=encoding, errors="replace", newline="") as fh:
            reader = csv.reader(fh, delimiter=o.delimiter, quotechar=o.quote)
            for i, fields in enumerate(reader, start=1):
                if i > o.header_row and fields and len(fields) != expected:
                    return reader.line_num
        return None

    def _check_utf8(self, cols: dict[str, pa.Array], first_row: int) -> None:
        for name, arr in cols.items():
            try:
                arr.validate(full=True)
            except pa.ArrowInvalid:
                for i, v in enumerate(arr.cast(pa.binary()).to_pylist()):
                    try:
                        (v or b"").decode("utf-8")
                    except UnicodeDecodeError as exc:
                        raise self.error(
                            "L204",
                            f"byte 0x{v[exc.start]:02x} is not valid {self.plan.spec.options.encoding} text",
                            row=first_row + i,
                            column=name,
                            hint="is the file in windows-1257? set options.encoding in the spec",
                        ) from None
                raise

    # --- Parquet --------------------------------------------------------------------------------

    def _parquet(self) -> Iterator[RawBatch]:
        try:
            pf = pq.ParquetFile(self.path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise self.error(
                "L205",
                f"not a readable Parquet file: {_safe_reason(exc)}",
                hint="the file may be truncated or in another format (kind: csv?)",
            ) from None
        self.total_rows = pf.metadata.num_rows
        names = self.match_columns(pf.schema_arrow.names)
        next_row = 1
        try:
            for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=list(dict.fromkeys(names.values()))):
                cols = {want: batch.column(have) for want, have in names.items()}
                yield RawBatch(next_row, cols, batch.num_rows)
                next_row += batch.num_rows
        except (pa.ArrowInvalid, OSError) as exc:
            raise self.error(
                "L205",
                f"cannot read the Parquet data after row {next_row - 1}: {_safe_reason(exc)}",
                row=next_row,
            ) from None


def _joined(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Consecutive batches joined into batches of at least `rows` rows (the last one: the rest)."""
    group: list[pa.RecordBatch] = []
    n = 0
    for batch in batches:
        group.append(batch)
        n += batch.num_rows
        if n >= rows:
            yield _join(group)
            group, n = [], 0
    if group:
        yield _join(group)


def _join(group: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(group) == 1:
        return group[0]
    joined = pa.Table.from_batches(group).combine_chunks().to_batches()
    return joined[0] if joined else group[0]


def _column_at(header: list[str], index: int) -> str | None:
    return redact(header[index].strip()) if 0 <= index < len(header) else None


def _safe_reason(exc: BaseException) -> str:
    """An Arrow error's gist without data: pyarrow ends CSV parse errors with the row's text."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    parts = text.split(": ")
    if text.startswith("CSV") and len(parts) >= 3:
        text = ": ".join(parts[:-1])
    return redact(text[:200])
