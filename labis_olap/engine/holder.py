"""Who holds an embedded data directory: the announcement a running `labis serve` leaves in it,
and the lock ClickHouse itself takes.

chDB lets one process open a directory; a second one only learns that it is locked (and chDB
prints a raw `Code: 76 … Cannot lock file` line on its way). So before opening a directory the
engine asks `held_by`: ClickHouse holds an `flock` on the directory's `status` file and writes
its pid into it, which says whether another process holds the directory and which one. The
server also writes `serve.json` (pid, URL) and `admin.token` (a fresh random token, readable by
its owner only) when it starts, so that other commands can say what holds the directory and
`labis load` (and `loads`, `rejects`, `query`, `check`) can hand their work to the server
(labis_olap/loaders/handoff.py).

The announcement is removed when the server stops (SIGTERM and SIGINT included: `labis serve`
turns both into a normal exit). One left behind by a killed server names a dead pid, or a pid
that does not hold the directory's lock (reused by another program), and is ignored; and
before a command sends anything it asks the announced URL to prove it knows the token
(`proof`: an HMAC of a fresh nonce, the token itself never travels), so a process that took
the old port over gets nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

SERVE_FILE = "serve.json"
TOKEN_FILE = "admin.token"
STATUS_FILE = "status"
"""ClickHouse's lock file in a data directory: `flock`-ed while a process has it open, with
`PID: n` in it (written by the holder once it has the lock)."""


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


def _announced(data_dir: Path) -> RunningServer | None:
    """The server `serve.json` names, if its process is alive."""
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


def running_server(data_dir: Path) -> RunningServer | None:
    """The server announced in `data_dir`, if it is alive and holds the directory. A stale
    announcement is ignored: its pid is dead, or the directory's lock is free or held by another
    process (the pid was reused). This process's own announcement is taken as it is."""
    server = _announced(data_dir)
    if server is None or server.pid == os.getpid():
        return server
    locked, pid = lock_state(data_dir)
    if locked is False or (locked and pid is not None and pid != server.pid):
        return None
    return server


def lock_state(data_dir: Path) -> tuple[bool | None, int | None]:
    """Whether a process holds the directory's ClickHouse lock (None: cannot tell) and its pid
    (from the status file; None if unknown). Probes with a non-blocking `flock`, released at once;
    it never creates the file. A lock this process holds (its own engine) reads as locked, with
    this process's pid."""
    path = data_dir / STATUS_FILE
    try:
        import fcntl
    except ImportError:  # not POSIX: chDB's own error will have to say it
        return None, None
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False, None  # never opened by ClickHouse
    except OSError:
        return None, None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return None, None
            return True, _status_pid(path)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False, None
    finally:
        os.close(fd)


def _status_pid(path: Path) -> int | None:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        found = re.search(r"^PID:\s*(\d+)", path.read_text(encoding="utf-8"), re.MULTILINE)
        if found:
            return int(found.group(1))
    return None


@dataclass(frozen=True)
class Holder:
    """Another process that holds an embedded data directory."""

    pid: int | None
    """None when the lock is held but the status file names no pid yet (a process starting)."""
    command: str | None
    """Its command line (from /proc), when it can be read."""
    server: RunningServer | None
    """The `labis serve` announced in the directory, when that is the holder."""

    def describe(self) -> str:
        """Who it is, in a few words: `labis serve` (pid 12, http://…) or pid 34 (python …)."""
        if self.server is not None:
            return f"`labis serve` (pid {self.server.pid}, {self.server.url})"
        if self.pid is None:
            return "another process"
        return f"another process (pid {self.pid}" + (f": {self.command})" if self.command else ")")


def held_by(data_dir: Path) -> Holder | None:
    """The other process that holds `data_dir` now, or None (free, held by this process, or no
    way to tell: then opening it says what went wrong)."""
    locked, pid = lock_state(data_dir)
    if not locked or pid == os.getpid():
        return None
    announced = _announced(data_dir)
    server = announced if announced is not None and pid in (None, announced.pid) else None
    return Holder(pid, _command_line(pid) if pid is not None else None, server)


def _command_line(pid: int) -> str | None:
    with contextlib.suppress(OSError):
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        text = " ".join(raw.replace(b"\0", b" ").decode(errors="replace").split())
        return text[:200] or None
    return None


class DataDirHeld(UserError):
    """Another process holds the embedded data directory this one needs."""

    error_type = "data_dir_held"
    status = 409

    def __init__(self, message: str, *, hint: str | None = None, holder: Holder) -> None:
        super().__init__(message, hint=hint)
        self.holder = holder


def refuse_if_held(data_dir: Path) -> None:
    """Raise `DataDirHeld` (one sentence: who holds it, what to do) if another process holds
    `data_dir`; opening it would only fail with the engine's lock message."""
    holder = held_by(data_dir)
    if holder is None:
        return
    if holder.server is not None:
        hint = (
            "stop the server first, or let it do the work: `labis load`, `unload`, `loads`, "
            "`rejects`, `query` and `check` go through it"
        )
    else:
        hint = "wait for it to finish or stop it: one process at a time can open an embedded data directory"
    raise DataDirHeld(f"{holder.describe()} holds the data directory {data_dir}", hint=hint, holder=holder)
