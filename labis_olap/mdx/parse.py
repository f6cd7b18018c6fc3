"""MDX text → syntax tree (mdx/ast.py), with located errors.

The grammar (grammar.lark) is LALR, built once per process. Syntax errors are QueryErrors whose
message is rendered as the model's diagnostics are (model/diagnostics.py): `mdx:line:col`, the
line, a caret under the column, and a hint naming what was expected there.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from ..errors import QueryError
from ..model.diagnostics import Diagnostic, Location
from . import ast as a

MAX_CHARS = 100_000
"""The longest statement taken (a client's statement is a few kilobytes at most)."""

PROPERTY_WORDS = frozenset(
    w.lower()
    for w in [
        "Members",
        "AllMembers",
        "Children",
        "Parent",
        "FirstChild",
        "LastChild",
        "CurrentMember",
        "DefaultMember",
        "PrevMember",
        "NextMember",
        "Name",
        "UniqueName",
        "Caption",
        "Level",
        "Hierarchy",
        "Dimension",
        "Count",
        "Ordinal",
        "Siblings",
        "FirstSibling",
        "LastSibling",
        "Value",
        "Item",
        "Lag",
        "Lead",
        "Key",
        "Current",
    ]
)
"""Words that, after a dot and without brackets, are functions of what precedes them
(`[time].[2024].Children`); any other bare word continues the name (`[Measures].amount`)."""


class MdxSyntaxError(QueryError):
    """A statement that does not parse: where (line, column) and what was expected."""

    error_type = "mdx_syntax_error"

    def __init__(self, message: str, line: int, column: int, text: str, *, hint: str | None = None) -> None:
        lines = text.splitlines() or [""]
        rendered = Diagnostic("MDX", message, Location("mdx", line, column)).render(lines)
        super().__init__(rendered, hint=hint)
        self.line = line
        self.column = column


@functools.cache
def _parser() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def _unbracket(tok: str) -> str:
    return tok[1:-1].replace("]]", "]")


def _unquote(tok: str) -> str:
    q = tok[0]
    return tok[1:-1].replace(q + q, q)


def _pos(tok: Any) -> a.Pos:
    line = getattr(tok, "line", None)
    col = getattr(tok, "column", None)
    return (line, col) if line is not None and col is not None else None


@v_args(inline=True)
class _Tree(Transformer[Token, Any]):
    # names
    def quoted(self, tok: Token) -> a.Seg:
        return a.Seg(_unbracket(tok))

    def bare(self, tok: Token) -> a.Seg:
        return a.Seg(str(tok), quoted=False)

    def keys(self, *toks: Token) -> a.Keys:
        return a.Keys(tuple(_unbracket(t[1:]) for t in toks))

    def compound(self, *parts: a.Part) -> a.Name:
        return a.Name(tuple(parts))

    def first_quoted(self, tok: Token) -> a.Name:
        return a.Name((a.Seg(_unbracket(tok)),), _pos(tok))

    def first_bare(self, tok: Token) -> a.Name:
        return a.Name((a.Seg(str(tok), quoted=False),), _pos(tok))

    def dot(self, obj: a.Expr, seg: a.Part) -> a.Expr:
        if isinstance(seg, a.Seg) and not seg.quoted and seg.text.lower() in PROPERTY_WORDS:
            return a.Call(seg.text, (obj,), method=True, pos=getattr(obj, "pos", None))
        if isinstance(obj, a.Name):
            return a.Name((*obj.parts, seg), obj.pos)
        shown = a.expr_mdx(obj)
        raise QueryError(f"a name part cannot follow {shown}", hint="use a function such as .Children")

    def method(self, obj: a.Expr, name: Token, args: tuple[a.Expr | None, ...]) -> a.Call:
        return a.Call(str(name), (obj, *args), method=True, pos=getattr(obj, "pos", None))

    def call(self, name: Token, args: tuple[a.Expr | None, ...]) -> a.Call:
        return a.Call(str(name), args, pos=_pos(name))

    def args(self, *items: a.Expr | None) -> tuple[a.Expr | None, ...]:
        if len(items) == 1 and items[0] is None:
            return ()
        return items

    def arg(self, e: a.Expr | None = None) -> a.Expr | None:
        return e

    def alias(self, e: a.Expr, _as: Token, name: a.Name) -> a.Alias:
        return a.Alias(e, name)

    # literals
    def number(self, tok: Token) -> a.Number:
        return a.Number(Decimal(str(tok)))

    def string(self, tok: Token) -> a.String:
        return a.String(_unquote(str(tok)))

    def set_literal(self, *items: a.Expr | None) -> a.SetOf:
        return a.SetOf(tuple(i for i in items if i is not None))

    def tuple_literal(self, *items: a.Expr) -> a.Expr:
        return items[0] if len(items) == 1 else a.TupleOf(items)

    # operators
    def binop(self, left: a.Expr, op: Token, right: a.Expr) -> a.Binary:
        return a.Binary(str(op).upper(), left, right)

    def unop(self, op: Token, operand: a.Expr) -> a.Unary:
        return a.Unary(str(op).upper(), operand)

    def range(self, low: a.Expr, high: a.Expr) -> a.Range:
        return a.Range(low, high)

    def when(self, _w: Token, cond: a.Expr, _t: Token, value: a.Expr) -> tuple[a.Expr, a.Expr]:
        return (cond, value)

    def case(self, _case: Token, *rest: Any) -> a.Case:
        subject = rest[0] if rest and not isinstance(rest[0], tuple) else None
        whens = tuple(i for i in rest if isinstance(i, tuple))
        default = None
        for i, item in enumerate(rest):
            if isinstance(item, Token) and item.type == "ELSE":
                default = rest[i + 1]
        return a.Case(subject, whens, default)

    # the statement
    def prop_assign(self, name: Token, value: a.Expr) -> tuple[str, a.Expr]:
        return (str(name).upper(), value)

    def member_formula(self, _m: Token, name: a.Name, _as: Token, expr: a.Expr, *props: Any) -> a.MemberDef:
        return a.MemberDef(name, _string_expr(expr), tuple(props))

    def set_formula(self, _s: Token, name: a.Name, _as: Token, expr: a.Expr) -> a.SetDef:
        return a.SetDef(name, _string_expr(expr))

    def with_clause(self, _w: Token, *formulas: a.MemberDef | a.SetDef) -> tuple[a.MemberDef | a.SetDef, ...]:
        return formulas

    def non_empty(self, *_: Token) -> bool:
        return True

    def dim_props(self, *items: Any) -> tuple[a.Name, ...]:
        return tuple(i for i in items if isinstance(i, a.Name))

    def cell_props(self, *items: Any) -> tuple[str, ...]:
        return tuple(str(i).upper() for i in items if isinstance(i, Token) and i.type == "NAME")

    def axis_name(self, *toks: Token) -> int:
        tok = toks[-1]
        if tok.type == "INT":
            return int(tok)
        word = str(tok).upper()
        if word not in a.AXIS_NAMES:
            raise QueryError(
                f"'{tok}' is not an axis (line {tok.line}, column {tok.column})",
                hint="use COLUMNS, ROWS, PAGES, SECTIONS, CHAPTERS, a number or AXIS(n)",
            )
        return a.AXIS_NAMES.index(word)

    def axis_spec(self, non_empty: bool | None, expr: a.Expr, props: Any, _on: Token, ordinal: int) -> a.Axis:
        return a.Axis(expr, ordinal, bool(non_empty), props or ())

    def axes(self, *items: a.Axis | None) -> tuple[a.Axis, ...]:
        return tuple(i for i in items if i is not None)

    def cube_name(self, name: a.Name) -> a.Name:
        return name

    def subselect(self, select: a.Select) -> a.Select:
        return select

    def where(self, _w: Token, e: a.Expr) -> a.Expr:
        return e

    def select_stmt(
        self, _s: Token, axes: tuple[a.Axis, ...], _f: Token, cube: a.Name | a.Select, where: Any, cells: Any
    ) -> a.Select:
        ordinals = [x.ordinal for x in axes]
        if sorted(ordinals) != list(range(len(ordinals))):
            raise QueryError(
                f"axes {ordinals} are not numbered 0, 1, … without gaps or repeats",
                hint="a statement with ROWS needs COLUMNS, one with PAGES needs ROWS",
            )
        return a.Select(tuple(sorted(axes, key=lambda x: x.ordinal)), cube, where, cells or ())

    def start(self, formulas: Any, select: a.Select) -> a.Statement:
        formulas = formulas or ()
        members = tuple(f for f in formulas if isinstance(f, a.MemberDef))
        sets = tuple(f for f in formulas if isinstance(f, a.SetDef))
        return a.Statement(select, members, sets, tuple(formulas))


def _string_expr(expr: a.Expr) -> a.Expr:
    """`MEMBER x AS '[a] + [b]'` (the older quoted form Excel still writes): the string parsed."""
    if isinstance(expr, a.String):
        return parse_expression(expr.value)
    return expr


def _expected(exc: UnexpectedInput) -> str | None:
    wanted = sorted(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())
    if not wanted:
        return None
    shown = {
        "BRACKET": "a [name]",
        "NAME": "a name",
        "RPAR": "')'",
        "LPAR": "'('",
        "RBRACE": "'}'",
        "LBRACE": "'{'",
        "COMMA": "','",
        "DOT": "'.'",
        "COLON": "':'",
        "NUMBER": "a number",
        "INT": "a number",
        "STRING": "a string",
        "KEY": "&[key]",
        "SEMICOLON": "';'",
        "$END": "the end",
    }
    words = sorted({shown.get(w, w) for w in wanted if not w.startswith("__")})
    if len(words) > 8:
        words = [*words[:8], "…"]
    return "expected " + ", ".join(words)


def _syntax_error(text: str, exc: UnexpectedInput) -> MdxSyntaxError:
    line, col = exc.line, exc.column
    if isinstance(exc, UnexpectedEOF) or line in (None, -1):
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
        return MdxSyntaxError("unexpected end of the statement", line, col, text, hint=_expected(exc))
    if isinstance(exc, UnexpectedCharacters):
        at = exc.pos_in_stream or 0
        ch = text[at] if at < len(text) else ""
        hint = "close the bracket with ']' (a ']' inside a name is written ']]')" if ch == "[" else None
        if ch in "'\"":
            hint = f"close the string with {ch} (a {ch} inside it is written {ch}{ch})"
        return MdxSyntaxError(f"unexpected character {ch!r}", line, col, text, hint=hint or _expected(exc))
    token = exc.token if isinstance(exc, UnexpectedToken) else None
    if token is not None and token.type == "$END":
        lines = text.splitlines() or [""]
        return MdxSyntaxError(
            "unexpected end of the statement", len(lines), len(lines[-1]) + 1, text, hint=_expected(exc)
        )
    shown = str(token) if token is not None else "?"
    return MdxSyntaxError(f"unexpected '{shown}'", line, col, text, hint=_expected(exc))


def _run(text: str, start_rule: str) -> Any:
    if len(text) > MAX_CHARS:
        raise QueryError(f"the statement has {len(text)} characters, more than {MAX_CHARS}")
    if not text.strip():
        raise QueryError("the MDX statement is empty", hint="e.g. SELECT [Measures].Members ON 0 FROM [cube]")
    try:
        tree = _parser().parse(text) if start_rule == "start" else _expr_parser().parse(text)
        return _Tree().transform(tree)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, QueryError):
            raise exc.orig_exc from None
        raise


def parse(text: str) -> a.Statement:
    """A SELECT statement (with its WITH clause) as a syntax tree; a located QueryError if not."""
    result: a.Statement = _run(text, "start")
    return result


@functools.cache
def _expr_parser() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True, start="expr")


def parse_expression(text: str) -> a.Expr:
    """One expression (a quoted calculated member's formula, StrToSet's argument)."""
    result: a.Expr = _run(text, "expr")
    return result
