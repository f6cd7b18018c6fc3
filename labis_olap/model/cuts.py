"""The vocabulary of cells, as the Cubes/Slicer world names it: cuts, drilldowns, orders.

Part of the model's language (an indicator's fixed cuts are written in the cut grammar,
model/cut_grammar.py), and the words every typed query is made of (query/cell.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Path = tuple[str | None, ...]
"""Member path, top level first; None stands for a NULL element (`__null__`)."""


@dataclass(frozen=True)
class PointCut:
    dimension: str
    path: Path
    hierarchy: str | None = None
    invert: bool = False


@dataclass(frozen=True)
class RangeCut:
    dimension: str
    from_path: Path | None
    to_path: Path | None
    hierarchy: str | None = None
    invert: bool = False


@dataclass(frozen=True)
class SetCut:
    dimension: str
    paths: tuple[Path, ...]
    hierarchy: str | None = None
    invert: bool = False


Cut = PointCut | RangeCut | SetCut


@dataclass(frozen=True)
class Drilldown:
    dimension: str
    hierarchy: str | None = None
    level: str | None = None


@dataclass(frozen=True)
class Order:
    field: str
    direction: Literal["asc", "desc"] = "asc"
