"""The `labis` command: validate, compile, apply, demo, query, serve, check, backup, restore, openapi,
import-cubes, keys, key."""

from __future__ import annotations

import os
import signal
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import UserError
from ..settings import Settings
from .support import (
    DataDir,
    ModelDir,
    attached_members,
    engine_of,
    err,
    friendly,
    model_of,
    note_server,
    out,
    refuse_if_held,
    served_by,
    settings_for,
)

if TYPE_CHECKING:
    from ..model.definition import Model
    from ..service.tabular import TextQuery

STOP_FIRST = "stop the server first (Ctrl-C where it runs, or `kill {pid}`), {then}, then start it again"

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="LabIS OLAP: YAML cube models compiled into ClickHouse and answered from rollups.",
)


@app.command()
@friendly
def validate(model_dir: Annotated[Path | None, typer.Argument(help="Model folder")] = None) -> None:
    """Check a model; report every problem with file:line:col."""
    from ..model.dependencies import unusable_rollup_levels

    settings = settings_for(model_dir)
    m = model_of(settings)
    for cube in m.cubes.values():
        for w in unusable_rollup_levels(m, cube):
            err.print(f"[yellow]{escape(w.render())}[/yellow]", highlight=False, soft_wrap=True)
    out.print(
        f"[green]ok[/green] {settings.model_dir}: {len(m.dimensions)} dimensions, {len(m.cubes)} cubes, "
        f"{sum(len(c.rollups) for c in m.cubes.values())} rollups, {len(m.indicators)} indicators"
    )


@app.command("compile")
@friendly
def compile_cmd(
    model_dir: Annotated[Path | None, typer.Argument(help="Model folder")] = None,
    cluster: Annotated[str | None, typer.Option(help="Emit ON CLUSTER / Replicated / Distributed")] = None,
    database: Annotated[str, typer.Option(help="Target database")] = "labis",
) -> None:
    """Print the ClickHouse DDL the model compiles to."""
    from ..physical.cube_ddl import compile_model
    from ..physical.statement import render
    from ..physical.topology import Topology

    m = model_of(settings_for(model_dir))
    sys.stdout.write(render(compile_model(m, database, Topology(cluster))))


@app.command()
@friendly
def apply(model: ModelDir = None, data_dir: DataDir = None) -> None:
    """Make the engine match the model (idempotent; new rollups are back-filled). While
    `labis serve` holds the data directory, the server applies it and serves it at once."""
    from ..compiler.apply import apply_model

    settings = settings_for(model, data_dir)
    m = model_of(settings)  # checked here first: a broken model never reaches a running server
    if served_by(settings) is not None:
        # The server applies its own model folder between loads and serves the new model from
        # its next request on (api/routes/admin.py): no restart.
        from ..loaders.handoff import ask

        answer = ask(
            settings.data_dir,
            "/admin/apply",
            body={"model_dir": str(settings.model_dir.resolve())},
            on_server=note_server,
        )
        actions = [str(a) for a in answer["actions"]]
        for line in actions:
            out.print(f"  {line}", highlight=False)
        done = "up to date" if not actions else f"applied {len(actions)} change(s)"
        out.print(f"[green]{done}[/green]; the server serves model {answer['model_version']}")
        return
    refuse_if_held(settings, "labis apply", STOP_FIRST.replace("{then}", "apply"))
    engine = engine_of(settings)
    report = apply_model(m, engine, log=lambda line: out.print(f"  {line}", highlight=False))
    out.print(
        "[green]up to date[/green]"
        if not report.changed
        else f"[green]applied[/green] {len(report.actions)} change(s)"
    )
    if settings.clickhouse_url is not None:
        out.print(
            "  a `labis serve` on this ClickHouse server serves the new model after `kill -HUP <pid>`",
            highlight=False,
        )


@app.command()
@friendly
def drop(
    cube: Annotated[str, typer.Argument(help="The cube whose tables to drop")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Really drop: without it, only say what would go")
    ] = False,
    model: ModelDir = None,
    data_dir: DataDir = None,
) -> None:
    """Drop a cube's tables: its facts, rollups, their materialized views, staging tables of
    unfinished loads, and its batches' rows in the lineage (loads, rejects). Dimension tables
    (shared by cubes) and the pseudonym dictionaries stay; the model is not touched, so
    `labis apply` creates the cube again, empty."""
    from ..compiler.apply import drop_cube_tables, plan_drop
    from ..model.diagnostics import did_you_mean
    from ..physical.layout import CubeLayout

    settings = settings_for(model, data_dir)
    refuse_if_held(settings, "labis drop", STOP_FIRST.replace("{then}", f"drop {cube}"))
    m = model_of(settings)
    if cube not in m.cubes:
        raise UserError(f"the model has no cube '{cube}'", hint=did_you_mean(cube, m.cubes))
    engine = engine_of(settings)
    m = attached_members(m, engine)
    layout = CubeLayout(m, m.cubes[cube], engine.database)
    plan = plan_drop(engine, layout)
    if not plan.objects and not plan.batches:
        out.print(f"cube {cube} has no tables in {engine.database}: nothing to drop")
        return
    out.print(
        f"cube {cube}: {len(plan.objects)} table(s) and view(s), {plan.rows:,} fact row(s), "
        f"{plan.batches} batch(es) in the lineage",
        highlight=False,
    )
    for name in plan.objects:
        out.print(f"  {name}", highlight=False)
    if not yes:
        raise UserError(
            f"not dropped: `labis drop {cube}` deletes these for good",
            hint=f"run `labis drop {cube} --yes` to drop them",
        )
    drop_cube_tables(engine, layout)
    out.print(f"[green]dropped[/green] cube {cube}; `labis apply` creates it again, empty")


@app.command()
@friendly
def demo(
    rows: Annotated[int, typer.Option(help="Total fact rows across the cubes")] = 2_000_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data)")] = 42,
    model: ModelDir = None,
    data_dir: DataDir = None,
    query: Annotated[bool, typer.Option(help="Print a sample query afterwards")] = True,
    yes: Annotated[
        bool, typer.Option("--yes", help="Wipe loaded batches (and their lineage) if there are any")
    ] = False,
) -> None:
    """Generate realistic synthetic data for every cube and load it, replacing every cube's facts
    (refused, without --yes, when batches were loaded with `labis load`)."""
    from ..demo.generate import REALISTIC_TOTAL_ROWS as REALISTIC_ROWS
    from ..demo.load import load_demo
    from ..loaders.store import lineage_counts

    if not 1_000 <= rows <= 100_000_000:
        raise UserError("--rows must be between 1,000 and 100,000,000")
    settings = settings_for(model, data_dir)
    refuse_if_held(settings, "labis demo", STOP_FIRST.replace("{then}", "run `labis demo`"))
    m = model_of(settings)
    engine = engine_of(settings)
    # The demo empties the facts, rollups and lineage of every cube: loaded batches would be
    # gone, and lineage kept for them would describe facts no longer there.
    loaded = lineage_counts(engine)
    if loaded and not yes:
        counts = ", ".join(f"{n:,} {status}" for status, n in loaded.items())
        raise UserError(
            f"the database {settings.database} holds {sum(loaded.values()):,} batch(es) loaded with "
            f"`labis load` ({counts}); `labis demo` would replace their facts and lineage",
            hint="pass --yes to wipe them, or give the demo a database of its own (LABIS_DATABASE=demo)",
        )
    if loaded:
        out.print(f"wiping {sum(loaded.values()):,} loaded batch(es) and their lineage (--yes)")
    stats = load_demo(m, engine, rows, seed, out)
    out.print(
        f"[green]loaded[/green] {stats.rows:,} facts in {stats.seconds:.1f} s "
        f"({stats.rows / max(stats.seconds, 1e-9):,.0f} rows/s) with every rollup live"
    )
    if query:
        out.print(
            "\nRegistered unemployed at the end of 2024, by statistical region (as at each fact's date)"
            + (
                ""
                if rows >= REALISTIC_ROWS
                else f"; national level is realistic from --rows {REALISTIC_ROWS:,}"
            )
            + ":"
        )
        from ..service.tabular import TextQuery

        sample = TextQuery(
            "unemployment",
            ("registered_unemployed", "long_term_unemployed", "long_term_share"),
            cut="time:2024",
            drilldown="territory:region",
            lang="en",
        )
        _print_table(_query_table(m, engine, sample), explain=False)


def _query_table(m: Model, engine: Any, asked: TextQuery) -> dict[str, Any]:
    """The query's table made here, in this process (service/tabular.py), on the engine
    `engine_of` opened (this module names no engine type: the one-door contract)."""
    from ..compiler.members import attach_loaded_members
    from ..service import CubeService
    from ..service.tabular import table

    service = CubeService(attach_loaded_members(m, engine), engine)
    return table(service.aggregate(asked.cube_query(), asked.principal()))


def _print_table(t: dict[str, Any], explain: bool) -> None:
    """A query's table (service/tabular.py: made here or by a running server), as text."""
    table = Table(show_lines=False)
    labels, measures = t["labels"], t["measures"]
    for col in labels + measures:
        table.add_column(escape(col), justify="right" if col in measures else "left")
    for row in t["rows"]:
        table.add_row(*[escape(_fmt(v)) for v in row])
    if t["summary"] is not None:
        table.add_section()
        table.add_row(
            *(["total"] + [""] * (len(labels) - 1) if labels else []), *[_fmt(v) for v in t["summary"]]
        )
    out.print(table)
    shown, total = t["shown"], t["total"]
    cells = f"{shown:,} of {total:,} cells" if shown < total else f"{total:,} cell(s)"
    out.print(f"{cells} from [bold]{escape(t['source'])}[/bold] in {t['engine_ms']:.1f} ms")
    if explain:
        out.print(t["sql"], markup=False, highlight=False)
        out.print(t["params"], markup=False)


def _fmt(value: Any) -> str:
    """A cell as the table shows it; the same for a value from the engine and one that came back
    from a running server as JSON (a Decimal there is a number)."""
    if value is None:
        return "–"
    if isinstance(value, Decimal):
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


@app.command()
@friendly
def query(
    cube: Annotated[str, typer.Argument(help="Cube name")],
    measure: Annotated[list[str] | None, typer.Option("--measure", "-M", help="Measure (repeatable)")] = None,
    cut: Annotated[str, typer.Option(help="Cuts, e.g. 'time:2024|territory:LV005'")] = "",
    drilldown: Annotated[str, typer.Option(help="Drilldowns, e.g. 'territory:region|time:quarter'")] = "",
    order: Annotated[str | None, typer.Option(help="e.g. 'registered_unemployed:desc'")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many cells")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="'fact' (default), 'now', a date or a version")
    ] = None,
    lang: Annotated[str, typer.Option(help="Label language: lv or en")] = "lv",
    explain: Annotated[bool, typer.Option(help="Show the source chosen and the SQL")] = False,
    role: Annotated[
        list[str] | None,
        typer.Option(
            "--role",
            help="Answer as a holder of this role (repeatable), e.g. 'public': what the public sees, "
            "under disclosure control; default: as the operator, everything",
        ),
    ] = None,
    model: ModelDir = None,
    data_dir: DataDir = None,
) -> None:
    """Aggregate a cube and print a table (through `labis serve` while it holds the data)."""
    from ..service.tabular import TextQuery

    roles = tuple(role or ())
    asked = TextQuery(cube, tuple(measure or ()), cut, drilldown, order, limit, as_of, lang, roles)
    settings = settings_for(model, data_dir)
    if served_by(settings) is not None:
        from ..loaders.handoff import ask

        answer = ask(settings.data_dir, "/admin/query", body=asked.as_json(), on_server=note_server)
        _print_table(answer, explain)
        return
    m = model_of(settings)
    _print_table(_query_table(m, engine_of(settings), asked), explain)


@app.command()
@friendly
def mdx(
    statement: Annotated[str, typer.Argument(help="An MDX SELECT statement (docs/mdx.md)")],
    lang: Annotated[str, typer.Option(help="Caption language: lv or en")] = "lv",
    model: ModelDir = None,
    data_dir: DataDir = None,
) -> None:
    """Answer an MDX statement and print its grid (through `labis serve` while it holds the data)."""
    settings = settings_for(model, data_dir)
    if served_by(settings) is not None:
        from ..loaders.handoff import ask

        body = {"query": statement, "lang": lang}
        answer = ask(settings.data_dir, "/admin/mdx", body=body, on_server=note_server)
    else:
        from ..compiler.members import attach_loaded_members
        from ..mdx import execute
        from ..service import OPERATOR, CubeService

        engine = engine_of(settings)
        service = CubeService(attach_loaded_members(model_of(settings), engine), engine)
        result = execute(service, OPERATOR, statement, lang=lang)
        columns, rows = result.grid()
        answer = {
            "columns": columns,
            "rows": rows,
            "heads": result.heads,
            "explain": result.as_json()["explain"],
        }
    _print_grid(answer)


def _print_grid(answer: dict[str, Any]) -> None:
    """An MDX grid (made here or by a running server): header columns left, cells right."""
    rows, columns, heads = answer["rows"], answer["columns"], answer["heads"]
    table = Table(show_lines=False)
    for i, col in enumerate(columns):
        table.add_column(escape(str(col)), justify="left" if i < heads else "right")
    for row in rows:
        table.add_row(
            *[escape(v) if isinstance(v, str) and i < heads else escape(_fmt(v)) for i, v in enumerate(row)]
        )
    out.print(table)
    how = answer["explain"]
    out.print(f"{len(rows):,} row(s) from {how['aggregates']} aggregate(s) in {how['ms']:.1f} ms")


@app.command()
@friendly
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    threads: Annotated[int | None, typer.Option(help="Worker threads [env LABIS_THREADS; 8]")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes, with LABIS_CLICKHOUSE_URL only [env LABIS_WORKERS; 1]"),
    ] = None,
    model: ModelDir = None,
    data_dir: DataDir = None,
    access_log: Annotated[bool, typer.Option(help="Log every request (costs throughput)")] = False,
) -> None:
    """Serve the REST API (Slicer-compatible) with uvicorn.

    Embedded: one process, many threads (chDB opens a data directory in one process only).
    With LABIS_CLICKHOUSE_URL the server can run several worker processes (--workers), each
    with its own threads and connections."""
    import uvicorn

    from ..api import create_app
    from ..api.logs import log_config

    settings = settings_for(model, data_dir)
    updates: dict[str, Any] = {}
    if threads is not None:
        updates["threads"] = threads
    if workers is not None:
        updates["workers"] = workers
    settings = settings.model_copy(update=updates)
    if settings.workers > 1 and settings.clickhouse_url is None:
        raise UserError(
            "--workers needs a ClickHouse server (LABIS_CLICKHOUSE_URL): an embedded data directory "
            "is opened by one process only",
            hint="use --threads for more requests at once on the embedded engine",
        )
    logging_config = log_config(settings.log_json)
    run: dict[str, Any] = {"host": host, "port": port, "log_level": "info", "access_log": access_log}
    if logging_config is not None:
        run["log_config"] = logging_config
    if settings.clickhouse_url is not None and settings.workers > 1:
        # Each worker process builds its own app from the environment: the command line's
        # choices travel there. Nothing is announced: no data directory is held.
        _export(settings)
        out.print(
            f"LabIS API on http://{host}:{port} (model {settings.model_dir}, {settings.workers} workers "
            f"× {settings.threads} threads, ClickHouse server)"
        )
        err.print(_key_notice(settings), highlight=False, markup=False, soft_wrap=True)
        uvicorn.run("labis_olap.api:create_app", factory=True, workers=settings.workers, **run)
        return
    refuse_if_held(
        settings,
        "labis serve",
        "use it, or stop it first (`kill {pid}`); --data-dir serves another directory",
        served="{server} already serves the data directory {data_dir}",
    )
    from ..engine import holder

    holder.keep_private()  # the data directory's files: the owner's only
    application = create_app(settings)
    out.print(f"LabIS API on http://{host}:{port} (model {settings.model_dir}, {settings.threads} threads)")
    err.print(application.state.labis.authenticator.describe(), highlight=False, markup=False, soft_wrap=True)
    err.print(_key_notice(settings), highlight=False, markup=False, soft_wrap=True)
    if settings.clickhouse_url is not None:
        # `labis apply` runs on the ClickHouse server directly; SIGHUP then has this process
        # read its model folder again and serve it (with --workers, uvicorn restarts them).
        state = application.state.labis
        signal.signal(
            signal.SIGHUP,
            lambda *_: threading.Thread(target=state.reload_model, name="labis-reload", daemon=True).start(),
        )
        uvicorn.run(application, workers=1, **run)
        return
    # The embedded directory is this process's alone: say so in it, so that `labis load` can
    # hand batches over and other commands can say what holds it.
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    # uvicorn stops gracefully on SIGTERM and SIGINT, then raises the signal again with the
    # handler it found: SIGTERM's default would end the process before `finally` withdraws the
    # announcement. Both become an exception, so it is always removed.
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    holder.announce(settings.data_dir, f"http://{local}:{port}")
    try:
        uvicorn.run(application, workers=1, **run)
    except _Stopped as stopped:
        raise typer.Exit(128 + stopped.signum) from None
    finally:
        holder.withdraw(settings.data_dir)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _export(settings: Settings) -> None:
    """The settings the command line changed, as the environment worker processes read."""
    os.environ["LABIS_MODEL_DIR"] = str(settings.model_dir)
    os.environ["LABIS_DATA_DIR"] = str(settings.data_dir)
    os.environ["LABIS_THREADS"] = str(settings.threads)


def _key_notice(settings: Settings) -> str:
    """Which pseudonymisation key loads handed to this server will use (never the key)."""
    from ..privacy import find_key

    try:
        found = find_key(settings)
    except UserError as exc:
        return f"pseudonymisation key: unusable, loads of personal data will be refused: {exc.message}"
    if found is None:
        return (
            "pseudonymisation key: none; loads of personal data will be refused until one is set "
            "(`labis key create`)"
        )
    return f"pseudonymisation key: {found.origin} (fingerprint {found.key_id})"


class _Stopped(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, frame: Any) -> None:
    raise _Stopped(signum)


@app.command()
@friendly
def check(model: ModelDir = None, data_dir: DataDir = None) -> None:
    """Check the storage: damaged or detached parts, and every rollup against its facts (what
    `labis serve` checks at start). Exit 1 on any problem."""
    from ..engine.health import check_storage

    settings = settings_for(model, data_dir)
    if served_by(settings) is not None:  # the server holds the data: it runs the checks
        from ..loaders.handoff import ask

        answer = ask(settings.data_dir, "/admin/check", on_server=note_server)
        problems = [(p["table"], p["problem"]) for p in answer["problems"]]
        tables = int(answer["tables"])
    else:
        engine = engine_of(settings)
        m = attached_members(model_of(settings), engine)
        problems = [(p.table, p.problem) for p in check_storage(engine, m)]
        tables = sum(1 + len(c.rollups) for c in m.cubes.values())
    for table, problem in problems:
        err.print(f"[red]problem:[/red] {escape(table)}: {escape(problem)}", highlight=False, soft_wrap=True)
    if problems:
        err.print(
            "  hint: a broken rollup is not read by `labis serve` (its queries are answered from the "
            "facts); rebuild it with the next `labis load`, or restore the data directory",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    out.print(
        f"[green]ok[/green] {tables} tables checked: no damaged part, every rollup adds up to its facts"
    )


BackupTo = Annotated[
    str,
    typer.Argument(
        help="A folder (the embedded engine's machine, or the server's under its backups.allowed_path), "
        "or with --disk the backup's name on that disk"
    ),
]
Disk = Annotated[str | None, typer.Option(help="A backup disk the ClickHouse server's configuration names")]


def _backup_target(to: str, disk: str | None, settings: Settings, *, exists: bool) -> str:
    """The BACKUP/RESTORE target of the command line: a folder (absolute, as ClickHouse resolves
    a relative one against its own allowed path) or a name on a server's disk."""
    from ..physical.maintenance import backup_target

    if disk is not None:
        return backup_target(disk=disk, name=to)
    folder = Path(to).expanduser()
    if settings.clickhouse_url is None:
        folder = folder.resolve()
        if exists != folder.exists():
            raise UserError(
                f"{folder} {'does not exist' if exists else 'exists already'}",
                hint="a backup goes into a new folder; a restore reads one `labis backup` wrote",
            )
    return backup_target(path=str(folder))


@app.command()
@friendly
def backup(to: BackupTo, disk: Disk = None, model: ModelDir = None, data_dir: DataDir = None) -> None:
    """Back up the whole database with ClickHouse's BACKUP, with the totals a restore is checked by."""
    from ..engine.backup import backup as run_backup

    settings = settings_for(model, data_dir)
    refuse_if_held(settings, "labis backup", STOP_FIRST.replace("{then}", "back up"))
    target = _backup_target(to, disk, settings, exists=False)
    engine = engine_of(settings)
    m = attached_members(model_of(settings), engine)
    report = run_backup(engine, m, target)
    out.print(
        f"[green]backed up[/green] {settings.database} to {escape(target)} "
        f"({len(report.totals)} totals kept, backup {report.backup})",
        highlight=False,
    )


@app.command()
@friendly
def restore(
    to: BackupTo,
    disk: Disk = None,
    from_database: Annotated[
        str | None, typer.Option(help="The database the backup was taken of [the one restored into]")
    ] = None,
    model: ModelDir = None,
    data_dir: DataDir = None,
) -> None:
    """Restore a `labis backup` into an empty database and check it by the totals it kept."""
    from ..engine.backup import restore as run_restore

    settings = settings_for(model, data_dir)
    refuse_if_held(settings, "labis restore", STOP_FIRST.replace("{then}", "restore"))
    target = _backup_target(to, disk, settings, exists=True)
    engine = engine_of(settings)
    m = attached_members(model_of(settings), engine)
    report = run_restore(engine, m, target, source=from_database)
    for line in report.mismatches:
        err.print(f"[red]mismatch:[/red] {escape(line)}", highlight=False, soft_wrap=True)
    if report.mismatches:
        raise typer.Exit(1)
    out.print(
        f"[green]restored[/green] {settings.database} from {escape(target)}: "
        f"{len(report.totals)} totals equal the backup's ({report.backup})",
        highlight=False,
    )


def openapi_document() -> str:
    """The API's OpenAPI document as committed in api/openapi.json (no engine is opened)."""
    import json

    from ..api import create_app

    return json.dumps(create_app(Settings()).openapi(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


@app.command()
@friendly
def openapi(
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here (e.g. api/openapi.json) instead of stdout")
    ] = None,
) -> None:
    """Print (or write) the OpenAPI document of the REST API."""
    text = openapi_document()
    if out_file is None:
        sys.stdout.write(text)
    else:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(text, encoding="utf-8")
        out.print(f"[green]wrote[/green] {escape(str(out_file))}")


@app.command("import-cubes")
@friendly
def import_cubes_cmd(
    model_json: Annotated[Path, typer.Argument(help="A Cubes model.json")],
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="Folder for the import: model/, loaders/ (a spec per cube), data/"),
    ] = Path("imported"),
    data: Annotated[
        Path | None, typer.Option(help="The cube's denormalised data CSV (members and facts come from it)")
    ] = None,
    cube: Annotated[str | None, typer.Option(help="The cube the data is for (of several)")] = None,
    columns: Annotated[
        str | None, typer.Option(help="The data's Cubes column names in file order, comma-separated")
    ] = None,
    max_reject_share: Annotated[
        float, typer.Option(help="Share of rows (0-1) the loader spec lets be rejected; 0 refuses any")
    ] = 0.0,
    load: Annotated[
        bool, typer.Option(help="Apply the imported model and load the facts through the loaders")
    ] = False,
    database: Annotated[
        str, typer.Option(help="Database to load into (apply drops what another model put there)")
    ] = "cubes",
    data_dir: DataDir = None,
) -> None:
    """Translate a Cubes model (and its data) into a LabIS YAML model and a loader spec for its
    facts; optionally apply the model and load the facts as a batch (like `labis load`)."""
    from ..importers.cubes import ImportResult, import_cubes, load_facts

    if load and data is None:
        raise UserError("--load needs --data")
    if load:  # before anything is written
        refuse_if_held(
            settings_for(None, data_dir),
            "labis import-cubes --load",
            STOP_FIRST.replace("{then}", "import with --load")
            + "; or leave out --load: the import alone needs no data directory",
        )
    result = import_cubes(
        model_json,
        data=data,
        cube=cube,
        columns=[c.strip() for c in columns.split(",")] if columns else None,
        max_reject_share=max_reject_share,
    )
    for path in result.write(out_dir):
        out.print(f"  wrote {escape(str(path))}", highlight=False)
    for w in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(w)}", highlight=False, soft_wrap=True)
    model_dir = ImportResult.model_dir(out_dir)
    m = model_of(settings_for(model_dir))
    where = escape(str(model_dir))
    out.print(f"[green]ok[/green] {len(m.cubes)} cube(s), {len(m.dimensions)} dimension(s) in {where}")
    if load:
        from pydantic import ValidationError

        from ..compiler.apply import apply_model
        from .loads import print_report

        try:
            settings = Settings.model_validate(
                {**settings_for(model_dir, data_dir).model_dump(), "database": database}
            )
        except ValidationError:
            raise UserError(
                f"invalid database name {database!r}", hint="use lower-case letters, digits and '_'"
            ) from None
        engine = engine_of(settings)
        apply_model(m, engine)
        failed = 0
        for name, report in load_facts(result, out_dir, m, engine, console=out, apply=False).items():
            print_report(report)
            if report.status == "ok":
                out.print(f"[green]loaded[/green] {report.rows_accepted:,} facts into {name}")
            failed += report.status in ("failed", "rejected")
        if failed:
            raise typer.Exit(1)
    else:
        for name, facts in result.facts_files.items():
            specs = out_dir / Path(result.loader_specs[name]).parent
            command = f"labis load --model {model_dir} --loaders {specs} {name} {out_dir / facts}"
            out.print(f"  load the facts: {escape(command)}", highlight=False, soft_wrap=True)


@app.command("audit")
@friendly
def audit_cmd(
    data_dir: DataDir = None,
    last: Annotated[int, typer.Option(help="Show the last N records")] = 50,
    principal: Annotated[str | None, typer.Option(help="Only this principal's requests")] = None,
    cube: Annotated[str | None, typer.Option(help="Only requests of this cube")] = None,
    refused: Annotated[bool, typer.Option(help="Only refused requests (status 4xx)")] = False,
) -> None:
    """Show the server's audit log: who asked what, when, and what came back (never cut values)."""
    from collections import deque

    from ..service.audit import read

    settings = settings_for(data_dir=data_dir)
    path = settings.audit_path
    if not path.exists():
        raise UserError(f"no audit log at {path}", hint="the server writes it while it serves (LABIS_AUDIT)")
    records = deque(
        (
            r
            for r in read(path)
            if (principal is None or r.get("principal") == principal)
            and (cube is None or r.get("cube") == cube)
            and (not refused or r.get("status", 200) >= 400)
        ),
        maxlen=last,
    )
    table = Table(show_lines=False)
    for col in ("time", "principal", "roles", "op", "cube", "asked", "status", "rows", "source", "ms"):
        table.add_column(col, justify="right" if col in ("status", "rows", "ms") else "left")
    for r in records:
        asked = " ".join(
            [*r.get("measures", []), *(f"by {d}" for d in r.get("drilldown", [])),
             *(f"cut {d}" for d in r.get("cut_dimensions", []))]
        )  # fmt: skip
        table.add_row(
            escape(str(r.get("time", ""))),
            escape(str(r.get("principal", ""))),
            escape(",".join(r.get("roles", []))),
            escape(str(r.get("op", ""))),
            escape(str(r.get("cube", ""))),
            escape(asked),
            str(r.get("status", "")) + (f" {r['error']}" if r.get("error") else ""),
            str(r.get("rows", "")),
            escape(f"{r.get('source', '')} {r.get('cache', '')}".strip()),
            str(r.get("ms", "")),
        )
    out.print(table)
    out.print(f"{len(records)} record(s) from {path}")


def main() -> None:  # pragma: no cover - console entry point
    app()


# Loaders (`load`, `loads`, `unload`, `rejects`, `loaders`) live in labis_olap/cli/loads.py.
from .loads import register as _register_loaders  # noqa: E402

_register_loaders(app)

# API keys (`keys create`, `keys list`, `keys revoke`) live in labis_olap/cli/keys.py.
from .keys import register as _register_keys  # noqa: E402

_register_keys(app)

# The pseudonymisation key (`key create`) lives in labis_olap/cli/pseudonym_key.py.
from .pseudonym_key import register as _register_key  # noqa: E402

_register_key(app)
