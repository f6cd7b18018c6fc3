"""The cell key method (ABS, ONS) for cubes whose `disclosure.method` is `cell_key`
(docs/disclosure.md).

Each contributor has a record key 0–255 derived from its pseudonym (privacy.record_key), the
same in every cube and reload. A cell's key is the sum of its distinct contributors' record
keys mod 256, and its published count is the count plus the noise the p-table gives
(count, cell key); a published count under the threshold is not shown (status `A`), a shown
one carries the status `P` (perturbed), and every other measure — sums, averages, record
counts — is not published (status `N`): their values would need their own protection.

The counts and cell keys of every cell of the publication tables (every margin included) are
computed once per data version, like the suppression pattern, and an answer looks its cells
up: the same contributors give one published value on every path and in every request, so
asking one cell many ways gets one value (no averaging).

Why the cell key of a distinct count is not stored in rollups as a sum beside the count: a
person in two rollup rows would be counted twice. The rollups keep each cell's persons as a
roaring bitmap already (the exact distinct count's state); the cell key is summed over the
merged bitmap's members, so facts and rollups give the same key, and no rollup changes.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..engine.base import Engine
from ..errors import QueryError
from ..model.cut_grammar import parse_drilldowns
from ..model.disclosure import threshold_of
from ..model.ptable import PTable, default_ptable, ptable_path, read_ptable
from ..model.schema import Function, Measure, Rollup
from ..physical.layout import CubeLayout, StateColumn
from ..physical.names import pseudonym_table
from ..physical.quote import q
from ..physical.record_keys import record_keys_name, record_keys_statements, reload_statement
from ..query.cache import data_version
from ..query.cell import CubeQuery
from ..query.executor import AggregateExecutor, AggregateResult
from .disclosure import OneLayoutExecutor, Protection, _row_sets, status_column
from .suppression import NOT_PUBLISHED, PRIMARY, SECONDARY, Coord, Pattern

PERTURBED = "P"
"""Status of a published count: perturbed by the cell key method (SDMX: OBS_STATUS `E`)."""

CELL_KEY = "__cell_key__"
"""The internal measure of the table queries: per cell, count · 2³² + (1 if a contributor has
no record key, whose pseudonym is unknown) · 2⁸ + cell key."""
COUNT = 1 << 32
UNIT = 1 << 8


@dataclass
class Perturbation(Pattern):
    """The published count of every cell of a cube's tables (status `A` where not shown)."""

    published: dict[Coord, int | None] = field(default_factory=dict)
    counts: dict[Coord, tuple[int, int]] = field(default_factory=dict)
    """The true count and the cell key of each cell (for tests and audits, never answered)."""


class CellKeyLayout(CubeLayout):
    """The cube with one more measure, CELL_KEY, read from the contributors' own state column
    (the bitmap of their dense numbers, in the facts' pre-aggregation and in every rollup that
    keeps the contributors), so the planner picks rollups exactly as it would for the count."""

    def __init__(self, base: CubeLayout, contributors: Measure, dictionary: str) -> None:
        synthetic = Measure.model_construct(
            name=CELL_KEY, function=Function.count_distinct, column=contributors.column
        )
        cube = base.cube.model_copy(update={"measures": [*base.cube.measures, synthetic]})
        model = dataclasses.replace(base.model, cubes={**base.model.cubes, cube.name: cube})
        super().__init__(model, cube, base.database, base.topology)
        self.base = base
        self.contributors = contributors
        self.dictionary = dictionary

    def state_columns(self, m: Measure) -> list[StateColumn]:
        if m.name != CELL_KEY:
            return super().state_columns(m)
        [bitmap] = self.base.state_columns(self.contributors)
        d = self.dictionary
        persons = "bitmapToArray(groupBitmapMergeState({0}))"  # one aggregate, however often named
        keys = f"arraySum(arrayMap(n -> toUInt64(dictGetOrDefault('{d}', 'record_key', n, 0)), {persons}))"
        missing = f"arrayExists(n -> NOT dictHas('{d}', n), {persons})"
        count = "bitmapCardinality(groupBitmapMergeState({0}))"
        merge = f"{count} * {COUNT} + {missing} * {UNIT} + {keys} % {UNIT}"
        return [replace(bitmap, merge=merge)]

    def rollup_measures(self, r: Rollup) -> list[Measure]:
        kept = self.base.rollup_measures(r)
        if any(m.name == self.contributors.name for m in kept):
            return [*kept, self.cube.measure(CELL_KEY)]
        return kept

    def rollup_table(self, r: Rollup) -> str:
        return self.base.rollup_table(r)  # the rollup as built, named by its own definition


@functools.lru_cache(maxsize=16)
def _cell_key_executor(
    executor: AggregateExecutor, base: CubeLayout, contributors: str, dictionary: str
) -> OneLayoutExecutor:
    """One per service executor and cube layout: the planner and the executor keep caches per
    layout and model, which a new one per data version would only grow."""
    return OneLayoutExecutor(CellKeyLayout(base, base.cube.measure(contributors), dictionary), executor)


@functools.lru_cache(maxsize=16)
def _read(path: Path, mtime: float) -> PTable:
    return read_ptable(path)


def ptable_of(root: Path, name: str | None, threshold: int) -> PTable:
    """The cube's p-table: its file (re-read when it changes), else the default."""
    if name is None:
        return _default(threshold)
    path = ptable_path(root, name)
    if path is None:  # validation refuses this model; never publish without the table named
        raise QueryError(f"p-table '{name}' is not a file of the model folder")
    return _read(path, path.stat().st_mtime)


@functools.lru_cache(maxsize=16)
def _default(threshold: int) -> PTable:
    return default_ptable(threshold)


def decode(value: int) -> tuple[int, int, bool]:
    """(count, cell key, whether a contributor lacks a record key) of a CELL_KEY value."""
    return value // COUNT, value % UNIT, bool(value // UNIT % 2)


@dataclass(frozen=True)
class CellKeyProtection(Protection):
    root: Path = Path()
    """The model folder (the p-table is a file in it)."""

    @classmethod
    def of(cls, found: Protection, root: Path) -> CellKeyProtection:
        """The cell key method over what `disclosure.protection` found the query may ask."""
        return cls(found.cube, found.rules, found.table, found.tables, found.cuts, root=root)

    @cached_property
    def count_threshold(self) -> int:
        return threshold_of(self.rules, self.contributors)

    @cached_property
    def ptable(self) -> PTable:
        return ptable_of(self.root, self.rules.ptable, self.count_threshold)

    def table_queries(self) -> list[CubeQuery]:
        return [
            CubeQuery(
                self.cube.name,
                (CELL_KEY,),
                drilldowns=tuple(
                    replace(d, level=r.level.name)
                    for d, r in zip(parse_drilldowns(t.text), t.drills, strict=True)
                ),
                subtotals="cube",
            )
            for t in self.tables
        ]

    @cached_property
    def namespace(self) -> str:
        namespace = self.cube.column(self.cube.measure(self.contributors).column or "").namespace
        assert namespace is not None  # validation: the contributors are a pseudonymous column
        return namespace

    def prepare(self, engine: Engine) -> None:
        """Bring the record keys up to date with the persons loaded (once per data version;
        before the version is read, since creating or reloading the dictionary counts as a
        write)."""
        key = (id(engine), engine.database, self.namespace)
        if _READY.get(key) == data_version(engine):
            return
        _ensure_record_keys(engine, self.namespace)
        _READY[key] = data_version(engine)

    def executor_for(self, executor: AggregateExecutor) -> AggregateExecutor:
        """An executor that reads the cell keys (`prepare` made the record keys ready)."""
        dictionary = f"{executor.engine.database}.{record_keys_name(self.namespace)}"
        run = _cell_key_executor(executor, executor.layout(self.cube.name), self.contributors, dictionary)
        if run.unhealthy != executor.unhealthy:  # the storage checks found more (or fewer) broken
            run.set_unhealthy(executor.unhealthy)
        return run

    def pattern(
        self, results: list[AggregateResult], sensitive: dict[Coord, dict[str, float]] | None = None
    ) -> Pattern:
        published: dict[Coord, int | None] = {}
        counts: dict[Coord, tuple[int, int]] = {}
        status: dict[Coord, str] = {}
        for result in results:
            for rows, levels in _row_sets(result):
                for row in rows.to_pylist():
                    coord = self._coord(row, levels, by_cut=False)
                    if coord in counts:
                        continue
                    count, ckey, missing = decode(int(row[CELL_KEY] or 0))
                    if missing:
                        raise QueryError(
                            f"cube '{self.cube.name}' cannot be published: some contributors have no "
                            "pseudonym to derive a record key from",
                            hint="load persons through a loader (it records their pseudonyms)",
                        )
                    counts[coord] = (count, ckey)
                    value = self.ptable.published(count, ckey) if count else 0
                    shown = value >= self.count_threshold or (count == 0 and self.rules.zeros == "safe")
                    published[coord] = value if shown else None
                    if not shown:
                        status[coord] = PRIMARY
        return Perturbation(
            status=status, known=frozenset(counts), cells=len(counts), published=published, counts=counts
        )

    def apply(self, result: AggregateResult, pattern: Pattern) -> AggregateResult:
        """Each row's contributors count replaced by its published count, every other measure
        emptied, with a status beside each."""
        assert isinstance(pattern, Perturbation)
        summary = result.summary
        if summary is not None:
            summary = self._perturbed_row(summary, {}, pattern, result.measures)
        subtotals = [
            replace(s, rows=self._perturbed(s.rows, s.levels, pattern, result.measures))
            for s in result.subtotals
        ]
        cells = self._perturbed(result.cells, result.levels, pattern, result.measures)
        return replace(result, cells=cells, summary=summary, subtotals=subtotals)

    def _published(
        self, row: dict[str, Any], levels: dict[str, list[str]], pattern: Perturbation
    ) -> tuple[int | None, str | None]:
        for alias, depth in self.merged.items():
            kept = next((lv for ref, lv in levels.items() if ref.split("@")[0] == alias), [])
            if len(kept) < depth:
                return None, SECONDARY  # a total over members a cut chose: no table's cell
        coord = self._coord(row, levels)
        if coord in pattern.published:
            value = pattern.published[coord]
            return value, (PERTURBED if value else pattern.of(coord))
        # No cell of the tables: no contributors (or, defensively, hidden).
        if not row.get(self.contributors) and self.rules.zeros == "safe":
            return 0, None
        return None, PRIMARY

    def _perturbed_row(
        self, row: dict[str, Any], levels: dict[str, list[str]], pattern: Perturbation, measures: list[str]
    ) -> dict[str, Any]:
        value, status = self._published(row, levels, pattern)
        out = {k: v for k, v in row.items() if k not in measures}
        for m in measures:
            if m not in self.unpublished:  # the contributors count alone (publishable)
                out[m], out[status_column(m)] = value, status
            else:
                out[m], out[status_column(m)] = None, NOT_PUBLISHED
        return out

    def _perturbed(
        self, table: pa.Table, levels: dict[str, list[str]], pattern: Perturbation, measures: list[str]
    ) -> pa.Table:
        answers = [self._published(r, levels, pattern) for r in table.to_pylist()]
        columns: dict[str, pa.ChunkedArray | pa.Array] = {
            n: table.column(n) for n in table.column_names if n not in measures
        }
        for m in measures:
            kind = table.column(m).type
            if m not in self.unpublished:
                columns[m] = pa.array([v for v, _ in answers], kind)
                columns[status_column(m)] = pa.array([s for _, s in answers], pa.string())
            else:
                columns[m] = pa.nulls(table.num_rows, kind)
                columns[status_column(m)] = pa.array([NOT_PUBLISHED] * table.num_rows, pa.string())
        return pa.table(columns)


_READY: dict[tuple[int, str, str], Hashable] = {}
"""Per engine, database and namespace: the data version whose persons all have record keys."""


def _ensure_record_keys(engine: Engine, namespace: str) -> None:
    """Create the record keys' view and dictionary if missing, and reload the dictionary when
    it holds fewer keys than there are pseudonyms (persons loaded since it was read)."""
    name = record_keys_name(namespace)
    row = engine.query(
        "SELECT (SELECT count() FROM system.dictionaries WHERE database = {db:String} AND name = {n:String})"
        " AS present, (SELECT sum(element_count) FROM system.dictionaries WHERE database = {db:String}"
        f" AND name = {{n:String}}) AS loaded, (SELECT count() FROM {q(engine.database)}."
        f"{q(pseudonym_table(namespace))}) AS pseudonyms",
        {"db": engine.database, "n": name},
    ).to_pylist()[0]
    if not row["present"]:
        for statement in record_keys_statements(engine.database, namespace):
            engine.execute(statement.sql)
    if row["loaded"] != row["pseudonyms"]:
        engine.execute(reload_statement(engine.database, namespace))
