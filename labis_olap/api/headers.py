"""Security headers on every answer: `nosniff` on all, and on HTML pages a Content-Security-Policy
that lets them run only the package's own scripts and styles (the templates have no inline
script or style, only JSON data blocks, which CSP does not run), in no frame, with no referrer;
forms post only here (and, with browser sign-in, are redirected on only to the issuer).

A plain ASGI middleware, outermost, so that the aggregate fast path's answers carry them too.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .metrics import route_of

if TYPE_CHECKING:
    from .metrics import Metrics

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
EVERY = ((b"x-content-type-options", b"nosniff"),)


def csp(form_targets: tuple[str, ...] = ()) -> str:
    """The pages' policy; `form_targets` are origins a form submission may be redirected to
    besides this one (Chromium applies `form-action` to every redirect of the submission): the
    sign-out form goes on to the issuer's end_session endpoint."""
    if not form_targets:
        return CSP
    return CSP.replace("form-action 'self'", "form-action 'self' " + " ".join(form_targets))


class SecurityHeaders:
    """The headers every answer gets; also where an answer is counted for /metrics (`metrics`):
    this layer already sees every answer's start, and an ASGI layer of its own cost a cached
    aggregate twice as much as counting here (benchmarks/bench_metrics.py)."""

    def __init__(self, app: Any, form_targets: tuple[str, ...] = (), metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.html = (
            (b"content-security-policy", csp(form_targets).encode()),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        start = time.perf_counter()
        status = 500

        async def with_headers(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                extra = EVERY + (self.html if kind.startswith(b"text/html") else ())
                headers += [(k, v) for k, v in extra if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        if self.metrics is None:
            await self.app(scope, receive, with_headers)
            return
        try:
            await self.app(scope, receive, with_headers)
        finally:
            self.metrics.observe(route_of(scope), scope["method"], status, time.perf_counter() - start)
