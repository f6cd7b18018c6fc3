"""Measure filters and calculated-measure expressions: parsed, checked, re-rendered.

YAML text is never pasted into SQL. sqlglot parses it (ClickHouse dialect); only a small
whitelist of node types survives; every identifier must name a known column or measure and
is re-rendered quoted. Literals are re-rendered by sqlglot, so quoting is sqlglot's, not ours.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

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
    """Parse a filter (`kind='filter'`) or calculated measure (`kind='calc'`)."""
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
                    "filters use columns, literals, comparisons, IN, AND/OR/NOT"
                    if kind == "filter"
                    else "calculated measures use measures, numbers and + - * /",
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

                what = "column" if kind == "filter" else "measure"
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
