"""Disclosure control for publication roles: suppression over publication tables, every path.

The mini model (tests/fixtures/mini_model: 41 payments to 12 persons) with disclosure rules on
its cube (threshold 3 distinct recipients; two publication tables) and roles: `public`
(published), `publisher` (marked `publication: true`), `analyst` (not for publication). Every
expected number is the analyst's answer to the same question, whose recipients are checked
against an independent SQL count over the facts table. A published cell is the analyst's cell
unchanged, or has no values and status `A` (exactly when its recipients number 1 … threshold
− 1) or `D` (a secondary cell, never under the threshold). The attacker test solves, with its
own linear programs, every suppressed cell's interval from everything the public can obtain;
the stock attacker does the same for the stock `open_cases` over month-end snapshots (a copy of
the mini model with 45 persons' spells), its relations built from the facts by plain SQL.
Measures suppression cannot protect (min, max, filtered, approximate) are `N` on every path.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import mini_database
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from labis_olap.api import create_app, deps
from labis_olap.engine.base import Engine
from labis_olap.errors import ForbiddenError, QueryError
from labis_olap.model.cut_grammar import parse_cuts, parse_drilldowns, parse_order
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import CubeLayout
from labis_olap.query.cell import CubeQuery, FactsQuery
from labis_olap.service import CubeService, Principal
from labis_olap.service.suppression import Coord
from labis_olap.settings import Settings

MINI = Path(__file__).parent / "fixtures" / "mini_model"
CUBE = "benefits"
THRESHOLD = 3
TABLE = "territory:municipality|time:year|benefit_type:benefit_type|gender"
RULES = f"""
disclosure:
  threshold: {THRESHOLD}
  tables: ["{TABLE}", "time:month"]
  dominance: false  # the frequency rule alone here; dominance and p%: test_disclosure_rules.py
"""
ROLES = {
    "public": "role: public\ncubes: [{cube: benefits}]\n",
    "publisher": "role: publisher\npublication: true\ncubes: [{cube: benefits, microdata: true}]\n",
    "analyst": "role: analyst\ncubes: [{cube: '*', microdata: true}]\n",
}
INDICATORS = """
indicators:
  - code: TST-001
    name: {lv: Saņēmēji bez palīdzības pabalstiem, en: Recipients of benefits other than assistance}
    type: monitoring
    source_institution: VSAA
    periodicity: monthly
    unit: persons
    cube: benefits
    measure: recipients
    cuts: "!benefit_type:assist"  # all categories but one, merged: published nowhere
"""
LEVELS = [
    "territory:region",
    "territory:municipality",
    "time:year",
    "time:quarter",
    "time:month",
    "benefit_type:category",
    "benefit_type:benefit_type",
    "gender",
]
CUTS = ["", "time:2023", "time:2024", "time:2024,2", "gender:F", "benefit_type:assist", "territory:R1",
        "territory:R1;R2", "!benefit_type:assist"]  # fmt: skip
PUBLIC = Principal("visitor")
ANALYST = Principal("anna", frozenset({"analyst", "public"}))
PUBLISHER = Principal("paul", frozenset({"publisher", "public"}))


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Model:
    root = tmp_path_factory.mktemp("disclosure_model") / "model"
    shutil.copytree(MINI, root)
    cube = root / "cubes" / "benefits.yaml"
    cube.write_text(cube.read_text() + textwrap.dedent(RULES))
    (root / "roles").mkdir()
    for name, text in ROLES.items():
        (root / "roles" / f"{name}.yaml").write_text(text)
    (root / "indicators").mkdir()
    (root / "indicators" / "indicators.yaml").write_text(INDICATORS)
    return read_model(root)


@pytest.fixture(scope="module")
def engine(data_dir: Path, model: Model) -> Iterator[Engine]:
    with mini_database(data_dir, model, "disclosure") as eng:
        yield eng


@pytest.fixture(scope="module")
def service(model: Model, engine: Engine) -> CubeService:
    return CubeService(model, engine)


def ask(service: CubeService, who: Principal, drill: str, cut: str = "", subtotals: str = "none") -> Any:
    query = CubeQuery(
        CUBE,
        ("amount", "payments", "recipients"),
        parse_cuts(cut),
        parse_drilldowns(drill),
        subtotals=subtotals,
    )
    return service.aggregate(query, who)


def rows_by_key(rows: list[dict[str, Any]], keys: list[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(r[k] for k in keys): r for r in rows}


def check_published(published: dict[str, Any], truth: dict[str, Any], merged: bool = False) -> int:
    """One published cell (or total) against the analyst's: primary (`A`) exactly when its
    recipients are too few, secondary (`D`) only for cells that are not, shown otherwise with
    the analyst's values; a `merged` total (members a cut chose) is always hidden (`D`);
    returns 1 if it was hidden."""
    n = truth["recipients"] or 0
    status = published["recipients:status"]
    if merged:
        assert status == "D" and all(published[m] is None for m in ("amount", "payments", "recipients"))
        return 1
    assert (status == "A") == (0 < n < THRESHOLD), (published, truth)
    assert status in (None, "A", "D")
    if status == "D":
        assert n >= THRESHOLD
    for measure in ("amount", "payments", "recipients"):
        assert published[f"{measure}:status"] == status
        assert published[measure] == (None if status else truth[measure]), (measure, published, truth)
    return int(status is not None)


def test_recipients_are_counted_right(service: CubeService, engine: Engine, model: Model) -> None:
    """The analyst's recipients, which the checks below trust, equal SQL over the facts."""
    table = CubeLayout(model, model.cubes[CUBE], engine.database).facts_table
    sql = engine.query(
        f"SELECT benefit AS m, toYear(paid_on) AS y, uniqExact(person) AS n "
        f"FROM `{engine.database}`.`{table}` GROUP BY m, y"
    ).to_pylist()
    cells = ask(service, ANALYST, "benefit_type:benefit_type|time:year").cells.to_pylist()
    got = {(c["benefit_type.benefit_type"], c["time.year"]): c["recipients"] for c in cells}
    assert got == {(r["m"], r["y"]): r["n"] for r in sql}
    assert any(0 < n < THRESHOLD for n in got.values()), "the fixture must have small cells"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    drills=st.lists(st.sampled_from(LEVELS), min_size=0, max_size=3, unique_by=lambda d: d.split(":")[0]),
    cut=st.sampled_from(CUTS),
    subtotals=st.sampled_from(["none", "rollup", "cube"]),
)
def test_no_published_cell_shows_a_small_count(
    service: CubeService, drills: list[str], cut: str, subtotals: str
) -> None:
    # drilling a one-level dimension that is cut cannot go below the cut (issue 16)
    assume(not (cut == "gender:F" and "gender" in drills))
    drill = "|".join(drills)
    try:
        published = ask(service, PUBLIC, drill, cut, subtotals)
    except QueryError as exc:  # not an answer any publication table holds
        assert "published answers cannot" in exc.message
        assert not covered(drills, cut)
        return
    assert covered(drills, cut)
    truth = ask(service, ANALYST, drill, cut, subtotals)
    keys = published.attributes
    assert keys == truth.attributes
    shown = rows_by_key(published.cells.to_pylist(), keys)
    real = rows_by_key(truth.cells.to_pylist(), keys)
    assert shown.keys() == real.keys()
    for key, cell in shown.items():
        check_published(cell, real[key])
    # a set or exclusion cut filters a drilled dimension: a total over it ("all but X") is
    # no published cell, hidden whatever its count
    merged = cut.lstrip("!").split(":")[0] if cut.startswith("!") or ";" in cut else None
    check_published(published.summary, truth.summary, merged is not None)
    for pub, tru in zip(published.subtotals, truth.subtotals, strict=True):
        sub_keys = pub.attributes
        real_sub = rows_by_key(tru.rows.to_pylist(), sub_keys)
        totalled = merged is not None and merged not in pub.levels
        for key, row in rows_by_key(pub.rows.to_pylist(), sub_keys).items():
            check_published(row, real_sub[key], totalled)


DEPTH = {"region": 1, "municipality": 2, "year": 1, "quarter": 2, "month": 3, "category": 1,
         "benefit_type": 2, "gender": 1}  # fmt: skip
TABLES = [{"territory": 2, "time": 1, "benefit_type": 2, "gender": 1}, {"time": 3}]


def covered(drills: list[str], cut: str) -> bool:
    """Whether a publication table answers the query (the service must decide the same): a set
    or exclusion cut merges members unless its dimension is drilled at least as deep."""
    need = {d.split(":")[0]: DEPTH[d.split(":")[-1]] for d in drills}
    if cut:
        dim, _, path = cut.lstrip("!").partition(":")
        depth = len(path.split(","))
        if (cut.startswith("!") or ";" in cut) and need.get(dim, 0) < depth:
            return False
        need[dim] = max(need.get(dim, 0), depth)
    return any(all(t.get(dim, 0) >= depth for dim, depth in need.items()) for t in TABLES)


def test_publication_roles_are_protected_and_others_not(service: CubeService) -> None:
    drill = "territory:municipality|time:year"
    truth = ask(service, ANALYST, drill).cells.to_pylist()
    assert "amount:status" not in truth[0], "an analyst's answer carries no statuses"
    by_publisher = ask(service, PUBLISHER, drill).cells.to_pylist()
    hidden = sum(check_published(c, t) for c, t in zip(by_publisher, truth, strict=True))
    assert hidden > 0


def test_fact_rows_are_never_published(service: CubeService) -> None:
    for who in (PUBLIC, PUBLISHER):  # the publisher's role grants microdata: still refused
        with pytest.raises(ForbiddenError, match="not published"):
            service.facts(FactsQuery(CUBE), who)
        with pytest.raises(ForbiddenError, match="not published"):
            service.fact(CUBE, "1", who)
    assert service.facts(FactsQuery(CUBE), ANALYST).rows.num_rows > 0


def test_ordering_by_a_measure_is_refused(service: CubeService) -> None:
    query = CubeQuery(
        CUBE, ("amount",), (), parse_drilldowns("territory:municipality"), parse_order("amount:desc")
    )
    with pytest.raises(QueryError, match="ordered by a measure"):
        service.aggregate(query, PUBLIC)
    by_level = CubeQuery(
        CUBE,
        ("amount",),
        (),
        parse_drilldowns("territory:municipality"),
        parse_order("territory.municipality"),
    )
    assert service.aggregate(by_level, PUBLIC).cells.num_rows > 0
    assert service.aggregate(query, ANALYST).cells.num_rows > 0


def test_zeros_can_be_declared_disclosive(model: Model, engine: Engine) -> None:
    """A cell with no contributor — here the total of a year without payments — is shown as
    0 by default and is confidential when the cube declares zeros disclosive."""
    cube = model.cubes[CUBE]
    assert cube.disclosure is not None
    strict = cube.model_copy(
        update={"disclosure": cube.disclosure.model_copy(update={"zeros": "disclosive"})}
    )
    strict_model = dataclasses.replace(model, cubes={**model.cubes, CUBE: strict})
    query = CubeQuery(CUBE, ("payments", "recipients"), parse_cuts("time:2019"))
    lenient = CubeService(model, engine).aggregate(query, PUBLIC).summary
    assert lenient == {"payments": 0, "payments:status": None, "recipients": 0, "recipients:status": None}
    hidden = CubeService(strict_model, engine).aggregate(query, PUBLIC).summary
    assert hidden == {"payments": None, "payments:status": "A", "recipients": None, "recipients:status": "A"}


def published_cells(client: TestClient, url: str) -> list[dict[str, Any]]:
    got = client.get(url)
    assert got.status_code == 200, got.text[:300]
    fmt = url.partition("format=")[2].partition("&")[0] or "json"
    if fmt == "json":
        cells: list[dict[str, Any]] = got.json()["cells"]
        return cells
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(got.text)))
        return [{k: (None if v == "" else v) for k, v in r.items()} for r in rows]
    return pq.read_table(io.BytesIO(got.content)).to_pylist()


@contextlib.contextmanager
def switched_client(
    model: Model, engine: Engine, data_dir: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> Iterator[tuple[TestClient, list[Principal]]]:
    """A client of the mini model whose every request is `principal[0]` (PUBLIC first; a test
    switches it to ANALYST for the truth), through the fast path or FastAPI's routes."""
    principal = [PUBLIC]
    monkeypatch.setattr(deps, "principal_of", lambda scope: principal[0])
    settings_ = Settings(model_dir=MINI, data_dir=data_dir, database=engine.database)
    with TestClient(create_app(settings_, model, engine, fast_path=fast), raise_server_exceptions=False) as c:
        yield c, principal


@pytest.fixture(scope="module")
def public_http(model: Model, engine: Engine, data_dir: Path) -> Iterator[dict[str, TestClient]]:
    """The public's clients of the mini model: through the fast path and FastAPI's routes."""
    with pytest.MonkeyPatch.context() as mp, contextlib.ExitStack() as stack:
        clients = {
            name: stack.enter_context(switched_client(model, engine, data_dir, mp, fast))[0]
            for name, fast in (("fast_path", True), ("fastapi", False))
        }
        yield clients


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    drills=st.lists(st.sampled_from(LEVELS), min_size=0, max_size=3, unique_by=lambda d: d.split(":")[0]),
    cut=st.sampled_from(CUTS),
    subtotals=st.sampled_from(["none", "cube"]),
    way=st.sampled_from(["fast_path json", "fastapi json", "fastapi csv", "fast_path parquet"]),
)
def test_every_http_way_in_publishes_what_the_service_does(
    service: CubeService,
    public_http: dict[str, TestClient],
    drills: list[str],
    cut: str,
    subtotals: str,
    way: str,
) -> None:
    """Over Hypothesis-generated queries, each HTTP way in answers the public exactly the
    service's published cells (which test_no_published_cell_shows_a_small_count checks against
    the truth), statuses included, or refuses what the service refuses."""
    assume(not (cut == "gender:F" and "gender" in drills))
    drill = "|".join(drills)
    client, fmt = public_http[way.split()[0]], way.split()[1]
    params = {"drilldown": drill, "cut": cut, "aggregates": "amount|payments|recipients", "format": fmt}
    params["subtotals"] = subtotals if fmt == "json" else ""
    url = f"/cube/{CUBE}/aggregate?" + "&".join(f"{k}={v}" for k, v in params.items() if v)
    try:
        published = ask(service, PUBLIC, drill, cut, subtotals if fmt == "json" else "none")
    except QueryError as exc:
        got = client.get(url)
        assert got.status_code == 400 and got.json()["message"] == exc.message, (url, got.text[:300])
        return
    keys = published.attributes
    values = ["amount", "payments", "recipients"]
    statuses = [f"{m}:status" for m in values]

    def norm(rows: list[dict[str, Any]], keys: list[str] = keys) -> set[tuple[str | None, ...]]:
        """Rows as text: keys as written, numbers to 6 places (CSV's are text, Parquet's typed)."""
        return {
            tuple(None if r[k] is None else str(r[k]) for k in keys + statuses)
            + tuple(None if r[m] is None else f"{float(r[m]):.6f}" for m in values)
            for r in rows
        }

    if not drills:  # the grand total: the JSON's summary (the files hold the cells)
        summary = client.get(url.replace(f"format={fmt}", "format=json")).json()["summary"]
        assert norm([summary]) == norm([published.summary]), url
        return
    assert norm(published_cells(client, url)) == norm(published.cells.to_pylist()), url
    if fmt == "json":  # every subtotal row too
        subs = client.get(url).json().get("subtotals") or []
        assert len(subs) == len(published.subtotals), url
        for got, want in zip(subs, published.subtotals, strict=True):
            assert norm(got["cells"], want.attributes) == norm(want.rows.to_pylist(), want.attributes), url


@pytest.mark.parametrize("fast", [True, False], ids=["fast_path", "fastapi"])
def test_every_way_in_publishes_the_same_protected_cells(
    model: Model, engine: Engine, data_dir: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    drill = "drilldown=territory:municipality|time:year"
    agg = f"/cube/{CUBE}/aggregate?{drill}&aggregates=amount|payments|recipients"
    with switched_client(model, engine, data_dir, monkeypatch, fast) as (c, principal):
        principal[0] = ANALYST
        truth = {(r["territory.municipality"], r["time.year"]): r for r in c.get(agg).json()["cells"]}
        principal[0] = PUBLIC
        statuses: dict[str, dict[tuple[Any, ...], Any]] = {}
        for fmt in ("json", "csv", "parquet"):
            cells = published_cells(c, f"{agg}&format={fmt}")
            assert len(cells) == len(truth)
            for cell in cells:
                key = (cell["territory.municipality"], int(cell["time.year"]))
                real = truth[key]
                status = cell["recipients:status"]
                assert (status == "A") == (0 < real["recipients"] < THRESHOLD), (fmt, cell, real)
                for m in ("amount", "payments", "recipients"):
                    assert cell[f"{m}:status"] == status
                    assert (cell[m] is None) == (status is not None)
                statuses.setdefault(fmt, {})[key] = status
        assert statuses["json"] == statuses["csv"] == statuses["parquet"]
        assert "D" in statuses["json"].values(), "secondary suppression at work"
        report = {
            "queries": {"a": {"query": "aggregate", "drilldown": ["territory:municipality", "time:year"]}}
        }
        for cell in c.post(f"/cube/{CUBE}/report", json=report).json()["a"]["cells"]:
            key = (cell["territory.municipality"], cell["time.year"])
            assert cell["recipients:status"] == statuses["json"][key]
        sdmx = list(csv.DictReader(io.StringIO(c.get(f"{agg}&format=sdmx-csv").text)))
        hidden = [r for r in sdmx if r["CONF_STATUS"] in ("A", "D")]
        assert hidden and all(r["OBS_VALUE"] == "" for r in hidden)
        assert all(r["OBS_VALUE"] != "" for r in sdmx if r["CONF_STATUS"] == "")
        assert c.get(f"/cube/{CUBE}/facts").status_code == 403
        assert c.get(f"{agg}&order=amount:desc").status_code == 400


@pytest.mark.parametrize("data", ["payments", "snapshots"])
def test_an_attacker_with_everything_published_cannot_narrow_a_suppressed_cell(
    service: CubeService, snapshots: tuple[CubeService, Model], data: str
) -> None:
    """Every cell the public can get of the first table — all margins, which every covered query
    only repeats — then, with this test's own linear programs (scipy's linprog), the smallest
    and largest value of each confidential cell's payments and amount under every additivity
    relation: the interval spans at least the protection level (30 % of the value, at least 1).
    (On the payments the stock `open_cases` hides every cell, see below; the month-end
    snapshots show some.)"""
    import numpy as np
    from scipy.optimize import linprog

    table = TABLE if data == "payments" else STOCK_TABLES[0]
    if data == "snapshots":
        service = snapshots[0]
    published = ask(service, PUBLIC, table, subtotals="cube")
    truth = ask(service, ANALYST, table, subtotals="cube")
    dims = ["territory", "time", "benefit_type", "gender"]

    def cells_of(answer: Any) -> dict[tuple[Any, ...], dict[str, Any]]:
        sets = [(answer.cells, answer.levels)] + [(s.rows, s.levels) for s in answer.subtotals]
        out = {}
        for table, levels in sets:
            for row in table.to_pylist():
                key = tuple(tuple(str(row[f"{d}.{lv}"]) for lv in levels.get(d, [])) for d in dims)
                out[key] = row
        out[((),) * len(dims)] = answer.summary
        return out

    shown, real = cells_of(published), cells_of(truth)
    assert shown.keys() == real.keys()
    hidden = sorted(k for k, r in shown.items() if r["payments:status"])
    primary = [k for k in hidden if shown[k]["payments:status"] == "A"]
    assert primary, "the fixture has confidential cells"
    col = {k: i for i, k in enumerate(hidden)}
    tried, narrowest = 0, float("inf")
    for measure in ("payments", "amount"):
        rows, rhs = [], []
        for key in shown:  # each total = the sum of its children along one dimension
            for d in range(len(dims)):
                children = [
                    k for k in shown if k[d][:-1] == key[d] and len(k[d]) == len(key[d]) + 1
                    and all(k[e] == key[e] for e in range(len(dims)) if e != d)
                ]  # fmt: skip
                if not children:
                    continue
                row, b = np.zeros(len(hidden)), 0.0
                for k, sign in [(key, 1.0)] + [(c, -1.0) for c in children]:
                    if k in col:
                        row[col[k]] += sign
                    else:
                        b -= sign * float(shown[k][measure])
                if row.any():
                    rows.append(row)
                    rhs.append(b)
        for key in primary:
            value = float(real[key][measure])
            objective = np.zeros(len(hidden))
            objective[col[key]] = 1.0
            lo = linprog(objective, A_eq=rows, b_eq=rhs, bounds=(0, None), method="highs")
            hi = linprog(-objective, A_eq=rows, b_eq=rhs, bounds=(0, None), method="highs")
            assert lo.status == 0 and hi.status in (0, 3)
            width = float("inf") if hi.status == 3 else -hi.fun - lo.fun
            need = max(1.0, 0.3 * value)
            tried += 1
            narrowest = min(narrowest, width / need)
            assert width >= need - 1e-6, (measure, key, value, lo.fun, -hi.fun)
    print(f"attacker: {len(shown)} cells, {len(primary)} primary, {len(hidden) - len(primary)} secondary, "
          f"{tried} intervals, narrowest {narrowest:.2f} × the protection level")  # fmt: skip


def test_mdx_withholds_what_the_service_withholds(service: CubeService) -> None:
    """MDX asks the service: a withheld cell is no value with its status (`A`, `D`), as REST
    has it; NON EMPTY keeps a row of withheld cells (they are not empty); one member on an axis
    is a point cut, which a publication table answers."""
    from labis_olap.mdx.evaluate import execute

    text = """SELECT NON EMPTY {[time].[ymd].[year].&[2024]} ON 0,
        NON EMPTY [territory].[region].[municipality].Members ON 1 FROM [benefits]
        WHERE [Measures].[recipients]"""
    result = execute(service, PUBLIC, text)
    truth = ask(service, PUBLIC, "territory:municipality|time:year", "time:2024").cells.to_pylist()
    expected = {r["territory.municipality"]: (r["recipients"], r["recipients:status"]) for r in truth}
    got = {
        tup[0].path[-1]: (cell.value, cell.status)
        for tup, cell in zip(result.axes[1].tuples, result.cells, strict=True)
    }
    # (facts of an unknown municipality have no member to show in MDX)
    assert got == {k: v for k, v in expected.items() if v != (0, None) and k is not None}
    assert "A" in {s for _, s in got.values()}
    assert all(c.formatted == c.status for c in result.cells if c.status)
    assert all(c["status"] in ("A", "D") for c in result.as_json()["cells"] if "status" in c)


def test_mdx_over_http_writes_the_status_in_place_of_the_number(
    model: Model, engine: Engine, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`POST /mdx` as JSON, CSV and XLSX for the public: a withheld cell is its status, never a
    number; the analyst's same statement has numbers there."""
    import openpyxl

    text = (
        "SELECT [time].[ymd].[year].Members ON 0, [territory].[region].[municipality].Members ON 1 "
        "FROM [benefits] WHERE [Measures].[recipients]"
    )
    with switched_client(model, engine, data_dir, monkeypatch, False) as (c, principal):
        post = lambda fmt: c.post(f"/mdx?format={fmt}", content=text, headers={"Content-Type": "text/plain"})  # noqa: E731
        cells = post("json").json()["cells"]
        flagged = [x for x in cells if "status" in x]
        assert flagged and all(x["value"] is None and x["formatted_value"] == x["status"] for x in flagged)
        rows = list(csv.reader(io.StringIO(post("csv").text)))
        written = [v for row in rows[1:] for v in row[1:]]
        assert written.count("A") == sum(1 for x in flagged if x["status"] == "A") > 0
        sheet = openpyxl.load_workbook(io.BytesIO(post("xlsx").content)).active
        assert sheet is not None
        in_sheet = [v for row in sheet.iter_rows(min_row=2, min_col=2, values_only=True) for v in row]
        assert in_sheet.count("D") == sum(1 for x in flagged if x["status"] == "D")
        principal[0] = ANALYST
        assert "A" not in [v for row in csv.reader(io.StringIO(post("csv").text)) for v in row[1:]]


@pytest.mark.parametrize(
    "cut",
    ["!benefit_type:assist", "benefit_type:assist;family", "territory:R1;R2"],
)
def test_differencing_cuts_are_refused(service: CubeService, cut: str) -> None:
    """A parent total less "all children but X" (exclusion or set cut) would give X: such a cut
    on an undrilled dimension is refused by the service (through REST and the indicator JSON:
    test_demo_public's differencing adversary)."""
    with pytest.raises(QueryError, match="merge members"):
        ask(service, PUBLIC, "time:year", cut)
    assert ask(service, ANALYST, "time:year", cut).cells.num_rows > 0


STOCK_DIMS = ["territory", "time", "benefit_type", "gender"]
STOCK_TABLES = ["territory:municipality|time:quarter|gender", "benefit_type:benefit_type|time:month"]
STOCK_RULES = f"""
disclosure:
  threshold: {THRESHOLD}
  tables: {STOCK_TABLES}
  dominance: false
"""


@pytest.fixture(scope="module")
def snapshots(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> Iterator[tuple[CubeService, Model]]:
    """The mini model with month-end snapshots instead of its payments (a stock of persons, as
    the demo's registered unemployed): 45 persons, each registered for a spell of months in
    2024–2025, one row per month-end with `open_cases` 1; the tables drill time."""
    import datetime as dt
    import decimal

    import numpy as np
    import pyarrow as pa
    from conftest import fresh_database, make_engine

    from labis_olap.compiler.apply import apply_model
    from labis_olap.physical.layout import ARROW_TYPES

    root = tmp_path_factory.mktemp("stock_model") / "model"
    shutil.copytree(MINI, root)
    cube_file = root / "cubes" / "benefits.yaml"
    cube_file.write_text(cube_file.read_text() + textwrap.dedent(STOCK_RULES))
    (root / "roles").mkdir()
    for name, text in ROLES.items():
        (root / "roles" / f"{name}.yaml").write_text(text)
    model = read_model(root)
    rng = np.random.default_rng(7)
    ends = [dt.date(2024 + (m + 1) // 12, (m + 1) % 12 + 1, 1) - dt.timedelta(days=1) for m in range(24)]
    rows: list[dict[str, Any]] = []
    for person in range(1, 46):
        start = int(rng.integers(0, 24))
        where = str(rng.choice(["M1", "M2", "M3"], p=[0.5, 0.3, 0.2]))
        gender, benefit = str(rng.choice(["M", "F"])), str(rng.choice(["housing", "gmi", "child"]))
        for month in range(start, min(24, start + int(rng.integers(1, 11)))):
            rows.append({"paid_on": ends[month], "municipality": where, "gender": gender, "benefit": benefit,
                         "person": person, "amount": decimal.Decimal("100.00"), "open_cases": 1})  # fmt: skip
    cube = model.cubes[CUBE]
    facts = pa.table(
        {c.name: pa.array([r[c.name] for r in rows], type=ARROW_TYPES[c.type]) for c in cube.columns}
    )
    eng = make_engine("embedded", data_dir, fresh_database("stock"))
    try:
        apply_model(model, eng)
        eng.insert_arrow(CubeLayout(model, cube, eng.database).facts_table, facts)
        yield CubeService(model, eng), model
    finally:
        eng.execute(f"DROP DATABASE IF EXISTS `{eng.database}`")


def stock_truth(engine: Engine, model: Model) -> list[dict[str, Any]]:
    """The facts by plain SQL, each with its coordinates as at its date (the members' rows of
    the fixture's YAML, read here, not by LabIS): region and municipality (an unknown fact
    key: neither, as the cube shows it), quarter and month, category."""
    import yaml

    table = CubeLayout(model, model.cubes[CUBE], engine.database).facts_table
    facts = engine.query(
        "SELECT paid_on, municipality, gender, benefit, person, open_cases "
        f"FROM `{engine.database}`.`{table}`"
    ).to_pylist()
    territory = yaml.safe_load((MINI / "dimensions" / "territory.yaml").read_text())["members"]["rows"]
    benefits = yaml.safe_load((MINI / "dimensions" / "benefit_type.yaml").read_text())["members"]["rows"]
    category = {r["code"]: r["category_code"] for r in benefits}
    for f in facts:
        [member] = [
            r for r in territory
            if r["fact_key"] == f["municipality"] and r["valid_from"] <= f["paid_on"]
            and (r["valid_to"] is None or f["paid_on"] <= r["valid_to"])
        ] or [{"region_code": "None", "municipality_code": "None"}]  # fmt: skip
        d = f["paid_on"]
        f["path"] = (
            (member["region_code"], member["municipality_code"]),
            (str(d.year), str((d.month - 1) // 3 + 1), str(d.month)),
            (category[f["benefit"]], f["benefit"]),
            (str(f["gender"]),),
        )
    return facts


def published_stock_cells(
    service: CubeService, who: Principal, tables: list[str]
) -> dict[Coord, dict[str, Any]]:
    """Every cell of the publication tables (all margins), keyed by its path per dimension."""
    out: dict[Coord, dict[str, Any]] = {}
    for table in tables:
        query = CubeQuery(
            CUBE, ("open_cases", "recipients"), drilldowns=parse_drilldowns(table), subtotals="cube"
        )
        answer = service.aggregate(query, who)
        sets = [(answer.cells, answer.levels)] + [(s.rows, s.levels) for s in answer.subtotals]
        for rows, levels in sets:
            for row in rows.to_pylist():
                key = tuple(tuple(str(row[f"{d}.{lv}"]) for lv in levels.get(d, [])) for d in STOCK_DIMS)
                out[key] = row
        out[((),) * len(STOCK_DIMS)] = answer.summary
    return out


def stock_attack(service: CubeService, model: Model, tables: list[str]) -> dict[str, Any]:
    """An attacker's intervals of every primary cell's stock `open_cases` from all the public
    gets of the tables: each cell's latest date and stock from the facts (plain SQL, the
    members' YAML), checked against the analyst's; the relations built from them alone — a
    total's stock is the sum of its parts' whose latest date is the total's (along time, its
    latest period's) — and solved with scipy's linprog, the cells' stocks at least 0 and, when
    every stock is at most its persons, an `A` cell's at most threshold − 1."""
    import numpy as np
    from scipy.optimize import linprog

    facts = stock_truth(service.engine, model)
    shown = published_stock_cells(service, PUBLIC, tables)
    real = published_stock_cells(service, ANALYST, tables)
    assert shown.keys() == real.keys()

    def inside(f: dict[str, Any], key: Coord) -> bool:
        return all(f["path"][d][: len(p)] == p for d, p in enumerate(key))

    latest: dict[Coord, Any] = {}
    stock: dict[Coord, float] = {}
    for key in shown:
        mine = [f for f in facts if inside(f, key)]
        latest[key] = max(f["paid_on"] for f in mine)
        stock[key] = float(sum(f["open_cases"] for f in mine if f["paid_on"] == latest[key]))
        assert real[key]["open_cases"] == stock[key], (key, real[key], stock[key])
        assert real[key]["recipients"] == len({f["person"] for f in mine})
    relations: list[tuple[Coord, list[Coord]]] = []
    for key in shown:  # along each dimension, the children present, others fixed
        for d in range(len(STOCK_DIMS)):
            children = [
                k for k in shown if k[d][:-1] == key[d] and len(k[d]) == len(key[d]) + 1
                and all(k[e] == key[e] for e in range(len(STOCK_DIMS)) if e != d)
            ]  # fmt: skip
            if children:
                same = [k for k in children if latest[k] == latest[key]]
                assert stock[key] == sum(stock[k] for k in same), (key, same)  # the relation is true
                relations.append((key, same))
    hidden = sorted(k for k, r in shown.items() if r["open_cases:status"])
    primary = [k for k in hidden if shown[k]["open_cases:status"] == "A"]
    col = {k: i for i, k in enumerate(hidden)}
    rows, rhs = [], []
    for total, parts in relations:
        row, b = np.zeros(len(hidden)), 0.0
        for k, sign in [(total, 1.0)] + [(p, -1.0) for p in parts]:
            if k in col:
                row[col[k]] += sign
            else:
                b -= sign * float(shown[k]["open_cases"])
        if row.any():
            rows.append(row)
            rhs.append(b)
        else:
            assert abs(b) < 1e-9  # a relation among shown cells holds in what is published
    persons = all(stock[k] <= real[k]["recipients"] for k in shown)
    bounds = [
        (0, THRESHOLD - 1 if persons and shown[k]["open_cases:status"] == "A" else None) for k in hidden
    ]
    widths: dict[Coord, float] = {}
    for key in primary:
        objective = np.zeros(len(hidden))
        objective[col[key]] = 1.0
        lo = linprog(objective, A_eq=rows or None, b_eq=rhs or None, bounds=bounds, method="highs")
        hi = linprog(-objective, A_eq=rows or None, b_eq=rhs or None, bounds=bounds, method="highs")
        assert lo.status == 0 and hi.status in (0, 3)
        width = float("inf") if hi.status == 3 else -hi.fun - lo.fun
        widths[key] = width / max(1.0, 0.3 * stock[key])
    return {"cells": len(shown), "primary": len(primary), "secondary": len(hidden) - len(primary),
            "shown": len(shown) - len(hidden), "relations": len(rows), "persons": persons,
            "widths": widths}  # fmt: skip


def test_an_attacker_cannot_narrow_a_suppressed_stock(snapshots: tuple[CubeService, Model]) -> None:
    """Month-end snapshots, tables drilling time: every primary cell's stock interval, by the
    attacker's own programs (stock_attack), spans at least the protection level (30 % of its
    stock, at least 1). Before stocks were audited this failed: the pattern of counts and sums
    showed totals whose stock is exactly a primary part's (a quarter's is its last month's)."""
    service, model = snapshots
    found = stock_attack(service, model, STOCK_TABLES)
    widths = found.pop("widths")
    assert found["primary"] and found["secondary"] and found["shown"], found
    assert found["persons"], "a stock of persons: each cell's stock is at most its persons"
    narrow = {k: w for k, w in widths.items() if w < 1 - 1e-6}
    assert not narrow, narrow
    narrowest = min(widths.values())
    print(
        f"stock attacker: {found}, {len(widths)} intervals, narrowest {narrowest:.2f} × the protection level"
    )


def test_a_total_whose_stock_is_a_primary_part_s_is_hidden() -> None:
    """A year of 12 persons whose stock at its latest date (31 December) is its December's, and
    December has 2 persons (primary): the year's stock gives December's exactly. Audited on
    counts alone (the cells without stocks: the old audit) the year stays shown; with the
    stocks audited it is hidden too."""
    import datetime as dt

    from labis_olap.service.suppression import PRIMARY, SECONDARY, TableCell, protect

    year = ((),)
    months = [((f"{m:02d}",),) for m in range(1, 13)]

    def cells(stocks: bool) -> list[TableCell]:
        out = [TableCell(year, 12, {}, {"stock": 2.0} if stocks else {}, dt.date(2024, 12, 31))]
        for m, coord in enumerate(months, 1):
            n = 2 if m == 12 else 5  # each month's stock: its persons at its month-end
            out.append(
                TableCell(
                    coord, n, {}, {"stock": float(n)} if stocks else {}, dt.date(2024, m, 28 + 3 * (m == 12))
                )
            )
        return out

    counts_only = protect(cells(False), THRESHOLD, zeros_disclosive=False, distinct=True, protection=0.3)
    assert counts_only.of(months[-1]) == PRIMARY and counts_only.of(year) is None
    audited = protect(cells(True), THRESHOLD, zeros_disclosive=False, distinct=True, protection=0.3)
    assert audited.of(months[-1]) == PRIMARY and audited.of(year) == SECONDARY
    assert audited.narrowest >= 1


def test_a_stock_relation_the_data_break_refuses_the_table() -> None:
    """A relation that does not hold (here a total's stock is not its latest part's) is never
    put in the attacker's program silently: the table is refused."""
    import datetime as dt

    from labis_olap.service.suppression import InconsistentStock, TableCell, protect

    day = dt.date(2024, 12, 31)
    cells = [
        TableCell(((),), 6, {}, {"stock": 5.0}, day),
        TableCell((("a",),), 2, {}, {"stock": 2.0}, day),
        TableCell((("b",),), 4, {}, {"stock": 4.0}, day),
    ]
    with pytest.raises(InconsistentStock, match="not the sum of its parts"):
        protect(cells, THRESHOLD, zeros_disclosive=False, distinct=True, protection=0.3)


def test_a_small_total_of_primary_parts_is_protected_as_far_as_its_statuses_allow() -> None:
    """Threshold 5: sector D has 4 persons over three years of 1, 1 and 2 (all primary): whatever else is
    hidden, the attacker knows D is at least 3 (three non-empty parts, each at least 1) and at
    most 4 (its own `A`), narrower than 30 % of 4. No pattern can widen that: the table is
    published, D's count as wide as its statuses leave it. Four parts of 1 would pin D's 4
    exactly: refused."""
    from labis_olap.service.suppression import PRIMARY, TableCell, Unprotectable, protect

    def table(d_years: list[int]) -> list[TableCell]:
        c_years = [10, 8, 8, 9][: len(d_years)]
        years = [f"{2022 + i}" for i in range(len(d_years))]
        out = [TableCell(((), ()), sum(d_years) + sum(c_years), {})]
        out += [TableCell(((), ("D",)), sum(d_years), {}), TableCell(((), ("C",)), sum(c_years), {})]
        for y, d, c in zip(years, d_years, c_years, strict=True):
            out.append(TableCell(((y,), ()), d + c, {}))
            out += [TableCell(((y,), ("D",)), d, {}), TableCell(((y,), ("C",)), c, {})]
        return out

    pattern = protect(table([1, 1, 2]), 5, zeros_disclosive=False, distinct=False, protection=0.3)
    assert pattern.of(((), ("D",))) == PRIMARY and pattern.status_limited == 1
    assert all(pattern.of(((y,), ("D",))) == PRIMARY for y in ("2022", "2023", "2024"))
    with pytest.raises(Unprotectable):
        protect(table([1, 1, 1, 1]), 5, zeros_disclosive=False, distinct=False, protection=0.3)


def test_a_pattern_being_made_holds_up_only_its_own_table() -> None:
    """Cube A's pattern waits until cube B's is made: with one lock for all patterns this
    deadlocks (B would wait for A); each is still made once, however many ask."""
    import threading

    from labis_olap.service.disclosure import Patterns
    from labis_olap.service.suppression import Pattern

    patterns, b_made, made = Patterns.new(), threading.Event(), {"A": 0, "B": 0}

    def make_a() -> Pattern:
        made["A"] += 1
        assert b_made.wait(10), "B's pattern was held up by A's"
        return Pattern()

    def make_b() -> Pattern:
        made["B"] += 1
        b_made.set()
        return Pattern()

    threads = [threading.Thread(target=patterns.get, args=("A", make_a)) for _ in range(3)]
    for t in threads:
        t.start()
    patterns.get("B", make_b)
    for t in threads:
        t.join(15)
    assert made == {"A": 1, "B": 1} and not any(t.is_alive() for t in threads)
    assert patterns.get("A", make_a) is patterns.items["A"]


def test_a_request_waits_for_a_pattern_being_made_no_longer_than_its_time_limit() -> None:
    """While one request makes a pattern, another waits at most its time limit, then is told to
    ask again; the pattern, once made, is there for the next. A timeout while making one is not
    kept: the next request makes it again."""
    import threading

    from labis_olap.errors import QueryTimeoutError
    from labis_olap.service.disclosure import Patterns
    from labis_olap.service.suppression import Pattern

    patterns, go, started = Patterns.new(), threading.Event(), threading.Event()

    def slow() -> Pattern:
        started.set()
        go.wait(10)
        return Pattern()

    maker = threading.Thread(target=patterns.get, args=("A", slow))
    maker.start()
    assert started.wait(10)
    with pytest.raises(QueryTimeoutError, match="still being computed"):
        patterns.get("A", slow, cube="benefits", wait=0.2)
    go.set()
    maker.join(10)
    assert patterns.get("A", slow, wait=0.2) is patterns.items["A"]

    def timed_out() -> Pattern:
        raise QueryTimeoutError("the query ran past the server's time limit")

    with pytest.raises(QueryTimeoutError):
        patterns.get("B", timed_out)
    assert "B" not in patterns.items and isinstance(patterns.get("B", Pattern), Pattern)


def test_the_audit_writes_nothing_to_stdout() -> None:
    """HiGHS' banner would land in a CSV that `labis query` writes to stdout, or in the JSON log:
    a fresh process (it is written once per process) audits a table and prints nothing."""
    import subprocess
    import sys

    script = (
        "from labis_olap.service.suppression import TableCell, protect\n"
        "cells = [TableCell(((),), 7, {'v': 7.0}), TableCell((('a',),), 2, {'v': 2.0}),"
        " TableCell((('b',),), 5, {'v': 5.0})]\n"
        "assert protect(cells, 5, zeros_disclosive=False, distinct=False, protection=0.3).primary == 1\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == "", (done.stdout, done.stderr)


UNPUBLISHED = ["min_amount", "max_amount", "gmi_amount", "gmi_recipients", "recipients_approx", "gmi_share"]
"""What suppression cannot protect (min, max, filtered, approximate, and a calculated measure on
them): empty with status `N` for publication roles."""
PUBLISHED = ["amount", "payments", "avg_amount", "recipients", "open_cases", "amount_per_recipient"]


def check_not_published(row: dict[str, Any], where: str) -> None:
    for m in UNPUBLISHED:
        assert row[m] is None and row[f"{m}:status"] == "N", (where, m, row)
    status = row["recipients:status"]
    assert status in (None, "A", "D"), (where, row)
    for m in PUBLISHED:  # published ones keep their cell's status (a shown cell: a value)
        assert row[f"{m}:status"] == status, (where, m, row)
        if status:
            assert row[m] is None, (where, m, row)


@pytest.mark.parametrize("data", ["payments", "snapshots"])
def test_measures_suppression_cannot_protect_are_not_published(
    service: CubeService, snapshots: tuple[CubeService, Model], data: str
) -> None:
    """Every cell, subtotal and the grand total of a table, through the service: the
    unprotectable measures `N`, the others as their cell; the analyst gets them all. (On the
    payments every cell is hidden: the latest month, December 2025, has two persons, and every
    total's stock is its latest month's. The snapshots show cells.)"""
    measures = (*UNPUBLISHED, *PUBLISHED)
    if data == "snapshots":
        service = snapshots[0]
    table = TABLE if data == "payments" else STOCK_TABLES[0]
    query = CubeQuery(CUBE, measures, drilldowns=parse_drilldowns(table), subtotals="cube")
    published = service.aggregate(query, PUBLIC)
    shown = 0
    for rows in [published.cells, *(s.rows for s in published.subtotals)]:
        for row in rows.to_pylist():
            check_not_published(row, "cell")
            shown += row["recipients:status"] is None
    assert published.summary is not None
    check_not_published(published.summary, "summary")
    assert shown or data == "payments", "some cells are shown, their published measures with values"
    truth = service.aggregate(query, ANALYST)
    assert truth.summary is not None and all(truth.summary[m] is not None for m in measures)


@pytest.mark.parametrize("fast", [True, False], ids=["fast_path", "fastapi"])
def test_unprotectable_measures_are_not_published_on_any_path(
    model: Model, engine: Engine, data_dir: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    """The same through REST: JSON (cells and summary), CSV and Parquet, fast path or not."""
    agg = (
        f"/cube/{CUBE}/aggregate?drilldown=territory:municipality|time:year"
        f"&aggregates={'|'.join((*UNPUBLISHED, *PUBLISHED))}"
    )
    with switched_client(model, engine, data_dir, monkeypatch, fast) as (c, principal):
        got = c.get(agg)
        assert got.status_code == 200, got.text[:300]
        check_not_published(got.json()["summary"], "json summary")
        for fmt in ("json", "csv", "parquet"):
            cells = published_cells(c, f"{agg}&format={fmt}")
            assert cells
            for cell in cells:
                check_not_published(cell, fmt)
        principal[0] = ANALYST
        assert all(r["min_amount"] is not None for r in c.get(agg).json()["cells"])
