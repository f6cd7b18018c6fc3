"""What every `labis` command shares: the consoles, the error display (`friendly`), the settings
with the command line's overrides, the model and the engine they name, and the common options.

labis_olap/cli/__init__.py (the main commands) and labis_olap/cli/loads.py (the loaders' commands)
both import from here, and neither imports the other's helpers.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import EngineError, ModelError, UserError
from ..settings import Settings

if TYPE_CHECKING:
    from ..engine.base import Engine
    from ..engine.holder import RunningServer
    from ..model.definition import Model

# Tables are wide: when output is not a terminal rich would wrap them at 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

ModelDir = Annotated[
    Path | None, typer.Option("--model", "-m", help="Model folder [env LABIS_MODEL_DIR; ./model]")
]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Embedded data folder [env LABIS_DATA_DIR]")]


def friendly(fn: F) -> F:
    """User errors become a message and exit code 1, and so do engine errors (an InternalError,
    not a UserError, but its message names what failed); bugs a short notice (traceback with
    LABIS_DEBUG=1)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ModelError as exc:
            # soft_wrap: never break `file:line:col` or a source line under its caret (rich
            # wraps at 80 columns when the output is not a terminal).
            err.print(exc.rendered, markup=False, highlight=False, emoji=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except (UserError, EngineError) as exc:
            # It may echo what the user typed: escaped, that is never read as markup.
            message = escape(exc.message)
            err.print(f"[red]error:[/red] {message}", highlight=False, emoji=False, soft_wrap=True)
            if exc.hint:
                err.print(f"  hint: {escape(exc.hint)}", highlight=False, emoji=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            # Read here, not through Settings: the failure may be the settings' own validation.
            if os.environ.get("LABIS_DEBUG"):
                raise
            err.print(f"[red]internal error:[/red] {type(exc).__name__}; run with LABIS_DEBUG=1 for details")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def settings_for(model: Path | None = None, data_dir: Path | None = None) -> Settings:
    """The settings (LABIS_* variables), with the command line's --model and --data-dir."""
    s = Settings()
    updates: dict[str, Any] = {}
    if model is not None:
        updates["model_dir"] = model
    if data_dir is not None:
        updates["data_dir"] = data_dir
    return s.model_copy(update=updates)


def model_of(settings: Settings) -> Model:
    """The validated model in the settings' model folder."""
    from ..model.reader import read_model

    return read_model(settings.model_dir)


def attached_members(model: Model, engine: Engine) -> Model:
    """The model with the members loaded into the engine (compiler/members.py): what names a
    loaded dimension's tables and the rollups over it."""
    from ..compiler.members import attach_loaded_members

    return attach_loaded_members(model, engine)


def engine_of(settings: Settings) -> Engine:
    """The engine the settings name (a ClickHouse URL, else embedded chDB in the data folder)."""
    from ..engine.holder import keep_private
    from ..engine.open import open_engine

    keep_private()  # what the engine writes in the data directory is its owner's only
    return open_engine(settings)


def served_by(settings: Settings) -> RunningServer | None:
    """The `labis serve` that holds the settings' embedded data directory, if one does (a
    command that reads it then asks the server instead: loaders/handoff.py)."""
    if settings.clickhouse_url is not None:
        return None
    from ..engine.holder import running_server

    return running_server(settings.data_dir)


def note_server(server: RunningServer) -> None:
    """Say that a running server answers (on stderr: the output stays what the command prints)."""
    err.print(
        f"`labis serve` (pid {server.pid}) holds the data: asking it at {server.url}",
        style="dim",
        highlight=False,
        soft_wrap=True,
    )


def refuse_if_held(settings: Settings, command: str, stop: str, served: str | None = None) -> None:
    """Stop a command that cannot go through a running server before it does anything, with
    one sentence on what holds the data directory; `stop` says what to do about a server
    (`{pid}` in it becomes the server's pid), `served` is the sentence then if not the usual
    one (`{server}` and `{data_dir}` in it filled in)."""
    if settings.clickhouse_url is not None:
        return
    from ..engine.holder import DataDirHeld, held_by

    data_dir = settings.data_dir
    holder = held_by(data_dir)
    if holder is None:
        return
    if holder.server is not None:
        sentence = served or "`{command}` cannot run while {server} holds the data directory {data_dir}"
        raise DataDirHeld(
            sentence.format(command=command, server=holder.describe(), data_dir=data_dir),
            hint=stop.format(pid=holder.server.pid),
            holder=holder,
        )
    raise DataDirHeld(
        f"`{command}` cannot open the data directory {data_dir}: {holder.describe()} holds it",
        hint="wait for it to finish or stop it: one process at a time can open an embedded data directory",
        holder=holder,
    )
