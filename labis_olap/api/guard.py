"""The bounds every request passes before any route (and the aggregate fast path) sees it.

An ASGI layer outside the fast path, so that both ways in are bounded identically, in the
order of what each check costs:

1. sizes: the path and query string (414) and the headers (431), from the scope alone;
2. the rate per principal (429 with Retry-After): a token bucket per subject and roles;
3. the body (413), read here chunk by chunk and given up at `max_body_bytes`, before any
   parser sees it — a declared Content-Length past the bound is refused without reading;
4. while the route runs, the connection is watched: if the client goes away, the request's
   engine queries are stopped (`CubeService.cancel`) and its next ones are refused.

Each bound is a setting (labis_olap/settings.py; docs/security.md, "Limits").
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..service import ANONYMOUS
from ..settings import Settings
from ..xmla.envelope import fault
from . import deps
from .errors import error_response, log, request_language

XMLA_PATH = "/xmla"
UNLIMITED_PATHS = frozenset({"/health", "/livez", "/readyz", "/metrics"})
"""Answered without the rate limit (a monitor's probe or a scrape must not be refused)."""


class TokenBucket:
    """Requests per second per key with a burst, in-process (one server process holds the data)."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.buckets: dict[Hashable, tuple[float, float]] = {}
        """Key → (tokens left, when counted)."""

    def take(self, key: Hashable) -> float:
        """0 if the request may go ahead (one token taken), else the seconds until it may."""
        now = self.clock()
        tokens, then = self.buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens >= 1.0:
            self._keep(key, tokens - 1.0, now)
            return 0.0
        self._keep(key, tokens, now)
        return (1.0 - tokens) / self.rate

    def _keep(self, key: Hashable, tokens: float, now: float) -> None:
        self.buckets[key] = (tokens, now)
        if len(self.buckets) > 100_000:  # forget the principals whose buckets have filled again
            full = [k for k, (t, w) in self.buckets.items() if t + (now - w) * self.rate >= self.burst]
            for k in full:
                del self.buckets[k]


def rate_key(scope: Scope) -> Hashable:
    """Whom a request is counted against: its principal's subject and roles, or (if finding the
    principal fails, which the route will answer itself) the client's address."""
    try:
        principal = deps.principal_of(scope)
    except Exception:
        client = scope.get("client") or ("?", 0)
        return ("unidentified", client[0])
    if principal == ANONYMOUS:
        # Open demo mode: every visitor is the one anonymous principal; one bucket for them all
        # would let one client starve the public. Visitors are counted by address instead.
        client = scope.get("client") or ("?", 0)
        return ("anonymous", client[0])
    return (principal.subject, tuple(sorted(principal.roles)))


ADMIN = "/admin/"


def refusal(scope: Scope, status: int, error: str, message: str, hint: str | None = None) -> Response:
    """The guard's refusal in the API's one error shape (in the request's language), or as a
    SOAP Fault to an XMLA client, which reads no JSON."""
    if scope["path"] == XMLA_PATH:
        return Response(fault(message, hint=hint), status, media_type="text/xml; charset=utf-8")
    return error_response(status, error, message, hint, lang=request_language(scope))


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.bucket = TokenBucket(settings.rate_limit, settings.rate_burst) if settings.rate_limit else None
        self.killer = ThreadPoolExecutor(1, thread_name_prefix="labis-cancel")
        """One thread of its own for KILL QUERY: the route's pool may be full of what it stops."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN):
            # The load hand-off streams whole source files (gigabytes) to the admin routes, which
            # take only the token the server wrote into its own data directory: not bounded here.
            await self.app(scope, receive, send)
            return
        refused = self._refused(scope)
        if refused is not None:
            await refused(scope, receive, send)
            return
        body = await self._body(scope, receive)
        if body is None:
            return  # the client went away while sending
        if not isinstance(body, bytes):
            await body(scope, receive, send)
            return
        await self._watched(scope, receive, send, body)

    def _refused(self, scope: Scope) -> Any:
        s = self.settings
        url = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
        if url > s.max_url_bytes:
            return refusal(
                scope,
                414,
                "uri_too_long",
                f"the path and query string are longer than {s.max_url_bytes} bytes",
                "send a report as POST /cube/{cube}/report",
            )
        if sum(len(k) + len(v) for k, v in scope["headers"]) > s.max_header_bytes:
            return refusal(
                scope,
                431,
                "headers_too_large",
                f"the headers are longer than {s.max_header_bytes} bytes",
            )
        if self.bucket is not None and scope["path"] not in UNLIMITED_PATHS:
            wait = self.bucket.take(rate_key(scope))
            if wait > 0:
                response = refusal(
                    scope,
                    429,
                    "too_many_requests",
                    f"more than {s.rate_limit:g} requests per second (burst {s.rate_burst})",
                    "wait for the seconds in Retry-After",
                )
                response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
                return response
        return None

    async def _body(self, scope: Scope, receive: Receive) -> bytes | Any | None:
        """The whole body, or the 413 to answer, or None if the client left."""
        limit = self.settings.max_body_bytes

        def too_large() -> Any:
            return refusal(
                scope,
                413,
                "too_large",
                f"the request body is larger than {limit} bytes",
            )

        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                return too_large()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _watched(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        """Run the app on the read body; if the client goes away before the answer, cancel its
        queries. The connection is watched from the request's first engine query on (a cached
        answer needs no watch), with plain asyncio (uvicorn's loop): an anyio task group per
        request cost more than the rest of a cached aggregate."""
        service = scope["app"].state.labis.service
        gone = asyncio.Event()
        answered = False
        given = False

        async def replay() -> Message:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def sending(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                answered = True
            await send(message)

        with service.cancellable() as token:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                gone.set()
                if not answered:  # uvicorn also says "disconnect" once the response is complete
                    try:
                        await asyncio.get_running_loop().run_in_executor(self.killer, service.cancel, token)
                    except Exception as exc:  # stopping is best effort; the timeout still holds
                        log.warning("could not cancel the queries of a request: %s", exc)

            loop = asyncio.get_running_loop()
            watcher: asyncio.Task[None] | None = None
            finished = False

            def start() -> None:  # on the loop, once the first engine query is about to run
                nonlocal watcher
                if watcher is None and not finished:
                    watcher = loop.create_task(watch())

            token.on_query = lambda: loop.call_soon_threadsafe(start)
            try:
                await self.app(scope, replay, sending)
            finally:
                finished = True
                if watcher is not None:
                    watcher.cancel()
