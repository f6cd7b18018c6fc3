"""The drill functions a pivot table sends when a user opens and closes members (DrillupLevel,
DrillupMember, ToggleDrillState), VisualTotals and Rank.

They only rearrange sets of members; the cells they lead to are asked of the store like any
other. Members are compared by the first hierarchy of each tuple, as DrilldownMember does.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..errors import NotSupportedError, QueryError
from .functions import MAX_NESTING, Args, Ctx, Expressions, _arg, _descending, _need, fn
from .names import Level, Member
from .values import SetV


def _below(m: Member, ancestor: Member) -> bool:
    """Whether `m` is a proper descendant of `ancestor` (same hierarchy, longer path)."""
    n = ancestor.depth if ancestor.calc is None else -1
    return m.hier == ancestor.hier and n >= 0 and m.depth > n and m.path[:n] == ancestor.path


@fn("DrillupLevel")
def _drillup_level(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    """The tuples at or above the level (no level: all but those of the set's lowest level)."""
    s = ev.setv(_arg(args, 0), ctx)
    if not s:
        return s
    level_arg = _arg(args, 1)
    if level_arg is not None:
        lv = ev.ev(level_arg, ctx)
        if not isinstance(lv, Level):
            raise QueryError("DrillupLevel: the second argument is a level")
        index = next((i for i, m in enumerate(s[0]) if m.hier == lv.hier), None)
        if index is None:
            raise QueryError("DrillupLevel: the level is not of a hierarchy of the set")
        return [tup for tup in s if tup[index].depth <= lv.depth]
    deepest = max(tup[0].depth for tup in s)
    return [tup for tup in s if tup[0].depth < deepest]


@fn("DrillupMember")
def _drillup_member(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    """The first set without the descendants of those of its members that are in the second."""
    _need(args, 2, "DrillupMember")
    s = ev.setv(args[0], ctx)
    targets = {tup[0] for tup in ev.setv(args[1], ctx) if tup}
    out: SetV = []
    seen: list[Member] = []
    for tup in s:
        m = tup[0]
        if any(_below(m, t) for t in seen):
            continue
        out.append(tup)
        if m in targets:
            seen.append(m)
    return out


@fn("ToggleDrillState")
def _toggle(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    """Members of the second set drilled up if the first set shows their descendants after
    them, drilled down (their children inserted after them; RECURSIVE: all the way) if not."""
    _need(args, 2, "ToggleDrillState")
    s = ev.setv(args[0], ctx)
    targets = {tup[0] for tup in ev.setv(args[1], ctx) if tup}
    recursive = ev.word(_arg(args, 2)) == "recursive"
    out: SetV = []

    def down(tup: Tup, depth: int) -> None:
        if depth > MAX_NESTING:
            return
        for c in ev.children(tup[0]):
            child = (c, *tup[1:])
            out.append(child)
            if recursive:
                down(child, depth + 1)

    i = 0
    while i < len(s):
        tup = s[i]
        out.append(tup)
        i += 1
        m = tup[0]
        if m not in targets or m.calc is not None:
            continue
        if i < len(s) and _below(s[i][0], m):
            while i < len(s) and _below(s[i][0], m):
                i += 1  # drilled: closed
        else:
            down(tup, 0)
    return out


Tup = tuple[Member, ...]


@fn("VisualTotals")
def _visual_totals(ev: Expressions, args: Args, ctx: Ctx) -> SetV:
    """Each member followed in the set by descendants of its own stands for the union of the
    lowest of them (a parent shows the total of what is visible under it, a distinct count
    included); an optional pattern names it, `*` for its caption (`**` a literal star)."""
    s = ev.setv(_arg(args, 0), ctx)
    pattern_arg = _arg(args, 1)
    pattern = None if pattern_arg is None else ev.scalar(pattern_arg, ctx)
    if any(len(tup) != 1 for tup in s):
        raise NotSupportedError(
            "VisualTotals over tuples of several hierarchies",
            hint="apply VisualTotals to each hierarchy's set, then CrossJoin them",
        )
    out: SetV = []
    for i, (m,) in enumerate(s):
        if m.is_measure or m.calc is not None or m.visual is not None:
            out.append((m,))
            continue
        under: list[Member] = []
        for (x,) in s[i + 1 :]:  # the descendants that follow it (Mondrian's reading)
            if not _below(x, m):
                break
            if x.calc is None:
                under.append(x)
        leaves = frozenset(x.path for x in under if not any(_below(y, x) for y in under))
        if not leaves:
            out.append((m,))
            continue
        caption = m.caption
        if pattern is not None:
            caption = "*".join(part.replace("*", m.caption) for part in str(pattern).split("**"))
        out.append((replace(m, visual=leaves, caption=caption),))
    return out


@fn("Rank")
def _rank(ev: Expressions, args: Args, ctx: Ctx) -> Any:
    """The 1-based place of a tuple in a set (0 if absent); with an expression, its rank by
    that value, largest first, ties sharing a rank and the ranks after them skipped."""
    _need(args, 2, "Rank")
    tup = ev.to_tuple(ev.ev(args[0], ctx))
    s = ev.setv(args[1], ctx)
    if tup not in s:
        return 0
    if _arg(args, 2) is None:
        return s.index(tup) + 1
    values = ev.values(s, args[2], ctx)
    mine = _descending(values[s.index(tup)])
    return 1 + sum(1 for v in values if _descending(v) < mine)
