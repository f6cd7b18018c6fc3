"""Operations: /metrics (Prometheus text), liveness and readiness, structured JSON logs.

On a real demo database: requests are counted by route template and status, never by URL, so a
cut value sent in a query string appears nowhere in the scrape; the cache, the engine's query
times and the loads' lineage are read when scraped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, analyst_client, demo_database, demo_settings
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from labis_olap.api import create_app
from labis_olap.api.logs import JsonFormatter
from labis_olap.engine.base import Engine
from labis_olap.loaders.store import LoadRecord, ensure_tables, record
from labis_olap.model.definition import Model
from labis_olap.settings import Settings

SECRET_CUT = "territory:LV005,0006000"
"""A cut value that must never appear in the metrics (a member key in a query string)."""


@pytest.fixture(scope="module")
def demo(data_dir: Path) -> Iterator[tuple[Model, Engine]]:
    with demo_database(data_dir, "ops", 4_000, seed=11) as pair:
        yield pair


def _settings(data_dir: Path, engine: Engine, **extra: object) -> Settings:
    return demo_settings(data_dir, engine, audit=False, **extra)


def scrape(client: TestClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for lab, v in samples.get(name, []) if all(lab.get(k) == x for k, x in labels.items()))


def test_metrics_count_by_route_template_and_never_carry_cut_values(
    demo: tuple[Model, Engine], data_dir: Path
) -> None:
    model, engine = demo
    with analyst_client(create_app(_settings(data_dir, engine), model, engine)) as client:
        before = scrape(client)
        url = f"/cube/unemployment/aggregate?drilldown=time:year&cut={SECRET_CUT}"
        for _ in range(3):  # the fast path: the first answer from the engine, the rest cached
            assert client.get(url).status_code == 200
        assert client.get("/cube/unemployment/members/territory").status_code == 200
        assert client.get("/cube/no_such_cube/aggregate").status_code == 404
        assert client.get("/nowhere/0001234").status_code == 404
        text = client.get("/metrics").text
        after = scrape(client)
    assert "0001234" not in text and "0006000" not in text
    assert "no_such_cube" not in text and "nowhere" not in text
    aggregate = "/cube/{cube}/aggregate"
    requests = "labis_http_requests_total"
    assert value(after, requests, route=aggregate, status="200", method="GET") == 3
    assert value(after, requests, route=aggregate, status="404") == 1
    assert value(after, requests, route="/cube/{cube}/members/{dimension}", status="200") == 1
    assert value(after, requests, route="unmatched", status="404") == 1
    assert value(after, "labis_http_request_duration_seconds_count", route=aggregate) == 4
    # The scrape itself was counted (the second one sees the first).
    assert value(after, requests, route="/metrics", status="200") >= 1
    hits = value(after, "labis_cache_hits_total") - value(before, "labis_cache_hits_total")
    assert hits >= 2
    assert value(after, "labis_engine_query_duration_seconds_count") > value(
        before, "labis_engine_query_duration_seconds_count"
    )
    assert value(after, "labis_storage_problems") == 0


def test_metrics_read_the_loads_lineage(demo: tuple[Model, Engine], data_dir: Path) -> None:
    model, engine = demo
    ensure_tables(engine)
    now = dt.datetime.now(dt.UTC)
    for batch, status, accepted, rejected in (("a" * 16, "ok", 120, 3), ("b" * 16, "rejected", 0, 40)):
        rec = LoadRecord(batch, "src", "unemployment", "f.csv", "0" * 64, 10, now, "v", status=status)
        rec.rows_accepted, rec.rows_rejected, rec.finished = accepted, rejected, now
        record(engine, rec)
    with analyst_client(create_app(_settings(data_dir, engine), model, engine)) as client:
        samples = scrape(client)
    assert value(samples, "labis_load_batches", status="ok") == 1
    assert value(samples, "labis_load_batches", status="rejected") == 1
    assert value(samples, "labis_load_rows_total") == 120
    assert value(samples, "labis_load_rejected_rows_total") == 43


def test_metrics_can_be_turned_off(demo: tuple[Model, Engine], data_dir: Path) -> None:
    model, engine = demo
    with analyst_client(create_app(_settings(data_dir, engine, metrics=False), model, engine)) as client:
        assert client.get("/metrics").status_code == 404


def test_liveness_asks_nothing_readiness_asks_the_engine(demo: tuple[Model, Engine], data_dir: Path) -> None:
    model, engine = demo
    with analyst_client(create_app(_settings(data_dir, engine), model, engine)) as client:
        assert client.get("/livez").json() == {"status": "alive"}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ok"
        # Storage found broken: not ready (out of the load balancer), still alive.
        state = client.app.state.labis  # type: ignore[attr-defined]
        from labis_olap.engine.health import Problem

        state.problems = [Problem("facts_unemployment", "a part is broken")]
        assert client.get("/readyz").status_code == 503
        assert client.get("/livez").status_code == 200


def test_json_logs_are_one_object_per_line_without_query_strings() -> None:
    formatter = JsonFormatter()
    access = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", f"/cube/unemployment/aggregate?cut={SECRET_CUT}", "1.1", 200),
        None,
    )
    line = formatter.format(access)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["path"] == "/cube/unemployment/aggregate" and parsed["status"] == 200
    assert "0006000" not in line
    try:
        raise ValueError("the engine does not answer\nstack trace")
    except ValueError:
        import sys

        plain = logging.LogRecord(
            "labis.api", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info()
        )
    parsed = json.loads(formatter.format(plain))
    assert parsed["message"] == "failed x" and parsed["level"] == "error"
    assert parsed["error"] == "ValueError: the engine does not answer"


def test_a_reload_serves_the_model_folder_again_and_keeps_a_broken_one_out(
    demo: tuple[Model, Engine], data_dir: Path, tmp_path: Path
) -> None:
    """What SIGHUP does to `labis serve` on a ClickHouse server after `labis apply`
    (AppState.reload_model), here on the embedded engine in-process: the next request is
    answered by the model read again; a model with problems is logged and the old one kept."""
    import shutil

    from labis_olap.compiler.apply import apply_model
    from labis_olap.model.reader import read_model

    _, engine = demo
    folder = tmp_path / "model"
    shutil.copytree(ROOT / "model", folder)
    settings = _settings(data_dir, engine).model_copy(update={"model_dir": folder})
    app = create_app(settings, read_model(folder), engine)
    url = "/cube/social_assistance/aggregate?aggregates=largest_payment|amount"
    with analyst_client(app, raise_server_exceptions=False) as client:
        assert client.get(url).status_code == 404
        cube = folder / "cubes" / "social_assistance.yaml"
        good = cube.read_text()
        cube.write_text(
            good.replace(
                "\n# What the public may read",
                "\n  - name: largest_payment\n    function: max\n    column: amount\n    unit: EUR\n"
                "    decimals: 2\n# What the public may read",
            )
        )  # fmt: skip (the measures end where the cube's disclosure rules begin)
        apply_model(read_model(folder), engine)
        app.state.labis.reload_model()
        answer = client.get(url)
        assert answer.status_code == 200, answer.text
        summary = answer.json()["summary"]
        assert 0 < summary["largest_payment"] <= summary["amount"]
        cube.write_text(cube.read_text().replace("function: max", "function: maximum"))
        app.state.labis.reload_model()  # logged, not raised: the server keeps serving
        assert client.get(url).json()["summary"] == summary
