"""API keys for programs and Excel: `lbk_<id>_<secret>`, kept only as the SHA-256 of the secret.

The secret is 256 random bits (`secrets.token_urlsafe(32)`), so a plain SHA-256 is as good as a
slow password hash here and costs a microsecond per request. The file (JSON, mode 0600) is
written atomically (a temporary file renamed over it, under a lock) and re-read by the server
whenever its inode, size or mtime changes, so a revocation counts from the next request.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import UnavailableError, UserError
from ..service.principal import PUBLIC_ROLE, Principal

PREFIX = "lbk_"
KEY = re.compile(r"lbk_([0-9a-f]{8,32})_([A-Za-z0-9_-]{20,200})")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:-]{0,99}")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ApiKey:
    """One key as stored: who it is for, what it may do, and the hash of its secret."""

    id: str
    name: str
    roles: tuple[str, ...]
    claims: tuple[tuple[str, str], ...]
    sha256: str
    created: str
    revoked: str | None = None

    @functools.cached_property
    def principal(self) -> Principal:
        """Made once per key read, not per request (the same object each time)."""
        return Principal(f"key:{self.id}", frozenset(self.roles) | {PUBLIC_ROLE}, tuple(sorted(self.claims)))

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "roles": list(self.roles),
            "claims": [list(c) for c in self.claims],
            "sha256": self.sha256,
            "created": self.created,
            "revoked": self.revoked,
        }

    @classmethod
    def of_json(cls, d: dict[str, Any]) -> ApiKey:
        return cls(
            str(d["id"]),
            str(d["name"]),
            tuple(str(r) for r in d["roles"]),
            tuple((str(k), str(v)) for k, v in d.get("claims", [])),
            str(d["sha256"]),
            str(d["created"]),
            None if d.get("revoked") is None else str(d["revoked"]),
        )


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_key(text: str) -> bool:
    """An API key rather than a JWT (a JWT starts with its base64 header, `eyJ`)."""
    return text.startswith(PREFIX)


@dataclass
class ApiKeys:
    """The keys file: read by the server on every change, written by `labis keys`."""

    path: Path
    _seen: tuple[int, int, int] | None = field(default=None, repr=False)
    _keys: dict[str, ApiKey] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._file = os.fspath(self.path)  # os.stat on a str: a pathlib call per request cost 3 µs

    def exist(self) -> bool:
        """Whether a keys file is there (even with every key revoked: revoking the last key must
        not open the server)."""
        return os.path.exists(self._file)

    def verify(self, key: str) -> Principal | None:
        """The key's principal, or None when it is malformed, unknown or revoked."""
        match = KEY.fullmatch(key)
        if match is None:
            return None
        entry = self.current().get(match.group(1))
        stored = entry.sha256 if entry is not None else "0" * 64
        good = hmac.compare_digest(digest(match.group(2)), stored)  # no early exit on an unknown id
        if entry is None or not good or entry.revoked is not None:
            return None
        return entry.principal

    def current(self) -> dict[str, ApiKey]:
        """The keys as the file holds them now (re-read only when it changed)."""
        try:
            st = os.stat(self._file)
        except FileNotFoundError:
            return {}
        seen = (st.st_ino, st.st_size, st.st_mtime_ns)
        if seen != self._seen:
            with self._lock:
                if seen != self._seen:
                    self._keys = {k.id: k for k in self._read()}
                    self._seen = seen
        return self._keys

    def _read(self) -> list[ApiKey]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            return [ApiKey.of_json(d) for d in doc["keys"]]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UnavailableError(
                f"the API keys file {self.path} cannot be read ({type(exc).__name__})",
                hint="repair or remove it; `labis keys list` shows what it holds",
            ) from exc

    # --- changes (`labis keys`) ---------------------------------------------------------------

    def create(self, name: str, roles: list[str], claims: list[tuple[str, str]]) -> tuple[ApiKey, str]:
        """A new key: its record and the key text, which is shown once and never stored."""
        if not NAME.fullmatch(name):
            raise UserError(f"bad key name {name!r}", hint="letters, digits and _.@:- (at most 100)")
        for role in roles:
            if not NAME.fullmatch(role):
                raise UserError(f"bad role name {role!r}", hint="letters, digits and _.@:- (at most 100)")
        with self._locked():
            keys = self._read()
            ids = {k.id for k in keys}
            key_id = secrets.token_hex(4)
            while key_id in ids:
                key_id = secrets.token_hex(4)
            secret = secrets.token_urlsafe(32)
            entry = ApiKey(key_id, name, tuple(roles), tuple(claims), digest(secret), _now())
            self._write([*keys, entry])
        return entry, f"{PREFIX}{key_id}_{secret}"

    def revoke(self, key_id: str) -> ApiKey:
        with self._locked():
            keys = self._read()
            found = [k for k in keys if k.id == key_id]
            if not found:
                known = ", ".join(k.id for k in keys) or "none"
                raise UserError(f"no API key with id {key_id!r}", hint=f"ids: {known} (`labis keys list`)")
            revoked = dataclasses.replace(found[0], revoked=found[0].revoked or _now())
            self._write([revoked if k.id == key_id else k for k in keys])
        return revoked

    def all(self) -> list[ApiKey]:
        return self._read()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (two `labis keys` commands must not lose each other's key)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.parent / f".{self.path.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _write(self, keys: list[ApiKey]) -> None:
        doc = {"version": FORMAT_VERSION, "keys": [k.as_json() for k in keys]}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(doc, f, indent=1)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
