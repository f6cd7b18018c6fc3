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
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from ..compiler.apply import APPLY_LOCK, apply_model
from ..compiler.members import attach_loaded_members
from ..engine.base import Engine
from ..engine.gate import PUBLICATION
from ..errors import EngineError, UserError
from ..model.definition import Model
from ..model.version import model_version
from ..physical.layout import CubeLayout, q
from ..physical.names import MEMBERS_OWNER, REJECTS
from ..privacy import key_id, redact
from ..settings import Settings
from . import store
from .members import load_member_source, load_members, unload_members
from .read import LoadError, RawBatch, Reader
from .report import EXAMPLES, LoadReport, file_facts
from .spec import FILE_KINDS, Plan
from .transform import Checked, Checker

RELEASE_ROWS = 2_000_000
"""Staged rows between two `engine.release_memory()` calls (which keep a long load's peak down)."""
MAX_STORED_REJECTS = 100_000
"""Reject records stored per batch; all are counted, the first this many are kept."""


def _tracer(on: bool) -> Callable[[str], None]:
    """With LABIS_LOAD_TRACE=1 (Settings.load_trace), phase markers on stderr (`<monotonic time>
    <event>`): the fault test uses them to know where it killed a load. They never carry data."""

    def trace(event: str) -> None:
        if on:
            print(f"{time.monotonic():.6f} {event}", file=sys.stderr, flush=True)

    return trace


class BatchSource(Protocol):
    """What the load reads: a file's Reader, or the spool of a fetched source."""

    total_rows: int | None

    def batches(self) -> Iterator[RawBatch]: ...

    def error(self, code: str, message: str, **where: Any) -> LoadError: ...


@dataclass
class Input:
    """One batch to load: where its records come from and what identifies it."""

    display: str
    sha256: str
    size: int
    batch: str
    open: Callable[[Callable[[int], None] | None], BatchSource]
    """Opens the records (with a byte-progress callback, for files)."""


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
    source = plan.spec.source
    if plan.dimension is not None:
        return load_members(plan, path, model, engine)
    if plan.spec.kind not in FILE_KINDS:
        raise UserError(
            f"{source} is a {plan.spec.kind} source: it fetches its own data and takes no files",
            hint=f"run `labis load {source}`",
        )
    if plan.personal_columns and key is None:
        raise UserError(f"{source}: the spec has personal columns but no pseudonymisation key was given")
    if not path.is_file():
        raise LoadError("L201", "no such file", source=source, file=str(path))
    facts = file_facts(path, plan.spec.options.quote)

    def open_file(on_bytes: Callable[[int], None] | None) -> BatchSource:
        reader = Reader(plan, path, path.name, on_bytes=on_bytes)
        if plan.spec.kind == "csv" and facts.open_quote:
            raise reader.error(
                "L203", "the file ends inside a quoted value", hint="the file is truncated; export it again"
            )
        return reader

    batch = store.batch_id(source, facts.sha256)
    if apply:
        apply_model(model, engine)
    model = attach_loaded_members(model, engine)  # the tables are named after the members loaded
    store.ensure_tables(engine)
    return _load(
        plan,
        Input(path.name, facts.sha256, facts.size, batch, open_file),
        model,
        engine,
        key,
        console,
        chunk_rows,
    )


def _load(
    plan: Plan,
    given: Input,
    model: Model,
    engine: Engine,
    key: bytes | None,
    console: Console | None,
    chunk_rows: int | None,
) -> LoadReport:
    """The one pipeline every kind goes through: check, stage, publish (see the module doc).
    Without `chunk_rows`, LABIS_LOAD_CHUNK_ROWS (Settings.load_chunk_rows) is read now."""
    settings = Settings()
    chunk_rows = chunk_rows or settings.load_chunk_rows
    trace = _tracer(settings.load_trace)
    source = plan.spec.source
    display, sha, size, batch = given.display, given.sha256, given.size, given.batch
    started = time.perf_counter()
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
        model_version=model_version(model),
        key_id=kid,
    )
    store.record(engine, rec)
    gen = store.generation(engine, batch)
    store.clear_rejects(engine, batch)
    stage = store.Stage(engine, layout, batch, key)
    stage.create()
    trace("staging")

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
    repaired = ""
    first_row: int | None = None
    last_row = 0
    released = 0
    try:
        with progress:
            task = progress.add_task(f"checking {display}", total=size, rows="0", rate="")

            def advance(nbytes: int) -> None:
                progress.advance(task, nbytes)

            reader = given.open(advance if console is not None else None)
            for raw, checked in _read_ahead(reader, checker):
                if first_row is None:
                    first_row = raw.first_row
                last_row = max(last_row, raw.last_row)
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
                if report.rows_read >= released + RELEASE_ROWS:
                    released = report.rows_read
                    engine.release_memory()
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
            with APPLY_LOCK, PUBLICATION.exclusive():  # queries see all of the batch or none
                publishing = True
                trace("persons")
                engine.release_memory()
                stage.assign_persons()
                engine.release_memory()
                chunks = (
                    max(1, -(-(last_row - (first_row or 1) + 1) // chunk_rows)) if report.rows_read else 0
                )
                task2 = progress.add_task(f"publishing {display}", total=chunks or 1, rows="", rate="")
                trace("publishing")

                def published_chunk(i: int) -> None:
                    progress.update(task2, completed=i)
                    engine.release_memory()
                    trace(f"chunk {i}")

                if report.rows_accepted:
                    stage.publish(gen, first_row or 1, last_row, chunk_rows, on_chunk=published_chunk)
                published = stage.count_published()
                if published != report.rows_accepted:
                    trace("republishing")
                    stage.republish(gen, first_row or 1, last_row, chunk_rows)
                    published = stage.count_published()
                    stale = list(plan.cube.rollups)  # each got a part of the first attempt
                else:
                    stale = store.rollups_out_of_step(engine, layout)
                for rollup in stale:
                    store.rebuild_rollup(engine, layout, rollup)
                if stale:
                    repaired = (
                        f"rebuilt rollup(s) {', '.join(r.name for r in stale)} from the facts: "
                        "an interrupted load had left them out of step"
                    )
            if published != report.rows_accepted:
                return finish(
                    "failed",
                    f"the facts hold {published:,} rows of this batch, "
                    f"{report.rows_accepted:,} were accepted",
                )
    except LoadError as exc:
        stage.drop()
        # A bad row inside the first block fails before any row of it is counted.
        report.rows_read = max(report.rows_read, exc.rows_before or 0)
        return finish("failed", str(exc))
    except (UserError, EngineError) as exc:  # an EngineError is not a UserError
        if not publishing:
            stage.drop()
            return finish("failed", exc.message)
        # An engine error while publishing: some chunks may be visible; a re-run completes them.
        return finish("failed", exc.message + "; re-run `labis load` to complete it, or `labis unload` it")
    except BaseException as exc:
        finish("failed", f"interrupted: {type(exc).__name__}")
        raise
    stage.drop()
    done = finish("ok", repaired)
    trace("done")
    return done


READ_AHEAD = 2
"""Checked batches the reading thread may hold while the engine stages earlier ones."""


def _read_ahead(source: BatchSource, checker: Checker) -> Iterator[tuple[RawBatch, Checked]]:
    """The source's batches, read and checked in a thread while the caller stages the previous
    ones: chDB releases the GIL while it inserts (measured: another thread ran at full speed
    during an insert), so parsing and checking overlap staging. An error in the thread is raised
    here; leaving early stops the thread."""
    out: queue.Queue[tuple[RawBatch, Checked] | BaseException | None] = queue.Queue(READ_AHEAD)
    stop = threading.Event()

    def put(item: tuple[RawBatch, Checked] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for raw in source.batches():
                if not put((raw, checker.check(raw))):
                    return
            put(None)
        except BaseException as exc:  # handed to the consuming thread, which raises it
            put(exc)

    thread = threading.Thread(target=work, name="labis-load-read", daemon=True)
    thread.start()
    try:
        while (item := out.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def reject_rows(engine: Engine, batch: str, limit: int = 50) -> pa.Table:
    return engine.query(
        f"SELECT row, `column`, value, reason FROM {q(engine.database)}.{q(REJECTS)} "
        "WHERE batch = {b:String} ORDER BY row, `column` LIMIT {n:UInt32}",
        {"b": batch, "n": limit},
    )


def load_source(
    plan: Plan,
    model: Model,
    engine: Engine,
    key: bytes | None,
    *,
    console: Console | None = None,
    chunk_rows: int | None = None,
    apply: bool = True,
    environ: dict[str, str] | None = None,
) -> LoadReport:
    """Fetch a sql or http source into a spool and load it as one batch through `_load`.

    With a watermark, the fetch starts above the highest watermark of the source's batches that
    are `ok`; a batch interrupted while publishing (some rows visible) is fetched again over its
    own range, so that it gets the same id and completes without double counting. Without a
    watermark every run is the whole result: the same content is skipped, a different one is
    refused while an earlier batch is loaded (it would be counted twice)."""
    from .remote import SpoolReader, decode_watermark, fetch_http, fetch_sql

    source = plan.spec.source
    if plan.spec.kind in FILE_KINDS:
        raise UserError(
            f"{source} reads {plan.spec.kind} files", hint=f"give them: labis load {source} FILE…"
        )
    if plan.dimension is not None:  # a classifier from a database or a web service
        if apply:
            apply_model(model, engine)
        return load_member_source(plan, model, engine, environ=environ)
    if plan.personal_columns and key is None:
        raise UserError(f"{source}: the spec has personal columns but no pseudonymisation key was given")
    if apply:
        apply_model(model, engine)
    model = attach_loaded_members(model, engine)  # the tables are named after the members loaded
    store.ensure_tables(engine)
    layout = CubeLayout(model, plan.cube, engine.database)
    sql = plan.spec.sql
    wm = sql.watermark if sql else None
    query_id = hashlib.sha256(
        (sql.query if sql else plan.spec.http.url if plan.spec.http else "").encode()
    ).hexdigest()
    states = store.source_states(engine, source)
    ok = [st for st in states if st.status == "ok"]
    interrupted = next(
        (
            st
            for st in reversed(states)
            if st.status in ("running", "failed") and _published_rows(engine, layout, st.batch)
        ),
        None,
    )
    above: tuple[str, str] | None = None
    upto: tuple[str, str] | None = None
    if wm and interrupted is not None and interrupted.high is not None:
        kind = interrupted.watermark_type
        above = (kind, interrupted.low) if interrupted.low is not None else None
        upto = (kind, interrupted.high)
    elif wm:
        loaded = [st for st in ok if st.high is not None]
        if loaded:
            best = max(loaded, key=lambda st: decode_watermark(st.watermark_type, str(st.high)))
            above = (best.watermark_type, str(best.high))
    with tempfile.TemporaryDirectory(prefix="labis-fetch-") as tmp:
        try:
            fetched = (
                fetch_sql(plan, Path(tmp), above, upto, environ)
                if sql
                else fetch_http(plan, Path(tmp), environ)
            )
        except LoadError as exc:
            attempt = store.batch_id(source, "", query_id, dt.datetime.now(dt.UTC).isoformat())
            return _failed(plan, model, engine, attempt, exc.file, "", 0, str(exc))
        if not fetched.rows:
            since = f" above {wm} {redact(above[1])}" if wm and above else ""
            return LoadReport(source, fetched.display, "", "skipped", message=f"nothing new{since}")
        rng = fetched.range
        context = [query_id, *((rng.low or "", rng.high or "") if rng else ())]
        batch = store.batch_id(source, fetched.sha256, *context)
        display = fetched.display
        if rng is not None and wm:
            display += f" [{rng.low} < {wm} ≤ {rng.high}]" if rng.low else f" [{wm} ≤ {rng.high}]"
        if interrupted is not None and batch != interrupted.batch:
            raise UserError(
                f"{source}: batch {interrupted.batch} was interrupted while publishing, and the source "
                "no longer returns the same records, so it cannot be completed",
                hint=f"take it out with `labis unload {interrupted.batch}`, then load again",
            )
        others = [st.batch for st in ok if st.batch != batch]
        if not wm and others:
            raise UserError(
                f"{source}: the result differs from batch {others[-1]}, loaded before; without a "
                "watermark each run is the whole result, and loading it would count those rows twice",
                hint=f"`labis unload {others[-1]}` first, or declare sql.watermark for incremental loads",
            )
        drift = _drift(plan, fetched.kinds, ok[-1] if ok else None, fetched.display)
        if drift is not None:
            return _failed(plan, model, engine, batch, display, fetched.sha256, fetched.nbytes, drift)
        if not any(st.batch == batch for st in states):
            store.record_state(
                engine, source, batch, (rng.kind, rng.low, rng.high) if rng else None, fetched.kinds
            )
        return _load(
            plan,
            Input(display, fetched.sha256, fetched.nbytes, batch, lambda _: SpoolReader(plan, fetched)),
            model,
            engine,
            key,
            console,
            chunk_rows,
        )


def _published_rows(engine: Engine, layout: CubeLayout, batch: str) -> int:
    t = engine.query(
        f"SELECT count() AS n FROM `{engine.database}`.`{layout.facts_table}` WHERE `_batch` = {{b:String}}",
        {"b": batch},
    )
    return int(t.to_pylist()[0]["n"])


def _drift(plan: Plan, kinds: dict[str, str], last: store.SourceState | None, display: str) -> str | None:
    """A column whose values changed type since the last load: the source's schema drifted."""
    if last is None:
        return None
    for column in plan.source_columns:
        was, now = last.kinds.get(column), kinds.get(column)
        if was and now and "mixed" not in (was, now) and was != now:
            return str(
                LoadError(
                    "L210",
                    f"the values are {now} now, {was} at the last load (batch {last.batch})",
                    source=plan.spec.source,
                    file=display,
                    column=column,
                    hint="the source's schema changed: check the source, then adapt the spec",
                )
            )
    return None


def _failed(
    plan: Plan, model: Model, engine: Engine, batch: str, display: str, sha: str, size: int, message: str
) -> LoadReport:
    """A fetch that failed before anything was staged: recorded in `loads`, nothing loaded."""
    now = dt.datetime.now(dt.UTC)
    rec = store.LoadRecord(
        batch=batch,
        source=plan.spec.source,
        cube=plan.cube.name,
        file_name=display,
        file_sha256=sha,
        file_bytes=size,
        started=now,
        model_version=model_version(model),
        finished=now,
        status="failed",
        message=redact(message),
    )
    store.record(engine, rec)
    return LoadReport(plan.spec.source, display, batch, "failed", message=rec.message)


def unload_batch(engine: Engine, model: Model, batch: str) -> dict[str, Any]:
    """Unload a batch of facts (store.unload) or of members (members.unload_members)."""
    model = attach_loaded_members(model, engine)  # the rollups are named after the members loaded
    row = store.find_batch(engine, batch)
    if str(row["cube"]).startswith(MEMBERS_OWNER):
        if row["status"] == "unloaded":
            raise UserError(f"batch {row['batch']} is already unloaded")
        return unload_members(engine, model, row)
    return store.unload(engine, model, batch)
