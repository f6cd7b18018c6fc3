"""A result cache for aggregates: keyed by what was asked and by the versions of model and data.

A hit must be the answer the engine would give now, so the key carries:

* the model version (a digest of cubes, dimensions and members: `model.version.model_version`);
* the data version of the engine: a counter the engines bump after every statement that
  can change data (DDL, INSERT, TRUNCATE, EXCHANGE…: loads, unloads, `apply`, the demo), read
  before the query so that an entry is never filed under a newer version than its data; an
  engine that other processes can write to (a ClickHouse server) adds a fingerprint of the
  database's active parts (`system.parts`), so that their loads are seen too;
* the query itself, with `as_of` resolved to a date (`now` changes at midnight).

Entries are evicted least-recently-used within a byte budget (`LABIS_CACHE_BYTES`; 0 turns the
cache off); an entry larger than an eighth of the budget is not kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from ..engine.base import Engine
from ..physical.layout import q

PARTS_FINGERPRINT = (
    "SELECT count() AS n, sum(rows) AS r, groupBitXor(cityHash64(table, name)) AS h "
    "FROM {parts} WHERE database = {{db:String}} AND active"
)
"""The parts of the database; on a cluster every replica's (a load on another shard is a change)."""


def data_version(engine: Engine) -> Hashable:
    """What changes whenever the engine's data may have changed (see the module docstring)."""
    writes = engine.writes
    if engine.shared:
        cluster = engine.topology.cluster
        parts = f"clusterAllReplicas({q(cluster)}, system.parts)" if cluster else "system.parts"
        row = engine.query(PARTS_FINGERPRINT.format(parts=parts), {"db": engine.database}).to_pylist()[0]
        return (writes, row["n"], row["r"], row["h"])
    return writes


@dataclass
class Entry:
    value: Any
    size: int


class ResultCache:
    """A thread-safe LRU map bounded by the bytes of its values (as the caller counts them)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @property
    def size(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.value

    def put(self, key: Hashable, value: Any, size: int) -> bool:
        """Keep a value; False when it is too large to be worth a slot."""
        if not self.enabled or size > self.max_bytes // 8:
            return False
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = Entry(value, size)
            self._bytes += size
            while self._bytes > self.max_bytes and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size
        return True

    def grow(self, key: Hashable, extra: int) -> None:
        """Count `extra` more bytes for an entry (a rendering kept with it), evicting as needed."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return
            entry.size += extra
            self._bytes += extra
            while self._bytes > self.max_bytes and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
