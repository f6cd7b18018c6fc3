"""Browser sign-in over HTTP (security/signin.py, api/routes/signin.py): the real issuer
(oauth2-mock-server in Node, tests/oauth2_issuer.*) and the app over the mini model's facts in
real embedded chDB, with a role restricted to one region.

The "browser" is a TestClient on https://testserver keeping its cookies; it goes to the issuer's
real /authorize (which signs the configured user in at once) and back to /auth/callback with the
code, which the server exchanges at the issuer's /token with its PKCE verifier. Chromium runs
the same flow in tests/test_signin_browser.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient
from oauth2_issuer import AUDIENCE, MockIssuer
from signin_setup import CUBE, REGION, ROLE, loaded, need_issuer, roles_model

from labis_olap.api import create_app
from labis_olap.api.routes.signin import safe_next
from labis_olap.engine.base import Engine
from labis_olap.model.definition import Model
from labis_olap.security import COOKIE, STATE_COOKIE, Authenticator, Session
from labis_olap.service import Principal
from labis_olap.service.audit import read
from labis_olap.settings import Settings

BASE = "https://testserver"
AGG = f"/cube/{CUBE}/aggregate?drilldown=territory"
REPORT = {"queries": {"a": {"query": "aggregate", "drilldown": ["territory"]}}}
ANNA = {"aud": AUDIENCE, "sub": "anna", "roles": [ROLE]}
ANNA_ID = {"sub": "anna", "name": "Anna Bērziņa"}


@pytest.fixture(scope="module")
def issuer() -> Iterator[MockIssuer]:
    need_issuer()
    server = MockIssuer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Model:
    return roles_model(tmp_path_factory.mktemp("signin") / "model")


@pytest.fixture(scope="module")
def engine(data_dir: Path, model: Model) -> Iterator[Engine]:
    with loaded(data_dir, model, "signin") as engine:
        yield engine


@pytest.fixture(scope="module")
def settings_of(
    issuer: MockIssuer, model: Model, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Settings]:
    def make(**updates: Any) -> Settings:
        where = tmp_path_factory.mktemp("app")
        values: dict[str, Any] = {
            "data_dir": where,
            "database": engine.database,
            "issuer": issuer.url,
            "audience": AUDIENCE,
            "api_keys_file": where / "none.json",
            "audit_file": where / "audit.jsonl",
            **updates,
        }
        return Settings(**values)

    return make


@pytest.fixture(scope="module")
def serve(
    model: Model, engine: Engine, settings_of: Callable[..., Settings]
) -> Iterator[Callable[..., TestClient]]:
    """`serve(**settings)`: a started app as a browser on https://testserver sees it."""
    opened: list[TestClient] = []

    def make(**updates: Any) -> TestClient:
        client = TestClient(
            create_app(settings_of(**updates), model, engine), base_url=BASE, raise_server_exceptions=False
        )
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture(scope="module")
def app(serve: Callable[..., TestClient]) -> TestClient:
    """One app; tests that sign in use `browser` (a fresh cookie jar each)."""
    return serve()


@pytest.fixture
def browser(app: TestClient, issuer: MockIssuer) -> Iterator[TestClient]:
    issuer.sign_in_as(ANNA, ANNA_ID)
    app.cookies.clear()
    yield app
    app.cookies.clear()


def auth_of(client: TestClient) -> Authenticator:
    auth: Authenticator = client.app.state.labis.authenticator  # type: ignore[attr-defined]
    return auth


def to_issuer(client: TestClient, next: str | None = "/browser?lang=en") -> str:
    """GET /auth/login, then the issuer's /authorize: the callback URL it sends the browser back to."""
    start = client.get("/auth/login", params={} if next is None else {"next": next}, follow_redirects=False)
    assert start.status_code == 302, start.text
    at_issuer = httpx.get(start.headers["location"], follow_redirects=False, timeout=10)
    assert at_issuer.status_code == 302, at_issuer.text
    back = urlsplit(at_issuer.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == f"{BASE}/auth/callback"
    return f"{back.path}?{back.query}"


def sign_in(client: TestClient, next: str | None = "/browser?lang=en") -> httpx.Response:
    done = client.get(to_issuer(client, next), follow_redirects=False)
    assert done.status_code == 302, done.text
    return done


def set_cookie(response: httpx.Response, name: str) -> str:
    found = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


def session_id(client: TestClient) -> str:
    value = client.cookies.get(COOKIE)
    assert value, "no session cookie"
    return value


def cells(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["cells"]
    return found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized"
    assert response.headers.get_list("www-authenticate") == ['Bearer realm="LabIS"']


# --- the flow ---------------------------------------------------------------------------------


def test_sign_in_gives_the_principal_the_same_token_gives_as_a_bearer(
    browser: TestClient, issuer: MockIssuer
) -> None:
    unauthorized(browser.get(AGG))
    start = browser.get(
        "/auth/login", params={"next": "/browser?cube=benefits&lang=en"}, follow_redirects=False
    )
    assert start.status_code == 302 and start.headers["cache-control"] == "no-store"
    asked = urlsplit(start.headers["location"])
    params = {k: v[0] for k, v in parse_qs(asked.query).items()}
    assert f"{asked.scheme}://{asked.netloc}{asked.path}" == f"{issuer.url}/authorize"
    assert params["response_type"] == "code" and params["client_id"] == AUDIENCE
    assert params["redirect_uri"] == f"{BASE}/auth/callback" and params["scope"] == "openid profile"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 43 and len(params["nonce"]) >= 43 and params["state"] != params["nonce"]
    state_cookie = set_cookie(start, STATE_COOKIE).lower()
    for attribute in ("httponly", "secure", "samesite=lax", "path=/auth/callback", "max-age=600"):
        assert attribute in state_cookie, state_cookie

    before, _ = issuer.exchanges()
    at_issuer = httpx.get(start.headers["location"], follow_redirects=False, timeout=10)
    back = urlsplit(at_issuer.headers["location"])
    done = browser.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert done.status_code == 302 and done.headers["location"] == "/browser?cube=benefits&lang=en"
    count, last = issuer.exchanges()
    assert count == before + 1
    # A public client: no Basic credentials; the code went with its PKCE verifier (the issuer
    # checked it against the challenge, or the exchange would have failed).
    assert last["basic"] is None and "code_verifier" in last["form"] and "client_secret" not in last["form"]
    cookie = set_cookie(done, COOKIE)
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= attributes, cookie
    sid = cookie.split(";")[0].split("=", 1)[1]
    assert len(sid) >= 43
    assert "labis_signin=" in " ".join(done.headers.get_list("set-cookie"))  # the state cookie is cleared

    # The session's principal is the one the very same access token gives as a bearer.
    session = auth_of(browser).sessions.get(sid)
    assert session is not None and session.name == "Anna Bērziņa"
    as_bearer = auth_of(browser).authenticate(f"Bearer {last['access_token']}", None)
    assert session.principal == as_bearer == Principal("anna", frozenset({ROLE, "public"}), ())
    assert session.expires <= jwt.decode(last["access_token"], options={"verify_signature": False})["exp"]

    # The API answers the cookie as it answers the bearer: only the granted region.
    mine = cells(browser.get(AGG))
    assert mine == cells(browser.get(AGG, headers=bearer(issuer.token(sub="anna", roles=[ROLE]))))
    assert {c["territory.region"] for c in mine} == {REGION}
    page = browser.get("/browser?lang=en")
    assert 'id="user-name">Anna Bērziņa<' in page.text and 'id="sign-out"' in page.text


def test_the_page_offers_sign_in_only_where_there_is_an_issuer(
    app: TestClient, serve: Callable[..., TestClient], settings_of: Callable[..., Settings]
) -> None:
    app.cookies.clear()
    signed_out = app.get("/browser?cube=benefits&lang=en").text
    assert 'id="sign-in" href="/auth/login?next=%2Fbrowser%3Fcube%3Dbenefits%26lang%3Den"' in signed_out
    assert 'id="sign-out"' not in signed_out and "/browser/static/account.js" in signed_out
    # Open demo mode: no control, no sign-in routes, and a session cookie changes nothing.
    demo = serve(issuer=None, audience=None)
    page = demo.get("/browser?lang=en", headers={"cookie": f"{COOKIE}=whatever"})
    assert page.status_code == 200 and 'id="account"' not in page.text and "account.js" not in page.text
    assert "form-action 'self';" in page.headers["content-security-policy"]
    for path in ("/auth/login", "/auth/callback?state=x&code=y"):
        missing = demo.get(path, follow_redirects=False)
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert demo.post("/auth/logout", headers={"sec-fetch-site": "same-origin"}).status_code == 404
    # With an issuer, the sign-out form may go on to it, and nowhere else.
    issuer_origin = settings_of().issuer
    assert f"form-action 'self' {issuer_origin};" in signed_out_csp(app)


def signed_out_csp(client: TestClient) -> str:
    csp: str = client.get("/browser").headers["content-security-policy"]
    return csp


def test_home_leads_to_the_browser(app: TestClient) -> None:
    home = app.get("/", follow_redirects=False)
    assert home.status_code == 302 and home.headers["location"] == "/browser"


# --- what the callback refuses: a clear 400, never a traceback -----------------------------------


def refused_sign_in(response: httpx.Response, says: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error", "message", "hint"} and body["error"] == "signin_failed", body
    assert says in body["message"], body
    assert COOKIE not in " ".join(response.headers.get_list("set-cookie"))


def test_state_missing_mismatched_replayed_or_expired_is_400(browser: TestClient, issuer: MockIssuer) -> None:
    back = to_issuer(browser)
    query = parse_qs(urlsplit(back).query)
    code, state = query["code"][0], query["state"][0]
    refused_sign_in(browser.get(f"/auth/callback?code={code}", follow_redirects=False), "no state")
    refused_sign_in(
        browser.get(f"/auth/callback?code={code}&state=another", follow_redirects=False),
        "does not belong to a sign-in started in this browser",
    )
    # The callback handed to another browser (login CSRF: an attacker's code and state sent to a
    # victim) has no state cookie there.
    other = TestClient(browser.app, base_url=BASE, raise_server_exceptions=False)
    refused_sign_in(other.get(back, follow_redirects=False), "does not belong")
    # The real answer still works once, then its state is used up.
    assert browser.get(back, follow_redirects=False).status_code == 302
    browser.cookies.set(STATE_COOKIE, state, domain="testserver.local", path="/auth/callback")
    refused_sign_in(browser.get(back, follow_redirects=False), "unknown, already used or expired")
    # A sign-in left at the issuer for longer than 10 minutes has expired.
    browser.cookies.clear()
    late = to_issuer(browser)
    pending = auth_of(browser).signin.pending  # type: ignore[union-attr]
    pending.clock = lambda: time.time() + 601
    try:
        refused_sign_in(browser.get(late, follow_redirects=False), "expired")
    finally:
        pending.clock = time.time
    # A browser is shown the same failure as a page, in the pages' style (and the CSP).
    browser.cookies.clear()
    page = browser.get(
        "/auth/callback?code=x&state=y", headers={"accept": "text/html"}, follow_redirects=False
    )
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert 'data-error="signin_failed"' in page.text and "Traceback" not in page.text
    assert 'id="sign-in-again" href="/auth/login"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_an_error_from_the_issuer_is_400_and_not_echoed_beyond_its_code(browser: TestClient) -> None:
    back = to_issuer(browser)
    state = parse_qs(urlsplit(back).query)["state"][0]
    refused = browser.get(f"/auth/callback?state={state}&error=access_denied", follow_redirects=False)
    refused_sign_in(refused, "answered access_denied")
    to_issuer(browser)
    state = browser.cookies.get(STATE_COOKIE)
    odd = browser.get(f"/auth/callback?state={state}&error=<script>x</script>", follow_redirects=False)
    refused_sign_in(odd, "answered an error")
    assert "<script>" not in odd.text


def test_a_token_for_another_audience_or_a_forged_nonce_makes_no_session(
    browser: TestClient, issuer: MockIssuer
) -> None:
    issuer.sign_in_as({**ANNA, "aud": "another-app"}, ANNA_ID)
    refused_sign_in(browser.get(to_issuer(browser), follow_redirects=False), "another audience")
    issuer.sign_in_as(ANNA, {**ANNA_ID, "nonce": "from-another-sign-in"})
    refused_sign_in(browser.get(to_issuer(browser), follow_redirects=False), "nonce")
    issuer.sign_in_as(ANNA, {**ANNA_ID, "aud": "another-app"})
    refused_sign_in(browser.get(to_issuer(browser), follow_redirects=False), "id token")
    assert browser.cookies.get(COOKIE) is None


@pytest.mark.parametrize(
    "next",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        " /browser",
        "javascript:alert(1)",
        "evil.example",
        "/browser\\..\\x",
        "/ünï",
        "",
    ],
)
def test_open_redirects_are_refused(browser: TestClient, next: str) -> None:
    assert safe_next(next) == "/"
    done = sign_in(browser, next)
    assert done.headers["location"] == "/"


def test_a_path_on_this_site_is_kept() -> None:
    for good in ("/", "/browser", "/browser?cube=benefits&m=amount&rows=territory@region:region&lang=en",
                 "/browser/indicators/X?q=%2F%2Fevil"):  # fmt: skip
        assert safe_next(good) == good
    assert safe_next(None) == "/"


# --- cookies and cross-site requests ------------------------------------------------------------


def test_a_cross_site_post_with_the_cookie_is_403_and_a_same_origin_one_200(
    browser: TestClient, issuer: MockIssuer
) -> None:
    sign_in(browser)
    path = f"/cube/{CUBE}/report"
    for headers in (
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
        {"sec-fetch-site": "same-site", "origin": "https://sub.testserver"},
        {"sec-fetch-site": "cross-site", "origin": BASE},  # Sec-Fetch-Site cannot be set by a page
        {},  # neither header: not enough
    ):
        refused = browser.post(path, json=REPORT, headers=headers)
        assert refused.status_code == 403, (headers, refused.text)
        assert refused.json()["error"] == "forbidden" and "cells" not in refused.text
    token = issuer.token(sub="anna", roles=[ROLE])
    want = browser.post(path, json=REPORT, headers={**bearer(token), "origin": "https://evil.example"})
    assert want.status_code == 200  # a bearer token is not a cookie: no cross-site question
    for headers in ({"sec-fetch-site": "same-origin", "origin": BASE}, {"origin": BASE}):
        same = browser.post(path, json=REPORT, headers=headers)
        assert same.status_code == 200, same.text
        assert same.json() == want.json()
        assert {c["territory.region"] for c in same.json()["a"]["cells"]} == {REGION}
    # A GET with the cookie from anywhere is answered (it changes nothing; another site cannot
    # read the answer).
    assert browser.get(AGG, headers={"origin": "https://evil.example"}).status_code == 200


def test_an_expired_session_is_no_credentials(browser: TestClient, issuer: MockIssuer) -> None:
    sign_in(browser)
    sessions = auth_of(browser).sessions
    session = sessions.get(session_id(browser))
    assert session is not None and browser.get(AGG).status_code == 200
    sessions.clock = lambda: session.expires
    try:
        unauthorized(browser.get(AGG))  # the fast path
        unauthorized(browser.get(f"/cube/{CUBE}/members/territory"))
        assert browser.post(f"/cube/{CUBE}/report", json=REPORT, headers={"origin": BASE}).status_code == 401
        page = browser.get("/browser?lang=en").text
        assert 'id="sign-in"' in page and 'id="user-name"' not in page  # sign in again
    finally:
        sessions.clock = time.time
    assert sessions.get(session_id(browser)) is None  # expired is gone, not merely hidden
    unauthorized(browser.get(AGG, headers={"cookie": f"{COOKIE}=made-up"}))


def test_a_session_ends_with_its_token_or_the_cap(
    serve: Callable[..., TestClient], issuer: MockIssuer
) -> None:
    capped = serve(session_max_seconds=120)
    issuer.sign_in_as(ANNA, ANNA_ID)
    sign_in(capped)
    session = auth_of(capped).sessions.get(session_id(capped))
    assert session is not None and time.time() + 110 < session.expires <= time.time() + 120
    max_age = int(set_cookie_of_last(capped).split("max-age=")[1].split(";")[0])
    assert 110 <= max_age <= 120
    soon = int(time.time()) + 90
    issuer.sign_in_as({**ANNA, "exp": soon}, ANNA_ID)
    capped.cookies.clear()
    sign_in(capped)
    session = auth_of(capped).sessions.get(session_id(capped))
    assert session is not None and session.expires == soon


def set_cookie_of_last(client: TestClient) -> str:
    """The session cookie of a fresh sign-in (its Set-Cookie, lower-cased)."""
    client.cookies.clear()
    return set_cookie(sign_in(client), COOKIE).lower()


def test_sign_out_ends_the_session_here_and_at_the_issuer(browser: TestClient, issuer: MockIssuer) -> None:
    sign_in(browser)
    sid = session_id(browser)
    refused = browser.post("/auth/logout", headers={"origin": "https://evil.example"}, follow_redirects=False)
    assert refused.status_code == 403 and auth_of(browser).sessions.get(sid) is not None
    out = browser.post("/auth/logout", headers={"sec-fetch-site": "same-origin"}, follow_redirects=False)
    assert out.status_code == 303
    cleared = set_cookie(out, COOKIE).lower()
    assert "max-age=0" in cleared and "secure" in cleared and "httponly" in cleared and "path=/" in cleared
    assert auth_of(browser).sessions.get(sid) is None
    unauthorized(browser.get(AGG, headers={"cookie": f"{COOKIE}={sid}"}))
    end = urlsplit(out.headers["location"])
    assert f"{end.scheme}://{end.netloc}{end.path}" == f"{issuer.url}/endsession"
    params = {k: v[0] for k, v in parse_qs(end.query).items()}
    assert params["post_logout_redirect_uri"] == f"{BASE}/" and params["client_id"] == AUDIENCE
    assert jwt.decode(params["id_token_hint"], options={"verify_signature": False})["aud"] == AUDIENCE
    landed = httpx.get(out.headers["location"], follow_redirects=False, timeout=10)
    assert landed.status_code == 302 and landed.headers["location"] == f"{BASE}/"


def test_a_confidential_client_sends_its_secret_and_its_own_id(
    serve: Callable[..., TestClient], issuer: MockIssuer
) -> None:
    confidential = serve(client_id="labis-browser", client_secret="s3cret-value")
    issuer.sign_in_as(ANNA, ANNA_ID)  # the id token's `aud` is the client the issuer saw in Basic
    start = confidential.get("/auth/login", follow_redirects=False)
    assert parse_qs(urlsplit(start.headers["location"]).query)["client_id"] == ["labis-browser"]
    confidential.cookies.clear()
    done = sign_in(confidential, None)
    assert done.headers["location"] == "/"
    _, last = issuer.exchanges()
    assert last["basic"] == "labis-browser:s3cret-value" and "client_secret" not in last["form"]
    assert "code_verifier" in last["form"]  # PKCE for a confidential client too
    assert confidential.get(AGG).status_code == 200
    session = auth_of(confidential).sessions.get(session_id(confidential))
    assert session is not None and session.id_token is not None
    assert jwt.decode(session.id_token, options={"verify_signature": False})["aud"] == "labis-browser"


def test_a_public_url_names_the_redirect_uri(serve: Callable[..., TestClient]) -> None:
    proxied = serve(public_url="https://olap.example.lv/")
    start = proxied.get("/auth/login", follow_redirects=False)
    redirect = parse_qs(urlsplit(start.headers["location"]).query)["redirect_uri"]
    assert redirect == ["https://olap.example.lv/auth/callback"]
    with pytest.raises(ValueError):
        Settings(public_url="olap.example.lv")


# --- secrets stay secret ------------------------------------------------------------------------


def test_the_session_id_is_in_no_log_and_not_in_the_audit_log(
    model: Model, engine: Engine, settings_of: Callable[..., Settings], issuer: MockIssuer,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    settings = settings_of()
    issuer.sign_in_as(ANNA, ANNA_ID)
    with TestClient(create_app(settings, model, engine), base_url=BASE, raise_server_exceptions=False) as c:
        sign_in(c)
        sid = session_id(c)
        assert c.get(AGG).status_code == 200
        assert c.post(f"/cube/{CUBE}/report", json=REPORT, headers={"origin": BASE}).status_code == 200
        assert c.post(f"/cube/{CUBE}/report", json=REPORT, headers={"origin": "https://x"}).status_code == 403
        c.post("/auth/logout", headers={"origin": BASE}, follow_redirects=False)
        assert c.get(AGG, headers={"cookie": f"{COOKIE}={sid}"}).status_code == 401
    records = list(read(settings.audit_path))
    assert any(r.get("principal") == "anna" and r.get("status") == 200 for r in records), records
    text = settings.audit_path.read_text()
    assert sid not in text and sid[:16] not in text
    assert "signed in: anna" in caplog.text  # the log was captured
    assert sid not in caplog.text and sid[:16] not in caplog.text


def test_sessions_are_kept_by_a_hash_of_their_id_and_bounded() -> None:
    from labis_olap.security import SessionStore

    store = SessionStore(entries=3)
    who = Principal("x")
    ids = [store.create(Session(who, "x", time.time() + 60)) for _ in range(4)]
    assert len(set(ids)) == 4 and len(store) == 3
    assert store.get(ids[0]) is None and all(store.get(i) is not None for i in ids[1:])
    assert not any(i in repr(store._items) for i in ids)  # only hashes are held
    assert store.drop(ids[1]) is not None and store.get(ids[1]) is None
