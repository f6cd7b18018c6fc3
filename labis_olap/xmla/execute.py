"""Execute: an MDX statement answered as an `mddataset` (or, with Format=Tabular, as a rowset),
or a `SELECT … FROM $system.<rowset>` statement (what Power Query sends) answered as that
Discover rowset.

The MDX is answered by the MDX room through the cube service with the request's principal
(labis_olap/mdx), so roles, limits and disclosure control apply as they do to `POST /mdx`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lxml import etree

from ..mdx import MdxResult, execute, parse
from ..mdx import ast as a
from ..mdx.values import is_number
from .discover import Context, discover
from .envelope import NS_SQL, NS_XSD, XmlaError
from .rowsets import Column
from .write import INTRINSIC, mddataset, property_names, rowset

DMV = re.compile(
    r"^\s*SELECT\s+(?P<columns>.+?)\s+FROM\s+\$SYSTEM\.(?P<rowset>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
CONDITION = re.compile(r"^\s*\[?(\w+)\]?\s*=\s*'((?:[^']|'')*)'\s*$", re.DOTALL)


def run_statement(ctx: Context, text: str) -> etree._Element:
    if DMV.match(text):
        return _dmv(ctx, text)
    return _mdx(ctx, text)


def _dmv(ctx: Context, text: str) -> etree._Element:
    m = DMV.match(text)
    assert m is not None
    restrictions: dict[str, list[str]] = {}
    where = m.group("where")
    if where:
        for part in re.split(r"\s+AND\s+", where, flags=re.IGNORECASE):
            cond = CONDITION.match(part)
            if cond is None:
                raise XmlaError(
                    f"a $system WHERE condition must be COLUMN = 'value', not '{part.strip()}'",
                    hint="join conditions with AND",
                )
            restrictions.setdefault(cond.group(1).upper(), []).append(cond.group(2).replace("''", "'"))
    rs, rows = discover(ctx, m.group("rowset"), restrictions)
    columns: list[Column] = list(rs.columns)
    wanted = m.group("columns").strip()
    if wanted != "*":
        by_name = {c.name.upper(): c for c in rs.columns}
        chosen = []
        for name in (w.strip().strip("[]") for w in wanted.split(",")):
            column = by_name.get(name.upper())
            if column is None:
                raise XmlaError(
                    f"{rs.name} has no column '{name}'", hint="its columns: " + ", ".join(by_name)
                )
            chosen.append(column)
        columns = chosen
    order = m.group("order")
    if order:
        for item in reversed([o.strip() for o in order.split(",")]):
            name, _, direction = item.partition(" ")
            key = name.strip("[]").upper()
            by = next((c.name for c in rs.columns if c.name.upper() == key), None)
            if by is None:
                raise XmlaError(f"{rs.name} has no column '{name}' to order by")
            rows.sort(key=_sort_key(by), reverse=direction.strip().upper() == "DESC")
    return rowset([Column(c.name, c.type, False, c.restriction) for c in columns], rows)


def _sort_key(column: str) -> Callable[[dict[str, Any]], tuple[bool, str]]:
    return lambda r: (r.get(column) is None, str(r.get(column) or ""))


def _mdx(ctx: Context, text: str) -> etree._Element:
    statement = parse(text)
    props = [_requested(ax) for ax in statement.select.axes]
    result = execute(ctx.service, ctx.principal, text, lang=ctx.lang)
    if ctx.properties.get("Format", "Multidimensional").lower() == "tabular":
        return _tabular(result)
    measures = result.catalog.measures
    return mddataset(result, props, measures[0] if measures else None)


def _requested(axis: a.Axis) -> list[str]:
    names = []
    for p in axis.properties:
        last = p.parts[-1]
        word = (last.text if isinstance(last, a.Seg) else "").upper()
        if word not in INTRINSIC:
            raise XmlaError(
                f"unknown member property '{a.expr_mdx(p)}'",
                hint="DIMENSION PROPERTIES takes " + ", ".join(INTRINSIC),
            )
        names.append(word)
    return property_names(names)


def _tabular(result: MdxResult) -> etree._Element:
    """The cells as a flat rowset: a column per hierarchy of the row axes, a column per tuple
    of the columns axis (named in `sql:field`, as SSAS's flattened rowsets are)."""
    names, rows = result.grid()
    heads = result.heads
    numeric = [all(v is None or is_number(v) for v in (row[i] for row in rows)) for i in range(len(names))]
    kinds = ["double" if i >= heads and numeric[i] else "string" for i in range(len(names))]
    columns = [Column(f"C{i}", kinds[i], False, False) for i in range(len(names))]
    out = rowset(columns, [{f"C{i}": v for i, v in enumerate(row)} for row in rows])
    fields = {f"C{i}": name for i, name in enumerate(names)}
    for el in out[0].iter(f"{{{NS_XSD}}}element"):
        name = el.get("name")
        if name in fields:
            el.set(f"{{{NS_SQL}}}field", fields[name])
    return out
