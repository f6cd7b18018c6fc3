"""Located problems: `file:line:col: error[E103] message`, the source line, a caret, a hint.

Every check appends to one Diagnostics collection so that a user sees all problems at once
(capped), as sqlglot and dbt-semantic-interfaces do.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

MAX_SHOWN = 50


@dataclass(frozen=True, order=True)
class Location:
    """1-based line and column in a file."""

    path: str
    line: int = 1
    col: int = 1


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    location: Location
    hint: str | None = None

    def render(self, source_lines: list[str] | None = None) -> str:
        loc = self.location
        out = [f"{loc.path}:{loc.line}:{loc.col}: error[{self.code}] {self.message}"]
        if source_lines is not None and 1 <= loc.line <= len(source_lines):
            text = source_lines[loc.line - 1].rstrip("\n")
            out.append(f"  {text}")
            out.append("  " + " " * (loc.col - 1) + "^")
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)


@dataclass
class Diagnostics:
    items: list[Diagnostic] = field(default_factory=list)

    def add(self, code: str, message: str, location: Location, hint: str | None = None) -> None:
        self.items.append(Diagnostic(code, message, location, hint))

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=lambda d: (d.location, d.code))

    def render(self) -> str:
        cache: dict[str, list[str] | None] = {}
        parts = []
        shown = self.sorted()
        for d in shown[:MAX_SHOWN]:
            path = d.location.path
            if path not in cache:
                try:
                    cache[path] = Path(path).read_text(encoding="utf-8").splitlines()
                except OSError:
                    cache[path] = None
            parts.append(d.render(cache[path]))
        if len(shown) > MAX_SHOWN:
            parts.append(f"… and {len(shown) - MAX_SHOWN} more")
        parts.append(f"{len(shown)} error(s)")
        return "\n".join(parts)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest choice, or listing the few there are."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if options and len(options) <= 8:
        return "expected one of: " + ", ".join(f"'{o}'" for o in options)
    return None
