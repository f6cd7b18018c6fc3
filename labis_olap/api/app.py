"""The FastAPI app factory.

One process, many threads: route functions are plain `def`s that FastAPI runs in its thread
pool, and the embedded engine opens one chDB connection per thread (chDB allows one process per
data directory, and a session shared between threads with parameters gave wrong results). The
pool is sized by `settings.threads`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from .. import __version__
from ..engine.base import Engine
from ..model.definition import Model
from ..settings import Settings
from . import errors, web
from .fastpath import AggregateFastPath, spec_of
from .guard import RequestGuard
from .headers import SecurityHeaders
from .metrics import Metrics
from .routes import admin, aggregate, facts, indicators, mdx, members, meta, report, sdmx, signin, xmla
from .schemas import ErrorResponse
from .state import AppState

DESCRIPTION = """\
Cube queries over the LabIS model, compatible with the Slicer HTTP API of Cubes 1.1 (what
CubesViewer speaks), plus LabIS extensions: `as_of` (hierarchy version), `explain`,
`subtotals=rollup|cube` (subtotal rows computed from the facts or rollups in the same query as
the cells and the grand total, right for distinct counts, averages and stocks), CSV, XLSX,
Arrow and Parquet output. Aggregates are cached by model and data version. A query past the
server's time or memory limit is a 400 `query_timeout` / `query_too_large`; past a bound on a
request's parts a 400 `limit_exceeded`, on its size a 413/414/431, on the rate per principal a
429 with `Retry-After`. Every error has one shape: `{"error": type, "message": …, "hint": …}`;
its message and hint are in Latvian when asked (`Accept-Language: lv` or `lang=lv`) and the
catalogue has them, and `Content-Language` says which language they are in.
"""

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Bad request or query"},
    401: {
        "model": ErrorResponse,
        "description": "Authentication is on and the request has no valid credentials (see WWW-Authenticate)",
    },
    403: {
        "model": ErrorResponse,
        "description": "The principal's roles do not allow it (fact rows need the microdata grant), or a "
        "cross-site request with a session cookie",
    },
    404: {"model": ErrorResponse, "description": "No such cube, dimension, level, member or route"},
    413: {"model": ErrorResponse, "description": "Request body larger than the server's limit"},
    414: {"model": ErrorResponse, "description": "Path and query string longer than the server's limit"},
    429: {"model": ErrorResponse, "description": "Past the rate limit of the principal (see Retry-After)"},
    431: {"model": ErrorResponse, "description": "Headers longer than the server's limit"},
    500: {"model": ErrorResponse, "description": "Internal or engine error (details only in the server log)"},
}


def create_app(
    settings: Settings | None = None,
    model: Model | None = None,
    engine: Engine | None = None,
    *,
    fast_path: bool = True,
) -> FastAPI:
    """The app over a model and an engine; either is made from settings on startup when not given.
    `fast_path=False` leaves every aggregate to FastAPI's route (to compare: api/fastpath.py)."""
    state = AppState(settings or Settings(), model, engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = state.settings.threads
        await anyio.to_thread.run_sync(state.start)
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        title="LabIS OLAP",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        # Swagger UI and ReDoc load their scripts from a CDN at run time: off. The document is
        # /openapi.json (and api/openapi.json in the repository).
        docs_url=None,
        redoc_url=None,
        # FastAPI's native OpenTelemetry asks the global providers on every request whether any
        # is configured; LabIS exports none (its record is the audit log): off.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.labis = state
    errors.install(app)
    for module in (meta, admin, aggregate, members, facts, report, indicators, sdmx, mdx, xmla, signin):
        app.include_router(module.router)
    web.install(app)
    if fast_path:
        route = next(
            r
            for r in aggregate.router.routes
            if isinstance(r, APIRoute) and r.endpoint is aggregate.aggregate
        )
        app.add_middleware(AggregateFastPath, spec=spec_of(route))
    # Outside the fast path: both ways in are bounded alike (sizes, rate, body, disconnects).
    app.add_middleware(RequestGuard, settings=state.settings)
    if state.settings.cors_origins:  # opt-in; off, nothing is added to the request's way
        add_cors(app, state.settings.cors_origins)
    browser = state.authenticator.signin
    targets = (browser.issuer_origin,) if browser is not None else ()
    # Last added, outermost: the fast path's answers too; and where every answer is counted for
    # /metrics, the guard's refusals included.
    app.state.metrics = Metrics(state) if state.settings.metrics else None
    app.add_middleware(SecurityHeaders, form_targets=targets, metrics=app.state.metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


class CORS(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered in the API's one error shape."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = bytes(response.body).decode()
        answer = errors.error_response(
            400, "bad_request", f"CORS preflight refused: {refused}", "see LABIS_CORS_ORIGINS"
        )
        for k, v in response.headers.items():
            if k.lower().startswith("access-control-") or k.lower() == "vary":
                answer.headers[k] = v
        return answer


CORS_EXPOSED = ["Content-Disposition", "Retry-After", "WWW-Authenticate", "X-Labis-Truncated"]
"""Answer headers a cross-origin page may read (beyond the CORS-safelisted ones)."""


def add_cors(app: FastAPI, origins: list[str]) -> None:
    """CORS for `origins` (settings.cors_origins), as Cubes' `allow_cors_origin`: preflights
    (OPTIONS) answered for GET and POST with the headers the API reads, and
    `Access-Control-Allow-Origin` on every answer to an allowed origin — the aggregate fast
    path's and the request guard's refusals (429, 413) too, since it wraps both. Never
    credentials: with `*` that would let any site act with a visitor's cookies."""
    app.add_middleware(
        CORS,
        allow_origins=origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "X-API-Key"],
        allow_credentials=False,
        expose_headers=CORS_EXPOSED,
        max_age=600,
    )


SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token of the identity provider (LABIS_ISSUER), or an API key",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key (`labis keys`)",
    },
    "basic": {
        "type": "http",
        "scheme": "basic",
        "description": "Any user name with an API key as the password (Excel and XMLA clients)",
    },
}
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}, {"basic": []}, {}]
"""Any one of the schemes; none (`{}`) only in open demo mode (no issuer, no API keys), where
every request is the anonymous `public` role. A browser's session cookie (after /auth/login) is
the pages' own and is not offered to API clients."""


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, without its 422 responses (validation errors are 400s here), with the
    ways to authenticate (and the issuer's discovery document when one is set)."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path in schema.get("paths", {}).values():
            for op in path.values():
                op.get("responses", {}).pop("422", None)
        comps = schema.get("components", {}).get("schemas", {})
        comps.pop("HTTPValidationError", None)
        comps.pop("ValidationError", None)
        schemes = dict(SECURITY_SCHEMES)
        issuer = app.state.labis.settings.issuer
        security = list(SECURITY)
        if issuer is not None:
            discovery = issuer.rstrip("/") + "/.well-known/openid-configuration"
            schemes["oidc"] = {"type": "openIdConnect", "openIdConnectUrl": discovery}
            security.insert(0, {"oidc": []})
        schema.setdefault("components", {})["securitySchemes"] = schemes
        schema["security"] = security
        app.openapi_schema = schema
    return app.openapi_schema
