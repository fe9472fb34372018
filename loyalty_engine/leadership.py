"""One scheduler leader at a time: a PostgreSQL advisory lock, or a file lock beside SQLite.

Both locks die with their holder (connection closed, process killed), so a follower takes over
without any timeout to tune. The `scheduler_leader` row records who leads, for people and probes.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from datetime import datetime
from typing import IO, Any, Protocol

from sqlalchemy import Column, Engine, Integer, String, text
from sqlalchemy.engine import Connection, make_url
from sqlmodel import Field, SQLModel

from loyalty_engine.db import UTCDateTime

# A fixed 63-bit key for pg_advisory_lock, derived from the product name.
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"loyalty-engine:scheduler").digest()[:8], "big") >> 1


class SchedulerLeader(SQLModel, table=True):
    __tablename__ = "scheduler_leader"

    id: int = Field(default=1, sa_column=Column(Integer(), primary_key=True))
    holder: str = Field(sa_column=Column(String(128), nullable=False))
    acquired_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    heartbeat_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class LeaderLock(Protocol):
    def try_acquire(self) -> bool: ...

    def still_held(self) -> bool: ...

    def release(self) -> None: ...


class AdvisoryLock:
    """`pg_try_advisory_lock` on a connection kept open for as long as we lead."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        conn = self.engine.connect()
        got = bool(
            conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        )
        conn.commit()
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1")).scalar()
            self._conn.commit()
        except Exception:
            self._conn = None
            return False
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            self._conn.commit()
            self._conn.close()
        finally:
            self._conn = None


class FileLock:
    """An exclusive `flock` on `<database>.scheduler.lock`: the second process cannot take it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: IO[Any] | None = None

    def try_acquire(self) -> bool:
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for as long as we lead
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def still_held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def lock_for(engine: Engine) -> LeaderLock:
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    database = make_url(str(engine.url)).database
    if not database:
        raise ValueError("SQLite leader lock needs a database file")
    return FileLock(os.path.abspath(database) + ".scheduler.lock")
