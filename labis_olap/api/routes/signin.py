"""Browser sign-in: /auth/login, /auth/callback, /auth/logout (security/signin.py does the flow).

These are navigations of a browser, not API calls: they answer with redirects, and a failure is
an HTML page in the pages' style (the one JSON error shape to a client that does not ask for
HTML). They are left out of the OpenAPI document. Without an issuer they answer 404, as an
unknown route does.
"""

from __future__ import annotations

import hmac
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from ...errors import ForbiddenError, NotFoundError, UserError
from ...security import COOKIE, STATE_COOKIE, SignIn
from ...security.sessions import cookie_value
from ...security.signin import PENDING_SECONDS
from .. import deps
from ..deps import StateDep
from ..errors import error_response, request_language
from ..state import AppState
from ..web.pages import error_page

router = APIRouter(include_in_schema=False)

CALLBACK = "/auth/callback"
DEFAULT_NEXT = "/"
NEXT = re.compile(r"/(?![/\\])[!-~]{0,1999}")
"""A path on this site: one leading slash (never `//host` nor `/\\host`, which browsers read as
another site) and printable ASCII with no spaces (browsers drop tabs and newlines from a URL,
so `/\\t/evil` would become `//evil`)."""
Param = Annotated[str | None, Query(max_length=4_000)]


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a relative path on this site, else `/` (no open redirect)."""
    if value is None or not NEXT.fullmatch(value) or "\\" in value:
        return DEFAULT_NEXT
    return value


def _signin(state: AppState) -> SignIn:
    signin = state.authenticator.signin
    if signin is None:
        raise NotFoundError(
            "browser sign-in is not set up on this server",
            hint="it needs an identity provider (LABIS_ISSUER, docs/security.md)",
        )
    return signin


def _failure(request: Request, exc: UserError) -> Response:
    """An HTML page for a browser, the one JSON error shape for anything else."""
    if "text/html" in request.headers.get("accept", ""):
        return error_page(request, exc.status, exc.error_type, exc.message, exc.hint)
    return error_response(
        exc.status, exc.error_type, exc.message, exc.hint, lang=request_language(request.scope)
    )


def _cookie_path(request: Request, path: str) -> str:
    return request.scope.get("root_path", "") + path


@router.get("/auth/login")
def login(request: Request, state: StateDep, next: Param = None) -> Response:
    """Start signing in: to the issuer's authorization endpoint, the state in a cookie."""
    try:
        signin = _signin(state)
        url, signin_state = signin.start(deps.base_url(request.scope) + CALLBACK, safe_next(next))
    except UserError as exc:
        return _failure(request, exc)
    response = RedirectResponse(url, status_code=302)
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        STATE_COOKIE, signin_state, max_age=PENDING_SECONDS, path=_cookie_path(request, CALLBACK),
        secure=True, httponly=True, samesite="lax",
    )  # fmt: skip
    return response


@router.get(CALLBACK)
def callback(
    request: Request,
    state: StateDep,
    code: Param = None,
    signin_state: Annotated[str | None, Query(alias="state", max_length=4_000)] = None,
    error: Param = None,
) -> Response:
    """The issuer's answer: check it, make the session, set its cookie, go where the user was."""
    browser_state = request.cookies.get(STATE_COOKIE)
    try:
        signin = _signin(state)
        session_id, session, next = signin.finish(
            code=code, state=signin_state, browser_state=browser_state, error=error
        )
        response: Response = RedirectResponse(next, status_code=302)
    except UserError as exc:
        response = _failure(request, exc)
    else:
        old = cookie_value(request.headers.get("cookie", ""))
        if old:
            signin.sessions.drop(old)  # the browser had signed in before: that session ends
        lifetime = max(1, int(session.expires - signin.sessions.clock()))
        response.set_cookie(
            COOKIE, session_id, max_age=lifetime, path="/", secure=True, httponly=True, samesite="lax"
        )
    response.headers["Cache-Control"] = "no-store"
    if signin_state and browser_state and hmac.compare_digest(signin_state.encode(), browser_state.encode()):
        # This browser's sign-in is over (done, or used up by the failure). A callback with
        # another state leaves the cookie: it may be someone's forged link, not this sign-in.
        response.delete_cookie(
            STATE_COOKIE, path=_cookie_path(request, CALLBACK), secure=True, httponly=True, samesite="lax"
        )
    return response


@router.post("/auth/logout")
def logout(request: Request, state: StateDep) -> Response:
    """Sign out: the session ends here, its cookie is cleared, and the browser goes on to the
    issuer's end_session endpoint (to end the session there too), else to `/`."""
    try:
        signin = _signin(state)
        if not deps.same_origin(request.scope):
            raise ForbiddenError(deps.CROSS_SITE, hint="sign out from this server's pages")
    except UserError as exc:
        return _failure(request, exc)
    session_id = cookie_value(request.headers.get("cookie", ""))
    session = signin.sessions.drop(session_id) if session_id else None
    home = deps.base_url(request.scope) + "/"
    url = signin.logout_url(session, home) or _cookie_path(request, "/")
    response = RedirectResponse(url, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response
