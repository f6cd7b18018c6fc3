"""OIDC access tokens (JWTs) verified with PyJWT against the issuer's published keys.

Pinned: only the configured public-key algorithms (never `none`, never HS*: an HMAC checked
with a public key as its secret is forgeable by anyone who can read the JWKS); `iss`, `aud` and
`exp` are required and checked, `nbf` and `iat` honoured with a small leeway.

The key set is cached (PyJWKClient's cache, `JWKS_LIFESPAN`). A token signed with a key the
cached set lacks (the issuer rotated its keys) makes **one** refetch; further unknown keys
refetch at most once per `REFETCH_INTERVAL`, so tokens with made-up `kid`s cannot make the
server hammer the issuer. PyJWKClient's own refetch-on-unknown-kid is switched off (its
cooldown counts from *every* fetch, so a key rotated within 30 s of start-up was refused).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterable
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient

from ..errors import UnavailableError, UserError
from ..service.principal import PUBLIC_ROLE, Principal

JWKS_LIFESPAN = 600.0
"""Seconds the key set is trusted before it is fetched again (a key the issuer withdrew stops
working after at most this long)."""
REFETCH_INTERVAL = 30.0
"""The least seconds between two refetches caused by unknown key ids."""
TIMEOUT = 5.0
"""Seconds to wait for the issuer (discovery, JWKS)."""
MAX_TOKEN = 16_384
"""Characters: a longer bearer token is refused before it is parsed."""
MAX_ROLES = 200


class BadToken(UserError):
    """A token that does not verify; the message says which check failed (never the token)."""


class JwksKeys:
    """The issuer's signing keys: discovered, cached, refetched once on an unknown `kid`."""

    def __init__(
        self,
        issuer: str,
        jwks_url: str | None = None,
        *,
        lifespan: float = JWKS_LIFESPAN,
        refetch_interval: float = REFETCH_INTERVAL,
        timeout: float = TIMEOUT,
    ) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.lifespan = lifespan
        self.refetch_interval = refetch_interval
        self.timeout = timeout
        self.fetches = 0
        """Key sets fetched from the issuer (the tests count refetches)."""
        self._client: PyJWKClient | None = None
        self._configuration: dict[str, Any] | None = None
        self._last_refetch = float("-inf")
        self._lock = threading.Lock()

    def key_for(self, kid: str | None) -> PyJWK:
        """The published key a token names; a refetch when it is unknown (at most once per
        interval)."""
        client = self._jwk_client()
        key = _match(self._signing_keys(client, refresh=False), kid)
        if key is None:
            with self._lock:
                due = time.monotonic() - self._last_refetch >= self.refetch_interval
                if due:
                    self._last_refetch = time.monotonic()
            if due:
                key = _match(self._signing_keys(client, refresh=True), kid)
        if key is None:
            raise BadToken(
                "the token is signed with a key the issuer does not publish",
                hint=f"key id {kid!r} is not in the issuer's key set",
            )
        return key

    def warm_up(self) -> None:
        """Discover and fetch the keys now (at start-up), so the first request waits for nothing."""
        self._signing_keys(self._jwk_client(), refresh=False)

    def _signing_keys(self, client: PyJWKClient, *, refresh: bool) -> list[PyJWK]:
        try:
            keys = client.get_jwk_set(refresh=refresh).keys
        except jwt.PyJWKClientConnectionError as exc:
            raise UnavailableError(
                "the identity provider's keys cannot be fetched", hint=f"is {client.uri} reachable?"
            ) from exc
        except jwt.PyJWTError as exc:
            raise UnavailableError(f"the identity provider's key set is unusable ({exc})") from exc
        return [k for k in keys if k.public_key_use in ("sig", None)]

    def _jwk_client(self) -> PyJWKClient:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    url = self.jwks_url or self._discover()
                    self._client = _CountingClient(
                        self, url, cache_jwk_set=True, lifespan=self.lifespan, timeout=self.timeout,
                        cooldown_duration=0,
                    )  # fmt: skip
        return self._client

    def _discover(self) -> str:
        """The JWKS URL from the issuer's OpenID configuration."""
        doc = self.configuration()
        if "jwks_uri" not in doc:
            raise UnavailableError(
                f"the OpenID configuration of {self.issuer} names no jwks_uri", hint="set LABIS_JWKS_URL"
            )
        return str(doc["jwks_uri"])

    def configuration(self) -> dict[str, Any]:
        """The issuer's /.well-known/openid-configuration (whose `issuer` must be ours), fetched
        once and kept: the key set and browser sign-in's endpoints both come from it. A failure
        is not kept, so a later call asks again."""
        doc = self._configuration
        if doc is None:
            doc = _fetch_configuration(self.issuer, self.timeout)
            self._configuration = doc
        return doc


def _fetch_configuration(issuer: str, timeout: float) -> dict[str, Any]:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            doc = json.load(response)
    except (OSError, ValueError) as exc:
        raise UnavailableError(
            "the identity provider's OpenID configuration cannot be read",
            hint=f"is {url} reachable? (or set LABIS_JWKS_URL)",
        ) from exc
    if not isinstance(doc, dict) or doc.get("issuer") != issuer:
        raise UnavailableError(
            f"{url} does not describe the issuer {issuer!r}",
            hint="LABIS_ISSUER must be exactly the tokens' `iss` (mind a trailing slash)",
        )
    return doc


class _CountingClient(PyJWKClient):
    def __init__(self, owner: JwksKeys, uri: str, **kwargs: Any) -> None:
        super().__init__(uri, **kwargs)
        self.owner = owner

    def fetch_data(self) -> Any:
        self.owner.fetches += 1
        return super().fetch_data()


def _match(keys: list[PyJWK], kid: str | None) -> PyJWK | None:
    if kid is None:
        return keys[0] if len(keys) == 1 else None  # an issuer with one key may leave out `kid`
    return next((k for k in keys if k.key_id == kid), None)


class TokenVerifier:
    """Checks a token and makes its principal: subject, roles, the claims policies bind to."""

    def __init__(
        self,
        keys: JwksKeys,
        *,
        audience: str,
        algorithms: Iterable[str],
        leeway: int,
        roles_claim: str,
        claims: Iterable[str],
    ) -> None:
        self.keys = keys
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.leeway = leeway
        self.roles_claim = roles_claim
        self.claims = tuple(claims)

    def verify(self, token: str) -> tuple[Principal, float]:
        """The principal and the time (epoch seconds) the token expires; BadToken otherwise."""
        payload = self.payload(token)
        return self.principal(payload), float(payload["exp"])

    def payload(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN:
            raise BadToken("the token is too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise BadToken("the bearer token is neither a JWT nor an API key") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise BadToken(
                f"tokens signed with {alg!r} are not accepted",
                hint=f"accepted: {', '.join(self.algorithms)} (LABIS_JWT_ALGORITHMS)",
            )
        kid = header.get("kid")
        key = self.keys.key_for(kid if isinstance(kid, str) else None)
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.keys.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"], "verify_signature": True},
            )
        except jwt.ExpiredSignatureError:
            raise BadToken("the token has expired", hint="get a new one from the identity provider") from None
        except jwt.ImmatureSignatureError:
            raise BadToken("the token is not valid yet (nbf or iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise BadToken(
                "the token was issued for another audience", hint=f"this server is {self.audience!r}"
            ) from None
        except jwt.InvalidIssuerError:
            raise BadToken(
                "the token comes from another issuer", hint=f"accepted: {self.keys.issuer}"
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            raise BadToken(f"the token has no '{exc.claim}' claim") from None
        except jwt.PyJWTError:
            raise BadToken("the token's signature does not verify") from None
        return payload

    def principal(self, payload: dict[str, Any]) -> Principal:
        subject = payload.get("sub") or payload.get("azp") or payload.get("client_id") or "unknown"
        roles = frozenset(_strings(_at(payload, self.roles_claim))[:MAX_ROLES]) | {PUBLIC_ROLE}
        claims = sorted((name, v) for name in self.claims for v in _strings(payload.get(name), split=False))
        return Principal(str(subject), roles, tuple(claims))


def _at(payload: dict[str, Any], path: str) -> Any:
    """`realm_access.roles`: a claim inside an object (a claim whose name has a dot wins)."""
    if path in payload:
        return payload[path]
    value: Any = payload
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _strings(value: Any, *, split: bool = True) -> list[str]:
    """Strings of a claim: a list's scalars, or a space-separated string's words (scope-like)."""
    if isinstance(value, str):
        return value.split() if split else [value]
    if isinstance(value, bool):
        return [str(value).lower()]
    if isinstance(value, int | float):
        return [str(value)]
    if isinstance(value, list):
        return [s for v in value if not isinstance(v, list | dict) for s in _strings(v, split=False)]
    return []
