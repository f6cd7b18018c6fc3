"""Mondrian's printed results (`Axis #0: … Row #0: …`, as its TestContext writes them) read
back, and a LabIS MDX answer compared with one: the same tuples on every axis in the same
order, named Mondrian's way (`[Product].[Food].[Produce]`, `[Time].[1997].[Q1].[3]`), and the
same cells to the precision Mondrian printed them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from labis_olap.mdx import MdxResult
from labis_olap.model.schema import TimeRole

_NAME = re.compile(r"\[((?:[^\]]|\]\])*)\]")


@dataclass
class Printed:
    axes: list[list[tuple[str, ...]]]
    """Axes 1…n (the slicer, axis 0, is not compared): tuples of member names."""
    cells: list[str]


def read_printed(text: str) -> Printed:
    axes: list[list[tuple[str, ...]]] = []
    cells: list[str] = []
    current: list[tuple[str, ...]] | None = None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        if line.startswith("Axis #"):
            current = [] if line != "Axis #0:" else None
            if current is not None:
                axes.append(current)
            continue
        if line.startswith("{") and line.endswith("}"):
            if current is not None:
                current.append(tuple(normal(n) for n in split_tuple(line[1:-1])))
            continue
        m = re.match(r"Row #\d+: ?(.*)$", line)
        cells.append(m.group(1) if m else line)
    return Printed(axes, cells)


def read_axis(text: str) -> Printed:
    """Mondrian's list of a set's members (`assertAxisReturns`): one member or `{tuple}` a line."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    tuples = [
        tuple(normal(n) for n in split_tuple(line[1:-1] if line.startswith("{") else line)) for line in lines
    ]
    return Printed([tuples], [])


def split_tuple(text: str) -> list[str]:
    """`[A].[b], [C].[d, e]`: the member names of a printed tuple."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    if text.strip():
        out.append(text[start:].strip())
    return out


def normal(name: str) -> str:
    """A printed member name with its All member written `[All]` (`[All Products]` → `[All]`)."""
    parts = [p.replace("]]", "]") for p in _NAME.findall(name)]
    if len(parts) >= 2 and parts[0] != "Measures" and (parts[1] == "All" or parts[1].startswith("All ")):
        parts[1] = "All"
    return ".".join("[" + p + "]" for p in parts)


def mondrian_name(result: MdxResult, m: Any) -> str:
    """How Mondrian prints a LabIS member: captions from the dimension down, time as
    year / `Q`quarter / month number, calculated members by their name."""
    cat = result.catalog
    if m.is_measure:
        return f"[Measures].[{m.calc or cat.measure_captions.get(m.path[0], m.path[0])}]"
    h = cat.hiers[m.hier]
    parts = [h.caption]
    if m.depth == 0:
        parts.append("All")
    stored = m.path if m.calc is None else m.path[:-1]
    for d in range(1, len(stored) + 1):
        if h.is_time:
            role = h.roles[d - 1]
            key = str(stored[d - 1])
            parts.append(f"Q{key}" if role == TimeRole.quarter else key)
        else:
            parts.append(cat.member(m.hier, stored[:d]).caption)
    if m.calc is not None:
        parts.append(m.calc)
    elif m.visual is not None and m.depth:
        parts[-1] = m.caption  # a visual total's name after its pattern
    return ".".join("[" + p + "]" for p in parts)


def number(text: str) -> tuple[Decimal, Decimal] | None:
    """A printed number and half a unit of its last digit (what it was rounded to), or None."""
    t = text.strip().replace(",", "")
    pct = t.endswith("%")
    if pct:
        t = t[:-1]
    try:
        x = Decimal(t)
    except InvalidOperation:
        return None
    exp = x.as_tuple().exponent
    assert isinstance(exp, int)
    half = Decimal(5) * Decimal(10) ** (exp - 1)
    return (x / 100, half / 100) if pct else (x, half)


def differences(result: MdxResult, printed: Printed, axes_only: bool = False) -> list[str]:
    """What differs between an answer and Mondrian's printed result (nothing: the same grid;
    `axes_only`: the same tuples, for Mondrian's tests of a set's members)."""
    problems: list[str] = []
    ours = [[tuple(mondrian_name(result, m) for m in tup) for tup in ax.tuples] for ax in result.axes]
    if len(ours) != len(printed.axes):
        return [f"{len(ours)} axes, Mondrian has {len(printed.axes)}"]
    for k, (mine, theirs) in enumerate(zip(ours, printed.axes, strict=True)):
        if mine != theirs:
            problems.append(f"axis {k}: {mine[:30]} != Mondrian's {theirs[:30]}")
    if problems or axes_only:
        return problems
    if len(result.cells) != len(printed.cells):
        return [f"{len(result.cells)} cells, Mondrian has {len(printed.cells)}"]
    for i, (cell, text) in enumerate(zip(result.cells, printed.cells, strict=True)):
        expected = number(text)
        if text.strip() == "":
            if cell.value is not None and cell.formatted != "":
                problems.append(f"cell {i}: {cell.value!r}, Mondrian's is empty")
        elif expected is None:
            if str(cell.formatted) != text and str(cell.value) != text:
                problems.append(f"cell {i}: {cell.formatted!r}, Mondrian's {text!r}")
        else:
            x, half = expected
            try:
                got = Decimal(str(cell.value))
            except (InvalidOperation, ValueError):
                problems.append(f"cell {i}: {cell.value!r}, Mondrian's {text!r}")
                continue
            if abs(got - x) > half * Decimal("1.0000001"):
                problems.append(f"cell {i}: {cell.value!r}, Mondrian's {text!r}")
    return problems
