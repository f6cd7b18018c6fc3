"""The browser shows protected cells with their status and a legend (docs/disclosure.md), in
Latvian and English: Chromium through Playwright against a server over the disclosure test's
model (the mini model with rules, no roles: every visitor is protected). Each status on the
page is the JSON API's for the same cell.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from test_browser_e2e import chromium, open_view, page, playwright  # noqa: F401 (fixtures)
from test_disclosure import engine, model  # noqa: F401 (fixtures)

from labis_olap.api import create_app
from labis_olap.engine.base import Engine
from labis_olap.model.definition import Model
from labis_olap.settings import Settings

ROWS = "territory@region:municipality"
COLS = "gender"


@pytest.fixture(scope="module")
def server(data_dir: Path, model: Model, engine: Engine) -> Iterator[str]:  # noqa: F811
    settings = Settings(model_dir=model.root, data_dir=data_dir, database=engine.database)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(
        uvicorn.Config(create_app(settings, model, engine), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.mark.parametrize(("lang", "primary"), [("lv", "pārāk maz saņēmēju"), ("en", "too few contributors")])
def test_protected_cells_show_their_status_and_a_legend(
    page: Any,  # noqa: F811
    server: str,
    lang: str,
    primary: str,
) -> None:
    open_view(page, f"/browser?cube=benefits&m=recipients&rows={ROWS}&cols={COLS}&lang={lang}")
    shown = page.evaluate(
        "[...document.querySelectorAll('#pivot-table td.num')]"
        ".map((td) => [td.dataset.status || null, td.dataset.value, td.textContent])"
    )
    statuses = [s for s, _, _ in shown if s]
    with httpx.Client(base_url=server, timeout=30) as api:
        answer = api.get(
            "/cube/benefits/aggregate",
            params={"drilldown": f"{ROWS}|{COLS}", "aggregates": "recipients", "subtotals": "cube"},
        ).json()
    want = [c["recipients:status"] for c in answer["cells"] if c["recipients:status"]]
    # the page holds the cells and their margins: every cell's status is among its statuses
    assert "A" in statuses and not Counter(want) - Counter(statuses), (want, statuses)
    for status, value, text in shown:
        if status:
            assert value == "" and text == status  # no value, only the code
    legend = page.locator("#status-legend").inner_text()
    assert primary in legend and "A" in legend
    assert ("D" in legend) == ("D" in statuses)


def test_an_indicator_published_nowhere_says_so(page: Any, server: str) -> None:  # noqa: F811
    """Its fixed cut merges members, which no publication table publishes: the public's page
    offers no level to choose and says that the indicator is not published, instead of a table
    or a refusal per query (the JSON's own query is refused)."""
    refused = httpx.get(f"{server}/indicator/TST-001")
    assert refused.status_code == 400 and "merge members" in refused.json()["message"]
    page.goto(f"{server}/browser/indicators/TST-001?lang=en")
    page.wait_for_selector("body[data-ready]")
    shown = json.loads(page.inner_text("#indicator-data"))
    assert shown["views"] == [] and (shown["territory"], shown["time"]) == ("territory", "time")
    assert "not published at any breakdown" in page.inner_text("#error")
    assert page.is_hidden("#territory-level") and page.is_hidden("#time-level")
    assert page.query_selector("#indicator-table") is None
