"""Reading a Cubes 1.x model.json: dimensions, levels, attributes and their table columns.

Nothing here knows LabIS' YAML; `translate` turns what is read into it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import UserError
from ...model.schema import TIME_ORDER

TIME_ROLES = {r.value for r in TIME_ORDER}


def safe_name(text: str) -> str:
    """A LabIS name (`^[a-z][a-z0-9_]*$`) for a Cubes name."""
    name = re.sub(r"[^a-z0-9_]+", "_", text.strip().lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"x_{name}"
    return name[:63]


def label_of(obj: dict[str, Any], default: str) -> str:
    value = obj.get("label")
    return value if isinstance(value, str) and value else default


@dataclass
class CubesAttr:
    name: str
    ref: str
    column: str
    """The Cubes table column (from `mappings`, else the attribute's name)."""


@dataclass
class CubesLevel:
    name: str
    label: str
    role: str | None
    attributes: list[CubesAttr]
    key: CubesAttr
    label_attr: CubesAttr | None
    order_attr: CubesAttr | None


@dataclass
class CubesDim:
    name: str
    label: str
    description: str | None
    is_time: bool
    levels: list[CubesLevel]
    hierarchies: list[tuple[str, str, list[str]]]
    default_hierarchy: str | None


@dataclass
class CubesCube:
    """One Cubes cube as read: its dimensions, measures and the columns of its table."""

    raw: dict[str, Any]
    name: str
    """The LabIS name (`safe_name` of the Cubes name)."""
    dims: list[CubesDim]
    measures: list[dict[str, Any]]
    measure_columns: dict[str, str]
    """Plain (not expression) measure → its table column."""
    columns: list[str]
    """The Cubes table columns: each dimension's level attributes top-down, then the measures
    (the order of the Cubes tutorial's `create_table_from_csv`)."""


def read_cubes_model(source: Path | dict[str, Any]) -> dict[str, Any]:
    """The model.json's content (or the dict given), with a 'cubes' list."""
    if isinstance(source, Path):
        try:
            spec = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"cannot read the Cubes model {source}: {exc}") from None
    else:
        spec = source
    if not isinstance(spec, dict) or not spec.get("cubes"):
        raise UserError("a Cubes model needs a 'cubes' list")
    return spec


def mapping_column(mappings: dict[str, Any], ref: str, default: str) -> str:
    value = mappings.get(ref)
    if isinstance(value, dict):
        value = value.get("column")
    if isinstance(value, str) and value:
        return value.rsplit(".", 1)[-1]
    return default


def parse_dimension(d: dict[str, Any], mappings: dict[str, Any], warnings: list[str]) -> CubesDim:
    name = str(d["name"])
    raw_levels = d.get("levels") or [{"name": name, "attributes": d.get("attributes") or [name]}]
    levels = []
    for rl in raw_levels:
        if isinstance(rl, str):
            rl = {"name": rl}
        lname = str(rl["name"])
        names = [str(a["name"] if isinstance(a, dict) else a) for a in rl.get("attributes") or [lname]]
        # Cubes shortens the ref of a flat dimension's only attribute to the dimension's name.
        flat = len(raw_levels) == 1 and len(names) == 1
        attrs = []
        for aname in names:
            ref = name if flat else f"{name}.{aname}"
            column = mapping_column(mappings, ref, mapping_column(mappings, f"{name}.{aname}", aname))
            attrs.append(CubesAttr(aname, ref, column))
        by_name = {a.name: a for a in attrs}
        key = by_name.get(str(rl.get("key") or ""), attrs[0])
        label_name = rl.get("label_attribute")
        label_attr = by_name.get(str(label_name)) if label_name else (attrs[1] if len(attrs) > 1 else None)
        order_name = rl.get("order_attribute")
        order_attr = by_name.get(str(order_name)) if order_name else None
        role = rl.get("role") or (lname if lname in TIME_ROLES else None)
        levels.append(CubesLevel(lname, label_of(rl, lname), role, attrs, key, label_attr, order_attr))
    hierarchies = []
    for h in d.get("hierarchies") or []:
        hierarchies.append((str(h["name"]), label_of(h, str(h["name"])), [str(x) for x in h["levels"]]))
    is_time = d.get("role") == "time"
    if is_time and not all(lv.role in TIME_ROLES for lv in levels):
        warnings.append(
            f"dimension '{name}': time levels other than year/quarter/month/day; imported as plain"
        )
        is_time = False
    return CubesDim(
        name,
        label_of(d, name),
        d.get("description"),
        is_time,
        levels,
        hierarchies,
        d.get("default_hierarchy_name"),
    )


def parse_cube(c: dict[str, Any], raw_dims: dict[str, dict[str, Any]], warnings: list[str]) -> CubesCube:
    cname = safe_name(str(c["name"]))
    if cname != c["name"]:
        warnings.append(f"cube '{c['name']}' is named '{cname}'")
    mappings = c.get("mappings") or {}
    dims: list[CubesDim] = []
    for ref in c.get("dimensions") or []:
        dname = str(ref["name"] if isinstance(ref, dict) else ref)
        if dname not in raw_dims:
            raise UserError(f"cube '{c['name']}' names an unknown dimension '{dname}'")
        dims.append(parse_dimension(raw_dims[dname], mappings, warnings))
    if c.get("joins"):
        warnings.append(
            f"cube '{c['name']}': joins are not imported; the data must be the denormalised table"
        )
    measures = [m if isinstance(m, dict) else {"name": m} for m in c.get("measures") or []]
    measure_columns = {
        str(m["name"]): mapping_column(mappings, str(m["name"]), str(m["name"]))
        for m in measures
        if not m.get("expression")
    }
    columns: list[str] = []
    for d in dims:
        for lv in d.levels:
            columns += [a.column for a in lv.attributes if a.column not in columns]
    columns += [col for col in measure_columns.values() if col not in columns]
    return CubesCube(c, cname, dims, measures, measure_columns, columns)
