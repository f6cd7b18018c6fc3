"""The `labis` command, driven in-process with typer's CliRunner.

chDB allows one data directory per process, so every command that opens an engine gets the
session `data_dir` (as `--data-dir` and as LABIS_DATA_DIR, so that nothing can fall back to
./var/labis) and its own database through LABIS_DATABASE. The demo data set is loaded once per
module by `labis demo`; the query tests read it.

Whatever the command and however it fails, the user never sees a Python traceback.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ANALYST, fresh_database, make_engine
from typer.testing import CliRunner, Result

from labis_olap.cli import app
from labis_olap.engine.base import Engine
from labis_olap.model.cuts import Drilldown, PointCut
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.query.cell import CubeQuery
from labis_olap.service import CubeService

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "model"
DEMO_ROWS = 20_000
WIDE = "200"
"""Terminal width for commands that print tables (rich wraps to the width it detects)."""

RUNNER = CliRunner()


def _env(monkeypatch: pytest.MonkeyPatch, data_dir: Path, database: str, columns: str = WIDE) -> None:
    monkeypatch.setenv("LABIS_DATABASE", database)
    monkeypatch.setenv("LABIS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("LABIS_MODEL_DIR", str(MODEL_DIR))
    monkeypatch.setenv("COLUMNS", columns)
    for name in ("LABIS_CLICKHOUSE_URL", "LABIS_CLUSTER", "LABIS_DEBUG"):
        monkeypatch.delenv(name, raising=False)


def run(*args: str, code: int = 0) -> Result:
    """Invoke `labis ARGS`; check the exit code and that no traceback leaked out."""
    result = RUNNER.invoke(app, list(args))
    shown = f"labis {' '.join(args)} → exit {result.exit_code}\n{result.output}"
    assert "Traceback" not in result.output, shown
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(shown) from result.exception
    assert result.exit_code == code, shown
    return result


def database_exists(data_dir: Path, name: str) -> bool:
    probe = make_engine("embedded", data_dir, fresh_database("probe"))
    try:
        found = probe.query("SELECT count() AS n FROM system.databases WHERE name = {n:String}", {"n": name})
        return bool(found.column("n")[0].as_py())
    finally:
        probe.execute(f"DROP DATABASE IF EXISTS `{probe.database}`")


def drop(data_dir: Path, name: str) -> None:
    eng = make_engine("embedded", data_dir, name)
    eng.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(scope="module")
def model() -> Model:
    return read_model(MODEL_DIR)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[str]:
    """A fresh database name in LABIS_DATABASE (not created: the command under test does that)."""
    name = fresh_database("cli")
    _env(monkeypatch, data_dir, name)
    yield name
    drop(data_dir, name)


@pytest.fixture(scope="module")
def demo(data_dir: Path) -> Iterator[tuple[str, Result]]:
    """`labis demo --rows 20000 --no-query` into a database of its own, once per module."""
    name = fresh_database("clidemo")
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, data_dir, name)
        result = run("demo", "--rows", str(DEMO_ROWS), "--no-query", "--data-dir", str(data_dir))
    yield name, result
    drop(data_dir, name)


@pytest.fixture
def demo_env(demo: tuple[str, Result], monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> str:
    _env(monkeypatch, data_dir, demo[0])
    return demo[0]


@pytest.fixture
def demo_engine(demo_env: str, data_dir: Path) -> Engine:
    """The demo database, opened directly (to compare the CLI with the Browser)."""
    return make_engine("embedded", data_dir, demo_env)


def broken_model(tmp_path: Path) -> tuple[Path, int, int, str]:
    """A copy of the model with a rollup naming a dimension the cube lacks ('gendr').

    Returns the folder, the line and column of the bad name, and that source line.
    """
    root = tmp_path / "model"
    shutil.copytree(MODEL_DIR, root)
    cube = root / "cubes" / "unemployment.yaml"
    lines = cube.read_text(encoding="utf-8").splitlines(keepends=True)
    target = "    grain: {territory: region, time: quarter}\n"
    i = lines.index(target)
    lines[i] = "    grain: {territory: region, time: quarter, gendr: gender}\n"
    cube.write_text("".join(lines), encoding="utf-8")
    return root, i + 1, lines[i].index("gendr") + 1, lines[i].rstrip("\n")


def labels_en(model: Model, region_codes: set[str]) -> set[str]:
    return {str(r["region_en"]) for r in model.members["territory"] if str(r["region_code"]) in region_codes}


# --- validate ---------------------------------------------------------------------------------


def test_validate_real_model(model: Model) -> None:
    result = run("validate", str(MODEL_DIR))
    rollups = sum(len(c.rollups) for c in model.cubes.values())
    counts = (
        f"{len(model.dimensions)} dimensions, {len(model.cubes)} cubes, {rollups} rollups, "
        f"{len(model.indicators)} indicators"
    )
    assert counts in result.output
    assert result.output.startswith("ok ")
    assert (len(model.dimensions), len(model.cubes)) == (9, 5)


@pytest.mark.parametrize("columns", ["80", WIDE])
def test_validate_broken_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path, columns: str
) -> None:
    """The located diagnostic, one line per part, whatever the terminal width (80 when piped)."""
    root, line, col, source = broken_model(tmp_path)
    database = fresh_database("clibroken")
    _env(monkeypatch, data_dir, database, columns)
    lines = run("validate", str(root), code=1).output.splitlines()
    head = f"{root / 'cubes' / 'unemployment.yaml'}:{line}:{col}: error[E103] "
    at = next((i for i, text in enumerate(lines) if text.startswith(head)), None)
    assert at is not None, lines
    assert lines[at] == head + "unknown dimension 'gendr' in rollup 'by_region_quarter'"
    assert lines[at + 1] == "  " + source
    assert lines[at + 2] == "  " + " " * (col - 1) + "^"
    assert lines[at + 3] == "  hint: did you mean 'gender'?"
    assert "1 error(s)" in lines

    # apply refuses the same model before it opens the engine: the database never appears.
    applied = run("apply", "--model", str(root), "--data-dir", str(data_dir), code=1)
    assert head in applied.output
    assert not database_exists(data_dir, database)


# --- compile and apply --------------------------------------------------------------------------


def test_compile_prints_ddl() -> None:
    ddl = run("compile", str(MODEL_DIR)).stdout
    assert "CREATE TABLE IF NOT EXISTS `labis`.`facts_unemployment`" in ddl
    assert "CREATE MATERIALIZED VIEW" in ddl
    assert "AggregatingMergeTree" in ddl
    assert "ON CLUSTER" not in ddl


def test_compile_on_cluster() -> None:
    ddl = run("compile", str(MODEL_DIR), "--cluster", "c1", "--database", "stats").stdout
    assert "CREATE DATABASE IF NOT EXISTS `stats` ON CLUSTER `c1`" in ddl
    assert "Replicated" in ddl
    assert "Distributed(" in ddl
    creates = [s for s in ddl.split(";\n") if "CREATE" in s]
    assert creates
    assert all("ON CLUSTER `c1`" in s for s in creates), [s for s in creates if "ON CLUSTER" not in s][:1]


def test_compile_broken_model(tmp_path: Path) -> None:
    root, line, col, _ = broken_model(tmp_path)
    result = run("compile", str(root), code=1)
    assert f":{line}:{col}: error[E103]" in result.output
    assert "CREATE" not in result.stdout


def test_apply_twice(env: str, data_dir: Path) -> None:
    first = run("apply", "--data-dir", str(data_dir))
    assert re.search(r"applied \d+ change\(s\)", first.output), first.output
    second = run("apply", "--data-dir", str(data_dir))
    assert "up to date" in second.output
    assert "applied" not in second.output
    assert database_exists(data_dir, env)


def test_drop_says_what_goes_and_needs_yes(env: str, data_dir: Path, tmp_path: Path) -> None:
    run("apply", "--data-dir", str(data_dir))
    asked = run("drop", "unemployment", "--data-dir", str(data_dir), code=1)
    assert "cube unemployment:" in asked.output and "facts_unemployment" in asked.output, asked.output
    assert "labis drop unemployment --yes" in asked.output
    assert "not dropped" in asked.output
    typo = run("drop", "unemploymnet", "--data-dir", str(data_dir), code=1)
    assert "did you mean 'unemployment'?" in typo.output
    done = run("drop", "unemployment", "--yes", "--data-dir", str(data_dir))
    assert "dropped cube unemployment" in done.output, done.output
    again = run("drop", "unemployment", "--yes", "--data-dir", str(data_dir))
    assert "nothing to drop" in again.output
    assert re.search(r"applied \d+ change\(s\)", run("apply", "--data-dir", str(data_dir)).output)


# --- demo ----------------------------------------------------------------------------------------


def test_demo_loads_and_reports_speed(demo: tuple[str, Result], data_dir: Path) -> None:
    name, result = demo
    assert re.search(
        r"loaded 20,000 facts in \d+\.\d s \([\d,]+ rows/s\) with every rollup live", result.output
    )
    assert "Registered unemployed at year end" not in result.output  # --no-query
    eng = make_engine("embedded", data_dir, name)
    n = eng.query(f"SELECT count() AS n FROM `{name}`.`facts_unemployment`").column("n")[0].as_py()
    assert 0 < n < DEMO_ROWS


def test_demo_rejects_row_count(env: str, data_dir: Path) -> None:
    result = run("demo", "--rows", "10", "--data-dir", str(data_dir), code=1)
    assert "--rows must be between" in result.output


def test_demo_does_not_wipe_loaded_batches_without_yes(
    env: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch loaded with `labis load` is not replaced (facts and lineage) by a demo unasked."""
    monkeypatch.setenv("LABIS_PSEUDONYM_KEY", "cli-test-key-0123456789")
    monkeypatch.setenv("LABIS_LOADERS_DIR", str(ROOT / "loaders"))
    sample = ROOT / "tests" / "fixtures" / "loaders" / "nva_burvis_2024.csv"
    run("load", "nva_burvis", str(sample), "--data-dir", str(data_dir))
    refused = run("demo", "--rows", "1000", "--no-query", "--data-dir", str(data_dir), code=1)
    text = " ".join(refused.output.split())
    assert f"the database {env} holds 1 batch(es) loaded with `labis load` (1 ok)" in text, text
    assert "pass --yes to wipe them" in text
    loads = run("loads", "--data-dir", str(data_dir))
    assert "nva_burvis_2024.csv" in loads.output and "1 batch(es)" in loads.output
    wiped = run("demo", "--rows", "1000", "--no-query", "--yes", "--data-dir", str(data_dir))
    assert "wiping 1 loaded batch(es) and their lineage (--yes)" in wiped.output
    assert "0 batch(es)" in run("loads", "--data-dir", str(data_dir)).output


def test_a_held_data_dir_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Held by a program that is no LabIS server: who holds it and what to do, nothing from chDB."""
    held = tmp_path / "held"
    held.mkdir()
    script = (
        "import sys, time, chdb; c = chdb.connect(sys.argv[1]); print('holding', flush=True); time.sleep(60)"
    )
    program = subprocess.Popen([sys.executable, "-c", script, str(held)], stdout=subprocess.PIPE, text=True)
    try:
        assert program.stdout is not None and program.stdout.readline().strip() == "holding"
        _env(monkeypatch, held, "labis")
        for args in (["loads"], ["query", "unemployment"], ["check"], ["apply"], ["demo", "--rows", "1000"]):
            text = " ".join(run(*args, code=1).output.split())
            assert f"another process (pid {program.pid}: {sys.executable} -c import sys" in text, text
            assert "hint: wait for it to finish or stop it" in text and "Code:" not in text, text
    finally:
        program.kill()
        program.wait(timeout=30)


# --- query ---------------------------------------------------------------------------------------


def region_table(output: str) -> dict[str, str]:
    """Label → value from the rows of a one-measure table printed by `labis query`."""
    out = {}
    for text in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", text) if c.strip()]
        if len(cells) == 2 and re.fullmatch(r"[\d,.]+|–", cells[1]):
            out[cells[0]] = cells[1]
    return out


def test_query_regions(demo_env: str, demo_engine: Engine, model: Model, data_dir: Path) -> None:
    result = run(
        "query", "unemployment", "--drilldown", "territory:region", "--cut", "time:2024",
        "-M", "registered_unemployed", "--lang", "en", "--data-dir", str(data_dir),
    )  # fmt: skip
    service = CubeService(model, demo_engine)
    q = CubeQuery(
        "unemployment", ("registered_unemployed",), (PointCut("time", ("2024",)),),
        (Drilldown("territory", None, "region"),), lang="en",
    )  # fmt: skip
    expected = service.aggregate(q, ANALYST)
    rows = expected.cells.to_pylist()
    assert len(rows) == 5
    assert {r["territory.region_label"] for r in rows} == labels_en(
        model, {"LV005", "LV009", "LV00A", "LV00B", "LV00C"}
    )
    table = region_table(result.output)
    for r in rows:
        assert table[r["territory.region_label"]] == f"{r['registered_unemployed']:,}"
    assert expected.summary is not None
    assert table["total"] == f"{expected.summary['registered_unemployed']:,}"
    assert f"5 cell(s) from {expected.source}" in result.output
    assert "(2021–2023)" not in result.output


def test_query_limit_says_how_many_cells_of_how_many(demo_env: str, data_dir: Path) -> None:
    args = ["query", "unemployment", "--drilldown", "territory:municipality", "-M", "persons"]
    every = run(*args, "--data-dir", str(data_dir))
    total = int(re.search(r"([\d,]+) cell\(s\) from", every.output).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert total > 5
    limited = run(*args, "--limit", "5", "--data-dir", str(data_dir))
    assert f"5 of {total:,} cells from " in limited.output
    assert len([ln for ln in limited.output.splitlines() if ln.startswith("│")]) == 5 + 1  # + total


def test_query_as_of_now(demo_env: str, demo_engine: Engine, model: Model, data_dir: Path) -> None:
    """2023 in today's regions: no 2021–2023 region (Pierīga) is left."""
    as_fact = run(
        "query", "unemployment", "--drilldown", "territory:region", "--cut", "time:2023",
        "-M", "new_registrations", "--lang", "en", "--data-dir", str(data_dir),
    )  # fmt: skip
    now = run(
        "query", "unemployment", "--drilldown", "territory:region", "--cut", "time:2023",
        "-M", "new_registrations", "--lang", "en", "--as-of", "now", "--data-dir", str(data_dir),
    )  # fmt: skip
    assert "Pieriga statistical region (2021–2023)" in as_fact.output
    assert "(2021–2023)" not in now.output
    current = labels_en(model, {"LV005", "LV009", "LV00A", "LV00B", "LV00C"})
    assert set(region_table(now.output)) == current | {"total"}
    assert "5 cell(s) from" in now.output
    # Same total either way: as_of moves facts between regions, it does not add or drop any.
    assert region_table(now.output)["total"] == region_table(as_fact.output)["total"]


def test_query_explain(demo_env: str, demo_engine: Engine, model: Model, data_dir: Path) -> None:
    result = run(
        "query", "social_assistance", "--drilldown", "benefit_type|time:quarter", "--cut", "time:2025",
        "--explain", "--data-dir", str(data_dir),
    )  # fmt: skip
    q = CubeQuery(
        "social_assistance", (), (PointCut("time", ("2025",)),),
        (Drilldown("benefit_type"), Drilldown("time", None, "quarter")),
    )  # fmt: skip
    expected = CubeService(model, demo_engine).aggregate(q, ANALYST)
    assert expected.source != "facts"
    assert f"cell(s) from {expected.source}" in result.output
    assert "SELECT" in result.output
    assert f"`rollup_social_assistance_{expected.source}_" in result.output
    assert "'p0': datetime.date(2025, 1, 1)" in result.output


def test_query_explain_facts(demo_env: str, data_dir: Path) -> None:
    result = run(
        "query", "unemployment", "--drilldown", "territory:municipality", "--cut", "time:2024,2,5,14",
        "-M", "new_registrations", "--explain", "--limit", "3", "--data-dir", str(data_dir),
    )  # fmt: skip
    assert "from facts" in result.output
    assert "`facts_unemployment`" in result.output


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        ("time:20,,24", "error: cut: empty path element at position 8"),
        ("time:2024-2025-2026", "error: cut: more than one '-' in a range at position 14"),
        ("territory", "error: cut: expected 'dimension:path' at position 0"),
        ("time:2024|!", "error: cut: expected 'dimension:path' at position 11"),
        ("time:20x4", "error: time year must be a number, not '20x4'"),
    ],
)
def test_query_bad_cut(demo_env: str, data_dir: Path, cut: str, message: str) -> None:
    result = run("query", "unemployment", "--cut", cut, "--data-dir", str(data_dir), code=1)
    assert message in result.output


def test_query_unknown_cube(demo_env: str, data_dir: Path) -> None:
    result = run("query", "unemploymnt", "--data-dir", str(data_dir), code=1)
    assert "error: no cube 'unemploymnt'" in result.output
    assert "hint: did you mean 'unemployment'?" in result.output


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["-M", "persns"], "cube 'unemployment' has no measure 'persns'", "did you mean 'persons'?"),
        (["--drilldown", "territory:regio"], "has no level 'regio'", "did you mean 'region'?"),
        (["--as-of", "nuts_202"], "as_of must be", "did you mean"),
        (["--order", "nope:desc"], "cannot order by 'nope'", None),
    ],
)
def test_query_user_errors(
    demo_env: str, data_dir: Path, args: list[str], message: str, hint: str | None
) -> None:
    result = run("query", "unemployment", *args, "--data-dir", str(data_dir), code=1)
    assert message in result.output
    if hint:
        assert hint in result.output


@pytest.mark.parametrize("name", ["[/x]", "[bold]x", "x[/]"])
def test_query_markup_in_names_is_shown_verbatim(demo_env: str, data_dir: Path, name: str) -> None:
    """What the user typed is echoed as text, never read as console markup."""
    result = run("query", "unemployment", "--cut", f"{name}:1", "--data-dir", str(data_dir), code=1)
    assert f"cube 'unemployment' has no dimension '{name}'" in result.output
