"""The bounds of one request (docs/security.md, "Limits"), in-process on real chDB: parts of a
query, /report's queries and cells, sizes of the URL, headers and body, and the rate per
principal on both ways in (the aggregate fast path and FastAPI's routes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ANALYST, analyst_client, demo_database, demo_settings
from fastapi.testclient import TestClient

from labis_olap.api import create_app, deps
from labis_olap.api.guard import TokenBucket
from labis_olap.engine.base import Engine
from labis_olap.errors import QueryCancelledError
from labis_olap.model.definition import Model
from labis_olap.query.cell import FactsQuery
from labis_olap.service import ANONYMOUS, CubeService, Principal, ServiceLimits

ROOT = Path(__file__).resolve().parent.parent
AGG = "/cube/unemployment/aggregate"
REPORT = "/cube/unemployment/report"


@pytest.fixture(scope="module")
def demo(data_dir: Path) -> Iterator[tuple[Model, Engine]]:
    with demo_database(data_dir, "lim", 5_000, seed=3) as demo:
        yield demo


def app_client(demo: tuple[Model, Engine], data_dir: Path, **kw: Any) -> TestClient:
    model, engine = demo
    settings = demo_settings(data_dir, engine, cache_bytes=0, **kw)
    return analyst_client(create_app(settings, model, engine), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(demo: tuple[Model, Engine], data_dir: Path) -> Iterator[TestClient]:
    with app_client(demo, data_dir, max_report_queries=5, max_report_cells=200) as c:
        yield c


def refused(r: Any, status: int, error: str, *words: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text[:300])
    body: dict[str, Any] = r.json()
    assert body["error"] == error and set(body) == {"error", "message", "hint"}, body
    assert all(w in body["message"] for w in words), body
    return body


# --- parts of a query ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"cut": "|".join(f"time:{2000 + i}" for i in range(65))}, ["65 cuts", "64"]),
        ({"cut": "gender:" + ";".join(f"x{i}" for i in range(257))}, ["257 members", "256"]),
        ({"drilldown": "|".join(["gender"] * 17)}, ["17 drilldowns", "16"]),
        ({"aggregates": "|".join(["persons"] * 65)}, ["65 aggregates", "64"]),
        ({"order": ",".join(["gender"] * 65)}, ["65 order terms", "64"]),
        ({"split": "|".join(f"time:{2000 + i}" for i in range(65))}, ["65 split cuts"]),
    ],
)
def test_parts_past_a_bound_are_a_400_naming_it(
    client: TestClient, params: dict[str, str], words: list[str]
) -> None:
    refused(client.get(AGG, params=params), 400, "limit_exceeded", *words)


def test_parts_are_bounded_on_facts_and_members_too(client: TestClient) -> None:
    many = "|".join(f"time:{2000 + i}" for i in range(65))
    refused(client.get("/cube/unemployment/facts", params={"cut": many}), 400, "limit_exceeded", "64")
    refused(client.get("/cube/unemployment/members/time", params={"cut": many}), 400, "limit_exceeded")
    fields = ",".join(["gender"] * 65)
    refused(client.get("/cube/unemployment/facts", params={"fields": fields}), 400, "limit_exceeded")


def test_a_repeated_cut_costs_nothing(client: TestClient) -> None:
    """999 copies of one cut are the cell of one (the engine sees it once; the answer says one)."""
    once = client.get(AGG, params={"cut": "time:2024"}).json()
    many = client.get(AGG, params={"cut": "|".join(["time:2024"] * 999)})
    assert many.status_code == 200
    assert many.json()["summary"] == once["summary"] and len(many.json()["cell"]) == 1
    member_twice = client.get(AGG, params={"cut": "gender:M;M;M;F"}).json()
    assert member_twice["cell"][0]["paths"] == [["M"], ["F"]]


def test_report_cell_dicts_are_bounded_like_strings(client: TestClient) -> None:
    cell = [{"dimension": "time", "path": [str(2000 + i)]} for i in range(65)]
    body = {"queries": {"a": {"query": "aggregate"}}, "cell": cell}
    refused(client.post(REPORT, json=body), 400, "limit_exceeded", "64")


# --- /report -------------------------------------------------------------------------------------
def test_report_queries_are_bounded_before_any_runs(client: TestClient) -> None:
    body = {"queries": {f"q{i}": {"query": "aggregate"} for i in range(6)}}
    refused(client.post(REPORT, json=body), 400, "limit_exceeded", "6 queries", "5")
    refused(client.get(REPORT, params={"report": json.dumps(body)}), 400, "limit_exceeded", "5")


def test_report_cells_are_counted_over_the_answers(client: TestClient) -> None:
    facts = {"query": "facts", "pagesize": 150}
    ok = client.post(REPORT, json={"queries": {"a": facts}})
    assert ok.status_code == 200 and len(ok.json()["a"]) == 150
    body = {"queries": {"a": facts, "b": facts}}
    refused(client.post(REPORT, json=body), 400, "limit_exceeded", "200 cells", "'b'")


def test_report_answer_is_the_same_json_as_the_single_routes(client: TestClient) -> None:
    q = {"query": "aggregate", "drilldown": "gender", "cut": "time:2024"}
    r = client.post(REPORT, json={"queries": {"a": q, "f": {"query": "facts", "pagesize": 3}}})
    single = client.get(AGG, params={"drilldown": "gender", "cut": "time:2024"}).json()
    assert r.status_code == 200 and r.json()["a"] == single and len(r.json()["f"]) == 3
    pretty = client.post(REPORT, params={"prettyprint": "true"}, json={"queries": {"a": q}})
    assert pretty.json()["a"] == single and pretty.text.startswith("{\n")


# --- sizes ---------------------------------------------------------------------------------------
def test_a_body_past_the_bound_is_413_before_parsing(demo: tuple[Model, Engine], data_dir: Path) -> None:
    with app_client(demo, data_dir, max_body_bytes=4096) as c:
        big = b'{"queries": {' + b" " * 5000 + b"}}"
        refused(c.post(REPORT, content=big, headers={"content-type": "application/json"}), 413, "too_large")

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"queries": {'
            for _ in range(10):
                yield b" " * 1000

        refused(c.post(REPORT, content=chunks()), 413, "too_large", "4096")
        small = {"queries": {"a": {"query": "aggregate"}}}
        assert c.post(REPORT, json=small).status_code == 200


def test_long_urls_and_headers_are_refused(demo: tuple[Model, Engine], data_dir: Path) -> None:
    with app_client(demo, data_dir, max_url_bytes=2048, max_header_bytes=2048) as c:
        refused(c.get(AGG, params={"cut": "x" * 3000}), 414, "uri_too_long")
        refused(c.get(AGG, headers={"x-padding": "y" * 3000}), 431, "headers_too_large")
        assert c.get(AGG).status_code == 200


# --- rate per principal ----------------------------------------------------------------------------
def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(2.0, 3, clock=lambda: now[0])
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a") == pytest.approx(0.5)
    assert bucket.take("b") == 0.0
    now[0] = 0.5
    assert bucket.take("a") == 0.0 and bucket.take("a") > 0


@pytest.mark.parametrize("url", [AGG, f"{AGG}?format=csv", "/cube/unemployment/facts?pagesize=1"])
def test_rate_limit_per_principal_on_both_ways_in(
    demo: tuple[Model, Engine], data_dir: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """A burst past the bucket gets 429 with Retry-After; under it none; principals apart. The
    first URL is answered by the fast path, the others by FastAPI's routes."""
    monkeypatch.setattr(
        deps,
        "principal_of",
        lambda scope: Principal(dict(scope["headers"]).get(b"x-who", b"?").decode(), ANALYST.roles),
    )
    # 0.1/s: the five requests of the burst would have to take ten seconds to earn a sixth (at
    # 1/s a slow first CSV on a busy machine earned one, and the test failed)
    with app_client(demo, data_dir, rate_limit=0.1, rate_burst=5) as c:
        alice = [c.get(url, headers={"x-who": "alice"}) for _ in range(5)]
        assert [r.status_code for r in alice] == [200] * 5
        over = c.get(url, headers={"x-who": "alice"})
        refused(over, 429, "too_many_requests", "0.1 requests per second")
        assert int(over.headers["retry-after"]) >= 1
        assert [c.get(url, headers={"x-who": "bob"}).status_code for _ in range(5)] == [200] * 5
        assert c.get("/health", headers={"x-who": "alice"}).status_code == 200  # probes are not limited
    fast = [m for m in c.app.user_middleware if m.cls.__name__ == "AggregateFastPath"]  # type: ignore[attr-defined]
    assert fast, "the fast path is installed"


def test_anonymous_visitors_are_counted_by_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """In open demo mode everyone is ANONYMOUS: one bucket would let one client starve the
    public, so visitors are counted per address (a named principal per subject and roles)."""
    from labis_olap.api.guard import rate_key

    monkeypatch.setattr(deps, "principal_of", lambda scope: ANONYMOUS)
    one, two = ({"type": "http", "client": (ip, 5000)} for ip in ("192.0.2.1", "192.0.2.2"))
    assert rate_key(one) != rate_key(two) and rate_key(one) == rate_key({**one, "client": ("192.0.2.1", 1)})
    monkeypatch.setattr(deps, "principal_of", lambda scope: Principal("anna"))
    assert rate_key(one) == rate_key(two) == ("anna", ("public",))


def test_no_rate_limit_when_zero(demo: tuple[Model, Engine], data_dir: Path) -> None:
    with app_client(demo, data_dir, rate_limit=0, rate_burst=1) as c:
        assert {c.get(AGG).status_code for _ in range(30)} == {200}


# --- cancellation ----------------------------------------------------------------------------------
def test_a_cancelled_request_runs_no_further_query(demo: tuple[Model, Engine]) -> None:
    """After `cancel` (the client went away), the request's next engine query is refused: a report
    stops between its queries. The tag reaches the engine as the query's log_comment."""
    service = CubeService(*demo, limits=ServiceLimits(seconds=30.0))
    started: list[str] = []
    with service.cancellable() as token:
        token.on_query = lambda: started.append(token.tag)
        assert service.facts(FactsQuery("unemployment", pagesize=1), ANALYST).rows.num_rows == 1
        service.cancel(token)
        with pytest.raises(QueryCancelledError):
            service.facts(FactsQuery("unemployment", pagesize=1), ANALYST)
    assert started == [token.tag] and token.tag.startswith("labis-request-")
