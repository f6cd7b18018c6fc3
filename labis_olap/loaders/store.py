"""The engine side of a load: lineage (`loads`), rejects, the staging table, persons, facts, unload.

A file is checked completely before anything is published: accepted rows go to a staging table
`_load_stage_<batch>` (person and other identifiers already pseudonymised by the engine on the
way in: the clear value exists only in that INSERT's memory). Only when the whole file has
passed are new pseudonyms numbered in `persons` (or `identifiers_<kind>`) and the staged rows
copied into the facts table, in chunks of source rows; each chunk is one INSERT … SELECT forced
into a single block and sent with `insert_deduplication_token = <batch>-<generation>-<chunk>`,
so a chunk re-sent after a crash is dropped by the facts table and by every rollup
(`deduplicate_blocks_in_dependent_materialized_views`; rollups carry
`non_replicated_deduplication_window` too).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..compiler.apply import APPLY_LOCK
from ..engine.base import CLUSTER_INSERT_SETTINGS, FACT_INSERT_SETTINGS, Engine
from ..errors import EngineError, UserError
from ..model.definition import Model
from ..physical import lineage_ddl, maintenance
from ..physical.layout import CubeLayout, q
from ..physical.lineage_ddl import LOADS_COLUMNS
from ..physical.names import (
    LOADS,
    REJECTS,
    SOURCE_STATE,
    StageNames,
    number_column,
    pseudonym_table,
    stage_key_column,
)
from ..privacy import hmac_sql, namespace_key, redact

PERSON_PASS_ROWS = 400_000
"""Distinct pseudonyms numbered per pass (bounds the memory of numbering a large batch)."""
BATCH_RE = re.compile(r"^[0-9a-f]{16}$")
STATUSES = ("running", "ok", "failed", "rejected", "unloaded")


def ensure_tables(engine: Engine) -> None:
    for st in lineage_ddl.lineage_tables(engine.database, engine.topology):
        engine.execute(st.sql)


def ensure_dedup_window(engine: Engine, layout: CubeLayout) -> None:
    """Rollups made before loaders existed lack a deduplication window: add it (a setting only).
    Replicated tables (a cluster) deduplicate through Keeper without one."""
    tables = [layout.rollup_table(r) for r in layout.cube.rollups]
    if not tables or engine.topology.is_cluster:
        return
    found = [
        row
        for row in engine.query(
            "SELECT name, engine_full FROM system.tables WHERE database = {db:String}",
            {"db": engine.database},
        ).to_pylist()
        if row["name"] in tables
    ]
    for row in found:
        if "non_replicated_deduplication_window" not in row["engine_full"]:
            engine.execute(maintenance.set_dedup_window(engine.database, row["name"]).sql)


def batch_id(source: str, file_sha256: str, *context: str) -> str:
    """A file's batch: hash(source, its SHA-256). A fetched source adds its query (or URL) and
    watermark range to the content's hash."""
    return hashlib.sha256("\0".join([source, file_sha256, *context]).encode()).hexdigest()[:16]


# --- lineage ------------------------------------------------------------------------------------


@dataclass
class LoadRecord:
    batch: str
    source: str
    cube: str
    file_name: str
    file_sha256: str
    file_bytes: int
    started: dt.datetime
    model_version: str
    key_id: str = ""
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    finished: dt.datetime | None = None
    status: str = "running"
    message: str = ""


def record(engine: Engine, rec: LoadRecord) -> None:
    now = dt.datetime.now(dt.UTC)
    values: dict[str, Any] = {**rec.__dict__, "event_time": now, "message": redact(rec.message)[:2000]}
    data = pa.table({n: pa.array([values[n]], t) for n, _, t in LOADS_COLUMNS})
    engine.insert_arrow(LOADS, data)


def latest(
    engine: Engine, batch: str | None = None, source: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The current state of batches (newest first); with `batch`, that batch only (or a prefix)."""
    where, params = [], {}
    if batch is not None:
        where.append("startsWith(batch, {b:String})")
        params["b"] = batch
    if source is not None:
        where.append("source = {s:String}")
        params["s"] = source
    cond = f"WHERE {' AND '.join(where)}" if where else ""
    sql = (
        f"SELECT * FROM (SELECT * FROM {q(engine.database)}.{q(LOADS)} {cond} "
        "ORDER BY event_time DESC LIMIT 1 BY batch) ORDER BY started DESC, event_time DESC "
        f"LIMIT {int(limit)}"
    )
    return engine.query(sql, params).to_pylist()


BATCH_PREFIX = re.compile(r"[0-9a-f]{6,16}")


def find_batch(engine: Engine, batch: str) -> dict[str, Any]:
    """The current record of the batch a full id or a unique prefix (6+ hex digits) names; a
    user error if it names none or several (the candidates listed)."""
    if not BATCH_PREFIX.fullmatch(batch):
        raise UserError(f"'{batch}' is not a batch id", hint="`labis loads` lists them (16 hex digits)")
    rows = latest(engine, batch=batch, limit=6)
    if not rows:
        raise UserError(f"no batch '{batch}' in the lineage table", hint="`labis loads` lists the batches")
    if len(rows) > 1:
        shown = ", ".join(f"{r['batch']} ({r['file_name']}, {r['status']})" for r in rows[:5])
        more = "" if len(rows) <= 5 else ", …"
        raise UserError(f"'{batch}' names several batches: {shown}{more}", hint="give more digits")
    return rows[0]


def batches(engine: Engine, source: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """What `labis loads` shows of each batch, newest first: its current status, and the rows and
    duration of its load (an unloaded batch keeps its load's; a failed one counts the rows read
    before the failure)."""
    rows = latest(engine, source=source, limit=limit)
    keep = ("batch", "source", "cube", "file_name", "status", "rows_read", "rows_accepted", "rows_rejected")
    return [
        {k: r[k] for k in keep}
        | {
            "started": r["started"],
            "seconds": (r["finished"] - r["started"]).total_seconds() if r["finished"] else None,
            "model_version": r["model_version"],
            "message": r["message"],
        }
        for r in rows
    ]


def lineage_counts(engine: Engine) -> dict[str, int]:
    """How many batches the lineage holds, by current status (creates the tables if missing)."""
    ensure_tables(engine)
    rows = engine.query(
        f"SELECT status, count() AS n FROM (SELECT batch, argMax(status, event_time) AS status "
        f"FROM {q(engine.database)}.{q(LOADS)} GROUP BY batch) GROUP BY status ORDER BY status"
    ).to_pylist()
    return {r["status"]: int(r["n"]) for r in rows}


def load_totals(engine: Engine) -> dict[str, tuple[int, int, int]]:
    """Current status → (batches, rows accepted, rows rejected), for /metrics; {} before any
    load (the lineage tables are not created by reading them)."""
    exists = engine.query(
        "SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = {t:String}",
        {"db": engine.database, "t": LOADS},
    ).to_pylist()[0]["n"]
    if not exists:
        return {}
    rows = engine.query(
        "SELECT status, count() AS n, sum(accepted) AS accepted, sum(rejected) AS rejected FROM ("
        "SELECT batch, argMax(status, event_time) AS status, argMax(rows_accepted, event_time) AS accepted,"
        f" argMax(rows_rejected, event_time) AS rejected FROM {q(engine.database)}.{q(LOADS)} GROUP BY batch)"
        " GROUP BY status"
    ).to_pylist()
    return {r["status"]: (int(r["n"]), int(r["accepted"]), int(r["rejected"])) for r in rows}


@dataclass
class SourceState:
    batch: str
    status: str
    watermark_type: str
    low: str | None
    high: str | None
    kinds: dict[str, str]


def record_state(
    engine: Engine,
    source: str,
    batch: str,
    watermark: tuple[str, str | None, str | None] | None,
    kinds: dict[str, str],
) -> None:
    kind, low, high = watermark or ("", None, None)
    row = {
        "event_time": dt.datetime.now(dt.UTC),
        "source": source,
        "batch": batch,
        "watermark_type": kind,
        "low": low,
        "high": high,
        "kinds": json.dumps(kinds, sort_keys=True),
    }
    types = {"event_time": pa.timestamp("us", tz="UTC")}
    engine.insert_arrow(
        SOURCE_STATE, pa.table({k: pa.array([v], types.get(k, pa.string())) for k, v in row.items()})
    )


def source_states(engine: Engine, source: str) -> list[SourceState]:
    """A fetched source's batches, oldest first, each with its current status from `loads`."""
    db = q(engine.database)
    rows = engine.query(
        f"SELECT s.batch AS batch, l.status AS status, s.watermark_type AS watermark_type, s.low AS low,\n"
        f"  s.high AS high, s.kinds AS kinds\nFROM {db}.{q(SOURCE_STATE)} AS s\n"
        f"INNER JOIN (SELECT batch, argMax(status, event_time) AS status FROM {db}.{q(LOADS)}\n"
        "  WHERE source = {s:String} GROUP BY batch) AS l ON l.batch = s.batch\n"
        "WHERE s.source = {s:String} ORDER BY s.event_time",
        {"s": source},
    ).to_pylist()
    return [SourceState(**{**r, "kinds": json.loads(r["kinds"])}) for r in rows]


def generation(engine: Engine, batch: str) -> int:
    """How many times the batch was unloaded: part of its dedup tokens, so a reload after an
    unload is not mistaken for a retry of the blocks deleted."""
    t = engine.query(
        f"SELECT count() AS n FROM {q(engine.database)}.{q(LOADS)} "
        "WHERE batch = {b:String} AND status = 'unloaded'",
        {"b": batch},
    )
    return int(t.to_pylist()[0]["n"])


def key_ids(engine: Engine) -> set[str]:
    t = engine.query(
        f"SELECT DISTINCT key_id FROM {q(engine.database)}.{q(LOADS)} WHERE status = 'ok' AND key_id != ''"
    )
    return set(t.column("key_id").to_pylist())


def clear_rejects(engine: Engine, batch: str) -> None:
    engine.execute(maintenance.delete_rejects_of_batch(engine.database, engine.topology).sql, {"b": batch})


def write_rejects(engine: Engine, batch: str, source: str, rejects: pa.Table) -> None:
    if rejects.num_rows == 0:
        return
    n = rejects.num_rows
    data = rejects.append_column("batch", pa.repeat(pa.scalar(batch), n)).append_column(
        "source", pa.repeat(pa.scalar(source), n)
    )
    engine.insert_arrow(REJECTS, data)


# --- staging and publishing ---------------------------------------------------------------------


class Stage:
    """The accepted rows of one batch, checked but not yet visible.

    Identifiers (person and identifier columns) never reach the stage: each Arrow batch's
    distinct codes of one namespace are hashed by the engine, with that namespace's key, into
    `_load_codes_<batch>` (key → namespace, pseudonym), and staged rows carry only that key
    (`(sequence << 32) | index`, the sequence counting Arrow batches and namespaces, so keys are
    unique across namespaces). The HMAC runs once per distinct code of a batch, not once per
    row, and publishing looks identifiers up by a number instead of a 64-character string.
    """

    def __init__(self, engine: Engine, layout: CubeLayout, batch: str, key: bytes | None) -> None:
        self.engine = engine
        self.layout = layout
        self.batch = batch
        self.key = key
        self.db = q(engine.database)
        names = StageNames(batch)
        self.table, self.codes, self.numbers = names.table, names.codes, names.persons_map
        self.namespaces: dict[str, list[str]] = {}
        """Namespace → its pseudonymous columns, in cube order."""
        for c in layout.cube.columns:
            if c.namespace is not None:
                self.namespaces.setdefault(c.namespace, []).append(c.name)
        self.seq = 0

    @staticmethod
    def key_column(name: str) -> str:
        return stage_key_column(name)

    def create(self) -> None:
        self.drop()
        for st in lineage_ddl.create_stage(self.layout, self.batch):
            self.engine.execute(st.sql)

    def drop(self) -> None:
        for st in lineage_ddl.drop_stage(self.engine.database, self.batch):
            self.engine.execute(st.sql)

    def insert(self, data: pa.Table) -> None:
        """Stage checked rows; identifiers are hashed by the engine on the way in."""
        if data.num_rows == 0:
            return
        for namespace, columns in self.namespaces.items():
            present = [c for c in columns if c in data.column_names]
            if present:
                data = self._pseudonymise(data, namespace, present)
        try:
            self.engine.insert_arrow(self.table, data)
        except EngineError as exc:
            raise EngineError(f"staging rows: {_scrub(exc.message)}") from None

    def _pseudonymise(self, data: pa.Table, namespace: str, present: list[str]) -> pa.Table:
        """Replace one namespace's columns by staged keys; their distinct codes' pseudonyms go to
        the codes table (columns of one namespace share keys: the same code, the same key)."""
        assert self.key is not None, "an identifier column needs the pseudonymisation key"
        self.seq += 1
        base = self.seq << 32
        chunks = [chunk for c in present for chunk in data.column(c).chunks]
        codes = pa.chunked_array(chunks, pa.string()).combine_chunks()
        enc = pc.dictionary_encode(codes)
        keys = pc.add(enc.indices.cast(pa.uint64()), pa.scalar(base, pa.uint64()))
        offset = 0
        for name in present:
            part = keys.slice(offset, data.num_rows)
            offset += data.num_rows
            i = data.column_names.index(name)
            data = data.set_column(i, self.key_column(name), part)
        distinct = pa.table(
            {
                "key": pa.array(np.arange(base, base + len(enc.dictionary), dtype=np.uint64)),
                "code": enc.dictionary,
            }
        )
        params: dict[str, object] = {"ns": namespace}
        try:
            pseudonym = hmac_sql("`code`", namespace_key(self.key, namespace), params, "pk")
            self.engine.insert_select(
                self.codes,
                distinct,
                ["key", "ns", "pseudonym"],
                ["`key`", "{ns:String}", pseudonym],
                params,
            )
        except EngineError as exc:
            raise EngineError(f"pseudonymising: {_scrub(exc.message)}") from None
        return data

    def assign_persons(self) -> None:
        """Number the batch's new pseudonyms of every namespace (max(number) + row_number in the
        namespace's dictionary: `persons`, `identifiers_<kind>`) and build the lookup staged key →
        number. Call under APPLY_LOCK: numbers must not be handed out twice.

        Memory grows with the distinct pseudonyms handled at once (several hash sets and a sort
        of 64-character strings), so a large batch is done in passes over hash slices of about
        PERSON_PASS_ROWS pseudonyms each; numbers stay contiguous and the result does not depend on
        where a killed run stopped. The codes are ordered by namespace and that hash (`h`), so a
        pass reads its slice only (10M rows: 3 passes over 1.5M person codes)."""
        if not self.namespaces:
            return
        for st in lineage_ddl.create_persons_map(self.engine.database, self.batch):
            self.engine.execute(st.sql)
        for namespace in self.namespaces:
            self._number(namespace)

    def _number(self, namespace: str) -> None:
        # On a cluster, the node's replica of the dictionary (every node holds all of it).
        p = f"{self.db}.{q(self.engine.topology.local(pseudonym_table(namespace)))}"
        num = q(number_column(namespace))
        codes = f"{self.db}.{q(self.codes)}"
        params = {"ns": namespace}
        # Staged codes repeat across Arrow batches (1.5M codes for 1.1M persons in 10M rows):
        # the passes are sized by distinct pseudonyms, which is what the sets hold.
        n = int(
            self.engine.query(
                f"SELECT uniq(h) AS n FROM {codes} WHERE ns = {{ns:String}}", params
            ).to_pylist()[0]["n"]
        )
        passes = max(1, -(-n // PERSON_PASS_ROWS))
        for i in range(passes):
            lo, hi = (i << 64) // passes, ((i + 1) << 64) // passes
            part = f"ns = {{ns:String}} AND h >= {lo} AND h <= {hi - 1}"  # a range of the table's key
            mine = f"(SELECT pseudonym FROM {codes} WHERE {part})"
            self.engine.execute(
                f"INSERT INTO {p} ({num}, pseudonym)\n"
                f"SELECT (SELECT max({num}) FROM {p}) + row_number() OVER (ORDER BY pseudonym),\n"
                "  pseudonym\n"
                f"FROM (SELECT DISTINCT pseudonym FROM {codes} WHERE {part})\n"
                f"WHERE pseudonym NOT IN (SELECT pseudonym FROM {p} WHERE pseudonym IN {mine})",
                params,
            )
            self.engine.execute(
                f"INSERT INTO {self.db}.{q(self.numbers)}\n"
                f"SELECT c.key, p.num FROM (SELECT key, pseudonym FROM {codes} WHERE {part}) AS c\n"
                f"INNER JOIN (SELECT pseudonym, any({num}) AS num FROM {p}\n"
                f"  WHERE pseudonym IN {mine} GROUP BY pseudonym) AS p\n"
                "ON c.pseudonym = p.pseudonym",
                params,
            )

    def publish(
        self,
        gen: int | str,
        first_row: int,
        last_row: int,
        chunk_rows: int,
        on_chunk: Callable[[int], None] | None = None,
    ) -> None:
        """Copy the staged rows into the facts table, chunk by chunk of source rows, each chunk
        one deduplicated block per year (its token names batch, generation, chunk and year)."""
        names, exprs = [], []
        for c in self.layout.cube.columns:
            names.append(q(c.name))
            if c.pseudonymous:
                look = f"'{self.engine.database}.{self.numbers}'"
                col = q(self.key_column(c.name))
                fn = "joinGetOrNull" if c.nullable else "joinGet"
                exprs.append(f"{fn}({look}, 'num', {col})")
            else:
                exprs.append(q(c.name))
        names.append("`_batch`")
        exprs.append("{batch:String}")
        chunks = max(1, -(-(last_row - first_row + 1) // chunk_rows))
        # Facts are partitioned by year, and one INSERT block split over partitions becomes
        # several parts that a kill can leave half written while the chunk's token already
        # counts as seen (measured: a re-run then lost the missing year's rows). So each
        # deduplicated block holds the rows of one partition only.
        years = self._years()
        for i in range(chunks):
            lo = first_row + i * chunk_rows
            for year in years:
                self._publish_block(names, exprs, gen, i, year, lo, lo + chunk_rows, chunks)
            if on_chunk:
                on_chunk(i + 1)

    def _years(self) -> list[int | None]:
        if self.layout.time_link is None:
            return [None]
        col = q(self.layout.time_link[1])
        t = self.engine.query(f"SELECT DISTINCT toYear({col}) AS y FROM {self.db}.{q(self.table)} ORDER BY y")
        return [int(y) for y in t.column("y").to_pylist()] or [None]

    def _publish_block(
        self,
        names: list[str],
        exprs: list[str],
        gen: int | str,
        i: int,
        year: int | None,
        lo: int,
        hi: int,
        chunks: int,
    ) -> None:
        """One deduplicated INSERT … SELECT: staged rows lo..hi of one year (one partition)."""
        facts = f"{self.db}.{q(self.layout.facts_table)}"
        where = "`_row` >= {lo:UInt64} AND `_row` < {hi:UInt64}"
        params: dict[str, object] = {"batch": self.batch, "lo": lo, "hi": hi}
        if year is not None:
            assert self.layout.time_link is not None
            where += f" AND toYear({q(self.layout.time_link[1])}) = {{year:UInt16}}"
            params["year"] = year
        settings = {
            **FACT_INSERT_SETTINGS,
            **(CLUSTER_INSERT_SETTINGS if self.engine.topology.is_cluster else {}),
            "insert_deduplicate": 1,
            "deduplicate_insert_select": "'force_enable'",
            "insert_deduplication_token": f"'{self.batch}-{gen}-{i}-{year or 0}'",
            "deduplicate_blocks_in_dependent_materialized_views": 1,
            "max_threads": 2,
            "max_insert_threads": 1,
            "min_insert_block_size_rows": hi - lo + 1,
            "min_insert_block_size_bytes": 1 << 40,
            "max_partitions_per_insert_block": 1000,
        }
        sql = (
            f"INSERT INTO {facts} ({', '.join(names)})\n"
            f"SETTINGS {', '.join(f'{k} = {v}' for k, v in settings.items())}\n"
            f"SELECT {', '.join(exprs)}\nFROM {self.db}.{q(self.table)}\n"
            f"WHERE {where}"
        )
        try:
            self.engine.execute(sql, params)
        except EngineError as exc:
            raise EngineError(
                f"inserting chunk {i + 1} of {chunks} into {self.layout.facts_table}: " + _scrub(exc.message)
            ) from None

    def republish(self, gen: int, first_row: int, last_row: int, chunk_rows: int) -> None:
        """Publish the batch again from scratch: its rows deleted from the facts, then copied
        under fresh tokens. For when the facts do not hold exactly the accepted rows after
        publishing — a block lost to a kill between ClickHouse recording its token and
        committing its part, which the same tokens could never bring back."""
        delete = maintenance.delete_facts_of_batch(self.layout, self.engine.topology)
        self.engine.execute(delete.sql, {"b": self.batch})
        self.publish(f"{gen}-again-{secrets.token_hex(4)}", first_row, last_row, chunk_rows)

    def count_published(self) -> int:
        t = self.engine.query(
            f"SELECT count() AS n FROM {self.db}.{q(self.layout.facts_table)} WHERE `_batch` = {{b:String}}",
            {"b": self.batch},
        )
        return int(t.to_pylist()[0]["n"])


def _scrub(message: str) -> str:
    """An engine message without quoted values (ClickHouse quotes the text it could not parse)."""
    return redact(re.sub(r"'[^']*'", "'…'", message))


# --- unload -------------------------------------------------------------------------------------


def unload(engine: Engine, model: Model, batch: str) -> dict[str, Any]:
    """Delete a batch from its facts and rebuild the cube's rollups; returns the batch's record.

    Rollups cannot subtract (a bitmap or a min has no inverse), so each is rebuilt from the facts
    into a new table that is swapped in for it (physical.maintenance.rebuild_rollup): readers see
    the old rollup until the new one is complete, then the new one (the materialized view writes
    by name, so it feeds the swapped-in table). Runs under APPLY_LOCK: an insert during the
    rebuild would be lost (in this process; see docs/loaders.md for several processes against
    one server)."""
    row = find_batch(engine, batch)
    if row["status"] == "unloaded":
        raise UserError(f"batch {row['batch']} is already unloaded")
    cube = model.cubes.get(row["cube"])
    if cube is None:
        raise UserError(
            f"batch {row['batch']} belongs to cube '{row['cube']}', which the model no longer has"
        )
    layout = CubeLayout(model, cube, engine.database)
    with APPLY_LOCK:
        engine.execute(maintenance.delete_facts_of_batch(layout, engine.topology).sql, {"b": row["batch"]})
        for rollup in cube.rollups:
            rebuild_rollup(engine, layout, rollup)
        Stage(engine, layout, row["batch"], None).drop()  # left behind if a load was killed
        # `finished` stays the load's (its duration is what `labis loads` shows); when it was
        # unloaded is this row's event_time.
        rec = LoadRecord(**{k: row[k] for k in LoadRecord.__dataclass_fields__})
        rec.status, rec.message = "unloaded", ""
        record(engine, rec)
    return row


def rollups_out_of_step(engine: Engine, layout: CubeLayout) -> list[Any]:
    """The cube's rollups whose rows do not add up to the facts' (each rollup counts the fact
    rows it holds in `__rows`). Against a server that other processes load into at the same
    time, a rollup can look out of step for a moment; rebuilding it then is only wasted work."""
    db = q(engine.database)
    facts = engine.query(f"SELECT count() AS n FROM {db}.{q(layout.facts_table)}").to_pylist()[0]["n"]
    stale = []
    for rollup in layout.cube.rollups:
        t = engine.query(f"SELECT sum(`__rows`) AS n FROM {db}.{q(layout.rollup_table(rollup))}")
        if int(t.to_pylist()[0]["n"] or 0) != int(facts):
            stale.append(rollup)
    return stale


def rebuild_rollup(engine: Engine, layout: CubeLayout, rollup: Any) -> None:
    for st in maintenance.rebuild_rollup(layout, rollup, engine.topology):
        engine.execute(st.sql)
