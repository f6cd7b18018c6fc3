"""`apply` makes the engine match the model: idempotent, rebuilds changed rollups with back-fill,
refuses to rewrite facts, and never touches the engine when the model is invalid."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from labis_olap.compiler.apply import apply_model, existing_objects
from labis_olap.engine.base import Engine
from labis_olap.errors import ModelError, UserError
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import CubeLayout

ROOT = Path(__file__).resolve().parent.parent

CUBE = """\
cube: c
columns:
  - {name: d, type: date}
  - {name: g, type: string}
  - {name: x, type: float}
dimensions:
  - {dimension: time, column: d}
  - {dimension: gender, column: g}
measures:
  - {name: total, function: sum, column: x}
  - {name: n, function: count}
rollups:
  - {name: by_month, grain: {time: month, gender: gender}, measures: [total, n]}
"""


@pytest.fixture
def small_model(tmp_path: Path) -> Path:
    root = tmp_path / "m"
    (root / "dimensions").mkdir(parents=True)
    (root / "cubes").mkdir()
    shutil.copy(ROOT / "model/dimensions/time.yaml", root / "dimensions/time.yaml")
    shutil.copy(ROOT / "model/dimensions/gender.yaml", root / "dimensions/gender.yaml")
    (root / "cubes/c.yaml").write_text(CUBE, encoding="utf-8")
    return root


def facts(n: int) -> pa.Table:
    import datetime as dt

    return pa.table(
        {
            "d": pa.array([dt.date(2024, 1 + i % 12, 1 + i % 28) for i in range(n)], pa.date32()),
            "g": ["M" if i % 3 else "F" for i in range(n)],
            "x": [float(i) for i in range(n)],
        }
    )


def rollup_totals(engine: Engine, table: str) -> tuple[float, int]:
    t = engine.query(f"SELECT sum(m__total) AS s, sum(m__n) AS n FROM `{engine.database}`.`{table}`")
    row = t.to_pylist()[0]
    return row["s"], row["n"]


def test_apply_is_idempotent_and_rollups_follow_inserts(small_model: Path, engine: Engine) -> None:
    model = read_model(small_model)
    first = apply_model(model, engine)
    assert first.changed
    assert apply_model(model, engine).actions == []
    layout = CubeLayout(model, model.cubes["c"], engine.database)
    engine.insert_arrow(layout.facts_table, facts(100))
    assert rollup_totals(engine, layout.rollup_table(model.cubes["c"].rollups[0])) == (sum(range(100)), 100)


def test_changed_rollup_is_rebuilt_and_backfilled(small_model: Path, engine: Engine) -> None:
    model = read_model(small_model)
    apply_model(model, engine)
    layout = CubeLayout(model, model.cubes["c"], engine.database)
    engine.insert_arrow(layout.facts_table, facts(50))
    old_table = layout.rollup_table(model.cubes["c"].rollups[0])

    cube = small_model / "cubes/c.yaml"
    cube.write_text(
        CUBE.replace("grain: {time: month, gender: gender}", "grain: {time: quarter}"), encoding="utf-8"
    )
    changed = read_model(small_model)
    report = apply_model(changed, engine)
    new_layout = CubeLayout(changed, changed.cubes["c"], engine.database)
    new_table = new_layout.rollup_table(changed.cubes["c"].rollups[0])
    assert new_table != old_table
    assert any(a.startswith("back-filled") for a in report.actions)
    names = existing_objects(engine)
    assert new_table in names and old_table not in names and f"mv_{old_table}" not in names
    assert rollup_totals(engine, new_table) == (sum(range(50)), 50)
    # The new MV is live: more facts reach the rebuilt rollup.
    engine.insert_arrow(layout.facts_table, facts(10))
    assert rollup_totals(engine, new_table) == (sum(range(50)) + sum(range(10)), 60)


def test_facts_type_change_on_rows_is_refused_with_what_to_do(small_model: Path, embedded: Engine) -> None:
    model = read_model(small_model)
    apply_model(model, embedded)
    embedded.insert_arrow(CubeLayout(model, model.cubes["c"], embedded.database).facts_table, facts(7))
    cube = small_model / "cubes/c.yaml"
    cube.write_text(CUBE.replace("{name: x, type: float}", "{name: x, type: int}"), encoding="utf-8")
    with pytest.raises(
        UserError,
        match="column 'x' is Float64 in the engine but the model says Int32, and the facts table holds 7 row",
    ) as info:
        apply_model(read_model(small_model), embedded)
    assert info.value.hint and "`labis drop c --yes`" in info.value.hint and "labis apply" in info.value.hint


def test_facts_type_change_on_an_empty_table_rebuilds_it(small_model: Path, embedded: Engine) -> None:
    apply_model(read_model(small_model), embedded)
    cube = small_model / "cubes/c.yaml"
    cube.write_text(
        CUBE.replace("{name: x, type: float}", "{name: x, type: 'decimal(18,4)'}"), encoding="utf-8"
    )
    model = read_model(small_model)
    report = apply_model(model, embedded)
    assert any("rebuilt the empty facts_c: column x Float64 → Decimal(18, 4)" in a for a in report.actions), (
        report
    )
    layout = CubeLayout(model, model.cubes["c"], embedded.database)
    types = (
        embedded.query(
            "SELECT type FROM system.columns"
            " WHERE database = {db:String} AND table = 'facts_c' AND name = 'x'",
            {"db": embedded.database},
        )
        .column("type")
        .to_pylist()
    )
    assert types == ["Decimal(18, 4)"]
    # The rollup and its view were made again: inserts reach it.
    import decimal

    rows = facts(10).set_column(
        2, "x", pa.array([decimal.Decimal(i) / 4 for i in range(10)], pa.decimal128(18, 4))
    )
    embedded.insert_arrow(layout.facts_table, rows)
    total, n = rollup_totals(embedded, layout.rollup_table(model.cubes["c"].rollups[0]))
    assert (total, n) == (decimal.Decimal(45) / 4, 10)
    assert apply_model(model, embedded).actions == []


def test_drop_removes_the_cubes_tables_and_lineage(small_model: Path, embedded: Engine) -> None:
    from labis_olap.compiler.apply import drop_cube_tables, plan_drop

    model = read_model(small_model)
    apply_model(model, embedded)
    layout = CubeLayout(model, model.cubes["c"], embedded.database)
    embedded.insert_arrow(layout.facts_table, facts(5))
    plan = plan_drop(embedded, layout)
    rollup = layout.rollup_table(model.cubes["c"].rollups[0])
    assert set(plan.objects) == {"facts_c", rollup, "mv_" + rollup} and plan.rows == 5
    drop_cube_tables(embedded, layout)
    have = existing_objects(embedded)
    assert not {"facts_c", rollup, "mv_" + rollup} & set(have)
    assert any(n.startswith("dim_gender") for n in have)  # dimensions are shared: they stay
    assert plan_drop(embedded, layout).objects == []
    assert apply_model(model, embedded).changed  # made again, empty


def test_new_column_is_added(small_model: Path, embedded: Engine) -> None:
    apply_model(read_model(small_model), embedded)
    cube = small_model / "cubes/c.yaml"
    cube.write_text(
        CUBE.replace(
            "  - {name: x, type: float}\n", "  - {name: x, type: float}\n  - {name: y, type: int}\n"
        ),
        encoding="utf-8",
    )
    report = apply_model(read_model(small_model), embedded)
    assert "added column y to facts_c" in report.actions


def test_invalid_model_never_reaches_the_engine(small_model: Path, embedded: Engine) -> None:
    (small_model / "cubes/c.yaml").write_text(
        CUBE.replace("dimension: gender", "dimension: gendr"), encoding="utf-8"
    )
    with pytest.raises(ModelError):
        apply_model(read_model(small_model), embedded)
    assert existing_objects(embedded) == {}


def test_real_model_applies_on_every_engine(engine: Engine) -> None:
    model = read_model(ROOT / "model")
    report = apply_model(model, engine)
    names = existing_objects(engine)
    rollups = sum(len(c.rollups) for c in model.cubes.values())
    assert sum(n.startswith("rollup_") for n in names) == rollups
    assert sum(n.startswith("mv_") for n in names) == rollups
    assert sum(n.startswith("facts_") for n in names) == len(model.cubes)
    assert report.changed and not apply_model(model, engine).changed
