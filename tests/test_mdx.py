"""MDX through the cube service, on real chDB: the corpus of client statements against
independent SQL over the fact table, time functions against hand-computed sums, calculated
members and solve order, push-down (how many service calls), roles, and the HTTP and CLI front
ends with their errors.

The mini model (tests/fixtures/mini_model) with tests/fixtures/mini_facts.csv; the corpus is
tests/cases/mdx_corpus.yaml (what its SQL reads is described there).
"""

from __future__ import annotations

import decimal
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import mini_database
from fastapi.testclient import TestClient
from ruamel.yaml import YAML

from labis_olap.api import create_app
from labis_olap.engine.base import Engine
from labis_olap.errors import LimitError, QueryError
from labis_olap.mdx import MdxResult, execute
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import CubeLayout
from labis_olap.service import CubeService, Principal, ServiceLimits
from labis_olap.settings import Settings

HERE = Path(__file__).parent
MINI = HERE / "fixtures" / "mini_model"
CORPUS = YAML(typ="safe").load((HERE / "cases" / "mdx_corpus.yaml").read_text(encoding="utf-8"))["cases"]
FACTS = """
SELECT paid_on AS d, toString(toYear(paid_on)) AS y, toString(toQuarter(paid_on)) AS q,
       toString(toMonth(paid_on)) AS mo,
       multiIf(municipality = 'M1', 'R1', municipality = 'M2' AND paid_on < '2024-01-01', 'R1',
               municipality IN ('M2', 'M3'), 'R2', '') AS region,
       multiIf(municipality = 'M3' AND paid_on >= '2025-07-01', 'M2',
               municipality IN ('M1', 'M2', 'M3'), municipality, '') AS muni,
       gender, benefit, if(benefit = 'child', 'family', 'assist') AS category, person, amount, open_cases
FROM {table}
"""
ROLES = {
    "north": 'role: north\ncubes: [{cube: benefits, members: [{cut: "territory:R1"}]}]\n',
    "analyst": 'role: analyst\ncubes: [{cube: "*"}]\n',
}
ANALYST = Principal("analyst", frozenset({"analyst"}), ())
NORTH = Principal("north", frozenset({"north"}), ())


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Model:
    root = tmp_path_factory.mktemp("mdx_model") / "model"
    shutil.copytree(MINI, root)
    (root / "roles").mkdir()
    for name, text in ROLES.items():
        (root / "roles" / f"{name}.yaml").write_text(textwrap.dedent(text))
    return read_model(root)


@pytest.fixture(scope="module")
def engine(data_dir: Path, model: Model) -> Iterator[Engine]:
    with mini_database(data_dir, model, "mdx") as eng:
        yield eng


@pytest.fixture(scope="module")
def service(model: Model, engine: Engine) -> CubeService:
    return CubeService(model, engine)


def sql(engine: Engine, model: Model, text: str) -> dict[tuple[str, str], Any]:
    table = CubeLayout(model, model.cubes["benefits"], engine.database).facts_table
    facts = FACTS.format(table=f"`{engine.database}`.`{table}`")
    rows = engine.query(f"WITH f AS ({facts}) SELECT * FROM ({text})").to_pylist()
    return {(r["k"], r["c"]): r["v"] for r in rows}


def key(m: Any) -> str:
    if m.calc is not None:
        return f"calc:{m.calc}"
    if m.is_measure:
        return str(m.path[0])
    return "/".join(str(p) for p in m.path) or "*"


def cells(result: MdxResult) -> dict[tuple[str, str], Any]:
    """The cells by (key of the row tuples, key of the column tuple)."""
    columns = result.axes[0].tuples if result.axes else [()]
    _, rows = result.grid()
    out: dict[tuple[str, str], Any] = {}
    row_axes = result.axes[1:]
    import itertools

    combos = list(itertools.product(*[ax.tuples for ax in row_axes])) if row_axes else [()]
    for combo, row in zip(combos, rows, strict=True):
        k = "|".join(key(m) for tup in combo for m in tup)
        for tup, v in zip(columns, row[result.heads :], strict=True):
            out[(k, "|".join(key(m) for m in tup))] = v
    return out


def same(actual: Any, expected: Any) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    return float(actual) == pytest.approx(float(expected), rel=1e-9, abs=1e-9)


def test_the_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 40
    assert len({c["name"] for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_corpus_equals_sql(case: dict[str, Any], service: CubeService, engine: Engine, model: Model) -> None:
    result = execute(service, ANALYST, case["mdx"])
    got = cells(result)
    expected = sql(engine, model, case["sql"])
    assert any(v is not None for v in got.values()), "every cell is empty"
    problems = [
        f"{k}: {v!r}, expected {expected.get(k)!r}" for k, v in got.items() if not same(v, expected.get(k))
    ]
    missing = [k for k, v in expected.items() if v is not None and k not in got]
    assert not problems, problems
    assert not missing, f"SQL cells the statement does not show: {missing}"
    if "rows" in case:
        shown = result.axes[1].tuples if len(result.axes) > 1 else result.axes[0].tuples
        assert len(shown) == case["rows"]


def grid(service: CubeService, text: str, **kw: Any) -> dict[str, list[Any]]:
    result = execute(service, ANALYST, text, **kw)
    _, rows = result.grid()
    return {" / ".join(str(x) for x in row[: result.heads]): row[result.heads :] for row in rows}


# --- time on a year with missing months -----------------------------------------------------
# 2024 in the facts: Jan 150, Feb 50, Mar 195, Apr 100, (no May), Jun 180, Jul 40, (no Aug),
# Sep 55, Oct 65, (no Nov), Dec 140.


def test_time_functions_on_a_year_with_missing_months(service: CubeService) -> None:
    g = grid(
        service,
        """WITH MEMBER [Measures].[ytd] AS Aggregate(YTD(), [Measures].[amount])
                MEMBER [Measures].[prev] AS ([Measures].[amount], [time].CurrentMember.PrevMember)
                MEMBER [Measures].[qtd] AS Sum(QTD(), [Measures].[amount])
                MEMBER [Measures].[last3] AS Sum(LastPeriods(3), [Measures].[amount])
           SELECT {[Measures].[amount], [Measures].[ytd], [Measures].[prev], [Measures].[qtd],
                   [Measures].[last3]} ON 0,
                  {[time].[2024].[2].[5], [time].[2024].[2].[6], [time].[2024].[3].[8],
                   [time].[2024].[4].[12]} ON 1
           FROM [benefits]""",
    )
    f = decimal.Decimal
    assert g["2024-05"] == [None, f(495), f(100), f(100), f(295)]
    assert g["2024-06"] == [f(180), f(675), None, f(280), f(280)]
    assert g["2024-08"] == [None, f(715), f(40), f(40), f(220)]
    assert g["2024-12"] == [f(140), f(975), None, f(205), f(205)]


def test_parallel_period_and_opening_closing(service: CubeService) -> None:
    g = grid(
        service,
        """WITH MEMBER [Measures].[ly] AS ([Measures].[amount], ParallelPeriod([time].[ymd].[year], 1))
                MEMBER [Measures].[pq] AS ([Measures].[amount], ParallelPeriod([time].[ymd].[quarter], 1))
           SELECT {[Measures].[amount], [Measures].[ly], [Measures].[pq]} ON 0,
                  {[time].[2025].[1].[3], [time].[2024].[2].[5]} ON 1 FROM [benefits]""",
    )
    f = decimal.Decimal
    # 2025-03: 70 + 95; 2024-03: 150 + 45; 2024-12: 140. 2024-05: none; 2023-05: 60; 2024-02: 50.
    assert g["2025-03"] == [f(165), f(195), f(140)]
    assert g["2024-05"] == [None, f(60), f(50)]


def test_stock_keeps_its_period_end_and_distinct_counts_are_unions(service: CubeService) -> None:
    g = grid(
        service,
        """WITH MEMBER [time].[y23_24] AS Aggregate({[time].[2023], [time].[2024]})
                MEMBER [Measures].[summed] AS Sum({[time].[2023], [time].[2024]}, [Measures].[recipients])
           SELECT {[Measures].[recipients], [Measures].[open_cases], [Measures].[summed]} ON 0,
                  {[time].[2023], [time].[2024], [time].[y23_24]} ON 1 FROM [benefits]""",
    )
    recipients_23, recipients_24, union = g["2023"][0], g["2024"][0], g["y23_24"][0]
    assert union < recipients_23 + recipients_24  # people paid in both years counted once
    assert g["y23_24"][1] == g["2024"][1]  # the stock of the later year's last date
    assert g["y23_24"][2] == recipients_23 + recipients_24  # Sum() adds, as asked


def test_calculated_members_value_format_and_solve_order(service: CubeService) -> None:
    text = """WITH MEMBER [Measures].[share] AS [Measures].[gmi_amount] / [Measures].[amount],
                    FORMAT_STRING = '0.0%', SOLVE_ORDER = {a}
                  MEMBER [gender].[total] AS [gender].[F] + [gender].[M], SOLVE_ORDER = {b}
              SELECT {{[Measures].[share]}} ON 0, {{[gender].[F], [gender].[M], [gender].[total]}} ON 1
              FROM [benefits]"""
    ratio_of_sums = execute(service, ANALYST, text.format(a=2, b=1))
    sum_of_ratios = execute(service, ANALYST, text.format(a=1, b=2))
    parts = grid(
        service,
        "SELECT {[Measures].[gmi_amount], [Measures].[amount]} ON 0, {[gender].[F], [gender].[M]} ON 1 "
        "FROM [benefits]",
    )
    (gf, af), (gm, am) = parts["Sieviete"], parts["Vīrietis"]
    f_share, _, total = (c.value for c in ratio_of_sums.cells)
    assert float(f_share) == pytest.approx(float(gf / af))
    assert float(total) == pytest.approx(float((gf + gm) / (af + am)))
    assert float(sum_of_ratios.cells[2].value) == pytest.approx(float(gf / af + gm / am))
    assert ratio_of_sums.cells[0].formatted == f"{float(f_share) * 100:.1f}%"
    assert sum_of_ratios.cells[2].formatted.endswith("%")  # the format of the decisive member
    again = execute(service, ANALYST, text.format(a=1, b=1))  # a tie: the one written first wins
    assert [c.value for c in again.cells] == [c.value for c in ratio_of_sums.cells]


# --- push-down --------------------------------------------------------------------------------


def test_a_drilled_hierarchy_is_one_aggregate_per_grain(service: CubeService) -> None:
    """Regions and the municipalities of one (a rollup query), and the All member: two calls;
    the same answer as one query per grain, the simplest plan."""
    text = """SELECT {[Measures].[amount], [Measures].[recipients]} ON 0,
        NON EMPTY Hierarchize(DrilldownMember({DrilldownLevel({[territory].[region].[All]})},
            {[territory].[region].[region].&[R2]})) ON 1 FROM [benefits] WHERE [time].[2024]"""
    merged = execute(service, ANALYST, text)
    plain = execute(service, ANALYST, text, merge=False)
    assert merged.stats.aggregates == 2 and plain.stats.aggregates == 3
    assert [c.value for c in merged.cells] == [c.value for c in plain.cells]
    (rollup,) = [q for q in merged.stats.queries if any(d.dimension == "territory" for d in q.drilldowns)]
    assert rollup.subtotals == "rollup"


def test_limits_of_the_server_apply(model: Model, engine: Engine) -> None:
    small = CubeService(model, engine, limits=ServiceLimits(max_rows=2))
    with pytest.raises(QueryError, match="more than"):  # the members of a level, refused as REST refuses
        execute(small, ANALYST, "SELECT [territory].[region].[municipality].Members ON 0 FROM [benefits]")
    with pytest.raises(LimitError, match="cells"):  # 3 × 1,096 days: more than 100 × max_rows cells
        execute(
            small,
            ANALYST,
            "SELECT {[Measures].[amount], [Measures].[payments], [Measures].[recipients]} ON 0, "
            "{[time].[2023].[1].[1].[1]:[time].[2025].[4].[12].[31]} ON 1 FROM [benefits]",
        )


# --- names and errors -------------------------------------------------------------------------


def test_unique_names_read_back(service: CubeService) -> None:
    result = execute(
        service, ANALYST, "SELECT [territory].[region].[municipality].Members ON 0 FROM [benefits]"
    )
    names = [m["unique_name"] for t in result.as_json()["axes"][0]["tuples"] for m in t["members"]]
    assert "[territory].[region].[municipality].&[R2]&[M3]" in names
    again = execute(service, ANALYST, f"SELECT {{{', '.join(names)}}} ON 0 FROM [benefits]")
    assert [c.value for c in again.cells] == [c.value for c in result.cells]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("SELECT {[Measures].[amout]} ON 0 FROM [benefits]", ["amout", "did you mean 'amount'"]),
        ("SELECT {[teritory].[R1]} ON 0 FROM [benefits]", ["teritory", "did you mean 'territory'"]),
        ("SELECT {[territory].[Alfaa]} ON 0 FROM [benefits]", ["Alfaa", "did you mean 'Alfa'"]),
        ("SELECT {[Measures].[amount]} ON 0 FROM [benefit]", ["benefit", "did you mean 'benefits'"]),
        ("SELECT Hierarchise({[Measures].[amount]}) ON 0 FROM [benefits]", ["Hierarchise", "Hierarchize"]),
        ("SELECT {[territory].[region].[region].&[R7]} ON 0 FROM [benefits]", ["R7", "level 'region'"]),
    ],
)
def test_unknown_names_name_themselves_with_a_did_you_mean(
    service: CubeService, text: str, words: list[str]
) -> None:
    with pytest.raises(QueryError) as info:
        execute(service, ANALYST, text)
    shown = str(info.value)
    assert info.value.status == 400
    for w in words:
        assert w in shown


# --- HTTP and the command line ------------------------------------------------------------------


@pytest.fixture
def client(model: Model, engine: Engine, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from labis_olap.api import deps

    who = [ANALYST]
    monkeypatch.setattr(deps, "principal_of", lambda scope: who[0])
    settings = Settings(model_dir=MINI, data_dir=data_dir, database=engine.database)
    with TestClient(create_app(settings, model, engine), raise_server_exceptions=False) as c:
        c.who = who  # type: ignore[attr-defined]
        yield c


STATEMENT = "SELECT {[Measures].[amount]} ON 0, [territory].[region].[region].Members ON 1 FROM [benefits]"


def test_post_mdx_answers_a_cell_set(client: Any) -> None:
    as_text = client.post("/mdx", content=STATEMENT, headers={"content-type": "text/plain"})
    as_json = client.post("/mdx", json={"query": STATEMENT, "lang": "en"})
    assert as_text.status_code == as_json.status_code == 200
    body = as_json.json()
    rows = body["axes"][1]["tuples"]
    assert [t["members"][0]["caption"] for t in rows] == ["North", "South"]
    assert rows[0]["members"][0]["unique_name"] == "[territory].[region].[region].&[R1]"
    assert rows[0]["members"][0]["parent_unique_name"] == "[territory].[region].[All]"
    assert [c["formatted_value"] for c in body["cells"]] == [
        "1483",
        "1470",
    ]  # no decimals in the model: general
    assert [c["value"] for c in body["cells"]] == [c["value"] for c in as_text.json()["cells"]]
    csv = client.post("/mdx?format=csv", content=STATEMENT).text.splitlines()
    assert csv[0].endswith("amount") and csv[1].startswith("Ziemeļi,1483")
    xlsx = client.post("/mdx?format=xlsx", content=STATEMENT)
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")


def test_post_mdx_errors(client: Any) -> None:
    bad = client.post("/mdx", content="SELECT {[a]} ON 0\nFORM [benefits]")
    assert bad.status_code == 400
    err = bad.json()
    assert err["error"] == "mdx_syntax_error" and "mdx:2:1" in err["message"] and "^" in err["message"]
    assert "FROM" in err["hint"]
    unknown = client.post("/mdx", json={"query": "SELECT {[Measures].[amout]} ON 0 FROM [benefits]"})
    assert unknown.status_code == 400 and "amount" in unknown.json()["hint"]
    assert client.post("/mdx", content=b"\xff\xfe", headers={"content-type": "text/plain"}).status_code == 400
    assert client.post("/mdx", json={"q": 1}).status_code == 400


def test_a_role_restricted_to_one_region_sees_only_it(client: Any) -> None:
    client.who[0] = NORTH
    body = client.post("/mdx", content=STATEMENT.replace("ON 1", "ON 1, {[territory].[All]} ON 2")).json()
    regions = [t["members"][0]["caption"] for t in body["axes"][1]["tuples"]]
    assert regions == ["Ziemeļi"]
    client.who[0] = ANALYST
    everything = client.post("/mdx", content=STATEMENT).json()
    assert body["cells"][0]["value"] == everything["cells"][0]["value"]  # R1 itself
    client.who[0] = NORTH
    hidden = client.post("/mdx", content="SELECT {[territory].&[R2]} ON 0 FROM [benefits]")
    assert hidden.status_code == 400 and "R2" in hidden.json()["message"]


def test_labis_mdx_prints_the_grid(model: Model, engine: Engine, data_dir: Path) -> None:
    from typer.testing import CliRunner

    from labis_olap.cli import app

    runner = CliRunner()
    out = runner.invoke(
        app,
        ["mdx", STATEMENT, "--model", str(MINI), "--data-dir", str(data_dir)],
        env={"LABIS_DATABASE": engine.database, "COLUMNS": "200"},
    )
    assert out.exit_code == 0, out.output
    assert "Ziemeļi" in out.output and "1,483" in out.output
    bad = runner.invoke(app, ["mdx", "SELECT FROM", "--model", str(MINI), "--data-dir", str(data_dir)])
    assert bad.exit_code == 1 and "^" in bad.output


# --- hypothesis: MDX equals REST ---------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

MUNICIPALITIES = ["&[R1]&[M1]", "&[R1]&[M2]", "&[R2]&[M2]", "&[R2]&[M3]"]
BENEFITS = ["housing", "gmi", "child"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.sampled_from(MUNICIPALITIES), min_size=1, max_size=4, unique=True),
    st.lists(st.sampled_from(BENEFITS), min_size=1, max_size=3, unique=True),
    st.sampled_from(["2023", "2024", "2025"]),
    st.sampled_from(["amount", "recipients", "payments", "open_cases"]),
)
def test_random_member_sets_through_mdx_equal_rest_aggregate(
    client: Any, munis: list[str], benefits: list[str], year: str, measure: str
) -> None:
    members = ", ".join(f"[territory].[region].[municipality].{m}" for m in munis)
    slicer = ", ".join(f"[benefit_type].[benefit_type].&[{b}]" for b in benefits)
    mdx = client.post(
        "/mdx",
        content=f"SELECT {{[Measures].[{measure}]}} ON 0, {{{members}}} ON 1 FROM [benefits] "
        f"WHERE {{{slicer}}} * {{[time].[{year}]}}",
    ).json()
    paths = [m.replace("&[", "").replace("]", ",").rstrip(",") for m in munis]
    cut = (
        f"territory:{';'.join(paths)}|benefit_type:"
        + ";".join(f"{'family' if b == 'child' else 'assist'},{b}" for b in benefits)
        + f"|time:{year}"
    )
    rest = client.get(
        f"/cube/benefits/aggregate?drilldown=territory:municipality&cut={cut}&aggregates={measure}"
    ).json()
    by_path = {(c["territory.region"], c["territory.municipality"]): c[measure] for c in rest["cells"]}
    for t, cell in zip(mdx["axes"][1]["tuples"], mdx["cells"], strict=True):
        name = t["members"][0]["unique_name"]
        region, muni = name.split("&[")[1].rstrip("]"), name.split("&[")[2].rstrip("]")
        assert cell["value"] == by_path.get((region, muni)), (name, cut)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.sampled_from(MUNICIPALITIES), min_size=1, max_size=4, unique=True),
    st.sampled_from(["2023", "2024", "2025"]),
    st.sampled_from(["amount", "recipients", "payments", "open_cases"]),
    st.sampled_from(["R1", "R2"]),
)
def test_visual_totals_and_drilled_members_equal_rest_aggregate(
    client: Any, munis: list[str], year: str, measure: str, region: str
) -> None:
    """VisualTotals' All row is the REST answer for the union of the municipalities shown (a
    distinct count and a stock included); a region drilled open by DrilldownMember (and closed
    again by ToggleDrillState) has the REST answer's municipality cells under it."""
    members = ", ".join(f"[territory].[region].[municipality].{m}" for m in munis)
    body = client.post(
        "/mdx",
        content=f"SELECT {{[Measures].[{measure}]}} ON 0, "
        f"VisualTotals({{[territory].[region].[All], {members}}}) ON 1 FROM [benefits] WHERE [time].[{year}]",
    ).json()
    paths = [m.replace("&[", "").replace("]", ",").rstrip(",") for m in munis]
    rest = client.get(
        f"/cube/benefits/aggregate?drilldown=territory:municipality&cut=territory:{';'.join(paths)}|time:{year}"
        f"&aggregates={measure}"
    ).json()
    # REST's summary over no facts is its zero; MDX's cell over no facts is empty.
    expected = rest["summary"][measure] if rest["cells"] else None
    assert body["cells"][0]["value"] == expected, (munis, year)

    drilled = (
        f"Hierarchize(DrilldownMember({{[territory].[region].[region].Members}}, "
        f"{{[territory].[region].[region].&[{region}]}}))"
    )
    opened = client.post(
        "/mdx",
        content=f"SELECT {{[Measures].[{measure}]}} ON 0, {drilled} ON 1 "
        f"FROM [benefits] WHERE [time].[{year}]",
    ).json()
    rest = client.get(
        f"/cube/benefits/aggregate?drilldown=territory:municipality&cut=territory:{region}|time:{year}"
        f"&aggregates={measure}"
    ).json()
    by_muni = {c["territory.municipality"]: c[measure] for c in rest["cells"]}
    shown = {
        t["members"][0]["unique_name"].split("&[")[-1].rstrip("]"): c["value"]
        for t, c in zip(opened["axes"][1]["tuples"], opened["cells"], strict=True)
        if t["members"][0]["level_number"] == 2 and c["value"] is not None
    }
    assert shown == {k: v for k, v in by_muni.items() if v is not None}, (region, year)
    closed = client.post(
        "/mdx",
        content=f"SELECT {{[Measures].[{measure}]}} ON 0, ToggleDrillState({drilled}, "
        f"{{[territory].[region].[region].&[{region}]}}) ON 1 FROM [benefits] WHERE [time].[{year}]",
    ).json()
    assert all(t["members"][0]["level_number"] == 1 for t in closed["axes"][1]["tuples"])


@pytest.mark.parametrize(
    ("flag", "hierarchical"), [("BASC", False), ("BDESC", False), ("ASC", True), ("DESC", True)]
)
def test_order_breaks_the_hierarchy_only_when_asked(
    service: CubeService, flag: str, hierarchical: bool
) -> None:
    """BASC/BDESC sort every tuple by value; ASC/DESC sort siblings under their parents, the
    parents placed by their own values, so a municipality stays under its region."""
    result = execute(
        service,
        ANALYST,
        "SELECT {[Measures].[payments]} ON 0, Order({[territory].[region].[region].Members, "
        f"[territory].[region].[municipality].Members}}, [Measures].[payments], {flag}) ON 1 FROM [benefits]",
    )
    rows = [(t[0], c.value) for t, c in zip(result.axes[1].tuples, result.cells, strict=True)]
    if not hierarchical:
        values = [v for _, v in rows]
        assert values == sorted(values, reverse=flag == "BDESC")
        return
    for i, (m, _) in enumerate(rows):  # every municipality right after its region or a sibling
        if m.depth == 2:
            assert rows[i - 1][0].path[:1] == m.path[:1], [(x.path, v) for x, v in rows]
    regions = [v for m, v in rows if m.depth == 1]
    assert regions == sorted(regions, reverse=flag == "DESC")
