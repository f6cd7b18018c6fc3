"""What a load reports: its batch, status and counts, and the file facts its batch id comes from."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError

EXAMPLES = 10
"""Reject records a report carries as examples."""


@dataclass
class LoadReport:
    source: str
    file: str
    batch: str
    status: str
    """ok | skipped | rejected | failed"""
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    seconds: float = 0.0
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    @property
    def reject_share(self) -> float:
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0

    def summary(self) -> str:
        rate = self.rows_read / self.seconds if self.seconds > 0 else 0.0
        if self.status == "skipped" and not self.batch:
            return f"{self.source}: {self.file}: {self.message}; nothing to do"
        if self.status == "skipped":
            return f"{self.source}: {self.file}: already loaded as batch {self.batch}; nothing to do"
        return (
            f"{self.source}: {self.file} → batch {self.batch} {self.status}: {self.rows_read:,} read, "
            f"{self.rows_accepted:,} accepted, {self.rows_rejected:,} rejected ({self.reject_share:.2%}) "
            f"in {self.seconds:.1f} s ({rate:,.0f} rows/s)"
        )


@dataclass
class FileFacts:
    sha256: str
    size: int
    open_quote: bool
    """A CSV that does not end with a line break and has an odd number of quote characters was
    cut inside a quoted value (pyarrow would silently take the rest as that value)."""


def file_facts(path: Path, quote: str = '"') -> FileFacts:
    """One pass over the file: its SHA-256 (the batch id), size, and whether it ends in a quote."""
    h = hashlib.sha256()
    size, odd, last = 0, False, b""
    q = quote.encode()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(4 << 20):
                h.update(chunk)
                size += len(chunk)
                odd ^= chunk.count(q) % 2 == 1
                last = chunk[-1:]
    except OSError as exc:
        raise UserError(f"{path}: cannot read the file: {exc.strerror}") from None
    return FileFacts(h.hexdigest(), size, odd and last not in (b"\n", b"\r"))
