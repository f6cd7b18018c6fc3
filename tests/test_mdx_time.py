"""MDX time functions on the LabIS unemployment cube (demo facts, real chDB), against sums
computed here from an independent SQL over the fact table.

The slice is one municipality and one gender in a year where that slice has facts in only
some months (found by the SQL), so the calendar's gaps are exercised: the empty months are
members with empty cells, YTD/QTD/LastPeriods skip them, PrevMember of the month after a gap is
empty. `new_registrations` is a flow (a sum); `registered_unemployed` a stock (`last`: the
value on the latest snapshot date of the cell that has data).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import ANALYST, demo_database

from labis_olap.engine.base import Engine
from labis_olap.mdx import execute
from labis_olap.physical.layout import CubeLayout
from labis_olap.service import CubeService

ROWS = 4_000


@pytest.fixture(scope="module")
def demo(data_dir: Path) -> Iterator[tuple[CubeService, Engine, str]]:
    with demo_database(data_dir, "mdxtime", ROWS, seed=7) as (model, engine):
        table = CubeLayout(model, model.cubes["unemployment"], engine.database).facts_table
        yield CubeService(model, engine), engine, f"`{engine.database}`.`{table}`"


@pytest.fixture(scope="module")
def gap(demo: tuple[CubeService, Engine, str]) -> dict[str, Any]:
    """A (municipality, gender, year) with facts in 4 to 9 of its months, and its monthly SQL."""
    service, engine, facts = demo
    candidates = engine.query(
        f"""SELECT municipality, gender, toYear(snapshot_date) AS y, uniqExact(toMonth(snapshot_date)) AS n
            FROM {facts} GROUP BY municipality, gender, y HAVING n BETWEEN 4 AND 9
            AND min(toMonth(snapshot_date)) > 1 ORDER BY n DESC, municipality, gender, y LIMIT 20"""
    ).to_pylist()
    assert candidates, "the demo facts have no slice with missing months"
    for c in candidates:
        where = f"([territory].[region].[municipality].&[{c['municipality']}], [gender].&[{c['gender']}])"
        try:
            execute(service, ANALYST, f"SELECT FROM [unemployment] WHERE {where}")
        except Exception:  # a municipality under several regions: its leaf key is ambiguous
            continue
        rows = engine.query(
            f"""SELECT snapshot_date AS d, sum(new_registration) AS flow, sum(registered) AS stock
                FROM {facts} WHERE municipality = {{m:String}} AND gender = {{g:String}}
                GROUP BY d ORDER BY d""",
            {"m": c["municipality"], "g": c["gender"]},
        ).to_pylist()
        return {"where": where, "year": c["y"], "days": {r["d"]: r for r in rows}}
    pytest.fail("no candidate slice could be named")


def flow(gap: dict[str, Any], y: int, m: int) -> Decimal | None:
    vals = [r["flow"] for d, r in gap["days"].items() if d.year == y and d.month == m]
    return Decimal(sum(vals)) if vals else None


def total(values: list[Decimal | None]) -> Decimal | None:
    present = [v for v in values if v is not None]
    return sum(present, Decimal(0)) if present else None


def month_back(y: int, m: int, n: int) -> tuple[int, int]:
    i = y * 12 + m - 1 - n
    return i // 12, i % 12 + 1


def month_end(y: int, m: int) -> dt.date:
    return dt.date(y, m, calendar.monthrange(y, m)[1])


def stock(gap: dict[str, Any], first: dt.date, last: dt.date) -> Decimal | None:
    """The stock of the slice over [first, last]: its value on the latest date with data."""
    days = [d for d in gap["days"] if first <= d <= last]
    return Decimal(gap["days"][max(days)]["stock"]) if days else None


def solve(text: str, a: int, b: int) -> str:
    return text.replace("@a", str(a)).replace("@b", str(b))


def rows_of(service: CubeService, text: str) -> dict[str, list[Any]]:
    result = execute(service, ANALYST, text, lang="en")
    _, rows = result.grid()
    return {str(r[0]): r[1:] for r in rows}


def test_the_slice_has_missing_months(gap: dict[str, Any]) -> None:
    months = {d.month for d in gap["days"] if d.year == gap["year"]}
    assert 4 <= len(months) <= 9 and 1 not in months


def test_flows_to_date_and_neighbours_equal_hand_computed_sums(
    demo: tuple[CubeService, Engine, str], gap: dict[str, Any]
) -> None:
    service = demo[0]
    y = gap["year"]
    g = rows_of(
        service,
        f"""WITH
        MEMBER [Measures].[ytd] AS Sum(YTD(), [Measures].[new_registrations])
        MEMBER [Measures].[qtd] AS Sum(QTD(), [Measures].[new_registrations])
        MEMBER [Measures].[mtd] AS Sum(MTD(), [Measures].[new_registrations])
        MEMBER [Measures].[ptd_q] AS
            Aggregate(PeriodsToDate([time].[ymd].[quarter]), [Measures].[new_registrations])
        MEMBER [Measures].[prev] AS ([Measures].[new_registrations], [time].CurrentMember.PrevMember)
        MEMBER [Measures].[next] AS ([Measures].[new_registrations], [time].CurrentMember.NextMember)
        MEMBER [Measures].[lag2] AS ([Measures].[new_registrations], [time].CurrentMember.Lag(2))
        MEMBER [Measures].[lead2] AS ([Measures].[new_registrations], [time].CurrentMember.Lead(2))
        MEMBER [Measures].[last3] AS Sum(LastPeriods(3), [Measures].[new_registrations])
        MEMBER [Measures].[ly] AS ([Measures].[new_registrations], ParallelPeriod([time].[ymd].[year], 1))
        MEMBER [Measures].[pq] AS ([Measures].[new_registrations], ParallelPeriod([time].[ymd].[quarter]))
        MEMBER [Measures].[open] AS ([Measures].[new_registrations],
            OpeningPeriod([time].[ymd].[month], [time].CurrentMember.Parent))
        MEMBER [Measures].[close] AS ([Measures].[new_registrations],
            ClosingPeriod([time].[ymd].[month], [time].CurrentMember.Parent))
        SELECT {{[Measures].[new_registrations], [Measures].[ytd], [Measures].[qtd], [Measures].[mtd],
                [Measures].[ptd_q], [Measures].[prev], [Measures].[next], [Measures].[lag2],
                [Measures].[lead2], [Measures].[last3], [Measures].[ly], [Measures].[pq],
                [Measures].[open], [Measures].[close]}} ON 0,
               Descendants([time].[{y}], [time].[ymd].[month]) ON 1
            FROM [unemployment] WHERE {gap["where"]}""",
    )
    assert len(g) == 12  # the calendar's months, those without facts too
    for m in range(1, 13):
        q0 = 3 * ((m - 1) // 3) + 1
        expected = [
            flow(gap, y, m),
            total([flow(gap, y, k) for k in range(1, m + 1)]),
            total([flow(gap, y, k) for k in range(q0, m + 1)]),
            flow(gap, y, m),
            total([flow(gap, y, k) for k in range(q0, m + 1)]),
            flow(gap, *month_back(y, m, 1)),
            flow(gap, *month_back(y, m, -1)),
            flow(gap, *month_back(y, m, 2)),
            flow(gap, *month_back(y, m, -2)),
            total([flow(gap, *month_back(y, m, k)) for k in range(3)]),
            flow(gap, y - 1, m),
            flow(gap, *month_back(y, m, 3)),
            flow(gap, y, q0),
            flow(gap, y, q0 + 2),
        ]
        assert g[f"{y}-{m:02d}"] == expected, m


def test_stock_keeps_its_period_end(demo: tuple[CubeService, Engine, str], gap: dict[str, Any]) -> None:
    service = demo[0]
    y = gap["year"]
    g = rows_of(
        service,
        f"""WITH MEMBER [Measures].[ytd_stock] AS Aggregate(YTD(), [Measures].[registered_unemployed])
    MEMBER [Measures].[summed] AS Sum([time].CurrentMember.Children, [Measures].[registered_unemployed])
            SELECT {{[Measures].[registered_unemployed], [Measures].[ytd_stock], [Measures].[summed]}} ON 0,
                   {{[time].[{y}].Children, [time].[{y}]}} ON 1
            FROM [unemployment] WHERE {gap["where"]}""",
    )
    for q in range(1, 5):
        first, last = dt.date(y, 3 * q - 2, 1), month_end(y, 3 * q)
        months = [stock(gap, dt.date(y, k, 1), month_end(y, k)) for k in range(3 * q - 2, 3 * q + 1)]
        assert g[f"{y}-Q{q}"] == [
            stock(gap, first, last),
            stock(gap, dt.date(y, 1, 1), last),
            total(months),
        ], q
    assert g[str(y)][0] == stock(gap, dt.date(y, 1, 1), dt.date(y, 12, 31))


def test_calculated_members_value_format_and_deterministic_solve_order(
    demo: tuple[CubeService, Engine, str], gap: dict[str, Any]
) -> None:
    service = demo[0]
    y = gap["year"]
    text = f"""WITH MEMBER [Measures].[per_stock] AS
                    [Measures].[new_registrations] / [Measures].[registered_unemployed],
                    FORMAT_STRING = '0.00%', SOLVE_ORDER = @a
                  MEMBER [time].[h1] AS [time].[{y}].[1] + [time].[{y}].[2], SOLVE_ORDER = @b
              SELECT {{[Measures].[per_stock]}} ON 0, {{[time].[{y}].[1], [time].[{y}].[2], [time].[h1]}} ON 1
              FROM [unemployment] WHERE {gap["where"]}"""
    q = [
        (flow(gap, y, 1) or 0) + (flow(gap, y, 2) or 0) + (flow(gap, y, 3) or 0),
        (flow(gap, y, 4) or 0) + (flow(gap, y, 5) or 0) + (flow(gap, y, 6) or 0),
    ]
    s = [stock(gap, dt.date(y, 1, 1), dt.date(y, 3, 31)), stock(gap, dt.date(y, 4, 1), dt.date(y, 6, 30))]
    ratio_of_sums = execute(service, ANALYST, solve(text, 2, 1))
    sum_of_ratios = execute(service, ANALYST, solve(text, 1, 2))
    ratios = [None if not s[i] else q[i] / s[i] for i in range(2)]
    got = [c.value for c in ratio_of_sums.cells]
    for i in range(2):
        assert (got[i] is None) == (ratios[i] is None) and (
            ratios[i] is None or float(got[i]) == pytest.approx(float(ratios[i]))
        )
    if s[0] and s[1]:
        assert float(got[2]) == pytest.approx(float((q[0] + q[1]) / (s[0] + s[1])))
        assert float(sum_of_ratios.cells[2].value) == pytest.approx(float(ratios[0] + ratios[1]))
        assert ratio_of_sums.cells[2].formatted == f"{float(got[2]) * 100:.2f}%"
    for _ in range(3):  # the same statement, the same answer: ties and order never depend on luck
        again = execute(service, ANALYST, solve(text, 1, 1))
        assert [c.value for c in again.cells] == [c.value for c in ratio_of_sums.cells]
