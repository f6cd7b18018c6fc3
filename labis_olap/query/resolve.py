"""Names in a query resolved against the model, with did-you-mean errors.

Turns the strings of a CubeQuery into model objects: which dimension, hierarchy and levels a
cut or drilldown means, which period a time path covers, which measures are asked for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..errors import NotFoundError, QueryError
from ..model.diagnostics import did_you_mean
from ..model.loader import Model
from ..model.schema import Cube, Dimension, Hierarchy, Level, Measure, TimeRole
from .cell import Cut, Drilldown, Path, PointCut, RangeCut, SetCut


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
        paths = _paths(self.cut)
        return max(len(p) for p in paths)


@dataclass(frozen=True)
class ResolvedDrilldown:
    ref: DimRef
    levels: list[Level]
    """From the hierarchy's top down to the drilled level."""

    @property
    def level(self) -> Level:
        return self.levels[-1]


def _paths(cut: Cut) -> list[Path]:
    if isinstance(cut, PointCut):
        return [cut.path]
    if isinstance(cut, SetCut):
        return list(cut.paths)
    return [p for p in (cut.from_path, cut.to_path) if p is not None]


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
    for path in _paths(cut):
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


def resolve_drilldown(model: Model, cube: Cube, dd: Drilldown, cuts: list[ResolvedCut]) -> ResolvedDrilldown:
    ref = dim_ref(model, cube, dd.dimension, dd.hierarchy)
    names = ref.hierarchy.levels
    if dd.level is not None:
        if dd.level not in names:
            raise NotFoundError(
                f"hierarchy '{ref.hierarchy.name}' of '{dd.dimension}' has no level '{dd.level}'",
                hint=did_you_mean(dd.level, names),
            )
        depth = names.index(dd.level) + 1
    else:
        # Slicer rule: one level below a point cut on the same dimension, else the first level.
        point = [
            c for c in cuts if c.ref.alias == ref.alias and isinstance(c.cut, PointCut) and not c.cut.invert
        ]
        depth = max((_depth_below(c, ref) for c in point), default=1)
        if depth > len(names):
            raise QueryError(f"cannot drill down '{dd.dimension}' below its last level '{names[-1]}'")
    return ResolvedDrilldown(ref, ref.levels(depth))


def _depth_below(cut: ResolvedCut, ref: DimRef) -> int:
    """Depth in `ref`'s hierarchy of the level just below what a point cut selects.

    The cut may use another hierarchy of the same dimension (`time:2024,2` is a quarter in
    year/quarter/month; drilling `time@ym` then lists its months): find the cut's deepest
    level in the drilled hierarchy, or for time the first finer level.
    """
    names = ref.hierarchy.levels
    cut_level = cut.ref.levels(cut.depth)[-1]
    if cut_level.name in names:
        return names.index(cut_level.name) + 2
    if ref.dim.is_time and cut_level.role is not None:
        order = list(TimeRole)
        finer = [
            i
            for i, n in enumerate(names)
            if order.index(ref.dim.level(n).role or TimeRole.year) > order.index(cut_level.role)
        ]
        return finer[0] + 1 if finer else len(names) + 1
    return 1


def resolve_measures(cube: Cube, names: tuple[str, ...]) -> list[Measure]:
    if not names:
        return list(cube.measures)
    known = [m.name for m in cube.measures]
    out = []
    for n in names:
        if n not in known:
            raise NotFoundError(f"cube '{cube.name}' has no measure '{n}'", hint=did_you_mean(n, known))
        out.append(cube.measure(n))
    return out


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
