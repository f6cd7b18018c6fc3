"""CubesViewer, the Slicer API's own web client, against LabIS: its studio's requests replayed.

The requests are those CubesViewer 2.0's studio sends (cubesviewer/cubes/cubes.js,
cubes-service.js, views/cube/{explore,facts,filter,export}.js): it connects with /info and
/cubes, reads /cube/<cube>/model, aggregates with drilldowns `dim@hierarchy:level` and cuts,
lists members for a filter, asks /facts *without* a page size, and exports facts as CSV. It runs
in the browser from its own origin, so the server must answer CORS (opt-in: LABIS_CORS_ORIGINS).
What the facts grid does with a row is repeated here as CubesViewer does it (`readCell`: every
level's key and label attribute by full name, or the grid fails on `null.label`), and the "limit
hit" notice is its test: as many rows as /info's json_record_limit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import analyst_client, demo_database, demo_settings
from fastapi.testclient import TestClient

from labis_olap.api import create_app
from labis_olap.engine.base import Engine
from labis_olap.model.definition import Model
from labis_olap.settings import Settings

VIEWER = "http://viewer.example.org:8080"
LIMIT = 400


@pytest.fixture(scope="module")
def demo(data_dir: Path) -> Iterator[tuple[Model, Engine]]:
    with demo_database(data_dir, "cv", 4_000, seed=3) as demo:
        yield demo


def app_for(demo: tuple[Model, Engine], data_dir: Path, **kw: Any) -> TestClient:
    model, engine = demo
    settings = demo_settings(data_dir, engine, max_pagesize=LIMIT, **kw)
    return analyst_client(create_app(settings, model, engine), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def viewer(demo: tuple[Model, Engine], data_dir: Path) -> Iterator[TestClient]:
    """The server as CubesViewer's page reaches it: from another origin, CORS allowed for it."""
    with app_for(demo, data_dir, cors_origins=[VIEWER, "http://localhost:8000"]) as c:
        c.headers["Origin"] = VIEWER
        yield c


def get(client: TestClient, path: str, **params: Any) -> Any:
    r = client.get(path, params=params)
    assert r.status_code == 200, (path, params, r.text[:300])
    assert r.headers.get("access-control-allow-origin") == VIEWER, (path, dict(r.headers))
    return r.json() if r.headers["content-type"].startswith("application/json") else r


def read_cell(level: dict[str, Any], row: dict[str, Any]) -> dict[str, Any] | None:
    """cubes.Level.prototype.readCell (cubes-cvextensions.js)."""
    by_name = {a["name"]: a for a in level["attributes"]}
    key, label = by_name[level["key"]]["ref"], by_name[level["label_attribute"]]["ref"]
    if key not in row:
        return None
    return {
        "key": row[key],
        "label": row[label],
        "info": {a["ref"]: row[a["ref"]] for a in level["attributes"]},
    }


def facts_grid_rows(model: dict[str, Any], data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The facts view's `_addRows` (views/cube/facts/facts.js): a level missing from a row is
    `null.label` there, a TypeError that leaves the grid empty."""
    rows = []
    for e in data:
        row: dict[str, Any] = {}
        for dim in model["dimensions"]:
            for level in dim["levels"]:
                cell = read_cell(level, e)
                if cell is None:
                    raise TypeError("Cannot read properties of null (reading 'label')")
                row[f"{dim['name']}.{level['name']}"] = cell["label"]
        for measure in model["measures"]:  # undefined in JavaScript if absent (the `person` column)
            row[measure["ref"]] = e.get(measure["ref"])
        rows.append(row)
    return rows


def test_the_studio_s_session_works_from_its_own_origin(viewer: TestClient) -> None:
    info = get(viewer, "/info")
    limit = info["json_record_limit"]
    assert limit == LIMIT
    cubes = get(viewer, "/cubes")
    assert "unemployment" in {c["name"] for c in cubes}
    model = get(viewer, "/cube/unemployment/model", lang="en")

    # Explore: a drilldown with a cut, in CubesViewer's own spelling (the aggregate fast path).
    cells = get(
        viewer, "/cube/unemployment/aggregate", drilldown="territory@region:region", cut="time@ymd:2024"
    )
    assert cells["cells"] and all("territory.region_label" in c for c in cells["cells"])
    series = get(viewer, "/cube/unemployment/aggregate", drilldown="time@ymd:month|gender@default:gender")
    assert series["cells"]

    # A dimension filter lists its members.
    members = get(viewer, "/cube/unemployment/members/gender", hierarchy="default", depth=1)
    assert {m["gender.gender"] for m in members["data"]} == {"M", "F"}

    # Facts: asked without a page size (with the view's drilldown, which /facts ignores).
    r = get(viewer, "/cube/unemployment/facts", cut="time@ymd:2024", drilldown="territory@region:region")
    data = r.json() if not isinstance(r, list) else r
    assert len(data) == limit  # CubesViewer: resultLimitHit = data.length >= json_record_limit
    grid = facts_grid_rows(model, data)
    assert len(grid) == limit
    first = data[0]
    assert first["territory.municipality"] == first["municipality"]  # the raw columns are kept
    assert first["time.year"] == 2024 and first["time.month_label"].startswith("2024-")
    assert first["territory.region_label"] and first["gender.gender_label"] in (
        "Male",
        "Female",
        "Vīrietis",
        "Sieviete",
    )

    # Export facts: format=csv with the cuts and no page size.
    exported = get(viewer, "/cube/unemployment/facts", format="csv", cut="time@ymd:2024")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["__fact_key__"] for r in rows] == [d["__fact_key__"] for d in data]
    assert exported.headers["x-labis-truncated"] == str(limit)
    assert "X-Labis-Truncated" in exported.headers["access-control-expose-headers"]


def test_fields_take_attributes_by_full_name(viewer: TestClient) -> None:
    fields = "territory.region,gender.gender_label,registered"
    data = get(
        viewer,
        "/cube/unemployment/facts",
        fields=fields,
        pagesize=5,
        lang="en",
        order="territory.region:desc",
    )
    assert [list(d) for d in data] == [
        ["__fact_key__", "territory.region", "gender.gender_label", "registered"]
    ] * 5
    assert [d["territory.region"] for d in data] == sorted(
        (d["territory.region"] for d in data), reverse=True
    )
    assert {d["gender.gender_label"] for d in data} <= {"Male", "Female"}
    r = viewer.get("/cube/unemployment/facts", params={"fields": "territory.regio"})
    assert r.status_code == 400 and "territory.region" in (r.json()["hint"] or "")
    # One fact is its row in /facts.
    (row,) = get(viewer, "/cube/unemployment/facts", pagesize=1, lang="en")
    assert get(viewer, f"/cube/unemployment/fact/{row['__fact_key__']}", lang="en") == row


def test_preflights_are_answered_for_the_api_s_methods_and_headers(viewer: TestClient) -> None:
    r = viewer.options(
        "/cube/unemployment/aggregate",
        headers={
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization,x-api-key",
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == VIEWER
    assert {m.strip() for m in r.headers["access-control-allow-methods"].split(",")} >= {"GET", "POST"}
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-api-key"} <= allowed
    assert "access-control-allow-credentials" not in r.headers
    post = viewer.options(
        "/cube/unemployment/report",
        headers={"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
    )
    assert post.status_code == 200 and post.headers["access-control-allow-origin"] == VIEWER
    # Another origin, or a method the API does not take: refused, in the API's error shape.
    other = viewer.options(
        "/cube/unemployment/aggregate",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert other.status_code == 400 and other.json()["error"] == "bad_request"
    assert "access-control-allow-origin" not in other.headers
    assert (
        viewer.get("/info", headers={"Origin": "https://evil.example"}).headers.get(
            "access-control-allow-origin"
        )
        is None
    )
    delete = viewer.options("/info", headers={"Access-Control-Request-Method": "DELETE"})
    assert delete.status_code == 400 and "method" in delete.json()["message"]


def test_errors_carry_cors_headers_too(viewer: TestClient) -> None:
    """A 404 from a route and a 400 from the fast path are readable by the viewer's page."""
    for path in ("/cube/nope/aggregate", "/cube/unemployment/aggregate?drilldown=nope"):
        r = viewer.get(path)
        assert r.status_code in (400, 404) and r.headers["access-control-allow-origin"] == VIEWER


def test_cors_is_off_by_default(demo: tuple[Model, Engine], data_dir: Path) -> None:
    with app_for(demo, data_dir) as plain:
        r = plain.options(
            "/cube/unemployment/aggregate", headers={"Origin": VIEWER, "Access-Control-Request-Method": "GET"}
        )
        assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
        answer = plain.get("/cube/unemployment/aggregate?drilldown=gender", headers={"Origin": VIEWER})
        assert answer.status_code == 200 and not any(k.startswith("access-control-") for k in answer.headers)


def test_any_origin_never_with_credentials(demo: tuple[Model, Engine], data_dir: Path) -> None:
    with app_for(demo, data_dir, cors_origins=["*"]) as any_origin:
        r = any_origin.get("/info", headers={"Origin": "https://anyone.example", "Cookie": "a=b"})
        assert r.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in r.headers


def test_the_setting_takes_origins_only() -> None:
    assert Settings(cors_origins="https://a.example/, http://b.example:8080").cors_origins == [  # type: ignore[arg-type]
        "https://a.example",
        "http://b.example:8080",
    ]
    for bad in ("https://a.example/viewer", "a.example", "*,https://a.example"):
        with pytest.raises(ValueError):
            Settings(cors_origins=bad)  # type: ignore[arg-type]
