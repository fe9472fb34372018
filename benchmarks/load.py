"""The load generator: pre-built request bodies sent by N workers over N keep-alive connections."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import httpx2 as httpx
import orjson

T = TypeVar("T")


@dataclass
class PhaseResult:
    """What one phase sent, what the server accepted, and each request's latency."""

    connections: int
    requests: int = 0
    events_sent: int = 0
    events_accepted: int = 0
    errors: int = 0
    first_error: str | None = None
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def latency(self) -> dict[str, float]:
        ordered = sorted(self.latencies_ms)
        return {
            "p50_ms": round(percentile(ordered, 50), 2),
            "p90_ms": round(percentile(ordered, 90), 2),
            "p99_ms": round(percentile(ordered, 99), 2),
            "max_ms": round(ordered[-1], 2) if ordered else 0.0,
        }


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending sequence (0.0 when empty)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def post_events(
    base_url: str,
    api_key: str,
    bodies: Sequence[tuple[int, bytes]],
    *,
    connections: int,
    on_sent: Callable[[int], None] = lambda _: None,
    rate_per_s: float | None = None,
) -> PhaseResult:
    """POST every `(event count, body)` to /v1/events from `connections` concurrent workers.

    With `rate_per_s`, requests are offered on a fixed schedule (open loop) instead of as fast
    as answers come back, and each latency counts from the request's scheduled time, so a
    server that falls behind is charged for the queue it causes (no coordinated omission).
    """

    async def post(
        client: httpx.AsyncClient, job: tuple[float, tuple[int, bytes]], result: PhaseResult
    ) -> None:
        due, (count, body) = job
        response = await _timed(client.post("/v1/events", content=body), result, since=due)
        if response is not None:
            result.events_sent += count
            _check(response, result)
        on_sent(count)

    return asyncio.run(_drive(base_url, api_key, bodies, connections, post, rate_per_s))


def get_repeatedly(base_url: str, path: str, *, requests: int, connections: int) -> PhaseResult:
    """GET `path` `requests` times from `connections` workers: the HTTP floor of this machine."""

    async def get(client: httpx.AsyncClient, job: tuple[float, int], result: PhaseResult) -> None:
        response = await _timed(client.get(path), result, since=job[0])
        if response is not None and response.status_code != 200:
            _failed(result, f"HTTP {response.status_code}: {response.text[:300]}")

    return asyncio.run(_drive(base_url, None, range(requests), connections, get))


async def _drive(
    base_url: str,
    api_key: str | None,
    jobs: Iterable[T],
    connections: int,
    call: Callable[[httpx.AsyncClient, tuple[float, T], PhaseResult], Awaitable[None]],
    rate_per_s: float | None = None,
) -> PhaseResult:
    """`connections` workers share the jobs; each worker has its own keep-alive connection.

    Each job is handed over with its due time: now (closed loop), or its slot on a fixed
    schedule of `rate_per_s` (open loop), which the worker waits for before sending.
    """
    result = PhaseResult(connections=connections)
    pending = enumerate(jobs)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"content-type": "application/json"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=120.0
    ) as client:

        async def worker() -> None:
            for n, job in pending:
                due = time.perf_counter() if rate_per_s is None else started + n / rate_per_s
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                await call(client, (due, job), result)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        result.seconds = time.perf_counter() - started
    return result


async def _timed(
    request: Awaitable[httpx.Response], result: PhaseResult, *, since: float
) -> httpx.Response | None:
    started = since
    try:
        response = await request
    except httpx.TransportError as exc:
        _failed(result, f"{type(exc).__name__}: {exc}")
        return None
    result.latencies_ms.append((time.perf_counter() - started) * 1000)
    result.requests += 1
    return response


def _check(response: httpx.Response, result: PhaseResult) -> None:
    if response.status_code != 200:
        _failed(result, f"HTTP {response.status_code}: {response.text[:300]}")
        return
    result.events_accepted += int(orjson.loads(response.content)["accepted"])


def _failed(result: PhaseResult, message: str) -> None:
    result.errors += 1
    result.first_error = result.first_error or message


@dataclass(frozen=True)
class Call:
    """One request of a phase: method, path, JSON body (pre-encoded) and extra headers."""

    method: str
    path: str
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()


def send(
    base_url: str,
    api_key: str | None,
    calls: Sequence[Call],
    *,
    connections: int,
    ok: frozenset[int] = frozenset({200, 201}),
    statuses: dict[int, int] | None = None,
    rate_per_s: float | None = None,
) -> PhaseResult:
    """Send every call from `connections` workers (closed loop, or paced at `rate_per_s`);
    answers outside `ok` count as errors; every status is tallied into `statuses`."""
    tally = statuses if statuses is not None else {}

    async def call(client: httpx.AsyncClient, job: tuple[float, Call], result: PhaseResult) -> None:
        due, request = job
        response = await _timed(
            client.request(
                request.method, request.path, content=request.body, headers=dict(request.headers)
            ),
            result,
            since=due,
        )
        if response is None:
            return
        tally[response.status_code] = tally.get(response.status_code, 0) + 1
        if response.status_code not in ok:
            _failed(result, f"HTTP {response.status_code}: {response.text[:300]}")

    return asyncio.run(_drive(base_url, api_key, calls, connections, call, rate_per_s))
