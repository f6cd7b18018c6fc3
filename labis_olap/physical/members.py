"""Dimension members as Arrow tables: the rows of the map and label tables (and of the labels
the query layer keeps in memory, so both read the same members)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa

from ..model.definition import Model
from ..model.schema import Dimension
from .layout import OPEN_END, OPEN_START


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _d(value: Any, default: dt.date) -> dt.date:
    if value in (None, ""):
        return default
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def sort_key(value: Any) -> str:
    """Numbers sort as numbers: left-pad digit strings so '10' follows '9'."""
    text = _s(value)
    return text.rjust(20, "0") if text.isdigit() else text


def map_rows(model: Model, dim: Dimension) -> pa.Table:
    rows = model.members[dim.name]
    spec = dim.members
    assert spec is not None
    fact_key = dim.fact_key_column
    data: dict[str, list[Any]] = {"fact_key": [_s(r[fact_key]) for r in rows]}
    if dim.is_versioned:
        data["valid_from"] = [_d(r.get(spec.from_column), OPEN_START) for r in rows]
        data["valid_to"] = [_d(r.get(spec.to_column), OPEN_END) for r in rows]
    for lv in dim.levels:
        data[lv.name] = [_s(r[lv.key_column]) for r in rows]
    schema = [pa.field(k, pa.date32() if k.startswith("valid_") else pa.string()) for k in data]
    return pa.table(data, schema=pa.schema(schema))


def label_rows(model: Model, dim: Dimension) -> pa.Table:
    """One row per (level, key): labels of the member's newest version."""
    rows = list(model.members[dim.name])
    spec = dim.members
    assert spec is not None
    if dim.is_versioned:
        rows.sort(key=lambda r: _d(r.get(spec.from_column), OPEN_START))
    latest: dict[tuple[str, str], dict[str, str]] = {}
    for r in rows:
        for lv in dim.levels:
            key = _s(r[lv.key_column])
            label_lv = _s(r[lv.label_column.lv]) if lv.label_column else key
            label_en = _s(r[lv.label_column.en]) if lv.label_column else key
            attrs = {a: _s(r.get(a)) for a in lv.attributes}
            latest[(lv.name, key)] = {
                "level": lv.name,
                "key": key,
                "label_lv": label_lv,
                "label_en": label_en,
                "sort": sort_key(r[lv.order_column] if lv.order_column else key),
                "attributes": json.dumps(attrs, ensure_ascii=False),
            }
    cols = ["level", "key", "label_lv", "label_en", "sort", "attributes"]
    return pa.table({c: [v[c] for v in latest.values()] for c in cols})


AttributeMap = dict[tuple[str, str], dict[str, str]]
"""(level, member key) → the member's attributes."""


_ATTRIBUTES: dict[tuple[int, int], tuple[Model, Dimension, AttributeMap]] = {}


def attribute_map(model: Model, dim: Dimension) -> AttributeMap:
    """Every member's level attributes, from its newest version (as its label); cached per
    model and dimension object, as their digests are (a members request asks for them)."""
    if not any(lv.attributes for lv in dim.levels):
        return {}
    hit = _ATTRIBUTES.get((id(model), id(dim)))
    if hit is not None and hit[0] is model and hit[1] is dim:
        return hit[2]
    found = {(r["level"], r["key"]): json.loads(r["attributes"]) for r in label_rows(model, dim).to_pylist()}
    _ATTRIBUTES[(id(model), id(dim))] = (model, dim, found)
    return found


def attribute_columns(
    dim: Dimension, alias: str, level_keys: dict[str, list[Any]], found: AttributeMap
) -> dict[str, pa.Array]:
    """The columns `alias.attribute` of an answer for the members whose keys are given (level
    name → keys); None where a key has no member (a subtotal row, a fact key without one)."""
    out: dict[str, pa.Array] = {}
    for lv in dim.levels:
        if lv.name not in level_keys:
            continue
        keys = level_keys[lv.name]
        for a in lv.attributes:
            values = [found.get((lv.name, k), {}).get(a) if k is not None else None for k in keys]
            out[f"{alias}.{a}"] = pa.array([v if v != "" else None for v in values], pa.string())
    return out
