"""Pseudonymisation: person identifiers, and other identifiers that point at people
(households, cases), become a keyed hash (HMAC-SHA-256) before storage.

The hash is computed by the engine, vectorised, as `SHA256(opad ‖ SHA256(ipad ‖ value))` —
RFC 2104 HMAC spelled out in SQL, because ClickHouse has SHA256 but no HMAC. The clear value
exists only in the insert's memory; the key travels as a bound parameter (its two pads in
hex), never in SQL text, and only the pseudonym is written. `hmac_hex` is the same function
in Python, used to check the SQL and for single values.

Each kind of identifier is a namespace with a key of its own (`namespace_key`), so household
17 and person 17 get unrelated pseudonyms. The key comes from one place for every process
(`find_key`): the settings, else the default key file that `labis key create` writes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .settings import Settings

PERSON_NAMESPACE = "person"
"""The namespace of `person` columns; an `identifier` column's `kind` names its own."""


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac_hex(value: str, key: bytes) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def namespace_key(key: bytes, namespace: str) -> bytes:
    """The key one namespace's pseudonyms are made with. Persons use the key itself: their
    pseudonyms predate namespaces, and loads made since must keep matching them. Every other
    namespace gets a key derived by HKDF-SHA-256 (RFC 5869) with the namespace as `info`, so
    pseudonyms of different kinds never collide and knowing one never links to another; the
    extraction is keyed by a fixed salt, not by `key`, so no person pseudonym (an HMAC under
    `key` of a value someone may choose) can ever equal a derived key."""
    if namespace == PERSON_NAMESPACE:
        return key
    prk = hmac.new(b"labis-olap pseudonym namespaces", key, hashlib.sha256).digest()
    return hmac.new(prk, f"namespace:{namespace}".encode() + b"\x01", hashlib.sha256).digest()


def pseudonym_hex(value: str, key: bytes, namespace: str = PERSON_NAMESPACE) -> str:
    """The pseudonym of one value in a namespace: what the engine computes and stores."""
    return hmac_hex(value, namespace_key(key, namespace))


def hmac_sql(value_sql: str, key: bytes, params: dict[str, object], prefix: str = "hmac") -> str:
    """SQL for the lowercase-hex HMAC-SHA-256 of `value_sql`; adds the pads to `params`."""
    ipad, opad = _pads(key)
    params[f"{prefix}_ipad"] = ipad.hex()
    params[f"{prefix}_opad"] = opad.hex()
    inner = f"SHA256(concat(unhex({{{prefix}_ipad:String}}), {value_sql}))"
    return f"lower(hex(SHA256(concat(unhex({{{prefix}_opad:String}}), {inner}))))"


KEY_ENV = "LABIS_PSEUDONYM_KEY"
KEY_FILE_ENV = "LABIS_PSEUDONYM_KEY_FILE"
MIN_KEY_BYTES = 16
KEY_FILE_NAME = "pseudonym.key"


def default_key_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where `labis key create` writes the key and where every command looks when no variable
    names one: `$XDG_CONFIG_HOME/labis/pseudonym.key`, else `~/.config/labis/pseudonym.key`.
    Not in the data directory, on purpose: the key must be kept apart from the pseudonyms
    (a copy of the data directory together with the key re-identifies anyone whose code can be
    guessed), and it must survive the data directory being wiped or rebuilt."""
    env = os.environ if environ is None else environ
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "labis" / KEY_FILE_NAME


@dataclass(frozen=True)
class KeySource:
    """A pseudonymisation key and where it came from (for messages: never the key itself)."""

    key: bytes
    origin: str
    """`LABIS_PSEUDONYM_KEY`, `LABIS_PSEUDONYM_KEY_FILE=<path>` or `<path> (the default key file)`."""
    path: Path | None = None

    @property
    def key_id(self) -> str:
        return key_id(self.key)


def _hint() -> str:
    return (
        f"create one with `labis key create` (it writes {default_key_path()}, which every labis "
        f"command finds), or set {KEY_FILE_ENV} to a key file; keep it: every load must use the same key"
    )


def find_key(settings: Settings | None = None) -> KeySource | None:
    """The key the settings name: `LABIS_PSEUDONYM_KEY` (text), else the bytes of the file
    `LABIS_PSEUDONYM_KEY_FILE` names (one trailing newline ignored), else the default key file if
    it exists; None if there is none. One source for `labis load`, `labis serve` and a load
    handed to the server, so that all of them find the same key the same way. A key that is
    named but unreadable or too short is an error, never silently no key."""
    s = settings if settings is not None else Settings()
    if s.pseudonym_key is not None:
        return _checked(KeySource(s.pseudonym_key.get_secret_value().encode("utf-8"), KEY_ENV))
    if s.pseudonym_key_file is not None:
        return _read_key_file(s.pseudonym_key_file, f"{KEY_FILE_ENV}={s.pseudonym_key_file}")
    default = default_key_path()
    if default.is_file():
        return _read_key_file(default, f"{default} (the default key file)")
    return None


def _read_key_file(path: Path, origin: str) -> KeySource:
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise UserError(
            f"cannot read the pseudonymisation key file {path}: {exc.strerror}",
            hint=f"run as the user who owns it (it is 0600), or point {KEY_FILE_ENV} at a readable key file",
        ) from None
    return _checked(KeySource(key.removesuffix(b"\n").removesuffix(b"\r"), origin, path))


def _checked(source: KeySource) -> KeySource:
    if len(source.key) < MIN_KEY_BYTES:
        raise UserError(
            f"the pseudonymisation key from {source.origin} is shorter than {MIN_KEY_BYTES} bytes",
            hint=_hint(),
        )
    return source


def pseudonym_key(settings: Settings | None = None) -> bytes:
    """The pseudonymisation key (`find_key`). No key, no load: a loader never falls back to a
    default key, which would make pseudonyms reversible by anyone."""
    found = find_key(settings)
    if found is None:
        raise UserError("no pseudonymisation key: refusing to load personal identifiers", hint=_hint())
    return found.key


def create_key_file(path: Path) -> KeySource:
    """A new random key (32 bytes from `secrets`, written as 64 hex digits on one line) in a file
    created 0600 and never overwritten: O_CREAT | O_EXCL with the mode given at creation, so the
    key is never readable by others, not even for a moment, and an existing key (whose loss
    would split every person in two) is refused. A missing folder is made 0700. The key is the
    text of the line, as any key file is read."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UserError(
            f"{path} already exists: refusing to overwrite a pseudonymisation key",
            hint="a new key makes new pseudonyms, so the data loaded with the old one no longer links "
            "up; keep the existing key, or give another PATH",
        ) from None
    except OSError as exc:
        raise UserError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text + "\n")
    return KeySource(text.encode("ascii"), str(path), path)


def key_id(key: bytes) -> str:
    """A public fingerprint of the key (recorded with each load, so a changed key is noticed)."""
    return hmac_hex("labis-olap pseudonym key id", key)[:16]


PERSON_CODE_RE = re.compile(r"(?<!\d)\d{6}-?\d{5}(?!\d)")
"""Latvian personal codes (personas kods, DDMMYY-NNNNN, with or without the hyphen)."""
PERSON_CODE_RE2 = r"(^|[^0-9])[0-9]{6}-?[0-9]{5}([^0-9]|$)"
"""The same for RE2 (pyarrow.compute), which has no look-around: keep groups 1 and 2."""


def redact(text: str) -> str:
    """Text safe to show or log: anything shaped like a personal code is masked."""
    return PERSON_CODE_RE.sub("######-#####", text)


RECORD_KEY_CONTEXT = "labis-olap record key:"
"""What a pseudonym is hashed with to give its record key (domain separation: the key is
unrelated to any prefix of the pseudonym a log or an export might show)."""


def record_key(pseudonym: str) -> int:
    """The cell key method's record key (0–255) of a contributor: the first byte of
    SHA-256(context ‖ pseudonym). A function of the pseudonym alone, so a person has one key
    in every cube, every reload and every process that has the pseudonym; uniform, because the
    pseudonym is a keyed hash no one without the key can choose or predict."""
    return hashlib.sha256((RECORD_KEY_CONTEXT + pseudonym).encode("utf-8")).digest()[0]


def record_key_sql(pseudonym_sql: str) -> str:
    """`record_key` in the engine's SQL, over a column or expression holding the pseudonym."""
    return f"reinterpretAsUInt8(substring(SHA256(concat('{RECORD_KEY_CONTEXT}', {pseudonym_sql})), 1, 1))"
