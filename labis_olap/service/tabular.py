"""`labis query`'s question and answer as plain data: the strings it was given, and the cells as
rows of a text table.

The table is made where the engine is: in the command's own process, or — while `labis serve`
holds the embedded data directory — in the server, which answers the admin query route with it
(api/routes/admin.py). One function makes it in both places, so the command prints the same
table either way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..model.cut_grammar import parse_cuts, parse_drilldowns, parse_order
from ..query.cell import CubeQuery
from .cellset import CellSet
from .principal import OPERATOR, Principal


@dataclass(frozen=True)
class TextQuery:
    """An aggregate as the command line writes it (the cut, drilldown and order grammar)."""

    cube: str
    measures: tuple[str, ...] = ()
    cut: str = ""
    drilldown: str = ""
    order: str | None = None
    limit: int | None = None
    as_of: str | None = None
    lang: str = "lv"
    roles: tuple[str, ...] = ()
    """Ask as a principal holding these roles (`--role public`: what the public sees); none: as
    the operator, everything unprotected."""

    def principal(self) -> Principal:
        return Principal("labis query", frozenset(self.roles)) if self.roles else OPERATOR

    def cube_query(self) -> CubeQuery:
        return CubeQuery(
            self.cube,
            tuple(self.measures),
            parse_cuts(self.cut),
            parse_drilldowns(self.drilldown),
            parse_order(self.order),
            0 if self.limit else None,
            self.limit,
            self.as_of,
            self.lang,
        )

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "measures": list(self.measures), "roles": list(self.roles)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TextQuery:
        return cls(
            **{**data, "measures": tuple(data.get("measures") or ()), "roles": tuple(data.get("roles") or ())}
        )


def table(cells: CellSet) -> dict[str, Any]:
    """The cells as a text table: label columns (in the query's language), measure columns, the
    rows, the grand total, how many cells were shown of how many, and how they were found."""
    labels = [lv.label for axis in cells.axes for lv in axis.levels if lv.label is not None]
    measures = list(cells.value_columns)
    columns = labels + measures
    rows = [[row.get(c) for c in columns] for row in cells.cells.to_pylist()]
    summary = cells.summary
    how = cells.explain
    return {
        "labels": labels,
        "measures": measures,
        "rows": rows,
        "summary": [summary.get(m) for m in measures] if summary is not None and cells.axes else None,
        "shown": len(rows),
        "total": cells.total_cell_count,
        "source": how.source,
        "engine_ms": how.engine_ms,
        "sql": how.sql,
        "params": how.params,
    }
