"""Members fed by loads (`members: {source: …}`), read from the engine into the model.

A loaded dimension's members live in the engine (`member_rows`, written by loaders/members.py),
not in the model folder: whatever builds the dimension's tables or answers its queries reads
them first, so that `apply` never rebuilds a loaded dimension from no rows. The members are
those of the source's newest batch whose status is `ok`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from ..engine.base import Engine
from ..model.definition import Model
from ..model.diagnostics import Location
from ..physical.layout import q
from ..physical.names import LOADS, MEMBER_ROWS


def current_member_batch(engine: Engine, source: str) -> str | None:
    """The newest batch of a member source whose latest status is `ok` (None: none loaded)."""
    if not _has(engine, LOADS):
        return None
    sql = (
        f"SELECT batch FROM (SELECT batch, status, finished FROM {q(engine.database)}.{q(LOADS)} "
        "WHERE source = {s:String} ORDER BY event_time DESC LIMIT 1 BY batch) "
        "WHERE status = 'ok' ORDER BY finished DESC LIMIT 1"
    )
    rows = engine.query(sql, {"s": source}).column("batch").to_pylist()
    return rows[0] if rows else None


def member_rows_of(engine: Engine, dimension: str, batch: str) -> list[dict[str, Any]]:
    """A member batch's rows: the member columns, with `valid_from`/`valid_to` as dates."""
    sql = (
        f"SELECT row, valid_from, valid_to FROM {q(engine.database)}.{q(MEMBER_ROWS)} "
        "WHERE dimension = {d:String} AND batch = {b:String} ORDER BY valid_from, row"
    )
    t = engine.query(sql, {"d": dimension, "b": batch}).to_pylist()
    return [{**json.loads(r["row"]), "valid_from": r["valid_from"], "valid_to": r["valid_to"]} for r in t]


def attach_loaded_members(model: Model, engine: Engine) -> Model:
    """The model with every loaded dimension's current members (none loaded yet: no rows): a
    new Model when it has loaded dimensions (what is cached per model object, such as the
    dictionaries' digests, must not outlive its members), else the model itself."""
    loaded = [d for d in model.dimensions.values() if d.is_loaded and d.members and d.members.source]
    if not loaded:
        return model
    members, locs = dict(model.members), dict(model.member_locs)
    has_rows = _has(engine, MEMBER_ROWS)
    for dim in loaded:
        assert dim.members is not None and dim.members.source is not None
        batch = current_member_batch(engine, dim.members.source) if has_rows else None
        rows = member_rows_of(engine, dim.name, batch) if batch is not None else []
        members[dim.name] = rows
        where = f"{engine.database}.{MEMBER_ROWS} batch {batch}"
        locs[dim.name] = [Location(where, n, 1) for n in range(1, len(rows) + 1)]
    return replace(model, members=members, member_locs=locs)


def _has(engine: Engine, table: str) -> bool:
    t = engine.query(
        "SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = {t:String}",
        {"db": engine.database, "t": table},
    )
    return bool(t.column("n")[0].as_py())
