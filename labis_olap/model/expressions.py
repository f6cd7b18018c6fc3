"""Measure filters and calculated-measure expressions: parsed, checked, re-rendered.

YAML text is never pasted into SQL. sqlglot parses it (ClickHouse dialect); only a small
whitelist of node types survives; every identifier must name a known column or measure and
is re-rendered quoted. Literals are re-rendered by sqlglot, so quoting is sqlglot's, not ours.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

FILTER_NODES: tuple[type[exp.Expression], ...] = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.Neg,
    exp.Not,
    exp.And,
    exp.Or,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.In,
    exp.Is,
    exp.Between,
    exp.Tuple,
)
CALC_NODES: tuple[type[exp.Expression], ...] = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Paren,
    exp.Neg,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
)


HINTS = {
    "filter": "filters use columns, literals, comparisons, IN, AND/OR/NOT",
    "calc": "calculated measures use measures, numbers and + - * /",
    "row": "column expressions use fact columns, numbers and + - * /",
}


@dataclass(frozen=True)
class ExprProblem:
    message: str
    offset: int = 0
    """0-based character offset inside the expression text."""
    hint: str | None = None


@dataclass(frozen=True)
class ParsedExpr:
    tree: exp.Expr
    names: tuple[str, ...]
    """Identifiers referenced, in order of appearance."""

    def render(self, name_sql: Callable[[str], str]) -> str:
        """ClickHouse SQL with each identifier replaced by `name_sql(name)`."""

        def swap(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Column):
                return sqlglot.parse_one(name_sql(node.name), dialect="clickhouse")
            return node

        tree = self.tree.copy().transform(swap)
        return _safe_division(tree).sql(dialect="clickhouse")


def _safe_division(tree: exp.Expr) -> exp.Expr:
    """x / y → x / nullIf(y, 0): a rate over an empty cell is NULL, not an error or inf."""

    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Div):
            right = exp.Anonymous(this="nullIf", expressions=[node.expression.copy(), exp.Literal.number(0)])
            return exp.Div(this=node.this.copy(), expression=right)
        return node

    return tree.transform(fix)


def parse_expression(text: str, *, kind: str, known: Iterable[str]) -> ParsedExpr | list[ExprProblem]:
    """Parse a filter (`kind='filter'`), a calculated measure (`kind='calc'`: arithmetic over
    measures) or a measure's column expression (`kind='row'`: arithmetic over fact columns)."""
    known_set = set(known)
    try:
        tree = sqlglot.parse_one(text, dialect="clickhouse")
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        desc = str(err.get("description") or exc).split("\n")[0]
        if desc.startswith("Required keyword:"):
            desc = "an operand is missing"
        near = str(err.get("highlight") or "")
        # sqlglot gives the line and the column where the offending token ends.
        line, col = int(err.get("line") or 1), int(err.get("col") or 1)
        offset = sum(len(ln) + 1 for ln in text.split("\n")[: line - 1]) + max(col - len(near), 0)
        return [
            ExprProblem(
                f"cannot parse expression: {desc}" + (f" (near '{near}')" if near else ""),
                min(offset, len(text)),
            )
        ]
    except TokenError as exc:
        return [ExprProblem(f"cannot parse expression: {exc}")]
    if tree is None:
        return [ExprProblem("empty expression")]
    for node in tree.walk():
        node.comments = None  # nothing but names and literals from the YAML text reaches SQL
    allowed = FILTER_NODES if kind == "filter" else CALC_NODES
    problems: list[ExprProblem] = []
    names: list[str] = []
    # A node that is not allowed is reported once; what is under it is not looked at.
    for node in tree.walk(prune=lambda n: not isinstance(n, allowed)):
        if isinstance(node, exp.Block):
            problems.append(
                ExprProblem(
                    "only one expression is allowed",
                    _offset(text, node.expressions[1]),
                    "remove the ';' and what follows",
                )
            )
            continue
        if not isinstance(node, allowed):
            what = type(node).__name__.lower()
            problems.append(
                ExprProblem(
                    f"'{node.sql(dialect='clickhouse')}' ({what}) is not allowed here",
                    _offset(text, node),
                    HINTS[kind],
                )
            )
            continue
        if isinstance(node, exp.Column):
            if node.table:
                problems.append(
                    ExprProblem(f"qualified name '{node.sql()}' is not allowed", _offset(text, node))
                )
                continue
            names.append(node.name)
            if node.name not in known_set:
                from .diagnostics import did_you_mean

                what = "measure" if kind == "calc" else "column"
                problems.append(
                    ExprProblem(
                        f"unknown {what} '{node.name}'",
                        _offset(text, node),
                        did_you_mean(node.name, known_set),
                    )
                )
    if problems:
        return problems
    return ParsedExpr(tree, tuple(names))


def _offset(text: str, node: exp.Expr) -> int:
    """0-based position of a node in the text: where its first located token starts, moved back
    to the node's own leading word or '(' when only keywords and blanks lie between them."""
    starts = [n.meta["start"] for n in node.walk() if n.meta.get("start") is not None]
    if not starts:
        return max(text.find(node.sql(dialect="clickhouse")), 0)
    first = int(min(starts))
    lead = re.match(r"\(|\w+", node.sql(dialect="clickhouse"))
    if lead:
        word = lead.group(0).lower()
        pos = text.lower().rfind(word, 0, first + len(word))
        if pos >= 0 and re.fullmatch(r"[\s(\w]*", text[pos + len(word) : first]):
            return pos
    return first


class _Typed(Protocol):
    """What `row_type` needs of a fact column (model/schema.py's FactColumn)."""

    @property
    def name(self) -> str: ...
    @property
    def nullable(self) -> bool: ...
    @property
    def decimal(self) -> tuple[int, int]: ...
    @property
    def type(self) -> Any: ...


NumberKind = Literal["int", "float", "decimal"]


@dataclass(frozen=True)
class RowType:
    """The type of a per-row value, as ClickHouse computes it: integer arithmetic stays
    integer (64 bits), decimals stay exact (38 digits; a product's scale is the sum of its
    factors' scales, a sum's the larger one), a float or a division makes it Float64."""

    kind: NumberKind
    scale: int = 0
    nullable: bool = False
    columns: tuple[tuple[str, NumberKind, int], ...] = ()
    """Each column the value reads: (name, kind, scale), to cast it to the value's arithmetic."""

    @classmethod
    def of_column(cls, col: _Typed) -> RowType:
        kind = _column_kind(col)
        scale = col.decimal[1] if kind == "decimal" else 0
        return cls(kind or "int", scale, col.nullable, ((col.name, kind or "int", scale),))

    @property
    def value_sql(self) -> str:
        return {"int": "Int64", "float": "Float64"}.get(self.kind) or f"Decimal(38, {self.scale})"

    @property
    def sum_sql(self) -> str:
        return self.value_sql

    def render(self, parsed: ParsedExpr) -> str:
        """ClickHouse SQL of the value: columns quoted and cast so that the arithmetic runs in
        the value's type (decimals in 128 bits, everything in Float64 for a float), the result
        cast to it (the type a rollup's state column declares)."""
        kinds = {name: (kind, scale) for name, kind, scale in self.columns}

        def operand(name: str) -> str:
            kind, scale = kinds[name]
            quoted = f"`{name}`"
            if self.kind == "float":
                return f"toFloat64({quoted})"
            if kind == "decimal":
                return f"toDecimal128({quoted}, {scale})"
            return f"toInt64({quoted})"

        body = parsed.render(operand)
        if self.kind == "float":
            return f"toFloat64({body})"
        if self.kind == "decimal":
            return f"toDecimal128({body}, {self.scale})"
        return f"toInt64({body})"


def _column_kind(col: _Typed) -> NumberKind | None:
    kind = {"int": "int", "int64": "int", "float": "float", "decimal": "decimal"}.get(str(col.type))
    return kind  # type: ignore[return-value]


MAX_ROW_SCALE = 18
"""A product of decimals whose scale would exceed this is refused (its digits would not fit)."""


def row_type(
    parsed: ParsedExpr, columns: Mapping[str, _Typed], text: str = ""
) -> RowType | list[ExprProblem]:
    """The type of a column expression over the named fact columns, or why it has none (a
    column that is not a number, a scale too large to keep exactly)."""
    problems: list[ExprProblem] = []
    used: dict[str, tuple[NumberKind, int]] = {}
    nullable = False

    def walk(node: exp.Expr) -> tuple[NumberKind, int]:
        nonlocal nullable
        if isinstance(node, exp.Column):
            col = columns[node.name]
            kind = _column_kind(col)
            if kind is None:
                problems.append(
                    ExprProblem(
                        f"column '{node.name}' is {col.type}, not a number",
                        _offset(text, node) if text else 0,
                        "column expressions compute with int, int64, float and decimal columns",
                    )
                )
                return "int", 0
            nullable = nullable or col.nullable
            scale = col.decimal[1] if kind == "decimal" else 0
            used[node.name] = (kind, scale)
            return kind, scale
        if isinstance(node, exp.Literal):
            if node.is_string:
                problems.append(
                    ExprProblem(f"'{node.sql()}' is text, not a number", _offset(text, node) if text else 0)
                )
                return "int", 0
            return ("int", 0) if node.this.lstrip("-").isdigit() else ("float", 0)
        if isinstance(node, (exp.Paren, exp.Neg)):
            return walk(node.this)
        assert isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div)), type(node)
        (lk, ls), (rk, rs) = walk(node.this), walk(node.expression)
        if isinstance(node, exp.Div) or "float" in (lk, rk):
            return "float", 0
        if "decimal" in (lk, rk):
            return "decimal", (ls + rs if isinstance(node, exp.Mul) else max(ls, rs))
        return "int", 0

    kind, scale = walk(parsed.tree)
    if kind == "decimal" and scale > MAX_ROW_SCALE:
        problems.append(
            ExprProblem(
                f"the product has {scale} decimal places, more than {MAX_ROW_SCALE} can be kept exactly",
                0,
                "declare fewer decimal places on the columns (decimal(18,2)), or divide",
            )
        )
    if problems:
        return problems
    cols = tuple((name, k, sc) for name, (k, sc) in used.items())
    return RowType(kind, scale, nullable, cols)
