"""The planner's promise, as a property: "the smallest rollup that can answer exactly, else the
facts; results are identical either way".

The real LabIS model (model/) is applied once per module to a fresh embedded database and the
demo data set (60,000 facts, seed 7) is loaded, so every rollup is filled by its materialized
view. Hypothesis then builds random cube queries over the real model (any cube, measures of
every kind, drilldowns on any hierarchy and level, time and member cuts, inverted cuts, as_of,
order, paging) and each runs twice: with rollups and from the facts only. Cells, cell count
and summary must be the same — floats and decimals to a relative 1e-9, everything else
(including approximate distinct counts) exactly.

Half the generated queries are shaped after a rollup (its grain, its measures; now and then
just past it), so that the run fails if the planner stops choosing rollups: the share of
answers from rollups is checked, and explicit examples at each rollup's grain must between
them be answered from every rollup. Each query also runs against every other rollup that could
answer it (a model keeping only that rollup): same answer, and no smaller than the one chosen.

A deterministic test asks each rollup its own grain and checks that it (or a smaller rollup)
answers. At 60,000 facts no distinct count leaves uniqCombined's exact range, so a last test
loads 1,000,000 facts and compares approximate counts in HyperLogLog mode.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import ANALYST, fresh_database, make_engine
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from labis_olap.demo.load import load_demo
from labis_olap.engine.base import Engine
from labis_olap.errors import EngineError, UserError
from labis_olap.model.cut_grammar import format_cut
from labis_olap.model.cuts import Cut, Drilldown, Order, PointCut, RangeCut, SetCut
from labis_olap.model.cuts import Path as MemberPath
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.model.resolve import check_cuts
from labis_olap.model.schema import Cube, Dimension, Hierarchy, Rollup, TimeRole
from labis_olap.model.validate import base_measures
from labis_olap.physical.layout import GRAIN_ORDER, CubeLayout
from labis_olap.query.asof import as_of_date
from labis_olap.query.cell import CubeQuery
from labis_olap.query.executor import adds_up
from labis_olap.query.planner import choose_stored, estimated_rows, needs_of, rollup_shape
from labis_olap.query.resolve import resolve_drilldown, resolve_measures
from labis_olap.service import CellSet, CubeService

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "model"
DEMO_ROWS = 60_000
DEMO_SEED = 7
YEARS = (2022, 2023, 2024, 2025)
"""The demo data covers 2022-01-01 … 2025-12-31."""
AS_OF = (
    *(None, "fact", "now", "nuts_2021", "nuts_2024", "atvk_2025"),
    *("2023-06-30", "2024-01-01", "2025-07-01", "2021-01-01"),  # the last: before any member is valid
)
MIN_ROLLUP_SHARE = 0.20
MAX_REJECTED_SHARE = 0.10
REL_TOL = 1e-9


# --- the database ------------------------------------------------------------------------------


@dataclass
class Demo:
    model: Model
    engine: Engine
    with_rollups: CubeService
    facts_only: CubeService
    single: dict[tuple[str, str], CubeService]
    """(cube, rollup) → a service whose model keeps only that rollup of the cube."""

    @classmethod
    def of(cls, model: Model, engine: Engine) -> Demo:
        single = {
            (c.name, r.name): CubeService(only_rollup(model, c.name, r.name), engine)
            for c in model.cubes.values()
            for r in c.rollups
        }
        return cls(
            model, engine, CubeService(model, engine), CubeService(model, engine, use_rollups=False), single
        )


def only_rollup(model: Model, cube_name: str, rollup_name: str) -> Model:
    """The model with one rollup left in one cube. Rollup tables are named after their own
    definition only, so this model reads the same table the full model's rollup fills."""
    cube = model.cubes[cube_name]
    kept = [r for r in cube.rollups if r.name == rollup_name]
    cubes = {**model.cubes, cube_name: cube.model_copy(update={"rollups": kept})}
    return dataclasses.replace(model, cubes=cubes)


def planned_source(service: CubeService, q: CubeQuery) -> str:
    """The source the service's planner picks for a query, without running it."""
    layout = service.layout(q.cube, ANALYST)
    cuts = check_cuts(service.model, layout.cube, q.cuts)
    drills = [resolve_drilldown(service.model, layout.cube, d, cuts) for d in q.drilldowns]
    measures = resolve_measures(layout.cube, q.measures)
    needs = needs_of(layout, measures, cuts, drills, as_of_date(service.model, layout.cube, q.as_of))
    return choose_stored(layout, needs, service.executor.use_rollups).name


@pytest.fixture(scope="module")
def demo(data_dir: Path) -> Iterator[Demo]:
    model = read_model(MODEL_DIR)
    engine = make_engine("embedded", data_dir, fresh_database("rvf"))
    try:
        stats = load_demo(model, engine, rows=DEMO_ROWS, seed=DEMO_SEED, console=None)
        assert stats.rows == DEMO_ROWS
        yield Demo.of(model, engine)
    finally:
        engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


def test_every_rollup_is_filled(demo: Demo) -> None:
    """The materialized views filled every rollup (an empty rollup would make equality trivial)."""
    db = demo.engine.database
    for cube in demo.model.cubes.values():
        layout = CubeLayout(demo.model, cube, db)
        for r in cube.rollups:
            n = demo.engine.query(f"SELECT count() AS n FROM `{db}`.`{layout.rollup_table(r)}`")
            assert n.column("n")[0].as_py() > 0, f"{cube.name}.{r.name} is empty"


# --- comparing two answers ----------------------------------------------------------------------


def same_value(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if type(a) is not type(b):
        return False
    if isinstance(a, (float, decimal.Decimal)):
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return math.isclose(fa, fb, rel_tol=REL_TOL, abs_tol=1e-12)
    return bool(a == b)


def row_differences(label: str, got: list[dict[str, Any]], want: list[dict[str, Any]]) -> list[str]:
    problems = []
    if len(got) != len(want):
        problems.append(f"{label}: {len(got)} row(s) with rollups, {len(want)} from the facts")
    for i, (a, b) in enumerate(zip(got, want, strict=False)):
        if list(a) != list(b):
            problems.append(f"{label} row {i}: columns {list(a)} vs {list(b)}")
            continue
        for k in a:
            if not same_value(a[k], b[k]):
                problems.append(f"{label} row {i}: {k} = {a[k]!r} with rollups, {b[k]!r} from the facts")
    return problems


def differences(rolled: CellSet, facts: CellSet) -> list[str]:
    problems = row_differences("cells", rolled.cells.to_pylist(), facts.cells.to_pylist())
    if rolled.total_cell_count != facts.total_cell_count:
        problems.append(f"total_cell_count {rolled.total_cell_count} vs {facts.total_cell_count}")
    if (rolled.summary is None) != (facts.summary is None):
        problems.append(f"summary {rolled.summary!r} vs {facts.summary!r}")
    elif rolled.summary is not None and facts.summary is not None:
        problems.extend(row_differences("summary", [rolled.summary], [facts.summary]))
    for attr in ("attributes", "measures", "levels"):
        if getattr(rolled, attr) != getattr(facts, attr):
            problems.append(f"{attr} {getattr(rolled, attr)!r} vs {getattr(facts, attr)!r}")
    return problems


def describe(q: CubeQuery) -> str:
    """The query as the CLI would spell it (to reproduce a failure by hand)."""
    bits = [f"cube={q.cube}", f"measures={','.join(q.measures)}"]
    if q.cuts:
        bits.append("cut=" + "|".join(format_cut(c) for c in q.cuts))
    if q.drilldowns:
        bits.append(
            "drilldown="
            + "|".join(
                d.dimension + (f"@{d.hierarchy}" if d.hierarchy else "") + (f":{d.level}" if d.level else "")
                for d in q.drilldowns
            )
        )
    if q.order:
        bits.append("order=" + ",".join(f"{o.field}:{o.direction}" for o in q.order))
    if q.pagesize is not None:
        bits.append(f"page={q.page} pagesize={q.pagesize}")
    bits.append(f"as_of={q.as_of} lang={q.lang}")
    return " ".join(bits)


@dataclass
class Outcome:
    source: str
    """The rollups service's source, or 'rejected' when both services refused the query alike."""


def check_same(demo: Demo, q: CubeQuery) -> Outcome:
    try:
        facts = demo.facts_only.aggregate(q, ANALYST)
    except EngineError:
        raise
    except UserError as exc:
        # A query the generator got wrong (e.g. drilling below the last level): both must refuse.
        with pytest.raises(UserError) as info:
            demo.with_rollups.aggregate(q, ANALYST)
        assert (type(info.value), str(info.value)) == (type(exc), str(exc)), describe(q)
        return Outcome("rejected")
    assert facts.source == "facts"
    rolled = demo.with_rollups.aggregate(q, ANALYST)
    problems = differences(rolled, facts)
    assert not problems, f"{describe(q)}\nrollups answered from {rolled.source}:\n  " + "\n  ".join(
        problems[:20]
    )

    # Every other rollup that could answer must answer the same, and be no smaller.
    layout = demo.with_rollups.layout(q.cube, ANALYST)
    size = {r.name: estimated_rows(layout, rollup_shape(layout, r)) for r in layout.cube.rollups}
    for r in layout.cube.rollups:
        single = demo.single[(q.cube, r.name)]
        if r.name == rolled.source or planned_source(single, q) != r.name:
            continue
        assert rolled.source != "facts", f"{describe(q)}: answered from the facts, but {r.name} can"
        assert size[rolled.source] <= size[r.name], f"{describe(q)}: {rolled.source} chosen over {r.name}"
        alone = single.aggregate(q, ANALYST)
        assert alone.source == r.name
        problems = differences(alone, facts)
        assert not problems, f"{describe(q)}\nwith only rollup {r.name}:\n  " + "\n  ".join(problems[:20])
    return Outcome(rolled.source)


# --- the real model, as the generator sees it ---------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    """Member paths per (dimension, hierarchy, depth), read from the model's member rows."""

    model: Model
    paths: dict[tuple[str, str, int], list[MemberPath]]
    rollups: list[tuple[str, str]]
    """(cube, rollup) for every rollup of the model."""

    @classmethod
    def of(cls, model: Model) -> Catalog:
        paths: dict[tuple[str, str, int], list[MemberPath]] = {}
        for dim in model.dimensions.values():
            if dim.is_time:
                continue
            rows = model.members[dim.name]
            for h in dim.all_hierarchies:
                keys = [dim.level(n).key_column for n in h.levels]
                for depth in range(1, len(keys) + 1):
                    found = {tuple(str(r[k]) for k in keys[:depth]) for r in rows}
                    paths[(dim.name, h.name, depth)] = sorted(found)
        rollups = [(c.name, r.name) for c in model.cubes.values() for r in c.rollups]
        return cls(model, paths, rollups)

    def dim(self, cube: Cube, alias: str) -> Dimension:
        return self.model.dimensions[cube.link(alias).dimension]


def calculated_over(cube: Cube, kept: set[str]) -> list[str]:
    """Calculated measures whose every base measure is in `kept`."""
    return [
        m.name
        for m in cube.measures
        if m.is_calculated and {b.name for b in base_measures(cube, [m.name])} <= kept
    ]


def rollup_measure_names(model: Model, cube: Cube, r: Rollup) -> list[str]:
    kept = [m.name for m in CubeLayout(model, cube, "x").rollup_measures(r)]
    return kept + calculated_over(cube, set(kept))


def time_roles(dim: Dimension, h: Hierarchy) -> list[TimeRole]:
    roles = [dim.level(n).role for n in h.levels]
    assert all(r is not None for r in roles)
    return [r for r in roles if r is not None]


def coarse_enough(role: TimeRole, grain: TimeRole | None) -> bool:
    """A time level a rollup at `grain` can answer (None: any)."""
    return grain is None or GRAIN_ORDER.index(role) >= GRAIN_ORDER.index(grain)


@dataclass(frozen=True)
class Allowed:
    """What the generator may touch of one dimension: (hierarchy, deepest depth) choices."""

    choices: tuple[tuple[str, int, int], ...]
    """(hierarchy name, shallowest depth, deepest depth) a drilldown or cut may use."""


def allowed_dims(cat: Catalog, cube: Cube, r: Rollup | None, finer: bool = False) -> dict[str, Allowed]:
    """Dimensions, hierarchies and depths a query may use; with a rollup, only its grain's.

    `finer`: time may go one level below the rollup's grain (just out of its reach).
    """
    out: dict[str, Allowed] = {}
    for link in cube.dimensions:
        dim = cat.model.dimensions[link.dimension]
        alias = link.alias
        if r is None:
            out[alias] = Allowed(tuple((h.name, 1, len(h.levels)) for h in dim.all_hierarchies))
            continue
        if alias not in r.grain:
            continue
        level = r.grain[alias]
        choices = []
        for h in dim.all_hierarchies:
            if dim.is_time:
                grain = dim.level(level).role
                ok = [i + 1 for i, role in enumerate(time_roles(dim, h)) if coarse_enough(role, grain)]
                if ok:
                    choices.append((h.name, 1, min(len(h.levels), max(ok) + finer)))
            elif level == dim.leaf.name:
                choices.append((h.name, 1, len(h.levels)))  # the raw fact key answers any level
            elif h.levels[0] == level:
                choices.append((h.name, 1, 1))  # a mapped level answers only itself
        if choices:
            out[alias] = Allowed(tuple(choices))
    return out


# --- strategies ---------------------------------------------------------------------------------


def time_path(draw: st.DrawFn, roles: list[TimeRole], depth: int) -> MemberPath:
    year = draw(st.sampled_from(YEARS))
    path: list[str | None] = [str(year)]
    quarter: int | None = None
    month: int | None = None
    for role in roles[1:depth]:
        if role == TimeRole.quarter:
            quarter = draw(st.integers(1, 4))
            path.append(str(quarter))
        elif role == TimeRole.month:
            lo, hi = (3 * quarter - 2, 3 * quarter) if quarter else (1, 12)
            month = draw(st.integers(lo, hi))
            path.append(str(month))
        elif role == TimeRole.day:
            path.append(str(draw(st.sampled_from([1, 14, 15, 28]))))
    return tuple(path)


def draw_cut(draw: st.DrawFn, cat: Catalog, cube: Cube, alias: str, allowed: Allowed) -> Cut:
    dim = cat.dim(cube, alias)
    hname, lo, hi = draw(st.sampled_from(allowed.choices))
    hier = dim.hierarchy(hname)
    named = draw(st.sampled_from([None, hname])) if hname == dim.default_hierarchy_name else hname
    invert = draw(st.integers(0, 4)) == 0
    kind = draw(st.sampled_from(["point", "point", "set", "range"]))

    def one_path(depth: int) -> MemberPath:
        if dim.is_time:
            return time_path(draw, time_roles(dim, hier), depth)
        return draw(st.sampled_from(cat.paths[(dim.name, hname, depth)]))

    depth = draw(st.integers(lo, hi))
    if kind == "point":
        return PointCut(alias, one_path(depth), named, invert)
    if kind == "set":
        # Alternatives may sit at different levels (2024;2025,1 or LV005;LV00A,0001000).
        paths = tuple(one_path(draw(st.integers(lo, hi))) for _ in range(draw(st.integers(2, 3))))
        return SetCut(alias, paths, named, invert)
    ends = draw(st.sampled_from(["both", "both", "from", "to"]))
    # Time ranges may mix levels (2023-2024,2); member ranges must keep both ends at one level.
    to_depth = draw(st.integers(lo, hi)) if dim.is_time else depth
    frm = one_path(depth) if ends in ("both", "from") else None
    to = one_path(to_depth) if ends in ("both", "to") else None
    return RangeCut(alias, frm, to, named, invert)


def draw_drilldown(
    draw: st.DrawFn, cat: Catalog, cube: Cube, alias: str, allowed: Allowed
) -> tuple[Drilldown, list[str]]:
    """A drilldown and the attribute names it surely produces (for ordering)."""
    dim = cat.dim(cube, alias)
    hname, lo, hi = draw(st.sampled_from(allowed.choices))
    hier = dim.hierarchy(hname)
    named = draw(st.sampled_from([None, hname])) if hname == dim.default_hierarchy_name else hname
    if (lo == hi == 1 and draw(st.booleans())) or draw(st.integers(0, 5)) == 0:
        # No level: the Slicer rule picks one (first level, or one below a point cut).
        return Drilldown(alias, named, None), [f"{alias}.{hier.levels[0]}"]
    depth = draw(st.integers(lo, hi))
    levels = hier.levels[:depth]
    return Drilldown(alias, named, levels[-1]), [f"{alias}.{lv}" for lv in levels]


@st.composite
def cube_queries(draw: st.DrawFn, cat: Catalog) -> CubeQuery:
    model = cat.model
    rollup: Rollup | None = None
    if draw(st.booleans()):
        # Shaped after a rollup (every rollup equally likely): its grain, its measures.
        cube_name, rollup_name = draw(st.sampled_from(cat.rollups))
        cube = model.cubes[cube_name]
        rollup = next(r for r in cube.rollups if r.name == rollup_name)
    else:
        cube = model.cubes[draw(st.sampled_from(sorted(model.cubes)))]
    # Now and then a rollup-shaped query goes just past the rollup: a finer time level, or a
    # measure it does not keep. The planner must then fall back (to another rollup or the facts).
    stretch = rollup is not None and draw(st.integers(0, 3)) == 0
    if rollup is None:
        measure_pool = [m.name for m in cube.measures]
    else:
        measure_pool = rollup_measure_names(model, cube, rollup)
    measures = draw(st.lists(st.sampled_from(measure_pool), min_size=1, max_size=4, unique=True))
    if stretch and draw(st.booleans()):
        extra = draw(st.sampled_from([m.name for m in cube.measures]))
        measures += [] if extra in measures else [extra]
    allowed = allowed_dims(cat, cube, rollup, finer=stretch)
    aliases = sorted(allowed)

    n_drills = min(len(aliases), draw(st.sampled_from([0, 1, 1, 2, 2, 3])))
    drill_dims = draw(st.lists(st.sampled_from(aliases), min_size=n_drills, max_size=n_drills, unique=True))
    drills: list[Drilldown] = []
    attributes: list[str] = []
    for alias in drill_dims:
        d, attrs = draw_drilldown(draw, cat, cube, alias, allowed[alias])
        drills.append(d)
        attributes.extend(attrs)
        attributes.extend(f"{a}_label" for a in attrs)

    n_cuts = draw(st.sampled_from([0, 1, 1, 1, 2, 2, 3])) if aliases else 0
    cuts = tuple(
        draw_cut(draw, cat, cube, alias, allowed[alias])
        for alias in draw(st.lists(st.sampled_from(aliases), min_size=n_cuts, max_size=n_cuts))
    )

    # A rollup that keeps a mapped level of a versioned dimension answers only as at fact dates.
    mapped_versioned = rollup is not None and any(
        not cat.dim(cube, a).is_time
        and cat.dim(cube, a).is_versioned
        and rollup.grain[a] != cat.dim(cube, a).leaf.name
        for a in rollup.grain
    )
    as_of = None if mapped_versioned and draw(st.integers(0, 3)) else draw(st.sampled_from(AS_OF))

    order: tuple[Order, ...] = ()
    fields = attributes + measures
    if draw(st.integers(0, 2)) == 0:
        order = tuple(
            Order(f, draw(st.sampled_from(["asc", "desc"])))
            for f in draw(st.lists(st.sampled_from(fields), min_size=1, max_size=2, unique=True))
        )
    page = pagesize = None
    if draw(st.integers(0, 3)) == 0:
        pagesize = draw(st.integers(1, 6))
        page = draw(st.integers(0, 3))
    return CubeQuery(
        cube.name,
        tuple(measures),
        cuts,
        tuple(drills),
        order,
        page,
        pagesize,
        as_of,
        draw(st.sampled_from(["lv", "en"])),
    )


# --- queries from a rollup's own grain ----------------------------------------------------------


def grain_query(model: Model, cube: Cube, r: Rollup, as_of: str | None, coarse: bool = False) -> CubeQuery:
    """Drill every dimension of the rollup's grain at its level, all its measures.

    `coarse`: the time dimension at year level, cut to 2024, and only the first grain dimension
    besides time — a query the rollup answers by summing some of its rows.
    """
    drills: list[Drilldown] = []
    cuts: list[Cut] = []
    others = 0
    for alias, level in r.grain.items():
        dim = model.dimensions[cube.link(alias).dimension]
        hier = next(h for h in dim.all_hierarchies if level in h.levels)
        if not coarse:
            drills.append(Drilldown(alias, hier.name, level))
        elif dim.is_time:
            drills.append(Drilldown(alias, hier.name, hier.levels[0]))
            cuts.append(PointCut(alias, ("2024",), hier.name))
        elif others == 0:
            others += 1
            drills.append(Drilldown(alias, hier.name, level))
    measures = tuple(rollup_measure_names(model, cube, r))
    return CubeQuery(cube.name, measures, tuple(cuts), tuple(drills), as_of=as_of, lang="en")


def keeps_mapped_versioned(model: Model, cube: Cube, r: Rollup) -> bool:
    for alias, level in r.grain.items():
        dim = model.dimensions[cube.link(alias).dimension]
        if not dim.is_time and dim.is_versioned and level != dim.leaf.name:
            return True
    return False


def straddles_mapping_change(model: Model, cube: Cube, r: Rollup) -> bool:
    """Whether some period of the rollup's time grain contains a territory reform date.

    An independent oracle for the planner's alignment rule: such a rollup, keeping raw
    municipality keys, cannot place its facts in regions as at each fact's date.
    """
    layout = CubeLayout(model, cube, "x")
    grain = layout.rollup_time_grain(r)
    versioned = [
        model.dimensions[cube.link(a).dimension]
        for a in r.grain
        if model.dimensions[cube.link(a).dimension].is_versioned
    ]
    if grain in (None, TimeRole.day) or not versioned:
        return False
    starts: Callable[[dt.date], bool] = {
        TimeRole.month: lambda d: d.day == 1,
        TimeRole.quarter: lambda d: d.day == 1 and d.month % 3 == 1,
        TimeRole.year: lambda d: (d.day, d.month) == (1, 1),
    }[grain]
    for dim in versioned:
        for version in dim.versions:
            if not starts(version.valid_from):
                return True
    return False


def explicit_queries(model: Model) -> list[tuple[str, str, CubeQuery]]:
    """(cube, rollup, query) a few per rollup: its own grain, as at fact dates and as of now, coarser."""
    out = []
    for cube in model.cubes.values():
        for r in cube.rollups:
            out.append((cube.name, r.name, grain_query(model, cube, r, None)))
            out.append((cube.name, r.name, grain_query(model, cube, r, None, coarse=True)))
            if not keeps_mapped_versioned(model, cube, r):
                out.append((cube.name, r.name, grain_query(model, cube, r, "now")))
    return out


ROLLUPS = [(c.name, r.name) for c in read_model(MODEL_DIR).cubes.values() for r in c.rollups]


@pytest.mark.parametrize(("cube_name", "rollup_name"), ROLLUPS, ids=[f"{c}.{r}" for c, r in ROLLUPS])
def test_rollup_answers_its_own_grain(demo: Demo, cube_name: str, rollup_name: str) -> None:
    """Each rollup (or a smaller one) answers a query at its own grain, exactly as the facts do."""
    model = demo.model
    cube = model.cubes[cube_name]
    layout = CubeLayout(model, cube, demo.engine.database)
    r = next(x for x in cube.rollups if x.name == rollup_name)
    size = estimated_rows(layout, rollup_shape(layout, r))
    sizes = {x.name: estimated_rows(layout, rollup_shape(layout, x)) for x in cube.rollups}
    variants = [("fact", None)] + ([] if keeps_mapped_versioned(model, cube, r) else [("now", "now")])
    for label, as_of in variants:
        q = grain_query(model, cube, r, as_of)
        source = check_same(demo, q).source
        if as_of is None and straddles_mapping_change(model, cube, r):
            assert source != rollup_name, f"[{label}] {describe(q)}: {rollup_name} straddles a reform"
            continue
        assert source != "facts", f"[{label}] {describe(q)}: answered from the facts, not {rollup_name}"
        assert sizes[source] <= size, f"[{label}] {describe(q)}: {source} is larger than {rollup_name}"


# --- the property -------------------------------------------------------------------------------


def test_rollups_equal_facts(demo: Demo) -> None:
    cat = Catalog.of(demo.model)
    explicit = explicit_queries(demo.model)
    explicit_set = {q for _, _, q in explicit}
    sources: Counter[str] = Counter()
    explicit_sources: set[tuple[str, str]] = set()

    def run(q: CubeQuery) -> None:
        outcome = check_same(demo, q)
        if q in explicit_set:
            explicit_sources.add((q.cube, outcome.source))
        else:
            sources[outcome.source] += 1

    prop = given(q=cube_queries(cat))(run)
    for _, _, q in explicit:
        prop = example(q=q)(prop)
    settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(prop)()

    missing = [f"{c}.{r}" for c, r in ROLLUPS if (c, r) not in explicit_sources]
    assert not missing, f"explicit examples never answered from {missing}"
    total = sum(sources.values())
    rejected = sources["rejected"]
    from_rollups = total - sources["facts"] - rejected
    assert total >= 100, f"only {total} generated examples ran: {dict(sources)}"
    assert rejected <= MAX_REJECTED_SHARE * total, f"too many queries refused: {dict(sources)}"
    assert from_rollups >= MIN_ROLLUP_SHARE * total, (
        f"rollups answered only {from_rollups} of {total} generated queries: {dict(sources)}"
    )


def test_executor_sorts_and_totals_as_the_engine_does(demo: Demo) -> None:
    """An unpaged answer is sorted by the executor (query/present.sort_rows), and the grand total
    of counts and exact sums is its cells added up (executor.adds_up); a page is ordered by the
    engine's window and totalled by a grouping set. The same random queries, unpaged and as one
    page that holds every cell, must list the same cells in the same order, with the same
    summary."""
    cat = Catalog.of(demo.model)
    sorted_here = Counter[bool]()
    added_up = Counter[bool]()

    def check(q: CubeQuery) -> None:
        try:
            unpaged = demo.with_rollups.aggregate(q, ANALYST)
        except UserError:
            return
        one_page = demo.with_rollups.aggregate(dataclasses.replace(q, page=0, pagesize=1_000_000), ANALYST)
        assert "ORDER BY" in one_page.sql
        sorted_here["ORDER BY" not in unpaged.sql] += 1
        added_up["GROUPING SETS" not in unpaged.sql] += 1
        problems = row_differences("cells", unpaged.cells.to_pylist(), one_page.cells.to_pylist())
        problems += row_differences("summary", [unpaged.summary or {}], [one_page.summary or {}])
        assert not problems, describe(q) + "\n  " + "\n  ".join(problems[:20])

    @given(q=cube_queries(cat))
    @settings(
        max_examples=80,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    def run(q: CubeQuery) -> None:
        whole = dataclasses.replace(q, page=None, pagesize=None)
        if not whole.drilldowns:
            return  # one cell: nothing to sort or add up, and never paged
        check(whole)
        # The same question with only the measures whose total is added up, when some are.
        layout = demo.with_rollups.layout(q.cube, ANALYST)
        known = {m.name: m for m in layout.cube.measures}
        additive = tuple(m for m in q.measures if m in known and adds_up(layout, known[m]))
        if additive and additive != q.measures:
            dropped = set(q.measures) - set(additive)
            check(dataclasses.replace(whole, measures=additive, order=tuple(
                o for o in whole.order if o.field not in dropped)))  # fmt: skip

    run()
    assert sorted_here[True] >= 30, f"too few drilled answers sorted by the executor: {dict(sorted_here)}"
    assert added_up[True] >= 10, f"too few grand totals added up from cells: {dict(added_up)}"


# --- approximate distinct counts past their exact range ----------------------------------------

SKETCH_ROWS = 1_000_000
"""Enough facts for uniqCombined to leave its exact small-set modes (at 60,000 it never does)."""


def test_approximate_counts_equal_in_sketch_mode(data_dir: Path) -> None:
    """HyperLogLog states merged from a rollup or from fact groups give exactly the same count.

    The LabIS model keeps no sketches (bitmaps were faster), so this test adds a sketch rollup
    to its own copy of the unemployment cube."""
    model = read_model(MODEL_DIR)
    cube = model.cubes["unemployment"]
    sketch = Rollup(
        name="sketch_by_region_quarter",
        grain={"territory": "region", "time": "quarter"},
        measures=["persons", "persons_approx"],
    )
    model.cubes["unemployment"] = cube.model_copy(update={"rollups": [*cube.rollups, sketch]})
    engine = make_engine("embedded", data_dir, fresh_database("rvfhll"))
    try:
        load_demo(model, engine, rows=SKETCH_ROWS, seed=DEMO_SEED, console=None)
        demo = Demo.of(model, engine)
        year, quarter = Drilldown("time", None, "year"), Drilldown("time", None, "quarter")
        region = Drilldown("territory", None, "region")
        queries = [
            CubeQuery("unemployment", ("persons", "persons_approx"), drilldowns=drills, cuts=cuts)
            for drills in [(), (year,), (quarter,), (region, year)]
            for cuts in [(), (PointCut("time", ("2024",)),)]
        ]
        sketched = 0
        for q in queries:
            assert check_same(demo, q).source == "sketch_by_region_quarter", describe(q)
            rows = demo.with_rollups.aggregate(q, ANALYST).cells.to_pylist()
            sketched += sum(r["persons"] != r["persons_approx"] for r in rows)
        assert sketched, "no count left the exact range: the test proves nothing about sketches"
    finally:
        engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")
