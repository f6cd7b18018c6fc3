"""Aggregation: /cube/<cube>/aggregate and the cell details /cube/<cube>/cell."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from ...model.cut_grammar import parse_cuts
from ...query.cell import CubeQuery
from ...service import CellSet, CubeService, Principal
from .. import sdmx, slicer
from ..deps import (
    AggregatesParam,
    AsOfParam,
    BomParam,
    CellFormatParam,
    CutParam,
    DrilldownParam,
    ExplainParam,
    HeaderParam,
    Lang,
    LayoutDep,
    OrderParam,
    PageParam,
    PageSizeParam,
    PrettyPrint,
    PrincipalDep,
    ServiceDep,
    SplitParam,
    SubtotalsParam,
)
from ..render import (
    CELL_FORMATS,
    CellFormat,
    Format,
    Header,
    json_response,
    raw_json_response,
    responses_of,
    table_response,
)
from ..schemas import AggregateResponse, CellResponse

router = APIRouter(tags=["cubes"])


@router.get(
    "/cube/{cube}/aggregate",
    response_model=AggregateResponse,
    responses=responses_of(CELL_FORMATS, "The cells and their grand total"),
)
async def aggregate(
    service: ServiceDep,
    principal: PrincipalDep,
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
    format: CellFormatParam = "json",
    subtotals: SubtotalsParam = "none",
    header: HeaderParam = "names",
    bom: BomParam = False,
    lang: Lang = "lv",
    prettyprint: PrettyPrint = False,
) -> Response:
    """Aggregates of the cell given by `cut`, split into cells by `drilldown` (Slicer's aggregate).

    Cells carry every attribute of every drilled level from the top down, then the aggregates;
    `summary` is the grand total of the cell (computed in the same engine query as the cells).
    `format=csv|xlsx|arrow|arrows|parquet` returns the cells as a table (attributes, then
    aggregates; without a drilldown or split, the summary); `format=sdmx-csv` as SDMX-CSV
    observations (docs/sdmx.md). Answers come from a result cache keyed by the
    model and data versions (`explain=1` says hit or miss). Over the server's time or memory
    limit per query: 400 `query_timeout` / `query_too_large`; more cells than the server's
    limit without `pagesize`: 400 `bad_query`, saying to page."""
    query = slicer.aggregate_query(
        layout.cube.name,
        cut=cut,
        drilldown=drilldown,
        aggregates=aggregates,
        split=split,
        order=order,
        page=page,
        pagesize=pagesize,
        as_of=as_of,
        lang=lang,
        subtotals=subtotals,
    )
    return await answer(
        service, principal, query, format, header, explain=explain, prettyprint=prettyprint, bom=bom
    )


async def answer(
    service: CubeService,
    principal: Principal,
    query: CubeQuery,
    format: CellFormat = "json",
    header: Header = "names",
    *,
    explain: bool = False,
    prettyprint: bool = False,
    bom: bool = False,
) -> Response:
    """The aggregate's response (this route's, and the fast path's: api/fastpath.py, which
    answers only JSON and hands every other format here).

    A cache hit is answered on the event loop; the engine runs in the thread pool."""
    found = service.cached_aggregate(query, principal)
    if found is None:
        found = await run_in_threadpool(service.aggregate, query, principal)
    if format == "sdmx-csv":
        return await run_in_threadpool(sdmx.data_response, service, principal, found, None, bom)
    if format != "json":
        return await run_in_threadpool(_table, found, format, header, bom)
    if not explain and not prettyprint:
        return raw_json_response(slicer.aggregate_json(found))
    return json_response(slicer.aggregate_payload(found, explain=explain), prettyprint=prettyprint)


SUBTOTAL = "__subtotal"
"""With `subtotals`, the table formats add this first column: empty for a cell, `subtotal` for a
row of a subtotal set (the attributes of the levels it rolls up are empty), `total` for the
grand total (the summary) as the last row."""

ROW_KINDS = {"lv": ("starpsumma", "kopā"), "en": ("subtotal", "total")}
"""The SUBTOTAL column's values in a file for people (`header=labels`), in its language, as its
header is: a Latvian page's download says "starpsumma"/"kopā". With column names (the
default) they stay `subtotal`/`total`, which programs read whatever the language."""


def _table(cells: CellSet, fmt: Format, header: Header, bom: bool = False) -> Response:
    lang = cells.lang
    columns = [*cells.attributes, *cells.value_columns]
    payload = slicer.aggregate_payload(cells)
    rows = payload["cells"] if cells.has_cells else [payload["summary"]]
    table = cells.cells
    labels = slicer.aggregate_labels(cells, lang)
    if cells.has_cells and payload.get("subtotals") is not None:
        subtotal, total = ROW_KINDS["en" if lang == "en" else "lv"] if header == "labels" else ROW_KINDS["en"]
        rows = [
            *({**c, SUBTOTAL: ""} for c in rows),
            *({**c, SUBTOTAL: subtotal} for s in payload["subtotals"] for c in s["cells"]),
            {**payload["summary"], SUBTOTAL: total},
        ]
        columns = [SUBTOTAL, *columns]
        labels = {SUBTOTAL: ROW_KINDS["en" if lang == "en" else "lv"][0], **labels}
        table = None  # the rows' types, as Arrow infers them: subtotal rows leave attributes empty
    return table_response(
        fmt,
        columns,
        rows,
        header=header,
        labels=labels,
        filename=f"{cells.cube}_aggregate",
        table=table,
        bom=bom,
    )


@router.get("/cube/{cube}/cell", response_model=CellResponse)
def cell(
    service: ServiceDep,
    principal: PrincipalDep,
    layout: LayoutDep,
    cut: CutParam = None,
    lang: Lang = "lv",
    prettyprint: PrettyPrint = False,
) -> Response:
    """The cuts of a cell with the labels of every member on their paths (for breadcrumbs)."""
    details = service.cell(layout.cube.name, parse_cuts(cut), lang, principal)
    return json_response(slicer.cell_payload(layout.cube.name, details), prettyprint=prettyprint)
