"""Cell values for MDX, pushed down to the cube service: one `aggregate` per grain.

An MDX cell is a coordinate: a stored measure and, per hierarchy, a member (a point at some
level) or several members at once (a Slice: their union). Evaluating a statement asks for cells
it does not have yet; they are collected, and answered together: coordinates with the same
grain — the same hierarchies at the same levels, the same slices — become one CubeQuery that
drills those levels, with a set cut of the members asked for on each, every measure asked for
at once. Grains that differ only in how deep they drill one hierarchy (a region and its
municipalities, the All member) are one query too: drilled to the deepest level with
`subtotals="rollup"`, whose grouping sets are the coarser levels. Nothing is aggregated here;
the cube service applies roles, limits and caches to every query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..model.cuts import Cut, Drilldown, Path, PointCut, RangeCut, SetCut
from ..query.cell import CubeQuery
from ..service.cellset import STATUS, CellSet
from . import time as t
from .names import MEASURES, Catalog, HierKey, Member
from .values import Coordinate, Slice

MAX_SET_CUT = 256
"""More members than this on one hierarchy: drill the level without a cut (the service's
default bound on a set cut's members), and pick the cells asked for from the answer."""

Point = tuple[HierKey, str, Any]
"""(hierarchy, "p", path) for a member, (hierarchy, "s", frozenset of paths) for a slice."""
Key = tuple[str, frozenset[Point]]
"""A stored cell: the measure and its points."""


@dataclass
class Stats:
    aggregates: int = 0
    rounds: int = 0
    queries: list[CubeQuery] = field(default_factory=list)


class CellStore:
    def __init__(self, catalog: Catalog, ask: Callable[[CubeQuery], CellSet]) -> None:
        self.catalog = catalog
        self._ask = ask
        self.values: dict[Key, Any] = {}
        self.hidden: dict[Key, str] = {}
        """Cells disclosure control withholds (docs/disclosure.md): their status, value None."""
        self.read: set[str] | None = None
        """The statuses of the withheld cells read since it was set to an empty set: a value
        computed from one (a calculated member) is withheld too, never a sum that silently
        leaves it out."""
        self.pending: set[Key] = set()
        self.stats = Stats()
        self.restrictions: dict[HierKey, frozenset[Path]] = {}
        """Sub-selects' members: the All member (or an ancestor) of a hierarchy stands for
        their union (visual totals); a member outside them has empty cells."""
        self.merge = True
        """Answer prefixes of one hierarchy with rollup subtotals in one query (off: one query
        per grain, the simplest plan, kept for tests that compare the two)."""

    def key(self, measure: str, ctx: dict[HierKey, Coordinate]) -> Key | None:
        """The stored cell of a context (no calculated member left in it), or None if empty."""
        points: list[Point] = []
        for hk, v in ctx.items():
            if hk[0] == MEASURES:
                continue
            if v is None:
                return None
            paths = self._restricted(hk, v)
            if paths is None:
                return None
            if not paths:
                continue
            if len(paths) == 1:
                points.append((hk, "p", next(iter(paths))))
            else:
                points.append((hk, "s", frozenset(paths)))
        for hk, allowed in self.restrictions.items():
            if hk not in ctx:
                points.append((hk, "s", allowed) if len(allowed) > 1 else (hk, "p", next(iter(allowed))))
        return (measure, frozenset(points))

    def _restricted(self, hk: HierKey, v: Member | Slice) -> set[Path] | None:
        """The paths a coordinate stands for under the sub-selects (empty: All, no cut; None:
        outside them, an empty cell)."""
        paths = set(v.paths) if isinstance(v, Slice) else ({v.path} if v.path else set())
        if () in paths:  # a union with the All member is the All member
            paths = set()
        allowed = self.restrictions.get(hk)
        if allowed is None:
            return paths
        if not paths:
            return set(allowed)
        out: set[Path] = set()
        for p in paths:
            if any(p[: len(r)] == r for r in allowed):
                out.add(p)
            else:
                out |= {r for r in allowed if r[: len(p)] == p}
        return out or None

    def get(self, key: Key) -> Any:
        if key in self.values:
            if self.read is not None and key in self.hidden:
                self.read.add(self.hidden[key])
            return self.values[key]
        self.pending.add(key)
        return None

    # --- answering pending cells --------------------------------------------------------------
    def fetch(self) -> None:
        groups: dict[Any, list[Key]] = defaultdict(list)
        for key in self.pending:
            _, points = key
            sets = frozenset((hk, v) for hk, kind, v in points if kind == "s")
            hiers = frozenset(hk for hk, kind, _ in points if kind == "p")
            depths = tuple(sorted((hk, len(v)) for hk, kind, v in points if kind == "p"))
            groups[(sets, hiers if self.merge else depths)].append(key)
        self.pending = set()
        for (sets, _), keys in groups.items():
            if self.merge:
                for part in self._by_rollup(keys):
                    self._answer(sets, part)
            else:
                self._answer(sets, keys)

    def _by_rollup(self, keys: list[Key]) -> list[list[Key]]:
        """Keys of one set of hierarchies split so that each part differs in depth on one
        hierarchy only — the one whose depths vary most — drilled last: one rollup query
        answers a part (its grouping sets are that hierarchy's coarser levels)."""
        depths = [{hk: len(v) for hk, kind, v in key[1] if kind == "p"} for key in keys]
        seen: dict[HierKey, set[int]] = defaultdict(set)
        for d in depths:
            for hk, n in d.items():
                seen[hk].add(n)
        if not seen:
            return [keys]
        varying = max(seen, key=lambda hk: (len(seen[hk]), hk))
        by_rest: dict[Any, list[Key]] = defaultdict(list)
        for key, d in zip(keys, depths, strict=True):
            by_rest[tuple(sorted((hk, n) for hk, n in d.items() if hk != varying))].append(key)
        return list(by_rest.values())

    def _answer(self, sets: frozenset[tuple[HierKey, frozenset[Path]]], keys: list[Key]) -> None:
        cat = self.catalog
        measures = sorted({k[0] for k in keys})
        paths: dict[HierKey, set[Path]] = defaultdict(set)
        for _, points in keys:
            for hk, kind, v in points:
                if kind == "p":
                    paths[hk].add(v)
        depth = {hk: max(len(p) for p in ps) for hk, ps in paths.items()}
        # one member on a hierarchy for every key (a slicer's): a cut, not a drilldown
        # (one hierarchy stays drilled: a cell without facts has no row, so it is empty, where
        # a grand total would say 0 for a count)
        fixed = {hk for hk, ps in paths.items() if len(ps) == 1}
        drilled = [hk for hk in paths if hk not in fixed]
        if not drilled and fixed:
            keep = max(fixed, key=lambda hk: (depth[hk], hk))
            fixed.discard(keep)
            drilled = [keep]
        order = sorted(drilled, key=lambda hk: (hk != _last(keys, depth), hk))[::-1]
        # the hierarchy whose depth varies is drilled last, so `rollup` gives its prefixes
        drills: list[Drilldown] = []
        cuts: list[Cut] = []
        for hk in sorted(fixed):  # one member: a point cut (what a publication role may cut by)
            h = cat.hiers[hk]
            cuts.append(PointCut(h.dim, next(iter(paths[hk])), h.name))
        for hk in order:
            h = cat.hiers[hk]
            drills.append(Drilldown(h.dim, h.name, h.levels[depth[hk] - 1]))
            top = _minimal(paths[hk])
            if self._whole_level(hk, top):
                continue  # every member of the top level: the cut would only slow the query down
            cut = _cut(h.dim, h.name, top, h.is_time, h.roles)
            if cut is not None:
                cuts.append(cut)
        for hk, ps in sets:
            h = cat.hiers[hk]
            cut = _cut(h.dim, h.name, _minimal(set(ps)), h.is_time, h.roles, whole=True)
            if cut is not None:
                cuts.append(cut)
        varied = any(len(p) < depth[hk] for hk in drilled for p in paths[hk])
        query = CubeQuery(
            cat.cube.name,
            tuple(measures),
            tuple(cuts),
            tuple(drills),
            lang=cat.lang,
            subtotals="rollup" if varied else "none",
        )
        self.stats.aggregates += 1
        self.stats.queries.append(query)
        answer = self._ask(query)
        rows: dict[tuple[Any, ...], dict[str, Any]] = {}
        if not drills:
            rows[()] = answer.summary or {}
        else:
            self._rows(rows, order, answer.cells.to_pylist(), {hk: depth[hk] for hk in order})
            for sub in answer.subtotals:
                kept = {hk: len(sub.levels.get(_level_key(cat, hk), [])) for hk in order}
                self._rows(rows, order, sub.rows.to_pylist(), kept)
            if answer.summary is not None:
                rows.setdefault(tuple(() for _ in order), answer.summary)
        for key in keys:
            measure, points = key
            at = {hk: v for hk, kind, v in points if kind == "p"}
            row = rows.get(tuple(at.get(hk, ()) for hk in order))
            self.values[key] = None if row is None else row.get(measure)
            status = None if row is None else row.get(measure + STATUS)
            if status and self.values[key] is None:  # a perturbed count keeps its value
                self.hidden[key] = status

    def _whole_level(self, hk: HierKey, paths: list[Path]) -> bool:
        """Whether the paths are all the members of the hierarchy's first level as already
        listed (no sub-select restricting it; roles are applied by the service either way)."""
        if hk in self.restrictions or not paths or any(len(p) != 1 for p in paths):
            return False
        listed = self.catalog.listed(hk, 1)
        return listed is not None and {m.path for m in listed} == set(paths)

    def _rows(
        self,
        out: dict[tuple[Any, ...], dict[str, Any]],
        order: list[HierKey],
        rows: list[dict[str, Any]],
        depths: dict[HierKey, int],
    ) -> None:
        cols = {}
        for hk in order:
            h = self.catalog.hiers[hk]
            cols[hk] = [f"{h.dim}.{lv}" for lv in h.levels[: depths[hk]]]
        for r in rows:
            at = tuple(tuple(None if r[c] is None else str(r[c]) for c in cols[hk]) for hk in order)
            out[at] = r


def _level_key(cat: Catalog, hk: HierKey) -> str:
    """How a cell set's levels name a drilled hierarchy (Slicer's `dim` or `dim@hierarchy`)."""
    h = cat.hiers[hk]
    return h.dim if h.default else f"{h.dim}@{h.name}"


def _last(keys: list[Key], depth: dict[HierKey, int]) -> HierKey | None:
    for _, points in keys:
        for hk, kind, v in points:
            if kind == "p" and len(v) < depth[hk]:
                return hk
    return None


def _minimal(paths: set[Path]) -> list[Path]:
    """The paths without those under another one (a region and its municipality: the region)."""
    out = [p for p in paths if not any(len(q) < len(p) and p[: len(q)] == q for q in paths)]
    return sorted(out, key=lambda p: tuple("" if x is None else x for x in p))


def _cut(
    dim: str,
    hier: str,
    paths: list[Path],
    is_time: bool,
    roles: Any,
    *,
    whole: bool = False,
) -> Cut | None:
    """A set cut of the paths; a contiguous run of periods as a range; no cut for too many
    points (they are picked from the drilled answer) — but a slice always needs its cut."""
    if not paths:
        return None
    if is_time and len(paths) > 1 and len({len(p) for p in paths}) == 1:
        ordered = sorted(paths, key=lambda p: t.start(p, roles))
        if t.between(ordered[0], ordered[-1], roles) == ordered:
            return RangeCut(dim, ordered[0], ordered[-1], hier)
    if len(paths) > MAX_SET_CUT and not whole:
        return None
    return SetCut(dim, tuple(paths), hier)
