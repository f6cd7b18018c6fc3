"""Who sends a request: the credentials of its headers made into a `Principal`.

Accepted: `Authorization: Bearer <OIDC access token | API key>`, `X-API-Key: <key>`, and
`Authorization: Basic` with an API key as the password (any user name: Excel and XMLA clients
send Basic); without those headers, a browser's session cookie (security/signin.py). Without
an issuer and without an API keys file the server is in open demo mode: everyone is
`ANONYMOUS`. Verified tokens are remembered briefly (a bounded LRU keyed by the token, never
past its `exp`), so a request costs a dictionary look-up, not a signature check.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from ..errors import UnauthorizedError, UserError
from ..service.principal import ANONYMOUS, Principal
from ..settings import Settings
from .keys import ApiKeys, looks_like_key
from .sessions import Session, SessionStore, cookie_value
from .signin import SignIn
from .tokens import BadToken, JwksKeys, TokenVerifier

log = logging.getLogger("labis.security")

REALM = "LabIS"
CACHE_ENTRIES = 4_096
CACHE_SECONDS = 300.0
"""The longest a verified token is trusted without a new check (a shorter `exp` wins)."""
HINT = (
    "send `Authorization: Bearer <token>` (an access token of the identity provider, or an API "
    "key), `X-API-Key: <key>`, or HTTP Basic with the API key as the password"
)


class TokenCache:
    """Verified tokens and their principals, least recently used first out."""

    def __init__(self, entries: int = CACHE_ENTRIES, seconds: float = CACHE_SECONDS) -> None:
        self.entries = entries
        self.seconds = seconds
        self.clock: Callable[[], float] = time.time
        """Epoch seconds (a test moves it on)."""
        self._items: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> Principal | None:
        with self._lock:
            item = self._items.get(token)
            if item is None:
                return None
            if self.clock() >= item[1]:
                del self._items[token]
                return None
            self._items.move_to_end(token)
            return item[0]

    def put(self, token: str, principal: Principal, expires: float) -> None:
        with self._lock:
            self._items[token] = (principal, min(expires, self.clock() + self.seconds))
            self._items.move_to_end(token)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class Authenticator:
    """The server's one authentication policy, made from settings (no I/O until first used)."""

    def __init__(self, settings: Settings) -> None:
        self.keys = ApiKeys(settings.keys_path())
        self.tokens: TokenVerifier | None = None
        if settings.issuer is not None:
            if not settings.audience:
                raise UserError(
                    "LABIS_ISSUER is set without LABIS_AUDIENCE",
                    hint="set LABIS_AUDIENCE to this server's client id (the tokens' `aud`): without "
                    "it any token the issuer made for any application would be accepted",
                )
            self.tokens = TokenVerifier(
                JwksKeys(settings.issuer, settings.jwks_url),
                audience=settings.audience,
                algorithms=settings.jwt_algorithms,
                leeway=settings.jwt_leeway,
                roles_claim=settings.roles_claim,
                claims=settings.principal_claims,
            )
        elif settings.jwks_url is not None:
            raise UserError("LABIS_JWKS_URL is set without LABIS_ISSUER", hint="set the issuer too")
        self.cache = TokenCache()
        self.sessions = SessionStore()
        """Signed-in browsers (security/sessions.py)."""
        self.signin = SignIn(settings, self.tokens, self.sessions) if self.tokens is not None else None
        """Browser sign-in at the issuer; None without one."""

    @property
    def open(self) -> bool:
        """Open demo mode: no issuer and no API keys file."""
        return self.tokens is None and not self.keys.exist()

    def challenges(self) -> tuple[str, ...]:
        bearer = f'Bearer realm="{REALM}"'
        return (bearer, f'Basic realm="{REALM}"') if self.keys.exist() else (bearer,)

    def authenticate(self, authorization: str | None, api_key: str | None) -> Principal:
        """The principal of a request's `Authorization` and `X-API-Key` headers; 401 without
        credentials or with bad ones (ANONYMOUS in open demo mode, whatever the headers say)."""
        if self.open:
            return ANONYMOUS
        if api_key is not None:
            return self._key(api_key.strip())
        if authorization is None:
            raise self._refused("authentication required")
        scheme, _, credentials = authorization.strip().partition(" ")
        scheme, credentials = scheme.lower(), credentials.strip()
        if scheme == "bearer" and credentials:
            return self._key(credentials) if looks_like_key(credentials) else self._token(credentials)
        if scheme == "basic" and credentials:
            return self._key(_basic_password(credentials) or "")
        raise self._refused(f"the {scheme or 'empty'} Authorization scheme is not accepted")

    def session(self, cookie_header: str) -> Session | None:
        """The live session a request's `Cookie` header names, or None (no session cookie, or
        one unknown, signed out or expired: as if the request had no credentials)."""
        if self.signin is None:
            return None
        session_id = cookie_value(cookie_header)
        return self.sessions.get(session_id) if session_id else None

    def _key(self, key: str) -> Principal:
        principal = self.keys.verify(key)
        if principal is None:
            raise self._refused("unknown or revoked API key", hint="`labis keys list` shows the keys")
        return principal

    def _token(self, token: str) -> Principal:
        principal = self.cache.get(token)
        if principal is not None:
            return principal
        if self.tokens is None:
            raise self._refused("bearer tokens are not accepted here", hint="no identity provider is set up")
        try:
            principal, expires = self.tokens.verify(token)
        except BadToken as exc:  # an unreachable issuer stays a 503: not the client's fault
            raise self._refused(exc.message, hint=exc.hint) from None
        self.cache.put(token, principal, expires)
        return principal

    def _refused(self, message: str, hint: str | None = HINT) -> UnauthorizedError:
        return UnauthorizedError(message, hint=hint, challenges=self.challenges())

    def describe(self) -> str:
        """One line for the start-up log: the mode the server runs in."""
        if self.open:
            return (
                "open demo mode: no LABIS_ISSUER and no API keys, so every request is anonymous "
                "(role public); see docs/security.md"
            )
        ways = []
        if self.tokens is not None:
            ways.append(f"OIDC tokens of {self.tokens.keys.issuer} for audience {self.tokens.audience}")
        if self.signin is not None:
            ways.append(f"browser sign-in as client {self.signin.client_id} (sessions in memory)")
        if self.keys.exist():
            ways.append(f"API keys in {self.keys.path}")
        return "authentication required: " + " and ".join(ways)

    def warm_up(self) -> None:
        """Fetch the issuer's keys at start-up; a failure is logged, not fatal (the issuer may
        come up later, and requests will then fetch them)."""
        if self.tokens is None:
            return
        try:
            self.tokens.keys.warm_up()
        except UserError as exc:
            log.warning("%s (%s)", exc.message, exc.hint)


def _basic_password(credentials: str) -> str | None:
    try:
        text = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, colon, password = text.partition(":")
    return password if colon else None
