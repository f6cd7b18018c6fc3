"""Convert and check one batch of raw values, vectorised with pyarrow.compute.

For each fact column of the plan: clean the text (trim, case, null values, rewrite, crosswalk
map), parse it to the column's type, and run the checks (required, pattern, bounds, allowed
values, dimension membership). Low-cardinality columns are dictionary-encoded first, so a
date or a municipality code is cleaned, parsed and checked once per distinct value, not once
per row. A row with any failing value is rejected; each failing value becomes a reject record
(row, column, value, reason). Values of personal columns never appear in a reject: they are
masked to their shape (`999999-99999`), and any value shaped like a personal code is masked
wherever it appears.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..model.schema import PSEUDONYMOUS_TYPES, ColumnType
from ..physical.layout import ARROW_TYPES as FACT_ARROW_TYPES
from ..privacy import PERSON_CODE_RE2
from .raw import RawBatch
from .spec import CLICKHOUSE_DATE_MAX, CLICKHOUSE_DATE_MIN, INT32, MONTH_NAMES, ColumnPlan, Plan

# What a loader produces per fact column: the stored types, except that a person or identifier
# column still holds the code as read (the engine turns it into a pseudonym and then a number).
ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    **FACT_ARROW_TYPES,
    **{t: pa.string() for t in PSEUDONYMOUS_TYPES},
}
TEXT_TYPES = {ColumnType.string, *PSEUDONYMOUS_TYPES}
"""Columns checked as the cleaned text itself (no parsing)."""
MAX_VALUE_CHARS = 200
TRUE_TEXT = ["1", "true", "t", "yes", "y", "jā", "ja"]
FALSE_TEXT = ["0", "false", "f", "no", "n", "nē", "ne"]
REJECTS_SCHEMA = pa.schema(
    [
        ("row", pa.uint64()),
        ("column", pa.string()),
        ("fact_column", pa.string()),
        ("value", pa.string()),
        ("reason", pa.string()),
    ]
)


@dataclass
class Checked:
    accepted: pa.Table
    """Fact columns (pseudonymous columns still as clear text, for the engine to hash) and `_row`."""
    rejects: pa.Table
    rows: int
    rejected_rows: int
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(column, reason) → number of values."""


def mask_personal(values: pa.Array) -> pa.Array:
    """A personal value's shape only: digits become 9, letters X (`010203-12345` → `999999-99999`)."""
    out = pc.replace_substring_regex(values, pattern=r"[0-9]", replacement="9")
    return pc.replace_substring_regex(out, pattern=r"\pL", replacement="X")


def safe_text(values: pa.Array) -> pa.Array:
    """Reject values as stored: anything shaped like a personal code masked, at most 200 characters."""
    out = values
    for _ in range(2):  # a match takes the separator after it: codes one apart need a second pass
        out = pc.replace_substring_regex(out, pattern=PERSON_CODE_RE2, replacement=r"\1######-#####\2")
    return pc.utf8_slice_codeunits(out, 0, MAX_VALUE_CHARS)


def _text(arr: pa.Array) -> pa.Array:
    """Any column as plain strings (nulls kept)."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_string(arr.type):
        return arr
    if pa.types.is_date(arr.type):
        return pc.strftime(arr.cast(pa.timestamp("s")), format="%Y-%m-%d")
    return arr.cast(pa.string())


def _fill(mask: pa.Array) -> pa.Array:
    return pc.fill_null(mask, False)


class _Reasons:
    """The first failing check of each value; later checks never overwrite earlier ones."""

    def __init__(self, n: int) -> None:
        self.checks: list[tuple[pa.Array, str]] = []
        self.n = n

    def add(self, mask: pa.Array, reason: str) -> None:
        mask = _fill(mask)
        if pc.any(mask).as_py():
            self.checks.append((mask, reason))

    def result(self) -> pa.Array | None:
        if not self.checks:
            return None
        out = pa.nulls(self.n, pa.string())
        for mask, reason in reversed(self.checks):
            out = pc.if_else(mask, pa.scalar(reason, pa.string()), out)
        return out


class Checker:
    """Checks batches against one plan; build once per load (the sets and scalars are reused)."""

    def __init__(self, plan: Plan, today: dt.date | None = None) -> None:
        self.plan = plan
        self.today = today or dt.date.today()
        self.nulls = pa.array(plan.null_values, pa.string())
        self.month_names = pa.array(list(MONTH_NAMES), pa.string())
        self.month_numbers = pa.array([f"{n:02d}" for n in MONTH_NAMES.values()], pa.string())
        self.members = {
            c.to: pa.array(sorted(c.members), pa.string()) for c in plan.columns if c.members is not None
        }
        self.date_keys = {
            c.to: pa.array(sorted(c.date_keys), pa.string()) for c in plan.columns if c.date_keys is not None
        }
        self.maps = {
            c.to: (pa.array(list(c.mapping), pa.string()), pa.array(list(c.mapping.values()), pa.string()))
            for c in plan.columns
            if c.mapping
        }

    # --- one batch ----------------------------------------------------------------------------

    def check(self, raw: RawBatch) -> Checked:
        n = raw.num_rows
        values: dict[str, pa.Array] = {}
        reasons: dict[str, pa.Array] = {}
        for c in self.plan.columns:
            if c.source is None:
                values[c.to] = self._constant(c, n)
                continue
            v, r = self._column(c, raw.columns[c.source])
            values[c.to] = v
            if r is not None:
                reasons[c.to] = r
        rows = (
            raw.rows
            if raw.rows is not None
            else pa.array(np.arange(raw.first_row, raw.first_row + n, dtype=np.uint64))
        )
        labels = raw.labels or {}
        bad: pa.Array | None = None
        parts: list[pa.Table] = []
        counts: Counter[tuple[str, str]] = Counter()
        for c in self.plan.columns:
            r = reasons.get(c.to)
            if r is None:
                continue
            failing = pc.is_valid(r)
            bad = failing if bad is None else pc.or_(bad, failing)
            where = pc.indices_nonzero(failing)
            text = _text(raw.columns[str(c.source)]).take(where)
            if c.personal:
                text = mask_personal(text)
            why = r.take(where)
            parts.append(
                pa.table(
                    [
                        rows.take(where),
                        labels[str(c.source)].take(where)
                        if c.source in labels
                        else pa.repeat(pa.scalar(c.source, pa.string()), len(where)),
                        pa.repeat(pa.scalar(c.to, pa.string()), len(where)),
                        safe_text(pc.fill_null(text, "")),
                        why,
                    ],
                    schema=REJECTS_SCHEMA,
                )
            )
            for item in pc.value_counts(why).to_pylist():
                counts[(str(c.source), item["values"])] += item["counts"]
        columns = [*values, "_row"]
        table = pa.table([*values.values(), rows], names=columns)
        rejected = 0
        if bad is not None:
            rejected = int(pc.sum(bad.cast(pa.int64())).as_py() or 0)
            table = table.filter(pc.invert(bad))
        rejects = pa.concat_tables(parts) if parts else REJECTS_SCHEMA.empty_table()
        if len(parts) > 1:
            rejects = rejects.sort_by([("row", "ascending")])
        return Checked(table, rejects, n, rejected, counts)

    def _constant(self, c: ColumnPlan, n: int) -> pa.Array:
        if c.type == ColumnType.string:
            return pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(n, dtype=np.int32)), pa.array([c.constant], pa.string())
            )
        return pa.repeat(pa.scalar(c.constant, plan_type(c)), n)

    def _column(self, c: ColumnPlan, arr: pa.Array) -> tuple[pa.Array, pa.Array | None]:
        """Typed values and reasons (None: every value passed) for one column of one batch."""
        text_input = pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
        if pa.types.is_dictionary(arr.type):
            text_input = pa.types.is_string(arr.type.value_type) or pa.types.is_large_string(
                arr.type.value_type
            )
        needs_text = c.type in TEXT_TYPES or bool(c.mapping or c.rewrite or c.upper or c.lower or c.pattern)
        # An integer is never a date by its day number: 20240131 or a time_id is read as text.
        needs_text = needs_text or (
            c.type in (ColumnType.date, ColumnType.datetime) and pa.types.is_integer(arr.type)
        )
        if not text_input and not needs_text:
            typed = self._typed(c, arr)
            if typed is not None:
                return typed
        if c.personal:
            # Checked once per distinct code (a person recurs in many rows); nulls stay values of
            # their own, so a missing code is still "missing value".
            enc = pc.dictionary_encode(_text(arr), null_encoding="encode")
            unit, idx = enc.dictionary, enc.indices
        else:
            # (A dictionary-typed Parquet column is decoded first: its null indices must become
            # missing values, and its dictionary may hold values no row uses.)
            enc = pc.dictionary_encode(pc.fill_null(_text(arr), ""))
            unit, idx = _text(enc.dictionary), enc.indices
        parsed, why = self._text_unit(c, unit)
        if idx is None:
            return parsed, why
        if why is not None:
            why = why.take(idx)
        if c.type == ColumnType.string:
            # Cleaning can make two raw values one ('v ' and 'V' → 'M'): re-encode the (small)
            # dictionary so that it is unique again, and compose the indices.
            again = pc.dictionary_encode(parsed)
            return pa.DictionaryArray.from_arrays(again.indices.take(idx), again.dictionary), why
        return parsed.take(idx), why

    # --- checks on distinct values ------------------------------------------------------------

    def _clean(self, c: ColumnPlan, t: pa.Array) -> pa.Array:
        if c.trim:
            t = pc.utf8_trim_whitespace(t)
        if len(self.nulls):
            t = pc.if_else(_fill(pc.is_in(t, value_set=self.nulls)), pa.scalar(None, pa.string()), t)
        if c.upper:
            t = pc.utf8_upper(t)
        if c.lower:
            t = pc.utf8_lower(t)
        if c.rewrite:
            t = pc.replace_substring_regex(t, pattern=c.rewrite[0], replacement=c.rewrite[1])
        if c.to in self.maps:
            keys, targets = self.maps[c.to]
            found = pc.index_in(t, value_set=keys)
            t = pc.if_else(pc.is_valid(found), pc.take(targets, found), t)
        return t

    def _text_unit(self, c: ColumnPlan, raw: pa.Array) -> tuple[pa.Array, pa.Array | None]:
        t = self._clean(c, raw)
        r = _Reasons(len(t))
        missing = pc.is_null(t)
        if c.required:
            r.add(missing, "missing value")
        if c.date_keys is not None:
            keys = self.date_keys[c.to]
            r.add(
                pc.and_(
                    pc.invert(missing), pc.invert(pc.is_in(pc.utf8_trim_whitespace(raw), value_set=keys))
                ),
                f"not a key of the date lookup for '{c.to}'",
            )
        if c.pattern:
            r.add(
                pc.invert(pc.match_substring_regex(t, pattern=f"^(?:{c.pattern})$")),
                f"does not match {c.pattern}",
            )
        parsed = self._parse(c, t, r)
        self._checks(c, parsed, r)
        return parsed, r.result()

    def _typed(self, c: ColumnPlan, arr: pa.Array) -> tuple[pa.Array, pa.Array | None] | None:
        """A typed (Parquet) column cast to the fact type; None if some value does not fit (then
        the text path gives each such value its own reason)."""
        target = plan_type(c)
        try:
            lossy = c.type == ColumnType.date and pa.types.is_timestamp(arr.type)
            parsed = pc.cast(arr, target, safe=not lossy)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        r = _Reasons(len(parsed))
        if c.required:
            r.add(pc.is_null(parsed), "missing value")
        self._checks(c, parsed, r)
        return parsed, r.result()

    def _parse(self, c: ColumnPlan, t: pa.Array, r: _Reasons) -> pa.Array:
        ct = c.type
        present = pc.is_valid(t)
        if ct in TEXT_TYPES:
            return t
        if ct in (ColumnType.int, ColumnType.int64):
            ok = _fill(pc.match_substring_regex(t, pattern=r"^[+-]?[0-9]{1,18}$"))
            digits = _fill(pc.match_substring_regex(t, pattern=r"^[+-]?[0-9]+$"))
            r.add(pc.and_(present, pc.invert(digits)), "not an integer")
            r.add(pc.and_(digits, pc.invert(ok)), f"out of range for {ct.value}")
            v = pc.cast(pc.if_else(ok, t, pa.scalar(None, pa.string())), pa.int64())
            if ct == ColumnType.int:
                out = pc.or_(pc.less(v, INT32[0]), pc.greater(v, INT32[1]))
                r.add(out, "out of range for int")
                v = pc.cast(pc.if_else(_fill(out), pa.scalar(None, pa.int64()), v), pa.int32())
            return v
        if ct in (ColumnType.float, ColumnType.decimal):
            if self.plan.thousands:
                t = pc.replace_substring(t, pattern=self.plan.thousands, replacement="")
            if self.plan.decimal == ",":
                t = pc.replace_substring(t, pattern=",", replacement=".")
            number = _fill(pc.match_substring_regex(t, pattern=r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"))
            r.add(pc.and_(present, pc.invert(number)), f"not a number (decimal mark '{self.plan.decimal}')")
            if ct == ColumnType.float:
                return pc.cast(pc.if_else(number, t, pa.scalar(None, pa.string())), pa.float64())
            precision, scale = c.decimal
            whole = precision - scale
            places = _fill(pc.match_substring_regex(t, pattern=rf"^[+-]?[0-9]*(\.[0-9]{{0,{scale}}})?$"))
            r.add(pc.and_(number, pc.invert(places)), f"more than {scale} decimal places")
            fits = (
                rf"^[+-]?([0-9]{{1,{whole}}}(\.[0-9]{{0,{scale}}})?|\.[0-9]{{1,{scale}}})$"
                if whole
                else (rf"^[+-]?0*(\.[0-9]{{0,{scale}}})?$")
            )
            if scale == 0:
                fits = rf"^[+-]?[0-9]{{1,{whole}}}\.?$"
            ok = _fill(pc.match_substring_regex(t, pattern=fits))
            r.add(
                pc.and_(pc.and_(number, places), pc.invert(ok)),
                f"out of range for decimal({precision}, {scale})",
            )
            return pc.cast(pc.if_else(ok, t, pa.scalar(None, pa.string())), plan_type(c))
        if ct in (ColumnType.date, ColumnType.datetime):
            return self._parse_date(c, t, present, r)
        if ct == ColumnType.bool:
            low = pc.utf8_lower(t)
            yes = _fill(pc.is_in(low, value_set=pa.array(TRUE_TEXT)))
            no = _fill(pc.is_in(low, value_set=pa.array(FALSE_TEXT)))
            r.add(pc.and_(present, pc.invert(pc.or_(yes, no))), "not true/false")
            return pc.if_else(yes, True, pc.if_else(no, pa.scalar(False), pa.scalar(None, pa.bool_())))
        raise AssertionError(ct)

    def _parse_date(self, c: ColumnPlan, t: pa.Array, present: pa.Array, r: _Reasons) -> pa.Array:
        fmt = c.date_format
        assert fmt is not None
        parts = pc.extract_regex(t, pattern=fmt.regex)
        matched = pc.and_(_fill(parts.is_valid()), present)
        names = [f.name for f in parts.type]

        def part(name: str, default: str) -> pa.Array:
            if name not in names:
                return pa.repeat(pa.scalar(default), len(t))
            return pc.utf8_lpad(pc.struct_field(parts, name), width=2, padding="0")

        y, m, d = pc.struct_field(parts, "y"), part("m", "01"), part("d", "01")
        if "mn" in names:  # a month's name: its number, or no match
            found = pc.index_in(pc.utf8_lower(pc.struct_field(parts, "mn")), value_set=self.month_names)
            matched = pc.and_(matched, _fill(pc.is_valid(found)))
            m = pc.fill_null(pc.take(self.month_numbers, found), "01")
        iso = pc.binary_join_element_wise(y, m, d, "-")
        pattern = "%Y-%m-%d"
        if fmt.has_time:
            clock = pc.binary_join_element_wise(part("H", "00"), part("M", "00"), part("S", "00"), ":")
            iso = pc.binary_join_element_wise(iso, clock, " ")
            pattern += " %H:%M:%S"
        iso = pc.if_else(matched, iso, pa.scalar(None, pa.string()))
        ts = pc.strptime(iso, format=pattern, unit="s", error_is_null=True)
        # strptime rolls 31.02 over into March: a real date gives back its own day and month.
        exact = pc.and_(
            pc.equal(pc.day(ts), pc.cast(d, pa.int64())), pc.equal(pc.month(ts), pc.cast(m, pa.int64()))
        )
        valid = _fill(pc.and_(matched, exact))
        r.add(pc.and_(present, pc.invert(valid)), f"not a date in the format {fmt.text}")
        ts = pc.if_else(valid, ts, pa.scalar(None, ts.type))
        return ts.cast(pa.date32()) if c.type == ColumnType.date else ts

    def _checks(self, c: ColumnPlan, v: pa.Array, r: _Reasons) -> None:
        if c.type in (ColumnType.date, ColumnType.datetime):
            day = v.cast(pa.date32()) if c.type == ColumnType.datetime else v
            lo, hi = pa.scalar(CLICKHOUSE_DATE_MIN, pa.date32()), pa.scalar(CLICKHOUSE_DATE_MAX, pa.date32())
            r.add(
                pc.or_(pc.less(day, lo), pc.greater(day, hi)),
                f"outside the storable dates {CLICKHOUSE_DATE_MIN}…{CLICKHOUSE_DATE_MAX}",
            )
        for bound, below in ((c.min, True), (c.max, False)):
            if bound is None:
                continue
            value = self.today if bound == "today" else bound
            scalar = pa.scalar(value, v.type) if not isinstance(value, float) else pa.scalar(value)
            if c.type == ColumnType.decimal:
                scalar = pa.scalar(value, pa.float64())
                cmp = v.cast(pa.float64())
            elif c.type == ColumnType.datetime and isinstance(value, dt.date):
                scalar = pa.scalar(dt.datetime.combine(value, dt.time()), v.type)
                cmp = v
            else:
                cmp = v
            shown = "today" if bound == "today" else str(bound)
            if below:
                r.add(pc.less(cmp, scalar), f"below the minimum {shown}")
            else:
                r.add(pc.greater(cmp, scalar), f"above the maximum {shown}")
        if c.allowed is not None:
            allowed = pa.array(c.allowed, v.type if c.type != ColumnType.decimal else pa.float64())
            probe = v.cast(pa.float64()) if c.type == ColumnType.decimal else v
            shown = ", ".join(str(a) for a in c.allowed[:8]) + (", …" if len(c.allowed) > 8 else "")
            r.add(
                pc.and_(pc.is_valid(v), pc.invert(pc.is_in(probe, value_set=allowed))), f"not one of: {shown}"
            )
        if c.to in self.members:
            key = v if pa.types.is_string(v.type) else _text(v)
            r.add(
                pc.and_(pc.is_valid(key), pc.invert(pc.is_in(key, value_set=self.members[c.to]))),
                f"not a member of dimension '{c.dimension}'",
            )


def empty_rejects() -> pa.Table:
    return REJECTS_SCHEMA.empty_table()


def plan_type(c: ColumnPlan) -> pa.DataType:
    """The Arrow type a loader produces for a column (a decimal at its declared precision)."""
    if c.type == ColumnType.decimal:
        return pa.decimal128(*c.decimal)
    return ARROW_TYPES[c.type]


def arrow_type(ct: ColumnType) -> Any:
    return ARROW_TYPES[ct]
