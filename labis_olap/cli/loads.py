"""CLI commands of the loaders: `labis load`, `labis loads`, `labis unload`, `labis rejects`,
`labis loaders`. Registered on the main app by `register(app)` (see labis_olap/cli/__init__.py).

The helpers shared with the other commands (settings, engine, error display) are in
labis_olap/cli/support.py; this module does not import the main app.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..settings import Settings
from .support import (
    DataDir,
    ModelDir,
    engine_of,
    err,
    friendly,
    model_of,
    note_server,
    out,
    served_by,
    settings_for,
)

LoadersDir = Annotated[
    Path | None,
    typer.Option("--loaders", help="Folder of loader specs [env LABIS_LOADERS_DIR; ./loaders]"),
]


def _loaders_dir(given: Path | None) -> Path:
    """The --loaders folder, else the settings' (LABIS_LOADERS_DIR, default ./loaders)."""
    from ..settings import Settings

    return given or Settings().loaders_dir


@friendly
def load_cmd(
    source: Annotated[str, typer.Argument(help="Source name (a loaders/*.yaml 'source:') or a spec file")],
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Files to load, each one batch (none for sql and http sources)"),
    ] = None,
    loaders: LoadersDir = None,
    model: ModelDir = None,
    data_dir: DataDir = None,
) -> None:
    """Check files against a source spec and load them into the cube, one batch per file; a sql or
    http source fetches its own records (incrementally, with a watermark) as one batch."""
    from ..compiler.members import attach_loaded_members
    from ..errors import UserError
    from ..loaders.run import load_file, load_source
    from ..loaders.spec import FILE_KINDS, find_spec, load_plan
    from ..privacy import pseudonym_key

    settings = settings_for(model, data_dir)
    if settings.clickhouse_url is None and _handed_off(settings, source, files or []):
        return
    m = model_of(settings)
    spec_path = find_spec(_loaders_dir(loaders), source)
    plan = load_plan(spec_path, m)
    source = plan.spec.source
    fetches = plan.spec.kind not in FILE_KINDS
    if fetches and files:
        raise UserError(
            f"{source} is a {plan.spec.kind} source: it takes no files", hint=f"labis load {source}"
        )
    if not fetches and not files:
        raise UserError(
            f"{source} reads {plan.spec.kind} files: name them", hint=f"labis load {source} FILE…"
        )
    key = pseudonym_key(settings) if plan.personal_columns else None  # refuse before touching anything
    engine = engine_of(settings)
    attached = attach_loaded_members(m, engine)
    if attached is not m:  # facts' keys are checked against the members loaded
        m, plan = attached, load_plan(spec_path, attached)
    failed = 0
    reports = (
        [load_source(plan, m, engine, key, console=out)]
        if fetches
        else (load_file(plan, path, m, engine, key, console=out) for path in files or [])
    )
    for report in reports:
        print_report(report)
        failed += report.status in ("failed", "rejected")
    if failed:
        raise typer.Exit(1)


def _handed_off(settings: Settings, source: str, files: list[Path]) -> bool:
    """While `labis serve` holds the embedded directory, load through it (loaders/handoff.py):
    the server pseudonymises with its key, which must be this command's if it has one."""
    from ..engine.holder import running_server
    from ..loaders.handoff import hand_off
    from ..privacy import find_key

    data_dir = settings.data_dir
    server = running_server(data_dir)
    if server is None:
        return False
    out.print(f"`labis serve` holds {data_dir} (pid {server.pid}): handing the load to {server.url}")
    failed = 0
    for report in hand_off(data_dir, source, files, find_key(settings)):
        print_report(report)
        failed += report.status in ("failed", "rejected")
    if failed:
        raise typer.Exit(1)
    return True


def print_report(report: Any) -> None:
    """A load's reject reasons, first rejected values and summary line (also `labis import-cubes`)."""

    style = {"ok": "green", "skipped": "yellow"}.get(report.status, "red")
    if report.reasons:
        table = Table(title=f"rejects of batch {report.batch}", title_justify="left")
        for col in ("column", "reason", "values"):
            table.add_column(col, justify="right" if col == "values" else "left")
        for (column, reason), n in report.reasons.most_common(20):
            table.add_row(escape(column), escape(reason), f"{n:,}")
        out.print(table)
        if report.examples:
            ex = Table(title="first rejected values", title_justify="left")
            for col in ("row", "column", "value", "reason"):
                ex.add_column(col, justify="right" if col == "row" else "left")
            for e in report.examples:
                ex.add_row(f"{e['row']:,}", escape(e["column"]), escape(e["value"]), escape(e["reason"]))
            out.print(ex)
    line = f"[{style}]{report.status}[/{style}] {escape(report.summary())}"
    out.print(line, highlight=False, soft_wrap=True)
    if report.message and report.status != "skipped":
        err.print(f"  {escape(report.message)}", highlight=False, soft_wrap=True)


@friendly
def loads_cmd(
    source: Annotated[str | None, typer.Option(help="Only this source")] = None,
    limit: Annotated[int, typer.Option(help="At most this many batches", min=1)] = 50,
    model: ModelDir = None,
    data_dir: DataDir = None,
) -> None:
    """List loaded batches (lineage): newest first, with their current status (through
    `labis serve` while it holds the data)."""
    from ..loaders.store import batches, ensure_tables

    settings = settings_for(model, data_dir)
    if served_by(settings) is not None:
        from ..loaders.handoff import ask

        params = {"source": source, "limit": limit}
        rows = ask(settings.data_dir, "/admin/loads", params, on_server=note_server)["batches"]
    else:
        engine = engine_of(settings)
        ensure_tables(engine)
        rows = batches(engine, source=source, limit=limit)
    table = Table()
    cols = (
        "batch",
        "source",
        "cube",
        "file",
        "status",
        "read",
        "accepted",
        "rejected",
        "started",
        "seconds",
        "model",
    )
    for col in cols:
        table.add_column(
            col, justify="right" if col in ("read", "accepted", "rejected", "seconds") else "left"
        )
    for r in rows:
        started = r["started"]
        if isinstance(started, str):  # JSON from a running server
            started = dt.datetime.fromisoformat(started)
        table.add_row(
            r["batch"],
            escape(r["source"]),
            escape(r["cube"]),
            escape(r["file_name"]),
            r["status"],
            f"{r['rows_read']:,}",
            f"{r['rows_accepted']:,}",
            f"{r['rows_rejected']:,}",
            started.strftime("%Y-%m-%d %H:%M"),
            f"{r['seconds']:.1f}" if r["seconds"] is not None else "–",
            r["model_version"],
        )
    out.print(table)
    failed = [r for r in rows if r["status"] in ("failed", "rejected") and r["message"]]
    for r in failed:
        out.print(f"{r['batch']} {r['status']}: {escape(r['message'])}", highlight=False, soft_wrap=True)
    out.print(f"{len(rows)} batch(es)")


@friendly
def unload_cmd(
    batch: Annotated[str, typer.Argument(help="Batch id (or a unique prefix of 6+ digits)")],
    model: ModelDir = None,
    data_dir: DataDir = None,
) -> None:
    """Remove a batch from its facts and rebuild the cube's rollups."""
    from ..loaders.handoff import hand_off_unload
    from ..loaders.run import unload_batch
    from ..loaders.store import ensure_tables

    settings = settings_for(model, data_dir)
    server = served_by(settings)
    if server is not None:
        out.print(f"`labis serve` holds {settings.data_dir} (pid {server.pid}): unloading via {server.url}")
        row = hand_off_unload(settings.data_dir, batch)
    else:
        m, engine = model_of(settings), engine_of(settings)
        ensure_tables(engine)
        row = unload_batch(engine, m, batch)
        row["rollups"] = len(m.cubes[row["cube"]].rollups) if row["cube"] in m.cubes else 0
    out.print(
        f"[green]unloaded[/green] batch {row['batch']} "
        f"({row['rows_accepted']:,} rows of {escape(row['file_name'])}) "
        f"from {row['cube']}; {row['rollups']} rollup(s) rebuilt",
        highlight=False,
    )


@friendly
def rejects_cmd(
    batch: Annotated[str, typer.Argument(help="Batch id (or a unique prefix of 6+ digits)")],
    limit: Annotated[int, typer.Option(help="At most this many rejected values", min=1)] = 50,
    model: ModelDir = None,
    data_dir: DataDir = None,
) -> None:
    """Show a batch's rejected values (personal values are masked; through `labis serve` while it
    holds the data)."""
    from ..loaders.run import reject_rows
    from ..loaders.store import ensure_tables, find_batch

    settings = settings_for(model, data_dir)
    if served_by(settings) is not None:
        from urllib.parse import quote

        from ..loaders.handoff import ask

        path = f"/admin/rejects/{quote(batch, safe='')}"
        answer = ask(settings.data_dir, path, {"limit": limit}, on_server=note_server)
        record, rows = answer["batch"], answer["rejects"]
    else:
        engine = engine_of(settings)
        ensure_tables(engine)
        record = find_batch(engine, batch)
        rows = reject_rows(engine, record["batch"], limit).to_pylist()
    out.print(
        f"batch {record['batch']} ({escape(record['file_name'])}, {record['status']}): "
        f"{record['rows_rejected']:,} row(s) rejected",
        highlight=False,
    )
    if not rows:
        return
    table = Table()
    for col in ("row", "column", "value", "reason"):
        table.add_column(col, justify="right" if col == "row" else "left")
    for r in rows:
        table.add_row(f"{r['row']:,}", escape(r["column"]), escape(r["value"]), escape(r["reason"]))
    out.print(table)
    out.print(f"{len(rows):,} rejected value(s) shown (--limit {limit})", highlight=False)


@friendly
def loaders_cmd(
    loaders_dir: Annotated[Path | None, typer.Argument(help="Folder of loader specs")] = None,
    model: ModelDir = None,
) -> None:
    """Check every loader spec against the model; list the sources."""
    from ..loaders.spec import check_all

    m = model_of(settings_for(model))
    folder = _loaders_dir(loaders_dir)
    plans, diags = check_all(folder, m)
    for name, plan in sorted(plans.items()):
        personal = ", ".join(c.to for c in plan.personal_columns) or "–"
        out.print(
            f"  {name}: {plan.spec.kind} → {plan.cube.name} ({len(plan.columns)} columns, "
            f"personal: {personal}, max_reject_share {plan.spec.max_reject_share:g})",
            highlight=False,
        )
    if diags:
        err.print(diags.render(), markup=False, highlight=False, emoji=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print(f"[green]ok[/green] {folder}: {len(plans)} source(s)")


def register(app: typer.Typer) -> None:
    app.command("load")(load_cmd)
    app.command("loads")(loads_cmd)
    app.command("unload")(unload_cmd)
    app.command("rejects")(rejects_cmd)
    app.command("loaders")(loaders_cmd)
