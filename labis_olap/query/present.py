"""The answer's attributes from what the engine returned (see sqlgen.Shown).

The engine groups by period starts and member keys; numbering periods, writing their labels,
looking up members' labels and turning '' into null happen here, vectorised over the whole
result, because the same expressions in the SQL cost ClickHouse's analyzer more than running
them (sqlgen's module docstring has the figures). Members' labels come from the model, as the
engine's label dictionaries do: those are named by a digest of the dimension and its members
(compiler.physical.dim_digest), so a model's labels are the engine's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from ..compiler.members import label_rows
from ..model.loader import Model
from .sqlgen import Shown

Column: TypeAlias = Any
"""A pyarrow ChunkedArray (pyarrow has no type hints)."""


def _blank_is_null(col: Column) -> Column:
    return pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)


def _quarter_label(col: Column) -> Column:
    year = pc.year(col).cast(pa.string())
    return pc.binary_join_element_wise(year, pc.quarter(col).cast(pa.string()), "-Q")


MAKERS: dict[str, Callable[[Column], Column]] = {
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


class Labels:
    """Members' labels per (dimension, level, language), as two aligned arrays: keys, labels
    (null for an empty label, as the SQL's nullIf(dictGet(…), '') gave)."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._arrays: dict[tuple[str, str, str], tuple[pa.Array, pa.Array]] = {}

    def arrays(self, dimension: str, level: str, lang: str) -> tuple[pa.Array, pa.Array]:
        key = (dimension, level, lang)
        if key not in self._arrays:  # a race only computes the same arrays twice
            rows = label_rows(self.model, self.model.dimensions[dimension])
            rows = rows.filter(pc.equal(rows.column("level"), level))
            labels = rows.column(f"label_{'en' if lang == 'en' else 'lv'}")
            self._arrays[key] = (rows.column("key").combine_chunks(), _blank_is_null(labels).combine_chunks())
        return self._arrays[key]

    def of(self, shown: Shown, keys: Column) -> Column:
        known, labels = self.arrays(shown.dimension, shown.level, shown.lang)
        return pc.take(labels, pc.index_in(keys, value_set=known))


def present(table: pa.Table, shown: Sequence[Shown], keep: Sequence[str], labels: Labels) -> pa.Table:
    """The attributes in `shown` order, then the columns in `keep` that the table has."""
    names = [s.name for s in shown]
    columns = [
        labels.of(s, table.column(s.column)) if s.how == "label" else MAKERS[s.how](table.column(s.column))
        for s in shown
    ]
    for name in keep:
        if name in table.column_names:
            names.append(name)
            columns.append(table.column(name))
    return pa.Table.from_arrays(columns, names=names)
