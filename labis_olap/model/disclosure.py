"""Which measure counts a cube's contributors, and each measure's threshold (docs/disclosure.md).

A contributor is a person where the cube has a person (or other pseudonymous identifier)
column, else a record. The count must be exact and unfiltered: an approximate or filtered
count would let a cell of one person pass for a cell of five.
"""

from __future__ import annotations

from dataclasses import dataclass

from .expressions import ParsedExpr, parse_expression
from .schema import Cube, Disclosure, Dominance, Function, Measure

PUBLISHED_FUNCTIONS = frozenset({Function.sum, Function.count, Function.last, Function.avg})
"""What suppression can protect: sums and counts (audited as additive), stocks (audited by
their own relations), averages (a shown cell's sum over its count). min and max are one
person's value, a filter is a hidden category (five persons, one of them `gmi`), a distinct
count other than the contributors' is not additive, and none of them is audited."""


def suitable_contributors(cube: Cube) -> list[Measure]:
    """The measures that count a cell's contributors: exact distinct counts of a pseudonymous
    column, then counts of records (in the cube's order), none filtered."""
    people = [
        m
        for m in cube.measures
        if m.function == Function.count_distinct
        and not m.approximate
        and m.filter is None
        and m.column is not None
        and _pseudonymous(cube, m.column)
    ]
    if people or any(c.pseudonymous for c in cube.columns):
        return people  # a cube of persons counts persons, never records
    return [m for m in cube.measures if m.function == Function.count and m.filter is None]


def _pseudonymous(cube: Cube, column: str) -> bool:
    try:
        return cube.column(column).pseudonymous
    except KeyError:
        return False


def contributors_of(cube: Cube, rules: Disclosure) -> str | None:
    """The contributors measure the rules name, or the first suitable one (None: none fits)."""
    if rules.contributors is not None:
        return rules.contributors
    found = suitable_contributors(cube)
    return found[0].name if found else None


def publishable(cube: Cube, rules: Disclosure, measure: str) -> bool:
    """Whether publication roles get this measure's values (False: every row has it empty,
    status `N`). The contributors count always; under the cell key method nothing else (only
    it is perturbed); under suppression an unfiltered sum, count, stock (`last`) or average,
    and a calculated measure whose every ingredient is publishable."""
    return _publishable(cube, rules, measure, contributors_of(cube, rules), {})


def _publishable(
    cube: Cube, rules: Disclosure, name: str, contributors: str | None, seen: dict[str, bool]
) -> bool:
    if name == contributors:
        return True
    if rules.method == "cell_key":
        return False
    if name in seen:  # asked before (or a cycle, which validation refuses: not published)
        return seen[name]
    seen[name] = False
    m = cube.measure(name)
    if m.expression is not None:
        parsed = parse_expression(m.expression, kind="calc", known=[x.name for x in cube.measures])
        found = isinstance(parsed, ParsedExpr) and all(
            _publishable(cube, rules, n, contributors, seen) for n in parsed.names
        )
    else:
        found = m.filter is None and m.function in PUBLISHED_FUNCTIONS
    seen[name] = found
    return found


def threshold_of(rules: Disclosure, measure: str) -> int:
    own = rules.measures.get(measure)
    return own.threshold if own is not None and own.threshold is not None else rules.threshold


@dataclass(frozen=True)
class Sensitivity:
    """The rules on one sum measure beyond the frequency rule (None: that rule is off)."""

    dominance: Dominance | None
    p_percent: float | None

    @property
    def top(self) -> int:
        """How many of a cell's largest contributors the rules read."""
        return max(self.dominance.n if self.dominance else 0, 2 if self.p_percent else 0)


def sensitivity_of(cube: Cube, rules: Disclosure) -> dict[str, Sensitivity]:
    """The sum measures under the (n,k) or p% rule, with their rules (a measure's own first).
    Only published plain sums (a filtered one is not published): a count of records or a
    distinct count has no contributor's share, and a calculated measure is protected through
    the sums it is made of."""
    out: dict[str, Sensitivity] = {}
    for m in cube.measures:
        if m.function != Function.sum or m.is_calculated or not publishable(cube, rules, m.name):
            continue
        own = rules.measures.get(m.name)
        dominance = rules.dominance if own is None or own.dominance is None else own.dominance
        p = rules.p_percent if own is None or own.p_percent is None else own.p_percent
        found = Sensitivity(dominance or None, p or None)
        if found.top:
            out[m.name] = found
    return out


def sensitive(rule: Sensitivity, total: float, top: list[float]) -> float:
    """How much wider than nothing an attacker's interval for the cell's value must be (0: the
    cell passes both rules). `total` and `top` (largest first) are the absolute values of the
    cell's sum and of its largest contributors' sums (absolute: a refund is still someone's).

    (n,k): the n largest hold k % or more of the total; the protection it needs is the amount
    the total would have to grow for them to hold less, (100/k)·Σtop_n − total. p%: the total
    less the two largest is under p % of the largest, so the second largest would estimate the
    largest within p %; it needs p/100·x1 − (total − x1 − x2). Both as in Tau-Argus; the rules
    themselves as in the SACRO output checker (acro), so that the flags agree.
    """
    if total <= 0 or not top:
        return 0.0
    need = 0.0
    if rule.dominance is not None:
        head = sum(top[: rule.dominance.n])
        if head / total >= rule.dominance.k / 100:
            need = max(need, 100 / rule.dominance.k * head - total, 1.0)
    if rule.p_percent is not None:
        x1 = top[0]
        rest = total - sum(top[:2])
        if x1 > 0 and rest / x1 < rule.p_percent / 100:
            need = max(need, rule.p_percent / 100 * x1 - rest, 1.0)
    return need
