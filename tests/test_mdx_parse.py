"""The MDX grammar: printed trees parse back to themselves (hypothesis), names with ']', commas
and Latvian letters, case-insensitive keywords, and located syntax errors."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labis_olap.mdx import ast as a
from labis_olap.mdx.parse import PROPERTY_WORDS, MdxSyntaxError, parse, parse_expression

NAME_CHARS = st.sampled_from(list("abcxyzRīgaĀāČčĒēĢģĪīĶķĻļŅņŠšŪūŽž ,.]'[&-_0123456789()"))
texts = st.text(NAME_CHARS, min_size=1, max_size=12)
segs = st.builds(a.Seg, texts)
keys = st.builds(a.Keys, st.lists(texts, min_size=1, max_size=3).map(tuple))
names = st.builds(
    lambda first, rest: a.Name((first, *rest)),
    segs,
    st.lists(st.one_of(segs, keys), max_size=3),
)
numbers = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False).map(
    lambda d: a.Number(Decimal(str(d)))
)
strings = st.builds(a.String, st.text(NAME_CHARS, max_size=8))
functions = st.sampled_from(["CrossJoin", "Hierarchize", "TopCount", "Filter", "Aggregate", "IIf", "YTD"])
methods = st.sampled_from(sorted(PROPERTY_WORDS))


def exprs() -> st.SearchStrategy[a.Expr]:
    leaves = st.one_of(names, numbers, strings)
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.builds(a.Call, functions, st.lists(st.one_of(inner, st.none()), max_size=3).map(tuple)),
            st.builds(lambda obj, m: a.Call(m, (obj,), method=True), inner, methods),
            st.builds(lambda obj, n: a.Call("Lag", (obj, n), method=True), inner, numbers),
            st.builds(a.SetOf, st.lists(inner, max_size=3).map(tuple)),
            st.builds(a.TupleOf, st.lists(inner, min_size=2, max_size=3).map(tuple)),
            st.builds(a.Binary, st.sampled_from(["+", "-", "*", "/", "=", "<>", "AND", "OR"]), inner, inner),
            st.builds(a.Unary, st.sampled_from(["-", "NOT"]), inner),
            st.builds(a.Range, names, names),
        ),
        max_leaves=8,
    )


def _calls_have_args(e: a.Expr) -> bool:
    """A plain call printed with no arguments, `f()`, parses back as one; fine, but a call whose
    only argument is empty prints as `f()` too: such trees are not round-trip candidates."""
    if isinstance(e, a.Call):
        if not e.method and len(e.args) == 1 and e.args[0] is None:
            return False
        return all(x is None or _calls_have_args(x) for x in e.args)
    if isinstance(e, (a.SetOf, a.TupleOf)):
        return all(_calls_have_args(x) for x in e.items)
    if isinstance(e, a.Binary):
        return _calls_have_args(e.left) and _calls_have_args(e.right)
    if isinstance(e, a.Unary):
        return _calls_have_args(e.operand)
    return True


@settings(max_examples=120, deadline=None)
@given(exprs())
def test_a_printed_expression_parses_to_the_same_tree(e: a.Expr) -> None:
    if not _calls_have_args(e):
        return
    assert parse_expression(a.expr_mdx(e)) == e


statements = st.builds(
    lambda axes, cube, where, with_member: a.Statement(
        a.Select(tuple(a.Axis(x, i, ne) for i, (x, ne) in enumerate(axes)), cube, where),
        (with_member,) if with_member else (),
        (),
        (with_member,) if with_member else (),
    ),
    st.lists(st.tuples(exprs(), st.booleans()), max_size=3),
    names,
    st.one_of(st.none(), exprs()),
    st.one_of(
        st.none(), st.builds(lambda n, e: a.MemberDef(a.Name((a.Seg("Measures"), n)), e), segs, exprs())
    ),
)


@settings(max_examples=60, deadline=None)
@given(statements)
def test_a_printed_statement_parses_to_the_same_tree(s: a.Statement) -> None:
    exprs_in = (
        [x.expr for x in s.select.axes]
        + ([s.select.where] if s.select.where else [])
        + [m.expr for m in s.members]
    )
    if not all(_calls_have_args(x) for x in exprs_in):
        return
    assert parse(a.to_mdx(s)) == s


@given(texts)
def test_any_bracketed_name_reads_back(text: str) -> None:
    e = parse_expression(f"[territory].{a.bracket(text)}.&{a.bracket(text)}")
    assert e == a.Name((a.Seg("territory"), a.Seg(text), a.Keys((text,))))


def test_what_clients_write() -> None:
    s = parse(
        """with member [Measures].[x] as '[Measures].[amount] * 2', format_string = '#,##0', solve_order = 3
           select non empty Hierarchize({DrilldownLevel({[territory].[All]},,,INCLUDE_CALC_MEMBERS)})
             dimension properties PARENT_UNIQUE_NAME on columns
           from (select {[territory].[Rīga, pilsēta]]]} on 0 from [unemployment])
           where ([time].[ymd].[month].&[2024]&[2]&[5]) cell properties value, formatted_value"""
    )
    assert s.cube == "unemployment"
    (m,) = s.members
    assert m.expr == a.Binary("*", a.Name((a.Seg("Measures"), a.Seg("amount"))), a.Number(Decimal(2)))
    assert m.prop("SOLVE_ORDER") == a.Number(Decimal(3))
    assert s.select.axes[0].non_empty
    inner = s.select.cube
    assert isinstance(inner, a.Select)
    assert inner.axes[0].expr == a.SetOf((a.Name((a.Seg("territory"), a.Seg("Rīga, pilsēta]"))),))
    assert s.select.cell_properties == ("VALUE", "FORMATTED_VALUE")


@pytest.mark.parametrize(
    ("text", "line", "col", "hint"),
    [
        ("SELECT {[a]} ON 0\nFORM [cube]", 2, 1, "FROM"),
        ("SELECT {[a]} ON 0 FROM", 1, 23, "[name]"),
        ("SELECT {[a], } ON 0 FROM [c]", 1, 14, "[name]"),
        ("SELECT 'unclosed ON 0 FROM [c]", 1, 8, "close the string"),
        ("SELECT {[a} ON 0 FROM [c", 1, 9, "close the bracket"),
    ],
)
def test_syntax_errors_are_located(text: str, line: int, col: int, hint: str) -> None:
    with pytest.raises(MdxSyntaxError) as info:
        parse(text)
    err = info.value
    assert (err.line, err.column) == (line, col)
    assert f"mdx:{line}:{col}" in err.message
    shown = err.message.splitlines()
    assert shown[-1].strip() == "^" and len(shown[-1]) - 2 == col  # the caret under the column
    assert hint in (err.hint or "")
