"""The REST API route by route, on the LabIS demo data (real embedded chDB).

The demo is loaded once for the module into a fresh database (30,000 facts over every cube),
and one app serves every test. Answers are checked against the Browser (the API must add
nothing to the numbers), CSV and XLSX against the JSON, and the Slicer shapes field by field.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ANALYST, KEYS_FILE, analyst_client, demo_database, fresh_database, make_engine
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from labis_olap.api import create_app
from labis_olap.api.render import jsonable
from labis_olap.api.schemas import AggregateResponse, CellResponse, CubeModel, Info, MembersResponse
from labis_olap.engine.base import Engine
from labis_olap.errors import QueryTimeoutError
from labis_olap.model.cut_grammar import parse_cuts, parse_drilldowns, parse_order
from labis_olap.model.definition import Model
from labis_olap.query.cache import ResultCache, data_version
from labis_olap.query.cell import CubeQuery
from labis_olap.query.limits import run_limited
from labis_olap.service import CubeService
from labis_olap.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
ROWS = 30_000
MAX_PAGESIZE = 2_000


@pytest.fixture(scope="module")
def demo(data_dir: Path) -> Iterator[tuple[Model, Engine]]:
    with demo_database(data_dir, "api", ROWS, seed=11) as demo:
        yield demo


def make_settings(data_dir: Path, engine: Engine, **kw: Any) -> Settings:
    return Settings(
        model_dir=ROOT / "model",
        data_dir=data_dir,
        database=engine.database,
        max_pagesize=MAX_PAGESIZE,
        api_keys_file=KEYS_FILE,
        **kw,
    )


@pytest.fixture(scope="module")
def client(demo: tuple[Model, Engine], data_dir: Path) -> Iterator[TestClient]:
    model, engine = demo
    app = create_app(make_settings(data_dir, engine, fact_key_secret="test"), model, engine)
    with analyst_client(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def service(demo: tuple[Model, Engine]) -> CubeService:
    return CubeService(*demo)


def ok(client: TestClient, url: str, **kw: Any) -> Any:
    r = client.get(url, **kw)
    assert r.status_code == 200, (url, r.status_code, r.text)
    return r.json()


def err(
    client: TestClient, url: str, status: int, error: str, method: str = "GET", **kw: Any
) -> dict[str, Any]:
    r = client.request(method, url, **kw)
    assert r.status_code == status, (url, r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error", "message", "hint"}, body
    assert body["error"] == error, body
    return body


# --- server and model ------------------------------------------------------------------------


def test_version_and_info(client: TestClient) -> None:
    v = ok(client, "/version")
    assert v["api_version"] == 2 and v["version"] == v["server_version"]
    info = Info.model_validate(ok(client, "/info"))
    assert info.json_record_limit == MAX_PAGESIZE
    assert info.api_version == 2 and info.authentication.type == "bearer"  # API keys exist


def test_cubes_lists_every_cube(client: TestClient, demo: tuple[Model, Engine]) -> None:
    cubes = ok(client, "/cubes?lang=en")
    assert [c["name"] for c in cubes] == list(demo[0].cubes)
    assert all(set(c) == {"name", "label", "category", "info"} and isinstance(c["info"], dict) for c in cubes)
    by_name = {c["name"]: c for c in cubes}
    assert by_name["unemployment"]["label"] == "Registered unemployment"
    assert by_name["unemployment"]["category"] == "NVA"


def test_model_is_what_cubesviewer_reads(client: TestClient) -> None:
    body = ok(client, "/cube/unemployment/model?lang=en")
    m = CubeModel.model_validate(body)
    assert m.name == "unemployment" and isinstance(m.info, dict)
    dims = {d.name: d for d in m.dimensions}
    assert list(dims) == ["time", "territory", "gender", "age_group", "education", "source_institution"]
    time = dims["time"]
    assert time.role == "time" and time.default_hierarchy_name == "ymd"
    assert [(lv.name, lv.role) for lv in time.levels] == [
        ("year", "year"),
        ("quarter", "quarter"),
        ("month", "month"),
        ("day", "day"),
    ]
    terr = dims["territory"]
    assert [h.name for h in terr.hierarchies] == ["region", "kind"]
    region = terr.levels[0]
    assert region.key == "region" and region.label_attribute == "region_label"
    assert [(a.name, a.ref) for a in region.attributes] == [
        ("region", "territory.region"),
        ("region_label", "territory.region_label"),
    ]
    assert region.attributes[1].locales == ["lv", "en"]
    assert region.cardinality == "low" and dims["gender"].cardinality == "tiny"
    aggs = {a.name: a for a in m.aggregates}
    assert (
        aggs["registered_unemployed"].function == "last"
        and aggs["registered_unemployed"].measure == "registered"
    )
    assert aggs["long_term_share"].function is None and aggs["long_term_share"].expression
    assert aggs["persons"].label == "Unemployed during the period (distinct persons)"
    assert {x.name for x in m.measures} >= {"registered", "new_registration", "duration_months"}


def test_health(client: TestClient) -> None:
    assert ok(client, "/health")["status"] == "ok"


# --- aggregate -------------------------------------------------------------------------------

QUERIES = [
    ("unemployment", "", "territory", "", "", "en"),
    ("unemployment", "time:2024", "territory:municipality", "registered_unemployed|persons", "", "lv"),
    ("unemployment", "territory:LV005", "time:quarter", "new_registrations|avg_duration", "", "lv"),
    (
        "social_assistance",
        "time:2023-2024",
        "benefit_type|gender",
        "amount|payments|recipients",
        "amount:desc",
        "en",
    ),
    ("pensions", "!gender:F", "age_group", "amount|pensioners|avg_pension|min_pension", "", "en"),
    ("disability", "time:2024", "territory@kind:kind", "", "", "lv"),
]


@pytest.mark.parametrize(("cube", "cut", "drill", "aggs", "order", "lang"), QUERIES)
def test_aggregate_equals_the_service(
    client: TestClient,
    service: CubeService,
    cube: str,
    cut: str,
    drill: str,
    aggs: str,
    order: str,
    lang: str,
) -> None:
    url = f"/cube/{cube}/aggregate?cut={cut}&drilldown={drill}&aggregates={aggs}&order={order}&lang={lang}"
    body = ok(client, url)
    AggregateResponse.model_validate(body)
    q = CubeQuery(
        cube,
        tuple(a for a in aggs.split("|") if a),
        parse_cuts(cut),
        parse_drilldowns(drill),
        parse_order(order),
        0,
        MAX_PAGESIZE,
        None,
        lang,
    )
    expected = service.aggregate(q, ANALYST)
    assert body["cells"] == jsonable(expected.cells.to_pylist())
    assert body["summary"] == jsonable(expected.summary)
    assert body["total_cell_count"] == expected.total_cell_count == len(body["cells"])
    assert body["aggregates"] == expected.measure_names
    assert body["attributes"] == expected.attributes
    assert body["levels"] == expected.levels
    # Every cell: every attribute top-down, then the aggregates, in that order.
    assert all(list(c) == [*expected.attributes, *expected.measure_names] for c in body["cells"])
    assert body["remainder"] == {} and body["has_split"] is False


def test_aggregate_without_drilldown_has_summary_only(client: TestClient, service: CubeService) -> None:
    body = ok(client, "/cube/unemployment/aggregate?cut=time:2024")
    assert body["cells"] == [] and body["total_cell_count"] is None and body["levels"] == {}
    expected = service.aggregate(CubeQuery("unemployment", (), parse_cuts("time:2024")), ANALYST)
    assert body["summary"] == jsonable(expected.summary)


def test_aggregate_cell_shows_cuts(client: TestClient) -> None:
    cut = "time:2024,2|territory:LV00A;LV005|!gender:M|time@ym:2023-2024"
    url = f"/cube/unemployment/aggregate?cut={cut}&aggregates=persons"
    cell = ok(client, url)["cell"]
    assert cell == [
        {"type": "point", "dimension": "time", "hierarchy": "ymd", "level_depth": 2, "invert": False,
         "hidden": False, "path": ["2024", "2"]},
        {"type": "set", "dimension": "territory", "hierarchy": "region", "level_depth": 1, "invert": False,
         "hidden": False, "paths": [["LV00A"], ["LV005"]]},
        {"type": "point", "dimension": "gender", "hierarchy": "default", "level_depth": 1, "invert": True,
         "hidden": False, "path": ["M"]},
        {"type": "range", "dimension": "time", "hierarchy": "ym", "level_depth": 1, "invert": False,
         "hidden": False, "from": ["2023"], "to": ["2024"]},
    ]  # fmt: skip


def test_aggregate_paging(client: TestClient) -> None:
    base = "/cube/unemployment/aggregate?drilldown=territory:municipality&aggregates=new_registrations"
    whole = ok(client, base)
    assert whole["total_cell_count"] == len(whole["cells"]) > 20
    pages = [ok(client, f"{base}&page={p}&pagesize=10") for p in range(5)]
    assert all(p["total_cell_count"] == whole["total_cell_count"] for p in pages)
    assert [c for p in pages for c in p["cells"]] == whole["cells"][:50]
    # pagesize alone is the first page (Cubes ignored it without page: a bug not copied).
    assert ok(client, f"{base}&pagesize=7")["cells"] == whole["cells"][:7]
    assert ok(client, f"{base}&page=99&pagesize=10")["cells"] == []
    err(client, f"{base}&pagesize={MAX_PAGESIZE + 1}", 400, "bad_query")


def test_aggregate_over_the_limit_says_to_page(
    demo: tuple[Model, Engine], data_dir: Path, client: TestClient
) -> None:
    model, engine = demo
    app = create_app(make_settings(data_dir, engine).model_copy(update={"max_pagesize": 10}), model, engine)
    with analyst_client(app) as small:
        body = err(small, "/cube/unemployment/aggregate?drilldown=territory:municipality", 400, "bad_query")
        assert "more than 10 cells" in body["message"] and "page" in (body["hint"] or "")
        assert len(ok(small, "/cube/unemployment/aggregate?drilldown=gender")["cells"]) == 2


def test_aggregate_explain(client: TestClient) -> None:
    body = ok(client, "/cube/unemployment/aggregate?drilldown=territory&cut=time:2023&explain=1")
    ex = body["explain"]
    assert set(ex) == {"source", "table", "sql", "params", "engine_ms", "cache"}
    assert ex["source"] in ("facts", "by_region_quarter", "stock_by_day") and "SELECT" in ex["sql"]
    assert "explain" not in ok(client, "/cube/unemployment/aggregate?drilldown=territory")


def test_summary_and_cells_come_from_one_query(client: TestClient) -> None:
    """The grand total is a grouping set of the cells' query, not a second query."""
    ex = ok(client, "/cube/unemployment/aggregate?drilldown=gender&aggregates=persons&explain=1")["explain"]
    assert ex["sql"].count("GROUPING SETS") == 1 and "()" in ex["sql"]


def test_aggregate_as_of_changes_regions(client: TestClient) -> None:
    url = "/cube/unemployment/aggregate?drilldown=territory&cut=time:2023&aggregates=new_registrations"
    then = {c["territory.region"] for c in ok(client, url)["cells"]}
    now = {c["territory.region"] for c in ok(client, url + "&as_of=now")["cells"]}
    assert "LV007" in then and "LV007" not in now  # Pierīga exists only before 2024
    err(client, url + "&as_of=someday", 400, "bad_query")


def test_aggregate_csv_and_xlsx_are_the_json(client: TestClient) -> None:
    base = "/cube/social_assistance/aggregate?drilldown=benefit_type&lang=en"
    base += "&aggregates=amount|payments|avg_payment"
    body = ok(client, base)
    r = client.get(base + "&format=csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "\0" not in r.text
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == [*body["attributes"], *body["aggregates"]]
    assert len(rows) == len(body["cells"]) + 1
    for row, cell in zip(rows[1:], body["cells"], strict=True):
        rec = dict(zip(rows[0], row, strict=True))
        assert rec["benefit_type.category"] == cell["benefit_type.category"]
        assert rec["benefit_type.category_label"] == cell["benefit_type.category_label"]
        assert (
            float(rec["amount"]) == pytest.approx(cell["amount"]) and int(rec["payments"]) == cell["payments"]
        )
        assert float(rec["avg_payment"]) == pytest.approx(cell["avg_payment"])
    labelled = list(csv.reader(io.StringIO(client.get(base + "&format=csv&header=labels").text)))
    assert labelled[0][rows[0].index("payments")] != "payments" and labelled[1:] == rows[1:]
    bare = list(csv.reader(io.StringIO(client.get(base + "&format=csv&header=none").text)))
    assert bare == rows[1:]

    from openpyxl import load_workbook

    x = client.get(base + "&format=xlsx")
    assert x.status_code == 200
    sheet = load_workbook(io.BytesIO(x.content)).active
    assert sheet is not None
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == rows[0]
    col = rows[0].index("payments")
    assert [v[col] for v in values[1:]] == [c["payments"] for c in body["cells"]]


def test_aggregate_summary_csv(client: TestClient) -> None:
    text = client.get("/cube/unemployment/aggregate?aggregates=new_registrations|persons&format=csv").text
    rows = list(csv.reader(io.StringIO(text)))
    body = ok(client, "/cube/unemployment/aggregate?aggregates=new_registrations|persons")
    assert rows == [["new_registrations", "persons"], [str(v) for v in body["summary"].values()]]


def _by(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    out = {tuple(r[k] for k in keys): r for r in rows}
    assert len(out) == len(rows), "keys must identify the rows"
    return out


def test_split_divides_every_cell_within_and_outside(client: TestClient) -> None:
    base = "/cube/unemployment/aggregate?aggregates=persons|new_registrations|registered_unemployed"
    body = ok(client, f"{base}&cut=time:2024&drilldown=gender&split=territory:LV005;LV009")
    AggregateResponse.model_validate(body)
    assert body["has_split"] is True and body["attributes"][0] == "__within_split__"
    assert body["summary"] == ok(client, f"{base}&cut=time:2024")["summary"]
    cells = _by(body["cells"], "__within_split__", "gender.gender")
    within = ok(client, f"{base}&cut=time:2024|territory:LV005;LV009&drilldown=gender")["cells"]
    outside = ok(client, f"{base}&cut=time:2024|!territory:LV005;LV009&drilldown=gender")["cells"]
    assert len(cells) == len(within) + len(outside) == 4
    for flag, expected in ((True, within), (False, outside)):
        for row in expected:
            assert {
                k: v for k, v in cells[(flag, row["gender.gender"])].items() if k != "__within_split__"
            } == row
    # Without a drilldown the split alone makes the cells.
    alone = ok(client, f"{base}&split=time:2024")
    assert [c["__within_split__"] for c in alone["cells"]] == [True, False]
    assert alone["cells"][0]["persons"] == ok(client, f"{base}&cut=time:2024")["summary"]["persons"]
    csv_rows = list(csv.DictReader(io.StringIO(client.get(f"{base}&split=time:2024&format=csv").text)))
    assert [r["__within_split__"] for r in csv_rows] == ["True", "False"]
    err(client, f"{base}&split=territory:nope,x,y", 400, "bad_query")


def test_aggregate_errors(client: TestClient) -> None:
    err(client, "/cube/nope/aggregate", 404, "not_found")
    body = err(client, "/cube/unemployment/aggregate?drilldown=teritory", 404, "not_found")
    assert "territory" in (body["hint"] or "")
    err(client, "/cube/unemployment/aggregate?aggregates=nope", 404, "not_found")
    twice = ok(client, "/cube/unemployment/aggregate?aggregates=persons|persons&drilldown=gender")
    assert twice["aggregates"] == ["persons"] and all(len(c) == 3 for c in twice["cells"])
    err(client, "/cube/unemployment/aggregate?cut=time:2024,13", 400, "bad_query")
    err(client, "/cube/unemployment/aggregate?cut=time", 400, "bad_query")
    err(client, "/cube/unemployment/aggregate?drilldown=gender:gender|gender", 400, "bad_query")
    err(client, "/cube/unemployment/aggregate?drilldown=gender&order=nope", 400, "bad_query")
    err(client, "/cube/unemployment/aggregate?page=x", 400, "bad_request")
    err(client, "/cube/unemployment/aggregate?lang=de", 400, "bad_request")
    err(client, "/cube/unemployment/aggregate?format=pdf", 400, "bad_request")


def test_concurrent_requests_agree(client: TestClient) -> None:
    """Routes run in the thread pool, each thread on its own engine connection."""
    from concurrent.futures import ThreadPoolExecutor

    urls = [
        "/cube/unemployment/aggregate?drilldown=territory:municipality&cut=time:2024",
        "/cube/pensions/aggregate?drilldown=benefit_type:benefit_type|gender&aggregates=amount|pensioners",
        "/cube/unemployment/members/territory?as_of=now",
        "/cube/disability/facts?cut=time:2024,1&pagesize=50",
    ]
    serial = [ok(client, u) for u in urls]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda u: ok(client, u), urls * 6))
    assert answers == serial * 6


def test_prettyprint(client: TestClient) -> None:
    text = client.get("/version?prettyprint=true").text
    assert text.startswith("{\n  ") and text.endswith("}\n")
    assert "\n" not in client.get("/version").text


def _arrow_rows(content: bytes, fmt: str) -> list[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if fmt == "parquet":
        table = pq.read_table(io.BytesIO(content))
    elif fmt == "arrow":  # the IPC file format: a reader may seek to its footer
        table = pa.ipc.open_file(pa.BufferReader(content)).read_all()
    else:
        table = pa.ipc.open_stream(content).read_all()
    return table.to_pylist()


def _xlsx_rows(content: bytes) -> list[dict[str, Any]]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    head, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    return [dict(zip(head, r, strict=True)) for r in rows]


def _xlsx_table(content: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def _same_numbers(rows: list[dict[str, Any]], expected: list[dict[str, Any]], fmt: str) -> None:
    """Rows of a format equal the JSON rows: numbers as numbers, text as text (CSV: all text)."""
    assert len(rows) == len(expected) > 0, fmt
    for got, want in zip(rows, expected, strict=True):
        assert list(got) == list(want), fmt
        for key, value in want.items():
            g = jsonable(got[key])
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                assert float(g) == pytest.approx(value, rel=1e-12), (fmt, key)
            elif value is None:
                assert g in (None, ""), (fmt, key)
            else:
                assert str(g) == str(value), (fmt, key)


@pytest.mark.parametrize(
    "url",
    [
        "/cube/social_assistance/aggregate?drilldown=benefit_type|time:year"
        "&aggregates=amount|recipients|avg_payment",
        "/cube/unemployment/aggregate?cut=time:2024&aggregates=persons|registered_unemployed|long_term_share",
        "/cube/pensions/facts?cut=time:2024,3&pagesize=40&order=amount:desc",
        "/cube/unemployment/members/territory?depth=2&as_of=now",
    ],
)
def test_every_format_parses_back_to_the_same_numbers(client: TestClient, url: str) -> None:
    body = ok(client, url)
    if "/aggregate" in url:
        expected = body["cells"] or [body["summary"]]
    else:
        expected = body if isinstance(body, list) else body["data"]
    for fmt, content_type in (
        ("csv", "text/csv"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("arrow", "application/vnd.apache.arrow.file"),
        ("arrows", "application/vnd.apache.arrow.stream"),
        ("parquet", "application/vnd.apache.parquet"),
    ):
        r = client.get(f"{url}&format={fmt}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(content_type), (
            fmt,
            r.text[:200],
        )
        assert r.headers["content-disposition"].endswith(f'.{fmt}"'), r.headers["content-disposition"]
        if fmt == "csv":
            rows: list[dict[str, Any]] = list(csv.DictReader(io.StringIO(r.text)))
        elif fmt == "xlsx":
            rows = _xlsx_rows(r.content)
        else:
            rows = _arrow_rows(r.content, fmt)
        _same_numbers(rows, expected, fmt)


# --- subtotals: grouping sets, never sums of cells --------------------------------------------

SUBTOTAL_CASES = [
    # cube, cut, drilldown, aggregates — non-additive measures on purpose
    (
        "unemployment",
        "time:2024",
        "territory:municipality|gender",
        "persons|registered_unemployed|avg_duration",
    ),
    ("unemployment", "", "time:quarter|territory", "persons|registered_unemployed|long_term_share"),
    ("social_assistance", "time:2023-2024", "benefit_type:benefit_type|time:year", "recipients|avg_payment"),
    ("pensions", "territory:LV00A", "territory|age_group", "pensioners|avg_pension|min_pension"),
]


def _independent(client: TestClient, cube: str, cut: str, levels: dict[str, list[str]], aggs: str) -> Any:
    """The same totals asked directly: a drilldown to exactly the kept levels (none: the summary)."""
    drill = "|".join(f"{dim}:{names[-1]}" for dim, names in levels.items())
    return ok(client, f"/cube/{cube}/aggregate?cut={cut}&drilldown={drill}&aggregates={aggs}")


@pytest.mark.parametrize("kind", ["rollup", "cube"])
@pytest.mark.parametrize(("cube", "cut", "drill", "aggs"), SUBTOTAL_CASES)
def test_subtotals_equal_independent_aggregates(
    client: TestClient, kind: str, cube: str, cut: str, drill: str, aggs: str
) -> None:
    url = f"/cube/{cube}/aggregate?cut={cut}&drilldown={drill}&aggregates={aggs}"
    body = ok(client, f"{url}&subtotals={kind}")
    AggregateResponse.model_validate(body)
    plain = ok(client, url)
    assert body["cells"] == plain["cells"] and body["summary"] == plain["summary"]
    depths = [len(v) for v in body["levels"].values()]
    expected_sets = sum(depths) - 1 if kind == "rollup" else math.prod(d + 1 for d in depths) - 2
    assert len(body["subtotals"]) == expected_sets > 0
    for sub in body["subtotals"]:
        direct = _independent(client, cube, cut, sub["levels"], aggs)
        assert sub["attributes"] == direct["attributes"]
        key = [a for a in sub["attributes"] if not a.endswith("_label")]
        assert _by(sub["cells"], *key) == _by(direct["cells"], *key), sub["levels"]


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_subtotals_equal_independent_queries_property(
    demo: tuple[Model, Engine], data: st.DataObject
) -> None:
    """Random drilldowns (1-2 dimensions, any depth), measures and subtotal kind, from rollups or
    from the facts: every subtotal set equals the aggregate drilled to exactly its levels."""
    model, engine = demo
    cube = data.draw(st.sampled_from(["unemployment", "social_assistance", "pensions"]))
    c = model.cubes[cube]
    aliases = data.draw(
        st.lists(st.sampled_from([d.alias for d in c.dimensions]), min_size=1, max_size=2, unique=True)
    )
    drills = []
    for alias in aliases:
        levels = model.dimensions[c.link(alias).dimension].hierarchy().levels
        drills.append((alias, data.draw(st.sampled_from(levels[:3]))))
    measures = tuple(
        data.draw(st.lists(st.sampled_from([m.name for m in c.measures]), min_size=1, max_size=3))
    )
    kind = data.draw(st.sampled_from(["rollup", "cube"]))
    service = CubeService(model, engine, use_rollups=data.draw(st.booleans()))
    drill_text = "|".join(f"{a}:{lv}" for a, lv in drills)
    cut = parse_cuts("time:2023-2024")
    result = service.aggregate(
        CubeQuery(cube, measures, cut, parse_drilldowns(drill_text), subtotals=kind), ANALYST
    )
    assume(result.subtotals)  # one drilldown at its first level has none
    alone = service.aggregate(CubeQuery(cube, measures, cut), ANALYST)
    assert result.summary == alone.summary
    for sub in result.subtotals:
        text = "|".join(f"{a}:{names[-1]}" for a, names in sub.levels.items())
        direct = service.aggregate(CubeQuery(cube, measures, cut, parse_drilldowns(text)), ANALYST)
        key = [a for a in sub.attributes if not a.endswith("_label")]
        assert _by(sub.rows.to_pylist(), *key) == _by(direct.cells.to_pylist(), *key), (
            drill_text,
            sub.levels,
        )


def test_subtotals_are_not_sums_of_cells(client: TestClient) -> None:
    """Distinct persons over a region are fewer than the sum over its municipalities (people move):
    a subtotal made by adding cells would be wrong, and this data shows it."""
    url = "/cube/unemployment/aggregate?drilldown=territory:municipality&aggregates=persons&subtotals=rollup"
    body = ok(client, url)
    (regions,) = body["subtotals"]
    summed: dict[str, int] = {}
    for c in body["cells"]:
        summed[c["territory.region"]] = summed.get(c["territory.region"], 0) + c["persons"]
    assert any(r["persons"] < summed[r["territory.region"]] for r in regions["cells"])
    assert body["summary"]["persons"] < sum(c["persons"] for c in body["cells"])


def test_subtotals_in_every_table_format(client: TestClient) -> None:
    """CSV, XLSX, Arrow and Parquet carry the subtotal sets and the grand total too, marked in a
    first `__subtotal` column, with the JSON's numbers."""
    url = "/cube/unemployment/aggregate?drilldown=territory:region|gender&aggregates=persons&subtotals=rollup"
    body = ok(client, url)
    want = [("", c["territory.region"], c["gender.gender"], c["persons"]) for c in body["cells"]]
    for sub in body["subtotals"]:
        want += [("subtotal", c.get("territory.region"), None, c["persons"]) for c in sub["cells"]]
    want.append(("total", None, None, body["summary"]["persons"]))
    for fmt in ("csv", "xlsx", "arrow", "arrows", "parquet"):
        r = client.get(f"{url}&format={fmt}")
        assert r.status_code == 200, (fmt, r.text[:200])
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(r.text)))
        else:
            rows = _xlsx_rows(r.content) if fmt == "xlsx" else _arrow_rows(r.content, fmt)
        got = [
            (
                row["__subtotal"] or "",
                row["territory.region"] or None,
                row["gender.gender"] or None,
                int(row["persons"]),
            )
            for row in rows
        ]
        assert got == want, fmt


def test_a_labelled_file_names_its_row_kinds_in_its_language(client: TestClient) -> None:
    """With `header=labels` (a file for people, as the pages download) the `__subtotal` column
    says starpsumma/kopā in Latvian; with column names it says subtotal/total in every language."""
    url = "/cube/unemployment/aggregate?drilldown=territory:region|gender&aggregates=persons&subtotals=rollup"
    for lang, header, want in (
        ("lv", "labels", ["starpsumma", "kopā"]),
        ("en", "labels", ["subtotal", "total"]),
        ("lv", "names", ["subtotal", "total"]),
    ):
        for fmt in ("csv", "xlsx"):
            r = client.get(f"{url}&format={fmt}&lang={lang}&header={header}")
            assert r.status_code == 200, r.text[:200]
            if fmt == "csv":
                head, *rows = list(csv.reader(io.StringIO(r.text)))
            else:
                head, *rows = [[v if v is not None else "" for v in row] for row in _xlsx_table(r.content)]
            assert head[0] == (want[0] if header == "labels" else "__subtotal"), (lang, header, fmt, head)
            assert [k for k in dict.fromkeys(row[0] for row in rows) if k] == want, (lang, header, fmt)


def test_subtotals_with_paging_and_errors(client: TestClient) -> None:
    url = "/cube/unemployment/aggregate?drilldown=territory:municipality|gender&aggregates=persons"
    whole = ok(client, f"{url}&subtotals=rollup")
    page = ok(client, f"{url}&subtotals=rollup&page=1&pagesize=5")
    assert page["cells"] == whole["cells"][5:10] and page["subtotals"] == whole["subtotals"]
    assert page["total_cell_count"] == whole["total_cell_count"]
    assert "subtotals" not in ok(client, url)
    err(client, f"{url}&subtotals=yes", 400, "bad_request")
    deep = "time:day|territory:municipality|age_group|education|gender|source_institution"
    body = err(client, f"/cube/unemployment/aggregate?drilldown={deep}&subtotals=cube", 400, "bad_query")
    assert "grouping sets" in body["message"]


# --- limits and the result cache ----------------------------------------------------------------


def test_aggregate_time_and_memory_limits(demo: tuple[Model, Engine], data_dir: Path) -> None:
    model, engine = demo
    url = "/cube/unemployment/aggregate?drilldown=time:day|territory:municipality|age_group"
    url += "&aggregates=persons&pagesize=10"
    slow = make_settings(data_dir, engine, query_timeout=0.001, cache_bytes=0)
    with analyst_client(create_app(slow, model, engine)) as c:
        body = err(c, url, 400, "query_timeout")
        assert "0.001 s" in body["message"] and body["hint"]
    small = make_settings(data_dir, engine, query_max_memory=2**20, cache_bytes=0)
    with analyst_client(create_app(small, model, engine)) as c:
        err(c, url, 400, "query_too_large")
        assert ok(c, "/cube/unemployment/aggregate?drilldown=gender&aggregates=new_registrations")["cells"]


def test_result_cache_lru_by_bytes() -> None:
    cache = ResultCache(800)
    assert cache.put("a", 1, 100) and cache.put("b", 2, 100)
    assert not cache.put("big", 3, 101)  # over an eighth of the budget: not kept
    assert cache.get("a") == 1  # a is now more recent than b
    for i in range(7):
        cache.put(i, i, 100)
    assert cache.size == 800 and len(cache) == 8
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get(0) == 0
    cache.put("c", 3, 100)  # evicts 1, the least recently used now
    assert cache.get(1) is None and cache.get(2) == 2
    assert (cache.hits, cache.misses) == (4, 2)
    off = ResultCache(0)
    assert not off.enabled and not off.put("a", 1, 1) and off.get("a") is None


def test_shared_engines_see_other_writers_in_the_data_version(data_dir: Path) -> None:
    """A ClickHouse server is written by other processes too: its data version reads system.parts."""
    db = fresh_database("ver")
    writer = make_engine("embedded", data_dir, db)
    reader = make_engine("connect", data_dir, db)
    try:
        writer.execute(f"CREATE TABLE `{db}`.t (x UInt8) ENGINE = MergeTree ORDER BY x")
        before, mine = data_version(reader), data_version(writer)
        writer.execute(f"INSERT INTO `{db}`.t VALUES (1)")
        assert data_version(reader) != before and data_version(writer) != mine
        assert data_version(reader) == data_version(reader)
    finally:
        writer.execute(f"DROP DATABASE IF EXISTS `{db}`")
        reader.close()


# --- cell, members -----------------------------------------------------------------------------


def test_cell_details(client: TestClient) -> None:
    body = ok(client, "/cube/unemployment/cell?cut=territory:LV00A|time:2024,2|gender:M;F&lang=en")
    CellResponse.model_validate(body)
    terr, time, gender = body["cuts"]
    assert terr["details"] == [
        {"territory.region": "LV00A", "territory.region_label": "Riga statistical region",
         "_key": "LV00A", "_label": "Riga statistical region"}
    ]  # fmt: skip
    assert [d["_label"] for d in time["details"]] == ["2024", "2024-Q2"]
    assert [[d["_label"] for d in p] for p in gender["details"]] == [["Male"], ["Female"]]
    rng = ok(client, "/cube/unemployment/cell?cut=time:2022-2023,4")["cuts"][0]["details"]
    assert rng["from"][0]["_label"] == "2022" and rng["to"][1]["_label"] == "2023-Q4"


def test_members_of_a_dimension(client: TestClient) -> None:
    body = ok(client, "/cube/unemployment/members/territory?depth=1&lang=en")
    MembersResponse.model_validate(body)
    assert (body["dimension"], body["hierarchy"], body["depth"]) == ("territory", "region", 1)
    regions = {m["territory.region"]: m["territory.region_label"] for m in body["data"]}
    assert len(regions) == 9  # 6 regions until 2023, 5 since 2024; Latgale and Zemgale are in both
    assert regions["LV00A"] == "Riga statistical region"
    now = ok(client, "/cube/unemployment/members/territory?level=region&as_of=now")["data"]
    assert {m["territory.region"] for m in now} == {"LV00A", "LV005", "LV009", "LV00B", "LV00C"}
    munis = ok(client, "/cube/unemployment/members/territory?cut=territory:LV00A&as_of=2024-06-30")["data"]
    assert all(list(m) == ["territory.region", "territory.region_label", "territory.municipality",
                           "territory.municipality_label"] for m in munis)  # fmt: skip
    assert {m["territory.region"] for m in munis} == {"LV00A"} and len(munis) > 5
    kinds = ok(client, "/cube/unemployment/members/territory?hierarchy=kind&depth=1&lang=en")["data"]
    assert {k["territory.kind_label"] for k in kinds} == {"state city", "municipality"}
    ages = ok(client, "/cube/unemployment/members/age_group?order=age_group.age_group:desc")["data"]
    assert ages[0]["age_group.age_group"] == "A75P"
    default = ok(client, "/cube/unemployment/members/age_group")["data"]
    assert [a["age_group.age_group"] for a in default][:2] == ["A00_14", "A15_24"]  # the order column
    page = ok(client, "/cube/unemployment/members/age_group?page=1&pagesize=3")["data"]
    assert page == default[3:6]


def test_time_members_come_from_the_facts(client: TestClient, service: CubeService) -> None:
    body = ok(client, "/cube/unemployment/members/time?depth=2")
    quarters = [(m["time.year"], m["time.quarter"]) for m in body["data"]]
    cells = service.aggregate(
        CubeQuery("unemployment", ("new_registrations",), (), parse_drilldowns("time:quarter")), ANALYST
    ).cells.to_pylist()
    assert quarters == [(c["time.year"], c["time.quarter"]) for c in cells]
    months = ok(client, "/cube/unemployment/members/time?hierarchy=ym&cut=time:2024&depth=2")["data"]
    assert [m["time.month_label"] for m in months] == [f"2024-{i:02d}" for i in range(1, 13)]


def test_members_errors(client: TestClient) -> None:
    err(client, "/cube/unemployment/members/nope", 404, "not_found")
    err(client, "/cube/unemployment/members/territory?level=nope", 404, "not_found")
    err(client, "/cube/unemployment/members/territory?depth=3", 400, "bad_query")
    err(client, "/cube/unemployment/members/territory?depth=0", 400, "bad_request")
    body = err(client, "/cube/unemployment/members/territory?cut=gender:M", 400, "bad_query")
    assert "gender" in body["message"]


# --- facts -------------------------------------------------------------------------------------


def test_facts_with_cuts_match_the_aggregate(client: TestClient, service: CubeService) -> None:
    cut = "territory:LV005|time:2024,1|benefit_type:social_assistance,gmi"
    rows = ok(client, f"/cube/social_assistance/facts?cut={cut}")
    expected = service.aggregate(
        CubeQuery("social_assistance", ("payments", "amount"), parse_cuts(cut)), ANALYST
    ).summary
    assert expected is not None and len(rows) == expected["payments"] > 0
    assert sum(r["amount"] for r in rows) == pytest.approx(float(expected["amount"]))
    assert all(r["benefit_type"] == "gmi" and r["payment_date"].startswith("2024-0") for r in rows)


def test_facts_never_show_persons(client: TestClient) -> None:
    rows = ok(client, "/cube/unemployment/facts?pagesize=5")
    assert len(rows) == 5
    assert list(rows[0])[:10] == ["__fact_key__", "snapshot_date", "municipality", "gender", "age_group",
                                  "education", "source", "registered", "new_registration",
                                  "duration_months"]  # fmt: skip
    assert all("." in k for k in list(rows[0])[10:]) and not any("person" in k for k in rows[0])
    assert all(isinstance(r["__fact_key__"], str) and r["__fact_key__"].isdigit() for r in rows)
    err(client, "/cube/unemployment/facts?fields=person", 400, "bad_query")
    err(client, "/cube/unemployment/facts?order=person", 400, "bad_query")
    text = client.get("/cube/unemployment/facts?pagesize=5&format=csv").text
    assert "person" not in text.splitlines()[0]


def test_households_are_never_shown_cut_or_grouped_by(client: TestClient) -> None:
    """The household is a pseudonymous identifier like the person: no fact row, no fact field,
    no order, no drilldown or cut on it, and the model lists it as no field."""
    rows = ok(client, "/cube/social_assistance/facts?pagesize=5")
    assert len(rows) == 5 and all("household" not in r and "person" not in r for r in rows)
    one = ok(client, f"/cube/social_assistance/fact/{rows[0]['__fact_key__']}")
    assert "household" not in one and "person" not in one and one["amount"] == rows[0]["amount"]
    for url in (
        "/cube/social_assistance/facts?fields=household",
        "/cube/social_assistance/facts?fields=amount,household",
        "/cube/social_assistance/facts?order=household",
        "/cube/social_assistance/aggregate?drilldown=household",
        "/cube/social_assistance/aggregate?cut=household:1",
    ):
        assert 400 <= client.get(url).status_code < 500, url
    header = client.get("/cube/social_assistance/facts?pagesize=5&format=csv").text.splitlines()[0]
    assert "amount" in header and "household" not in header and "person" not in header
    xlsx = client.get("/cube/social_assistance/facts?pagesize=5&format=xlsx").content
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(xlsx))
    first = sheet.get_sheet_by_index(0).to_python()[0]
    assert "amount" in first and "household" not in first
    model = ok(client, "/cube/social_assistance/model")
    assert {m["name"] for m in model["measures"]}.isdisjoint({"household", "person"})
    aggregates = {a["name"]: a for a in model["aggregates"]}
    assert aggregates["households"]["function"] == "count_distinct"
    assert aggregates["households"]["measure"] is None and aggregates["amount"]["measure"] == "amount"
    assert ok(client, "/cube/social_assistance/aggregate?aggregates=households")["summary"]["households"] > 0


def test_facts_fields_order_and_paging(client: TestClient) -> None:
    base = "/cube/pensions/facts?cut=time:2024,3&fields=payment_month,amount,benefit_type&order=amount:desc"
    rows = ok(client, base + "&pagesize=20")
    assert all(list(r) == ["__fact_key__", "payment_month", "amount", "benefit_type"] for r in rows)
    amounts = [r["amount"] for r in rows]
    assert amounts == sorted(amounts, reverse=True)
    page2 = ok(client, base + "&pagesize=10&page=1")
    assert page2 == rows[10:20]
    # Default order (date, then row id) is deterministic.
    assert ok(client, "/cube/pensions/facts?pagesize=30") == ok(client, "/cube/pensions/facts?pagesize=30")
    err(client, "/cube/pensions/facts?fields=nope", 400, "bad_query")


def test_csv_for_excel_starts_with_a_bom_when_asked(client: TestClient) -> None:
    """`bom=true`: the same CSV after a UTF-8 byte order mark (Excel then reads "reģions" as
    such); the other formats ignore it."""
    for url in (
        "/cube/unemployment/aggregate?drilldown=territory&header=labels&format=csv",
        "/cube/unemployment/facts?pagesize=5&format=csv",
        "/cube/unemployment/members/territory?depth=1&format=csv",
        "/indicator/NVA-001?drilldown=territory&header=labels&format=csv",
    ):
        plain, excel = client.get(url), client.get(url + "&bom=true")
        assert excel.status_code == 200 and excel.content == b"\xef\xbb\xbf" + plain.content, url
        assert not plain.content.startswith(b"\xef\xbb\xbf")
    head = client.get("/cube/unemployment/aggregate?drilldown=territory&header=labels&format=csv&bom=true")
    assert head.content.decode("utf-8-sig").startswith("Statistiskais reģions,")
    xlsx = "/cube/unemployment/aggregate?drilldown=territory&format=xlsx"
    assert client.get(xlsx + "&bom=true").content[:2] == b"PK"


def test_facts_csv_parses_back(client: TestClient) -> None:
    url = "/cube/occupational_accidents/facts?cut=time:2024&pagesize=50"
    rows = ok(client, url)
    parsed = list(csv.DictReader(io.StringIO(client.get(url + "&format=csv").text)))
    assert [r["__fact_key__"] for r in parsed] == [r["__fact_key__"] for r in rows]
    assert [int(r["days_lost"]) for r in parsed] == [r["days_lost"] for r in rows]


def test_facts_over_the_limit_are_cut_at_it_as_cubes_does(client: TestClient) -> None:
    """Unpaged facts past the record limit: the first `json_record_limit` rows (what CubesViewer
    shows as "limit hit"), said in a header; the same rows as the first page, in every format."""
    r = client.get("/cube/unemployment/facts")
    assert r.status_code == 200 and r.headers["x-labis-truncated"] == str(MAX_PAGESIZE)
    rows = r.json()
    assert len(rows) == MAX_PAGESIZE == ok(client, "/info")["json_record_limit"]
    assert rows == ok(client, f"/cube/unemployment/facts?page=0&pagesize={MAX_PAGESIZE}")
    exported = client.get("/cube/unemployment/facts?format=csv")
    assert exported.status_code == 200 and exported.headers["x-labis-truncated"] == str(MAX_PAGESIZE)
    assert [r["__fact_key__"] for r in csv.DictReader(io.StringIO(exported.text))] == [
        r["__fact_key__"] for r in rows
    ]
    small = client.get("/cube/unemployment/facts?cut=time:2024,1,1")  # under the limit: all, no header
    assert small.status_code == 200 and "x-labis-truncated" not in small.headers
    assert 0 < len(small.json()) < MAX_PAGESIZE


def test_fact_by_key(client: TestClient) -> None:
    rows = ok(client, "/cube/disability/facts?pagesize=3&cut=time:2024")
    for row in rows:
        assert ok(client, f"/cube/disability/fact/{row['__fact_key__']}") == row
    err(client, "/cube/disability/fact/123", 404, "not_found")
    err(client, "/cube/disability/fact/not-a-key", 404, "not_found")
    err(client, f"/cube/disability/fact/{2**64}", 404, "not_found")


def test_fact_keys_are_keyed(demo: tuple[Model, Engine], data_dir: Path, client: TestClient) -> None:
    """Another secret gives other ids: the id cannot be recomputed without the key."""
    model, engine = demo
    app = create_app(make_settings(data_dir, engine, fact_key_secret="other"), model, engine)
    url = "/cube/pensions/facts?cut=time:2024,1,1&order=amount"
    with analyst_client(app) as other:
        a, b = ok(client, url), ok(other, url)
    assert {r["__fact_key__"] for r in a}.isdisjoint({r["__fact_key__"] for r in b})

    def rest(rows: list[dict[str, Any]]) -> list[str]:
        return sorted(repr(sorted((k, v) for k, v in r.items() if k != "__fact_key__")) for r in rows)

    assert rest(a) == rest(b) and len(a) > 3


def test_time_limit_is_a_user_error(demo: tuple[Model, Engine]) -> None:
    _, engine = demo
    with pytest.raises(QueryTimeoutError) as info:
        run_limited(
            engine, "SELECT sum(cityHash64(number)) AS s FROM numbers(100000000000)", {}, 0.1, "the test"
        )
    assert info.value.status == 400 and "0.1 s" in info.value.message
    assert run_limited(engine, "SELECT 1 AS x", {}, 5, "x").to_pylist() == [{"x": 1}]


# --- report ----------------------------------------------------------------------------------


def test_report_runs_several_queries(client: TestClient) -> None:
    request = {
        "cell": [{"type": "point", "dimension": "time", "path": [2024]}],
        "queries": {
            "by_gender": {"query": "aggregate", "drilldown": ["gender"], "aggregates": ["new_registrations"]},
            "genders": {"query": "members", "dimension": "gender"},
            "some": {"query": "facts", "pagesize": 2, "order": [["duration_months", "desc"]]},
            "details": {"query": "cell"},
        },
    }
    r = client.post("/cube/unemployment/report?lang=en", json=request)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"by_gender", "genders", "some", "details"}
    direct = ok(
        client,
        "/cube/unemployment/aggregate?cut=time:2024&drilldown=gender&aggregates=new_registrations&lang=en",
    )
    assert body["by_gender"] == direct
    assert {m["gender.gender_label"] for m in body["genders"]["data"]} == {"Male", "Female"}
    assert len(body["some"]) == 2 and body["some"][0]["duration_months"] >= body["some"][1]["duration_months"]
    assert body["details"]["cuts"][0]["details"][0]["_key"] == 2024
    import json

    got = client.get("/cube/unemployment/report", params={"report": json.dumps(request), "lang": "en"})
    assert got.status_code == 200 and got.json() == body


def test_report_errors(client: TestClient) -> None:
    err(client, "/cube/unemployment/report", 400, "bad_request", method="POST", json={"queries": {"a": {}}})
    err(client, "/cube/unemployment/report", 400, "bad_request", method="POST", content=b"{not json")
    body = err(
        client,
        "/cube/unemployment/report",
        400,
        "bad_query",
        method="POST",
        json={"queries": {"a": {"query": "aggregate", "drilldwn": "gender"}}},
    )
    assert "drilldwn" in body["message"]
    err(client, "/cube/unemployment/report?report=[", 400, "bad_query")
    err(client, "/cube/unemployment/report", 400, "bad_request")
    err(
        client,
        "/cube/unemployment/report",
        404,
        "not_found",
        method="POST",
        json={"queries": {"a": {"query": "aggregate", "drilldown": "nope"}}},
    )


# --- one error shape everywhere (datasette's test_error_shape idea) -----------------------------

GOOD_PATH = {"cube": "unemployment", "dimension": "territory", "fact_id": "0", "code": "NVA-001"}
BAD_PATH = {"cube": "nope", "dimension": "nope", "fact_id": "nope", "code": "NOPE"}
FREE_TEXT = {("/indicators", "q"), ("/indicators", "source")}
"""Search words: any text is a valid query (no match is an empty list, not an error)."""


def _bad_value(schema: dict[str, Any]) -> str:
    """A value the parameter cannot take: wrong type, outside an enum, or an unparsable string."""
    options = schema.get("anyOf", [schema])
    kinds = {o.get("type") for o in options} - {"null"}
    if "integer" in kinds:
        return "x"
    if "boolean" in kinds:
        return "maybe"
    if any("enum" in o for o in options):
        return "zz"
    return "\\"  # a dangling backslash: no cut, name, field, date or JSON is that


def api_routes(routes: list[Any]) -> Iterator[Any]:
    """APIRoutes of an app, through included routers (FastAPI keeps those as one entry each)."""
    from fastapi.routing import APIRoute

    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        elif hasattr(r, "original_router"):
            yield from api_routes(r.original_router.routes)


def test_every_route_answers_bad_input_with_the_one_error_shape(
    demo: tuple[Model, Engine], data_dir: Path
) -> None:
    from labis_olap.errors import EngineError

    model, engine = demo
    app = create_app(make_settings(data_dir, engine), model, engine)

    def boom() -> None:
        raise RuntimeError("secret internals")

    def engine_fails() -> None:
        raise EngineError("Code: 62. Syntax error in SELECT secret_column FROM facts_x")

    app.add_api_route("/boom", boom)
    app.add_api_route("/engine-fails", engine_fails)
    spec = app.openapi()
    checked = 0
    routes = [
        r
        for r in api_routes(app.routes)
        if r.include_in_schema and r.path not in ("/boom", "/engine-fails")  # not the HTML pages
    ]
    # XMLA speaks SOAP: its every error is a Fault (tests/test_xmla.py), not the JSON shape
    soap = [r for r in routes if r.path == "/xmla"]
    assert soap, "the XMLA route is in the schema"
    assert {(r.path, m.lower()) for r in routes for m in r.methods} == {
        (path, m)
        for path, ops in spec["paths"].items()
        for m in ops
        if path not in ("/boom", "/engine-fails")
    }
    with analyst_client(app, raise_server_exceptions=False) as c:
        for route in routes:
            if route in soap:
                continue
            for method in route.methods:
                op = spec["paths"][route.path][method.lower()]
                params = op.get("parameters", [])
                path_names = [p["name"] for p in params if p["in"] == "path"]
                body = {"queries": {}} if "requestBody" in op else None
                # Every path parameter wrong in turn (the others right): 404.
                for wrong in path_names:
                    values = {n: (BAD_PATH if n == wrong else GOOD_PATH)[n] for n in path_names}
                    url = route.path.format(**values)
                    err(c, url, 404, "not_found", method=method, json=body)
                    checked += 1
                # Every query parameter wrong in turn, on a good path: 400 or 404.
                good = route.path.format(**{n: GOOD_PATH[n] for n in path_names})
                if route.path.endswith("/fact/{fact_id}"):
                    continue  # the good path is a missing fact: 404 whatever the query says
                for p in params:
                    if p["in"] != "query" or (route.path, p["name"]) in FREE_TEXT:
                        continue
                    r = c.request(method, good, params={p["name"]: _bad_value(p["schema"])}, json=body)
                    assert r.status_code in (400, 404), (method, good, p["name"], r.status_code, r.text)
                    assert set(r.json()) == {"error", "message", "hint"}, r.text
                    checked += 1
                if body is not None:
                    headers = {"content-type": "application/json"}
                    err(c, good, 400, "bad_request", method=method, content=b"{", headers=headers)
        assert checked >= 50
        err(c, "/no/such/route", 404, "not_found")
        err(c, "/cubes", 405, "method_not_allowed", method="DELETE")
        r = c.get("/boom")
        assert r.status_code == 500
        assert r.json() == {"error": "internal_error", "message": "internal error (logged)", "hint": None}
        r = c.get("/engine-fails")
        assert r.status_code == 500 and r.json()["error"] == "engine_error"
        assert "SELECT" not in r.text and "secret" not in r.text


# --- last: this test adds facts to the module's data ---------------------------------------------


def test_cache_answers_until_the_data_changes(demo: tuple[Model, Engine], data_dir: Path) -> None:
    import pyarrow as pa

    from labis_olap.physical.layout import CubeLayout

    model, engine = demo
    app = create_app(make_settings(data_dir, engine), model, engine)
    url = "/cube/disability/aggregate?drilldown=gender&cut=time:2024&explain=1"
    with analyst_client(app) as c:
        first, again = ok(c, url), ok(c, url)
        assert (first["explain"]["cache"], again["explain"]["cache"]) == ("miss", "hit")
        assert {k: v for k, v in again.items() if k != "explain"} == {
            k: v for k, v in first.items() if k != "explain"
        }
        assert ok(c, url.replace("&explain=1", "")) == {k: v for k, v in first.items() if k != "explain"}
        layout = CubeLayout(model, model.cubes["disability"], engine.database)
        table = f"`{engine.database}`.`{layout.facts_table}`"
        row = engine.query(f"SELECT * FROM {table} WHERE toYear(decision_date) = 2024 LIMIT 1")
        engine.insert_arrow(layout.facts_table, pa.Table.from_pylist(row.to_pylist() * 3, schema=row.schema))
        after = ok(c, url)
        assert after["explain"]["cache"] == "miss"
        assert after["summary"] != first["summary"]
        assert after["summary"] == jsonable(
            CubeService(model, engine)
            .aggregate(CubeQuery("disability", (), parse_cuts("time:2024")), ANALYST)
            .summary
        )
    off = make_settings(data_dir, engine, cache_bytes=0)
    with analyst_client(create_app(off, model, engine)) as c:
        assert ok(c, url)["explain"]["cache"] == ok(c, url)["explain"]["cache"] == "off"
