"""Dimension members: /cube/<cube>/members/<dim>."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from .. import slicer
from ..deps import (
    AsOfParam,
    BomParam,
    CutParam,
    DepthParam,
    FormatParam,
    HeaderParam,
    HierarchyParam,
    Lang,
    LayoutDep,
    LevelParam,
    OrderParam,
    PageParam,
    PageSizeParam,
    PrettyPrint,
    PrincipalDep,
    ServiceDep,
)
from ..render import TABLE_FORMATS, json_response, responses_of, table_response
from ..schemas import MembersResponse

router = APIRouter(tags=["cubes"])


@router.get(
    "/cube/{cube}/members/{dimension}",
    response_model=MembersResponse,
    responses=responses_of(TABLE_FORMATS, "The members"),
)
def members(
    service: ServiceDep,
    principal: PrincipalDep,
    layout: LayoutDep,
    dimension: Annotated[str, Path(description="Dimension as the cube names it", max_length=200)],
    cut: CutParam = None,
    depth: DepthParam = None,
    level: LevelParam = None,
    hierarchy: HierarchyParam = None,
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
    """Members of a dimension down to a level (`depth` or `level`), optionally cut on that dimension.

    Non-time members come from the dimension's member table (a versioned dimension: those valid
    on `as_of` if given, else all that ever existed); time members are the periods present in
    the cube's facts. Cuts on other dimensions are refused (400)."""
    query = slicer.members_query(
        layout.cube.name,
        dimension,
        cut=cut,
        depth=depth,
        level=level,
        hierarchy=hierarchy,
        order=order,
        page=page,
        pagesize=pagesize,
        as_of=as_of,
        lang=lang,
    )
    result = service.members(query, principal)
    payload = slicer.members_payload(result)
    if format != "json":
        columns = result.data.column_names
        return table_response(
            format,
            columns,
            payload["data"],
            header=header,
            labels={},
            filename=f"{layout.cube.name}_{result.dimension}",
            table=result.data,
            bom=bom,
        )
    return json_response(payload, prettyprint=prettyprint)
