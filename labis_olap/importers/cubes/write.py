"""Writing the YAML of an import: dimensions, the cube's measures, the cube file, the loader spec."""

from __future__ import annotations

import io
import json
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from ...errors import UserError
from ...model.expressions import ParsedExpr, parse_expression
from ...model.schema import ColumnType
from .data import PATH_SEP, KeyPlan
from .parse import CubesCube, CubesDim, label_of, safe_name

FUNCTIONS = {
    "sum": "sum",
    "count": "count",
    "min": "min",
    "max": "max",
    "avg": "avg",
    "count_distinct": "count_distinct",
    "count_nonempty": "count",
}


def dump(obj: Any, comment: str) -> str:
    """YAML text with a `#` comment on top."""
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 100
    buf = io.StringIO()
    yaml.dump(obj, buf)
    head = "".join(f"# {line}\n" if line else "#\n" for line in comment.splitlines())
    return head + buf.getvalue()


def hierarchies_of(d: CubesDim) -> list[dict[str, Any]]:
    return [
        {"name": safe_name(h), "label": lbl, "levels": [safe_name(x) for x in lvls]}
        for h, lbl, lvls in d.hierarchies
    ]


def time_dimension_yaml(d: CubesDim, dname: str) -> str:
    doc: dict[str, Any] = {"dimension": dname, "label": d.label, "role": "time"}
    doc["levels"] = [{"name": safe_name(lv.name), "label": lv.label, "role": lv.role} for lv in d.levels]
    if d.hierarchies:
        doc["hierarchies"] = hierarchies_of(d)
    return dump(
        doc, f"Imported from the Cubes time dimension '{d.name}': members are the dates of the facts."
    )


def plain_dimension_yaml(plan: KeyPlan, col_of: dict[str, str], has_data: bool) -> str:
    d = plan.dim
    doc: dict[str, Any] = {"dimension": plan.name, "label": d.label}
    if d.description:
        doc["description"] = d.description
    levels = []
    for i, lv in enumerate(d.levels):
        out: dict[str, Any] = {"name": safe_name(lv.name), "label": lv.label, "key": plan.key_columns[i]}
        label_col = (
            col_of[lv.label_attr.column]
            if lv.label_attr
            else (col_of[lv.key.column] if plan.ambiguous[i] else None)
        )
        if label_col:
            out["label_column"] = {"lv": label_col, "en": label_col}
        if lv.order_attr:
            out["order_column"] = col_of[lv.order_attr.column]
        if plan.ambiguous[i]:
            # Cubes paths name the member within its parent: `item:a,da` as well as `a/da`.
            out["path_key"] = col_of[lv.key.column]
        extra = [col_of[a.column] for a in lv.attributes if a not in (lv.key, lv.label_attr, lv.order_attr)]
        if extra:
            out["attributes"] = extra
        levels.append(out)
    doc["levels"] = levels
    if d.hierarchies:
        doc["hierarchies"] = hierarchies_of(d)
        if d.default_hierarchy:
            doc["default_hierarchy"] = safe_name(d.default_hierarchy)
    doc["members"] = {"file": f"../members/{plan.name}.csv", "fact_key": plan.key_columns[-1]}
    comment = f"Imported from the Cubes dimension '{d.name}'; members derived from the data."
    if any(plan.ambiguous):
        comment += (
            "\nA Cubes key that recurs under different parents is written with its path "
            f"('{PATH_SEP}'-separated),\nso that it names one member: "
            + "; ".join(
                f"{lv.name}: {', '.join(sorted(a))}"
                for lv, a in zip(d.levels, plan.ambiguous, strict=True)
                if a
            )
        )
    if not has_data:
        comment += "\nNo data was given: fill the members file before use."
    return dump(doc, comment)


def cube_yaml(
    cube: CubesCube,
    fact_cols: list[dict[str, Any]],
    links: list[dict[str, Any]],
    measures: list[dict[str, Any]],
) -> str:
    c = cube.raw
    doc: dict[str, Any] = {"cube": cube.name, "label": label_of(c, cube.name)}
    if c.get("description"):
        doc["description"] = str(c["description"])
    if c.get("category"):
        doc["source_institution"] = str(c["category"])
    doc["columns"] = fact_cols
    doc["dimensions"] = links
    doc["measures"] = measures
    comment = f"Imported from the Cubes model of cube '{c['name']}' by `labis import-cubes`."
    if c.get("info"):
        comment += "\nCubes info (not kept by LabIS): " + json.dumps(c["info"], ensure_ascii=False)
    return dump(doc, comment)


def measures_of(cube: CubesCube, col_of: dict[str, str], warnings: list[str]) -> list[dict[str, Any]]:
    """The LabIS measures: one per Cubes aggregate (Cubes' defaults without an `aggregates`
    list); what has no LabIS equivalent is left out with a warning."""
    c, measures, measure_columns = cube.raw, cube.measures, cube.measure_columns
    aggregates = c.get("aggregates")
    if not aggregates:
        aggregates = []
        for m in measures:
            if m.get("expression"):
                continue
            for fn in m.get("aggregates") or ["sum"]:
                aggregates.append(
                    {
                        "name": f"{m['name']}_{fn}",
                        "function": fn,
                        "measure": m["name"],
                        "label": m.get("label"),
                    }
                )
        if not any(a["name"] == "record_count" for a in aggregates):
            aggregates.append({"name": "record_count", "function": "count", "label": "Record count"})
    out: list[dict[str, Any]] = []
    known: list[str] = []
    for a in aggregates:
        a = a if isinstance(a, dict) else {"name": a}
        name = safe_name(str(a["name"]))
        entry: dict[str, Any] = {"name": name, "label": label_of(a, str(a["name"]))}
        fn, measure, expression = a.get("function"), a.get("measure"), a.get("expression")
        if expression:
            parsed = parse_expression(str(expression), kind="calc", known=known)
            if not isinstance(parsed, ParsedExpr):
                warnings.append(
                    f"aggregate '{a['name']}': expression {expression!r} is not an expression over other "
                    "aggregates; left out"
                )
                continue
            entry["expression"] = str(expression)
        elif fn in FUNCTIONS:
            entry["function"] = FUNCTIONS[fn]
            if measure is not None:
                if str(measure) not in measure_columns:
                    warnings.append(
                        f"aggregate '{a['name']}': measure '{measure}' is computed or unknown; left out"
                    )
                    continue
                if fn != "count":  # Cubes' count counts records whatever its measure
                    entry["column"] = col_of[measure_columns[str(measure)]]
            elif fn not in ("count",):
                warnings.append(f"aggregate '{a['name']}': function '{fn}' needs a measure; left out")
                continue
        else:
            warnings.append(f"aggregate '{a['name']}': function '{fn}' is not supported; left out")
            continue
        out.append(entry)
        known.append(name)
    if not out:
        raise UserError(f"cube '{c['name']}': no aggregate could be imported")
    return out


def loader_spec_yaml(
    cube: str, facts_file: str, fact_cols: list[dict[str, Any]], multiline: bool, max_reject_share: float
) -> str:
    """The loader spec (as in loaders/*.yaml) for the cube's facts CSV: each fact column from
    the CSV column of the same name, checked against its type and, for a dimension's key,
    against the dimension's members."""
    options: dict[str, Any] = {"null_values": []}
    if multiline:
        options["multiline"] = True
    columns = []
    for fc in fact_cols:
        entry = CommentedMap(to=fc["name"], **{"from": fc["name"]}, type=fc["type"])
        if fc["type"] == ColumnType.string.value:
            entry["trim"] = False  # the members were derived from the values as they are
        entry.fa.set_flow_style()
        columns.append(entry)
    doc: dict[str, Any] = {
        "source": cube,
        "label": f"Cubes import of cube {cube}",
        "cube": cube,
        "kind": "csv",
        "options": options,
        "max_reject_share": max_reject_share,
        "columns": columns,
    }
    return dump(
        doc,
        f"Loads {facts_file}, the facts of cube '{cube}' converted from the Cubes data by\n"
        "`labis import-cubes` (its header names the fact columns). From the import's folder:\n"
        f"  labis load --model model --loaders loaders {cube} {facts_file}\n"
        "null_values is empty: an empty text is a value, as in the Cubes table, not a missing one.",
    )
