"""SDMX structures: /sdmx/structure/<cube> and /sdmx/structure/indicator/<code> (docs/sdmx.md).

The data are /cube/<cube>/aggregate and /indicator/<code> with `format=sdmx-csv`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from .. import indicators, sdmx
from ..deps import CubeName, PrincipalDep, ServiceDep

router = APIRouter(tags=["sdmx"])
STRUCTURE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An SDMX-ML 3.0 structure message",
        "content": {sdmx.STRUCTURE_TYPE.split(";")[0]: {"schema": {"type": "string"}}},
    }
}


@router.get("/sdmx/structure/{cube}", response_class=Response, responses=STRUCTURE)
def cube_structure(service: ServiceDep, principal: PrincipalDep, cube: CubeName) -> Response:
    """The cube's SDMX structure (SDMX-ML 3.0): a codelist per dimension (its members at every
    level, Latvian and English names, parents), the measures' codelist, the concept scheme, the
    data structure, and a dataflow for the cube and for each of its indicators. Agency, ids and
    version come from the cube's `sdmx:` block. Only what the principal may see is in it."""
    return sdmx.structure_response(service, principal, cube)


@router.get("/sdmx/structure/indicator/{code}", response_class=Response, responses=STRUCTURE)
def indicator_structure(
    service: ServiceDep,
    principal: PrincipalDep,
    code: Annotated[str, Path(description="Indicator code, e.g. NVA-001", max_length=100)],
) -> Response:
    """The structure of an indicator's data: its cube's, with the indicator's dataflow only."""
    ind = indicators.find(service.visible_model(principal), code)
    return sdmx.structure_response(service, principal, ind.cube, ind.code)
