"""Property-based fuzzing of the REST API from its own OpenAPI document (schemathesis, in-process).

The app is built over the LabIS model with a small demo load in a fresh database, and every
operation of `/openapi.json` gets valid (positive) and invalid (negative) generated requests,
derandomized so that CI sees the same requests every run. Schema-only strings would nearly
always miss (a random cube name is a 404, a random cut a 400), so half the positive cases
name a real cube/dimension/fact and draw `cut`, `drilldown`, `order`, … from the model's own
names and members, spliced with fuzz, so that requests reach the query compiler and chDB
(reports get bodies made of the same parts). Every response must be below 500 (schemathesis's
`not_a_server_error`), and every 4xx must have the one error shape `{"error", "message", "hint"}`.
Failures are collected (not shrunk) and reported together, each with a curl command.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from conftest import analyst_client, demo_settings, fresh_database, make_engine
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi as st_asgi

from labis_olap.api import create_app
from labis_olap.demo.load import load_demo
from labis_olap.model.reader import read_model

pytestmark = pytest.mark.slow  # schemathesis over every operation: ~35 s; run by .ci/run
ROOT = Path(__file__).resolve().parent.parent
ROWS = 20_000
# Examples per operation and generation mode: 11 operations x (POSITIVE + NEGATIVE) x EXAMPLES.
EXAMPLES = 55
MIN_REQUESTS = 1_000


@pytest.fixture(scope="module")
def app(data_dir: Path) -> Iterator[FastAPI]:
    model = read_model(ROOT / "model")
    engine = make_engine("embedded", data_dir, fresh_database("fuzz"))
    load_demo(model, engine, ROWS, seed=7)
    settings_ = demo_settings(data_dir, engine, max_pagesize=2_000, fact_key_secret="test")
    yield create_app(settings_, model, engine)
    st_asgi.shutdown_lifespans()
    engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")
    # The app ran in schemathesis's worker threads, each with its own chDB connection: close
    # them all now, or chDB's shutdown at interpreter exit crashes (seen: segfault, rc 139).
    engine.close()


def _shape_problem(status: int, text: str) -> str | None:
    """What is wrong with a 4xx body, if anything: it must be exactly the one error shape."""
    try:
        body = json.loads(text)
    except ValueError:
        return f"{status} body is not JSON: {text[:200]!r}"
    if not isinstance(body, dict) or set(body) != {"error", "message", "hint"}:
        return f"{status} body is not the error shape: {text[:200]!r}"
    if not isinstance(body["error"], str) or not isinstance(body["message"], str) or not body["message"]:
        return f"{status} error/message must be non-empty strings: {text[:200]!r}"
    if body["hint"] is not None and not isinstance(body["hint"], str):
        return f"{status} hint must be a string or null: {text[:200]!r}"
    return None


def _vocabulary(app: FastAPI) -> dict[str, Any]:
    """Real names and members per cube, read from the API itself."""
    vocab: dict[str, Any] = {}
    with analyst_client(app) as client:
        for cube in client.get("/cubes").json():
            name = cube["name"]
            model = client.get(f"/cube/{name}/model").json()
            dims: dict[str, Any] = {}
            for dim in model["dimensions"]:
                levels = [lv["name"] for lv in dim["levels"]]
                attrs = [a["ref"] for lv in dim["levels"] for a in lv["attributes"]]
                hiers = [h["name"] for h in dim.get("hierarchies", [])]
                r = client.get(f"/cube/{name}/members/{dim['name']}", params={"depth": 1, "pagesize": 6})
                rows = r.json().get("data", [])
                keys = [str(v) for row in rows for k, v in row.items() if k.endswith(levels[0])]
                dims[dim["name"]] = {"levels": levels, "attrs": attrs, "hiers": hiers, "keys": keys[:6]}
            facts = client.get(f"/cube/{name}/facts", params={"pagesize": 3}).json()
            vocab[name] = {
                "dims": dims,
                "aggregates": [a["name"] for a in model["aggregates"]],
                "measures": [m["name"] for m in model["measures"]],
                "facts": [row["__fact_key__"] for row in facts],
            }
    return vocab


def _tokens(cube: dict[str, Any]) -> dict[str, st.SearchStrategy[str]]:
    """Strategies for each query string parameter of one cube, near-valid and spliced with fuzz."""
    dims = cube["dims"]
    dim = st.sampled_from(sorted(dims))
    noise = st.text(alphabet=":|,;-!@.*\\ 0123456789abcz_'\"%\x00\u0101", max_size=6)

    def level(d: str) -> st.SearchStrategy[str]:
        info = dims[d]
        hier = st.sampled_from(["", *[f"@{h}" for h in info["hiers"]]])
        return st.builds(lambda h, lv: f"{d}{h}:{lv}", hier, st.sampled_from(info["levels"]))

    def cut(d: str) -> st.SearchStrategy[str]:
        info = dims[d]
        key = st.sampled_from([*info["keys"], "2024", "2023", "1", "13", "x"])
        path = st.lists(key, min_size=1, max_size=4).map(",".join)
        span = st.builds(lambda a, b: f"{a}-{b}", path, path)
        value = st.one_of(path, span, st.lists(path, max_size=3).map(";".join))
        hier = st.sampled_from(["", *[f"@{h}" for h in info["hiers"]]])
        return st.builds(lambda inv, h, v: f"{inv}{d}{h}:{v}", st.sampled_from(["", "!"]), hier, value)

    def joined(part: st.SearchStrategy[str], sep: str = "|") -> st.SearchStrategy[str]:
        return st.lists(st.one_of(part, part, noise), min_size=1, max_size=3).map(sep.join)

    attrs = [a for d in dims.values() for a in d["attrs"]] + cube["measures"] + cube["aggregates"]
    direction = st.sampled_from(["", ":asc", ":desc", ":x"])
    order = st.builds(lambda a, o: a + o, st.sampled_from(attrs), direction)
    return {
        "cut": joined(dim.flatmap(cut)),
        "split": joined(dim.flatmap(cut)),
        "drilldown": joined(st.one_of(dim, dim.flatmap(level))),
        "aggregates": joined(st.sampled_from(cube["aggregates"] + ["nope"])),
        "order": joined(order, ","),
        "fields": joined(st.sampled_from([*attrs, "__fact_key__"]), ","),
        "level": st.sampled_from([lv for d in dims.values() for lv in d["levels"]]),
        "hierarchy": st.sampled_from([h for d in dims.values() for h in d["hiers"]] or ["x"]),
        "as_of": st.sampled_from(["now", "2024-06-30", "2020-01-01", "2024-13-01", "yesterday", ""]),
    }


def _real_cases(op: Any, vocab: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Positive cases of `op` on a real cube, with query strings drawn from the cube's names."""
    strategies = []
    for name, cube in sorted(vocab.items()):
        tokens = _tokens(cube)
        pinned: list[dict[str, str]] = [{"cube": name}]
        if "{dimension}" in op.path:
            pinned = [{"cube": name, "dimension": d} for d in sorted(cube["dims"])]
        if "{fact_id}" in op.path:
            pinned = [{"cube": name, "fact_id": f} for f in cube["facts"]] or pinned
        names = [p.name for p in op.query if p.name in tokens]
        overrides = st.fixed_dictionaries({}, optional={n: tokens[n] for n in names})
        kinds = st.sampled_from(["aggregate", "facts", "fact", "members", "cell", "details", "x"])
        report_params = {**tokens, "dimension": st.sampled_from(sorted(cube["dims"]))}
        report = st.builds(
            lambda ks, params: {"queries": {f"q{i}": {"query": k, **params} for i, k in enumerate(ks)}},
            st.lists(kinds, max_size=3),
            st.fixed_dictionaries({}, optional=report_params),
        )
        for params in pinned:
            base = op.as_strategy(path_parameters=params)
            if op.path.endswith("/report"):
                strategies.append(st.tuples(base, report).map(_report))
            else:
                strategies.append(st.tuples(base, overrides).map(_apply))
    return st.one_of(strategies)


def _apply(pair: tuple[Any, dict[str, str]]) -> Any:
    case, overrides = pair
    if overrides:
        case.query = {**(case.query or {}), **overrides}
    return case


def _report(pair: tuple[Any, dict[str, Any]]) -> Any:
    case, report = pair
    if case.method.upper() == "POST":
        case.body = report
    else:
        case.query = {**(case.query or {}), "report": json.dumps(report)}
    return case


def test_fuzz_every_operation(app: FastAPI) -> None:
    vocab = _vocabulary(app)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # XMLA's body is a SOAP envelope (text/xml), which schemathesis cannot make: its bad input is
    # the hostile corpus's (tests/hostile.py) and test_xmla.py's Fault cases
    operations = [op for op in (result.ok() for result in schema.get_all_operations()) if op.path != "/xmla"]
    assert len(operations) >= 10, [op.label for op in operations]
    counts: dict[str, int] = {}
    statuses: dict[int, int] = {}
    failures: list[str] = []

    def run(op: Any, mode: GenerationMode) -> None:
        strategy = op.as_strategy(generation_mode=mode)
        if mode is GenerationMode.POSITIVE and "{cube}" in op.path:
            strategy = st.one_of(strategy, _real_cases(op, vocab))

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call()
            counts[op.label] = counts.get(op.label, 0) + 1
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            problem: str | None = None
            try:
                case.validate_response(response, checks=[not_a_server_error])
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if problem is None and 400 <= response.status_code < 500:
                problem = _shape_problem(response.status_code, response.text)
            if problem is not None and len(failures) < 50:
                failures.append(
                    f"{op.label} [{mode.value}] -> {response.status_code}: {problem}\n"
                    f"  {case.as_curl_command()}\n  {response.text[:300]}"
                )

        check()

    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run(op, mode)

    total = sum(counts.values())
    print(f"schemathesis: {total} requests, by status {dict(sorted(statuses.items()))}, by operation", counts)
    assert not failures, f"{len(failures)} failing requests (of {total}):\n" + "\n".join(failures)
    assert total >= MIN_REQUESTS, (total, counts)
    assert set(counts) == {op.label for op in operations}, counts
    assert statuses.get(200, 0) >= total // 5, statuses  # the fuzz must reach the data, not only 4xx
