"""An MDX statement answered by the cube service: axes, cells, formatted values.

The statement is evaluated in rounds: each round evaluates the axes and then the cells; every
stored cell it needs and does not have is collected (mdx/cells.py) and, at the end of the
round, asked of the service in as few `aggregate` calls as there are grains. The next round
has those values (Filter, Order, NON EMPTY and calculated members see them). A typical client
statement takes two rounds. Sub-selects restrict the cube first (their members become the
visible part of each hierarchy, the All member their visual total); the WHERE slicer is the
context every cell starts from.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import LimitError, NotSupportedError, QueryError, QueryTimeoutError
from ..model.diagnostics import did_you_mean
from ..query.cell import CubeQuery, MembersQuery
from ..service.cellset import CellSet, MeasureInfo
from ..service.cube_service import CubeService
from ..service.principal import Principal
from . import ast as a
from . import drill  # noqa: F401  (registers the drill functions, VisualTotals and Rank)
from .cells import CellStore, Stats
from .functions import MEASURES_KEY, Ctx, Expressions
from .names import MEASURES, Catalog, Hier, HierKey, Member
from .parse import parse
from .values import SetV, Slice, Tup, format_value

MAX_ROUNDS = 8
DEFAULT_MAX_CELLS = 1_000_000


@dataclass
class AxisResult:
    ordinal: int
    tuples: list[Tup]
    hierarchies: list[HierKey]
    properties: tuple[str, ...] = ()
    """DIMENSION PROPERTIES asked for (upper case): returned on each member of the axis."""


@dataclass
class Cell:
    value: Any
    formatted: str
    format: str | None = None
    """The format string the value was formatted with (XMLA's FORMAT_STRING)."""
    status: str | None = None
    """Withheld by disclosure control: its status (`A`, `D`, `N`; docs/disclosure.md), shown as
    the formatted value, the value None. A calculated cell that read a withheld one is `D`
    (or that cell's status, when all it read share one)."""


@dataclass(frozen=True)
class Withheld:
    """A cell's value while the axes are trimmed (NON EMPTY keeps it: it is not empty)."""

    status: str


MEMBER_PROPERTIES = (
    "PARENT_UNIQUE_NAME",
    "HIERARCHY_UNIQUE_NAME",
    "LEVEL_UNIQUE_NAME",
    "LEVEL_NUMBER",
    "MEMBER_UNIQUE_NAME",
    "MEMBER_NAME",
    "MEMBER_CAPTION",
    "MEMBER_KEY",
    "MEMBER_VALUE",
    "MEMBER_TYPE",
    "PARENT_LEVEL",
    "PARENT_COUNT",
    "CHILDREN_CARDINALITY",
    "DISPLAY_INFO",
)
"""The intrinsic member properties DIMENSION PROPERTIES may name."""
CELL_PROPERTIES = (
    "VALUE",
    "FORMATTED_VALUE",
    "FORMAT_STRING",
    "CELL_ORDINAL",
    "LANGUAGE",
    "BACK_COLOR",
    "FORE_COLOR",
    "FONT_NAME",
    "FONT_SIZE",
    "FONT_FLAGS",
    "ACTION_TYPE",
    "UPDATEABLE",
)
"""What CELL PROPERTIES may name. The colours, fonts, actions and UPDATEABLE are never set by
a LabIS cube, so a cell has no such property (they are left out of the answer, as SSAS does)."""
DEFAULT_CELL_PROPERTIES = ("VALUE", "FORMATTED_VALUE", "CELL_ORDINAL")
LANGUAGE_LCID = {"en": 1033, "lv": 1062}


@dataclass
class MdxResult:
    """The answer: axes of tuples and the cells, axis 0 varying fastest."""

    cube: str
    lang: str
    axes: list[AxisResult]
    slicer: Tup
    cells: list[Cell]
    catalog: Catalog = field(repr=False)
    stats: Stats = field(repr=False)
    ms: float = 0.0
    cell_properties: tuple[str, ...] = DEFAULT_CELL_PROPERTIES

    def member_json(self, m: Member) -> dict[str, Any]:
        hiers = self.catalog.hiers
        if m.is_measure:
            level, hier_name, parent = "[Measures].[MeasuresLevel]", "[Measures]", None
        else:
            h = hiers[m.hier]
            level, hier_name = h.level_unique_name(min(m.depth, len(h.levels))), h.unique_name
            parent = self.catalog.member(m.hier, m.path[:-1]).unique_name(hiers) if m.depth else None
        return {
            "unique_name": m.unique_name(hiers),
            "caption": m.caption,
            "level": level,
            "level_number": 0 if m.is_measure else m.depth,
            "hierarchy": hier_name,
            "parent_unique_name": parent,
            "calculated": m.calc is not None,
        }

    def member_properties(self, m: Member, names: tuple[str, ...]) -> dict[str, Any]:
        """The DIMENSION PROPERTIES of a member, by their names."""
        base = self.member_json(m)
        hiers = self.catalog.hiers
        out: dict[str, Any] = {}
        for name in names:
            if name == "PARENT_UNIQUE_NAME":
                out[name] = base["parent_unique_name"]
            elif name == "HIERARCHY_UNIQUE_NAME":
                out[name] = base["hierarchy"]
            elif name == "LEVEL_UNIQUE_NAME":
                out[name] = base["level"]
            elif name == "LEVEL_NUMBER":
                out[name] = base["level_number"]
            elif name == "MEMBER_UNIQUE_NAME":
                out[name] = base["unique_name"]
            elif name in ("MEMBER_NAME", "MEMBER_CAPTION"):
                out[name] = m.calc if m.calc is not None else m.caption
            elif name in ("MEMBER_KEY", "MEMBER_VALUE"):
                out[name] = m.calc if m.calc is not None else (m.path[-1] if m.path else None)
            elif name == "MEMBER_TYPE":  # OLE DB for OLAP: 1 regular, 2 all, 3 measure, 4 formula
                out[name] = 4 if m.calc is not None else 3 if m.is_measure else 2 if m.is_all else 1
            elif name == "PARENT_LEVEL":
                out[name] = max(base["level_number"] - 1, 0)
            elif name == "PARENT_COUNT":
                out[name] = 1 if base["parent_unique_name"] else 0
            elif name in ("CHILDREN_CARDINALITY", "DISPLAY_INFO"):
                leaf = m.is_measure or m.calc is not None or m.depth >= len(hiers[m.hier].levels)
                kids = 0 if leaf else len(self.catalog.children(m))
                # DISPLAY_INFO: the children count in the low 16 bits, 0x10000 if the next
                # member is a child (a client's expand/collapse state); the latter is not known
                # per member here, so only the count is given.
                out[name] = min(kids, 0xFFFF) if name == "DISPLAY_INFO" else kids
        return out

    def hier_json(self, hk: HierKey) -> dict[str, Any]:
        if hk == MEASURES_KEY:
            return {"unique_name": "[Measures]", "caption": MEASURES}
        h = self.catalog.hiers[hk]
        return {"unique_name": h.unique_name, "caption": h.caption, "dimension": h.dim, "hierarchy": h.name}

    def as_json(self) -> dict[str, Any]:
        return {
            "cube": self.cube,
            "axes": [
                {
                    "ordinal": ax.ordinal,
                    "name": a.AXIS_NAMES[ax.ordinal]
                    if ax.ordinal < len(a.AXIS_NAMES)
                    else f"AXIS({ax.ordinal})",
                    "hierarchies": [self.hier_json(hk) for hk in ax.hierarchies],
                    "tuples": [
                        {"ordinal": i, "members": [self._member(m, ax.properties) for m in tup]}
                        for i, tup in enumerate(ax.tuples)
                    ],
                }
                for ax in self.axes
            ],
            "slicer": [self.member_json(m) for m in self.slicer],
            "cell_properties": list(self.cell_properties),
            "cells": [self._cell(i, c) for i, c in enumerate(self.cells)],
            "explain": {
                "aggregates": self.stats.aggregates,
                "members": self.catalog.member_calls,
                "rounds": self.stats.rounds,
                "ms": round(self.ms, 3),
            },
        }

    def _member(self, m: Member, names: tuple[str, ...]) -> dict[str, Any]:
        out = self.member_json(m)
        if names:
            out["properties"] = self.member_properties(m, names)
        return out

    def _cell(self, i: int, c: Cell) -> dict[str, Any]:
        """A cell with the CELL PROPERTIES asked for (the ordinal always)."""
        out: dict[str, Any] = {"ordinal": i}
        asked = self.cell_properties
        if "VALUE" in asked:
            out["value"] = c.value
        if "FORMATTED_VALUE" in asked:
            out["formatted_value"] = c.formatted
        if "FORMAT_STRING" in asked and c.format is not None:
            out["format_string"] = c.format
        if c.status is not None:
            out["status"] = c.status
        if "LANGUAGE" in asked:
            out["language"] = LANGUAGE_LCID.get(self.lang, 1033)
        return out

    @property
    def heads(self) -> int:
        """How many of the grid's columns name members (the rest are cells)."""
        return sum(len(ax.hierarchies) for ax in self.axes[1:])

    def grid(self) -> tuple[list[str], list[list[Any]]]:
        """The cells as a flat table: one row per tuple of the rows (and pages) axes, a header
        column per hierarchy of those axes, then a column per tuple of the columns axis."""
        axes = self.axes
        cols = axes[0].tuples if axes else [()]
        col_names = [" / ".join(m.caption for m in tup) or "value" for tup in cols]
        heads: list[str] = []
        row_axes = axes[1:]
        for ax in row_axes:
            heads += [self.hier_json(hk)["caption"] for hk in ax.hierarchies]
        rows = []
        combos = itertools.product(*[range(len(ax.tuples)) for ax in row_axes]) if row_axes else [()]
        ncols = len(cols)
        for combo in combos:
            index = 0
            stride = ncols
            for ax, i in zip(row_axes, combo, strict=True):
                index += i * stride
                stride *= len(ax.tuples)
            labels = [m.caption for ax, i in zip(row_axes, combo, strict=True) for m in ax.tuples[i]]
            values = [self.cells[index + j].status or self.cells[index + j].value for j in range(ncols)]
            rows.append(labels + values)
        return heads + col_names, rows


def execute(
    service: CubeService,
    principal: Principal,
    text: str,
    *,
    lang: str = "lv",
    merge: bool = True,
) -> MdxResult:
    """Parse and answer an MDX statement through the cube service, as `principal` may see it."""
    start = time.perf_counter()
    statement = parse(text)
    model = service.visible_model(principal)
    name = statement.cube
    cube = model.cubes.get(name) or next(
        (c for n, c in model.cubes.items() if n.lower() == name.lower()), None
    )
    if cube is None:
        raise QueryError(f"unknown cube '{name}'", hint=did_you_mean(name, model.cubes))

    def members(q: MembersQuery) -> Any:
        return service.members(q, principal)

    def aggregate(q: CubeQuery) -> CellSet:
        return service.aggregate(q, principal)

    catalog = Catalog(model, cube, lang, members)
    store = CellStore(catalog, aggregate)
    store.merge = merge
    limits = service.limits
    deadline = start + limits.seconds * 4 if limits.seconds is not None else None
    max_cells = limits.max_rows * 100 if limits.max_rows is not None else DEFAULT_MAX_CELLS
    run = _Run(Expressions(catalog, store, statement), store, deadline, max_cells)
    result = run.statement(statement.select)
    result.ms = (time.perf_counter() - start) * 1000
    return result


class _Run:
    def __init__(self, ex: Expressions, store: CellStore, deadline: float | None, max_cells: int) -> None:
        self.ex, self.store, self.deadline, self.max_cells = ex, store, deadline, max_cells
        self.cat = ex.cat

    def rounds(self, step: Any) -> Any:
        """`step()` repeated until it needed no cell it did not have."""
        for _ in range(MAX_ROUNDS):
            if self.deadline is not None and time.perf_counter() > self.deadline:
                raise QueryTimeoutError(
                    "the MDX statement ran past the server's time limit",
                    hint="ask for fewer members, or a smaller slice",
                )
            self.ex.new_round()
            self.store.pending = set()
            out = step()
            self.store.stats.rounds += 1
            if not self.store.pending:
                return out
            self.store.fetch()
        raise QueryError(f"the statement needs more than {MAX_ROUNDS} rounds of cells", hint="simplify it")

    def restrict(self, select: a.Select) -> None:
        """A sub-select: its axes' (and slicer's) members become what the outer query sees."""
        if isinstance(select.cube, a.Select):
            self.restrict(select.cube)
        sets: list[SetV] = self.rounds(lambda: [self.ex.setv(ax.expr, {}) for ax in select.axes])
        if select.where is not None:
            sets.append(self.rounds(lambda: self.ex.setv(select.where, {})))
        for s in sets:
            by_hier: dict[HierKey, set[tuple[str | None, ...]]] = {}
            alls: set[HierKey] = set()
            for tup in s:
                for m in tup:
                    if m.is_measure or m.calc is not None:
                        continue
                    if m.is_all:
                        alls.add(m.hier)
                    by_hier.setdefault(m.hier, set()).add(m.path)
            for hk, paths in by_hier.items():
                if hk not in alls:
                    self._narrow(hk, frozenset(paths))

    def _narrow(self, hk: HierKey, paths: frozenset[tuple[str | None, ...]]) -> None:
        old = self.store.restrictions.get(hk)
        if old is not None:
            kept = set()
            for p in paths:
                if any(p[: len(r)] == r for r in old):
                    kept.add(p)
                else:
                    kept |= {r for r in old if r[: len(p)] == p}
            paths = frozenset(kept)
        if not paths:
            raise QueryError(f"the sub-selects leave no member of '{hk[0]}'")
        self.store.restrictions[hk] = paths
        self.cat.restrictions[hk] = paths
        self.cat._levels = {k: v for k, v in self.cat._levels.items() if k[0] != hk}
        self.cat._positions = {k: v for k, v in self.cat._positions.items() if k[0] != hk}

    def slicer(self, where: a.Expr | None) -> tuple[Ctx, Tup]:
        if where is None:
            return {}, ()
        s = self.rounds(lambda: self.ex.setv(where, {}))
        if not s:
            raise QueryError("the WHERE clause is an empty set")
        if len(s) == 1:
            return {m.hier: m for m in s[0]}, s[0]
        by_hier: dict[HierKey, list[Member]] = {}
        for tup in s:
            for m in tup:
                if m not in by_hier.setdefault(m.hier, []):
                    by_hier[m.hier].append(m)
        size = 1
        for ms in by_hier.values():
            size *= len(ms)
        if size != len(s) or any(
            m.is_measure or m.calc for ms in by_hier.values() for m in ms if len(ms) > 1
        ):
            raise NotSupportedError(
                "a WHERE set must be a cross product of stored members (measures one at a time)",
                hint="e.g. WHERE {[territory].[a], [territory].[b]} * {[gender].[F]}",
            )
        ctx: Ctx = {}
        shown: list[Member] = []
        for hk, ms in by_hier.items():
            ctx[hk] = ms[0] if len(ms) == 1 else Slice(hk, frozenset(m.path for m in ms))
            shown.append(ms[0] if len(ms) == 1 else self.cat.all_member(hk))
        return ctx, tuple(shown)

    def statement(self, select: a.Select) -> MdxResult:
        if isinstance(select.cube, a.Select):
            self.restrict(select.cube)
        base, shown = self.slicer(select.where)
        self.ex.base = base
        non_empty = [ax.non_empty for ax in select.axes]

        def step() -> tuple[list[SetV], list[Any]]:
            axes = [self.ex.setv(ax.expr, base) for ax in select.axes]
            size = 1
            for s in axes:
                size *= len(s)
            if size > self.max_cells:
                raise LimitError(
                    f"the statement has {size:,} cells, more than the server's limit of {self.max_cells:,}",
                    hint="use NON EMPTY with fewer members, a slicer, or TopCount",
                )
            if self.store.pending:
                return axes, []
            return axes, [self._value(ctx) for ctx in self._contexts(base, axes)]

        axes, values = self.rounds(step)
        axes, values = self._non_empty(axes, values, non_empty)
        cells = []
        for ctx, v in zip(self._contexts(base, axes), values, strict=True):
            fmt = self._format(ctx)
            if isinstance(v, Withheld):
                cells.append(Cell(None, v.status, fmt, v.status))
            else:
                cells.append(Cell(v, format_value(v, fmt), fmt))
        props = [_member_properties(ax) for ax in select.axes]
        return MdxResult(
            self.cat.cube.name,
            self.cat.lang,
            [AxisResult(i, s, _hierarchies(s), props[i]) for i, s in enumerate(axes)],
            shown,
            cells,
            self.cat,
            self.store.stats,
            cell_properties=_cell_properties(select.cell_properties),
        )

    def _contexts(self, base: Ctx, axes: list[SetV]) -> list[Ctx]:
        out = []
        for combo in itertools.product(*reversed(axes)):
            ctx = dict(base)
            for tup in combo:
                for m in tup:
                    ctx[m.hier] = m
            out.append(ctx)
        return out

    def _value(self, ctx: Ctx) -> Any:
        """The cell's value, or `Withheld` when it is, or is computed from, a withheld cell."""
        self.store.read = set()
        try:
            v = self.ex.cell(ctx)
            read = self.store.read
        finally:
            self.store.read = None
        if read:
            return Withheld(next(iter(read)) if len(read) == 1 else "D")
        return v

    def _non_empty(
        self, axes: list[SetV], values: list[Any], flags: list[bool]
    ) -> tuple[list[SetV], list[Any]]:
        if not any(flags) or not axes:
            return axes, values
        sizes = [len(s) for s in axes]
        keep = []
        for k, s in enumerate(axes):
            if not flags[k]:
                keep.append(list(range(len(s))))
                continue
            stride = 1
            for n in sizes[:k]:
                stride *= n
            filled = set()
            for i, v in enumerate(values):
                if v is not None:
                    filled.add((i // stride) % sizes[k])
            keep.append(sorted(filled))
        new_axes = [[s[i] for i in kept] for s, kept in zip(axes, keep, strict=True)]
        new_values = []
        for combo in itertools.product(*reversed(keep)):
            index, stride = 0, 1
            for k, i in enumerate(reversed(combo)):
                index += i * stride
                stride *= sizes[k]
            new_values.append(values[index])
        return new_axes, new_values

    def _format(self, ctx: Ctx) -> str | None:
        fs = self.ex.format_string(ctx)
        if fs is not None:
            return fs
        m = self.ex.measure_of(ctx)
        if m.calc is not None:
            return None
        try:
            measure = self.cat.cube.measure(m.path[0] or "")
        except KeyError:
            return None
        info = MeasureInfo(measure.name, {}, measure.function, measure.unit, measure.decimals)
        return info.format_string if measure.decimals is not None else None


def _member_properties(axis: a.Axis) -> tuple[str, ...]:
    """An axis's DIMENSION PROPERTIES, intrinsic ones only (`[dim].[level].[NAME]` or `NAME`)."""
    out: list[str] = []
    for name in axis.properties:
        word = a.name_text(name).upper()
        if word not in MEMBER_PROPERTIES:
            raise NotSupportedError(
                f"DIMENSION PROPERTIES {a.expr_mdx(name)}: not an intrinsic member property",
                hint=did_you_mean(word, list(MEMBER_PROPERTIES))
                or "level attributes as member properties are not supported; one of "
                + ", ".join(MEMBER_PROPERTIES),
            )
        if word not in out:
            out.append(word)
    return tuple(out)


def _cell_properties(names: tuple[str, ...]) -> tuple[str, ...]:
    if not names:
        return DEFAULT_CELL_PROPERTIES
    out: list[str] = []
    for n in names:
        word = n.upper()
        if word not in CELL_PROPERTIES:
            raise QueryError(
                f"unknown cell property {n}",
                hint=did_you_mean(word, list(CELL_PROPERTIES)) or "one of " + ", ".join(CELL_PROPERTIES),
            )
        if word not in out:
            out.append(word)
    return tuple(out)


def _hierarchies(s: SetV) -> list[HierKey]:
    return [m.hier for m in s[0]] if s else []


__all__ = ["Hier", "MdxResult", "execute"]
