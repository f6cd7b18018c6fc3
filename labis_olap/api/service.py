"""What the cube routes (and /report) compute, independent of HTTP: request args in, payloads out.

Slicer semantics: `page` counts from 0; `pagesize` alone means the first page; without
`pagesize` a response carries everything up to the server's limit (`max_pagesize`, reported
as /info's json_record_limit) and a larger answer is a 400 that says to page.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import orjson

from ..compiler.physical import CubeLayout
from ..errors import QueryError
from ..query import facts as facts_q
from ..query import members as members_q
from ..query.browser import AggregateResult, too_many_cells
from ..query.cache import data_version
from ..query.cell import CubeQuery, Cut, PointCut, RangeCut, SetCut
from ..query.cuts import parse_cuts, parse_drilldowns, parse_order
from ..query.resolve import check_cuts
from .render import json_bytes
from .state import AppState


@dataclass
class Paging:
    page: int
    pagesize: int
    """Rows asked for; `limited` when the client gave no pagesize (the server's limit applies)."""
    limited: bool


def paging(state: AppState, page: int | None, pagesize: int | None) -> Paging:
    limit = state.settings.max_pagesize
    if pagesize is not None and pagesize > limit:
        raise QueryError(
            f"pagesize {pagesize} is over the server's limit of {limit}", hint=f"use pagesize<={limit}"
        )
    if pagesize is not None and pagesize < 1:
        raise QueryError("pagesize must be at least 1")
    if page is not None and page < 0:
        raise QueryError("page must be 0 or more")
    if pagesize is None:
        # Slicer: page without pagesize pages by the server's limit.
        return Paging(page or 0, limit, limited=not page)
    return Paging(page or 0, pagesize, limited=False)


def too_many(what: str, limit: int) -> QueryError:
    return too_many_cells(limit, what)


def _split_list(text: str | None, sep: str = "|") -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(p.strip() for p in text.split(sep) if p.strip())


def cut_dict(layout: CubeLayout, cut: Cut) -> dict[str, Any]:
    """A cut as Slicer shows it in `cell`."""
    rc = check_cuts(layout.model, layout.cube, (cut,))[0]
    out: dict[str, Any] = {
        "type": "point",
        "dimension": cut.dimension,
        "hierarchy": rc.ref.hierarchy.name,
        "level_depth": rc.depth,
        "invert": cut.invert,
        "hidden": False,
    }
    if isinstance(cut, PointCut):
        out["path"] = list(cut.path)
    elif isinstance(cut, RangeCut):
        out["type"] = "range"
        out["from"] = list(cut.from_path) if cut.from_path is not None else None
        out["to"] = list(cut.to_path) if cut.to_path is not None else None
    elif isinstance(cut, SetCut):
        out["type"] = "set"
        out["paths"] = [list(p) for p in cut.paths]
    return out


@dataclass
class AggregateArgs:
    cut: str | None = None
    drilldown: str | None = None
    aggregates: str | None = None
    split: str | None = None
    order: str | None = None
    page: int | None = None
    pagesize: int | None = None
    as_of: str | None = None
    lang: str = "lv"
    explain: bool = False
    subtotals: str = "none"


@dataclass
class AggregateAnswer:
    """An aggregate as the API returns it: the result it came from, its JSON text (rendered
    once; with the result, all the cache keeps, so its byte budget counts what is held) and the
    cache's say. The Slicer payload (without `explain`) is parsed back from the JSON on a hit."""

    result: AggregateResult
    json: bytes
    cache: str
    """hit, miss or off."""
    _payload: dict[str, Any] | None = None

    @property
    def payload(self) -> dict[str, Any]:
        if self._payload is None:
            self._payload = orjson.loads(self.json)
        return self._payload

    def explained(self) -> dict[str, Any]:
        return {**self.result.explain, "cache": self.cache}


@dataclass
class PreparedAggregate:
    """A parsed aggregate request and its cache key (None: the cache is off)."""

    query: CubeQuery
    cuts: tuple[Cut, ...]
    key: tuple[Any, ...] | None


def prepare_aggregate(
    state: AppState, layout: CubeLayout, args: AggregateArgs, cell: tuple[Cut, ...] = ()
) -> PreparedAggregate:
    """Parse the request and key it by model version, data version and query (see query.cache).
    On an engine shared with other writers the data version is an engine query (blocking)."""
    cuts = cell + parse_cuts(args.cut)
    pg = paging(state, args.page, args.pagesize)
    query = CubeQuery(
        layout.cube.name,
        _split_list(args.aggregates),
        cuts,
        parse_drilldowns(args.drilldown),
        parse_order(args.order),
        None if pg.limited else pg.page,
        None if pg.limited else pg.pagesize,
        args.as_of,
        args.lang,
        parse_cuts(args.split),
        args.subtotals,
    )
    key: tuple[Any, ...] | None = None
    if state.cache.enabled:
        as_of = state.browser.as_of_date(layout, args.as_of)
        key = (state.model_version, data_version(state.engine), replace(query, as_of=None), as_of)
    return PreparedAggregate(query, cuts, key)


def cached_answer(
    state: AppState, layout: CubeLayout, args: AggregateArgs
) -> tuple[AggregateAnswer | None, PreparedAggregate | None]:
    """A cache hit found without blocking (so the route can answer it on the event loop, with no
    thread-pool hop), and the prepared request for the miss; (None, None) when finding out would
    block (no cache, or an engine whose data version is a query)."""
    if not state.cache.enabled or state.engine.shared:
        return None, None
    prepared = prepare_aggregate(state, layout, args)
    return _lookup(state, prepared), prepared


def _lookup(state: AppState, prepared: PreparedAggregate) -> AggregateAnswer | None:
    hit = state.cache.get(prepared.key) if prepared.key is not None else None
    return AggregateAnswer(hit.result, hit.json, "hit") if hit is not None else None


def aggregate_answer(
    state: AppState,
    layout: CubeLayout,
    args: AggregateArgs,
    cell: tuple[Cut, ...] = (),
    prepared: PreparedAggregate | None = None,
) -> AggregateAnswer:
    """Aggregate through the result cache; `prepared` (looked up already) skips the lookup."""
    if prepared is None:
        prepared = prepare_aggregate(state, layout, args, cell)
        hit = _lookup(state, prepared)
        if hit is not None:
            return hit
    query, key = prepared.query, prepared.key
    result = state.browser.aggregate(query, limit=state.settings.max_pagesize)
    has_cells = bool(result.levels) or bool(query.split)
    payload: dict[str, Any] = {
        "summary": result.summary or {},
        "remainder": {},
        "cells": result.cells.to_pylist() if has_cells else [],
        "total_cell_count": result.total_cell_count if has_cells else None,
        "aggregates": result.measures,
        "cell": [cut_dict(layout, c) for c in prepared.cuts],
        "levels": result.levels,
        "attributes": result.attributes,
        "has_split": bool(query.split),
    }
    if args.subtotals != "none":
        payload["subtotals"] = [
            {"levels": s.levels, "attributes": s.attributes, "cells": s.rows.to_pylist()}
            for s in result.subtotals
        ]
    body = json_bytes(payload)
    if key is not None:
        state.cache.put(key, AggregateAnswer(result, body, "hit"), result.nbytes + len(body))
    return AggregateAnswer(result, body, "miss" if key is not None else "off", payload)


def aggregate(
    state: AppState, layout: CubeLayout, args: AggregateArgs, cell: tuple[Cut, ...] = ()
) -> tuple[dict[str, Any], AggregateResult]:
    """The aggregate payload (a fresh dict, safe to extend) and the result behind it."""
    answer = aggregate_answer(state, layout, args, cell)
    payload = dict(answer.payload)
    if args.explain:
        payload["explain"] = answer.explained()
    return payload, answer.result


def aggregate_labels(layout: CubeLayout, result: AggregateResult, lang: str) -> dict[str, str]:
    """Column → human label, for CSV/XLSX headers."""
    labels: dict[str, str] = {}
    for m in layout.cube.measures:
        labels[m.name] = m.label.get(lang) if m.label else m.name
    for attr in result.attributes:
        alias, _, level = attr.partition(".")
        if not level:  # the split's pseudo-attribute
            labels[attr] = "dalījuma iekšpusē" if lang == "lv" else "within split"
            continue
        dim = layout.dimension(alias)
        base = level.removesuffix("_label")
        lv = dim.level(base)
        name = lv.label.get(lang) if lv.label else base
        labels[attr] = name if level == base else f"{name} ({'nosaukums' if lang == 'lv' else 'label'})"
    return labels


@dataclass
class FactsArgs:
    cut: str | None = None
    fields: str | None = None
    order: str | None = None
    page: int | None = None
    pagesize: int | None = None
    as_of: str | None = None


def facts(
    state: AppState, layout: CubeLayout, args: FactsArgs, cell: tuple[Cut, ...] = ()
) -> facts_q.FactsResult:
    pg = paging(state, args.page, args.pagesize)
    result = facts_q.facts(
        layout,
        state.engine,
        cuts=cell + parse_cuts(args.cut),
        fields=_split_list(args.fields, ","),
        order=parse_order(args.order),
        page=pg.page,
        pagesize=pg.pagesize + 1 if pg.limited else pg.pagesize,
        as_of=state.browser.as_of_date(layout, args.as_of),
        timeout=state.settings.query_timeout,
        secret=state.fact_key_secret,
    )
    if pg.limited and result.rows.num_rows > pg.pagesize:
        raise too_many("facts", pg.pagesize)
    return result


def facts_labels(layout: CubeLayout, lang: str) -> dict[str, str]:
    out = {facts_q.FACT_KEY: facts_q.FACT_KEY}
    for c in layout.cube.columns:
        out[c.name] = c.label.get(lang) if c.label else c.name
    return out


def fact(state: AppState, layout: CubeLayout, key: str) -> dict[str, Any] | None:
    return facts_q.fact(
        layout, state.engine, key, timeout=state.settings.query_timeout, secret=state.fact_key_secret
    )


@dataclass
class MembersArgs:
    cut: str | None = None
    depth: int | None = None
    level: str | None = None
    hierarchy: str | None = None
    order: str | None = None
    page: int | None = None
    pagesize: int | None = None
    as_of: str | None = None
    lang: str = "lv"


def members(
    state: AppState, layout: CubeLayout, dimension: str, args: MembersArgs, cell: tuple[Cut, ...] = ()
) -> tuple[dict[str, Any], members_q.MembersResult]:
    pg = paging(state, args.page, args.pagesize)
    result = members_q.members(
        layout,
        state.engine,
        dimension,
        depth=args.depth,
        level=args.level,
        hierarchy=args.hierarchy,
        cuts=cell + parse_cuts(args.cut),
        order=parse_order(args.order),
        page=pg.page,
        pagesize=pg.pagesize + 1 if pg.limited else pg.pagesize,
        as_of=state.browser.as_of_date(layout, args.as_of),
        lang=args.lang,
        timeout=state.settings.query_timeout,
    )
    if pg.limited and result.data.num_rows > pg.pagesize:
        raise too_many("members", pg.pagesize)
    payload = {
        "dimension": result.dimension,
        "hierarchy": result.hierarchy,
        "depth": result.depth,
        "data": result.data.to_pylist(),
    }
    return payload, result


def cell_details(state: AppState, layout: CubeLayout, cuts: tuple[Cut, ...], lang: str) -> dict[str, Any]:
    return {
        "cube": layout.cube.name,
        "cuts": [
            {**cut_dict(layout, c), "details": members_q.cut_details(layout, state.engine, c, lang)}
            for c in cuts
        ],
    }
