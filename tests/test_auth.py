"""Authentication (labis_olap/security): OIDC tokens from a real issuer, API keys, open demo mode.

The issuer is oauth2-mock-server (npm) in a Node.js subprocess on 127.0.0.1 (tests/oauth2_issuer.*):
every token here comes from its /token endpoint and is signed by it, except the deliberately
forged ones (alg=none, HS256 keyed with the issuer's public key, a tampered payload, a key the
issuer never published). Apps run over real demo data (embedded chDB); each request goes to an
app with the aggregate fast path and one without, which must answer alike, 401s included.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from conftest import demo_database
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from oauth2_issuer import AUDIENCE, MockIssuer, missing
from typer.testing import CliRunner

from labis_olap.api import create_app
from labis_olap.api.fastpath import AggregateFastPath
from labis_olap.cli import app as cli_app
from labis_olap.engine.base import Engine
from labis_olap.errors import UnauthorizedError, UserError
from labis_olap.model.definition import Model
from labis_olap.security import ApiKeys, Authenticator, TokenCache
from labis_olap.service import ANONYMOUS, Principal
from labis_olap.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
AGG = "/cube/social_assistance/aggregate?drilldown=territory"


# --- fixtures ----------------------------------------------------------------------------------


def need_issuer() -> None:
    """Skip without Node.js or oauth2-mock-server; in CI (CI=true) fail: CI must install them."""
    reason = missing()
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI must run the issuer tests: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def issuer() -> Iterator[MockIssuer]:
    need_issuer()
    server = MockIssuer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def demo(data_dir: Path) -> Iterator[tuple[Model, Engine]]:
    with demo_database(data_dir, "auth", 3_000, seed=5) as demo:
        yield demo


class Apps:
    """The same settings served with the fast path (`fast`) and without (`plain`)."""

    def __init__(self, fast: TestClient, plain: TestClient, fast_app: FastAPI) -> None:
        self.fast, self.plain, self.fast_app = fast, plain, fast_app

    @property
    def path(self) -> AggregateFastPath:
        layer: Any = self.fast_app.middleware_stack
        while not isinstance(layer, AggregateFastPath):
            layer = layer.app
        return layer

    @property
    def auth(self) -> Authenticator:
        auth: Authenticator = self.fast_app.state.labis.authenticator
        return auth

    def get(self, url: str, headers: dict[str, str] | None = None) -> Any:
        """The fast path's answer, after checking FastAPI's route answers the same."""
        a, b = self.fast.get(url, headers=headers), self.plain.get(url, headers=headers)
        assert a.status_code == b.status_code, (url, a.text, b.text)
        assert a.headers["content-type"] == b.headers["content-type"], url
        assert a.headers.get_list("www-authenticate") == b.headers.get_list("www-authenticate"), url
        assert a.content == b.content, url
        return a


@pytest.fixture(scope="module")
def serve(demo: tuple[Model, Engine], data_dir: Path) -> Iterator[Any]:
    """Apps on the demo model without its roles and rules (authentication alone: a request
    without credentials is a 401, any credential sees everything; the shipped model's public
    answers requests without credentials: tests/test_demo_public.py)."""
    shipped, engine = demo
    cubes = {n: c.model_copy(update={"disclosure": None}) for n, c in shipped.cubes.items()}
    model = dataclasses.replace(shipped, roles={}, cubes=cubes)
    opened: list[TestClient] = []

    def make(**updates: Any) -> Apps:
        config = Settings(model_dir=ROOT / "model", data_dir=data_dir, database=engine.database, **updates)
        fast_app = create_app(config, model, engine)
        fast = TestClient(fast_app, raise_server_exceptions=False)
        plain = TestClient(create_app(config, model, engine, fast_path=False), raise_server_exceptions=False)
        for c in (fast, plain):
            c.__enter__()
            opened.append(c)
        fast.get("/version")  # builds the middleware stack
        return Apps(fast, plain, fast_app)

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture(scope="module")
def oidc(serve: Any, issuer: MockIssuer, tmp_path_factory: pytest.TempPathFactory) -> Apps:
    """Tokens of the mock issuer (no API keys)."""
    apps: Apps = serve(
        issuer=issuer.url, audience=AUDIENCE, api_keys_file=tmp_path_factory.mktemp("k") / "none.json"
    )
    return apps


def refused(response: Any, *, basic: bool = False) -> dict[str, Any]:
    """A 401 in the one error shape, with the challenges and no data."""
    assert response.status_code == 401, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message", "hint"} and body["error"] == "unauthorized", body
    expected = ['Bearer realm="LabIS"'] + (['Basic realm="LabIS"'] if basic else [])
    assert response.headers.get_list("www-authenticate") == expected
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- forging -----------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    h, p, s = token.split(".")
    return json.loads(unb64(h)), json.loads(unb64(p)), s


def alg_none(token: str) -> str:
    _, payload, _ = parts(token)
    return f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{b64(json.dumps(payload).encode())}."


def hs256_with_public_key(token: str, issuer: MockIssuer) -> str:
    """The classic confusion attack: HMAC-SHA256 keyed with the issuer's public key (PEM)."""
    header, payload, _ = parts(token)
    with __import__("urllib.request").request.urlopen(f"{issuer.url}/jwks") as r:
        jwk = next(k for k in json.load(r)["keys"] if k["kid"] == header["kid"])
    pem = jwt.PyJWK(jwk).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': header['kid']}).encode())}"
    signing_input += f".{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"


def tampered(token: str) -> str:
    h, p, s = token.split(".")
    payload = json.loads(unb64(p))
    payload["roles"] = ["admin"]
    return f"{h}.{b64(json.dumps(payload).encode())}.{s}"


def unknown_key(token: str) -> str:
    """Well-formed and signed, but with a key the issuer never published."""
    _, payload, _ = parts(token)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "made-up"})


# --- open demo mode ----------------------------------------------------------------------------


def test_open_demo_mode_answers_everyone_as_anonymous(serve: Any, tmp_path: Path) -> None:
    apps = serve(api_keys_file=tmp_path / "api-keys.json")
    assert apps.auth.open and "open demo mode" in apps.auth.describe()
    before = apps.path.answered
    assert apps.get(AGG).status_code == 200
    assert apps.get(AGG, {"Authorization": "Bearer whatever"}).status_code == 200
    assert apps.path.answered == before + 2
    assert apps.get("/info").json()["authentication"] == {"type": "none"}
    assert apps.auth.authenticate("Bearer x", None) is ANONYMOUS


# --- OIDC tokens -------------------------------------------------------------------------------


def test_a_valid_token_is_answered_by_both_paths(oidc: Apps, issuer: MockIssuer) -> None:
    before = oidc.path.answered
    response = oidc.get(AGG, bearer(issuer.token(roles=["analyst"])))
    assert response.status_code == 200 and response.json()["cells"]
    assert oidc.path.answered == before + 1
    assert oidc.get("/info").json()["authentication"] == {"type": "bearer"}


def now() -> int:
    return int(time.time())


BAD_TOKENS: dict[str, Any] = {
    "expired": lambda i: i.token(exp=now() - 120, iat=now() - 3600, nbf=now() - 3600),
    "nbf in the future": lambda i: i.token(nbf=now() + 600),
    "iat in the future": lambda i: i.token(iat=now() + 600, nbf=None),
    "wrong aud": lambda i: i.token(audience="another-app"),
    "no aud": lambda i: i.token(audience=None),
    "wrong iss": lambda i: i.token(iss="http://127.0.0.1:9/evil"),
    "no exp": lambda i: i.token(exp=None),
    "alg none": lambda i: alg_none(i.token()),
    "HS256 keyed with the public key": lambda i: hs256_with_public_key(i.token(), i),
    "tampered payload": lambda i: tampered(i.token()),
    "a key the issuer never published": lambda i: unknown_key(i.token()),
    "not a JWT": lambda i: "abc.def",
    "truncated": lambda i: i.token()[:-10],
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_a_bad_token_is_refused_with_no_data(oidc: Apps, issuer: MockIssuer, case: str) -> None:
    token = BAD_TOKENS[case](issuer)
    before = oidc.path.answered
    body = refused(oidc.get(AGG, bearer(token)))
    assert token not in json.dumps(body)
    assert oidc.path.answered == before + 1  # refused by the fast path too, not handed on
    refused(oidc.get("/cubes", bearer(token)))


def test_the_token_matrix_messages_name_the_failed_check(oidc: Apps, issuer: MockIssuer) -> None:
    messages = {
        case: oidc.get(AGG, bearer(make(issuer))).json()["message"] for case, make in BAD_TOKENS.items()
    }
    assert "expired" in messages["expired"]
    assert "not valid yet" in messages["nbf in the future"]
    assert "audience" in messages["wrong aud"]
    assert "issuer" in messages["wrong iss"]
    assert "'exp'" in messages["no exp"]
    assert "'none'" in messages["alg none"]
    assert "'HS256'" in messages["HS256 keyed with the public key"]
    assert "signature" in messages["tampered payload"]
    assert "does not publish" in messages["a key the issuer never published"]


def test_without_credentials_401_with_the_challenge(oidc: Apps) -> None:
    body = refused(oidc.get(AGG))
    assert body["message"] == "authentication required" and "Bearer" in body["hint"]
    refused(oidc.get(AGG, {"Authorization": "Digest abc"}))
    refused(oidc.get(AGG, {"Authorization": "Bearer "}))
    refused(oidc.get(AGG, {"Authorization": "Bearer lbk_0123abcd_" + "x" * 43}))  # no keys file


def test_public_routes_stay_reachable_without_credentials(oidc: Apps) -> None:
    for url in ("/health", "/version", "/info", "/openapi.json", "/browser", "/browser/indicators"):
        assert oidc.fast.get(url).status_code == 200, url
    assert oidc.fast.get("/docs").status_code == 404  # off: it loaded Swagger UI from a CDN
    for url in (
        "/cubes",
        "/cube/social_assistance/model",
        "/cube/social_assistance/members/territory",
        "/cube/social_assistance/facts",
        "/cube/social_assistance/aggregate?format=csv",
        "/indicators",
        "/cube/nope/aggregate",
    ):
        refused(oidc.get(url))


def test_key_rotation_refetches_the_key_set_exactly_once(serve: Any, tmp_path: Path) -> None:
    """A new key (unknown `kid`): one refetch of the JWKS, then 200; no more refetches for the
    next tokens, nor for a made-up kid right after (the refetch interval)."""
    need_issuer()
    own = MockIssuer()  # its own issuer and app: the counts are this test's alone
    try:
        apps = serve(issuer=own.url, audience=AUDIENCE, api_keys_file=tmp_path / "k.json")
        assert apps.auth.tokens is not None
        keys = apps.auth.tokens.keys
        assert apps.get(AGG, bearer(own.token())).status_code == 200
        fetched, served = keys.fetches, own.jwks_requests()
        assert (fetched, served) == (1, 3)  # the helper waiting for it, then each app at start-up
        new_kid = own.rotate()
        token = own.token()
        assert parts(token)[0]["kid"] == new_kid != own.kid
        assert apps.fast.get(AGG, headers=bearer(token)).status_code == 200
        assert keys.fetches == fetched + 1 and own.jwks_requests() == served + 1
        assert (
            apps.fast.get(AGG, headers=bearer(own.token())).status_code == 200
        )  # the old key, still published
        assert apps.fast.get(AGG, headers=bearer(own.token())).status_code == 200
        refused(apps.fast.get(AGG, headers=bearer(unknown_key(own.token()))))
        assert keys.fetches == fetched + 1 and own.jwks_requests() == served + 1
    finally:
        own.stop()


def test_pyjwkclient_alone_would_refuse_a_key_rotated_soon_after_a_fetch(issuer: MockIssuer) -> None:
    """Why security/tokens.py does its own refetch: PyJWKClient's refetch on an unknown kid
    waits for a cooldown counted from *any* fetch (30 s by default), start-up's included."""
    client = jwt.PyJWKClient(f"{issuer.url}/jwks")
    client.get_signing_key_from_jwt(issuer.token())
    rotated = issuer.rotate()
    with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key"):
        client.get_signing_key(rotated)


def test_roles_and_claims_from_the_token(issuer: MockIssuer, tmp_path: Path) -> None:
    def principal(token: str, **updates: Any) -> Principal:
        auth = Authenticator(
            Settings(issuer=issuer.url, audience=AUDIENCE, api_keys_file=tmp_path / "no", **updates)
        )
        return auth.authenticate(f"Bearer {token}", None)

    p = principal(
        issuer.token(
            sub="ilze", roles=["analyst", "nva"], institution="NVA", municipality=["0001", "0002"], secret="x"
        )
    )
    assert p.subject == "ilze"
    assert p.roles == {"analyst", "nva", "public"}
    assert p.claims == (("institution", "NVA"), ("municipality", "0001"), ("municipality", "0002"))
    assert principal(issuer.token(scope="read analyst"), roles_claim="scope").roles == {
        "read",
        "analyst",
        "public",
    }
    keycloak = issuer.token(realm_access={"roles": ["lm-analyst"]}, roles=["other"])
    assert principal(keycloak, roles_claim="realm_access.roles").roles == {"lm-analyst", "public"}
    assert principal(issuer.token()).roles == {"public"}
    assert principal(issuer.token(institution=7), principal_claims=["institution"]).claims == (
        ("institution", "7"),
    )


def test_verified_tokens_are_cached_but_never_past_exp(issuer: MockIssuer, tmp_path: Path) -> None:
    auth = Authenticator(Settings(issuer=issuer.url, audience=AUDIENCE, api_keys_file=tmp_path / "no"))
    exp = now() + 60
    token = issuer.token(exp=exp)
    p = auth.authenticate(f"Bearer {token}", None)
    assert auth.cache.get(token) == p
    auth.cache.clock = lambda: exp - 0.5
    assert auth.cache.get(token) == p
    auth.cache.clock = lambda: exp + 0.5
    assert auth.cache.get(token) is None
    auth.cache.clock = time.time
    long_lived = issuer.token(exp=now() + 7200)
    auth.authenticate(f"Bearer {long_lived}", None)
    auth.cache.clock = lambda: time.time() + auth.cache.seconds + 1
    assert auth.cache.get(long_lived) is None  # re-checked after CACHE_SECONDS at the latest
    with pytest.raises(UnauthorizedError):
        auth.authenticate(f"Bearer {tampered(token)}", None)
    small = TokenCache(entries=2)
    for t in ("a", "b", "c"):
        small.put(t, ANONYMOUS, time.time() + 60)
    assert [small.get(t) for t in ("a", "b", "c")] == [None, ANONYMOUS, ANONYMOUS]


def test_an_unreachable_issuer_is_503_not_401(serve: Any, issuer: MockIssuer, tmp_path: Path) -> None:
    apps = serve(issuer="http://127.0.0.1:9", audience=AUDIENCE, api_keys_file=tmp_path / "k.json")
    response = apps.get(AGG, bearer(issuer.token()))
    assert response.status_code == 503 and response.json()["error"] == "unavailable"
    assert "cells" not in response.json()


def test_settings_refuse_what_would_be_unsafe(tmp_path: Path) -> None:
    for algs in ("HS256", "none", "RS256,HS512", ""):
        with pytest.raises(ValueError, match="not accepted"):
            Settings(jwt_algorithms=algs)
    assert Settings(jwt_algorithms="RS256, PS256").jwt_algorithms == ["RS256", "PS256"]
    with pytest.raises(UserError, match="LABIS_AUDIENCE"):
        Authenticator(Settings(issuer="http://127.0.0.1:9", api_keys_file=tmp_path / "k"))


# --- API keys ----------------------------------------------------------------------------------


def test_api_keys_through_the_cli_and_every_header(serve: Any, tmp_path: Path) -> None:
    keys_file = tmp_path / "data" / "api-keys.json"
    runner = CliRunner()
    env = {"LABIS_API_KEYS_FILE": str(keys_file)}
    made = runner.invoke(
        cli_app,
        ["keys", "create", "excel-nva", "--role", "analyst", "--role", "nva", "--claim", "institution=NVA"],
        env=env,
    )
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[0]
    assert key.startswith("lbk_")
    key_id, secret = key[4:].split("_", 1)

    # only the hash is on disk, in a 0600 file
    assert keys_file.stat().st_mode & 0o777 == 0o600
    for f in keys_file.parent.rglob("*"):
        assert secret not in f.read_text() and key not in f.read_text(), f
    assert hashlib.sha256(secret.encode()).hexdigest() in keys_file.read_text()

    listed = runner.invoke(cli_app, ["keys", "list"], env=env)
    assert listed.exit_code == 0 and key_id in listed.stdout and "excel-nva" in listed.stdout
    assert secret not in listed.stdout

    apps = serve(api_keys_file=keys_file)
    assert not apps.auth.open
    basic = base64.b64encode(f"anyone:{key}".encode()).decode()
    for headers in (
        {"Authorization": f"Bearer {key}"},
        {"X-API-Key": key},
        {"Authorization": f"Basic {basic}"},
    ):
        assert apps.get(AGG, headers).status_code == 200, headers
    p = apps.auth.authenticate(None, key)
    assert p.roles == {"analyst", "nva", "public"} and p.claims == (("institution", "NVA"),)

    refused(apps.get(AGG), basic=True)
    wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for headers in (
        {"X-API-Key": wrong},
        {"Authorization": "Basic " + base64.b64encode(f"anyone:{wrong}".encode()).decode()},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.x"},  # a JWT, but no issuer is set
    ):
        refused(apps.get(AGG, headers), basic=True)

    revoked = runner.invoke(cli_app, ["keys", "revoke", key_id], env=env)
    assert revoked.exit_code == 0, revoked.output
    refused(apps.get(AGG, {"X-API-Key": key}), basic=True)  # the very next request
    assert not apps.auth.open  # revoking the last key does not open the server
    assert "revoked" in runner.invoke(cli_app, ["keys", "list"], env=env).stdout

    unknown = runner.invoke(cli_app, ["keys", "revoke", "ffffffff"], env=env)
    assert unknown.exit_code == 1 and "no API key" in unknown.output
    bad = runner.invoke(cli_app, ["keys", "create", "x", "--role", "r", "--claim", "novalue"], env=env)
    assert bad.exit_code == 1


def test_a_key_made_while_the_server_runs_closes_open_mode(serve: Any, tmp_path: Path) -> None:
    store = ApiKeys(tmp_path / "api-keys.json")
    apps = serve(api_keys_file=store.path)
    assert apps.get(AGG).status_code == 200
    _, key = store.create("late", ["analyst"], [])
    refused(apps.get(AGG), basic=True)
    assert apps.get(AGG, {"X-API-Key": key}).status_code == 200


# --- both paths alike, with and without credentials -------------------------------------------


def test_fast_path_and_fastapi_agree_with_and_without_credentials(
    serve: Any, issuer: MockIssuer, tmp_path: Path
) -> None:
    store = ApiKeys(tmp_path / "api-keys.json")
    _, key = store.create("both", ["analyst"], [])
    apps = serve(issuer=issuer.url, audience=AUDIENCE, api_keys_file=store.path)
    token = issuer.token(roles=["analyst"])
    urls = [
        AGG,
        f"{AGG}&cut=time:2024&pagesize=2",
        "/cube/social_assistance/aggregate?drilldown=nope",
        "/cube/nope/aggregate",
        f"{AGG}&format=csv",
        f"{AGG}&page=-1",
    ]
    credentials: list[dict[str, str]] = [
        {},
        bearer(token),
        {"X-API-Key": key},
        {"Authorization": "Basic " + base64.b64encode(f"u:{key}".encode()).decode()},
        bearer(tampered(token)),
        {"X-API-Key": "lbk_nothing"},
    ]
    statuses = set()
    for url in urls:
        for headers in credentials:
            statuses.add(apps.get(url, headers).status_code)
    assert statuses == {200, 400, 401, 404}
