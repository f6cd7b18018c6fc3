"""The `as_of` words of a query resolved to a date: which hierarchy version answers it."""

from __future__ import annotations

import datetime as dt

from ..errors import QueryError
from ..model.definition import Model
from ..model.diagnostics import did_you_mean
from ..model.schema import Cube

AS_AT_FACT = ("fact", "")
NOW = ("now", "current", "today")


def as_of_date(model: Model, cube: Cube, as_of: str | None, today: dt.date | None = None) -> dt.date | None:
    """None for "as at each fact's date" (`fact`, empty or absent); `now` is today; a version
    name of one of the cube's dimensions is that version's start; else an ISO date."""
    if as_of is None or as_of.strip().lower() in AS_AT_FACT:
        return None
    text = as_of.strip().lower()
    if text in NOW:
        return today or dt.date.today()
    versions = {v.name: v.valid_from for d in cube.dimensions for v in model.dimensions[d.dimension].versions}
    if text in versions:
        return versions[text]
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise QueryError(
            f"as_of must be 'fact', 'now', a date YYYY-MM-DD or a version name, not '{as_of}'",
            hint=did_you_mean(text, versions),
        ) from None
