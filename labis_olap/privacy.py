"""Pseudonymisation: person identifiers become a keyed hash (HMAC-SHA-256) before storage.

The hash is computed by the engine, vectorised, as `SHA256(opad ‖ SHA256(ipad ‖ value))` —
RFC 2104 HMAC spelled out in SQL, because ClickHouse has SHA256 but no HMAC. The clear value
exists only in the insert's memory; the key travels as a bound parameter (its two pads in
hex), never in SQL text, and only the pseudonym is written. `hmac_hex` is the same function
in Python, used to check the SQL and for single values.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from pathlib import Path

from .errors import UserError


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac_hex(value: str, key: bytes) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


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


def pseudonym_key(environ: Mapping[str, str] | None = None) -> bytes:
    """The pseudonymisation key: `LABIS_PSEUDONYM_KEY` (text) or the bytes of the file named by
    `LABIS_PSEUDONYM_KEY_FILE` (one trailing newline ignored). No key, no load: a loader never
    falls back to a default key, which would make pseudonyms reversible by anyone."""
    env = os.environ if environ is None else environ
    hint = (
        f"set {KEY_ENV} to a secret of at least {MIN_KEY_BYTES} characters, or {KEY_FILE_ENV} to a file "
        "holding it; keep it: the same key must be used for every load"
    )
    if env.get(KEY_ENV):
        key = env[KEY_ENV].encode("utf-8")
    elif env.get(KEY_FILE_ENV):
        try:
            key = Path(env[KEY_FILE_ENV]).read_bytes()
        except OSError as exc:
            raise UserError(f"cannot read the pseudonymisation key file: {exc.strerror}", hint=hint) from None
        key = key.removesuffix(b"\n").removesuffix(b"\r")
    else:
        raise UserError("no pseudonymisation key: refusing to load person identifiers", hint=hint)
    if len(key) < MIN_KEY_BYTES:
        raise UserError(f"the pseudonymisation key is shorter than {MIN_KEY_BYTES} bytes", hint=hint)
    return key


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
