"""Leader locks: a file lock beside SQLite, an advisory lock on PostgreSQL; one holder each."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine

from loyalty_engine.db import make_engine
from loyalty_engine.leadership import AdvisoryLock, FileLock, lock_for
from tests.scheduler.conftest import wait_for

LOYALTY = str(Path(sys.executable).with_name("loyalty"))


def test_a_file_lock_has_one_holder_at_a_time(tmp_path: Path) -> None:
    path = str(tmp_path / "loyalty.db.scheduler.lock")
    first, second = FileLock(path), FileLock(path)

    assert first.try_acquire()
    assert first.still_held()
    assert not second.try_acquire()
    assert not second.still_held()
    assert Path(path).read_text() == f"{os.getpid()}\n"

    first.release()
    first.release()  # a second release is harmless
    assert not first.still_held()
    assert second.try_acquire()
    assert not first.try_acquire()
    second.release()


def test_each_database_gets_its_own_kind_of_lock(engine: Engine) -> None:
    lock = lock_for(engine)

    if engine.dialect.name == "postgresql":
        assert isinstance(lock, AdvisoryLock)
    else:
        assert isinstance(lock, FileLock)
        assert lock.path == os.path.abspath(str(engine.url.database)) + ".scheduler.lock"


def test_two_advisory_locks_exclude_each_other_until_released(pg_template_url: str) -> None:
    engine = make_engine(pg_template_url)
    first, second = AdvisoryLock(engine), AdvisoryLock(engine)
    try:
        assert first.try_acquire()
        assert not second.try_acquire()
        assert first.still_held()
        assert not second.still_held()
        first.release()
        assert second.try_acquire()
        assert not first.try_acquire()
    finally:
        first.release()
        second.release()
        engine.dispose()


def test_a_killed_sqlite_scheduler_process_leaves_the_lock_free(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = tmp_path / "loyalty.db"
    shutil.copyfile(sqlite_template, database)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "LOYALTY_SCHEDULER_LEADER_POLL_SECONDS": "0.2",
    }
    lock = FileLock(f"{database}.scheduler.lock")
    with (tmp_path / "scheduler.log").open("w") as log:
        process = subprocess.Popen([LOYALTY, "scheduler"], env=env, stdout=log, stderr=log)
    try:
        leads = wait_for(
            lambda: (
                Path(lock.path).exists() and Path(lock.path).read_text().strip() == str(process.pid)
            ),
            timeout=30,
        )
        assert leads, (tmp_path / "scheduler.log").read_text()
        assert not lock.try_acquire()

        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

        assert lock.try_acquire()
    finally:
        process.kill()
        process.wait(timeout=10)
        lock.release()
