"""Aggregate navigation by the members' functional dependencies, where they do NOT hold: a city
name found in two nations. A rollup keeping that city cannot say which nation its rows are
in, so the planner must pass it over for the facts (never a wrong answer) and `labis validate`
warns that no customer query can use it (W201, located at the rollup's grain). On the SSB
example model as it is, no warning."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from labis_olap.cli import app
from labis_olap.model.cuts import Drilldown
from labis_olap.model.dependencies import determined, unusable_rollup_levels
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import CubeLayout
from labis_olap.query.planner import choose_stored, needs_of
from labis_olap.query.resolve import resolve_drilldown, resolve_measures

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ssb"


def _ssb() -> Any:
    spec = importlib.util.spec_from_file_location("ssb_example_nav", EXAMPLE / "ssb.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ssb_example_nav"] = module
    spec.loader.exec_module(module)
    return module


ssb = _ssb()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    good = ssb.generate(tmp_path_factory.mktemp("ssb_good"), rows=50)
    bad = ssb.generate(tmp_path_factory.mktemp("ssb_bad"), rows=50)
    members = bad / "members" / "customer.csv"
    rows = list(csv.DictReader(members.open(encoding="utf-8")))
    moved = next(r for r in rows if r["nation"] not in ("UNITED KINGDOM",))
    moved["city"] = "UNITED KI1"  # now a city of two nations
    with members.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    cube_file = bad / "cubes" / "lineorder.yaml"
    cube = yaml.safe_load(cube_file.read_text(encoding="utf-8"))
    cube["rollups"] = [{"name": "by_city", "grain": {"time": "year", "customer": "city"}}]
    cube_file.write_text(yaml.safe_dump(cube, sort_keys=False), encoding="utf-8")
    return good, bad


def planned(model_dir: Path, level: str) -> str:
    model = read_model(model_dir)
    layout = CubeLayout(model, model.cubes["lineorder"], "x")
    drill = resolve_drilldown(model, layout.cube, Drilldown("customer", level=level), [])
    needs = needs_of(layout, resolve_measures(layout.cube, ("revenue",)), [], [drill], None)
    return choose_stored(layout, needs).name


def test_a_city_in_two_nations_determines_neither_nation_nor_region(models: tuple[Path, Path]) -> None:
    good, bad = models
    good_model, bad_model = read_model(good), read_model(bad)
    assert determined(good_model, good_model.dimensions["customer"], "city") == {"city", "nation", "region"}
    assert determined(bad_model, bad_model.dimensions["customer"], "city") == {"city"}
    # Nation still determines region in both.
    assert "region" in determined(bad_model, bad_model.dimensions["customer"], "nation")


def test_the_planner_passes_over_a_rollup_whose_levels_are_not_determined(models: tuple[Path, Path]) -> None:
    good, bad = models
    assert planned(good, "nation") == "flight3"
    assert planned(bad, "city") == "facts"
    assert planned(bad, "nation") == "facts"


def test_validate_warns_about_a_rollup_no_query_can_use(models: tuple[Path, Path]) -> None:
    good, bad = models
    model = read_model(bad)
    warnings = unusable_rollup_levels(model, model.cubes["lineorder"])
    assert len(warnings) == 1 and warnings[0].code == "W201", warnings
    w = warnings[0]
    assert w.location.path.endswith("lineorder.yaml") and w.location.line > 1
    assert "'by_city' keeps 'customer' at 'city'" in w.message and "'UNITED KI1'" in w.message
    good_model = read_model(good)
    assert unusable_rollup_levels(good_model, good_model.cubes["lineorder"]) == []

    result = CliRunner().invoke(app, ["validate", str(bad)])
    assert result.exit_code == 0, result.output
    assert "warning[W201]" in result.output and "ok" in result.output
    result = CliRunner().invoke(app, ["validate", str(good)])
    assert result.exit_code == 0 and "W201" not in result.output, result.output
