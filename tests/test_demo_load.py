"""`labis demo` loads every cube with rollups live, pseudonymises inside the engine, replaces
an earlier demo, and matches the published calibration at realistic scale (see the generator tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labis_olap.demo import generate as g
from labis_olap.demo.load import load_demo
from labis_olap.engine.base import Engine
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import CubeLayout
from labis_olap.privacy import hmac_hex, hmac_sql

ROOT = Path(__file__).resolve().parent.parent
ROWS = 20_000


def counts(engine: Engine, model: object) -> dict[str, int]:
    out = {}
    for name, cube in model.cubes.items():  # type: ignore[attr-defined]
        table = CubeLayout(model, cube, engine.database).facts_table  # type: ignore[arg-type]
        out[name] = engine.query(f"SELECT count() AS n FROM `{engine.database}`.`{table}`").to_pylist()[0][
            "n"
        ]
    return out


def test_hmac_sql_equals_python(engine: Engine) -> None:
    params: dict[str, object] = {}
    values = ["010203-12345", "ĀČĒ ģīķ", "", "x" * 100]
    key = b"k" * 80  # longer than a block: hashed first, as RFC 2104 says
    sql = "SELECT " + ", ".join(
        f"{hmac_sql(f'{{v{i}:String}}', key, params)} AS h{i}" for i in range(len(values))
    )
    params.update({f"v{i}": v for i, v in enumerate(values)})
    row = engine.query(sql, params).to_pylist()[0]
    assert [row[f"h{i}"] for i in range(len(values))] == [hmac_hex(v, key) for v in values]


def test_demo_loads_every_cube_and_pseudonymises_in_the_engine(engine: Engine) -> None:
    model = read_model(ROOT / "model")
    stats = load_demo(model, engine, ROWS, seed=3, console=None)
    assert stats.rows == ROWS == sum(counts(engine, model).values())
    assert counts(engine, model) == g.plan_rows(ROWS)
    db = engine.database
    persons = engine.query(f"SELECT person_num, pseudonym FROM `{db}`.persons ORDER BY person_num LIMIT 5")
    assert persons.to_pylist() == [{"person_num": n, "pseudonym": g.pseudonym(n)} for n in range(1, 6)]
    # No synthetic code reached storage: the persons table holds only 64-hex pseudonyms.
    bad = engine.query(
        f"SELECT count() AS n FROM `{db}`.persons WHERE NOT match(pseudonym, '^[0-9a-f]{{64}}$')"
    )
    assert bad.to_pylist() == [{"n": 0}]
    used = engine.query(f"SELECT uniqExact(person) AS n FROM `{db}`.facts_unemployment").to_pylist()[0]["n"]
    known = engine.query(
        f"SELECT count() AS n FROM `{db}`.persons "
        f"WHERE person_num IN (SELECT person FROM `{db}`.facts_unemployment)"
    ).to_pylist()[0]["n"]
    assert used == known > 0

    # A second demo replaces the first: same totals, rollups not doubled.
    rollup = CubeLayout(model, model.cubes["unemployment"], db).rollup_table(
        model.cubes["unemployment"].rollups[0]
    )
    before = engine.query(f"SELECT sum(m__new_registrations) AS s FROM `{db}`.`{rollup}`").to_pylist()
    load_demo(model, engine, ROWS, seed=3, console=None)
    assert counts(engine, model) == g.plan_rows(ROWS)
    assert engine.query(f"SELECT sum(m__new_registrations) AS s FROM `{db}`.`{rollup}`").to_pylist() == before


def test_demo_refuses_a_model_without_the_labis_cubes(embedded: Engine, tmp_path: Path) -> None:
    from labis_olap.errors import UserError

    (tmp_path / "m").mkdir()
    (tmp_path / "m/time.yaml").write_text((ROOT / "model/dimensions/time.yaml").read_text(encoding="utf-8"))
    with pytest.raises(UserError, match="cubes missing"):
        load_demo(read_model(tmp_path / "m"), embedded, ROWS, seed=1)
