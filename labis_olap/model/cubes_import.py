"""Import a Cubes 1.x model (model.json) as a LabIS YAML model, and its denormalised data CSV.

Cubes reads a denormalised fact table: every attribute of every level is a column. LabIS keeps
dimension members in member tables and a single key column per dimension in the facts, so
the import

* turns each Cubes *aggregate* into a LabIS measure of the same name (`amount_sum`,
  `record_count`; without an `aggregates` list, Cubes' defaults: `<measure>_sum` per measure
  and `record_count`); aggregates over aggregates become calculated measures; aggregates over
  Cubes' row-level expression measures (`sum(double_amount)`) have no LabIS equivalent yet and
  are left out with a warning, as are window functions (`sma`, …);
* turns a `role: time` dimension whose levels are year/quarter/month/day into a LabIS time
  dimension over one date column built from the level columns (year 2010 → 2010-01-01); any
  other time dimension becomes a plain one;
* derives each plain dimension's members from the data (distinct level attribute values). A
  level key that recurs under different parents (Cubes keys only need to be unique within
  their parent) gets a path key `parent/key` so that it names one member, and the dimension's
  fact key is the leaf level's key;
* converts the data into a facts CSV whose header names the cube's fact columns: the Cubes
  attribute columns (as in the Cubes table), the date column and the dimension key columns.

`load_facts_csv` then loads such a file into a cube's facts. Cubes' joins (snowflake schemas)
are not imported: the data must be the denormalised table.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from ruamel.yaml import YAML

from ..errors import UserError
from .schema import TIME_ORDER, ColumnType

TIME_ROLES = {r.value for r in TIME_ORDER}
FUNCTIONS = {
    "sum": "sum",
    "count": "count",
    "min": "min",
    "max": "max",
    "avg": "avg",
    "count_distinct": "count_distinct",
    "count_nonempty": "count",
}
PATH_SEP = "/"


def safe_name(text: str) -> str:
    """A LabIS name (`^[a-z][a-z0-9_]*$`) for a Cubes name."""
    name = re.sub(r"[^a-z0-9_]+", "_", text.strip().lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"x_{name}"
    return name[:63]


def _label(obj: dict[str, Any], default: str) -> str:
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
class ImportResult:
    files: dict[str, str] = field(default_factory=dict)
    """Relative path → text, to be written under the output folder."""
    warnings: list[str] = field(default_factory=list)
    cubes: list[str] = field(default_factory=list)
    facts_files: dict[str, str] = field(default_factory=dict)
    """Cube → relative path of its converted facts CSV (when data was given)."""

    def write(self, out: Path) -> list[Path]:
        written = []
        for rel, text in self.files.items():
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
        return written


def _mapping_column(mappings: dict[str, Any], ref: str, default: str) -> str:
    value = mappings.get(ref)
    if isinstance(value, dict):
        value = value.get("column")
    if isinstance(value, str) and value:
        return value.rsplit(".", 1)[-1]
    return default


def _parse_dimension(d: dict[str, Any], mappings: dict[str, Any], warnings: list[str]) -> CubesDim:
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
            column = _mapping_column(mappings, ref, _mapping_column(mappings, f"{name}.{aname}", aname))
            attrs.append(CubesAttr(aname, ref, column))
        by_name = {a.name: a for a in attrs}
        key = by_name.get(str(rl.get("key") or ""), attrs[0])
        label_name = rl.get("label_attribute")
        label_attr = by_name.get(str(label_name)) if label_name else (attrs[1] if len(attrs) > 1 else None)
        order_name = rl.get("order_attribute")
        order_attr = by_name.get(str(order_name)) if order_name else None
        role = rl.get("role") or (lname if lname in TIME_ROLES else None)
        levels.append(CubesLevel(lname, _label(rl, lname), role, attrs, key, label_attr, order_attr))
    hierarchies = []
    for h in d.get("hierarchies") or []:
        hierarchies.append((str(h["name"]), _label(h, str(h["name"])), [str(x) for x in h["levels"]]))
    is_time = d.get("role") == "time"
    if is_time and not all(lv.role in TIME_ROLES for lv in levels):
        warnings.append(
            f"dimension '{name}': time levels other than year/quarter/month/day; imported as plain"
        )
        is_time = False
    return CubesDim(
        name,
        _label(d, name),
        d.get("description"),
        is_time,
        levels,
        hierarchies,
        d.get("default_hierarchy_name"),
    )


@dataclass
class _Plan:
    """How one plain dimension's members and fact key are derived from the data."""

    dim: CubesDim
    name: str
    ambiguous: list[set[str]]
    """Per level: keys written with their parent path (see `_ambiguous`)."""
    key_columns: list[str]
    """Per level: the member-table column holding the level key."""
    fact_column: str


def _ambiguous(rows: list[dict[str, str]], dim: CubesDim) -> list[set[str]]:
    """Per level, the keys that recur under different parents (Cubes keys are unique only
    within their parent; a LabIS level key names one member)."""
    out = []
    for i, lv in enumerate(dim.levels):
        parents: dict[str, set[tuple[str, ...]]] = {}
        for r in rows:
            path = tuple(r[x.key.column] for x in dim.levels[:i])
            parents.setdefault(r[lv.key.column], set()).add(path)
        out.append({k for k, p in parents.items() if len(p) > 1})
    return out


def _key_value(row: dict[str, str], dim: CubesDim, i: int, ambiguous: list[set[str]]) -> str:
    """The level key: the Cubes key, or the path down to it when that key is ambiguous."""
    raw = row[dim.levels[i].key.column]
    if raw not in ambiguous[i]:
        return raw
    return PATH_SEP.join(row[lv.key.column] for lv in dim.levels[: i + 1])


def _number_type(values: list[str]) -> ColumnType:
    ints = True
    for v in values:
        if v.strip() == "":
            continue
        try:
            int(v)
        except ValueError:
            ints = False
            try:
                float(v)
            except ValueError:
                raise UserError(f"measure value {v!r} is not a number") from None
    return ColumnType.int64 if ints else ColumnType.float


def _time_date(row: dict[str, str], dim: CubesDim) -> str:
    parts = {lv.role: row[lv.key.column] for lv in dim.levels}
    try:
        year = int(parts["year"])
        month = int(parts.get("month") or 0) or (3 * int(parts["quarter"]) - 2 if parts.get("quarter") else 1)
        day = int(parts.get("day") or 1)
        return dt.date(year, month, day).isoformat()
    except (KeyError, ValueError) as exc:
        raise UserError(f"time dimension '{dim.name}': cannot make a date from {parts}: {exc}") from None


def _read_csv(path: Path, columns: list[str] | None) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise UserError(f"{path}: the file is empty") from None
        body = list(reader)
    names = columns or header
    if len(names) != len(header):
        raise UserError(f"{path}: {len(header)} columns in the file but {len(names)} names given")
    rows = []
    for n, values in enumerate(body, start=2):
        if not values:
            continue
        if len(values) != len(names):
            raise UserError(f"{path}:{n}: {len(values)} values, expected {len(names)}")
        rows.append(dict(zip(names, values, strict=True)))
    return names, rows


def import_cubes(
    source: Path | dict[str, Any],
    *,
    data: Path | None = None,
    cube: str | None = None,
    columns: list[str] | None = None,
) -> ImportResult:
    """Translate a Cubes model (and, with `data`, its denormalised CSV) into LabIS files.

    The CSV's columns are matched to the Cubes table columns by header name; when the header
    does not name them (the tutorial's "Category Code, …"), by position in the order the model
    lists them: each dimension's level attributes top-down, then the measures — the order of
    the Cubes tutorial's `create_table_from_csv`. `columns` names them explicitly instead.
    """
    if isinstance(source, Path):
        try:
            spec = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"cannot read the Cubes model {source}: {exc}") from None
    else:
        spec = source
    if not isinstance(spec, dict) or not spec.get("cubes"):
        raise UserError("a Cubes model needs a 'cubes' list")
    result = ImportResult()
    raw_dims = {str(d["name"]): d for d in spec.get("dimensions") or []}
    cubes = spec["cubes"]
    names = [str(c["name"]) for c in cubes]
    if data is not None and cube is None and len(cubes) > 1:
        raise UserError("the model has several cubes: say which one the data is for", hint=", ".join(names))
    dim_files: dict[str, str] = {}
    for c in cubes:
        is_target = data is not None and (cube is None or cube == c["name"])
        _import_cube(
            c, raw_dims, result, dim_files, data if is_target else None, columns if is_target else None
        )
    if cube is not None and cube not in names:
        raise UserError(f"the model has no cube '{cube}'", hint=", ".join(names))
    return result


def _dump(obj: Any, comment: str) -> str:
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 100
    buf = io.StringIO()
    yaml.dump(obj, buf)
    head = "".join(f"# {line}\n" if line else "#\n" for line in comment.splitlines())
    return head + buf.getvalue()


def _import_cube(
    c: dict[str, Any],
    raw_dims: dict[str, dict[str, Any]],
    result: ImportResult,
    dim_files: dict[str, str],
    data: Path | None,
    columns: list[str] | None,
) -> None:
    warnings = result.warnings
    cname = safe_name(str(c["name"]))
    if cname != c["name"]:
        warnings.append(f"cube '{c['name']}' is named '{cname}'")
    mappings = c.get("mappings") or {}
    dims: list[CubesDim] = []
    for ref in c.get("dimensions") or []:
        dname = str(ref["name"] if isinstance(ref, dict) else ref)
        if dname not in raw_dims:
            raise UserError(f"cube '{c['name']}' names an unknown dimension '{dname}'")
        dims.append(_parse_dimension(raw_dims[dname], mappings, warnings))
    if c.get("joins"):
        warnings.append(
            f"cube '{c['name']}': joins are not imported; the data must be the denormalised table"
        )
    measures = [m if isinstance(m, dict) else {"name": m} for m in c.get("measures") or []]
    plain_measures = [m for m in measures if not m.get("expression")]
    measure_columns = {
        str(m["name"]): _mapping_column(mappings, str(m["name"]), str(m["name"])) for m in plain_measures
    }
    cubes_columns: list[str] = []
    for d in dims:
        for lv in d.levels:
            cubes_columns += [a.column for a in lv.attributes if a.column not in cubes_columns]
    cubes_columns += [col for col in measure_columns.values() if col not in cubes_columns]

    rows: list[dict[str, str]] = []
    if data is not None:
        header, raw_rows = _read_csv(data, columns)
        if not set(cubes_columns) <= set(header):
            if columns is None and len(header) == len(cubes_columns):
                result.warnings.append(
                    f"{data.name}: header does not name the Cubes columns; read by position as "
                    + ", ".join(cubes_columns)
                )
                header, raw_rows = _read_csv(data, cubes_columns)
            else:
                missing = sorted(set(cubes_columns) - set(header))
                raise UserError(
                    f"{data}: no column(s) {', '.join(missing)}",
                    hint="name the columns with --columns, in the file's order",
                )
        rows = raw_rows

    # Fact columns: the Cubes columns of plain dimensions, a date per time dimension, measures.
    fact_cols: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    used: set[str] = set()

    def add_col(name: str, typ: str) -> str:
        col = safe_name(name)
        while col in used:
            col += "_"
        used.add(col)
        fact_cols.append({"name": col, "type": typ})
        return col

    col_of: dict[str, str] = {}
    plans: list[_Plan] = []
    time_cols: dict[str, str] = {}
    for d in dims:
        dname = safe_name(d.name)
        if d.is_time:
            keys = [lv.key.column for lv in d.levels]
            date_col = add_col(keys[0] if len(keys) == 1 else f"{d.name}_date", "date")
            time_cols[d.name] = date_col
            links.append({"dimension": dname, "column": date_col})
            result.files.setdefault(f"dimensions/{dname}.yaml", _time_dimension(d, dname))
            continue
        for lv in d.levels:
            for a in lv.attributes:
                if a.column not in col_of:
                    col_of[a.column] = add_col(a.column, "string")
        ambiguous = _ambiguous(rows, d) if rows else [set() for _ in d.levels]
        leaf_key = d.levels[-1].key.column
        fact_col = add_col(f"{d.name}_key", "string") if ambiguous[-1] else col_of[leaf_key]
        key_columns = [
            f"{safe_name(lv.name)}_key" if ambiguous[i] else col_of[lv.key.column]
            for i, lv in enumerate(d.levels)
        ]
        plans.append(_Plan(d, dname, ambiguous, key_columns, fact_col))
        links.append({"dimension": dname, "column": fact_col})
    for mcol in measure_columns.values():
        typ = _number_type([r[mcol] for r in rows]) if rows else ColumnType.float
        if mcol not in col_of:
            col_of[mcol] = add_col(mcol, typ.value)

    for plan in plans:
        path = f"dimensions/{plan.name}.yaml"
        if path in result.files:
            continue
        result.files[path] = _plain_dimension(plan, col_of, data is not None)
        if rows:
            result.files[f"members/{plan.name}.csv"] = _members_csv(plan, rows, col_of)
        else:
            result.warnings.append(
                f"dimension '{plan.dim.name}': no data given; write members/{plan.name}.csv by hand"
            )

    out_measures = _measures(c, measures, measure_columns, col_of, warnings)
    cube_doc: dict[str, Any] = {"cube": cname, "label": _label(c, cname)}
    if c.get("description"):
        cube_doc["description"] = str(c["description"])
    if c.get("category"):
        cube_doc["source_institution"] = str(c["category"])
    cube_doc["columns"] = fact_cols
    cube_doc["dimensions"] = links
    cube_doc["measures"] = out_measures
    comment = f"Imported from the Cubes model of cube '{c['name']}' by `labis import-cubes`."
    if c.get("info"):
        comment += "\nCubes info (not kept by LabIS): " + json.dumps(c["info"], ensure_ascii=False)
    result.files[f"cubes/{cname}.yaml"] = _dump(cube_doc, comment)
    result.cubes.append(cname)

    if rows:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        names = [fc["name"] for fc in fact_cols]
        writer.writerow(names)
        for r in rows:
            rec: dict[str, str] = {}
            for src, col in col_of.items():
                rec[col] = r[src]
            for d in dims:
                if d.is_time:
                    rec[time_cols[d.name]] = _time_date(r, d)
            for plan in plans:
                if plan.ambiguous[-1]:
                    rec[plan.fact_column] = _key_value(r, plan.dim, len(plan.dim.levels) - 1, plan.ambiguous)
            writer.writerow([rec.get(n, "") for n in names])
        rel = f"facts/{cname}.csv"
        result.files[rel] = out.getvalue()
        result.facts_files[cname] = rel


def _time_dimension(d: CubesDim, dname: str) -> str:
    doc: dict[str, Any] = {"dimension": dname, "label": d.label, "role": "time"}
    doc["levels"] = [{"name": safe_name(lv.name), "label": lv.label, "role": lv.role} for lv in d.levels]
    if d.hierarchies:
        doc["hierarchies"] = [
            {"name": safe_name(h), "label": lbl, "levels": [safe_name(x) for x in lvls]}
            for h, lbl, lvls in d.hierarchies
        ]
    return _dump(
        doc, f"Imported from the Cubes time dimension '{d.name}': members are the dates of the facts."
    )


def _plain_dimension(plan: _Plan, col_of: dict[str, str], has_data: bool) -> str:
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
        extra = [col_of[a.column] for a in lv.attributes if a not in (lv.key, lv.label_attr, lv.order_attr)]
        if extra:
            out["attributes"] = extra
        levels.append(out)
    doc["levels"] = levels
    if d.hierarchies:
        doc["hierarchies"] = [
            {"name": safe_name(h), "label": lbl, "levels": [safe_name(x) for x in lvls]}
            for h, lbl, lvls in d.hierarchies
        ]
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
    return _dump(doc, comment)


def _members_csv(plan: _Plan, rows: list[dict[str, str]], col_of: dict[str, str]) -> str:
    d = plan.dim
    cols: list[str] = []
    for i, lv in enumerate(d.levels):
        for a in lv.attributes:
            if col_of[a.column] not in cols:
                cols.append(col_of[a.column])
        if plan.ambiguous[i]:
            cols.append(plan.key_columns[i])
    seen: dict[str, dict[str, str]] = {}
    for r in rows:
        rec = {col_of[a.column]: r[a.column] for lv in d.levels for a in lv.attributes}
        for i in range(len(d.levels)):
            if plan.ambiguous[i]:
                rec[plan.key_columns[i]] = _key_value(r, d, i, plan.ambiguous)
        seen[rec[plan.key_columns[-1]]] = rec
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(cols)
    for rec in seen.values():
        writer.writerow([rec[c] for c in cols])
    return out.getvalue()


def _measures(
    c: dict[str, Any],
    measures: list[dict[str, Any]],
    measure_columns: dict[str, str],
    col_of: dict[str, str],
    warnings: list[str],
) -> list[dict[str, Any]]:
    from .expressions import ParsedExpr, parse_expression

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
        entry: dict[str, Any] = {"name": name, "label": _label(a, str(a["name"]))}
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


# --- loading a facts CSV ---------------------------------------------------------------------

ARROW = {
    ColumnType.string: pa.string(),
    ColumnType.int: pa.int32(),
    ColumnType.int64: pa.int64(),
    ColumnType.float: pa.float64(),
    ColumnType.date: pa.date32(),
    ColumnType.bool: pa.bool_(),
}


def facts_table(cube: Any, path: Path) -> pa.Table:
    """A CSV whose header names fact columns, typed by the cube (the import's facts file)."""
    header, rows = _read_csv(path, None)
    cols = {c.name: c for c in cube.columns}
    unknown = [h for h in header if h not in cols]
    missing = [c for c in cols if c not in header]
    if unknown or missing:
        raise UserError(
            f"{path}: the header does not match cube '{cube.name}'"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            + (f"; missing: {', '.join(missing)}" if missing else "")
        )
    arrays = {}
    for name, col in cols.items():
        if col.type not in ARROW:
            raise UserError(
                f"cube '{cube.name}': column type {col.type.value} cannot be loaded from CSV here"
            )
        arrays[name] = pa.array(
            [_value(r[name], col.type, path, i + 2) for i, r in enumerate(rows)], ARROW[col.type]
        )
    return pa.table(arrays)


def _value(text: str, typ: ColumnType, path: Path, line: int) -> Any:
    if typ == ColumnType.string:
        return text
    if text.strip() == "":
        return None
    try:
        if typ in (ColumnType.int, ColumnType.int64):
            return int(text)
        if typ == ColumnType.float:
            return float(text)
        if typ == ColumnType.date:
            return dt.date.fromisoformat(text.strip())
        return text.strip().lower() in ("1", "true", "yes")
    except ValueError:
        raise UserError(f"{path}:{line}: {text!r} is not a valid {typ.value}") from None


def load_facts_csv(model: Any, engine: Any, cube_name: str, path: Path) -> int:
    """Append a facts CSV to a cube (the model must be applied); the number of rows loaded."""
    from ..engine.base import FACT_INSERT_SETTINGS
    from ..physical.layout import CubeLayout

    if cube_name not in model.cubes:
        raise UserError(f"no cube '{cube_name}' in the model")
    layout = CubeLayout(model, model.cubes[cube_name], engine.database)
    table = facts_table(layout.cube, path)
    engine.insert_arrow(layout.facts_table, table, FACT_INSERT_SETTINGS)
    return int(table.num_rows)
