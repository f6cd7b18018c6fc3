"""The source kinds beyond CSV and Parquet, end to end into chDB: XLSX (a wide register unpivoted),
SQL through SQLAlchemy on real SQLite and a real PostgreSQL server (incremental by a watermark,
schema drift, secrets from the environment), JSON over a real HTTP server (next-link, page and
offset pagination), and the code crosswalk.

Totals are compared with an independent reading of the fixture (openpyxl for the workbook,
plain SQL on the source database, the JSON file); every load is repeated to show it is
idempotent. Each test gets its own chDB database (batches must not collide).
"""

from __future__ import annotations

import decimal
import json
import re
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openpyxl
import pg_server
import pytest
import sqlalchemy as sa
from conftest import fresh_database, make_engine
from test_loaders import KEY, LOADERS, SAMPLES, facts_totals, plan_for, spec_copy, totals
from typer.testing import CliRunner

from labis_olap.cli import app
from labis_olap.compiler.apply import apply_model
from labis_olap.engine.base import Engine
from labis_olap.errors import UserError
from labis_olap.loaders import store
from labis_olap.loaders.remote import fetch_http
from labis_olap.loaders.run import LoadReport, load_file, load_source
from labis_olap.loaders.spec import SpecError
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model

ROOT = Path(__file__).resolve().parent.parent
SQL_FIXTURE = SAMPLES / "vdi_accidents.sql"
PG_URL_LINE = "postgresql+psycopg://labis:${VDI_DB_PASSWORD}@${VDI_DB_HOST}/vdi"


@pytest.fixture(scope="module")
def model() -> Model:
    return read_model(ROOT / "model")


@pytest.fixture
def db(data_dir: Path, model: Model) -> Iterator[Engine]:
    eng = make_engine("embedded", data_dir, fresh_database("src"))
    apply_model(model, eng)
    yield eng
    eng.execute(f"DROP DATABASE IF EXISTS `{eng.database}`")


def batch_facts(db: Engine, cube: str, batch: str, *what: str) -> tuple[Any, ...]:
    """Aggregates over one batch's facts (default: its row count)."""
    cols = ", ".join(f"{w} AS c{i}" for i, w in enumerate(what or ("count()",)))
    sql = f"SELECT {cols} FROM `{db.database}`.`facts_{cube}` WHERE _batch = {{b:String}}"
    return tuple(db.query(sql, {"b": batch}).to_pylist()[0].values())


def assert_failed(db: Engine, report: LoadReport, code: str, *needles: str) -> None:
    """Failed with a located message, recorded in the lineage, nothing of it in the facts."""
    assert report.status == "failed", report.summary()
    assert f"error[{code}]" in report.message and report.source in report.message, report.message
    for needle in needles:
        assert needle in report.message, (needle, report.message)
    [rec] = store.latest(db, batch=report.batch)
    assert rec["status"] == "failed" and rec["message"] == report.message


# --- XLSX -----------------------------------------------------------------------------------------


def register_cells(path: Path) -> list[tuple[int, str, decimal.Decimal]]:
    """(sheet row, month header, amount) of every filled month cell, read with openpyxl."""
    ws = openpyxl.load_workbook(path, read_only=True)["Izmaksas 2024"]
    rows = list(ws.iter_rows(values_only=True))
    header = rows[3]
    months = [j for j, h in enumerate(header) if h and re.fullmatch(r"\w+ 2024", str(h))]
    return [
        (i + 1, str(header[j]), decimal.Decimal(str(row[j])))
        for i, row in enumerate(rows[4:], start=4)
        for j in months
        if row[j] is not None
    ]


def test_xlsx_wide_register_is_unpivoted_and_loads_once(db: Engine, model: Model) -> None:
    path = SAMPLES / "spolis_2024.xlsx"
    cells = register_cells(path)
    assert 40 < len(cells) < 12 * 12  # some months empty: no payment, no row
    report = load_file(plan_for(model, "spolis_xlsx"), path, model, db, KEY)
    assert (report.status, report.rows_read, report.rows_accepted) == ("ok", len(cells), len(cells))
    got = batch_facts(db, "social_assistance", report.batch, "count()", "sum(amount)", "uniqExact(person)")
    assert got[0] == len(cells) and decimal.Decimal(str(got[1])) == sum(c[2] for c in cells)
    assert got[2] == 12  # one recipient per row, whether the code was written with a hyphen or not
    by_month = db.query(
        f"SELECT toMonth(payment_date) AS m, count() AS n FROM `{db.database}`.facts_social_assistance "
        "WHERE _batch = {b:String} GROUP BY m ORDER BY m",
        {"b": report.batch},
    ).to_pylist()
    months = ["janvāris", "februāris", "marts", "aprīlis", "maijs", "jūnijs", "jūlijs", "augusts",
              "septembris", "oktobris", "novembris", "decembris"]  # fmt: skip
    want = [(months.index(h.split()[0]) + 1) for _, h, _ in cells]
    assert by_month == [{"m": m, "n": want.count(m)} for m in sorted(set(want))]
    assert totals(db, model, "social_assistance") == facts_totals(db, model, "social_assistance")
    again = load_file(plan_for(model, "spolis_xlsx"), path, model, db, KEY)
    assert again.status == "skipped" and batch_facts(db, "social_assistance", report.batch) == (len(cells),)


def edited_register(tmp_path: Path, name: str, edit: Any) -> Path:
    wb = openpyxl.load_workbook(SAMPLES / "spolis_2024.xlsx")
    edit(wb["Izmaksas 2024"])
    path = tmp_path / name
    wb.save(path)
    return path


def test_xlsx_bad_cells_are_rejects_located_by_row_and_header(
    db: Engine, model: Model, tmp_path: Path
) -> None:
    def edit(ws: Any) -> None:
        ws["G5"] = "n/a"  # janvāris 2024 of the first recipient
        ws["H7"] = -5  # februāris 2024, row 7: below the minimum
        ws["I6"] = None  # an emptied cell is no payment, not a reject

    path = edited_register(tmp_path, "edited.xlsx", edit)
    folder = spec_copy(tmp_path, "spolis_xlsx", **{"max_reject_share: 0.01": "max_reject_share: 0.5"})
    report = load_file(plan_for(model, "spolis_xlsx", folder), path, model, db, KEY)
    assert report.status == "ok" and report.rows_rejected == 2
    rejects = db.query(
        f"SELECT row, `column`, value, reason FROM `{db.database}`.rejects "
        "WHERE batch = {b:String} ORDER BY row",
        {"b": report.batch},
    ).to_pylist()
    assert rejects == [
        {"row": 5, "column": "janvāris 2024", "value": "n/a", "reason": "not a number (decimal mark '.')"},
        {"row": 7, "column": "februāris 2024", "value": "-5", "reason": "below the minimum 0.0"},
    ]


def test_xlsx_unreadable_workbooks_fail_with_located_messages(
    db: Engine, model: Model, tmp_path: Path
) -> None:
    import msoffcrypto.format.ooxml

    plan = plan_for(model, "spolis_xlsx")
    locked = tmp_path / "locked.xlsx"
    with (SAMPLES / "spolis_2024.xlsx").open("rb") as fh, locked.open("wb") as out:
        msoffcrypto.format.ooxml.OOXMLFile(fh).encrypt("slepens", out)
    assert_failed(db, load_file(plan, locked, model, db, KEY), "L206", "locked.xlsx", "password-protected")
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes((SAMPLES / "spolis_2024.xlsx").read_bytes()[:3000])
    assert_failed(
        db, load_file(plan, cut, model, db, KEY), "L206", "cut.xlsx", "not a readable XLSX workbook"
    )

    folder = spec_copy(tmp_path, "spolis_xlsx", **{"sheet: Izmaksas 2024": "sheet: Izmaksas 2042"})
    report = load_file(plan_for(model, "spolis_xlsx", folder), SAMPLES / "spolis_2024.xlsx", model, db, KEY)
    assert_failed(db, report, "L207", "there is no sheet 'Izmaksas 2042'", "'Piezīmes', 'Izmaksas 2024'")
    assert "(hint: did you mean 'Izmaksas 2024'?)" in report.message


def test_xlsx_header_that_does_not_match_the_spec(db: Engine, model: Model, tmp_path: Path) -> None:
    plan = plan_for(model, "spolis_xlsx")
    moved = edited_register(tmp_path, "moved.xlsx", lambda ws: ws.insert_rows(1))  # header now on row 5
    assert_failed(
        db,
        load_file(plan, moved, model, db, KEY),
        "L202",
        "moved.xlsx:4:",
        "has no column 'Personas kods' in row 4",
    )
    renamed = edited_register(tmp_path, "renamed.xlsx", lambda ws: ws.cell(4, 19, "Kopā EUR"))
    assert_failed(
        db,
        load_file(plan, renamed, model, db, KEY),
        "L208",
        "renamed.xlsx:4:",
        "sheet 'Izmaksas 2024', column S: header 'Kopā EUR' is not an id column",
    )


# --- SQL: SQLite and PostgreSQL ----------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[pg_server.PgServer]:
    server = pg_server.start()
    yield server
    server.stop()


class SourceDb:
    """The VDI case database on one engine, filled from the fixture, and the spec pointing at it."""

    def __init__(self, url: str, spec_url: str, env: dict[str, str], folder: Path) -> None:
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.env = env
        self.folder = spec_copy(folder, "vdi_db", **{PG_URL_LINE: spec_url})
        with self.engine.begin() as conn:
            for statement in SQL_FIXTURE.read_text(encoding="utf-8").split(";\n"):
                if statement.strip():
                    conn.exec_driver_sql(statement)

    def run(self, sql: str) -> Any:
        with self.engine.begin() as conn:
            result = conn.exec_driver_sql(sql)
            return result.fetchall() if result.returns_rows else []

    def closed_totals(self) -> tuple[int, int]:
        """Independent of the loader: what the facts must hold."""
        [(n, days)] = self.run("SELECT count(*), sum(days_lost) FROM accidents WHERE status = 'closed'")
        return int(n), int(days)


@pytest.fixture(params=["sqlite", "postgresql"])
def source_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SourceDb]:
    if request.param == "sqlite":
        path = tmp_path / "vdi.sqlite"
        yield SourceDb(f"sqlite:///{path}", f"sqlite:///{path}", {}, tmp_path)
        return
    server = request.getfixturevalue("postgres")
    name = fresh_database("vdi")
    server.psql(f"CREATE DATABASE {name} OWNER {server.user}")
    env = {"VDI_DB_PASSWORD": server.password, "VDI_DB_HOST": f"127.0.0.1:{server.port}"}
    yield SourceDb(server.url(name), PG_URL_LINE.replace("/vdi", f"/{name}"), env, tmp_path)
    server.psql(f"DROP DATABASE {name} WITH (FORCE)")


def test_sql_loads_incrementally_by_watermark(db: Engine, model: Model, source_db: SourceDb) -> None:
    plan = plan_for(model, "vdi_db", source_db.folder)

    def load() -> LoadReport:
        return load_source(plan, model, db, None, environ=source_db.env, chunk_rows=7)

    def facts() -> tuple[int, int]:
        sql = f"SELECT count() AS n, sum(days_lost) AS d FROM `{db.database}`.facts_occupational_accidents"
        got = db.query(sql).to_pylist()[0]
        return int(got["n"]), int(got["d"] or 0)

    first = load()
    assert (first.status, first.rows_read, first.rows_accepted) == ("ok", 40, 40), first.summary()
    assert facts() == source_db.closed_totals()
    assert first.file.endswith(" [id ≤ 40]")
    nothing = load()
    assert (nothing.status, nothing.batch) == (
        "skipped",
        "",
    ) and "nothing new above id 40" in nothing.summary()

    source_db.run("UPDATE accidents SET status = 'closed' WHERE id IN (41, 43, 44)")  # cases closed since
    second = load()
    assert (second.status, second.rows_read) == ("ok", 3) and second.batch != first.batch
    assert second.file.endswith(" [40 < id ≤ 44]")
    assert facts() == source_db.closed_totals()
    assert totals(db, model, "occupational_accidents") == facts_totals(db, model, "occupational_accidents")

    # A run interrupted while publishing (its rows partly visible, status still `running`) is
    # fetched again over its own range, gets the same id, and its re-sent chunks are dropped.
    rec = store.latest(db, batch=second.batch)[0]
    crashed = store.LoadRecord(**{k: rec[k] for k in store.LoadRecord.__dataclass_fields__})
    crashed.status = "running"
    store.record(db, crashed)
    source_db.run("UPDATE accidents SET status = 'closed' WHERE id = 45")
    redo = load()
    assert (redo.status, redo.batch, redo.rows_read) == ("ok", second.batch, 3)
    assert facts() != source_db.closed_totals()  # id 45 waits for the next run
    third = load()
    assert (third.status, third.rows_read) == ("ok", 1) and facts() == source_db.closed_totals()
    assert load().status == "skipped" and facts() == source_db.closed_totals()
    assert totals(db, model, "occupational_accidents") == facts_totals(db, model, "occupational_accidents")


def test_sql_schema_drift_fails_and_loads_nothing(db: Engine, model: Model, source_db: SourceDb) -> None:
    plan = plan_for(model, "vdi_db", source_db.folder)
    assert load_source(plan, model, db, None, environ=source_db.env).status == "ok"
    before = totals(db, model, "occupational_accidents")
    if source_db.engine.dialect.name == "postgresql":
        source_db.run("ALTER TABLE accidents ALTER COLUMN days_lost TYPE text USING days_lost || ' d'")
        source_db.run("UPDATE accidents SET status = 'closed' WHERE id = 41")
        report = load_source(plan, model, db, None, environ=source_db.env)
        assert_failed(
            db, report, "L210", "column 'days_lost'", "the values are text now, number at the last load"
        )
        assert totals(db, model, "occupational_accidents") == before
    source_db.run("ALTER TABLE accidents RENAME COLUMN nace_section TO nace_sect")
    # The shipped query names its columns: the database itself says which one is gone.
    report = load_source(plan, model, db, None, environ=source_db.env)
    assert_failed(db, report, "L209", "vdi_db", "the query failed", "nace_section")
    # A query that takes whatever the table has: the loader finds the column missing.
    shipped = (LOADERS / "vdi_db.yaml").read_text(encoding="utf-8")
    query = shipped[shipped.index("SELECT a.id") : shipped.index("  watermark:")]
    folder = spec_copy(source_db.folder.parent, "vdi_db", **{query: "SELECT * FROM accidents -- all\n"})
    report = load_source(plan_for(model, "vdi_db", folder), model, db, None, environ=source_db.env)
    assert_failed(
        db, report, "L210", "column 'nace_section'", "the query has no column", "did you mean 'nace_sect'?"
    )
    assert totals(db, model, "occupational_accidents") == before


def test_sql_secrets_come_from_the_environment_and_stay_out_of_messages(
    db: Engine, model: Model, postgres: pg_server.PgServer, tmp_path: Path
) -> None:
    folder = spec_copy(tmp_path, "vdi_db", **{"@${VDI_DB_HOST}/vdi": f"@127.0.0.1:{postgres.port}/vdi"})
    plan = plan_for(model, "vdi_db", folder)
    with pytest.raises(UserError, match="environment variable VDI_DB_PASSWORD is not set"):
        load_source(plan, model, db, None, environ={})
    wrong = "not-the-password-4711"
    report = load_source(plan, model, db, None, environ={"VDI_DB_PASSWORD": wrong})
    assert_failed(db, report, "L209", "password authentication failed")
    assert wrong not in report.message and wrong not in report.file
    assert report.file.startswith("postgresql+psycopg://labis:***@127.0.0.1")


def test_sql_source_from_the_command_line(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "vdi.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SQL_FIXTURE.read_text(encoding="utf-8"))
    folder = spec_copy(tmp_path, "vdi_db", **{PG_URL_LINE: f"sqlite:///{path}"})
    database = fresh_database("srccli")
    env = {
        "LABIS_DATA_DIR": str(data_dir),
        "LABIS_DATABASE": database,
        "LABIS_MODEL_DIR": str(ROOT / "model"),
        "LABIS_LOADERS_DIR": str(folder),
        "COLUMNS": "200",
    }
    runner = CliRunner()
    try:
        first = runner.invoke(app, ["load", "vdi_db"], env=env)
        assert first.exit_code == 0 and "ok vdi_db: sqlite:///" in first.output, first.output
        again = runner.invoke(app, ["load", "vdi_db"], env=env)
        assert again.exit_code == 0 and "nothing new above id 40" in again.output, again.output
        files = runner.invoke(app, ["load", "vdi_db", str(path)], env=env)
        assert files.exit_code == 1 and "takes no files" in files.output
        none = runner.invoke(app, ["load", "vdi"], env={**env, "LABIS_LOADERS_DIR": str(LOADERS)})
        assert none.exit_code == 1 and "reads csv files: name them" in none.output
    finally:
        make_engine("embedded", data_dir, database).execute(f"DROP DATABASE IF EXISTS `{database}`")


# --- JSON over HTTP ----------------------------------------------------------------------------


class Api:
    """A small JSON API in a thread: the VDEĀVK records, paged three ways, behind a token."""

    TOKEN = "api-token-0815"

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.requests: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                api.requests.append(self.path)
                url = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                if self.headers.get("Authorization") != f"Bearer {api.TOKEN}":
                    return self.send(401, {"error": "unauthorized"})
                size = int(q.get("per_page", q.get("limit", "15")))
                if url.path == "/v1/decisions":  # next link in the body
                    start = int(q.get("cursor", "0"))
                    body: dict[str, Any] = {"data": api.records[start : start + size], "links": {}}
                    if start + size < len(api.records):
                        body["links"]["next"] = (
                            f"/v1/decisions?year=2024&cursor={start + size}&per_page={size}"
                        )
                elif url.path == "/v1/by-page":  # ?page=1, 2, … until an empty page
                    start = (int(q["page"]) - 1) * size
                    body = {"data": api.records[start : start + size]}
                elif url.path == "/v1/by-offset":  # ?offset=0, 15, … until an empty page
                    body = {"data": api.records[int(q["offset"]) : int(q["offset"]) + size]}
                else:
                    return self.send(404, {"error": "not found"})
                self.send(200, body)

            def send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.env = {"VDEAVK_API_URL": self.url, "VDEAVK_API_TOKEN": self.TOKEN}
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def api() -> Iterator[Api]:
    served = Api(json.loads((SAMPLES / "vdeavk_api.json").read_text(encoding="utf-8")))
    yield served
    served.server.shutdown()
    served.server.server_close()


def test_http_next_link_pages_load_once(db: Engine, model: Model, api: Api) -> None:
    plan = plan_for(model, "vdeavk_api")
    report = load_source(plan, model, db, KEY, environ=api.env)
    assert (report.status, report.rows_read, report.rows_accepted) == ("ok", 40, 40), report.summary()
    assert len(api.requests) == 2 and "per_page=20" in api.requests[0]  # 20 + 20 records
    assert report.file == f"{api.url}/v1/decisions"  # no query string, no token
    got = batch_facts(
        db, "disability", report.batch, "count()", "uniqExact(person)", "countIf(disability_group = 'CH')"
    )
    persons = {r["person"]["code"] for r in api.records}
    children = sum(r["group"] == "child" for r in api.records)
    assert got == (40, len(persons), children)
    assert totals(db, model, "disability") == facts_totals(db, model, "disability")
    again = load_source(plan, model, db, KEY, environ=api.env)
    assert (again.status, again.batch) == ("skipped", report.batch)
    api.records[0]["assessment"] = "repeat" if api.records[0]["assessment"] == "first" else "first"
    with pytest.raises(UserError, match=f"the result differs from batch {report.batch}"):
        load_source(plan, model, db, KEY, environ=api.env)


@pytest.mark.parametrize(("style", "path", "requests"), [("page", "by-page", 4), ("offset", "by-offset", 4)])
def test_http_page_and_offset_pagination_read_until_an_empty_page(
    model: Model, api: Api, tmp_path: Path, style: str, path: str, requests: int
) -> None:
    folder = spec_copy(
        tmp_path,
        "vdeavk_api",
        **{
            "/v1/decisions?year=2024": f"/v1/{path}",
            "{style: next_link, next: links.next, size_param: per_page, size: 20}": (
                f"{{style: {style}, param: {style}}}"
            ),
        },
    )
    fetched = fetch_http(plan_for(model, "vdeavk_api", folder), tmp_path, api.env)
    assert fetched.rows == 40 and len(api.requests) == requests  # 15 + 15 + 10, then an empty page
    first = json.loads(json.dumps(api.records[0]))
    assert first["person"]["code"] not in json.dumps(fetched.kinds)


def test_http_errors_fail_with_messages_and_lineage(
    db: Engine, model: Model, api: Api, tmp_path: Path
) -> None:
    plan = plan_for(model, "vdeavk_api")
    report = load_source(plan, model, db, KEY, environ={**api.env, "VDEAVK_API_TOKEN": "wrong"})
    assert_failed(db, report, "L209", "HTTP 401", "/v1/decisions")
    assert "wrong" not in report.message
    folder = spec_copy(tmp_path, "vdeavk_api", **{"records: data": "records: items"})
    report = load_source(plan_for(model, "vdeavk_api", folder), model, db, KEY, environ=api.env)
    assert_failed(db, report, "L211", "page 1: no 'items' in the response")
    folder = spec_copy(
        tmp_path, "vdeavk_api", **{"records: items": "records: data", "from: group,": "from: grup,"}
    )
    report = load_source(plan_for(model, "vdeavk_api", folder), model, db, KEY, environ=api.env)
    assert_failed(db, report, "L210", "column 'grup'", "no record has the field 'grup'")


# --- specs of the new kinds ----------------------------------------------------------------------


def test_new_kinds_validate_with_located_errors(model: Model, tmp_path: Path) -> None:
    folder = spec_copy(
        tmp_path,
        "vdi_db",
        **{"  watermark: id\n": "  watermark: id\noptions: {sheet: 2}\n", "${VDI_DB_HOST}": "${VDI DB HOST}"},
    )
    spec_copy(
        tmp_path,
        "spolis_xlsx",
        **{"from: Mēnesis,": "from: Menesis,", "date_format: MMMM YYYY": "date_format: MMMM MM"},
    )
    spec_copy(tmp_path, "vdeavk_api", **{"{style: next_link, next: links.next,": "{style: next_link,"})
    with pytest.raises(SpecError) as info:
        plan_for(model, "vdi_db", folder)
    assert re.search(
        r"vdi_db\.yaml:\d+:\d+: error\[L107\] option 'sheet' applies to xlsx sources only",
        info.value.rendered,
    )
    assert "error[L107] '${VDI DB HOST}' is not an environment variable name" in info.value.rendered
    with pytest.raises(SpecError) as info:
        plan_for(model, "spolis_xlsx", folder)
    text = info.value.rendered
    assert "error[L112] 'Menesis' is not a column of the unpivoted table" in text
    assert "hint: did you mean 'Mēnesis'?" in text
    assert "a date format needs YYYY and one of MM or MMMM" in text
    with pytest.raises(SpecError) as info:
        plan_for(model, "vdeavk_api", folder)
    assert "error[L003] pagination style next_link needs 'next'" in info.value.rendered


# --- the code crosswalk ------------------------------------------------------------------------


def test_crosswalk_maps_pre_2021_codes_before_the_membership_check(
    db: Engine, model: Model, tmp_path: Path
) -> None:
    """Old republic-city and novads codes become today's local governments; an old novads left
    unmapped on purpose (split between two new ones) is a visible reject, never a guess."""
    plan = plan_for(model, "vdi")
    crosswalk = plan.column("municipality").mapping
    members = plan.column("municipality").members
    assert len(crosswalk) == 116 and not set(crosswalk) & members  # no current code is remapped
    assert set(crosswalk.values()) <= members
    codes = {"0010000": "0001000", "0604300": "0042000", "0804900": "0039000", "0701800": "0055000"}
    header = "Negadījuma datums,ATVK,NACE sadaļa,Dzimums,Vecuma grupa,Smagums,Darba nespējas dienas"
    rows = [f"2024-03-0{i + 1},{old},C,V,25-34,viegls,{i}" for i, old in enumerate([*codes, "0806900"])]
    path = tmp_path / "old_codes.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    folder = spec_copy(tmp_path, "vdi", **{"max_reject_share: 0.02": "max_reject_share: 0.5"})
    report = load_file(plan_for(model, "vdi", folder), path, model, db, None)
    assert (report.status, report.rows_accepted, report.rows_rejected) == ("ok", 4, 1)
    got = db.query(
        f"SELECT municipality AS m FROM `{db.database}`.facts_occupational_accidents "
        "WHERE _batch = {b:String} ORDER BY days_lost",
        {"b": report.batch},
    )
    assert got.column("m").to_pylist() == list(codes.values())
    assert report.reasons == {("ATVK", "not a member of dimension 'territory'"): 1}


def test_xlsx_long_table_gives_the_same_facts_as_its_csv(db: Engine, model: Model, tmp_path: Path) -> None:
    """A plain sheet (one record per row, real date cells, numbers as Excel numbers) against the
    same records as CSV."""
    import csv
    import datetime as dt

    with (SAMPLES / "vdi_2024.csv").open(encoding="utf-8") as fh:
        records = list(csv.reader(fh))
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "NG"
    ws.append(["VDI nelaimes gadījumi 2024"])
    ws.append(records[0])
    for r in records[1:]:
        ws.append([dt.date.fromisoformat(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6])])
    path = tmp_path / "vdi.xlsx"
    wb.save(path)
    folder = spec_copy(
        tmp_path,
        "vdi",
        **{'kind: csv\noptions:\n  delimiter: ","\n': "kind: xlsx\noptions:\n  header_row: 2\n"},
    )
    as_xlsx = load_file(plan_for(model, "vdi", folder), path, model, db, None)
    as_csv = load_file(plan_for(model, "vdi"), SAMPLES / "vdi_2024.csv", model, db, None)
    assert as_xlsx.status == as_csv.status == "ok" and as_xlsx.rows_accepted == as_csv.rows_accepted == 40
    what = ("count()", "sum(days_lost)", "groupArraySorted(100)((accident_date, municipality, severity))")
    assert batch_facts(db, "occupational_accidents", as_xlsx.batch, *what) == batch_facts(
        db, "occupational_accidents", as_csv.batch, *what
    )
