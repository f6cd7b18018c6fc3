"""The aggregate fast path (api/fastpath.py) answers exactly as FastAPI's route does.

Two apps over the same demo data (real embedded chDB): one with the fast path, one without.
Every request goes to both: status, content type and body must be the same (an `explain`'s
engine time aside), and the fast path must have answered the requests it is meant to take
and left the others — other formats, values FastAPI refuses, repeated or unknown parameters —
to FastAPI. What the fast path accepts is read from the route's declaration: a test compares it
with the route's OpenAPI parameters, and one adds a dependency to the route and sees the fast
path refuse to be built (so an authentication check can never be skipped).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from conftest import analyst_client, demo_settings, fresh_database, make_engine
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labis_olap.api import create_app, deps
from labis_olap.api.fastpath import AggregateFastPath, FastPathSpec, spec_of
from labis_olap.api.routes import aggregate
from labis_olap.demo.load import load_demo
from labis_olap.model.reader import read_model
from labis_olap.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
AGG = "/cube/social_assistance/aggregate"

TAKEN = [
    AGG,
    f"{AGG}?aggregates=amount|payments&drilldown=territory:region|time:year",
    f"{AGG}?drilldown=time:quarter&cut=time:2024&order=amount:desc",
    f"{AGG}?drilldown=territory&cut=territory:LV005&lang=en",
    f"{AGG}?drilldown=benefit_type&subtotals=rollup",
    f"{AGG}?drilldown=territory:region&split=gender:M",
    f"{AGG}?drilldown=territory&page=1&pagesize=3",
    f"{AGG}?drilldown=territory&page=0",
    f"{AGG}?drilldown=territory&explain=1",
    f"{AGG}?drilldown=territory&explain=false&prettyprint=true",
    f"{AGG}?drilldown=territory&as_of=now&format=json",
    f"{AGG}?drilldown=territory&cut=" + quote("territory:LV005|time:2024,2"),
    f"{AGG}?drilldown=age_group&cut=",
    # Answered here with the same errors FastAPI's route gives:
    "/cube/nope/aggregate",
    f"{AGG}?drilldown=nope",
    f"{AGG}?cut=time:20x4",
    f"{AGG}?pagesize=99999999",
    f"{AGG}?drilldown=territory&order=nope",
]
LEFT = [
    f"{AGG}?cut=time:2024&cut=time:2025",
    f"{AGG}?pagesize=0",
    f"{AGG}?page=-1",
    f"{AGG}?page=abc",
    f"{AGG}?lang=de",
    f"{AGG}?drilldown=territory&format=csv",
    f"{AGG}?drilldown=territory&format=csv&header=labels",
    f"{AGG}?explain=maybe",
    f"{AGG}?header=labels",
    f"{AGG}?drilldown=" + "x" * 2_001,
    f"{AGG}?page=" + "9" * 30,
    "/cube/" + "c" * 201 + "/aggregate",
    f"{AGG}?drilldown=gender&unknown=1",
    f"{AGG}?drilldown=gender&role=admin",
]


@pytest.fixture(scope="module")
def apps(data_dir: Path) -> Iterator[tuple[TestClient, TestClient, AggregateFastPath]]:
    model = read_model(ROOT / "model")
    engine = make_engine("embedded", data_dir, fresh_database("fast"))
    load_demo(model, engine, 5_000, seed=3)
    config = demo_settings(data_dir, engine, max_pagesize=500)
    fast_app = create_app(config, model, engine)
    plain_app = create_app(config, model, engine, fast_path=False)
    with (
        analyst_client(fast_app, raise_server_exceptions=False) as fast,
        analyst_client(plain_app, raise_server_exceptions=False) as plain,
    ):
        fast.get("/health")  # builds the middleware stack
        yield fast, plain, _fast_path(fast_app)
    engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


def _fast_path(app: FastAPI) -> AggregateFastPath:
    layer: Any = app.middleware_stack
    while not isinstance(layer, AggregateFastPath):
        layer = layer.app
    return layer


def same_answer(fast: TestClient, plain: TestClient, url: str) -> None:
    a, b = fast.get(url), plain.get(url)
    assert (a.status_code, a.headers["content-type"]) == (b.status_code, b.headers["content-type"]), url
    if "json" not in a.headers["content-type"]:
        assert a.content == b.content, url
        return
    if a.status_code == 200 and "explain" in a.json():
        x, y = a.json(), b.json()
        for body in (x, y):
            body["explain"].pop("engine_ms")
        assert x == y, url
    else:
        assert a.content == b.content, url
    assert a.status_code < 500, (url, a.text)


@pytest.mark.parametrize("url", TAKEN)
def test_answered_here_as_fastapi_answers(
    apps: tuple[TestClient, TestClient, AggregateFastPath], url: str
) -> None:
    fast, plain, path = apps
    before = path.answered
    same_answer(fast, plain, url)
    assert path.answered == before + 1, f"{url} went to FastAPI"


@pytest.mark.parametrize("url", LEFT)
def test_left_to_fastapi(apps: tuple[TestClient, TestClient, AggregateFastPath], url: str) -> None:
    fast, plain, path = apps
    before = path.answered
    same_answer(fast, plain, url)
    assert path.answered == before, f"{url} was answered by the fast path"


VALUES = {
    "cut": ["time:2024", "territory:LV005", "time:2023-2024", "nope:1", "time:", "", "!gender:M"],
    "drilldown": ["territory", "time:month", "benefit_type|gender", "nope", "", "time:nope"],
    "aggregates": ["amount", "payments|amount", "nope", ""],
    "split": ["gender:F", "nope:x"],
    "order": ["amount:desc", "territory.region", "nope", "amount:sideways"],
    "page": ["0", "2", "-1", "x", "", "007"],
    "pagesize": ["1", "5", "0", "501", "", "1e3"],
    "as_of": ["fact", "now", "2024-01-01", "nuts_2021", "never"],
    "explain": ["1", "0", "true", "false", "yes", "TRUE", ""],
    "prettyprint": ["1", "0", "on"],
    "format": ["json", "csv", "xml", ""],
    "subtotals": ["none", "rollup", "cube", "all"],
    "header": ["names", "labels"],
    "lang": ["lv", "en", "de", ""],
    "other": ["1"],
}


@given(
    params=st.lists(
        st.sampled_from(sorted(VALUES)).flatmap(lambda k: st.tuples(st.just(k), st.sampled_from(VALUES[k]))),
        max_size=6,
    )
)
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_any_parameters_answered_alike(
    apps: tuple[TestClient, TestClient, AggregateFastPath], params: list[tuple[str, str]]
) -> None:
    fast, plain, _ = apps
    query = "&".join(f"{k}={quote(v, safe=':|,!-')}" for k, v in params)
    same_answer(fast, plain, f"{AGG}?{query}")


def _route() -> APIRoute:
    routes = aggregate.router.routes
    (route,) = [r for r in routes if isinstance(r, APIRoute) and r.path.endswith("/aggregate")]
    return route


def test_the_spec_is_the_routes_openapi_parameters() -> None:
    """The fast path checks exactly the query parameters the route declares, with the route's
    bounds (as the OpenAPI document states them, an independent reading of the declaration)."""
    spec = spec_of(_route())
    doc = create_app(Settings()).openapi()["paths"]["/cube/{cube}/aggregate"]["get"]["parameters"]
    declared = {p["name"]: p["schema"] for p in doc if p["in"] == "query"}
    assert set(declared) == spec.names
    for name, schema in declared.items():
        options = schema.get("anyOf", [schema])
        if name in spec.text:
            assert [o.get("maxLength") for o in options if o.get("type") == "string"] == [spec.text[name]]
        elif name in spec.choices:
            assert [tuple(o["enum"]) for o in options if "enum" in o] == [spec.choices[name]]
        elif name in spec.flags:
            assert [o["type"] for o in options] == ["boolean"]
        else:
            assert [o.get("minimum") for o in options if o.get("type") == "integer"] == [spec.numbers[name]]
        assert schema.get("default") == spec.defaults[name]


def test_a_dependency_it_does_not_know_stops_the_fast_path() -> None:
    """An authentication check added to the route must not be skipped by the fast path."""

    async def must_be_admin() -> None:
        return None

    router = APIRouter()
    router.add_api_route(
        "/cube/{cube}/aggregate", aggregate.aggregate, dependencies=[Depends(must_be_admin)], methods=["GET"]
    )
    (route,) = [r for r in router.routes if isinstance(r, APIRoute)]
    with pytest.raises(RuntimeError, match="does not know the dependencies"):
        spec_of(route)
    assert isinstance(spec_of(_route()), FastPathSpec)
    assert deps.get_principal in {d.call for d in _route().dependant.dependencies}
