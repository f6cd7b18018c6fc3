"""Fact rows: /cube/<cube>/facts and /cube/<cube>/fact/<id>."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from ...errors import NotFoundError
from .. import slicer
from ..deps import (
    AsOfParam,
    BomParam,
    CutParam,
    FieldsParam,
    FormatParam,
    HeaderParam,
    Lang,
    LayoutDep,
    OrderParam,
    PageParam,
    PageSizeParam,
    PrettyPrint,
    PrincipalDep,
    ServiceDep,
)
from ..render import TABLE_FORMATS, json_response, responses_of, table_response

router = APIRouter(tags=["cubes"])


TRUNCATED = "X-Labis-Truncated"
"""On a /facts answer cut at the server's record limit: the limit (Cubes' clients see it as a
list exactly `json_record_limit` long, which CubesViewer shows as "limit hit")."""


@router.get(
    "/cube/{cube}/facts",
    response_model=list[dict[str, Any]],
    responses=responses_of(TABLE_FORMATS, "The fact rows"),
)
def facts(
    service: ServiceDep,
    principal: PrincipalDep,
    layout: LayoutDep,
    cut: CutParam = None,
    fields: FieldsParam = None,
    order: OrderParam = None,
    page: PageParam = None,
    pagesize: PageSizeParam = None,
    as_of: AsOfParam = None,
    format: FormatParam = "json",
    header: HeaderParam = "names",
    bom: BomParam = False,
    lang: Lang = "lv",
    prettyprint: PrettyPrint = False,
) -> Response:
    """Fact rows in the cell: `__fact_key__` (a row id, as text), the fact columns, then every
    level's key and label of every dimension by full name, as Cubes returns them
    (`territory.region`, `territory.region_label`, …: the member as at the fact's date, or as of
    `as_of`; labels in `lang`). `fields` takes either kind, comma-separated.

    Columns of type `person` and `identifier` (pseudonymous surrogates) are never returned. Default order: by
    date, then by row id. Without `pagesize`, the list is cut at the server's record limit
    (`json_record_limit` in /info) as Cubes cuts it, and the answer carries the header
    `X-Labis-Truncated: <limit>`; page with `page` and `pagesize` for the rest. The query is
    stopped after the server's time limit (400)."""
    query = slicer.facts_query(
        layout.cube.name,
        cut=cut,
        fields=fields,
        order=order,
        page=page,
        pagesize=pagesize,
        as_of=as_of,
        lang=lang,
    )
    result = service.facts(query, principal)
    rows = result.rows.to_pylist()
    if format != "json":
        response = table_response(
            format,
            result.fields,
            rows,
            header=header,
            labels=slicer.facts_labels(layout, lang),
            filename=f"{layout.cube.name}_facts",
            table=result.rows,
            bom=bom,
        )
    else:
        response = json_response(rows, prettyprint=prettyprint)
    if result.limit is not None:
        response.headers[TRUNCATED] = str(result.limit)
    return response


@router.get("/cube/{cube}/fact/{fact_id}", response_model=dict[str, Any])
def fact(
    service: ServiceDep,
    principal: PrincipalDep,
    layout: LayoutDep,
    fact_id: Annotated[str, Path(description="A `__fact_key__` from /facts", max_length=40)],
    lang: Lang = "lv",
    prettyprint: PrettyPrint = False,
) -> Response:
    """One fact by its `__fact_key__`, as its row in /facts (raw columns, then the dimension
    attributes); 404 if there is none."""
    record = service.fact(layout.cube.name, fact_id, principal, lang)
    if record is None:
        raise NotFoundError(f"cube '{layout.cube.name}' has no fact '{fact_id}'")
    return json_response(record, prettyprint=prettyprint)
