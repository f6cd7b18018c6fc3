"""Who may see what: roles declared in the model, applied by the cube service to every front end.

The mini model (tests/fixtures/mini_model) with a `roles/` folder written here, its facts in
real embedded chDB. Every expected number is an independent SQL GROUP BY over the facts table
(a category is its benefit types: housing and gmi are `assist`, child is `family`). The rollup
policies follow Mondrian's: with GMI hidden, `partial` totals add up only what is visible,
`hidden` empties any total with GMI below it, `full` keeps true totals.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import mini_database
from fastapi.testclient import TestClient

from labis_olap.api import create_app, deps
from labis_olap.engine.base import Engine
from labis_olap.errors import ForbiddenError, ModelError, NotFoundError
from labis_olap.model.cut_grammar import parse_cuts, parse_drilldowns
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import CubeLayout
from labis_olap.query.cell import CubeQuery, FactsQuery, MembersQuery
from labis_olap.service import CubeService, Principal
from labis_olap.settings import Settings

MINI = Path(__file__).parent / "fixtures" / "mini_model"
CUBE = "benefits"
ROLES = {
    "no_gmi_partial": """
        role: no_gmi_partial
        cubes:
          - cube: benefits
            members: [{cut: "benefit_type:assist,housing;family"}]
        """,
    "no_gmi_hidden": """
        role: no_gmi_hidden
        cubes:
          - cube: benefits
            members: [{cut: "benefit_type:assist,housing;family", rollup: hidden}]
        """,
    "no_gmi_full": """
        role: no_gmi_full
        cubes:
          - cube: benefits
            members: [{cut: "benefit_type:assist,housing;family", rollup: full}]
        """,
    "north": """
        role: north
        cubes: [{cube: benefits, members: [{cut: "territory:R1"}]}]
        """,
    "south": """
        role: south
        cubes: [{cube: benefits, members: [{cut: "territory:R2"}]}]
        """,
    "by_category": """
        role: by_category
        cubes: [{cube: benefits, rows: "benefit_type:{category}"}]
        """,
    "limited": """
        role: limited
        cubes:
          - cube: benefits
            measures: [amount, payments, amount_per_recipient]
            hidden_dimensions: [gender]
            microdata: true
        """,
    "analyst": """
        role: analyst
        cubes: [{cube: "*", microdata: true}]
        """,
}


INDICATORS = """
indicators:
  - code: BEN-001
    name: {lv: Pabalstu summa, en: Benefit amount}
    type: monitoring
    source_institution: LM
    periodicity: annual
    unit: euro
    cube: benefits
    measure: amount
  - code: BEN-002
    name: {lv: Saņēmēji sievietes, en: Recipients who are women}
    type: monitoring
    source_institution: LM
    periodicity: annual
    unit: persons
    cube: benefits
    measure: recipients
    cuts: "gender:F"
"""
"""BEN-002 needs a measure and a dimension that the role `limited` may not see."""


def who(*roles: str, **claims: str) -> Principal:
    return Principal("someone", frozenset(roles), tuple(sorted(claims.items())))


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Model:
    root = tmp_path_factory.mktemp("roles_model") / "model"
    shutil.copytree(MINI, root)
    (root / "roles").mkdir()
    for name, text in ROLES.items():
        (root / "roles" / f"{name}.yaml").write_text(textwrap.dedent(text))
    (root / "indicators").mkdir()
    (root / "indicators" / "indicators.yaml").write_text(INDICATORS)
    return read_model(root)


@pytest.fixture(scope="module")
def engine(data_dir: Path, model: Model) -> Iterator[Engine]:
    with mini_database(data_dir, model, "roles") as eng:
        yield eng


@pytest.fixture(scope="module")
def service(model: Model, engine: Engine) -> CubeService:
    return CubeService(model, engine)


def sql_sums(engine: Engine, model: Model, where: str = "1") -> dict[str, Decimal]:
    """Amount by benefit type, straight from the facts table."""
    table = CubeLayout(model, model.cubes[CUBE], engine.database).facts_table
    rows = engine.query(
        f"SELECT benefit, sum(amount) AS a FROM `{engine.database}`.`{table}` WHERE {where} GROUP BY benefit"
    ).to_pylist()
    return {r["benefit"]: Decimal(str(r["a"])) for r in rows}


def amounts(cells: Any, level: str) -> dict[str, Any]:
    return {r[f"benefit_type.{level}"]: r["amount"] for r in cells.cells.to_pylist()}


def ask(service: CubeService, principal: Principal, drill: str = "", cut: str = "") -> Any:
    query = CubeQuery(CUBE, ("amount",), parse_cuts(cut), parse_drilldowns(drill))
    return service.aggregate(query, principal)


def test_partial_totals_add_up_visible_members(service: CubeService, engine: Engine, model: Model) -> None:
    s = sql_sums(engine, model)
    p = who("no_gmi_partial")
    assert amounts(ask(service, p, "benefit_type:benefit_type"), "benefit_type") == {
        "housing": s["housing"],
        "child": s["child"],
    }
    assert amounts(ask(service, p, "benefit_type:category"), "category") == {
        "assist": s["housing"],
        "family": s["child"],
    }
    assert ask(service, p).summary == {"amount": s["housing"] + s["child"]}
    # A cut on the hidden member answers as an unknown member: nothing.
    assert ask(service, p, cut="benefit_type:assist,gmi").summary["amount"] in (None, 0)


def test_hidden_empties_every_total_with_a_hidden_member_below(
    service: CubeService, engine: Engine, model: Model
) -> None:
    s = sql_sums(engine, model)
    p = who("no_gmi_hidden")
    assert amounts(ask(service, p, "benefit_type:benefit_type"), "benefit_type") == {
        "housing": s["housing"],
        "child": s["child"],
    }
    by_category = amounts(ask(service, p, "benefit_type:category"), "category")
    assert by_category == {"assist": None, "family": s["child"]}
    assert ask(service, p).summary == {"amount": None}
    assert ask(service, p, cut="benefit_type:family").summary == {"amount": s["child"]}
    assert ask(service, p, cut="benefit_type:assist").summary == {"amount": None}
    # Subtotals over the category level are emptied the same way.
    q = CubeQuery(CUBE, ("amount",), (), parse_drilldowns("benefit_type:benefit_type"), subtotals="rollup")
    (sub,) = service.aggregate(q, p).subtotals
    assert {r["benefit_type.category"]: r["amount"] for r in sub.rows.to_pylist()} == {
        "assist": None,
        "family": s["child"],
    }


def test_full_keeps_true_totals_and_shows_only_visible_cells(
    service: CubeService, engine: Engine, model: Model
) -> None:
    s = sql_sums(engine, model)
    p = who("no_gmi_full")
    assert amounts(ask(service, p, "benefit_type:benefit_type"), "benefit_type") == {
        "housing": s["housing"],
        "child": s["child"],
    }
    cells = ask(service, p, "benefit_type:category")
    assert amounts(cells, "category") == {"assist": s["housing"] + s["gmi"], "family": s["child"]}
    assert ask(service, p, "benefit_type:benefit_type").summary == {"amount": sum(s.values())}
    assert ask(service, p).summary == {"amount": sum(s.values())}


def test_a_principal_with_several_roles_sees_their_union(
    service: CubeService, engine: Engine, model: Model
) -> None:
    def regions(p: Principal) -> set[str]:
        return {r["territory.region"] for r in ask(service, p, "territory:region").cells.to_pylist()}

    assert regions(who("north")) == {"R1"}
    assert regions(who("south")) == {"R2"}
    assert regions(who("north", "south")) == {"R1", "R2"}
    # Both regions: every fact of a known municipality (the M9 fact is in neither).
    known = sum(sql_sums(engine, model, "municipality IN ('M1', 'M2', 'M3')").values())
    assert ask(service, who("north", "south")).summary == {"amount": known}
    assert ask(service, who("analyst")).summary == {"amount": sum(sql_sums(engine, model).values())}


def test_row_filters_bind_token_claims(service: CubeService, engine: Engine, model: Model) -> None:
    s = sql_sums(engine, model)
    family = ask(service, who("by_category", category="family"), "benefit_type:benefit_type")
    assert amounts(family, "benefit_type") == {"child": s["child"]}
    # A claim value cannot smuggle in a cut of its own: it is one escaped path element.
    sneaky = ask(service, who("by_category", category="family|territory:R1"), "benefit_type")
    assert sneaky.cells.num_rows == 0
    # Several values of the claim: the rows of any of them.
    both = ask(service, who("by_category", category="family"), "benefit_type:category")
    assert set(amounts(both, "category")) == {"family"}
    two = Principal("x", frozenset({"by_category"}), (("category", "assist"), ("category", "family")))
    assert amounts(ask(service, two, "benefit_type:category"), "category") == {
        "assist": s["housing"] + s["gmi"],
        "family": s["child"],
    }
    # Without the claim the cube is not there at all.
    with pytest.raises(NotFoundError, match="no cube 'benefits'"):
        ask(service, who("by_category"))


def test_hidden_measures_and_dimensions_answer_as_unknown_names(service: CubeService) -> None:
    p = who("limited")
    cells = service.aggregate(CubeQuery(CUBE, (), (), parse_drilldowns("territory")), p)
    assert cells.measure_names == ["amount", "payments"]  # amount_per_recipient needs recipients
    with pytest.raises(NotFoundError) as hidden:
        service.aggregate(CubeQuery(CUBE, ("recipients",)), p)
    assert hidden.value.message == "cube 'benefits' has no measure 'recipients'"
    with pytest.raises(NotFoundError) as dim:
        service.aggregate(CubeQuery(CUBE, (), parse_cuts("gender:F")), p)
    assert dim.value.message == "cube 'benefits' has no dimension 'gender'"
    assert "gender" not in (dim.value.hint or "")
    with pytest.raises(NotFoundError) as typo:
        service.aggregate(CubeQuery(CUBE, ("recipientz",)), p)
    assert "recipients" not in (typo.value.hint or ""), "a hint must not reveal a hidden measure"
    visible = service.visible_model(p).cubes[CUBE]
    assert [m.name for m in visible.measures] == ["amount", "payments"]
    assert "gender" not in [d.alias for d in visible.dimensions]


def test_microdata_needs_its_grant_and_hides_what_the_role_may_not_see(service: CubeService) -> None:
    with pytest.raises(ForbiddenError):
        service.facts(FactsQuery(CUBE, pagesize=5), who("no_gmi_partial"))
    rows = service.facts(FactsQuery(CUBE, pagesize=100), who("limited")).rows
    assert "gender" not in rows.column_names and "open_cases" not in rows.column_names
    assert "person" not in rows.column_names and "amount" in rows.column_names
    full = service.facts(FactsQuery(CUBE, pagesize=100), who("analyst")).rows
    assert "gender" in full.column_names and "person" not in full.column_names
    key = full.column("__fact_key__")[0].as_py()
    assert "gender" not in (service.fact(CUBE, key, who("limited")) or {"gender": 1})
    # Nor the hidden dimension's attributes (Cubes' `gender.gender`), asked for or not.
    assert "gender.gender" in full.column_names and "territory.region" in rows.column_names
    assert not any(c.startswith("gender.") for c in rows.column_names)
    assert not any(
        k.startswith("gender.") for k in service.fact(CUBE, key, who("limited")) or {"gender.x": 1}
    )
    with pytest.raises(NotFoundError):
        service.facts(FactsQuery(CUBE, fields=("gender.gender_label",), pagesize=5), who("limited"))
    with pytest.raises(ForbiddenError):
        service.fact(CUBE, key, who("north"))


def test_members_list_only_what_the_role_sees(service: CubeService) -> None:
    def listed(p: Principal) -> list[str]:
        q = MembersQuery(CUBE, "benefit_type", level="benefit_type")
        return [r["benefit_type.benefit_type"] for r in service.members(q, p).data.to_pylist()]

    assert sorted(listed(who("analyst"))) == ["child", "gmi", "housing"]
    assert sorted(listed(who("no_gmi_partial"))) == ["child", "housing"]
    with pytest.raises(NotFoundError):
        service.cell(CUBE, parse_cuts("benefit_type:assist,gmi"), "en", who("no_gmi_partial"))


def test_no_role_sees_nothing(service: CubeService) -> None:
    nobody = who("visitor")
    assert service.visible_model(nobody).cubes == {}
    with pytest.raises(NotFoundError, match="no cube 'benefits'"):
        ask(service, nobody)


def test_every_http_route_applies_the_roles(
    model: Model, engine: Engine, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same policy on every route and format, the fast path and FastAPI's route alike."""
    principal = who("no_gmi_partial")
    monkeypatch.setattr(deps, "principal_of", lambda scope: principal)
    settings = Settings(model_dir=MINI, data_dir=data_dir, database=engine.database)
    agg = f"/cube/{CUBE}/aggregate?drilldown=benefit_type:benefit_type&aggregates=amount"
    for fast in (True, False):
        app = create_app(settings, model, engine, fast_path=fast)
        with TestClient(app, raise_server_exceptions=False) as client:
            cells = client.get(agg).json()["cells"]
            assert {c["benefit_type.benefit_type"] for c in cells} == {"housing", "child"}
            csv = client.get(agg + "&format=csv").text
            assert "gmi" not in csv and "housing" in csv
            assert client.get(f"/cube/{CUBE}/facts").status_code == 403
            members = client.get(f"/cube/{CUBE}/members/benefit_type").json()["data"]
            assert "gmi" not in {m.get("benefit_type.benefit_type") for m in members}
            report = {"queries": {"a": {"query": "aggregate", "drilldown": ["benefit_type:benefit_type"]}}}
            got = client.post(f"/cube/{CUBE}/report", json=report).json()["a"]["cells"]
            assert {c["benefit_type.benefit_type"] for c in got} == {"housing", "child"}
    monkeypatch.setattr(deps, "principal_of", lambda scope: who("visitor"))
    with TestClient(create_app(settings, model, engine), raise_server_exceptions=False) as client:
        assert client.get("/cubes").json() == []
        assert client.get(agg).status_code == 404
        assert client.get(f"/cube/{CUBE}/model").status_code == 404


def _regions_of_table(body: bytes, fmt: str) -> set[str]:
    """The `territory.region` column of a table answer, whatever its format."""
    import csv
    import io

    import openpyxl
    import pyarrow.ipc
    import pyarrow.parquet

    if fmt == "csv":
        return {r["territory.region"] for r in csv.DictReader(io.StringIO(body.decode("utf-8-sig")))}
    if fmt == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
        at = list(rows[0]).index("territory.region")
        return {str(r[at]) for r in rows[1:] if r[at] is not None}
    if fmt == "arrow":
        table = pyarrow.ipc.open_file(io.BytesIO(body)).read_all()
    elif fmt == "arrows":
        table = pyarrow.ipc.open_stream(io.BytesIO(body)).read_all()
    else:
        table = pyarrow.parquet.read_table(io.BytesIO(body))
    return {v for v in table.column("territory.region").to_pylist() if v is not None}


@pytest.mark.parametrize("fast", [True, False], ids=["fast_path", "fastapi"])
def test_every_format_and_page_applies_the_roles(
    model: Model, engine: Engine, data_dir: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    """A role restricted to one region (`north`: R1) gets only it in every table format, the
    report, the cell, members, indicator JSON, CSV and SDMX-CSV; a role without a measure or a
    dimension (`limited`) finds the indicator built on them neither in the catalogue, nor as
    JSON, nor as a page — each answering as an unknown code does; no role sees no cube."""
    settings = Settings(model_dir=MINI, data_dir=data_dir, database=engine.database)
    principal = [who("north")]
    monkeypatch.setattr(deps, "principal_of", lambda scope: principal[0])
    agg = f"/cube/{CUBE}/aggregate?drilldown=territory:region&aggregates=amount"
    app = create_app(settings, model, engine, fast_path=fast)
    # a page asks principal_of (patched above) only when the request carries credentials
    with TestClient(app, raise_server_exceptions=False, headers={"X-API-Key": "lbk_any"}) as c:
        assert {x["territory.region"] for x in c.get(agg).json()["cells"]} == {"R1"}
        for fmt in ("csv", "xlsx", "arrow", "arrows", "parquet"):
            got = c.get(f"{agg}&format={fmt}")
            assert got.status_code == 200, (fmt, got.text[:300])
            assert _regions_of_table(got.content, fmt) == {"R1"}, fmt
        sdmx_csv = c.get(f"{agg}&format=sdmx-csv").text
        assert "R1" in sdmx_csv and "R2" not in sdmx_csv
        report = {"queries": {"a": {"query": "aggregate", "drilldown": ["territory:region"]}}}
        got = c.post(f"/cube/{CUBE}/report", json=report).json()["a"]["cells"]
        assert {x["territory.region"] for x in got} == {"R1"}
        members = c.get(f"/cube/{CUBE}/members/territory?depth=1").json()["data"]
        assert {m["territory.region"] for m in members} == {"R1"}
        assert c.get(f"/cube/{CUBE}/cell?cut=territory:R2").status_code == 404
        assert c.get(f"/cube/{CUBE}/fact/1").status_code == 403  # no microdata grant
        ind = c.get("/indicator/BEN-001?drilldown=territory:region").json()
        assert {x["territory.region"] for x in ind["cells"]} == {"R1"}
        ind_csv = c.get("/indicator/BEN-001?drilldown=territory:region&format=csv").content
        assert _regions_of_table(ind_csv, "csv") == {"R1"}
        ind_sdmx = c.get("/indicator/BEN-001?drilldown=territory:region&format=sdmx-csv").text
        assert "R1" in ind_sdmx and "R2" not in ind_sdmx
        assert "R2" not in c.get("/sdmx/structure/benefits").text

        principal[0] = who("limited")
        codes = {i["code"] for i in c.get("/indicators").json()}
        assert codes == {"BEN-001"}
        unknown = c.get("/indicator/NO-SUCH")
        hidden = c.get("/indicator/BEN-002")
        assert hidden.status_code == unknown.status_code == 404
        assert hidden.json()["error"] == unknown.json()["error"]
        assert "BEN-002" not in c.get("/browser/indicators").text
        assert c.get("/browser/indicators/BEN-002").status_code == 404
        assert c.get("/browser/indicators/BEN-001").status_code == 200
        assert c.get("/sdmx/structure/indicator/BEN-002").status_code == 404

        principal[0] = who("visitor")
        assert c.get("/indicators").json() == []
        assert c.get("/browser/indicators/BEN-001").status_code == 404
        for fmt in ("json", "csv", "parquet"):
            assert c.get(f"{agg}&format={fmt}").status_code == 404


def test_bad_roles_are_located_errors(tmp_path: Path) -> None:
    root = tmp_path / "model"
    shutil.copytree(MINI, root)
    (root / "roles").mkdir()
    (root / "roles" / "bad.yaml").write_text(
        textwrap.dedent(
            """\
            role: bad
            cubes:
              - cube: benefitz
              - cube: benefits
                measures: [amountt]
                hidden_dimensions: [gendr]
                members:
                  - {cut: "benefit_type:assist,gmx"}
                  - {cut: "time:2024", rollup: hidden}
                rows: "territory:{bad claim}"
            """
        )
    )
    with pytest.raises(ModelError) as info:
        read_model(root)
    text = info.value.rendered
    for code, where in [("E120", ":3:"), ("E121", ":5:"), ("E122", ":6:"), ("E123", ":8:"), ("E124", ":10:")]:
        assert code in text and f"bad.yaml{where}" in text, (code, text)
    assert "did you mean 'benefits'" in text and "did you mean 'amount'" in text
    assert "rollup 'hidden' applies to members, not to periods" in text


def test_a_tokens_roles_and_claims_reach_the_policy(model: Model, engine: Engine, tmp_path: Path) -> None:
    """End to end: an access token signed by a real OIDC issuer (oauth2-mock-server) carries the
    roles and claims the model's roles grant by; the HTTP answer is restricted accordingly."""
    from oauth2_issuer import MockIssuer
    from test_auth import AUDIENCE, bearer, need_issuer

    need_issuer()
    issuer = MockIssuer()
    try:
        settings = Settings(
            model_dir=MINI,
            data_dir=tmp_path,
            database=engine.database,
            issuer=issuer.url,
            audience=AUDIENCE,
            api_keys_file=tmp_path / "none.json",
            principal_claims=["category"],
        )
        url = f"/cube/{CUBE}/aggregate?drilldown=benefit_type:benefit_type&aggregates=amount"
        with TestClient(create_app(settings, model, engine), raise_server_exceptions=False) as client:

            def seen(token: str) -> set[str]:
                answer = client.get(url, headers=bearer(token))
                assert answer.status_code == 200, answer.text
                return {c["benefit_type.benefit_type"] for c in answer.json()["cells"]}

            assert seen(issuer.token(roles=["no_gmi_partial"])) == {"housing", "child"}
            assert seen(issuer.token(roles=["by_category"], category="family")) == {"child"}
            assert seen(issuer.token(roles=["by_category"], category=["family", "assist"])) == {
                "housing", "gmi", "child",
            }  # fmt: skip
            assert seen(issuer.token(roles=["analyst"])) == {"housing", "gmi", "child"}
            assert client.get(url, headers=bearer(issuer.token(roles=["visitor"]))).status_code == 404
            assert client.get(url).status_code == 401
    finally:
        issuer.stop()
