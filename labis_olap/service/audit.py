"""The audit log: who asked what of which cube, when, and what came back — never the values.

One JSON object per line, written by the cube service for every request of every front end
(answered, cached or refused). A record names the principal and its roles, the operation, the
cube, the measures, the drilldown's shape (dimensions and levels), the *dimensions* cut and
split — never the cut values, which can be personal (a person's municipality, age group and
month) —, the cells returned, the source, the time taken and the cache's say. Rotated by size
(logging's RotatingFileHandler: a well-kept piece for exactly this); `labis audit` reads it.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import logging.handlers
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ..query.cell import CubeQuery, FactsQuery, MembersQuery
from .principal import Principal


class AuditLog:
    """Lines are queued by the request's thread (the event loop, for a cached answer) and written
    in batches by a thread of their own, so a request never waits for the disk: a line written
    where it was recorded cost about 30 µs, half of a cached answer. The queue is a deque the
    writer drains every `INTERVAL` seconds rather than a queue it waits on: waking a waiting
    thread is a system call per record. Rotation is logging's RotatingFileHandler's, once per
    batch (a file can pass its size by one batch)."""

    BATCH = 1000
    INTERVAL = 0.2
    """Seconds a record may wait before it is written (`close` writes what is left)."""

    def __init__(self, path: Path, max_bytes: int = 50 * 2**20, backups: int = 10) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        self._file.setFormatter(logging.Formatter("%(message)s"))
        self._queue: collections.deque[str] = collections.deque()
        self._closing = threading.Event()
        self._writer = threading.Thread(target=self._write, name="labis-audit", daemon=True)
        self._writer.start()

    def record(self, event: dict[str, Any]) -> None:
        line = orjson.dumps({"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), **event})
        self._queue.append(line.decode())  # atomic; wakes nobody

    def _write(self) -> None:
        while True:
            closing = self._closing.wait(self.INTERVAL)
            self._drain()
            if closing:
                return

    def _drain(self) -> None:
        while self._queue:
            lines: list[str] = []
            while self._queue and len(lines) < self.BATCH:
                lines.append(self._queue.popleft())
            self._file.handle(logging.makeLogRecord({"msg": "\n".join(lines), "levelno": logging.INFO}))

    def close(self) -> None:
        """Write what is queued, then close the file."""
        self._closing.set()
        self._writer.join()
        self._drain()
        self._file.close()


def describe(query: CubeQuery | MembersQuery | FactsQuery | None) -> dict[str, Any]:
    """What a query asked, without a single member value."""
    if query is None:
        return {}
    out: dict[str, Any] = {"cube": query.cube}
    cuts = getattr(query, "cuts", ())
    if cuts:
        out["cut_dimensions"] = sorted({c.dimension for c in cuts})
    if isinstance(query, CubeQuery):
        out["measures"] = list(query.measures)
        out["drilldown"] = [
            f"{d.dimension}{'@' + d.hierarchy if d.hierarchy else ''}{':' + d.level if d.level else ''}"
            for d in query.drilldowns
        ]
        if query.split:
            out["split_dimensions"] = sorted({c.dimension for c in query.split})
        if query.subtotals != "none":
            out["subtotals"] = query.subtotals
    elif isinstance(query, MembersQuery):
        out["dimension"] = query.dimension
        out["level"] = query.level
    else:
        out["fields"] = list(query.fields)
    return out


def who(principal: Principal) -> dict[str, Any]:
    return {"principal": principal.subject, "roles": sorted(principal.roles)}


def read(path: Path) -> Iterator[dict[str, Any]]:
    """Every record, oldest first (the rotated files too: audit.jsonl.10 … .1, then the file)."""
    rotated = sorted(path.parent.glob(path.name + ".*"), key=lambda p: -int(p.suffix[1:] or 0))
    for file in [*(p for p in rotated if p.suffix[1:].isdigit()), path]:
        if not file.exists():
            continue
        with file.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield orjson.loads(line)
