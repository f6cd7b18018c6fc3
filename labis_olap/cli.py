"""The `labis` command: validate, compile, apply, demo, query."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import ModelError, UserError
from .settings import Settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="LabIS OLAP: YAML cube models compiled into ClickHouse and answered from rollups.",
)
# Tables are wide: when output is not a terminal rich would wrap them at 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

ModelDir = Annotated[
    Path | None, typer.Option("--model", "-m", help="Model folder [env LABIS_MODEL_DIR; ./model]")
]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Embedded data folder [env LABIS_DATA_DIR]")]


def friendly(fn: F) -> F:
    """User errors become a message and exit code 1; bugs a short notice (traceback with LABIS_DEBUG=1)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ModelError as exc:
            # soft_wrap: never break `file:line:col` or a source line under its caret (rich
            # wraps at 80 columns when the output is not a terminal).
            err.print(exc.rendered, markup=False, highlight=False, emoji=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except UserError as exc:
            # It may echo what the user typed: escaped, that is never read as markup.
            message = escape(exc.message)
            err.print(f"[red]error:[/red] {message}", highlight=False, emoji=False, soft_wrap=True)
            if exc.hint:
                err.print(f"  hint: {escape(exc.hint)}", highlight=False, emoji=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if os.environ.get("LABIS_DEBUG"):
                raise
            err.print(f"[red]internal error:[/red] {type(exc).__name__}; run with LABIS_DEBUG=1 for details")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _settings(model: Path | None = None, data_dir: Path | None = None) -> Settings:
    s = Settings()
    updates: dict[str, Any] = {}
    if model is not None:
        updates["model_dir"] = model
    if data_dir is not None:
        updates["data_dir"] = data_dir
    return s.model_copy(update=updates)


def _load(settings: Settings) -> Any:
    from .model.loader import load_model

    return load_model(settings.model_dir)


@app.command()
@friendly
def validate(model_dir: Annotated[Path | None, typer.Argument(help="Model folder")] = None) -> None:
    """Check a model; report every problem with file:line:col."""
    settings = _settings(model_dir)
    m = _load(settings)
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
    from .compiler.ddl import compile_model

    m = _load(_settings(model_dir))
    for st in compile_model(m, database, cluster):
        sys.stdout.write(f"-- {st.owner}\n{st.sql};\n\n")


def _engine(settings: Settings) -> Any:
    from .engine import open_engine

    return open_engine(settings)


@app.command()
@friendly
def apply(model: ModelDir = None, data_dir: DataDir = None) -> None:
    """Make the engine match the model (idempotent; new rollups are back-filled)."""
    from .compiler.apply import apply_model

    settings = _settings(model, data_dir)
    m = _load(settings)
    engine = _engine(settings)
    report = apply_model(m, engine, log=lambda line: out.print(f"  {line}", highlight=False))
    out.print(
        "[green]up to date[/green]"
        if not report.changed
        else f"[green]applied[/green] {len(report.actions)} change(s)"
    )


@app.command()
@friendly
def demo(
    rows: Annotated[int, typer.Option(help="Total fact rows across the cubes")] = 2_000_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data)")] = 42,
    model: ModelDir = None,
    data_dir: DataDir = None,
    query: Annotated[bool, typer.Option(help="Print a sample query afterwards")] = True,
) -> None:
    """Generate realistic synthetic data for every cube and load it (replacing earlier demo data)."""
    from .demo.generate import REALISTIC_TOTAL_ROWS as REALISTIC_ROWS
    from .demo.load import load_demo

    if not 1_000 <= rows <= 100_000_000:
        raise UserError("--rows must be between 1,000 and 100,000,000")
    settings = _settings(model, data_dir)
    m = _load(settings)
    engine = _engine(settings)
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
        _print_query(
            m,
            engine,
            "unemployment",
            ["registered_unemployed", "long_term_unemployed", "long_term_share"],
            "time:2024",
            "territory:region",
            None,
            None,
            None,
            False,
            "en",
        )


def _print_query(
    m: Any,
    engine: Any,
    cube: str,
    measures: list[str],
    cut: str,
    drilldown: str,
    order: str | None,
    limit: int | None,
    as_of: str | None,
    explain: bool,
    lang: str,
) -> None:
    from .query.browser import Browser
    from .query.cell import CubeQuery
    from .query.cuts import parse_cuts, parse_drilldowns, parse_order

    browser = Browser(m, engine)
    q = CubeQuery(
        cube,
        tuple(measures),
        parse_cuts(cut),
        parse_drilldowns(drilldown),
        parse_order(order),
        0 if limit else None,
        limit,
        as_of,
        lang,
    )
    result = browser.aggregate(q)
    table = Table(show_lines=False)
    label_cols = [a for a in result.attributes if a.endswith("_label")]
    for col in label_cols + result.measures:
        table.add_column(col, justify="right" if col in result.measures else "left")
    for row in result.cells.to_pylist():
        table.add_row(*[_fmt(row.get(c)) for c in label_cols + result.measures])
    if result.summary is not None and result.levels:
        table.add_section()
        table.add_row(
            *(["total"] + [""] * (len(label_cols) - 1) if label_cols else []),
            *[_fmt(result.summary.get(c)) for c in result.measures],
        )
    out.print(table)
    out.print(
        f"{result.total_cell_count} cell(s) from [bold]{result.source}[/bold] in {result.engine_ms:.1f} ms"
    )
    if explain:
        out.print(result.sql, markup=False, highlight=False)
        out.print(result.params, markup=False)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
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
    model: ModelDir = None,
    data_dir: DataDir = None,
) -> None:
    """Aggregate a cube and print a table."""
    settings = _settings(model, data_dir)
    m = _load(settings)
    _print_query(
        m, _engine(settings), cube, measure or [], cut, drilldown, order, limit, as_of, explain, lang
    )


def main() -> None:  # pragma: no cover - console entry point
    app()
