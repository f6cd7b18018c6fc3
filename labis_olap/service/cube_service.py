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
import time
from collections.abc import Callable, Hashable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from ..engine.base import Engine
from ..errors import ForbiddenError, LimitError, NotFoundError, UserError
from ..model.cuts import Cut, SetCut
from ..model.definition import Model
from ..model.diagnostics import did_you_mean
from ..model.resolve import ResolvedCut, check_cuts, resolve_members
from ..model.schema import Cube
from ..physical.layout import CubeLayout
from ..query import facts as facts_q
from ..query import limits as limits_q
from ..query import members as members_q
from ..query.asof import as_of_date
from ..query.cache import ResultCache, data_version
from ..query.cell import CubeQuery, FactsQuery, MembersQuery
from ..query.contributors import top_contributors
from ..query.executor import AggregateExecutor, AggregateResult, too_many_cells
from ..query.limits import Cancellation, QueryLimits
from ..query.resolve import ResolvedDrilldown
from ..query.results import FactsResult, MembersResult
from . import audit, cellkey, disclosure
from .audit import AuditLog
from .cellset import Axis, AxisLevel, CellSet, CutInfo, Explain, MeasureInfo, caption
from .paging import paging
from .policy import (
    Access,
    CubeAccess,
    Restricted,
    access_of,
    check_cell,
    empty_hidden_totals,
    fact_cuts,
    hidden_columns,
    restrict_aggregate,
    restrict_facts,
    restrict_members,
    visible_model,
)
from .principal import Principal
from .suppression import Pattern

T = TypeVar("T")
VIEWS = 256
"""Principals' views of the model kept (by roles and claims)."""

REFUSALS = 4096
"""Policy answers to `refusal` kept (by roles and claims, and query)."""


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
        audit: AuditLog | None = None,
    ) -> None:
        self.model = model
        self.audit = audit
        """Where every answered or refused request is recorded (None: not recorded)."""
        self.engine = engine
        self.limits = limits or ServiceLimits()
        self.executor = AggregateExecutor(model, engine, use_rollups=use_rollups, limits=self.limits.query)
        self.cache = ResultCache(cache_bytes)
        self._model_version = model_version
        self._version_lock = threading.Lock()
        self.fact_key_secret = fact_key_secret
        self._views: dict[Hashable, tuple[Access, Model]] = {}
        self._refusals: dict[Hashable, UserError | None] = {}
        self._patterns = disclosure.Patterns.new()

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

    def _cuts(
        self, cuts: tuple[Cut, ...], what: str = "cuts", *, cube: Cube | None = None
    ) -> tuple[Cut, ...]:
        """The cuts without repeats (a cut twice is the same cell: the engine never sees the
        copy), within the part limits, their paths resolved against the members of the cube as
        the principal sees it (`cube`): an unknown member is a 400 with a did-you-mean, never a
        silent 0; a Cubes path names a member within its parent."""
        unique = tuple(dict.fromkeys(_without_repeats(c) for c in cuts))
        bound = self.limits.parts
        if bound is None:
            return self._resolved(unique, cube)
        if len(unique) > bound.cuts:
            raise _limit(f"{len(unique)} {what}", f"{bound.cuts} {what} per query", "cut fewer dimensions")
        for c in unique:
            if isinstance(c, SetCut) and len(c.paths) > bound.set_members:
                raise _limit(
                    f"a set cut on '{c.dimension}' with {len(c.paths)} members",
                    f"{bound.set_members} members per set cut",
                    "cut a level higher up, or split the set over several requests",
                )
        return self._resolved(unique, cube)

    def _resolved(self, cuts: tuple[Cut, ...], cube: Cube | None) -> tuple[Cut, ...]:
        if cube is None:
            return cuts
        return tuple(resolve_members(self.model, cube, c) for c in cuts)

    def _parts(self, what: str, parts: tuple[Any, ...], most: Callable[[PartLimits], int]) -> None:
        bound = self.limits.parts
        if bound is not None and len(parts) > most(bound):
            raise _limit(f"{len(parts)} {what}", f"{most(bound)} {what} per query", "ask for fewer")

    def cancellable(self) -> AbstractContextManager[Cancellation]:
        """Tag every engine query run in this context (and the threads it starts) as one request,
        so that `cancel` can stop them when the client goes away."""
        return limits_q.cancellable()

    def cancel(self, token: Cancellation, reason: str | None = None) -> None:
        """Stop the request's running engine queries and refuse its next ones (any thread);
        `reason` is what their error says (default: the client went away)."""
        limits_q.cancel(self.engine, token, reason)

    def request_cancellation(self) -> Cancellation | None:
        """The cancellation of the request running in this context, if it has one (a front
        end that cancels on its own command, XMLA's Cancel, joins the request's own)."""
        return limits_q.CURRENT.get()

    def set_unhealthy(self, tables: Iterable[str]) -> None:
        """Tables the storage checks found broken (engine/health.py): never read from now on."""
        self.executor.set_unhealthy(frozenset(tables))
        self.cache.clear()

    # --- the policy -----------------------------------------------------------------------------
    def _kept(self, store: dict[Hashable, Any], bound: int, key: Hashable, make: Callable[[], Any]) -> Any:
        """`store[key]`, made and kept (the oldest dropped past `bound`) on first use."""
        if key in store:
            return store[key]
        found = make()
        with self._version_lock:
            if len(store) >= bound:
                store.pop(next(iter(store)))
            store[key] = found
        return found

    def _seen(self, principal: Principal) -> tuple[Access, Model]:
        """The principal's access and the model as it sees it, kept per roles and claims."""

        def make() -> tuple[Access, Model]:
            access = access_of(self.model, principal)
            return access, visible_model(self.model, access)

        found: tuple[Access, Model] = self._kept(self._views, VIEWS, principal.cache_key, make)
        return found

    def _access(self, cube: str, principal: Principal) -> CubeAccess | None:
        return self._seen(principal)[0].of(cube)

    def visible_model(self, principal: Principal) -> Model:
        """The model as the principal may see it (every front end's discovery goes through here)."""
        return self._seen(principal)[1]

    def layout(self, cube: str, principal: Principal) -> CubeLayout:
        """The cube as the principal may see it (its hidden measures and dimensions left out), or
        a 404 with a did-you-mean: a cube it may not see answers as one that does not exist. For
        describing the cube; queries run on the whole cube's layout (its physical names)."""
        access, model = self._seen(principal)
        if cube not in model.cubes:
            error = NotFoundError(f"no cube '{cube}'", hint=did_you_mean(cube, model.cubes))
            if self.audit is not None:  # a hidden or unknown cube asked for: worth a record
                self._record("cube", principal, FactsQuery(cube), time.perf_counter(), error=error)
            raise error
        if access.cubes is None:
            return self.executor.layout(cube)
        return CubeLayout(model, model.cubes[cube], self.engine.database, self.engine.topology)

    # --- aggregates -----------------------------------------------------------------------------
    def _checked(self, query: CubeQuery, cube: Cube) -> CubeQuery:
        cuts = self._cuts(query.cuts, cube=cube)
        split = self._cuts(query.split, "split cuts", cube=cube)
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

    def _cached_aggregate(self, query: CubeQuery, principal: Principal) -> CellSet | None:
        """A cached answer found without blocking (a front end on an event loop answers it there),
        or None: not cached, or finding out would block (the cache is off, or the engine is
        shared with other writers, whose data version is an engine query)."""
        if not self.cache.enabled or self.engine.shared:
            return None
        layout = self.layout(query.cube, principal)
        query = self._checked(query, layout.cube)
        as_of = as_of_date(self.model, layout.cube, query.as_of)
        hit = self.cache.get(self._key(query, as_of, principal))
        return _as_hit(hit) if hit is not None else None

    def _aggregate_query(self, query: CubeQuery, principal: Principal) -> CellSet:
        layout = self.layout(query.cube, principal)
        query = self._checked(query, layout.cube)
        as_of = as_of_date(self.model, layout.cube, query.as_of)
        key = self._key(query, as_of, principal) if self.cache.enabled else None
        if key is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return _as_hit(hit)
        result = self._aggregate(query, as_of, self._access(query.cube, principal))
        cells = self._cellset(layout, query, result, "miss" if key is not None else "off")
        if key is not None and self.cache.put(key, cells, cells.nbytes):
            cells.on_growth(lambda n: self.cache.grow(key, n))
        return cells

    def _aggregate(
        self, query: CubeQuery, as_of: dt.date | None, access: CubeAccess | None
    ) -> AggregateResult:
        """The executor's answer to the query as the policy rewrites it, with the policy's
        totals: true ones under `full`, emptied ones under `hidden` (service/policy.py)."""
        restricted, protect = self._policy(query, access)
        result = self.executor.aggregate(restricted.query, as_of, limit=self.limits.max_rows)
        result = replace(result, cuts=result.cuts[: len(query.cuts)])  # the principal's own cuts
        if restricted.true_total is not None and result.summary is not None:
            total = self.executor.aggregate(restricted.true_total, as_of)
            result = replace(result, summary=total.summary)
        if restricted.hidden_totals:
            result = self._hidden_totals(self.model.cubes[query.cube], restricted, result)
        if protect is not None:
            result = protect.apply(result, self._pattern(protect))
        return result

    def _policy(
        self, query: CubeQuery, access: CubeAccess | None
    ) -> tuple[Restricted, disclosure.Protection | None]:
        """The query as the role's restrictions rewrite it, and its disclosure control: what
        refuses a query before the engine is asked (`refusal` asks only this)."""
        cube = self.model.cubes[query.cube]
        return restrict_aggregate(self.model, cube, access, query), self._protection(cube, access, query)

    def _protection(
        self, cube: Cube, access: CubeAccess | None, query: CubeQuery
    ) -> disclosure.Protection | None:
        """The disclosure control of an aggregate: for publication roles (`access.protected`, or
        everyone where the model declares no roles) on a cube with rules; else None."""
        if cube.disclosure is None or (access is not None and not access.protected):
            return None
        restricted = access is not None and bool(access.rules or access.rows)
        found = disclosure.protection(self.model, cube, query, restricted)
        if found is not None and cube.disclosure.method == "cell_key":
            return cellkey.CellKeyProtection.of(found, self.model.root)
        return found

    def _pattern(self, protect: disclosure.Protection) -> Pattern:
        """The suppression pattern (or cell key perturbation) of the cube's tables, computed
        once per data version."""
        protect.prepare(self.engine)
        key = (self.model_version, data_version(self.engine), protect.cube.name)
        return self._patterns.get(
            key, lambda: self._make_pattern(protect), cube=protect.cube.name, wait=self._timeout
        )

    def disclosure_pattern(self, cube: str) -> Pattern:
        """The suppression pattern of a cube's publication tables, as publication roles get it
        (computed if no answer has needed it yet): for benchmarks and audits of the pattern."""
        found = self.model.cubes.get(cube)
        if found is None or found.disclosure is None:
            raise NotFoundError(f"no cube '{cube}' with disclosure rules")
        tables = disclosure.tables_of(self.model, found, found.disclosure)
        return self._pattern(disclosure.Protection(found, found.disclosure, tables[0], tables, []))

    def _make_pattern(self, protect: disclosure.Protection) -> Pattern:
        run = protect.executor_for(self.executor)
        results = [run.aggregate(q, None, limit=disclosure.TABLE_CELLS) for q in protect.table_queries()]
        sensitive = None
        # the dominance and p% rules read each cell's largest contributors (suppression only:
        # the cell key method publishes counts, and no sums)
        if protect.sensitivity and protect.rules.method == "suppression":
            layout = self.executor.layout(protect.cube.name)
            sums = [protect.cube.measure(m) for m in protect.sensitivity]
            top = max(r.top for r in protect.sensitivity.values())
            sensitive = protect.sensitive_cells(
                lambda table, sets: top_contributors(
                    self.engine, layout, list(table.drills), sums, protect.contributor_column, top, sets
                )
            )
        return protect.pattern(results, sensitive)

    def _hidden_totals(self, cube: Cube, restricted: Restricted, result: AggregateResult) -> AggregateResult:
        def keys_of(attributes: list[str]) -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for a in attributes:
                dim, _, level = a.partition(".")
                if level and not level.endswith("_label"):
                    out.setdefault(dim, []).append(a)
            return out

        rules, cuts, names = restricted.hidden_totals, restricted.query.cuts, result.measures
        cells, empty = empty_hidden_totals(
            self.model, cube, rules, result.cells, keys_of(result.attributes), names, cuts
        )
        subtotals = []
        for sub in result.subtotals:
            keys = keys_of(sub.attributes)
            rows, _ = empty_hidden_totals(self.model, cube, rules, sub.rows, keys, names, cuts)
            subtotals.append(replace(sub, rows=rows))
        summary = result.summary
        if empty and summary is not None:
            summary = {m: None for m in summary}
        return replace(result, cells=cells, subtotals=subtotals, summary=summary)

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
    def _members(self, query: MembersQuery, principal: Principal) -> MembersResult:
        visible = self.layout(query.cube, principal)
        layout = self.executor.layout(query.cube)
        self._parts("order terms", query.order, lambda b: b.list_parts)
        query = replace(query, cuts=self._cuts(query.cuts, cube=visible.cube))
        query = restrict_members(layout.cube, self._access(query.cube, principal), query)
        page, pagesize, limit = paging(query.page, query.pagesize, self.limits.max_rows).window()
        result = members_q.members(
            layout,
            self.engine,
            query.dimension,
            depth=query.depth,
            level=query.level,
            hierarchy=query.hierarchy,
            cuts=query.cuts,
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

    def _facts(self, query: FactsQuery, principal: Principal) -> FactsResult:
        visible = self.layout(query.cube, principal)
        layout = self.executor.layout(query.cube)
        self._parts("fields", query.fields, lambda b: b.list_parts)
        self._parts("order terms", query.order, lambda b: b.list_parts)
        query = replace(query, cuts=self._cuts(query.cuts, cube=visible.cube))
        _no_published_microdata(layout.cube, self._access(query.cube, principal))
        query = restrict_facts(
            layout.cube,
            self._access(query.cube, principal),
            query,
            attributes=[a.ref for a in facts_q.fact_attributes(layout)],
        )
        self.executor.check_facts(layout)
        page, pagesize, limit = paging(query.page, query.pagesize, self.limits.max_rows).window()
        result = facts_q.facts(
            layout,
            self.engine,
            cuts=query.cuts,
            fields=query.fields,
            order=query.order,
            page=page,
            pagesize=pagesize,
            as_of=as_of_date(self.model, layout.cube, query.as_of),
            timeout=self._timeout,
            max_memory=self.limits.max_memory,
            secret=self.fact_key_secret,
            lang=query.lang,
            members=self.executor.members,
        )
        if limit is not None and result.rows.num_rows > limit:
            # Cut, not refused, as Cubes cuts an unpaged list at its json_record_limit: its
            # clients (CubesViewer's facts grid and CSV export) ask without a page size and
            # show "limit hit" when as many rows as the limit come back.
            return replace(result, rows=result.rows.slice(0, limit), limit=limit)
        return result

    def _fact(self, cube: str, key: str, principal: Principal, lang: str) -> dict[str, Any] | None:
        self.layout(cube, principal)
        layout = self.executor.layout(cube)
        self.executor.check_facts(layout)
        access = self._access(cube, principal)
        _no_published_microdata(layout.cube, access)
        found = facts_q.fact(
            layout,
            self.engine,
            key,
            timeout=self._timeout,
            secret=self.fact_key_secret,
            cuts=fact_cuts(layout.cube, access),
            max_memory=self.limits.max_memory,
            lang=lang,
            members=self.executor.members,
        )
        if found is None or access is None:
            return found
        hidden = hidden_columns(layout.cube, access)
        return {
            k: v
            for k, v in found.items()
            if k not in hidden and k.partition(".")[0] not in access.hidden_dimensions
        }

    def _cell(self, cube: str, cuts: tuple[Cut, ...], lang: str, principal: Principal) -> list[CutDetail]:
        """The cuts of a cell, resolved, with the labels of the members on their paths."""
        visible = self.layout(cube, principal)
        layout = self.executor.layout(cube)
        cuts = self._cuts(cuts, cube=visible.cube)
        check_cell(self.model, layout.cube, self._access(cube, principal), cuts)
        resolved = check_cuts(self.model, layout.cube, cuts)
        return [
            CutDetail(cut_info(rc), members_q.cut_details(layout, self.engine, rc.cut, lang))
            for rc in resolved
        ]

    # --- the door: every call recorded in the audit log ---------------------------------------------
    def aggregate(self, query: CubeQuery, principal: Principal) -> CellSet:
        """Cells, grand total and subtotals of the query as the principal may see them."""
        return self._audited("aggregate", principal, query, lambda: self._aggregate_query(query, principal))

    def refusal(self, query: CubeQuery, principal: Principal) -> UserError | None:
        """The error the policy would refuse the query with (its limits, the role's restrictions,
        the publication tables), or None: what a front end may offer without asking the engine.
        Kept per roles and claims (the policy does not change with the data). A cube the
        principal may not see raises its 404 as `aggregate` does."""
        layout = self.layout(query.cube, principal)
        access = self._access(query.cube, principal)

        def make() -> UserError | None:
            try:
                self._policy(self._checked(query, layout.cube), access)
            except UserError as exc:
                return exc
            return None

        found: UserError | None = self._kept(self._refusals, REFUSALS, (principal.cache_key, query), make)
        return found

    def cached_aggregate(self, query: CubeQuery, principal: Principal) -> CellSet | None:
        """A cached answer found without blocking (a front end on an event loop answers it there),
        or None: not cached, or finding out would block (the cache is off, or the engine is
        shared with other writers, whose data version is an engine query)."""
        if self.audit is None:
            return self._cached_aggregate(query, principal)
        start = time.perf_counter()
        try:
            found = self._cached_aggregate(query, principal)
        except UserError as exc:
            self._record("aggregate", principal, query, start, error=exc)
            raise
        if found is not None:
            self._record("aggregate", principal, query, start, answer=found)
        return found

    def members(self, query: MembersQuery, principal: Principal) -> MembersResult:
        return self._audited("members", principal, query, lambda: self._members(query, principal))

    def facts(self, query: FactsQuery, principal: Principal) -> FactsResult:
        return self._audited("facts", principal, query, lambda: self._facts(query, principal))

    def fact(self, cube: str, key: str, principal: Principal, lang: str = "lv") -> dict[str, Any] | None:
        """One fact by its key (raw columns and dimension attributes, labels in `lang`)."""
        run = lambda: self._fact(cube, key, principal, lang)  # noqa: E731
        return self._audited("fact", principal, FactsQuery(cube), run)

    def cell(self, cube: str, cuts: tuple[Cut, ...], lang: str, principal: Principal) -> list[CutDetail]:
        """The cuts of a cell, resolved, with the labels of the members on their paths."""
        run = lambda: self._cell(cube, cuts, lang, principal)  # noqa: E731
        return self._audited("cell", principal, FactsQuery(cube, cuts), run)

    def _audited(self, op: str, principal: Principal, query: Any, run: Callable[[], T]) -> T:
        if self.audit is None:
            return run()
        start = time.perf_counter()
        try:
            answer = run()
        except UserError as exc:
            self._record(op, principal, query, start, error=exc)
            raise
        self._record(op, principal, query, start, answer=answer)
        return answer

    def _record(
        self,
        op: str,
        principal: Principal,
        query: Any,
        start: float,
        *,
        answer: Any = None,
        error: UserError | None = None,
    ) -> None:
        assert self.audit is not None
        event: dict[str, Any] = {**audit.who(principal), "op": op, **audit.describe(query)}
        if error is not None:
            event |= {"status": error.status, "error": error.error_type}
        else:
            event |= {"status": 200, "rows": _rows(answer)}
            if isinstance(answer, CellSet):
                event |= {"source": answer.explain.source, "cache": answer.explain.cache}
        event["ms"] = round((time.perf_counter() - start) * 1000, 3)
        self.audit.record(event)

    def close(self) -> None:
        self.cache.clear()


def _no_published_microdata(cube: Cube, access: CubeAccess | None) -> None:
    """Fact rows are never published: refused to whoever gets this cube's protected answers."""
    if cube.disclosure is not None and (access is None or access.protected):
        raise ForbiddenError(
            f"fact rows of cube '{cube.name}' are not published",
            hint="published answers are aggregates under disclosure control (docs/disclosure.md)",
        )


def _rows(answer: Any) -> int:
    """How many rows an answer carried (cells, members, facts; a summary or a fact is one)."""
    if isinstance(answer, CellSet):
        return answer.cells.num_rows if answer.has_cells else 1
    if isinstance(answer, MembersResult):
        return answer.data.num_rows
    if isinstance(answer, FactsResult):
        return answer.rows.num_rows
    if isinstance(answer, list):
        return len(answer)
    return 0 if answer is None else 1


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
