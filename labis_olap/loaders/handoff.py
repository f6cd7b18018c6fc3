"""Loading while serving: `labis load` hands its batches to the running `labis serve` (and
`labis unload`, `loads`, `rejects`, `query` and `check` ask it for what they would read).

chDB opens a data directory in one process only, so while the server runs no other process can
load into it. The server therefore announces itself in the data directory (engine/holder.py:
its pid, URL and a fresh admin token readable by its owner only) and takes batches on
`POST /admin/load/{source}`. `labis load` finds the announcement, sends each file's bytes with
the token and prints the report the server sends back; the load runs in the server through
the same pipeline as a direct one (same batch id, checks, lineage) while queries keep answering.
The token file is the authentication: whoever can read it could also have opened the directory.

Before the token or a byte of data is sent, the announced server must prove it is the one that
wrote the announcement: its pid must be alive, and it must answer a fresh random nonce with
the HMAC of it under the token (`POST /admin/challenge`). A stale `serve.json` whose port some
other process now listens on is refused, and nothing is sent to it.

The server pseudonymises what it loads, with its own key from its own settings — the same
source `labis load` reads (labis_olap/privacy.py: `find_key`). So before the first file is
sent, `labis load` asks the server (`POST /admin/preflight/{source}`) whether the spec has
personal columns and which key the server holds (its fingerprint only), and stops with a
sentence that names the server (pid, start time) when the server has no key, or another one
than the command's own: pseudonyms made under two keys would never match.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..engine.holder import TOKEN_FILE, RunningServer, proof, running_server
from ..errors import UserError
from ..privacy import KEY_FILE_ENV, KeySource, default_key_path
from .run import LoadReport


def _server(data_dir: Path) -> tuple[RunningServer, str]:
    server = running_server(data_dir)
    if server is None:
        raise UserError(f"no running `labis serve` found in {data_dir}")
    try:
        token = (data_dir / TOKEN_FILE).read_text().strip()
    except OSError as exc:
        raise UserError(
            f"cannot read the server's admin token {data_dir / TOKEN_FILE}: {exc.strerror}",
            hint="run this command as the user who runs `labis serve`",
        ) from None
    _verify(server, token)
    return server, token


CHALLENGE_TIMEOUT = 30.0


def _verify(server: RunningServer, token: str) -> None:
    """Refuse (having sent neither the token nor any data) unless the server at the announced
    URL answers a fresh nonce with its HMAC under the token."""
    nonce = secrets.token_hex(32)
    url = f"{server.url}/admin/challenge?{urllib.parse.urlencode({'nonce': nonce})}"
    request = urllib.request.Request(url, data=b"", method="POST")
    refused = UserError(
        f"the server at {server.url} did not prove it is the `labis serve` (pid {server.pid}) that "
        "announced itself in the data directory: nothing was sent to it",
        hint="another process may have taken the port of a server that stopped; stop it, or remove "
        "serve.json and admin.token if no `labis serve` holds the directory",
    )
    try:
        with urllib.request.urlopen(request, timeout=CHALLENGE_TIMEOUT) as response:
            answer = json.loads(response.read(4096))
    except urllib.error.HTTPError:
        raise refused from None
    except (urllib.error.URLError, OSError) as exc:
        raise UserError(
            f"cannot reach `labis serve` at {server.url} (pid {server.pid}): {exc}",
            hint="is it still starting? try again, or stop it and load directly",
        ) from None
    except ValueError:
        raise refused from None
    given = answer.get("proof") if isinstance(answer, dict) else None
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), proof(token, nonce).encode()):
        raise refused


def hand_off_unload(data_dir: Path, batch: str, timeout: float = 24 * 3600) -> dict[str, Any]:
    """Unload a batch through the running server; its answer: batch, cube, file_name,
    rows_accepted, rollups (rebuilt)."""
    server, token = _server(data_dir)
    url = f"{server.url}/admin/unload/{urllib.parse.quote(batch, safe='')}"
    request = urllib.request.Request(
        url, data=b"", headers={"Authorization": f"Bearer {token}"}, method="POST"
    )
    return _send(request, timeout, server, refused="the unload")


def ask(
    data_dir: Path,
    path: str,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    timeout: float = 3600,
    on_server: Callable[[RunningServer], None] | None = None,
) -> dict[str, Any]:
    """One admin request to the running server (a GET, or a POST of `body` as JSON) once it has
    proved itself (then `on_server` is told which it is); its JSON answer."""
    server, token = _server(data_dir)
    if on_server is not None:
        on_server(server)
    query = {k: v for k, v in (params or {}).items() if v is not None}
    url = f"{server.url}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(
        url, data=data, headers=headers, method="GET" if body is None else "POST"
    )
    return _send(request, timeout, server, refused=None)


def _preflight(server: RunningServer, token: str, source: str, key: KeySource | None) -> None:
    """Refuse, before any file is sent, a load the server could not pseudonymise as this command
    would: the server has no key (or cannot read it), or holds another one than `key`."""
    url = f"{server.url}/admin/preflight/{urllib.parse.quote(source, safe='')}"
    request = urllib.request.Request(
        url, data=b"", headers={"Authorization": f"Bearer {token}"}, method="POST"
    )
    answer = _send(request, CHALLENGE_TIMEOUT, server)
    if not answer.get("personal"):
        return
    who = (
        f"the running server (pid {server.pid}"
        + (f", started {server.started}" if server.started else "")
        + ")"
    )
    key_file = key.path if key is not None and key.path is not None else default_key_path()
    if answer.get("key_id") is None:
        problem = answer.get("key_problem")
        raise UserError(
            (
                f"{who} cannot use its pseudonymisation key: {problem}"
                if problem
                else f"{who} has no pseudonymisation key"
            )
            + f": restart it with {KEY_FILE_ENV}={key_file} or create one with `labis key create`",
            hint="the server pseudonymises what it loads, with its own key; a key file at the default "
            f"place of the server's user ({default_key_path()} for this user) is found at the next load "
            "without a restart",
        )
    if key is not None and answer["key_id"] != key.key_id:
        raise UserError(
            f"{who} pseudonymises with another key (fingerprint {answer['key_id']}) than this command's "
            f"(fingerprint {key.key_id}, from {key.origin}): nothing was sent",
            hint="pseudonyms made under different keys never match; restart the server with "
            f"{KEY_FILE_ENV}={key_file}, or unset this command's key to load with the server's",
        )


def hand_off(
    data_dir: Path,
    source: str,
    files: list[Path],
    key: KeySource | None = None,
    timeout: float = 24 * 3600,
) -> list[LoadReport]:
    """Load through the running server: one request per file (one with no body for a sql or
    http source). The server pseudonymises with its own key; `key`, this command's own if it
    has one, must be the same (checked before anything is sent, and again by the server with
    each file). Reports come back as the server made them."""
    server, token = _server(data_dir)
    _preflight(server, token, source, key)
    reports: list[LoadReport] = []
    paths: list[Path | None] = [*files] if files else [None]
    for path in paths:
        query = {"file_name": path.name} if path is not None else {}
        if key is not None:
            query["key_id"] = key.key_id
        url = f"{server.url}/admin/load/{urllib.parse.quote(source, safe='')}?{urllib.parse.urlencode(query)}"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}
        with contextlib.ExitStack() as stack:
            body: Any = b""
            if path is not None:
                try:
                    body = stack.enter_context(path.open("rb"))
                except OSError as exc:
                    raise UserError(f"{path}: cannot read the file: {exc.strerror}") from None
                headers["Content-Length"] = str(path.stat().st_size)
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            reports.append(_report(_send(request, timeout, server)))
    return reports


def _send(
    request: urllib.request.Request, timeout: float, server: RunningServer, refused: str | None = "the load"
) -> dict[str, Any]:
    """The server's JSON answer; its error as a user error (`refused`: what it refused, said
    before its message; None: its message is the command's own, as if it had run here)."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer: dict[str, Any] = json.load(response)
            return answer
    except urllib.error.HTTPError as exc:
        try:
            error = json.load(exc)
        except ValueError:
            error = {"message": f"HTTP {exc.code}"}
        message = str(error.get("message"))
        if refused is not None:
            message = f"the server at {server.url} refused {refused}: {message}"
        raise UserError(message, hint=error.get("hint")) from None
    except (urllib.error.URLError, OSError) as exc:
        raise UserError(
            f"cannot reach `labis serve` at {server.url} (pid {server.pid}): {exc}",
            hint="is it still starting? try again, or stop it and run the command again",
        ) from None


def report_json(report: LoadReport) -> dict[str, Any]:
    """A report as the admin route answers it (rejected values are already masked)."""
    return {
        "source": report.source,
        "file": report.file,
        "batch": report.batch,
        "status": report.status,
        "rows_read": report.rows_read,
        "rows_accepted": report.rows_accepted,
        "rows_rejected": report.rows_rejected,
        "seconds": report.seconds,
        "message": report.message,
        "reasons": [{"column": c, "reason": r, "rows": n} for (c, r), n in report.reasons.items()],
        "examples": report.examples,
    }


def _report(data: dict[str, Any]) -> LoadReport:
    return LoadReport(
        source=data["source"],
        file=data["file"],
        batch=data["batch"],
        status=data["status"],
        rows_read=data["rows_read"],
        rows_accepted=data["rows_accepted"],
        rows_rejected=data["rows_rejected"],
        seconds=data["seconds"],
        reasons=Counter({(r["column"], r["reason"]): r["rows"] for r in data["reasons"]}),
        examples=data["examples"],
        message=data["message"],
    )
