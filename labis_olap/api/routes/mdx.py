"""MDX over HTTP: `POST /mdx` with the statement as text/plain, or JSON `{"query": …, "lang": …}`.

The answer is a JSON cell set (axes of tuples with member unique names and captions, cells with
value and formatted value, axis 0 varying fastest), or with `format=csv|xlsx` the cells as a
flat grid (a row per tuple of the rows axis, a column per tuple of the columns axis). The
statement is evaluated by labis_olap.mdx through the cube service with the request's principal.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from ...errors import QueryError
from ...mdx import execute
from ..deps import PrettyPrint, PrincipalDep, ServiceDep
from ..render import json_response, responses_of, table_response

router = APIRouter(tags=["mdx"])

MdxFormat = Literal["json", "csv", "xlsx"]
BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/plain": {
                "schema": {"type": "string"},
                "example": "SELECT [Measures].Members ON 0 FROM [unemployment]",
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["query"],
                    "properties": {
                        "query": {"type": "string", "description": "The MDX statement"},
                        "lang": {"type": "string", "enum": ["lv", "en"], "description": "Caption language"},
                    },
                }
            },
        },
    }
}


async def _statement(request: Request) -> tuple[str, str | None]:
    """The statement and the language the body asks for (JSON), or the body itself (text)."""
    raw = await request.body()
    kind = request.headers.get("content-type", "text/plain").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:  # answered as every route answers a malformed body
            raise RequestValidationError(
                [{"loc": ("body",), "msg": "not JSON", "type": "json_invalid"}]
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("query"), str):
            missing = {"loc": ("body", "query"), "msg": "the MDX statement, a string", "type": "missing"}
            raise RequestValidationError([missing])
        lang = data.get("lang")
        if lang not in (None, "lv", "en"):
            raise QueryError(f"lang must be lv or en, not {lang!r}")
        return data["query"], lang
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        raise QueryError("the statement is not UTF-8 text") from None


StatementDep = Annotated[tuple[str, str | None], Depends(_statement)]


@router.post(
    "/mdx",
    response_model=dict[str, Any],
    responses=responses_of(("csv", "xlsx"), "The cell set"),
    openapi_extra=BODY,
)
def mdx(
    service: ServiceDep,
    principal: PrincipalDep,
    statement: StatementDep,
    format: Annotated[
        MdxFormat, Query(description="json (the cell set), csv or xlsx (a flat grid)")
    ] = "json",
    lang: Annotated[
        Literal["lv", "en"], Query(description="Caption language (a JSON body's lang wins)")
    ] = "lv",
    prettyprint: PrettyPrint = False,
) -> Response:
    """Answer an MDX SELECT statement (docs/mdx.md): a 400 with line, column and a caret for a
    syntax error, a 400 with a did-you-mean for an unknown name; the cell and time limits of
    the aggregate routes apply."""
    text, asked_lang = statement
    result = execute(service, principal, text, lang=asked_lang or lang)
    if format == "json":
        return json_response(result.as_json(), prettyprint=prettyprint)
    names, rows = result.grid()
    ids = [f"c{i}" for i in range(len(names))]
    return table_response(
        format,
        ids,
        [dict(zip(ids, row, strict=True)) for row in rows],
        header="labels",
        labels=dict(zip(ids, names, strict=True)),
        filename=f"mdx_{result.cube}",
    )
