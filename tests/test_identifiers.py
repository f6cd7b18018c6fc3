"""Identifiers other than persons (the SPOLIS household): pseudonymised at load in a namespace of
their own, counted as before, never stored, shown, cut or grouped by in clear. On real chDB.

The loader side of "nothing identifying is stored" is in test_loaders.py
(`test_no_clear_identifier_reaches_any_table_or_output`); the API side in test_api.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from conftest import ANALYST, clear_hits, demo_database, fresh_database, make_engine

from labis_olap.compiler.apply import apply_model
from labis_olap.demo import generate as g
from labis_olap.demo.load import load_demo
from labis_olap.engine.base import Engine
from labis_olap.errors import UserError
from labis_olap.loaders.run import load_file
from labis_olap.loaders.spec import find_spec, load_plan
from labis_olap.model.cut_grammar import parse_cuts, parse_drilldowns
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.privacy import hmac_hex, hmac_sql, namespace_key, pseudonym_hex
from labis_olap.query.cell import CubeQuery
from labis_olap.service import CubeService, ServiceLimits

ROOT = Path(__file__).resolve().parent.parent
ROWS, SEED = 20_000, 3
KEY = b"identifier-test-key-0123456789"


@pytest.fixture(scope="module")
def demo(data_dir: Path) -> Iterator[tuple[Model, Engine]]:
    with demo_database(data_dir, "ids", ROWS, seed=SEED) as demo:
        yield demo


def one(engine: Engine, sql: str) -> object:
    return next(iter(engine.query(sql).to_pylist()[0].values()))


def households_by_year(model: Model, engine: Engine, cut: str = "") -> tuple[str, dict[str, int]]:
    """The `households` measure per year through the cube service, and where it came from."""
    service = CubeService(model, engine, limits=ServiceLimits(10_000, 30.0))
    query = CubeQuery(
        "social_assistance", ("households",), parse_cuts(cut), parse_drilldowns("time:year"), pagesize=100
    )
    cells = service.aggregate(query, ANALYST)
    return cells.source, {str(r["time.year"]): r["households"] for r in cells.cells.to_pylist()}


# --- the key per namespace ---------------------------------------------------------------------


def test_a_namespace_has_a_key_of_its_own_in_sql_as_in_python(embedded: Engine) -> None:
    """Household 17 and person 17 get unrelated pseudonyms; persons keep the key itself (their
    pseudonyms predate namespaces); the engine's HMAC equals Python's in every namespace."""
    assert namespace_key(KEY, "person") == KEY
    derived = {ns: namespace_key(KEY, ns) for ns in ("household", "case")}
    assert len({KEY, *derived.values()}) == 3 and all(len(k) == 32 for k in derived.values())
    assert namespace_key(b"another-key-0123456789", "household") != derived["household"]
    params: dict[str, object] = {"v": "17"}
    sql = ", ".join(
        f"{hmac_sql('{v:String}', namespace_key(KEY, ns), params, f'k_{ns}')} AS `{ns}`"
        for ns in ("person", "household", "case")
    )
    row = embedded.query(f"SELECT {sql}", params).to_pylist()[0]
    assert row == {ns: pseudonym_hex("17", KEY, ns) for ns in ("person", "household", "case")}
    assert row["person"] == hmac_hex("17", KEY)
    assert len(set(row.values())) == 3


# --- the demo ----------------------------------------------------------------------------------


def test_the_demo_stores_households_as_pseudonymous_numbers(demo: tuple[Model, Engine]) -> None:
    _, engine = demo
    db = engine.database
    first = engine.query(f"SELECT num, pseudonym FROM `{db}`.identifiers_household ORDER BY num LIMIT 5")
    rows = first.to_pylist()
    assert len(rows) == 5 and all(r["pseudonym"] == g.household_pseudonym(r["num"]) for r in rows)
    assert (
        one(
            engine,
            f"SELECT countIf(NOT match(pseudonym, '^[0-9a-f]{{64}}$')) FROM `{db}`.identifiers_household",
        )
        == 0
    )
    # Every household the facts name is in the dictionary, and the dictionary holds no other.
    used = one(engine, f"SELECT uniqExact(household) FROM `{db}`.facts_social_assistance")
    known = one(
        engine,
        f"SELECT count() FROM `{db}`.identifiers_household "
        f"WHERE num IN (SELECT household FROM `{db}`.facts_social_assistance)",
    )
    assert used == known == one(engine, f"SELECT count() FROM `{db}`.identifiers_household")
    assert used > 100
    # No synthetic household number is anywhere, and no household pseudonym is a person's.
    nums = engine.query(f"SELECT num FROM `{db}`.identifiers_household").column("num").to_pylist()
    assert clear_hits(engine, [g.synthetic_household_code(n) for n in nums]) == []
    assert one(engine, f"SELECT count() FROM `{db}`.persons WHERE pseudonym IN "
                       f"(SELECT pseudonym FROM `{db}`.identifiers_household)") == 0  # fmt: skip


def test_households_are_counted_as_before_from_rollups_and_facts(demo: tuple[Model, Engine]) -> None:
    """The demo's household figure is the generator's own (distinct `household_of` numbers per
    year — what the cube counted when households were stored in clear), from a rollup and from
    the facts, and an SQL count over the stored pseudonyms agrees: pseudonymising is a bijection."""
    model, engine = demo
    sa = pa.concat_tables(t for kind, t in g.generate(ROWS, seed=SEED) if kind == "social_assistance")
    years = np.asarray(pa.compute.year(sa["payment_date"]))
    gender = np.asarray(sa["gender"].cast(pa.string()))
    clear = np.asarray(g.household_of(sa["person"].to_numpy()))  # the numbers before the change
    expected = {str(y): int(np.unique(clear[years == y]).size) for y in np.unique(years)}
    expected_f = {
        str(y): int(np.unique(clear[(years == y) & (gender == "F")]).size) for y in np.unique(years)
    }
    db = engine.database
    by_pseudonym = engine.query(
        f"SELECT toString(toYear(f.payment_date)) AS y, uniqExact(i.pseudonym) AS n, "
        f"uniqExactIf(i.pseudonym, f.gender = 'F') AS f\n"
        f"FROM `{db}`.facts_social_assistance AS f INNER JOIN `{db}`.identifiers_household AS i "
        "ON f.household = i.num GROUP BY y"
    ).to_pylist()
    assert {r["y"]: r["n"] for r in by_pseudonym} == expected
    assert {r["y"]: r["f"] for r in by_pseudonym} == expected_f
    source, got = households_by_year(model, engine)
    assert source == "by_region_month" and got == expected
    source, got = households_by_year(model, engine, "gender:F")  # no rollup has gender and households
    assert source == "facts" and got == expected_f


# --- a loaded SPOLIS file ----------------------------------------------------------------------


def test_a_spolis_file_counts_its_households(data_dir: Path, tmp_path: Path) -> None:
    """Known household numbers in, the same distinct counts out (rollup and facts), as an SQL
    count over the stored pseudonyms and as the clear numbers in the file say."""
    model = read_model(ROOT / "model")
    engine = make_engine("embedded", data_dir, fresh_database("idl"))
    try:
        apply_model(model, engine)
        header = (
            "Izmaksas datums;Pašvaldības kods;Pabalsta veids;Dzimums;Vecuma grupa;Personas kods;"
            "Mājsaimniecības Nr.;Summa EUR"
        )
        rows: list[str] = []
        clear: dict[str, set[str]] = {"2023": set(), "2024": set()}
        women: dict[str, set[str]] = {"2023": set(), "2024": set()}
        for i in range(60):
            year, household = ("2023", "2024")[i % 2], 400_000_000 + (i * 37) % 23
            code = g.synthetic_person_code(900 + i)
            gender = "SV"[i % 3 == 0]  # S: sieviete, F
            rows.append(
                f"15.0{1 + i % 9}.{year};0001000;GMI pabalsts;{gender};25-34;{code};{household};10,00"
            )
            clear[year].add(str(household))
            if gender == "S":
                women[year].add(str(household))
        path = tmp_path / "spolis.csv"
        path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
        plan = load_plan(find_spec(ROOT / "loaders", "spolis"), model)
        report = load_file(plan, path, model, engine, KEY)
        assert (report.status, report.rows_accepted) == ("ok", 60)
        expected = {y: len(v) for y, v in clear.items()}
        source, got = households_by_year(model, engine)
        assert source == "by_region_month" and got == expected
        source, got = households_by_year(model, engine, "gender:F")  # no rollup: from the facts
        assert source == "facts" and got == {y: len(v) for y, v in women.items()} and got != expected
        db = engine.database
        stored = engine.query(
            f"SELECT toString(toYear(payment_date)) AS y, groupUniqArray(i.pseudonym) AS p "
            f"FROM `{db}`.facts_social_assistance AS f INNER JOIN `{db}`.identifiers_household AS i "
            "ON f.household = i.num GROUP BY y"
        ).to_pylist()
        assert {r["y"]: set(r["p"]) for r in stored} == {
            y: {pseudonym_hex(h, KEY, "household") for h in v} for y, v in clear.items()
        }
        # A second file with the same households numbers none anew: one numbering per kind.
        again = tmp_path / "spolis_2.csv"
        again.write_text("\n".join([header, *(r.replace(";10,00", ";11,00") for r in rows)]) + "\n", "utf-8")
        assert load_file(plan, again, model, engine, KEY).status == "ok"
        assert one(engine, f"SELECT count() FROM `{db}`.identifiers_household") == 23
        assert households_by_year(model, engine)[1] == expected
    finally:
        engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")


# --- a database from before households were identifiers ----------------------------------------


def test_clear_households_of_an_older_database_are_refused_by_apply_and_replaced_by_the_demo(
    data_dir: Path, tmp_path: Path
) -> None:
    old_model = tmp_path / "model"
    shutil.copytree(ROOT / "model", old_model)
    cube = old_model / "cubes" / "social_assistance.yaml"
    text = cube.read_text(encoding="utf-8")
    new_column = text[text.index("  - name: household\n") : text.index("  - {name: amount")]
    cube.write_text(text.replace(new_column, "  - {name: household, type: int64}\n"), encoding="utf-8")
    engine = make_engine("embedded", data_dir, fresh_database("idm"))
    try:
        apply_model(read_model(old_model), engine)
        db = engine.database
        engine.execute(
            f"INSERT INTO `{db}`.facts_social_assistance (payment_date, municipality, benefit_type, gender, "
            "age_group, source, person, household, amount) VALUES "
            "('2024-01-15', '0001000', 'gmi', 'F', 'A25_34', 'SPOLIS', 1, 731594268, 10)"
        )
        model = read_model(ROOT / "model")
        with pytest.raises(UserError, match="pseudonymised now") as info:
            apply_model(model, engine)
        assert "labis unload" in str(info.value.hint)
        load_demo(model, engine, ROWS, seed=SEED)
        assert clear_hits(engine, ["731594268"]) == []
        column = engine.query(
            "SELECT type FROM system.columns WHERE database = {d:String} "
            "AND table = 'facts_social_assistance' AND name = 'household'",
            {"d": db},
        ).to_pylist()
        assert column == [{"type": "UInt64"}]
        source, got = households_by_year(model, engine)
        assert source == "by_region_month" and sum(got.values()) > 0
    finally:
        engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")
