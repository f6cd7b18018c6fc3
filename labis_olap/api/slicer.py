"""The Slicer front end's own syntax and shapes: its parameters into typed queries, the cube
service's answers into Slicer payloads. Nothing here computes an answer.

Slicer's parameters are strings (`cut=time:2024|territory:LV005`, `drilldown=a|b`,
`aggregates=x|y`, `order=f:desc,g`); /report and the indicator routes reuse the same parsers.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..model.cut_grammar import parse_cuts, parse_drilldowns, parse_order
from ..model.cuts import Cut, PointCut, RangeCut, SetCut
from ..physical.layout import CubeLayout
from ..physical.names import FACT_KEY
from ..query.cell import CubeQuery, FactsQuery, MembersQuery
from ..query.results import MembersResult
from ..service import STATUS, CellSet, CutDetail, CutInfo
from .render import json_bytes

SPLIT = "__within_split__"


def split_list(text: str | None, sep: str = "|") -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(p.strip() for p in text.split(sep) if p.strip())


def aggregate_query(
    cube: str,
    *,
    cut: str | None = None,
    drilldown: str | None = None,
    aggregates: str | None = None,
    split: str | None = None,
    order: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
    as_of: str | None = None,
    lang: str = "lv",
    subtotals: str = "none",
    cell: tuple[Cut, ...] = (),
) -> CubeQuery:
    """A Slicer aggregate request as a typed query; `cell` cuts come before the request's."""
    return CubeQuery(
        cube,
        split_list(aggregates),
        cell + parse_cuts(cut),
        parse_drilldowns(drilldown),
        parse_order(order),
        page,
        pagesize,
        as_of,
        lang,
        parse_cuts(split),
        subtotals,
    )


def facts_query(
    cube: str,
    *,
    cut: str | None = None,
    fields: str | None = None,
    order: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
    as_of: str | None = None,
    lang: str = "lv",
    cell: tuple[Cut, ...] = (),
) -> FactsQuery:
    return FactsQuery(
        cube, cell + parse_cuts(cut), split_list(fields, ","), parse_order(order), page, pagesize, as_of, lang
    )


def members_query(
    cube: str,
    dimension: str,
    *,
    cut: str | None = None,
    depth: int | None = None,
    level: str | None = None,
    hierarchy: str | None = None,
    order: str | None = None,
    page: int | None = None,
    pagesize: int | None = None,
    as_of: str | None = None,
    lang: str = "lv",
    cell: tuple[Cut, ...] = (),
) -> MembersQuery:
    return MembersQuery(
        cube,
        dimension,
        depth,
        level,
        hierarchy,
        cell + parse_cuts(cut),
        parse_order(order),
        page,
        pagesize,
        as_of,
        lang,
    )


# --- answers as Slicer shows them ---------------------------------------------------------------
def cut_dict(info: CutInfo) -> dict[str, Any]:
    """A cut as Slicer shows it in `cell`."""
    cut = info.cut
    out: dict[str, Any] = {
        "type": "point",
        "dimension": cut.dimension,
        "hierarchy": info.hierarchy,
        "level_depth": info.depth,
        "invert": cut.invert,
        "hidden": False,
    }
    if isinstance(cut, PointCut):
        out["path"] = list(cut.path)
    elif isinstance(cut, RangeCut):
        out["type"] = "range"
        out["from"] = list(cut.from_path) if cut.from_path is not None else None
        out["to"] = list(cut.to_path) if cut.to_path is not None else None
    elif isinstance(cut, SetCut):
        out["type"] = "set"
        out["paths"] = [list(p) for p in cut.paths]
    return out


def _payload(cells: CellSet) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "summary": cells.summary or {},
        "remainder": {},
        "cells": cells.cells.to_pylist() if cells.has_cells else [],
        "total_cell_count": cells.total_cell_count if cells.has_cells else None,
        "aggregates": cells.measure_names,
        "cell": [cut_dict(c) for c in cells.cuts],
        "levels": cells.levels,
        "attributes": cells.attributes,
        "has_split": cells.has_split,
    }
    if cells.subtotal_kind != "none":
        payload["subtotals"] = [
            {"levels": s.levels, "attributes": s.attributes, "cells": s.rows.to_pylist()}
            for s in cells.subtotals
        ]
    return payload


def aggregate_json(cells: CellSet) -> bytes:
    """The aggregate's Slicer JSON (without `explain`), rendered once per cell set."""
    body: bytes = cells.rendered("slicer.json", lambda c: json_bytes(_payload(c)))
    return body


def aggregate_payload(cells: CellSet, *, explain: bool = False) -> dict[str, Any]:
    """The aggregate's Slicer payload, a fresh dict (safe to extend), read from its JSON so that
    both are the same values."""
    payload: dict[str, Any] = orjson.loads(aggregate_json(cells))
    if explain:
        payload["explain"] = cells.explain.as_dict()
    return payload


def aggregate_labels(cells: CellSet, lang: str) -> dict[str, str]:
    """Column → human label, for CSV/XLSX headers."""
    labels = {m.name: m.caption[lang] for m in cells.measures}
    for m in cells.measures:  # a protected answer's statuses (docs/disclosure.md)
        labels[m.name + STATUS] = f"{m.caption[lang]} ({'statuss' if lang == 'lv' else 'status'})"
    for axis in cells.axes:
        for lv in axis.levels:
            name = lv.caption[lang]
            labels[lv.key] = name
            if lv.label is not None:
                labels[lv.label] = f"{name} ({'nosaukums' if lang == 'lv' else 'label'})"
    if cells.has_split:
        labels[SPLIT] = "dalījuma iekšpusē" if lang == "lv" else "within split"
    return labels


def facts_labels(layout: CubeLayout, lang: str) -> dict[str, str]:
    """Column → human label, for CSV/XLSX headers: the fact columns' labels, the levels' for
    the dimension attributes."""
    out = {FACT_KEY: FACT_KEY}
    for c in layout.cube.columns:
        out[c.name] = c.label.get(lang) if c.label else c.name
    for link in layout.cube.dimensions:
        for lv in layout.model.dimensions[link.dimension].levels:
            name = lv.label.get(lang) if lv.label else lv.name
            out[f"{link.alias}.{lv.name}"] = name
            out[f"{link.alias}.{lv.name}_label"] = f"{name} ({'nosaukums' if lang == 'lv' else 'label'})"
    return out


def members_payload(result: MembersResult) -> dict[str, Any]:
    return {
        "dimension": result.dimension,
        "hierarchy": result.hierarchy,
        "depth": result.depth,
        "data": result.data.to_pylist(),
    }


def cell_payload(cube: str, details: list[CutDetail]) -> dict[str, Any]:
    return {"cube": cube, "cuts": [{**cut_dict(d.cut), "details": d.details} for d in details]}
