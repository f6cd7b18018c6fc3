"""The model as Slicer describes it (what CubesViewer reads from /cubes and /cube/<cube>/model).

LabIS measures are Cubes *aggregates* (a function over a fact column, or an expression over
other aggregates); Cubes *measures* are the fact columns those aggregates read. Each level has
two attributes, named as the aggregate cells name them: the key `level` (ref `dim.level`) and
the label `level_label` (ref `dim.level_label`, localised lv/en).
"""

from __future__ import annotations

from typing import Any

from ..model.definition import Model
from ..model.schema import Cube, Dimension, Level, Text, TimeRole
from ..physical.layout import CubeLayout
from ..physical.names import FACT_KEY

LOCALES = ["lv", "en"]
AGGREGATE_FUNCTIONS = ["sum", "count", "min", "max", "avg", "count_distinct", "last"]
TIME_CARDINALITY = {
    TimeRole.year: "low",
    TimeRole.quarter: "low",
    TimeRole.month: "medium",
    TimeRole.day: "high",
}


def text(value: Text | None, lang: str, default: str | None = None) -> str | None:
    return value.get(lang) if value is not None else default


def cardinality(count: int) -> str:
    """Cubes' classes: tiny (a handful), low (a list), medium (a searchable list), high."""
    if count <= 5:
        return "tiny"
    if count <= 50:
        return "low"
    if count <= 1_000:
        return "medium"
    return "high"


def _level_cardinality(model: Model, dim: Dimension, lv: Level) -> str | None:
    if dim.is_time:
        return TIME_CARDINALITY.get(lv.role) if lv.role else None
    rows = model.members.get(dim.name, [])
    return cardinality(len({r.get(lv.key_column) for r in rows}))


def describe_level(model: Model, alias: str, dim: Dimension, lv: Level, lang: str) -> dict[str, Any]:
    label = text(lv.label, lang, lv.name)
    return {
        "name": lv.name,
        "label": label,
        "description": text(lv.description, lang),
        "key": lv.name,
        "label_attribute": f"{lv.name}_label",
        "order_attribute": lv.name,
        "role": lv.role.value if lv.role else None,
        "cardinality": _level_cardinality(model, dim, lv),
        "info": {},
        "attributes": [
            {"name": lv.name, "ref": f"{alias}.{lv.name}", "label": label, "order": "asc", "locales": []},
            {
                "name": f"{lv.name}_label",
                "ref": f"{alias}.{lv.name}_label",
                "label": label,
                "order": None,
                "locales": list(LOCALES),
            },
        ],
    }


def describe_dimension(model: Model, alias: str, dim: Dimension, lang: str) -> dict[str, Any]:
    levels = [describe_level(model, alias, dim, lv, lang) for lv in dim.levels]
    hierarchies: list[dict[str, Any]] = [
        {"name": h.name, "label": text(h.label, lang, h.name), "levels": list(h.levels), "info": {}}
        for h in dim.all_hierarchies
    ]
    leaf = next(lv for lv in levels if lv["name"] == dim.leaf.name)
    return {
        "name": alias,
        "label": text(dim.label, lang, alias),
        "description": text(dim.description, lang),
        "default_hierarchy_name": dim.default_hierarchy_name,
        "info": {},
        "role": dim.role,
        "cardinality": leaf["cardinality"],
        "is_flat": len(dim.levels) == 1,
        "has_details": True,
        "levels": levels,
        "hierarchies": hierarchies,
    }


def describe_aggregates(cube: Cube, lang: str) -> list[dict[str, Any]]:
    hidden = {c.name for c in cube.columns if c.pseudonymous}
    return [
        {
            "name": m.name,
            "ref": m.name,
            "label": text(m.label, lang, m.name),
            "description": text(m.description, lang),
            "function": m.function.value if m.function else None,
            # A distinct count over persons names no measure: the column is not a field (above).
            "measure": m.column if m.column not in hidden else None,
            "expression": m.expression,
            "info": {k: v for k, v in (("unit", m.unit), ("decimals", m.decimals)) if v is not None},
        }
        for m in cube.measures
    ]


def describe_measures(cube: Cube, lang: str) -> list[dict[str, Any]]:
    """The fact columns that aggregates read, with the aggregates that read each. Pseudonymous
    columns (persons, households) are not fields a client may ask for (they are never shown), so
    they are not listed; only their distinct counts are."""
    hidden = {c.name for c in cube.columns if c.pseudonymous}
    by_column: dict[str, list[str]] = {}
    for m in cube.measures:
        if m.column is not None and m.column not in hidden:
            by_column.setdefault(m.column, []).append(m.name)
    out: list[dict[str, Any]] = []
    for c in cube.columns:
        if c.name in by_column:
            out.append(
                {
                    "name": c.name,
                    "ref": c.name,
                    "label": text(c.label, lang, c.name),
                    "aggregates": by_column[c.name],
                    "info": {},
                }
            )
    return out


def cube_info(cube: Cube) -> dict[str, Any]:
    return {"source_institution": cube.source_institution} if cube.source_institution else {}


def describe_cube_brief(cube: Cube, lang: str) -> dict[str, Any]:
    return {
        "name": cube.name,
        "label": text(cube.label, lang, cube.name),
        "category": cube.source_institution,
        "info": cube_info(cube),
    }


def describe_cube(layout: CubeLayout, lang: str) -> dict[str, Any]:
    cube, model = layout.cube, layout.model
    return {
        **describe_cube_brief(cube, lang),
        "description": text(cube.description, lang),
        "key": FACT_KEY,
        "locale": lang,
        "locales": list(LOCALES),
        "aggregates": describe_aggregates(cube, lang),
        "measures": describe_measures(cube, lang),
        "details": [],
        "dimensions": [
            describe_dimension(model, link.alias, model.dimensions[link.dimension], lang)
            for link in cube.dimensions
        ],
        "features": {
            "actions": ["aggregate", "fact", "facts", "members", "cell", "report"],
            "aggregate_functions": list(AGGREGATE_FUNCTIONS),
            "post_aggregate_functions": [],
        },
    }
