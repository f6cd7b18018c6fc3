"""The MDX syntax tree, and its printer.

Plain frozen dataclasses, so two parses of the same text compare equal (positions are kept for
error messages but not compared). `to_mdx` prints a tree back as canonical MDX — every name
bracketed, every operation parenthesised — which parses to the same tree: the grammar's
round-trip property (tests/test_mdx_parse.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

Pos = tuple[int, int] | None
"""Line and column (1-based) where a node starts, if known."""


@dataclass(frozen=True)
class Seg:
    """One part of a dotted name: `[Rīga]` (quoted) or `Measures` (bare)."""

    text: str
    quoted: bool = True


@dataclass(frozen=True)
class Keys:
    """A key reference: `&[R1]`, or a composite key `&[R1]&[M2]` (the keys of the path)."""

    keys: tuple[str, ...]


Part = Seg | Keys


@dataclass(frozen=True)
class Name:
    parts: tuple[Part, ...]
    pos: Pos = field(default=None, compare=False)


@dataclass(frozen=True)
class Number:
    value: Decimal


@dataclass(frozen=True)
class String:
    value: str


@dataclass(frozen=True)
class Call:
    """A function: `Crossjoin(a, b)`, or a method `a.Children` / `a.Lag(1)` (the object is the
    first argument). An argument left empty (`DrilldownLevel(s,,,X)`) is None."""

    name: str
    args: tuple[Expr | None, ...]
    method: bool = False
    pos: Pos = field(default=None, compare=False)


@dataclass(frozen=True)
class SetOf:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class TupleOf:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Binary:
    op: str
    """Upper case for word operators (AND, OR, XOR, IS)."""
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Expr


@dataclass(frozen=True)
class Range:
    low: Expr
    high: Expr


@dataclass(frozen=True)
class Case:
    subject: Expr | None
    whens: tuple[tuple[Expr, Expr], ...]
    default: Expr | None


@dataclass(frozen=True)
class Alias:
    """`set AS [name]` inside a call (Excel's Top-N filters): the set, named for the rest of
    the statement (`[name]`, `[name].Current` in a Generate)."""

    expr: Expr
    name: Name


Expr = Name | Number | String | Call | SetOf | TupleOf | Binary | Unary | Range | Case | Alias


@dataclass(frozen=True)
class MemberDef:
    name: Name
    expr: Expr
    props: tuple[tuple[str, Expr], ...] = ()
    """FORMAT_STRING, SOLVE_ORDER, …: names upper-cased."""

    def prop(self, key: str) -> Expr | None:
        return next((v for k, v in self.props if k == key), None)


@dataclass(frozen=True)
class SetDef:
    name: Name
    expr: Expr


@dataclass(frozen=True)
class Axis:
    expr: Expr
    ordinal: int
    non_empty: bool = False
    properties: tuple[Name, ...] = ()


@dataclass(frozen=True)
class Select:
    axes: tuple[Axis, ...]
    cube: Name | Select
    """The cube, or a sub-select (`FROM (SELECT … FROM [cube])`)."""
    where: Expr | None = None
    cell_properties: tuple[str, ...] = ()


@dataclass(frozen=True)
class Statement:
    select: Select
    members: tuple[MemberDef, ...] = ()
    sets: tuple[SetDef, ...] = ()
    formulas: tuple[MemberDef | SetDef, ...] = ()
    """Both kinds in the order written (what solve-order ties and set references follow)."""

    @property
    def cube(self) -> str:
        inner: Name | Select = self.select.cube
        while isinstance(inner, Select):
            inner = inner.cube
        return name_text(inner)


AXIS_NAMES = ("COLUMNS", "ROWS", "PAGES", "SECTIONS", "CHAPTERS")


def name_text(name: Name) -> str:
    """The last part of a name as written (a cube, a member's own name)."""
    last = name.parts[-1]
    return last.text if isinstance(last, Seg) else last.keys[-1]


# --- the printer ------------------------------------------------------------------------------


def bracket(text: str) -> str:
    return "[" + text.replace("]", "]]") + "]"


def _part(p: Part) -> str:
    if isinstance(p, Keys):
        return "".join("&" + bracket(k) for k in p.keys)
    return bracket(p.text) if p.quoted else p.text


def _string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def expr_mdx(e: Expr | None) -> str:
    if e is None:
        return ""
    if isinstance(e, Name):
        return ".".join(_part(p) for p in e.parts)
    if isinstance(e, Number):
        return str(e.value)
    if isinstance(e, String):
        return _string(e.value)
    if isinstance(e, Call):
        args = [expr_mdx(a) for a in e.args]
        if e.method:
            head = expr_mdx(e.args[0])
            if isinstance(e.args[0], Range):  # `(a:b).Count`, not `a:(b.Count)`
                head = f"({head})"
            return f"{head}.{e.name}" + (f"({', '.join(args[1:])})" if len(args) > 1 else "")
        return f"{e.name}({', '.join(args)})"
    if isinstance(e, SetOf):
        return "{" + ", ".join(expr_mdx(i) for i in e.items) + "}"
    if isinstance(e, TupleOf):
        inner = ", ".join(expr_mdx(i) for i in e.items)
        return f"({inner})"
    if isinstance(e, Binary):
        return f"({expr_mdx(e.left)} {e.op} {expr_mdx(e.right)})"
    if isinstance(e, Unary):
        return f"({e.op} {expr_mdx(e.operand)})"
    if isinstance(e, Range):
        return f"{expr_mdx(e.low)}:{expr_mdx(e.high)}"
    if isinstance(e, Alias):
        return f"{expr_mdx(e.expr)} AS {expr_mdx(e.name)}"
    parts = ["CASE"]
    if e.subject is not None:
        parts.append(expr_mdx(e.subject))
    for cond, value in e.whens:
        parts += ["WHEN", expr_mdx(cond), "THEN", expr_mdx(value)]
    if e.default is not None:
        parts += ["ELSE", expr_mdx(e.default)]
    return " ".join([*parts, "END"])


def select_mdx(s: Select) -> str:
    axes = []
    for a in s.axes:
        text = ("NON EMPTY " if a.non_empty else "") + expr_mdx(a.expr)
        if a.properties:
            text += " DIMENSION PROPERTIES " + ", ".join(expr_mdx(p) for p in a.properties)
        axes.append(f"{text} ON {a.ordinal}")
    cube = f"({select_mdx(s.cube)})" if isinstance(s.cube, Select) else expr_mdx(s.cube)
    out = f"SELECT {', '.join(axes)} FROM {cube}"
    if s.where is not None:
        out += f" WHERE {expr_mdx(s.where)}"
    if s.cell_properties:
        out += " CELL PROPERTIES " + ", ".join(s.cell_properties)
    return out


def _formula(e: Expr) -> str:
    """A formula's expression; a string literal in the quoted form, its quotes doubled, since
    `AS '0'` is the older way of writing the expression `0`."""
    return _string(expr_mdx(e)) if isinstance(e, String) else expr_mdx(e)


def to_mdx(st: Statement) -> str:
    """The statement as canonical MDX (parses back to an equal tree)."""
    formulas = []
    for f in st.formulas:
        if isinstance(f, MemberDef):
            props = "".join(f", {k} = {expr_mdx(v)}" for k, v in f.props)
            formulas.append(f"MEMBER {expr_mdx(f.name)} AS {_formula(f.expr)}{props}")
        else:
            formulas.append(f"SET {expr_mdx(f.name)} AS {_formula(f.expr)}")
    head = ("WITH " + " ".join(formulas) + " ") if formulas else ""
    return head + select_mdx(st.select)
