"""MDX expressions evaluated over a catalog (mdx/names.py) and a cell store (mdx/cells.py).

A context maps hierarchies to the member (or Slice) each stands at; a hierarchy absent is at
its All member, the Measures at the cube's first measure. Functions take their arguments
unevaluated (Filter, Order, IIf, Generate evaluate them per tuple); names are looked up once.
A cell with calculated members in its context evaluates the one of highest SOLVE_ORDER — on a
tie, the one written first in the WITH clause — with the same context; a stored cell is asked of
the store, which answers it in the next batch (None until then).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from ..errors import NotSupportedError, QueryError
from ..model.diagnostics import did_you_mean
from ..model.schema import Function, TimeRole
from . import ast as a
from . import time as t
from .cells import MAX_SET_CUT, CellStore
from .names import MEASURES, Catalog, Hier, HierKey, HierRef, Level, Member, Word
from .parse import parse_expression
from .values import (
    Coordinate,
    SetV,
    Slice,
    Tup,
    arithmetic,
    compare,
    is_number,
    number,
    sort_value,
    truthy,
)

Ctx = dict[HierKey, Coordinate]
MEASURES_KEY: HierKey = (MEASURES, MEASURES)
MAX_SET = 1_000_000
MAX_NESTING = 64
ADDITIVE = {Function.sum, Function.count}

FLAGS = frozenset(
    [
        "asc",
        "desc",
        "basc",
        "bdesc",
        "post",
        "pre",
        "recursive",
        "all",
        "include_calc_members",
        "self",
        "after",
        "before",
        "self_and_after",
        "self_and_before",
        "self_before_after",
        "leaves",
        "excludeempty",
        "includeempty",
    ]
)


class Expressions:
    """The evaluator of expressions: one per statement."""

    def __init__(self, catalog: Catalog, store: CellStore, statement: a.Statement) -> None:
        self.cat = catalog
        self.store = store
        self.statement = statement
        self._names: dict[a.Name, Any] = {}
        self._nesting = 0
        self.calcs: dict[tuple[str, ...], Member] = {}
        self.defs: dict[tuple[HierKey, str], tuple[a.MemberDef, int]] = {}
        self.sets: dict[str, a.SetDef] = {s.name.parts[-1].text.lower(): s for s in statement.sets}  # type: ignore[union-attr]
        self._set_values: dict[str, SetV] = {}
        self.aliases: dict[str, SetV] = {}
        """Sets named inline (`set AS [name]`), as last evaluated."""
        self.base: Ctx = {}
        for i, f in enumerate(statement.members):
            self._define(f, i)

    # --- calculated members ----------------------------------------------------------------------
    def _define(self, f: a.MemberDef, index: int) -> None:
        parts = f.name.parts
        own = parts[-1]
        if not isinstance(own, a.Seg):
            raise QueryError(f"a calculated member needs a name, not a key: {a.expr_mdx(f.name)}")
        head = a.Name(parts[:-1], f.name.pos)
        if not head.parts:
            raise QueryError(
                f"calculated member {a.expr_mdx(f.name)} names no dimension",
                hint="e.g. WITH MEMBER [Measures].[name] AS …",
            )
        parent = self.cat.resolve(head, self.calcs)
        if isinstance(parent, HierRef):
            hk, path = parent.hier, tuple[str | None, ...]()
        elif isinstance(parent, Member) and not parent.is_measure and parent.calc is None:
            hk, path = parent.hier, parent.path
        else:
            raise QueryError(
                f"calculated member {a.expr_mdx(f.name)}: cannot be placed under {a.expr_mdx(head)}"
            )
        if hk == MEASURES_KEY:
            m = Member(hk, (own.text,), calc=own.text, caption=own.text)
        else:
            m = Member(hk, (*path, own.text), calc=own.text, caption=own.text)
        self.calcs[tuple(p.text.lower() if isinstance(p, a.Seg) else "" for p in parts)] = m
        if isinstance(parent, HierRef) and hk != MEASURES_KEY:  # `[Time].[Time].[H1]` is `[Time].[H1]`
            h = self.cat.hiers[hk]
            own_key = own.text.lower()
            for d in {h.dim.lower(), h.caption.lower()}:
                for alias in ((d, own_key), (d, h.name.lower(), own_key), (d, d, own_key)):
                    self.calcs.setdefault(alias, m)
        self.defs[(hk, own.text)] = (f, index)

    def solve_order(self, m: Member) -> tuple[int, int]:
        f, index = self.defs[(m.hier, m.calc or "")]
        so = f.prop("SOLVE_ORDER")
        order = int(number(self.scalar(so, {}))) if so is not None else 0
        return (order, -index)

    def format_string(self, ctx: Ctx) -> str | None:
        """The FORMAT_STRING of the calculated member that decides the cell, if it has one."""
        calcs = [m for m in ctx.values() if isinstance(m, Member) and m.calc is not None]
        for m in sorted(calcs, key=self.solve_order, reverse=True):
            fs = self.defs[(m.hier, m.calc or "")][0].prop("FORMAT_STRING")
            if fs is not None:
                return str(self.scalar(fs, ctx))
        return None

    def calc_members(self, hk: HierKey) -> list[Member]:
        return list(dict.fromkeys(m for m in self.calcs.values() if m.hier == hk))  # aliases once

    # --- values ------------------------------------------------------------------------------------
    def measure_of(self, ctx: Ctx) -> Member:
        m = ctx.get(MEASURES_KEY)
        if isinstance(m, Member):
            return m
        return self.cat.measure(self.cat.measures[0])

    def cell(self, ctx: Ctx) -> Any:
        calcs = [m for m in ctx.values() if isinstance(m, Member) and m.calc is not None]
        if MEASURES_KEY not in ctx:
            ctx = {**ctx, MEASURES_KEY: self.measure_of(ctx)}
        if calcs:
            top = max(calcs, key=self.solve_order)
            self._nesting += 1
            try:
                if self._nesting > MAX_NESTING:
                    raise QueryError(
                        f"calculated member [{top.calc}] refers to itself (infinite recursion)",
                        hint="name the measure or member it should read, e.g. ([Measures].[amount], …)",
                    )
                return self.scalar(self.defs[(top.hier, top.calc or "")][0].expr, ctx)
            finally:
                self._nesting -= 1
        visual = next((m for m in ctx.values() if isinstance(m, Member) and m.visual is not None), None)
        if visual is not None:  # below every calculated member: a ratio of visual totals
            paths = visual.visual or frozenset()
            one = next(iter(paths)) if len(paths) == 1 else None
            inner = dict(ctx)
            hk = visual.hier
            inner[hk] = self.cat.member(hk, one) if one is not None else Slice(hk, paths)
            return self.cell(inner)
        measure = ctx[MEASURES_KEY]
        assert isinstance(measure, Member)
        key = self.store.key(measure.path[0] or "", ctx)
        return None if key is None else self.store.get(key)

    def over(self, ctx: Ctx, tup: Iterable[Member | None]) -> Ctx:
        out = dict(ctx)
        for m in tup:
            if m is None:
                raise _Null
            out[m.hier] = m
        return out

    def ev(self, e: a.Expr | None, ctx: Ctx) -> Any:
        if e is None:
            return None
        if isinstance(e, a.Name):
            return self.name(e)
        if isinstance(e, a.Number):
            return e.value
        if isinstance(e, a.String):
            return e.value
        if isinstance(e, a.Call):
            return self.call(e, ctx)
        if isinstance(e, a.SetOf):
            out: SetV = []
            for item in e.items:
                out.extend(self.to_set(self.ev(item, ctx)))
            return out
        if isinstance(e, a.TupleOf):
            members: list[Member] = []
            for item in e.items:
                v = self.ev(item, ctx)
                if isinstance(v, list):
                    if len(v) != 1:
                        raise QueryError("a tuple takes members, not a set of several tuples")
                    v = v[0]
                members.extend(self.to_tuple(v))
            return tuple(members)
        if isinstance(e, a.Binary):
            return self.binary(e, ctx)
        if isinstance(e, a.Unary):
            v = self.ev(e.operand, ctx)
            if e.op == "NOT":
                return not truthy(self.to_scalar(v, ctx))
            x = self.to_scalar(v, ctx)
            return None if x is None else (-number(x) if e.op == "-" else number(x))
        if isinstance(e, a.Range):
            return self.range(self.to_member(self.ev(e.low, ctx)), self.to_member(self.ev(e.high, ctx)))
        if isinstance(e, a.Alias):
            named = self.setv(e.expr, ctx)
            self.aliases[a.name_text(e.name).lower()] = named
            return named
        return self.case(e, ctx)

    def name(self, e: a.Name) -> Any:
        if len(e.parts) == 1 and isinstance(e.parts[0], a.Seg) and a.name_text(e).lower() in self.aliases:
            return self.aliases[a.name_text(e).lower()]
        if len(e.parts) == 1 and isinstance(e.parts[0], a.Seg) and e.parts[0].text.lower() in self.sets:
            key = e.parts[0].text.lower()
            if key not in self._set_values:
                self._set_values[key] = []  # a set naming itself is empty, not a recursion
                self._set_values[key] = self.setv(self.sets[key].expr, self.base)
            return self._set_values[key]
        found = self._names.get(e)
        if found is None:
            found = self.cat.resolve(e, self.calcs)
            self._names[e] = found
        return found

    def new_round(self) -> None:
        self._set_values.clear()

    # --- conversions -------------------------------------------------------------------------------
    def to_set(self, v: Any) -> SetV:
        if isinstance(v, list):
            return v
        if isinstance(v, tuple):
            return [v] if v else []
        if isinstance(v, Member):
            return [(v,)]
        if v is None:
            return []
        if isinstance(v, Level):
            return [(m,) for m in self.cat.level(v.hier, v.depth)]
        if isinstance(v, HierRef):
            return [(self.default_member(v.hier),)]
        if isinstance(v, Word):
            raise self._unknown_word(v)
        raise QueryError(f"{_shown(v)} is not a set")

    def to_tuple(self, v: Any) -> Tup:
        if isinstance(v, tuple):
            return v
        if isinstance(v, Member):
            return (v,)
        if isinstance(v, list) and len(v) == 1:
            return v[0]
        if isinstance(v, HierRef):
            return (self.default_member(v.hier),)
        if isinstance(v, Word):
            raise self._unknown_word(v)
        if v is None:
            raise _Null
        raise QueryError(f"{_shown(v)} is not a member or a tuple")

    def to_member(self, v: Any) -> Member:
        if isinstance(v, Member):
            return v
        if isinstance(v, HierRef):
            return self.default_member(v.hier)
        if isinstance(v, tuple) and len(v) == 1:
            return v[0]
        if isinstance(v, list) and len(v) == 1 and len(v[0]) == 1:
            return v[0][0]
        if isinstance(v, Word):
            raise self._unknown_word(v)
        if v is None:
            raise _Null
        raise QueryError(f"{_shown(v)} is not a member")

    def to_scalar(self, v: Any, ctx: Ctx) -> Any:
        if isinstance(v, (Member, tuple)):
            try:
                return self.cell(self.over(ctx, self.to_tuple(v)))
            except _Null:
                return None
        if isinstance(v, list):
            if len(v) == 1:
                return self.to_scalar(v[0], ctx)
            raise QueryError(
                "a set of several tuples cannot be a value", hint="use Aggregate(set) or Sum(set)"
            )
        if isinstance(v, HierRef):
            return self.to_scalar(self.default_member(v.hier), ctx)
        if isinstance(v, Word):
            if v.text.lower() == "null":
                return None
            raise self._unknown_word(v)
        if isinstance(v, Level):
            raise QueryError("a level is not a value", hint="use .Members, or .Ordinal")
        return v

    def setv(self, e: a.Expr | None, ctx: Ctx) -> SetV:
        try:
            return self.to_set(self.ev(e, ctx))
        except _Null:
            return []

    def scalar(self, e: a.Expr | None, ctx: Ctx) -> Any:
        try:
            return self.to_scalar(self.ev(e, ctx), ctx)
        except _Null:
            return None

    def member(self, e: a.Expr | None, ctx: Ctx) -> Member | None:
        try:
            v = self.ev(e, ctx)
            if isinstance(v, HierRef):  # `[Product].Parent`: the hierarchy's current member
                return self.current(v.hier, ctx)
            return self.to_member(v)
        except _Null:
            return None

    def default_member(self, hk: HierKey) -> Member:
        if hk == MEASURES_KEY:
            return self.cat.measure(self.cat.measures[0])
        return self.cat.all_member(hk)

    def _unknown_word(self, w: Word) -> QueryError:
        choices = [*self.cat.dims, MEASURES, *self.sets]
        return QueryError(f"unknown name '{w.text}'", hint=did_you_mean(w.text, choices))

    def word(self, e: a.Expr | None) -> str | None:
        """A flag argument (ASC, POST, INCLUDE_CALC_MEMBERS …), lower case; None if absent."""
        if e is None:
            return None
        if isinstance(e, a.Name) and len(e.parts) == 1 and isinstance(e.parts[0], a.Seg):
            return e.parts[0].text.lower()
        if isinstance(e, a.String):
            return e.value.lower()
        return None

    # --- operators -------------------------------------------------------------------------------
    def binary(self, e: a.Binary, ctx: Ctx) -> Any:
        op = e.op
        if op in ("AND", "OR", "XOR"):
            x = truthy(self.scalar(e.left, ctx))
            if op == "AND" and not x:
                return False
            if op == "OR" and x:
                return True
            y = truthy(self.scalar(e.right, ctx))
            return (x != y) if op == "XOR" else y
        left, right = self.ev(e.left, ctx), self.ev(e.right, ctx)
        if op == "IS":
            return self._is(left, right)
        setlike = (list, Level)
        if op in ("*", "+", "-") and (
            isinstance(left, setlike)
            or isinstance(right, setlike)
            or (op == "*" and _memberish(left) and _memberish(right))
        ):
            s1, s2 = self.to_set(left), self.to_set(right)
            if op == "*":
                return self.crossjoin([s1, s2])
            if op == "+":
                return _distinct(s1 + s2)
            drop = set(s2)
            return [x for x in s1 if x not in drop]
        x, y = self.to_scalar(left, ctx), self.to_scalar(right, ctx)
        if op in ("+", "-", "*", "/"):
            return arithmetic(op, x, y)
        if op == "||":
            return ("" if x is None else str(x)) + ("" if y is None else str(y))
        return compare(op, x, y)

    def _is(self, left: Any, right: Any) -> bool:
        if isinstance(right, Word) and right.text.lower() == "null":
            return left is None or (isinstance(left, Word) and left.text.lower() == "null")
        try:
            return self.to_member(left) == self.to_member(right)
        except _Null:
            return False

    def case(self, e: a.Case, ctx: Ctx) -> Any:
        subject = self.scalar(e.subject, ctx) if e.subject is not None else None
        for cond, value in e.whens:
            if e.subject is not None:
                if compare("=", subject, self.scalar(cond, ctx)):
                    return self.ev(value, ctx)
            elif truthy(self.scalar(cond, ctx)):
                return self.ev(value, ctx)
        return self.ev(e.default, ctx) if e.default is not None else None

    # --- sets ------------------------------------------------------------------------------------
    def crossjoin(self, sets: list[SetV]) -> SetV:
        size = 1
        for s in sets:
            size *= len(s)
        if size > MAX_SET:
            raise QueryError(
                f"a crossjoin of {size:,} tuples, more than {MAX_SET:,}",
                hint="NON EMPTY does not help here: narrow the sets",
            )
        return [tuple(itertools.chain.from_iterable(c)) for c in itertools.product(*sets)]

    def range(self, low: Member, high: Member) -> SetV:
        if low.hier != high.hier or low.depth != high.depth:
            raise QueryError("both ends of a range must be members of one level")
        h = self.cat.hiers.get(low.hier)
        if h is not None and h.is_time:  # either way round, in the calendar's order
            paths = t.between(low.path, high.path, h.roles)
            if paths and t.start(paths[0], h.roles) > t.start(paths[-1], h.roles):
                paths = paths[::-1]
            return [(self.cat.time_member(low.hier, p),) for p in paths]
        level = self.cat.level(low.hier, low.depth) if low.hier != MEASURES_KEY else []
        try:
            i, j = level.index(low), level.index(high)
        except ValueError:
            raise QueryError("a range's ends must be members of the level") from None
        return [(m,) for m in (level[i : j + 1] if i <= j else level[j : i + 1])]

    def hkey(self, m: Member, post: bool = False) -> tuple[Any, ...]:
        """A member's place in hierarchical order (PRE: a parent before its children)."""
        if m.is_measure:
            names = self.cat.measures
            name = m.path[0] or ""
            i = names.index(name) if m.calc is None and name in names else len(names) + self._calc_index(m)
            return (i,)
        keys: list[int] = []
        depth = m.depth
        own = depth if m.calc is None else depth - 1
        for d in range(1, own + 1):
            keys.append(self.cat.position(self.cat.member(m.hier, m.path[:d])))
        if m.calc is not None:
            keys.append((1 << 40) + self._calc_index(m))
        return (*keys, 1 << 62) if post else tuple(keys)

    def _calc_index(self, m: Member) -> int:
        return self.defs[(m.hier, m.calc or "")][1]

    def hierarchize(self, s: SetV, post: bool = False) -> SetV:
        return sorted(_distinct(s), key=lambda tup: tuple(self.hkey(m, post) for m in tup))

    def children(self, m: Member) -> list[Member]:
        if m.is_measure:
            return []
        return self.cat.children(m)

    def descend(self, m: Member, lo: int, hi: int) -> list[Member]:
        """`m`'s descendants with depths in [lo, hi] (itself included if in range), pre-order."""
        out: list[Member] = []
        leaf = len(self.cat.hiers[m.hier].levels) if not m.is_measure else m.depth

        def walk(x: Member) -> None:
            if len(out) > MAX_SET:
                raise QueryError(f"more than {MAX_SET:,} descendants")
            if lo <= x.depth <= hi:
                out.append(x)
            if x.depth < min(hi, leaf):
                for c in self.children(x):
                    walk(c)

        walk(m)
        return out

    # --- cells over sets ---------------------------------------------------------------------------
    def values(self, s: SetV, e: a.Expr | None, ctx: Ctx) -> list[Any]:
        out: list[Any] = []
        for tup in s:
            try:
                inner = self.over(ctx, tup)
            except _Null:
                out.append(None)
                continue
            out.append(self.scalar(e, inner) if e is not None else self.cell(inner))
        return out

    def aggregate(self, s: SetV, ctx: Ctx) -> Any:
        """Aggregate({…}): the cell over the set as one slice (the union, one query) when the set
        is a cross product of stored members; else the sum of its cells, for measures that add up."""
        s = _distinct(s)
        if not s:
            return None
        if len(s) == 1:
            try:
                return self.cell(self.over(ctx, s[0]))
            except _Null:
                return None
        by_hier: dict[HierKey, list[Member]] = {}
        for tup in s:
            for m in tup:
                by_hier.setdefault(m.hier, [])
                if m not in by_hier[m.hier]:
                    by_hier[m.hier].append(m)
        size = 1
        for ms in by_hier.values():
            size *= len(ms)
        stored = all(m.calc is None and not m.is_measure for ms in by_hier.values() for m in ms)
        measure = self.measure_of(ctx)
        fn = self._function(measure)
        if stored and size == len(s) and fn in ADDITIVE and max(map(len, by_hier.values())) > MAX_SET_CUT:
            # Thousands of members as one cut would be a query longer than the engine takes; a
            # sum adds up the same from the cells of the drilled level.
            return _sum(self.values(s, None, ctx))
        if stored and size == len(s):
            inner = dict(ctx)
            for hk, ms in by_hier.items():
                inner[hk] = ms[0] if len(ms) == 1 else Slice(hk, frozenset(m.path for m in ms))
            return self.cell(inner)
        if fn is not None and fn not in ADDITIVE:
            raise NotSupportedError(
                f"Aggregate over this set for [{measure.path[0]}] ({fn.value}): the set is not a "
                "cross product of stored members, and the measure does not add up",
                hint="aggregate members of one hierarchy, or use Sum()",
            )
        return _sum(self.values(s, None, ctx))

    def _function(self, m: Member) -> Function | None:
        if m.calc is not None:
            return None
        try:
            return self.cat.cube.measure(m.path[0] or "").function
        except KeyError:
            return None

    # --- time ----------------------------------------------------------------------------------
    def time_hier(self, ctx: Ctx) -> Hier:
        for hk, v in ctx.items():
            h = self.cat.hiers.get(hk)
            if h is not None and h.is_time and isinstance(v, Member):
                return h
        for h in self.cat.hiers.values():
            if h.is_time and h.default:
                return h
        raise QueryError(f"the cube '{self.cat.cube.name}' has no time dimension")

    def current(self, hk: HierKey, ctx: Ctx) -> Member:
        v = ctx.get(hk)
        if v is None and hk not in ctx:
            return self.default_member(hk)
        if isinstance(v, Slice):
            raise QueryError(
                f"the current member of '{hk[0]}' is a set of members here",
                hint="a slicer or Aggregate over several members has no single current member",
            )
        if v is None:
            raise _Null
        return v

    def level_of_role(self, h: Hier, role: TimeRole) -> Level:
        if role not in h.roles:
            raise QueryError(f"hierarchy '{h.name}' of '{h.dim}' has no {role.value} level")
        return Level(h.key, h.roles.index(role) + 1)

    def shift(self, m: Member, n: int) -> Member | None:
        """The member n places after (before) at its level: the calendar for time."""
        if m.calc is not None or m.is_measure or m.depth == 0:
            return None if n else m
        h = self.cat.hiers[m.hier]
        if h.is_time:
            p = t.shift(m.path, h.roles, n)
            return None if p is None else self.cat.time_member(m.hier, p)
        level = self.cat.level(m.hier, m.depth)
        try:
            i = level.index(m)
        except ValueError:
            return None
        j = i + n
        return level[j] if 0 <= j < len(level) else None

    def periods_to_date(self, level: Level, m: Member) -> list[Member]:
        if level.hier != m.hier:
            raise QueryError("PeriodsToDate: the level and the member are of different hierarchies")
        if level.depth > m.depth:
            return []
        h = self.cat.hiers[m.hier]
        anc = m.path[: level.depth]
        if h.is_time:
            if level.depth == 0:
                raise QueryError("PeriodsToDate over the whole of time: give a year, quarter or month level")
            first = t.path_of(t.start(anc, h.roles), h.roles, m.depth)
            return [self.cat.time_member(m.hier, p) for p in t.between(first, m.path, h.roles)]
        sibs = self.descend(self.cat.member(m.hier, anc), m.depth, m.depth)
        return sibs[: sibs.index(m) + 1] if m in sibs else []

    def parallel(self, level: Level, n: int, m: Member) -> Member | None:
        if m.calc is not None or m.depth == 0 or level.depth >= m.depth:
            return m if level.depth >= m.depth and n == 0 else (None if level.depth < m.depth else m)
        h = self.cat.hiers[m.hier]
        anc = m.path[: level.depth]
        if h.is_time:
            off = t.offset_in(m.path, anc, h.roles)
            moved = t.shift(anc, h.roles, -n) if anc else anc
            if moved is None:
                return None
            first = t.path_of(t.start(moved, h.roles), h.roles, m.depth)
            p = t.shift(first, h.roles, off)
            if p is None or p[: level.depth] != moved:
                return None
            return self.cat.time_member(m.hier, p)
        a_m = self.cat.member(m.hier, anc)
        sibs = self.descend(a_m, m.depth, m.depth)
        off = sibs.index(m)
        other = self.shift(a_m, -n)
        if other is None:
            return None
        cousins = self.descend(other, m.depth, m.depth)
        return cousins[off] if off < len(cousins) else None

    # --- functions -----------------------------------------------------------------------------------
    def call(self, e: a.Call, ctx: Ctx) -> Any:
        fn = FUNCTIONS.get(e.name.lower())
        if fn is None:
            where = f" (line {e.pos[0]}, column {e.pos[1]})" if e.pos else ""
            raise QueryError(
                f"unknown function {e.name}{where}",
                hint=did_you_mean(e.name, sorted(DISPLAY)) or "see docs/mdx.md for the functions supported",
            )
        return fn(self, e.args, ctx)


class _Null(Exception):
    """A null member met where a member was needed (PrevMember of the first): the value is empty."""


def _memberish(v: Any) -> bool:
    return isinstance(v, (Member, tuple))


def _shown(v: Any) -> str:
    if isinstance(v, Member):
        return f"member [{v.caption}]"
    if isinstance(v, Decimal) or is_number(v):
        return f"the number {v}"
    if isinstance(v, str):
        return f"the string '{v}'"
    return type(v).__name__.lower()


def _distinct(s: SetV) -> SetV:
    return list(dict.fromkeys(s))


def _sum(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    if not present:
        return None
    total: Any = None
    for v in present:
        total = arithmetic("+", total, v)
    return total


# --- the function table ---------------------------------------------------------------------------

Args = tuple[a.Expr | None, ...]
Fn = Callable[[Expressions, Args, Ctx], Any]
FUNCTIONS: dict[str, Fn] = {}
DISPLAY: list[str] = []


def fn(*names: str) -> Callable[[Fn], Fn]:
    def register(f: Fn) -> Fn:
        for n in names:
            FUNCTIONS[n.lower()] = f
            DISPLAY.append(n)
        return f

    return register


def _arg(args: Args, i: int) -> a.Expr | None:
    return args[i] if i < len(args) else None


def _need(args: Args, n: int, name: str) -> None:
    if len(args) < n or any(args[i] is None for i in range(n)):
        raise QueryError(f"{name} takes at least {n} argument(s)")


def _int(ev: Expressions, e: a.Expr | None, ctx: Ctx, default: int) -> int:
    if e is None:
        return default
    v = ev.scalar(e, ctx)
    if v is None:
        return default
    return int(number(v))


def _level_arg(ev: Expressions, e: a.Expr | None, ctx: Ctx, m: Member | None = None) -> Level | None:
    if e is None:
        return None
    v = ev.ev(e, ctx)
    if isinstance(v, Level):
        return v
    if isinstance(v, str) and m is not None:
        h = ev.cat.hiers[m.hier]
        for i, name in enumerate(h.levels):
            if name.lower() == v.lower():
                return Level(m.hier, i + 1)
    raise QueryError(f"{a.expr_mdx(e)} is not a level")


def _members_of(ev: Expressions, v: Any, with_calcs: bool) -> SetV:
    out: SetV
    if isinstance(v, Level):
        out = [(m,) for m in ev.cat.level(v.hier, v.depth)] if v.hier != MEASURES_KEY else []
        if with_calcs:
            out += [(c,) for c in ev.calc_members(v.hier) if c.depth == v.depth]
        return out
    if isinstance(v, HierRef):
        if v.hier == MEASURES_KEY:
            out = [(ev.cat.measure(n),) for n in ev.cat.measures]
        else:
            top = ev.cat.all_member(v.hier)
            out = [(m,) for m in ev.descend(top, 0, len(ev.cat.hiers[v.hier].levels))]
        if with_calcs:
            out += [(c,) for c in ev.calc_members(v.hier)]
        return ev.hierarchize(out) if with_calcs and v.hier != MEASURES_KEY else out
    if isinstance(v, Member):
        return _members_of(ev, HierRef(v.hier), with_calcs)
    raise QueryError(".Members needs a hierarchy or a level")


@fn("Members")
def _members(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    return _members_of(ev, ev.ev(_arg(args, 0), ctx), False)


@fn("AllMembers")
def _all_members(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    return _members_of(ev, ev.ev(_arg(args, 0), ctx), True)


@fn("AddCalculatedMembers")
def _add_calcs(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    s = ev.setv(_arg(args, 0), ctx)
    hiers = {m.hier: m.depth for tup in s[:1] for m in tup}
    extra: SetV = [
        (c,)
        for hk, depth in hiers.items()
        for c in ev.calc_members(hk)
        if hk == MEASURES_KEY or c.depth == depth
    ]
    return _distinct(s + extra)


def _member_fn(f: Callable[[Expressions, Member, Args, Ctx], Any]) -> Fn:
    def run(ev: Expressions, args: Args, ctx: Ctx) -> Any:
        m = ev.member(_arg(args, 0), ctx)
        if m is None:
            return None
        return f(ev, m, args, ctx)

    return run


FUNCTIONS["children"] = _member_fn(lambda ev, m, args, ctx: [(c,) for c in ev.children(m)])
FUNCTIONS["parent"] = _member_fn(
    lambda ev, m, args, ctx: (
        ev.cat.parent(m)
        if m.calc is None
        else (ev.cat.member(m.hier, m.path[:-1]) if not m.is_measure else None)
    )
)
FUNCTIONS["firstchild"] = _member_fn(lambda ev, m, args, ctx: next(iter(ev.children(m)), None))
FUNCTIONS["lastchild"] = _member_fn(lambda ev, m, args, ctx: next(reversed(ev.children(m)), None))
FUNCTIONS["prevmember"] = _member_fn(lambda ev, m, args, ctx: ev.shift(m, -1))
FUNCTIONS["nextmember"] = _member_fn(lambda ev, m, args, ctx: ev.shift(m, 1))
FUNCTIONS["lag"] = _member_fn(lambda ev, m, args, ctx: ev.shift(m, -_int(ev, _arg(args, 1), ctx, 1)))
FUNCTIONS["lead"] = _member_fn(lambda ev, m, args, ctx: ev.shift(m, _int(ev, _arg(args, 1), ctx, 1)))
FUNCTIONS["name"] = _member_fn(lambda ev, m, args, ctx: m.caption if m.calc is None else m.calc)
FUNCTIONS["caption"] = FUNCTIONS["name"]
FUNCTIONS["uniquename"] = _member_fn(lambda ev, m, args, ctx: m.unique_name(ev.cat.hiers))
FUNCTIONS["level"] = _member_fn(lambda ev, m, args, ctx: Level(m.hier, m.depth))
FUNCTIONS["hierarchy"] = _member_fn(lambda ev, m, args, ctx: HierRef(m.hier))
FUNCTIONS["dimension"] = FUNCTIONS["hierarchy"]
FUNCTIONS["key"] = _member_fn(lambda ev, m, args, ctx: m.path[-1] if m.path else None)
DISPLAY += [
    "Children", "Parent", "FirstChild", "LastChild", "PrevMember", "NextMember", "Lag", "Lead",
    "Name", "Caption", "UniqueName", "Level", "Hierarchy", "Dimension", "Key",
]  # fmt: skip


@fn("Siblings")
def _siblings(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    m = ev.member(_arg(args, 0), ctx)
    if m is None or m.is_measure:
        return []
    parent = ev.cat.parent(m)
    return [(m,)] if parent is None else [(c,) for c in ev.children(parent)]


@fn("FirstSibling", "LastSibling")
def _first_sibling(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    sibs = _siblings(ev, args, ctx)
    return None if not sibs else sibs[0][0]


@fn("LastSibling")
def _last_sibling(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    sibs = _siblings(ev, args, ctx)
    return None if not sibs else sibs[-1][0]


@fn("CurrentMember", "Current")
def _current(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    v = ev.ev(_arg(args, 0), ctx)
    if isinstance(v, HierRef):
        return ev.current(v.hier, ctx)
    if isinstance(v, Member):
        return ev.current(v.hier, ctx)
    if isinstance(v, list):  # `set.Current`: the tuple of the set's hierarchies being iterated
        return tuple(ev.current(m.hier, ctx) for m in v[0]) if v else None
    raise QueryError(".CurrentMember needs a hierarchy")


@fn("DefaultMember")
def _default(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    v = ev.ev(_arg(args, 0), ctx)
    if isinstance(v, (HierRef, Member)):
        return ev.default_member(v.hier)
    raise QueryError(".DefaultMember needs a hierarchy")


@fn("Ordinal")
def _ordinal(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    v = ev.ev(_arg(args, 0), ctx)
    if isinstance(v, Level):
        return v.depth
    raise QueryError(".Ordinal needs a level")


@fn("Count")
def _count(ev: Expressions, args: Args, ctx: Ctx) -> int:
    s = ev.setv(_arg(args, 0), ctx)
    if ev.word(_arg(args, 1)) == "excludeempty":
        return sum(1 for v in ev.values(s, None, ctx) if v is not None)
    return len(s)


@fn("Item")
def _item(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    v = ev.ev(_arg(args, 0), ctx)
    i = _int(ev, _arg(args, 1), ctx, 0)
    if isinstance(v, list):
        return v[i] if 0 <= i < len(v) else None
    tup = ev.to_tuple(v)
    return tup[i] if 0 <= i < len(tup) else None


@fn("Value")
def _value(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    return ev.scalar(_arg(args, 0), ctx)


@fn("Ancestor")
def _ancestor(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    m = ev.member(_arg(args, 0), ctx)
    if m is None:
        return None
    v = ev.ev(_arg(args, 1), ctx)
    depth = v.depth if isinstance(v, Level) else m.depth - int(number(ev.to_scalar(v, ctx)))
    if depth < 0 or depth > m.depth:
        return None
    return ev.cat.member(m.hier, m.path[:depth])


@fn("Ascendants")
def _ascendants(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    m = ev.member(_arg(args, 0), ctx)
    out: SetV = []
    while m is not None:
        out.append((m,))
        m = ev.cat.parent(m) if m.calc is None else ev.cat.member(m.hier, m.path[:-1])
    return out


@fn("Descendants")
def _descendants(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    out: SetV = []
    for m, *_rest in ev.setv(_arg(args, 0), ctx):
        leaf = len(ev.cat.hiers[m.hier].levels) if not m.is_measure else m.depth
        lv = _arg(args, 1)
        flag = ev.word(_arg(args, 2))
        if lv is None:
            depth, flag = m.depth, flag or "self_before_after"
        else:
            v = ev.ev(lv, ctx)
            depth = v.depth if isinstance(v, Level) else m.depth + int(number(ev.to_scalar(v, ctx)))
        flag = flag or "self"
        lo, hi = {
            "self": (depth, depth),
            "after": (depth + 1, leaf),
            "before": (m.depth, depth - 1),
            "self_and_after": (depth, leaf),
            "self_and_before": (m.depth, depth),
            "self_before_after": (m.depth, leaf),
            "leaves": (leaf, leaf),
        }.get(flag, (depth, depth))
        out.extend((d,) for d in ev.descend(m, lo, hi))
    return out


@fn("CrossJoin", "NonEmptyCrossJoin")
def _crossjoin(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    return ev.crossjoin([ev.setv(x, ctx) for x in args if x is not None])


@fn("Hierarchize")
def _hierarchize(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    return ev.hierarchize(ev.setv(_arg(args, 0), ctx), post=ev.word(_arg(args, 1)) == "post")


@fn("DrilldownLevel")
def _drilldown_level(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    s = ev.setv(_arg(args, 0), ctx)
    if not s:
        return s
    index = 0
    level_arg = _arg(args, 1)
    by_index = _arg(args, 2) is not None and level_arg is None
    if _arg(args, 2) is not None:
        index = _int(ev, _arg(args, 2), ctx, 0)
        if not 0 <= index < len(s[0]):
            raise QueryError(f"DrilldownLevel: index {index} is not a position in the set's tuples")
    with_calcs = ev.word(_arg(args, 3)) == "include_calc_members"
    if level_arg is not None:
        lv = ev.ev(level_arg, ctx)
        if not isinstance(lv, Level):
            raise QueryError("DrilldownLevel: the second argument is a level")
        index = next((i for i, m in enumerate(s[0]) if m.hier == lv.hier), 0)
        depth = lv.depth
    else:
        depth = max(tup[index].depth for tup in s)
    out: SetV = []
    for i, tup in enumerate(s):
        out.append(tup)
        m = tup[index]
        if m.calc is not None or (m.depth != depth and not by_index):
            continue  # by index (`DrilldownLevel(s,, 1)`): every member at that position
        nxt = s[i + 1][index] if i + 1 < len(s) else None
        if not by_index and nxt is not None and nxt.depth > m.depth and nxt.path[: m.depth] == m.path:
            continue  # already drilled
        kids = ev.children(m)
        if with_calcs:
            kids += [c for c in ev.calc_members(m.hier) if c.path[:-1] == m.path]
        out.extend((*tup[:index], c, *tup[index + 1 :]) for c in kids)
    return out


@fn("DrilldownMember")
def _drilldown_member(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    s = ev.setv(_arg(args, 0), ctx)
    targets = {m for tup in ev.setv(_arg(args, 1), ctx) for m in tup}
    recursive = ev.word(_arg(args, 2)) == "recursive"
    with_calcs = ev.word(_arg(args, 4)) == "include_calc_members"
    out: SetV = []

    def emit(tup: Tup, depth: int) -> None:
        out.append(tup)
        if depth > MAX_NESTING:
            return
        for i, m in enumerate(tup):
            if m in targets and m.calc is None:
                kids = ev.children(m)
                if with_calcs:
                    kids += [c for c in ev.calc_members(m.hier) if c.path[:-1] == m.path]
                for c in kids:
                    child = (*tup[:i], c, *tup[i + 1 :])
                    if recursive:
                        emit(child, depth + 1)
                    else:
                        out.append(child)
                break

    for tup in s:
        emit(tup, 0)
    return out


@fn("Union")
def _union(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    sets = [x for x in args if x is not None and ev.word(x) != "all"]
    out = [tup for x in sets for tup in ev.setv(x, ctx)]
    return out if any(ev.word(x) == "all" for x in args) else _distinct(out)


@fn("Except")
def _except(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    _need(args, 2, "Except")
    first = ev.setv(args[0], ctx)  # first: it may name a set the second uses (`s AS [x]`)
    drop = set(ev.setv(args[1], ctx))
    kept = [tup for tup in first if tup not in drop]
    return kept if ev.word(_arg(args, 2)) == "all" else _distinct(kept)


@fn("Intersect")
def _intersect(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    _need(args, 2, "Intersect")
    keep = set(ev.setv(args[1], ctx))
    kept = [tup for tup in ev.setv(args[0], ctx) if tup in keep]
    return kept if ev.word(_arg(args, 2)) == "all" else _distinct(kept)


@fn("Distinct")
def _distinct_fn(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    return _distinct(ev.setv(_arg(args, 0), ctx))


@fn("Filter")
def _filter(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    _need(args, 2, "Filter")
    out = []
    for tup in ev.setv(args[0], ctx):
        try:
            inner = ev.over(ctx, tup)
        except _Null:
            continue
        if truthy(ev.scalar(args[1], inner)):
            out.append(tup)
    return out


@fn("Order")
def _order(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    _need(args, 2, "Order")
    s = ev.setv(args[0], ctx)
    flag = ev.word(_arg(args, 2)) or "asc"
    if flag not in ("asc", "desc", "basc", "bdesc"):
        raise QueryError(f"Order: '{flag}' is not ASC, DESC, BASC or BDESC")
    desc = flag in ("desc", "bdesc")
    values = ev.values(s, args[1], ctx)

    sv = _descending if desc else sort_value
    if flag in ("basc", "bdesc"):
        return [s[i] for i in sorted(range(len(s)), key=lambda i: sv(values[i]))]

    def key(i: int) -> tuple[Any, ...]:
        """Hierarchical order: under each ancestor, siblings by value (the ancestors' own values
        decide where their groups go), so a parent still comes before its children."""
        tup = s[i]
        m = tup[0]
        if m.is_measure or m.calc is not None:
            return ((sv(values[i]), 0),)
        parts: list[Any] = []
        # Each ancestor valued by the same expression; ties broken by the member's place, so
        # that a parent's key is a prefix of its children's.
        for d in range(1, m.depth + 1):
            anc = m if d == m.depth else ev.cat.member(m.hier, m.path[:d])
            v = values[i] if d == m.depth else ev.scalar(args[1], ev.over(ctx, (anc, *tup[1:])))
            parts.append((sv(v), ev.cat.position(anc)))
        return tuple(parts)

    if any(tup and not tup[0].is_measure and tup[0].calc is None and tup[0].depth > 1 for tup in s):
        return [s[i] for i in sorted(range(len(s)), key=key)]
    return [s[i] for i in sorted(range(len(s)), key=lambda i: sv(values[i]))]


def _descending(v: Any) -> tuple[Any, ...]:
    """sort_value reversed: the largest first, empty cells last."""
    rank, x = sort_value(v)
    return (-rank, -x) if rank < 2 else (-rank, x)


def _ranked(ev: Expressions, args: Args, ctx: Ctx, top: bool) -> SetV:
    _need(args, 2, "TopCount")
    s = ev.setv(args[0], ctx)
    n = max(_int(ev, args[1], ctx, 0), 0)
    if _arg(args, 2) is None:
        return s[:n]
    values = ev.values(s, args[2], ctx)
    key = _descending if top else sort_value
    order = sorted(range(len(s)), key=lambda i: key(values[i]))  # stable: ties keep the set's order
    return [s[i] for i in order[:n]]


@fn("TopCount")
def _topcount(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    return _ranked(ev, args, ctx, top=True)


@fn("BottomCount")
def _bottomcount(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    return _ranked(ev, args, ctx, top=False)


@fn("Head")
def _head(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    s = ev.setv(_arg(args, 0), ctx)
    return s[: max(_int(ev, _arg(args, 1), ctx, 1), 0)]


@fn("Tail")
def _tail(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    s = ev.setv(_arg(args, 0), ctx)
    n = max(_int(ev, _arg(args, 1), ctx, 1), 0)
    return s[len(s) - n :] if n else []


@fn("Subset")
def _subset(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    s = ev.setv(_arg(args, 0), ctx)
    start = _int(ev, _arg(args, 1), ctx, 0)
    count = _int(ev, _arg(args, 2), ctx, len(s))
    return s[start : start + count]


@fn("Generate")
def _generate(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    _need(args, 2, "Generate")
    out: SetV = []
    for tup in ev.setv(args[0], ctx):
        try:
            inner = ev.over(ctx, tup)
        except _Null:
            continue
        out.extend(ev.setv(args[1], inner))
    return out if ev.word(_arg(args, 2)) == "all" else _distinct(out)


@fn("Exists")
def _exists(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    _need(args, 2, "Exists")
    s1, s2 = ev.setv(args[0], ctx), ev.setv(args[1], ctx)
    if _arg(args, 2) is not None:  # with a measure group (the cube): non-empty together
        return _non_empty(ev, s1, s2, ctx)
    out = []
    for tup in s1:
        if any(all(_related(m, x) for m in tup for x in other if x.hier == m.hier) for other in s2):
            out.append(tup)
    return out


def _related(m: Member, x: Member) -> bool:
    n = min(m.depth, x.depth)
    return m.path[:n] == x.path[:n]


def _non_empty(ev: Expressions, s1: SetV, s2: SetV, ctx: Ctx) -> SetV:
    others = s2 or [()]
    out = []
    for tup in s1:
        for o in others:
            try:
                inner = ev.over(ev.over(ctx, tup), o)
            except _Null:
                continue
            if ev.cell(inner) is not None:
                out.append(tup)
                break
    return out


@fn("NonEmpty")
def _nonempty(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    return _non_empty(ev, ev.setv(_arg(args, 0), ctx), ev.setv(_arg(args, 1), ctx), ctx)


@fn("IIf")
def _iif(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    _need(args, 1, "IIf")
    return ev.ev(_arg(args, 1) if truthy(ev.scalar(args[0], ctx)) else _arg(args, 2), ctx)


@fn("IsEmpty")
def _isempty(ev: Expressions, args: Args, ctx: Ctx) -> bool:
    return ev.scalar(_arg(args, 0), ctx) is None


@fn("CoalesceEmpty")
def _coalesce(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    for x in args:
        v = ev.scalar(x, ctx)
        if v is not None:
            return v
    return None


@fn("Aggregate")
def _aggregate(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    s = ev.setv(_arg(args, 0), ctx)
    e = _arg(args, 1)
    if e is not None:
        v = ev.ev(e, ctx)
        if not isinstance(v, (Member, tuple)):  # a numeric expression: added up per tuple
            return _sum(ev.values(s, e, ctx))
        try:  # a measure (or tuple): the union of the set at it
            ctx = ev.over(ctx, ev.to_tuple(v))
        except _Null:
            return None
    return ev.aggregate(s, ctx)


@fn("Sum")
def _sum_fn(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    return _sum(ev.values(ev.setv(_arg(args, 0), ctx), _arg(args, 1), ctx))


@fn("Avg")
def _avg(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    present = [v for v in ev.values(ev.setv(_arg(args, 0), ctx), _arg(args, 1), ctx) if v is not None]
    return arithmetic("/", _sum(present), len(present)) if present else None


@fn("Min")
def _min(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    present = [v for v in ev.values(ev.setv(_arg(args, 0), ctx), _arg(args, 1), ctx) if v is not None]
    return min(present, key=lambda v: float(number(v))) if present else None


@fn("Max")
def _max(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    present = [v for v in ev.values(ev.setv(_arg(args, 0), ctx), _arg(args, 1), ctx) if v is not None]
    return max(present, key=lambda v: float(number(v))) if present else None


@fn("StrToMember", "StrToSet", "StrToTuple", "StrToValue")
def _str_to(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    text = ev.scalar(_arg(args, 0), ctx)
    return ev.ev(parse_expression(str(text)), ctx)


# --- time ---------------------------------------------------------------------------------------


def _time_member(ev: Expressions, e: a.Expr | None, ctx: Ctx) -> Member | None:
    if e is not None:
        return ev.member(e, ctx)
    h = ev.time_hier(ctx)
    try:
        return ev.current(h.key, ctx)
    except _Null:
        return None


def _to_date(role: TimeRole) -> Fn:
    def run(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
        m = _time_member(ev, _arg(args, 0), ctx)
        if m is None:
            return []
        h = ev.cat.hiers[m.hier]
        return [(x,) for x in ev.periods_to_date(ev.level_of_role(h, role), m)]

    return run


FUNCTIONS["ytd"] = _to_date(TimeRole.year)
FUNCTIONS["qtd"] = _to_date(TimeRole.quarter)
FUNCTIONS["mtd"] = _to_date(TimeRole.month)
DISPLAY += ["YTD", "QTD", "MTD"]


@fn("PeriodsToDate")
def _periods_to_date(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    m = _time_member(ev, _arg(args, 1), ctx)
    if m is None:
        return []
    level = _level_arg(ev, _arg(args, 0), ctx, m)
    if level is None:
        level = Level(m.hier, max(m.depth - 1, 0))
    return [(x,) for x in ev.periods_to_date(level, m)]


@fn("ParallelPeriod")
def _parallel_period(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    m = _time_member(ev, _arg(args, 2), ctx)
    if m is None:
        return None
    level = _level_arg(ev, _arg(args, 0), ctx, m) or Level(m.hier, max(m.depth - 1, 0))
    return ev.parallel(level, _int(ev, _arg(args, 1), ctx, 1), m)


@fn("LastPeriods")
def _last_periods(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    _need(args, 1, "LastPeriods")
    n = _int(ev, args[0], ctx, 1)
    m = _time_member(ev, _arg(args, 1), ctx)
    if m is None or n == 0:
        return []
    other = ev.shift(m, -(n - 1) if n > 0 else -(n + 1))
    if other is None:  # before the first member: as far as there are members
        step = -1 if n > 0 else 1
        other = m
        for _ in range(abs(n) - 1):
            nxt = ev.shift(other, step)
            if nxt is None:
                break
            other = nxt
    return ev.range(other, m) if n > 0 else ev.range(m, other)


def _opening(last: bool) -> Fn:
    def run(ev: Expressions, args: Args, ctx: Ctx) -> Any:
        m = _time_member(ev, _arg(args, 1), ctx)
        if m is None:
            return None
        level = _level_arg(ev, _arg(args, 0), ctx, m) or Level(m.hier, m.depth + 1)
        found = ev.descend(m, level.depth, level.depth)
        h = ev.cat.hiers.get(m.hier)
        if h is not None and h.is_time and m.depth > 0 and level.depth > m.depth:
            paths = t.descendants(m.path, h.roles, level.depth)
            found = [ev.cat.time_member(m.hier, p) for p in (paths[-1:] if last else paths[:1])]
        if not found:
            return None
        return found[-1] if last else found[0]

    return run


FUNCTIONS["openingperiod"] = _opening(last=False)
FUNCTIONS["closingperiod"] = _opening(last=True)
DISPLAY += ["OpeningPeriod", "ClosingPeriod"]
