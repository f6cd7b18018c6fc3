"""Several queries in one request: GET|POST /cube/<cube>/report (Slicer's report).

Body: `{"queries": {name: {"query": "aggregate"|"facts"|"fact"|"members"|"cell", …}}, "cell": […]}`.
`cell` (Slicer cut dicts, or a cut string) applies to every query; each query may add its own
`cut` string. Parameters are those of the single routes (lists are accepted where Slicer's
report sends them: `drilldown`, `aggregates`, `fields`, `order` as [field, direction] pairs).
A members query uses only the cell's cuts on its own dimension. The answer is a dict by query
name; the first failing query fails the whole report. GET takes the same JSON in the `report`
query parameter.

Bounded (docs/security.md, "Limits"): at most `max_report_queries` queries, refused before any
runs, and at most `max_report_cells` cells, subtotal rows, facts and members over all answers,
counted as each query answers — the report stops at the bound. Each answer is kept as its JSON
bytes, not as Python objects (a cell as a dict costs ten times its JSON), so what the server
holds for a report is bounded by the cell limit.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response
from pydantic import ValidationError

from ...errors import LimitError, NotFoundError, QueryError
from ...model.cut_grammar import parse_cuts, parse_drilldowns, parse_order
from ...model.cuts import Cut, Drilldown, Order, PointCut, RangeCut, SetCut
from ...physical.layout import CubeLayout
from ...query.cell import SUBTOTAL_KINDS, CubeQuery, FactsQuery, MembersQuery
from ...service import CubeService, Principal
from ...settings import Settings
from .. import slicer
from ..deps import Lang, LayoutDep, PrettyPrint, PrincipalDep, ServiceDep, SettingsDep
from ..render import json_bytes, raw_json_response
from ..schemas import ReportQuery, ReportRequest

router = APIRouter(tags=["cubes"])

KEYS = {
    "aggregate": {
        "cut",
        "drilldown",
        "aggregates",
        "split",
        "order",
        "page",
        "pagesize",
        "page_size",
        "as_of",
        "explain",
        "subtotals",
    },
    "facts": {"cut", "fields", "order", "page", "pagesize", "page_size", "as_of"},
    "fact": {"id", "key"},
    "members": {
        "cut",
        "dimension",
        "depth",
        "level",
        "hierarchy",
        "order",
        "page",
        "pagesize",
        "page_size",
        "as_of",
    },
    "cell": {"cut"},
    "details": {"cut"},
}


def _path(value: Any, where: str) -> tuple[str | None, ...]:
    if not isinstance(value, list) or not value:
        raise QueryError(f"{where}: a path must be a non-empty list")
    return tuple(None if v is None else str(v) for v in value)


def cut_from_dict(layout: CubeLayout, d: Any, i: int) -> Cut:
    where = f"report cell[{i}]"
    if not isinstance(d, dict) or not isinstance(d.get("dimension"), str):
        raise QueryError(f"{where}: a cut needs 'dimension' (a string)")
    dim, kind = d["dimension"], d.get("type", "point")
    hierarchy = d.get("hierarchy")
    if hierarchy is not None and not isinstance(hierarchy, str):
        raise QueryError(f"{where}: 'hierarchy' must be a string")
    if hierarchy == "default" and dim in {x.alias for x in layout.cube.dimensions}:
        names = [h.name for h in layout.dimension(dim).all_hierarchies]
        hierarchy = hierarchy if "default" in names else None
    invert = bool(d.get("invert", False))
    if kind == "point":
        return PointCut(dim, _path(d.get("path"), where), hierarchy, invert)
    if kind == "set":
        paths = d.get("paths")
        if not isinstance(paths, list) or not paths:
            raise QueryError(f"{where}: a set cut needs 'paths'")
        return SetCut(dim, tuple(_path(p, where) for p in paths), hierarchy, invert)
    if kind == "range":
        lo, hi = d.get("from"), d.get("to")
        if lo is None and hi is None:
            raise QueryError(f"{where}: a range cut needs 'from' or 'to'")
        return RangeCut(
            dim,
            _path(lo, where) if lo is not None else None,
            _path(hi, where) if hi is not None else None,
            hierarchy,
            invert,
        )
    raise QueryError(f"{where}: cut type must be point, range or set, not {kind!r}")


def _texts(spec: dict[str, Any], key: str, sep: str, name: str) -> tuple[str, ...]:
    """A string of `sep`-separated parts, or a list of them: the parts."""
    value = spec.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return slicer.split_list(value, sep)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(p for v in value for p in slicer.split_list(v, sep))
    raise QueryError(f"report query '{name}': '{key}' must be a string or a list of strings")


def _drilldowns(spec: dict[str, Any], name: str) -> tuple[Drilldown, ...]:
    return tuple(d for text in _texts(spec, "drilldown", "|", name) for d in parse_drilldowns(text))


def _order(spec: dict[str, Any], name: str) -> tuple[Order, ...]:
    value = spec.get("order")
    if value is None or isinstance(value, str):
        return parse_order(value)
    if isinstance(value, list):
        parts: list[Order] = []
        for item in value:
            if isinstance(item, str):
                parts += parse_order(item)
            elif isinstance(item, list) and len(item) == 2 and all(isinstance(v, str) for v in item):
                parts += parse_order(f"{item[0]}:{item[1]}")
            else:
                raise QueryError(f"report query '{name}': 'order' items are 'field' or [field, direction]")
        return tuple(parts)
    raise QueryError(f"report query '{name}': 'order' must be a string or a list")


def _int(spec: dict[str, Any], name: str, *keys: str) -> int | None:
    for key in keys:
        value = spec.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise QueryError(f"report query '{name}': '{key}' must be an integer")
        return value
    return None


def _str(spec: dict[str, Any], key: str, name: str) -> str | None:
    value = spec.get(key)
    if value is not None and not isinstance(value, str):
        raise QueryError(f"report query '{name}': '{key}' must be a string")
    return value


def _subtotals(spec: dict[str, Any], name: str) -> str:
    value = spec.get("subtotals", "none")
    if value not in SUBTOTAL_KINDS:
        raise QueryError(f"report query '{name}': 'subtotals' must be one of {', '.join(SUBTOTAL_KINDS)}")
    return str(value)


def run_query(
    service: CubeService,
    principal: Principal,
    layout: CubeLayout,
    name: str,
    q: ReportQuery,
    cell: tuple[Cut, ...],
    lang: str,
) -> tuple[bytes, int]:
    """The query's answer as JSON, and how many cells (rows, members, …) it carries."""
    spec = dict(q.model_extra or {})
    unknown = sorted(set(spec) - KEYS[q.query])
    if unknown:
        raise QueryError(
            f"report query '{name}' ({q.query}): unknown parameter(s) {', '.join(unknown)}",
            hint="known: " + ", ".join(sorted(KEYS[q.query])),
        )
    cube = layout.cube.name
    page, pagesize = _int(spec, name, "page"), _int(spec, name, "pagesize", "page_size")
    cuts = cell + parse_cuts(_str(spec, "cut", name))
    as_of = _str(spec, "as_of", name)
    if q.query == "aggregate":
        query = CubeQuery(
            cube,
            _texts(spec, "aggregates", "|", name),
            cuts,
            _drilldowns(spec, name),
            _order(spec, name),
            page,
            pagesize,
            as_of,
            lang,
            parse_cuts(_str(spec, "split", name)),
            _subtotals(spec, name),
        )
        cells = service.aggregate(query, principal)
        count = 1 + sum(s.rows.num_rows for s in cells.subtotals)
        count += cells.cells.num_rows if cells.has_cells else 0
        if spec.get("explain"):
            return json_bytes(slicer.aggregate_payload(cells, explain=True)), count
        return slicer.aggregate_json(cells), count
    if q.query == "facts":
        fq = FactsQuery(
            cube, cuts, _texts(spec, "fields", ",", name), _order(spec, name), page, pagesize, as_of, lang
        )
        rows = service.facts(fq, principal).rows
        return json_bytes(rows.to_pylist()), rows.num_rows
    if q.query == "fact":
        key = spec.get("id", spec.get("key"))
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            raise QueryError(f"report query '{name}': 'id' must be a fact key")
        record = service.fact(cube, str(key), principal, lang)
        if record is None:
            raise NotFoundError(f"cube '{cube}' has no fact '{key}'")
        return json_bytes(record), 1
    if q.query == "members":
        dimension = _str(spec, "dimension", name)
        if not dimension:
            raise QueryError(f"report query '{name}': members need 'dimension'")
        # Members are those of the dimension, not of the facts in the cell: of the shared cell
        # only the cuts on this dimension apply.
        own = tuple(c for c in cell if c.dimension == dimension)
        mq = MembersQuery(
            cube,
            dimension,
            _int(spec, name, "depth"),
            _str(spec, "level", name),
            _str(spec, "hierarchy", name),
            own + parse_cuts(_str(spec, "cut", name)),
            _order(spec, name),
            page,
            pagesize,
            as_of,
            lang,
        )
        result = service.members(mq, principal)
        return json_bytes(slicer.members_payload(result)), result.data.num_rows
    details = service.cell(cube, cuts, lang, principal)
    return json_bytes(slicer.cell_payload(cube, details)), len(details)


def run_report(
    service: CubeService,
    principal: Principal,
    layout: CubeLayout,
    req: ReportRequest,
    lang: str,
    settings: Settings,
) -> bytes:
    """The report's JSON: each query's answer under its name, within the report's bounds."""
    most_queries, most_cells = settings.max_report_queries, settings.max_report_cells
    if len(req.queries) > most_queries:
        raise LimitError(
            f"the report has {len(req.queries)} queries, more than the server's limit of {most_queries}",
            hint="send several smaller reports",
        )
    if isinstance(req.cell, str):
        cell = parse_cuts(req.cell)
    else:
        cell = tuple(cut_from_dict(layout, d, i) for i, d in enumerate(req.cell or []))
    parts: list[bytes] = []
    cells = 0
    for name, q in req.queries.items():
        answer, count = run_query(service, principal, layout, name, q, cell, lang)
        cells += count
        if cells > most_cells:
            raise LimitError(
                f"the report's answers carry more than the server's limit of {most_cells} cells "
                f"(reached at query '{name}')",
                hint="page the queries (pagesize), narrow their cuts or send several smaller reports",
            )
        parts.append(json_bytes(name) + b":" + answer)
    return b"{" + b",".join(parts) + b"}"


def _response(body: bytes, prettyprint: bool) -> Response:
    if prettyprint:
        return raw_json_response(json_bytes(orjson.loads(body), prettyprint=True))
    return raw_json_response(body)


@router.post("/cube/{cube}/report", response_model=dict[str, Any])
def report_post(
    service: ServiceDep,
    principal: PrincipalDep,
    layout: LayoutDep,
    settings: SettingsDep,
    body: ReportRequest,
    lang: Lang = "lv",
    prettyprint: PrettyPrint = False,
) -> Response:
    """Run several queries on one cube; the answers by query name. At most the server's
    `max_report_queries` queries and `max_report_cells` cells over all answers (400
    `limit_exceeded` past either)."""
    return _response(run_report(service, principal, layout, body, lang, settings), prettyprint)


ReportParam = Annotated[str, Query(description="The report request as JSON", max_length=100_000)]


@router.get("/cube/{cube}/report", response_model=dict[str, Any])
def report_get(
    service: ServiceDep,
    principal: PrincipalDep,
    layout: LayoutDep,
    settings: SettingsDep,
    report: ReportParam,
    lang: Lang = "lv",
    prettyprint: PrettyPrint = False,
) -> Response:
    """As POST, with the request JSON in the `report` query parameter."""
    try:
        req = ReportRequest.model_validate(json.loads(report))
    except json.JSONDecodeError as exc:
        raise QueryError(f"report: not JSON ({exc.msg} at position {exc.pos})") from None
    except ValidationError as exc:
        raise QueryError("report: " + _first_problem(exc)) from None
    return _response(run_report(service, principal, layout, req, lang, settings), prettyprint)


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "request"
    return f"{where}: {err.get('msg', 'invalid')}"
