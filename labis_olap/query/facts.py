"""Fact rows of a cube: the records behind a cell (Slicer's /facts and /fact/<id>).

Cuts are applied to the fact rows as the aggregate SQL applies them when it reads the facts
(`sqlgen.cut_condition` on a fact-row context): non-time members through the dimension's map
dictionary, as at each fact's date or as of a given date.

What is shown: every fact column except the pseudonymous ones (`person` and `identifier`
columns). Those hold the dense surrogate numbers of a pseudonym dictionary (persons,
households, …); they are pseudonymous, but the same number links one person's (or one
household's) rows across cubes and loads, so they never leave the server.

`__fact_key__` identifies a row without any change to the storage: a keyed 64-bit SipHash of
all the row's stored columns (person and load batch included, so rows that differ only there
get different ids). The key comes from settings (`fact_key_secret`); without one, from a random
key made per process, so ids are stable while a server runs. Keyed, because an unkeyed hash
over columns that are shown plus one that is not would let anyone recover the hidden person
number by trying the few million candidates. Rows identical in every stored column share an
id (they are indistinguishable anyway); `/fact/<id>` returns the first. It is sent as a decimal
string: a 64-bit number does not survive JSON in JavaScript. Looking one up scans the facts
(bounded by the time limit); no column is added to the facts tables.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from ..errors import QueryError
from ..model.cuts import Cut, Order
from ..model.diagnostics import did_you_mean
from ..model.resolve import check_cuts
from ..model.schema import FactColumn
from ..physical.layout import CubeLayout, q
from ..physical.names import FACT_KEY
from .limits import run_limited
from .planner import StoredShape
from .results import FactsResult
from .sqlgen import Params, RowContext, cut_condition

_PROCESS_KEY = secrets.token_bytes(32)


def fact_key_params(secret: str | None) -> tuple[int, int]:
    """The two 64-bit halves of the SipHash key, derived from the configured secret."""
    raw = hashlib.sha256(secret.encode("utf-8")).digest() if secret else _PROCESS_KEY
    return int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:16], "little")


def shown_columns(layout: CubeLayout) -> list[FactColumn]:
    """Fact columns a client may see: all but the pseudonymous surrogates."""
    return [c for c in layout.cube.columns if not c.pseudonymous]


def _key_sql(layout: CubeLayout, params: Params, secret: str | None) -> str:
    k0, k1 = fact_key_params(secret)
    cols = ", ".join([*(q(c.name) for c in layout.cube.columns), "`_batch`"])
    key = f"({params.add(k0, 'UInt64')}, {params.add(k1, 'UInt64')})"
    return f"sipHash64Keyed({key}, tuple({cols}))"


def _where(layout: CubeLayout, cuts: tuple[Cut, ...], params: Params, as_of: dt.date | None) -> list[str]:
    resolved = check_cuts(layout.model, layout.cube, cuts)
    shape = StoredShape("facts", layout.facts_table, {}, None)
    ctx = RowContext(layout, shape, params, as_of, on_facts=True)
    return [cut_condition(rc, ctx) for rc in resolved]


def _select_fields(layout: CubeLayout, fields: tuple[str, ...]) -> list[str]:
    shown = [c.name for c in shown_columns(layout)]
    if not fields:
        return shown
    hidden = {c.name for c in layout.cube.columns} - set(shown)
    for f in fields:
        if f in hidden:
            raise QueryError(f"field '{f}' holds pseudonymous identifiers and is never shown")
        if f not in shown and f != FACT_KEY:
            raise QueryError(
                f"cube '{layout.cube.name}' has no fact field '{f}'", hint=did_you_mean(f, shown)
            )
    return [f for f in fields if f != FACT_KEY]


def facts(
    layout: CubeLayout,
    engine: Any,
    *,
    cuts: tuple[Cut, ...] = (),
    fields: tuple[str, ...] = (),
    order: tuple[Order, ...] = (),
    page: int | None = None,
    pagesize: int | None = None,
    as_of: dt.date | None = None,
    timeout: float = 30.0,
    max_memory: int | None = None,
    secret: str | None = None,
) -> FactsResult:
    """Fact rows in the cell, `__fact_key__` first, ordered (default: by date, then key) and paged."""
    params = Params()
    names = _select_fields(layout, fields)
    key = _key_sql(layout, params, secret)
    where = _where(layout, cuts, params, as_of)
    orderable = {c.name for c in shown_columns(layout)} | {FACT_KEY}
    terms = []
    for o in order:
        if o.field not in orderable:
            raise QueryError(
                f"cannot order facts by '{o.field}'", hint=did_you_mean(o.field, sorted(orderable))
            )
        terms.append(f"{q(o.field)} {o.direction.upper()}")
    if layout.time_link is not None:
        terms.append(q(layout.time_link[1]))
    terms.append("`__fact_hash`")
    select = ", ".join([f"toString({key}) AS `{FACT_KEY}`", *(q(n) for n in names)])
    # The hash once more, as a number, for a cheap deterministic tie-break.
    sql = (
        f"SELECT {select}, {key} AS `__fact_hash` FROM {q(layout.database)}.{q(layout.facts_table)}"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" ORDER BY {', '.join(terms)}"
    )
    if pagesize is not None:
        sql += (
            f" LIMIT {params.add(pagesize, 'UInt64')} OFFSET {params.add((page or 0) * pagesize, 'UInt64')}"
        )
    table = run_limited(
        engine, sql, params.values, timeout, f"facts of cube '{layout.cube.name}'", max_memory
    )
    table = table.drop_columns(["__fact_hash"])
    return FactsResult(table, [FACT_KEY, *names], sql, params.values)


def fact(
    layout: CubeLayout,
    engine: Any,
    key: str,
    *,
    timeout: float = 30.0,
    secret: str | None = None,
    cuts: tuple[Cut, ...] = (),
    max_memory: int | None = None,
) -> dict[str, Any] | None:
    """The fact whose `__fact_key__` is `key` and that lies in the cell `cuts`, or None."""
    # ASCII digits only: str.isdigit() also takes '①' and '²', which int() refuses.
    text = key.strip()
    if not (text.isascii() and text.isdigit()) or int(text) >= 2**64:
        return None
    params = Params()
    hashed = _key_sql(layout, params, secret)
    names = [c.name for c in shown_columns(layout)]
    select = ", ".join([f"toString({hashed}) AS `{FACT_KEY}`", *(q(n) for n in names)])
    where = [f"{hashed} = {params.add(int(text), 'UInt64')}", *_where(layout, cuts, params, None)]
    table = f"{q(layout.database)}.{q(layout.facts_table)}"
    sql = f"SELECT {select} FROM {table} WHERE {' AND '.join(where)} LIMIT 1"
    what = f"fact of cube '{layout.cube.name}'"
    rows = run_limited(engine, sql, params.values, timeout, what, max_memory).to_pylist()
    return rows[0] if rows else None
