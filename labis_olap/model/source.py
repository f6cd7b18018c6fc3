"""YAML documents that remember where every node came from.

ruamel.yaml's round-trip loader keeps line/column per mapping key, value and list item;
we turn its tree into plain Python plus a table from node path to Location, so pydantic
errors (which carry a path) and semantic checks can both point at the exact spot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError

from .diagnostics import Diagnostics, Location

NodePath = tuple[str | int, ...]


@dataclass
class SourceDoc:
    """One YAML file: its plain data and the location of every node in it."""

    path: str
    data: Any
    key_locs: dict[NodePath, Location] = field(default_factory=dict)
    value_locs: dict[NodePath, Location] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    """The file's text, to place carets inside string values (see `text_loc`)."""

    def loc(self, node: NodePath, *, key: bool = False) -> Location:
        """The location of a node's value (or its key), else of the nearest located ancestor.

        A list item has no key: asked for its key, the item itself is returned. The root's
        location is that of the file's first key.
        """
        table = self.key_locs if key else self.value_locs
        probe = tuple(node)
        while probe:
            if probe in table:
                return table[probe]
            if key and isinstance(probe[-1], int) and probe in self.value_locs:
                return self.value_locs[probe]
            if not key and probe in self.key_locs:
                return self.key_locs[probe]
            probe = probe[:-1]
        return next(iter(self.key_locs.values()), Location(self.path, 1, 1))

    def text_loc(self, node: NodePath, offset: int) -> Location:
        """The location of character `offset` of a string value, past its quotes or block
        indicator, following the value over folded lines (each line break is one character)."""
        start = self.loc(node)
        if not 1 <= start.line <= len(self.lines):
            return start
        i, col, indent = start.line - 1, start.col - 1, 0
        block = self.lines[i][col : col + 1] in ("|", ">")
        if block:
            i += 1
            while i < len(self.lines) - 1 and not self.lines[i].strip():
                i += 1
            if i >= len(self.lines):
                return start
            indent = col = len(self.lines[i]) - len(self.lines[i].lstrip())
        elif self.lines[i][col : col + 1] in ("'", '"'):
            col += 1
        left = offset
        while True:
            seg = self.lines[i][col:].rstrip()
            if left <= len(seg) or i + 1 >= len(self.lines):
                return Location(self.path, i + 1, col + left + 1)
            left -= len(seg) + 1
            i += 1
            line = self.lines[i]
            col = min(indent, len(line)) if block else len(line) - len(line.lstrip())


def _walk(doc: SourceDoc, node: Any, path: NodePath) -> Any:
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for k, v in node.items():
            child = (*path, str(k))
            kl, kc, vl, vc = node.lc.data[k]
            doc.key_locs[child] = Location(doc.path, kl + 1, kc + 1)
            if isinstance(v, CommentedMap | CommentedSeq) and not v.fa.flow_style():
                vl, vc = kl, kc  # a block mapping or list starts on the next line: point at its key
            doc.value_locs[child] = Location(doc.path, vl + 1, vc + 1)
            out[str(k)] = _walk(doc, v, child)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, v in enumerate(node):
            child = (*path, i)
            il, ic = node.lc.data[i]
            doc.value_locs[child] = Location(doc.path, il + 1, ic + 1)
            items.append(_walk(doc, v, child))
        return items
    if isinstance(node, str):
        return str(node)
    return node


class _Constructor(RoundTripConstructor):
    """Round-trip constructor whose impossible dates (2024-02-30) are located errors."""

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node, values)
        except ValueError as exc:
            problem = f"invalid date '{node.value}': {exc}"
            raise ConstructorError(None, None, problem, node.start_mark) from None


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)


def load_yaml(path: Path, diags: Diagnostics, display: str | None = None) -> SourceDoc | None:
    """Parse one file; a syntax error becomes diagnostic E001 and None."""
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        diags.add("E001", f"file is not UTF-8: {exc.reason}", Location(shown))
        return None
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        raw = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        what = "YAML error" if isinstance(exc, ConstructorError) else "YAML syntax error"
        diags.add("E001", f"{what}: {problem}", Location(shown, line, col))
        return None
    except Exception as exc:  # ruamel raises a few unmarked errors (e.g. duplicate keys)
        diags.add("E001", f"YAML error: {str(exc).splitlines()[0]}", Location(shown))
        return None
    doc = SourceDoc(shown, None, lines=text.splitlines())
    doc.data = _walk(doc, raw, ())
    return doc
