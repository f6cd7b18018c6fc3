"""Physical names, column types and layouts derived from the model (the catalogue's vocabulary).

Dimension tables and rollups are named after a hash of their definition: a changed rollup
gets a new table that is built and back-filled beside the old one, and queries switch to it
only when it is complete (the old one is dropped afterwards).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import pyarrow as pa

from ..model.definition import Model
from ..model.expressions import ParsedExpr, RowType, parse_expression, row_type
from ..model.schema import ColumnType, Cube, Dimension, FactColumn, Function, Measure, Rollup, TimeRole
from ..model.validate import base_measures
from .quote import q
from .topology import SINGLE_NODE, Topology

OPEN_END = dt.date(2149, 6, 6)
"""ClickHouse's largest Date: an open validity range ends here."""
OPEN_START = dt.date(1970, 1, 1)

GRAIN_ORDER = [TimeRole.day, TimeRole.month, TimeRole.quarter, TimeRole.year]
"""Time grains from fine to coarse."""


__all__ = ["q"]  # re-exported: every room quotes through the layout


def _digest(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def time_bucket(grain: TimeRole, expr: str) -> str:
    """The first day of the period containing `expr` at a time grain."""
    return {
        TimeRole.day: f"toDate({expr})",
        TimeRole.month: f"toStartOfMonth({expr})",
        TimeRole.quarter: f"toStartOfQuarter({expr})",
        TimeRole.year: f"toStartOfYear({expr})",
    }[grain]


@dataclass(frozen=True)
class StateColumn:
    """One stored column of a measure: its SQL type, how facts fill it, how rows merge."""

    name: str
    type_sql: str
    fill: str
    """Aggregate over fact rows producing the partial value (a -State for AggregateFunction)."""
    merge: str
    """Aggregate over partial values (e.g. sum, groupBitmapMerge); `{}` is the column."""


ROWS = StateColumn("__rows", "SimpleAggregateFunction(sum, UInt64)", "count()", "sum({})")
"""Every rollup counts its fact rows, so a load can check each rollup against the facts
(`sum(__rows)` = `count()` of the facts) and rebuild one that missed a block."""


CH_TYPES = {
    ColumnType.string: "String",
    ColumnType.int: "Int32",
    ColumnType.int64: "Int64",
    ColumnType.float: "Float64",
    ColumnType.decimal: "Decimal(18, 2)",
    ColumnType.date: "Date",
    ColumnType.datetime: "DateTime",
    ColumnType.bool: "Bool",
    ColumnType.person: "UInt64",
    ColumnType.identifier: "UInt64",
}
ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.string: pa.string(),
    ColumnType.int: pa.int32(),
    ColumnType.int64: pa.int64(),
    ColumnType.float: pa.float64(),
    ColumnType.decimal: pa.decimal128(18, 2),
    ColumnType.date: pa.date32(),
    ColumnType.datetime: pa.timestamp("s"),
    ColumnType.bool: pa.bool_(),
    ColumnType.person: pa.uint64(),
    ColumnType.identifier: pa.uint64(),
}
"""The Arrow type that fills each kind of fact column (a person or another identifier is its
dense number)."""
SUM_TYPES = {
    ColumnType.int: "Int64",
    ColumnType.int64: "Int64",
    ColumnType.float: "Float64",
    ColumnType.decimal: "Decimal(38, 2)",
}


def fact_key_sql(cube: Cube, column: str) -> str:
    """A fact's member key as text. NULL becomes the member '' (as an unknown key does): it
    groups, joins and looks up like any key, `__null__` cuts select it, output shows NULL."""
    col = cube.column(column)
    text = q(column) if col.type == ColumnType.string else f"toString({q(column)})"
    return f"ifNull({text}, '')" if col.nullable else text


def ch_type(col: FactColumn) -> str:
    """The ClickHouse type of a fact column's values (a decimal with its declared precision)."""
    if col.type == ColumnType.decimal:
        return "Decimal({}, {})".format(*col.decimal)
    return CH_TYPES[col.type]


def arrow_type_of(col: FactColumn) -> pa.DataType:
    """The Arrow type that fills a fact column (a decimal with its declared precision)."""
    if col.type == ColumnType.decimal:
        return pa.decimal128(*col.decimal)
    return ARROW_TYPES[col.type]


def sum_type(col: FactColumn) -> str:
    """The type a sum of the column is kept in: 64-bit integers, 38 digits at the column's scale."""
    if col.type == ColumnType.decimal:
        return f"Decimal(38, {col.decimal[1]})"
    return SUM_TYPES[col.type]


def fact_column_type(col: FactColumn) -> str:
    """The ClickHouse type of a fact column as stored (nullable, low-cardinality text)."""
    return column_type(col.type, col.nullable, col.decimal if col.type == ColumnType.decimal else None)


def column_type(col_type: ColumnType, nullable: bool, decimal: tuple[int, int] | None = None) -> str:
    base = CH_TYPES[col_type]
    if col_type == ColumnType.decimal and decimal is not None:
        base = "Decimal({}, {})".format(*decimal)
    if nullable:
        base = f"Nullable({base})"
    if col_type == ColumnType.string:
        base = f"LowCardinality({base})"
    return base


class CubeLayout:
    """Everything about one cube's physical shape that both the compiler and the planner need."""

    def __init__(self, model: Model, cube: Cube, database: str, topology: Topology = SINGLE_NODE) -> None:
        self.model = model
        self.cube = cube
        self.database = database
        self.topology = topology
        self._filters: dict[str, str] = {}
        self._rows: dict[str, tuple[str, RowType]] = {}

    def source(self, table: str) -> str:
        """How a query names a stored table of this cube (its facts or a rollup): the table (on a
        cluster, the Distributed table of that name), or the topology's table function."""
        return self.topology.source(self.database, table)

    @property
    def facts_table(self) -> str:
        return f"facts_{self.cube.name}"

    @cached_property
    def time_link(self) -> tuple[str, str] | None:
        """(alias, fact column) of the cube's time dimension, if any."""
        for link in self.cube.dimensions:
            if self.model.dimensions[link.dimension].is_time:
                return link.alias, link.column
        return None

    def dimension(self, alias: str) -> Dimension:
        return self.model.dimensions[self.cube.link(alias).dimension]

    def filter_sql(self, measure: Measure) -> str | None:
        if measure.filter is None:
            return None
        if measure.name not in self._filters:
            from ..model.expressions import ParsedExpr, parse_expression

            parsed = parse_expression(
                measure.filter, kind="filter", known=[c.name for c in self.cube.columns]
            )
            assert isinstance(parsed, ParsedExpr)
            self._filters[measure.name] = parsed.render(q)
        return self._filters[measure.name]

    def row_value(self, m: Measure) -> tuple[str, RowType] | None:
        """A measure's per-row value as SQL with its type: its column, or its checked column
        expression rendered over quoted column names (None: a count of rows)."""
        if m.column_expression is not None:
            if m.name not in self._rows:
                parsed = parse_expression(
                    m.column_expression, kind="row", known=[c.name for c in self.cube.columns]
                )
                assert isinstance(parsed, ParsedExpr)
                typed = row_type(parsed, {c.name: c for c in self.cube.columns})
                assert isinstance(typed, RowType)
                self._rows[m.name] = (typed.render(parsed), typed)
            return self._rows[m.name]
        if m.column is None:
            return None
        col = self.cube.column(m.column)
        return q(col.name), RowType.of_column(col)

    def state_columns(self, m: Measure) -> list[StateColumn]:
        """How a measure is stored in a rollup (and pre-aggregated from facts)."""
        cond = self.filter_sql(m)
        col = self.cube.column(m.column) if m.column else None
        value = self.row_value(m)
        x = value[0] if value else ""
        typed = value[1] if value else None

        def agg(fn: str, *args: str) -> str:
            if cond is None:
                return f"{fn}({', '.join(args)})"
            return f"{fn}If({', '.join((*args, cond))})"

        name = f"m__{m.name}"
        fn = m.function
        if fn in (Function.sum, Function.last):
            assert typed is not None
            t = sum_type(col) if col is not None else typed.sum_sql
            return [StateColumn(name, f"SimpleAggregateFunction(sum, {t})", agg("sum", x), "sum({})")]
        if fn == Function.count:
            fill = agg("count", x) if x else (f"countIf({cond})" if cond else "count()")
            return [StateColumn(name, "SimpleAggregateFunction(sum, UInt64)", fill, "sum({})")]
        if fn in (Function.min, Function.max):
            assert typed is not None
            t = f"Nullable({ch_type(col) if col is not None else typed.value_sql})"
            fill = f"{fn.value}OrNull({x})" if cond is None else f"{fn.value}IfOrNull({x}, {cond})"
            return [StateColumn(name, f"SimpleAggregateFunction({fn.value}, {t})", fill, f"{fn.value}({{}})")]
        if fn == Function.avg:
            assert typed is not None
            t = sum_type(col) if col is not None else typed.sum_sql
            return [
                StateColumn(f"{name}__sum", f"SimpleAggregateFunction(sum, {t})", agg("sum", x), "sum({})"),
                StateColumn(f"{name}__n", "SimpleAggregateFunction(sum, UInt64)", agg("count", x), "sum({})"),
            ]
        if fn == Function.count_distinct:
            assert col is not None
            suffix, cond_type = ("If", ", UInt8") if cond else ("", "")
            if m.approximate:
                return [
                    StateColumn(
                        name,
                        f"AggregateFunction(uniqCombined{suffix}, {ch_type(col)}{cond_type})",
                        f"uniqCombined{suffix}State({x}{', ' + cond if cond else ''})",
                        f"uniqCombined{suffix}Merge({{}})",
                    )
                ]
            if col.pseudonymous or col.type in (ColumnType.int, ColumnType.int64):
                # Roaring bitmaps over dense numbers: Apache Kylin's precise count distinct.
                fill = f"groupBitmap{suffix}State(toUInt64({x}){', ' + cond if cond else ''})"
                return [
                    StateColumn(
                        name,
                        f"AggregateFunction(groupBitmap{suffix}, UInt64{cond_type})",
                        fill,
                        f"groupBitmap{suffix}Merge({{}})",
                    )
                ]
            return [
                StateColumn(
                    name,
                    f"AggregateFunction(uniqExact{suffix}, {ch_type(col)}{cond_type})",
                    f"uniqExact{suffix}State({x}{', ' + cond if cond else ''})",
                    f"uniqExact{suffix}Merge({{}})",
                )
            ]
        raise AssertionError(fn)

    def measure_value(self, m: Measure, merged: dict[str, str]) -> str:
        """The final value of a measure from its merged state columns (`merged` maps name → SQL)."""
        cols = self.state_columns(m)
        if m.function == Function.avg:
            return f"{merged[cols[0].name]} / nullIf({merged[cols[1].name]}, 0)"
        return merged[cols[0].name]

    # --- rollups -------------------------------------------------------------------------

    def rollup_measures(self, r: Rollup) -> list[Measure]:
        if r.measures is not None:
            return base_measures(self.cube, r.measures)
        keeps_day = self.rollup_time_grain(r) == TimeRole.day
        return [
            m
            for m in base_measures(self.cube, [m.name for m in self.cube.measures])
            if m.function != Function.last or keeps_day
        ]

    def rollup_time_grain(self, r: Rollup) -> TimeRole | None:
        if self.time_link is None:
            return None
        level = r.grain.get(self.time_link[0])
        if level is None:
            return None
        role = self.dimension(self.time_link[0]).level(level).role
        return role

    def grain_kind(self, alias: str, level: str) -> Literal["key", "level"]:
        """A rollup keeps the raw fact key at a dimension's leaf level when that is the fact key
        (or the dimension is versioned: the key is mapped as of a date), else the mapped level
        key (also the leaf's, when the facts carry a finer key)."""
        dim = self.dimension(alias)
        raw = dim.keyed_at_leaf or dim.is_versioned  # a versioned leaf is mapped as of a date
        return "key" if level == dim.leaf.name and raw and not dim.is_time else "level"

    def rollup_table(self, r: Rollup) -> str:
        return f"rollup_{self.cube.name}_{r.name}_{self.rollup_digest(r)}"

    def rollup_digest(self, r: Rollup) -> str:
        measures = [
            (_dump(m, "column_expression"), [s.__dict__ for s in self.state_columns(m)])
            for m in self.rollup_measures(r)
        ]
        dims = {}
        for alias, level in r.grain.items():
            dim = self.dimension(alias)
            if not dim.is_time and self.grain_kind(alias, level) == "level":
                dims[alias] = dim_digest(self.model, dim)
        # `kind`, `precision` and `scale` only where set: a column without them digests as it
        # did before they existed, so adding them did not rebuild every rollup.
        cols = {c.name: _dump(c, "kind", "precision", "scale") for c in self.cube.columns}
        links = {d.alias: d.column for d in self.cube.dimensions}
        return _digest([sorted(r.grain.items()), measures, dims, cols, links, ROWS.__dict__])


def _dump(obj: FactColumn | Measure, *later: str) -> dict[str, Any]:
    """A model object as digested, without the fields added later that it leaves unset."""
    return obj.model_dump(exclude={f for f in later if getattr(obj, f) is None})


_DIM_DIGESTS: dict[tuple[int, int], tuple[Model, Dimension, str]] = {}


def dim_digest(model: Model, dim: Dimension) -> str:
    """Digest of a dimension and its members (cached per model and dimension object: every
    aggregate names the dictionaries, and hashing the members costs more than planning)."""
    hit = _DIM_DIGESTS.get((id(model), id(dim)))
    if hit is not None and hit[0] is model and hit[1] is dim:
        return hit[2]
    # `path_key` only where set: a dimension without one digests as before it existed.
    unset = {i: {"path_key"} for i, lv in enumerate(dim.levels) if lv.path_key is None}
    exclude: dict[str, Any] = {"levels": unset} if unset else {}
    # Likewise `date_key`, a members `source` and `join` (issue 16) only where given.
    if dim.date_key is None:
        exclude["date_key"] = True
    if dim.members is not None:
        later = {f for f in ("source", "join", "calendar") if not getattr(dim.members, f)}
        if later:
            exclude["members"] = later
    dumped = dim.model_dump(by_alias=True, exclude=exclude or None)
    digest = _digest([dumped, model.members.get(dim.name)])
    _DIM_DIGESTS[(id(model), id(dim))] = (model, dim, digest)
    return digest


def map_dict(model: Model, database: str, dim: Dimension) -> str:
    """Fully qualified name of the dictionary mapping a fact key (and date) to level keys."""
    return f"{database}.dict_{dim.name}_map_{dim_digest(model, dim)}"


def labels_dict(model: Model, database: str, dim: Dimension) -> str:
    """Fully qualified name of the dictionary giving (level, key) → labels and order."""
    return f"{database}.dict_{dim.name}_labels_{dim_digest(model, dim)}"


def dim_tables(model: Model, dim: Dimension) -> tuple[str, str]:
    """Names of a dimension's map and labels tables (the dictionaries' sources)."""
    h = dim_digest(model, dim)
    return f"dim_{dim.name}_map_{h}", f"dim_{dim.name}_labels_{h}"


def arrow_structure(schema: pa.Schema) -> str:
    """A ClickHouse column list for an Arrow schema (for staging batches)."""
    return ", ".join(f"`{f.name}` {_ch_type(f.type)}" for f in schema)


def input_structure(schema: pa.Schema) -> str:
    """The `input()` table function's structure for an Arrow batch sent as a request's body: the
    column list as a string literal (column names are LabIS's own: no quote in them)."""
    text = arrow_structure(schema)
    assert "'" not in text and "\\" not in text, text
    return f"'{text}'"


def _ch_type(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        return _ch_type(t.value_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t):
        return "String"
    if pa.types.is_date32(t):
        return "Date"
    if pa.types.is_timestamp(t):
        return "DateTime"
    if pa.types.is_boolean(t):
        return "Bool"
    if pa.types.is_decimal(t):
        return f"Decimal({t.precision}, {t.scale})"
    if pa.types.is_floating(t):
        return "Float64" if t.bit_width == 64 else "Float32"
    if pa.types.is_integer(t):
        return f"{'UInt' if pa.types.is_unsigned_integer(t) else 'Int'}{t.bit_width}"
    raise TypeError(f"no ClickHouse type for Arrow {t}")
