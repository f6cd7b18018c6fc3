"""The cube service: the one way in to the cubes, for every front end.

Slicer REST and its fast path, /report, the indicator routes and pages, `labis query` (and
MDX, XMLA and SDMX to come) parse their own syntax into a typed query (query/cell.py) and ask
this service, with the principal asking; they render what it returns. Everything a front end
must not decide for itself lives here, once: which cubes a principal sees, validation, paging
and its limits, `as_of` resolution, the plan cache (in the executor) and the result cache,
whose keys carry the principal. A front end that talked to the engine itself would bypass all
of it — the import contract (docs/architecture.md) forbids that.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any

from ..engine.base import Engine
from ..errors import LimitError, NotFoundError
from ..model.cuts import Cut, SetCut
from ..model.definition import Model
from ..model.diagnostics import did_you_mean
from ..model.resolve import ResolvedCut, check_cuts
from ..physical.layout import CubeLayout
from ..query import facts as facts_q
from ..query import limits as limits_q
from ..query import members as members_q
from ..query.asof import as_of_date
from ..query.cache import ResultCache, data_version
from ..query.cell import CubeQuery, FactsQuery, MembersQuery
from ..query.executor import AggregateExecutor, AggregateResult, too_many_cells
from ..query.limits import Cancellation, QueryLimits
from ..query.resolve import ResolvedDrilldown
from ..query.results import FactsResult, MembersResult
from .cellset import Axis, AxisLevel, CellSet, CutInfo, Explain, MeasureInfo, caption
from .paging import paging
from .principal import Principal


@dataclass(frozen=True)
class PartLimits:
    """How many parts one query may have. Counted here, on the typed query, not in a front end's
    parser: every front end (Slicer strings, /report's cut dicts, indicators, MDX to come) gets
    the same bounds, and a cut built without the grammar cannot slip past them. The strings
    themselves are bounded in characters by the front end, so parsing them is cheap."""

    cuts: int = 64
    set_members: int = 256
    drilldowns: int = 16
    list_parts: int = 64
    """Measures, order terms and fact fields, each."""


@dataclass(frozen=True)
class ServiceLimits:
    """What bounds every answer (the server's settings; the CLI runs without bounds)."""

    max_rows: int | None = None
    """The most cells, facts or members one answer carries (Slicer's json_record_limit)."""
    seconds: float | None = None
    """Time per engine query (None: unbounded)."""
    max_memory: int | None = None
    """Bytes per engine query (None: the engine's own limit)."""
    parts: PartLimits | None = None
    """Parts per query (None: unbounded)."""

    @property
    def query(self) -> QueryLimits | None:
        return QueryLimits(self.seconds, self.max_memory) if self.seconds is not None else None


@dataclass(frozen=True)
class CutDetail:
    """A cut of a cell with the labels of every member on its paths (for breadcrumbs)."""

    cut: CutInfo
    details: Any


class CubeService:
    def __init__(
        self,
        model: Model,
        engine: Engine,
        *,
        limits: ServiceLimits | None = None,
        cache_bytes: int = 0,
        model_version: str | Callable[[], str] = "",
        fact_key_secret: str | None = None,
        use_rollups: bool = True,
    ) -> None:
        self.model = model
        self.engine = engine
        self.limits = limits or ServiceLimits()
        self.executor = AggregateExecutor(model, engine, use_rollups=use_rollups, limits=self.limits.query)
        self.cache = ResultCache(cache_bytes)
        self._model_version = model_version
        self._version_lock = threading.Lock()
        self.fact_key_secret = fact_key_secret

    @property
    def model_version(self) -> str:
        """The digest of the model (part of cache keys); computed on first use."""
        if callable(self._model_version):
            with self._version_lock:
                if callable(self._model_version):
                    self._model_version = self._model_version()
        return self._model_version

    @property
    def _timeout(self) -> float:
        return self.limits.seconds if self.limits.seconds is not None else 30.0

    def _cuts(self, cuts: tuple[Cut, ...], what: str = "cuts") -> tuple[Cut, ...]:
        """The cuts without repeats (a cut twice is the same cell: the engine never sees the
        copy), within the part limits."""
        unique = tuple(dict.fromkeys(_without_repeats(c) for c in cuts))
        bound = self.limits.parts
        if bound is None:
            return unique
        if len(unique) > bound.cuts:
            raise _limit(f"{len(unique)} {what}", f"{bound.cuts} {what} per query", "cut fewer dimensions")
        for c in unique:
            if isinstance(c, SetCut) and len(c.paths) > bound.set_members:
                raise _limit(
                    f"a set cut on '{c.dimension}' with {len(c.paths)} members",
                    f"{bound.set_members} members per set cut",
                    "cut a level higher up, or split the set over several requests",
                )
        return unique

    def _parts(self, what: str, parts: tuple[Any, ...], most: Callable[[PartLimits], int]) -> None:
        bound = self.limits.parts
        if bound is not None and len(parts) > most(bound):
            raise _limit(f"{len(parts)} {what}", f"{most(bound)} {what} per query", "ask for fewer")

    def cancellable(self) -> AbstractContextManager[Cancellation]:
        """Tag every engine query run in this context (and the threads it starts) as one request,
        so that `cancel` can stop them when the client goes away."""
        return limits_q.cancellable()

    def cancel(self, token: Cancellation) -> None:
        """Stop the request's running engine queries and refuse its next ones (any thread)."""
        limits_q.cancel(self.engine, token)

    # --- discovery ------------------------------------------------------------------------------
    def visible_model(self, principal: Principal) -> Model:
        """The model as the principal may see it (every front end's discovery goes through here)."""
        return self.model

    def layout(self, cube: str, principal: Principal) -> CubeLayout:
        """The cube's layout, or a 404 with a did-you-mean: a cube the principal may not see
        answers exactly as one that does not exist."""
        visible = self.visible_model(principal).cubes
        if cube not in visible:
            raise NotFoundError(f"no cube '{cube}'", hint=did_you_mean(cube, visible))
        return self.executor.layout(cube)

    # --- aggregates -----------------------------------------------------------------------------
    def _checked(self, query: CubeQuery) -> CubeQuery:
        cuts, split = self._cuts(query.cuts), self._cuts(query.split, "split cuts")
        self._parts("drilldowns", query.drilldowns, lambda b: b.drilldowns)
        self._parts("aggregates", query.measures, lambda b: b.list_parts)
        self._parts("order terms", query.order, lambda b: b.list_parts)
        pg = paging(query.page, query.pagesize, self.limits.max_rows)
        if (pg.page, pg.pagesize, cuts, split) == (query.page, query.pagesize, query.cuts, query.split):
            return query
        return replace(query, page=pg.page, pagesize=pg.pagesize, cuts=cuts, split=split)

    def _key(self, query: CubeQuery, as_of: dt.date | None, principal: Principal) -> Hashable:
        return (
            self.model_version,
            data_version(self.engine),
            principal.cache_key,
            replace(query, as_of=None),
            as_of,
        )

    def cached_aggregate(self, query: CubeQuery, principal: Principal) -> CellSet | None:
        """A cached answer found without blocking (a front end on an event loop answers it there),
        or None: not cached, or finding out would block (the cache is off, or the engine is
        shared with other writers, whose data version is an engine query)."""
        if not self.cache.enabled or self.engine.shared:
            return None
        layout = self.layout(query.cube, principal)
        query = self._checked(query)
        as_of = as_of_date(self.model, layout.cube, query.as_of)
        hit = self.cache.get(self._key(query, as_of, principal))
        return _as_hit(hit) if hit is not None else None

    def aggregate(self, query: CubeQuery, principal: Principal) -> CellSet:
        """Cells, grand total and subtotals of the query as the principal may see them."""
        layout = self.layout(query.cube, principal)
        query = self._checked(query)
        as_of = as_of_date(self.model, layout.cube, query.as_of)
        key = self._key(query, as_of, principal) if self.cache.enabled else None
        if key is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return _as_hit(hit)
        result = self.executor.aggregate(query, as_of, limit=self.limits.max_rows)
        cells = self._cellset(layout, query, result, "miss" if key is not None else "off")
        if key is not None and self.cache.put(key, cells, cells.nbytes):
            cells.on_growth(lambda n: self.cache.grow(key, n))
        return cells

    def _cellset(self, layout: CubeLayout, query: CubeQuery, result: AggregateResult, cache: str) -> CellSet:
        explain = Explain(result.source, result.table, result.sql, result.params, result.engine_ms, cache)
        return CellSet(
            cube=layout.cube.name,
            lang=query.lang,
            axes=tuple(_axis(d, result.attributes) for d in result.drills),
            measures=tuple(self._measure_info(layout, m) for m in result.measures),
            cuts=tuple(cut_info(rc) for rc in result.cuts),
            has_split=bool(query.split),
            subtotal_kind=query.subtotals,
            result=result,
            explain=explain,
            lookup=self.executor.members,
        )

    @staticmethod
    def _measure_info(layout: CubeLayout, name: str) -> MeasureInfo:
        m = layout.cube.measure(name)
        return MeasureInfo(m.name, caption(m.label, m.name), m.function, m.unit, m.decimals)

    # --- members, facts, cells ------------------------------------------------------------------
    def members(self, query: MembersQuery, principal: Principal) -> MembersResult:
        layout = self.layout(query.cube, principal)
        cuts = self._cuts(query.cuts)
        self._parts("order terms", query.order, lambda b: b.list_parts)
        page, pagesize, limit = paging(query.page, query.pagesize, self.limits.max_rows).window()
        result = members_q.members(
            layout,
            self.engine,
            query.dimension,
            depth=query.depth,
            level=query.level,
            hierarchy=query.hierarchy,
            cuts=cuts,
            order=query.order,
            page=page,
            pagesize=pagesize,
            as_of=as_of_date(self.model, layout.cube, query.as_of),
            lang=query.lang,
            timeout=self._timeout,
            max_memory=self.limits.max_memory,
        )
        if limit is not None and result.data.num_rows > limit:
            raise too_many_cells(limit, "members")
        return result

    def facts(self, query: FactsQuery, principal: Principal) -> FactsResult:
        layout = self.layout(query.cube, principal)
        cuts = self._cuts(query.cuts)
        self._parts("fields", query.fields, lambda b: b.list_parts)
        self._parts("order terms", query.order, lambda b: b.list_parts)
        page, pagesize, limit = paging(query.page, query.pagesize, self.limits.max_rows).window()
        result = facts_q.facts(
            layout,
            self.engine,
            cuts=cuts,
            fields=query.fields,
            order=query.order,
            page=page,
            pagesize=pagesize,
            as_of=as_of_date(self.model, layout.cube, query.as_of),
            timeout=self._timeout,
            max_memory=self.limits.max_memory,
            secret=self.fact_key_secret,
        )
        if limit is not None and result.rows.num_rows > limit:
            raise too_many_cells(limit, "facts")
        return result

    def fact(self, cube: str, key: str, principal: Principal) -> dict[str, Any] | None:
        layout = self.layout(cube, principal)
        return facts_q.fact(
            layout,
            self.engine,
            key,
            timeout=self._timeout,
            secret=self.fact_key_secret,
            max_memory=self.limits.max_memory,
        )

    def cell(self, cube: str, cuts: tuple[Cut, ...], lang: str, principal: Principal) -> list[CutDetail]:
        """The cuts of a cell, resolved, with the labels of the members on their paths."""
        layout = self.layout(cube, principal)
        resolved = check_cuts(self.model, layout.cube, self._cuts(cuts))
        return [
            CutDetail(cut_info(rc), members_q.cut_details(layout, self.engine, rc.cut, lang))
            for rc in resolved
        ]

    def close(self) -> None:
        self.cache.clear()


def _without_repeats(cut: Cut) -> Cut:
    """A set cut naming a member twice is the set without the repeat."""
    if isinstance(cut, SetCut):
        paths = tuple(dict.fromkeys(cut.paths))
        if len(paths) != len(cut.paths):
            return replace(cut, paths=paths)
    return cut


def _limit(asked: str, bound: str, hint: str) -> LimitError:
    return LimitError(f"the query has {asked}, more than the server's limit of {bound}", hint=hint)


def _as_hit(found: CellSet) -> CellSet:
    return replace(found, explain=replace(found.explain, cache="hit"))


def cut_info(rc: ResolvedCut) -> CutInfo:
    return CutInfo(rc.cut, rc.ref.hierarchy.name, rc.depth)


def _axis(d: ResolvedDrilldown, attributes: list[str]) -> Axis:
    shown = set(attributes)
    default = d.ref.hierarchy.name == d.ref.dim.default_hierarchy_name
    levels = []
    for lv in d.levels:
        key = f"{d.ref.alias}.{lv.name}"
        label = f"{key}_label"
        levels.append(
            AxisLevel(
                lv.name, caption(lv.label, lv.name), key, label if label in shown else None, d.ref.dim.is_time
            )
        )
    return Axis(
        dimension=d.ref.alias,
        model_dimension=d.ref.dim.name,
        hierarchy=d.ref.hierarchy.name,
        ref=d.ref.alias if default else f"{d.ref.alias}@{d.ref.hierarchy.name}",
        caption=caption(d.ref.dim.label, d.ref.alias),
        levels=tuple(levels),
    )
