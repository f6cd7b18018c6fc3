"""Aggregation: /cube/<cube>/aggregate and the cell details /cube/<cube>/cell."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from ...physical.layout import CubeLayout
from ...query.cuts import parse_cuts
from .. import service
from ..deps import (
    AggregatesParam,
    AsOfParam,
    CutParam,
    DrilldownParam,
    ExplainParam,
    FormatParam,
    HeaderParam,
    Lang,
    LayoutDep,
    OrderParam,
    PageParam,
    PageSizeParam,
    PrettyPrint,
    SplitParam,
    StateDep,
    SubtotalsParam,
)
from ..render import Format, Header, json_response, raw_json_response, table_response
from ..schemas import AggregateResponse, CellResponse
from ..state import AppState

router = APIRouter(tags=["cubes"])


@router.get("/cube/{cube}/aggregate", response_model=AggregateResponse)
async def aggregate(
    state: StateDep,
    layout: LayoutDep,
    cut: CutParam = None,
    drilldown: DrilldownParam = None,
    aggregates: AggregatesParam = None,
    split: SplitParam = None,
    order: OrderParam = None,
    page: PageParam = None,
    pagesize: PageSizeParam = None,
    as_of: AsOfParam = None,
    explain: ExplainParam = False,
    format: FormatParam = "json",
    subtotals: SubtotalsParam = "none",
    header: HeaderParam = "names",
    lang: Lang = "lv",
    prettyprint: PrettyPrint = False,
) -> Response:
    """Aggregates of the cell given by `cut`, split into cells by `drilldown` (Slicer's aggregate).

    Cells carry every attribute of every drilled level from the top down, then the aggregates;
    `summary` is the grand total of the cell (computed in the same engine query as the cells).
    `format=csv|xlsx|arrow|parquet` returns the cells as a table (attributes, then aggregates;
    without a drilldown or split, the summary). Answers come from a result cache keyed by the
    model and data versions (`explain=1` says hit or miss). Over the server's time or memory
    limit per query: 400 `query_timeout` / `query_too_large`; more cells than the server's
    limit without `pagesize`: 400 `bad_query`, saying to page."""
    args = service.AggregateArgs(
        cut, drilldown, aggregates, split, order, page, pagesize, as_of, lang, explain, subtotals
    )
    return await answer(state, layout, args, format, header, prettyprint)


async def answer(
    state: AppState,
    layout: CubeLayout,
    args: service.AggregateArgs,
    format: Format = "json",
    header: Header = "names",
    prettyprint: bool = False,
) -> Response:
    """The aggregate's response (this route's, and the fast path's: api/fastpath.py).

    A cache hit is answered on the event loop; the engine runs in the thread pool."""
    found, prepared = service.cached_answer(state, layout, args)
    if found is None:
        found = await run_in_threadpool(service.aggregate_answer, state, layout, args, (), prepared)
    if format != "json":
        return await run_in_threadpool(_table, found, layout, format, header, args.lang)
    if not args.explain and not prettyprint:
        return raw_json_response(found.json)
    payload = dict(found.payload)
    if args.explain:
        payload["explain"] = found.explained()
    return json_response(payload, prettyprint=prettyprint)


SUBTOTAL = "__subtotal"
"""With `subtotals`, the table formats add this first column: empty for a cell, `subtotal` for a
row of a subtotal set (the attributes of the levels it rolls up are empty), `total` for the
grand total (the summary) as the last row."""


def _table(
    answer: service.AggregateAnswer, layout: CubeLayout, fmt: Format, header: Header, lang: str
) -> Response:
    result, payload = answer.result, answer.payload
    has_cells = bool(result.levels) or payload["has_split"]
    columns = [*result.attributes, *result.measures]
    rows = payload["cells"] if has_cells else [payload["summary"]]
    table = result.cells
    labels = service.aggregate_labels(layout, result, lang)
    if has_cells and payload.get("subtotals") is not None:
        rows = [
            *({**c, SUBTOTAL: ""} for c in rows),
            *({**c, SUBTOTAL: "subtotal"} for s in payload["subtotals"] for c in s["cells"]),
            {**payload["summary"], SUBTOTAL: "total"},
        ]
        columns = [SUBTOTAL, *columns]
        labels = {SUBTOTAL: "subtotal" if lang == "en" else "starpsumma", **labels}
        table = None  # the rows' types, as Arrow infers them: subtotal rows leave attributes empty
    return table_response(
        fmt,
        columns,
        rows,
        header=header,
        labels=labels,
        filename=f"{layout.cube.name}_aggregate",
        table=table,
    )


@router.get("/cube/{cube}/cell", response_model=CellResponse)
def cell(
    state: StateDep,
    layout: LayoutDep,
    cut: CutParam = None,
    lang: Lang = "lv",
    prettyprint: PrettyPrint = False,
) -> Response:
    """The cuts of a cell with the labels of every member on their paths (for breadcrumbs)."""
    return json_response(service.cell_details(state, layout, parse_cuts(cut), lang), prettyprint=prettyprint)
