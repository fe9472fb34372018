"""A throwaway database for one run: migrated, seeded with customers and an ingest key, and cloned
(same schema, same customers) for the physical baseline; dropped or deleted afterwards."""

from __future__ import annotations

import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, make_url, select, text

from benchmarks.payloads import customer_external_id
from loyalty_engine import migrations
from loyalty_engine.auth import service as auth
from loyalty_engine.auth.models import Role
from loyalty_engine.customers import service as customers
from loyalty_engine.customers.models import Customer
from loyalty_engine.customers.schemas import CustomerUpsert
from loyalty_engine.db import make_engine, session_scope


@dataclass(frozen=True)
class BenchDatabase:
    kind: str  # "sqlite" or "postgresql"
    version: str  # of the database engine
    url: str  # what the server under test uses
    baseline_url: str  # a clone of it, for the raw-driver baseline
    api_key: str  # role ingest
    customer_pks: dict[str, int]  # external id -> primary key


@contextmanager
def bench_database(
    server_url: str | None, *, workdir: Path, customers: int, now: datetime
) -> Iterator[BenchDatabase]:
    """SQLite in `workdir` when `server_url` is None; else two scratch databases on that server."""
    if server_url is None:
        yield _sqlite(workdir, customers, now)
        return
    if not server_url.startswith("postgresql"):
        raise ValueError(
            "--database-url names a PostgreSQL server (postgresql+psycopg://...); "
            "SQLite runs are always in a temporary folder"
        )
    with _postgresql(_with_psycopg(server_url), customers, now) as database:
        yield database


def _with_psycopg(url: str) -> str:
    """`postgresql://` means psycopg2 to SQLAlchemy; the engine ships psycopg 3."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _sqlite(workdir: Path, customers: int, now: datetime) -> BenchDatabase:
    path, clone = workdir / "bench.db", workdir / "baseline.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        api_key, pks = _seed(engine, customers, now)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    shutil.copyfile(path, clone)
    url = f"sqlite:///{path}"
    return BenchDatabase("sqlite", sqlite3.sqlite_version, url, str(clone), api_key, pks)


@contextmanager
def _postgresql(server_url: str, customers: int, now: datetime) -> Iterator[BenchDatabase]:
    name = f"loyalty_bench_{secrets.token_hex(4)}"
    admin = make_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    target = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    baseline = make_url(server_url).set(database=f"{name}_baseline")
    created: list[str] = []
    try:
        created.append(name)
        _admin(admin, f'CREATE DATABASE "{name}"')
        engine = make_engine(target)
        try:
            api_key, pks = _seed(engine, customers, now)
        finally:
            engine.dispose()
        created.append(f"{name}_baseline")
        _admin(admin, f'CREATE DATABASE "{name}_baseline" TEMPLATE "{name}"')
        baseline_dsn = baseline.set(drivername="postgresql").render_as_string(hide_password=False)
        with admin.connect() as conn:
            version = str(conn.execute(text("SHOW server_version")).scalar_one())
        yield BenchDatabase("postgresql", version, target, baseline_dsn, api_key, pks)
    finally:
        for database in reversed(created):
            _admin(admin, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.dispose()


def _admin(engine: Engine, sql: str) -> None:
    with engine.connect() as conn:
        conn.execute(text(sql))


def _seed(engine: Engine, count: int, now: datetime) -> tuple[str, dict[str, int]]:
    """Migrate, create `count` customers and an ingest API key; the key and the customer ids."""
    migrations.upgrade(engine)
    with session_scope(engine, write=True) as session:
        for n in range(count):
            changes = CustomerUpsert(plan="growth", seats=10 + n % 90, country="DE")
            customers.upsert_customer(
                session, external_id=customer_external_id(n), changes=changes, now=now
            )
        _, api_key = auth.create_api_key(session, name="bench", role=Role.INGEST, now=now)
    with session_scope(engine, write=False) as session:
        rows = session.execute(select(Customer.external_id, Customer.id))  # type: ignore[call-overload]
        pks = {str(external_id): int(pk) for external_id, pk in rows}
    return api_key, pks
