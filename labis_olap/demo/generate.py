"""Synthetic, deterministic demo data for the five LabIS cubes, calibrated to published Latvian totals.

``generate(total_rows, seed)`` streams ``(cube, pyarrow.Table)`` pairs: fact batches of the cubes in
:data:`CUBES` order, each cube followed by the ``("persons", table)`` batches that give the
synthetic person code of each person number it introduced, and by the ``("households", table)``
batches that give the synthetic household number behind each household it introduced (the
loader turns codes into keyed pseudonyms inside the engine; no code is stored). Everything is
vectorised with numpy. Memory is bounded by the batch size (plus 3.6 bytes per possible person,
to remember attributes of persons shared between cubes and the households named).

Determinism
    The output depends only on ``(total_rows, seed)``, not on
    ``batch_rows``: facts are generated in fixed internal chunks of ``_CHUNK_ROWS`` rows, each from its
    own random stream ``SeedSequence([seed, cube, chunk])``, and re-sliced into batches.

Scale (the unemployment calibration)
    :func:`unemployment_target_stock` is the realistic month-end stock of registered unemployed,
    2022-01..2025-12, fitted to NVA figures (examples/reference/latvia/benchmarks_lv.csv:
    53,536 at 2022-12-31, 50,344 at 2023-12-31, 46,553 at 2024-12-31, 43,672 at 2025-12-31,
    and the 2022-11, 2023-10/11 and 2025-07..11 values within ~1 %): a log-linear trend between
    the December values times a seasonal factor (high in February-March, low in
    September-October). Its sum over the 48
    month-ends is ~2.40M rows. The unemployment cube gets ``plan_rows(total_rows)["unemployment"]``
    rows, so every month-end stock is the realistic one times
    ``unemployment_scale(total_rows) = plan_rows(total_rows)["unemployment"] / sum(target stock)``:
    1.008 at ``total_rows = 4_400_000`` (:data:`REALISTIC_TOTAL_ROWS`), 2.29 at 10M, 22.9 at 100M.
    Registration spells are drawn from a monthly inflow obtained by deconvolving the target stock
    with the spell-length distribution (75 % short spells of mean 3.5 months, 25 % long ones of mean
    16; ~30 % of the stock registered for 12 months or more), so the stock is right in expectation
    at every month-end; a steady state before 2022 supplies the spells already open in January 2022.
    The other cubes simply scale with their row share (see :func:`plan_rows`): at 4.4M rows the
    disability decisions (~55k a year) are realistic, the pensions (~23k pensioners a month against
    ~450k real) and social assistance are too small, and the occupational accidents (~33k a year
    against ~2.2k real) too many.

Persons
    Person numbers are dense: the numbers used are exactly ``1..M`` with ``M <= persons_pool(total_rows)``;
    each cube draws new numbers from one shared counter, and part of its persons are persons of an
    earlier cube (social-assistance recipients who were registered unemployed, disability
    assessments of assistance recipients or unemployed, disability pensioners who had a disability
    assessment), so cross-source distinct counts find overlaps. A person's repeated spells in one
    cube never overlap in time (a person is counted once per month-end), and keep the person's
    gender, age group and municipality; a person drawn from an earlier cube keeps that cube's gender
    and municipality (and its age group where the new cube allows it). Persons are grouped into
    households of 1-4 by number (see :func:`household_of`), and a household lives in one municipality
    (bar the one household that may straddle two cubes' number ranges). Facts carry the household's
    dense number; behind it is a synthetic 9-digit household number (:func:`synthetic_household_code`),
    pseudonymised in the ``household`` namespace like a person code.
    Pseudonyms are ``HMAC-SHA-256(key, code)`` in hex of a synthetic person code ``DDMMYY-CNNNX``
    (see :func:`synthetic_person_code`) whose check digit is deliberately wrong, so no code can be a
    real personas kods.

Territory
    Municipality ATVK codes of the 2021 reform; persons are spread by population x a regional factor
    (unemployment: Rīga city 4.3, Pierīga 4.5, Zemgale 6, Kurzeme and Vidzeme 6.5, Latgale 12, i.e.
    the registered-unemployment rates). Facts dated before 2025-07-01 use 0038000 Madona and 0055000
    Varakļāni; from 2025-07-01 both are 0038001 (the merged Madona).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ..privacy import hmac_hex, pseudonym_hex

Arr = npt.NDArray[Any]

CUBES = ("unemployment", "social_assistance", "disability", "occupational_accidents", "pensions")
DICTIONARIES = {"persons": "person", "households": "household"}
"""Batches that are not facts: the codes behind the dense numbers of each pseudonym namespace."""
DEMO_KEY = b"labis-demo-key-not-secret"
REALISTIC_TOTAL_ROWS = 4_400_000
"""The total at which the unemployment stock is the published one (unemployment_scale ~ 1)."""

_CHUNK_ROWS = 1 << 20
_U16 = 1 << 16

# --------------------------------------------------------------------------------------------
# Time: 48 month-ends 2022-01-31 .. 2025-12-31
# --------------------------------------------------------------------------------------------
N_MONTHS = 48
_MONTHS = np.arange(np.datetime64("2022-01"), np.datetime64("2026-02"), dtype="datetime64[M]")
_MONTH_FIRST = _MONTHS.astype("datetime64[D]").astype(np.int64).astype(np.int32)  # 49 entries
_MONTH_END = (_MONTH_FIRST[1:] - 1).astype(np.int32)  # 48 month-ends, days since 1970-01-01
_MONTH_FIRST = _MONTH_FIRST[:N_MONTHS].copy()
_WINDOW_START = int(_MONTH_FIRST[0])  # 2022-01-01
_WINDOW_DAYS = int(_MONTH_END[-1]) - _WINDOW_START + 1  # 1461
_MERGE_MONTH = 42  # 2025-07: Varakļāni merged into Madona
_MERGE_DAY = int(_MONTH_FIRST[_MERGE_MONTH])
_WINDOW_DOW = (np.arange(_WINDOW_START, _WINDOW_START + _WINDOW_DAYS) + 3) % 7  # Monday = 0
_WORKDAYS = np.flatnonzero(_WINDOW_DOW < 5).astype(np.int32)  # window day indices, Mon-Fri

# --------------------------------------------------------------------------------------------
# Code lists
# --------------------------------------------------------------------------------------------
GENDERS = ("M", "F")
AGE_GROUPS = ("A00_14", "A15_24", "A25_34", "A35_44", "A45_54", "A55_64", "A65_74", "A75P")
EDUCATION = tuple(f"ED{i}" for i in range(9))
SA_BENEFITS = ("gmi", "housing", "emergency", "care", "family_state", "child_care")
PENSION_BENEFITS = ("old_age_pension", "disability_pension", "survivor_pension")
DISABILITY_GROUPS = ("G1", "G2", "G3", "CH")
ASSESSMENT_TYPES = ("first", "repeat")
NACE_SECTIONS = tuple("ABCDEFGHIJKLMNOPQRSTU")
SEVERITIES = ("light", "serious", "fatal")

REGIONS = ("Rīga", "Pierīga", "Vidzeme", "Kurzeme", "Zemgale", "Latgale")
"""Statistical regions of 2021-2023 (NUTS 3 LV006, LV007, LV008, LV003, LV009, LV005)."""

MUNICIPALITIES: tuple[tuple[str, str, str, int], ...] = (
    # ATVK code, name, statistical region 2021-2023, rough population in thousands (2023)
    ("0001000", "Rīga", "Rīga", 605),
    ("0002000", "Daugavpils", "Latgale", 80),
    ("0003000", "Jelgava", "Zemgale", 55),
    ("0004000", "Jūrmala", "Pierīga", 50),
    ("0005000", "Liepāja", "Kurzeme", 67),
    ("0006000", "Rēzekne", "Latgale", 27),
    ("0007000", "Ventspils", "Kurzeme", 33),
    ("0020000", "Aizkraukles novads", "Zemgale", 30),
    ("0021000", "Alūksnes novads", "Vidzeme", 14),
    ("0022000", "Augšdaugavas novads", "Latgale", 23),
    ("0023000", "Ādažu novads", "Pierīga", 20),
    ("0024000", "Balvu novads", "Latgale", 18),
    ("0025000", "Bauskas novads", "Zemgale", 42),
    ("0026000", "Cēsu novads", "Vidzeme", 42),
    ("0027000", "Dienvidkurzemes novads", "Kurzeme", 33),
    ("0028000", "Dobeles novads", "Zemgale", 28),
    ("0029000", "Gulbenes novads", "Vidzeme", 20),
    ("0030000", "Jelgavas novads", "Zemgale", 32),
    ("0031000", "Jēkabpils novads", "Zemgale", 42),
    ("0032000", "Krāslavas novads", "Latgale", 21),
    ("0033000", "Kuldīgas novads", "Kurzeme", 30),
    ("0034000", "Ķekavas novads", "Pierīga", 31),
    ("0035000", "Limbažu novads", "Pierīga", 30),
    ("0036000", "Līvānu novads", "Latgale", 10),
    ("0037000", "Ludzas novads", "Latgale", 21),
    ("0038000", "Madonas novads", "Vidzeme", 31),
    ("0039000", "Mārupes novads", "Pierīga", 35),
    ("0040000", "Ogres novads", "Pierīga", 57),
    ("0041000", "Olaines novads", "Pierīga", 19),
    ("0042000", "Preiļu novads", "Latgale", 16),
    ("0043000", "Rēzeknes novads", "Latgale", 26),
    ("0044000", "Ropažu novads", "Pierīga", 32),
    ("0045000", "Salaspils novads", "Pierīga", 23),
    ("0046000", "Saldus novads", "Kurzeme", 28),
    ("0047000", "Saulkrastu novads", "Pierīga", 6),
    ("0048000", "Siguldas novads", "Pierīga", 31),
    ("0049000", "Smiltenes novads", "Vidzeme", 19),
    ("0051000", "Talsu novads", "Kurzeme", 40),
    ("0052000", "Tukuma novads", "Pierīga", 43),
    ("0053000", "Valkas novads", "Vidzeme", 8),
    ("0054000", "Valmieras novads", "Vidzeme", 53),
    ("0055000", "Varakļānu novads", "Vidzeme", 3),
    ("0056000", "Ventspils novads", "Kurzeme", 11),
)
"""The 43 local governments of 2021-07-01..2025-06-30 (the merged 0038001 is added as a fact key)."""

MERGED_MADONA = "0038001"
MUNICIPALITY_CODES = (*(m[0] for m in MUNICIPALITIES), MERGED_MADONA)
"""The municipality dictionary of every fact batch: the 43 codes, then 0038001 (from 2025-07-01)."""

_MUNI_POP = np.array([m[3] for m in MUNICIPALITIES], dtype=np.float64)
_MUNI_REGION = np.array([REGIONS.index(m[2]) for m in MUNICIPALITIES])
_MUNI_REMAP = np.concatenate([np.arange(64), np.arange(64)]).astype(np.int32)
for _code in ("0038000", "0055000"):
    _MUNI_REMAP[64 + MUNICIPALITY_CODES.index(_code)] = MUNICIPALITY_CODES.index(MERGED_MADONA)
"""muni | (after 2025-07-01) << 6 -> dictionary index."""

UNEMPLOYMENT_RATE_BY_REGION = {"Rīga": 4.3, "Pierīga": 4.5, "Vidzeme": 6.5, "Kurzeme": 6.5,
                               "Zemgale": 6.0, "Latgale": 12.0}
"""Registered-unemployment rates (% of economically active, NVA end of 2022) used as weights."""


def _region_weights(factors: dict[str, float]) -> Arr:
    return _MUNI_POP * np.array([factors[REGIONS[r]] for r in _MUNI_REGION])


# --------------------------------------------------------------------------------------------
# Vectorised sampling helpers
# --------------------------------------------------------------------------------------------
def _lut(weights: Sequence[float] | Arr, bits: int = 16) -> Arr:
    """A ``2**bits``-entry lookup table: index it with uniform random integers to draw a category."""
    size = 1 << bits
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    counts = np.floor(w * size).astype(np.int64)
    counts[(w > 0) & (counts == 0)] = 1
    rest = size - int(counts.sum())
    order = np.argsort(-(w * size - np.floor(w * size)), kind="stable")
    i = 0
    while rest > 0:
        if w[order[i % w.size]] > 0:
            counts[order[i % w.size]] += 1
            rest -= 1
        i += 1
    while rest < 0:
        counts[int(np.argmax(counts))] -= 1
        rest += 1
    return np.repeat(np.arange(w.size, dtype=np.int32), counts)


def _lut2(rows: Sequence[Sequence[float]]) -> Arr:
    """Conditional lookup tables, flattened: index with ``(condition << 16) | uint16``."""
    return np.concatenate([_lut(r) for r in rows])


def _geometric_lut(mean: float, longest: int) -> Arr:
    """Lookup table of a geometric count 0, 1, 2, ... with the given mean (truncated)."""
    p = 1.0 / (mean + 1.0)
    return _lut(p * (1 - p) ** np.arange(longest + 1))


def _u16(rng: np.random.Generator, n: int) -> Arr:
    return rng.integers(0, _U16, size=n, dtype=np.uint16)


def _draw(rng: np.random.Generator, lut: Arr, n: int) -> Arr:
    return lut[_u16(rng, n)]


def _draw2(rng: np.random.Generator, lut: Arr, cond: Arr) -> Arr:
    return lut[(cond.astype(np.int32) << 16) | _u16(rng, cond.size)]


def _cut(nrows: Arr, target: int) -> int:
    """Keep the leading units whose rows add up to exactly ``target`` (shortening the last one)."""
    cum = np.cumsum(nrows)
    k = int(np.searchsorted(cum, target, side="left"))
    nrows[k] -= int(cum[k]) - target
    return k + 1


def _chain_roots(rng: np.random.Generator, start: Arr, end: Arr, p_next: float, gap_lut: Arr) -> Arr:
    """Link spells into non-overlapping per-person sequences; returns each spell's first spell.

    Spell ``i`` (months ``start..end-1``) asks, with probability ``p_next``, for a successor
    starting ``gap`` months after it ends; the r-th such request for a start month is matched to the
    r-th spell starting that month (both in index order). Each spell gets at most one predecessor
    and one successor, and starts strictly increase along a chain, so chains are disjoint and
    acyclic. Start months are small integers: counting sorts keep this O(n).
    """
    n = start.size
    first_month = int(start.min())
    s = (start - first_month).astype(np.int16)
    months = int(s.max()) + 1
    count = np.bincount(s, minlength=months)
    first = np.cumsum(count) - count
    by_start = np.argsort(s, kind="stable")
    pred = np.flatnonzero(rng.random(n) < p_next)
    key = end[pred] - first_month + _draw(rng, gap_lut, pred.size)
    keep = key < months
    pred, key = pred[keep], key[keep].astype(np.int16)
    order = np.argsort(key, kind="stable")
    kcount = np.bincount(key, minlength=months)
    rank = np.empty(key.size, dtype=np.int64)
    rank[order] = np.arange(key.size) - (np.cumsum(kcount) - kcount)[key[order]]
    ok = rank < count[key]
    parent = np.arange(n)
    parent[by_start[first[key[ok]] + rank[ok]]] = pred[ok]
    while True:  # pointer jumping: O(log chain length) passes
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def _dense(labels: Arr, n: int) -> tuple[Arr, Arr]:
    """``np.unique(labels, return_inverse=True)`` for labels in ``0..n-1``, without sorting."""
    used = np.zeros(n, dtype=bool)
    used[labels] = True
    rank = np.cumsum(used) - 1
    return np.flatnonzero(used), rank[labels]


# --------------------------------------------------------------------------------------------
# Arrow helpers
# --------------------------------------------------------------------------------------------
_STR = pa.string()
_DICT = pa.dictionary(pa.int32(), pa.string())
_DEC = pa.decimal128(18, 2)


def _dictionary(values: Sequence[str]) -> Any:
    return pa.array(list(values), type=pa.string())


_D_MUNI = _dictionary(MUNICIPALITY_CODES)
_D_GENDER = _dictionary(GENDERS)
_D_AGE = _dictionary(AGE_GROUPS)
_D_EDU = _dictionary(EDUCATION)
_D_SA = _dictionary(SA_BENEFITS)
_D_PENSION = _dictionary(PENSION_BENEFITS)
_D_DGROUP = _dictionary(DISABILITY_GROUPS)
_D_ASSESS = _dictionary(ASSESSMENT_TYPES)
_D_NACE = _dictionary(NACE_SECTIONS)
_D_SEV = _dictionary(SEVERITIES)
_SOURCES = {"unemployment": "NVA", "social_assistance": "SPOLIS", "disability": "VDEAVK",
            "occupational_accidents": "VDI", "pensions": "VSAA"}


def _cat(indices: Arr, dictionary: Any) -> Any:
    idx = np.ascontiguousarray(indices, dtype=np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(idx), dictionary, safe=False)


def _const(n: int, value: str) -> Any:
    return _cat(np.zeros(n, dtype=np.int32), _dictionary([value]))


def _date(days: Arr) -> Any:
    a = np.ascontiguousarray(days, dtype=np.int32)
    return pa.Array.from_buffers(pa.date32(), a.size, [None, pa.py_buffer(a)])


def _decimal(cents: Arr) -> Any:
    """decimal128(18, 2) from integer cents without Python objects (little-endian 128-bit words)."""
    c = np.asarray(cents, dtype=np.int64)
    words = np.zeros((c.size, 2), dtype=np.int64)
    words[:, 0] = c
    if c.size and c.min() < 0:
        words[:, 1] = c >> 63
    return pa.Array.from_buffers(_DEC, c.size, [None, pa.py_buffer(words)])


def _field(name: str, typ: Any) -> Any:
    return pa.field(name, typ, nullable=False)


SCHEMAS: dict[str, Any] = {
    "unemployment": pa.schema([
        _field("snapshot_date", pa.date32()), _field("municipality", _DICT), _field("gender", _DICT),
        _field("age_group", _DICT), _field("education", _DICT), _field("source", _DICT),
        _field("person", pa.uint64()), _field("registered", pa.int32()),
        _field("new_registration", pa.int32()), _field("duration_months", pa.int32())]),
    "social_assistance": pa.schema([
        _field("payment_date", pa.date32()), _field("municipality", _DICT), _field("benefit_type", _DICT),
        _field("gender", _DICT), _field("age_group", _DICT), _field("source", _DICT),
        _field("person", pa.uint64()), _field("household", pa.uint64()), _field("amount", _DEC)]),
    "disability": pa.schema([
        _field("decision_date", pa.date32()), _field("municipality", _DICT), _field("gender", _DICT),
        _field("age_group", _DICT), _field("disability_group", _DICT), _field("assessment_type", _DICT),
        _field("source", _DICT), _field("person", pa.uint64())]),
    "occupational_accidents": pa.schema([
        _field("accident_date", pa.date32()), _field("municipality", _DICT), _field("nace_sector", _DICT),
        _field("gender", _DICT), _field("age_group", _DICT), _field("severity", _DICT),
        _field("source", _DICT), _field("days_lost", pa.int32())]),
    "pensions": pa.schema([
        _field("payment_month", pa.date32()), _field("municipality", _DICT), _field("benefit_type", _DICT),
        _field("gender", _DICT), _field("age_group", _DICT), _field("source", _DICT),
        _field("person", pa.uint64()), _field("amount", _DEC)]),
    "persons": pa.schema([_field("person_num", pa.uint64()), _field("person_code", _STR)]),
    "households": pa.schema([_field("household_num", pa.uint64()), _field("household_code", _STR)]),
}
"""Arrow schema of each kind of batch (strings are dictionary-encoded with int32 indices)."""


# --------------------------------------------------------------------------------------------
# Plan and scale
# --------------------------------------------------------------------------------------------
_SHARE_PERCENT = {"unemployment": 55, "social_assistance": 12, "disability": 5, "pensions": 25}


def plan_rows(total_rows: int) -> dict[str, int]:
    """Fact rows per cube: unemployment 55 %, pensions 25 %, social assistance 12 %, disability 5 %,
    occupational accidents the remaining ~3 %."""
    if total_rows < 0:
        raise ValueError("total_rows must be >= 0")
    plan = {c: total_rows * p // 100 for c, p in _SHARE_PERCENT.items()}
    plan["occupational_accidents"] = total_rows - sum(plan.values())
    return {c: plan[c] for c in CUBES}


# Unemployment: target stock and spell model ------------------------------------------------
_SEASON = np.array([1.015, 1.04, 1.04, 1.02, 0.99, 0.97, 0.97, 0.955, 0.925, 0.915, 0.94, 0.99])
_DECEMBER_STOCK = (60774.0, 53536.0, 50344.0, 46553.0, 43672.0)  # 2021-12-31 .. 2025-12-31 (NVA)
_LMAX = 120  # longest spell, months
_SHORT_SPELLS = (0.75, 3.5)  # weight, mean months
_LONG_SPELLS = (0.25, 16.0)


def unemployment_target_stock() -> dict[str, float]:
    """The realistic registered-unemployed stock at each month-end 2022-01..2025-12 (scale 1)."""
    stock = _target_stock()
    return {str(np.datetime64(int(d), "D")): float(v) for d, v in zip(_MONTH_END, stock, strict=True)}


def _target_stock() -> Arr:
    anchors = np.log(np.array(_DECEMBER_STOCK) / _SEASON[11])
    m = np.arange(N_MONTHS)
    level = np.exp(np.interp(m, np.arange(-1, N_MONTHS, 12), anchors))
    return level * _SEASON[m % 12]


@dataclass(frozen=True)
class _SpellModel:
    starts: Arr  # start month of a spell (month index, negative = before 2022)
    start_lut: Arr  # 2**20 lookup table: index into starts, for spells that reach into the window
    len_lut: Arr  # 2**20 lookup table: length - 1
    len_cdf: Arr  # P(L <= l) for l = 1..LMAX
    rows_per_spell: float
    stock: Arr  # expected month-end stock (scale 1)


@lru_cache(maxsize=1)
def _unemployment_model() -> _SpellModel:
    lengths = np.arange(1, _LMAX + 1)
    pmf = np.zeros(_LMAX)
    for weight, mean in (_SHORT_SPELLS, _LONG_SPELLS):
        p = 1.0 / mean
        pmf += weight * p * (1 - p) ** (lengths - 1)
    pmf /= pmf.sum()
    cdf = np.cumsum(pmf)
    cdf[-1] = 1.0
    surv = np.concatenate([[1.0], 1.0 - cdf, np.zeros(N_MONTHS)])  # surv[d] = P(L > d)
    surv[_LMAX] = 0.0
    target = _target_stock()
    starts = np.arange(-(_LMAX - 1), N_MONTHS)
    inflow = np.zeros(starts.size)
    pre = starts < 0
    inflow[pre] = _DECEMBER_STOCK[0] / surv[:_LMAX].sum()  # steady state before 2022
    for m in range(N_MONTHS):
        idx = m + _LMAX - 1
        carried = float(np.dot(inflow[:idx], surv[m - starts[:idx]]))
        inflow[idx] = max(target[m] - carried, 0.1 * inflow[0])
    stock = np.array([np.dot(inflow, surv[np.clip(m - starts, 0, None)] * (starts <= m))
                      for m in range(N_MONTHS)])
    reach = inflow * surv[np.maximum(-starts, 0)]  # spells that are still open in January 2022
    return _SpellModel(starts.astype(np.int64), _lut(reach, 20), _lut(pmf, 20), cdf,
                       float(stock.sum() / reach.sum()), stock)


def unemployment_scale(total_rows: int) -> float:
    """Month-end unemployment stock of the demo / the realistic (NVA) stock; ~1.0 at 4.4M rows."""
    return plan_rows(total_rows)["unemployment"] / float(_unemployment_model().stock.sum())


# Social assistance ----------------------------------------------------------------------
_SA_ROW_SHARE = (0.37, 0.35, 0.025, 0.09, 0.10, 0.065)  # before repeats (repeats favour short ones)
_SA_MAX_LEN = 36
_SA_LENGTH = (
    (0.12, 0.10, 0.30, 0.08, 0.05, 0.35),  # gmi: granted for up to 6 months (3 or 6 typical)
    (0.05, 0.05, 0.15, 0.10, 0.10, 0.55),  # housing: up to 6 months
    (1.0,),  # emergency: one payment
    tuple(0.92 ** np.arange(_SA_MAX_LEN)),  # care: long
    tuple(0.93 ** np.arange(_SA_MAX_LEN)),  # state family benefit: long
    tuple(0.89 ** np.arange(18)),  # child care benefit: up to 1.5 years
)
# median EUR and log-sd of one payment
_SA_AMOUNT = ((140.0, 0.45), (110.0, 0.5), (150.0, 0.6), (90.0, 0.3), (35.0, 0.5), (171.0, 0.25))
_SA_AGE = (
    (0.18, 0.08, 0.14, 0.16, 0.18, 0.21, 0.04, 0.01),
    (0.0, 0.02, 0.08, 0.10, 0.14, 0.22, 0.24, 0.20),
    (0.05, 0.08, 0.17, 0.18, 0.18, 0.18, 0.10, 0.06),
    (0.04, 0.03, 0.03, 0.04, 0.07, 0.12, 0.20, 0.47),
    (0.0, 0.03, 0.42, 0.45, 0.10, 0.0, 0.0, 0.0),
    (0.0, 0.10, 0.60, 0.30, 0.0, 0.0, 0.0, 0.0),
)
_SA_FEMALE = (0.50, 0.60, 0.50, 0.68, 0.88, 0.90)
_SA_FROM_UNEMPLOYED = (0.45, 0.30, 0.40, 0.05, 0.10, 0.10)
_SA_REGION = {"Rīga": 1.0, "Pierīga": 0.8, "Vidzeme": 1.3, "Kurzeme": 1.3, "Zemgale": 1.2, "Latgale": 2.2}


def _sa_amount_factor() -> Arr:
    """Per (benefit, month) multiplier: GMI threshold raised in 2023, housing higher in winter."""
    f = np.ones((len(SA_BENEFITS), N_MONTHS))
    m = np.arange(N_MONTHS)
    f[0, m >= 12] = 1.15
    f[1] = np.where(np.isin(m % 12, (0, 1, 2, 10, 11)), 1.45, 0.8)
    return f.ravel()


@dataclass(frozen=True)
class _SAModel:
    type_lut: Arr
    length_lut: Arr
    rows_per_episode: float


@lru_cache(maxsize=1)
def _sa_model() -> _SAModel:
    rows = []
    for pmf in _SA_LENGTH:
        p = np.array(pmf) / np.sum(pmf)
        length = np.arange(1, p.size + 1)
        rows.append(float(np.sum(p * N_MONTHS * length / (N_MONTHS - 1 + length))))
    per_type = np.array(rows)
    episodes = np.array(_SA_ROW_SHARE) / per_type
    episodes /= episodes.sum()
    return _SAModel(_lut(episodes), _lut2(_SA_LENGTH), float(np.dot(episodes, per_type)))


# Disability ------------------------------------------------------------------------------
_DIS_TWICE = 0.25  # persons with two decisions in the window (rows per person 1.25)
_DIS_AGE = (0.08, 0.04, 0.06, 0.10, 0.18, 0.30, 0.16, 0.08)
_DIS_FEMALE = (0.42, 0.45, 0.45, 0.47, 0.50, 0.52, 0.60, 0.68)
_DIS_GROUP_ADULT = (0.13, 0.50, 0.37, 0.0)
_DIS_REGION = {"Rīga": 0.9, "Pierīga": 0.85, "Vidzeme": 1.1, "Kurzeme": 1.1, "Zemgale": 1.05, "Latgale": 1.3}

# Occupational accidents -------------------------------------------------------------------
_NACE_WEIGHT = (4, 0.5, 24, 1, 2, 14, 13, 12, 3, 1, 0.5, 1, 2, 4, 5, 3, 7, 1, 1, 0.1, 0.05)
_NACE_MALE = (0.85, 0.95, 0.70, 0.85, 0.85, 0.97, 0.50, 0.85, 0.35, 0.60, 0.30, 0.60, 0.55, 0.60,
              0.70, 0.25, 0.20, 0.50, 0.40, 0.30, 0.50)
_ACC_AGE = (0.0, 0.12, 0.22, 0.22, 0.22, 0.19, 0.03, 0.0)
_ACC_SEVERITY = (0.885, 0.103, 0.012)
_ACC_DAYS = ((14.0, 0.8, 1, 180), (75.0, 0.6, 14, 365), (1.0, 0.0, 0, 0))  # median, sigma, min, max
_ACC_REGION = {"Rīga": 1.3, "Pierīga": 1.0, "Vidzeme": 0.9, "Kurzeme": 0.95, "Zemgale": 0.9, "Latgale": 0.7}


def _accident_day_weights() -> Arr:
    w = np.where(_WINDOW_DOW == 5, 0.45, np.where(_WINDOW_DOW == 6, 0.35, 1.0))
    month = (np.arange(_WINDOW_START, _WINDOW_START + _WINDOW_DAYS).astype("datetime64[D]")
             .astype("datetime64[M]").astype(np.int64) % 12)
    return w * np.where((month >= 5) & (month <= 8), 1.12, 1.0)  # more in June-September


# Pensions --------------------------------------------------------------------------------
_PEN_TYPE = (0.86, 0.10, 0.04)
_PEN_NEW = (0.20, 0.25, 0.30)  # share of pensioners whose pension starts inside the window
_PEN_EXIT = (0.0045, 0.005, 0.012)  # monthly hazard of the pension ending (death, age-out)
_PEN_AMOUNT = ((470.0, 0.30), (310.0, 0.30), (140.0, 0.40))  # 2022 median EUR, sigma
_PEN_AGE = (
    (0.0, 0.0, 0.0, 0.0, 0.0, 0.03, 0.52, 0.45),
    (0.0, 0.04, 0.06, 0.14, 0.30, 0.46, 0.0, 0.0),
    (0.55, 0.45, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
)
_PEN_FEMALE = (0.65, 0.48, 0.50)
_PEN_FROM_DISABILITY = (0.0, 0.6, 0.0)
_PEN_REGION = {"Rīga": 1.0, "Pierīga": 0.9, "Vidzeme": 1.1, "Kurzeme": 1.05, "Zemgale": 1.0, "Latgale": 1.15}
_PEN_INDEXATION = ((9, 1.086), (21, 1.107), (33, 1.044), (45, 1.026))  # October indexations (illustrative)


def _pension_index() -> Arr:
    f = np.ones(N_MONTHS)
    for month, factor in _PEN_INDEXATION:
        f[month:] *= factor
    return f


def _pension_rows_per_person() -> float:
    total = 0.0
    k = np.arange(1, N_MONTHS)
    for share, new, h in zip(_PEN_TYPE, _PEN_NEW, _PEN_EXIT, strict=True):
        mean_min = (1 - (1 - h) ** (N_MONTHS - np.concatenate([[0], k]))) / h  # E[min(G, 48 - e)]
        total += share * ((1 - new) * mean_min[0] + new * mean_min[1:].mean())
    return total


# Lookup tables ---------------------------------------------------------------------------
_Z = np.sort(np.random.default_rng(20220101).standard_normal(_U16))
"""65536 standard-normal quantiles: ``median * exp(sigma * _Z[u16])`` draws a log-normal amount."""


def _lognormal_cents(params: Sequence[tuple[float, float]]) -> Arr:
    return np.concatenate([np.rint(100 * m * np.exp(sd * _Z)).astype(np.int64) for m, sd in params])


_WEEKEND_SHIFT = np.array([0, 0, 0, 0, 0, 2, 1])  # Saturday, Sunday -> Monday
_UN_GAP = _geometric_lut(6.0, 60)  # months between two registrations of a person
_SA_GAP = _geometric_lut(2.0, 24)  # months before a benefit is granted again
_L_UN_MUNI = _lut(_region_weights(UNEMPLOYMENT_RATE_BY_REGION))
_L_UN_FEMALE = _lut((0.48, 0.52))
_L_UN_AGE = _lut((0.0, 0.07, 0.19, 0.21, 0.23, 0.29, 0.01, 0.0))
_L_UN_EDU = _lut((0.005, 0.015, 0.16, 0.46, 0.10, 0.01, 0.15, 0.095, 0.005))
_L_SA_MUNI = _lut(_region_weights(_SA_REGION))
_L_SA_AGE = _lut2(_SA_AGE)
_L_SA_GENDER = _lut2([(1 - f, f) for f in _SA_FEMALE])
_SA_AGE_OK = np.array(_SA_AGE).ravel() > 0
_SA_FACTOR = _sa_amount_factor()
_L_SA_CENTS = _lognormal_cents(_SA_AMOUNT)
_L_DIS_MUNI = _lut(_region_weights(_DIS_REGION))
_L_DIS_AGE = _lut(_DIS_AGE)
_L_DIS_GENDER = _lut2([(1 - f, f) for f in _DIS_FEMALE])
_L_DIS_GROUP = _lut(_DIS_GROUP_ADULT)
_L_ACC_MUNI = _lut(_region_weights(_ACC_REGION))
_L_ACC_NACE = _lut(_NACE_WEIGHT)
_L_ACC_GENDER = _lut2([(m, 1 - m) for m in _NACE_MALE])
_L_ACC_AGE = _lut(_ACC_AGE)
_L_ACC_SEV = _lut(_ACC_SEVERITY)
_L_ACC_DAY = _lut(_accident_day_weights())
_L_ACC_DAYS = np.concatenate([np.clip(np.rint(m * np.exp(sd * _Z)), lo, hi).astype(np.int32)
                              for m, sd, lo, hi in _ACC_DAYS])
_L_PEN_MUNI = _lut(_region_weights(_PEN_REGION))
_L_PEN_TYPE = _lut(_PEN_TYPE)
_L_PEN_AGE = _lut2(_PEN_AGE)
_L_PEN_GENDER = _lut2([(1 - f, f) for f in _PEN_FEMALE])
_PEN_AGE_OK = np.array(_PEN_AGE).ravel() > 0
_PEN_INDEX = _pension_index()
_L_PEN_CENTS = _lognormal_cents(_PEN_AMOUNT)


# --------------------------------------------------------------------------------------------
# Persons: the shared number space, households and pseudonyms
# --------------------------------------------------------------------------------------------
_HOUSEHOLD_SIZES = (1, 2, 1, 3, 1, 4, 1, 2, 1)  # per block of 16 consecutive person numbers
_HOUSEHOLD_BLOCK = np.repeat(np.arange(len(_HOUSEHOLD_SIZES), dtype=np.int64), _HOUSEHOLD_SIZES)


def household_of(person: Arr) -> Arr:
    """Household number of each person: consecutive numbers form households of 1-4 persons
    (sizes 1, 2, 1, 3, 1, 4, 1, 2, 1 repeating: 9 households per 16 persons)."""
    q = np.asarray(person, dtype=np.int64) - 1
    return (q >> 4) * len(_HOUSEHOLD_SIZES) + _HOUSEHOLD_BLOCK[q & 15] + 1


def _home_municipality(person: Arr, lut: Arr, seed: int) -> Arr:
    """A municipality per household (so members live together), distributed as ``lut``."""
    h = household_of(person).astype(np.uint64) + np.uint64((seed * 0x632BE59BD9B4E019) & (2**64 - 1))
    return lut[((h * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(48)).astype(np.int64)]


def _capacities(plan: dict[str, int]) -> dict[str, int]:
    """Upper bounds of the persons each cube introduces (spells and episodes per planned row)."""
    per_row = {
        "unemployment": 1 / _unemployment_model().rows_per_spell,
        "social_assistance": 1 / _sa_model().rows_per_episode,
        "disability": 1 / (1 + _DIS_TWICE),
        "pensions": 1 / _pension_rows_per_person(),
    }
    return {c: (math.ceil(plan[c] * r * 1.1) + 64 if plan[c] else 0) for c, r in per_row.items()}


def persons_pool(total_rows: int) -> int:
    """Size of the shared person-number space: the numbers used are 1..M with M <= this."""
    return sum(_capacities(plan_rows(total_rows)).values())


class _Registry:
    """Allocates person numbers from one counter and remembers each person's attributes."""

    def __init__(self, capacity: int, seed: int) -> None:
        self.next = 1
        self.gender = np.zeros(capacity + 1, dtype=np.uint8)
        self.age = np.zeros(capacity + 1, dtype=np.uint8)
        self.muni = np.zeros(capacity + 1, dtype=np.uint8)
        self.households = np.zeros(int(household_of(np.array([capacity + 1]))[0]) + 1, dtype=np.bool_)
        """Households some fact names and no households batch has given yet."""
        self.ranges: dict[str, tuple[int, int]] = {}
        self._seed = seed
        self._draws: dict[str, list[int]] = {}
        self._base = 1
        self._count = 0
        self._cap = 0

    def begin(self, capacity: int) -> None:
        self._base, self._count, self._cap = self.next, 0, capacity

    def allocate(self, n: int) -> Arr:
        first = self._base + self._count
        self._count += n
        if self._count <= self._cap:
            return np.arange(first, first + n, dtype=np.uint64)
        # Capacities have a 10 % margin over the expected need; past it numbers are reused.
        k = first - self._base + np.arange(n, dtype=np.int64)
        return (self._base + k % max(self._cap, 1)).astype(np.uint64)

    def remember(self, person: Arr, gender: Arr, age: Arr, muni: Arr) -> None:
        self.gender[person] = gender
        self.age[person] = age
        self.muni[person] = muni

    def mark_households(self, household: Arr) -> None:
        self.households[household] = True

    def take_households(self) -> Arr:
        """The households marked since the last call, in order."""
        found = np.flatnonzero(self.households).astype(np.uint64)
        self.households[:] = False
        return found

    def recall(self, person: Arr) -> tuple[Arr, Arr, Arr]:
        return self.gender[person], self.age[person], self.muni[person]

    def end(self, cube: str) -> tuple[int, int]:
        lo, hi = self._base, self._base + min(self._count, self._cap)
        self.ranges[cube] = (lo, hi)
        self.next = hi
        return lo, hi

    def draw(self, cube: str, n: int) -> Arr | None:
        """``n`` distinct persons of an earlier cube (a fixed pseudo-random permutation of them)."""
        lo, hi = self.ranges.get(cube, (0, 0))
        size = hi - lo
        if size <= 0:
            return None
        state = self._draws.get(cube)
        if state is None:
            a = int(size * 0.6180339887498949) | 1
            while math.gcd(a, size) != 1:
                a += 1
            state = self._draws[cube] = [a, (self._seed * 7919) % size, 0]
        a, b, k = state
        state[2] += n
        ks = k + np.arange(n, dtype=np.int64)
        return (lo + (ks * a + b) % size).astype(np.uint64)


def _assign_persons(reg: _Registry, rng: np.random.Generator, n: int,
                    sources: Sequence[tuple[str, Arr | float]]) -> tuple[Arr, Arr, Arr]:
    """Person numbers for ``n`` units: from earlier cubes with the given probabilities, else new.

    Returns the numbers and the positions of the new and of the earlier persons.
    """
    u = rng.random(n)
    person = np.zeros(n, dtype=np.uint64)
    new = np.ones(n, dtype=bool)
    acc: Arr | float = 0.0
    for cube, p in sources:
        sel = (u >= acc) & (u < acc + p)
        acc = acc + p
        drawn = reg.draw(cube, int(sel.sum()))
        if drawn is not None:
            person[sel] = drawn
            new[sel] = False
    fresh = np.flatnonzero(new)
    person[fresh] = reg.allocate(fresh.size)
    return person, fresh, np.flatnonzero(~new)


_LV_CHECK_WEIGHTS = np.array([1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_BIRTH_FIRST = int(np.datetime64("1930-01-01", "D").astype(np.int64))
_BIRTH_DAYS = int(np.datetime64("2020-01-01", "D").astype(np.int64)) - _BIRTH_FIRST
_BIRTH_STEP = next(a for a in range(int(_BIRTH_DAYS * 0.381966), _BIRTH_DAYS)
                   if math.gcd(a, _BIRTH_DAYS) == 1)


def _birth_digits() -> tuple[Arr, Arr]:
    """Digits DDMMYYC of every birth date 1930-2019 (C: century digit) and their check-sum part."""
    dates = (_BIRTH_FIRST + np.arange(_BIRTH_DAYS)).astype("datetime64[D]")
    month_start = dates.astype("datetime64[M]")
    year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    dd = (dates - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    mm = month_start.astype(np.int64) % 12 + 1
    yy = year % 100
    digits = np.stack([dd // 10, dd % 10, mm // 10, mm % 10, yy // 10, yy % 10,
                       np.where(year < 2000, 1, 2)], axis=1)
    return digits.astype(np.uint8), digits @ _LV_CHECK_WEIGHTS[:7]


_BIRTH_DIGITS, _BIRTH_CHECKSUM = _birth_digits()


def _person_code_bytes(person: Arr) -> Arr:
    """ASCII codes ``DDMMYY-CSSSX`` (n x 12 uint8), one per person number, all distinct.

    The number picks a birth date (a permutation of 1930-2019) and a serial; C is the century digit
    (1: 1900s, 2: 2000s; +2 per further 1000 serials). X is chosen to FAIL the personas kods check
    digit, so a synthetic code never equals a valid real one.
    """
    q = np.asarray(person, dtype=np.int64) - 1
    if q.size and (q.min() < 0 or q.max() >= _BIRTH_DAYS * 4000):
        raise ValueError("person numbers must be in 1..131M")
    day = (q % _BIRTH_DAYS * _BIRTH_STEP) % _BIRTH_DAYS
    block = q // _BIRTH_DAYS
    serial = block % 1000
    extra = 2 * (block // 1000)  # 0 below 32.9M persons
    s1, s2, s3 = serial // 100, serial // 10 % 10, serial % 10
    check = (1101 - (_BIRTH_CHECKSUM[day] + 5 * extra + 8 * s1 + 4 * s2 + 2 * s3)) % 11
    date = _BIRTH_DIGITS[day]
    out = np.empty((q.size, 12), dtype=np.uint8)
    out[:, :6] = date[:, :6] + 48
    out[:, 6] = ord("-")
    out[:, 7] = date[:, 6] + extra + 48
    out[:, 8] = s1 + 48
    out[:, 9] = s2 + 48
    out[:, 10] = s3 + 48
    out[:, 11] = np.where(check < 10, (check + 1) % 10, 0) + 48
    return out


def synthetic_person_code(person_num: int) -> str:
    """The synthetic person code behind a person number (for tests and documentation)."""
    return bytes(_person_code_bytes(np.array([person_num]))[0]).decode("ascii")


def _persons_table(lo: int, hi: int) -> Any:
    """Person numbers with their synthetic codes; `load_demo` turns each code into its keyed
    pseudonym inside the engine (labis_olap.privacy), so no code is ever stored."""
    person = np.arange(lo, hi, dtype=np.uint64)
    codes = _person_code_bytes(person).tobytes()
    offsets = np.arange(0, 12 * (person.size + 1), 12, dtype=np.int32)
    code = pa.Array.from_buffers(_STR, person.size, [None, pa.py_buffer(offsets), pa.py_buffer(codes)])
    return pa.Table.from_arrays([pa.array(person), code], schema=SCHEMAS["persons"])


def pseudonym(person_num: int, key: bytes = DEMO_KEY) -> str:
    """The pseudonym of one person number: what the persons table holds after a demo load."""
    return hmac_hex(synthetic_person_code(person_num), key)


_HOUSEHOLD_STEP = 123_456_791  # coprime to 900,000,000: a bijection on the 9-digit numbers


def _household_codes(household: Arr) -> Arr:
    """A synthetic 9-digit household number (as SPOLIS numbers households) for each dense
    household number: distinct for distinct households, and never the dense number itself."""
    h = np.asarray(household, dtype=np.int64)
    return 100_000_000 + (h * _HOUSEHOLD_STEP) % 900_000_000


def synthetic_household_code(household_num: int) -> str:
    """The synthetic household number behind a dense household number (tests, documentation)."""
    return str(int(_household_codes(np.array([household_num]))[0]))


def _households_table(household: Arr) -> Any:
    """Dense household numbers with their synthetic codes, pseudonymised by `load_demo` inside
    the engine in the ``household`` namespace (labis_olap.privacy.namespace_key)."""
    code = pa.array(_household_codes(household)).cast(_STR)
    return pa.Table.from_arrays([pa.array(household, pa.uint64()), code], schema=SCHEMAS["households"])


def household_pseudonym(household_num: int, key: bytes = DEMO_KEY) -> str:
    """The pseudonym of one household number: what `identifiers_household` holds after a demo load."""
    return pseudonym_hex(synthetic_household_code(household_num), key, "household")


# --------------------------------------------------------------------------------------------
# Cubes: each chunk function returns exactly ``target`` rows
# --------------------------------------------------------------------------------------------
def _rows_within(nrows: Arr, packed_hi: Arr) -> Arr:
    """Each row's position inside its spell, given the row offset where its spell starts."""
    return (np.arange(int(nrows.sum()), dtype=np.int64) - packed_hi).astype(np.int32)


def _unemployment_chunk(rng: np.random.Generator, target: int, reg: _Registry, seed: int) -> Any:
    mdl = _unemployment_model()
    n = int(target / mdl.rows_per_spell * 1.06) + 32
    while True:
        start = mdl.starts[mdl.start_lut[rng.integers(0, 1 << 20, size=n, dtype=np.int32)]]
        length = mdl.len_lut[rng.integers(0, 1 << 20, size=n, dtype=np.int32)].astype(np.int64) + 1
        early = np.flatnonzero(start < 0)  # opened before 2022: the length given L > -start
        floor = mdl.len_cdf[-start[early] - 1]
        u = floor + rng.random(early.size) * (1.0 - floor)
        length[early] = np.minimum(np.searchsorted(mdl.len_cdf, u, side="right") + 1, _LMAX)
        r0 = np.maximum(start, 0)
        nrows = np.minimum(start + length, N_MONTHS) - r0
        if int(nrows.sum()) >= target:
            break
        n = n * 3 // 2 + 32
    root = _chain_roots(rng, start, start + length, 0.4, _UN_GAP)
    k = _cut(nrows, target)
    start, r0, nrows = start[:k], r0[:k], nrows[:k]
    roots, inv = _dense(root[:k], root.size)
    person = reg.allocate(roots.size)
    gender = _draw(rng, _L_UN_FEMALE, roots.size)
    age = _draw(rng, _L_UN_AGE, roots.size)
    edu = _draw(rng, _L_UN_EDU, roots.size)
    muni = _home_municipality(person, _L_UN_MUNI, seed)
    reg.remember(person, gender, age, muni)
    low = (muni[inv] | gender[inv] << 6 | age[inv] << 7 | edu[inv] << 10 | r0 << 14 | (r0 - start) << 20)
    offs = np.cumsum(nrows) - nrows
    rep = np.repeat((offs << 32) | low, nrows)
    within = _rows_within(nrows, rep >> 32)
    lo = (rep & 0x7FFFFFFF).astype(np.int32)
    month = ((lo >> 14) & 63) + within
    duration = (lo >> 20) + within
    return pa.Table.from_arrays([
        _date(_MONTH_END[month]),
        _cat(_MUNI_REMAP[(lo & 63) | ((month >= _MERGE_MONTH) << 6)], _D_MUNI),
        _cat((lo >> 6) & 1, _D_GENDER),
        _cat((lo >> 7) & 7, _D_AGE),
        _cat((lo >> 10) & 15, _D_EDU),
        _const(target, _SOURCES["unemployment"]),
        pa.array(np.repeat(person[inv], nrows)),
        pa.array(np.ones(target, dtype=np.int32)),
        pa.array((duration == 0).astype(np.int32)),
        pa.array(duration),
    ], schema=SCHEMAS["unemployment"])


def _social_assistance_chunk(rng: np.random.Generator, target: int, reg: _Registry, seed: int) -> Any:
    mdl = _sa_model()
    n = int(target / mdl.rows_per_episode * 1.06) + 32
    while True:
        btype = _draw(rng, mdl.type_lut, n)
        length = _draw2(rng, mdl.length_lut, btype).astype(np.int64) + 1
        start = (rng.random(n) * (N_MONTHS - 1 + length)).astype(np.int64) - length + 1
        r0 = np.maximum(start, 0)
        nrows = np.minimum(start + length, N_MONTHS) - r0
        if int(nrows.sum()) >= target:
            break
        n = n * 3 // 2 + 32
    root = _chain_roots(rng, start, start + length, 0.35, _SA_GAP)
    k = _cut(nrows, target)
    r0, nrows = r0[:k], nrows[:k]
    roots, inv = _dense(root[:k], root.size)
    rtype = btype[roots]  # a repeated episode is the same benefit, granted again
    xo = np.array(_SA_FROM_UNEMPLOYED)[rtype]
    person, new, old = _assign_persons(reg, rng, roots.size, [("unemployment", xo)])
    gender = _draw2(rng, _L_SA_GENDER, rtype)
    age = _draw2(rng, _L_SA_AGE, rtype)
    muni = np.empty(roots.size, dtype=np.int32)
    muni[new] = _home_municipality(person[new], _L_SA_MUNI, seed)
    gender[old], old_age, muni[old] = reg.recall(person[old])
    age[old] = np.where(_SA_AGE_OK[rtype[old] * 8 + old_age], old_age, age[old])
    reg.remember(person[new], gender[new], age[new], muni[new])
    reg.mark_households(household_of(person))
    ep = inv
    day = rng.integers(0, 28, size=k, dtype=np.int32)
    cents = _draw2(rng, _L_SA_CENTS, rtype[ep])
    low = (muni[ep] | gender[ep] << 6 | age[ep] << 7 | rtype[ep] << 10 | r0 << 13 | day << 19)
    offs = np.cumsum(nrows) - nrows
    rep = np.repeat((offs << 32) | low, nrows)
    within = _rows_within(nrows, rep >> 32)
    lo = (rep & 0x7FFFFFFF).astype(np.int32)
    month = ((lo >> 13) & 63) + within
    bt = (lo >> 10) & 7
    amount = np.rint(np.repeat(cents, nrows) * _SA_FACTOR[bt * N_MONTHS + month]).astype(np.int64)
    pers = person[ep]
    return pa.Table.from_arrays([
        _date(_MONTH_FIRST[month] + (lo >> 19)),
        _cat(_MUNI_REMAP[(lo & 63) | ((month >= _MERGE_MONTH) << 6)], _D_MUNI),
        _cat(bt, _D_SA),
        _cat((lo >> 6) & 1, _D_GENDER),
        _cat((lo >> 7) & 7, _D_AGE),
        _const(target, _SOURCES["social_assistance"]),
        pa.array(np.repeat(pers, nrows)),
        pa.array(np.repeat(household_of(pers), nrows).astype(np.uint64)),
        _decimal(amount),
    ], schema=SCHEMAS["social_assistance"])


def _disability_chunk(rng: np.random.Generator, target: int, reg: _Registry, seed: int) -> Any:
    n = int(target / (1 + _DIS_TWICE) * 1.03) + 16
    while True:
        per = 1 + (rng.random(n) < _DIS_TWICE).astype(np.int64)
        if int(per.sum()) >= target:
            break
        n = n * 3 // 2 + 16
    k = _cut(per, target)
    per = per[:k]
    person, new, old = _assign_persons(reg, rng, k, [("social_assistance", 0.15), ("unemployment", 0.10)])
    age = _draw(rng, _L_DIS_AGE, k)
    gender = _draw2(rng, _L_DIS_GENDER, age)
    muni = np.empty(k, dtype=np.int32)
    muni[new] = _home_municipality(person[new], _L_DIS_MUNI, seed)
    gender[old], age[old], muni[old] = reg.recall(person[old])
    reg.remember(person[new], gender[new], age[new], muni[new])
    group = np.where(age == 0, 3, _draw(rng, _L_DIS_GROUP, k))
    bits = _u16(rng, k)
    kind = bits & 1  # the earlier (or only) decision: 0 = first assessment, 1 = repeat
    # A second decision 1-3 years before or after the first, on a working day inside the window.
    d1 = _WORKDAYS[rng.integers(0, _WORKDAYS.size, size=k, dtype=np.int32)].astype(np.int64)
    off = rng.integers(365, 1096, size=k, dtype=np.int32)
    off = np.minimum(off, np.maximum(d1, _WINDOW_DAYS - 1 - d1))
    back = (d1 + off >= _WINDOW_DAYS) | ((d1 >= off) & (bits >= 0x8000))
    d2 = np.where(back, d1 - off, d1 + off)
    d2 += _WEEKEND_SHIFT[_WINDOW_DOW[d2]]
    first_date = np.where(per == 2, np.minimum(d1, d2), d1)
    packed = (muni | gender << 6 | age << 7 | group << 10 | kind << 12
              | first_date << 13 | np.maximum(d1, d2) << 24)
    rep = np.repeat(packed, per)
    second = np.zeros(target, dtype=bool)
    second[(np.cumsum(per) - 1)[per == 2]] = True
    day = (np.where(second, rep >> 24, rep >> 13) & 2047) + _WINDOW_START
    lo = (rep & 0x1FFF).astype(np.int32)
    return pa.Table.from_arrays([
        _date(day),
        _cat(_MUNI_REMAP[(lo & 63) | ((day >= _MERGE_DAY) << 6)], _D_MUNI),
        _cat((lo >> 6) & 1, _D_GENDER),
        _cat((lo >> 7) & 7, _D_AGE),
        _cat((lo >> 10) & 3, _D_DGROUP),
        _cat(((lo >> 12) & 1) | second, _D_ASSESS),
        _const(target, _SOURCES["disability"]),
        pa.array(np.repeat(person, per)),
    ], schema=SCHEMAS["disability"])


def _accidents_chunk(rng: np.random.Generator, target: int, reg: _Registry, seed: int) -> Any:
    n = target
    nace = _draw(rng, _L_ACC_NACE, n)
    severity = _draw(rng, _L_ACC_SEV, n)
    days_lost = _draw2(rng, _L_ACC_DAYS, severity)
    day = _draw(rng, _L_ACC_DAY, n) + _WINDOW_START
    return pa.Table.from_arrays([
        _date(day),
        _cat(_MUNI_REMAP[_draw(rng, _L_ACC_MUNI, n) | ((day >= _MERGE_DAY) << 6)], _D_MUNI),
        _cat(nace, _D_NACE),
        _cat(_draw2(rng, _L_ACC_GENDER, nace), _D_GENDER),
        _cat(_draw(rng, _L_ACC_AGE, n), _D_AGE),
        _cat(severity, _D_SEV),
        _const(n, _SOURCES["occupational_accidents"]),
        pa.array(days_lost),
    ], schema=SCHEMAS["occupational_accidents"])


def _pensions_chunk(rng: np.random.Generator, target: int, reg: _Registry, seed: int) -> Any:
    n = int(target / _pension_rows_per_person() * 1.06) + 16
    while True:
        ptype = _draw(rng, _L_PEN_TYPE, n)
        new_pension = rng.random(n) < np.array(_PEN_NEW)[ptype]
        entry = np.where(new_pension, rng.integers(1, N_MONTHS, size=n), 0)
        nrows = np.minimum(rng.geometric(np.array(_PEN_EXIT)[ptype]), N_MONTHS - entry)
        if int(nrows.sum()) >= target:
            break
        n = n * 3 // 2 + 16
    k = _cut(nrows, target)
    ptype, entry, nrows = ptype[:k], entry[:k], nrows[:k]
    person, new, old = _assign_persons(reg, rng, k, [("disability", np.array(_PEN_FROM_DISABILITY)[ptype])])
    gender = _draw2(rng, _L_PEN_GENDER, ptype)
    age = _draw2(rng, _L_PEN_AGE, ptype)
    muni = np.empty(k, dtype=np.int32)
    muni[new] = _home_municipality(person[new], _L_PEN_MUNI, seed)
    gender[old], old_age, muni[old] = reg.recall(person[old])
    age[old] = np.where(_PEN_AGE_OK[ptype[old] * 8 + old_age], old_age, age[old])
    reg.remember(person[new], gender[new], age[new], muni[new])
    cents = _draw2(rng, _L_PEN_CENTS, ptype)
    low = muni | gender << 6 | age << 7 | ptype << 10 | entry << 12
    offs = np.cumsum(nrows) - nrows
    rep = np.repeat((offs << 32) | low, nrows)
    within = _rows_within(nrows, rep >> 32)
    lo = (rep & 0x7FFFFFFF).astype(np.int32)
    month = ((lo >> 12) & 63) + within
    amount = np.rint(np.repeat(cents, nrows) * _PEN_INDEX[month]).astype(np.int64)
    return pa.Table.from_arrays([
        _date(_MONTH_END[month]),
        _cat(_MUNI_REMAP[(lo & 63) | ((month >= _MERGE_MONTH) << 6)], _D_MUNI),
        _cat((lo >> 10) & 3, _D_PENSION),
        _cat((lo >> 6) & 1, _D_GENDER),
        _cat((lo >> 7) & 7, _D_AGE),
        _const(target, _SOURCES["pensions"]),
        pa.array(np.repeat(person, nrows)),
        _decimal(amount),
    ], schema=SCHEMAS["pensions"])


_Chunk = Callable[[np.random.Generator, int, _Registry, int], Any]
_CHUNKS: dict[str, _Chunk] = {
    "unemployment": _unemployment_chunk,
    "social_assistance": _social_assistance_chunk,
    "disability": _disability_chunk,
    "occupational_accidents": _accidents_chunk,
    "pensions": _pensions_chunk,
}


def _rebatch(tables: Iterator[Any], batch_rows: int) -> Iterator[Any]:
    """Re-slice a stream of tables into tables of exactly ``batch_rows`` rows (the last one fewer)."""
    pending: list[Any] = []
    rows = 0
    for t in tables:
        pending.append(t)
        rows += t.num_rows
        while rows >= batch_rows:
            whole = pending[0] if len(pending) == 1 else pa.concat_tables(pending)
            yield whole.slice(0, batch_rows)
            rest = whole.slice(batch_rows)
            pending = [rest] if rest.num_rows else []
            rows -= batch_rows
    if rows:
        yield pending[0] if len(pending) == 1 else pa.concat_tables(pending)


def generate(total_rows: int, seed: int = 42, batch_rows: int = 1_000_000) -> Iterator[tuple[str, Any]]:
    """Yield ``(cube, table)`` fact batches and ``("persons", table)`` and ``("households",
    table)`` batches of synthetic codes.

    Each cube's batches add up to ``plan_rows(total_rows)[cube]`` rows and are followed by the
    persons and the households it introduced (each person and household number exactly once over
    the whole stream). Batches have at
    most ``batch_rows`` rows; the content does not depend on ``batch_rows``.
    """
    if batch_rows < 1:
        raise ValueError("batch_rows must be >= 1")
    plan = plan_rows(total_rows)
    caps = _capacities(plan)
    reg = _Registry(sum(caps.values()), seed)
    seed_word = seed & (2**63 - 1)
    for ci, cube in enumerate(CUBES):
        reg.begin(caps.get(cube, 0))
        make = _CHUNKS[cube]

        def chunks(cube_rows: int = plan[cube], ci: int = ci, make: _Chunk = make) -> Iterator[Any]:
            for chunk, first in enumerate(range(0, cube_rows, _CHUNK_ROWS)):
                rng = np.random.default_rng([seed_word, ci, chunk])
                yield make(rng, min(_CHUNK_ROWS, cube_rows - first), reg, seed_word)

        for table in _rebatch(chunks(), batch_rows):
            yield cube, table
        lo, hi = reg.end(cube)
        for first in range(lo, hi, batch_rows):
            yield "persons", _persons_table(first, min(hi, first + batch_rows))
        households = reg.take_households()
        for first in range(0, households.size, batch_rows):
            yield "households", _households_table(households[first : first + batch_rows])
