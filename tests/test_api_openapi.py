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
            "/indicators", "/indicator/{code}",
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
