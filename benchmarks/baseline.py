"""The physical baseline: the same rows inserted with the raw driver, 500 per transaction.

It runs against a clone of the benchmark database (same `events` table, constraints, indexes and
customers), with the connection settings of `loyalty_engine.db` (SQLite: WAL, synchronous=NORMAL,
foreign keys on). Only the inserts are timed: no HTTP, no parsing, no ORM.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

INSERT = (
    "INSERT INTO events (customer_id, type, source, idempotency_key, occurred_at, received_at,"
    " properties) VALUES ({marks}) ON CONFLICT DO NOTHING"
)
Batch = Sequence[tuple[Any, ...]]


def insert_rows(
    kind: str, target: str, batches: Sequence[Batch], *, on_batch: Callable[[int], None]
) -> dict[str, Any]:
    """Insert every batch in its own transaction; rows per second and what was measured."""
    insert = _sqlite if kind == "sqlite" else _postgresql
    rows = sum(len(batch) for batch in batches)
    seconds, driver = insert(target, batches, on_batch)
    return {
        "driver": driver,
        "rows": rows,
        "rows_per_transaction": max(len(batch) for batch in batches),
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds),
    }


def _sqlite(
    path: str, batches: Sequence[Batch], on_batch: Callable[[int], None]
) -> tuple[float, str]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        sql = INSERT.format(marks=", ".join("?" * 7))
        started = time.perf_counter()
        for batch in batches:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, batch)
            conn.execute("COMMIT")
            on_batch(len(batch))
        return time.perf_counter() - started, f"sqlite3 {sqlite3.sqlite_version}"
    finally:
        conn.close()


def _postgresql(
    dsn: str, batches: Sequence[Batch], on_batch: Callable[[int], None]
) -> tuple[float, str]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        sql = INSERT.format(marks=", ".join(["%s"] * 6 + ["%s::jsonb"]))
        started = time.perf_counter()
        for batch in batches:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(sql, batch)
            on_batch(len(batch))
        return time.perf_counter() - started, f"psycopg {psycopg.__version__}"
