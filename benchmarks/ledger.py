"""Scenarios `reads` and `redeem`: the ledger over the real HTTP server.

`reads`: GET /v1/customers/{id}/balances at 32 connections, against the same read as a bare
FastAPI endpoint over the raw driver (benchmarks/raw_reads.py) served the same way, in the same
run; then both paced at half the engine's capacity, for the latency a calm server gives.
`redeem`: 1-point redemptions with idempotency keys (one in ten a replay) at 32 connections,
then every account's balance is proven against its entries.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from rich.progress import Progress
from sqlalchemy import select

from benchmarks.database import BenchDatabase, bench_database
from benchmarks.environment import machine, progress
from benchmarks.load import Call, PhaseResult, send
from benchmarks.payloads import customer_external_id
from benchmarks.server import running_server
from loyalty_engine.auth import service as auth
from loyalty_engine.auth.models import Role
from loyalty_engine.clock import SystemClock
from loyalty_engine.db import make_engine, session_scope
from rewards import service as ledger
from rewards.models import SourceKind
from rewards.postings import ACCOUNTS

CONNECTIONS = 32
WARMUP = 300
PACED_SHARE = 0.5
PACED_SECONDS = 8
POINTS_EACH = 10_000
# The targets.
MIN_READ_RATIO = 0.5
MAX_READ_P99_MS = 10.0


def run_reads(
    *, requests: int, customers: int, show_progress: bool, database_url: str | None
) -> dict[str, Any]:
    with _funded(database_url, customers, show_progress) as (db, key, tmp, bar):
        calls = [
            Call("GET", f"/v1/customers/{customer_external_id(n % customers)}/balances")
            for n in range(requests)
        ]
        raw_calls = [
            Call("GET", f"/balances/{customer_external_id(n % customers)}") for n in range(requests)
        ]
        step = bar.add_task("reads: engine, then raw", total=4)
        with running_server(db.url, log_path=tmp / "server.log") as server:
            send(server.base_url, key, calls[:WARMUP], connections=CONNECTIONS)
            engine = send(server.base_url, key, calls, connections=CONNECTIONS)
            bar.advance(step)
            rate = engine.requests / engine.seconds * PACED_SHARE
            paced = send(
                server.base_url,
                key,
                calls[: int(rate * PACED_SECONDS)],
                connections=CONNECTIONS,
                rate_per_s=rate,
            )
            bar.advance(step)
        with running_server(
            db.url, log_path=tmp / "raw.log", app="benchmarks.raw_reads:app"
        ) as raw_server:
            send(raw_server.base_url, None, raw_calls[:WARMUP], connections=CONNECTIONS)
            raw = send(raw_server.base_url, None, raw_calls, connections=CONNECTIONS)
            bar.advance(step)
            raw_paced = send(
                raw_server.base_url,
                None,
                raw_calls[: int(rate * PACED_SECONDS)],
                connections=CONNECTIONS,
                rate_per_s=rate,
            )
            bar.advance(step)
    engine_rate, raw_rate = _rate(engine), _rate(raw)
    return {
        "scenario": "reads",
        "database": {"kind": db.kind, "version": db.version},
        "machine": machine(),
        "customers": customers,
        "connections": CONNECTIONS,
        "engine": _phase(engine),
        "raw": _phase(raw),
        "ratio": round(engine_rate / raw_rate, 3) if raw_rate else None,
        "paced": {
            "offered_per_s": round(rate),
            "engine": _phase(paced),
            "raw": _phase(raw_paced),
        },
        "targets": {
            "min_ratio": MIN_READ_RATIO,
            "max_p99_ms": MAX_READ_P99_MS,
            "ratio_met": raw_rate > 0 and engine_rate / raw_rate >= MIN_READ_RATIO,
            "p99_met_closed_loop": engine.latency()["p99_ms"] <= MAX_READ_P99_MS,
            "p99_met_paced": paced.latency()["p99_ms"] <= MAX_READ_P99_MS,
        },
    }


def run_redeem(
    *, requests: int, customers: int, show_progress: bool, database_url: str | None
) -> dict[str, Any]:
    with _funded(database_url, customers, show_progress) as (db, key, tmp, bar):
        run_id = secrets.token_hex(4)
        calls = []
        for n in range(requests):
            # One call in ten repeats the previous one's key: a client retry, answered 200.
            number = n - 1 if n % 10 == 9 else n
            calls.append(
                Call(
                    "POST",
                    f"/v1/customers/{customer_external_id(number % customers)}/redemptions",
                    orjson.dumps({"amount": 1, "reason": "bench"}),
                    (
                        ("idempotency-key", f"{run_id}-{number}"),
                        ("content-type", "application/json"),
                    ),
                )
            )
        step = bar.add_task("redemptions", total=1)
        statuses: dict[int, int] = {}
        with running_server(db.url, log_path=tmp / "server.log") as server:
            warm = [
                Call(c.method, c.path, c.body, (("idempotency-key", f"warm-{i}"), *c.headers[1:]))
                for i, c in enumerate(calls[:WARMUP])
            ]
            send(server.base_url, key, warm, connections=CONNECTIONS)
            result = send(server.base_url, key, calls, connections=CONNECTIONS, statuses=statuses)
            bar.advance(step)
        check = _check_ledger(db, spent_expected=statuses.get(201, 0) + min(WARMUP, requests))
    return {
        "scenario": "redeem",
        "database": {"kind": db.kind, "version": db.version},
        "machine": machine(),
        "customers": customers,
        "connections": CONNECTIONS,
        "redemptions": _phase(result),
        "redemptions_per_s": round(_rate(result)),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "ledger_check": check,
    }


@contextmanager
def _funded(
    database_url: str | None, customers: int, show_progress: bool
) -> Iterator[tuple[BenchDatabase, str, Path, Progress]]:
    """A bench database whose customers each hold points in three lots; a billing key."""
    now = SystemClock().now()
    with (
        tempfile.TemporaryDirectory(prefix="loyalty-bench-") as tmp,
        progress(show=show_progress) as bar,
        bench_database(database_url, workdir=Path(tmp), customers=customers, now=now) as db,
    ):
        step = bar.add_task("points for each customer", total=customers)
        engine = make_engine(db.url)
        try:
            with session_scope(engine, write=True) as session:
                for external_id, customer_id in db.customer_pks.items():
                    for lot, days in enumerate((30, 90, 365)):
                        ledger.grant(
                            session,
                            customer_id=customer_id,
                            unit="points",
                            amount=POINTS_EACH // 3,
                            reason="bench",
                            source_kind=SourceKind.ADJUSTMENT,
                            source_ref=f"bench:{external_id}:{lot}",
                            now=now,
                            expires_at=now + timedelta(days=days),
                        )
                    bar.advance(step)
                _, key = auth.create_api_key(session, name="bench", role=Role.BILLING, now=now)
        finally:
            engine.dispose()
        yield db, key, Path(tmp), bar


def _check_ledger(db: BenchDatabase, *, spent_expected: int) -> dict[str, Any]:
    """Every account's balance row equals the sum of its entries and its lots add up."""
    engine = make_engine(db.url)
    try:
        with session_scope(engine, write=False) as session:
            accounts = list(session.execute(select(ACCOUNTS.c.id, ACCOUNTS.c.available)).all())
            problems = sum(1 for a in accounts if not ledger.check_account(session, a.id))
            granted = len(accounts) * (POINTS_EACH // 3) * 3
            spent = granted - sum(int(a.available) for a in accounts)
    finally:
        engine.dispose()
    return {
        "accounts": len(accounts),
        "accounts_with_problems": problems,
        "points_spent": spent,
        "successful_redemptions": spent_expected,
        "ok": problems == 0 and spent == spent_expected,
    }


def _rate(result: PhaseResult) -> float:
    return result.requests / result.seconds if result.seconds else 0.0


def _phase(result: PhaseResult) -> dict[str, Any]:
    return {
        "requests": result.requests,
        "errors": result.errors,
        "first_error": result.first_error,
        "seconds": round(result.seconds, 3),
        "requests_per_s": round(_rate(result)),
        **result.latency(),
    }
