"""Aggregate navigation: the smallest source that answers a query exactly.

A source is either a rollup (an AggregatingMergeTree kept by a materialized view) or the
facts, pre-aggregated on the fly to the same shape. A rollup qualifies when it keeps every
dimension the query touches at a level that can answer it, its time grain is fine enough,
and it carries every measure needed. Versioned dimensions add one rule: a rollup that kept a
mapped level (e.g. region as at the fact date) cannot answer "as of" another date, and one
that kept the raw key can map it as at the fact date only if its time grain does not cut
across a validity boundary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..model.definition import Model
from ..model.resolve import ResolvedCut
from ..model.schema import Dimension, Function, Measure, Rollup, TimeRole
from ..model.validate import base_measures
from ..physical.layout import GRAIN_ORDER, CubeLayout
from .resolve import ResolvedDrilldown


@dataclass(frozen=True)
class Needs:
    """What a query asks of its source."""

    levels: dict[str, set[str]]
    """Non-time dimension alias → levels referenced by drilldowns and cuts."""
    time_grain: TimeRole | None
    """The coarsest time grain that still answers exactly (None: time not needed)."""
    measures: list[Measure]
    """Aggregated (non-calculated) measures needed."""
    as_of: dt.date | None


@dataclass(frozen=True)
class StoredShape:
    """What a query can read from — the facts or one rollup — and how it stores each dimension:
    ('key', leaf) for raw fact keys, ('level', L) if mapped. (Not a loader's source system.)"""

    name: str
    """'facts' or the rollup's name."""
    table: str
    dims: dict[str, tuple[str, str]]
    time_grain: TimeRole | None
    measures: list[Measure] = field(default_factory=list)
    rollup: Rollup | None = None


def needs_of(
    layout: CubeLayout,
    measures: list[Measure],
    cuts: list[ResolvedCut],
    drills: list[ResolvedDrilldown],
    as_of: dt.date | None,
) -> Needs:
    levels: dict[str, set[str]] = {}
    grain_idx: int | None = None

    def want_time(role: TimeRole | None) -> None:
        nonlocal grain_idx
        if role is None:
            return
        idx = GRAIN_ORDER.index(role)
        grain_idx = idx if grain_idx is None else min(grain_idx, idx)

    for c in cuts:
        touched = c.ref.levels(c.depth)
        if c.ref.dim.is_time:
            want_time(touched[-1].role)
        else:
            levels.setdefault(c.ref.alias, set()).update(lv.name for lv in touched)
    for d in drills:
        if d.ref.dim.is_time:
            want_time(d.level.role)
        else:
            levels.setdefault(d.ref.alias, set()).update(lv.name for lv in d.levels)
    base = base_measures(layout.cube, [m.name for m in measures])
    if any(m.function == Function.last for m in base):
        want_time(TimeRole.day)
    grain = GRAIN_ORDER[grain_idx] if grain_idx is not None else None
    return Needs(levels, grain, base, as_of)


def _aligned(model: Model, dim: Dimension, grain: TimeRole) -> bool:
    return grain == TimeRole.day or all(_starts(b, grain) for b in _boundaries(model, dim.name))


_BOUNDARIES: dict[tuple[int, str], tuple[Model, frozenset[dt.date]]] = {}


def _boundaries(model: Model, dim_name: str) -> frozenset[dt.date]:
    """Dates on which some fact key starts mapping to other members (cached per model)."""
    hit = _BOUNDARIES.get((id(model), dim_name))
    if hit is not None and hit[0] is model:
        return hit[1]
    found = _compute_boundaries(model, dim_name)
    _BOUNDARIES[(id(model), dim_name)] = (model, found)
    return found


def _compute_boundaries(model: Model, dim_name: str) -> frozenset[dt.date]:
    dim = model.dimensions[dim_name]
    spec = dim.members
    if spec is None or not dim.is_versioned:
        return frozenset()
    out: set[dt.date] = set()
    for r in model.members[dim_name]:
        for col, shift in ((spec.from_column, 0), (spec.to_column, 1)):
            value = r.get(col)
            if value not in (None, ""):
                d = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
                if d < dt.date(2149, 1, 1):
                    out.add(d + dt.timedelta(days=shift))
    return frozenset(out)


def _starts(d: dt.date, grain: TimeRole) -> bool:
    if grain == TimeRole.month:
        return d.day == 1
    if grain == TimeRole.quarter:
        return d.day == 1 and d.month in (1, 4, 7, 10)
    if grain == TimeRole.year:
        return d.day == 1 and d.month == 1
    return True


def facts_shape(layout: CubeLayout, needs: Needs) -> StoredShape:
    """The facts, grouped on the fly at exactly the grain the query needs."""
    grain = needs.time_grain
    dims: dict[str, tuple[str, str]] = {}
    for alias in needs.levels:
        dim = layout.dimension(alias)
        dims[alias] = ("key", dim.leaf.name)
        if dim.is_versioned and needs.as_of is None:
            grain = _finest_aligned(layout.model, dim, grain)
    return StoredShape("facts", layout.facts_table, dims, grain if layout.time_link else None, needs.measures)


def _finest_aligned(model: Model, dim: Dimension, grain: TimeRole | None) -> TimeRole:
    """The coarsest grain, no coarser than `grain`, whose periods never straddle a mapping change."""
    start = GRAIN_ORDER.index(grain) if grain else len(GRAIN_ORDER) - 1
    for g in reversed(GRAIN_ORDER[: start + 1]):
        if _aligned(model, dim, g):
            return g
    return TimeRole.day


_SHAPES: dict[tuple[int, str], tuple[CubeLayout, StoredShape]] = {}


def rollup_shape(layout: CubeLayout, r: Rollup) -> StoredShape:
    """How a rollup stores the cube (cached per layout: its table name is a digest of its
    definition, which costs more to compute than a small query takes to plan)."""
    hit = _SHAPES.get((id(layout), r.name))
    if hit is not None and hit[0] is layout:
        return hit[1]
    shape = _rollup_shape(layout, r)
    _SHAPES[(id(layout), r.name)] = (layout, shape)
    return shape


def _rollup_shape(layout: CubeLayout, r: Rollup) -> StoredShape:
    dims: dict[str, tuple[str, str]] = {}
    for alias, level in r.grain.items():
        if not layout.dimension(alias).is_time:
            dims[alias] = (layout.grain_kind(alias, level), level)
    return StoredShape(
        r.name, layout.rollup_table(r), dims, layout.rollup_time_grain(r), layout.rollup_measures(r), r
    )


def answers(layout: CubeLayout, shape: StoredShape, needs: Needs) -> bool:
    """Can this rollup answer the query exactly?"""
    kept = {m.name for m in shape.measures}
    if any(m.name not in kept for m in needs.measures):
        return False
    if needs.time_grain is not None and (
        shape.time_grain is None or GRAIN_ORDER.index(shape.time_grain) > GRAIN_ORDER.index(needs.time_grain)
    ):
        return False
    for alias, levels in needs.levels.items():
        if alias not in shape.dims:
            return False
        kind, level = shape.dims[alias]
        dim = layout.dimension(alias)
        if kind == "level":
            if levels != {level} or (dim.is_versioned and needs.as_of is not None):
                return False
        elif (
            dim.is_versioned
            and needs.as_of is None
            and (shape.time_grain is None or not _aligned(layout.model, dim, shape.time_grain))
        ):
            return False
    return True


_ESTIMATES: dict[tuple[int, str, str], tuple[Model, int]] = {}


def estimated_rows(layout: CubeLayout, shape: StoredShape) -> int:
    """A size estimate to rank rollups: members per kept level × periods (cached per model: it
    walks the member lists, which cost more than the rest of planning)."""
    key = (id(layout.model), layout.cube.name, shape.name)
    hit = _ESTIMATES.get(key)
    if hit is not None and hit[0] is layout.model:
        return hit[1]
    size = _estimate(layout, shape)
    _ESTIMATES[key] = (layout.model, size)
    return size


def _estimate(layout: CubeLayout, shape: StoredShape) -> int:
    size = 1
    for alias, (_, level) in shape.dims.items():
        rows = layout.model.members.get(layout.dimension(alias).name, [])
        key = layout.dimension(alias).level(level).key_column
        size *= max(1, len({r.get(key) for r in rows}))
    periods = {None: 1, TimeRole.year: 1, TimeRole.quarter: 4, TimeRole.month: 12, TimeRole.day: 365}
    return size * periods[shape.time_grain]


def choose_stored(
    layout: CubeLayout, needs: Needs, use_rollups: bool = True, exclude: frozenset[str] = frozenset()
) -> StoredShape:
    """The smallest rollup that answers the needs exactly, else the facts. Rollups whose table
    is in `exclude` (found broken by the storage checks, engine/health.py) are never chosen."""
    if use_rollups:
        shapes = (
            rollup_shape(layout, r) for r in layout.cube.rollups if layout.rollup_table(r) not in exclude
        )
        candidates = [s for s in shapes if answers(layout, s, needs)]
        if candidates:
            return min(candidates, key=lambda s: (estimated_rows(layout, s), len(s.measures), s.name))
    return facts_shape(layout, needs)
