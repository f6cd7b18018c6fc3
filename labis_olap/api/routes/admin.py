"""Admin: the work of other `labis` commands while the server holds the data directory.

`labis load` and `labis unload` hand their batches over, `labis apply` the model the server
serves (read again from its folder, applied, then served without a restart); `labis loads`, `labis rejects`,
`labis query` and `labis check` ask here what they would otherwise read from the directory
themselves. Not part of the public contract (left out of the OpenAPI document). Authenticated
by the token the server wrote into its data directory when it started
(labis_olap/loaders/handoff.py); the routes are off unless this process made that announcement.
Whoever can read the token could open the directory, so the routes answer what the command
would have found there: `labis query` asks as the anonymous principal, as it does directly.
"""

from __future__ import annotations

import hmac
import os
import re
import tempfile
import threading
from pathlib import Path as FilePath
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Body, Header, Path, Query, Request

from ...engine import holder
from ...engine.gate import PUBLICATION
from ...errors import UserError
from ...loaders import handoff
from ..render import json_response
from ..state import AppState

router = APIRouter(include_in_schema=False)

_LOADING = threading.Lock()
"""One load at a time; a second waits (each load applies the model and owns its batch)."""
SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class Unauthorized(UserError):
    error_type = "unauthorized"
    status = 401


class AdminOff(UserError):
    error_type = "forbidden"
    status = 403


class KeyConflict(UserError):
    """The load cannot be pseudonymised as the sender expects: this server has no key, or
    another one than the sender's."""

    error_type = "pseudonym_key"
    status = 409


KEY_ID = re.compile(r"^[0-9a-f]{16}$")


@router.post("/admin/challenge")
def challenge(request: Request, nonce: Annotated[str, Query(min_length=32, max_length=128)]) -> Any:
    """Prove to `labis load` that this is the server that wrote the announcement: the HMAC of
    its fresh nonce under the admin token (the token is neither asked for nor sent)."""
    state: AppState = request.app.state.labis
    token = _own_token(state.settings.data_dir)
    return json_response({"proof": holder.proof(token, nonce)})


@router.post("/admin/preflight/{source}")
def preflight(
    request: Request,
    source: Annotated[str, Path(max_length=100)],
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    """What `labis load` checks before it sends a file: whether the source's spec has personal
    columns, and the fingerprint of the key this server would pseudonymise them with (None:
    no key; `key_problem`: a key is named but cannot be used). The key itself never travels."""
    from ...privacy import find_key

    state: AppState = request.app.state.labis
    _authorise(state.settings.data_dir, authorization)
    plan = _plan(state, source)
    key_id, problem = None, None
    try:
        found = find_key(state.settings)
        key_id = found.key_id if found is not None else None
    except UserError as exc:
        problem = exc.message
    return json_response({"personal": bool(plan.personal_columns), "key_id": key_id, "key_problem": problem})


@router.post("/admin/load/{source}")
async def load(
    request: Request,
    source: Annotated[str, Path(max_length=100)],
    file_name: Annotated[str | None, Query(max_length=255)] = None,
    key_id: Annotated[str | None, Query(max_length=16)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    """Load the body (a file) or a fetched source. `key_id`: the fingerprint of the sender's own
    key, if it has one; the load is refused, unread, if this server's key is another."""
    state: AppState = request.app.state.labis
    _authorise(state.settings.data_dir, authorization)
    _source_name(source)
    if key_id is not None and not KEY_ID.match(key_id):
        raise UserError("'key_id' is the 16 hex digits of a key's fingerprint")
    with tempfile.TemporaryDirectory(prefix="labis-handoff-") as folder:
        path = None
        if file_name is not None:
            # The file keeps its base name: it is the batch's display name, as in a direct load.
            path = FilePath(folder) / (FilePath(file_name).name or "upload")
            with path.open("wb") as fh:
                async for chunk in request.stream():
                    fh.write(chunk)
        report = await anyio.to_thread.run_sync(_load, state, source, path, key_id)
    return json_response(handoff.report_json(report))


@router.post("/admin/unload/{batch}")
def unload(
    request: Request,
    batch: Annotated[str, Path(max_length=16)],
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    from ...loaders.run import unload_batch
    from ...loaders.store import ensure_tables

    state: AppState = request.app.state.labis
    _authorise(state.settings.data_dir, authorization)
    with _LOADING, PUBLICATION.exclusive():  # no query sees the batch half deleted
        ensure_tables(state.engine)
        row = unload_batch(state.engine, state.model, batch)
    keep = ("batch", "cube", "file_name", "rows_accepted")
    cube = state.model.cubes.get(row["cube"])  # a member batch's is `members:<dimension>`
    if cube is None:
        state.reset_service()  # the members changed: answers and caches start afresh
    return json_response({k: row[k] for k in keep} | {"rollups": len(cube.rollups) if cube else 0})


@router.get("/admin/loads")
def loads(
    request: Request,
    source: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 50,
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    """`labis loads`: the batches in the lineage, as the command shows them."""
    from ...loaders.store import batches, ensure_tables

    state: AppState = request.app.state.labis
    _authorise(state.settings.data_dir, authorization)
    ensure_tables(state.engine)
    return json_response({"batches": batches(state.engine, source=source, limit=limit)})


@router.get("/admin/rejects/{batch}")
def rejects(
    request: Request,
    batch: Annotated[str, Path(max_length=16)],
    limit: Annotated[int, Query(ge=1, le=100_000)] = 50,
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    """`labis rejects`: a batch's record (named by an id or a unique prefix) and its rejected
    values (personal ones were masked when they were stored)."""
    from ...loaders.run import reject_rows
    from ...loaders.store import ensure_tables, find_batch

    state: AppState = request.app.state.labis
    _authorise(state.settings.data_dir, authorization)
    ensure_tables(state.engine)
    row = find_batch(state.engine, batch)
    values = reject_rows(state.engine, row["batch"], limit).to_pylist()
    keep = ("batch", "source", "file_name", "status", "rows_rejected")
    return json_response({"batch": {k: row[k] for k in keep}, "rejects": values})


@router.post("/admin/query")
def query(
    request: Request,
    asked: Annotated[dict[str, Any], Body()],
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    """`labis query`: the aggregate's table, made by the service as the command makes it."""
    from ...service.tabular import TextQuery, table

    state: AppState = request.app.state.labis
    _authorise(state.settings.data_dir, authorization)
    try:
        text = TextQuery.from_json(asked)
    except TypeError:
        raise UserError("not a `labis query` request") from None
    return json_response(table(state.service.aggregate(text.cube_query(), text.principal())))


@router.post("/admin/mdx")
def mdx(
    request: Request,
    asked: Annotated[dict[str, Any], Body()],
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    """`labis mdx`: the statement's grid, made by the service as the command makes it."""
    from ...mdx import execute
    from ...service import OPERATOR

    state: AppState = request.app.state.labis
    _authorise(state.settings.data_dir, authorization)
    if not isinstance(asked.get("query"), str):
        raise UserError("not a `labis mdx` request")
    result = execute(state.service, OPERATOR, asked["query"], lang=str(asked.get("lang") or "lv"))
    columns, rows = result.grid()
    return json_response(
        {"columns": columns, "rows": rows, "heads": result.heads, "explain": result.as_json()["explain"]}
    )


@router.post("/admin/apply")
def apply(
    request: Request,
    asked: Annotated[dict[str, Any], Body()],
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    """`labis apply`: read the server's model folder again, make the engine match it and serve
    it from the next request on. Between loads (one lock), so no batch sees two models. A model
    with problems changes nothing: the server keeps serving the one it had."""
    from ...compiler.apply import apply_model
    from ...errors import ModelError
    from ...model.reader import read_model

    state: AppState = request.app.state.labis
    _authorise(state.settings.data_dir, authorization)
    own = state.settings.model_dir.resolve()
    given = FilePath(str(asked.get("model_dir") or "")).resolve()
    if given != own:
        raise UserError(
            f"this server serves the model in {own}, not the one in {given}",
            hint="apply that folder (--model), or stop the server to apply another",
        )
    with _LOADING:
        try:
            model = read_model(own)
        except ModelError as exc:
            raise UserError(
                f"the model in {own} has {len(exc.diagnostics)} problem(s); nothing was applied and "
                f"the server keeps serving the model it had:\n{exc.rendered}"
            ) from None
        report = apply_model(model, state.engine)
        state.replace_model(model)
    return json_response(
        {"actions": report.actions, "changed": report.changed, "model_version": state.service.model_version}
    )


@router.get("/admin/check")
def check(request: Request, authorization: Annotated[str | None, Header()] = None) -> Any:
    """`labis check`: the storage checks run now, on the server's engine."""
    state: AppState = request.app.state.labis
    _authorise(state.settings.data_dir, authorization)
    problems = state.check_storage()
    tables = sum(1 + len(c.rollups) for c in state.model.cubes.values())
    return json_response({"tables": tables, "problems": [p.json() for p in problems]})


def _own_token(data_dir: FilePath) -> str:
    server = holder.running_server(data_dir)
    if server is None or server.pid != os.getpid():
        raise AdminOff("admin routes are off: this server did not announce itself in its data directory")
    return (data_dir / holder.TOKEN_FILE).read_text().strip()


def _authorise(data_dir: FilePath, authorization: str | None) -> None:
    token = _own_token(data_dir)
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        raise Unauthorized(
            "a valid admin token is required", hint=f"send `Authorization: Bearer` + {holder.TOKEN_FILE}"
        )


def _source_name(source: str) -> None:
    if not SOURCE_NAME.match(source) or source.endswith((".yaml", ".yml")):
        raise UserError(f"'{source}' is not a source name", hint="name a `source:` of loaders/*.yaml")


def _plan(state: AppState, source: str) -> Any:
    from ...loaders.spec import find_spec, load_plan

    _source_name(source)
    return load_plan(find_spec(state.settings.loaders_dir, source), state.model)


def _server_key(state: AppState, wanted: str | None) -> bytes:
    """This server's key, from its own settings (the same source `labis load` reads), read at
    each load so that a key made with `labis key create` after the start is found; refused if
    there is none or if it is not the sender's."""
    from ...privacy import find_key

    who = f"this server (pid {os.getpid()})"
    try:
        found = find_key(state.settings)
    except UserError as exc:
        raise KeyConflict(
            f"{who} cannot use its pseudonymisation key: {exc.message}", hint=exc.hint
        ) from None
    if found is None:
        raise KeyConflict(
            f"{who} has no pseudonymisation key",
            hint="restart it with LABIS_PSEUDONYM_KEY_FILE set, or create the default key file "
            "with `labis key create` as the server's user",
        )
    if wanted is not None and found.key_id != wanted:
        raise KeyConflict(
            f"{who} pseudonymises with another key (fingerprint {found.key_id}) than the sender's "
            f"({wanted}): nothing was loaded",
            hint="pseudonyms made under different keys never match; give both the same key",
        )
    return found.key


def _load(state: AppState, source: str, path: FilePath | None, key_id: str | None = None) -> Any:
    """A file's load, or a fetched source's; each refuses the other kind with its own message."""
    from ...loaders.run import load_file, load_source

    with _LOADING:
        plan = _plan(state, source)
        key = _server_key(state, key_id) if plan.personal_columns else None
        if path is None:
            return load_source(plan, state.model, state.engine, key)
        report = load_file(plan, path, state.model, state.engine, key)
        if plan.dimension is not None and report.status == "ok":
            state.reset_service()  # the members changed: answers and caches start afresh
        return report
