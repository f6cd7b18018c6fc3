"""Browser sessions: an opaque random id in an HttpOnly cookie, the principal kept server-side.

The id is 256 random bits (`secrets.token_urlsafe(32)`) and is never stored: the store is keyed
by its SHA-256, so the time a look-up takes says nothing about any id's characters (a dict
compares hashes, then the equal-length digests), and nothing the process holds or logs can be
replayed as a cookie. A session ends at its own `expires` — never later than the access token it
was made from, nor than the server's cap — or when signed out. The store is in memory, bounded
(the oldest session goes first when full), and does not survive a restart: the server is one
process (it holds the embedded data directory), so one dictionary is the whole truth.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..service.principal import Principal

COOKIE = "labis_session"
ENTRIES = 10_000
"""Sessions kept at most; past it the oldest is dropped (its browser must sign in again)."""


@dataclass(frozen=True)
class Session:
    """One signed-in browser."""

    principal: Principal
    """The principal the access token gives, exactly as it would as a bearer token."""
    name: str
    """Shown in the pages' header (the id token's `name`, else `preferred_username`, else
    the subject)."""
    expires: float
    """Epoch seconds."""
    id_token: str | None = None
    """Sent back as `id_token_hint` when signing out at the issuer (Keycloak asks for it)."""


def _key(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).digest()


class SessionStore:
    """Sessions by the hash of their id, oldest first; thread-safe (routes run in a pool)."""

    def __init__(self, entries: int = ENTRIES) -> None:
        self.entries = entries
        self.clock: Callable[[], float] = time.time
        """Epoch seconds (a test moves it on)."""
        self._items: OrderedDict[bytes, Session] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, session: Session) -> str:
        """A new id for the session: the cookie's value (the only place it is kept)."""
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._items[_key(session_id)] = session
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
        return session_id

    def get(self, session_id: str) -> Session | None:
        """The live session of a cookie's value, or None (unknown, signed out or expired)."""
        key = _key(session_id)
        session = self._items.get(key)
        if session is None:
            return None
        if self.clock() >= session.expires:
            with self._lock:
                self._items.pop(key, None)
            return None
        return session

    def drop(self, session_id: str) -> Session | None:
        with self._lock:
            return self._items.pop(_key(session_id), None)

    def __len__(self) -> int:
        return len(self._items)


def cookie_value(header: str, name: str = COOKIE) -> str | None:
    """One cookie's value from a `Cookie` header (the first, as browsers send the most specific
    path first), without parsing the others."""
    for part in header.split(";"):
        key, eq, value = part.strip().partition("=")
        if eq and key == name:
            return value.strip('"')
    return None
