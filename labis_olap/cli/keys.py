"""`labis keys create|list|revoke`: API keys for programs and Excel (labis_olap/security/keys.py).

The key is printed once, on stdout alone (so `KEY=$(labis keys create …)` works); only its hash
is kept, in the keys file of the data directory (LABIS_API_KEYS_FILE to put it elsewhere).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import UserError
from ..security import ApiKeys
from .support import DataDir, err, friendly, out, settings_for

keys_app = typer.Typer(
    no_args_is_help=True,
    help="API keys (Bearer, X-API-Key or the HTTP Basic password): create, list, revoke.",
)


def _store(data_dir: Path | None) -> ApiKeys:
    return ApiKeys(settings_for(None, data_dir).keys_path())


@keys_app.command("create")
@friendly
def create(
    name: Annotated[str, typer.Argument(help="Who or what the key is for, e.g. excel-nva")],
    role: Annotated[list[str], typer.Option("--role", "-r", help="A role the key holds (repeatable)")],
    claim: Annotated[
        list[str] | None, typer.Option("--claim", help="A claim row filters bind to, k=v (repeatable)")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Make a key and print it once; only its SHA-256 is stored."""
    claims = []
    for c in claim or []:
        k, eq, v = c.partition("=")
        if not eq or not k.strip():
            raise UserError(f"bad --claim {c!r}", hint="write it as name=value, e.g. institution=NVA")
        claims.append((k.strip(), v.strip()))
    store = _store(data_dir)
    entry, key = store.create(name, role, claims)
    print(key)
    err.print(
        f"[green]created[/green] API key {entry.id} ({escape(entry.name)}) with roles "
        f"{escape(', '.join(entry.roles))} in {escape(str(store.path))}; it is shown only now",
        highlight=False,
        soft_wrap=True,
    )


@keys_app.command("list")
@friendly
def list_keys(data_dir: DataDir = None) -> None:
    """Every key: id, name, roles, claims, when created and revoked (never a secret)."""
    store = _store(data_dir)
    keys = store.all()
    if not keys:
        out.print(f"no API keys in {escape(str(store.path))}", highlight=False)
        return
    table = Table("id", "name", "roles", "claims", "created", "revoked")
    for k in keys:
        claims = ", ".join(f"{n}={v}" for n, v in k.claims)
        table.add_row(
            k.id, escape(k.name), escape(", ".join(k.roles)), escape(claims), k.created, k.revoked or ""
        )
    out.print(table)


@keys_app.command("revoke")
@friendly
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (`labis keys list`)", metavar="ID")],
    data_dir: DataDir = None,
) -> None:
    """Revoke a key: refused from the server's next request on (the record stays, marked)."""
    entry = _store(data_dir).revoke(key_id)
    out.print(f"[green]revoked[/green] API key {entry.id} ({escape(entry.name)}) at {entry.revoked}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
