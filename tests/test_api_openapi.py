"""api/openapi.json is generated from the app (`labis openapi --out api/openapi.json`) and must
not drift from it; the document also states the API's conventions (400s, not FastAPI's 422s)."""

from __future__ import annotations

import json
from pathlib import Path

from labis_olap.cli import openapi_document

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "api" / "openapi.json"


def test_openapi_json_matches_the_app() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == openapi_document(), (
        "api/openapi.json is out of date: run `labis openapi --out api/openapi.json`"
    )


def test_openapi_documents_the_error_shape_and_no_422() -> None:
    spec = json.loads(openapi_document())
    assert spec["components"]["schemas"]["ErrorResponse"]["required"] == ["error", "message"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert "422" not in op["responses"], (method, path)
            assert "400" in op["responses"] and "500" in op["responses"], (method, path)
    assert {"/cube/{cube}/aggregate", "/cube/{cube}/members/{dimension}", "/cube/{cube}/facts",
            "/cube/{cube}/fact/{fact_id}", "/cube/{cube}/cell", "/cube/{cube}/report", "/cube/{cube}/model",
            "/cubes", "/info", "/version", "/health",
            "/indicators", "/indicator/{code}", "/mdx", "/xmla",
            "/sdmx/structure/{cube}", "/sdmx/structure/indicator/{code}"} == set(spec["paths"])  # fmt: skip
    assert set(spec["paths"]["/cube/{cube}/report"]) == {"get", "post"}


def test_openapi_declares_the_media_type_of_every_format() -> None:
    """Each route that writes tables declares each format's media type on its 200 answer (a
    generated client knows a CSV from an Arrow file), and `format` lists every format."""
    spec = json.loads(openapi_document())
    tables = {
        "application/json",
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.apache.arrow.file",
        "application/vnd.apache.arrow.stream",
        "application/vnd.apache.parquet",
    }
    expected = {
        "/cube/{cube}/aggregate": tables | {"application/vnd.sdmx.data+csv"},
        "/indicator/{code}": tables | {"application/vnd.sdmx.data+csv"},
        "/cube/{cube}/facts": tables,
        "/cube/{cube}/members/{dimension}": tables,
        "/sdmx/structure/{cube}": {"application/vnd.sdmx.structure+xml"},
        "/sdmx/structure/indicator/{code}": {"application/vnd.sdmx.structure+xml"},
    }
    for path, media in expected.items():
        op = spec["paths"][path]["get"]
        assert set(op["responses"]["200"]["content"]) == media, path
        formats = next((p for p in op["parameters"] if p["name"] == "format"), None)
        if formats is not None:
            names = set(formats["schema"]["enum"])
            assert names == {"json", "csv", "xlsx", "arrow", "arrows", "parquet"} | (
                {"sdmx-csv"} if "application/vnd.sdmx.data+csv" in media else set()
            ), path


def test_openapi_declares_how_to_authenticate() -> None:
    """Bearer (JWT or API key), X-API-Key and Basic with the key as password; an issuer adds its
    OpenID Connect discovery document; 401 and 403 are documented responses."""
    from labis_olap.api import create_app
    from labis_olap.settings import Settings

    spec = json.loads(openapi_document())
    assert set(spec["components"]["securitySchemes"]) == {"bearer", "apiKey", "basic"}
    assert spec["components"]["securitySchemes"]["apiKey"]["name"] == "X-API-Key"
    assert {"bearer": []} in spec["security"] and {} in spec["security"]
    aggregate = spec["paths"]["/cube/{cube}/aggregate"]["get"]["responses"]
    assert {"401", "403"} <= set(aggregate)
    issuer = "https://id.example.lv/realms/labis"
    with_issuer = create_app(Settings(issuer=issuer, audience="labis")).openapi()
    assert with_issuer["components"]["securitySchemes"]["oidc"] == {
        "type": "openIdConnect",
        "openIdConnectUrl": issuer + "/.well-known/openid-configuration",
    }
    assert with_issuer["security"][0] == {"oidc": []}
