"""Functional dependencies between a dimension's levels, read from its members.

A level's key determines another level's key when no member key of the first has two
different keys of the second (city → nation → region). A rollup that stores a middle level can
then answer queries that also need the levels it determines, by mapping each stored key once,
where otherwise every such query (any cut or drilldown path starts at the top level) would
pass it over for the facts. Only the members decide: a hierarchy's order says nothing about
whether keys are unique under their parents.

The empty key is the unknown member (a fact key missing from the members, or NULL): it maps to
the unknown member of every other level, so a member whose key is '' at one level and not at
another breaks that dependency rather than absorb the unknown facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .definition import Model
from .diagnostics import Location
from .schema import Cube, Dimension


def _s(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class LevelParents:
    """For one level: every other level it determines, each as stored key → that level's key."""

    maps: dict[str, dict[str, str]]
    conflicts: dict[str, tuple[str, str, str]]
    """Levels it does not determine → (a key, two different keys of that level under it)."""


_CACHE: dict[tuple[int, str, str], tuple[Model, LevelParents]] = {}


def level_parents(model: Model, dim: Dimension, level: str) -> LevelParents:
    """The levels `level` of `dim` determines, from its members (cached per model)."""
    key = (id(model), dim.name, level)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is model:
        return hit[1]
    found = _compute(model, dim, level)
    _CACHE[key] = (model, found)
    return found


def _compute(model: Model, dim: Dimension, level: str) -> LevelParents:
    own = dim.level(level).key_column
    others = {lv.name: lv.key_column for lv in dim.levels if lv.name != level}
    maps: dict[str, dict[str, str]] = {name: {"": ""} for name in others}
    conflicts: dict[str, tuple[str, str, str]] = {}
    if dim.is_versioned:
        # Parents as at a date: which one holds depends on the date asked, not on the key alone.
        return LevelParents({}, {name: ("", "", "") for name in others})
    for row in model.members.get(dim.name, []):
        k = _s(row.get(own))
        for name, column in others.items():
            if name in conflicts:
                continue
            p = _s(row.get(column))
            seen = maps[name].setdefault(k, p)
            if seen != p:
                conflicts[name] = (k, seen, p)
                del maps[name]
    return LevelParents(maps, conflicts)


def determined(model: Model, dim: Dimension, level: str) -> frozenset[str]:
    """The level itself and every level its key determines."""
    return frozenset({level, *level_parents(model, dim, level).maps})


@dataclass(frozen=True)
class RollupWarning:
    code: str
    message: str
    location: Location

    def render(self) -> str:
        loc = self.location
        return f"{loc.path}:{loc.line}:{loc.col}: warning[{self.code}] {self.message}"


def unusable_rollup_levels(model: Model, cube: Cube) -> list[RollupWarning]:
    """Rollups that keep a dimension at a level no query on that dimension can be answered at.

    Every cut and drilldown names a path from the top of a hierarchy, so a rollup at `state`
    serves a store query only if its members say which country each state is in. Such a rollup
    still answers queries that leave the dimension out; the warning says it was probably meant
    to do more (W201)."""
    out: list[RollupWarning] = []
    doc = model.docs.get(("cube", cube.name))
    links = {link.alias: link for link in cube.dimensions}
    for i, r in enumerate(cube.rollups):
        for alias, level in r.grain.items():
            link = links.get(alias)
            dim = model.dimensions.get(link.dimension) if link else None
            if dim is None or dim.is_time or level not in {lv.name for lv in dim.levels}:
                continue
            if level == dim.leaf.name and (dim.keyed_at_leaf or dim.is_versioned):
                continue  # the rollup keeps the raw fact key, mapped to any level when asked
            parents = level_parents(model, dim, level)
            blocked: list[str] = []
            for h in dim.all_hierarchies:
                if level not in h.levels:
                    continue
                above = h.levels[: h.levels.index(level)]
                missing = [a for a in above if a in parents.conflicts]
                if not missing:
                    blocked = []
                    break
                blocked.append(missing[0])
            if not blocked:
                continue
            up = blocked[0]
            k, a, b = parents.conflicts[up]
            why = (
                "its members are versioned"
                if dim.is_versioned
                else f"'{level}' {k!r} is under both {a!r} and {b!r} at '{up}'"
            )
            message = (
                f"rollup '{r.name}' keeps '{alias}' at '{level}', but no query on '{alias}' can use it:"
                f" every path to '{level}' passes '{up}', and {why}"
            )
            loc = doc.loc(("rollups", i, "grain", alias)) if doc is not None else Location(cube.name)
            out.append(RollupWarning("W201", message, loc))
    return out
