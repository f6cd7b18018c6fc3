"""The demo publishes: what the public (anyone without credentials) gets of the shipped model
(model/roles, each cube's `disclosure:` block), against what an analyst gets of the same data.

On 300,000 demo facts: every publication table of every cube, with every margin, shows no
count of 1–4 contributors; measures the rules cannot protect are `N` on every row; the
indicator JSON and pages answer the public; fact rows, finer grains and ordering by a measure
are refused to it; a bad credential is still a 401, and XMLA still challenges (Excel sends its
credentials only when asked). The public view is the same through the service, the CLI's
`--role public` and HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import AS_ANALYST, demo_database, demo_settings
from fastapi.testclient import TestClient

from labis_olap.api import slicer
from labis_olap.api.app import create_app
from labis_olap.engine.base import Engine
from labis_olap.errors import NotFoundError
from labis_olap.model.definition import Model
from labis_olap.model.disclosure import contributors_of, publishable
from labis_olap.service import ANONYMOUS, CubeService, Principal
from labis_olap.service.tabular import TextQuery

ROWS = 300_000


@pytest.fixture(scope="module")
def demo(data_dir: Path) -> Iterator[tuple[Model, Engine]]:
    with demo_database(data_dir, "public", ROWS, seed=11) as demo:
        yield demo


@pytest.fixture(scope="module")
def client(demo: tuple[Model, Engine], data_dir: Path) -> Iterator[TestClient]:
    model, engine = demo
    settings = demo_settings(data_dir, engine)
    with TestClient(create_app(settings, model, engine), raise_server_exceptions=False) as c:
        yield c


def get(client: TestClient, url: str, **kw: Any) -> Any:
    r = client.get(url, **kw)
    assert r.status_code == 200, (url, r.status_code, r.text[:500])
    return r.json()


def rows_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [*answer["cells"], answer["summary"]]
    for s in answer.get("subtotals") or []:
        rows += s["cells"]
    return rows


SUPPRESSED = ["unemployment", "social_assistance", "pensions", "occupational_accidents"]


@pytest.mark.parametrize("cube", SUPPRESSED)
def test_every_published_table_hides_small_counts(
    demo: tuple[Model, Engine], client: TestClient, cube: str
) -> None:
    model, _ = demo
    c = model.cubes[cube]
    rules = c.disclosure
    assert rules is not None and rules.method == "suppression"
    contributors = contributors_of(c, rules)
    assert contributors is not None
    unpublished = [m.name for m in c.measures if not publishable(c, rules, m.name)]
    statuses: dict[str | None, int] = {}
    for table in rules.tables:
        url = f"/cube/{cube}/aggregate?drilldown={table}&subtotals=cube"
        public, analyst = get(client, url), get(client, url, headers=AS_ANALYST)
        shown = rows_of(public)
        assert len(shown) == len(rows_of(analyst)) > 10
        for row in shown:
            status = row[f"{contributors}:status"]
            statuses[status] = statuses.get(status, 0) + 1
            n = row[contributors]
            assert n is None or not 0 < n < rules.threshold, (cube, table, row)
            assert (n is None) == (status is not None), row
            for m in unpublished:
                assert row[m] is None and row[f"{m}:status"] == "N", (m, row)
        for row in rows_of(analyst):
            assert f"{contributors}:status" not in row
    assert statuses.get(None, 0) > 0, statuses
    if cube != "unemployment":  # at this scale the other cubes have small cells to hide
        assert statuses.get("A", 0) > 0 and statuses.get("D", 0) > 0, statuses


def test_the_finest_grain_is_the_analysts_only(client: TestClient) -> None:
    """The issue's example: municipality × gender × age group × education × month."""
    url = (
        "/cube/unemployment/aggregate?drilldown=territory:municipality|gender|age_group:age_group|"
        "education:isced|time:month&cut=time:2024,1,1&aggregates=persons"
    )
    refused = client.get(url)
    assert refused.status_code == 400 and "publication tables" in refused.json()["message"]
    assert "territory:municipality|time:year" in refused.json()["hint"]
    cells = get(client, url, headers=AS_ANALYST)["cells"]
    assert sum(1 for c in cells if 0 < c["persons"] < 5) > 100


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/cube/unemployment/facts?pagesize=1", 403),
        ("/cube/unemployment/aggregate?drilldown=territory&order=persons:desc", 400),
        ("/cube/unemployment/aggregate?drilldown=territory&split=gender:F", 400),
    ],
)
def test_refused_to_the_public_answered_to_the_analyst(client: TestClient, url: str, code: int) -> None:
    assert client.get(url).status_code == code
    assert client.get(url, headers=AS_ANALYST).status_code == 200


def test_a_differencing_adversary_gets_no_region_by_subtraction(client: TestClient) -> None:
    """A scripted adversary asks an indicator's national total by year, then the same total of
    "every region but X" (an exclusion cut and a set cut), through the indicator JSON the pages
    read and through the cube API: X would be the difference. Both are refused to the public
    (answered to an analyst); what the public gets of X is its own published, protected cells."""
    members = get(client, "/cube/unemployment/members/territory?depth=1")["data"]
    regions = [r["territory.region"] for r in members]
    x, rest = regions[0], regions[1:]
    assert len(rest) >= 4
    get(client, "/indicator/NVA-005?drilldown=time:year")  # the parent total
    for cut in (f"!territory:{x}", "territory:" + ";".join(rest)):
        for path in ("/indicator/NVA-005", "/cube/unemployment/aggregate"):
            params = {"drilldown": "time:year", "cut": cut}
            refused = client.get(path, params=params)
            assert refused.status_code == 400 and "merge members" in refused.json()["message"], (path, cut)
            assert client.get(path, params=params, headers=AS_ANALYST).status_code == 200
    m = "registered_unemployed"
    own = get(client, "/indicator/NVA-005", params={"drilldown": "time:year", "cut": f"territory:{x}"})
    table = get(client, "/indicator/NVA-005", params={"drilldown": "territory:region|time:year"})
    in_table = {
        c["time.year"]: (c[m], c[f"{m}:status"]) for c in table["cells"] if c["territory.region"] == x
    }
    assert {c["time.year"]: (c[m], c[f"{m}:status"]) for c in own["cells"]} == in_table and in_table


def test_every_indicator_answers_the_public(demo: tuple[Model, Engine], client: TestClient) -> None:
    model, _ = demo
    published = national = 0
    for code, ind in model.indicators.items():
        cube = model.cubes[ind.cube]
        rules = cube.disclosure
        assert rules is not None, f"cube {ind.cube} of {code} has no disclosure rules"
        url = f"/indicator/{code}?drilldown=territory:region|time:year"
        if client.get(url).status_code == 400:  # its fixed cut is published nationally only
            assert any("territory" not in t for t in rules.tables), code
            url = f"/indicator/{code}?drilldown=time:year"
            national += 1
        answer = get(client, url)
        values = [r[ind.measure] for r in rows_of(answer)]
        statuses = {r[f"{ind.measure}:status"] for r in rows_of(answer)}
        if rules.method == "suppression" and not publishable(cube, rules, ind.measure):
            assert statuses == {"N"} and values == [None] * len(values), code
        elif rules.method == "cell_key" and ind.measure != contributors_of(cube, rules):
            assert statuses == {"N"}, code
        else:
            assert any(v is not None for v in values), (code, statuses)
            published += 1
        page = client.get(f"/browser/indicators/{code}")
        assert page.status_code == 200 and code in page.text
    assert published >= 15 and national <= 2  # VDI-005 and VDI-007: by sector, for Latvia


def drilldowns(view: dict[str, str | None]) -> list[str]:
    """The three queries of an indicator page's view: both levels, each alone."""
    rows = f"territory:{view['territory']}" if view["territory"] else ""
    cols = f"time:{view['time']}" if view["time"] else ""
    return ["|".join(p for p in (rows, cols) if p), rows, cols]


def test_an_indicator_offers_the_views_its_asker_gets(demo: tuple[Model, Engine], client: TestClient) -> None:
    """`views` lists exactly the page views whose queries answer: every listed one answers the
    public, the finer ones it leaves out are refused; an analyst is offered every pair."""
    model, _ = demo
    for code in model.indicators:
        public = get(client, f"/indicator/{code}")["indicator"]["views"]
        analyst = get(client, f"/indicator/{code}", headers=AS_ANALYST)["indicator"]["views"]
        assert public and all(v in analyst for v in public), code
        assert len(analyst) == 11, (
            code,
            analyst,
        )  # (3 territory levels + total) × (year, quarter, month + total) − 1
        for view in analyst:
            answered = all(
                client.get(f"/indicator/{code}", params={"drilldown": d}).status_code == 200
                for d in drilldowns(view)
                if d
            )
            assert answered == (view in public), (code, view)
    for code in ("VDI-005", "VDI-007"):  # by sector, for Latvia only
        assert get(client, f"/indicator/{code}")["indicator"]["views"] == [
            {"territory": None, "time": "year"}
        ]


def test_refusal_is_the_policys_answer_without_the_engine(demo: tuple[Model, Engine]) -> None:
    model, engine = demo
    service = CubeService(model, engine)
    fine = slicer.aggregate_query(
        "unemployment", drilldown="territory:municipality|time:month", aggregates="persons"
    )
    refused = service.refusal(fine, ANONYMOUS)
    assert refused is not None and "publication tables" in refused.message
    assert service.refusal(fine, ANONYMOUS) is refused  # kept
    analyst = Principal(subject="a", roles=frozenset({"analyst"}))
    assert service.refusal(fine, analyst) is None
    published = slicer.aggregate_query(
        "unemployment", drilldown="territory:region|time:year", aggregates="persons"
    )
    assert service.refusal(published, ANONYMOUS) is None
    with pytest.raises(NotFoundError):
        service.refusal(slicer.aggregate_query("no_such_cube"), ANONYMOUS)


def test_credentials_decide_who_asks(client: TestClient) -> None:
    url = "/cube/unemployment/aggregate?drilldown=territory&cut=time:2024"
    assert "registered_unemployed:status" in get(client, url)["summary"]  # none: the public
    bad = client.get(url, headers={"X-API-Key": "lbk_00000000_nope"})
    assert bad.status_code == 401
    xmla = client.post("/xmla", content=b"<x/>", headers={"Content-Type": "text/xml"})
    assert xmla.status_code == 401 and "WWW-Authenticate" in xmla.headers


def test_the_service_the_cli_and_http_publish_the_same(
    demo: tuple[Model, Engine], client: TestClient
) -> None:
    model, engine = demo
    service = CubeService(model, engine)
    asked = TextQuery(
        "social_assistance",
        ("recipients", "amount"),
        "time:2024",
        "territory:municipality|benefit_type:category",
    )
    assert asked.principal().operator and TextQuery(asked.cube, roles=("public",)).principal().roles == {
        "public"
    }
    public = TextQuery(**{**asked.__dict__, "roles": ("public",)})
    by_service = service.aggregate(public.cube_query(), ANONYMOUS).cells.to_pylist()
    by_cli = service.aggregate(public.cube_query(), public.principal()).cells.to_pylist()
    url = "/cube/social_assistance/aggregate?cut=time:2024&aggregates=recipients|amount"
    by_http = get(client, url + "&drilldown=territory:municipality|benefit_type:category")["cells"]
    assert by_service == by_cli
    assert [(r["recipients"], r["recipients:status"]) for r in by_service] == [
        (r["recipients"], r["recipients:status"]) for r in by_http
    ]
    operator = service.aggregate(asked.cube_query(), asked.principal()).cells.to_pylist()
    assert all("recipients:status" not in r for r in operator) and len(operator) == len(by_service)
