"""The API's errors in Latvian (api/error_text.py), on the demo data (real embedded chDB).

Two guards keep the catalogue true to the code: every English template must be a message the
source can make (read from the package's string literals and f-strings, composed as the raise
sites compose them), and the errors people meet most are provoked through the API and must
come back in Latvian when asked — and in English, unchanged, when not.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from conftest import analyst_client, demo_database, demo_settings
from fastapi.testclient import TestClient

from labis_olap.api import create_app
from labis_olap.api.error_text import LV, WORDS, asked_language, translated
from labis_olap.engine.base import Engine
from labis_olap.model.definition import Model

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "labis_olap"
FIELD = "\x00"


# --- the catalogue against the source ------------------------------------------------------------


def _shape(template: str) -> str:
    """A catalogue template with its fields as FIELD (`{{` and `}}` are literal braces)."""
    out, i = [], 0
    while i < len(template):
        if template.startswith(("{{", "}}"), i):
            out.append(template[i])
            i += 2
        elif template[i] == "{":
            i = template.index("}", i) + 1
            out.append(FIELD)
        else:
            out.append(template[i])
            i += 1
    return "".join(out)


@cache
def frames() -> tuple[str, ...]:
    """The source shapes with fields and enough words of their own to be a message's frame."""
    return tuple(s for s in source_shapes() if FIELD in s and len(s.replace(FIELD, "")) >= 6 and len(s) < 300)


@cache
def source_shapes() -> frozenset[str]:
    """Every string literal and f-string of the package (but the catalogue), fields as FIELD."""
    shapes: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "error_text.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.JoinedStr):
                shapes.add(
                    "".join(
                        v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else FIELD
                        for v in node.values
                    )
                )
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                shapes.add(node.value)
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # "text: " + ", ".join(…)
                left = node.left
                if isinstance(left, ast.Constant) and isinstance(left.value, str):
                    shapes.add(left.value + FIELD)
    return frozenset(shapes)


@cache  # pure over the source's shapes; the same parts are tried for many templates
def _fits(text: str, frame: str, depth: int = 0) -> bool:
    """Whether `text` (a catalogue shape) is `frame` (a source shape) with its fields filled by
    catalogue fields or by other source strings (as `_refused(what)` or `where`/`there` do)."""
    if FIELD not in frame:
        return text == frame
    head, _, rest = frame.partition(FIELD)
    if not text.startswith(head):
        return False
    tail = text[len(head) :]
    for end in range(len(tail) + 1):
        filled = tail[:end]
        if _filler(filled, depth) and _fits(tail[end:], rest, depth):
            return True
    return False


@cache
def _filler(part: str, depth: int) -> bool:
    if part == "" or (FIELD in part and part.strip(FIELD + " '\"[]") == ""):
        return True
    if FIELD in part and depth == 0:
        return any(_fits(part, s, depth + 1) for s in frames())
    return part in source_shapes() or (depth == 0 and any(_fits(part, s, 1) for s in frames()))


@pytest.mark.parametrize("en", [en for en, _ in LV], ids=lambda en: en[:60])
def test_every_english_template_is_one_the_code_makes(en: str) -> None:
    shape = _shape(en)
    assert shape in source_shapes() or any(_fits(shape, s) for s in frames()), (
        f"no raise site makes {en!r}: the message changed in the code; change the catalogue with it"
    )


@pytest.mark.parametrize(("en", "lv"), LV, ids=lambda t: t[:60])
def test_both_languages_have_the_same_fields(en: str, lv: str) -> None:
    import string

    def fields(t: str) -> list[str]:
        return sorted(f for _, f, _, _ in string.Formatter().parse(t) if f is not None)

    assert fields(en) == fields(lv)
    assert en != lv


def test_words_are_latvian_and_templates_unique() -> None:
    assert len({en for en, _ in LV}) == len(LV)
    assert all(en != lv for en, lv in WORDS.items())


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        (None, None, "en"),
        (None, "lv", "lv"),
        (None, "lv-LV,lv;q=0.9,en-US;q=0.8", "lv"),
        (None, "en-US,en;q=0.9,lv;q=0.8", "en"),
        (None, "de-DE,lv;q=0.5", "lv"),
        (None, "de", "en"),
        (None, "lv;q=0.2,en;q=0.7", "en"),
        (None, "lv;q=bad,en", "en"),
        ("lv", "en", "lv"),
        ("en", "lv", "en"),
        ("xx", "lv", "lv"),
    ],
)
def test_the_language_asked(query: str | None, accept: str | None, expected: str) -> None:
    assert asked_language(query, accept) == expected


def test_an_unknown_message_or_hint_stays_english_whole() -> None:
    assert translated("no cube 'x'", "did you mean 'y'?", "lv") == ("kuba 'x' nav", "vai domājāt 'y'?", "lv")
    assert translated("no cube 'x'", "something new", "lv") == ("no cube 'x'", "something new", "en")
    assert translated("something new", None, "lv") == ("something new", None, "en")
    assert translated("no cube 'x'", None, "en") == ("no cube 'x'", None, "en")


# --- through the API ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(data_dir: Path) -> Iterator[tuple[Model, Engine]]:
    with demo_database(data_dir, "errtext", 3_000, seed=5) as demo:
        yield demo


@pytest.fixture(scope="module")
def client(demo: tuple[Model, Engine], data_dir: Path) -> Iterator[TestClient]:
    model, engine = demo
    settings = demo_settings(data_dir, engine, max_pagesize=500)
    with analyst_client(create_app(settings, model, engine), raise_server_exceptions=False) as c:
        yield c


A = "/cube/unemployment/aggregate"
# (method, url, status, the Latvian message, the Latvian hint or None)
CASES: list[tuple[str, str, int, str, str | None]] = [
    ("GET", f"{A}?cut=territory:LV9", 400, "'territory' līmenī 'region' nav elementa 'LV9'", None),
    ("GET", f"{A}?cut=nodim:1", 404, "kubam 'unemployment' nav dimensijas 'nodim'", None),
    ("GET", f"{A}?aggregates=nomeasure", 404, "kubam 'unemployment' nav mēra 'nomeasure'", None),
    ("GET", f"{A}?drilldown=territory:nolevel", 404, "dimensijas 'territory' hierarhijai", None),
    ("GET", "/cube/nocube/aggregate", 404, "kuba 'nocube' nav", None),
    ("GET", f"{A}?cut=time", 400, "griezums: gaidīts 'dimensija:ceļš', pozīcija 0",
     "piemēram, time:2024|territory:LV00A"),
    ("GET", f"{A}?cut=time:2024:1", 400, "griezums: negaidīts ':', pozīcija", "kolu ':' elementa nosaukumā"),
    ("GET", f"{A}?cut=time:2022-2023-2024", 400, "griezums: intervālā ir vairāk nekā viens '-'",
     "defisi '-' elementa nosaukumā"),
    ("GET", f"{A}?order=territory:sideways", 400, "kārtojums: virzienam jābūt 'asc' vai 'desc', nevis 'sideways'",
     None),
    ("GET", f"{A}?drilldown=gender|gender", 400, "vienā vaicājumā dimensiju var izvērst tikai vienreiz", None),
    ("GET", f"{A}?cut=time:2024,5", 400, "laiks: ceturksnis 5 ir ārpus robežām 1..4", None),
    ("GET", f"{A}?drilldown=time:month&pagesize=100000", 400, "pagesize 100000 pārsniedz servera robežu 500",
     "lietojiet pagesize<=500"),
    ("GET", "/no/such/thing", 404, "tāda ceļa nav: GET /no/such/thing", "ceļi ir aprakstīti /openapi.json"),
    ("DELETE", A, 405, "metode DELETE nav atļauta ceļam", None),
    ("GET", f"{A}?as_of=yesterday", 400, "as_of jābūt 'fact', 'now', datumam", None),
]  # fmt: skip


@pytest.mark.parametrize(("method", "url", "status", "lv", "lv_hint"), CASES, ids=[c[1] for c in CASES])
def test_errors_in_latvian_when_asked(
    client: TestClient, method: str, url: str, status: int, lv: str, lv_hint: str | None
) -> None:
    english = client.request(method, url)
    latvian = client.request(method, url, headers={"Accept-Language": "lv-LV,lv;q=0.9,en;q=0.5"})
    by_param = client.request(method, url + ("&" if "?" in url else "?") + "lang=lv")
    for r in (english, latvian, by_param):
        assert r.status_code == status, (url, r.status_code, r.text)
    assert english.headers["content-language"] == "en"
    assert latvian.headers["content-language"] == "lv", latvian.json()
    body: dict[str, Any] = latvian.json()
    assert set(body) == {"error", "message", "hint"}
    assert body["error"] == english.json()["error"]
    assert body["message"].startswith(lv), body
    assert body["message"] != english.json()["message"]
    if lv_hint is not None:
        assert body["hint"].startswith(lv_hint), body
    assert (english.json()["hint"] is None) == (body["hint"] is None)
    assert by_param.json() == body


def test_a_message_without_latvian_stays_english_and_says_so(client: TestClient) -> None:
    r = client.get(f"{A}?pagesize=abc", headers={"Accept-Language": "lv"})
    assert r.status_code == 400
    assert r.headers["content-language"] == "en"
    assert "pagesize" in r.json()["message"]


def test_the_fast_path_answers_in_latvian_too(client: TestClient) -> None:
    # a plain GET aggregate takes api/fastpath.py, which renders its errors itself
    r = client.get(f"{A}?cut=territory:LV9&drilldown=gender", headers={"Accept-Language": "lv"})
    assert r.status_code == 400
    assert r.headers["content-language"] == "lv"
    assert "nav elementa 'LV9'" in r.json()["message"]
