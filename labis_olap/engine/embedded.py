"""Embedded ClickHouse through chDB, with one connection per thread.

Verified on this machine (../shared/DESIGN.md): one process per data directory, and one
`chdb.connect(path)` per thread — a shared session with `params=` gave wrong results.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import chdb
import pyarrow as pa

from ..errors import EngineError, UserError
from ..physical.cube_ddl import create_database
from ..physical.topology import SINGLE_NODE, Topology
from .base import Params, QueryTimes, first_line, text_params
from .gate import PUBLICATION
from .holder import refuse_if_held

ARROW_SETTINGS = "SETTINGS output_format_arrow_compression_method = 'none'"

CHDB_OPTIONS = {"backups.allowed_path": "/"}
"""chDB's start-up arguments, the same for every connection (the first one of a process sets
them for all): `labis backup` writes `BACKUP … TO File(path)` wherever the operator says, and
ClickHouse refuses any File() backup without an allowed path. Only LabIS's own statements run
in the embedded engine, so no client can aim a backup anywhere."""


def connection_string(path: str) -> str:
    """A data directory as chDB's connection string, with the start-up arguments."""
    return path + "?" + "&".join(f"{k}={v}" for k, v in CHDB_OPTIONS.items())


class EmbeddedEngine:
    """chDB in a data directory; what `labis` uses when no ClickHouse URL is set."""

    shared = False
    """No other process can open the directory: every write passes through this object."""

    def __init__(
        self, data_dir: Path | str, database: str = "labis", topology: Topology = SINGLE_NODE
    ) -> None:
        self.path = str(Path(data_dir).resolve())
        self.database = database
        self.topology = topology
        self.times = QueryTimes()
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self.writes = 0
        """Statements run that may have changed data (the result cache's data version)."""
        Path(self.path).mkdir(parents=True, exist_ok=True)
        # The facts and `persons` are personal data: the directory is its owner's only, whatever
        # the umask was when it was made (its files are 0600 under the commands' umask, 0o077).
        with contextlib.suppress(PermissionError):  # another user's: chDB says what it can't open
            Path(self.path).chmod(0o700)
        # Asked before chDB is: it prints a raw lock message of its own when it finds the
        # directory held, before it raises.
        refuse_if_held(Path(self.path))
        conn = self._conn()
        conn.query(create_database(database))
        # The first Arrow result of a process costs ~0.3 s once; pay it here, not in a query's time.
        conn.query("SELECT 1", "ArrowTable")

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = chdb.connect(connection_string(self.path))
            except Exception as exc:  # chDB raises plain RuntimeError for a locked directory
                refuse_if_held(Path(self.path))  # taken since the engine was opened?
                raise UserError(f"cannot open the data directory {self.path}: {first_line(exc)}") from None
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def query(self, sql: str, params: Params | None = None) -> pa.Table:
        with PUBLICATION.shared():  # never half a batch (engine/gate.py)
            start = time.perf_counter()
            try:
                result: pa.Table = self._run(sql, "ArrowTable", params)
            finally:
                self.times.observe(time.perf_counter() - start)
            return result

    def execute(self, sql: str, params: Params | None = None) -> None:
        try:
            self._run(sql, "Null", params)
        finally:
            self._wrote()

    def _wrote(self) -> None:
        """Count a write once it is over (also a failed one: part of it may have landed)."""
        with self._lock:
            self.writes += 1

    def _run(self, sql: str, fmt: str, params: Params | None) -> Any:
        conn = self._conn()
        try:
            return conn.query(sql, fmt, params=text_params(params))
        except Exception as exc:
            # After a failed query chDB 4.4 hands the failed query's leftover Arrow bytes to
            # the next one on the same connection ("Invalid flatbuffers message"): start over.
            self._drop_connection(conn)
            raise EngineError(first_line(exc)) from exc

    def _drop_connection(self, conn: Any) -> None:
        self._local.conn = None
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
        with contextlib.suppress(Exception):  # closing a broken session is best effort
            conn.close()

    def insert_arrow(self, table: str, data: pa.Table, settings: Mapping[str, Any] | None = None) -> None:
        # chDB reads a Python object named in the Python() table function from this frame's locals.
        labis_batch = data  # noqa: F841
        cols = ", ".join(f"`{c}`" for c in data.column_names)
        extra = ""
        if settings:
            extra = " SETTINGS " + ", ".join(f"{k} = {_setting(v)}" for k, v in settings.items())
        sql = (
            f"INSERT INTO `{self.database}`.`{table}` ({cols}){extra} SELECT {cols} FROM Python(labis_batch)"
        )
        conn = self._conn()
        try:
            conn.query(sql, "Null")  # must be called from this frame (see above)
        except Exception as exc:
            self._drop_connection(conn)
            raise EngineError(f"inserting into {table}: {first_line(exc)}") from exc
        finally:
            self._wrote()

    def insert_select(
        self,
        table: str,
        data: pa.Table,
        columns: Sequence[str],
        exprs: Sequence[str],
        params: Params | None = None,
    ) -> None:
        labis_batch = data  # noqa: F841  (read by chDB's Python() table function)
        cols = ", ".join(f"`{c}`" for c in columns)
        sql = (
            f"INSERT INTO `{self.database}`.`{table}` ({cols}) "
            f"SELECT {', '.join(exprs)} FROM Python(labis_batch)"
        )
        conn = self._conn()
        try:
            conn.query(sql, "Null", params=text_params(params))
        except Exception as exc:
            self._drop_connection(conn)
            raise EngineError(f"inserting into {table}: {first_line(exc)}") from exc
        finally:
            self._wrote()

    def release_memory(self) -> None:
        """ClickHouse's allocator keeps freed pages for reuse, and so do Arrow's pool and the C
        heap: purging all three between the steps of a 10M-row CSV load took its peak RSS from
        1.07-1.10 GB (ClickHouse's and Arrow's only) to 0.94-1.01 GiB."""
        self._run("SYSTEM JEMALLOC PURGE", "Null", None)
        pa.default_memory_pool().release_unused()
        _trim_c_heap()

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(Exception):  # closing a closed session is harmless
                    conn.close()
            self._connections.clear()
        self._local = threading.local()


@functools.cache
def _malloc_trim() -> Any:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None


def _trim_c_heap() -> None:
    # The standard library has no call for this; ctypes to glibc's malloc_trim is the only way.
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _setting(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(int(value) if isinstance(value, bool) else value)
