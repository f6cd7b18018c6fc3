"""Drilldowns and measures of a query resolved against the model, with did-you-mean errors
(cuts are resolved by model/resolve.py, which the model's own validation uses too)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import NotFoundError, QueryError
from ..model.cuts import Drilldown, PointCut
from ..model.definition import Model
from ..model.diagnostics import did_you_mean
from ..model.resolve import DimRef, ResolvedCut, dim_ref
from ..model.schema import Cube, Level, Measure, TimeRole


@dataclass(frozen=True)
class ResolvedDrilldown:
    ref: DimRef
    levels: list[Level]
    """From the hierarchy's top down to the drilled level."""

    @property
    def level(self) -> Level:
        return self.levels[-1]


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
        if depth > len(names) == 1:
            depth = 1  # a one-level dimension drills at its level, cut or not (Slicer, Cubes)
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
