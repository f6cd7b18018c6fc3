"""Aggregation: /cube/<cube>/aggregate and the cell details /cube/<cube>/cell."""

from __future__ import annotations

from fastapi import APIRouter, Response

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
)
from ..render import json_response, table_response
from ..schemas import AggregateResponse, CellResponse

router = APIRouter(tags=["cubes"])


@router.get("/cube/{cube}/aggregate", response_model=AggregateResponse)
def aggregate(
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
    header: HeaderParam = "names",
    lang: Lang = "lv",
    prettyprint: PrettyPrint = False,
) -> Response:
    """Aggregates of the cell given by `cut`, split into cells by `drilldown` (Slicer's aggregate).

    Cells carry every attribute of every drilled level from the top down, then the aggregates.
    `format=csv|xlsx` returns the cells as a table (attributes, then aggregates)."""
    args = service.AggregateArgs(
        cut, drilldown, aggregates, split, order, page, pagesize, as_of, lang, explain
    )
    payload, result = service.aggregate(state, layout, args)
    if format != "json":
        columns = [*result.attributes, *result.measures]
        rows = payload["cells"] if result.levels else [payload["summary"]]
        return table_response(
            format,
            columns,
            rows,
            header=header,
            labels=service.aggregate_labels(layout, result, lang),
            filename=f"{layout.cube.name}_aggregate",
        )
    return json_response(payload, prettyprint=prettyprint)


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
