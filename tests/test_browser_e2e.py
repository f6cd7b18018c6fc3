"""The cube browser and indicator pages end to end: Debian's Chromium, headless, through
Playwright, against a real server (uvicorn in a thread over this session's chDB demo data).

Every number read from a page is compared with the JSON API's answer to the same question.
Without Chromium these tests fail when CI=true (CI installs it) and are skipped otherwise.
Set LABIS_SCREENSHOTS=docs/screenshots to refresh the README's screenshots.
"""

from __future__ import annotations

import csv
import decimal
import io
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
import uvicorn
from conftest import AS_ANALYST, demo_settings, fresh_database, make_engine

from labis_olap.api import create_app
from labis_olap.demo.load import load_demo
from labis_olap.model.reader import read_model

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
FIRST_RENDER_MS = 1_000
SHOTS = os.environ.get("LABIS_SCREENSHOTS")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: CI installs it (.ci/run), so this is a broken set-up")
    pytest.skip(f"{reason} (the browser tests need Debian's chromium and the playwright package)")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    """The app with the pages, over a fresh demo database, served on a free local port."""
    model = read_model(ROOT / "model")
    engine = make_engine("embedded", data_dir, fresh_database("web"))
    load_demo(model, engine, 20_000, seed=7)
    settings = demo_settings(data_dir, engine)
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
    engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


@pytest.fixture(scope="module")
def playwright(server: str) -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing")
    with sync_playwright() as pw:
        yield pw


def _browser(pw: Any, headers: dict[str, str]) -> Iterator[Any]:
    """One headless Chromium with a fresh profile, sending `headers` with every request."""
    with tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=ARGS,
            headless=True,
            viewport={"width": 1366, "height": 900},
            accept_downloads=True,
            extra_http_headers=headers,
        )
        context.set_default_timeout(15_000)
        yield context
        context.close()


@pytest.fixture(scope="module")
def chromium(playwright: Any) -> Iterator[Any]:
    """An analyst's browser for the module (the public's pages: `public_page`)."""
    yield from _browser(playwright, AS_ANALYST)


def _tab(context: Any, server: str) -> Iterator[Any]:
    """A tab whose script errors fail the test (a page must never show a stack trace or die), and
    so does any Content-Security-Policy violation (the pages are served under a strict CSP)."""
    tab = context.new_page()
    errors: list[str] = []
    violations: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    # Reported to the page too, whatever the console says.
    tab.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    tab.base = server
    yield tab
    tab.close()
    assert not errors, errors
    assert not violations, violations


@pytest.fixture
def page(chromium: Any, server: str) -> Iterator[Any]:
    yield from _tab(chromium, server)


@pytest.fixture
def public_page(playwright: Any, server: str) -> Iterator[Any]:
    """A tab of a browser without credentials: the public's pages."""
    for context in _browser(playwright, {}):
        yield from _tab(context, server)


def wait_until(page: Any, expression: str, timeout: float = 15.0) -> None:
    """Poll a page expression until it is true. Not `page.wait_for_function`: that compiles its
    predicate in the page (`new Function`), which the pages' CSP (no 'unsafe-eval') refuses;
    `page.evaluate` runs through the DevTools protocol, outside the page's policy."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def api(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30, headers=AS_ANALYST) as client:
        yield client


def exported(page: Any, fmt: str) -> bytes:
    """The view's export link: clicked, it downloads; its file as the analyst gets it is read
    from its address with the page's credentials (Chromium sends a download without the
    context's extra headers, which stand in here for a signed-in analyst's session cookie)."""
    with page.expect_download():
        page.click(f"#export-{fmt}")
    href = page.get_attribute(f"#export-{fmt}", "href")
    body: bytes = page.request.get(urljoin(page.url, href)).body()
    return body


def get(api: httpx.Client, path: str, **params: Any) -> Any:
    r = api.get(path, params=params)
    assert r.status_code == 200, (path, params, r.text)
    return r.json()


def open_view(page: Any, url: str) -> None:
    page.goto(page.base + url)
    page.wait_for_selector("body[data-ready]")


def rerender(page: Any, action: Any) -> None:
    """Do something that changes the view and wait until the new view is drawn."""
    before = int(page.evaluate("document.body.dataset.ready || 0"))
    action()
    wait_until(page, f"Number(document.body.dataset.ready) > {before}")


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


READ_PIVOT = """(id) => {
  const t = document.getElementById(id);
  return [...t.tBodies[0].rows, ...(t.tFoot ? t.tFoot.rows : [])].map(r => ({
    head: [...r.cells].filter(c => c.tagName === 'TH').map(c => c.textContent.trim()),
    cells: [...r.cells].filter(c => c.tagName === 'TD')
      .map(c => [c.dataset.col, c.dataset.value === '' ? null : Number(c.dataset.value)]),
  }));
}"""


def pivot(page: Any, table: str = "pivot-table") -> dict[tuple[str, str], float | None]:
    """The table as (row label, column label) → value; totals and subtotals included."""
    out = {}
    for row in page.evaluate(READ_PIVOT, table):
        for col, value in row["cells"]:
            assert (row["head"][-1], col) not in out, (row, col)
            out[(row["head"][-1], col)] = value
    return out


def expected(
    api: httpx.Client, cube: str, measure: str, rows: str, cols: str, total: str, lang: str, **params: Any
) -> dict[tuple[str, str], float | None]:
    """What the pivot must show, from four /aggregate answers (cells, row and column totals, summary)."""
    path = f"/cube/{cube}/aggregate"
    common = {"aggregates": measure, "lang": lang, **params}
    rref, cref = rows.split(":")[0].split("@")[0], cols.split(":")[0].split("@")[0]
    rlv, clv = rows.split(":")[1], cols.split(":")[1]
    cells = get(api, path, drilldown=f"{rows}|{cols}", **common)
    by_row = get(api, path, drilldown=rows, **common)
    by_col = get(api, path, drilldown=cols, **common)
    out: dict[tuple[str, str], float | None] = {}
    for c in by_row["cells"]:
        rl = c[f"{rref}.{rlv}_label"]
        for k in by_col["cells"]:
            out[(rl, str(k[f"{cref}.{clv}_label"]))] = None
        out[(rl, total)] = c[measure]
    for c in cells["cells"]:
        out[(c[f"{rref}.{rlv}_label"], str(c[f"{cref}.{clv}_label"]))] = c[measure]
    for k in by_col["cells"]:
        out[(total, str(k[f"{cref}.{clv}_label"]))] = k[measure]
    out[(total, total)] = cells["summary"][measure]
    return out


# --- the cube browser -------------------------------------------------------------------------


def test_territory_by_time_drill_filter_language_export_and_shared_link(page: Any, api: httpx.Client) -> None:
    m = "registered_unemployed"
    open_view(page, f"/browser?cube=unemployment&m={m}&rows=&cols=&lang=en")
    # Territory on rows, time on columns, chosen in the controls.
    rerender(page, lambda: page.select_option("#rows-dim-1", "territory@region"))
    rerender(page, lambda: page.select_option("#cols-dim-1", "time@ymd"))
    want = expected(api, "unemployment", m, "territory@region:region", "time@ymd:year", "Total", "en")
    assert pivot(page) == want
    assert ("Latgale statistical region", "2024") in want
    # The text shown is the API's number, formatted.
    latgale = page.locator("#pivot-table tbody tr", has_text="Latgale statistical region").first
    cell = latgale.locator("td").nth(2)
    assert float(cell.inner_text().replace(",", "")) == float(cell.get_attribute("data-value"))
    shot(page, "browser")

    # Drill into a region: its municipalities, checked against the API; breadcrumbs drill up.
    latgale_button = page.get_by_role("button", name="Drill down into Latgale statistical region")
    rerender(page, latgale_button.click)
    assert "path=territory%40region%3ALV005" in page.url
    crumbs = page.locator("#breadcrumbs")
    assert "Latgale statistical region" in crumbs.inner_text()
    want = expected(
        api, "unemployment", m, "territory@region:municipality", "time@ymd:year", "Total", "en",
        cut="territory@region:LV005",
    )  # fmt: skip
    assert pivot(page) == want and ("Daugavpils", "2024") in want
    rerender(page, lambda: crumbs.get_by_role("button", name="Back to All").first.click())
    assert ("Latgale statistical region", "Total") in pivot(page)

    # Filter by a member found by search, and a time range.
    page.select_option("#filter-dim", "gender")
    page.fill("#filter-search", "fem")
    rerender(page, lambda: page.get_by_role("button", name="Add: Female (Gender)").click())
    rerender(page, lambda: page.select_option("#time-from", "2023"))
    cut = "gender@default:F|time:2023-"
    regions_by_year = ("unemployment", m, "territory@region:region", "time@ymd:year")
    want = expected(api, *regions_by_year, "Total", "en", cut=cut)
    assert pivot(page) == want
    assert {col for _, col in want} == {"2023", "2024", "2025", "Total"}
    assert "Gender: Female" in page.locator("#filter-chips").inner_text()

    # Export: the files are the API's own CSV/XLSX of the view: cells, subtotals, grand total.
    raw = exported(page, "csv")
    assert raw.startswith(b"\xef\xbb\xbf"), "the page's CSV starts with a BOM, for Excel"
    head, *rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    answer = get(
        api, "/cube/unemployment/aggregate", drilldown="territory@region:region|time@ymd:year",
        cut=cut, aggregates=m, lang="en", subtotals="cube",
    )  # fmt: skip
    assert head[0] == "subtotal" and head[-1] == "Registered unemployed"
    assert [float(r[-1]) for r in rows if r[0] == ""] == [c[m] for c in answer["cells"]]
    subtotals = [c[m] for s in answer["subtotals"] for c in s["cells"]]
    assert [float(r[-1]) for r in rows if r[0] == "subtotal"] == subtotals and subtotals
    assert rows[-1][0] == "total" and float(rows[-1][-1]) == answer["summary"][m]
    assert exported(page, "xlsx")[:2] == b"PK"

    # Switch language: the same view, Latvian labels, the numbers of lang=lv.
    page.click("#lang-switch")
    page.wait_for_selector("body[data-ready]")
    assert page.locator("html").get_attribute("lang") == "lv"
    want_lv = expected(api, *regions_by_year, "Kopā", "lv", cut=cut)
    assert pivot(page) == want_lv
    assert ("Latgales statistiskais reģions", "Kopā") in want_lv
    assert "Dzimums: Sieviete" in page.locator("#filter-chips").inner_text()
    shot(page, "browser-lv")

    # A shared link opens the same view in a new tab.
    shared = page.url
    other = page.context.new_page()
    other.goto(shared)
    other.wait_for_selector("body[data-ready]")
    assert pivot(other) == want_lv
    other.close()


def test_two_row_dimensions_have_subtotals_from_the_api(page: Any, api: httpx.Client) -> None:
    m = "persons"
    rows = "territory@region:region|gender"
    open_view(page, f"/browser?cube=unemployment&m={m}&rows={rows}&cols=time:year&lang=en")
    shown = {  # the subtotal and total rows (inner row labels such as 'Female' repeat per region)
        (row["head"][-1], col): value
        for row in page.evaluate(READ_PIVOT, "pivot-table")
        if row["head"][-1] == "Total" or row["head"][-1].endswith(" — subtotal")
        for col, value in row["cells"]
    }
    agg = "/cube/unemployment/aggregate"
    by_region = get(api, agg, drilldown="territory@region:region", aggregates=m, cut="time:2024", lang="en")
    # Distinct persons do not add up: a subtotal must be the API's own answer, not a sum of rows.
    for c in by_region["cells"]:
        assert shown[(f"{c['territory.region_label']} — subtotal", "2024")] == c[m]
    assert shown[("Total", "2024")] == by_region["summary"][m]
    shot(page, "browser-subtotals")


def test_members_below_the_top_level_are_told_apart_by_their_path(page: Any, api: httpx.Client) -> None:
    # Quarter 2 is a key under every year: the table must not mix 2023's with 2024's.
    m = "registered_unemployed"
    open_view(
        page, f"/browser?cube=unemployment&m={m}&rows=territory@region:region&cols=time@ymd:quarter&lang=en"
    )
    want = expected(api, "unemployment", m, "territory@region:region", "time@ymd:quarter", "Total", "en")
    assert pivot(page) == want and ("Latgale statistical region", "2023-Q2") in want


def test_two_column_dimensions_have_subtotals_from_the_api(page: Any, api: httpx.Client) -> None:
    m = "persons"
    rows, cols = "territory@region:region", "time@ymd:year|gender@default:gender"
    open_view(page, f"/browser?cube=unemployment&m={m}&rows={rows}&cols={cols}&lang=en")
    shown = pivot(page)
    agg = "/cube/unemployment/aggregate"

    def answer(drilldown: str) -> Any:
        return get(api, agg, drilldown=drilldown, aggregates=m, lang="en")

    for c in answer(f"{rows}|{cols}")["cells"]:
        col = f"{c['time.year_label']} / {c['gender.gender_label']}"
        assert shown[(c["territory.region_label"], col)] == c[m]
    for c in answer(f"{rows}|time:year")["cells"]:
        assert shown[(c["territory.region_label"], f"{c['time.year_label']} — subtotal")] == c[m]
    for c in answer(cols)["cells"]:
        assert shown[("Total", f"{c['time.year_label']} / {c['gender.gender_label']}")] == c[m]
    whole = answer("time:year")
    for c in whole["cells"]:
        assert shown[("Total", f"{c['time.year_label']} — subtotal")] == c[m]
    assert shown[("Total", "Total")] == whole["summary"][m]
    # The inner header drills the inner dimension.
    header = page.locator("#pivot-table thead").get_by_role("button", name="Drill down into 2024")
    assert header.count() == 1
    shot(page, "browser-two-columns")


def test_keyboard_and_labels(page: Any) -> None:
    open_view(page, "/browser?cube=unemployment&lang=en")
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('#controls select, #controls input')]"
        ".filter(e => !e.labels || !e.labels.length).map(e => e.id)"
    )
    assert unlabelled == []
    # A drill button is reached and pressed with the keyboard alone.
    page.focus("#pivot-table tbody button.drill")
    name = page.evaluate("document.activeElement.textContent")
    rerender(page, lambda: page.keyboard.press("Enter"))
    assert name in page.locator("#breadcrumbs").inner_text()
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.tagName") in ("BUTTON", "SELECT", "INPUT", "A", "DIV")


def test_first_render_of_a_demo_cube_is_under_a_second(page: Any) -> None:
    open_view(page, "/browser?cube=unemployment&lang=en")
    first = page.evaluate("window.labisFirstRender")
    assert 0 < first <= FIRST_RENDER_MS, f"first render took {first:.0f} ms"


def test_time_range_by_month(page: Any, api: httpx.Client) -> None:
    """A time range can start or end at a month: a range cut over the year-month hierarchy."""
    view = "cube=unemployment&m=new_registrations&rows=territory@region:region&cols=time@ym:month"
    open_view(page, f"/browser?{view}&from=2023-02&to=2023-04&lang=en")
    regions_by_month = ("unemployment", "new_registrations", "territory@region:region", "time@ym:month")
    want = expected(api, *regions_by_month, "Total", "en", cut="time@ym:2023,2-2023,4")
    assert pivot(page) == want
    assert {col for _, col in want} == {"2023-02", "2023-03", "2023-04", "Total"}
    rerender(page, lambda: page.select_option("#time-to", "2023"))  # a whole year: to December
    assert "to=2023&" in page.url or page.url.endswith("to=2023")
    want = expected(api, *regions_by_month, "Total", "en", cut="time@ym:2023,2-2023,12")
    assert pivot(page) == want and len({col for _, col in want}) == 12


def test_the_chart_shows_the_measure_chosen_for_it(page: Any) -> None:
    """With several measures selected, the chart shows the one picked for it (`cm` in the URL)."""
    m = "registered_unemployed,new_registrations"
    open_view(page, f"/browser?cube=unemployment&m={m}&cm=new_registrations&lang=en")
    assert page.locator("#chart-measure").input_value() == "new_registrations"
    assert page.locator("#chart-caption").inner_text() == "The chart shows: New registrations"
    rerender(page, lambda: page.select_option("#chart-measure", "registered_unemployed"))
    assert page.locator("#chart-caption").inner_text() == "The chart shows: Registered unemployed"
    assert "cm=" not in page.url  # the first measure is the default
    rerender(page, lambda: page.select_option("#chart-measure", "new_registrations"))
    assert "cm=new_registrations" in page.url


# --- bad input: a clear message, never a blank page --------------------------------------------


def test_broken_link_state_is_reported_and_ignored(page: Any) -> None:
    open_view(page, "/browser?cube=unemployment&rows=%%%&chart=zzz&m=nope&cm=zzz&from=19x&lang=en")
    notice = page.locator("#notice").inner_text()
    assert "could not be read" in notice and "chart=zzz" in notice and "m=nope" in notice
    assert "cm=zzz" in notice
    assert page.locator("#pivot-table").is_visible()


def test_unknown_cube_and_member(page: Any) -> None:
    open_view(page, "/browser?cube=unemploymnt&lang=en")
    error = page.locator("#error").inner_text()
    assert "no cube 'unemploymnt'" in error and "did you mean 'unemployment'" in error
    assert page.locator("#cube option").count() > 1  # the user can pick another cube
    rows = "territory@region:municipality"
    open_view(page, f"/browser?cube=unemployment&rows={rows}&path=territory@region:NOPE&lang=en")
    # The server refuses a cut on a member it does not have (a 400, not an empty answer).
    assert "'territory' has no member 'NOPE'" in page.locator("#error").inner_text()


def test_api_errors_and_slow_queries_show_a_message(page: Any) -> None:
    def fail(route: Any) -> None:
        route.fulfill(
            status=500,
            content_type="application/json",
            body='{"error":"engine_error","message":"the database engine could not answer","hint":null}',
        )

    page.route("**/aggregate?*", fail)
    open_view(page, "/browser?cube=unemployment&lang=en")
    error = page.locator("#error").inner_text()
    assert "Database error: the database engine could not answer" in error and "(engine_error)" in error
    page.unroute("**/aggregate?*")

    page.route("**/aggregate?*", lambda route: route.fulfill(status=502, body="<html>Bad gateway</html>"))
    open_view(page, "/browser?cube=unemployment&lang=en")
    assert "HTTP 502" in page.locator("#error").inner_text()
    page.unroute("**/aggregate?*")

    held: list[Any] = []
    page.route("**/aggregate?*", lambda route: held.append(route))
    page.goto(page.base + "/browser?cube=unemployment&lang=en")
    wait_until(page, "document.getElementById('status').textContent.includes('still running')")
    for route in held:
        route.continue_()
    page.unroute("**/aggregate?*")
    page.wait_for_selector("body[data-ready]")
    assert page.locator("#status").inner_text() == "" and page.locator("#pivot-table").is_visible()


def test_pages_carry_a_strict_csp_that_they_run_under(page: Any, api: httpx.Client) -> None:
    """Every page is served with the CSP and runs under it (the fixture fails on a violation)."""
    for path in ("/browser?cube=unemployment&lang=en", "/browser/indicators", "/browser/indicators/nope"):
        response = api.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert api.get("/cubes").headers["x-content-type-options"] == "nosniff"
    open_view(page, "/browser?cube=unemployment&lang=en")
    assert page.locator("#pivot-table").is_visible()


# --- numbers, colours and words in the page's language --------------------------------------------

NBSP = "\u00a0"
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442"]


def written(value: float, decimals: int, unit: str | None, lang: str, *, trim: bool = False) -> str:
    """How a page must write a number, made here without the page's code: grouping by threes
    from the first thousand (Latvian with a no-break space and a decimal comma, English with
    commas and a point), `decimals` places (rounded half up from the double's exact value, as
    ECMA-402 says; `trim`: an axis tick's, without trailing zeros), euros and % as the locale
    writes them."""
    exact = decimal.Decimal(value).quantize(decimal.Decimal(1).scaleb(-decimals), decimal.ROUND_HALF_UP)
    text = f"{exact:,f}"
    if trim and "." in text:
        text = text.rstrip("0").rstrip(".")
    if lang == "lv":
        text = text.replace(",", NBSP).replace(".", ",")
    if unit == "EUR":
        return f"{text}{NBSP}€" if lang == "lv" else f"€{text}"
    return text + "%" if unit == "%" else text


READ_COLUMNS = """() => {
  const t = document.getElementById('pivot-table');
  const out = {};
  for (const r of [...t.tBodies[0].rows, ...t.tFoot.rows]) {
    [...r.cells].filter(c => c.tagName === 'TD').forEach((c, i) => {
      (out[i] ||= []).push([c.textContent, c.dataset.value === '' ? null : Number(c.dataset.value)]);
    });
  }
  return Object.values(out);
}"""

CHART = "Chart.getChart(document.getElementById('chart'))"


@pytest.mark.parametrize("lang", ["lv", "en"])
def test_numbers_are_written_in_the_pages_locale_the_same_in_a_column_and_on_the_chart(
    page: Any, api: httpx.Client, lang: str
) -> None:
    """Money with its currency, shares with %, counts and averages at the model's decimals; in
    Latvian `1 234,5`, in English `1,234.5`; every value of a column with the same decimals,
    and the chart's axis and tooltips written the same way."""
    info = {a["name"]: a["info"] for a in get(api, "/cube/social_assistance/model")["aggregates"]}
    m = "amount,avg_payment,payments"
    open_view(page, f"/browser?cube=social_assistance&m={m}&rows=territory@region:region&cols=&lang={lang}")
    columns = page.evaluate(READ_COLUMNS)
    assert len(columns) == 3
    big = False
    for name, column in zip(m.split(","), columns, strict=True):
        unit, decimals = info[name]["unit"], info[name]["decimals"]
        for text, value in column:
            assert text == written(value, decimals, unit, lang), (name, text, value)
            big = big or value >= 1000
    assert big, "no value of four digits or more: the grouping was not checked"

    chart = page.evaluate(
        "(() => { const c = " + CHART + "; return { ticks: c.scales.y.ticks.map(t => [t.value, t.label]),"
        " tip: c.config.options.plugins.tooltip.callbacks"
        ".label({dataset: {label: 'X'}, parsed: {y: 1234.5}}) }; })()"
    )
    assert chart["tip"] == f"X: {written(1234.5, 2, 'EUR', lang)}"
    assert any(value >= 1000 for value, _ in chart["ticks"]), chart["ticks"]
    for value, label in chart["ticks"]:
        assert label == written(value, 2, "EUR", lang, trim=True), (value, label)

    # A share in % at one decimal (the model's), and the unit of a count named in the language.
    m = "long_term_share,avg_duration"
    open_view(page, f"/browser?cube=unemployment&m={m}&rows=territory@region:region&cols=&lang={lang}")
    share, duration = page.evaluate(READ_COLUMNS)
    assert all(text == written(value, 1, "%", lang) for text, value in share), share
    assert all(text == written(value, 1, None, lang) for text, value in duration), duration
    caption = page.locator("#pivot-table caption").inner_text()
    assert ("(mēneši)" if lang == "lv" else "(months)") in caption, caption


def test_every_series_has_a_colour_of_its_own(page: Any) -> None:
    """A municipality per series (more than twelve): no two share a colour. The first seven are
    Okabe & Ito's colour-blind-safe palette; the extension is the same on every page and never
    repeats (checked for 400 series through the page's own module)."""
    view = "cube=unemployment&m=registered_unemployed&rows=territory@region:municipality&cols=time@ymd:year"
    open_view(page, f"/browser?{view}&chart=line&lang=en")
    datasets = page.evaluate(
        f"{CHART}.config.data.datasets"
        ".map(d => [d.label, d.backgroundColor, d.borderColor, JSON.stringify(d.borderDash)])"
    )
    assert len(datasets) >= 12, len(datasets)
    colours = [d[1] for d in datasets]
    assert len(set(colours)) == len(datasets), colours
    assert [d[2] for d in datasets] == colours
    assert colours[:7] == OKABE_ITO
    assert datasets[7][3] != datasets[0][3], "a second round of colours is told apart by its dashes too"
    many = page.evaluate(
        "(async () => { const m = await import('/browser/static/common.js');"
        " return [...Array(400).keys()].map(m.seriesColour); })()"
    )
    assert len(set(many)) == 400 and many[: len(colours)] == colours


def test_a_download_from_the_latvian_page_is_in_latvian(page: Any, api: httpx.Client) -> None:
    """Headers, row kinds (starpsumma, kopā) and member labels of the CSV and XLSX in Latvian."""
    m = "registered_unemployed"
    open_view(page, f"/browser?cube=unemployment&m={m}&rows=territory@region:region|gender&cols=&lang=lv")
    head, *rows = list(csv.reader(io.StringIO(exported(page, "csv").decode("utf-8-sig"))))
    model = get(api, "/cube/unemployment/model", lang="lv")
    measure = next(a["label"] for a in model["aggregates"] if a["name"] == m)
    assert head == [
        "starpsumma", "Statistiskais reģions", "Statistiskais reģions (nosaukums)", "Dzimums",
        "Dzimums (nosaukums)", measure,
    ], head  # fmt: skip
    assert {r[0] for r in rows} == {"", "starpsumma", "kopā"} and rows[-1][0] == "kopā"
    assert "Latgales statistiskais reģions" in {r[2] for r in rows} and "Sieviete" in {r[4] for r in rows}
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(exported(page, "xlsx")), read_only=True).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == head and values[-1][0] == "kopā"


def test_errors_are_said_in_the_pages_language(page: Any) -> None:
    """What happened in the page's language, then the API's own message and hint — in Latvian
    on a Latvian page (marked lang="lv"), in English on an English one."""
    open_view(page, "/browser?cube=unemploymnt&lang=lv")
    error = page.locator("#error p.error")
    text = error.inner_text()
    assert text == "Nav atrasts: kuba 'unemploymnt' nav — vai domājāt 'unemployment'? (not_found)", text
    assert error.locator(".message").get_attribute("lang") == "lv"
    open_view(page, "/browser?cube=unemploymnt&lang=en")
    text = error.inner_text()
    assert text.startswith("Not found: no cube 'unemploymnt'") and text.endswith("(not_found)"), text
    assert error.locator(".message").get_attribute("lang") == "en"
    rows = "territory@region:municipality"
    open_view(page, f"/browser?cube=unemployment&rows={rows}&path=territory@region:NOPE&lang=lv")
    text = page.locator("#error").inner_text()
    # an unknown member in a cut is the API's 400 with a did-you-mean (no answer of 0), its
    # words in the page's language (the page asks in Accept-Language; api/error_text.py)
    assert "Nederīgs vaicājums: 'territory' līmenī 'region' nav elementa 'NOPE'" in text, text
    assert page.locator("#error .message").get_attribute("lang") == "lv"


@pytest.mark.parametrize("lang", ["lv", "en"])
def test_an_indicators_fixed_cuts_are_shown_by_their_members_labels(
    page: Any, api: httpx.Client, lang: str
) -> None:
    """Shown as "Vecuma grupa: 15–24 gadi", not `age_group:working_age,A15_24`: the labels /cell gives."""
    dims = {d["name"]: d["label"] for d in get(api, "/cube/unemployment/model", lang=lang)["dimensions"]}
    for code in ("NVA-005", "NVA-008"):
        ind = get(api, f"/indicator/{code}", lang=lang)["indicator"]
        cut = get(api, "/cube/unemployment/cell", cut=ind["cuts"], lang=lang)["cuts"][0]
        label = cut["details"][-1]["_label"]
        open_view(page, f"/browser/indicators/{code}?lang={lang}")
        shown = page.locator("#fixed-cuts").inner_text()
        assert shown == f"{dims[cut['dimension']]}: {label}", shown
        assert ind["cuts"] not in shown
    assert shown == ("Dzimums: Sieviete" if lang == "lv" else "Gender: Female")
    unit = "personas" if lang == "lv" else "persons"
    assert page.locator("#unit").inner_text() == unit
    assert page.locator("#indicator-table caption").inner_text().endswith(f"({unit})")
    table = page.evaluate(READ_PIVOT, "indicator-table")
    texts = page.evaluate("[...document.querySelectorAll('#indicator-table td')].map(c => c.textContent)")
    values = [v for row in table for _, v in row["cells"]]
    assert texts == [written(v, 0, None, lang) if v is not None else "–" for v in values]


# --- indicator pages ---------------------------------------------------------------------------------


def test_indicator_catalogue_and_page(page: Any, api: httpx.Client) -> None:
    page.goto(page.base + "/browser/indicators?lang=en")
    assert int(page.inner_text("#found-count")) == len(get(api, "/indicators"))
    shot(page, "indicators")
    page.fill("input[name=q]", "youth")
    page.click("button[type=submit]")
    assert page.inner_text("#found-count") == "1"
    page.click("text=NVA-005")
    page.wait_for_selector("body[data-ready]")
    assert "Youth Guarantee monitoring indicator" in page.inner_text("dl.definition")
    answer = get(api, "/indicator/NVA-005", drilldown="territory:region|time:year", lang="en")
    shown = pivot(page, "indicator-table")
    for c in answer["cells"]:
        assert shown[(c["territory.region_label"], str(c["time.year_label"]))] == c["registered_unemployed"]
    assert shown[("Total", "Total")] == answer["summary"]["registered_unemployed"]
    shot(page, "indicator")
    rerender(page, lambda: page.select_option("#time-level", "quarter"))
    assert "time=quarter" in page.url
    answer = get(api, "/indicator/NVA-005", drilldown="territory:region|time:quarter", lang="en")
    shown = pivot(page, "indicator-table")
    for c in answer["cells"]:
        assert shown[(c["territory.region_label"], c["time.quarter_label"])] == c["registered_unemployed"]
    assert ("Total", "2024-Q4") in shown
    href = page.get_attribute("#export-csv", "href")
    assert href is not None and "bom=true" in href, href
    exported = api.get(href)
    assert exported.status_code == 200 and exported.content.startswith(b"\xef\xbb\xbf")


OPTIONS = "(id) => [...document.getElementById(id).options].map(o => o.value)"


def test_the_public_is_offered_only_the_published_views_of_an_indicator(public_page: Any, page: Any) -> None:
    """VDI-005 and VDI-007 are published by sector for Latvia only: the public's page shows the
    national totals by year, with no choice the server would refuse, whatever the link asks."""
    for code in ("VDI-005", "VDI-007"):
        for query in ("", "&territory=municipality&time=month"):
            open_view(public_page, f"/browser/indicators/{code}?lang=en{query}")
            assert public_page.inner_text("#error") == "", (code, query)
            shown = pivot(public_page, "indicator-table")
            assert {row for row, _ in shown} == {"Total"} and len(shown) > 1, shown
            assert public_page.evaluate(OPTIONS, "territory-level") == [""]
            assert public_page.evaluate(OPTIONS, "time-level") == ["year"]
            assert "territory=&time=year" in public_page.url
        open_view(page, f"/browser/indicators/{code}?lang=en")
        assert len({row for row, _ in pivot(page, "indicator-table")}) > 2  # an analyst's: by place
    open_view(public_page, "/browser/indicators/NVA-005?lang=en&territory=municipality&time=month")
    assert public_page.inner_text("#error") == ""
    assert public_page.evaluate(OPTIONS, "territory-level") == ["region", ""]
    assert "territory=region&time=year" in public_page.url
    rerender(public_page, lambda: public_page.select_option("#territory-level", ""))
    assert public_page.inner_text("#error") == "" and "territory=&time=year" in public_page.url
    open_view(page, "/browser/indicators/NVA-005?lang=en")
    assert "municipality" in page.evaluate(OPTIONS, "territory-level")


def test_unknown_indicator_page_says_so(page: Any) -> None:
    response = page.goto(page.base + "/browser/indicators/NVA-01?lang=en")
    assert response.status == 404
    assert "did you mean 'NVA-011'?" in page.inner_text("main")
    response = page.goto(page.base + "/browser/indicators?type=opinion&q=%3Cscript%3E&lang=en")
    assert response.status == 200 and "type=opinion" in page.inner_text(".notice")
    assert page.input_value("input[name=q]") == "<script>"
