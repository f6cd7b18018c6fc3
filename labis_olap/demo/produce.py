"""The demo generator in a child process, so that generating the next batch overlaps inserting
this one: chDB keeps the GIL while it inserts, so a thread would not overlap (docs/design.md).

The child writes each batch as an uncompressed Arrow IPC file into a scratch folder and names
it on a bounded queue; the parent memory-maps it (no copy) and deletes it once inserted. This
module imports only numpy and pyarrow, so the child starts fast and never loads the engine.
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


def _produce(rows: int, seed: int, batch_rows: int, folder: str, out: Any) -> None:
    try:
        for i, (cube, table) in enumerate(generate(rows, seed, batch_rows)):
            path = Path(folder) / f"{i:06d}.arrow"
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            out.put(("batch", cube, str(path)))
        out.put(("done", "", ""))
    except Exception as exc:  # reported to the parent, which raises it; the child just ends
        out.put(("error", type(exc).__name__, str(exc)))


def generated_batches(rows: int, seed: int, batch_rows: int) -> Iterator[tuple[str, pa.Table]]:
    """`generate(rows, seed, batch_rows)`, computed in a child process one batch ahead."""
    folder = tempfile.mkdtemp(prefix="labis-demo-")
    ctx = multiprocessing.get_context("spawn")  # never fork a process that holds chDB's threads
    out = ctx.Queue(maxsize=AHEAD)
    child = ctx.Process(target=_produce, args=(rows, seed, batch_rows, folder, out), daemon=True)
    child.start()
    try:
        while True:
            kind, cube, path = _next(out, child)
            if kind == "done":
                return
            if kind == "error":
                raise UserError(f"the demo generator failed: {cube}: {path}")
            with pa.memory_map(path) as source:
                table = pa.ipc.open_file(source).read_all()
            Path(path).unlink()  # the mapping stays valid until the table is dropped
            yield cube, table
    finally:
        if child.is_alive():
            child.terminate()
        child.join()
        shutil.rmtree(folder, ignore_errors=True)


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
