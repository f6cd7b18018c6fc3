"""Cuts resolved against the model: which dimension, hierarchy and levels a cut means, which
period a time path covers, with did-you-mean errors.

Model-level because the model's own indicators carry cuts that validation must resolve; the
query layer resolves drilldowns and measures on top of this (query/resolve.py).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from dataclasses import replace as dataclass_replace

from ..errors import NotFoundError, QueryError
from .cuts import Cut, Path, PointCut, RangeCut, SetCut
from .definition import Model
from .diagnostics import did_you_mean
from .schema import Cube, Dimension, Hierarchy, Level, TimeRole


@dataclass(frozen=True)
class DimRef:
    alias: str
    dim: Dimension
    hierarchy: Hierarchy

    def levels(self, depth: int) -> list[Level]:
        return [self.dim.level(n) for n in self.hierarchy.levels[:depth]]


@dataclass(frozen=True)
class ResolvedCut:
    ref: DimRef
    cut: Cut

    @property
    def depth(self) -> int:
        """How many levels of the hierarchy the cut's paths reach."""
        paths = cut_paths(self.cut)
        return max(len(p) for p in paths)


def cut_paths(cut: Cut) -> list[Path]:
    if isinstance(cut, PointCut):
        return [cut.path]
    if isinstance(cut, SetCut):
        return list(cut.paths)
    return [p for p in (cut.from_path, cut.to_path) if p is not None]


def navigable(dim: Dimension | None) -> bool:
    """Whether cuts can be resolved on a dimension (if not, its problem is reported elsewhere:
    it is unknown, or a hierarchy names levels it does not have)."""
    if dim is None:
        return False
    levels = {lv.name for lv in dim.levels}
    hierarchies = dim.all_hierarchies
    return dim.default_hierarchy_name in {h.name for h in hierarchies} and all(
        n in levels for h in hierarchies for n in h.levels
    )


def resolvable(model: Model, cube: Cube) -> bool:
    """Whether cuts can be resolved on every dimension the cube links."""
    return all(navigable(model.dimensions.get(d.dimension)) for d in cube.dimensions)


def dim_ref(model: Model, cube: Cube, alias: str, hierarchy: str | None) -> DimRef:
    aliases = [d.alias for d in cube.dimensions]
    if alias not in aliases:
        raise NotFoundError(
            f"cube '{cube.name}' has no dimension '{alias}'", hint=did_you_mean(alias, aliases)
        )
    dim = model.dimensions[cube.link(alias).dimension]
    names = [h.name for h in dim.all_hierarchies]
    if hierarchy is not None and hierarchy not in names:
        raise NotFoundError(
            f"dimension '{alias}' has no hierarchy '{hierarchy}'", hint=did_you_mean(hierarchy, names)
        )
    return DimRef(alias, dim, dim.hierarchy(hierarchy))


def resolve_cut(model: Model, cube: Cube, cut: Cut) -> ResolvedCut:
    ref = dim_ref(model, cube, cut.dimension, cut.hierarchy)
    n_levels = len(ref.hierarchy.levels)
    for path in cut_paths(cut):
        if len(path) > n_levels:
            raise QueryError(
                f"cut on '{cut.dimension}': path {list(path)} is deeper than hierarchy "
                f"'{ref.hierarchy.name}' ({', '.join(ref.hierarchy.levels)})"
            )
        if ref.dim.is_time:
            period(ref, path)  # validates the numbers
    if (
        isinstance(cut, RangeCut)
        and not ref.dim.is_time
        and cut.from_path
        and cut.to_path
        and (len(cut.from_path) != len(cut.to_path))
    ):
        raise QueryError(f"range cut on '{cut.dimension}': both ends must be at the same level")
    return ResolvedCut(ref, cut)


def check_cuts(model: Model, cube: Cube, cuts: tuple[Cut, ...]) -> list[ResolvedCut]:
    return [resolve_cut(model, cube, c) for c in cuts]


def _int(value: str | None, what: str, lo: int, hi: int) -> int:
    try:
        number = int(value or "")
    except ValueError:
        raise QueryError(f"time {what} must be a number, not '{value}'") from None
    if not lo <= number <= hi:
        raise QueryError(f"time {what} {number} is out of range {lo}..{hi}")
    return number


def period(ref: DimRef, path: Path) -> tuple[dt.date, dt.date]:
    """[start, end) of the period a time path names, e.g. (2024, 2) at year/quarter."""
    roles = [lv.role for lv in ref.levels(len(path))]
    year = _int(path[0], "year", 1900, 2148)
    start, end = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    for role, value in zip(roles[1:], path[1:], strict=True):
        if role == TimeRole.quarter:
            qn = _int(value, "quarter", 1, 4)
            if not (start.month <= 3 * qn - 2 and end > dt.date(year, 3 * qn - 2, 1)):
                raise QueryError(f"quarter {qn} is outside the period {start}..{end}")
            start = dt.date(year, 3 * qn - 2, 1)
            end = dt.date(year + 1, 1, 1) if qn == 4 else dt.date(year, 3 * qn + 1, 1)
        elif role == TimeRole.month:
            mn = _int(value, "month", 1, 12)
            first = dt.date(year, mn, 1)
            if not start <= first < end:
                raise QueryError(f"month {mn} is not inside the quarter given")
            start, end = first, (dt.date(year + 1, 1, 1) if mn == 12 else dt.date(year, mn + 1, 1))
        elif role == TimeRole.day:
            day = _int(value, "day", 1, 31)
            try:
                start = dt.date(year, start.month, day)
            except ValueError:
                raise QueryError(f"day {day} does not exist in {year}-{start.month:02d}") from None
            end = start + dt.timedelta(days=1)
    return start, end


def unknown_members(
    model: Model, dim: Dimension, levels: list[str], cut: Cut
) -> list[tuple[str, str | None]]:
    """Members a fixed cut names that the dimension does not have (in any version)."""
    rows = model.members.get(dim.name)
    if dim.is_time or not rows:  # no rows: already reported
        return []
    if isinstance(cut, PointCut):
        paths = [cut.path]
    elif isinstance(cut, SetCut):
        paths = list(cut.paths)
    else:
        paths = [p for p in (cut.from_path, cut.to_path) if p is not None]
    problems: list[tuple[str, str | None]] = []
    for path in paths:
        columns = [dim.level(n).key_column for n in levels[: len(path)]]
        for k, (value, col) in enumerate(zip(path, columns, strict=True)):
            keys = {str(r[col]) for r in rows if r.get(col) is not None}
            if value is not None and value not in keys:
                problems.append(
                    (
                        f"'{cut.dimension}' has no member '{value}' at level '{levels[k]}'",
                        did_you_mean(value, keys),
                    )
                )
                break
        else:
            if not any(
                all(
                    (None if r.get(c) is None else str(r[c])) == v for c, v in zip(columns, path, strict=True)
                )
                for r in rows
            ):
                problems.append((f"'{cut.dimension}' has no member {list(path)}", None))
    return problems


# --- cuts' paths resolved against the members ------------------------------------------------

INT_TEXT = re.compile(r"^[+-]?[0-9]{1,18}$")
FLOAT_TEXT = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
HINT_CANDIDATES = 5000
"""Did-you-mean compares with at most this many names (difflib is slow on 200,000)."""


@dataclass
class MemberIndex:
    """A hierarchy's members as paths, for resolving cuts: per depth, parent path → the names
    of its children (their keys, and their `path_key`s) → the key each stands for; where else
    a name occurs (for short paths such as `store:CA`); and which levels' keys are all numbers."""

    levels: list[Level]
    children: list[dict[tuple[str, ...], dict[str, str]]]
    occurs: dict[str, list[tuple[int, tuple[str, ...]]]]
    number: list[str | None]
    """Per depth: 'Int64' or 'Float64' when every key of the level is a number, else None."""

    def numeric(self, level: str) -> str | None:
        for lv, kind in zip(self.levels, self.number, strict=True):
            if lv.name == level:
                return kind
        return None


_INDEXES: dict[tuple[int, str, str], tuple[Model, MemberIndex]] = {}


def member_index(model: Model, dim: Dimension, hierarchy: Hierarchy) -> MemberIndex:
    """The index of a dimension's members along a hierarchy (cached per model)."""
    key = (id(model), dim.name, hierarchy.name)
    hit = _INDEXES.get(key)
    if hit is not None and hit[0] is model:
        return hit[1]
    index = _build_index(model, dim, hierarchy)
    _INDEXES[key] = (model, index)
    return index


def _build_index(model: Model, dim: Dimension, hierarchy: Hierarchy) -> MemberIndex:
    levels = [dim.level(n) for n in hierarchy.levels]
    children: list[dict[tuple[str, ...], dict[str, str]]] = [{} for _ in levels]
    occurs: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    ints = [True] * len(levels)
    floats = [True] * len(levels)
    for r in model.members.get(dim.name, []):
        path: tuple[str, ...] = ()
        for d, lv in enumerate(levels):
            raw = r.get(lv.key_column)
            if raw in (None, ""):
                break
            k = str(raw)
            names = children[d].setdefault(path, {})
            if k not in names:
                names[k] = k
                if ints[d] and not INT_TEXT.match(k):
                    ints[d] = False
                if floats[d] and not FLOAT_TEXT.match(k):
                    floats[d] = False
                found = occurs.setdefault(k, [])
                if len(found) < 3:
                    found.append((d, (*path, k)))
            local = r.get(lv.path_key) if lv.path_key else None
            if local not in (None, "") and str(local) != k and names.setdefault(str(local), k) == k:
                found = occurs.setdefault(str(local), [])
                if len(found) < 3:
                    found.append((d, (*path, str(local))))
            path = (*path, k)
    number = ["Int64" if i else ("Float64" if f else None) for i, f in zip(ints, floats, strict=True)]
    number = [n if children[d] else None for d, n in enumerate(number)]
    return MemberIndex(levels, children, occurs, number)


def _shown(alias: str, path: tuple[str, ...]) -> str:
    from .cut_grammar import escape

    return f"{alias}:" + ",".join(escape(p) for p in path)


def resolve_members(model: Model, cube: Cube, cut: Cut) -> Cut:
    """The cut with each path element named as the member's key (a Cubes path may name a
    member by its key within its parent: `item:a,da` is the member keyed `a/da`), or a
    QueryError for a member the dimension does not have, with a did-you-mean: a name that is
    a member one level down (`store:CA`, a state read as a country) is shown as the full path.

    Range bounds need not be members (`quantity:1-24` over any quantities); time paths are
    checked as periods elsewhere; a `__null__` element names the unknown member."""
    rc = resolve_cut(model, cube, cut)
    if rc.ref.dim.is_time or not model.members.get(rc.ref.dim.name):
        return cut
    index = member_index(model, rc.ref.dim, rc.ref.hierarchy)

    def one(path: Path, strict: bool) -> Path:
        out: list[str | None] = []
        parent: tuple[str, ...] = ()
        for d, value in enumerate(path):
            if value is None or (out and out[-1] is None):
                out.append(value)
                parent = ()
                continue
            names = index.children[d].get(parent, {})
            key = names.get(value)
            if key is None:
                if not strict:
                    out.extend(path[d:])
                    return tuple(out)
                _unknown(rc, index, d, parent, value)
            out.append(key)
            parent = (*parent, str(key))
        return tuple(out)

    if isinstance(cut, PointCut):
        return dataclass_replace(cut, path=one(cut.path, True))
    if isinstance(cut, SetCut):
        return dataclass_replace(cut, paths=tuple(one(p, True) for p in cut.paths))
    return dataclass_replace(
        cut,
        from_path=None if cut.from_path is None else one(cut.from_path, False),
        to_path=None if cut.to_path is None else one(cut.to_path, False),
    )


def _unknown(rc: ResolvedCut, index: MemberIndex, depth: int, parent: tuple[str, ...], value: str) -> None:
    alias, level = rc.ref.alias, index.levels[depth].name
    where = f" under {list(parent)}" if parent else ""
    elsewhere = index.occurs.get(value, [])
    if elsewhere:
        d, p = elsewhere[0]
        shown = " or ".join(_shown(alias, q) for _, q in elsewhere[:3])
        there = (
            f"'{value}' is a member of level '{index.levels[d].name}'"
            if d != depth
            else f"'{value}' is under {list(p[:-1])}"
        )
        raise QueryError(
            f"'{alias}' has no member '{value}' at level '{level}'{where}; {there}",
            hint=f"a path names every level from the top: did you mean {shown}?",
        )
    names = list(index.children[depth].get(parent, {}))
    if len(names) > HINT_CANDIDATES:
        names = [n for n in names if n[:1].lower() == value[:1].lower()][:HINT_CANDIDATES]
    raise QueryError(
        f"'{alias}' has no member '{value}' at level '{level}'{where}", hint=did_you_mean(value, names)
    )
