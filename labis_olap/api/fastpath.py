"""A shorter way in for the commonest request: GET /cube/{cube}/aggregate answered as JSON.

FastAPI resolves the aggregate route's 16 query parameters and its dependencies on every
request, which took ≈ 0.45 ms of the ≈ 2 ms the API adds to an uncached aggregate's engine
time (docs/design.md, Speed). This ASGI layer answers the same request through the same code
(routes.aggregate.answer) when every parameter is one it can check as FastAPI would, and hands
anything else — another format, a value FastAPI would refuse, a repeated or over-long
parameter — to the app, so FastAPI's route stays the contract (OpenAPI) and the one source of
validation errors. tests/test_api_fastpath.py checks both ways give the same responses.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from . import errors
from .routes import aggregate
from .service import AggregateArgs

PATH = re.compile(r"/cube/([^/]{1,200})/aggregate")
TEXT = {"cut": 10_000, "drilldown": 2_000, "aggregates": 2_000, "split": 10_000, "order": 2_000, "as_of": 100}
"""The text parameters and their greatest lengths, as routes.aggregate declares them."""
CHOICES = {"lang": ("lv", "en"), "subtotals": ("none", "rollup", "cube"), "format": ("json",)}
FLAGS = {"explain", "prettyprint"}
NUMBERS = {"page": 0, "pagesize": 1}
"""Integer parameters and their least values."""
BOOLEAN = {"0": False, "false": False, "1": True, "true": True}


class AggregateFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.answered = 0
        """Requests answered here (the rest went to the app)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        params = _checked(scope)
        if params is None:
            await self.app(scope, receive, send)
            return
        cube, values = params
        state = scope["app"].state.labis
        args = AggregateArgs(
            **{k: values.get(k) for k in TEXT},
            page=values.get("page"),
            pagesize=values.get("pagesize"),
            lang=values.get("lang", "lv"),
            explain=values.get("explain", False),
            subtotals=values.get("subtotals", "none"),
        )
        try:
            response = await aggregate.answer(
                state, state.browser.layout(cube), args, prettyprint=values.get("prettyprint", False)
            )
        except Exception as exc:  # the app's handlers would have rendered it: render it the same way
            response = errors.render(Request(scope, receive), exc)
        self.answered += 1
        await response(scope, receive, send)


def _checked(scope: Scope) -> tuple[str, dict[str, Any]] | None:
    """The cube and the parameters of a request this path answers, or None for the app."""
    if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
        return None
    match = PATH.fullmatch(scope["path"])
    if match is None:
        return None
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    values: dict[str, Any] = {}
    for name, value in pairs:
        if name in values:
            return None  # repeated: FastAPI decides which one counts
        if name in TEXT:
            if len(value) > TEXT[name]:
                return None
            values[name] = value
        elif name in CHOICES:
            if value not in CHOICES[name]:
                return None
            values[name] = value
        elif name in FLAGS:
            if value not in BOOLEAN:
                return None
            values[name] = BOOLEAN[value]
        elif name in NUMBERS:
            if not (value.isascii() and value.isdigit() and len(value) <= 18) or int(value) < NUMBERS[name]:
                return None
            values[name] = int(value)
        elif name == "header":
            return None  # only for tables; FastAPI checks it
        # any other parameter is ignored, as FastAPI ignores it
    values.pop("format", None)
    return match.group(1), values
