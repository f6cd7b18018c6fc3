"""One JSON error shape for every failure: `{"error": <type>, "message": …, "hint": …}`.

* UserError and its kinds: their status (404 not found, 400 bad query, 401 unauthorized with
  its `WWW-Authenticate` challenges, …) and type.
* EngineError (an InternalError, not a UserError): 500 `engine_error` with a generic message;
  the engine's text (which may quote SQL) is logged. Any other InternalError is
  answered as a bug is (below).
* Request validation (FastAPI's 422): 400 `bad_request`, naming the parameter.
* Unknown routes and methods: 404 `not_found` / 405 `method_not_allowed`.
* Anything else is a bug: an opaque 500 `internal_error`; the traceback goes to the log only.

The message and hint are in Latvian when the request asks for it (api/error_text.py);
`Content-Language` says which language they are in.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import EngineError, UnauthorizedError, UserError
from .error_text import asked_language, translated
from .render import json_response

log = logging.getLogger("labis.api")

HTTP_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def error_body(error: str, message: str, hint: str | None = None) -> dict[str, Any]:
    return {"error": error, "message": message, "hint": hint}


def error_response(
    status: int, error: str, message: str, hint: str | None = None, *, lang: str = "en"
) -> Response:
    """The one error shape, its words in `lang` where the catalogue has them."""
    message, hint, said = translated(message, hint, lang)
    response = json_response(error_body(error, message, hint), status=status)
    response.headers["Content-Language"] = said
    return response


def request_language(scope: Any) -> str:
    """The language a request asks its errors in: `lang=` in the query, else Accept-Language."""
    accept = next((v for k, v in scope.get("headers", ()) if k == b"accept-language"), b"")
    asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [None])[0]
    return asked_language(asked, accept.decode("latin-1"))


def _user_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UserError)
    response = error_response(
        exc.status, exc.error_type, exc.message, exc.hint, lang=request_language(request.scope)
    )
    if isinstance(exc, UnauthorizedError):
        for challenge in exc.challenges:  # one header each: Excel looks for its Basic challenge
            response.headers.append("WWW-Authenticate", challenge)
    return response


def _engine_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EngineError)
    log.error("engine error on %s %s: %s", request.method, request.url.path, exc.message)
    return error_response(
        500,
        "engine_error",
        "the database engine could not answer this request (logged)",
        lang=request_language(request.scope),
    )


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "body", "header", "cookie"):
        kind, rest = parts[0], parts[1:]
        name = ".".join(rest) or kind
        return f"{kind} parameter '{name}'" if kind != "body" else f"body field '{name}'"
    return ".".join(parts) or "request"


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    problems = [f"{_where(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in errors[:5]]
    message = "; ".join(problems) or "invalid request"
    if len(errors) > 5:
        message += f" (and {len(errors) - 5} more)"
    return error_response(400, "bad_request", message, lang=request_language(request.scope))


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404 and exc.detail in (None, "Not Found"):
        message = f"no such route: {request.method} {request.url.path}"
        hint = "see /openapi.json for the routes"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
        hint = None
    else:
        message, hint = str(exc.detail), None
    response = error_response(
        status, HTTP_TYPES.get(status, "http_error"), message, hint, lang=request_language(request.scope)
    )
    for k, v in (exc.headers or {}).items():
        response.headers[k] = v
    return response


def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        500, "internal_error", "internal error (logged)", lang=request_language(request.scope)
    )


def render(request: Request, exc: Exception) -> Response:
    """The error response for an exception raised outside FastAPI's handlers (api/fastpath.py)."""
    if isinstance(exc, UserError):
        return _user_error(request, exc)
    if isinstance(exc, EngineError):
        return _engine_error(request, exc)
    return _internal_error(request, exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(UserError, _user_error)
    app.add_exception_handler(EngineError, _engine_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
