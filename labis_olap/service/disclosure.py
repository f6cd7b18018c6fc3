"""Statistical disclosure control of the answers publication roles get (docs/disclosure.md).

Applied by the cube service after the roles' own restrictions, to every front end alike: the
cells, the grand total and every subtotal row of an aggregate. A cell whose contributors
(distinct persons, else records — model/disclosure.py) number from 1 to the threshold − 1 is
confidential: each of its values is replaced by nothing (null) and a status column beside
each measure, `<measure>:status`, says why with the SDMX CONF_STATUS code `A` ("primary
confidentiality due to small counts"). A cell with no contributor is confidential only when
the cube declares zeros disclosive. The threshold is per measure (a measure may need more).

The contributors are counted in the same engine query as the values (one more measure), so a
protected answer costs one query like any other and rollups that carry the count serve it.
Ordering by a measure is refused: the order of suppressed cells would reveal their values.

Not done yet, and why a protected answer is not yet safe to publish on its own: secondary
(complementary) suppression, the dominance and p% rules for sums, and the cell key method.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import QueryError
from ..model.disclosure import contributors_of, threshold_of
from ..model.schema import Cube
from ..query.cell import CubeQuery
from ..query.executor import AggregateResult
from .cellset import STATUS

SMALL_COUNT = "A"
"""SDMX CONF_STATUS: primary confidentiality due to small counts."""


def status_column(measure: str) -> str:
    """The column (or summary key) carrying a measure's status; `:` is in no model name."""
    return measure + STATUS


@dataclass(frozen=True)
class Protection:
    contributors: str
    thresholds: dict[str, int]
    """Each measure of the answer and the contributors it needs."""
    zeros_disclosive: bool
    added: bool
    """The contributors measure was not asked for: counted for the rule, then dropped."""

    def query(self, query: CubeQuery) -> CubeQuery:
        if query.order and any(o.field in self.thresholds for o in query.order):
            raise QueryError(
                "published answers cannot be ordered by a measure",
                hint="order by a level (e.g. `order=territory.region`): the order of confidential "
                "cells would reveal their values",
            )
        if not self.added:
            return query
        return replace(query, measures=(*query.measures, self.contributors))

    def apply(self, result: AggregateResult) -> AggregateResult:
        measures = [m for m in result.measures if not (self.added and m == self.contributors)]
        summary = result.summary
        if summary is not None:
            summary = self._row(summary, measures)
        subtotals = [replace(s, rows=self._table(s.rows, measures)) for s in result.subtotals]
        return replace(
            result,
            cells=self._table(result.cells, measures),
            measures=measures,
            summary=summary,
            subtotals=subtotals,
        )

    def _confidential(self, count: Any, threshold: int) -> bool:
        n = 0 if count is None else int(count)
        return n < threshold and (n > 0 or self.zeros_disclosive)

    def _row(self, row: dict[str, Any], measures: list[str]) -> dict[str, Any]:
        count = row.get(self.contributors)
        out: dict[str, Any] = {}
        for m in measures:
            secret = self._confidential(count, self.thresholds[m])
            out[m] = None if secret else row.get(m)
            out[status_column(m)] = SMALL_COUNT if secret else None
        return out

    def _table(self, table: pa.Table, measures: list[str]) -> pa.Table:
        if self.contributors not in table.column_names:
            return table
        count = pc.fill_null(table.column(self.contributors), 0)
        columns: dict[str, pa.ChunkedArray | pa.Array] = {
            name: table.column(name)
            for name in table.column_names
            if name not in measures and not (self.added and name == self.contributors)
        }
        for m in measures:
            secret = pc.less(count, self.thresholds[m])
            if not self.zeros_disclosive:
                secret = pc.and_(secret, pc.greater(count, 0))
            values = table.column(m)
            columns[m] = pc.if_else(secret, pa.scalar(None, values.type), values)
            none = pa.scalar(None, pa.string())
            columns[status_column(m)] = pc.if_else(secret, pa.scalar(SMALL_COUNT), none)
        return pa.table(columns)


def protection(cube: Cube, query: CubeQuery) -> Protection | None:
    """The protection of a query on a cube with disclosure rules (None: the cube has none).
    `query.measures` must be filled in (the policy fills them)."""
    rules = cube.disclosure
    if rules is None:
        return None
    contributors = contributors_of(cube, rules)
    if contributors is None:  # validation refuses this model; never answer unprotected
        raise QueryError(f"cube '{cube.name}' cannot be published: no measure counts its contributors")
    measures = query.measures or tuple(m.name for m in cube.measures)
    thresholds = {m: threshold_of(rules, m) for m in measures}
    return Protection(contributors, thresholds, rules.zeros == "disclosive", contributors not in measures)
