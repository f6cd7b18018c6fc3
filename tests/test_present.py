"""The Browser presents keys the way the SQL did before (query/present.py): the same values and
types as ClickHouse's toYear/toQuarter/toMonth/toDayOfMonth and their labels for every day
ClickHouse's Date holds, and the same labels as the engine's label dictionaries
(nullIf(dictGet(…), '')) for every member of the real model, an empty key and an unknown one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import ROOT, fresh_database, make_engine

from labis_olap.compiler.apply import apply_model
from labis_olap.engine.base import Engine
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import labels_dict
from labis_olap.physical.members import label_rows
from labis_olap.query.present import MAKERS, MemberLookup
from labis_olap.query.sqlgen import TIME_KEY, TIME_LABEL, Shown

DAYS = 65_535
"""Every day of ClickHouse's Date, 1970-01-01 to 2149-06-06."""


def test_periods_as_clickhouse_writes_them(embedded: Engine) -> None:
    exprs = {}
    for role, fn in TIME_KEY.items():
        exprs[role.value] = f"{fn}(d)"
        exprs[f"{role.value}_label"] = TIME_LABEL[role].format("d")
    sql = ", ".join(f"{sql} AS `{name}`" for name, sql in exprs.items())
    expected = embedded.query(f"SELECT toDate(number) AS d, {sql} FROM numbers({DAYS}) ORDER BY d")
    days = expected.column("d")
    assert expected.num_rows == DAYS
    for name in exprs:
        made = MAKERS[name](days)
        want = expected.column(name)
        assert made.type == want.type, name
        assert made.equals(want), name


@pytest.fixture(scope="module")
def model() -> Model:
    return read_model(ROOT / "model")


@pytest.fixture(scope="module")
def applied(data_dir: Path, model: Model) -> Iterator[Engine]:
    eng = make_engine("embedded", data_dir, fresh_database("present"))
    try:
        apply_model(model, eng)
        yield eng
    finally:
        eng.execute(f"DROP DATABASE IF EXISTS `{eng.database}`")


def test_labels_as_the_dictionaries_give_them(applied: Engine, model: Model) -> None:
    members = MemberLookup(model)
    checked = 0
    for name, dim in model.dimensions.items():
        if dim.is_time or dim.members is None:
            continue
        rows = label_rows(model, dim)
        for level in dim.levels:
            keys = [k for k, lv in zip(rows.column("key").to_pylist(), rows.column("level").to_pylist(),
                                       strict=True) if lv == level.name]  # fmt: skip
            keys += ["", "no-such-member"]
            for lang in ("lv", "en"):
                lookup = f"dictGet('{labels_dict(model, applied.database, dim)}', 'label_{lang}', "
                want = applied.query(
                    f"SELECT nullIf({lookup}tuple({{level:String}}, k)), '') AS label "
                    "FROM (SELECT arrayJoin({keys:Array(String)}) AS k)",
                    {"level": level.name, "keys": keys},
                ).column("label")
                made = members.of(Shown("x", "k", "label", name, level.name, lang), pa.chunked_array([keys]))
                assert made.to_pylist() == want.to_pylist(), (name, level.name, lang)
                checked += len(keys)
    assert checked >= 250  # every member of every level of the real model, in both languages
