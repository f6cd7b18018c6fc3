"""The answer of the cube service, the same for every front end: a cell set.

Slicer JSON, CSV/XLSX/Arrow/Parquet, the CLI's table, the HTML pages (and MDX, XMLA and SDMX
to come) each render a CellSet in their own form; none of them builds SQL or reads the engine.
A cell set holds the cells as the Arrow table the engine's answer became (one column per
attribute of every drilled level, top-down, then one per measure), described by its axes and
measures, with the grand total, the subtotals (protected answers carry a status column beside
each measure: service/disclosure.py) and an explain record.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..model.cuts import Cut
from ..model.schema import Function, Text
from ..query.executor import AggregateResult, Subtotal
from ..query.present import MemberLookup

STATUS = ":status"
"""Suffix of a measure's disclosure status column (service/disclosure.py)."""

Caption = dict[str, str]
"""A text in each language of the model: {"lv": …, "en": …}."""


def caption(text: Text | None, default: str) -> Caption:
    return (
        {"lv": text.get("lv"), "en": text.get("en")} if text is not None else {"lv": default, "en": default}
    )


@dataclass(frozen=True)
class AxisLevel:
    """One drilled level: its name and caption, and the cells' columns that carry it."""

    name: str
    caption: Caption
    key: str
    """The column of the members' keys (`dim.level`)."""
    label: str | None
    """The column of the members' labels in the query's language (`dim.level_label`), if any."""
    time: bool = False


@dataclass(frozen=True)
class Axis:
    """A drilled dimension: the cells are split by its levels, top-down to the drilled one."""

    dimension: str
    """The dimension as the cube names it."""
    model_dimension: str
    """The model's dimension it links to (whose members these are)."""
    hierarchy: str
    ref: str
    """How Slicer's `levels` names it: the dimension, or `dim@hierarchy` off the default."""
    caption: Caption
    levels: tuple[AxisLevel, ...]


@dataclass(frozen=True)
class Member:
    """A member on an axis, as OLAP clients name it: the path of keys from the top level
    (its unique name), its level and its parent's path."""

    key: Any
    caption: Caption
    level: str
    path: tuple[Any, ...]

    @property
    def parent(self) -> tuple[Any, ...] | None:
        return self.path[:-1] or None


@dataclass(frozen=True)
class MeasureInfo:
    name: str
    caption: Caption
    function: Function | None
    """None for a calculated measure."""
    unit: str | None
    decimals: int | None

    @property
    def format_string(self) -> str:
        """An Excel-style number format (what XMLA's FORMAT_STRING and XLSX take)."""
        if self.decimals is None or self.decimals <= 0:
            return "#,##0" if self.decimals == 0 else "General"
        return "#,##0." + "0" * self.decimals


@dataclass(frozen=True)
class CutInfo:
    """A cut of the query as the model resolved it: which hierarchy, how deep its paths reach."""

    cut: Cut
    hierarchy: str
    depth: int


@dataclass(frozen=True)
class Explain:
    """How the answer was obtained: the source the planner chose, its SQL and time, the cache."""

    source: str
    table: str
    sql: str
    params: dict[str, Any]
    engine_ms: float
    cache: str
    """hit, miss or off."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "table": self.table,
            "sql": self.sql,
            "params": self.params,
            "engine_ms": round(self.engine_ms, 3),
            "cache": self.cache,
        }


@dataclass(frozen=True)
class CellSet:
    cube: str
    lang: str
    axes: tuple[Axis, ...]
    measures: tuple[MeasureInfo, ...]
    cuts: tuple[CutInfo, ...]
    has_split: bool
    subtotal_kind: str
    """none, rollup or cube: which subtotal sets were asked for."""
    result: AggregateResult
    explain: Explain
    lookup: MemberLookup | None = field(default=None, compare=False, repr=False)
    """The model's members (for captions in every language)."""
    _rendered: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _grown: list[Callable[[int], None]] = field(default_factory=list, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    # The cells and totals, as the executor made them.
    @property
    def cells(self) -> pa.Table:
        return self.result.cells

    @property
    def attributes(self) -> list[str]:
        """The cells' attribute columns: per axis, per level top-down, its key then its label."""
        return self.result.attributes

    @property
    def measure_names(self) -> list[str]:
        return self.result.measures

    @property
    def value_columns(self) -> list[str]:
        """The measures' columns, each followed by its disclosure status (`<measure>:status`)
        where the answer is protected (service/disclosure.py): what a table shows of a cell."""
        there = set(self.cells.column_names) | set(self.summary or ())
        out: list[str] = []
        for m in self.measure_names:
            out.append(m)
            if m + STATUS in there:
                out.append(m + STATUS)
        return out

    @property
    def protected(self) -> bool:
        """Whether disclosure control applied (the cells carry statuses)."""
        return len(self.value_columns) > len(self.measure_names)

    @property
    def levels(self) -> dict[str, list[str]]:
        return self.result.levels

    @property
    def summary(self) -> dict[str, Any] | None:
        """The grand total of the cell (None when not asked for)."""
        return self.result.summary

    @property
    def subtotals(self) -> list[Subtotal]:
        return self.result.subtotals

    @property
    def total_cell_count(self) -> int:
        """Cells before paging."""
        return self.result.total_cell_count

    @property
    def has_cells(self) -> bool:
        """Whether the answer is split into cells (a drilldown or a split); else only `summary`."""
        return bool(self.axes) or self.has_split

    @property
    def source(self) -> str:
        """The rollup that answered, or `facts`."""
        return self.explain.source

    @property
    def sql(self) -> str:
        return self.explain.sql

    @property
    def nbytes(self) -> int:
        return self.result.nbytes

    def members(self, axis: int) -> list[Member]:
        """The distinct members of an axis at its drilled level, in the cells' order."""
        ax = self.axes[axis]
        keys = [self.cells.column(lv.key).to_pylist() for lv in ax.levels]
        last = ax.levels[-1]
        labels = self.cells.column(last.label).to_pylist() if last.label else keys[-1]
        maps = None
        if not last.time and self.lookup is not None:
            maps = self.lookup.maps(ax.model_dimension, last.name)
        seen: dict[tuple[Any, ...], Member] = {}
        for i, label in enumerate(labels):
            path = tuple(col[i] for col in keys)
            if path in seen:
                continue
            shown = "" if label is None else str(label)
            if maps is not None and path[-1] is not None:
                captions = {lang: maps[lang].get(path[-1]) or str(path[-1]) for lang in ("lv", "en")}
            else:
                captions = {"lv": shown, "en": shown}
            seen[path] = Member(path[-1], captions, last.name, path)
        return list(seen.values())

    def rendered(self, name: str, make: Callable[[CellSet], Any], size: Callable[[Any], int] = len) -> Any:
        """A front end's rendering of this cell set, made once and kept with it (a cached cell
        set answers its next request without rendering again; the cache counts the bytes)."""
        found = self._rendered.get(name)
        if found is None:
            found = make(self)
            with self._lock:
                if name not in self._rendered:
                    self._rendered[name] = found
                    for grow in self._grown:
                        grow(size(found))
        return found

    def on_growth(self, grow: Callable[[int], None]) -> None:
        """Called with the size of every rendering kept from now on (the result cache's budget)."""
        self._grown.append(grow)
