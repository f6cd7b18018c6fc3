"""Measure filters and calculated-measure expressions: parsed, checked, re-rendered.

YAML text is never pasted into SQL. sqlglot parses it (ClickHouse dialect); only a small
whitelist of node types survives; every identifier must name a known column or measure and
is re-rendered quoted. Literals are re-rendered by sqlglot, so quoting is sqlglot's, not ours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

FILTER_NODES: tuple[type[exp.Expression], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Neg, exp.Not,
    exp.And, exp.Or, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Is,
    exp.Between, exp.Tuple,
)
CALC_NODES: tuple[type[exp.Expression], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Paren, exp.Neg, exp.Add, exp.Sub, exp.Mul, exp.Div,
)


@dataclass(frozen=True)
class ExprProblem:
    message: str
    offset: int = 0
    """0-based character offset inside the expression text."""
    hint: str | None = None


@dataclass(frozen=True)
class ParsedExpr:
    tree: exp.Expression
    names: tuple[str, ...]
    """Identifiers referenced, in order of appearance."""

    def render(self, name_sql: Callable[[str], str]) -> str:
        """ClickHouse SQL with each identifier replaced by `name_sql(name)`."""

        def swap(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column):
                return sqlglot.parse_one(name_sql(node.name), dialect="clickhouse")
            return node

        tree = self.tree.copy().transform(swap)
        return _safe_division(tree).sql(dialect="clickhouse")


def _safe_division(tree: exp.Expression) -> exp.Expression:
    """x / y → x / nullIf(y, 0): a rate over an empty cell is NULL, not an error or inf."""

    def fix(node: exp.Expression) -> exp.Expression:
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
        col = int(err.get("col") or 1)
        desc = str(err.get("description") or exc).split("\n")[0]
        return [ExprProblem(f"cannot parse expression: {desc}", max(col - 1, 0))]
    except TokenError as exc:
        return [ExprProblem(f"cannot parse expression: {exc}")]
    if tree is None:
        return [ExprProblem("empty expression")]
    allowed = FILTER_NODES if kind == "filter" else CALC_NODES
    problems: list[ExprProblem] = []
    names: list[str] = []
    for node in tree.walk():
        if not isinstance(node, allowed):
            what = type(node).__name__.lower()
            problems.append(ExprProblem(f"'{node.sql(dialect='clickhouse')}' ({what}) is not allowed here",
                                        _offset(text, node),
                                        "filters use columns, literals, comparisons, IN, AND/OR/NOT"
                                        if kind == "filter" else
                                        "calculated measures use measures, numbers and + - * /"))
            continue
        if isinstance(node, exp.Column):
            if node.table:
                problems.append(ExprProblem(f"qualified name '{node.sql()}' is not allowed", _offset(text, node)))
                continue
            names.append(node.name)
            if node.name not in known_set:
                from .diagnostics import did_you_mean

                what = "column" if kind == "filter" else "measure"
                problems.append(ExprProblem(f"unknown {what} '{node.name}'", _offset(text, node),
                                            did_you_mean(node.name, known_set)))
    if problems:
        return problems
    return ParsedExpr(tree, tuple(names))


def _offset(text: str, node: exp.Expression) -> int:
    needle = node.name if isinstance(node, exp.Column) else node.sql(dialect="clickhouse")
    pos = text.find(needle)
    return max(pos, 0)
