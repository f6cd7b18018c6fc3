"""Sources that are not files: a query on a database (SQLAlchemy) and JSON records over HTTP.

Both are fetched once into a *spool* — Arrow IPC files in a temporary folder, one per fetched
batch — and then loaded from it exactly like a file: the same checks, staging and publishing.
The spool is what makes a batch id possible (source, query, watermark range and the SHA-256 of
the spooled content) before anything is staged, keeps memory bounded by the batch size, and
reads the source once even if checking takes long.

A SQL source is read as `SELECT <the columns the spec uses> FROM (<query>) AS labis_src
[WHERE <watermark> > :last] ORDER BY <watermark>, <those columns>`: identifiers come from the
validated spec and are quoted by the database's own dialect; the last watermark is a bound
parameter. The ORDER BY makes the record order — and so the record numbers, the content hash
and the publish chunks a re-run must reproduce — a function of the data alone. Results are
streamed (`stream_results`, server-side cursors where the driver has them) in `batch_rows`.

No message names a password, a token or a value: URLs are shown without user info and query
string, driver messages are cut to their first line with the password removed and personal
codes masked.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from ..model.diagnostics import did_you_mean
from ..privacy import redact
from .raw import LoadError, RawBatch
from .spec import HttpSource, Plan, expand_env


def value_kind(values: list[Any]) -> str | None:
    """The coarse type of a column's values: number, text, date, datetime, bool; 'mixed' when
    they differ, None when all are missing. Widening within numbers (integer → numeric) is not
    drift; text ↔ number, date ↔ text are."""
    kinds = set()
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            kinds.add("bool")
        elif isinstance(v, int | float | decimal.Decimal):
            kinds.add("number")
        elif isinstance(v, dt.datetime):
            kinds.add("datetime")
        elif isinstance(v, dt.date):
            kinds.add("date")
        else:
            kinds.add("text")
        if len(kinds) > 1:
            return "mixed"
    return next(iter(kinds), None)


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False, sort_keys=True)
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def to_arrow(values: list[Any]) -> pa.Array:
    """Python values as an Arrow array of their own type, or as text when they mix types."""
    if any(isinstance(v, dict | list) for v in values):
        return pa.array([_text(v) for v in values], pa.string())
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([_text(v) for v in values], pa.string())


# --- watermarks -----------------------------------------------------------------------------------


def encode_watermark(v: Any) -> tuple[str, str]:
    """(type, text) of a watermark value, to store it and bind it again on the next run."""
    for name, types in (
        ("int", (int,)),
        ("decimal", (decimal.Decimal,)),
        ("float", (float,)),
        ("datetime", (dt.datetime,)),
        ("date", (dt.date,)),
    ):
        if isinstance(v, types) and not isinstance(v, bool):
            return name, v.isoformat() if isinstance(v, dt.date) else str(v)
    return "str", str(v)


def decode_watermark(kind: str, text: str) -> Any:
    parse: dict[str, Any] = {
        "int": int,
        "decimal": decimal.Decimal,
        "float": float,
        "datetime": dt.datetime.fromisoformat,
        "date": dt.date.fromisoformat,
        "str": str,
    }
    return parse[kind](text)


@dataclass(frozen=True)
class Range:
    """Watermark bounds of a fetch: above `low` (exclusive), up to `high` (inclusive)."""

    kind: str
    low: str | None = None
    high: str | None = None


# --- the spool --------------------------------------------------------------------------------


@dataclass
class Fetched:
    display: str
    """What `loads.file_name` shows: the URL without password, token or query string."""
    folder: Path
    files: list[Path] = field(default_factory=list)
    rows: int = 0
    nbytes: int = 0
    sha256: str = ""
    kinds: dict[str, str] = field(default_factory=dict)
    """Column → coarse type of its values (compared with the last load's: drift)."""
    range: Range | None = None


class Spool:
    def __init__(self, folder: Path, display: str) -> None:
        self.fetched = Fetched(display, folder)
        self.hash = hashlib.sha256()

    def add(self, columns: dict[str, list[Any]]) -> None:
        arrays = {k: to_arrow(v) for k, v in columns.items()}
        n = len(next(iter(arrays.values()))) if arrays else 0
        if not n:
            return
        for k, v in columns.items():
            kind = value_kind(v)
            if kind is not None and self.fetched.kinds.get(k) != "mixed":
                known = self.fetched.kinds.setdefault(k, kind)
                if known != kind:
                    self.fetched.kinds[k] = "mixed"
        table = pa.table(arrays)
        path = self.fetched.folder / f"{len(self.fetched.files):06d}.arrow"
        with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        data = path.read_bytes()
        self.hash.update(data)
        self.fetched.files.append(path)
        self.fetched.rows += n
        self.fetched.nbytes += len(data)

    def finish(self) -> Fetched:
        self.fetched.sha256 = self.hash.hexdigest()
        return self.fetched


class SpoolReader:
    """Reads a spool back as RawBatch, the record number from 1 as the row."""

    def __init__(self, plan: Plan, fetched: Fetched) -> None:
        self.plan = plan
        self.fetched = fetched
        self.total_rows: int | None = fetched.rows

    def error(self, code: str, message: str, **where: Any) -> LoadError:
        return LoadError(code, message, source=self.plan.spec.source, file=self.fetched.display, **where)

    def batches(self) -> Iterator[RawBatch]:
        row = 1
        for path in self.fetched.files:
            with pa.memory_map(str(path)) as source:
                table = ipc.open_file(source).read_all()
            for batch in table.to_batches():
                cols = {name: batch.column(name) for name in self.plan.source_columns}
                yield RawBatch(row, cols, batch.num_rows)
                row += batch.num_rows


# --- SQL ------------------------------------------------------------------------------------------


def _scrub(text: str, secret: str | None) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    if secret:
        line = line.replace(secret, "***")
    return redact(line[:300])


def fetch_sql(
    plan: Plan,
    folder: Path,
    above: tuple[str, str] | None = None,
    upto: tuple[str, str] | None = None,
    environ: dict[str, str] | None = None,
) -> Fetched:
    """Run the spec's query into a spool: rows whose watermark is above `above` (and at most
    `upto`, when a run interrupted while publishing is repeated), as (type, text) pairs; ordered
    so that a repeat gives the same bytes."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError
    from sqlalchemy.pool import NullPool

    s = plan.spec.sql
    assert s is not None
    source = plan.spec.source
    try:
        url = make_url(expand_env(s.url, source, environ))
    except ArgumentError:
        raise LoadError("L107", "sql.url is not a database URL", source=source, file="sql.url") from None
    secret = url.password if isinstance(url.password, str) else None
    display = url.set(query={}).render_as_string(hide_password=True)

    def fail(code: str, message: str, **where: Any) -> LoadError:
        return LoadError(code, message, source=source, file=display, **where)

    wm = s.watermark
    wanted = list(dict.fromkeys([*([wm] if wm else []), *plan.source_columns]))
    inner = s.query.strip().rstrip(";").strip()
    spool = Spool(folder, display)
    try:
        engine = create_engine(url, poolclass=NullPool)
    except (ArgumentError, ImportError) as exc:  # an unknown dialect or a driver not installed
        raise fail("L209", f"cannot use this database URL: {_scrub(str(exc), secret)}") from None
    try:
        with engine.connect() as conn:
            quote = engine.dialect.identifier_preparer.quote
            probe = conn.execute(text(f"SELECT * FROM (\n{inner}\n) AS labis_src WHERE 1 = 0"))
            found = list(probe.keys())
            probe.close()
            for name in wanted:
                if name not in found:
                    raise fail(
                        "L210",
                        f"the query has no column '{name}'",
                        column=name,
                        hint=did_you_mean(name, found) or f"the query returns: {', '.join(found)}",
                    )
            where, params = [], {}
            if wm and above is not None:
                where.append(f"{quote(wm)} > :labis_above")
                params["labis_above"] = decode_watermark(*above)
            if wm and upto is not None:
                where.append(f"{quote(wm)} <= :labis_upto")
                params["labis_upto"] = decode_watermark(*upto)
            sql = (
                f"SELECT {', '.join(quote(c) for c in wanted)} FROM (\n{inner}\n) AS labis_src"
                + (f" WHERE {' AND '.join(where)}" if where else "")
                + f" ORDER BY {', '.join(quote(c) for c in wanted)}"
            )
            result = conn.execution_options(stream_results=True, yield_per=s.batch_rows).execute(
                text(sql), params
            )
            high: Any = None
            for part in result.partitions(s.batch_rows):
                columns = {name: [row[i] for row in part] for i, name in enumerate(wanted)}
                if wm:
                    high = columns[wm][-1]
                spool.add(columns)
    except SQLAlchemyError as exc:
        raise fail(
            "L209", f"the query failed: {_scrub(str(getattr(exc, 'orig', None) or exc), secret)}"
        ) from None
    finally:
        engine.dispose()
    fetched = spool.finish()
    if wm and high is not None:
        kind, text_high = encode_watermark(high)
        fetched.range = Range(kind, above[1] if above else None, text_high)
    return fetched


# --- HTTP -----------------------------------------------------------------------------------------


def _path(body: Any, dotted: str) -> Any:
    """`data.items` → body['data']['items']; '' → body. KeyError names the missing step."""
    node = body
    for step in [p for p in dotted.split(".") if p]:
        if not isinstance(node, dict) or step not in node:
            raise KeyError(step)
        node = node[step]
    return node


def _safe_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


def _with_params(url: str, extra: dict[str, str]) -> str:
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k not in extra]
    query.extend(extra.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _pages(h: HttpSource, url: str, headers: dict[str, str], fail: Any) -> Iterator[list[Any]]:
    p = h.pagination
    number = p.start if p.start is not None else (1 if p.style == "page" else 0)
    size = {p.size_param: str(p.size)} if p.size_param and p.size else {}
    next_url: str | None = url
    for page in range(1, h.max_pages + 2):
        if page > h.max_pages:
            raise fail("L211", f"more than max_pages {h.max_pages} pages", hint="raise http.max_pages")
        if p.style in ("page", "offset"):
            assert p.param is not None
            target = _with_params(url, {p.param: str(number), **size})
        else:
            assert next_url is not None
            target = _with_params(next_url, size) if size and page == 1 else next_url
        request = urllib.request.Request(target, headers={"Accept": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=h.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise fail(
                "L209", f"page {page}: HTTP {exc.code} {exc.reason} from {_safe_url(target)}"
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise fail(
                "L209", f"page {page}: cannot reach {_safe_url(target)}: {redact(str(reason))}"
            ) from None
        try:
            body = json.loads(raw, parse_float=decimal.Decimal)
        except ValueError:
            raise fail("L211", f"page {page}: the response is not JSON") from None
        try:
            records = _path(body, h.records)
        except KeyError as missing:
            keys = list(body) if isinstance(body, dict) else []
            raise fail(
                "L211",
                f"page {page}: no '{missing.args[0]}' in the response (http.records: '{h.records}')",
                hint=did_you_mean(str(missing.args[0]), keys),
            ) from None
        if not isinstance(records, list):
            raise fail("L211", f"page {page}: '{h.records or 'the body'}' is not a list of records")
        if p.style in ("page", "offset") and not records:
            return
        yield records
        if p.style == "none":
            return
        if p.style == "next_link":
            assert p.next is not None
            try:
                link = _path(body, p.next)
            except KeyError:
                link = None
            if not link:
                return
            next_url = urllib.parse.urljoin(target, str(link))
        else:
            number += 1 if p.style == "page" else len(records)


def fetch_http(plan: Plan, folder: Path, environ: dict[str, str] | None = None) -> Fetched:
    """All pages of records into a spool, the columns the spec names (dotted paths into a record)."""
    h = plan.spec.http
    assert h is not None
    source = plan.spec.source
    url = expand_env(h.url, source, environ)
    headers = {k: expand_env(v, source, environ) for k, v in h.headers.items()}
    display = _safe_url(url)

    def fail(code: str, message: str, **where: Any) -> LoadError:
        return LoadError(code, message, source=source, file=display, **where)

    spool = Spool(folder, display)
    wanted = plan.source_columns
    seen: set[str] = set()
    for page, records in enumerate(_pages(h, url, headers, fail), start=1):
        columns: dict[str, list[Any]] = {name: [] for name in wanted}
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise fail("L211", f"page {page}: record {i + 1} is not a JSON object")
            for name in wanted:
                try:
                    columns[name].append(_path(record, name))
                    seen.add(name)
                except KeyError:
                    columns[name].append(None)
        spool.add(columns)
    fetched = spool.finish()
    if fetched.rows:
        for name in wanted:
            if name not in seen:
                raise fail(
                    "L210",
                    f"no record has the field '{name}'",
                    column=name,
                    hint="the API's schema changed, or the spec's 'from' (a dotted path into a record)",
                )
    return fetched
