"""Dependencies and parameter types shared by the routes, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Path, Query, Request
from starlette.types import Scope

from ..physical.layout import CubeLayout
from ..service import ANONYMOUS, CubeService, Principal
from ..settings import Settings
from .render import CellFormat, Format, Header
from .state import AppState

# Dependencies are `async def` although they do no I/O: FastAPI runs a plain `def` dependency in
# the thread pool, one hop per dependency per request, which cost more than the lookups.


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.labis
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_service(state: StateDep) -> CubeService:
    return state.service


ServiceDep = Annotated[CubeService, Depends(get_service)]


def principal_of(scope: Scope) -> Principal:
    """Who sends the request, from its credentials (security/authenticate.py): a 401
    UnauthorizedError without or with bad ones, ANONYMOUS in open demo mode. The aggregate
    fast path asks this too, so both ways authenticate alike by construction."""
    auth = scope["app"].state.labis.authenticator
    if auth.open:
        return ANONYMOUS
    authorization, api_key = _credentials(scope)
    principal: Principal = auth.authenticate(authorization, api_key)
    return principal


def _credentials(scope: Scope) -> tuple[str | None, str | None]:
    """The `Authorization` and `X-API-Key` headers (the first of each)."""
    authorization = api_key = None
    for name, value in scope["headers"]:
        if name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif name == b"x-api-key" and api_key is None:
            api_key = value.decode("latin-1")
    return authorization, api_key


async def get_principal(request: Request) -> Principal:
    return principal_of(request.scope)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_page_principal(request: Request) -> Principal:
    """An HTML page's principal: the request's if it has credentials, else ANONYMOUS (the pages
    stay reachable and show what the public role sees; their numbers come from the API, which
    asks for credentials)."""
    if _credentials(request.scope) == (None, None):
        return ANONYMOUS
    return principal_of(request.scope)


PagePrincipalDep = Annotated[Principal, Depends(get_page_principal)]

CubeName = Annotated[str, Path(description="Cube name", max_length=200)]


async def get_layout(cube: CubeName, service: ServiceDep, principal: PrincipalDep) -> CubeLayout:
    """The cube named in the path as the principal may see it (404 with a did-you-mean hint if
    there is none, or if it is hidden from the principal)."""
    return service.layout(cube, principal)


LayoutDep = Annotated[CubeLayout, Depends(get_layout)]

Lang = Annotated[Literal["lv", "en"], Query(description="Label language")]
PrettyPrint = Annotated[bool, Query(description="Indent the JSON response")]
CutParam = Annotated[
    str | None,
    Query(
        description="Cuts, e.g. `time:2024,2|territory:LV00A`; ranges `time:2020-2022`, sets `gender:M;F`, "
        "negation `!benefit_type:gmi`, hierarchy `territory@kind:state_city`",
        max_length=10_000,
    ),
]
DrilldownParam = Annotated[
    str | None, Query(description="Drilldowns `dim[@hierarchy][:level]`, `|`-separated", max_length=2_000)
]
AggregatesParam = Annotated[
    str | None, Query(description="Aggregates (measures) to compute, `a|b`; default: all", max_length=2_000)
]
SplitParam = Annotated[
    str | None,
    Query(
        description="Slicer's split: a cut string; every cell is divided into the part inside it and "
        "the part outside, shown by the pseudo-attribute `__within_split__` (true/false)",
        max_length=10_000,
    ),
]
SubtotalsParam = Annotated[
    Literal["none", "rollup", "cube"],
    Query(
        description="LabIS extension: subtotal rows besides the cells, under `subtotals` (in CSV, XLSX, "
        "Arrow and Parquet: after the cells, then the grand total, marked in a first `__subtotal` column). "
        "`rollup`: one set per prefix of the drilled levels in drilldown order (for "
        "`territory:municipality|gender`: by region+municipality, by region); `cube`: every "
        "combination of a prefix of each drilldown (also by gender alone: a pivot table's margins). "
        "Computed from the source rows like the grand total `summary`, never by adding cells, so "
        "distinct counts, averages and stocks are right"
    ),
]
OrderParam = Annotated[str | None, Query(description="`field[:asc|desc]`, comma-separated", max_length=2_000)]
PageParam = Annotated[int | None, Query(ge=0, description="Page number, from 0")]
PageSizeParam = Annotated[
    int | None, Query(ge=1, description="Rows per page; at most the server's json_record_limit")
]
AsOfParam = Annotated[
    str | None,
    Query(
        description="Hierarchy version: `fact` (default: as at each fact's date), `now`, a date "
        "`YYYY-MM-DD` or a version name",
        max_length=100,
    ),
]
ExplainParam = Annotated[bool, Query(description="Add the source, table, SQL and engine time")]
FORMATS_TEXT = (
    "json (default), csv, xlsx, arrow (Arrow IPC file, application/vnd.apache.arrow.file), arrows "
    "(Arrow IPC stream, application/vnd.apache.arrow.stream) or parquet; the tables carry the rows or "
    "cells (and, with `subtotals`, the subtotal rows and the grand total)"
)
FormatParam = Annotated[Format, Query(description=FORMATS_TEXT)]
CellFormatParam = Annotated[
    CellFormat,
    Query(
        description=FORMATS_TEXT + "; or sdmx-csv (SDMX-CSV 2.0, one observation per cell and measure, "
        "structure at /sdmx/structure/{cube}: docs/sdmx.md)"
    ),
]
BomParam = Annotated[
    bool,
    Query(description="CSV only: start with a UTF-8 byte order mark, so that Excel reads the text as UTF-8"),
]
HeaderParam = Annotated[Header, Query(description="CSV/XLSX header row: names (default), labels or none")]
FieldsParam = Annotated[
    str | None, Query(description="Fact fields to return, comma-separated; default: all", max_length=5_000)
]
DepthParam = Annotated[int | None, Query(ge=1, le=32, description="Levels from the top (default: all)")]
LevelParam = Annotated[str | None, Query(description="The deepest level to list", max_length=200)]
HierarchyParam = Annotated[
    str | None, Query(description="Hierarchy (default: the dimension's)", max_length=200)
]
