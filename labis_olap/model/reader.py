"""Read a model folder: every YAML file, shape-checked by pydantic, located, then validated.

A file's kind is told by its top key: `dimension:`, `cube:`, `indicators:` or `role:`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ModelError
from .cache import cached_model, store_model
from .definition import Model
from .diagnostics import Diagnostics, Location, did_you_mean
from .schema import Cube, Dimension, IndicatorFile, Role
from .source import NodePath, SourceDoc, load_yaml
from .tables import beside, calendar_rows, join_tables, read_table

KINDS: dict[str, type[BaseModel]] = {
    "dimension": Dimension,
    "cube": Cube,
    "indicators": IndicatorFile,
    "role": Role,
}

UNION_TAGS = {"str", "int", "float", "bool", "date", "none", "Text", "ColumnByLang"}


def pydantic_diagnostics(
    doc: SourceDoc, exc: ValidationError, diags: Diagnostics, root: type[BaseModel] | None = None
) -> None:
    """Turn pydantic errors into located diagnostics; `root` is the schema of the whole document
    (default: told by its top key, as for model files) and gives unknown-field hints."""
    # A union reports once per member type ('.str', '.int', …): keep the first per node.
    errors = [
        (
            err,
            tuple(
                p
                for p in err["loc"]
                if not (isinstance(p, str) and (p.startswith("function-") or p in UNION_TAGS))
            ),
        )
        for err in exc.errors()
    ]
    # A misspelt required field ('nmae:') is reported once, as an unknown field with a hint.
    misspelt: set[NodePath] = set()
    for err, loc in errors:
        if err["type"] == "extra_forbidden":
            allowed = _allowed_fields(doc, loc[:-1], root)
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
            misspelt.update((*loc[:-1], c) for c in close)
    seen: set[NodePath] = set()
    for err, loc in errors:
        if loc in seen:
            continue
        seen.add(loc)
        kind = err["type"]
        field_name = str(loc[-1]) if loc else ""
        # A mapping key that fails (e.g. a rollup grain's dimension name) is located at the key.
        where = doc.loc(loc[:-1], key=True) if loc and loc[-1] == "[key]" else doc.loc(loc)
        if kind == "extra_forbidden" and re.fullmatch(r"\s*\d+\s*\)", field_name):
            continue  # the rest of a `decimal(18,4)` that YAML split at its comma: reported at 'type'
        if kind == "extra_forbidden":
            allowed = _allowed_fields(doc, loc[:-1], root)
            diags.add(
                "E004",
                f"unknown field '{field_name}'",
                doc.loc(loc, key=True),
                did_you_mean(field_name, allowed) if allowed else None,
            )
        elif kind == "missing":
            if loc not in misspelt:
                diags.add("E003", f"missing required field '{field_name}'", doc.loc(loc[:-1], key=True))
        elif kind == "string_pattern_mismatch" and (
            (loc and loc[-1] in ("name", "dimension", "cube"))
            or err.get("ctx", {}).get("pattern", "").startswith("^[a-z]")
        ):
            diags.add(
                "E015",
                f"invalid name {err['input']!r}: use lower-case letters, digits and '_'",
                where,
                "names become SQL identifiers, e.g. 'benefit_type'",
            )
        elif kind == "enum" and field_name == "type" and str(err["input"]).lower().startswith("decimal("):
            # In a {…} mapping YAML splits `decimal(18,4)` at its comma.
            diags.add(
                "E005",
                f"invalid value {err['input']!r} for 'type'",
                where,
                "inside { } quote it, type: 'decimal(18,4)' (YAML splits it at the comma)",
            )
        elif kind == "enum":
            expected = str(err.get("ctx", {}).get("expected", ""))
            close = difflib.get_close_matches(str(err["input"]), re.findall(r"'([^']*)'", expected), n=1)
            diags.add(
                "E005",
                f"invalid value {err['input']!r} for '{field_name}'",
                where,
                f"did you mean '{close[0]}'?" if close else f"expected {expected}",
            )
        else:
            diags.add("E005", f"{err['msg']} (at '{'.'.join(map(str, loc)) or '/'}')", where)


def _allowed_fields(doc: SourceDoc, parent: NodePath, root: type[BaseModel] | None = None) -> list[str]:
    """Field names a pydantic model at `parent` accepts (walks the schema along the path)."""
    top = next(iter(doc.data)) if isinstance(doc.data, dict) and doc.data else None
    model: Any = root or KINDS.get(str(top))
    for p in parent:
        if model is None:
            return []
        if isinstance(p, int):
            continue
        fld = model.model_fields.get(p) or next(
            (f for f in model.model_fields.values() if f.alias == p), None
        )
        if fld is None:
            return []
        model = _inner_model(fld.annotation)
    if model is None or not hasattr(model, "model_fields"):
        return []
    return [f.alias or n for n, f in model.model_fields.items() if n not in SET_FROM_TYPE]


SET_FROM_TYPE = {"precision", "scale"}
"""Fields set from a `decimal(P,S)` type, never written: not suggested."""


def _inner_model(tp: Any) -> Any:
    import typing

    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in typing.get_args(tp):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _read_members(model: Model, dim: Dimension, doc: SourceDoc, diags: Diagnostics) -> None:
    if dim.date_key is not None and dim.date_key.file is not None:
        _read_date_key(model, dim, doc, diags)
    spec = dim.members
    if spec is None:
        return
    if spec.rows is not None:
        model.members[dim.name] = [dict(r) for r in spec.rows]
        model.member_locs[dim.name] = [doc.loc(("members", "rows", i)) for i in range(len(spec.rows))]
        return
    if spec.calendar is not None:
        rows = calendar_rows(spec.calendar.from_, spec.calendar.to)
        model.members[dim.name] = rows
        model.member_locs[dim.name] = [doc.loc(("members", "calendar"))] * len(rows)
        return
    if spec.source is not None:
        # Loaded members live in the engine: none until compiler/members.py reads them there.
        model.members[dim.name], model.member_locs[dim.name] = [], []
        return
    assert spec.file is not None
    path = beside(doc, spec.file)
    table = read_table(path, "members file", doc.loc(("members", "file")), diags)
    if table is not None and spec.join:
        table = join_tables(table, spec.join, doc, ("members",), diags)
    if table is None:
        # Cuts naming its members are not checked against the others alone.
        model.unreadable.setdefault(("members", dim.name), str(path))
        return
    model.members[dim.name] = table.rows
    model.member_locs[dim.name] = table.locs


def _read_date_key(model: Model, dim: Dimension, doc: SourceDoc, diags: Diagnostics) -> None:
    """A time dimension's lookup table: key → date, each key once, each date a real date."""
    dk = dim.date_key
    assert dk is not None and dk.file is not None and dk.key is not None and dk.date is not None
    table = read_table(
        beside(doc, dk.file), "date lookup table", doc.loc(("date_key", "file")), diags, "E133"
    )
    if table is None:
        return
    for col, at in ((dk.key, "key"), (dk.date, "date")):
        if col not in table.header:
            diags.add("E133", f"unknown column '{col}' in date lookup table '{dk.file}'",
                      doc.loc(("date_key", at)), did_you_mean(col, table.header))  # fmt: skip
            return
    dates: dict[str, dt.date] = {}
    for r, loc in zip(table.rows, table.locs, strict=True):
        k, v = r[dk.key], r[dk.date]
        try:
            day = v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)[:10])
        except ValueError:
            diags.add("E133", f"date lookup row: {v!r} in '{dk.date}' is not a date", loc)
            continue
        if k is None:
            diags.add("E133", f"date lookup row: empty key '{dk.key}'", loc)
        elif str(k) in dates:
            diags.add("E133", f"date lookup key '{k}' recurs: a key names one date", loc)
        else:
            dates[str(k)] = day
    model.date_keys[dim.name] = dates


def read_model(root: Path | str, *, validate: bool = True) -> Model:
    """Load and validate a model folder; raise ModelError with every problem found."""
    root = Path(root)
    diags = Diagnostics()
    model = Model(root=root)
    if not root.is_dir():
        diags.add("E000", f"model folder '{root}' does not exist", Location(str(root)))
        raise ModelError(list[object](diags.sorted()), diags.render())
    digest, cached = cached_model(root) if validate else ("", None)
    if cached is not None:
        return cached
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        diags.add("E000", f"no .yaml files in '{root}'", Location(str(root)))
    for path in files:
        display = str(path)
        before = len(diags)
        doc = load_yaml(path, diags, display)
        if doc is None:
            _unreadable(model, display, _names_in_text(path))
            continue
        _load_doc(model, doc, diags)
        if len(diags) > before and not _defines_something(model, doc):
            _unreadable(model, display, _names_in_data(doc.data, display))
    if validate:
        # Also when some files could not be read: the others are checked as far as they can
        # be without them (model.unreadable), so that one file's syntax error hides nothing.
        from .validate import validate_model

        validate_model(model, diags)
    if diags:
        raise ModelError(list[object](diags.sorted()), diags.render())
    if validate:
        store_model(digest, model)
    return model


DEFINING_KINDS = ("dimension", "cube", "role")
"""File kinds whose name other files refer to."""
TOP_NAME = re.compile(r"^([A-Za-z_]+)\s*:\s*['\"]?([A-Za-z0-9_-]+)", re.MULTILINE)


def _names_in_text(path: Path) -> set[tuple[str, str]]:
    """What a file that is not valid YAML would define, read from its top-level lines
    (`dimension: territory`), and its stem (a file is named after what it defines)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    if re.search(r"^indicators\s*:", text, re.MULTILINE):
        return set()
    found = {(k, n) for k, n in TOP_NAME.findall(text) if k in DEFINING_KINDS}
    kinds = {k for k, _ in found} or set(DEFINING_KINDS)
    return found | {(k, path.stem) for k in kinds}


def _names_in_data(data: Any, path: str) -> set[tuple[str, str]]:
    """What a document that failed its shape checks would define: `kind: name` at its top, or
    under every kind if its top key is no kind (a misspelt `dimesion:`); and its stem (the
    name itself may be what is wrong)."""
    if not isinstance(data, dict) or not data:
        return set()
    top = str(next(iter(data)))
    if top in KINDS and top not in DEFINING_KINDS:
        return set()
    kinds = [top] if top in DEFINING_KINDS else list(DEFINING_KINDS)
    names = {Path(path).stem} | ({data[top]} if isinstance(data[top], str) else set())
    return {(k, n) for k in kinds for n in names}


def _defines_something(model: Model, doc: SourceDoc) -> bool:
    return any(d is doc for d in model.docs.values())


def _unreadable(model: Model, path: str, names: set[tuple[str, str]]) -> None:
    for name in names:
        model.unreadable.setdefault(name, path)


def _load_doc(model: Model, doc: SourceDoc, diags: Diagnostics) -> None:
    if not isinstance(doc.data, dict) or not doc.data:
        diags.add(
            "E002",
            "expected a mapping starting with 'dimension:', 'cube:', 'indicators:' or 'role:'",
            Location(doc.path),
        )
        return
    top = next(iter(doc.data))
    kind = KINDS.get(top)
    if kind is None:
        diags.add("E002", f"unknown file kind '{top}'", doc.loc((top,), key=True), did_you_mean(top, KINDS))
        return
    try:
        obj = kind.model_validate(doc.data)
    except ValidationError as exc:
        pydantic_diagnostics(doc, exc, diags)
        return
    if isinstance(obj, Dimension):
        if _register(model.dimensions, obj.name, obj, doc, "dimension", model, diags):
            _read_members(model, obj, doc, diags)  # a duplicate's would replace the first's
    elif isinstance(obj, Cube):
        _register(model.cubes, obj.name, obj, doc, "cube", model, diags)
    elif isinstance(obj, Role):
        _register(model.roles, obj.name, obj, doc, "role", model, diags)
    elif isinstance(obj, IndicatorFile):
        for i, ind in enumerate(obj.indicators):
            if ind.code in model.indicators:
                diags.add(
                    "E101", f"duplicate indicator code '{ind.code}'", doc.loc(("indicators", i, "code"))
                )
                continue
            model.indicators[ind.code] = ind
            model.indicator_paths[ind.code] = (doc, ("indicators", i))


def _register(
    table: dict[str, Any], name: str, obj: Any, doc: SourceDoc, kind: str, model: Model, diags: Diagnostics
) -> bool:
    """Add a dimension, cube or role to the model; False (and E101) for a second of one name."""
    if name in table:
        first = model.docs[(kind, name)]
        diags.add("E101", f"duplicate {kind} '{name}' (first defined in {first.path})", doc.loc((kind,)))
        return False
    table[name] = obj
    model.docs[(kind, name)] = doc
    return True
