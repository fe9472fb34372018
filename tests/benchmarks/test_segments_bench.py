"""`loyalty bench segments` runs end to end on a small population, on SQLite and PostgreSQL, and
its two counts of the same predicate agree."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from benchmarks import segments
from benchmarks.environment import progress
from loyalty_engine.db import make_engine, session_scope
from loyalty_engine.segments.service import count_members
from tests import pg

LOYALTY = str(Path(sys.executable).parent / "loyalty")
KEYS = {"scenario", "database", "database_version", "setup", "product", "raw", "ratio"}


def check(report: dict[str, Any], database: str, customers: int) -> None:
    assert set(report) >= KEYS
    assert (report["scenario"], report["database"]) == ("segments", database)
    assert report["setup"]["customers"] == customers
    product, raw = report["product"], report["raw"]
    assert product["count"] == raw["count"] > 0
    assert len(product["runs_ms"]) == len(raw["runs_ms"]) == segments.REPEATS
    assert report["ratio"] == round(product["median_ms"] / raw["median_ms"], 3)
    assert set(report["targets"]) == {"ratio", "counts_agree"}
    assert report["targets"]["counts_agree"]["target_met"] is True
    assert report["target_met"] == (report["ratio"] <= segments.MAX_RATIO)
    assert report["context"]["general_translation"]["count"] == raw["count"]


def test_a_small_run_on_sqlite_prints_one_json_object() -> None:
    result = subprocess.run(
        [LOYALTY, "bench", "segments", "--json", "--customers", "2000"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    check(json.loads(result.stdout), "sqlite", 2000)


def test_a_small_run_on_postgresql_drops_its_scratch_database(
    pg_server: pg.PostgresServer,
) -> None:
    report = segments.run(customers=2000, show_progress=False, database_url=pg_server.url())
    check(report, "postgresql", 2000)
    import psycopg

    dsn = pg_server.url().replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database")]
    assert not [n for n in names if n.startswith("loyalty_bench_segments_")]


def test_both_counts_equal_the_predicate_applied_to_the_rows(tmp_path: Path) -> None:
    """The raw SQL is the predicate by hand, the product path the saved segment: both must count
    what the rows say."""
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    expected = sum(
        1
        for _, plan, seats, started, *_ in segments.customer_rows(3000, now)
        if plan in segments.CHOSEN_PLANS
        and seats is not None
        and seats >= segments.MIN_SEATS
        and started is not None
        and started > now - timedelta(days=365)
    )
    with progress(show=False) as bar, segments.scratch_database(None, tmp_path) as db:
        segments.load_customers(db, 3000, now, bar)
        segments.save_segment(db, now)
        raw = segments.RawCount(db, now)
        try:
            by_hand = raw()
        finally:
            raw.close()
        engine = make_engine(db.url)
        with session_scope(engine, write=False) as session:
            product = count_members(session, key=segments.KEY, now=now)
        engine.dispose()
    assert 0 < expected < 3000
    assert product == by_hand == expected


def test_a_database_url_that_is_not_postgresql_is_refused() -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        segments.run(customers=10, show_progress=False, database_url="mysql://x")
