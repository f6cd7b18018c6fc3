"""The cube model as pydantic v2 classes: what a YAML file may say, and nothing more.

Shape checks live here (types, required fields, unknown keys); cross-references (a cube
naming a dimension, a rollup naming a level) are checked in `validate.py`, where the whole
model is known.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from ..privacy import PERSON_NAMESPACE

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""Every SQL identifier comes from a Name: lower-case ASCII, so quoting can never be escaped."""

LANGUAGES = ("lv", "en")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A label in Latvian and English; a plain string is taken for both."""

    lv: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.lv


def text_of(value: object) -> object:
    """A label or description as written: a plain string stands for both languages."""
    if isinstance(value, str):
        return {"lv": value, "en": value}
    return value


class ColumnByLang(Strict):
    """Member-table columns holding a label per language."""

    lv: Name
    en: Name

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.lv


class TimeRole(StrEnum):
    year = "year"
    quarter = "quarter"
    month = "month"
    day = "day"


TIME_ORDER = [TimeRole.year, TimeRole.quarter, TimeRole.month, TimeRole.day]


class Level(Strict):
    name: Name
    label: Text | None = None
    description: Text | None = None
    key: Name | None = None
    """Member-table column holding the level's key (defaults to the level's name)."""
    label_column: ColumnByLang | None = None
    """Member-table columns with the member labels (default: the key itself)."""
    order_column: Name | None = None
    attributes: list[Name] = Field(default_factory=list)
    role: TimeRole | None = None
    path_key: Name | None = None
    """Member-table column naming the member within its parent only (a Cubes key, unique under
    its parent, where `key` had to be made unique): a cut's path may name the member by either."""

    _text_label = field_validator("label", "description", mode="before")(text_of)

    @property
    def key_column(self) -> str:
        return self.key or self.name


class Hierarchy(Strict):
    name: Name
    label: Text | None = None
    levels: list[Name] = Field(min_length=1)


class Version(Strict):
    """A named state of a dimension's hierarchies, valid over a date range (to inclusive)."""

    name: Name
    label: Text | None = None
    valid_from: dt.date
    valid_to: dt.date | None = None

    _text_label = field_validator("label", mode="before")(text_of)


class Join(Strict):
    """A table joined to a dimension's members (a snowflake: product → product_class): every
    member row takes the columns of the one row of `file` whose `key` equals its `on` column."""

    file: str
    """A CSV or Parquet file beside the model, like the members' own."""
    on: Name
    """The members' column (or one an earlier join brought) that points into the table."""
    key: Name | None = None
    """The table's column it points at (default: the same name as `on`); unique in the table."""

    @property
    def key_column(self) -> str:
        return self.key or self.on


class Calendar(Strict):
    """Members made by the model, one per day from `from` to `to`: the calendar attributes a
    date has but a time dimension's periods do not (ISO week, day of week). Keyed by the day's
    ISO date, so that a dimension over them links to a date column of the facts."""

    from_: dt.date = Field(alias="from")
    to: dt.date

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _ordered(self) -> Calendar:
        if self.to < self.from_ or (self.to - self.from_).days > 200 * 366:
            raise ValueError("'to' must not be before 'from', and at most 200 years after it")
        return self


CALENDAR_COLUMNS = (
    "date", "year", "month", "day", "iso_year", "iso_week", "weekday", "weekday_en", "weekday_lv"
)  # fmt: skip
"""The columns of a calendar's member rows: `date` (YYYY-MM-DD, the fact key), the calendar
year, month and day, the ISO 8601 year and week (1–53), the ISO weekday (1 = Monday … 7) and
its name in English and Latvian."""


class Members(Strict):
    """Where a dimension's members come from: a CSV or Parquet file beside the model (with the
    tables `join` names flattened into it), or rows inline.

    With `valid_from`/`valid_to` the rows are versioned (slowly changing): a fact key maps
    to different members over time, which is how the territory reforms are recorded.
    """

    file: str | None = None
    rows: list[dict[str, str | int | float | bool | dt.date | None]] | None = None
    calendar: Calendar | None = None
    """Instead of a file: one member per day of a date range (ISO weeks, weekdays)."""
    source: Name | None = None
    """Instead of a file: the loader spec (`dimension:` this one) whose loads feed the members,
    with history as validity ranges (loaders/members.py); `labis load` refreshes them."""
    join: list[Join] = Field(default_factory=list)
    """Snowflaked tables, joined in order many-to-one at read (model/tables.py), never by users;
    to a `source`'s rows at each load (loaders/members.py)."""
    fact_key: Name | None = None
    """Column that facts reference (default: the key of the last level)."""
    valid_from: Name | None = None
    valid_to: Name | None = None

    @property
    def from_column(self) -> str:
        """The member rows' validity start (loaded members carry it as `valid_from`)."""
        return self.valid_from or "valid_from"

    @property
    def to_column(self) -> str:
        return self.valid_to or "valid_to"

    @model_validator(mode="after")
    def _one_source(self) -> Members:
        if sum(x is not None for x in (self.file, self.rows, self.source, self.calendar)) != 1:
            raise ValueError("give exactly one of 'file', 'rows', 'source' or 'calendar'")
        if self.source is not None and self.valid_from is not None:
            raise ValueError("a member source keeps its history: name valid_from/valid_to in its loader spec")
        if (self.valid_from is None) != (self.valid_to is None):
            raise ValueError("'valid_from' and 'valid_to' go together")
        if self.join and self.file is None and self.source is None:
            raise ValueError("'join' joins tables to a members 'file' or 'source'")
        return self


class DateKey(Strict):
    """What a time dimension's facts carry instead of a date, turned into the date at load:
    an integer `yyyymmdd` (20240131), or a key looked up in a table beside the model
    (FoodMart's `time_id` in `time_by_day`)."""

    format: Literal["yyyymmdd"] | None = None
    file: str | None = None
    """A CSV or Parquet lookup table: one row per key, with its date."""
    key: Name | None = None
    """The table's key column, the value the facts carry (unique)."""
    date: Name | None = None
    """The table's date column (ISO dates, or dates in Parquet)."""

    @model_validator(mode="after")
    def _one_kind(self) -> DateKey:
        if (self.format is None) == (self.file is None):
            raise ValueError("give exactly one of 'format: yyyymmdd' or a lookup 'file'")
        if self.file is not None and (self.key is None or self.date is None):
            raise ValueError("a lookup 'file' needs its 'key' and 'date' columns")
        return self


class Dimension(Strict):
    name: Name = Field(alias="dimension")
    label: Text | None = None
    description: Text | None = None
    role: Literal["time"] | None = None
    levels: list[Level] = Field(min_length=1)
    hierarchies: list[Hierarchy] = Field(default_factory=list)
    default_hierarchy: Name | None = None
    versions: list[Version] = Field(default_factory=list)
    members: Members | None = None
    date_key: DateKey | None = None
    """Of a time dimension: what its facts carry when it is not a date (default: a date)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    _text_label = field_validator("label", "description", mode="before")(text_of)

    def hierarchy(self, name: str | None = None) -> Hierarchy:
        """The named hierarchy, or the default one."""
        wanted = name or self.default_hierarchy_name
        for h in self.all_hierarchies:
            if h.name == wanted:
                return h
        raise KeyError(wanted)

    @property
    def all_hierarchies(self) -> list[Hierarchy]:
        if self.hierarchies:
            return self.hierarchies
        return [Hierarchy(name="default", levels=[lv.name for lv in self.levels])]

    @property
    def default_hierarchy_name(self) -> str:
        return self.default_hierarchy or self.all_hierarchies[0].name

    @property
    def leaf(self) -> Level:
        """The finest level: the last of every hierarchy (E118 keeps them one)."""
        return self.level(self.hierarchy().levels[-1])

    @property
    def fact_key_column(self) -> str:
        """The member column whose values the facts carry (default: the leaf level's key)."""
        given = self.members.fact_key if self.members is not None else None
        return given or self.leaf.key_column

    @property
    def keyed_at_leaf(self) -> bool:
        """Whether a fact's key is its leaf member's key, so that the leaf needs no lookup.

        Not so when the facts carry a key below the finest level (FoodMart's Gender is one
        level keyed `gender` over members keyed `customer_id`): then every level, the leaf
        included, is looked up from the fact key, as the coarser levels always are."""
        return self.fact_key_column == self.leaf.key_column

    def level(self, name: str) -> Level:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(name)

    @property
    def is_time(self) -> bool:
        return self.role == "time"

    @property
    def is_versioned(self) -> bool:
        """Members valid over date ranges: declared columns, or loaded (always with history)."""
        return self.members is not None and (self.members.valid_from is not None or self.is_loaded)

    @property
    def is_loaded(self) -> bool:
        """Members fed by a loader spec (`members: {source: …}`), read from the engine."""
        return self.members is not None and self.members.source is not None


class ColumnType(StrEnum):
    string = "string"
    int = "int"
    int64 = "int64"
    float = "float"
    decimal = "decimal"
    date = "date"
    datetime = "datetime"
    bool = "bool"
    person = "person"
    """A person, stored only as a dense surrogate number (see docs/model.md: personal data)."""
    identifier = "identifier"
    """Another identifier that points at people (a household, a case, a sole trader's company):
    pseudonymised like a person, in the namespace its `kind` names."""


NUMERIC_TYPES = {ColumnType.int, ColumnType.int64, ColumnType.float, ColumnType.decimal}
PSEUDONYMOUS_TYPES = {ColumnType.person, ColumnType.identifier}
"""Columns whose clear values never reach storage: the loader keeps only a dense number per
keyed pseudonym, and no front end shows, cuts or groups by them."""


DECIMAL_TYPE = re.compile(r"^\s*decimal\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)\s*$", re.IGNORECASE)
"""`decimal(18,4)`: a decimal column with its precision and scale, as SQL writes them."""
DECIMAL_DEFAULT = (18, 2)
MAX_DECIMAL_PRECISION = 38


class FactColumn(Strict):
    name: Name
    type: ColumnType
    label: Text | None = None
    nullable: bool = False
    kind: Name | None = None
    """For `identifier` columns: what is identified (`household`, `case`, …). Columns of one kind
    share one numbering, across cubes, so distinct counts agree; kinds never share pseudonyms."""
    precision: int | None = None
    """Of a `decimal(P,S)` column: digits in all (None: 18); set from the type, not written."""
    scale: int | None = None
    """Of a `decimal(P,S)` column: digits after the point (None: 2)."""

    _text_label = field_validator("label", mode="before")(text_of)

    @model_validator(mode="before")
    @classmethod
    def _decimal_type(cls, data: object) -> object:
        """`type: decimal(18,4)` → type decimal, precision 18, scale 4 (ClickHouse's limits)."""
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            return data
        if "precision" in data or "scale" in data:
            raise ValueError("write the precision in the type, as 'decimal(18,4)'")
        m = DECIMAL_TYPE.match(data["type"])
        if m is None:
            return data
        precision, scale = int(m.group(1)), int(m.group(2) or 0)
        if not 1 <= precision <= MAX_DECIMAL_PRECISION or scale > precision:
            raise ValueError(
                f"'{data['type']}': precision must be 1..{MAX_DECIMAL_PRECISION} "
                "and the scale at most the precision"
            )
        return {**data, "type": "decimal", "precision": precision, "scale": scale}

    @property
    def decimal(self) -> tuple[int, int]:
        """(precision, scale) of a decimal column (the default `decimal` is 18, 2)."""
        if self.precision is None:
            return DECIMAL_DEFAULT
        return self.precision, self.scale or 0

    @property
    def pseudonymous(self) -> bool:
        return self.type in PSEUDONYMOUS_TYPES

    @property
    def namespace(self) -> str | None:
        """The pseudonym namespace of a pseudonymous column (`person`, or the identifier's kind)."""
        if self.type == ColumnType.person:
            return PERSON_NAMESPACE
        if self.type == ColumnType.identifier:
            return self.kind
        return None


class DimensionLink(Strict):
    dimension: Name
    column: Name
    """The fact column holding the member key (a date column for the time dimension)."""
    name: Name | None = None
    """The name the cube uses (default: the dimension's name)."""

    @property
    def alias(self) -> str:
        return self.name or self.dimension


class Function(StrEnum):
    sum = "sum"
    count = "count"  # type: ignore[assignment]  # shadows str.count, harmless for an enum member
    min = "min"
    max = "max"
    avg = "avg"
    count_distinct = "count_distinct"
    last = "last"
    """Semi-additive stock: the value at the last date of each period, summed over the rest."""


class Measure(Strict):
    name: Name
    label: Text | None = None
    description: Text | None = None
    function: Function | None = None
    column: Name | None = None
    column_expression: str | None = None
    """Instead of `column`: arithmetic over fact columns, evaluated per fact row and then
    aggregated (`extendedprice * discount`); checked like a filter, never pasted as SQL."""
    filter: str | None = None
    """A condition on fact columns: only matching facts are aggregated."""
    approximate: bool = False
    """For count_distinct: HyperLogLog (uniqCombined) instead of an exact count."""
    expression: str | None = None
    """A calculated measure: an arithmetic expression over other measures."""
    unit: str | None = None
    decimals: int | None = None

    _text_label = field_validator("label", "description", mode="before")(text_of)

    @property
    def is_calculated(self) -> bool:
        return self.expression is not None


class Rollup(Strict):
    name: Name
    grain: dict[Name, Name] = Field(default_factory=dict)
    """Dimension (as named in the cube) → level kept; dimensions not named are summed away."""
    measures: list[Name] | None = None
    """Measures kept (default: every aggregated measure the grain can carry)."""


SdmxId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,49}$")]
"""An SDMX identifier that every SDMX-ML reference type takes (NCNameIDType)."""


SDMX_COMPONENTS = ("TIME_PERIOD", "MEASURE", "OBS_VALUE", "UNIT_MEASURE", "OBS_STATUS", "CONF_STATUS")
"""The components every LabIS data structure has besides one dimension per cube dimension
(named by its name in upper case): a dimension may not take one of these names."""


class Sdmx(Strict):
    """How a cube is published as SDMX (docs/sdmx.md): who maintains its structure, and under
    which ids and version. Every field has a default, so a cube without the block is published
    too: agency LABIS, ids from the cube's name, version 1.0."""

    agency: SdmxId = "LABIS"
    """The maintenance agency of the structure, codelists, concepts and dataflows."""
    id: SdmxId | None = None
    """The cube's dataflow id; its data structure is `DSD_<id>`, its concept scheme `CS_<id>`
    and its codelists `CL_<id>_<DIMENSION>` (default: the cube's name in upper case)."""
    version: Annotated[str, StringConstraints(pattern=r"^[0-9]+\.[0-9]+(\.[0-9]+)?$")] = "1.0"
    """The version of every artefact of the cube (`1.0`, or semantic `1.2.0`)."""


class Dominance(Strict):
    """The (n,k) dominance rule for a sum: a cell whose `n` largest contributors hold `k` % or
    more of its value is confidential (one or two firms, or persons, would be revealed)."""

    n: Annotated[int, Field(ge=1, le=10)] = 2
    k: Annotated[float, Field(gt=0, le=100)] = 85.0


class MeasureDisclosure(Strict):
    """A measure's own rules, where they differ from its cube's."""

    threshold: Annotated[int, Field(ge=1, le=1000)] | None = None
    # Sensitivity rules for sums (issue 13: dominance and p%); None inherits the cube's, false
    # turns the rule off for this measure.
    dominance: Literal[False] | Dominance | None = None
    p_percent: Literal[False] | Annotated[float, Field(gt=0, le=100)] | None = None


class Disclosure(Strict):
    """How a cube's answers are protected for publication roles (docs/disclosure.md): a cell
    whose contributors (distinct persons where the cube has a person column, else records) are
    fewer than `threshold` is confidential — its values are not shown, a status says why."""

    method: Literal["suppression", "cell_key"] = "suppression"
    """`suppression` hides cells; `cell_key` publishes the contributors count perturbed by the
    cell key method (service/cellkey.py), every other measure not at all."""
    ptable: str | None = None
    """For `cell_key`: the perturbation table, a CSV file in the model folder (columns
    `pcv,ckey,pvalue`); None: the default table (model/ptable.py)."""
    threshold: Annotated[int, Field(ge=1, le=1000)] = 5
    """Contributors a cell needs to be shown (1 shows every cell)."""
    contributors: Name | None = None
    """The measure that counts a cell's contributors: a count_distinct of a person or
    identifier column, or a count of records, neither filtered (default: the first such)."""
    zeros: Literal["safe", "disclosive"] = "safe"
    """Whether a cell with no contributors may be shown (`safe`: an empty cell reveals no one)."""
    measures: dict[Name, MeasureDisclosure] = Field(default_factory=dict)
    """Per-measure overrides: a measure may need more contributors than its cube's threshold
    (a cell is then confidential, for every measure, under the highest threshold)."""
    tables: list[str] = Field(min_length=1)
    """The publication tables: drilldowns (`territory:municipality|time:year|gender`) whose
    every margin is published; a publication role may ask only what one of them answers."""
    protection: Annotated[float, Field(gt=0, le=1)] = 0.3
    """The share of a confidential cell's value (and count) that an attacker's interval for it,
    from everything published, must span at least."""
    # Sensitivity rules for sums of amounts (issue 13: dominance and p%), on every sum measure
    # unless the measure says otherwise (`measures: {amount: {dominance: false}}`).
    dominance: Literal[False] | Dominance = Field(default_factory=Dominance)
    """The (n,k) rule over the contributors' values (default n=2, k=85; false: off)."""
    p_percent: Literal[False] | Annotated[float, Field(gt=0, le=100)] = False
    """The p% rule: a cell is confidential when its value less its two largest contributors'
    is under p % of the largest (the second largest could estimate the largest that closely);
    false (default): off."""


class Cube(Strict):
    name: Name = Field(alias="cube")
    label: Text | None = None
    description: Text | None = None
    source_institution: str | None = None
    columns: list[FactColumn] = Field(min_length=1)
    dimensions: list[DimensionLink] = Field(default_factory=list)
    measures: list[Measure] = Field(min_length=1)
    rollups: list[Rollup] = Field(default_factory=list)
    sdmx: Sdmx | None = None
    """How the cube is published as SDMX (None: every default)."""
    disclosure: Disclosure | None = None
    """Statistical disclosure control for publication roles (None: answers are not protected)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    _text_label = field_validator("label", "description", mode="before")(text_of)

    @property
    def sdmx_ids(self) -> Sdmx:
        """The cube's SDMX agency, dataflow id and version, defaults filled in."""
        given = self.sdmx or Sdmx()
        return given if given.id else given.model_copy(update={"id": self.name.upper()})

    def column(self, name: str) -> FactColumn:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def measure(self, name: str) -> Measure:
        for m in self.measures:
            if m.name == name:
                return m
        raise KeyError(name)

    def link(self, alias: str) -> DimensionLink:
        for d in self.dimensions:
            if d.alias == alias:
                return d
        raise KeyError(alias)


class IndicatorType(StrEnum):
    policy = "policy"
    performance = "performance"
    monitoring = "monitoring"


class Periodicity(StrEnum):
    monthly = "monthly"
    quarterly = "quarterly"
    annual = "annual"


class Indicator(Strict):
    code: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_.-]{1,31}$")]
    name: Text
    description: Text | None = None
    type: IndicatorType
    source_institution: str
    periodicity: Periodicity
    unit: str
    cube: Name
    measure: Name
    cuts: str | None = None
    """Fixed cuts in the Slicer cut grammar, e.g. `benefit_type:gmi`."""

    _text_label = field_validator("name", "description", mode="before")(text_of)

    @property
    def sdmx_id(self) -> str:
        """The indicator's SDMX dataflow id: its code (a '.' is not allowed in SDMX ids: '_')."""
        return self.code.replace(".", "_")


class IndicatorFile(Strict):
    indicators: list[Indicator] = Field(min_length=1)


class RollupPolicy(StrEnum):
    """What the totals above a member restriction show (Mondrian's rollup policies)."""

    partial = "partial"
    """Totals add up only the members the role sees (the default)."""
    hidden = "hidden"
    """A total that has any member the role may not see below it is empty."""
    full = "full"
    """True totals, hidden members included (a total minus the visible parts reveals the rest:
    grant it only where that is acceptable)."""


class MemberGrant(Strict):
    """The members of one dimension a role sees: a cut in the cut grammar (`territory:LV005;LV009`,
    `!benefit_type:gmi` for all but), and what totals above it show."""

    cut: str
    rollup: RollupPolicy = RollupPolicy.partial


class CubeGrant(Strict):
    """What a role may see of one cube (`cube: "*"`: of every cube)."""

    cube: str
    measures: list[Name] | None = None
    """The measures it sees (default: all); a calculated measure needs all its parts."""
    hidden_dimensions: list[Name] = Field(default_factory=list)
    """Dimensions it does not see at all: they answer as unknown names."""
    members: list[MemberGrant] = Field(default_factory=list)
    rows: str | None = None
    """A row-level filter: a cut whose values may name token claims, `territory:{municipality}`
    (the principal's `municipality` claim); a principal without the claim sees no rows."""
    microdata: bool = False
    """Whether it may read fact rows (/facts, /fact); personal columns are never returned."""


class Role(Strict):
    name: Name = Field(alias="role")
    label: Text | None = None
    description: Text | None = None
    cubes: list[CubeGrant] = Field(default_factory=list)
    publication: bool = False
    """Its answers are published: the cubes' disclosure rules apply to them (the `public` role's
    always do). A principal is protected on a cube unless a role that is not for publication
    grants it that cube."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    _text_label = field_validator("label", "description", mode="before")(text_of)
