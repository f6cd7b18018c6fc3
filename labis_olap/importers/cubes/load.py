"""Loading an import's facts through the loaders: the loader spec the import wrote, read and
checked against the model like any in loaders/, then `load_file` for the facts CSV. So the load
is checked (types, dimension members), rejected rows are recorded, the batch is in lineage
(`labis loads`) and can be unloaded (`labis unload`), and loading the same file again is skipped.

The import never writes a person column, so no pseudonymisation key is needed.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ...engine.base import Engine
from ...loaders.run import LoadReport, load_file
from ...loaders.spec import load_plan
from ...model.definition import Model
from .translate import ImportResult


def load_facts(
    result: ImportResult,
    out: Path,
    model: Model,
    engine: Engine,
    *,
    console: Console | None = None,
    apply: bool = True,
) -> dict[str, LoadReport]:
    """Load each cube's facts CSV of an import written to `out` (`model` read from its model
    folder) with its loader spec, one batch per file; cube → the load's report (status ok,
    skipped, rejected or failed). With `apply`, the model is applied to the engine first."""
    reports: dict[str, LoadReport] = {}
    for cube, facts in result.facts_files.items():
        plan = load_plan(out / result.loader_specs[cube], model)
        reports[cube] = load_file(plan, out / facts, model, engine, None, console=console, apply=apply)
    return reports
