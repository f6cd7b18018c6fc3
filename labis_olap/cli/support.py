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


def engine_of(settings: Settings) -> Engine:
    """The engine the settings name (a ClickHouse URL, else embedded chDB in the data folder)."""
    from ..engine.holder import keep_private
    from ..engine.open import open_engine

    keep_private()  # what the engine writes in the data directory is its owner's only
    return open_engine(settings)
