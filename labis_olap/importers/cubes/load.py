"""Loading an import's facts CSV into its cube."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa

from ...errors import UserError
from ...model.schema import ColumnType
from .data import read_csv

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
    header, rows = read_csv(path, None)
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
    from ...engine.base import FACT_INSERT_SETTINGS
    from ...physical.layout import CubeLayout

    if cube_name not in model.cubes:
        raise UserError(f"no cube '{cube_name}' in the model")
    layout = CubeLayout(model, model.cubes[cube_name], engine.database)
    table = facts_table(layout.cube, path)
    engine.insert_arrow(layout.facts_table, table, FACT_INSERT_SETTINGS)
    return int(table.num_rows)
