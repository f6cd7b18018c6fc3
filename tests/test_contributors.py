"""The largest contributors of a publication table's cells (query/contributors.py), asked for
some grouping sets only: the finest cells first, then just the margins that might fail a rule.
Each set asked alone answers what it answers among all the others — one margin alone too,
which ClickHouse would take for a plain GROUP BY and refuse (the keys it leaves out), and margins
none of which holds the finest keys (refused alike)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, mini_database

from labis_olap.engine.base import Engine
from labis_olap.model.cut_grammar import parse_drilldowns
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import CubeLayout
from labis_olap.query.contributors import top_contributors
from labis_olap.query.resolve import resolve_drilldown

TABLE = "territory:municipality|time:year"


@pytest.fixture(scope="module")
def mini(data_dir: Path) -> Iterator[tuple[Model, Engine]]:
    model = read_model(ROOT / "tests" / "fixtures" / "mini_model")
    with mini_database(data_dir, model, "contrib") as engine:
        yield model, engine


def test_each_grouping_set_alone_answers_as_among_all(mini: tuple[Model, Engine]) -> None:
    model, engine = mini
    cube = model.cubes["benefits"]
    drills = [resolve_drilldown(model, cube, d, []) for d in parse_drilldowns(TABLE)]
    layout = CubeLayout(model, cube, engine.database)
    amount = cube.measure("amount")
    every = list(itertools.product(*(range(len(d.levels), -1, -1) for d in drills)))
    together = top_contributors(engine, layout, drills, [amount], "person", 2, every)
    assert len(together) == len(every) and sum(rows.num_rows for rows, _ in together) > len(every)
    for g, (rows, levels) in zip(every, together, strict=True):
        (alone, alone_levels), *rest = top_contributors(engine, layout, drills, [amount], "person", 2, [g])
        assert not rest and alone_levels == levels
        order = [(k, "ascending") for k in alone.column_names[:-3]]  # the keys (none: the grand total)
        if order:
            alone, rows = alone.sort_by(order), rows.sort_by(order)
        assert alone.to_pylist() == rows.to_pylist(), g
    # margins without the finest set, none of them holding the finest keys
    margins = [g for g in every if g != every[0]][:3]
    for (rows, levels), g in zip(
        top_contributors(engine, layout, drills, [amount], "person", 2, margins), margins, strict=True
    ):
        assert levels == together[every.index(g)][1] and rows.num_rows == together[every.index(g)][0].num_rows
