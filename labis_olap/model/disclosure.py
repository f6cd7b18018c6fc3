"""Which measure counts a cube's contributors, and each measure's threshold (docs/disclosure.md).

A contributor is a person where the cube has a person (or other pseudonymous identifier)
column, else a record. The count must be exact and unfiltered: an approximate or filtered
count would let a cell of one person pass for a cell of five.
"""

from __future__ import annotations

from .schema import Cube, Disclosure, Function, Measure


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


def threshold_of(rules: Disclosure, measure: str) -> int:
    own = rules.measures.get(measure)
    return own.threshold if own is not None and own.threshold is not None else rules.threshold
