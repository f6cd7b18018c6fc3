"""The paging rule of every answer (cells, facts, members), decided once.

`page` counts from 0; `pagesize` alone means the first page; `page` without `pagesize` pages by
the server's limit; without either, an answer carries everything up to the limit and a larger
one is refused with a message that says to page — never silently cut. (Facts are the one
exception, decided in CubeService._facts: cut at the limit as Cubes cuts them, and flagged.)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import QueryError

MAX_PAGE = 2**40
"""The highest page number taken (an offset past the engine's 64-bit range would wrap)."""
MAX_OFFSET = 2**62
"""The most rows a page may start or end past: the engine's offsets are 64-bit, so a page and
page size whose product passes this are refused (with the server's page-size limit, 10^6 at
most, page 2**40 stays below it: a page past the last one is an empty page, never a wrap)."""


@dataclass(frozen=True)
class Paging:
    page: int | None
    pagesize: int | None
    """None, None: unpaged, bounded by `limit`."""
    limit: int | None
    """The most rows an unpaged answer may have (None: no limit)."""

    @property
    def unpaged(self) -> bool:
        return self.pagesize is None

    def window(self) -> tuple[int | None, int | None, int | None]:
        """The page and page size to ask the engine for, and the limit to check its answer
        against: an unpaged answer is asked for one row over the limit, so that too large an
        answer is told from one exactly at the limit (and refused, never cut)."""
        if self.unpaged and self.limit is not None:
            return 0, self.limit + 1, self.limit
        return self.page, self.pagesize, None


def paging(page: int | None, pagesize: int | None, limit: int | None) -> Paging:
    if pagesize is not None and pagesize < 1:
        raise QueryError("pagesize must be at least 1")
    if page is not None and page < 0:
        raise QueryError("page must be 0 or more")
    if page is not None and page > MAX_PAGE:
        raise QueryError(f"page must be at most {MAX_PAGE}")
    if pagesize is not None and limit is not None and pagesize > limit:
        raise QueryError(
            f"pagesize {pagesize} is over the server's limit of {limit}", hint=f"use pagesize<={limit}"
        )
    if pagesize is not None and ((page or 0) + 1) * pagesize > MAX_OFFSET:
        raise QueryError(f"page × pagesize must be below {MAX_OFFSET}")
    if pagesize is None:
        if page and limit is not None:
            return Paging(page, limit, limit)
        return Paging(None, None, limit)
    return Paging(page or 0, pagesize, limit)
