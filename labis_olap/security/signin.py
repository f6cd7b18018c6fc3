"""Browser sign-in at the OIDC issuer: the authorization code flow with PKCE (S256), state, nonce.

The flow, and why each piece is there:

1. `start`: a random `state` (the browser's cookie holds it too: a callback carrying another
   browser's state — an attacker's sign-in handed to a victim — is refused), a `nonce` (the id
   token must carry it back: an id token replayed from another sign-in is refused) and a PKCE
   `code_verifier` (only its SHA-256 travels through the browser: a code seen on the way is
   useless without it, confidential client or not). They wait server-side, each used once and
   for at most `PENDING_SECONDS`, in a bounded store.
2. `finish`: the code is exchanged at the token endpoint with the verifier; the access token is
   verified by the server's own `TokenVerifier` — the same pinned algorithms, `iss`, `aud` and
   `exp` as a bearer token, so a browser's principal is exactly what the same token gives as a
   bearer; the id token, if any, is verified too (audience: the client id) and must carry the
   nonce. Then a session (security/sessions.py) ends no later than the access token.
3. `logout_url`: the issuer's `end_session_endpoint`, when it has one.

The endpoints come from the issuer's OpenID configuration, the document the key set is found
through (tokens.JwksKeys.configuration).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from ..errors import UnavailableError, UserError
from ..settings import Settings
from .sessions import Session, SessionStore
from .tokens import TIMEOUT, BadToken, TokenVerifier

log = logging.getLogger("labis.security")

STATE_COOKIE = "labis_signin"
"""The browser's copy of the state of its sign-in in progress (Path=/auth/callback)."""
PENDING_SECONDS = 600
"""How long a started sign-in may take at the issuer."""
PENDING_ENTRIES = 10_000
ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,100}")
"""An OAuth error code as the issuer sends it (anything else is not echoed)."""


class SignInError(UserError):
    """A sign-in that cannot go on: the message says why; the browser is offered a new one."""

    error_type = "signin_failed"
    status = 400


@dataclass(frozen=True)
class Pending:
    """A sign-in started and not yet finished."""

    nonce: str
    verifier: str
    redirect_uri: str
    next: str
    expires: float


class PendingSignIns:
    """Sign-ins in progress by state, each taken at most once; bounded (oldest out first)."""

    def __init__(self, entries: int = PENDING_ENTRIES, seconds: float = PENDING_SECONDS) -> None:
        self.entries = entries
        self.seconds = seconds
        self.clock: Callable[[], float] = time.time
        self._items: OrderedDict[str, Pending] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, state: str, nonce: str, verifier: str, redirect_uri: str, next: str) -> None:
        with self._lock:
            self._items[state] = Pending(nonce, verifier, redirect_uri, next, self.clock() + self.seconds)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)

    def take(self, state: str) -> Pending | None:
        """The sign-in of a state, removed (a replayed callback finds nothing); None when unknown,
        used or expired."""
        with self._lock:
            pending = self._items.pop(state, None)
        if pending is None or self.clock() >= pending.expires:
            return None
        return pending

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str
    end_session: str | None


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if urlsplit(url).query else "?") + urlencode(params)


AGAIN = "sign in again"


class SignIn:
    """The server's browser sign-in at its one issuer (made by the Authenticator with an issuer)."""

    def __init__(self, settings: Settings, tokens: TokenVerifier, sessions: SessionStore) -> None:
        client_id = settings.client_id or settings.audience
        assert client_id, "an issuer comes with an audience (Authenticator checks)"
        self.client_id: str = client_id
        secret = settings.client_secret
        self.client_secret = secret.get_secret_value() if secret is not None else None
        self.scopes = settings.scopes
        self.max_seconds = settings.session_max_seconds
        self.tokens = tokens
        self.id_tokens = TokenVerifier(
            tokens.keys,
            audience=self.client_id,
            algorithms=tokens.algorithms,
            leeway=tokens.leeway,
            roles_claim=tokens.roles_claim,
            claims=(),
        )
        self.sessions = sessions
        self.pending = PendingSignIns()
        self.timeout = TIMEOUT

    def endpoints(self) -> Endpoints:
        doc = self.tokens.keys.configuration()
        authorization, token = doc.get("authorization_endpoint"), doc.get("token_endpoint")
        if not isinstance(authorization, str) or not isinstance(token, str):
            raise UnavailableError(
                "the identity provider's OpenID configuration names no authorization or token endpoint",
                hint="browser sign-in needs an issuer that supports the authorization code flow",
            )
        end = doc.get("end_session_endpoint")
        return Endpoints(authorization, token, end if isinstance(end, str) else None)

    @property
    def issuer_origin(self) -> str:
        """Where the sign-out form may be sent on to (the pages' CSP `form-action`)."""
        parts = urlsplit(self.tokens.keys.issuer)
        return f"{parts.scheme}://{parts.netloc}"

    def start(self, redirect_uri: str, next: str) -> tuple[str, str]:
        """The issuer's authorization URL to send the browser to, and the state for its cookie."""
        endpoint = self.endpoints().authorization
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]: RFC 7636's 43-128
        self.pending.put(state, nonce, verifier, redirect_uri, next)
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
        }
        return _with_query(endpoint, params), state

    def finish(
        self, *, code: str | None, state: str | None, browser_state: str | None, error: str | None = None
    ) -> tuple[str, Session, str]:
        """The new session's id (the cookie's value), the session and where to go next; a
        SignInError (400) for a callback that is not the answer to this browser's sign-in."""
        if not state:
            raise SignInError("the sign-in answer carries no state", hint=AGAIN)
        if not browser_state or not hmac.compare_digest(state.encode(), browser_state.encode()):
            raise SignInError(
                "the sign-in answer does not belong to a sign-in started in this browser",
                hint=f"{AGAIN} (and allow cookies for this site)",
            )
        pending = self.pending.take(state)
        if pending is None:
            raise SignInError("the sign-in is unknown, already used or expired", hint=AGAIN)
        if error is not None:
            code_name = error if ERROR_CODE.fullmatch(error) else "an error"
            raise SignInError(f"the identity provider answered {code_name} instead of signing in", hint=AGAIN)
        if not code:
            raise SignInError("the sign-in answer carries no code", hint=AGAIN)
        answer = self._exchange(code, pending)
        access = answer.get("access_token")
        if not isinstance(access, str) or not access:
            raise SignInError("the identity provider's token answer has no access token", hint=AGAIN)
        try:
            access_claims = self.tokens.payload(access)  # what TokenVerifier.verify does for a bearer
        except BadToken as exc:
            raise SignInError(
                f"the access token from the identity provider is refused: {exc.message}",
                hint="the client must get access tokens for this server's audience (LABIS_AUDIENCE); "
                "see docs/security.md, Browser sign-in",
            ) from None
        id_token = answer.get("id_token")
        id_claims: dict[str, Any] = {}
        if isinstance(id_token, str) and id_token:
            try:
                id_claims = self.id_tokens.payload(id_token)
            except BadToken as exc:
                raise SignInError(
                    f"the id token from the identity provider is refused: {exc.message}"
                ) from None
            nonce = id_claims.get("nonce")
            if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), pending.nonce.encode()):
                raise SignInError("the id token does not carry this sign-in's nonce", hint=AGAIN)
        else:
            id_token = None
        principal, expires = self.tokens.principal(access_claims), float(access_claims["exp"])
        session = Session(
            principal,
            _display_name(id_claims, access_claims, default=principal.subject),
            min(expires, self.sessions.clock() + self.max_seconds),
            id_token,
        )
        session_id = self.sessions.create(session)
        log.info("signed in: %s (roles %s)", principal.subject, ",".join(sorted(principal.roles)))
        return session_id, session, pending.next

    def _exchange(self, code: str, pending: Pending) -> dict[str, Any]:
        """The token endpoint's answer to the code and its verifier."""
        endpoint = self.endpoints().token
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": pending.verifier,
        }
        auth = (self.client_id, self.client_secret) if self.client_secret is not None else None
        try:
            response = httpx.post(
                endpoint, data=form, auth=auth, timeout=self.timeout, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise UnavailableError(
                "the identity provider's token endpoint cannot be reached", hint=f"is {endpoint} reachable?"
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            named = (
                error
                if isinstance(error, str) and ERROR_CODE.fullmatch(error)
                else f"HTTP {response.status_code}"
            )
            log.warning("the token endpoint refused a sign-in code: %s", named)
            raise SignInError(f"the identity provider did not accept the sign-in code ({named})", hint=AGAIN)
        return body

    def logout_url(self, session: Session | None, post_logout_redirect_uri: str) -> str | None:
        """Where to send the browser to end its session at the issuer too: the end_session
        endpoint, when the issuer has one on its own origin (the pages' CSP lets the sign-out form
        go on only there); else None."""
        try:
            end = self.endpoints().end_session
        except UserError:
            return None
        if end is None:
            return None
        parts = urlsplit(end)
        if f"{parts.scheme}://{parts.netloc}" != self.issuer_origin:
            log.warning("the end_session_endpoint %s is not on the issuer's origin: not used", end)
            return None
        params = {"client_id": self.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if session is not None and session.id_token is not None:
            params["id_token_hint"] = session.id_token
        return _with_query(end, params)


def _display_name(*claims: dict[str, Any], default: str) -> str:
    for payload in claims:
        for name in ("name", "preferred_username", "email"):
            value = payload.get(name)
            if isinstance(value, str) and value.strip():
                return value.strip()[:200]
    return default[:200]
