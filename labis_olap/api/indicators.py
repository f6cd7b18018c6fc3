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
from ..model.definition import Model
from ..model.diagnostics import did_you_mean
from ..model.schema import Indicator, IndicatorType, Periodicity
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


class IndicatorDetail(IndicatorBrief):
    decimals: int | None
    dimensions: list[IndicatorDimension] = Field(
        description="The cube's dimensions, with their default hierarchy's levels: what `drilldown` takes"
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


def detail(model: Model, ind: Indicator, lang: str) -> dict[str, Any]:
    cube = model.cubes[ind.cube]
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
    return {**brief(model, ind, lang), "decimals": cube.measure(ind.measure).decimals, "dimensions": dims}


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
