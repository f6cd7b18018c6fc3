"""Fact rows: /cube/<cube>/facts and /cube/<cube>/fact/<id>."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from ...errors import NotFoundError
from .. import slicer
from ..deps import (
    AsOfParam,
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
from ..render import json_response, table_response

router = APIRouter(tags=["cubes"])


@router.get("/cube/{cube}/facts", response_model=list[dict[str, Any]])
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
    lang: Lang = "lv",
    prettyprint: PrettyPrint = False,
) -> Response:
    """Fact rows in the cell: `__fact_key__` (a row id, as text) and the fact columns.

    Columns of type `person` and `identifier` (pseudonymous surrogates) are never returned. Default order: by
    date, then by row id. The query is stopped after the server's time limit (400)."""
    query = slicer.facts_query(
        layout.cube.name, cut=cut, fields=fields, order=order, page=page, pagesize=pagesize, as_of=as_of
    )
    result = service.facts(query, principal)
    rows = result.rows.to_pylist()
    if format != "json":
        return table_response(
            format,
            result.fields,
            rows,
            header=header,
            labels=slicer.facts_labels(layout, lang),
            filename=f"{layout.cube.name}_facts",
            table=result.rows,
        )
    return json_response(rows, prettyprint=prettyprint)


@router.get("/cube/{cube}/fact/{fact_id}", response_model=dict[str, Any])
def fact(
    service: ServiceDep,
    principal: PrincipalDep,
    layout: LayoutDep,
    fact_id: Annotated[str, Path(description="A `__fact_key__` from /facts", max_length=40)],
    prettyprint: PrettyPrint = False,
) -> Response:
    """One fact by its `__fact_key__`; 404 if there is none."""
    record = service.fact(layout.cube.name, fact_id, principal)
    if record is None:
        raise NotFoundError(f"cube '{layout.cube.name}' has no fact '{fact_id}'")
    return json_response(record, prettyprint=prettyprint)
