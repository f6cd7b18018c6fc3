"""A shorter way in for the commonest request: GET /cube/{cube}/aggregate answered as JSON.

FastAPI resolves the aggregate route's query parameters and its dependencies on every request,
a sizeable part of what the API adds to an uncached aggregate's engine time (docs/design.md,
Speed). This ASGI layer answers the same request through the same code (`routes.aggregate.
answer`, the cube service, the same principal) when every parameter is one it can check
exactly as FastAPI would, and hands anything else to the app — another format, a value FastAPI
would refuse, a repeated, over-long or *unknown* parameter — so FastAPI's route stays the
contract (OpenAPI) and the one source of validation errors.

What it accepts is read from the route's own declaration (`spec_of`), not written here again:
a parameter added to the route is known here at once, and a dependency it does not know (an
authentication check, say) makes `spec_of` refuse to build the fast path at all, so nothing the
route checks can be skipped. tests/test_api_fastpath.py checks both ways give the same
responses and that the spec equals the route's OpenAPI parameters.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

import annotated_types
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from . import deps, errors, slicer
from .metrics import FAST_PATH_ROUTE, ROUTE_KEY
from .routes import aggregate

PATH = re.compile(r"/cube/([^/]{1,200})/aggregate")
BOOLEAN = {"0": False, "false": False, "1": True, "true": True}
ANSWERED_FORMATS = ("json",)
"""The only `format` answered here; the table formats go to the app."""
HANDED_OFF = frozenset({"header", "bom"})
"""Parameters whose presence sends the request to the app (they only matter for tables)."""
KNOWN_DEPENDENCIES = {deps.get_service, deps.get_principal, deps.get_layout, deps.get_state}
"""Dependencies this path computes itself, the same way (the service, the principal, the cube)."""
QUERY_ARGS = frozenset(
    {"cut", "drilldown", "aggregates", "split", "order", "page", "pagesize", "as_of", "lang", "subtotals"}
)
"""The route's parameters that make the typed query (slicer.aggregate_query's)."""


@dataclass(frozen=True)
class FastPathSpec:
    """The aggregate route's query parameters, as its declaration constrains them."""

    text: dict[str, int] = field(default_factory=dict)
    """Optional strings and their greatest lengths."""
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    flags: frozenset[str] = frozenset()
    numbers: dict[str, int] = field(default_factory=dict)
    """Optional integers and their least values."""
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.text) | frozenset(self.choices) | self.flags | frozenset(self.numbers)


def spec_of(route: APIRoute) -> FastPathSpec:
    """What the route declares, or a RuntimeError when the route needs something this path
    cannot do exactly as FastAPI does (so the app is built without it rather than wrongly)."""
    unknown = [d.call for d in _dependencies(route.dependant) if d.call not in KNOWN_DEPENDENCIES]
    if unknown:
        raise RuntimeError(f"the aggregate fast path does not know the dependencies {unknown}")
    text: dict[str, int] = {}
    choices: dict[str, tuple[str, ...]] = {}
    flags: set[str] = set()
    numbers: dict[str, int] = {}
    defaults: dict[str, Any] = {}
    for f in route.dependant.query_params:
        name, info = f.alias, f.field_info
        base = _without_none(info.annotation)
        defaults[name] = info.default
        if typing.get_origin(base) is Literal:
            choices[name] = tuple(typing.get_args(base))
        elif base is bool:
            flags.add(name)
        elif base is str:
            lengths = [m.max_length for m in info.metadata if isinstance(m, annotated_types.MaxLen)]
            if not lengths:
                raise RuntimeError(f"fast path: '{name}' has no maximum length")
            text[name] = lengths[0]
        elif base is int:
            least = [m.ge for m in info.metadata if isinstance(m, annotated_types.Ge)]
            if not least or any(not isinstance(m, annotated_types.Ge) for m in info.metadata):
                raise RuntimeError(f"fast path: '{name}' is an integer it cannot check as FastAPI does")
            numbers[name] = int(typing.cast(int, least[0]))
        else:
            raise RuntimeError(f"fast path: '{name}' has a type it cannot check ({info.annotation})")
    return FastPathSpec(text, choices, frozenset(flags), numbers, defaults)


def _dependencies(dependant: Any) -> list[Any]:
    out = []
    for d in dependant.dependencies:
        out.append(d)
        out += _dependencies(d)
    return out


def _without_none(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


class AggregateFastPath:
    def __init__(self, app: ASGIApp, spec: FastPathSpec) -> None:
        self.app = app
        self.spec = spec
        self.answered = 0
        """Requests answered here (the rest went to the app)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        params = checked(self.spec, scope)
        if params is None:
            await self.app(scope, receive, send)
            return
        cube, values = params
        state = scope["app"].state.labis
        try:
            service, principal = state.service, deps.principal_of(scope)
            layout = service.layout(cube, principal)
            query = slicer.aggregate_query(layout.cube.name, **{k: values[k] for k in QUERY_ARGS})
            response = await aggregate.answer(
                service, principal, query, explain=values["explain"], prettyprint=values["prettyprint"]
            )
        except Exception as exc:  # the app's handlers would have rendered it: render it the same way
            response = errors.render(Request(scope, receive), exc)
        self.answered += 1
        scope[ROUTE_KEY] = FAST_PATH_ROUTE  # what /metrics counts it under (api/metrics.py)
        await response(scope, receive, send)


def checked(spec: FastPathSpec, scope: Scope) -> tuple[str, dict[str, Any]] | None:
    """The cube and every parameter's value of a request this path answers, or None for the app."""
    if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
        return None
    match = PATH.fullmatch(scope["path"])
    if match is None:
        return None
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    values: dict[str, Any] = {}
    for name, value in pairs:
        if name in values or name in HANDED_OFF:
            return None  # repeated: FastAPI decides which one counts
        if name in spec.text:
            if len(value) > spec.text[name]:
                return None
            values[name] = value
        elif name in spec.choices:
            if value not in spec.choices[name] or (name == "format" and value not in ANSWERED_FORMATS):
                return None
            values[name] = value
        elif name in spec.flags:
            if value not in BOOLEAN:
                return None
            values[name] = BOOLEAN[value]
        elif name in spec.numbers:
            if (
                not (value.isascii() and value.isdigit() and len(value) <= 18)
                or int(value) < spec.numbers[name]
            ):
                return None
            values[name] = int(value)
        else:
            return None  # a parameter this path does not know: the app decides what it means
    return match.group(1), {**spec.defaults, **values}
