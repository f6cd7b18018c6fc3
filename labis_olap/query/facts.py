"""Fact rows of a cube: the records behind a cell (Slicer's /facts and /fact/<id>).

Cuts are applied to the fact rows as the aggregate SQL applies them when it reads the facts
(`sqlgen.cut_condition` on a fact-row context): non-time members through the dimension's map
dictionary, as at each fact's date or as of a given date.

What is shown: every fact column except the pseudonymous ones (`person` and `identifier`
columns). Those hold the dense surrogate numbers of a pseudonym dictionary (persons,
households, …); they are pseudonymous, but the same number links one person's (or one
household's) rows across cubes and loads, so they never leave the server. After the raw columns
come the dimension attributes by their full names, as Cubes returns them and CubesViewer's
facts grid reads them: for every level of every linked dimension its key `dim.level` (the
member the fact belongs to, as at the fact's date or as of a given date) and its label
`dim.level_label` in the query's language. `fields` takes either kind.

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
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..errors import QueryError
from ..model.cuts import Cut, Order
from ..model.diagnostics import did_you_mean
from ..model.resolve import check_cuts
from ..model.schema import FactColumn, TimeRole
from ..physical.layout import CubeLayout, q
from ..physical.names import FACT_KEY
from .limits import run_limited
from .planner import StoredShape
from .present import MAKERS, MemberLookup
from .results import FactsResult
from .sqlgen import Params, RowContext, cut_condition

TIME_KEYS = {
    TimeRole.year: "toYear",
    TimeRole.quarter: "toQuarter",
    TimeRole.month: "toMonth",
    TimeRole.day: "toDayOfMonth",
}
"""A time level's key from the fact's date: the same numbers and types as the aggregate's."""
TIME = "__t"

_PROCESS_KEY = secrets.token_bytes(32)


def fact_key_params(secret: str | None) -> tuple[int, int]:
    """The two 64-bit halves of the SipHash key, derived from the configured secret."""
    raw = hashlib.sha256(secret.encode("utf-8")).digest() if secret else _PROCESS_KEY
    return int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:16], "little")


def shown_columns(layout: CubeLayout) -> list[FactColumn]:
    """Fact columns a client may see: all but the pseudonymous surrogates."""
    return [c for c in layout.cube.columns if not c.pseudonymous]


@dataclass(frozen=True)
class FactAttribute:
    """A dimension attribute of a fact row, named as Cubes names it."""

    ref: str
    """`dim.level` (the member's key) or `dim.level_label` (its label)."""
    dimension: str
    """The dimension as the cube names it."""
    level: str
    label: bool


def fact_attributes(layout: CubeLayout) -> list[FactAttribute]:
    """Every level's key and label of every dimension the cube links, in the cube's order."""
    out: list[FactAttribute] = []
    for link in layout.cube.dimensions:
        for lv in layout.model.dimensions[link.dimension].levels:
            out.append(FactAttribute(f"{link.alias}.{lv.name}", link.alias, lv.name, False))
            out.append(FactAttribute(f"{link.alias}.{lv.name}_label", link.alias, lv.name, True))
    return out


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


def _select_fields(layout: CubeLayout, fields: tuple[str, ...]) -> tuple[list[str], list[FactAttribute]]:
    """The raw columns and the dimension attributes asked for (all of both without `fields`)."""
    shown = [c.name for c in shown_columns(layout)]
    attributes = fact_attributes(layout)
    if not fields:
        return shown, attributes
    by_ref = {a.ref: a for a in attributes}
    hidden = {c.name for c in layout.cube.columns} - set(shown)
    for f in fields:
        if f in hidden:
            raise QueryError(f"field '{f}' holds pseudonymous identifiers and is never shown")
        if f not in shown and f not in by_ref and f != FACT_KEY:
            raise QueryError(
                f"cube '{layout.cube.name}' has no fact field '{f}'",
                hint=did_you_mean(f, [*shown, *by_ref]),
            )
    return [f for f in fields if f in shown], [by_ref[f] for f in fields if f in by_ref]


def _attribute_sql(layout: CubeLayout, ctx: RowContext, attrs: list[FactAttribute]) -> dict[str, str]:
    """The SQL of every level key the attributes need, by its ref (`dim.level`)."""
    out: dict[str, str] = {}
    for a in attrs:
        key = f"{a.dimension}.{a.level}"
        if key in out:
            continue
        dim = layout.dimension(a.dimension)
        if dim.is_time:
            role = dim.level(a.level).role
            assert role is not None
            out[key] = f"{TIME_KEYS[role]}({q(TIME)})"
        else:
            out[key] = ctx.level_key(a.dimension, a.level)
    return out


def _with_attributes(
    layout: CubeLayout, table: pa.Table, attrs: list[FactAttribute], members: MemberLookup, lang: str
) -> pa.Table:
    """The engine's rows with the attributes' keys made null where there is no member and their
    labels added from the model's members (time labels from the fact's date), in `attrs` order."""
    made: dict[str, Any] = {}
    for a in attrs:
        key = table.column(f"{a.dimension}.{a.level}")
        dim = layout.dimension(a.dimension)
        if not a.label:
            made[a.ref] = key if dim.is_time else MAKERS["member"](key)
        elif dim.is_time:
            role = dim.level(a.level).role
            made[a.ref] = MAKERS[f"{role}_label"](table.column(TIME))
        else:
            labels = members.maps(dim.name, a.level)["en" if lang == "en" else "lv"]
            made[a.ref] = pa.array([labels.get(k) for k in key.to_pylist()], pa.string())
    keep = [n for n in table.column_names if "." not in n and n != TIME]
    return pa.Table.from_arrays([table.column(n) for n in keep] + list(made.values()), names=[*keep, *made])


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
    lang: str = "lv",
    members: MemberLookup | None = None,
) -> FactsResult:
    """Fact rows in the cell, `__fact_key__` first, then the raw columns and the dimension
    attributes, ordered (default: by date, then key) and paged."""
    params = Params()
    names, attrs = _select_fields(layout, fields)
    key = _key_sql(layout, params, secret)
    where = _where(layout, cuts, params, as_of)
    shape = StoredShape("facts", layout.facts_table, {}, None)
    ctx = RowContext(layout, shape, params, as_of, on_facts=True)
    every = fact_attributes(layout)
    ordered = [o.field for o in order]
    # The level keys to compute: those shown, and those ordered by (computed, then dropped).
    needed = [*attrs, *(a for a in every if not a.label and a.ref in ordered and a not in attrs)]
    level_sql = _attribute_sql(layout, ctx, needed)
    orderable = {c.name for c in shown_columns(layout)} | {FACT_KEY} | set(level_sql)
    terms = []
    for o in order:
        if o.field not in orderable:
            raise QueryError(
                f"cannot order facts by '{o.field}'",
                hint=did_you_mean(o.field, sorted(orderable | {a.ref for a in every if not a.label})),
            )
        terms.append(f"{q(o.field)} {o.direction.upper()}")
    if layout.time_link is not None:
        terms.append(q(layout.time_link[1]))
    terms.append("`__fact_hash`")
    computed = [f"{sql} AS {q(ref)}" for ref, sql in level_sql.items()]
    if layout.time_link is not None and any(layout.dimension(a.dimension).is_time for a in needed):
        computed.insert(0, f"{ctx.time_expr()} AS {q(TIME)}")
    select = ", ".join([f"toString({key}) AS `{FACT_KEY}`", *(q(n) for n in names), *computed])
    # The hash once more, as a number, for a cheap deterministic tie-break.
    sql = (
        f"SELECT {select}, {key} AS `__fact_hash` FROM {layout.source(layout.facts_table)}"
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
    if needed:
        table = _with_attributes(layout, table, attrs, members or MemberLookup(layout.model), lang)
    shown = [FACT_KEY, *names, *(a.ref for a in attrs)]
    if fields:  # in the order asked for
        shown = [FACT_KEY, *dict.fromkeys(f for f in fields if f in shown and f != FACT_KEY)]
        table = table.select(shown)
    return FactsResult(table, shown, sql, params.values)


def fact(
    layout: CubeLayout,
    engine: Any,
    key: str,
    *,
    timeout: float = 30.0,
    secret: str | None = None,
    cuts: tuple[Cut, ...] = (),
    max_memory: int | None = None,
    lang: str = "lv",
    members: MemberLookup | None = None,
) -> dict[str, Any] | None:
    """The fact whose `__fact_key__` is `key` and that lies in the cell `cuts`, or None: the
    same record as its row in /facts (raw columns, then the dimension attributes)."""
    # ASCII digits only: str.isdigit() also takes '①' and '²', which int() refuses.
    text = key.strip()
    if not (text.isascii() and text.isdigit()) or int(text) >= 2**64:
        return None
    params = Params()
    hashed = _key_sql(layout, params, secret)
    names = [c.name for c in shown_columns(layout)]
    attrs = fact_attributes(layout)
    shape = StoredShape("facts", layout.facts_table, {}, None)
    ctx = RowContext(layout, shape, params, None, on_facts=True)
    computed = [f"{sql} AS {q(ref)}" for ref, sql in _attribute_sql(layout, ctx, attrs).items()]
    if layout.time_link is not None:
        computed.insert(0, f"{ctx.time_expr()} AS {q(TIME)}")
    select = ", ".join([f"toString({hashed}) AS `{FACT_KEY}`", *(q(n) for n in names), *computed])
    where = [f"{hashed} = {params.add(int(text), 'UInt64')}", *_where(layout, cuts, params, None)]
    table = layout.source(layout.facts_table)
    sql = f"SELECT {select} FROM {table} WHERE {' AND '.join(where)} LIMIT 1"
    what = f"fact of cube '{layout.cube.name}'"
    found = run_limited(engine, sql, params.values, timeout, what, max_memory)
    if not found.num_rows:
        return None
    rows = _with_attributes(layout, found, attrs, members or MemberLookup(layout.model), lang).to_pylist()
    return dict(rows[0])
