"""Prometheus metrics: HTTP traffic, ingest outcomes, outbox deliveries and the scheduler leader."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "loyalty_http_requests_total",
    "HTTP requests by route template and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "loyalty_http_request_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EVENTS_INGESTED = Counter("loyalty_events_ingested_total", "Events by ingest outcome", ["outcome"])
OUTBOX_DELIVERIES = Counter(
    "loyalty_outbox_deliveries_total",
    "Outbox delivery attempts by kind and outcome",
    ["kind", "outcome"],
)
OUTBOX_MESSAGES = Gauge("loyalty_outbox_messages", "Outbox messages by status", ["status"])
SCHEDULER_LEADER = Gauge("loyalty_scheduler_leader", "1 while this process is the scheduler leader")


class MetricsMiddleware:
    """Counts and times every request by its route template (not its raw path)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)
