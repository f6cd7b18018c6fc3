"""Indicators (rādītāji) as the API describes them: the catalogue, its search, and one indicator.

An indicator is a cube, one of its measures and fixed cuts. Its data are an aggregate of that
cube through the same service as /aggregate, so an indicator's number is always the cube's.
The HTML catalogue (labis_olap.api.web) renders what `catalogue()` returns, so the page and
`GET /indicators` cannot disagree.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from pydantic import Field

from ..errors import NotFoundError
from ..model.cut_grammar import parse_cuts
from ..model.definition import Model
from ..model.diagnostics import did_you_mean
from ..model.schema import Cube, Indicator, IndicatorType, Periodicity
from ..service import CubeService, Principal
from . import slicer
from .describe import text
from .schemas import AggregateResponse, Shape

TIME_LEVEL = {Periodicity.monthly: "month", Periodicity.quarterly: "quarter", Periodicity.annual: "year"}
"""The time level an indicator is published at, by its periodicity."""


class IndicatorBrief(Shape):
    code: str
    name: str
    description: str | None
    type: IndicatorType
    source_institution: str
    periodicity: Periodicity
    time_level: str = Field(description="The time level of the periodicity: month, quarter or year")
    unit: str
    cube: str
    cube_label: str
    measure: str
    measure_label: str
    cuts: str | None = Field(description="Fixed cuts, in the cut grammar; applied to every query")


class IndicatorLevel(Shape):
    name: str
    label: str


class IndicatorDimension(Shape):
    name: str
    label: str
    role: str | None
    hierarchy: str
    levels: list[IndicatorLevel]


class IndicatorView(Shape):
    territory: str | None = Field(description="The level of the rows, or None: the total only")
    time: str | None = Field(description="The level of the columns, or None: the total only")


class IndicatorDetail(IndicatorBrief):
    decimals: int | None
    dimensions: list[IndicatorDimension] = Field(
        description="The cube's dimensions, with their default hierarchy's levels: what `drilldown` takes"
    )
    territory: str | None = Field(description="The dimension the page's rows are split by")
    time: str | None = Field(description="The dimension the page's columns are split by")
    views: list[IndicatorView] = Field(
        description="The (territory level, time level) pairs the asker may get the page at: all three "
        "of its queries (both levels, each alone) answer; a publication role's are those of the "
        "publication tables (docs/disclosure.md)"
    )


class IndicatorResponse(AggregateResponse):
    indicator: IndicatorDetail


def fold(value: str) -> str:
    """Lower case without diacritics, so that 'registreto' finds 'Reģistrēto'."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def brief(model: Model, ind: Indicator, lang: str) -> dict[str, Any]:
    cube = model.cubes[ind.cube]
    measure = cube.measure(ind.measure)
    return {
        "code": ind.code,
        "name": ind.name.get(lang),
        "description": text(ind.description, lang),
        "type": ind.type,
        "source_institution": ind.source_institution,
        "periodicity": ind.periodicity,
        "time_level": TIME_LEVEL[ind.periodicity],
        "unit": ind.unit,
        "cube": cube.name,
        "cube_label": text(cube.label, lang, cube.name),
        "measure": measure.name,
        "measure_label": text(measure.label, lang, measure.name),
        "cuts": ind.cuts,
    }


def axes(model: Model, cube: Cube) -> tuple[str | None, str | None]:
    """The dimensions an indicator page splits by: rows by territory (the dimension named so,
    else the first other than time with more than one level), columns by time."""
    dims = [(link.alias, model.dimensions[link.dimension]) for link in cube.dimensions]
    time = next((alias for alias, d in dims if d.role == "time"), None)
    terr = next((alias for alias, _ in dims if alias == "territory"), None) or next(
        (alias for alias, d in dims if d.role != "time" and len(d.hierarchy().levels) > 1), None
    )
    return terr, time


def _levels(model: Model, cube: Cube, alias: str | None) -> list[str | None]:
    if alias is None:
        return []
    dim = model.dimensions[cube.link(alias).dimension]
    return [lv for lv in dim.hierarchy().levels if lv != "day"]


def views(service: CubeService, principal: Principal, ind: Indicator) -> list[dict[str, str | None]]:
    """The page views the principal may get, asked of the policy (no engine query): every
    pair of a territory level (or none) and a time level (or none) whose three queries, both
    levels and each alone, the service would answer."""
    model = service.visible_model(principal)
    cube = model.cubes[ind.cube]
    terr, time = axes(model, cube)
    fixed = parse_cuts(ind.cuts)
    answers: dict[str, bool] = {}

    def answered(drilldown: str) -> bool:
        if drilldown not in answers:
            query = slicer.aggregate_query(
                ind.cube, drilldown=drilldown or None, aggregates=ind.measure, cell=fixed
            )
            answers[drilldown] = service.refusal(query, principal) is None
        return answers[drilldown]

    out = []
    for tl in [*_levels(model, cube, terr), None]:
        for ml in [*_levels(model, cube, time), None]:
            if tl is None and ml is None and (terr or time):
                continue
            rows = f"{terr}:{tl}" if tl else ""
            cols = f"{time}:{ml}" if ml else ""
            if all(answered(d) for d in ("|".join(p for p in (rows, cols) if p), rows, cols)):
                out.append({"territory": tl, "time": ml})
    return out


def detail(model: Model, ind: Indicator, lang: str, offered: list[dict[str, str | None]]) -> dict[str, Any]:
    """An indicator with its cube's dimensions and the page views `offered` (`views`)."""
    cube = model.cubes[ind.cube]
    terr, time = axes(model, cube)
    dims = []
    for link in cube.dimensions:
        dim = model.dimensions[link.dimension]
        hier = dim.hierarchy()
        dims.append(
            {
                "name": link.alias,
                "label": text(dim.label, lang, link.alias),
                "role": dim.role,
                "hierarchy": hier.name,
                "levels": [{"name": lv, "label": text(dim.level(lv).label, lang, lv)} for lv in hier.levels],
            }
        )
    return {
        **brief(model, ind, lang),
        "decimals": cube.measure(ind.measure).decimals,
        "dimensions": dims,
        "territory": terr,
        "time": time,
        "views": offered,
    }


def catalogue(
    model: Model, lang: str, q: str | None = None, type: str | None = None, source: str | None = None
) -> list[dict[str, Any]]:
    """Indicators in model order, filtered: `q` is a substring of the code, either name or
    description, or the source (case and diacritics ignored); `type` and `source` match exactly
    (the source case-insensitively)."""
    words = fold(q).split() if q else []
    out = []
    for ind in model.indicators.values():
        if type and ind.type != type:
            continue
        if source and ind.source_institution.casefold() != source.strip().casefold():
            continue
        haystack = fold(
            " ".join(
                [
                    ind.code,
                    ind.source_institution,
                    ind.name.lv,
                    ind.name.en,
                    *((ind.description.lv, ind.description.en) if ind.description else ()),
                ]
            )
        )
        if all(w in haystack for w in words):
            out.append(brief(model, ind, lang))
    return out


def sources(model: Model) -> list[str]:
    return sorted({i.source_institution for i in model.indicators.values()})


def find(model: Model, code: str) -> Indicator:
    ind = model.indicators.get(code)
    if ind is None:
        raise NotFoundError(f"no indicator '{code}'", hint=did_you_mean(code.upper(), model.indicators))
    return ind
