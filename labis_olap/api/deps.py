"""Dependencies and parameter types shared by the routes, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import Depends, Path, Query, Request
from starlette.types import Scope

from ..errors import ForbiddenError
from ..physical.layout import CubeLayout
from ..security import Session
from ..service import ANONYMOUS, PUBLIC_ROLE, CubeService, Principal
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


def principal_of(scope: Scope, *, public: bool = True) -> Principal:
    """Who sends the request, from its credentials (security/authenticate.py): a 401
    UnauthorizedError with bad ones or (unless the model declares the role `public`) without any;
    ANONYMOUS in open demo mode. Without an
    Authorization or X-API-Key header, a live session cookie (browser sign-in) gives its
    principal — for a request that changes or costs something (not GET/HEAD) only if it comes
    from this server's own pages (a 403 otherwise: a cookie is sent by whichever site makes the
    browser post). The aggregate fast path asks this too, so both ways authenticate alike by
    construction. `public=False`: a request without credentials is a 401 even where the model
    has a public (XMLA: Excel sends its credentials only when challenged)."""
    auth = scope["app"].state.labis.authenticator
    if auth.open:
        return ANONYMOUS
    authorization, api_key, cookie = _credentials(scope)
    if authorization is None and api_key is None and cookie is not None:
        session = auth.session(cookie)
        if session is not None:
            if scope["method"] not in SAFE_METHODS and not same_origin(scope):
                raise ForbiddenError(CROSS_SITE, hint=CROSS_SITE_HINT)
            signed_in: Principal = session.principal
            return signed_in
    if public and authorization is None and api_key is None and _published(scope):
        return ANONYMOUS  # no credentials at all: the public, where the model has one
    principal: Principal = auth.authenticate(authorization, api_key)
    return principal


def _published(scope: Scope) -> bool:
    """Whether the model declares the role `public`: then a request without credentials is the
    public's (under its grants and disclosure control), not a 401. Bad credentials stay a 401."""
    return PUBLIC_ROLE in scope["app"].state.labis.service.model.roles


SAFE_METHODS = frozenset({"GET", "HEAD"})
CROSS_SITE = (
    "a signed-in browser's request that changes or costs something must come from this server's pages"
)
CROSS_SITE_HINT = "programs send `Authorization: Bearer …` or `X-API-Key` instead of the session cookie"


def _credentials(scope: Scope) -> tuple[str | None, str | None, str | None]:
    """The `Authorization` and `X-API-Key` headers (the first of each) and the cookies (all
    `Cookie` headers, joined: HTTP/2 may split them)."""
    authorization = api_key = cookie = None
    for name, value in scope["headers"]:
        if name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif name == b"x-api-key" and api_key is None:
            api_key = value.decode("latin-1")
        elif name == b"cookie":
            text = value.decode("latin-1")
            cookie = text if cookie is None else f"{cookie}; {text}"
    return authorization, api_key, cookie


def own_origin(scope: Scope) -> str:
    """This server's origin as the browser sees it: LABIS_PUBLIC_URL's, else the request's
    scheme and Host."""
    public = scope["app"].state.labis.settings.public_url
    if public is not None:
        parts = urlsplit(public)
        return f"{parts.scheme}://{parts.netloc}".lower()
    return f"{scope.get('scheme', 'http')}://{_header(scope, b'host') or ''}".lower()


def base_url(scope: Scope) -> str:
    """This server's address as browsers reach it (no trailing slash): the redirect URIs'."""
    public: str | None = scope["app"].state.labis.settings.public_url
    return public if public is not None else own_origin(scope) + scope.get("root_path", "")


def same_origin(scope: Scope) -> bool:
    """Whether the browser says the request comes from this server's own pages: `Sec-Fetch-Site:
    same-origin` where the browser sends it (it cannot be set by a page), else an `Origin` equal
    to ours. Neither (or `Origin: null`) is not enough."""
    site = _header(scope, b"sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = _header(scope, b"origin")
    return origin is not None and origin.lower() == own_origin(scope)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def get_principal(request: Request) -> Principal:
    return principal_of(request.scope)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def session_of(scope: Scope) -> Session | None:
    """The browser's live session, when the request has no Authorization or X-API-Key header."""
    authorization, api_key, cookie = _credentials(scope)
    if authorization is not None or api_key is not None or cookie is None:
        return None
    session: Session | None = scope["app"].state.labis.authenticator.session(cookie)
    return session


async def get_page_principal(request: Request) -> Principal:
    """An HTML page's principal: the request's if it has credentials (a header, or a live session
    cookie), else ANONYMOUS (the pages stay reachable and show what the public role sees, and an
    expired session's page offers sign-in again; their numbers come from the API, which asks for
    credentials)."""
    authorization, api_key, _ = _credentials(request.scope)
    if authorization is None and api_key is None:
        session = session_of(request.scope)
        return ANONYMOUS if session is None else session.principal
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
