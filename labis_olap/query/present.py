"""The answer's attributes from what the engine returned (see sqlgen.Shown).

The engine groups by period starts and member keys; numbering periods, writing their labels,
looking up members' labels and turning '' into null happen here, over the whole result at
once, because the same expressions in the SQL cost ClickHouse's analyzer more than running
them (sqlgen's module docstring has the figures). Members' labels come from the model, as the
engine's label dictionaries do: those are named by a digest of the dimension and its members
(physical.layout.dim_digest), so a model's labels are the engine's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from ..model.definition import Model
from ..physical.members import AttributeMap, attribute_map, label_rows, map_rows
from .sqlgen import Derived, Shown, SortKey

Column: TypeAlias = Any
"""A pyarrow ChunkedArray (pyarrow has no type hints)."""


def _blank_is_null(col: Column) -> Column:
    return pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)


def _quarter_label(col: Column) -> Column:
    year = pc.year(col).cast(pa.string())
    return pc.binary_join_element_wise(year, pc.quarter(col).cast(pa.string()), "-Q")


MAKERS: dict[str, Callable[[Column], Column]] = {
    "raw": lambda col: col,
    "member": _blank_is_null,
    "split": lambda col: col.cast(pa.bool_()),
    "year": lambda col: pc.year(col).cast(pa.uint16()),
    "quarter": lambda col: pc.quarter(col).cast(pa.uint8()),
    "month": lambda col: pc.month(col).cast(pa.uint8()),
    "day": lambda col: pc.day(col).cast(pa.uint8()),
    "year_label": lambda col: pc.year(col).cast(pa.string()),
    "quarter_label": _quarter_label,
    "month_label": lambda col: pc.strftime(col, "%Y-%m"),
    "day_label": lambda col: col.cast(pa.string()),
}
"""The same values and types as ClickHouse's toYear/toQuarter/…, nullIf and toBool."""


class MemberLookup:
    """What the model says of a dimension's members, per level, as mappings: from a member's key
    to its label in either language (None for an empty label, as the SQL's nullIf(dictGet(…), '')
    gave) and its sort key; from a fact key to its member at a level (dimensions without
    versions: the engine's map dictionary, which has the same rows).

    Looked up with Python dicts, not Arrow's index_in: that builds a hash table of the members
    on every call; right after a query (caches cold) the sort keys of 22 cells took 0.19 ms
    that way and 0.09 ms this way."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._maps: dict[tuple[str, str], dict[str, dict[str, str | None]]] = {}
        self._levels: dict[tuple[str, str], dict[str, str]] = {}
        self._attributes: dict[str, AttributeMap] = {}

    def attributes(self, dimension: str) -> AttributeMap:
        """The dimension's members' level attributes (physical.members.attribute_map)."""
        if dimension not in self._attributes:
            self._attributes[dimension] = attribute_map(self.model, self.model.dimensions[dimension])
        return self._attributes[dimension]

    def maps(self, dimension: str, level: str) -> dict[str, dict[str, str | None]]:
        if (dimension, level) not in self._maps:  # a race only computes the same maps twice
            rows = label_rows(self.model, self.model.dimensions[dimension]).to_pylist()
            mine = [r for r in rows if r["level"] == level]
            self._maps[(dimension, level)] = {
                "lv": {r["key"]: r["label_lv"] or None for r in mine},
                "en": {r["key"]: r["label_en"] or None for r in mine},
                "sort": {r["key"]: r["sort"] for r in mine},
            }
        return self._maps[(dimension, level)]

    def of(self, shown: Shown, keys: Column) -> Column:
        labels = self.maps(shown.dimension, shown.level)["en" if shown.lang == "en" else "lv"]
        return pa.array([labels.get(k) for k in keys.to_pylist()], pa.string())

    def sort_of(self, shown: Shown, keys: Column) -> Column:
        order = self.maps(shown.dimension, shown.level)["sort"]
        return pa.array([order.get(k, "") for k in keys.to_pylist()], pa.string())

    def level_of(self, derived: Derived, fact_keys: Column) -> Column:
        if (derived.dimension, derived.level) not in self._levels:
            rows = map_rows(self.model, self.model.dimensions[derived.dimension]).to_pydict()
            pairs = zip(rows["fact_key"], rows[derived.level], strict=True)
            self._levels[(derived.dimension, derived.level)] = dict(pairs)
        level = self._levels[(derived.dimension, derived.level)]
        return pa.array([level.get(k, "") for k in fact_keys.to_pylist()], pa.string())


def derive(table: pa.Table, derived: Sequence[Derived], members: MemberLookup) -> pa.Table:
    """The table with the level keys in `derived` added."""
    for d in derived:
        table = table.append_column(d.column, members.level_of(d, table.column(d.source)))
    return table


def _make(shown: Shown, table: pa.Table, members: MemberLookup) -> Column:
    col = table.column(shown.column)
    if shown.how == "label":
        return members.of(shown, col)
    if shown.how == "sort":
        return members.sort_of(shown, col)
    return MAKERS[shown.how](col)


def present(
    table: pa.Table, shown: Sequence[Shown], keep: Mapping[str, str], members: MemberLookup
) -> pa.Table:
    """The attributes in `shown` order, then the columns of `keep` (name → the engine's column)
    that the table has."""
    names = [s.name for s in shown]
    columns = [_make(s, table, members) for s in shown]
    for name, source in keep.items():
        if source in table.column_names:
            names.append(name)
            columns.append(table.column(source))
    return pa.Table.from_arrays(columns, names=names)


def sort_rows(table: pa.Table, keys: Sequence[SortKey], members: MemberLookup) -> pa.Table:
    """The rows ordered by grouping set (`__g`), then by `keys` within each set, as the SQL's
    ORDER BY did: bytewise strings, NaN then null last in either direction (ClickHouse's
    defaults, which are Arrow's)."""
    if table.num_rows < 2:
        return table
    columns = [table.column("__g"), *(_make(k.shown, table, members) for k in keys)]
    order = [("k0", "ascending")] + [
        (f"k{i}", "descending" if k.descending else "ascending") for i, k in enumerate(keys, 1)
    ]
    by = pa.Table.from_arrays(columns, names=[name for name, _ in order])
    return table.take(pc.sort_indices(by, sort_keys=order))
