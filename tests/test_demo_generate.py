"""The synthetic demo data: contract (schemas, row counts, persons), determinism and calibration."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from labis_olap.demo import generate as g
from labis_olap.privacy import pseudonym_hex

SMALL = 200_000
SMALL_BATCH = 30_000

S = pa.dictionary(pa.int32(), pa.string())
DATE, INT, PERSON, DEC = pa.date32(), pa.int32(), pa.uint64(), pa.decimal128(18, 2)
COLUMNS: dict[str, list[tuple[str, Any]]] = {
    "unemployment": [("snapshot_date", DATE), ("municipality", S), ("gender", S), ("age_group", S),
                     ("education", S), ("source", S), ("person", PERSON), ("registered", INT),
                     ("new_registration", INT), ("duration_months", INT)],
    "social_assistance": [("payment_date", DATE), ("municipality", S), ("benefit_type", S), ("gender", S),
                          ("age_group", S), ("source", S), ("person", PERSON), ("household", PERSON),
                          ("amount", DEC)],
    "disability": [("decision_date", DATE), ("municipality", S), ("gender", S), ("age_group", S),
                   ("disability_group", S), ("assessment_type", S), ("source", S), ("person", PERSON)],
    "occupational_accidents": [("accident_date", DATE), ("municipality", S), ("nace_sector", S),
                               ("gender", S), ("age_group", S), ("severity", S), ("source", S),
                               ("days_lost", INT)],
    "pensions": [("payment_month", DATE), ("municipality", S), ("benefit_type", S), ("gender", S),
                 ("age_group", S), ("source", S), ("person", PERSON), ("amount", DEC)],
    "persons": [("person_num", PERSON), ("person_code", pa.string())],
    "households": [("household_num", PERSON), ("household_code", pa.string())],
}
SOURCES = {"unemployment": "NVA", "social_assistance": "SPOLIS", "disability": "VDEAVK",
           "occupational_accidents": "VDI", "pensions": "VSAA"}


def collect(total: int, seed: int = 42, batch_rows: int = 1_000_000) -> dict[str, list[pa.Table]]:
    out: dict[str, list[pa.Table]] = defaultdict(list)
    for kind, table in g.generate(total, seed=seed, batch_rows=batch_rows):
        out[kind].append(table)
    return dict(out)


def whole(batches: dict[str, list[pa.Table]], kind: str) -> pa.Table:
    return pa.concat_tables(batches[kind])


def strings(table: pa.Table, column: str) -> np.ndarray:
    return np.asarray(pc.cast(table[column], pa.string()).to_numpy(zero_copy_only=False))


@pytest.fixture(scope="module")
def small() -> dict[str, list[pa.Table]]:
    return collect(SMALL, batch_rows=SMALL_BATCH)


def test_plan_rows_split() -> None:
    plan = g.plan_rows(1_000_003)
    assert tuple(plan) == g.CUBES
    assert sum(plan.values()) == 1_000_003
    assert plan["unemployment"] > plan["pensions"] > plan["social_assistance"] > plan["disability"]
    assert plan["unemployment"] / 1_000_003 == pytest.approx(0.55, abs=0.01)
    assert plan["pensions"] / 1_000_003 == pytest.approx(0.25, abs=0.01)
    assert g.plan_rows(0) == dict.fromkeys(g.CUBES, 0)
    with pytest.raises(ValueError):
        g.plan_rows(-1)


def test_row_counts_match_plan(small: dict[str, list[pa.Table]]) -> None:
    plan = g.plan_rows(SMALL)
    for cube in g.CUBES:
        assert sum(t.num_rows for t in small[cube]) == plan[cube], cube


def test_batches_are_bounded(small: dict[str, list[pa.Table]]) -> None:
    for kind, tables in small.items():
        assert all(0 < t.num_rows <= SMALL_BATCH for t in tables), kind


def test_schemas_are_exact(small: dict[str, list[pa.Table]]) -> None:
    assert set(small) == {*g.CUBES, "persons", "households"}
    for kind, tables in small.items():
        expected = COLUMNS[kind]
        for t in tables:
            assert t.column_names == [name for name, _ in expected], kind
            assert [f.type for f in t.schema] == [typ for _, typ in expected], kind
            assert t.schema.equals(g.SCHEMAS[kind]), kind
            assert all(t[c].null_count == 0 for c in t.column_names), kind


def test_deterministic_and_independent_of_batch_size(small: dict[str, list[pa.Table]]) -> None:
    again = collect(SMALL, batch_rows=77_777)
    for kind in small:
        assert whole(again, kind).equals(whole(small, kind)), kind
    other = collect(SMALL, seed=7, batch_rows=SMALL_BATCH)
    assert not whole(other, "unemployment").equals(whole(small, "unemployment"))


def test_persons_once_each_and_covering(small: dict[str, list[pa.Table]]) -> None:
    persons = whole(small, "persons")
    nums = persons["person_num"].to_numpy()
    assert np.unique(nums).size == nums.size
    used = np.unique(np.concatenate([whole(small, c)["person"].to_numpy()
                                     for c in g.CUBES if c != "occupational_accidents"]))
    assert np.array_equal(np.sort(nums), used)
    assert np.array_equal(used, np.arange(1, used.size + 1))  # dense 1..M
    assert used.size <= g.persons_pool(SMALL)
    codes = strings(persons, "person_code")
    assert np.unique(codes).size == codes.size
    pairs = zip(nums[:1000].tolist(), codes[:1000], strict=True)
    assert all(c == g.synthetic_person_code(n) for n, c in pairs)


def test_persons_follow_their_cube(small: dict[str, list[pa.Table]]) -> None:
    # each cube's new persons are yielded after its facts and before the next cube's facts
    seen: set[int] = set()
    for kind, table in g.generate(20_000, batch_rows=4_000):
        if kind == "persons":
            seen.update(table["person_num"].to_numpy().tolist())
        elif kind not in ("occupational_accidents", "households"):
            new = set(table["person"].to_numpy().tolist()) - seen
            assert all(p > max(seen, default=0) for p in new)


def test_households_once_each_and_covering(small: dict[str, list[pa.Table]]) -> None:
    """The households batches give each household the social-assistance facts name, once, with
    a distinct 9-digit synthetic number that is never the dense number facts carry."""
    households = whole(small, "households")
    nums = households["household_num"].to_numpy()
    assert np.unique(nums).size == nums.size
    used = np.unique(whole(small, "social_assistance")["household"].to_numpy())
    assert np.array_equal(np.sort(nums), used)
    codes = strings(households, "household_code")
    assert np.unique(codes).size == codes.size
    assert all(len(c) == 9 and c.isdigit() for c in codes[:1000])
    assert not set(codes.tolist()) & {str(n) for n in nums.tolist()}
    pairs = zip(nums[:1000].tolist(), codes[:1000], strict=True)
    assert all(c == g.synthetic_household_code(n) for n, c in pairs)


def test_household_and_person_pseudonyms_are_unrelated() -> None:
    """The same text in two namespaces: two unrelated pseudonyms (a derived key per namespace)."""
    code = g.synthetic_household_code(17)
    assert g.household_pseudonym(17) == pseudonym_hex(code, g.DEMO_KEY, "household")
    assert g.household_pseudonym(17) != hmac.new(g.DEMO_KEY, code.encode(), hashlib.sha256).hexdigest()
    assert pseudonym_hex("17", g.DEMO_KEY, "household") != pseudonym_hex("17", g.DEMO_KEY, "person")
    assert pseudonym_hex("17", g.DEMO_KEY, "household") != pseudonym_hex("17", g.DEMO_KEY, "case")
    assert pseudonym_hex("17", g.DEMO_KEY, "person") == g.hmac_hex("17", g.DEMO_KEY)  # persons unchanged


def test_pseudonym_is_hmac_of_the_synthetic_code() -> None:
    for num in (1, 2, 99_999):
        code = g.synthetic_person_code(num)
        assert g.pseudonym(num) == hmac.new(g.DEMO_KEY, code.encode(), hashlib.sha256).hexdigest()
    assert g.pseudonym(1, b"another key") != g.pseudonym(1)


def test_synthetic_codes_are_distinct_and_never_valid() -> None:
    nums = np.concatenate([np.arange(1, 50_001), np.arange(32_000_000, 32_100_000, 7)])
    codes = [bytes(row).decode() for row in g._person_code_bytes(nums)]
    assert len(set(codes)) == len(codes)
    weights = (1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    for code in codes[::97]:
        assert len(code) == 12 and code[6] == "-"
        digits = [int(c) for c in code.replace("-", "")]
        assert 1 <= int(code[:2]) <= 31 and 1 <= int(code[2:4]) <= 12
        check = (1101 - sum(w * d for w, d in zip(weights, digits, strict=False))) % 11
        assert check != digits[10]  # the Latvian check digit fails: not a real personas kods


def test_code_values(small: dict[str, list[pa.Table]]) -> None:
    lists = {"gender": g.GENDERS, "age_group": g.AGE_GROUPS, "education": g.EDUCATION,
             "disability_group": g.DISABILITY_GROUPS, "assessment_type": g.ASSESSMENT_TYPES,
             "nace_sector": g.NACE_SECTIONS, "severity": g.SEVERITIES,
             "municipality": g.MUNICIPALITY_CODES}
    for cube in g.CUBES:
        t = whole(small, cube)
        assert set(strings(t, "source")) == {SOURCES[cube]}
        for column, allowed in lists.items():
            if column in t.column_names:
                assert set(strings(t, column)) <= set(allowed), (cube, column)
        date = t.column(0).to_numpy()
        assert date.min() >= np.datetime64("2022-01-01") and date.max() <= np.datetime64("2025-12-31")
        muni = strings(t, "municipality")
        merged = date >= np.datetime64("2025-07-01")
        assert not np.isin(muni[merged], ["0038000", "0055000"]).any(), cube
        assert not (muni[~merged] == "0038001").any(), cube
    assert set(strings(whole(small, "social_assistance"), "benefit_type")) == set(g.SA_BENEFITS)
    assert set(strings(whole(small, "pensions"), "benefit_type")) == set(g.PENSION_BENEFITS)


def test_unemployment_rows(small: dict[str, list[pa.Table]]) -> None:
    t = whole(small, "unemployment")
    date = t["snapshot_date"].to_numpy()
    month_ends = np.arange("2022-02", "2026-02", dtype="datetime64[M]").astype("datetime64[D]") - 1
    assert set(date.astype("datetime64[D]")) == set(month_ends)
    assert len(month_ends) == 48
    person = t["person"].to_numpy()
    pairs = date.astype(np.int64) * (1 << 32) + person.astype(np.int64)
    assert np.unique(pairs).size == pairs.size  # nobody is counted twice at one month-end
    duration = t["duration_months"].to_numpy()
    assert (t["registered"].to_numpy() == 1).all()
    assert np.array_equal(t["new_registration"].to_numpy(), (duration == 0).astype(np.int32))
    assert duration.min() >= 0


def test_other_cubes_look_plausible(small: dict[str, list[pa.Table]]) -> None:
    d = whole(small, "disability")
    group, age = strings(d, "disability_group"), strings(d, "age_group")
    assert ((group == "CH") == (age == "A00_14")).all()
    adults = group[group != "CH"]
    assert np.mean(adults == "G2") == pytest.approx(0.50, abs=0.05)
    assert np.mean(strings(d, "assessment_type") == "first") == pytest.approx(0.40, abs=0.05)
    a = whole(small, "occupational_accidents")
    sev, days = strings(a, "severity"), a["days_lost"].to_numpy()
    assert (days[sev == "fatal"] == 0).all() and (days[sev == "light"] >= 1).all()
    assert days[sev == "serious"].mean() > 2 * days[sev == "light"].mean()
    assert np.mean(sev == "light") == pytest.approx(0.88, abs=0.03)
    assert np.mean(strings(a, "gender") == "M") > 0.6
    p = whole(small, "pensions")
    amount = np.asarray(pc.cast(p["amount"], pa.float64()))
    old_age = strings(p, "benefit_type") == "old_age_pension"
    assert 300 < np.median(amount[old_age]) < 900
    assert np.isin(strings(p, "age_group")[old_age], ["A55_64", "A65_74", "A75P"]).all()
    s = whole(small, "social_assistance")
    gmi = strings(s, "benefit_type") == "gmi"
    assert np.mean(gmi | (strings(s, "benefit_type") == "housing")) > 0.6
    assert 50 < np.median(np.asarray(pc.cast(s["amount"], pa.float64()))[gmi]) < 300
    household = s["household"].to_numpy()
    assert np.array_equal(household, g.household_of(s["person"].to_numpy()))
    assert np.unique(household).size < np.unique(s["person"].to_numpy()).size


def test_persons_are_shared_across_sources(small: dict[str, list[pa.Table]]) -> None:
    def persons(cube: str) -> set[int]:
        return set(whole(small, cube)["person"].to_numpy().tolist())

    unemployed, assisted = persons("unemployment"), persons("social_assistance")
    assert len(unemployed & assisted) > 0.2 * len(assisted)
    assert persons("disability") & assisted and persons("disability") & unemployed
    assert persons("pensions") & persons("disability")


def test_calibration_at_realistic_scale() -> None:
    total = g.REALISTIC_TOTAL_ROWS
    assert g.unemployment_scale(total) == pytest.approx(1.0, abs=0.03)
    dates: list[np.ndarray] = []
    munis: list[np.ndarray] = []
    for kind, table in g.generate(total):
        if kind != "unemployment":
            break
        dates.append(table["snapshot_date"].to_numpy().astype(np.int64))
        munis.append(table["municipality"].combine_chunks().indices.to_numpy())
    days = np.concatenate(dates)
    assert days.size == g.plan_rows(total)["unemployment"]
    values, counts = np.unique(days, return_counts=True)
    stock = {str(np.datetime64(int(v), "D")): int(c) for v, c in zip(values, counts, strict=True)}
    for year_end in ("2022-12-31", "2023-12-31", "2024-12-31"):
        assert 44_000 <= stock[year_end] <= 56_000, (year_end, stock[year_end])
    assert 40_000 <= stock["2025-12-31"] <= 48_000
    for year in (2022, 2023, 2024):
        for autumn in (f"{year}-09-30", f"{year}-10-31"):
            assert stock[autumn] < stock[f"{year + 1}-01-31"], autumn
    # Latgale's unemployed per inhabitant at least 1.7 times Rīga city's
    per_muni = np.bincount(np.concatenate(munis), minlength=len(g.MUNICIPALITY_CODES)).astype(float)
    per_muni[g.MUNICIPALITY_CODES.index("0038000")] += per_muni[-1]  # merged Madona, for simplicity
    pop = np.array([m[3] for m in g.MUNICIPALITIES], dtype=float)
    latgale = np.array([m[2] == "Latgale" for m in g.MUNICIPALITIES])
    riga = g.MUNICIPALITY_CODES.index("0001000")
    latgale_rate = per_muni[:-1][latgale].sum() / pop[latgale].sum()
    assert latgale_rate >= 1.7 * per_muni[riga] / pop[riga]


def test_child_process_generator_yields_the_same_data() -> None:
    """`labis demo` generates in a child process, which sends a small first batch and then joins
    the generator's batches into large ones: the same rows in the same order, cube by cube."""
    from labis_olap.demo.produce import GeneratedBatches

    here = list(g.generate(SMALL, 7, SMALL_BATCH))
    with GeneratedBatches(SMALL, 7, 3 * SMALL_BATCH, first_rows=SMALL_BATCH) as batches:
        there = list(batches)
    assert there[0][1].num_rows == SMALL_BATCH
    assert SMALL_BATCH < max(t.num_rows for _, t in there) <= 3 * SMALL_BATCH
    assert len(there) < len(here)

    def runs(batches: list[tuple[str, pa.Table]]) -> list[tuple[str, pa.Table]]:
        out: list[tuple[str, list[pa.Table]]] = []
        for cube, table in batches:
            if out and out[-1][0] == cube:
                out[-1][1].append(table)
            else:
                out.append((cube, [table]))
        return [(c, pa.concat_tables(ts).combine_chunks()) for c, ts in out]

    mine, theirs = runs(here), runs(there)
    assert [c for c, _ in theirs] == [c for c, _ in mine]
    for (_, a), (_, b) in zip(mine, theirs, strict=True):
        assert a.equals(b)


def test_child_process_generator_failure_is_a_user_error() -> None:
    from labis_olap.demo.produce import GeneratedBatches
    from labis_olap.errors import UserError

    with pytest.raises(UserError, match="total_rows must be >= 0"), GeneratedBatches(-1, 7, SMALL_BATCH) as b:
        list(b)


def test_child_process_generator_does_not_rerun_the_callers_script(tmp_path: Path) -> None:
    """A script without a `__main__` guard that uses the generator runs once: the child is not a
    multiprocessing child (which would re-run the caller's main module first)."""
    script = tmp_path / "unguarded.py"
    marker = tmp_path / "runs.txt"
    script.write_text(
        "from pathlib import Path\n"
        "from labis_olap.demo.produce import GeneratedBatches\n"
        f"with Path({str(marker)!r}).open('a') as f:\n"
        "    f.write('run\\n')\n"
        f"with GeneratedBatches({SMALL}, 7, {SMALL_BATCH}) as batches:\n"
        "    print(sum(t.num_rows for _, t in batches))\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert marker.read_text() == "run\n"
    assert int(out.stdout.split()[-1]) >= SMALL
