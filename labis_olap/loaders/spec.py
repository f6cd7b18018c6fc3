"""Loader specs: one YAML file per source system, validated against the model with located errors.

    source: nva_burvis            # the name `labis load` takes
    cube: unemployment
    kind: csv                     # csv | parquet | xlsx | sql | http
    options: {delimiter: ";", encoding: windows-1257, decimal: ",", date_format: DD.MM.YYYY}
    max_reject_share: 0.01        # more rejected rows than this share: the whole file fails
    columns:                      # one entry per fact column
      - {to: snapshot_date, from: Datums}
      - {to: municipality, from: ATVK kods, map_file: crosswalks/atvk_2009_2021.csv}
      - {to: person, from: Personas kods, personal: true}
      - {to: source, constant: NVA}

Problems are reported like the model's (`file:line:col: error[L103] …`, the line, a caret, a
hint), with L-codes listed in docs/loaders.md. A validated spec is turned into a `Plan`: per
fact column, where its value comes from, how it is cleaned and parsed, and what it must satisfy.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from ..errors import ModelError, UserError
from ..model.definition import Model
from ..model.diagnostics import Diagnostics, Location, did_you_mean
from ..model.reader import pydantic_diagnostics
from ..model.schema import (
    NAME_PATTERN,
    NUMERIC_TYPES,
    PSEUDONYMOUS_TYPES,
    ColumnType,
    Cube,
    Dimension,
    Strict,
    Text,
    text_of,
)
from ..model.source import SourceDoc, load_yaml
from ..model.tables import joined_columns

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Scalar = bool | int | float | dt.date | str
"""A YAML scalar as written in a spec (a constant, a bound, an allowed value, a map target)."""

CLICKHOUSE_DATE_MIN = dt.date(1970, 1, 1)
CLICKHOUSE_DATE_MAX = dt.date(2149, 6, 6)
"""ClickHouse's Date range: a date outside it cannot be stored, so it is always a reject."""

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


class SpecError(ModelError):
    """A loader spec did not validate; carries every diagnostic found."""

    error_type = "loader_spec_error"


class Kind(StrEnum):
    csv = "csv"
    parquet = "parquet"
    xlsx = "xlsx"
    sql = "sql"
    http = "http"


FILE_KINDS = (Kind.csv, Kind.parquet, Kind.xlsx)
"""Kinds loaded from files given on the command line; `sql` and `http` fetch their own data."""
ENV_REF = re.compile(r"\$\{([^}]*)\}")
"""`${NAME}` in a URL or header: replaced by the environment variable when the source is read."""


class Options(Strict):
    """How a file is read. CSV-only options are refused for other kinds (L107)."""

    delimiter: str = ","
    quote: str = '"'
    encoding: str = "utf-8"
    """Any Python codec name: utf-8 (a BOM is skipped), windows-1257 (Baltic), iso-8859-13, …"""
    header_row: int = Field(default=1, ge=1)
    """The line (CSV) or sheet row (XLSX) holding the column names; those above are skipped."""
    sheet: str | int | None = None
    """XLSX: the sheet, by name or by number from 1; default the first."""
    multiline: bool = False
    """Quoted values may contain line breaks (slower: the file is parsed on one thread)."""
    decimal: Literal[".", ","] = "."
    thousands: str | None = None
    """A thousands separator to drop from numbers, e.g. ' ' (1 234,50)."""
    date_format: str = "YYYY-MM-DD"
    """Tokens YYYY, MM, DD (and HH, mm, SS for date-times); anything else is literal. Without DD
    a value means the first day of its month (`MM.YYYY`)."""
    null_values: list[str] = Field(default_factory=lambda: [""])
    """Texts that mean 'no value' (compared after trimming)."""


KIND_OPTIONS = {
    "delimiter": (Kind.csv,),
    "quote": (Kind.csv,),
    "encoding": (Kind.csv,),
    "multiline": (Kind.csv,),
    "header_row": (Kind.csv, Kind.xlsx),
    "sheet": (Kind.xlsx,),
}
"""Options that apply to some kinds only (refused for the others, L107)."""


class Unpivot(Strict):
    """A wide table (say municipalities down, months across) turned into one row per cell.

    Each non-empty cell of an `across` column becomes a row holding the `ids` columns of its
    row, the column's header text (as source column `header`) and the cell (as `value`)."""

    ids: list[str] = Field(min_length=1)
    """Columns kept on every row (header texts)."""
    across: str
    """A regular expression every across header matches in full (e.g. `\\d{4}-\\d{2}`)."""
    ignore: list[str] = Field(default_factory=list)
    """Other headers allowed in the header row (a 'Kopā' total column); any header that is not an
    id, not across and not ignored fails the file: the layout changed."""
    header: str
    """The name under which the header text is a source column (for `from:`)."""
    value: str
    """The name under which the cell value is a source column."""


class SqlSource(Strict):
    """A query on a database reached through SQLAlchemy."""

    url: str
    """SQLAlchemy URL; `${NAME}` is replaced by environment variable NAME (keep passwords out)."""
    query: str
    watermark: str | None = None
    """An output column of the query that grows with new rows (an id, a timestamp): each run
    reads only rows above the highest value loaded before."""
    batch_rows: int = Field(default=50_000, ge=1)


class Pagination(Strict):
    style: Literal["none", "next_link", "page", "offset"] = "none"
    next: str | None = None
    """next_link: the dotted path of the next page's URL in the response body."""
    param: str | None = None
    """page/offset: the query parameter that carries the page number or the offset."""
    start: int | None = None
    """The first page number (default 1) or offset (default 0)."""
    size_param: str | None = None
    size: int | None = Field(default=None, ge=1)
    """A page size sent as `size_param=size`."""


class HttpSource(Strict):
    """JSON records fetched over HTTP, page by page."""

    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    """Request headers; `${NAME}` is replaced by environment variable NAME (tokens)."""
    records: str = ""
    """The dotted path to the list of records in a response ('' = the body is the list)."""
    pagination: Pagination = Field(default_factory=Pagination)
    timeout: float = Field(default=30.0, gt=0)
    max_pages: int = Field(default=10_000, ge=1)


class Rewrite(Strict):
    """A regular-expression replacement (RE2 syntax; `\\1` refers to a group)."""

    pattern: str
    to: str


class ColumnMap(Strict):
    """Where one fact column comes from, how it is cleaned, and what it must satisfy."""

    to: Name
    """The fact column filled."""
    from_: str | None = Field(default=None, alias="from")
    """The source column (its header text in a CSV, its name in Parquet)."""
    constant: Scalar | None = None
    type: ColumnType | None = None
    """Optional: states the fact column's type, checked against the cube."""
    trim: bool = True
    upper: bool = False
    lower: bool = False
    rewrite: Rewrite | None = None
    map: dict[str, Scalar] | None = None
    """Code crosswalk: a value found here is replaced; others pass unchanged."""
    map_file: str | None = None
    """The same from a CSV file with columns `from,to` (path relative to the spec)."""
    date_format: str | None = None
    personal: bool = False
    """A person or another identifier (a `person` or `identifier` column): pseudonymised in the
    engine, never stored or shown in the clear."""
    required: bool | None = None
    """Default: required unless the fact column is nullable."""
    min: Scalar | None = None
    max: Scalar | None = None
    """Bounds (inclusive) for numbers and dates; `today` for a date means the load day."""
    allowed: list[Scalar] | None = None
    pattern: str | None = None
    """A regular expression (RE2) the cleaned text must match in full."""
    member: bool = True
    """For a column linked to a dimension: a key that is not a member is a reject."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LoaderSpec(Strict):
    source: Name
    label: Text | None = None
    description: Text | None = None
    cube: Name | None = None
    dimension: Name | None = None
    """Instead of `cube`: the loaded dimension (`members: {source: this}`) the rows are members of."""
    valid_from: Name | None = None
    valid_to: Name | None = None
    """Of a member source: the columns filled with each row's validity (else history comes from
    successive snapshots, each load valid from its day)."""
    kind: Kind
    options: Options = Field(default_factory=Options)
    unpivot: Unpivot | None = None
    sql: SqlSource | None = None
    http: HttpSource | None = None
    max_reject_share: float = Field(default=0.0, ge=0.0, le=1.0)
    """Share of rows (0–1) that may be rejected before the whole file fails; default 0."""
    columns: list[ColumnMap] = Field(min_length=1)

    _text_label = field_validator("label", "description", mode="before")(text_of)

    @model_validator(mode="after")
    def _one_target(self) -> LoaderSpec:
        if (self.cube is None) == (self.dimension is None):
            raise ValueError("give exactly one of 'cube' (facts) or 'dimension' (members)")
        if (self.valid_from is None) != (self.valid_to is None):
            raise ValueError("'valid_from' and 'valid_to' go together")
        if self.valid_from is not None and self.dimension is None:
            raise ValueError("'valid_from'/'valid_to' are for member sources ('dimension:')")
        return self


# --- the resolved plan --------------------------------------------------------------------------


@dataclass(frozen=True)
class DateFormat:
    text: str
    regex: str
    """Anchored RE2 pattern with named groups y, m, d (and H, M, S)."""
    has_time: bool


@dataclass
class ColumnPlan:
    """One fact column, resolved: the checks are ready to run on Arrow arrays."""

    to: str
    type: ColumnType
    nullable: bool
    source: str | None
    constant: Any = None
    """The constant, already parsed to the column's Python type."""
    trim: bool = True
    upper: bool = False
    lower: bool = False
    rewrite: tuple[str, str] | None = None
    mapping: dict[str, str] | None = None
    date_format: DateFormat | None = None
    personal: bool = False
    required: bool = True
    min: Any = None
    max: Any = None
    decimal: tuple[int, int] = (18, 2)
    """A decimal column's (precision, scale): values with more places are rejected, not rounded."""
    allowed: list[Any] | None = None
    pattern: str | None = None
    members: frozenset[str] | None = None
    dimension: str | None = None
    date_keys: frozenset[str] | None = None
    """Keys of the time dimension's date lookup table: a value not among them is rejected."""
    where: Location = field(default_factory=lambda: Location("?"))
    """The spec line of this column, for messages."""

    @property
    def transforms_text(self) -> bool:
        return self.trim or self.upper or self.lower or bool(self.rewrite) or bool(self.mapping)


@dataclass
class Plan:
    spec: LoaderSpec
    path: Path
    cube: Cube
    columns: list[ColumnPlan]
    null_values: list[str]
    decimal: str
    thousands: str | None
    dimension: str | None = None
    """A member source's dimension (then `cube` is its rows' shape, loaders/members.py)."""

    @property
    def source_columns(self) -> list[str]:
        """Source columns read, in spec order, each once."""
        seen: list[str] = []
        for c in self.columns:
            if c.source is not None and c.source not in seen:
                seen.append(c.source)
        return seen

    @property
    def personal_columns(self) -> list[ColumnPlan]:
        return [c for c in self.columns if c.personal]

    def column(self, to: str) -> ColumnPlan:
        return next(c for c in self.columns if c.to == to)


# --- formats and scalars ------------------------------------------------------------------------

MONTH_NAMES = {
    **{
        n: i + 1
        for i, n in enumerate(
            [
                "janvāris",
                "februāris",
                "marts",
                "aprīlis",
                "maijs",
                "jūnijs",
                "jūlijs",
                "augusts",
                "septembris",
                "oktobris",
                "novembris",
                "decembris",
            ]
        )
    },
    **{
        n: i + 1
        for i, n in enumerate(
            [
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ]
        )
    },
}
"""`MMMM` in a date format: a month's full name, Latvian or English, in any case."""

_TOKENS = {
    "YYYY": ("y", r"\d{4}"),
    "MMMM": ("mn", r"\pL+"),
    "MM": ("m", r"\d{1,2}"),
    "DD": ("d", r"\d{1,2}"),
    "HH": ("H", r"\d{1,2}"),
    "mm": ("M", r"\d{2}"),
    "SS": ("S", r"\d{2}"),
}


def parse_date_format(text: str, with_time: bool = False) -> DateFormat:
    """`DD.MM.YYYY` → an anchored regex with named groups; ValueError says what is wrong."""
    out, seen, i = ["^"], [], 0
    while i < len(text):
        for token, (group, rx) in _TOKENS.items():
            if text.startswith(token, i):
                if group in seen:
                    raise ValueError(f"'{token}' appears twice")
                seen.append(group)
                out.append(f"(?P<{group}>{rx})")
                i += len(token)
                break
        else:
            ch = text[i]
            if ch.isalpha():
                raise ValueError(
                    f"unknown token at '{text[i:]}'; use YYYY, MM or MMMM, DD (HH, mm, SS for time)"
                )
            out.append(re.escape(ch))
            i += 1
    if "y" not in seen or not {"m", "mn"} & set(seen) or {"m", "mn"} <= set(seen):
        raise ValueError("a date format needs YYYY and one of MM or MMMM (and DD, else the 1st of the month)")
    has_time = bool({"H", "M", "S"} & set(seen))
    if has_time and not with_time:
        raise ValueError("time tokens (HH, mm, SS) in a format for a date column")
    return DateFormat(text, "".join(out) + "$", has_time)


def parse_scalar(value: Any, ctype: ColumnType, fmt: DateFormat | None = None) -> Any:
    """A spec value (constant, bound, allowed value) as the Python value of a fact column type."""
    if isinstance(value, bool) and ctype != ColumnType.bool:
        raise ValueError(f"{value!r} is a boolean")
    if ctype == ColumnType.string or ctype in PSEUDONYMOUS_TYPES:
        if isinstance(value, dt.date):
            raise ValueError("a date where text was expected (quote it)")
        return str(value)
    if ctype in (ColumnType.int, ColumnType.int64):
        if isinstance(value, float) or not re.fullmatch(r"[+-]?\d+", str(value).strip()):
            raise ValueError(f"{value!r} is not an integer")
        n = int(str(value))
        lo, hi = INT32 if ctype == ColumnType.int else INT64
        if not lo <= n <= hi:
            raise ValueError(f"{n} is out of range for {ctype.value}")
        return n
    if ctype in (ColumnType.float, ColumnType.decimal):
        if isinstance(value, dt.date):
            raise ValueError("a date where a number was expected")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a number") from None
    if ctype in (ColumnType.date, ColumnType.datetime):
        if isinstance(value, dt.datetime):
            return value.date() if ctype == ColumnType.date else value
        if isinstance(value, dt.date):
            return value
        text = str(value)
        try:
            return (
                dt.date.fromisoformat(text) if ctype == ColumnType.date else dt.datetime.fromisoformat(text)
            )
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO date (YYYY-MM-DD)") from None
    if ctype == ColumnType.bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true"):
            return True
        if str(value).lower() in ("0", "false"):
            return False
        raise ValueError(f"{value!r} is not true/false")
    raise AssertionError(ctype)


def _map_text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, dt.date) else str(value)


# --- loading ------------------------------------------------------------------------------------

_CODE = {"E001": "L001", "E002": "L002", "E003": "L003", "E004": "L004", "E005": "L005", "E015": "L006"}


def _located_spec(path: Path, diags: Diagnostics) -> tuple[SourceDoc, LoaderSpec] | None:
    local = Diagnostics()
    doc = load_yaml(path, local, str(path))
    spec: LoaderSpec | None = None
    if doc is not None:
        if not isinstance(doc.data, dict) or next(iter(doc.data), None) != "source":
            top = next(iter(doc.data), None) if isinstance(doc.data, dict) else None
            local.add(
                "L002",
                "a loader spec starts with 'source: <name>'",
                doc.loc((str(top),), key=True) if top else Location(str(path)),
            )
        else:
            try:
                spec = LoaderSpec.model_validate(doc.data)
            except ValidationError as exc:
                pydantic_diagnostics(doc, exc, local, root=LoaderSpec)
    for d in local.items:
        diags.add(_CODE.get(d.code, d.code), d.message, d.location, d.hint)
    if doc is None or spec is None:
        return None
    return doc, spec


def spec_files(loaders_dir: Path) -> list[Path]:
    if not loaders_dir.is_dir():
        raise UserError(
            f"loaders folder '{loaders_dir}' does not exist",
            hint="run from the repository root, or pass --loaders DIR (env LABIS_LOADERS_DIR)",
        )
    return sorted(p for p in loaders_dir.glob("*.y*ml") if p.is_file() and p.suffix in (".yaml", ".yml"))


def find_spec(loaders_dir: Path, source: str) -> Path:
    """The spec file for a source name (or a spec path given directly)."""
    direct = Path(source)
    if direct.suffix in (".yaml", ".yml") and direct.is_file():
        return direct
    names: dict[str, Path] = {}
    for path in spec_files(loaders_dir):
        try:
            from ruamel.yaml import YAML

            data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        except Exception:  # a broken spec is reported when it is the one asked for
            data = None
        name = data.get("source") if isinstance(data, dict) else None
        names[str(name) if name else path.stem] = path
    if source in names:
        return names[source]
    raise UserError(
        f"no loader spec for source '{source}' in {loaders_dir}",
        hint=did_you_mean(source, names) or "each loaders/*.yaml starts with 'source: <name>'",
    )


def member_columns(dim: Dimension) -> list[str]:
    """The columns a dimension's member rows have, each once, keys first."""
    cols: list[str] = [dim.fact_key_column]
    for lv in dim.levels:
        cols.append(lv.key_column)
        if lv.label_column:
            cols += [lv.label_column.lv, lv.label_column.en]
        cols += [c for c in (lv.order_column, lv.path_key) if c]
        cols += lv.attributes
    return list(dict.fromkeys(cols))


def members_cube(dim: Dimension, spec: LoaderSpec, doc: SourceDoc | None = None) -> Cube:
    """A member source's rows as if they were facts of a cube (so the readers and checks of facts
    read them): one text column per member column, the keys required, and the validity dates.
    With `join`, the columns the joined tables bring are not the source's to give, and the
    columns the joins start from are (`doc`: the dimension's, which the tables are beside)."""
    keys = {dim.fact_key_column, *(lv.key_column for lv in dim.levels)}
    needs: list[str] = []
    brings: list[str] = []
    if dim.members is not None and dim.members.join and doc is not None:
        needs, brings = joined_columns(dim.members.join, doc)
    own = [c for c in member_columns(dim) if c not in brings]
    own += [c for c in needs if c not in own]
    columns = [{"name": c, "type": "string", "nullable": c not in keys} for c in own]
    if spec.valid_from is not None and spec.valid_to is not None:
        columns += [
            {"name": spec.valid_from, "type": "date"},
            {"name": spec.valid_to, "type": "date", "nullable": True},
        ]
    return Cube.model_validate(
        {"cube": dim.name, "columns": columns, "measures": [{"name": "members", "function": "count"}]}
    )


def load_plan(path: Path, model: Model) -> Plan:
    """Read, validate and resolve one spec; SpecError lists every problem."""
    diags = Diagnostics()
    plan = _plan(path, model, diags)
    if diags or plan is None:
        raise SpecError(list[object](diags.sorted()), diags.render())
    return plan


def check_all(loaders_dir: Path, model: Model) -> tuple[dict[str, Plan], Diagnostics]:
    """Every spec of a folder: the good plans, and the problems of the others (and duplicates)."""
    diags = Diagnostics()
    plans: dict[str, Plan] = {}
    for path in spec_files(loaders_dir):
        plan = _plan(path, model, diags)
        if plan is None:
            continue
        name = plan.spec.source
        if name in plans:
            diags.add(
                "L101",
                f"duplicate source '{name}' (first defined in {plans[name].path})",
                Location(str(path), 1, 1),
            )
            continue
        plans[name] = plan
    return plans, diags


def _plan(path: Path, model: Model, diags: Diagnostics) -> Plan | None:
    before = len(diags)
    located = _located_spec(path, diags)
    if located is None:
        return None
    doc, spec = located
    o = spec.options
    for name, kinds in KIND_OPTIONS.items():
        if spec.kind not in kinds and name in (doc.data.get("options") or {}):
            diags.add(
                "L107",
                f"option '{name}' applies to {' and '.join(kinds)} sources only",
                doc.loc(("options", name), key=True),
            )
    _check_sections(spec, doc, diags)
    if len(o.delimiter) != 1 or o.delimiter in "\r\n":
        diags.add(
            "L107", f"delimiter must be one character, not {o.delimiter!r}", doc.loc(("options", "delimiter"))
        )
    if len(o.quote) != 1 or o.quote == o.delimiter:
        diags.add(
            "L107", "quote must be one character other than the delimiter", doc.loc(("options", "quote"))
        )
    try:
        codecs.lookup(o.encoding)
    except LookupError:
        diags.add(
            "L107",
            f"unknown encoding '{o.encoding}'",
            doc.loc(("options", "encoding")),
            did_you_mean(o.encoding, ["utf-8", "windows-1257", "iso-8859-13", "iso-8859-4", "utf-16"]),
        )
    if o.thousands is not None and (len(o.thousands) != 1 or o.thousands == o.decimal):
        diags.add(
            "L107",
            "thousands separator must be one character other than the decimal mark",
            doc.loc(("options", "thousands")),
        )
    default_fmt: DateFormat | None = None
    try:
        default_fmt = parse_date_format(o.date_format, with_time=True)
    except ValueError as exc:
        diags.add("L107", f"bad date_format '{o.date_format}': {exc}", doc.loc(("options", "date_format")))

    if spec.dimension is not None:
        dim = model.dimensions.get(spec.dimension)
        if dim is None or not dim.is_loaded or dim.members is None or dim.members.source != spec.source:
            hint = (
                did_you_mean(spec.dimension, model.dimensions)
                if dim is None
                else f"give dimension '{dim.name}' 'members: {{source: {spec.source}}}'"
            )
            what = "unknown dimension" if dim is None else "its members do not come from this source:"
            diags.add("L102", f"{what} '{spec.dimension}'", doc.loc(("dimension",)), hint)
            return None
        cube: Cube | None = members_cube(dim, spec, model.docs.get(("dimension", dim.name)))
    else:
        cube = model.cubes.get(spec.cube or "")
    if cube is None:
        diags.add(
            "L102",
            f"unknown cube '{spec.cube}'",
            doc.loc(("cube",)),
            did_you_mean(spec.cube or "", model.cubes),
        )
        return None
    links = {link.column: link for link in cube.dimensions}
    plans: list[ColumnPlan] = []
    seen: dict[str, int] = {}
    for i, cm in enumerate(spec.columns):
        at = ("columns", i)
        if cm.to in seen:
            diags.add(
                "L101",
                f"column '{cm.to}' is filled twice (first at item {seen[cm.to] + 1})",
                doc.loc((*at, "to")),
            )
            continue
        seen[cm.to] = i
        try:
            col = cube.column(cm.to)
        except KeyError:
            diags.add(
                "L103",
                f"cube '{cube.name}' has no column '{cm.to}'",
                doc.loc((*at, "to")),
                did_you_mean(cm.to, [c.name for c in cube.columns]),
            )
            continue
        cp = _column_plan(model, cube, doc, at, cm, col.type, col.nullable, default_fmt, links, diags)
        if cp is not None:
            cp.decimal = col.decimal
            plans.append(cp)
    missing = [c.name for c in cube.columns if c.name not in seen and not c.nullable]
    if missing:
        diags.add(
            "L104",
            f"fact column(s) not filled: {', '.join(missing)}",
            doc.loc(("columns",), key=True),
            "map each from a source column, or give a constant",
        )
    if spec.unpivot is not None:
        u = spec.unpivot
        produced = {*u.ids, u.header, u.value}
        for i, cm in enumerate(spec.columns):
            if cm.from_ is not None and cm.from_ not in produced:
                diags.add(
                    "L112",
                    f"'{cm.from_}' is not a column of the unpivoted table",
                    doc.loc(("columns", i, "from")),
                    did_you_mean(cm.from_, produced),
                )
    if len(diags) > before:
        return None
    return Plan(
        spec, path, cube, plans, [v.strip() for v in o.null_values], o.decimal, o.thousands, spec.dimension
    )


def _check_sections(spec: LoaderSpec, doc: SourceDoc, diags: Diagnostics) -> None:
    """The kind's own section is there (sql, http), others are not; what can be checked without
    connecting is checked (regular expressions, `${NAME}` references, URL syntax)."""
    for section in ("sql", "http"):
        given = getattr(spec, section) is not None
        if given and spec.kind != section:
            diags.add(
                "L107", f"section '{section}' applies to kind {section} only", doc.loc((section,), key=True)
            )
        elif not given and spec.kind == section:
            diags.add("L003", f"kind {section} needs a '{section}:' section", doc.loc(("kind",)))
    sheet = spec.options.sheet
    if isinstance(sheet, int) and sheet < 1:
        diags.add("L106", "sheet numbers start at 1", doc.loc(("options", "sheet")))
    if spec.unpivot is not None:
        u = spec.unpivot
        if spec.kind != Kind.xlsx:
            diags.add("L107", "unpivot applies to xlsx sources only", doc.loc(("unpivot",), key=True))
        try:
            re.compile(u.across)
        except re.error as exc:
            diags.add("L107", f"bad unpivot.across pattern: {exc}", doc.loc(("unpivot", "across")))
        if u.header == u.value or {u.header, u.value} & set(u.ids):
            diags.add(
                "L106",
                "unpivot.header and unpivot.value must be new names, distinct from the ids",
                doc.loc(("unpivot", "header")),
            )
    texts: list[tuple[str, tuple[str | int, ...]]] = []
    if spec.sql is not None:
        texts.append((spec.sql.url, ("sql", "url")))
        try:
            from sqlalchemy.engine import make_url

            make_url(ENV_REF.sub("x", spec.sql.url))
        except Exception:  # sqlalchemy.exc.ArgumentError, or a bad port: either way not a URL
            diags.add(
                "L107",
                "not a database URL",
                doc.loc(("sql", "url")),
                "dialect+driver://user:${PASSWORD_VARIABLE}@host:port/database, or sqlite:///path",
            )
    if spec.http is not None:
        h, pg = spec.http, spec.http.pagination
        texts.append((h.url, ("http", "url")))
        texts.extend((v, ("http", "headers", k)) for k, v in h.headers.items())
        if not re.match(r"https?://", ENV_REF.sub("http://x", h.url)):  # `${API_URL}/v1` is fine
            diags.add("L107", "the URL must start with http:// or https://", doc.loc(("http", "url")))
        if pg.style == "next_link" and not pg.next:
            diags.add(
                "L003", "pagination style next_link needs 'next'", doc.loc(("http", "pagination", "style"))
            )
        if pg.style in ("page", "offset") and not pg.param:
            diags.add(
                "L003", f"pagination style {pg.style} needs 'param'", doc.loc(("http", "pagination", "style"))
            )
    for text, at in texts:
        for name in ENV_REF.findall(text):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                diags.add("L107", f"'${{{name}}}' is not an environment variable name", doc.loc(at))


def expand_env(text: str, source: str, environ: dict[str, str] | None = None) -> str:
    """`${NAME}` replaced by environment variable NAME; a missing one is named, never its value."""
    env = os.environ if environ is None else environ

    def one(m: re.Match[str]) -> str:
        if m.group(1) not in env:
            raise UserError(
                f"{source}: environment variable {m.group(1)} is not set",
                hint="the spec refers to it as ${" + m.group(1) + "}",
            )
        return env[m.group(1)]

    return ENV_REF.sub(one, text)


def _column_plan(
    model: Model,
    cube: Cube,
    doc: SourceDoc,
    at: tuple[str | int, ...],
    cm: ColumnMap,
    ctype: ColumnType,
    nullable: bool,
    default_fmt: DateFormat | None,
    links: dict[str, Any],
    diags: Diagnostics,
) -> ColumnPlan | None:
    before = len(diags)

    def bad(code: str, message: str, key: str, hint: str | None = None, *, on_key: bool = False) -> None:
        diags.add(code, message, doc.loc((*at, key), key=on_key), hint)

    given = doc.data["columns"][at[1]]
    if (cm.from_ is None) == ("constant" not in given):
        bad("L109", f"column '{cm.to}': give exactly one of 'from' or 'constant'", "to")
    if cm.type is not None and cm.type != ctype:
        bad("L105", f"column '{cm.to}' is {ctype.value} in cube '{cube.name}', not {cm.type.value}", "type")
    pseudonymous = ctype in PSEUDONYMOUS_TYPES
    what = "persons" if ctype == ColumnType.person else "identifiers"
    if pseudonymous and not cm.personal:
        bad(
            "L110",
            f"column '{cm.to}' holds {what}: mark it 'personal: true'",
            "to",
            "identifiers are pseudonymised and never shown; the spec says so explicitly",
        )
    if cm.personal and not pseudonymous:
        bad(
            "L110",
            f"'personal: true' on column '{cm.to}', which is {ctype.value}, not person or identifier",
            "personal",
            "only person and identifier columns may carry identifiers: they are stored as "
            "pseudonymous numbers (give the cube's column 'type: identifier' and a 'kind')",
        )
    if cm.personal and "constant" in given:
        bad("L110", "a personal column cannot be a constant", "constant")
    if cm.upper and cm.lower:
        bad("L106", "'upper' and 'lower' together", "lower", on_key=True)
    is_date = ctype in (ColumnType.date, ColumnType.datetime)
    fmt = default_fmt if is_date else None
    if cm.date_format is not None:
        if not is_date:
            bad("L106", f"'date_format' on a {ctype.value} column", "date_format", on_key=True)
        else:
            try:
                fmt = parse_date_format(cm.date_format, with_time=ctype == ColumnType.datetime)
            except ValueError as exc:
                bad("L107", f"bad date_format '{cm.date_format}': {exc}", "date_format")
    elif fmt is not None and fmt.has_time and ctype == ColumnType.date:
        bad("L107", f"the file's date_format has a time; give column '{cm.to}' a date_format", "to")
    if cm.rewrite is not None:
        try:
            re.compile(cm.rewrite.pattern)
        except re.error as exc:
            bad("L107", f"bad rewrite pattern: {exc}", "rewrite")
    if cm.pattern is not None:
        try:
            re.compile(cm.pattern)
        except re.error as exc:
            bad("L107", f"bad pattern: {exc}", "pattern")

    def value(v: Any, key: str, path: tuple[str | int, ...] | None = None) -> Any:
        try:
            if isinstance(v, str) and is_date and v == "today" and key in ("min", "max"):
                return "today"
            if key in ("min", "max") and ctype not in NUMERIC_TYPES and not is_date:
                raise ValueError(f"bounds apply to numbers and dates, not {ctype.value}")
            return parse_scalar(v, ctype)
        except ValueError as exc:
            diags.add("L106", f"column '{cm.to}': {key}: {exc}", doc.loc(path or (*at, key)))
            return None

    constant = value(cm.constant, "constant") if "constant" in given and cm.constant is not None else None
    lo = value(cm.min, "min") if cm.min is not None else None
    hi = value(cm.max, "max") if cm.max is not None else None
    allowed = None
    if cm.allowed is not None:
        allowed = [value(v, "allowed", (*at, "allowed", j)) for j, v in enumerate(cm.allowed)]

    mapping: dict[str, str] | None = None
    targets: list[tuple[str, Location]] = []
    """Map targets (must be members), located in the spec or in the map file."""
    if cm.map_file is not None:
        loaded = _read_map_file(Path(doc.path), cm.map_file, doc.loc((*at, "map_file")), diags)
        if loaded is not None:
            mapping = {k: v for k, (v, _) in loaded.items()}
            targets.extend(loaded.values())
    if cm.map is not None:
        mapping = {**(mapping or {}), **{str(k): _map_text(v) for k, v in cm.map.items()}}
        targets.extend((_map_text(v), doc.loc((*at, "map", str(k)))) for k, v in cm.map.items())

    members: frozenset[str] | None = None
    dimension = None
    link = links.get(cm.to)
    pattern = cm.pattern
    date_keys: frozenset[str] | None = None
    # The column's time dimension, whichever other dimensions (a calendar) share the column.
    time_dim = next(
        (
            d
            for d in (model.dimensions.get(x.dimension) for x in cube.dimensions if x.column == cm.to)
            if d is not None and d.is_time
        ),
        None,
    )
    if time_dim is not None and time_dim.date_key is not None and is_date:
        # The model says what the facts carry for this time dimension: make it the date here.
        if time_dim.date_key.format == "yyyymmdd":
            if cm.date_format is None:
                fmt = parse_date_format("YYYYMMDD")
                pattern = pattern or "[0-9]{8}"
        else:
            lookup = model.date_keys.get(time_dim.name, {})
            mapping = {**{k: d.isoformat() for k, d in lookup.items()}, **(mapping or {})}
            fmt = parse_date_format("YYYY-MM-DD")
            date_keys = frozenset(lookup)
    if link is not None and cm.member:
        dim = model.dimensions[link.dimension]
        if not dim.is_time and dim.members is not None and dim.name in model.members:
            key = dim.fact_key_column
            members = frozenset("" if r[key] is None else str(r[key]) for r in model.members[dim.name])
            dimension = dim.name
            named = list(targets)
            if constant is not None:
                named.append((str(constant), doc.loc((*at, "constant"))))
            for j, v in enumerate(allowed or []):
                if v is not None:
                    named.append((str(v), doc.loc((*at, "allowed", j))))
            for text, where in named:
                if text not in members:
                    diags.add(
                        "L111",
                        f"'{text}' is not a member of dimension '{dim.name}'",
                        where,
                        did_you_mean(text, members),
                    )
    elif not cm.member and link is None:
        bad(
            "L106",
            f"'member: false' on column '{cm.to}', which is not linked to a dimension",
            "member",
            on_key=True,
        )
    if len(diags) > before:
        return None
    return ColumnPlan(
        to=cm.to,
        type=ctype,
        nullable=nullable,
        source=cm.from_,
        constant=constant,
        trim=cm.trim,
        upper=cm.upper,
        lower=cm.lower,
        rewrite=(cm.rewrite.pattern, cm.rewrite.to) if cm.rewrite else None,
        mapping=mapping,
        date_format=fmt,
        personal=cm.personal,
        required=cm.required if cm.required is not None else not nullable,
        min=lo,
        max=hi,
        allowed=allowed,
        pattern=pattern,
        members=members,
        dimension=dimension,
        date_keys=date_keys,
        where=doc.loc((*at, "to")),
    )


def _read_map_file(
    spec_path: Path, name: str, loc: Location, diags: Diagnostics
) -> dict[str, tuple[str, Location]] | None:
    """from → (to, where the row is) from a `from,to` CSV file beside the spec."""
    path = Path(os.path.normpath(spec_path.parent / name))
    out: dict[str, tuple[str, Location]] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            if header[:2] != ["from", "to"]:
                diags.add(
                    "L108",
                    f"map file '{name}' must start with the header 'from,to'",
                    Location(str(path), 1, 1),
                )
                return None
            for fields in reader:
                if not fields or fields[0].startswith("#"):
                    continue
                if len(fields) < 2:
                    diags.add(
                        "L108",
                        "map row needs a 'from' and a 'to' value",
                        Location(str(path), reader.line_num, 1),
                    )
                    continue
                key, target = fields[0].strip(), fields[1].strip()
                where = Location(str(path), reader.line_num, len(fields[0]) + 2)
                if key in out and out[key][0] != target:
                    diags.add("L108", f"'{key}' is mapped twice", Location(str(path), reader.line_num, 1))
                out[key] = (target, where)
    except OSError as exc:
        diags.add("L108", f"cannot read map file '{name}': {exc.strerror}", loc)
        return None
    except (UnicodeDecodeError, csv.Error) as exc:
        diags.add("L108", f"map file '{name}' is not a UTF-8 CSV: {exc}", loc)
        return None
    return out
