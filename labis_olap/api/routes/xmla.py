"""XMLA over HTTP: `POST /xmla`, SOAP 1.1 (labis_olap/xmla, docs/excel.md).

Authentication is the server's one policy (api/deps.principal_of): Excel sends HTTP Basic with
the API key as the password, programs a bearer token. Without credentials where they are needed
the answer is a 401 with the `WWW-Authenticate` challenges (Basic among them when API keys
exist) and a SOAP Fault as its body: an XMLA client never gets an HTML or JSON error. A request
without credentials is challenged even where the model has a public (Excel sends credentials
only when asked; the public reads the REST API and the pages).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ...errors import ForbiddenError, UnauthorizedError
from ...xmla import SessionStore, handle
from ...xmla.envelope import fault
from ..deps import base_url, principal_of

router = APIRouter(tags=["xmla"])
SOAP_XML = "text/xml; charset=utf-8"


def _sessions(request: Request) -> SessionStore:
    store: SessionStore | None = getattr(request.app.state, "xmla_sessions", None)
    if store is None:
        store = request.app.state.xmla_sessions = SessionStore()
    return store


@router.post(
    "/xmla",
    response_class=Response,
    responses={
        200: {"content": {"text/xml": {}}, "description": "A SOAP envelope with the answer"},
        401: {
            "content": {"text/xml": {}},
            "description": "A SOAP Fault: credentials needed (HTTP Basic, API key)",
        },
        500: {"content": {"text/xml": {}}, "description": "A SOAP Fault: the error of the request"},
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/xml": {"schema": {"type": "string"}}}}
    },
)
async def xmla(request: Request) -> Response:
    """XMLA Discover and Execute (MDX, `$system` rowsets), sessions, Cancel; every error a SOAP
    Fault (docs/excel.md)."""
    try:
        principal = principal_of(request.scope, public=False)
    except UnauthorizedError as exc:
        refused = Response(fault(exc.message, "0xc10b0001", exc.hint), 401, media_type=SOAP_XML)
        for challenge in exc.challenges:  # one header each, as the other routes send them
            refused.headers.append("WWW-Authenticate", challenge)
        return refused
    except ForbiddenError as exc:
        return Response(fault(exc.message, hint=exc.hint), 403, media_type=SOAP_XML)
    body = await request.body()
    state = request.app.state.labis
    answer = await run_in_threadpool(
        handle,
        body,
        state.service,
        principal,
        _sessions(request),
        url=base_url(request.scope) + "/xmla",
        authenticated=not state.authenticator.open,
    )
    return Response(answer.body, answer.status, media_type=SOAP_XML)
