"""PostgreSQL: of two `loyalty scheduler` processes one leads; kill it and the other leads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from loyalty_engine.app import JOBS
from loyalty_engine.db import make_engine
from loyalty_engine.leadership import ADVISORY_KEY
from tests.scheduler.conftest import wait_for

LOYALTY = str(Path(sys.executable).with_name("loyalty"))
# A bigint advisory key shows in pg_locks as classid (high 32 bits) and objid (low 32 bits).
LOCK_HOLDERS = text("""
    SELECT count(*) FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 1
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND ((classid::bigint << 32) | objid::bigint) = :key
""")


@pytest.fixture
def pg_engine(pg_template_url: str) -> Iterator[Engine]:
    """The session's PostgreSQL database with no leader and no stored jobs (it is shared)."""
    engine = make_engine(pg_template_url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE scheduler_leader, apscheduler_jobs"))
    yield engine
    engine.dispose()


def leader_pid(engine: Engine) -> int | None:
    with engine.connect() as conn:
        holder = conn.execute(text("SELECT holder FROM scheduler_leader WHERE id = 1")).scalar()
    return int(holder.rsplit(":", 1)[1]) if holder else None


def lock_holders(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(LOCK_HOLDERS, {"key": ADVISORY_KEY}).scalar_one())


def stored_job_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT id FROM apscheduler_jobs")).scalars())


def test_one_of_two_scheduler_processes_leads_and_the_other_takes_over_when_it_is_killed(
    pg_engine: Engine, pg_template_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": pg_template_url,
        "LOYALTY_SCHEDULER_LEADER_POLL_SECONDS": "0.5",
        "LOYALTY_LOG_LEVEL": "info",
    }
    processes: dict[int, subprocess.Popen[bytes]] = {}
    logs: dict[int, Path] = {}

    def output() -> str:
        return "\n".join(f"--- {pid}\n{path.read_text()}" for pid, path in logs.items())

    try:
        for n in range(2):
            path = tmp_path / f"scheduler-{n}.log"
            with path.open("w") as log:
                process = subprocess.Popen([LOYALTY, "scheduler"], env=env, stdout=log, stderr=log)
            processes[process.pid], logs[process.pid] = process, path

        assert wait_for(lambda: leader_pid(pg_engine) in processes, timeout=30), output()
        leader = leader_pid(pg_engine)
        assert leader is not None
        (follower,) = set(processes) - {leader}
        for _ in range(6):  # three poll rounds of the follower: nothing changes
            assert leader_pid(pg_engine) == leader
            assert lock_holders(pg_engine) == 1
            time.sleep(0.25)
        assert processes[follower].poll() is None, output()
        assert "is the leader" in logs[leader].read_text()
        assert "is the leader" not in logs[follower].read_text()
        assert stored_job_ids(pg_engine) == {job.id for job in JOBS}

        processes[leader].send_signal(signal.SIGKILL)
        processes[leader].wait(timeout=10)

        assert wait_for(lambda: leader_pid(pg_engine) == follower, timeout=30), output()
        assert lock_holders(pg_engine) == 1
        assert "is the leader" in logs[follower].read_text()

        processes[follower].send_signal(signal.SIGTERM)
        assert processes[follower].wait(timeout=30) == 0, output()
        assert lock_holders(pg_engine) == 0  # a clean stop gives the lock back
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
