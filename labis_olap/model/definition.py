"""A model as the rest of LabIS sees it: dimensions, cubes, indicators and member rows, each
with where it came from (so that later checks can point at file:line:col).

Made by model/reader.py from a model folder (or by hand in tests and importers).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .diagnostics import Location
from .schema import Cube, Dimension, Indicator, Role
from .source import NodePath, SourceDoc

MemberRow = dict[str, Any]


@dataclass
class Model:
    """A validated model: the objects plus where each came from (for later located errors)."""

    root: Path
    dimensions: dict[str, Dimension] = field(default_factory=dict)
    cubes: dict[str, Cube] = field(default_factory=dict)
    indicators: dict[str, Indicator] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    """Who may see what (model/roles/*.yaml); none declared: every principal sees everything."""
    members: dict[str, list[MemberRow]] = field(default_factory=dict)
    member_locs: dict[str, list[Location]] = field(default_factory=dict)
    """Where each member row is: its item under `rows:`, or its line in the CSV file."""
    date_keys: dict[str, dict[str, dt.date]] = field(default_factory=dict)
    """Time dimension → its date lookup table (key as text → date): the facts' keys become
    dates at load (DateKey)."""
    docs: dict[tuple[str, str], SourceDoc] = field(default_factory=dict)
    """(kind, name) → the document that defined it."""
    indicator_paths: dict[str, tuple[SourceDoc, NodePath]] = field(default_factory=dict)
    unreadable: dict[tuple[str, str], str] = field(default_factory=dict)
    """(kind, name) → the file that would define it but could not be read (a YAML or shape
    error, already reported; kind `members`: a dimension's members, not all read): checks of
    what uses the name wait for that file, so that one broken file is one problem, not one
    more at every use."""

    def cube(self, name: str) -> Cube:
        return self.cubes[name]
