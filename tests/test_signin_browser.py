"""Browser sign-in end to end in Debian's Chromium (headless, through Playwright): a real server
(uvicorn over the mini model's facts in embedded chDB, with a role restricted to one region)
whose LABIS_ISSUER is the real mock issuer (tests/oauth2_issuer.*), which signs the configured
user in at its /authorize and issues tokens carrying the role.

Signed out, the page's API calls answer 401 and it offers sign-in; "Sign in" goes through the
issuer and back; the page's numbers are the API's answer for the role (asked with a bearer
token of the same role), its one region only; the session cookie is HttpOnly, Secure (Chromium
keeps a Secure cookie from http://127.0.0.1: loopback is a secure context) and SameSite=Lax;
"Sign out" passes through the issuer's end_session endpoint and back, and the API answers 401
again. The page runs under the strict CSP, whose violations fail the test.
Without Chromium or the issuer these tests fail when CI=true and are skipped otherwise.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from oauth2_issuer import AUDIENCE, MockIssuer
from signin_setup import CUBE, REGION, ROLE, loaded, need_issuer, roles_model
from test_browser_e2e import ARGS, CHROMIUM, _unavailable, expected, pivot, wait_until

from labis_olap.api import create_app
from labis_olap.security import COOKIE
from labis_olap.settings import Settings

MEASURE = "amount"
ROWS, COLS = "territory@region:region", "time@ymd:year"
VIEW = f"/browser?cube={CUBE}&m={MEASURE}&rows={ROWS}&cols={COLS}&lang=en"


@pytest.fixture(scope="module")
def issuer() -> Iterator[MockIssuer]:
    need_issuer()
    server = MockIssuer()
    server.sign_in_as({"aud": AUDIENCE, "sub": "anna", "roles": [ROLE]}, {"name": "Anna Bērziņa"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(issuer: MockIssuer, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with authentication by the issuer, served on a free loopback port."""
    where = tmp_path_factory.mktemp("signin_browser")
    model = roles_model(where / "model")
    with loaded(data_dir, model, "signin_web") as engine:
        settings = Settings(
            model_dir=where / "model", data_dir=where, database=engine.database, issuer=issuer.url,
            audience=AUDIENCE, api_keys_file=where / "none.json",
        )  # fmt: skip
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        app = create_app(settings, model, engine)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        srv = uvicorn.Server(config)
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not srv.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
        srv.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def context(server: str) -> Iterator[Any]:
    """A fresh headless Chromium context (its own cookie jar)."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        ctx = browser.new_context(viewport={"width": 1366, "height": 900})
        ctx.set_default_timeout(30_000)  # the issuer, the server and Chromium share two cores
        yield ctx
        ctx.close()
        browser.close()


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    """A tab whose script errors and Content-Security-Policy violations fail the test."""
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    tab.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    tab.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    yield tab
    tab.close()
    assert not problems, problems


def landed(page: Any) -> str:
    """The URL the last navigation (after its redirects) loaded, whatever the script did since."""
    url: str = page.evaluate("performance.getEntriesByType('navigation')[0].name")
    return url


def session_cookies(context: Any) -> list[dict[str, Any]]:
    return [c for c in context.cookies() if c["name"] == COOKIE]


def test_sign_in_see_the_roles_numbers_and_sign_out(
    page: Any, context: Any, server: str, issuer: MockIssuer
) -> None:
    api = httpx.Client(base_url=server, timeout=30)
    assert api.get(f"/cube/{CUBE}/aggregate").status_code == 401

    # Signed out: the page's own API calls are refused and it offers signing in.
    page.goto(server + VIEW)
    page.wait_for_selector("body[data-ready]")
    assert "unauthorized" in page.locator("#error").inner_text()
    assert page.locator("#sign-in").inner_text() == "Sign in"
    assert page.locator("#sign-in-again").count() == 1
    assert page.locator("#pivot-table").count() == 0
    assert session_cookies(context) == []

    # Sign in: through the issuer's /authorize and back to this very view.
    page.click("#sign-in")
    page.wait_for_selector("#user-name")  # not wait_for_url: the page was at this URL already
    page.wait_for_selector("body[data-ready]")
    assert landed(page) == server + VIEW  # (the page's script then writes the view its own way)
    wait_until(page, "document.getElementById('pivot-table') !== null")
    assert page.locator("#user-name").inner_text() == "Anna Bērziņa"
    assert page.locator("#sign-out").inner_text() == "Sign out"
    assert page.locator("#error").inner_text() == ""

    # The numbers are the API's answer for the role, asked with a bearer token of that role.
    token = issuer.token(sub="anna", roles=[ROLE])
    with httpx.Client(base_url=server, timeout=30, headers={"Authorization": f"Bearer {token}"}) as as_role:
        want = expected(as_role, CUBE, MEASURE, ROWS, COLS, "Total", "en")
        regions = as_role.get(f"/cube/{CUBE}/aggregate", params={"drilldown": ROWS}).json()["cells"]
    assert pivot(page) == want
    assert {c["territory.region"] for c in regions} == {REGION}
    assert {row for row, _ in want} == {"North", "Total"}  # only the granted region

    # The session cookie: out of the page's reach, Secure, SameSite=Lax.
    assert COOKIE not in page.evaluate("document.cookie")
    (cookie,) = session_cookies(context)
    assert cookie["httpOnly"] is True and cookie["secure"] is True and cookie["sameSite"] == "Lax"
    assert cookie["domain"] == "127.0.0.1" and cookie["path"] == "/"
    session_id = cookie["value"]
    assert api.get(f"/cube/{CUBE}/aggregate", headers={"cookie": f"{COOKIE}={session_id}"}).status_code == 200

    # Sign out: the form posts to this server, which sends the browser through the issuer's
    # end_session endpoint (the CSP's form-action lets it go there) and back to the browser page.
    page.click("#sign-out")
    page.wait_for_selector("#sign-in")
    page.wait_for_selector("body[data-ready]")
    assert landed(page) == server + "/browser"
    assert session_cookies(context) == []
    assert page.locator("#sign-in").count() == 1 and page.locator("#user-name").count() == 0
    assert "unauthorized" in page.locator("#error").inner_text()
    assert api.get(f"/cube/{CUBE}/aggregate", headers={"cookie": f"{COOKIE}={session_id}"}).status_code == 401
    api.close()
