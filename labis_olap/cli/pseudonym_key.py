"""`labis key create [PATH]`: the pseudonymisation key (labis_olap/privacy.py, docs/security.md).

Without PATH the key goes where every command looks when no variable names one (the file
LABIS_PSEUDONYM_KEY_FILE names, else `~/.config/labis/pseudonym.key`), so that after one
`labis key create` both `labis load` and `labis serve` find it with nothing to set. Not to be
confused with `labis keys` (API keys, labis_olap/cli/keys.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..privacy import KEY_ENV, KEY_FILE_ENV, create_key_file, default_key_path
from ..settings import Settings
from .support import err, friendly, out

key_app = typer.Typer(
    no_args_is_help=True,
    help="The pseudonymisation key that person and household identifiers are hashed with: create.",
)


@key_app.command("create")
@friendly
def create(
    path: Annotated[
        Path | None,
        typer.Argument(
            help=f"Where to write it [env {KEY_FILE_ENV}; $XDG_CONFIG_HOME or ~/.config: labis/pseudonym.key]"
        ),
    ] = None,
) -> None:
    """Make a random key (32 bytes, one hex line) in a new file readable by its owner only;
    an existing file is never overwritten."""
    settings = Settings()
    found_there = settings.pseudonym_key_file or default_key_path()
    target = (path or found_there).expanduser().absolute()
    made = create_key_file(target)
    out.print(
        f"[green]created[/green] pseudonymisation key {escape(str(target))} "
        f"(fingerprint {made.key_id}, mode 0600)",
        highlight=False,
        soft_wrap=True,
    )
    if target == found_there.expanduser().absolute():
        out.print(
            "  `labis load` and `labis serve` of this user find it there: nothing to set",
            highlight=False,
        )
    else:
        out.print(
            f"  use it in `labis load` and `labis serve` alike: export {KEY_FILE_ENV}={escape(str(target))}",
            highlight=False,
            soft_wrap=True,
        )
    if settings.pseudonym_key is not None:
        err.print(f"  note: {KEY_ENV} is set and wins over any key file; unset it to use this one")
    out.print(
        "  back it up apart from the data directory: without this key new loads no longer match "
        "the pseudonyms already stored, and with it, and the data, codes can be re-identified",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(key_app, name="key")
