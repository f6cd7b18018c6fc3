"""The indicator routes /indicators and /indicator/<code> on demo data (real embedded chDB).

An indicator's data must be exactly its cube's /aggregate for its measure under its fixed cuts,
whatever the drilldown, cut or as_of; the catalogue's search must find by code, name (either
language, without diacritics), source and type.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import analyst_client, demo_settings, fresh_database, make_engine
from fastapi.testclient import TestClient

from labis_olap.api import create_app
from labis_olap.api.indicators import IndicatorBrief, IndicatorResponse
from labis_olap.api.web.i18n import STRINGS
from labis_olap.demo.load import load_demo
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model() -> Model:
    return read_model(ROOT / "model")


@pytest.fixture(scope="module")
def client(model: Model, data_dir: Path) -> Iterator[TestClient]:
    engine = make_engine("embedded", data_dir, fresh_database("ind"))
    load_demo(model, engine, 20_000, seed=5)
    settings = demo_settings(data_dir, engine)
    with analyst_client(create_app(settings, model, engine), raise_server_exceptions=False) as c:
        yield c
    engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


def ok(client: TestClient, url: str, **params: Any) -> Any:
    r = client.get(url, params=params)
    assert r.status_code == 200, (url, params, r.text)
    return r.json()


def err(client: TestClient, url: str, status: int, error: str, **params: Any) -> dict[str, Any]:
    r = client.get(url, params=params)
    assert r.status_code == status, (url, params, r.text)
    body = r.json()
    assert set(body) == {"error", "message", "hint"} and body["error"] == error, body
    return body


def codes(found: list[dict[str, Any]]) -> list[str]:
    return [i["code"] for i in found]


def test_catalogue_lists_every_indicator_in_model_order(client: TestClient, model: Model) -> None:
    found = ok(client, "/indicators", lang="en")
    assert codes(found) == list(model.indicators)
    for item in found:
        IndicatorBrief.model_validate(item)
    nva1 = found[0]
    assert nva1["name"] == "Registered unemployed at the end of the period"
    assert (nva1["cube_label"], nva1["measure_label"]) == ("Registered unemployment", "Registered unemployed")
    assert (nva1["periodicity"], nva1["time_level"]) == ("monthly", "month")
    assert ok(client, "/indicators", lang="lv")[0]["name"].startswith("Reģistrēto bezdarbnieku")


def test_catalogue_search(client: TestClient, model: Model) -> None:
    assert codes(ok(client, "/indicators", q="nva-005")) == ["NVA-005"]
    # Latvian name, typed without diacritics, found whatever the response language.
    youth = codes(ok(client, "/indicators", q="jauniesu", lang="en"))
    assert youth == ["NVA-005"]
    # Every word must match: 'women' alone finds more than 'registered women'.
    assert codes(ok(client, "/indicators", q="registered women")) == ["NVA-008"]
    by_source = codes(ok(client, "/indicators", source="nva"))
    assert by_source == [c for c, i in model.indicators.items() if i.source_institution == "NVA"]
    policy = codes(ok(client, "/indicators", type="policy"))
    assert policy and policy == [c for c, i in model.indicators.items() if i.type == "policy"]
    both = codes(ok(client, "/indicators", type="policy", source="NVA"))
    assert set(both) == set(policy) & set(by_source) and both
    assert ok(client, "/indicators", q="no such words") == []
    err(client, "/indicators", 400, "bad_request", type="opinion")


def test_indicator_data_equals_the_cube_aggregate(client: TestClient, model: Model) -> None:
    ind = model.indicators["NVA-005"]
    assert ind.cuts
    for params in (
        {"drilldown": "territory:region|time:year"},
        {"drilldown": "time:quarter", "cut": "time:2024"},
        {"drilldown": "territory:region", "cut": "time:2023", "as_of": "now"},
        {"drilldown": "gender"},
        {},
    ):
        body = ok(client, f"/indicator/{ind.code}", lang="en", **params)
        IndicatorResponse.model_validate(body)
        cut = "|".join(c for c in (ind.cuts, params.get("cut")) if c)
        cube = ok(
            client,
            f"/cube/{ind.cube}/aggregate",
            lang="en",
            aggregates=ind.measure,
            **{**params, "cut": cut},
        )
        assert body["cells"] == cube["cells"] and body["summary"] == cube["summary"], params
        assert body["aggregates"] == [ind.measure]
        assert body["cell"] == cube["cell"] and body["cell"][0]["dimension"] == "age_group"
    # The fixed cut matters: the youth figure is a part of the whole.
    youth = ok(client, "/indicator/NVA-005", cut="time:2024")["summary"]["registered_unemployed"]
    everyone = ok(client, "/indicator/NVA-001", cut="time:2024")["summary"]["registered_unemployed"]
    assert 0 < youth < everyone


def test_indicator_metadata(client: TestClient) -> None:
    meta = ok(client, "/indicator/NVA-005", lang="en")["indicator"]
    assert meta["code"] == "NVA-005" and meta["description"] == "Youth Guarantee monitoring indicator."
    assert meta["cuts"] == "age_group:working_age,A15_24" and meta["decimals"] == 0
    dims = {d["name"]: d for d in meta["dimensions"]}
    assert dims["time"]["role"] == "time"
    assert [lv["name"] for lv in dims["territory"]["levels"]] == ["region", "municipality"]
    assert dims["territory"]["levels"][0]["label"] == "Statistical region"


def test_indicator_csv_is_the_json(client: TestClient) -> None:
    params = {"drilldown": "territory:region|time:year", "lang": "en"}
    body = ok(client, "/indicator/NVA-001", **params)
    r = client.get("/indicator/NVA-001", params={**params, "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="NVA-001.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(row["registered_unemployed"]) for row in rows] == [
        c["registered_unemployed"] for c in body["cells"]
    ]
    r = client.get("/indicator/NVA-001", params={**params, "format": "xlsx"})
    assert r.status_code == 200 and r.content[:2] == b"PK"


def test_indicator_errors_have_the_one_shape(client: TestClient) -> None:
    body = err(client, "/indicator/NVA-01", 404, "not_found")
    assert "NVA-01" in body["message"] and body["hint"] == "did you mean 'NVA-011'?"
    assert err(client, "/indicator/nva-001", 404, "not_found")["hint"] == "did you mean 'NVA-001'?"
    err(client, "/indicator/NVA-001", 404, "not_found", drilldown="regoin")
    err(client, "/indicator/NVA-001", 404, "not_found", cut="regoin:LV005")
    err(client, "/indicator/NVA-001", 400, "bad_query", cut="time:abc")
    err(client, "/indicator/NVA-001", 400, "bad_request", format="pdf")


# --- the HTML pages, without a browser (the Playwright suite drives them in Chromium) -----------


def test_pages_render_in_either_language_and_never_fail_on_their_query(client: TestClient) -> None:
    assert set(STRINGS["lv"]) == set(STRINGS["en"])
    for url, lang, words in (
        ("/browser?lang=en", "en", "Cube browser"),
        ("/browser?lang=zz&cube=%3C", "lv", "Kubu pārlūks"),
        ("/browser/indicators?lang=en&type=opinion", "en", "type=opinion"),
        ("/browser/indicators/NVA-005?lang=en", "en", "Youth Guarantee monitoring indicator."),
    ):
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), url
        assert f'<html lang="{lang}">' in r.text and words in r.text, url
    r = client.get("/browser/indicators/NVA-01?lang=en")
    assert r.status_code == 404 and "did you mean &#39;NVA-011&#39;?" in r.text
    js = client.get("/browser/static/vendor/chart.js/chart.umd.min.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    err(client, "/browser/static/nope.js", 404, "not_found")


def test_catalogue_page_is_the_api_catalogue_and_escapes_input(client: TestClient) -> None:
    r = client.get("/browser/indicators", params={"q": "bezdarbnieku", "source": "NVA", "lang": "en"})
    listed = ok(client, "/indicators", q="bezdarbnieku", source="NVA", lang="en")
    assert listed and f'<span id="found-count">{len(listed)}</span>' in r.text
    assert all(f">{i['code']}</a>" in r.text for i in listed)
    r = client.get("/browser/indicators", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    # The language link keeps the query and flips lang.
    assert 'href="/browser/indicators?q=%3Cscript%3Ealert%281%29%3C%2Fscript%3E&amp;lang=en"' in r.text


def test_pages_are_not_in_the_openapi_document(client: TestClient) -> None:
    paths = ok(client, "/openapi.json")["paths"]
    assert not [p for p in paths if p.startswith("/browser")]
    assert {"/indicators", "/indicator/{code}"} <= set(paths)
