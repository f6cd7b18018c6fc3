"""Response shapes, for the OpenAPI document and the tests (routes render JSON themselves).

Cells, facts and members are open records: their keys are attribute refs (`dim.level`,
`dim.level_label`), measure names or fact columns, which depend on the cube.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorResponse(Shape):
    error: str = Field(description="Error type, e.g. not_found, bad_query, bad_request, internal_error")
    message: str
    hint: str | None = None


class Version(Shape):
    version: str
    server_version: str
    api_version: int


class Authentication(Shape):
    type: str


class Info(Shape):
    json_record_limit: int
    cubes_version: str
    labis_version: str
    timezone: str
    first_weekday: int
    api_version: int
    authentication: Authentication


class Health(Shape):
    status: Literal["ok"]
    cubes: int
    database: str


class CubeBrief(Shape):
    name: str
    label: str | None
    category: str | None
    info: dict[str, Any]


class Attribute(Shape):
    name: str
    ref: str
    label: str | None
    order: str | None
    locales: list[str]


class Level(Shape):
    name: str
    label: str | None
    description: str | None
    key: str
    label_attribute: str
    order_attribute: str
    role: str | None
    cardinality: str | None
    info: dict[str, Any]
    attributes: list[Attribute]


class Hierarchy(Shape):
    name: str
    label: str | None
    levels: list[str]
    info: dict[str, Any]


class Dimension(Shape):
    name: str
    label: str | None
    description: str | None
    default_hierarchy_name: str
    info: dict[str, Any]
    role: str | None
    cardinality: str | None
    is_flat: bool
    has_details: bool
    levels: list[Level]
    hierarchies: list[Hierarchy]


class Aggregate(Shape):
    name: str
    ref: str
    label: str | None
    description: str | None
    function: str | None
    measure: str | None
    expression: str | None
    info: dict[str, Any]


class Measure(Shape):
    name: str
    ref: str
    label: str | None
    aggregates: list[str]
    info: dict[str, Any]


class Features(Shape):
    actions: list[str]
    aggregate_functions: list[str]
    post_aggregate_functions: list[str]


class CubeModel(CubeBrief):
    description: str | None
    key: str
    locale: str
    locales: list[str]
    aggregates: list[Aggregate]
    measures: list[Measure]
    details: list[dict[str, Any]]
    dimensions: list[Dimension]
    features: Features


class CutDict(Shape):
    type: Literal["point", "range", "set"]
    dimension: str
    hierarchy: str
    level_depth: int
    invert: bool
    hidden: bool
    path: list[str | None] | None = None
    from_: list[str | None] | None = Field(default=None, alias="from")
    to: list[str | None] | None = None
    paths: list[list[str | None]] | None = None


class Explain(Shape):
    source: str
    table: str
    sql: str
    params: dict[str, Any]
    engine_ms: float
    """Engine time of the query that made the answer (for a cache hit: when it was made)."""
    cache: Literal["hit", "miss", "off"]


class SubtotalSet(Shape):
    levels: dict[str, list[str]] = Field(description="The drilled levels this set keeps")
    attributes: list[str]
    cells: list[dict[str, Any]]


class AggregateResponse(Shape):
    summary: dict[str, Any]
    remainder: dict[str, Any]
    cells: list[dict[str, Any]]
    total_cell_count: int | None
    aggregates: list[str]
    cell: list[CutDict]
    levels: dict[str, list[str]]
    attributes: list[str]
    has_split: bool
    subtotals: list[SubtotalSet] | None = Field(
        default=None, description="With `subtotals=rollup|cube`: one entry per grouping set, finest first"
    )
    explain: Explain | None = None


class CellCut(CutDict):
    details: Any


class CellResponse(Shape):
    cube: str
    cuts: list[CellCut]


class MembersResponse(Shape):
    dimension: str
    hierarchy: str
    depth: int
    data: list[dict[str, Any]]


class ReportQuery(BaseModel):
    """One query of a report: `query` names the kind, the other keys are its parameters."""

    model_config = ConfigDict(extra="allow")
    query: Literal["aggregate", "facts", "fact", "members", "cell", "details"]


class ReportRequest(Shape):
    queries: dict[str, ReportQuery]
    cell: list[dict[str, Any]] | str | None = Field(
        default=None, description="Cuts for every query: Slicer cut dicts, or a cut string"
    )
