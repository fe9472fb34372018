"""Scenario `segments`: a segment count over N customers through the product path (the function
behind `GET /v1/segments/{key}/count`), against a hand-written SQL count of the same predicate
with the raw driver, in the same run and on the same scratch database.

The customers are loaded with the raw driver (executemany on SQLite, COPY on PostgreSQL) into a
migrated scratch database, which is then analyzed. The predicate is representative of a segment:
plan in a list, seats at least a number, and subscribed less than a year before `now`. Both
counts run warm, alternately, several times; the figures are medians.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.progress import Progress
from sqlalchemy import make_url, text

from benchmarks.environment import machine, progress
from loyalty_engine import migrations
from loyalty_engine.clock import SystemClock
from loyalty_engine.db import make_engine, session_scope
from loyalty_engine.rules.customer_facts import customer_resolver
from loyalty_engine.rules.parse import parse
from loyalty_engine.rules.sqlcompile import compile_sql_filter
from loyalty_engine.segments.membership import CUSTOMERS, count_where
from loyalty_engine.segments.schemas import SegmentCreate
from loyalty_engine.segments.service import count_members, create_segment

KEY = "bench-segment"
PLANS = {"starter": 40, "growth": 35, "scale": 17, "enterprise": 8}
CHOSEN_PLANS = ("growth", "scale", "enterprise")
MIN_SEATS = 25
YEAR = 365 * 86_400
CONDITION = {
    "and": [
        {"in": [{"var": "customer.plan"}, list(CHOSEN_PLANS)]},
        {">=": [{"var": "customer.seats"}, MIN_SEATS]},
        {"<": [{"-": [{"var": "now"}, {"var": "customer.subscription_started_at"}]}, YEAR]},
    ]
}
# What a person would write for the same predicate: `now - started < a year` is `started > now -
# a year` (a customer who never subscribed is in neither), and NULL seats fail `>=` in both.
RAW_SQL = (
    "SELECT count(*) FROM customers WHERE plan IN ('growth', 'scale', 'enterprise')"
    f" AND seats >= {MIN_SEATS} AND subscription_started_at > {{mark}}"
)
REPEATS = 7
CHUNK = 50_000
MAX_RATIO = 1.5  # the target, on SQLite and PostgreSQL
COLUMNS = (
    "external_id",
    "plan",
    "seats",
    "subscription_started_at",
    "custom_traits",
    "trait_times",
    "lifecycle_stage",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class Scratch:
    kind: str  # "sqlite" or "postgresql"
    version: str
    url: str  # for the product (SQLAlchemy)
    raw: str  # for the raw driver: a file path, or a libpq DSN


def run(*, customers: int, show_progress: bool, database_url: str | None) -> dict[str, Any]:
    """One whole run; the report as one JSON-ready object."""
    now = SystemClock().now().replace(microsecond=0)
    before = machine()
    with (
        tempfile.TemporaryDirectory(prefix="loyalty-bench-segments-") as tmp,
        progress(show=show_progress) as bar,
        scratch_database(database_url, Path(tmp)) as db,
    ):
        load = load_customers(db, customers, now, bar)
        save_segment(db, now)
        measured = _measure(db, now, bar)
    return _report(db, customers, load, measured, before)


# --- the scratch database ---


@contextmanager
def scratch_database(server_url: str | None, workdir: Path) -> Iterator[Scratch]:
    """A migrated SQLite file in `workdir`, or a scratch database on that PostgreSQL server
    (dropped afterwards)."""
    if server_url is None:
        path = workdir / "segments.db"
        _migrate(f"sqlite:///{path}")
        yield Scratch("sqlite", sqlite3.sqlite_version, f"sqlite:///{path}", str(path))
        return
    if not server_url.startswith("postgresql"):
        raise ValueError(
            "--database-url names a PostgreSQL server (postgresql+psycopg://...); "
            "SQLite runs are always in a temporary folder"
        )
    if server_url.startswith("postgresql://"):
        server_url = "postgresql+psycopg://" + server_url.removeprefix("postgresql://")
    name = f"loyalty_bench_segments_{secrets.token_hex(4)}"
    admin = make_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    target = make_url(server_url).set(database=name)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            version = str(conn.execute(text("SHOW server_version")).scalar_one())
        url = target.render_as_string(hide_password=False)
        _migrate(url)
        dsn = target.set(drivername="postgresql").render_as_string(hide_password=False)
        yield Scratch("postgresql", version, url, dsn)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        migrations.upgrade(engine)
    finally:
        engine.dispose()


# --- loading customers with the raw driver ---


def customer_rows(count: int, now: datetime, *, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    """Deterministic customers: plans by weight, 1..500 seats (a few unknown), subscribed within
    the last three years (a tenth never did)."""
    rng = random.Random(seed)
    plans, weights = list(PLANS), list(PLANS.values())
    empty = "{}"
    for n in range(count):
        started = None
        if rng.random() >= 0.1:
            started = now - timedelta(seconds=rng.randrange(3 * YEAR))
        seats = rng.randint(1, 500) if rng.random() >= 0.02 else None
        plan = rng.choices(plans, weights)[0]
        yield (f"bench-{n:07d}", plan, seats, started, empty, empty, "purchase", now, now)


def load_customers(db: Scratch, count: int, now: datetime, bar: Progress) -> dict[str, Any]:
    task = bar.add_task("customers (raw driver)", total=count)
    started = time.perf_counter()
    load = _load_sqlite if db.kind == "sqlite" else _load_postgresql
    load(db.raw, customer_rows(count, now), lambda n: bar.advance(task, n))
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "rows_per_s": round(count / seconds)}


def _load_sqlite(
    path: str, rows: Iterator[tuple[Any, ...]], advance: Callable[[int], None]
) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        insert = f"INSERT INTO customers ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * 9)})"
        for chunk in _chunks(rows):
            conn.execute("BEGIN")
            conn.executemany(insert, [_sqlite_row(row) for row in chunk])
            conn.execute("COMMIT")
            advance(len(chunk))
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Instants as SQLAlchemy stores them on SQLite (naive UTC text)."""
    return tuple(_sqlite_instant(v) if isinstance(v, datetime) else v for v in row)


def _sqlite_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _load_postgresql(
    dsn: str, rows: Iterator[tuple[Any, ...]], advance: Callable[[int], None]
) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for chunk in _chunks(rows):
            with conn.transaction(), conn.cursor() as cur:
                copy_sql = f"COPY customers ({', '.join(COLUMNS)}) FROM STDIN"
                with cur.copy(copy_sql) as copy:
                    for row in chunk:
                        copy.write_row(row)
            advance(len(chunk))
        conn.execute("VACUUM ANALYZE customers")


def _chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- the two counts ---


def save_segment(db: Scratch, now: datetime) -> None:
    """Through the segment service, as `POST /v1/segments` saves it (checked, audited)."""
    engine = make_engine(db.url)
    try:
        body = SegmentCreate(key=KEY, name="Bench segment", condition=CONDITION)
        with session_scope(engine, write=True) as session:
            create_segment(session, body=body, actor="bench", now=now)
    finally:
        engine.dispose()


def _measure(db: Scratch, now: datetime, bar: Progress) -> dict[str, Any]:
    """Warm each count up, then run them in turn REPEATS times; each run's wall time in ms."""
    engine = make_engine(db.url)
    raw = RawCount(db, now)
    task = bar.add_task("counts (product, raw, ...)", total=REPEATS + 1)
    try:

        def product() -> int:
            with session_scope(engine, write=False) as session:
                return count_members(session, key=KEY, now=now)

        def general() -> int:
            """Context: the compiler's translation of the whole condition, without the instant
            ranges the product uses (epoch seconds computed for every row)."""
            resolver = customer_resolver(CUSTOMERS, now=now)
            where = compile_sql_filter(parse(CONDITION), resolver)
            with session_scope(engine, write=False) as session:
                return count_where(session, where)

        runs: dict[str, Callable[[], int]] = {"product": product, "raw": raw, "general": general}
        times: dict[str, list[float]] = {name: [] for name in runs}
        counts = {name: count() for name, count in runs.items()}
        bar.advance(task)
        for _ in range(REPEATS):
            for name, count in runs.items():
                started = time.perf_counter()
                found = count()
                times[name].append((time.perf_counter() - started) * 1000)
                if found != counts[name]:
                    raise RuntimeError(f"{name} count changed between runs")
            bar.advance(task)
        return {"times": times, "counts": counts}
    finally:
        raw.close()
        engine.dispose()


class RawCount:
    """The hand-written count, on one open connection of the raw driver."""

    def __init__(self, db: Scratch, now: datetime) -> None:
        since = now - timedelta(seconds=YEAR)
        self.conn: Any
        self.params: tuple[Any, ...]
        if db.kind == "sqlite":
            self.conn = sqlite3.connect(db.raw, isolation_level=None)
            self.sql, self.params = RAW_SQL.format(mark="?"), (_sqlite_instant(since),)
        else:
            import psycopg

            self.conn = psycopg.connect(db.raw, autocommit=True)
            self.sql, self.params = RAW_SQL.format(mark="%s"), (since,)

    def __call__(self) -> int:
        return int(self.conn.execute(self.sql, self.params).fetchone()[0])

    def close(self) -> None:
        self.conn.close()


# --- the report ---


def _report(
    db: Scratch,
    customers: int,
    load: dict[str, Any],
    measured: dict[str, Any],
    before: dict[str, object],
) -> dict[str, Any]:
    product, raw, general = (
        _figures(measured["times"][n], measured["counts"][n]) for n in ("product", "raw", "general")
    )
    ratio = round(product["median_ms"] / raw["median_ms"], 3)
    agree = product["count"] == raw["count"] == general["count"]
    targets = {
        "ratio": {
            "actual": ratio,
            "target": MAX_RATIO,
            "comparison": "<=",
            "target_met": ratio <= MAX_RATIO,
        },
        "counts_agree": {"actual": agree, "target": True, "comparison": "==", "target_met": agree},
    }
    return {
        "scenario": "segments",
        "database": db.kind,
        "database_version": db.version,
        "setup": {
            "customers": customers,
            "condition": json.loads(json.dumps(CONDITION)),
            "raw_sql": RAW_SQL.format(mark=":since"),
            "repeats": REPEATS,
            "product_path": "loyalty_engine.segments.service.count_members (GET /count), "
            "one read session per count",
            "raw_path": "the raw driver (sqlite3 / psycopg) on one open connection",
            "load": load,
        },
        "product": product,
        "raw": raw,
        "ratio": ratio,
        "targets": targets,
        "target_met": all(t["target_met"] for t in targets.values()),
        "context": {
            "general_translation": {
                **general,
                "ratio": round(general["median_ms"] / raw["median_ms"], 3),
                "what": "the whole condition through the rules compiler, instants as epoch "
                "seconds per row (what the product did before instant ranges)",
            }
        },
        "machine": {**before, "load_avg_1m_after": round(os.getloadavg()[0], 2)},
    }


def _figures(times: list[float], count: int) -> dict[str, Any]:
    return {
        "count": count,
        "median_ms": round(statistics.median(times), 2),
        "min_ms": round(min(times), 2),
        "runs_ms": [round(t, 2) for t in times],
    }
