"""`labis load` of a member source: a dimension's classifier table, checked whole, kept with its
history as validity ranges (slowly changing, type 2), recorded in the lineage like facts.

A member source is a loader spec with `dimension:` instead of `cube:` (its columns fill the
dimension's member columns), of any kind facts have: a file (csv, xlsx, parquet) or what a
sql query or an http source returns, read whole. Each load is a snapshot of the classifier:

* with `valid_from`/`valid_to` in the spec, the rows carry their own validity (the source
  system keeps the history) and the snapshot replaces the members as it is;
* without, the history is made here: a member new or changed since the current members starts
  on the load's `effective` day (default today) and its old version ends the day before; one
  missing from the snapshot ends the day before; one unchanged keeps its range. The first load
  is valid from the beginning.

Nothing partial: a load whose rows do not convert (a bad date, an empty key) is `rejected` with
its rejects, and one whose members do not check (duplicate keys, overlapping validity) `failed`;
either leaves the members as they were. A load that passes is stored as the dimension's whole
history after it (`member_rows`, one batch), then `apply` builds the dimension's tables beside
the old ones and swaps them in (compiler/apply.py), and the rollups above follow.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..compiler.apply import APPLY_LOCK, apply_model
from ..compiler.members import current_member_batch, member_rows_of
from ..engine.base import Engine
from ..errors import UserError
from ..model.definition import Model
from ..model.diagnostics import Diagnostics, Location
from ..model.schema import Dimension
from ..model.source import SourceDoc
from ..model.tables import Table, join_tables
from ..model.validate import member_problems
from ..model.version import model_version
from ..physical.layout import OPEN_END, OPEN_START
from ..physical.names import MEMBER_ROWS, MEMBERS_OWNER
from . import store
from .raw import RawBatch
from .read import Reader
from .report import EXAMPLES, LoadReport, file_facts
from .spec import FILE_KINDS, Plan
from .transform import Checker

Row = dict[str, Any]


@dataclass(frozen=True)
class Snapshot:
    """One read of a classifier: a file, or what a sql or http source returned."""

    display: str
    sha256: str
    size: int
    batches: Callable[[], Iterable[RawBatch]]


def load_members(
    plan: Plan, path: Path, model: Model, engine: Engine, *, effective: dt.date | None = None
) -> LoadReport:
    """Load one snapshot file of a member source; the report's status is ok, skipped (this file
    is the current members already), rejected or failed."""
    source = plan.spec.source
    if plan.spec.kind not in FILE_KINDS:
        raise UserError(
            f"{source} reads {plan.spec.kind}, not files", hint=f"run it without a file: labis load {source}"
        )
    if not path.is_file():
        raise UserError(f"{source}: {path}: no such file")
    facts = file_facts(path, plan.spec.options.quote)
    snapshot = Snapshot(path.name, facts.sha256, facts.size, lambda: Reader(plan, path, path.name).batches())
    return _load_snapshot(plan, snapshot, model, engine, effective)


def load_member_source(
    plan: Plan,
    model: Model,
    engine: Engine,
    *,
    effective: dt.date | None = None,
    environ: dict[str, str] | None = None,
) -> LoadReport:
    """Load a sql or http member source: the whole classifier as the source returns it now (a
    snapshot, as a file is; the same answer as the current members is skipped)."""
    from .remote import SpoolReader, fetch_http, fetch_sql

    source = plan.spec.source
    if plan.spec.kind in FILE_KINDS:
        raise UserError(f"{source} reads {plan.spec.kind} files", hint=f"give one: labis load {source} FILE")
    if plan.spec.sql is not None and plan.spec.sql.watermark:
        raise UserError(
            f"{source}: a member source is read whole, each load a snapshot of the classifier",
            hint="remove sql.watermark (it reads only new rows, which suits facts)",
        )
    with tempfile.TemporaryDirectory(prefix="labis-fetch-") as tmp:
        fetched = (
            fetch_sql(plan, Path(tmp), None, None, environ)
            if plan.spec.sql is not None
            else fetch_http(plan, Path(tmp), environ)
        )
        snapshot = Snapshot(
            fetched.display, fetched.sha256, fetched.nbytes, lambda: SpoolReader(plan, fetched).batches()
        )
        return _load_snapshot(plan, snapshot, model, engine, effective)


def _load_snapshot(
    plan: Plan, snapshot: Snapshot, model: Model, engine: Engine, effective: dt.date | None
) -> LoadReport:
    assert plan.dimension is not None
    source, dim = plan.spec.source, model.dimensions[plan.dimension]
    day = effective or dt.date.today()
    batch = store.batch_id(source, snapshot.sha256, day.isoformat())
    started = time.perf_counter()
    store.ensure_tables(engine)
    report = LoadReport(source, snapshot.display, batch, "running")
    prior = store.latest(engine, batch=batch)
    if prior and prior[0]["status"] == "ok":
        report.status = "skipped"
        report.rows_read = report.rows_accepted = prior[0]["rows_read"]
        return report
    rec = store.LoadRecord(
        batch=batch,
        source=source,
        cube=f"{MEMBERS_OWNER}{dim.name}",
        file_name=snapshot.display,
        file_sha256=snapshot.sha256,
        file_bytes=snapshot.size,
        started=dt.datetime.now(dt.UTC),
        model_version=model_version(model),
    )
    store.record(engine, rec)
    store.clear_rejects(engine, batch)

    def finish(status: str, message: str = "") -> LoadReport:
        report.seconds = time.perf_counter() - started
        report.status, report.message = status, message
        rec.status, rec.message = status, message
        rec.rows_read, rec.rows_accepted, rec.rows_rejected = (
            report.rows_read,
            report.rows_accepted,
            report.rows_rejected,
        )
        rec.finished = dt.datetime.now(dt.UTC)
        store.record(engine, rec)
        return report

    checker = Checker(plan)
    accepted: list[pa.Table] = []
    rejects: list[pa.Table] = []
    for raw in snapshot.batches():
        checked = checker.check(raw)
        report.rows_read += checked.rows
        report.rows_rejected += checked.rejected_rows
        report.reasons.update(checked.reasons)
        accepted.append(checked.accepted)
        if checked.rejects.num_rows:
            rejects.append(checked.rejects)
    if report.rows_rejected:
        every = pa.concat_tables(rejects)
        store.write_rejects(engine, batch, source, every)
        report.examples = every.slice(0, EXAMPLES).to_pylist()
        return finish("rejected", "a member load is whole or nothing: fix the rows and load the file again")
    rows = _rows(pa.concat_tables(accepted) if accepted else None, plan, dim.name)
    report.rows_accepted = len(rows)
    locs = [Location(snapshot.display, int(r.pop("_row")), 1) for r in rows]
    doc = model.docs.get(("dimension", dim.name)) or SourceDoc(str(plan.path), None)
    assert dim.members is not None
    if dim.members.join and rows:  # a snowflake: the tables beside the model, joined to each row
        diags = Diagnostics()
        joined = join_tables(Table(snapshot.display, list(rows[0]), rows, locs), dim.members.join, doc,
                             ("members",), diags)  # fmt: skip
        if joined is None:
            return finish("failed", diags.render())
        rows = joined.rows
    # A snapshot names each member once; rows with their own validity, once per date range.
    checked_as = dim if plan.spec.valid_from is not None else _snapshot_of(dim)
    problems = member_problems(checked_as, rows, locs, doc)
    if problems:
        return finish("failed", problems.render())
    with APPLY_LOCK:
        current = current_member_batch(engine, source)
        before = member_rows_of(engine, dim.name, current) if current is not None else None
        history = _history(rows, before, dim.fact_key_column, day) if plan.spec.valid_from is None else rows
        _store(engine, dim.name, batch, history, plan)
    report = finish("ok")
    apply_model(model, engine)  # reads the members just stored (compiler/members.py)
    return report


def _snapshot_of(dim: Dimension) -> Dimension:
    """The dimension as if its members were one unversioned file (its duplicate-key checks)."""
    assert dim.members is not None
    members = dim.members.model_copy(update={"source": None, "file": "<snapshot>"})
    return dim.model_copy(update={"members": members})


def _rows(table: pa.Table | None, plan: Plan, dimension: str) -> list[Row]:
    """The accepted rows as member rows: text values ('' → None), dates for the validity."""
    if table is None:
        return []
    spec = plan.spec
    out: list[Row] = []
    for r in table.to_pylist():
        row: Row = {"_row": r.pop("_row", 0)}
        for k, v in r.items():
            if k in (spec.valid_from, spec.valid_to):
                row["valid_from" if k == spec.valid_from else "valid_to"] = v
            else:
                row[k] = None if v in (None, "") else str(v)
        out.append(row)
    return out


def _payload(row: Row) -> Row:
    return {k: v for k, v in row.items() if k not in ("valid_from", "valid_to")}


def _history(snapshot: list[Row], before: list[Row] | None, fact_key: str, day: dt.date) -> list[Row]:
    """The members' versions after a snapshot taken on `day` (the module docstring's rules)."""
    if before is None:
        return [{**r, "valid_from": OPEN_START, "valid_to": OPEN_END} for r in snapshot]
    ended = day - dt.timedelta(days=1)
    now = {str(r[fact_key]): r for r in snapshot}
    out: list[Row] = []
    kept: set[str] = set()
    for old in before:
        key = str(old[fact_key])
        if old["valid_to"] < OPEN_END:
            out.append(old)  # history stays as it was
            continue
        new = now.get(key)
        if new is not None and _payload(new) == _payload(old):
            out.append(old)
            kept.add(key)
        elif old["valid_from"] <= ended:
            out.append({**old, "valid_to": ended})
        # else: the version began today and changes again today: the new one replaces it
    for key, new in now.items():
        if key not in kept:
            out.append({**new, "valid_from": day, "valid_to": OPEN_END})
    return out


def _store(engine: Engine, dimension: str, batch: str, rows: list[Row], plan: Plan) -> None:
    validity = (plan.spec.valid_from, plan.spec.valid_to)
    columns = [c.name for c in plan.cube.columns if c.name not in validity]
    joined = [c for c in (rows[0] if rows else {}) if c not in columns]  # what `join` brought
    columns += [c for c in joined if c not in ("valid_from", "valid_to")]
    data = pa.table(
        {
            "dimension": pa.array([dimension] * len(rows), pa.string()),
            "batch": pa.array([batch] * len(rows), pa.string()),
            "row": pa.array(
                [json.dumps({c: r.get(c) for c in columns}, ensure_ascii=False) for r in rows], pa.string()
            ),
            "valid_from": pa.array([r.get("valid_from") or OPEN_START for r in rows], pa.date32()),
            "valid_to": pa.array([r.get("valid_to") or OPEN_END for r in rows], pa.date32()),
        }
    )
    engine.insert_arrow(MEMBER_ROWS, data)


def unload_members(engine: Engine, model: Model, row: dict[str, Any]) -> dict[str, Any]:
    """Unload a member batch: its members are gone and the source's previous `ok` batch (the
    members before it) is current again; refused for any but the current batch, whose removal
    would leave a later load's history resting on it."""
    source = row["source"]
    if current_member_batch(engine, source) != row["batch"]:
        raise UserError(
            f"batch {row['batch']} is not the current members of '{source}'",
            hint="only the newest member load can be unloaded: each later load's history builds on it",
        )
    rec = store.LoadRecord(**{k: row[k] for k in store.LoadRecord.__dataclass_fields__})
    rec.status, rec.message = "unloaded", ""
    with APPLY_LOCK:
        store.record(engine, rec)
    apply_model(model, engine)
    return row
