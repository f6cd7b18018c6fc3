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

    def loc(self, node: NodePath, *, key: bool = False) -> Location:
        """The location of a node's value (or its key), else of the nearest located ancestor."""
        table = self.key_locs if key else self.value_locs
        probe = tuple(node)
        while probe:
            if probe in table:
                return table[probe]
            if not key and probe in self.key_locs:
                return self.key_locs[probe]
            probe = probe[:-1]
        return Location(self.path, 1, 1)


def _walk(doc: SourceDoc, node: Any, path: NodePath) -> Any:
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for k, v in node.items():
            child = (*path, str(k))
            kl, kc, vl, vc = node.lc.data[k]
            doc.key_locs[child] = Location(doc.path, kl + 1, kc + 1)
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


def load_yaml(path: Path, diags: Diagnostics, display: str | None = None) -> SourceDoc | None:
    """Parse one file; a syntax error becomes diagnostic E001 and None."""
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        diags.add("E001", f"file is not UTF-8: {exc.reason}", Location(shown))
        return None
    yaml = YAML(typ="rt")
    try:
        raw = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        diags.add("E001", f"YAML syntax error: {problem}", Location(shown, line, col))
        return None
    except Exception as exc:  # ruamel raises a few unmarked errors (e.g. duplicate keys)
        diags.add("E001", f"YAML error: {str(exc).splitlines()[0]}", Location(shown))
        return None
    doc = SourceDoc(shown, None)
    doc.data = _walk(doc, raw, ())
    return doc
