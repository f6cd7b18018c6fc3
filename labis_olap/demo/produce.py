"""The demo generator in a child process, so that generating the next batch overlaps inserting
this one: chDB keeps the GIL while it inserts, so a thread would not overlap (docs/design.md).

The child writes each batch as an uncompressed Arrow IPC file into a scratch folder and names
it on a bounded queue; the parent memory-maps it (no copy) and deletes it once inserted. This
module imports the generator (numpy, pyarrow), not the engine, so the child starts fast.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_mod
import shutil
import tempfile
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import UserError
from .generate import generate

AHEAD = 2
"""Batches the child may have written but the parent not yet taken: bounds the scratch space."""


FIRST_BATCH_ROWS = 1_000_000
"""The first batch is small, so that the parent starts inserting soon after the child starts."""


def _produce(rows: int, seed: int, batch_rows: int, first_rows: int, folder: str, out: Any) -> None:
    try:
        count = 0

        def emit(cube: str, table: pa.Table) -> None:
            nonlocal count
            path = Path(folder) / f"{count:06d}.arrow"
            count += 1
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            out.put(("batch", cube, str(path)))

        pending: list[pa.Table] = []

        def flush() -> None:
            if pending:
                emit(pending_cube, pa.concat_tables(pending))
                pending.clear()

        pending_cube = ""
        for cube, table in generate(rows, seed, min(batch_rows, first_rows)):
            if cube != pending_cube:
                flush()
            if count == 0 or cube == "persons":
                emit(cube, table)
                continue
            pending.append(table)
            pending_cube = cube
            if sum(t.num_rows for t in pending) >= batch_rows:
                flush()
        flush()
        out.put(("done", "", ""))
    except Exception as exc:  # reported to the parent, which raises it; the child just ends
        out.put(("error", type(exc).__name__, str(exc)))


class GeneratedBatches:
    """`generate(rows, seed, batch_rows)`, computed in a child process one batch ahead. The child
    starts when this is made, so the caller can do other work while it warms up; use it as a
    context manager, which stops the child and removes its scratch folder however it ends."""

    def __init__(
        self, rows: int, seed: int, batch_rows: int, first_rows: int = FIRST_BATCH_ROWS
    ) -> None:
        self.folder = tempfile.mkdtemp(prefix="labis-demo-")
        ctx = multiprocessing.get_context("spawn")  # never fork a process that holds chDB's threads
        self.out = ctx.Queue(maxsize=AHEAD)
        self.child = ctx.Process(
            target=_produce, args=(rows, seed, batch_rows, first_rows, self.folder, self.out), daemon=True
        )
        self.child.start()

    def __enter__(self) -> GeneratedBatches:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.child.is_alive():
            self.child.terminate()
        self.child.join()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __iter__(self) -> Iterator[tuple[str, pa.Table]]:
        while True:
            kind, cube, path = _next(self.out, self.child)
            if kind == "done":
                return
            if kind == "error":
                raise UserError(f"the demo generator failed: {cube}: {path}")
            with pa.memory_map(path) as source:
                table = pa.ipc.open_file(source).read_all()
            Path(path).unlink()  # the mapping stays valid until the table is dropped
            yield cube, table


def _next(out: Any, child: BaseProcess) -> tuple[str, str, str]:
    while True:
        try:
            item: tuple[str, str, str] = out.get(timeout=1.0)
            return item
        except queue_mod.Empty:
            if not child.is_alive() and out.empty():
                raise UserError(
                    f"the demo generator stopped unexpectedly (exit code {child.exitcode})"
                ) from None
