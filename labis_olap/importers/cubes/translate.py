"""Translating a read Cubes model (and its rows) into the files of an import's folder:

    model/      the LabIS model (cubes/, dimensions/, members/): `labis serve --model DIR/model`
    loaders/    a loader spec per cube (`source:` the cube's name), as in the repository's loaders/
    data/       per cube given data, its facts CSV (header = fact columns), for that spec

The model is a folder of its own because the model reader reads every YAML file under it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import UserError
from ...model.schema import ColumnType
from .data import KeyPlan, ambiguous_keys, facts_csv, members_csv, number_type, read_cube_data
from .parse import CubesCube, CubesDim, parse_cube, read_cubes_model, safe_name
from .write import cube_yaml, loader_spec_yaml, measures_of, plain_dimension_yaml, time_dimension_yaml

MODEL_DIR = "model"
LOADERS_DIR = "loaders"
DATA_DIR = "data"


@dataclass
class ImportResult:
    files: dict[str, str] = field(default_factory=dict)
    """Relative path → text, to be written under the output folder."""
    warnings: list[str] = field(default_factory=list)
    cubes: list[str] = field(default_factory=list)
    facts_files: dict[str, str] = field(default_factory=dict)
    """Cube → relative path of its converted facts CSV (when data was given)."""
    loader_specs: dict[str, str] = field(default_factory=dict)
    """Cube → relative path of the loader spec that loads its facts CSV."""

    @staticmethod
    def model_dir(out: Path) -> Path:
        """The LabIS model folder of an import written to `out`."""
        return out / MODEL_DIR

    def write(self, out: Path) -> list[Path]:
        written = []
        for rel, text in self.files.items():
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
        return written


def import_cubes(
    source: Path | dict[str, Any],
    *,
    data: Path | None = None,
    cube: str | None = None,
    columns: list[str] | None = None,
    max_reject_share: float = 0.0,
) -> ImportResult:
    """Translate a Cubes model (and, with `data`, its denormalised CSV) into LabIS files.

    The CSV's columns are matched to the Cubes table columns by header name; when the header
    does not name them (the tutorial's "Category Code, …"), by position in the order the model
    lists them: each dimension's level attributes top-down, then the measures — the order of
    the Cubes tutorial's `create_table_from_csv`. `columns` names them explicitly instead.
    `max_reject_share` goes into the loader specs (0: a file with any rejected row is refused).
    """
    if not 0.0 <= max_reject_share <= 1.0:
        raise UserError(f"max_reject_share must be between 0 and 1, not {max_reject_share:g}")
    spec = read_cubes_model(source)
    result = ImportResult()
    raw_dims = {str(d["name"]): d for d in spec.get("dimensions") or []}
    cubes = spec["cubes"]
    names = [str(c["name"]) for c in cubes]
    if data is not None and cube is None and len(cubes) > 1:
        raise UserError("the model has several cubes: say which one the data is for", hint=", ".join(names))
    for c in cubes:
        is_target = data is not None and (cube is None or cube == c["name"])
        parsed = parse_cube(c, raw_dims, result.warnings)
        rows = (
            read_cube_data(data, columns, parsed.columns, result.warnings)
            if is_target and data is not None
            else None
        )
        _import_cube(parsed, rows, result, max_reject_share)
    if cube is not None and cube not in names:
        raise UserError(f"the model has no cube '{cube}'", hint=", ".join(names))
    return result


def _import_cube(
    cube: CubesCube, data_rows: list[dict[str, str]] | None, result: ImportResult, max_reject_share: float
) -> None:
    """The cube's files: its YAML, its dimensions' (the first cube to use one writes it), its
    loader spec, and, with data, the members CSVs and the facts CSV."""
    model = f"{MODEL_DIR}/"
    rows = data_rows or []
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
    """Cubes table column → fact column."""
    plans: list[KeyPlan] = []
    time_cols: dict[str, tuple[CubesDim, str]] = {}
    for d in cube.dims:
        dname = safe_name(d.name)
        if d.is_time:
            keys = [lv.key.column for lv in d.levels]
            date_col = add_col(keys[0] if len(keys) == 1 else f"{d.name}_date", "date")
            time_cols[d.name] = (d, date_col)
            links.append({"dimension": dname, "column": date_col})
            result.files.setdefault(model + f"dimensions/{dname}.yaml", time_dimension_yaml(d, dname))
            continue
        for lv in d.levels:
            for a in lv.attributes:
                if a.column not in col_of:
                    col_of[a.column] = add_col(a.column, "string")
        ambiguous = ambiguous_keys(rows, d) if rows else [set() for _ in d.levels]
        leaf_key = d.levels[-1].key.column
        fact_col = add_col(f"{d.name}_key", "string") if ambiguous[-1] else col_of[leaf_key]
        key_columns = [
            f"{safe_name(lv.name)}_key" if ambiguous[i] else col_of[lv.key.column]
            for i, lv in enumerate(d.levels)
        ]
        plans.append(KeyPlan(d, dname, ambiguous, key_columns, fact_col))
        links.append({"dimension": dname, "column": fact_col})
    for mcol in cube.measure_columns.values():
        typ = number_type([r[mcol] for r in rows]) if rows else ColumnType.float
        if mcol not in col_of:
            col_of[mcol] = add_col(mcol, typ.value)

    for plan in plans:
        path = model + f"dimensions/{plan.name}.yaml"
        if path in result.files:
            continue
        result.files[path] = plain_dimension_yaml(plan, col_of, data_rows is not None)
        if rows:
            result.files[model + f"members/{plan.name}.csv"] = members_csv(plan, rows, col_of)
        else:
            result.warnings.append(
                f"dimension '{plan.dim.name}': no data given; "
                f"write {MODEL_DIR}/members/{plan.name}.csv by hand"
            )

    measures = measures_of(cube, col_of, result.warnings)
    result.files[model + f"cubes/{cube.name}.yaml"] = cube_yaml(cube, fact_cols, links, measures)
    result.cubes.append(cube.name)

    facts = f"{DATA_DIR}/{cube.name}.csv"
    multiline = any("\n" in v or "\r" in v for r in rows for v in r.values())
    spec = f"{LOADERS_DIR}/{cube.name}.yaml"
    result.files[spec] = loader_spec_yaml(cube.name, facts, fact_cols, multiline, max_reject_share)
    result.loader_specs[cube.name] = spec
    if rows:
        result.files[facts] = facts_csv(rows, [fc["name"] for fc in fact_cols], col_of, time_cols, plans)
        result.facts_files[cube.name] = facts
