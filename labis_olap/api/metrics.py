"""`/metrics` in Prometheus' text format, and the counts of requests behind it.

Requests are counted by **route template** (`/cube/{cube}/aggregate`, never the URL: a URL
carries cut values, which can identify a person, and unbounded label values would grow the
scrape without end), method and status, with a latency histogram per route. Everything else is
read when scraped, so it costs a request nothing: the engine's query times (engine/base.py
`QueryTimes`), the result cache's hits and misses, the aggregate fast path's answers, and the
loads' batches, rows and rejects from the lineage table.

Each app has its own registry (tests make many apps in one process). Requests are counted
in the outermost layer (api/headers.py `SecurityHeaders`, which already sees every answer's
status): two clock reads, two dictionary updates and a bisect per request.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import Scope

if TYPE_CHECKING:
    from .state import AppState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNMATCHED = "unmatched"
"""The route label of a request no route matched (a 404 for any URL: one label for them all)."""
FAST_PATH_ROUTE = "/cube/{cube}/aggregate"
"""What the aggregate fast path answers (api/fastpath.py marks the scope with it)."""
ROUTE_KEY = "labis.route"


class Metrics:
    """The registry of one app: the request counts (kept here as plain numbers, turned into
    Prometheus families only when scraped) and the scrape-time collector of the rest."""

    def __init__(self, state: AppState) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests: dict[tuple[str, str, int], int] = {}
        """(route template, method, status) → requests answered."""
        self.latency: dict[str, list[float]] = {}
        """Route template → count per bucket of LATENCY_BUCKETS (the last: above all), then the
        sum of seconds."""
        self.registry.register(RequestCollector(self))
        self.registry.register(StateCollector(state))

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answer. Called on the event loop's thread only (the ASGI layer), so plain
        dictionaries need no lock, and cost a fraction of a prometheus_client Counter's and
        Histogram's locks and label look-ups (benchmarks/bench_metrics.py)."""
        key = (route, method, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        h = self.latency.get(route)
        if h is None:
            h = self.latency[route] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        h[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        h[-1] += seconds

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RequestCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "labis_http_requests",
            "HTTP requests answered, by route template, method and status",
            labels=["route", "method", "status"],
        )
        for (route, method, status), n in sorted(dict(self.metrics.requests).items()):
            requests.add_metric([route, method, str(status)], n)
        yield requests
        latency = HistogramMetricFamily(
            "labis_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route template",
            labels=["route"],
        )
        for route, h in sorted(dict(self.metrics.latency).items()):
            counts = list(h)
            buckets: list[tuple[str, float]] = []
            running = 0.0
            for bound, count in zip([*map(str, LATENCY_BUCKETS), "+Inf"], counts[:-1], strict=True):
                running += count
                buckets.append((bound, running))
            latency.add_metric([route], buckets, counts[-1])
        yield latency


def route_of(scope: Scope) -> str:
    """The template of the route that answered (set by FastAPI's router, or by the fast path)."""
    marked = scope.get(ROUTE_KEY)
    if marked is not None:
        return str(marked)
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class StateCollector(Collector):
    """What is read when scraped: engine time, the result cache, the fast path, the loads."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        state = self.state
        engine = state.opened_engine
        if engine is not None:
            bounds, counts, total = engine.times.snapshot()
            buckets, running = [], 0
            for bound, n in zip([*map(str, bounds), "+Inf"], counts, strict=True):
                running += n
                buckets.append((bound, running))
            h = HistogramMetricFamily(
                "labis_engine_query_duration_seconds", "Time the engine took per query (this process)"
            )
            h.add_metric([], buckets, total)
            yield h
            writes = CounterMetricFamily("labis_engine_writes", "Statements that may have changed data")
            writes.add_metric([], engine.writes)
            yield writes
        service = state.opened_service
        if service is not None:
            cache = service.cache
            hits = CounterMetricFamily("labis_cache_hits", "Aggregate answers served from the result cache")
            hits.add_metric([], cache.hits)
            yield hits
            misses = CounterMetricFamily("labis_cache_misses", "Aggregate look-ups the result cache missed")
            misses.add_metric([], cache.misses)
            yield misses
            size = GaugeMetricFamily("labis_cache_bytes", "Bytes the result cache holds")
            size.add_metric([], cache.size)
            yield size
        problems = GaugeMetricFamily("labis_storage_problems", "Problems the storage checks found at start")
        problems.add_metric([], len(state.problems))
        yield problems
        if engine is not None:
            yield from _loads(engine)


def _loads(engine: Any) -> Iterator[Metric]:
    """Batches by status, rows loaded and rejected, from the lineage (every loader's, on a server)."""
    from ..loaders.store import load_totals

    try:
        totals = load_totals(engine)
    except Exception:  # a scrape must not fail because the lineage cannot be read right now
        return
    batches = GaugeMetricFamily(
        "labis_load_batches", "Batches in the lineage by current status", labels=["status"]
    )
    rows = CounterMetricFamily("labis_load_rows", "Source rows of batches loaded (status ok)")
    rejects = CounterMetricFamily("labis_load_rejected_rows", "Source rows refused by loads' checks")
    accepted = rejected = 0
    for status, (n, ok_rows, bad_rows) in sorted(totals.items()):
        batches.add_metric([status], n)
        if status == "ok":
            accepted += ok_rows
        rejected += bad_rows
    rows.add_metric([], accepted)
    rejects.add_metric([], rejected)
    yield batches
    yield rows
    yield rejects
