"""The values an MDX expression evaluates to, and the arithmetic and formats of cell values.

Sets are lists of tuples, tuples are Python tuples of members (mdx/names.py); scalars are
Decimal, int, float, str, bool or None (an empty cell). Empty cells follow SSAS: in + and - an
empty cell counts as 0 (empty + empty is empty), in * and / it makes the result empty; a
division by zero is empty too, rather than an infinity no client can show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import QueryError
from .names import HierKey, Member

Tup = tuple[Member, ...]
SetV = list[Tup]


@dataclass(frozen=True)
class Slice:
    """Several members of one hierarchy at once, as one coordinate: what Aggregate({…}), a
    multi-member slicer and a sub-select make. The cell is the cube's answer over their
    union (one set cut), so a distinct count is that of the union and a stock its last date."""

    hier: HierKey
    paths: frozenset[tuple[str | None, ...]]


Coordinate = Member | Slice | None
"""What a context holds per hierarchy; None is the null member (its cells are empty)."""


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


def _pair(x: Any, y: Any) -> tuple[Any, Any]:
    if isinstance(x, float) or isinstance(y, float):
        return float(x), float(y)
    return (Decimal(x) if isinstance(x, int) else x), (Decimal(y) if isinstance(y, int) else y)


def arithmetic(op: str, x: Any, y: Any) -> Any:
    if op in "+-":
        if x is None and y is None:
            return None
        if isinstance(x, str) or isinstance(y, str):
            if op == "+":
                return ("" if x is None else str(x)) + ("" if y is None else str(y))
            raise QueryError("strings cannot be subtracted")
        x, y = _pair(0 if x is None else number(x), 0 if y is None else number(y))
        return x + y if op == "+" else x - y
    if x is None or y is None:
        return None
    x, y = _pair(number(x), number(y))
    if op == "*":
        return x * y
    if y == 0:
        return None
    try:
        return x / y
    except (InvalidOperation, ZeroDivisionError):
        return None


def number(v: Any) -> Any:
    if is_number(v):
        return v
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, str):
        try:
            return Decimal(v)
        except InvalidOperation:
            raise QueryError(f"'{v}' is not a number") from None
    raise QueryError(f"{v!r} is not a number")


def compare(op: str, x: Any, y: Any) -> bool:
    if isinstance(x, str) or isinstance(y, str):
        a, b = ("" if x is None else str(x)), ("" if y is None else str(y))
    else:
        a, b = _pair(0 if x is None else number(x), 0 if y is None else number(y))
    return {
        "=": a == b,
        "<>": a != b,
        "<": a < b,
        ">": a > b,
        "<=": a <= b,
        ">=": a >= b,
    }[op]


def truthy(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, str):
        return v.lower() not in ("", "false", "0")
    return bool(v)


def sort_value(v: Any) -> tuple[int, Any]:
    """A key that sorts empty cells lowest and numbers before strings."""
    if v is None:
        return (0, 0)
    if is_number(v):
        return (1, float(v))
    return (2, str(v))


# --- format strings ---------------------------------------------------------------------------

NAMED_FORMATS = {
    "percent": "0.00%",
    "standard": "#,##0.00",
    "fixed": "0.00",
    "currency": "#,##0.00",
    "general number": "",
    "general": "",
}
_LITERAL = re.compile(r'"([^"]*)"|\\(.)')


def format_value(value: Any, fmt: str | None) -> str:
    """A cell as a client shows it, after an Excel-style format (`#,##0.00`, `0.0%`, `Percent`,
    `#,##0 "EUR"`); the first section of a `;`-separated format is used."""
    if value is None:
        return ""
    if not is_number(value):
        return str(value)
    pattern = NAMED_FORMATS.get((fmt or "").strip().lower(), fmt or "")
    pattern = pattern.split(";")[0]
    if not pattern:
        return _general(value)
    literal = _LITERAL.sub(lambda m: "\0" * len(m.group(0)), pattern)
    digits = [i for i, ch in enumerate(literal) if ch in "0#,."]
    if not digits:
        return _LITERAL.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), pattern)
    lo, hi = digits[0], digits[-1] + 1
    core = pattern[lo:hi]
    prefix = _LITERAL.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), pattern[:lo])
    suffix = _LITERAL.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), pattern[hi:])
    x = float(value)
    if "%" in literal:
        x *= 100
    decimals = len(core.split(".", 1)[1]) if "." in core else 0
    grouped = "," in core.split(".", 1)[0]
    text = f"{x:,.{decimals}f}" if grouped else f"{x:.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    return prefix + text + suffix


def _general(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.15g}"
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    return str(value)
