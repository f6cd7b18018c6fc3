"""The Slicer cut / drilldown / order grammar (labis_olap.query.cuts).

Property: for any cut, parse_cuts(format_cut(cut)) gives the cut back, whatever its members
contain (the special characters \\ ! | : ; , - @ included) and with `__null__` for NULL. Then
targeted tests of the error positions and of parse_drilldowns / parse_order.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labis_olap.errors import QueryError
from labis_olap.model.cut_grammar import NULL, escape, format_cut, parse_cuts, parse_drilldowns, parse_order
from labis_olap.model.cuts import Cut, Drilldown, Order, PointCut, RangeCut, SetCut

SPECIAL = "\\!|:;,-@"

# Text that often holds the grammar's special characters, plus any other Unicode.
chars = st.one_of(
    st.sampled_from([*SPECIAL, "_", " ", "a", "ā", "1"]), st.characters(exclude_categories=("Cs",))
)
text = st.text(chars, min_size=1, max_size=8)
# Names are stripped by the parser (" time " means "time"), so they have no outer spaces.
names = text.filter(lambda s: s == s.strip())
# None is NULL (`__null__`); a member literally named "__null__" is written `\__null__`.
elements = st.one_of(st.none(), st.just(NULL), text)
paths = st.lists(elements, min_size=1, max_size=4).map(tuple)
hierarchies = st.one_of(st.none(), names)


@st.composite
def cuts(draw: st.DrawFn) -> Cut:
    dim, hier, invert = draw(names), draw(hierarchies), draw(st.booleans())
    kind = draw(st.sampled_from(["point", "range", "set"]))
    if kind == "point":
        return PointCut(dim, draw(paths), hier, invert)
    if kind == "set":
        return SetCut(dim, tuple(draw(st.lists(paths, min_size=2, max_size=4))), hier, invert)
    lo, hi = draw(st.one_of(st.none(), paths)), draw(st.one_of(st.none(), paths))
    if lo is None and hi is None:
        lo = draw(paths)
    return RangeCut(dim, lo, hi, hier, invert)


@settings(max_examples=500)
@given(cuts())
def test_one_cut_round_trips(cut: Cut) -> None:
    assert parse_cuts(format_cut(cut)) == (cut,)


@settings(max_examples=200)
@given(st.lists(cuts(), min_size=1, max_size=4))
def test_several_cuts_round_trip(many: list[Cut]) -> None:
    assert parse_cuts("|".join(format_cut(c) for c in many)) == tuple(many)


@settings(max_examples=300)
@given(text)
def test_escape_then_parse_gives_the_member_back(member: str) -> None:
    assert parse_cuts(f"d:{escape(member)}") == (PointCut("d", (member,)),)


@given(names, hierarchies, st.one_of(st.none(), names))
def test_drilldown_round_trips(dim: str, hier: str | None, level: str | None) -> None:
    spec = escape(dim) + (f"@{escape(hier)}" if hier else "") + (f":{escape(level)}" if level else "")
    assert parse_drilldowns(spec) == (Drilldown(dim, hier, level),)


order_fields = st.from_regex(r"[a-z][a-z0-9_]{0,10}(\.[a-z][a-z0-9_]{0,10})?", fullmatch=True)


@given(
    st.lists(st.tuples(order_fields, st.sampled_from([None, "asc", "desc", "DESC"])), min_size=1, max_size=4)
)
def test_order_round_trips(terms: list[tuple[str, str | None]]) -> None:
    spec = ",".join(f + (f":{d}" if d else "") for f, d in terms)
    want = tuple(Order(f, "desc" if d and d.lower() == "desc" else "asc") for f, d in terms)
    assert parse_order(spec) == want


# --- examples from the Slicer documentation ------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("date:2010,1|category:a", (PointCut("date", ("2010", "1")), PointCut("category", ("a",)))),
        ("date:2009-2010", (RangeCut("date", ("2009",), ("2010",)),)),
        ("date:2009-", (RangeCut("date", ("2009",), None),)),
        ("date:-2010", (RangeCut("date", None, ("2010",)),)),
        ("item:a;l", (SetCut("item", (("a",), ("l",))),)),
        ("!item:a", (PointCut("item", ("a",), invert=True),)),
        ("date@ywd:2012", (PointCut("date", ("2012",), "ywd"),)),
        ("gender:__null__", (PointCut("gender", (None,)),)),
        ("territory:R1,__null__;__null__", (SetCut("territory", (("R1", None), (None,))),)),
        (r"name:a\-b\,c\;d\|e\:f\!g\@h\\i", (PointCut("name", ("a-b,c;d|e:f!g@h\\i",)),)),
        (r"name:\__null__", (PointCut("name", ("__null__",)),)),
        ("", ()),
        (None, ()),
    ],
)
def test_slicer_examples(spec: str | None, want: tuple[Cut, ...]) -> None:
    assert parse_cuts(spec) == want


def test_a_member_with_special_characters_is_escaped() -> None:
    cut = PointCut("territory", ("LV-1", "a,b"), "region", invert=True)
    assert format_cut(cut) == r"!territory@region:LV\-1,a\,b"


def test_null_marker_and_a_member_named_like_it() -> None:
    assert format_cut(PointCut("d", (None, NULL))) == r"d:__null__,\__null__"
    assert parse_cuts(r"d:__null__,\__null__") == (PointCut("d", (None, NULL)),)


# --- error positions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("time:2024|territory", "cut: expected 'dimension:path' at position 10"),
        ("time", "cut: expected 'dimension:path' at position 0"),
        ("!time", "cut: expected 'dimension:path' at position 1"),
        ("time:2024:1", "cut: unexpected ':' at position 9"),
        ("a:1|b:2:3", "cut: unexpected ':' at position 7"),
        ("time:2023-2024-2025", "cut: more than one '-' in a range at position 14"),
        ("time:-", "cut: a range needs at least one end at position 5"),
        ("time:", "cut: empty path at position 5"),
        ("time:2024,,3", "cut: empty path element at position 10"),
        ("time:2024,", "cut: empty path element at position 10"),
        ("time:2024;", "cut: empty path at position 10"),
        ("time:2023,1-2024,", "cut: empty path element at position 17"),
        ("gender:F\\", "cut: dangling backslash at position 8"),
        (":2024", "cut: missing dimension name at position 0"),
        ("x:1|!:2", "cut: missing dimension name at position 5"),
        ("time@:2024", "cut: missing hierarchy name after '@' at position 5"),
        ("time@a@b:2024", "cut: more than one '@' at position 6"),
    ],
)
def test_cut_error_positions(spec: str, message: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_cuts(spec)
    assert info.value.message == message


def test_cut_error_hints() -> None:
    with pytest.raises(QueryError) as info:
        parse_cuts("name:a:b")
    assert info.value.hint is not None and "\\:" in info.value.hint
    with pytest.raises(QueryError) as info:
        parse_cuts("name:a-b-c")
    assert info.value.hint is not None and "\\-" in info.value.hint


# --- drilldowns and order ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("time", (Drilldown("time"),)),
        ("time:month", (Drilldown("time", None, "month"),)),
        ("time@ym:month|territory", (Drilldown("time", "ym", "month"), Drilldown("territory"))),
        ("time@ym", (Drilldown("time", "ym"),)),
        (" time : month ", (Drilldown("time", None, "month"),)),
        (r"a\:b:c\|d", (Drilldown("a:b", None, "c|d"),)),
        ("", ()),
        (None, ()),
    ],
)
def test_parse_drilldowns(spec: str | None, want: tuple[Drilldown, ...]) -> None:
    assert parse_drilldowns(spec) == want


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("a:b:c", "drilldown: unexpected ':' at position 3"),
        ("time|a:b:c", "drilldown: unexpected ':' at position 8"),
        ("time:", "drilldown: missing level after ':' at position 5"),
        ("@ym", "drilldown: missing dimension name at position 0"),
        ("time@", "drilldown: missing hierarchy name after '@' at position 5"),
        ("a@b@c", "drilldown: more than one '@' at position 3"),
        ("time:a\\", "drilldown: dangling backslash at position 6"),
    ],
)
def test_drilldown_errors(spec: str, message: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_drilldowns(spec)
    assert info.value.message == message


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("amount", (Order("amount"),)),
        ("amount:desc", (Order("amount", "desc"),)),
        ("amount:DESC,territory.region_label", (Order("amount", "desc"), Order("territory.region_label"))),
        (" amount : asc ", (Order("amount", "asc"),)),
        ("", ()),
        (None, ()),
    ],
)
def test_parse_order(spec: str | None, want: tuple[Order, ...]) -> None:
    assert parse_order(spec) == want


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (",amount", "order: missing field at position 0"),
        ("amount,:desc", "order: missing field at position 7"),
        ("amount:up", "order: direction must be 'asc' or 'desc', not 'up' (position 0)"),
        ("a,amount:", "order: direction must be 'asc' or 'desc', not '' (position 2)"),
    ],
)
def test_order_errors(spec: str, message: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_order(spec)
    assert info.value.message == message
