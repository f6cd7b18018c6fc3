"""Who holds an embedded data directory: the announcement a running `labis serve` leaves in it.

chDB lets one process open a directory; a second one only learns that it is locked. The server
writes `serve.json` (pid, URL) and `admin.token` (a fresh random token, readable by its owner
only) when it starts, so that other commands can say what holds the directory and `labis load`
can hand its batches to the server (labis_olap/loaders/handoff.py).

The announcement is removed when the server stops (SIGTERM and SIGINT included: `labis serve`
turns both into a normal exit). One left behind by a killed server names a dead pid and is
ignored; and before `labis load` sends anything it asks the announced URL to prove it knows the
token (`proof`: an HMAC of a fresh nonce, the token itself never travels), so a process that
took the old port over gets nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SERVE_FILE = "serve.json"
TOKEN_FILE = "admin.token"


@dataclass(frozen=True)
class RunningServer:
    pid: int
    url: str
    started: str = ""
    """When it started (UTC, ISO 8601 to the second): with the pid, which server a message means."""


def announce(data_dir: Path, url: str) -> str:
    """Write the announcement of this process's server; returns the admin token."""
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    token_path = data_dir / TOKEN_FILE
    token_path.unlink(missing_ok=True)
    fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token)
    serve_path = data_dir / SERVE_FILE
    serve_path.unlink(missing_ok=True)
    fd = os.open(serve_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        fh.write(json.dumps({"pid": os.getpid(), "url": url, "started": started}))
    return token


def proof(token: str, nonce: str) -> str:
    """The answer to a hand-off's challenge: HMAC-SHA256 of the nonce under the admin token."""
    return hmac.new(token.encode(), nonce.encode(), hashlib.sha256).hexdigest()


PRIVATE_UMASK = 0o077
"""What a data directory's files are created with: readable by their owner only (the facts and
`persons` hold personal data)."""


def keep_private() -> None:
    """Every file and folder this process creates from now on is its owner's only."""
    os.umask(PRIVATE_UMASK)


def withdraw(data_dir: Path) -> None:
    """Remove this process's announcement (not another server's)."""
    server = running_server(data_dir)
    if server is not None and server.pid == os.getpid():
        for name in (SERVE_FILE, TOKEN_FILE):
            (data_dir / name).unlink(missing_ok=True)


def running_server(data_dir: Path) -> RunningServer | None:
    """The server announced in `data_dir`, if its process is alive (a stale file is ignored)."""
    try:
        note = json.loads((data_dir / SERVE_FILE).read_text())
        server = RunningServer(int(note["pid"]), str(note["url"]), str(note.get("started", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(server.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        pass
    return server


def locked_hint(data_dir: Path) -> str:
    """What holds a locked data directory and what to do, for the engine's message."""
    server = running_server(data_dir)
    if server is None:
        return "another process holds it (a `labis` command or a Python program using chDB); wait or stop it"
    return (
        f"`labis serve` holds it (pid {server.pid}, {server.url}): ask its API, or stop it; "
        "`labis load` hands batches to it"
    )
