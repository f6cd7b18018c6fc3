"""The Slicer string grammar for cuts, drilldowns and order, with error positions.

Hand-written because the grammar's backslash escapes and its overloaded '-' (range) do not
fit a general tokenizer; ~100 lines, covered by hypothesis round-trip tests.

    cuts      := cut ('|' cut)*
    cut       := ['!'] dimension ['@' hierarchy] ':' (path | path? '-' path? | path (';' path)+)
    path      := element (',' element)*          (escape \\ ! | : ; , - @ with a backslash)
    drilldown := dimension ['@' hierarchy] [':' level]   ('|'-separated)
    order     := field [':' ('asc'|'desc')]              (','-separated)
"""

from __future__ import annotations

from ..errors import QueryError
from .cuts import Cut, Drilldown, Order, Path, PointCut, RangeCut, SetCut

SPECIAL = set("\\!|:;,-@")
NULL = "__null__"


def _split(text: str, sep: str, start: int = 0) -> list[tuple[str, int]]:
    """Split on unescaped `sep`; each part with its offset in the whole string. Escapes stay."""
    parts: list[tuple[str, int]] = []
    i, begin = 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == sep:
            parts.append((text[begin:i], start + begin))
            begin = i + 1
        i += 1
    parts.append((text[begin:], start + begin))
    return parts


def _unescape(text: str, pos: int, what: str) -> str:
    out = []
    i = 0
    while i < len(text):
        if text[i] == "\\":
            if i + 1 >= len(text):
                raise QueryError(f"{what}: dangling backslash at position {pos + i}")
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def escape(value: str) -> str:
    if value == NULL:
        return "\\" + value  # a member literally named '__null__', not the NULL marker
    return "".join("\\" + ch if ch in SPECIAL else ch for ch in value)


def _path(text: str, pos: int, what: str) -> Path:
    if text == "":
        raise QueryError(f"{what}: empty path at position {pos}")
    elems: list[str | None] = []
    for part, p in _split(text, ",", pos):
        if part == "":
            raise QueryError(f"{what}: empty path element at position {p}")
        elems.append(None if part == NULL else _unescape(part, p, what))
    return tuple(elems)


def _name(text: str, pos: int, what: str) -> tuple[str, str | None]:
    parts = _split(text, "@", pos)
    if len(parts) > 2:
        raise QueryError(f"{what}: more than one '@' at position {parts[2][1] - 1}")
    name = _unescape(parts[0][0], pos, what).strip()
    if not name:
        raise QueryError(f"{what}: missing dimension name at position {pos}")
    hier = _unescape(parts[1][0], parts[1][1], what).strip() if len(parts) == 2 else None
    if hier == "":
        raise QueryError(f"{what}: missing hierarchy name after '@' at position {parts[1][1]}")
    return name, hier


def parse_cuts(text: str | None) -> tuple[Cut, ...]:
    if not text:
        return ()
    cuts: list[Cut] = []
    for part, pos in _split(text, "|"):
        cuts.append(_cut(part, pos))
    return tuple(cuts)


def _cut(text: str, pos: int) -> Cut:
    what = "cut"
    invert = text.startswith("!")
    if invert:
        text, pos = text[1:], pos + 1
    head = _split(text, ":", pos)
    if len(head) < 2:
        raise QueryError(
            f"cut: expected 'dimension:path' at position {pos}", hint="e.g. time:2024|territory:LV00A"
        )
    if len(head) > 2:
        raise QueryError(
            f"cut: unexpected ':' at position {head[2][1] - 1}", hint="escape ':' in a member as '\\:'"
        )
    name, hier = _name(head[0][0], pos, what)
    spec, spos = head[1]
    alternatives = _split(spec, ";", spos)
    if len(alternatives) > 1:
        return SetCut(name, tuple(_path(p, ps, what) for p, ps in alternatives), hier, invert)
    bounds = _split(spec, "-", spos)
    if len(bounds) == 2:
        (lo, lpos), (hi, hpos) = bounds
        if lo == "" and hi == "":
            raise QueryError(f"cut: a range needs at least one end at position {spos}")
        return RangeCut(
            name, _path(lo, lpos, what) if lo else None, _path(hi, hpos, what) if hi else None, hier, invert
        )
    if len(bounds) > 2:
        raise QueryError(
            f"cut: more than one '-' in a range at position {bounds[2][1] - 1}",
            hint="escape '-' in a member as '\\-'",
        )
    return PointCut(name, _path(spec, spos, what), hier, invert)


def format_cut(cut: Cut) -> str:
    """The inverse of parse_cuts for one cut."""

    def path(p: Path) -> str:
        return ",".join(NULL if e is None else escape(e) for e in p)

    head = (
        ("!" if cut.invert else "")
        + escape(cut.dimension)
        + (f"@{escape(cut.hierarchy)}" if cut.hierarchy else "")
    )
    if isinstance(cut, PointCut):
        return f"{head}:{path(cut.path)}"
    if isinstance(cut, SetCut):
        return f"{head}:" + ";".join(path(p) for p in cut.paths)
    lo = path(cut.from_path) if cut.from_path else ""
    hi = path(cut.to_path) if cut.to_path else ""
    return f"{head}:{lo}-{hi}"


def parse_drilldowns(text: str | None) -> tuple[Drilldown, ...]:
    if not text:
        return ()
    out = []
    for part, pos in _split(text, "|"):
        head = _split(part, ":", pos)
        if len(head) > 2:
            raise QueryError(f"drilldown: unexpected ':' at position {head[2][1] - 1}")
        name, hier = _name(head[0][0], pos, "drilldown")
        level = _unescape(head[1][0], head[1][1], "drilldown").strip() if len(head) == 2 else None
        if level == "":
            raise QueryError(f"drilldown: missing level after ':' at position {head[1][1]}")
        out.append(Drilldown(name, hier, level))
    return tuple(out)


def parse_order(text: str | None) -> tuple[Order, ...]:
    if not text:
        return ()
    out = []
    for part, pos in _split(text, ","):
        bits = part.rsplit(":", 1)
        fld = bits[0].strip()
        direction = bits[1].strip().lower() if len(bits) == 2 else "asc"
        if not fld:
            raise QueryError(f"order: missing field at position {pos}")
        if direction not in ("asc", "desc"):
            raise QueryError(f"order: direction must be 'asc' or 'desc', not '{direction}' (position {pos})")
        out.append(Order(fld, "desc" if direction == "desc" else "asc"))
    return tuple(out)
