"""The cube service (labis_olap/service): the one door every front end goes through.

On real embedded chDB with demo data: the cell set describes its axes, members and measures
as the model names them; paging and its limits are decided here; cached answers are keyed by
the principal, so one role's answer is never served to another; every front end of the HTTP
API reaches the engine only through the service.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ANALYST, ANALYST_KEY, KEYS_FILE, analyst_client, demo_database, demo_settings

from labis_olap.api import create_app
from labis_olap.engine.base import Engine
from labis_olap.errors import NotFoundError, QueryError
from labis_olap.model.cut_grammar import parse_cuts, parse_drilldowns
from labis_olap.model.definition import Model
from labis_olap.query.cell import CubeQuery, FactsQuery, MembersQuery
from labis_olap.security.keys import ApiKeys
from labis_olap.service import CubeService, Principal, ServiceLimits
from labis_olap.service.paging import MAX_PAGE

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 20


@pytest.fixture(scope="module")
def demo(data_dir: Path) -> Iterator[tuple[Model, Engine]]:
    with demo_database(data_dir, "svc", 20_000, seed=5) as demo:
        yield demo


def service(demo: tuple[Model, Engine], **kw: object) -> CubeService:
    limits = ServiceLimits(LIMIT, 30.0)
    return CubeService(*demo, limits=limits, **kw)  # type: ignore[arg-type]


def by_region(**kw: object) -> CubeQuery:
    return CubeQuery(
        "unemployment",
        ("registered_unemployed",),
        parse_cuts("time:2024"),
        parse_drilldowns("territory:municipality"),
        **kw,  # type: ignore[arg-type]
    )


def test_the_cell_set_describes_axes_members_and_measures(demo: tuple[Model, Engine]) -> None:
    model, _ = demo
    cells = service(demo).aggregate(by_region(pagesize=LIMIT, lang="en"), ANALYST)
    (axis,) = cells.axes
    assert (axis.dimension, axis.hierarchy) == ("territory", "region")
    assert [lv.name for lv in axis.levels] == ["region", "municipality"]
    assert [lv.key for lv in axis.levels] == ["territory.region", "territory.municipality"]
    assert cells.attributes == [c for lv in axis.levels for c in (lv.key, lv.label)]
    members = cells.members(0)
    assert members and all(m.level == "municipality" and len(m.path) == 2 for m in members)
    # Captions in both languages come from the model's members, whatever the query's language.
    lookup = service(demo).executor.members.maps("territory", "municipality")
    for m in members:
        assert m.caption == {"lv": lookup["lv"][m.key] or m.key, "en": lookup["en"][m.key] or m.key}
        assert m.parent == m.path[:1]
    rows = cells.cells.to_pylist()
    assert [m.caption["en"] for m in members] == list(
        dict.fromkeys(r["territory.municipality_label"] for r in rows)
    )
    (measure,) = cells.measures
    unemployed = model.cubes["unemployment"].measure("registered_unemployed")
    assert measure.name == "registered_unemployed" and measure.function == unemployed.function
    assert measure.caption["lv"] == unemployed.label.get("lv")  # type: ignore[union-attr]
    (cut,) = cells.cuts
    assert (cut.cut.dimension, cut.hierarchy, cut.depth) == ("time", "ymd", 1)
    assert cells.explain.source == cells.source and cells.explain.sql


def test_paging_is_decided_once_with_the_limit(demo: tuple[Model, Engine]) -> None:
    svc = service(demo)
    with pytest.raises(QueryError, match="more than 20 cells"):
        svc.aggregate(by_region(), ANALYST)  # unpaged, over the limit: says to page
    with pytest.raises(QueryError, match="over the server's limit"):
        svc.aggregate(by_region(pagesize=LIMIT + 1), ANALYST)
    with pytest.raises(QueryError, match="at least 1"):
        svc.aggregate(by_region(pagesize=0), ANALYST)
    with pytest.raises(QueryError, match="at most"):
        svc.aggregate(by_region(page=MAX_PAGE + 1, pagesize=5), ANALYST)
    # page without pagesize pages by the limit; the last page is short, past it is empty.
    first, second = (svc.aggregate(by_region(page=p), ANALYST) for p in (1, 2))
    total = first.total_cell_count
    assert total > LIMIT and first.cells.num_rows == min(LIMIT, total - LIMIT)
    assert second.cells.num_rows == max(0, min(LIMIT, total - 2 * LIMIT))
    far = svc.aggregate(by_region(page=10_000, pagesize=5), ANALYST)
    assert far.cells.num_rows == 0 and far.total_cell_count == total
    municipalities = MembersQuery("unemployment", "territory", level="municipality", page=1)
    assert svc.members(municipalities, ANALYST).data.num_rows == LIMIT  # 43 of them: page 1 is full
    with pytest.raises(QueryError, match="more than 20 members"):  # page 0 alone is no paging
        svc.members(MembersQuery("unemployment", "territory", level="municipality", page=0), ANALYST)
    # Unpaged facts past the limit are cut at it, as Cubes cuts them, and say so.
    cut = svc.facts(FactsQuery("unemployment", parse_cuts("time:2024")), ANALYST)
    assert cut.rows.num_rows == LIMIT and cut.limit == LIMIT
    first = svc.facts(FactsQuery("unemployment", parse_cuts("time:2024"), page=0, pagesize=LIMIT), ANALYST)
    assert cut.rows.to_pylist() == first.rows.to_pylist() and first.limit is None


def test_cached_answers_are_keyed_by_the_principal(demo: tuple[Model, Engine]) -> None:
    svc = service(demo, cache_bytes=8 * 2**20)
    analyst = Principal("anna", frozenset({"analyst"}))
    colleague = Principal("janis", frozenset({"analyst"}))
    query = by_region(pagesize=5)
    assert svc.cached_aggregate(query, ANALYST) is None
    first = svc.aggregate(query, ANALYST)
    assert first.explain.cache == "miss"
    hit = svc.cached_aggregate(query, ANALYST)
    assert hit is not None and hit.explain.cache == "hit" and hit.cells.equals(first.cells)
    assert svc.cached_aggregate(query, analyst) is None, "another role's answer was served"
    assert svc.aggregate(query, analyst).explain.cache == "miss"
    assert svc.aggregate(query, colleague).explain.cache == "hit", "the same role shares answers"
    assert len(svc.cache) == 2
    off = service(demo).aggregate(query, ANALYST)
    assert off.explain.cache == "off" and off.cells.equals(first.cells)


def test_a_kept_rendering_counts_in_the_cache_budget(demo: tuple[Model, Engine]) -> None:
    svc = service(demo, cache_bytes=8 * 2**20)
    cells = svc.aggregate(by_region(pagesize=5), ANALYST)
    before = svc.cache.size
    made = cells.rendered("test", lambda c: b"x" * 1000)
    assert made == b"x" * 1000 and svc.cache.size == before + 1000
    again = svc.cached_aggregate(by_region(pagesize=5), ANALYST)
    assert again is not None and again.rendered("test", lambda c: b"other") == made
    assert svc.cache.size == before + 1000


def test_unknown_cube_is_a_404_with_a_hint(demo: tuple[Model, Engine]) -> None:
    with pytest.raises(NotFoundError, match="no cube 'unemploymnet'") as info:
        service(demo).aggregate(CubeQuery("unemploymnet"), ANALYST)
    assert "unemployment" in (info.value.hint or "")


def test_every_http_front_end_reaches_the_engine_only_through_the_service(
    demo: tuple[Model, Engine], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each route (fast path included) answers through CubeService with the request's principal:
    with the service's entry points recorded, every data route calls one of them."""
    model, engine = demo
    settings = demo_settings(data_dir, engine)
    calls: list[tuple[str, Principal]] = []
    for name in ("aggregate", "cached_aggregate", "members", "facts", "fact", "cell", "layout"):
        original = getattr(CubeService, name)

        def recorded(self: CubeService, *args: object, _name: str = name, _f: object = original) -> object:
            calls.append((_name, next(a for a in args if isinstance(a, Principal))))
            return _f(self, *args)  # type: ignore[operator]

        monkeypatch.setattr(CubeService, name, recorded)
    urls = {
        "/cube/unemployment/aggregate?drilldown=territory&cut=time:2024": "aggregate",
        "/cube/unemployment/aggregate?drilldown=territory&format=csv": "aggregate",
        "/cube/unemployment/members/territory": "members",
        "/cube/unemployment/facts?pagesize=2": "facts",
        "/cube/unemployment/fact/1": "fact",
        "/cube/unemployment/cell?cut=territory:LV005": "cell",
        "/indicator/NVA-001": "aggregate",
        "/cube/unemployment/aggregate?drilldown=gender&format=sdmx-csv": "aggregate",
        "/indicator/NVA-001?format=sdmx-csv": "aggregate",
        "/sdmx/structure/unemployment": "members",
        "/sdmx/structure/indicator/NVA-001": "members",
    }
    principal_of_key = ApiKeys(KEYS_FILE).verify(ANALYST_KEY)
    assert principal_of_key is not None and "analyst" in principal_of_key.roles
    with analyst_client(create_app(settings, model, engine), raise_server_exceptions=False) as client:
        for url, entry in urls.items():
            calls.clear()
            response = client.get(url)
            assert response.status_code in (200, 404), (url, response.text)
            names = [n for n, _ in calls]
            assert entry in names, f"{url} did not ask the service's {entry}: {names}"
            assert all(p == principal_of_key for _, p in calls)
        calls.clear()
        body = {"queries": {"a": {"query": "aggregate", "drilldown": "gender"}, "m": {"query": "members",
                "dimension": "gender"}}}  # fmt: skip
        assert client.post("/cube/unemployment/report", json=body).status_code == 200
        assert {"aggregate", "members"} <= {n for n, _ in calls}
