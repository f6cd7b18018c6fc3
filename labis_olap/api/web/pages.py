"""HTML pages: the cube browser (/browser) and the indicator pages (/browser/indicators/…).

The JSON API keeps the plain paths (/cubes, /indicators, /indicator/<code>); every HTML page
lives under /browser, so no path answers both HTML and JSON. Pages are server-rendered Jinja2
with the words in Latvian or English; every number on them is fetched by the page's JavaScript
from the public JSON routes, so what is shown is what the API answers. A page never fails on
its query string: a bad `lang`, `type` or state is ignored (and the page says so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ...errors import NotFoundError, UserError
from ...model.cut_grammar import parse_cuts
from ...model.cuts import RangeCut, SetCut
from ...model.definition import Model
from ...model.schema import Indicator, IndicatorType
from ...service import CubeService, Principal
from ..deps import PagePrincipalDep, ServiceDep, session_of
from ..describe import text
from ..error_text import translated
from ..indicators import catalogue, detail, sources, views
from ..indicators import find as find_indicator
from .i18n import STRINGS, lang_of

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)

Text = Annotated[str | None, Query(max_length=200)]


def versions(model: Model, lang: str) -> dict[str, list[dict[str, Any]]]:
    """Each cube's named hierarchy versions, for the as_of choice (the API takes them by name)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for cube in model.cubes.values():
        found: dict[str, dict[str, Any]] = {}
        for link in cube.dimensions:
            for v in model.dimensions[link.dimension].versions:
                found.setdefault(
                    v.name,
                    {
                        "name": v.name,
                        "label": text(v.label, lang, v.name),
                        "valid_from": v.valid_from.isoformat(),
                        "valid_to": v.valid_to.isoformat() if v.valid_to else None,
                    },
                )
        out[cube.name] = sorted(found.values(), key=lambda v: v["valid_from"])
    return out


def page(request: Request, name: str, lang: str, status: int = 200, **context: Any) -> Response:
    """Render a page; the language link keeps the query string and flips `lang`."""
    query = {**request.query_params, "lang": "lv" if lang == "en" else "en"}
    switch_href = f"{request.url.path}?{urlencode(query)}"
    return templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "t": STRINGS[lang],
            "switch_href": switch_href,
            "account": account(request),
            **context,
        },
        status_code=status,
    )


def account(request: Request) -> dict[str, Any] | None:
    """The header's sign-in control: None without browser sign-in (open demo mode, API keys
    only), else the signed-in user's name (or None) and the sign-in link back to this page."""
    if request.app.state.labis.authenticator.signin is None:
        return None
    session = session_of(request.scope)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {"user": session.name if session else None, "login": "/auth/login?" + urlencode({"next": here})}


def error_page(
    request: Request, status: int, error: str, message: str, hint: str | None, lang: str | None = None
) -> Response:
    """A failure a browser navigated to (a sign-in that cannot go on, say), in the pages' style,
    with the fields of the one JSON error shape."""
    lv = lang_of(lang or request.query_params.get("lang"))
    failed = STRINGS[lv]["signin_failed" if error == "signin_failed" else "error"]
    message, hint, said = translated(message, hint, lv)
    return page(
        request,
        "error.html",
        lv,
        status=status,
        title=failed,
        error=error,
        message=message,
        hint=hint,
        message_lang=said,
    )


@router.get("/")
def home() -> Response:
    """Where a sign-in without a page to go back to, and a sign-out, land: the cube browser."""
    return RedirectResponse("/browser", status_code=302)


@router.get("/browser")
def browser_page(
    request: Request, service: ServiceDep, principal: PagePrincipalDep, lang: Text = None
) -> Response:
    """The cube browser; its state (cube, measures, axes, drill paths, filters) is read from
    the query string by the page's script."""
    lv = lang_of(lang)
    model = service.visible_model(principal)
    return page(request, "browser.html", lv, config={"versions": versions(model, lv)})


@router.get("/browser/indicators")
def catalogue_page(
    request: Request,
    service: ServiceDep,
    principal: PagePrincipalDep,
    q: Text = None,
    type: Text = None,
    source: Text = None,
    lang: Text = None,
) -> Response:
    """The indicator catalogue with a search form (works without JavaScript)."""
    lv = lang_of(lang)
    ignored = [f"type={type}"] if type and type not in IndicatorType.__members__ else []
    kind = type if type and not ignored else None
    model = service.visible_model(principal)
    found = catalogue(model, lv, q, kind, source)
    return page(
        request,
        "catalogue.html",
        lv,
        found=found,
        q=q or "",
        type=kind or "",
        source=source or "",
        types=[t.value for t in IndicatorType],
        sources=sources(model),
        ignored=ignored,
    )


@router.get("/browser/indicators/{code}")
def indicator_page(
    request: Request, service: ServiceDep, principal: PagePrincipalDep, code: str, lang: Text = None
) -> Response:
    """One indicator: its definition, then a chart and a table by territory and time (fetched
    from /indicator/<code>)."""
    lv = lang_of(lang)
    model = service.visible_model(principal)
    try:
        ind = find_indicator(model, code)
    except NotFoundError as exc:
        return page(request, "not_found.html", lv, status=404, code=code, hint=exc.hint)
    cuts = fixed_cuts(service, principal, model, ind, lv)
    return page(
        request, "indicator.html", lv, ind=detail(model, ind, lv, views(service, principal, ind)), cuts=cuts
    )


def fixed_cuts(
    service: CubeService, principal: Principal, model: Model, ind: Indicator, lang: str
) -> list[str]:
    """An indicator's fixed cuts as people read them, "Vecuma grupa: 15–24 gadi": the dimension's
    label and its members' (the deepest level of each path; a set's joined, a range's from – to),
    looked up by the service as /cell does. A cut the lookup refuses is shown as written."""
    if not ind.cuts:
        return []
    t = STRINGS[lang]
    try:
        details = service.cell(ind.cube, parse_cuts(ind.cuts), lang, principal)
    except UserError:
        return [ind.cuts]
    cube = model.cubes[ind.cube]

    def member(levels: list[dict[str, Any]]) -> str:
        return str(levels[-1].get("_label") or levels[-1]["_key"]) if levels else "…"

    out = []
    for d in details:
        cut = d.cut.cut
        dim = model.dimensions[cube.link(cut.dimension).dimension]
        if isinstance(cut, SetCut):
            members = ", ".join(member(p) for p in d.details)
        elif isinstance(cut, RangeCut):
            members = f"{member(d.details['from'] or [])}–{member(d.details['to'] or [])}"
        else:
            members = member(d.details)
        negation = f"{t['except']} " if cut.invert else ""
        out.append(f"{text(dim.label, lang, cut.dimension)}: {negation}{members}")
    return out


def install(app: FastAPI) -> None:
    """Add the pages and their static files (scripts, styles, vendored Chart.js) to the app."""
    app.include_router(router)
    app.mount("/browser/static", StaticFiles(directory=HERE / "static"), name="browser-static")
