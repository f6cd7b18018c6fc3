"""Loaders end to end on real chDB: specs, CSV and Parquet, encodings, checks and rejects,
pseudonymisation, batches (skip, dedup, unload), malformed files, the CLI.

One database per module (applying the model takes half a second); every test loads its own
files, so batches never collide, and checks its own batch or the difference it made.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import clear_hits, fresh_database, make_engine
from typer.testing import CliRunner

from labis_olap.cli import app
from labis_olap.compiler.apply import apply_model
from labis_olap.demo.generate import synthetic_person_code
from labis_olap.engine.base import Engine
from labis_olap.errors import UserError
from labis_olap.loaders import store
from labis_olap.loaders.read import LoadError
from labis_olap.loaders.run import load_file
from labis_olap.loaders.spec import SpecError, check_all, find_spec, load_plan
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import CubeLayout
from labis_olap.privacy import hmac_hex, pseudonym_hex, pseudonym_key
from labis_olap.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
LOADERS = ROOT / "loaders"
SAMPLES = ROOT / "tests" / "fixtures" / "loaders"
KEY = b"test-pseudonym-key-0123456789"
NVA_HEADER = (
    "Datums;ATVK kods;Pašvaldība;Dzimums;Vecuma grupa;Izglītība (ISCED);Personas kods;Jaunreģistrēts;"
    "Bezdarba ilgums (mēn.)"
)


@pytest.fixture(scope="module")
def model() -> Model:
    return read_model(ROOT / "model")


@pytest.fixture(scope="module")
def db(data_dir: Path, model: Model) -> Iterator[Engine]:
    eng = make_engine("embedded", data_dir, fresh_database("ld"))
    apply_model(model, eng)
    yield eng
    eng.execute(f"DROP DATABASE IF EXISTS `{eng.database}`")


def plan_for(model: Model, source: str, folder: Path = LOADERS) -> Any:
    return load_plan(find_spec(folder, source), model)


def spec_copy(tmp_path: Path, source: str, **replace: str) -> Path:
    """The loaders folder copied, with text replacements in one spec (e.g. a reject share)."""
    folder = tmp_path / "loaders"
    if not folder.exists():
        shutil.copytree(LOADERS, folder)
    path = folder / f"{source}.yaml"
    text = path.read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return folder


def nva_file(tmp_path: Path, rows: list[str], name: str = "nva.csv", encoding: str = "windows-1257") -> Path:
    path = tmp_path / name
    path.write_bytes(("\r\n".join([NVA_HEADER, *rows]) + "\r\n").encode(encoding))
    return path


def nva_row(
    i: int,
    date: str = "31.01.2024",
    atvk: str = "0001000",
    gender: str = "V",
    code: str | None = None,
    duration: str = "3",
    age: str = "25-34",
) -> str:
    code = code if code is not None else synthetic_person_code(5000 + i)
    return f"{date};{atvk};Rīga;{gender};{age};ED3;{code};jā;{duration}"


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    return next(iter(engine.query(sql, params or None).to_pylist()[0].values()))


def batch_rows(engine: Engine, cube: str, batch: str) -> int:
    return int(
        scalar(
            engine,
            f"SELECT count() FROM `{engine.database}`.`facts_{cube}` WHERE _batch = {{b:String}}",
            b=batch,
        )
    )


def totals(engine: Engine, model: Model, cube: str) -> dict[str, Any]:
    """Facts count and, for every rollup, each stored measure merged over the whole table."""
    layout = CubeLayout(model, model.cubes[cube], engine.database)
    db = f"`{engine.database}`"
    out: dict[str, Any] = {"facts": scalar(engine, f"SELECT count() FROM {db}.`{layout.facts_table}`")}
    for r in model.cubes[cube].rollups:
        for m in layout.rollup_measures(r):
            for s in layout.state_columns(m):
                merged = s.merge.format(f"`{s.name}`")
                out[f"{r.name}.{s.name}"] = scalar(
                    engine, f"SELECT {merged} FROM {db}.`{layout.rollup_table(r)}`"
                )
    return out


def facts_totals(engine: Engine, model: Model, cube: str) -> dict[str, Any]:
    """The same numbers computed from the facts alone: what every rollup must agree with."""
    layout = CubeLayout(model, model.cubes[cube], engine.database)
    db = f"`{engine.database}`"
    out: dict[str, Any] = {"facts": scalar(engine, f"SELECT count() FROM {db}.`{layout.facts_table}`")}
    for r in model.cubes[cube].rollups:
        for m in layout.rollup_measures(r):
            for s in layout.state_columns(m):
                merged = s.merge.format("s")
                out[f"{r.name}.{s.name}"] = scalar(
                    engine, f"SELECT {merged} FROM (SELECT {s.fill} AS s FROM {db}.`{layout.facts_table}`)"
                )
    return out


# --- specs ------------------------------------------------------------------------------------------


def test_shipped_specs_validate_and_cover_every_cube(model: Model) -> None:
    plans, diags = check_all(LOADERS, model)
    assert not diags, diags.render()
    csv_cubes = {p.cube.name for p in plans.values() if p.spec.kind == "csv"}
    assert csv_cubes == set(model.cubes)
    assert any(p.spec.kind == "parquet" for p in plans.values())
    for p in plans.values():  # every person and identifier column is declared personal
        assert {c.to for c in p.personal_columns} == {c.name for c in p.cube.columns if c.pseudonymous}
    assert {c.to for c in plans["spolis"].personal_columns} == {"person", "household"}


def test_spec_errors_are_located_with_codes(model: Model, tmp_path: Path) -> None:
    folder = spec_copy(
        tmp_path,
        "nva_burvis",
        **{
            "encoding: windows-1257": "encoding: windows-1275",
            "{to: gender, from: Dzimums": "{to: gendr, from: Dzimums",
            "{to: source, constant: NVA}": "{to: source, constant: NVX, colour: red}",
            "    personal: true\n": "",
            "min: 0, max: 600": "min: zero, max: 600",
        },
    )
    with pytest.raises(SpecError) as info:
        plan_for(model, "nva_burvis", folder)
    text = info.value.rendered
    found = re.findall(r"nva_burvis\.yaml:(\d+):(\d+): error\[(L\d+)\]", text)
    codes = sorted(code for _, _, code in found)
    assert codes == ["L004"], text  # shape errors come first, alone, like the model's E-codes
    (folder / "nva_burvis.yaml").write_text(
        (folder / "nva_burvis.yaml").read_text(encoding="utf-8").replace(", colour: red", ""),
        encoding="utf-8",
    )
    with pytest.raises(SpecError) as info:
        plan_for(model, "nva_burvis", folder)
    text = info.value.rendered
    codes = sorted(code for _, _, code in re.findall(r"nva_burvis\.yaml:(\d+):(\d+): error\[(L\d+)\]", text))
    assert codes == ["L103", "L104", "L106", "L107", "L110", "L111"], text
    assert "hint: did you mean 'windows-1257'?" in text
    assert "hint: did you mean 'gender'?" in text
    assert "hint: did you mean 'NVA'?" in text
    assert "  - {to: gendr, from: Dzimums" in text  # the source line and a caret under it
    line = text.splitlines()[
        text.splitlines().index(next(t for t in text.splitlines() if "gendr" in t and t.startswith("  ")))
    ]
    caret = text.splitlines()[text.splitlines().index(line) + 1]
    assert caret.index("^") == line.index("gendr")


def test_map_file_errors_point_into_the_map_file(model: Model, tmp_path: Path) -> None:
    folder = spec_copy(tmp_path, "vdi")
    (folder / "crosswalks" / "atvk_2009_2021.csv").write_text("from,to\n0010000,0001000\n0050000,0099999\n")
    with pytest.raises(SpecError) as info:
        plan_for(model, "vdi", folder)
    assert re.search(
        r"atvk_2009_2021\.csv:3:\d+: error\[L111\] '0099999' is not a member", info.value.rendered
    )


def test_unknown_source_has_a_hint() -> None:
    with pytest.raises(UserError, match="no loader spec for source 'nva_burvi'") as info:
        find_spec(LOADERS, "nva_burvi")
    assert info.value.hint == "did you mean 'nva_burvis'?"


# --- every sample, end to end -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "sample"),
    [
        ("nva_burvis", "nva_burvis_2024.csv"),
        ("nva_burvis_parquet", "nva_burvis_2024.parquet"),
        ("spolis", "spolis_2024.csv"),
        ("vdeavk", "vdeavk_2024.csv"),
        ("vdi", "vdi_2024.csv"),
        ("vsaa_sais", "vsaa_sais_2024.csv"),
    ],
)
def test_every_sample_loads_with_rollups_consistent(
    db: Engine, model: Model, source: str, sample: str
) -> None:
    plan = plan_for(model, source)
    report = load_file(plan, SAMPLES / sample, model, db, KEY if plan.personal_columns else None)
    assert (report.status, report.rows_read, report.rows_accepted, report.rows_rejected) == ("ok", 40, 40, 0)
    assert batch_rows(db, plan.cube.name, report.batch) == 40
    assert totals(db, model, plan.cube.name) == facts_totals(db, model, plan.cube.name)
    again = load_file(plan, SAMPLES / sample, model, db, KEY if plan.personal_columns else None)
    assert again.status == "skipped" and again.batch == report.batch
    assert batch_rows(db, plan.cube.name, report.batch) == 40


def test_server_engine_loads_too(data_dir: Path, model: Model) -> None:
    """The clickhouse-connect engine (through its chDB interface) takes the same path."""
    eng = make_engine("connect", data_dir, fresh_database("ldc"))
    try:
        report = load_file(plan_for(model, "nva_burvis"), SAMPLES / "nva_burvis_2024.csv", model, eng, KEY)
        assert report.status == "ok" and batch_rows(eng, "unemployment", report.batch) == 40
        assert totals(eng, model, "unemployment") == facts_totals(eng, model, "unemployment")
    finally:
        eng.execute(f"DROP DATABASE IF EXISTS `{eng.database}`")


def test_csv_and_parquet_of_the_same_extract_give_the_same_facts(db: Engine, model: Model) -> None:
    cols = (
        "snapshot_date, municipality, gender, age_group, education, person, new_registration, duration_months"
    )
    got = {}
    for source, sample in (
        ("nva_burvis", "nva_burvis_2024.csv"),
        ("nva_burvis_parquet", "nva_burvis_2024.parquet"),
    ):
        r = load_file(plan_for(model, source), SAMPLES / sample, model, db, KEY)
        got[source] = db.query(
            f"SELECT {cols} FROM `{db.database}`.facts_unemployment "
            f"WHERE _batch = {{b:String}} ORDER BY {cols}",
            {"b": r.batch},
        ).to_pylist()
    assert got["nva_burvis"] == got["nva_burvis_parquet"]
    # Pre-2021 codes were crosswalked; V/S became M/F; 'jā'/'Nē' became 1/0; codes without a
    # hyphen were rewritten, so the same person has one number whichever way the code was written.
    rows = got["nva_burvis"]
    assert {r["municipality"] for r in rows} >= {"0001000", "0002000"}
    assert not {r["municipality"] for r in rows} & {"0010000", "0050000"}
    assert {r["gender"] for r in rows} == {"M", "F"} and {r["new_registration"] for r in rows} == {0, 1}


# --- encodings, decimal comma, crosswalk --------------------------------------------------------


def test_windows_1257_letters_survive(db: Engine, model: Model, tmp_path: Path) -> None:
    letters = "ĀČĒĢĪĶĻŅŠŪŽ āčēģīķļņšūž"
    folder = spec_copy(tmp_path, "nva_burvis", **{"max_reject_share: 0.01": "max_reject_share: 0.5"})
    path = nva_file(tmp_path, [nva_row(1), nva_row(2, gender=letters), nva_row(3)])
    report = load_file(plan_for(model, "nva_burvis", folder), path, model, db, KEY)
    assert (report.status, report.rows_accepted, report.rows_rejected) == ("ok", 2, 1)
    rej = db.query(
        f"SELECT row, `column`, value FROM `{db.database}`.rejects WHERE batch = {{b:String}}",
        {"b": report.batch},
    ).to_pylist()
    assert rej == [{"row": 3, "column": "Dzimums", "value": letters}]  # stored as it was in the file
    # 'jā' (ā is 0xE2 in windows-1257) was decoded and mapped to 1 in both accepted rows.
    new = f"SELECT sum(new_registration) FROM `{db.database}`.facts_unemployment WHERE _batch = {{b:String}}"
    assert scalar(db, new, b=report.batch) == 2


def test_decimal_comma_and_thousands(db: Engine, model: Model) -> None:
    report = load_file(plan_for(model, "vsaa_sais"), SAMPLES / "vsaa_sais_2024.csv", model, db, KEY)
    text = (SAMPLES / "vsaa_sais_2024.csv").read_text(encoding="windows-1257").splitlines()[1:]
    want = sum(decimal.Decimal(line.split(";")[-1].replace(" ", "").replace(",", ".")) for line in text)
    got = scalar(
        db,
        f"SELECT sum(amount) FROM `{db.database}`.facts_pensions WHERE _batch = {{b:String}}",
        b=report.batch,
    )
    assert decimal.Decimal(str(got)) == want
    months = db.query(
        f"SELECT DISTINCT toDayOfMonth(payment_month) AS d FROM `{db.database}`.facts_pensions "
        "WHERE _batch = {b:String}",
        {"b": report.batch},
    ).to_pylist()
    assert months == [{"d": 1}]  # MM.YYYY means the first of the month


def test_crosswalk_maps_pre_2021_codes(db: Engine, model: Model, tmp_path: Path) -> None:
    path = nva_file(
        tmp_path, [nva_row(1, atvk="0010000"), nva_row(2, atvk="0270000"), nva_row(3, atvk="0038000")]
    )
    report = load_file(plan_for(model, "nva_burvis"), path, model, db, KEY)
    got = (
        db.query(
            f"SELECT municipality AS m FROM `{db.database}`.facts_unemployment "
            "WHERE _batch = {b:String} ORDER BY m",
            {"b": report.batch},
        )
        .column("m")
        .to_pylist()
    )
    assert got == ["0001000", "0007000", "0038000"]


# --- checks and rejects -----------------------------------------------------------------------


def test_rejects_record_row_column_reason_and_mask_personal_values(
    db: Engine, model: Model, tmp_path: Path
) -> None:
    folder = spec_copy(tmp_path, "nva_burvis", **{"max_reject_share: 0.01": "max_reject_share: 0.95"})
    bad_code = "12345"  # too short: a reject whose value must not be shown
    rows = [
        nva_row(1),
        nva_row(2, date="31.02.2024"),
        nva_row(3, atvk="9999999"),
        nva_row(4, gender="X"),
        nva_row(5, code=bad_code),
        nva_row(6, duration="-1"),
        nva_row(7, duration="abc"),
        nva_row(8, date=""),
        nva_row(9, date="31.01.2099"),
        nva_row(10, date="31.01.2024", atvk="0001000", age="15–24"),
        nva_row(11, code="ĀBOLS JĀNIS", date="xx"),
    ]
    report = load_file(plan_for(model, "nva_burvis", folder), nva_file(tmp_path, rows), model, db, KEY)
    assert (report.status, report.rows_read, report.rows_accepted, report.rows_rejected) == ("ok", 11, 1, 10)
    got = db.query(
        f"SELECT row, `column`, fact_column, value, reason FROM `{db.database}`.rejects "
        "WHERE batch = {b:String} ORDER BY row, `column`",
        {"b": report.batch},
    ).to_pylist()
    assert [(r["row"], r["column"], r["value"], r["reason"]) for r in got] == [
        (3, "Datums", "31.02.2024", "not a date in the format DD.MM.YYYY"),
        (4, "ATVK kods", "9999999", "not a member of dimension 'territory'"),
        (5, "Dzimums", "X", "not a member of dimension 'gender'"),
        (6, "Personas kods", "99999", "does not match \\d{6}-\\d{5}"),
        (7, "Bezdarba ilgums (mēn.)", "-1", "below the minimum 0"),
        (8, "Bezdarba ilgums (mēn.)", "abc", "not an integer"),
        (9, "Datums", "", "missing value"),
        (10, "Datums", "31.01.2099", "above the maximum today"),
        (11, "Vecuma grupa", "15–24", "not a member of dimension 'age_group'"),
        (12, "Datums", "xx", "not a date in the format DD.MM.YYYY"),
        (12, "Personas kods", "XXXXX XXXXX", "does not match \\d{6}-\\d{5}"),
    ]
    assert got[0]["fact_column"] == "snapshot_date"
    assert report.reasons[("Datums", "not a date in the format DD.MM.YYYY")] == 2
    assert sum(report.reasons.values()) == 11
    assert batch_rows(db, "unemployment", report.batch) == 1


def test_too_many_rejects_fail_the_batch_and_leave_nothing(db: Engine, model: Model, tmp_path: Path) -> None:
    before = totals(db, model, "unemployment")
    persons_before = scalar(db, f"SELECT count() FROM `{db.database}`.persons")
    rows = [nva_row(100 + i) for i in range(40)] + [nva_row(200, gender="?")]
    report = load_file(plan_for(model, "nva_burvis"), nva_file(tmp_path, rows), model, db, KEY)
    assert report.status == "rejected" and report.rows_rejected == 1
    assert "more than max_reject_share 1.00%" in report.message
    assert totals(db, model, "unemployment") == before
    assert scalar(db, f"SELECT count() FROM `{db.database}`.persons") == persons_before
    assert batch_rows(db, "unemployment", report.batch) == 0
    assert not scalar(
        db,
        "SELECT count() FROM system.tables WHERE database = {d:String} AND name LIKE '\\_load%'",
        d=db.database,
    )
    [rec] = store.latest(db, batch=report.batch)
    assert (rec["status"], rec["rows_read"], rec["rows_rejected"]) == ("rejected", 41, 1)
    assert (
        scalar(db, f"SELECT count() FROM `{db.database}`.rejects WHERE batch = {{b:String}}", b=report.batch)
        == 1
    )


# --- batches: dedup, unload ---------------------------------------------------------------------


def test_retried_batch_is_not_double_counted(db: Engine, model: Model, tmp_path: Path) -> None:
    """A batch whose last state is 'running' (a crash) is loaded again: every chunk is re-sent
    with the same token and dropped by the facts and by every rollup."""
    path = nva_file(tmp_path, [nva_row(300 + i, date=f"{26 + i % 3}.02.2023") for i in range(30)])
    plan = plan_for(model, "nva_burvis")
    first = load_file(plan, path, model, db, KEY, chunk_rows=7)
    after_first = totals(db, model, "unemployment")
    rec = store.latest(db, batch=first.batch)[0]
    crashed = store.LoadRecord(**{k: rec[k] for k in store.LoadRecord.__dataclass_fields__})
    crashed.status = "running"
    store.record(db, crashed)
    second = load_file(plan, path, model, db, KEY, chunk_rows=7)
    assert second.status == "ok" and second.batch == first.batch
    assert totals(db, model, "unemployment") == after_first == facts_totals(db, model, "unemployment")
    assert batch_rows(db, "unemployment", first.batch) == 30


def test_unload_removes_a_batch_and_rebuilds_rollups(db: Engine, model: Model, tmp_path: Path) -> None:
    base = totals(db, model, "disability")
    report = load_file(plan_for(model, "vdeavk"), SAMPLES / "vdeavk_2024.csv", model, db, KEY)
    if report.status == "skipped":  # loaded by the sample test: unload it first
        store.unload(db, model, report.batch)
        base = totals(db, model, "disability")
        report = load_file(plan_for(model, "vdeavk"), SAMPLES / "vdeavk_2024.csv", model, db, KEY)
    loaded = totals(db, model, "disability")
    assert loaded["facts"] == base["facts"] + 40
    runner = CliRunner()
    env = {
        "LABIS_DATA_DIR": str(db.path),
        "LABIS_DATABASE": db.database,  # type: ignore[attr-defined]
        "LABIS_MODEL_DIR": str(ROOT / "model"),
        "COLUMNS": "200",
    }
    [before] = [b for b in store.batches(db) if b["batch"] == report.batch]
    result = runner.invoke(app, ["unload", report.batch[:8]], env=env)
    assert result.exit_code == 0, result.output
    # `labis loads` keeps showing the load's own duration, not the time until the unload.
    [after] = [b for b in store.batches(db) if b["batch"] == report.batch]
    assert after["status"] == "unloaded" and after["seconds"] == before["seconds"]
    assert f"unloaded batch {report.batch}" in result.output
    assert totals(db, model, "disability") == base == facts_totals(db, model, "disability")
    assert store.latest(db, batch=report.batch)[0]["status"] == "unloaded"
    # Loaded again after an unload: new dedup tokens, so the rows come back.
    again = load_file(plan_for(model, "vdeavk"), SAMPLES / "vdeavk_2024.csv", model, db, KEY)
    assert again.status == "ok" and totals(db, model, "disability") == loaded
    result = runner.invoke(app, ["loads", "--source", "vdeavk"], env=env)
    assert result.exit_code == 0 and report.batch in result.output and " ok " in result.output


def test_rejects_takes_a_prefix_and_refuses_unknown_and_ambiguous_ids(
    db: Engine, model: Model, tmp_path: Path
) -> None:
    folder = spec_copy(tmp_path, "nva_burvis", **{"max_reject_share: 0.01": "max_reject_share: 0.95"})
    rows = [nva_row(600), nva_row(601, gender="X"), nva_row(602, duration="-1")]
    report = load_file(plan_for(model, "nva_burvis", folder), nva_file(tmp_path, rows), model, db, KEY)
    assert (report.status, report.rows_rejected) == ("ok", 2)
    env = {
        "LABIS_DATA_DIR": str(db.path),  # type: ignore[attr-defined]
        "LABIS_DATABASE": db.database,
        "LABIS_MODEL_DIR": str(ROOT / "model"),
        "COLUMNS": "200",
    }
    runner = CliRunner()
    shown = runner.invoke(app, ["rejects", report.batch[:7]], env=env)
    assert shown.exit_code == 0, shown.output
    assert f"batch {report.batch} (nva.csv, ok): 2 row(s) rejected" in shown.output
    assert "not a member of dimension 'gender'" in shown.output and "below the minimum 0" in shown.output
    unknown = runner.invoke(app, ["rejects", "0123456789abcdef"], env=env)
    assert unknown.exit_code == 1 and "no batch '0123456789abcdef' in the lineage table" in unknown.output
    # Two batches whose ids share a prefix (lineage rows written as a load writes them).
    twins = [f"feedface0000000{i}" for i in (1, 2)]
    for i, batch in enumerate(twins):
        started = dt.datetime.now(dt.UTC)
        rec = store.LoadRecord(batch, "nva_burvis", "unemployment", f"twin{i}.csv", "", 0, started, "")
        store.record(db, rec)
    ambiguous = runner.invoke(app, ["rejects", "feedface"], env=env)
    assert ambiguous.exit_code == 1, ambiguous.output
    assert "'feedface' names several batches" in ambiguous.output
    assert all(f"{b} (twin{i}.csv, running)" in ambiguous.output for i, b in enumerate(twins))
    assert "give more digits" in ambiguous.output


# --- pseudonymisation ---------------------------------------------------------------------------


SPOLIS_HEADER = (
    "Izmaksas datums;Pašvaldības kods;Pabalsta veids;Dzimums;Vecuma grupa;Personas kods;"
    "Mājsaimniecības Nr.;Summa EUR"
)


def spolis_file(tmp_path: Path, rows: list[str], name: str = "spolis.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([SPOLIS_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def spolis_row(code: str, household: str, date: str = "15.01.2024", atvk: str = "0001000") -> str:
    return f"{date};{atvk};Mājokļa pabalsts;S;25-34;{code};{household};405,80"


HOUSEHOLDS = [str(731_594_268 + 7_919 * i) for i in range(6)]
"""Clear household numbers, distinctive enough that finding one anywhere is not an accident."""


def test_no_clear_identifier_reaches_any_table_or_output(
    data_dir: Path, model: Model, tmp_path: Path
) -> None:
    """Person codes and household numbers loaded through the CLI are nowhere in the database —
    not in any column of any table, whatever its type — nor in what `load`, `loads` and
    `rejects` print; what is stored instead is their keyed hash, each in its own namespace."""
    codes = [synthetic_person_code(7000 + i) for i in range(12)]
    rows = [nva_row(i, code=c if i % 2 else c.replace("-", "")) for i, c in enumerate(codes)]
    rows.append(nva_row(99, code=codes[0], date="32.01.2024"))  # a reject carrying a person code
    rows.append(nva_row(98, code=codes[1], duration=codes[2]))  # a code in a non-personal column
    folder = spec_copy(tmp_path, "nva_burvis", **{"max_reject_share: 0.01": "max_reject_share: 0.5"})
    spec_copy(tmp_path, "spolis", **{"max_reject_share: 0.01": "max_reject_share: 0.5"})
    path = nva_file(tmp_path, rows)
    # Households as SPOLIS writes them, one with leading zeros (the same household), two
    # persons in one household; a reject that carries a household, a malformed household.
    spolis_rows = [spolis_row(codes[i], h) for i, h in enumerate(HOUSEHOLDS)]
    spolis_rows += [spolis_row(codes[6], "00" + HOUSEHOLDS[0]), spolis_row(codes[7], HOUSEHOLDS[1])]
    spolis_rows += [spolis_row(codes[8], HOUSEHOLDS[2], date="31.02.2024")]
    spolis_rows += [spolis_row(codes[9], HOUSEHOLDS[3][:4] + "x" + HOUSEHOLDS[3][5:])]
    households_file = spolis_file(tmp_path, spolis_rows)
    database = fresh_database("ldp")
    env = {
        "LABIS_DATA_DIR": str(data_dir),
        "LABIS_DATABASE": database,
        "LABIS_MODEL_DIR": str(ROOT / "model"),
        "LABIS_LOADERS_DIR": str(folder),
        "LABIS_PSEUDONYM_KEY": KEY.decode(),
        "COLUMNS": "200",
    }
    runner = CliRunner()
    outputs = [
        runner.invoke(app, ["load", "nva_burvis", str(path)], env=env),
        runner.invoke(app, ["load", "spolis", str(households_file)], env=env),
    ]
    assert [o.exit_code for o in outputs] == [0, 0], [o.output for o in outputs]
    eng = make_engine("embedded", data_dir, database)
    try:
        batches = [r["batch"] for r in store.latest(eng)]
        assert len(batches) == 2
        for args in (
            ["loads"],
            ["rejects", batches[0]],
            ["rejects", batches[1]],
            ["load", "nva_burvis", str(path)],
        ):
            outputs.append(runner.invoke(app, args, env=env))
            assert outputs[-1].exit_code == 0, outputs[-1].output
        text = "\n".join(o.output for o in outputs)
        assert "rejected" in text and "######-#####" in text  # the code in 'duration' was masked
        assert "9999X9999" in text  # the malformed household, as its shape only
        needles = codes + [c.replace("-", "") for c in codes] + HOUSEHOLDS
        assert clear_hits(eng, needles) == []
        # The search itself finds what is there: a piece of a stored pseudonym, and a number.
        probe = pseudonym_hex(HOUSEHOLDS[0], KEY, "household")[5:20]
        assert clear_hits(eng, [hmac_hex(codes[0], KEY)[5:20], probe]) == [
            ("identifiers_household", "pseudonym", 1),
            ("persons", "pseudonym", 1),
        ]
        # A number column is searched too: every accepted payment is 405,80.
        assert ("facts_social_assistance", "amount", 8) in clear_hits(eng, ["405.8"])
        assert not [n for n in needles if n in text]
        # What is stored instead: the keyed hash of the canonical code, as a number; households in
        # their own namespace, so that no household pseudonym is a person's.
        pseudonyms = set(
            eng.query(f"SELECT pseudonym FROM `{database}`.persons").column("pseudonym").to_pylist()
        )
        assert {hmac_hex(c, KEY) for c in codes} <= pseudonyms
        households = set(
            eng.query(f"SELECT pseudonym FROM `{database}`.identifiers_household")
            .column("pseudonym")
            .to_pylist()
        )
        assert households == {pseudonym_hex(h, KEY, "household") for h in HOUSEHOLDS}
        assert not households & pseudonyms
        assert not households & {hmac_hex(h, KEY) for h in HOUSEHOLDS}  # not the person namespace's hash
        persons = scalar(eng, f"SELECT uniqExact(person) FROM `{database}`.facts_unemployment")
        assert persons == len(codes)
        assert scalar(eng, f"SELECT uniqExact(household) FROM `{database}`.facts_social_assistance") == 6
    finally:
        eng.execute(f"DROP DATABASE IF EXISTS `{database}`")


def test_refuses_to_load_persons_without_a_key(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no pseudonymisation key") as info:
        pseudonym_key(Settings(pseudonym_key=None, pseudonym_key_file=None))
    assert "labis key create" in str(info.value.hint)
    with pytest.raises(UserError, match="shorter than 16"):
        pseudonym_key(Settings(pseudonym_key="short"))
    keyfile = tmp_path / "key"
    keyfile.write_bytes(KEY + b"\n")
    assert pseudonym_key(Settings(pseudonym_key_file=keyfile)) == KEY
    result = CliRunner().invoke(
        app,
        ["load", "nva_burvis", str(SAMPLES / "nva_burvis_2024.csv")],
        env={
            "LABIS_PSEUDONYM_KEY": "",
            "LABIS_PSEUDONYM_KEY_FILE": "",
            "LABIS_LOADERS_DIR": str(LOADERS),
            "LABIS_MODEL_DIR": str(ROOT / "model"),
            "LABIS_DATA_DIR": str(tmp_path / "never"),
        },
    )
    assert result.exit_code == 1 and "no pseudonymisation key" in result.output
    assert "labis key create" in result.output  # says how to make one
    assert not (tmp_path / "never").exists()  # refused before opening the engine


def test_a_changed_key_is_refused(db: Engine, model: Model, tmp_path: Path) -> None:
    load_file(plan_for(model, "spolis"), SAMPLES / "spolis_2024.csv", model, db, KEY)
    path = tmp_path / "other.csv"
    lines = (SAMPLES / "spolis_2024.csv").read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:5]) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match="key differs"):
        load_file(plan_for(model, "spolis"), path, model, db, b"another-key-0123456789")


# --- malformed files ------------------------------------------------------------------------------


def failed(report: Any, db: Engine, *, code: str, row: int | None, column: str | None) -> str:
    assert report.status == "failed", report.summary()
    assert f"error[{code}]" in report.message
    assert "nva_burvis" in report.message
    if row is not None:
        assert f".csv:{row}:" in report.message or f".parquet:{row}:" in report.message, report.message
    if column is not None:
        assert f"column '{column}'" in report.message, report.message
    [rec] = store.latest(db, batch=report.batch)
    assert rec["status"] == "failed" and rec["message"] == report.message
    assert batch_rows(db, "unemployment", report.batch) == 0
    return str(report.message)


def test_truncated_csv_names_the_row(db: Engine, model: Model, tmp_path: Path) -> None:
    path = nva_file(tmp_path, [nva_row(400 + i) for i in range(5)])
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b";ED3;") + 3])  # cut inside the last row
    report = load_file(plan_for(model, "nva_burvis"), path, model, db, KEY)
    message = failed(report, db, code="L203", row=6, column=None)
    assert "the row has 6 field(s), the header 9" in message and "truncated" in (report.message + "")
    # It failed at line 6: the four rows above it were read (not "0 read": the file is one block).
    assert report.rows_read == 4
    [shown] = [b for b in store.batches(db) if b["batch"] == report.batch]
    assert (shown["status"], shown["rows_read"]) == ("failed", 4)


def test_csv_cut_inside_a_quoted_value(db: Engine, model: Model, tmp_path: Path) -> None:
    path = nva_file(tmp_path, [nva_row(410), nva_row(411).replace(";Rīga;", ';"Rīga, ')])
    path.write_bytes(path.read_bytes().rstrip(b"\r\n"))
    report = load_file(plan_for(model, "nva_burvis"), path, model, db, KEY)
    failed(report, db, code="L203", row=None, column=None)
    assert "ends inside a quoted value" in report.message


def test_wrong_encoding_names_row_and_column(db: Engine, model: Model, tmp_path: Path) -> None:
    # The header of a UTF-8 file read as windows-1257: 'š' is C5 A1, and 0xA1 is no windows-1257
    # character; the header cannot be read as declared, so the column is named as the header
    # reads in UTF-8 (not by its position), and the hint says which encoding that is.
    path = nva_file(tmp_path, [nva_row(420)], encoding="utf-8")
    report = load_file(plan_for(model, "nva_burvis"), path, model, db, KEY)
    message = failed(report, db, code="L204", row=1, column="Pašvaldība")
    assert "byte 0xa1 is not valid windows-1257 text" in message
    assert "'#3'" not in message
    assert "the header reads as utf-8" in message and "options.encoding says windows-1257" in message
    # In the data: with ASCII column names (a spec copy), the bad byte is placed in its column.
    ascii_names = {
        "Izglītība (ISCED)": "ISCED",
        "Jaunreģistrēts": "Jauns",
        "Bezdarba ilgums (mēn.)": "Ilgums",
    }
    folder = spec_copy(tmp_path, "nva_burvis", **ascii_names)
    header = NVA_HEADER.replace("Pašvaldība", "Pasvaldiba")
    for old, new in ascii_names.items():
        header = header.replace(old, new)
    ascii_row = nva_row(421).replace("Rīga", "Riga").replace(";jā;", ";0;")
    rows = [header, ascii_row, nva_row(422, gender="Vā").replace("Rīga", "Riga").replace(";jā;", ";0;")]
    for encoding, declared, byte in (("utf-8", "windows-1257", "0x81"), ("windows-1257", "utf-8", "0xe2")):
        spec = folder / "nva_burvis.yaml"
        spec.write_text(
            re.sub(r"encoding: \S+", f"encoding: {declared}", spec.read_text(encoding="utf-8")),
            encoding="utf-8",
        )
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(("\r\n".join(rows) + "\r\n").encode(encoding))
        report = load_file(plan_for(model, "nva_burvis", folder), path, model, db, KEY)
        message = failed(report, db, code="L204", row=3, column="Dzimums")
        assert f"byte {byte} is not valid {declared} text" in message


def test_missing_column_and_missing_file(db: Engine, model: Model, tmp_path: Path) -> None:
    path = tmp_path / "nocol.csv"
    path.write_bytes(
        (NVA_HEADER.replace("Dzimums", "Dzimum") + "\r\n" + nva_row(440) + "\r\n").encode("cp1257")
    )
    report = load_file(plan_for(model, "nva_burvis"), path, model, db, KEY)
    message = failed(report, db, code="L202", row=1, column=None)
    assert "the file has no column 'Dzimums'" in message
    with pytest.raises(LoadError, match="no such file"):
        load_file(plan_for(model, "nva_burvis"), tmp_path / "absent.csv", model, db, KEY)


def test_truncated_parquet(db: Engine, model: Model, tmp_path: Path) -> None:
    path = tmp_path / "cut.parquet"
    data = (SAMPLES / "nva_burvis_2024.parquet").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    report = load_file(plan_for(model, "nva_burvis_parquet"), path, model, db, KEY)
    assert (
        report.status == "failed"
        and "error[L205]" in report.message
        and "nva_burvis_parquet" in report.message
    )
    assert "cut.parquet" in report.message


def test_parquet_typed_values_are_checked_too(db: Engine, model: Model, tmp_path: Path) -> None:
    """Typed Parquet columns (dates, small integers, dictionary-encoded text) are cast, not
    parsed, and checked the same way."""
    table = pq.read_table(SAMPLES / "nva_burvis_2024.parquet")

    def replace(name: str, i: int, value: Any, typ: Any) -> None:
        nonlocal table
        values = table.column(name).to_pylist()
        values[i] = value
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(values, typ))

    replace("duration_months", 3, 999, pa.int16())
    replace("snapshot_date", 5, None, pa.date32())
    replace("gender", 7, None, pa.dictionary(pa.int8(), pa.string()))
    path = tmp_path / "typed.parquet"
    pq.write_table(table, path)
    folder = spec_copy(tmp_path, "nva_burvis_parquet", **{"max_reject_share: 0.01": "max_reject_share: 0.1"})
    report = load_file(plan_for(model, "nva_burvis_parquet", folder), path, model, db, KEY)
    assert (report.status, report.rows_read, report.rows_rejected) == ("ok", 40, 3)
    assert report.reasons == {
        ("duration_months", "above the maximum 600"): 1,
        ("snapshot_date", "missing value"): 1,
        ("gender", "missing value"): 1,
    }
    assert {(e["row"], e["value"]) for e in report.examples} == {(4, "999"), (6, ""), (8, "")}


def test_loaders_command_reports_located_errors(tmp_path: Path) -> None:
    folder = spec_copy(tmp_path, "vdi", **{"{to: gender, from: Dzimums": "{to: gendr, from: Dzimums"})
    env = {"LABIS_MODEL_DIR": str(ROOT / "model"), "COLUMNS": "200"}
    result = CliRunner().invoke(app, ["loaders", str(folder)], env=env)
    assert result.exit_code == 1
    assert re.search(
        r"vdi\.yaml:\d+:\d+: error\[L103\] cube 'occupational_accidents' has no column 'gendr'", result.output
    )
    assert "nva_burvis: csv → unemployment" in result.output


def test_values_shaped_like_person_codes_are_masked_everywhere() -> None:
    from labis_olap.loaders.transform import mask_personal, safe_text
    from labis_olap.privacy import redact

    text = "010203-12345,010204-12345,01020512345 x 0102031234567"
    masked = "######-#####,######-#####,######-##### x 0102031234567"  # 13 digits: not a code
    assert redact(text) == masked
    assert safe_text(pa.array([text, "a" * 300])).to_pylist() == [masked, "a" * 200]
    assert mask_personal(pa.array(["010203-12345", "Jānis Bērziņš"])).to_pylist() == [
        "999999-99999",
        "XXXXX XXXXXXX",
    ]


@pytest.fixture()
def own_db(data_dir: Path, model: Model) -> Iterator[Engine]:
    """A database of its own: these tests damage the tables on purpose."""
    eng = make_engine("embedded", data_dir, fresh_database("lr"))
    apply_model(model, eng)
    yield eng
    eng.execute(f"DROP DATABASE IF EXISTS `{eng.database}`")


def test_a_rollup_that_missed_a_block_is_rebuilt_by_the_next_load(own_db: Engine, model: Model) -> None:
    """ClickHouse records a block's token before it commits the part, so a kill in between can
    lose a rollup's block for good; the next load sees the rollup out of step and rebuilds it."""
    plan = plan_for(model, "nva_burvis")
    load_file(plan, SAMPLES / "nva_burvis_2024.csv", model, own_db, KEY)
    layout = CubeLayout(model, plan.cube, own_db.database)
    lost = plan.cube.rollups[0]
    own_db.execute(f"TRUNCATE TABLE `{own_db.database}`.`{layout.rollup_table(lost)}`")
    assert totals(own_db, model, "unemployment") != facts_totals(own_db, model, "unemployment")
    report = load_file(
        plan_for(model, "nva_burvis_parquet"), SAMPLES / "nva_burvis_2024.parquet", model, own_db, KEY
    )
    assert report.status == "ok" and f"rebuilt rollup(s) {lost.name} " in report.message
    assert totals(own_db, model, "unemployment") == facts_totals(own_db, model, "unemployment")


def test_a_batch_whose_facts_lost_a_block_is_published_again(own_db: Engine, model: Model) -> None:
    """Facts short of the accepted rows after publishing (the same tokens would drop the lost
    block again): the batch is deleted and published under fresh tokens, rollups rebuilt."""
    plan = plan_for(model, "nva_burvis")
    first = load_file(plan, SAMPLES / "nva_burvis_2024.csv", model, own_db, KEY)
    clean = totals(own_db, model, "unemployment")
    db = f"`{own_db.database}`"
    own_db.execute(
        f"ALTER TABLE {db}.`facts_unemployment` DELETE WHERE _batch = {{b:String}} "
        "AND toMonth(snapshot_date) > 6 SETTINGS mutations_sync = 2",
        {"b": first.batch},
    )
    rec = store.latest(own_db, batch=first.batch)[0]
    running = store.LoadRecord(**{k: rec[k] for k in store.LoadRecord.__dataclass_fields__})
    running.status = "running"  # as a load killed while publishing leaves it
    store.record(own_db, running)
    again = load_file(plan, SAMPLES / "nva_burvis_2024.csv", model, own_db, KEY)
    assert again.status == "ok" and again.batch == first.batch
    assert batch_rows(own_db, "unemployment", first.batch) == 40
    assert totals(own_db, model, "unemployment") == clean == facts_totals(own_db, model, "unemployment")


def test_small_csv_blocks_are_joined_into_batches_in_order() -> None:
    """pyarrow parses small blocks (memory); the loader joins them into batches of at least the
    batch size, the rows in file order, the last batch the rest."""
    from labis_olap.loaders.read import _joined

    blocks = [pa.record_batch({"x": list(range(i, i + 3))}) for i in range(0, 12, 3)]
    joined = list(_joined(blocks, 5))
    assert [b.num_rows for b in joined] == [6, 6]
    assert [v for b in joined for v in b.column("x").to_pylist()] == list(range(12))
    assert [b.num_rows for b in _joined(blocks[:3], 5)] == [6, 3]
    assert list(_joined([], 5)) == []
