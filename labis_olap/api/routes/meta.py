"""Server and model description: /version, /info, /cubes, /cube/<cube>/model; health: /health,
/livez, /readyz; /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ... import __version__
from ...errors import NotFoundError, UnavailableError
from ..deps import Lang, LayoutDep, PrettyPrint, PrincipalDep, ServiceDep, SettingsDep, StateDep
from ..describe import describe_cube, describe_cube_brief
from ..render import json_response
from ..schemas import CubeBrief, CubeModel, Health, Info, Version

router = APIRouter(tags=["server"])

API_VERSION = 2
CUBES_VERSION = "1.1"
"""The Slicer API version whose routes and shapes we follow (see SLICER_API.md)."""


@router.get("/version", response_model=Version)
def version(prettyprint: PrettyPrint = False) -> Response:
    """Server and API version."""
    return json_response(
        {"version": __version__, "server_version": __version__, "api_version": API_VERSION},
        prettyprint=prettyprint,
    )


@router.get("/info", response_model=Info)
def info(settings: SettingsDep, state: StateDep, prettyprint: PrettyPrint = False) -> Response:
    """Server limits and conventions (Slicer's /info); `authentication.type` is `none` in open
    demo mode, else `bearer` (docs/security.md)."""
    return json_response(
        {
            "json_record_limit": settings.max_pagesize,
            "cubes_version": CUBES_VERSION,
            "labis_version": __version__,
            "timezone": settings.timezone,
            "first_weekday": settings.first_weekday,
            "api_version": API_VERSION,
            "authentication": {"type": "none" if state.authenticator.open else "bearer"},
        },
        prettyprint=prettyprint,
    )


@router.get("/cubes", response_model=list[CubeBrief])
def cubes(
    service: ServiceDep, principal: PrincipalDep, lang: Lang = "lv", prettyprint: PrettyPrint = False
) -> Response:
    """Every cube: name, label, category (the source institution) and info."""
    return json_response(
        [describe_cube_brief(c, lang) for c in service.visible_model(principal).cubes.values()],
        prettyprint=prettyprint,
    )


@router.get("/cube/{cube}/model", response_model=CubeModel)
def cube_model(layout: LayoutDep, lang: Lang = "lv", prettyprint: PrettyPrint = False) -> Response:
    """The cube with its aggregates, measures and dimensions expanded (what CubesViewer reads)."""
    return json_response(describe_cube(layout, lang), prettyprint=prettyprint)


@router.get("/health", response_model=Health)
def health(state: StateDep, prettyprint: PrettyPrint = False) -> Response:
    """200 when the model is loaded and the engine answers; 503 otherwise."""
    # (The docstring is the OpenAPI description, kept as committed.) Storage the checks at
    # start found broken is a 503 too, `status: degraded` with the `problems` (table, problem):
    # answers stay right (a broken rollup is not read), but a load balancer should see that this
    # server's data needs repair (docs/security.md).
    try:
        state.engine.query("SELECT 1 AS ok")
    except Exception as exc:
        raise UnavailableError("the engine does not answer") from exc
    body = {"status": "ok", "cubes": len(state.model.cubes), "database": state.engine.database}
    if state.problems:
        tables = sorted({p.table for p in state.problems})
        body |= {
            "status": "degraded",
            "problems": [p.json() for p in state.problems],
            "error": "degraded",
            "message": f"{len(tables)} table(s) found broken at start: {', '.join(tables)}",
            "hint": "queries avoid broken rollups; run `labis check`, then rebuild or restore",
        }
        return json_response(body, status=503, prettyprint=prettyprint)
    return json_response(body, prettyprint=prettyprint)


@router.get("/livez", include_in_schema=False)
def livez() -> Response:
    """Liveness: the process answers HTTP. Asks nothing of the engine, so a slow or restarting
    ClickHouse never gets the API process killed (that is readiness's business)."""
    return json_response({"status": "alive"})


@router.get("/readyz", include_in_schema=False)
def readyz(state: StateDep, prettyprint: PrettyPrint = False) -> Response:
    """Readiness: the model is loaded, the engine answers and the storage checks found nothing
    (the same answer as /health, whose 503 takes the server out of a load balancer)."""
    return health(state, prettyprint)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus' text format (api/metrics.py): counts by route template and status, never by
    URL, so no cut value and no personal datum is ever a label."""
    from ..metrics import CONTENT_TYPE

    registry = request.app.state.metrics
    if registry is None:
        raise NotFoundError("metrics are off (LABIS_METRICS=false)")
    return Response(registry.render(), media_type=CONTENT_TYPE)
