"""A hostile corpus over every route and parameter of the OpenAPI document, and a small HTTP/1.1
client that sends it as raw bytes (invalid percent-escapes and all) over a few keep-alive
connections at once. Used by tests/test_hostile.py."""

from __future__ import annotations

import asyncio
import functools
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

SQL = [
    "'; DROP TABLE facts; --",
    "1 OR 1=1",
    "' OR '1'='1",
    '" OR ""="',
    "` OR 1 --",
    "1); SELECT * FROM system.users; --",
    "x UNION ALL SELECT name FROM system.tables",
    "sleep(3)",
    "1 SETTINGS max_execution_time=100000",
    "{x:String}",
    "{limit_seconds:Float64}",
    "{p0:UInt64}",
    "{{x}}",
    "$1",
    "%s",
    "?",
    "\\",
    "\\\\",
    "\\'",
    "'",
    '"',
    "`",
    "time:2024'",
    "time:'2024'",
    "territory:LV\\'00A",
    "time:2024|gender:M' OR '1'='1",
    "gender:M;F';--",
    "!time:2024@x:2024",
    "time@'x':2024",
    "territory@kind:state_city|time:{x:String}",
    "time:2020-2022-2024",
    "time:-",
    "time:;",
    "time:2024,",
    "time:,2024",
    "time:__null__",
    "gender:\\__null__",
    "!",
    "|",
    ":",
    ";",
    ",",
    "-",
    "@",
    "time:desc:asc",
    "gender:sideways",
    "registered_unemployed|'",
]
TRAVERSAL = [
    "../",
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/etc/passwd",
    "....//....//etc/passwd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "file:///etc/passwd",
    "model/../../../etc/passwd",
]
CONTROL = [
    "\x00",
    "a\x00b",
    "\x1b[31mred",
    "\r\nX-Injected: 1",
    "\t",
    "\u202e",
    "\ufeff",
    "\U0001f600",
    "Ā" * 50,
    "\udcff",
]
NUMBERS = [
    "-1",
    "0",
    "-9223372036854775809",
    "18446744073709551616",
    "99999999999999999999999999999",
    "1e308",
    "NaN",
    "inf",
    "0x10",
    "1.5",
    " 1",
    "true",
    "",
]
HUGE = [
    "x" * 10_001,
    "time:" + "9" * 5_000,
    "|" * 5_000,
    ";" * 9_000,
    "\\" * 4_999,
    "time:" + ";".join(str(i) for i in range(2_000)),
    "|".join(["time:2024"] * 999),
    "a" * 100_000,
]
JSON_VALUES = [
    "{",
    "[]",
    "null",
    "1",
    '{"queries": 1}',
    '{"queries": {"a": {"query": "aggregate", "cut": "\'"}}}',
    '{"queries": {"a": {"query": "facts", "pagesize": -1}}}',
    '{"queries": {"a": {"query": "fact", "id": "../../etc/passwd"}}}',
    '{"queries": {"a": {"query": "members", "dimension": "{x:String}"}}}',
    '{"queries": {"a": {"query": "aggregate", "page": 1e400}}}',
    '{"queries": {"a": {"query": "aggregate", "drilldown": ["a", 1, null]}}}',
    '{"queries": {"a": {"query": "aggregate"}}, "cell": [{"dimension": "time", "type": "x"}]}',
    '{"queries": {"a": {"query": "aggregate"}}, "cell": [{"dimension": "time", "path": [[]]}]}',
    "[" * 50_000 + "]" * 50_000,
    '{"a":' * 20_000 + "1" + "}" * 20_000,
]
RAW = ["%FF", "%C3%28", "%ED%A0%80", "%", "%G1", "%%", "%00", "%F0%9F%98", "%E2%80%AE", "%0D%0A"]
"""Escapes put into a query string as they are (invalid UTF-8 and malformed escapes)."""

VALUES = SQL + TRAVERSAL + CONTROL + NUMBERS + HUGE + JSON_VALUES
PATH_VALUES = (
    SQL + TRAVERSAL + CONTROL + NUMBERS[:6] + ["x" * 300, "unemployment", "unemployment/../pensions"]
)
LEAKS = [
    "db::exception",
    "code: ",
    "select ",
    " from ",
    "traceback",
    'file "',
    "site-packages",
    "labis_olap/",
]
"""What an error body must never show (unless the request itself sent it, as an echo)."""


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    body: bytes = b""
    api_key: str | None = None
    """Sent as `X-API-Key` (None: the request has no credentials, the public's)."""

    def raw(self) -> bytes:
        head = f"{self.method} {self.target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if self.api_key is not None:
            head += f"X-API-Key: {self.api_key}\r\n"
        if self.body or self.method == "POST":
            head += f"Content-Type: application/json\r\nContent-Length: {len(self.body)}\r\n"
        return head.encode("latin-1") + b"\r\n" + self.body


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def routes(openapi: dict[str, Any]) -> list[tuple[str, str, list[str], list[str]]]:
    """(method, path template, path parameters, query parameters) of every operation."""
    out = []
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            params = op.get("parameters", [])
            out.append(
                (
                    method.upper(),
                    path,
                    [p["name"] for p in params if p["in"] == "path"],
                    [p["name"] for p in params if p["in"] == "query"],
                )
            )
    return out


@functools.cache
def _enc(value: str) -> str:
    return quote(value, safe="", errors="surrogatepass")


def _fill(path: str, names: list[str], rng: random.Random, hostile: str | None) -> str:
    defaults = {"cube": "unemployment", "dimension": "territory", "fact_id": "1", "indicator": "x"}
    for name in names:
        value = hostile if hostile is not None and rng.random() < 0.7 else defaults.get(name, "x")
        path = path.replace("{" + name + "}", _enc(value))
    return re.sub(r"\{[^}]+\}", "x", path)


def corpus(openapi: dict[str, Any], n: int, seed: int = 0) -> Iterator[Request]:
    """`n` hostile requests over every route: one bad parameter at a time first (every route ×
    parameter × value), then random mixes, repeats, raw escapes, traversal paths and bodies."""
    rng = random.Random(seed)
    ops = routes(openapi)
    made = 0

    def query(pairs: list[tuple[str, str]], raw: bool = False) -> str:
        return "&".join(f"{_enc(k)}={v if raw else _enc(v)}" for k, v in pairs)

    systematic: list[Request] = []
    for method, path, path_names, query_names in ops:
        for value in PATH_VALUES:
            if path_names:
                systematic.append(Request(method, _fill(path, path_names, rng, value)))
        for name in query_names:
            for value in VALUES:
                target = _fill(path, path_names, rng, None) + "?" + query([(name, value)])
                systematic.append(Request(method, target, _body(method, rng)))
            for raw in RAW:
                target = (
                    _fill(path, path_names, rng, None) + "?" + query([(name, "time:2024" + raw)], raw=True)
                )
                systematic.append(Request(method, target, _body(method, rng)))
    for r in systematic:
        if made >= n:
            return
        made += 1
        yield r
    extra_paths = [
        "/browser/static/../../../../etc/passwd",
        "/browser/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/browser/static/..%2F..%2F..%2Fetc%2Fpasswd",
        "/cube/..%2F..%2Fetc%2Fpasswd/aggregate",
        "//etc/passwd",
        "/cube/unemployment/aggregate/../../../../etc/passwd",
        "/%00",
        "/cube/%FF/aggregate",
        "/cube/unemployment%00/aggregate",
    ]
    while made < n:
        method, path, path_names, query_names = rng.choice(ops)
        kind = rng.random()
        if kind < 0.05:
            yield Request("GET", rng.choice(extra_paths))
        elif kind < 0.15 and query_names:  # repeated parameters
            name = rng.choice(query_names)
            pairs = [(name, rng.choice(VALUES)) for _ in range(rng.randint(2, 20))]
            yield Request(method, _fill(path, path_names, rng, None) + "?" + query(pairs), _body(method, rng))
        elif kind < 0.25 and query_names:  # raw escapes in a value
            pairs = [(rng.choice(query_names), rng.choice(RAW) + rng.choice(["", "time:2024", "x"]))]
            target = _fill(path, path_names, rng, None) + "?" + query(pairs, raw=True)
            yield Request(method, target, _body(method, rng))
        else:  # a mix of bad parameters, and unknown ones
            names = [*query_names, "unknown", "cut", "format"]
            pairs = [(rng.choice(names), rng.choice(VALUES)) for _ in range(rng.randint(1, 5))]
            hostile = rng.choice(PATH_VALUES) if rng.random() < 0.3 else None
            yield Request(
                method, _fill(path, path_names, rng, hostile) + "?" + query(pairs), _body(method, rng)
            )
        made += 1


def _body(method: str, rng: random.Random) -> bytes:
    if method != "POST":
        return b""
    if rng.random() < 0.5:
        return rng.choice(JSON_VALUES).encode("utf-8", "surrogatepass")
    value = rng.choice(VALUES)
    key = rng.choice(
        ["cut", "drilldown", "aggregates", "order", "fields", "dimension", "id", "page", "query"]
    )
    q: dict[str, Any] = {"query": rng.choice(["aggregate", "facts", "fact", "members", "cell"]), key: value}
    doc = {
        "queries": {rng.choice(["a", value[:50]]): q},
        "cell": rng.choice([None, value, [{"dimension": value}]]),
    }
    return json.dumps(doc).encode("utf-8", "surrogatepass")


async def _read(reader: asyncio.StreamReader) -> Answer:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        body = b"".join(p[:-2] for p in parts)
    else:
        body = await reader.read()
    return Answer(status, headers, body)


async def send_all(
    host: str, port: int, requests: list[Request], clients: int = 6
) -> list[tuple[Request, Answer]]:
    """Every request's answer, over `clients` keep-alive connections (reopened when closed)."""
    queue: asyncio.Queue[Request] = asyncio.Queue()
    for r in requests:
        queue.put_nowait(r)
    out: list[tuple[Request, Answer]] = []

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while not queue.empty():
            r = queue.get_nowait()
            for attempt in range(3):
                try:
                    writer.write(r.raw())
                    await writer.drain()
                    answer = await _read(reader)
                    break
                except (ConnectionError, asyncio.IncompleteReadError):
                    writer.close()
                    if attempt == 2:
                        raise
                    reader, writer = await asyncio.open_connection(host, port)
            out.append((r, answer))
            if answer.headers.get("connection") == "close":
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
        writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return out


def soap_client_fault(path: str, status: int, content_type: str, body: bytes) -> bool:
    """XMLA's answer to a bad request: SOAP 1.1 sends every Fault with HTTP 500, so a 500 from
    /xmla is the client's error when it is a Fault that is not the server's own failure."""
    return (
        path.split("?")[0] == "/xmla"
        and status == 500
        and content_type.startswith("text/xml")
        and b"<soap:Fault>" in body
        and b"internal error" not in body
    )


def problems(pairs: list[tuple[Request, Answer]]) -> list[str]:
    """Answers that are 5xx (but XMLA's Faults for bad requests), not the JSON error shape, or
    that leak what they must not."""
    found = []
    for r, a in pairs:
        where = f"{r.method} {r.target[:150]} -> {a.status}: {a.body[:200]!r}"
        if soap_client_fault(r.target, a.status, a.headers.get("content-type", ""), a.body):
            continue
        if a.status >= 500:
            found.append(where)
            continue
        if a.status < 400:
            continue
        text = a.body.decode("utf-8", "replace")
        if a.headers.get("content-type", "").startswith("application/json"):
            body = json.loads(text)
            if not (isinstance(body, dict) and {"error", "message"} <= set(body)):
                found.append("not the error shape: " + where)
        low = text.lower()
        leaks = [m for m in LEAKS if m in low]
        if leaks:  # an echo of what the request itself sent is no leak
            sent = r.body.decode("utf-8", "replace")
            asked = " ".join([unquote(r.target, errors="replace"), unquote_plus(r.target, errors="replace")])
            asked = (asked + sent + json.dumps(sent)).lower()
            leaks = [m for m in leaks if m not in asked]
        if leaks:
            found.append(f"leaks {leaks}: {where}")
    return found
