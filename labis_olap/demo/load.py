"""`labis demo`: the synthetic data set loaded into the engine with every rollup live."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..compiler.apply import APPLY_LOCK, apply_model
from ..engine.base import CLUSTER_INSERT_SETTINGS, FACT_INSERT_SETTINGS, Engine
from ..errors import UserError
from ..model.definition import Model
from ..physical.layout import CubeLayout, fact_column_type
from ..physical.maintenance import drop_facts, empty_data
from ..physical.names import number_column, pseudonym_table
from ..privacy import hmac_sql, namespace_key
from .generate import DEMO_KEY, DICTIONARIES, SCHEMAS, plan_rows
from .produce import GeneratedBatches

BATCH_ROWS = 4_000_000
"""Rows per insert. Every rollup's view aggregates each insert block on its own, so few large
blocks cost far less than many small ones (10M demo facts: 12 CPU-seconds in blocks of 1M rows,
8 in blocks of 2M-4M)."""

STREAMS = max(2, os.cpu_count() or 2)
INSERT_SETTINGS = {
    **FACT_INSERT_SETTINGS,
    # The batch is read as one block per stream, and each stream's block goes through the table
    # and the views on its own thread: on 2 cores the inserts of 10M facts took 5.1 s as two 2M-row
    # blocks against 5.8-6.5 s as one 4M-row block.
    "max_threads": STREAMS,
    "max_insert_threads": STREAMS,
    "max_block_size": BATCH_ROWS // STREAMS,
    "max_insert_block_size": BATCH_ROWS // STREAMS,
    "min_insert_block_size_rows": BATCH_ROWS // STREAMS,
    "min_insert_block_size_bytes": 0,
}


@dataclass
class DemoStats:
    rows: int = 0
    seconds: float = 0.0
    per_cube: dict[str, int] = field(default_factory=dict)


def reset_demo_tables(model: Model, engine: Engine) -> None:
    """Empty facts, rollups and persons so that a demo run replaces the previous one (and the
    loaders' lineage and rejects, which would otherwise describe batches no longer there)."""
    for st in empty_data(model, engine.database, engine.topology):
        engine.execute(st.sql)


def drop_changed_facts(model: Model, engine: Engine) -> list[str]:
    """Drop every facts table (with its rollups) whose columns the model now types differently:
    `apply` never rewrites facts, and a demo replaces all the data anyway. This is how an earlier
    demo's clear household numbers go when the household becomes a pseudonymous identifier.
    Returns the cubes dropped."""
    dropped = []
    for cube in model.cubes.values():
        layout = CubeLayout(model, cube, engine.database)
        have = {
            r["name"]: r["type"]
            for r in engine.query(
                "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}",
                {"db": engine.database, "t": layout.facts_table},
            ).to_pylist()
        }
        if not have or all(
            have.get(c.name, fact_column_type(c)) == fact_column_type(c) for c in cube.columns
        ):
            continue
        views = engine.query(
            "SELECT dependencies_table AS v FROM system.tables\n"
            "WHERE database = {db:String} AND name = {t:String}",
            {"db": engine.database, "t": layout.facts_table},
        ).to_pylist()
        dependents = views[0]["v"] if views else []
        for st in drop_facts(engine.database, layout.facts_table, dependents, engine.topology):
            engine.execute(st.sql)
        dropped.append(cube.name)
    return dropped


def load_demo(
    model: Model, engine: Engine, rows: int, seed: int, console: Console | None = None
) -> DemoStats:
    missing = [c for c in plan_rows(rows) if c not in model.cubes]
    if missing:
        raise UserError(
            f"the demo needs the LabIS model; cubes missing: {', '.join(missing)}",
            hint="run from the repository root or pass --model model",
        )
    start = time.perf_counter()
    with GeneratedBatches(rows, seed, BATCH_ROWS) as batches:  # it warms up during apply and reset
        drop_changed_facts(model, engine)
        apply_model(model, engine)
        reset_demo_tables(model, engine)
        with APPLY_LOCK, _progress(console) as progress:
            task = progress.add_task("demo facts", total=rows, rate="")

            def advance(stats: DemoStats, n: int) -> None:
                rate = stats.rows / max(time.perf_counter() - start, 1e-9)
                progress.update(task, advance=n, rate=f"{rate:,.0f} rows/s")

            stats = insert_batches(model, engine, batches, advance)
    stats.seconds = time.perf_counter() - start
    return stats


def insert_batches(
    model: Model,
    engine: Engine,
    batches: Iterable[tuple[str, pa.Table]],
    on_batch: Callable[[DemoStats, int], None] | None = None,
) -> DemoStats:
    """Insert generated batches: persons' and households' codes pseudonymised by the engine (each
    in its namespace, as a load does), facts with every rollup's view live.
    (benchmarks/bench_spine.py also times this alone, on batches made beforehand.)"""
    stats = DemoStats()
    dictionaries: dict[str, tuple[str, list[str], list[str], dict[str, object]]] = {}
    for kind, namespace in DICTIONARIES.items():
        num, code = SCHEMAS[kind].names
        bound: dict[str, object] = {}
        pseudonym = hmac_sql(f"`{code}`", namespace_key(DEMO_KEY, namespace), bound, f"h_{namespace}")
        columns = [number_column(namespace), "pseudonym"]
        table = engine.topology.local(pseudonym_table(namespace))  # every node holds all of it
        dictionaries[kind] = (table, columns, [f"`{num}`", pseudonym], bound)
    start = time.perf_counter()
    for cube, batch in batches:
        if cube in dictionaries:
            table, columns, exprs, params = dictionaries[cube]
            engine.insert_select(table, batch, columns, exprs, params)
            continue
        layout = CubeLayout(model, model.cubes[cube], engine.database)
        cluster = CLUSTER_INSERT_SETTINGS if engine.topology.is_cluster else {}
        engine.insert_arrow(layout.facts_table, batch, {**INSERT_SETTINGS, **cluster})
        stats.rows += batch.num_rows
        stats.per_cube[cube] = stats.per_cube.get(cube, 0) + batch.num_rows
        if on_batch:
            on_batch(stats, batch.num_rows)
    stats.seconds = time.perf_counter() - start
    return stats


def _progress(console: Console | None) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        disable=console is None,
        transient=False,
    )
