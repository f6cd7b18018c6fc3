"""The demo generator in a child process, so that generating the next batch overlaps inserting
this one, and the generator's working memory stays out of the process that holds chDB.

The child is a plain `python -m labis_olap.demo.produce`, not a multiprocessing one: a spawned
multiprocessing child first re-runs the caller's main module, so `load_demo` called from a script
without an `if __name__ == "__main__"` guard ran that script again in the child (seen: a second
process loading the same data directory). The child imports the generator only. It writes each
batch as an uncompressed Arrow IPC file into a scratch folder and names it on a line of its
stdout; the parent memory-maps it (no copy), deletes it once inserted and sends one byte back,
so that at most AHEAD batches wait.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pyarrow as pa

from ..errors import UserError

AHEAD = 2
"""Batches the child may have written but the parent not yet taken: bounds the scratch space."""

FIRST_BATCH_ROWS = 1_000_000
"""The first batch is small, so that the parent starts inserting soon after the child starts."""


class GeneratedBatches:
    """`generate(rows, seed, batch_rows)`, computed in a child process one batch ahead. The child
    starts when this is made, so the caller can do other work while it warms up; use it as a
    context manager, which stops the child and removes its scratch folder however it ends."""

    def __init__(
        self, rows: int, seed: int, batch_rows: int, first_rows: int = FIRST_BATCH_ROWS
    ) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="labis-demo-"))
        args = [str(a) for a in (rows, seed, batch_rows, first_rows, self.folder)]
        with (self.folder / "stderr.txt").open("wb") as err:
            self.child = subprocess.Popen(
                [sys.executable, "-m", __name__, *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
            )

    def __enter__(self) -> GeneratedBatches:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.child.poll() is None:
            self.child.kill()
        self.child.wait()
        for pipe in (self.child.stdin, self.child.stdout):
            if pipe is not None:
                with contextlib.suppress(BrokenPipeError):  # an unsent credit byte
                    pipe.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __iter__(self) -> Iterator[tuple[str, pa.Table]]:
        assert self.child.stdin is not None and self.child.stdout is not None
        while True:
            line = self.child.stdout.readline().decode()
            kind, _, rest = line.rstrip("\n").partition("\t")
            cube, _, path = rest.partition("\t")
            if kind == "done":
                return
            if kind == "error":
                raise UserError(f"the demo generator failed: {cube}: {path}")
            if kind != "batch":
                code = self.child.wait()
                said = (self.folder / "stderr.txt").read_text(errors="replace").strip().splitlines()
                raise UserError(
                    f"the demo generator stopped unexpectedly (exit code {code})"
                    + (f": {said[-1]}" if said else "")
                )
            with pa.memory_map(path) as source:
                table = pa.ipc.open_file(source).read_all()
            Path(path).unlink()  # the mapping stays valid until the table is dropped
            with contextlib.suppress(BrokenPipeError):  # a child done writing has gone already
                self.child.stdin.write(b".")  # one more batch may be written ahead
                self.child.stdin.flush()
            yield cube, table


def _produce(rows: int, seed: int, batch_rows: int, first_rows: int, folder: Path, out: IO[str]) -> None:
    """The child's work: the first chunk alone, then chunks joined per cube up to `batch_rows`."""
    from .generate import DICTIONARIES, generate

    count = 0

    def emit(cube: str, table: pa.Table) -> None:
        nonlocal count
        if count >= AHEAD and not sys.stdin.buffer.read(1):
            raise SystemExit(0)  # the parent has gone
        path = folder / f"{count:06d}.arrow"
        count += 1
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        print(f"batch\t{cube}\t{path}", file=out, flush=True)

    pending: list[pa.Table] = []
    pending_cube = ""

    def flush() -> None:
        if pending:
            emit(pending_cube, pa.concat_tables(pending))
            pending.clear()

    for cube, table in generate(rows, seed, min(batch_rows, first_rows)):
        if cube != pending_cube:
            flush()
        if count == 0 or cube in DICTIONARIES:
            emit(cube, table)
            continue
        pending.append(table)
        pending_cube = cube
        if sum(t.num_rows for t in pending) >= batch_rows:
            flush()
    flush()
    print("done\t\t", file=out, flush=True)


def _child(argv: list[str]) -> None:
    rows, seed, batch_rows, first_rows = (int(a) for a in argv[:4])
    try:
        _produce(rows, seed, batch_rows, first_rows, Path(argv[4]), sys.stdout)
    except Exception as exc:  # reported to the parent, which raises it as a UserError
        message = " ".join(str(exc).split())
        print(f"error\t{type(exc).__name__}\t{message}", flush=True)


if __name__ == "__main__":
    _child(sys.argv[1:])
