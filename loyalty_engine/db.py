"""Engines, sessions and column types shared by every package (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    Table,
    create_engine,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator

WRITE = {"sqlite_begin": "BEGIN IMMEDIATE"}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC instant. SQLite stores it without an offset; it always comes back aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store aware UTC instants only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def id_type() -> Any:
    """64-bit ids on PostgreSQL; INTEGER on SQLite, where only that type is a rowid alias."""
    return BigInteger().with_variant(Integer(), "sqlite")


def pk_column() -> Column[Any]:
    return Column(id_type(), primary_key=True, autoincrement=True)


def json_type() -> Any:
    """JSON on SQLite, JSONB on PostgreSQL."""
    return JSON().with_variant(postgresql.JSONB(), "postgresql")


def make_engine(url: str, *, busy_timeout_ms: int = 30_000, pool_size: int = 10) -> Engine:
    """An engine for `url`, tuned per dialect (SQLite: WAL, busy timeout, explicit BEGINs)."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, busy_timeout_ms)
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_pre_ping=True,
        json_serializer=_dumps,
        json_deserializer=orjson.loads,
    )


def _sqlite_engine(url: str, busy_timeout_ms: int) -> Engine:
    if ":memory:" in url or url.rstrip("/") in {"sqlite:", "sqlite:/"}:
        raise ValueError("use a file for SQLite: several connections must share the database")
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        pool_size=64,
        max_overflow=64,
        json_serializer=_dumps,
        json_deserializer=orjson.loads,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so that we can choose BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers start with BEGIN IMMEDIATE: they take SQLite's single write lock up front and
        # queue on busy_timeout, instead of failing with SQLITE_BUSY when a read upgrades.
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))

    return engine


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def sqlite_write_lock(engine: Engine) -> threading.RLock:
    """The process-wide queue for one SQLite file's writers.

    SQLite admits one writer at a time. Threads that wait in SQLite's busy handler sleep in steps
    of up to 100 ms and can miss the moment the lock frees (seconds of tail latency under load);
    waiting on a Python lock instead wakes the next writer as soon as the last one commits.
    Other processes still meet at SQLite's own lock (busy_timeout).
    """
    key = str(engine.url)
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.RLock())


@contextmanager
def session_scope(engine: Engine, *, write: bool) -> Iterator[Session]:
    """One unit of work: commits once on success, rolls back on any error."""
    if write and engine.dialect.name == "sqlite":
        with sqlite_write_lock(engine):
            yield from _unit_of_work(engine.execution_options(**WRITE))
        return
    yield from _unit_of_work(engine.execution_options(**WRITE) if write else engine)


def _unit_of_work(bind: Engine) -> Iterator[Session]:
    session = Session(bind=bind, expire_on_commit=False, autoflush=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_ignore(table: Table, dialect_name: str) -> Insert:
    """`INSERT ... ON CONFLICT DO NOTHING` for the dialect in use."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


_PREPARED: dict[tuple[str, str], Any] = {}


def prepared(name: str, dialect_name: str, build: Callable[[str], Any]) -> Any:
    """A statement built once per dialect (hot paths pass their values as parameters, so that
    SQLAlchemy does not construct and cache-key the same statement on every call)."""
    key = (name, dialect_name)
    found = _PREPARED.get(key)
    if found is None:
        found = _PREPARED[key] = build(dialect_name)
    return found


def is_sqlite(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "sqlite"
