"""Indicators: the catalogue /indicators and one indicator with its data, /indicator/<code>.

An indicator's data are its cube's /aggregate for its measure under its fixed cuts (plus the
request's cuts), computed by the same service: the numbers cannot differ from the cube's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from ...model.cut_grammar import parse_cuts
from ...model.schema import IndicatorType
from .. import indicators, sdmx, slicer
from ..deps import (
    AsOfParam,
    BomParam,
    CellFormatParam,
    CutParam,
    DrilldownParam,
    ExplainParam,
    HeaderParam,
    Lang,
    OrderParam,
    PageParam,
    PageSizeParam,
    PrettyPrint,
    PrincipalDep,
    ServiceDep,
)
from ..indicators import IndicatorBrief, IndicatorResponse
from ..render import CELL_FORMATS, json_response, responses_of, table_response

router = APIRouter(tags=["indicators"])


@router.get("/indicators", response_model=list[IndicatorBrief])
def catalogue(
    service: ServiceDep,
    principal: PrincipalDep,
    q: Annotated[
        str | None,
        Query(description="Words to find in the code, name, description or source", max_length=200),
    ] = None,
    type: Annotated[IndicatorType | None, Query(description="Indicator type")] = None,
    source: Annotated[
        str | None, Query(description="Source institution, e.g. NVA (case ignored)", max_length=100)
    ] = None,
    lang: Lang = "lv",
    prettyprint: PrettyPrint = False,
) -> Response:
    """The indicator catalogue, in model order, filtered by `q`, `type` and `source` (all optional).

    `q` matches every word as a substring of the code, either language's name or description,
    or the source institution; case and diacritics are ignored."""
    found = indicators.catalogue(
        service.visible_model(principal), lang, q, type.value if type else None, source
    )
    return json_response(found, prettyprint=prettyprint)


@router.get(
    "/indicator/{code}",
    response_model=IndicatorResponse,
    responses=responses_of(CELL_FORMATS, "The indicator and its cells"),
)
def indicator(
    service: ServiceDep,
    principal: PrincipalDep,
    code: Annotated[str, Path(description="Indicator code, e.g. NVA-001", max_length=100)],
    cut: CutParam = None,
    drilldown: DrilldownParam = None,
    order: OrderParam = None,
    page: PageParam = None,
    pagesize: PageSizeParam = None,
    as_of: AsOfParam = None,
    explain: ExplainParam = False,
    format: CellFormatParam = "json",
    header: HeaderParam = "names",
    bom: BomParam = False,
    lang: Lang = "lv",
    prettyprint: PrettyPrint = False,
) -> Response:
    """An indicator's definition and its data: its cube's aggregate of its measure under its
    fixed cuts and the request's `cut`, split by `drilldown` (any of the cube's dimensions,
    e.g. `territory:region|time:year`).

    The response is /aggregate's (`cell` lists the fixed cuts first) plus `indicator`;
    `format=csv|xlsx|arrow|arrows|parquet` returns the cells as a table, `format=sdmx-csv` as
    SDMX-CSV observations of the indicator's dataflow (docs/sdmx.md)."""
    model = service.visible_model(principal)
    ind = indicators.find(model, code)
    query = slicer.aggregate_query(
        ind.cube,
        cut=cut,
        drilldown=drilldown,
        aggregates=ind.measure,
        order=order,
        page=page,
        pagesize=pagesize,
        as_of=as_of,
        lang=lang,
        cell=parse_cuts(ind.cuts),
    )
    cells = service.aggregate(query, principal)
    if format == "sdmx-csv":
        return sdmx.data_response(service, principal, cells, ind.code, bom)
    payload = slicer.aggregate_payload(cells, explain=explain)
    if format != "json":
        rows = payload["cells"] if cells.axes else [payload["summary"]]
        return table_response(
            format,
            [*cells.attributes, *cells.value_columns],
            rows,
            header=header,
            labels=slicer.aggregate_labels(cells, lang),
            filename=ind.code,
            bom=bom,
        )
    payload["indicator"] = indicators.detail(model, ind, lang, indicators.views(service, principal, ind))
    return json_response(payload, prettyprint=prettyprint)
