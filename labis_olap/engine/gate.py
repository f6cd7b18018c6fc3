"""The publication gate: queries never see half a batch.

ClickHouse commits each inserted block, in the facts and in every rollup, on its own; a load
publishes a batch as several blocks. Queries in this process take the gate shared; a load's
publishing step (and an unload) takes it exclusive, so a query runs before the batch or after
all of it, rollups included. With the embedded engine only this process can open the data, so
that is every reader; against a ClickHouse server, readers in other processes are not held
(docs/loaders.md). Writer-preferring, so a stream of queries cannot starve a publish, and
re-entrant for the publishing thread, whose own queries pass.

Hand-written: the standard library has no read-write lock, and a well-kept one that is
re-entrant for the writer was not found.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Gate:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer: int | None = None
        self._depth = 0
        self._waiting_writers = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:  # the publisher's own queries
                entered = False
            else:
                while self._writer is not None or self._waiting_writers:
                    self._cond.wait()
                self._readers += 1
                entered = True
        try:
            yield
        finally:
            if entered:
                with self._cond:
                    self._readers -= 1
                    if not self._readers:
                        self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._writer != me:
                self._waiting_writers += 1
                try:
                    while self._writer is not None or self._readers:
                        self._cond.wait()
                finally:
                    self._waiting_writers -= 1
                self._writer = me
            self._depth += 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if not self._depth:
                    self._writer = None
                    self._cond.notify_all()


PUBLICATION = Gate()
"""The one gate of this process (engines are per data directory, and so is a process)."""
