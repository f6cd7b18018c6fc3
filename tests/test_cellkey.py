"""The cell key method (disclosure `method: cell_key`): perturbed counts for publication roles.

A cube of its own (the mini model's dimensions and cube, with cell key rules, four publication
tables and one indicator) filled with generated payments: 1,500 payments to 400 persons, whose
pseudonyms are in the persons dictionary as a load leaves them. Every published count is
checked against the ONS `cell-key-perturbation` package run on the same microdata (one row per
person and cell), the same record keys (privacy.record_key of each pseudonym) and the same
p-table (the default, written as the model's CSV file); the p-table rule alone also on counts
past the table's end and on the package's own 10-5 table. Then: facts and rollups give the
same counts; JSON (fast path and FastAPI), CSV, XLSX, Parquet, /report, the indicator, SDMX-CSV
and MDX give the service's; one cell asked many ways has one value; over Hypothesis-generated
queries no answer shows a count under the threshold."""

from __future__ import annotations

import csv
import io
import random
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cell_key_perturbation.create_perturbed_table import create_perturbed_table
from conftest import fresh_database, make_engine
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labis_olap.api import create_app, deps
from labis_olap.compiler.apply import apply_model
from labis_olap.engine.base import Engine
from labis_olap.errors import ModelError
from labis_olap.model.cut_grammar import parse_cuts, parse_drilldowns
from labis_olap.model.definition import Model
from labis_olap.model.ptable import default_ptable, read_ptable
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import CubeLayout
from labis_olap.privacy import pseudonym_hex, record_key, record_key_sql
from labis_olap.query.cell import CubeQuery
from labis_olap.service import CubeService, Principal
from labis_olap.service.cellkey import NOT_PUBLISHED, PERTURBED, Perturbation
from labis_olap.settings import Settings

MINI = Path(__file__).parent / "fixtures" / "mini_model"
CUBE = "benefits"
THRESHOLD = 4
KEY = b"cell key test key, 32 bytes long"
TABLES = [
    "territory:municipality|time:year|gender",
    "territory:region|time:quarter",
    "benefit_type:category",
    "territory:municipality|time:month|benefit_type:benefit_type",
]
RULES = f"""
disclosure:
  method: cell_key
  threshold: {THRESHOLD}
  ptable: ptable.csv
  tables: {TABLES}
"""
ROLES = {
    "public": "role: public\ncubes: [{cube: benefits}]\n",
    "analyst": "role: analyst\ncubes: [{cube: '*', microdata: true}]\n",
}
INDICATORS = """
indicators:
  - {code: T-001, name: {lv: Saņēmēji, en: Recipients}, type: monitoring, source_institution: LM,
     periodicity: annual, unit: persons, cube: benefits, measure: recipients}
"""
PUBLIC = Principal("visitor")
ANALYST = Principal("anna", frozenset({"analyst", "public"}))
MUNICIPALITIES = {"M1": "R1", "M3": "R2"}  # not M2: it changes region in 2024
BENEFITS = {"housing": "assist", "gmi": "assist", "child": "family"}


def write_ptable(path: Path) -> None:
    """The default p-table as a CSV file (the ONS form)."""
    table = default_ptable(THRESHOLD)
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["pcv", "ckey", "pvalue"])
        for (pcv, ckey), pvalue in sorted(table.noise.items()):
            out.writerow([pcv, ckey, pvalue])


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Model:
    root = tmp_path_factory.mktemp("cellkey_model") / "model"
    shutil.copytree(MINI, root)
    cube = root / "cubes" / "benefits.yaml"
    cube.write_text(cube.read_text() + textwrap.dedent(RULES))
    write_ptable(root / "ptable.csv")
    (root / "indicators").mkdir()
    (root / "indicators" / "indicators.yaml").write_text(INDICATORS)
    (root / "roles").mkdir()
    for name, text in ROLES.items():
        (root / "roles" / f"{name}.yaml").write_text(text)
    return read_model(root)


def generated() -> tuple[pa.Table, dict[int, str]]:
    """Payments (fact rows, persons as dense numbers) and each person's pseudonym."""
    rng = random.Random(13)
    persons = {n: pseudonym_hex(f"{100000 + n:06d}-{n:05d}", KEY) for n in range(1, 401)}
    home = {n: (rng.choice(list(MUNICIPALITIES)), rng.choice("MF")) for n in persons}
    rows: dict[str, list[Any]] = {k: [] for k in ("paid_on", "municipality", "gender", "benefit", "person")}
    for _ in range(1500):
        n = rng.choice(list(persons)[: rng.choice([40, 400])])  # some persons get many payments
        municipality, gender = home[n]
        import datetime as dt

        rows["paid_on"].append(dt.date(2023, 1, 1) + dt.timedelta(days=rng.randrange(730)))
        rows["municipality"].append(municipality)
        rows["gender"].append(gender)
        rows["benefit"].append(rng.choice(list(BENEFITS)))
        rows["person"].append(n)
    size = len(rows["person"])
    table = pa.table(
        {
            **{k: pa.array(v) for k, v in rows.items() if k != "person"},
            "person": pa.array(rows["person"], pa.uint64()),
            "amount": pa.array([100] * size, pa.decimal128(18, 2)),
            "open_cases": pa.array([1] * size, pa.int32()),
        }
    )
    return table, persons


@pytest.fixture(scope="module")
def data() -> tuple[pa.Table, dict[int, str]]:
    return generated()


@pytest.fixture(scope="module")
def engine(data_dir: Path, model: Model, data: tuple[pa.Table, dict[int, str]]) -> Iterator[Engine]:
    eng = make_engine("embedded", data_dir, fresh_database("cellkey"))
    apply_model(model, eng)
    facts, persons = data
    layout = CubeLayout(model, model.cubes[CUBE], eng.database)
    eng.insert_arrow(layout.facts_table, facts.select([c.name for c in model.cubes[CUBE].columns]))
    eng.insert_arrow(
        "persons",
        pa.table({"person_num": pa.array(list(persons), pa.uint64()), "pseudonym": list(persons.values())}),
    )
    yield eng
    eng.execute(f"DROP DATABASE IF EXISTS `{eng.database}`")


@pytest.fixture(scope="module")
def service(model: Model, engine: Engine) -> CubeService:
    return CubeService(model, engine)


def ask(service: CubeService, who: Principal, drill: str, cut: str = "", subtotals: str = "none") -> Any:
    query = CubeQuery(
        CUBE,
        ("recipients", "amount", "payments"),
        parse_cuts(cut),
        parse_drilldowns(drill),
        subtotals=subtotals,
    )
    return service.aggregate(query, who)


def microdata(facts: pa.Table, persons: dict[int, str]) -> pd.DataFrame:
    """One row per payment with every variable of the tables and the person's record key."""
    frame = facts.select(["paid_on", "municipality", "gender", "benefit", "person"]).to_pandas()
    frame["year"] = frame["paid_on"].map(lambda d: d.year)
    frame["quarter"] = frame["paid_on"].map(lambda d: f"{d.year}-Q{(d.month - 1) // 3 + 1}")
    frame["month"] = frame["paid_on"].map(lambda d: f"{d.year}-{d.month:02d}")
    frame["region"] = frame["municipality"].map(MUNICIPALITIES)
    frame["category"] = frame["benefit"].map(BENEFITS)
    frame["record_key"] = frame["person"].map(lambda n: record_key(persons[n]))
    frame["all"] = "all"
    return frame


def ons_counts(frame: pd.DataFrame, variables: list[str], ptable: pd.DataFrame) -> dict[tuple[Any, ...], Any]:
    """The ONS package's published counts of distinct persons by `variables` (a person is one
    statistical unit per cell: one row per person and cell)."""
    units = frame.drop_duplicates([*variables, "person"]) if variables else frame.drop_duplicates(["person"])
    tab = variables or ["all"]
    out = create_perturbed_table(
        data=units, ptable=ptable, geog=[], tab_vars=tab, record_key="record_key", threshold=THRESHOLD
    )
    out = out[out["pre_sdc_count"] > 0]
    return {
        tuple(r[v] for v in variables): (None if pd.isna(r["count"]) else int(r["count"]))
        for _, r in out.iterrows()
    }


def test_record_keys_are_the_pseudonyms_in_python_and_sql(engine: Engine) -> None:
    pseudonyms = ["", "00ff", pseudonym_hex("010101-12345", KEY)]
    got = engine.query(
        f"SELECT {record_key_sql('p')} AS k FROM (SELECT arrayJoin({{ps:Array(String)}}) AS p)",
        {"ps": pseudonyms},
    ).column("k")
    assert got.to_pylist() == [record_key(p) for p in pseudonyms]
    keys = [record_key(pseudonym_hex(str(n), KEY)) for n in range(2000)]
    assert min(keys) == 0 and max(keys) == 255  # the whole range, from pseudonyms


def test_the_ptable_file_is_the_default_table(model: Model) -> None:
    assert read_ptable(model.root / "ptable.csv") == default_ptable(THRESHOLD)


CASES = [
    ("territory:municipality|time:year|gender", ["municipality", "year", "gender"]),
    ("territory:municipality|gender", ["municipality", "gender"]),
    ("time:year", ["year"]),
    ("territory:region|time:quarter", ["region", "quarter"]),
    ("benefit_type:category", ["category"]),
    ("territory:municipality|time:month|benefit_type:benefit_type", ["municipality", "month", "benefit"]),
    ("", []),
]


@pytest.mark.parametrize(("drill", "variables"), CASES)
def test_published_counts_equal_the_ons_package(
    service: CubeService,
    model: Model,
    data: tuple[pa.Table, dict[int, str]],
    drill: str,
    variables: list[str],
) -> None:
    facts, persons = data
    ptable = pd.read_csv(model.root / "ptable.csv")
    expected = ons_counts(microdata(facts, persons), variables, ptable)
    cells = ask(service, PUBLIC, drill)
    names = {"municipality": "territory.municipality", "year": "time.year", "gender": "gender.gender",
             "region": "territory.region", "category": "benefit_type.category",
             "benefit": "benefit_type.benefit_type"}  # fmt: skip

    def value(r: dict[str, Any], v: str) -> Any:
        if v == "quarter":
            return f"{r['time.year']}-Q{r['time.quarter']}"
        if v == "month":
            return f"{r['time.year']}-{r['time.month']:02d}"
        return r[names[v]]

    rows = cells.cells.to_pylist() if drill else [cells.summary]
    got = {tuple(value(r, v) for v in variables): r["recipients"] for r in rows}
    assert got == expected
    if "month" in variables:
        assert None in got.values(), "the table must have small cells"
    for r in rows:
        assert r["recipients:status"] == (PERTURBED if r["recipients"] is not None else "A")
        assert r["amount"] is None and r["amount:status"] == NOT_PUBLISHED
        assert r["payments"] is None and r["payments:status"] == NOT_PUBLISHED


def test_some_counts_are_perturbed(service: CubeService) -> None:
    """The noise is real: published and true counts differ somewhere, never by more than 2."""
    true = {tuple(r[:3]): r[3] for r in _rows(ask(service, ANALYST, TABLES[0]))}
    published = {tuple(r[:3]): r[3] for r in _rows(ask(service, PUBLIC, TABLES[0]))}
    shown = {k: v for k, v in published.items() if v is not None}
    assert shown and any(v != true[k] for k, v in shown.items())
    assert all(abs(v - true[k]) <= 2 for k, v in shown.items())


def _rows(cells: Any) -> list[tuple[Any, ...]]:
    return [
        (r["territory.municipality"], r["time.year"], r["gender.gender"], r["recipients"])
        for r in cells.cells.to_pylist()
    ]


def test_facts_and_rollups_publish_the_same_counts(
    model: Model, engine: Engine, service: CubeService
) -> None:
    """The region × quarter table is read from a rollup's bitmaps; without rollups from the
    facts: the same cell keys, the same published counts."""
    without = CubeService(model, engine, use_rollups=False)
    for drill in ("territory:region|time:quarter", "territory:municipality|time:year|gender"):
        a = ask(service, PUBLIC, drill, subtotals="cube")
        b = ask(without, PUBLIC, drill, subtotals="cube")
        assert a.cells.to_pylist() == b.cells.to_pylist()
        assert [s.rows.to_pylist() for s in a.subtotals] == [s.rows.to_pylist() for s in b.subtotals]
        assert a.summary == b.summary
    pa_, pb = (s._pattern(_protection(s)) for s in (service, without))
    assert isinstance(pa_, Perturbation) and isinstance(pb, Perturbation)
    assert pa_.counts == pb.counts and pa_.published == pb.published


def _protection(service: CubeService) -> Any:
    return service._protection(service.model.cubes[CUBE], None, CubeQuery(CUBE))


def test_the_rollup_is_read(model: Model, engine: Engine, service: CubeService) -> None:
    """Guard for the test above: the cell keys of region × quarter really come from a rollup."""
    from labis_olap.service.cellkey import CELL_KEY

    protect = _protection(service)
    run = protect.executor_for(service.executor)
    layout = run.layout(CUBE)
    from labis_olap.query.planner import choose_stored, needs_of
    from labis_olap.query.resolve import resolve_drilldown

    drills = [
        resolve_drilldown(model, layout.cube, d, [])
        for d in parse_drilldowns("territory:region|time:quarter")
    ]
    shape = choose_stored(layout, needs_of(layout, [layout.cube.measure(CELL_KEY)], [], drills, None))
    assert shape.name == "by_region_quarter"


def test_the_same_cell_asked_many_ways_gets_one_value(service: CubeService) -> None:
    """An averaging attack gets nothing: every way of asking one cell gives one value."""
    ways = [
        ("territory:municipality|time:year|gender", "", "none"),
        ("territory:municipality|time:year|gender", "", "cube"),
        ("territory:municipality|gender", "time:2024", "none"),
        ("gender", "territory:R1,M1|time:2024", "none"),
        ("time:year", "territory:R1,M1|gender:F", "none"),
        ("", "territory:R1,M1|time:2024|gender:F", "none"),
        ("territory:municipality", "time:2024|gender:F", "rollup"),
    ]
    values = set()
    for drill, cut, subtotals in ways:
        cells = ask(service, PUBLIC, drill, cut, subtotals)
        rows = cells.cells.to_pylist() if drill else [cells.summary]
        for r in rows:
            if (
                r.get("territory.municipality", "M1") == "M1"
                and r.get("gender.gender", "F") == "F"
                and r.get("time.year", 2024) == 2024
            ):
                values.add(r["recipients"])
    assert len(values) == 1


LEVELS = [
    "territory:region",
    "territory:municipality",
    "time:year",
    "time:quarter",
    "gender",
    "benefit_type:category",
]
CUTS = ["", "time:2023", "time:2024", "gender:F", "territory:R1", "benefit_type:assist", "territory:R1;R2"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drills=st.lists(st.sampled_from(LEVELS), max_size=3, unique=True), cut=st.sampled_from(CUTS),
       subtotals=st.sampled_from(["none", "cube"]))  # fmt: skip
def test_no_public_answer_shows_a_count_under_the_threshold(
    service: CubeService, drills: list[str], cut: str, subtotals: str
) -> None:
    from labis_olap.errors import QueryError

    aliases = [d.split(":")[0] for d in drills]
    if len(set(aliases)) < len(aliases):
        return
    try:
        cells = ask(service, PUBLIC, "|".join(drills), cut, subtotals)
    except QueryError:
        return  # not a cell of a publication table: refused (tests/test_disclosure.py)
    rows = [*cells.cells.to_pylist(), *(r for s in cells.subtotals for r in s.rows.to_pylist())]
    rows.append(cells.summary or {})
    for r in rows:
        value = r.get("recipients")
        assert value is None or value == 0 or value >= THRESHOLD, r
        assert r.get("amount") is None


def test_the_analyst_gets_true_counts(service: CubeService, engine: Engine, model: Model) -> None:
    table = CubeLayout(model, model.cubes[CUBE], engine.database).facts_table
    n = (
        engine.query(f"SELECT uniqExact(person) AS n FROM `{engine.database}`.`{table}`")
        .column("n")[0]
        .as_py()
    )
    assert ask(service, ANALYST, "").summary["recipients"] == n
    assert ask(service, ANALYST, "").summary.get("recipients:status") is None


def _published(got: Any, fmt: str) -> list[dict[str, Any]]:
    assert got.status_code == 200, got.text[:300]
    if fmt == "json":
        cells: list[dict[str, Any]] = got.json()["cells"]
        return cells
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(got.text)))
        return [{k: (None if v == "" else v) for k, v in r.items()} for r in rows]
    return pq.read_table(io.BytesIO(got.content)).to_pylist()


@pytest.mark.parametrize("fast", [True, False], ids=["fast_path", "fastapi"])
def test_every_way_in_publishes_the_same_counts(
    model: Model,
    engine: Engine,
    service: CubeService,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    fast: bool,
) -> None:
    """JSON (the fast path and FastAPI's route), CSV, Parquet, /report and SDMX-CSV give the
    service's published counts, from the rollup-read region × quarter table and the
    facts-read municipality × year × gender one alike."""
    principal = [PUBLIC]
    monkeypatch.setattr(deps, "principal_of", lambda scope: principal[0])
    settings_ = Settings(model_dir=model.root, data_dir=data_dir, database=engine.database)
    with TestClient(create_app(settings_, model, engine, fast_path=fast), raise_server_exceptions=False) as c:
        for drill, keys in (
            ("territory:region|time:quarter", ("territory.region", "time.year", "time.quarter")),
            (
                "territory:municipality|time:year|gender",
                ("territory.municipality", "time.year", "gender.gender"),
            ),
        ):
            cells = ask(service, PUBLIC, drill).cells.to_pylist()
            expected = {tuple(str(r[k]) for k in keys): r["recipients"] for r in cells}
            agg = f"/cube/{CUBE}/aggregate?drilldown={drill}&aggregates=recipients|amount"
            for fmt in ("json", "csv", "parquet"):
                got = _published(c.get(f"{agg}&format={fmt}"), fmt)
                counts = {
                    tuple(str(r[k]) for k in keys): (
                        None if r["recipients"] is None else int(r["recipients"])
                    )
                    for r in got
                }
                assert counts == expected, fmt
                assert all(r["amount"] is None and r["amount:status"] == NOT_PUBLISHED for r in got)
                assert {r["recipients:status"] for r in got} <= {PERTURBED, "A"}
            indicator = c.get(f"/indicator/T-001?drilldown={drill}").json()["cells"]
            assert {tuple(str(r[k]) for k in keys): r["recipients"] for r in indicator} == expected
            book = openpyxl.load_workbook(io.BytesIO(c.get(f"{agg}&format=xlsx").content), read_only=True)
            sheet = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
            head, body = sheet[0], sheet[1:]
            by_xlsx = [dict(zip(head, r, strict=True)) for r in body]
            assert sorted(r["recipients"] for r in by_xlsx if r["recipients"] is not None) == sorted(
                v for v in expected.values() if v is not None
            )
            assert {r["recipients:status"] for r in by_xlsx} <= {PERTURBED, "A"}
            report = {
                "queries": {
                    "a": {"query": "aggregate", "drilldown": drill.split("|"), "aggregates": ["recipients"]}
                }
            }
            cells_ = c.post(f"/cube/{CUBE}/report", json=report).json()["a"]["cells"]
            assert {tuple(str(r[k]) for k in keys): r["recipients"] for r in cells_} == expected
            sdmx = list(csv.DictReader(io.StringIO(c.get(f"{agg}&format=sdmx-csv").text)))
            counts_ = [r for r in sdmx if r["MEASURE"] == "recipients"]
            assert sorted(int(r["OBS_VALUE"]) for r in counts_ if r["OBS_VALUE"]) == sorted(
                v for v in expected.values() if v is not None
            )
            assert {(r["OBS_STATUS"], r["CONF_STATUS"]) for r in counts_ if r["OBS_VALUE"]} == {("E", "F")}
            assert {r["CONF_STATUS"] for r in counts_ if not r["OBS_VALUE"]} <= {"A"}
            assert {r["CONF_STATUS"] for r in sdmx if r["MEASURE"] == "amount"} == {NOT_PUBLISHED}
        assert c.get(f"/cube/{CUBE}/facts").status_code == 403
        principal[0] = ANALYST
        truth = c.get(f"/cube/{CUBE}/aggregate?aggregates=recipients").json()["summary"]
        assert truth["recipients"] == len({*engine_persons(engine, model)})


def engine_persons(engine: Engine, model: Model) -> list[int]:
    table = CubeLayout(model, model.cubes[CUBE], engine.database).facts_table
    return (
        engine.query(f"SELECT DISTINCT person FROM `{engine.database}`.`{table}`")
        .column("person")
        .to_pylist()
    )


def test_cell_key_rules_are_validated_with_located_errors(tmp_path: Path) -> None:
    """E131: a cube without persons (no pseudonyms, no record keys) and a p-table that is not
    a file of the model folder, each at its line."""
    root = tmp_path / "model"
    shutil.copytree(MINI, root)
    cube = root / "cubes" / "benefits.yaml"
    text = cube.read_text().replace("{name: person, type: person}", "{name: person, type: int}")
    cube.write_text(text + textwrap.dedent(RULES.replace("ptable.csv", "../outside.csv")))
    (tmp_path / "outside.csv").write_text("pcv,ckey,pvalue\n1,0,-1\n")
    with pytest.raises(ModelError) as info:
        read_model(root)
    text = info.value.rendered
    assert "E131" in text and "counts records" in text and "benefits.yaml:" in text
    assert "'../outside.csv' is not a file of the model folder" in text
    (root / "bad.csv").write_text("pcv,ckey,pvalue\n3,0,-4\n")
    cube.write_text(cube.read_text().replace("../outside.csv", "bad.csv"))
    with pytest.raises(ModelError) as info:
        read_model(root)
    assert "bad.csv:2: pvalue -4 would make the count 3 negative" in info.value.rendered
    cube.write_text(cube.read_text().replace("method: cell_key", "method: suppression"))
    with pytest.raises(ModelError) as info:
        read_model(root)
    assert "a p-table perturbs counts only under `method: cell_key`" in info.value.rendered


def test_mdx_publishes_the_same_counts(service: CubeService) -> None:
    """MDX asks the cube service: its cells are the published counts, perturbed alike."""
    from labis_olap.mdx.evaluate import execute

    text = """SELECT {[Measures].[recipients]} ON 0,
        [territory].[region].[municipality].Members ON 1 FROM [benefits]"""
    result = execute(service, PUBLIC, text)
    rows = ask(service, PUBLIC, "territory:municipality").cells.to_pylist()
    expected = [r["recipients"] for r in rows]
    assert [c.value for c in result.cells if c.value is not None] == expected  # no payments: empty
    assert len(expected) == len(MUNICIPALITIES)


def test_persons_loaded_later_get_their_record_keys(
    data_dir: Path, model: Model, data: tuple[pa.Table, dict[int, str]]
) -> None:
    """A contributor without a pseudonym is refused, never counted with a made-up key; once the
    persons are there (a later load), the record keys' dictionary is reloaded and the counts
    are those of the module's engine, which had them from the start."""
    from labis_olap.errors import QueryError

    eng = make_engine("embedded", data_dir, fresh_database("cellkey_late"))
    try:
        apply_model(model, eng)
        facts, persons = data
        layout = CubeLayout(model, model.cubes[CUBE], eng.database)
        eng.insert_arrow(layout.facts_table, facts.select([c.name for c in model.cubes[CUBE].columns]))
        half = dict(list(persons.items())[:200])
        eng.insert_arrow(
            "persons",
            pa.table({"person_num": pa.array(list(half), pa.uint64()), "pseudonym": list(half.values())}),
        )
        late = CubeService(model, eng)
        with pytest.raises(QueryError, match="no pseudonym"):
            ask(late, PUBLIC, "time:year")
        rest = {n: p for n, p in persons.items() if n not in half}
        eng.insert_arrow(
            "persons",
            pa.table({"person_num": pa.array(list(rest), pa.uint64()), "pseudonym": list(rest.values())}),
        )
        expected = ons_counts(microdata(facts, persons), ["year"], pd.read_csv(model.root / "ptable.csv"))
        got = {(r["time.year"],): r["recipients"] for r in ask(late, PUBLIC, "time:year").cells.to_pylist()}
        assert got == expected
    finally:
        eng.execute(f"DROP DATABASE IF EXISTS `{eng.database}`")


@pytest.mark.parametrize("table", ["ons_10_5", "default"])
def test_ptable_rows_and_large_counts_as_the_ons_package(tmp_path: Path, table: str) -> None:
    """The p-table rule alone, on counts past the table's end (the ONS package reuses rows
    501–750 for counts over 750) and on the package's own 10-5 table: LabIS's `published`
    of (count, sum of record keys mod 256), under the threshold hidden, equals the package's."""
    from cell_key_perturbation.utils.generate_test_ptable import generate_ptable_10_5_rule

    from labis_olap.model.ptable import CELL_KEYS

    path = tmp_path / "ptable.csv"
    if table == "ons_10_5":
        generate_ptable_10_5_rule().to_csv(path, index=False)
        threshold = 10
    else:
        write_ptable(path)
        threshold = THRESHOLD
    rng = random.Random(7)
    sizes = [1, 2, 3, 9, 10, 11, 499, 750, 751, 1000, 1249, 1250, 1251, 2003]
    sizes += [rng.randrange(1, 2500) for _ in range(20)]
    rows = [(cell, rng.randrange(CELL_KEYS)) for cell, size in enumerate(sizes) for _ in range(size)]
    frame = pd.DataFrame(rows, columns=["cell", "record_key"])
    ons = create_perturbed_table(
        data=frame,
        ptable=pd.read_csv(path),
        geog=[],
        tab_vars=["cell"],
        record_key="record_key",
        threshold=threshold,
    )
    expected = {int(r["cell"]): (None if pd.isna(r["count"]) else int(r["count"])) for _, r in ons.iterrows()}
    ptable = read_ptable(path)
    got = {}
    for cell, part in frame.groupby("cell"):
        value = ptable.published(len(part), int(part["record_key"].sum()) % CELL_KEYS)
        got[int(cell)] = value if value >= threshold else None
    assert got == expected
    assert any(v is not None and v != s for v, s in zip(got.values(), sizes, strict=True))


def test_rest_and_exports_from_facts_equal_those_from_rollups(
    model: Model, engine: Engine, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same model without rollups, on a database of its own with the same facts and
    persons: every cell through REST (JSON and CSV, every margin) is read from the facts there
    and from rollups here, and publishes the same counts."""
    text = (model.root / "cubes" / "benefits.yaml").read_text()
    root = model.root.parent.parent / "cellkey_model_without_rollups"
    if not root.exists():
        shutil.copytree(model.root, root)
        start, end = text.index("rollups:\n"), text.index("disclosure:\n")
        (root / "cubes" / "benefits.yaml").write_text(text[:start] + text[end:])
    plain = read_model(root)
    assert not plain.cubes[CUBE].rollups and model.cubes[CUBE].rollups
    eng = make_engine("embedded", data_dir, fresh_database("cellkey_facts"))
    try:
        apply_model(plain, eng)
        facts, persons = generated()
        eng.insert_arrow(CubeLayout(plain, plain.cubes[CUBE], eng.database).facts_table, facts)
        eng.insert_arrow(
            "persons",
            pa.table(
                {"person_num": pa.array(list(persons), pa.uint64()), "pseudonym": list(persons.values())}
            ),
        )
        monkeypatch.setattr(deps, "principal_of", lambda scope: PUBLIC)
        drill = "territory:region|time:quarter"
        url = f"/cube/{CUBE}/aggregate?drilldown={drill}&aggregates=recipients&subtotals=cube"
        answers = []
        for m, e in ((model, engine), (plain, eng)):
            s = Settings(model_dir=m.root, data_dir=data_dir, database=e.database)
            with TestClient(create_app(s, m, e), raise_server_exceptions=False) as c:
                body = c.get(url).json()
                answers.append(
                    (body["cells"], body["summary"], body.get("subtotals"), c.get(url + "&format=csv").text)
                )
        assert answers[0] == answers[1]
        assert any(cell["recipients"] for cell in answers[0][0])
    finally:
        eng.execute(f"DROP DATABASE IF EXISTS `{eng.database}`")
