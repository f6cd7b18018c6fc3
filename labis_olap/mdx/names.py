"""MDX names over a LabIS cube: hierarchies, levels, members and their unique names.

A member's unique name is `[dimension].[hierarchy].[level].&[key]…`, with one `&[key]` per
level from the top down to the member's own (the path, as cuts name it), so it stays unique
where a key alone is not (a municipality that moved region is one path under each region):

    [territory].[region].[municipality].&[LV00A]&[0001000]
    [time].[ymd].[month].&[2024]&[2]&[5]
    [territory].[region].[All]           the All member of a hierarchy
    [Measures].[registered_unemployed]

Names are also resolved as people write them, by caption or key where unambiguous:
`[territory].[Rīga]`, `[territory].[region].[LV00A].[Rīga]`, `[time].[2024].[2]`,
`[territory].&[LV00A]` (one `.&[key]` per level). An unknown or ambiguous name is a 400 naming
it, with a did-you-mean. Members come from the cube service (`members`, as the principal may
see them), listed once per level per statement.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import QueryError
from ..model.cuts import PointCut
from ..model.definition import Model
from ..model.diagnostics import did_you_mean
from ..model.schema import Cube, TimeRole
from ..query.cell import MembersQuery
from ..query.results import MembersResult
from . import ast as a
from . import time as t

MEASURES = "Measures"
HierKey = tuple[str, str]
"""(dimension as the cube names it, hierarchy)."""
ALL_CAPTION = {"lv": "Kopā", "en": "All"}
_QUARTER = re.compile(r"^[Qq]([1-4])$")


@dataclass(frozen=True)
class Hier:
    dim: str
    name: str
    levels: tuple[str, ...]
    level_captions: tuple[str, ...]
    caption: str
    roles: tuple[TimeRole | None, ...] = ()
    is_time: bool = False
    default: bool = True

    @property
    def key(self) -> HierKey:
        return (self.dim, self.name)

    @property
    def unique_name(self) -> str:
        return f"{a.bracket(self.dim)}.{a.bracket(self.name)}"

    def level_unique_name(self, depth: int) -> str:
        if depth == 0:
            return f"{self.unique_name}.[(All)]"
        return f"{self.unique_name}.{a.bracket(self.levels[depth - 1])}"


@dataclass(frozen=True)
class Member:
    """A member of a hierarchy (depth 0 is All), a measure, a calculated member (`calc`: its
    name, the path its parent's plus its own name), or a visual total (`visual`)."""

    hier: HierKey
    path: tuple[str | None, ...]
    calc: str | None = None
    caption: str = field(default="", compare=False)
    visual: frozenset[tuple[str | None, ...]] | None = None
    """VisualTotals: the paths of the set's members below this one whose union its cells are
    (None: the member's own cells)."""

    @property
    def depth(self) -> int:
        return len(self.path)

    @property
    def is_measure(self) -> bool:
        return self.hier[0] == MEASURES

    @property
    def is_all(self) -> bool:
        return not self.path and not self.is_measure

    def unique_name(self, hiers: dict[HierKey, Hier]) -> str:
        if self.is_measure:
            return f"[{MEASURES}].{a.bracket(self.path[0] or '')}"
        h = hiers[self.hier]
        if self.calc is not None:
            parents = "".join("&" + a.bracket(str(p)) for p in self.path[:-1])
            return h.unique_name + (f".{parents}" if parents else "") + "." + a.bracket(self.calc)
        if not self.path:
            return f"{h.unique_name}.[All]"
        keys = "".join("&" + a.bracket("__null__" if p is None else p) for p in self.path)
        return f"{h.level_unique_name(self.depth)}.{keys}"


@dataclass(frozen=True)
class Level:
    hier: HierKey
    depth: int


@dataclass(frozen=True)
class HierRef:
    """A hierarchy (or a dimension, standing for its default hierarchy) named as a value."""

    hier: HierKey


@dataclass(frozen=True)
class Word:
    """A bare word that names nothing in the cube: a flag (ASC, POST, SELF_AND_AFTER, …)."""

    text: str


class Catalog:
    """The cube's hierarchies and members as one principal sees them, for one statement."""

    def __init__(
        self,
        model: Model,
        cube: Cube,
        lang: str,
        members: Callable[[MembersQuery], MembersResult],
    ) -> None:
        self.model, self.cube, self.lang = model, cube, lang
        self._ask = members
        self.hiers: dict[HierKey, Hier] = {}
        self.dims: dict[str, list[Hier]] = {}
        for link in cube.dimensions:
            dim = model.dimensions[link.dimension]
            for h in dim.all_hierarchies:
                levels = [dim.level(n) for n in h.levels]
                hier = Hier(
                    link.alias,
                    h.name,
                    tuple(h.levels),
                    tuple(lv.label.get(lang) if lv.label else lv.name for lv in levels),
                    dim.label.get(lang) if dim.label else link.alias,
                    tuple(lv.role for lv in levels),
                    dim.is_time,
                    h.name == dim.default_hierarchy_name,
                )
                self.hiers[hier.key] = hier
                self.dims.setdefault(link.alias, []).append(hier)
        self.measures = [m.name for m in cube.measures]
        self.measure_captions = {m.name: (m.label.get(lang) if m.label else m.name) for m in cube.measures}
        self._levels: dict[tuple[HierKey, int], list[Member]] = {}
        self._positions: dict[tuple[HierKey, int], dict[tuple[str | None, ...], int]] = {}
        self.restrictions: dict[HierKey, frozenset[tuple[str | None, ...]]] = {}
        """Sub-selects' members per hierarchy: members unrelated to them are not listed."""
        self.member_calls = 0

    # --- hierarchies ---------------------------------------------------------------------------
    def default_hier(self, dim: str) -> Hier:
        return next(h for h in self.dims[dim] if h.default)

    def all_member(self, hk: HierKey) -> Member:
        return Member(hk, (), caption=ALL_CAPTION["en" if self.lang == "en" else "lv"])

    def measure(self, name: str) -> Member:
        return Member((MEASURES, MEASURES), (name,), caption=self.measure_captions.get(name, name))

    # --- members -------------------------------------------------------------------------------
    def level(self, hk: HierKey, depth: int) -> list[Member]:
        """The members of a level in the hierarchy's order, within the sub-selects' members."""
        if depth == 0:
            return [self.all_member(hk)]
        found = self._levels.get((hk, depth))
        if found is None:
            found = self._read(hk, depth)
            restricted = self.restrictions.get(hk)
            if restricted is not None:
                found = [m for m in found if related(m.path, restricted)]
            self._levels[(hk, depth)] = found
            self._positions[(hk, depth)] = {m.path: i for i, m in enumerate(found)}
        return found

    def listed(self, hk: HierKey, depth: int) -> list[Member] | None:
        """A level's members if this statement has listed them already (None: not asked)."""
        h = self.hiers[hk]
        return None if h.is_time else self._levels.get((hk, depth))

    def _read(self, hk: HierKey, depth: int) -> list[Member]:
        h = self.hiers[hk]
        self.member_calls += 1
        result = self._ask(
            MembersQuery(self.cube.name, h.dim, level=h.levels[depth - 1], hierarchy=h.name, lang=self.lang)
        )
        data = result.data
        keys = [data.column(f"{h.dim}.{lv}").to_pylist() for lv in h.levels[:depth]]
        label_col = f"{h.dim}.{h.levels[depth - 1]}_label"
        labels = data.column(label_col).to_pylist() if label_col in data.column_names else keys[-1]
        out, seen = [], set()
        for i, label in enumerate(labels):
            path = tuple(None if col[i] is None else str(col[i]) for col in keys)
            if path in seen:
                continue
            seen.add(path)
            shown = t.caption(path, h.roles) if h.is_time else ("" if label is None else str(label))
            out.append(Member(hk, path, caption=shown))
        if h.is_time:
            out.sort(key=lambda m: t.start(m.path, h.roles))
        return out

    def position(self, m: Member) -> int:
        """Where a member sorts among its level's members (time: by its date)."""
        h = self.hiers[m.hier]
        if h.is_time:
            return t.start(m.path, h.roles).toordinal()
        self.level(m.hier, m.depth)
        return self._positions[(m.hier, m.depth)].get(m.path, 1 << 30)

    def time_member(self, hk: HierKey, path: tuple[str | None, ...]) -> Member:
        h = self.hiers[hk]
        return Member(hk, path, caption=t.caption(path, h.roles))

    def children(self, m: Member) -> list[Member]:
        h = self.hiers[m.hier]
        if m.calc is not None or m.depth >= len(h.levels):
            return []
        if h.is_time and m.depth > 0:
            kids = [self.time_member(m.hier, p) for p in t.descendants(m.path, h.roles, m.depth + 1)]
            restricted = self.restrictions.get(m.hier)
            return [k for k in kids if restricted is None or related(k.path, restricted)]
        return [c for c in self.level(m.hier, m.depth + 1) if c.path[: m.depth] == m.path]

    def descendants_at(self, m: Member, depth: int) -> list[Member]:
        if depth <= m.depth:
            return [m] if depth == m.depth else []
        h = self.hiers[m.hier]
        if h.is_time and m.depth > 0:
            kids = [self.time_member(m.hier, p) for p in t.descendants(m.path, h.roles, depth)]
            restricted = self.restrictions.get(m.hier)
            return [k for k in kids if restricted is None or related(k.path, restricted)]
        return [c for c in self.level(m.hier, depth) if c.path[: m.depth] == m.path]

    def parent(self, m: Member) -> Member | None:
        if m.is_measure or m.depth == 0:
            return None
        if m.depth == 1:
            return self.all_member(m.hier)
        return self.member(m.hier, m.path[:-1])

    def member(self, hk: HierKey, path: tuple[str | None, ...]) -> Member:
        """The member with this path (its caption looked up), All for the empty path."""
        if not path:
            return self.all_member(hk)
        h = self.hiers[hk]
        if h.is_time:
            return self.time_member(hk, path)
        for m in self.level(hk, len(path)):
            if m.path == path:
                return m
        return Member(hk, path, caption=str(path[-1]))

    def exists(self, hk: HierKey, path: tuple[str | None, ...]) -> bool:
        h = self.hiers[hk]
        if h.is_time:
            return t.valid(path, h.roles)
        return any(m.path == path for m in self.level(hk, len(path)))

    # --- resolving names -----------------------------------------------------------------------
    def resolve(self, name: a.Name, calcs: dict[tuple[str, ...], Member]) -> Any:
        """What a name means: a Member, a Level, a HierRef or a Word (an unknown bare word)."""
        parts = name.parts
        text = [p.text.lower() if isinstance(p, a.Seg) else None for p in parts]
        key = tuple(x or "" for x in text)
        if all(x is not None for x in text) and key in calcs:
            return calcs[key]
        first = parts[0]
        if not isinstance(first, a.Seg):
            raise self._unknown(name, "a name starts with a dimension, not a key")
        if first.text.lower() == MEASURES.lower():
            return self._measure(name, parts[1:], calcs)
        dim = self._dimension(first.text)
        if dim is None:
            if len(parts) == 1 and not first.quoted:
                return Word(first.text)
            found = self._anywhere(first) if len(parts) == 1 else None
            if found is not None:
                return found
            choices = [*self.dims, MEASURES]
            raise self._unknown(
                name, f"the cube '{self.cube.name}' has no dimension '{first.text}'", first.text, choices
            )
        rest = list(parts[1:])
        hier = self.default_hier(dim)
        if rest and isinstance(rest[0], a.Seg):
            word = rest[0].text.lower()
            for h in self.dims[dim]:
                if h.name.lower() == word:
                    hier = h
                    rest.pop(0)
                    break
            else:  # `[Time].[Time]`: the default hierarchy named as its dimension, as Mondrian does
                if word in (dim.lower(), hier.caption.lower()) and word not in (
                    lv.lower() for lv in (*hier.levels, *hier.level_captions)
                ):
                    rest.pop(0)
        if not rest:
            return HierRef(hier.key)
        level = None
        if isinstance(rest[0], a.Seg):
            word = rest[0].text.lower()
            if word == "all" or word.startswith("all "):
                rest.pop(0)
                if not rest:
                    return self.all_member(hier.key)
                return self._descend(name, hier, self.all_member(hier.key), rest)
            if word == "(all)":
                rest.pop(0)
                level = 0
            else:
                for i, lv in enumerate(hier.levels):
                    if word in (lv.lower(), hier.level_captions[i].lower()):
                        level = i + 1
                        rest.pop(0)
                        break
        if level is not None and not rest:
            return Level(hier.key, level)
        if level is not None and isinstance(rest[0], a.Keys):
            keys = rest.pop(0).keys  # type: ignore[union-attr]
            m = self._by_keys(name, hier, level, keys)
            return self._descend(name, hier, m, rest)
        return self._descend(name, hier, self.all_member(hier.key), rest)

    def _dimension(self, text: str) -> str | None:
        low = text.lower()
        for d, hs in self.dims.items():
            if d.lower() == low or hs[0].caption.lower() == low:
                return d
        return None

    def _measure(self, name: a.Name, rest: tuple[a.Part, ...], calcs: dict[tuple[str, ...], Member]) -> Any:
        if not rest:
            return HierRef((MEASURES, MEASURES))
        part = rest[0]
        text = part.text if isinstance(part, a.Seg) else part.keys[-1]
        low = text.lower()
        for m in self.measures:
            if m.lower() == low or self.measure_captions[m].lower() == low:
                return self.measure(m)
        calc_names = [k[1] for k in calcs if k[0] == MEASURES.lower() and len(k) == 2]
        raise self._unknown(
            name, f"the cube '{self.cube.name}' has no measure '{text}'", text, [*self.measures, *calc_names]
        )

    def _by_keys(self, name: a.Name, hier: Hier, level: int, keys: tuple[str, ...]) -> Member:
        path: tuple[str | None, ...] = tuple(None if k == "__null__" else k for k in keys)
        if len(path) == level:
            if self.exists(hier.key, path):
                return self.member(hier.key, path)
        elif len(path) == 1 and not hier.is_time:
            found = [m for m in self.level(hier.key, level) if m.path[-1] == path[0]]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                shown = ", ".join(m.unique_name(self.hiers) for m in found[:4])
                raise QueryError(
                    f"'{a.expr_mdx(name)}' is ambiguous: the key is under several parents",
                    hint=f"name the whole path, e.g. one of {shown}",
                )
        keys_at = [str(m.path[-1]) for m in self.level(hier.key, level)] if not hier.is_time else []
        raise self._unknown(
            name,
            f"level '{hier.levels[level - 1]}' of '{hier.dim}' has no member with key {list(keys)}",
            keys[-1],
            keys_at,
        )

    def _descend(self, name: a.Name, hier: Hier, m: Member, rest: list[a.Part]) -> Member:
        """Members named one part at a time below `m`: by key (`&[k]`) or by caption or key."""
        for i, part in enumerate(rest):
            if isinstance(part, a.Keys):
                for k in part.keys:
                    m = self._child(name, hier, m, k, by_key=True)
                continue
            if i == 0 and m.is_all:
                top = self._child_or_none(hier, m, part.text)
                if top is None:  # `[territory].[Rīga]`: a member at any level, if only one
                    top = self._at_any_level(name, hier, part.text)
                m = top
                continue
            m = self._child(name, hier, m, part.text, by_key=False)
        return m

    def _child_or_none(self, hier: Hier, m: Member, text: str, by_key: bool = False) -> Member | None:
        if hier.is_time:  # a calendar: a valid key is a member, no list needed
            if m.depth < len(hier.roles) and hier.roles[m.depth] == TimeRole.quarter:
                text = _QUARTER.sub(r"\1", text)  # Mondrian's and SSAS's `[Q2]`
            path = (*m.path, text)
            if len(path) <= len(hier.levels) and t.valid(path, hier.roles):
                return self.time_member(hier.key, path)
            return next((k for k in self.children(m) if not by_key and k.caption == text), None)
        kids = self.children(m)
        for k in kids:
            if k.path[-1] == text:
                return k
        if by_key:
            return None
        low = text.lower()
        found = [k for k in kids if k.caption.lower() == low]
        return found[0] if len(found) == 1 else None

    def _child(self, name: a.Name, hier: Hier, m: Member, text: str, by_key: bool) -> Member:
        found = self._child_or_none(hier, m, text, by_key)
        if found is None:
            kids = self.children(m)
            under = "the top level" if m.is_all else f"'{m.caption}'"
            raise self._unknown(
                name,
                f"'{hier.dim}' has no member '{text}' under {under}",
                text,
                [k.caption for k in kids] + [str(k.path[-1]) for k in kids],
            )
        return found

    def _at_any_level(self, name: a.Name, hier: Hier, text: str) -> Member:
        low = text.lower()
        found: list[Member] = []
        for depth in range(1, len(hier.levels) + 1):
            if hier.is_time:
                break
            found += [
                m for m in self.level(hier.key, depth) if m.caption.lower() == low or m.path[-1] == text
            ]
        unique = list(dict.fromkeys(found))
        if len(unique) == 1:
            return unique[0]
        if len(unique) > 1:
            shown = ", ".join(m.unique_name(self.hiers) for m in unique[:4])
            raise QueryError(
                f"'{a.expr_mdx(name)}' is ambiguous: {len(unique)} members are called '{text}'",
                hint=f"use a unique name, e.g. {shown}",
            )
        choices = []
        if not hier.is_time:
            choices = [m.caption for d in range(1, len(hier.levels) + 1) for m in self.level(hier.key, d)]
        raise self._unknown(name, f"'{hier.dim}' has no member '{text}'", text, choices)

    def _anywhere(self, part: a.Seg) -> Member | None:
        """`[Rīga]` alone: a member of any hierarchy called so, if exactly one is."""
        found: list[Member] = []
        for h in self.hiers.values():
            if not h.default or h.is_time:
                continue
            for depth in range(1, len(h.levels) + 1):
                found += [m for m in self.level(h.key, depth) if m.caption.lower() == part.text.lower()]
        return found[0] if len(found) == 1 else None

    def _unknown(
        self, name: a.Name, message: str, word: str | None = None, choices: list[str] | None = None
    ) -> QueryError:
        where = f" (line {name.pos[0]}, column {name.pos[1]})" if name.pos else ""
        hint = did_you_mean(word, choices) if word is not None and choices else None
        return QueryError(f"unknown name {a.expr_mdx(name)}{where}: {message}", hint=hint)


def related(path: tuple[str | None, ...], allowed: frozenset[tuple[str | None, ...]]) -> bool:
    """Whether a member is one of `allowed`, above one of them or below one."""
    return any(path[: len(p)] == p or p[: len(path)] == path for p in allowed)


def cut_of(hier: Hier, path: tuple[str | None, ...]) -> PointCut:
    return PointCut(hier.dim, path, hier.name)
