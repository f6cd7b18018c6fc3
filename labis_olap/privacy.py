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
