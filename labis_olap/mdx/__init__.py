"""MDX, the query language of OLAP clients (Excel, Power BI, Saiku), over the cube service.

`execute(service, principal, text)` parses a SELECT statement (mdx/parse.py), resolves its names
(mdx/names.py), evaluates it (mdx/functions.py, mdx/evaluate.py) and answers its cells with
`CubeService.aggregate` calls (mdx/cells.py) — one per grain — so roles, limits and caches
apply as to every other front end. Nothing of the MDX text reaches SQL: it becomes typed queries.
"""

from __future__ import annotations

from .evaluate import MdxResult, execute
from .parse import MdxSyntaxError, parse

__all__ = ["MdxResult", "MdxSyntaxError", "execute", "parse"]
