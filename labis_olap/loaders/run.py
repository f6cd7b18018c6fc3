"""`labis load`: one file of one source, checked in full, then published as one batch.

    1. hash the file → batch id = hash(source, file sha256); a batch already `ok` is skipped
    2. stream it (bounded memory): convert, check, write rejects, stage accepted rows
       (person identifiers pseudonymised by the engine on the way into the stage)
    3. too many rejects, or a malformed file: status `rejected`/`failed`, the stage is dropped,
       nothing was visible
    4. under APPLY_LOCK: number new persons, copy the stage into the facts in deduplicated
       chunks (rollups follow through their materialized views), check the count, status `ok`

What is and is not atomic is spelled out in docs/loaders.md ("Atomicity").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from ..compiler.apply import APPLY_LOCK, apply_model
from ..compiler.physical import CubeLayout
from ..engine.base import Engine
from ..errors import UserError
from ..model.loader import Model
from ..privacy import key_id, redact
from . import store
from .read import LoadError, Reader
from .spec import Plan
from .transform import Checker

CHUNK_ROWS = int(os.environ.get("LABIS_LOAD_CHUNK_ROWS", "1000000"))
"""Source rows per published chunk (one deduplicated block each)."""
MAX_STORED_REJECTS = 100_000
"""Reject records stored per batch; all are counted, the first this many are kept."""
EXAMPLES = 10


def _trace(event: str) -> None:
    """With LABIS_LOAD_TRACE=1, phase markers on stderr (`<monotonic time> <event>`): the fault
    test uses them to know where it killed a load. They never carry data."""
    if os.environ.get("LABIS_LOAD_TRACE"):
        print(f"{time.monotonic():.6f} {event}", file=sys.stderr, flush=True)


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


def load_file(
    plan: Plan,
    path: Path,
    model: Model,
    engine: Engine,
    key: bytes | None,
    *,
    console: Console | None = None,
    chunk_rows: int | None = None,
    apply: bool = True,
) -> LoadReport:
    """Load one file; returns the report (status ok/skipped/rejected/failed). A malformed file or
    too many rejects is a report with status failed/rejected, not an exception."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    source = plan.spec.source
    display = path.name
    if plan.personal_columns and key is None:
        raise UserError(f"{source}: the spec has personal columns but no pseudonymisation key was given")
    if not path.is_file():
        raise LoadError("L201", "no such file", source=source, file=str(path))
    facts = file_facts(path, plan.spec.options.quote)
    sha, size = facts.sha256, facts.size
    batch = store.batch_id(source, sha)
    started = time.perf_counter()
    if apply:
        apply_model(model, engine)
    store.ensure_tables(engine)
    layout = CubeLayout(model, plan.cube, engine.database)
    store.ensure_dedup_window(engine, layout)
    report = LoadReport(source, display, batch, "running")
    prior = store.latest(engine, batch=batch)
    if prior and prior[0]["status"] == "ok":
        report.status = "skipped"
        report.rows_read = prior[0]["rows_read"]
        report.rows_accepted = prior[0]["rows_accepted"]
        report.rows_rejected = prior[0]["rows_rejected"]
        return report
    kid = key_id(key) if key is not None else ""
    if kid:
        others = store.key_ids(engine) - {kid}
        if others:
            raise UserError(
                f"{source}: the pseudonymisation key differs from the one used for earlier loads",
                hint="pseudonyms made with different keys never match, so distinct-person counts "
                "would be wrong; use the key of the earlier loads",
            )
    rec = store.LoadRecord(
        batch=batch,
        source=source,
        cube=plan.cube.name,
        file_name=display,
        file_sha256=sha,
        file_bytes=size,
        started=dt.datetime.now(dt.UTC),
        model_version=store.model_version(model),
        key_id=kid,
    )
    store.record(engine, rec)
    gen = store.generation(engine, batch)
    store.clear_rejects(engine, batch)
    stage = store.Stage(engine, layout, batch, key)
    stage.create()
    _trace("staging")

    def finish(status: str, message: str = "") -> LoadReport:
        report.seconds = time.perf_counter() - started
        report.status = status
        report.message = redact(message)
        rec.status = status
        rec.message = report.message
        rec.rows_read, rec.rows_accepted, rec.rows_rejected = (
            report.rows_read,
            report.rows_accepted,
            report.rows_rejected,
        )
        rec.finished = dt.datetime.now(dt.UTC)
        store.record(engine, rec)
        return report

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]} rows · {task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
        disable=console is None or not console.is_terminal,
        transient=True,
    )
    checker = Checker(plan)
    stored_rejects = 0
    publishing = False
    first_row: int | None = None
    last_row = 0
    try:
        with progress:
            task = progress.add_task(f"checking {display}", total=size, rows="0", rate="")

            def advance(nbytes: int) -> None:
                progress.advance(task, nbytes)

            reader = Reader(plan, path, display, on_bytes=advance if console is not None else None)
            if plan.spec.kind == "csv" and facts.open_quote:
                raise reader.error(
                    "L203",
                    "the file ends inside a quoted value",
                    hint="the file is truncated; export it again",
                )
            for raw in reader.batches():
                checked = checker.check(raw)
                if first_row is None:
                    first_row = raw.first_row
                last_row = raw.first_row + raw.num_rows - 1
                report.rows_read += checked.rows
                report.rows_rejected += checked.rejected_rows
                report.rows_accepted += checked.accepted.num_rows
                report.reasons.update(checked.reasons)
                if checked.rejects.num_rows and stored_rejects < MAX_STORED_REJECTS:
                    keep = checked.rejects.slice(0, MAX_STORED_REJECTS - stored_rejects)
                    store.write_rejects(engine, batch, source, keep)
                    stored_rejects += keep.num_rows
                    if len(report.examples) < EXAMPLES:
                        report.examples.extend(keep.slice(0, EXAMPLES - len(report.examples)).to_pylist())
                stage.insert(checked.accepted)
                elapsed = time.perf_counter() - started
                if reader.total_rows:
                    progress.update(task, total=reader.total_rows, completed=report.rows_read)
                progress.update(
                    task,
                    rows=f"{report.rows_read:,}",
                    rate=f"{report.rows_read / max(elapsed, 1e-9):,.0f} rows/s",
                )
            if report.rows_read and report.reject_share > plan.spec.max_reject_share:
                stage.drop()
                return finish(
                    "rejected",
                    f"{report.rows_rejected:,} of {report.rows_read:,} rows rejected "
                    f"({report.reject_share:.2%}), more than max_reject_share "
                    f"{plan.spec.max_reject_share:.2%}; nothing was loaded",
                )
            with APPLY_LOCK:
                publishing = True
                _trace("persons")
                stage.assign_persons()
                chunks = (
                    max(1, -(-(last_row - (first_row or 1) + 1) // chunk_rows)) if report.rows_read else 0
                )
                task2 = progress.add_task(f"publishing {display}", total=chunks or 1, rows="", rate="")
                _trace("publishing")

                def published_chunk(i: int) -> None:
                    progress.update(task2, completed=i)
                    _trace(f"chunk {i}")

                if report.rows_accepted:
                    stage.publish(gen, first_row or 1, last_row, chunk_rows, on_chunk=published_chunk)
                published = stage.count_published()
            if published != report.rows_accepted:
                return finish(
                    "failed",
                    f"the facts hold {published:,} rows of this batch, "
                    f"{report.rows_accepted:,} were accepted",
                )
    except LoadError as exc:
        stage.drop()
        return finish("failed", str(exc))
    except UserError as exc:
        if not publishing:
            stage.drop()
            return finish("failed", exc.message)
        # An engine error while publishing: some chunks may be visible; a re-run completes them.
        return finish("failed", exc.message + "; re-run `labis load` to complete it, or `labis unload` it")
    except BaseException as exc:
        finish("failed", f"interrupted: {type(exc).__name__}")
        raise
    stage.drop()
    done = finish("ok")
    _trace("done")
    return done


def reject_rows(engine: Engine, batch: str, limit: int = 50) -> pa.Table:
    return engine.query(
        f"SELECT row, `column`, value, reason FROM `{engine.database}`.`rejects` "
        "WHERE batch = {b:String} ORDER BY row, `column` LIMIT {n:UInt32}",
        {"b": batch, "n": limit},
    )
