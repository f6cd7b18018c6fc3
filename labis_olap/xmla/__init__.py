"""XMLA, the SOAP protocol of Excel pivot tables and Power BI's Analysis Services connector,
over the MDX room and the cube service.

`handle(body, …)` answers one SOAP request: Discover of a rowset (xmla/discover.py, rowsets as
data in xmla/rowsets.py, their inline schemas in xmla/xsd.py), Execute of an MDX statement or a
`$system` statement (xmla/execute.py, written by xmla/write.py), the session headers
(xmla/sessions.py); every error is a SOAP Fault (xmla/envelope.py). The HTTP route is
api/routes/xmla.py; docs/excel.md tells how to connect.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from ..errors import LabisError, UserError
from ..service.cube_service import CubeService
from ..service.principal import Principal
from .discover import Context, discover
from .envelope import XmlaError, empty_root, envelope, fault, parse_request, response
from .execute import run_statement
from .sessions import SessionStore, XmlaSession
from .write import rowset

log = logging.getLogger("labis.xmla")

MAX_BODY_BYTES = 1 << 20
"""An XMLA request is a statement or a Discover: a megabyte is far more than any client sends."""
ENGLISH, LATVIAN = 0x09, 0x26


@dataclass
class Answer:
    status: int
    body: bytes


def language(lcid: str | None) -> str | None:
    """Captions' language from a LocaleIdentifier: English for 1033 (and every English
    locale), Latvian for 1062 and every other locale; None if not given."""
    if lcid is None or not lcid.strip():
        return None
    try:
        number = int(lcid.strip())
    except ValueError:
        raise XmlaError(
            f"LocaleIdentifier is a number, not '{lcid}'", hint="1062 Latvian, 1033 English"
        ) from None
    return "en" if number & 0x3FF == ENGLISH else "lv"


CANCELLED = "it was cancelled (XMLA Cancel)"


@contextmanager
def _running(service: CubeService, sessions: SessionStore, session: XmlaSession | None) -> Iterator[None]:
    """A statement known to its session while it runs, under the request's own cancellation
    (the one that stops its queries when the client goes away), so that Cancel stops it too."""
    if session is None:
        yield
        return
    own = service.request_cancellation()
    with nullcontext(own) if own is not None else service.cancellable() as token:
        sessions.track(session, token)
        try:
            yield
        finally:
            sessions.untrack(session, token)


def _content(properties: dict[str, str]) -> str:
    """Content=Schema (or None) asks for no rows; SchemaData and Data get them (the schema is
    always sent: clients read it first)."""
    content = properties.get("Content", "SchemaData").strip().lower()
    if content not in ("schemadata", "schema", "data", "none"):
        raise XmlaError(f"Content is SchemaData, Schema, Data or None, not '{content}'")
    return content


def handle(
    body: bytes,
    service: CubeService,
    principal: Principal,
    sessions: SessionStore,
    *,
    url: str = "",
    authenticated: bool = False,
) -> Answer:
    """One SOAP request answered: 200 with the response, 500 with a Fault (SOAP 1.1)."""
    try:
        if len(body) > MAX_BODY_BYTES:
            return Answer(413, fault(f"the request is larger than {MAX_BODY_BYTES} bytes"))
        req = parse_request(body)
        asked = language(req.properties.get("LocaleIdentifier"))
        if req.end_session is not None:
            sessions.end(req.end_session, principal)
            return Answer(200, envelope(response(req.method, empty_root())))
        session = sessions.get(req.session_id, principal) if req.session_id is not None else None
        if req.begin_session:
            session = sessions.begin(principal, asked)
        lang = asked or (session.lang if session is not None else None) or "lv"
        ctx = Context(service, principal, lang, req.properties, url, authenticated)
        if req.method == "Discover":
            rs, rows = discover(ctx, req.request_type, req.restrictions)
            payload = rowset(rs.columns, [] if _content(req.properties) in ("schema", "none") else rows)
        elif req.command == "Statement":
            if not req.statement.strip():
                payload = empty_root()
            else:
                with _running(service, sessions, session):
                    payload = run_statement(ctx, req.statement)
        elif req.command == "Cancel":
            # the statements running in the session named (or this request's), the principal's own
            target_id = req.cancel_session or req.session_id
            if target_id is not None:
                for token in sessions.running(sessions.get(target_id, principal)):
                    service.cancel(token, CANCELLED)
            payload = empty_root()
        elif req.command == "ClearCache":
            payload = empty_root()  # the service's caches are keyed by data version: they stay valid
        else:
            raise XmlaError(
                f"the command '{req.command or '(none)'}' is not supported",
                hint="Execute takes Statement, Cancel and ClearCache",
            )
        return Answer(
            200, envelope(response(req.method, payload), session.id if session is not None else None)
        )
    except XmlaError as exc:
        return Answer(500, fault(exc.message, exc.code, exc.hint))
    except UserError as exc:
        return Answer(500, fault(exc.message, hint=exc.hint))
    except LabisError as exc:
        log.error("XMLA request failed: %s", exc.message)
        return Answer(500, fault(exc.message, hint=exc.hint))
    except Exception:
        log.exception("XMLA request failed")
        return Answer(500, fault("internal error", hint="the server's log has the details"))


__all__ = ["MAX_BODY_BYTES", "Answer", "SessionStore", "handle", "language"]
