"""What a source reader yields and raises, shared by the file readers (read.py: CSV and Parquet;
xlsx.py: XLSX sheets) and the fetched sources (remote.py), so that none imports another."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import UserError
from ..privacy import redact
from .spec import Plan


class LoadError(UserError):
    """A file that cannot be loaded: says which source, file, row and column, never a value."""

    error_type = "load_error"

    def __init__(
        self,
        code: str,
        message: str,
        *,
        source: str,
        file: str,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
        rows_before: int | None = None,
    ) -> None:
        self.code = code
        self.source = source
        self.file = file
        self.row = row
        self.column = column
        self.rows_before = rows_before
        """Records read before the one that failed (what `labis loads` counts as read)."""
        where = f"{file}:{row}" if row is not None else file
        col = f"column '{column}': " if column else ""
        super().__init__(redact(f"{where}: error[{code}] {source}: {col}{message}"), hint=hint)


@dataclass
class RawBatch:
    first_row: int
    """Source row number of the first record (CSV: the line, counting the header and lines
    above it; Parquet: the record number from 1)."""
    columns: dict[str, pa.Array]
    """Source column name (as the spec writes it) → raw values."""
    num_rows: int
    rows: pa.Array | None = None
    """Each record's source row (uint64) where records are not one per row from `first_row` on
    (an unpivoted table: several records per row)."""
    labels: dict[str, pa.Array] | None = None
    """Per record, what a reject names as the column instead of the spec's name (an unpivoted
    value: the header of the cell's column)."""

    @property
    def last_row(self) -> int:
        if self.rows is None or not self.num_rows:
            return self.first_row + self.num_rows - 1
        return int(pc.max(self.rows).as_py())


class SourceFile(Protocol):
    """One file of one source as a format's reader sees it (read.Reader is one)."""

    plan: Plan
    path: Path

    def error(self, code: str, message: str, **where: Any) -> LoadError:
        """A LoadError naming the source and the file (and the row and column given)."""
        ...

    def match_columns(self, found: list[str], what: str = "the file") -> dict[str, str]:
        """Spec source column → the header text found (a missing column is a LoadError)."""
        ...
