"""The largest contributors of every cell of a publication table (docs/disclosure.md).

The (n,k) dominance and p% rules read, per cell and sum measure, the total and the largest
contributors' values — a contributor's value being its own sum within the cell (all its
payments), not one record's. One engine query over the facts, three levels:

    per:  SELECT level keys, contributor, sum per measure FROM facts GROUP BY keys, contributor
    sets: the same per contributor at every margin: GROUP BY GROUPING SETS ((kept keys, c)…)
    top:  per cell: Σ|value| and groupArraySorted(n)(−|value|), GROUP BY keys, grouping()

The facts, not a rollup: no rollup keeps per-contributor sums, and one that did would be as
large as `per`. The query reads the facts once (what a distinct count costs), keeps only n
values per cell (groupArraySorted, not a whole groupArray: the grand total has every person),
and runs once per data version (the service keeps the pattern), never per request.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pyarrow as pa

from ..engine.base import Engine
from ..model.schema import Measure
from ..physical.layout import CubeLayout, q, time_bucket
from .planner import StoredShape
from .resolve import ResolvedDrilldown
from .sqlgen import TIME_KEY, Params, RowContext


@dataclass(frozen=True)
class Key:
    drill: int
    depth: int
    name: str
    sql: str
    final: str
    attribute: str


def total_column(measure: str) -> str:
    return f"__total__{measure}"


def top_column(measure: str) -> str:
    return f"__top__{measure}"


def low_column(measure: str) -> str:
    return f"__low__{measure}"


def top_contributors(
    engine: Engine,
    layout: CubeLayout,
    drills: list[ResolvedDrilldown],
    measures: list[Measure],
    contributor: str | None,
    n: int,
    sets: list[tuple[int, ...]] | None = None,
) -> list[tuple[pa.Table, dict[str, list[str]]]]:
    """Per grouping set of the table (every prefix of every drill, the grand total included):
    its rows — the cell's attributes (`territory.region`, …, as the executor presents them:
    member keys, period numbers), per measure `total_column` (Σ of the contributors' absolute
    values), `top_column` (the n largest, largest first) and `low_column` (the smallest value)
    — and its levels per alias. `contributor`: the fact column naming a contributor (None:
    each record is one). `sets`: only these grouping sets (depth per drill; default: all)."""
    shape = StoredShape("facts", layout.facts_table, {}, None)
    ctx = RowContext(layout, shape, Params(), None, on_facts=True)
    keys: list[Key] = []
    for i, d in enumerate(drills):
        alias = d.ref.alias
        for depth, lv in enumerate(d.levels, 1):
            name = q(f"k__{alias}__{lv.name}")
            if d.ref.dim.is_time:
                assert lv.role is not None
                sql, final = time_bucket(lv.role, ctx.time_expr()), f"{TIME_KEY[lv.role]}({name})"
            else:
                sql, final = ctx.level_key(alias, lv.name), f"nullIf({name}, '')"
            keys.append(Key(i, depth, name, sql, final, f"{alias}.{lv.name}"))
    who = q(contributor) if contributor is not None else "rowNumberInAllBlocks()"
    fills = [f"{layout.state_columns(m)[0].fill} AS {q('m__' + m.name)}" for m in measures]
    names = [k.name for k in keys]
    per = (
        f"SELECT {', '.join([*(f'{k.sql} AS {k.name}' for k in keys), f'{who} AS `__c`', *fills])}"
        f" FROM {layout.source(layout.facts_table)} GROUP BY {', '.join([*names, '`__c`'])}"
    )
    if sets is None:
        sets = list(itertools.product(*(range(len(d.levels), -1, -1) for d in drills)))
    full = tuple(len(d.levels) for d in drills)
    # ClickHouse refuses a key that no grouping set holds (NOT_AN_AGGREGATE; one set alone is a
    # plain GROUP BY): the finest set joins margins asked without it, its rows not returned.
    grouped = sets if full in sets else [*sets, full]
    listed = ", ".join(
        "(" + ", ".join([*(k.name for k in keys if k.depth <= g[k.drill]), "`__c`"]) + ")" for g in grouped
    )
    sums = [f"sum({q('m__' + m.name)}) AS {q('v__' + m.name)}" for m in measures]
    mark = f"grouping({', '.join(names)}) AS `__g`"
    margins = f"SELECT {', '.join([*names, mark, *sums])} FROM ({per}) GROUP BY GROUPING SETS ({listed})"
    tops = []
    for m in measures:
        v = f"abs(toFloat64({q('v__' + m.name)}))"
        tops.append(f"sum({v}) AS {q(total_column(m.name))}")
        tops.append(f"arrayMap(x -> -x, groupArraySorted({int(n)})(-{v})) AS {q(top_column(m.name))}")
        tops.append(f"min(toFloat64({q('v__' + m.name)})) AS {q(low_column(m.name))}")
    finals = [f"{k.final} AS {q(k.attribute)}" for k in keys]
    sql = (
        f"SELECT {', '.join([*finals, '`__g`', *tops])} FROM ({margins})"
        f" GROUP BY {', '.join([*names, '`__g`'])}"
    )
    table = engine.query(sql, ctx.params.values)
    out = []
    marks = table.column("__g").to_pylist()
    for g in sets:
        mask = sum(1 << (len(keys) - 1 - j) for j, k in enumerate(keys) if k.depth > g[k.drill])
        rows = table.filter(pa.array([m == mask for m in marks]))
        levels = {d.ref.alias: [lv.name for lv in d.levels[: g[i]]] for i, d in enumerate(drills) if g[i]}
        kept = [k.attribute for k in keys if k.depth <= g[k.drill]]
        measures_cols = [
            c for m in measures for c in (total_column(m.name), top_column(m.name), low_column(m.name))
        ]
        out.append((rows.select([*kept, *measures_cols]), levels))
    return out
