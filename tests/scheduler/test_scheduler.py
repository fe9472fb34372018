"""The scheduler: a job store in our database, job defaults, one leader, the core jobs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError

from loyalty_engine.clock import FrozenClock
from loyalty_engine.config import Settings
from loyalty_engine.db import session_scope
from loyalty_engine.leadership import LeaderLock, SchedulerLeader, lock_for
from loyalty_engine.runtime import Runtime, current
from loyalty_engine.scheduler import CORE_JOBS, JobSpec, SchedulerService, heartbeat
from tests.scheduler.conftest import MISFIRE_GRACE_SECONDS, wait_for


def start(service: SchedulerService) -> Callable[[], None]:
    """Run the service's loop in a thread; returns the function that stops it (and waits)."""
    stop = threading.Event()
    thread = threading.Thread(target=service.run_forever, args=(stop,), daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the scheduler loop did not stop"

    return halt


def stored_jobs(engine: Engine) -> dict[str, float | None]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, next_run_time FROM apscheduler_jobs"))
        return {str(row.id): row.next_run_time for row in rows}


def leader_row(runtime: Runtime) -> SchedulerLeader | None:
    with session_scope(runtime.engine, write=False) as session:
        return session.execute(select(SchedulerLeader)).scalar_one_or_none()


def test_a_leader_keeps_the_core_jobs_in_the_database_job_store(
    runtime: Runtime, engine: Engine, clock: FrozenClock
) -> None:
    assert stored_jobs(engine) == {}
    service = SchedulerService(runtime, CORE_JOBS)
    stop = start(service)
    try:
        assert wait_for(service.leading.is_set, timeout=10)
        while_leading = stored_jobs(engine)
        leader = leader_row(runtime)
    finally:
        stop()

    assert set(while_leading) == {job.id for job in CORE_JOBS}
    assert all(next_run is not None for next_run in while_leading.values())
    assert leader is not None
    assert (leader.holder, leader.acquired_at) == (service.holder, clock.now())
    assert not service.leading.is_set()
    assert set(stored_jobs(engine)) == {job.id for job in CORE_JOBS}  # persistent: they stay


def test_stepping_down_leaves_the_process_connection_pool_alone(runtime: Runtime) -> None:
    pool = runtime.engine.pool
    service = SchedulerService(runtime, CORE_JOBS)
    stop = start(service)
    try:
        assert wait_for(service.leading.is_set, timeout=10)
        with runtime.engine.connect() as in_flight:  # a request of the same process, mid-way
            stop()
            assert in_flight.execute(text("SELECT 1")).scalar() == 1
    finally:
        stop()

    assert runtime.engine.pool is pool


def test_jobs_coalesce_run_one_at_a_time_and_use_the_configured_grace(runtime: Runtime) -> None:
    service = SchedulerService(runtime, CORE_JOBS)
    stop = start(service)
    try:
        assert wait_for(service.leading.is_set, timeout=10)
        assert service.scheduler is not None
        jobs = {job.id: job for job in service.scheduler.get_jobs()}  # read back from the store
    finally:
        stop()

    assert set(jobs) == {spec.id for spec in CORE_JOBS}
    for spec in CORE_JOBS:
        job = jobs[spec.id]
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == MISFIRE_GRACE_SECONDS
        assert job.func_ref == spec.func
        assert job.trigger.interval == timedelta(seconds=spec.seconds)


def test_of_two_schedulers_only_one_leads_and_the_other_takes_over_when_it_stops(
    runtime: Runtime, settings: Settings
) -> None:
    first, second = SchedulerService(runtime, CORE_JOBS), SchedulerService(runtime, CORE_JOBS)
    stop_first = start(first)
    stop_second: Callable[[], None] | None = None
    try:
        assert wait_for(first.leading.is_set, timeout=10)
        stop_second = start(second)
        time.sleep(settings.scheduler_leader_poll_seconds * 10)  # the second campaigns meanwhile
        assert first.leading.is_set()
        assert not second.leading.is_set()
        assert second.scheduler is None

        stop_first()
        assert wait_for(second.leading.is_set, timeout=10)
        assert not first.leading.is_set()
    finally:
        stop_first()
        if stop_second is not None:
            stop_second()


class DatabaseAwayAtFirst:
    """The real leader lock, but the database does not answer its first attempts."""

    def __init__(self, lock: LeaderLock, failures: int) -> None:
        self.lock = lock
        self.failures = failures

    def try_acquire(self) -> bool:
        if self.failures:
            self.failures -= 1
            raise OperationalError("SELECT pg_try_advisory_lock(...)", {}, ConnectionError("gone"))
        return self.lock.try_acquire()

    def still_held(self) -> bool:
        return self.lock.still_held()

    def release(self) -> None:
        self.lock.release()


def test_a_follower_keeps_campaigning_through_a_database_outage(runtime: Runtime) -> None:
    service = SchedulerService(
        runtime, CORE_JOBS, lock=DatabaseAwayAtFirst(lock_for(runtime.engine), failures=3)
    )
    stop = start(service)
    try:
        assert wait_for(service.leading.is_set, timeout=10)
    finally:
        stop()


def test_a_scheduler_that_cannot_start_its_jobs_does_not_keep_the_lock(runtime: Runtime) -> None:
    broken = SchedulerService(runtime, [JobSpec("broken", "loyalty_engine.nowhere:job", 60)])
    other = lock_for(runtime.engine)
    stop = start(broken)
    try:
        assert wait_for(other.try_acquire, timeout=10), "the broken scheduler holds the lock"
        assert not broken.leading.is_set()
    finally:
        stop()
        other.release()


def test_a_scheduled_job_runs_in_the_leader_with_the_installed_runtime(
    runtime: Runtime, clock: FrozenClock
) -> None:
    every_second = JobSpec("test.heartbeat", "loyalty_engine.scheduler:heartbeat", 1)
    service = SchedulerService(runtime, [every_second])
    stop = start(service)
    try:
        assert wait_for(service.leading.is_set, timeout=10)
        clock.advance(minutes=5)

        def beat_recorded() -> bool:
            row = leader_row(runtime)
            return row is not None and row.heartbeat_at == clock.now()

        assert wait_for(beat_recorded, timeout=15, interval=0.1)
    finally:
        stop()


def test_heartbeat_stamps_the_leader_row_with_the_clock(
    runtime: Runtime, clock: FrozenClock
) -> None:
    assert current() is runtime  # app start-up installed it for the job
    acquired = clock.now()
    with session_scope(runtime.engine, write=True) as session:
        session.add(
            SchedulerLeader(
                id=1, holder="other-host:4242", acquired_at=acquired, heartbeat_at=acquired
            )
        )
    clock.advance(seconds=90)

    heartbeat()

    row = leader_row(runtime)
    assert row is not None
    assert (row.holder, row.acquired_at, row.heartbeat_at) == (
        "other-host:4242",
        acquired,
        clock.now(),
    )


def test_heartbeat_without_a_leader_row_changes_nothing(runtime: Runtime) -> None:
    heartbeat()

    assert leader_row(runtime) is None
