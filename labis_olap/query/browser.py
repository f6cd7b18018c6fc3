"""The aggregation browser (Cubes' word): runs cube queries against an engine.

Resolves names, asks the planner for the smallest source, builds the SQL and runs it. Used by
the CLI now and by the REST API; the result carries the chosen source and the SQL so that
`explain` can show them.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..compiler.physical import CubeLayout
from ..engine.base import Engine
from ..errors import EngineError, NotFoundError, QueryError
from ..model.diagnostics import did_you_mean
from ..model.loader import Model
from .cell import CubeQuery
from .planner import choose_source, needs_of
from .resolve import check_cuts, resolve_drilldown, resolve_measures
from .sqlgen import build_aggregate

AS_AT_FACT = ("fact", "")


@dataclass
class AggregateResult:
    cells: pa.Table
    total_cell_count: int
    levels: dict[str, list[str]]
    attributes: list[str]
    measures: list[str]
    source: str
    sql: str
    params: dict[str, Any]
    engine_ms: float
    summary: dict[str, Any] | None = None
    explain: dict[str, Any] = field(default_factory=dict)


class Browser:
    def __init__(self, model: Model, engine: Engine, *, use_rollups: bool = True) -> None:
        self.model = model
        self.engine = engine
        self.use_rollups = use_rollups
        self._layouts: dict[str, CubeLayout] = {}

    def layout(self, cube: str) -> CubeLayout:
        if cube not in self.model.cubes:
            raise NotFoundError(f"no cube '{cube}'", hint=did_you_mean(cube, self.model.cubes))
        if cube not in self._layouts:
            self._layouts[cube] = CubeLayout(self.model, self.model.cubes[cube], self.engine.database)
        return self._layouts[cube]

    def as_of_date(self, layout: CubeLayout, as_of: str | None) -> dt.date | None:
        if as_of is None or as_of.strip().lower() in AS_AT_FACT:
            return None
        text = as_of.strip().lower()
        if text in ("now", "current", "today"):
            return dt.date.today()
        versions = {
            v.name: v.valid_from
            for d in layout.cube.dimensions
            for v in self.model.dimensions[d.dimension].versions
        }
        if text in versions:
            return versions[text]
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise QueryError(
                f"as_of must be 'fact', 'now', a date YYYY-MM-DD or a version name, not '{as_of}'",
                hint=did_you_mean(text, versions),
            ) from None

    def aggregate(self, query: CubeQuery, *, with_summary: bool = True) -> AggregateResult:
        layout = self.layout(query.cube)
        cube = layout.cube
        measures = resolve_measures(cube, query.measures)
        cuts = check_cuts(self.model, cube, query.cuts)
        drills = [resolve_drilldown(self.model, cube, d, cuts) for d in query.drilldowns]
        seen = [d.ref.alias for d in drills]
        if len(set(seen)) != len(seen):
            raise QueryError("a dimension can be drilled down only once per query")
        as_of = self.as_of_date(layout, query.as_of)
        if query.pagesize is not None and query.pagesize < 1:
            raise QueryError("pagesize must be at least 1")
        if query.page is not None and query.page < 0:
            raise QueryError("page must be 0 or more")
        needs = needs_of(layout, measures, cuts, drills, as_of)
        shape = choose_source(layout, needs, self.use_rollups)
        built = build_aggregate(
            layout, shape, measures, cuts, drills, query.order, query.page, query.pagesize, as_of, query.lang
        )
        start = time.perf_counter()
        try:
            table = self.engine.query(built.sql, built.params)
        except EngineError as exc:
            where = "its facts" if shape.name == "facts" else f"rollup '{shape.name}'"
            raise EngineError(f"cube '{cube.name}', reading {where}: {exc.message}") from exc
        elapsed = (time.perf_counter() - start) * 1000
        if table.num_rows:
            total = int(table.column("__total_cells")[0].as_py())
        elif query.pagesize is not None and (query.page or 0) > 0:
            # A page past the end has no row to carry count() OVER (): count the cells apart.
            unpaged = build_aggregate(
                layout, shape, measures, cuts, drills, (), None, None, as_of, query.lang
            )
            counted = self.engine.query(f"SELECT count() AS n FROM ({unpaged.sql})", unpaged.params)
            total = int(counted.column("n")[0].as_py())
        else:
            total = 0
        cells = table.drop_columns(["__total_cells"])
        levels = {
            (
                d.ref.alias
                if d.ref.hierarchy.name == d.ref.dim.default_hierarchy_name
                else f"{d.ref.alias}@{d.ref.hierarchy.name}"
            ): [lv.name for lv in d.levels]
            for d in drills
        }
        result = AggregateResult(
            cells=cells,
            total_cell_count=total,
            levels=levels,
            attributes=_attributes(built.key_columns, built.label_columns),
            measures=built.measure_columns,
            source=shape.name,
            sql=built.sql,
            params=built.params,
            engine_ms=elapsed,
        )
        if with_summary and drills:
            total_q = CubeQuery(
                query.cube, query.measures, query.cuts, (), (), None, None, query.as_of, query.lang
            )
            result.summary = self.aggregate(total_q, with_summary=False).cells.to_pylist()[0]
        elif with_summary:
            rows = cells.to_pylist()
            result.summary = rows[0] if rows else {}
        result.explain = {
            "source": shape.name,
            "table": shape.table,
            "sql": built.sql,
            "params": built.params,
            "engine_ms": round(elapsed, 3),
        }
        return result


def _attributes(keys: list[str], labels: list[str]) -> list[str]:
    """Per drilled level top-down: its key ref, then its label ref where it has one."""
    label_set = set(labels)
    out: list[str] = []
    for k in keys:
        out.append(k)
        if f"{k}_label" in label_set:
            out.append(f"{k}_label")
    return out
