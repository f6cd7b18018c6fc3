"""Calendar arithmetic on time members: LabIS time is a calendar, not a member table.

A time member is the path of its period's keys over the hierarchy's levels, as the cube service
names them (`(2024, 2, 5)`: May 2024 under `ymd`'s year/quarter/month). PrevMember, Lag,
ParallelPeriod, PeriodsToDate and OpeningPeriod are computed on the calendar, so a month
without facts is still a member (its cells are empty) and the neighbour of March is February
whether or not February has data — what a statistician means by "the previous month".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ..errors import QueryError
from ..model.schema import TimeRole

Path = tuple[str | None, ...]
MAX_PERIODS = 100_000
"""The most periods a time range may list (a range of days over centuries is a mistake)."""


def start(path: Path, roles: Sequence[TimeRole | None]) -> dt.date:
    """The first day of the period a path names."""
    try:
        year, month, day = int(path[0] or ""), 1, 1
        for role, value in zip(roles[1 : len(path)], path[1:], strict=True):
            v = int(value or "")
            if role == TimeRole.quarter:
                month = 3 * (v - 1) + 1
            elif role == TimeRole.month:
                month = v
            elif role == TimeRole.day:
                day = v
        return dt.date(year, month, day)
    except (ValueError, TypeError):
        raise QueryError(f"time member {list(path)} is not a period of the calendar") from None


def path_of(day: dt.date, roles: Sequence[TimeRole | None], depth: int) -> Path:
    """The path of the period at `depth` that contains `day`."""
    out: list[str] = []
    for role in roles[:depth]:
        if role == TimeRole.year:
            out.append(str(day.year))
        elif role == TimeRole.quarter:
            out.append(str((day.month - 1) // 3 + 1))
        elif role == TimeRole.month:
            out.append(str(day.month))
        else:
            out.append(str(day.day))
    return tuple(out)


def shift(path: Path, roles: Sequence[TimeRole | None], n: int) -> Path | None:
    """The period `n` periods after (before, if negative) at the same level; None off the calendar."""
    if not path:
        return path
    first = start(path, roles)
    role = roles[len(path) - 1]
    try:
        if role == TimeRole.day:
            moved = first + dt.timedelta(days=n)
        else:
            per = {TimeRole.year: 12, TimeRole.quarter: 3}.get(role, 1)  # type: ignore[arg-type]
            index = first.year * 12 + first.month - 1 + n * per
            moved = dt.date(index // 12, index % 12 + 1, 1)
    except (ValueError, OverflowError):
        return None
    if not 1900 <= moved.year <= 2148:
        return None
    return path_of(moved, roles, len(path))


def end(path: Path, roles: Sequence[TimeRole | None]) -> dt.date:
    """The last day of the period a path names."""
    after = shift(path, roles, 1)
    if after is None:
        return dt.date(2148, 12, 31)
    return start(after, roles) - dt.timedelta(days=1)


def between(low: Path, high: Path, roles: Sequence[TimeRole | None]) -> list[Path]:
    """Every period from `low` to `high` inclusive, both at the same level (`[2024].[1]:[2024].[4]`)."""
    if len(low) != len(high):
        raise QueryError("both ends of a time range must be at the same level")
    out: list[Path] = []
    a, b = (low, high) if start(low, roles) <= start(high, roles) else (high, low)
    cur: Path | None = a
    while cur is not None and start(cur, roles) <= start(b, roles):
        out.append(cur)
        if len(out) > MAX_PERIODS:
            raise QueryError(f"a time range of more than {MAX_PERIODS} periods")
        cur = shift(cur, roles, 1)
    return out if a == low else out[::-1]


def descendants(path: Path, roles: Sequence[TimeRole | None], depth: int) -> list[Path]:
    """The periods at `depth` inside the period `path` names, in calendar order."""
    first = path_of(start(path, roles), roles, depth)
    last = path_of(end(path, roles), roles, depth)
    return between(first, last, roles)


def offset_in(path: Path, ancestor: Path, roles: Sequence[TimeRole | None]) -> int:
    """How many periods of `path`'s level lie between the start of `ancestor` and `path`."""
    first = path_of(start(ancestor, roles), roles, len(path))
    return len(between(first, path, roles)) - 1


def caption(path: Path, roles: Sequence[TimeRole | None]) -> str:
    """The label the cube service gives a period (2024, 2024-Q2, 2024-05, 2024-05-15)."""
    if not path:
        return "All"
    day = start(path, roles)
    role = roles[len(path) - 1]
    if role == TimeRole.year:
        return str(day.year)
    if role == TimeRole.quarter:
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if role == TimeRole.month:
        return f"{day.year}-{day.month:02d}"
    return day.isoformat()


def valid(path: Path, roles: Sequence[TimeRole | None]) -> bool:
    """Whether a path names a period (its keys in range, each inside its parent)."""
    try:
        first = start(path, roles)
    except QueryError:
        return False
    return path_of(first, roles, len(path)) == tuple(str(int(p or "")) for p in path)
