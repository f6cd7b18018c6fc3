"""Typed cube queries: what every front end asks the cube service (labis_olap.service)."""

from __future__ import annotations

from dataclasses import dataclass

from ..model.cuts import Cut, Drilldown, Order

SUBTOTAL_KINDS = ("none", "rollup", "cube")
"""What `CubeQuery.subtotals` takes (see query/executor.py's subtotal_groupings)."""


@dataclass(frozen=True)
class CubeQuery:
    """What to aggregate: measures over the cell given by cuts, split by drilldowns."""

    cube: str
    measures: tuple[str, ...] = ()
    """Empty: every measure of the cube."""
    cuts: tuple[Cut, ...] = ()
    drilldowns: tuple[Drilldown, ...] = ()
    order: tuple[Order, ...] = ()
    page: int | None = None
    pagesize: int | None = None
    as_of: str | None = None
    """Hierarchy version: None = as at each fact's date; a date `YYYY-MM-DD` or a version name."""
    lang: str = "lv"
    split: tuple[Cut, ...] = ()
    """Slicer's split: cells are further divided into inside / outside these cuts."""
    subtotals: str = "none"
    """Subtotal grouping sets besides the cells: none, rollup or cube (see browser)."""


@dataclass(frozen=True)
class MembersQuery:
    """Members of one dimension of a cube, down to a level (`depth` or `level`)."""

    cube: str
    dimension: str
    depth: int | None = None
    level: str | None = None
    hierarchy: str | None = None
    cuts: tuple[Cut, ...] = ()
    """Cuts on this dimension only (members are the dimension's, not the facts')."""
    order: tuple[Order, ...] = ()
    page: int | None = None
    pagesize: int | None = None
    as_of: str | None = None
    lang: str = "lv"


@dataclass(frozen=True)
class FactsQuery:
    """Fact rows of the cell given by cuts (microdata: personal columns are never returned)."""

    cube: str
    cuts: tuple[Cut, ...] = ()
    fields: tuple[str, ...] = ()
    """Empty: every column that may be shown, then every dimension attribute (`dim.level`,
    `dim.level_label`); either kind may be named."""
    order: tuple[Order, ...] = ()
    page: int | None = None
    pagesize: int | None = None
    as_of: str | None = None
    lang: str = "lv"
    """The language of the attributes' labels."""
