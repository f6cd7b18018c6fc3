"""The dominance (n,k) and p% rules for sums (docs/disclosure.md), against two independent
computations on the same microdata:

- pandas over the generated facts: per cell of the publication table, at every margin, each
  person's own sum, then the rules as the docs state them;
- the `acro` package (SACRO's output checker) on the crosstab of the table's finest cells, with
  the same threshold, (n,k) and p%: LabIS's primary flags (`A`) are exactly acro's.

Facts: the mini model's cube, with generated payments (a seeded generator: a few persons with
large amounts, so that some cells pass the frequency rule but are dominated).
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import fresh_database, make_engine

from labis_olap.compiler.apply import apply_model
from labis_olap.engine.base import Engine
from labis_olap.model.cut_grammar import parse_drilldowns
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import ARROW_TYPES, CubeLayout
from labis_olap.query.cell import CubeQuery
from labis_olap.service import CubeService, Principal

MINI = Path(__file__).parent / "fixtures" / "mini_model"
CUBE = "benefits"
THRESHOLD, N, K, P = 3, 1, 60.0, 15.0
TABLE = "territory:municipality|benefit_type:benefit_type|gender"
RULES = f"""
disclosure:
  threshold: {THRESHOLD}
  tables: ["{TABLE}"]
  dominance: {{n: {N}, k: {K}}}
  p_percent: {P}
  measures:
    gmi_amount: {{dominance: false, p_percent: false}}
"""
PUBLIC = Principal("visitor")
ANALYST = Principal("anna", frozenset({"analyst", "public"}))
KEYS = ["municipality", "benefit", "gender"]


def generated() -> pd.DataFrame:
    rng = np.random.default_rng(13)
    rows = 700
    person = rng.integers(1, 80, rows)
    amount = np.round(rng.lognormal(4.0, 0.6, rows), 2)
    big = person <= 4  # four persons whose payments dwarf the others'
    amount[big] = np.round(amount[big] * 60, 2)
    return pd.DataFrame(
        {
            "paid_on": [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 365, rows)],
            "municipality": rng.choice(["M1", "M2", "M3"], rows, p=[0.5, 0.35, 0.15]),
            "gender": rng.choice(["F", "M"], rows),
            "benefit": rng.choice(["gmi", "housing", "child"], rows, p=[0.5, 0.3, 0.2]),
            "person": person,
            "amount": amount,
            "open_cases": rng.integers(0, 3, rows),
        }
    )


@pytest.fixture(scope="module")
def facts() -> pd.DataFrame:
    return generated()


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Model:
    root = tmp_path_factory.mktemp("rules_model") / "model"
    shutil.copytree(MINI, root)
    cube = root / "cubes" / "benefits.yaml"
    cube.write_text(cube.read_text() + textwrap.dedent(RULES))
    (root / "roles").mkdir()
    (root / "roles" / "public.yaml").write_text("role: public\ncubes: [{cube: benefits}]\n")
    (root / "roles" / "analyst.yaml").write_text("role: analyst\ncubes: [{cube: '*'}]\n")
    return read_model(root)


@pytest.fixture(scope="module")
def service(data_dir: Path, model: Model, facts: pd.DataFrame) -> Iterator[CubeService]:
    eng: Engine = make_engine("embedded", data_dir, fresh_database("rules"))
    apply_model(model, eng)
    cube = model.cubes[CUBE]
    columns = {}
    for col in cube.columns:
        values = facts[col.name].tolist()
        if col.name == "amount":
            values = [decimal.Decimal(f"{v:.2f}") for v in values]
        columns[col.name] = pa.array(values, type=ARROW_TYPES[col.type])
    eng.insert_arrow(CubeLayout(model, cube, eng.database).facts_table, pa.table(columns))
    yield CubeService(model, eng)
    eng.execute(f"DROP DATABASE IF EXISTS `{eng.database}`")


def ask(service: CubeService, who: Principal, drill: str, subtotals: str = "none") -> Any:
    query = CubeQuery(
        CUBE, ("amount", "gmi_amount", "recipients"), drilldowns=parse_drilldowns(drill), subtotals=subtotals
    )
    return service.aggregate(query, who)


def rules_fail(values: pd.Series) -> bool:
    """The frequency, (n,k) and p% rules on one cell's per-person sums, as docs/disclosure.md
    states them (values as absolute amounts)."""
    x = values.abs().sort_values(ascending=False).to_numpy()
    if 0 < len(x) < THRESHOLD:
        return True
    total = x.sum()
    if total <= 0:
        return False
    if x[:N].sum() / total >= K / 100:
        return True
    return bool(x[0] > 0 and (total - x[:2].sum()) / x[0] < P / 100)


def test_every_margin_flags_exactly_the_cells_failing_a_rule(
    service: CubeService, facts: pd.DataFrame
) -> None:
    """Every cell, subtotal and the grand total of the table: status `A` exactly when pandas
    finds it fails the frequency, (n,k) or p% rule on `amount` (gmi_amount's rules are off);
    `D` only on cells that pass; shown cells carry the analyst's values."""
    truth = ask(service, ANALYST, TABLE, "cube")
    published = ask(service, PUBLIC, TABLE, "cube")
    finest = truth.cells.to_pylist()
    region = {r["territory.municipality"]: r["territory.region"] for r in finest}
    category = {r["benefit_type.benefit_type"]: r["benefit_type.category"] for r in finest}
    f = facts.assign(region=facts.municipality.map(region), category=facts.benefit.map(category))
    columns = {
        "territory.region": "region",
        "territory.municipality": "municipality",
        "benefit_type.category": "category",
        "benefit_type.benefit_type": "benefit",
        "gender.gender": "gender",
    }
    tables = [(published.cells, truth.cells)] + [
        (p.rows, t.rows) for p, t in zip(published.subtotals, truth.subtotals, strict=True)
    ]
    tables.append((pa.Table.from_pylist([published.summary]), pa.Table.from_pylist([truth.summary])))
    seen = {"A": 0, "D": 0, None: 0, "dominated": 0}
    for pub, tru in tables:
        keys = [c for c in pub.column_names if c in columns]
        by = [columns[c] for c in keys]
        per_person = f.groupby([*by, "person"]).amount.sum().reset_index()
        fails = (
            {(): rules_fail(per_person.amount)}
            if not by
            else {
                (k if isinstance(k, tuple) else (k,)): rules_fail(g.amount)
                for k, g in per_person.groupby(by if len(by) > 1 else by[0])
            }
        )
        counts = (
            {(): f.person.nunique()}
            if not by
            else {(k if isinstance(k, tuple) else (k,)): n for k, n in f.groupby(by).person.nunique().items()}
        )
        real = {tuple(r[k] for k in keys): r for r in tru.to_pylist()}
        for row in pub.to_pylist():
            key = tuple(row[k] for k in keys)
            status = row["amount:status"]
            assert (status == "A") == fails[key], (key, row, real[key])
            seen[status] += 1
            seen["dominated"] += int(status == "A" and counts[key] >= THRESHOLD)
            for m in ("amount", "recipients"):
                assert row[f"{m}:status"] == status
                assert row[m] == (None if status else real[key][m])
            # a filtered sum is not published (docs/disclosure.md, "Which measures")
            assert row["gmi_amount"] is None and row["gmi_amount:status"] == "N"
    # the data must exercise each case: cells hidden by dominance alone, partners, shown cells
    assert seen["dominated"] >= 3 and seen["D"] >= 1 and seen[None] >= 5, seen


def test_primary_flags_equal_acro(service: CubeService, facts: pd.DataFrame, tmp_path: Path) -> None:
    """On the table's finest crosstab (municipality and benefit by gender), the cells LabIS
    flags primary are exactly those acro flags with the same threshold, (n,k) and p%; acro is
    given one row per person and cell (that person's sum), since both rules read contributors."""
    import os

    from acro import ACRO

    published = ask(service, PUBLIC, TABLE).cells.to_pylist()
    ours = {
        (r["territory.municipality"], r["benefit_type.benefit_type"], r["gender.gender"]): r["amount:status"]
        == "A"
        for r in published
    }
    per_person = facts.groupby([*KEYS, "person"]).amount.sum().reset_index()
    here = os.getcwd()
    os.chdir(tmp_path)  # acro writes its outputs folder in the working directory
    try:
        acro = ACRO(suppress=False)
        acro.sdc_checks.risk_appetite.update(
            safe_threshold=THRESHOLD,
            safe_nk_n=N,
            safe_nk_k=K / 100,
            safe_pratio_p=P / 100,
            zeros_are_disclosive=False,
        )
        acro.crosstab(
            [per_person.municipality, per_person.benefit],
            per_person.gender,
            values=per_person.amount,
            aggfunc="sum",
        )
        outcome = acro.results.get(acro.results.get_keys()[-1]).outcome
    finally:
        os.chdir(here)
    theirs = {}
    for (municipality, benefit), row in outcome.iterrows():
        for gender, verdict in row.items():
            flagged = verdict != "ok"
            if (municipality, benefit, gender) in ours or flagged:
                theirs[(municipality, benefit, gender)] = flagged
    assert theirs == ours
    assert 3 <= sum(ours.values()) < len(ours), "the crosstab must have flagged and shown cells"


@pytest.mark.parametrize(("n", "k", "p"), list(itertools.product([1, 2], [50.0, 85.0], [None, 10.0])))
def test_sensitive_matches_the_rules(n: int, k: float, p: float | None) -> None:
    """The service's rule (model/disclosure.py) against this module's on random cells."""
    from labis_olap.model.disclosure import Sensitivity, sensitive
    from labis_olap.model.schema import Dominance

    rule = Sensitivity(Dominance(n=n, k=k), p)
    rng = np.random.default_rng(n * 1000 + int(k) + int(p or 0))
    for _ in range(300):
        values = np.round(rng.lognormal(3, 1.5, int(rng.integers(THRESHOLD, 9))), 2)
        top = sorted(values, reverse=True)
        x = np.array(top)
        expect = x[:n].sum() / x.sum() >= k / 100 or (
            p is not None and (x.sum() - x[:2].sum()) / x[0] < p / 100
        )
        assert (sensitive(rule, float(x.sum()), [float(v) for v in top[: max(n, 2)]]) > 0) == expect


TAU_TABLE = "territory:region|benefit_type:category|gender"
TAU_RULES = f"""
disclosure:
  threshold: 4
  tables: ["{TAU_TABLE}"]
  dominance: false
"""


def test_tauargus_audit_finds_every_suppressed_cell_protected(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> None:
    """One suppressed table (regions × benefit categories × gender, every margin: 27 cells)
    cross-checked by Tau-Argus (`pytauargus`, its audit bundled with HiGHS): LabIS's statuses
    imposed on the same table (an apriori file), Tau-Argus's own audit finds every primary
    cell's interval of `amount`, from the shown cells and the table's additivity, at least the
    protection LabIS promised (30 % of its value; a partner is promised nothing: since the
    filtered `gmi_amount` is not published, nor audited, one partner here is narrower)."""
    import os

    from pytauargus import protect
    from pytauargus.batch import Apriory

    root = tmp_path_factory.mktemp("tau_model") / "model"
    shutil.copytree(MINI, root)
    cube_file = root / "cubes" / "benefits.yaml"
    cube_file.write_text(cube_file.read_text() + textwrap.dedent(TAU_RULES))
    model = read_model(root)
    facts = generated().iloc[:36].copy()
    eng: Engine = make_engine("embedded", data_dir, fresh_database("tau"))
    try:
        apply_model(model, eng)
        cube = model.cubes[CUBE]
        columns = {}
        for col in cube.columns:
            values = facts[col.name].tolist()
            if col.name == "amount":
                values = [decimal.Decimal(f"{v:.2f}") for v in values]
            columns[col.name] = pa.array(values, type=ARROW_TYPES[col.type])
        eng.insert_arrow(CubeLayout(model, cube, eng.database).facts_table, pa.table(columns))
        service = CubeService(model, eng)
        q = CubeQuery(CUBE, ("amount",), drilldowns=parse_drilldowns(TAU_TABLE), subtotals="cube")
        published = service.aggregate(q, PUBLIC)  # (no roles declared: everyone is protected)
    finally:
        eng.execute(f"DROP DATABASE IF EXISTS `{eng.database}`")
    names = {"territory.region": "Region", "benefit_type.category": "Category", "gender.gender": "Gender"}
    statuses: dict[tuple[str, ...], str | None] = {}
    sets = [published.cells, *(s.rows for s in published.subtotals)]
    sets.append(pa.Table.from_pylist([published.summary]))
    for pub in sets:
        for row in pub.to_pylist():
            key = tuple(str(row.get(k)) if row.get(k) is not None else "Total" for k in names)
            statuses[key] = row["amount:status"]
    hidden = {k for k, s in statuses.items() if s}
    assert any(s == "A" for s in statuses.values()) and any(s == "D" for s in statuses.values()), statuses

    region = {m: r for m, r in (("M1", "R1"), ("M2", "R2"), ("M3", "R2"))}
    category = {"gmi": "assist", "housing": "assist", "child": "family"}
    micro = pd.DataFrame(
        {
            "Region": facts.municipality.map(region),
            "Category": facts.benefit.map(category),
            "Gender": facts.gender,
            "Amount": facts.amount,
        }
    )

    def total_of(key: tuple[str, ...]) -> float:
        mask = np.ones(len(micro), dtype=bool)
        for name, code in zip(names.values(), key, strict=True):
            if code != "Total":
                mask &= (micro[name] == code).to_numpy()
        return float(micro.Amount[mask].sum())

    values = {key: total_of(key) for key in statuses}
    work = tmp_path_factory.mktemp("tau")
    here = os.getcwd()
    os.chdir(work)  # Tau-Argus writes its logs in the working directory
    try:
        result = protect(micro, list(names.values()), response="Amount", safety_rules="FREQ(1,0)",
                         suppress="OPT(1)", decimals=2, workdir=str(work))  # fmt: skip
        table = result.tables[0].dataframe()
        keys = [tuple(str(r[n]) for n in names.values()) for _, r in table.iterrows()]
        apriori = work / "labis.hst"
        apriori.write_text(
            "".join(f"{';'.join(k)};{'U' if statuses[k] == 'A' else 'M'}\n" for k in keys if k in hidden)
        )
        result.engine.apply_apriori(Apriory(str(apriori), 1, ";"))
        audited = {keys[r["cell"]]: r for r in result.engine.audit(0)}
    finally:
        os.chdir(here)
    assert set(audited) == hidden
    for key, r in audited.items():
        assert abs(r["value"] - values[key]) < 0.01, (key, r)
        if statuses[key] == "A":  # the protection promised is the primary cells' (a partner's is not)
            assert r["max"] - r["min"] >= max(1.0, 0.3 * values[key]) - 0.01, (key, r, statuses[key])
