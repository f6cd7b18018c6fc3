"""The broken-model corpus: every case must produce exactly the diagnostics it lists.

Each folder in tests/broken_models/ (except `_base`) holds only the files that differ from
`_base/`, a complete valid model. The test copies the base to a temporary folder, lays the
case's files over it, loads it and compares the located diagnostics with `expected.txt`:

    relative/path.yaml:LINE:COL: E123        (one per line, sorted by path, line, column, code)

An optional `hints.txt` lists hints the same way (`path:LINE:COL: E123 hint text`), checked
for the diagnostics it names. A file named `<name>.delete` in a case removes `<name>` from
the copied base (e.g. `members/gender.csv.delete` to test a missing members file).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import cast

import pytest

from labis_olap.errors import ModelError
from labis_olap.model import diagnostics as diagnostics_module
from labis_olap.model.diagnostics import Diagnostic
from labis_olap.model.expressions import ParsedExpr, parse_expression
from labis_olap.model.reader import read_model

CORPUS = Path(__file__).parent / "broken_models"
BASE = CORPUS / "_base"
REAL_MODEL = Path(__file__).parent.parent / "model"
MIN_CASES = 30
META_FILES = {"expected.txt", "hints.txt", "README.md"}

CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("_"))


def build(case: str | None, tmp_path: Path) -> Path:
    """The base model with a case laid over it, in a fresh folder."""
    root = tmp_path / "model"
    shutil.copytree(BASE, root)
    if case is None:
        return root
    src = CORPUS / case
    for f in sorted(src.rglob("*")):
        if not f.is_file() or f.relative_to(src).as_posix() in META_FILES:
            continue
        rel = f.relative_to(src)
        if f.suffix == ".delete":
            (root / rel.with_suffix("")).unlink()
            continue
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, root / rel)
    return root


def load_errors(root: Path) -> ModelError:
    with pytest.raises(ModelError) as info:
        read_model(root)
    return info.value


def diagnostics(err: ModelError) -> list[Diagnostic]:
    return cast(list[Diagnostic], err.diagnostics)


def rel(root: Path, d: Diagnostic) -> str:
    path = os.path.relpath(os.path.normpath(d.location.path), root)
    return Path(path).as_posix()


def key(root: Path, d: Diagnostic) -> str:
    return f"{rel(root, d)}:{d.location.line}:{d.location.col}: {d.code}"


LINE = re.compile(r"(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>E\d{3})(?: (?P<hint>.*))?$")


def read_lines(path: Path) -> list[str]:
    """The non-blank lines of a listing; a line starting with '#' is a comment."""
    if not path.exists():
        return []
    lines = (ln.strip() for ln in path.read_text(encoding="utf-8").splitlines())
    return [ln for ln in lines if ln and not ln.startswith("#")]


def order(entry: str) -> tuple[str, int, int, str]:
    m = LINE.match(entry)
    assert m, f"malformed line: {entry!r}"
    return m["path"], int(m["line"]), int(m["col"]), m["code"]


def test_corpus_is_not_empty() -> None:
    assert len(CASES) >= MIN_CASES, f"only {len(CASES)} broken-model cases in {CORPUS}"


def test_base_model_is_valid(tmp_path: Path) -> None:
    model = read_model(build(None, tmp_path))
    assert set(model.dimensions) == {"time", "region", "gender"}
    assert set(model.cubes) == {"benefits"}


def test_real_model_loads_cleanly() -> None:
    model = read_model(REAL_MODEL)
    assert model.cubes and model.dimensions and model.indicators


@pytest.mark.parametrize("case", CASES)
def test_broken_model(case: str, tmp_path: Path) -> None:
    expected_file = CORPUS / case / "expected.txt"
    expected = read_lines(expected_file)
    assert expected, f"{case}: expected.txt is missing or empty"
    assert expected == sorted(expected, key=order), f"{case}: expected.txt is not sorted"
    root = build(case, tmp_path)
    err = load_errors(root)
    diags = diagnostics(err)
    got = [key(root, d) for d in diags]
    # Every diagnostic, exactly once, in (path, line, column, code) order.
    assert got == expected, f"{case}:\n{err.rendered}"
    by_key = {key(root, d): d for d in diags}
    for entry in read_lines(CORPUS / case / "hints.txt"):
        m = LINE.match(entry)
        assert m and m["hint"], f"{case}: malformed hints.txt line {entry!r}"
        where = entry[: m.start("hint") - 1]
        assert where in by_key, f"{case}: hints.txt names {where}, which is not reported"
        assert by_key[where].hint == m["hint"], f"{case}: {where}"
    rendered = err.rendered.splitlines()
    assert rendered[-1] == f"{len(got)} error(s)"
    heads = [ln for ln in rendered if ": error[E" in ln]
    assert len(heads) == len(got)


def test_caret_points_at_the_token(tmp_path: Path) -> None:
    root = build("cube_link_unknown_dimension", tmp_path)
    lines = load_errors(root).rendered.splitlines()
    head = next(i for i, ln in enumerate(lines) if "error[E103]" in ln)
    source, caret = lines[head + 1], lines[head + 2]
    assert caret.strip() == "^"
    assert source[caret.index("^") :].startswith("regoin")
    assert lines[head + 3] == "  hint: did you mean 'region'?"


def test_caret_inside_quoted_expression(tmp_path: Path) -> None:
    root = build("filter_unknown_column_quoted", tmp_path)
    lines = load_errors(root).rendered.splitlines()
    head = next(i for i, ln in enumerate(lines) if "error[E109]" in ln)
    source, caret = lines[head + 1], lines[head + 2]
    assert source[caret.index("^") :].startswith("monthz")


def test_too_many_errors_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagnostics_module, "MAX_SHOWN", 2)
    root = build("many_errors", tmp_path)
    err = load_errors(root)
    n = len(err.diagnostics)
    assert n > 2
    rendered = err.rendered.splitlines()
    assert sum(": error[E" in ln for ln in rendered) == 2
    assert f"… and {n - 2} more" in rendered
    assert rendered[-1] == f"{n} error(s)"


def test_missing_model_folder(tmp_path: Path) -> None:
    err = load_errors(tmp_path / "nowhere")
    assert [d.code for d in diagnostics(err)] == ["E000"]


def test_folder_without_yaml(tmp_path: Path) -> None:
    err = load_errors(tmp_path)
    assert [d.code for d in diagnostics(err)] == ["E000"]


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("gender = 'x'' or sleep(3) = 0 --'", "x' or sleep(3) = 0 --"),
        ("gender = 'x\\' or sleep(3) = 0 or gender = \\'y'", "x' or sleep(3) = 0 or gender = 'y"),
        ("gender = 'x' -- */ or sleep(3) = 0 or /*", "x"),
        ("gender = 'x' /* sleep(3) */", "x"),
    ],
)
def test_filter_text_cannot_smuggle_sql(text: str, literal: str) -> None:
    """A filter that passes is re-rendered from its tree: quotes stay inside one literal and
    comments are dropped, so nothing but known columns and literals reaches the SQL."""
    import sqlglot
    from sqlglot import exp

    parsed = parse_expression(text, kind="filter", known=["gender"])
    assert isinstance(parsed, ParsedExpr), parsed
    sql = parsed.render(lambda name: f"`{name}`")
    assert "/*" not in sql
    tree = sqlglot.parse_one(sql, dialect="clickhouse")
    assert isinstance(tree, exp.EQ)
    assert [lit.this for lit in tree.find_all(exp.Literal)] == [literal]
    assert not list(tree.find_all(exp.Func))
