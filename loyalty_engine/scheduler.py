"""APScheduler 3.x wiring: a persistent job store in our database, and one leader at a time.

Every process may run a `SchedulerService`; only the one holding the leader lock runs jobs.
Jobs are thin, idempotent, and read their work from the database (see `JobSpec`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import update

from loyalty_engine.db import WRITE, insert_ignore, session_scope
from loyalty_engine.leadership import LeaderLock, SchedulerLeader, lock_for
from loyalty_engine.metrics import SCHEDULER_LEADER
from loyalty_engine.runtime import Runtime, current

log = logging.getLogger(__name__)
LEADER = SchedulerLeader.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class JobSpec:
    """A periodic job: `func` is an importable reference (`package.module:function`)."""

    id: str
    func: str
    seconds: int


class SharedEngineJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """APScheduler's SQLAlchemy job store on the runtime's engine, which it does not own.

    The stock store disposes its engine on shutdown; here that would dispose the pool the whole
    process shares, orphaning the connections checked out at that moment (the leader lock's
    among them) instead of closing them.
    """

    def shutdown(self) -> None:
        """Leave the engine to the runtime, which disposes it when the process stops."""


def build_scheduler(runtime: Runtime) -> BackgroundScheduler:
    grace = runtime.settings.scheduler_misfire_grace_seconds
    store = SharedEngineJobStore(engine=runtime.engine.execution_options(**WRITE))
    return BackgroundScheduler(
        jobstores={"default": store},
        executors={"default": ThreadPoolExecutor(4)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
        timezone=UTC,
    )


class SchedulerService:
    """Campaigns for leadership; while leading, runs the APScheduler with the registered jobs."""

    def __init__(self, runtime: Runtime, jobs: list[JobSpec], *, lock: LeaderLock | None = None):
        self.runtime = runtime
        self.jobs = jobs
        self.lock = lock or lock_for(runtime.engine)
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.scheduler: BackgroundScheduler | None = None
        self.leading = threading.Event()

    def run_forever(self, stop: threading.Event) -> None:
        poll = self.runtime.settings.scheduler_leader_poll_seconds
        try:
            while not stop.is_set():
                try:
                    self.step()
                except Exception:  # the database may be briefly away; keep campaigning
                    log.exception("scheduler %s: leadership round failed", self.holder)
                stop.wait(poll)
        finally:
            self._step_down()

    def step(self) -> None:
        """One round: become leader if the lock is free; step down if it was lost."""
        if self.leading.is_set():
            if not self.lock.still_held():
                log.warning("scheduler %s lost the leader lock", self.holder)
                self._step_down()
            return
        if self.lock.try_acquire():
            try:
                self._lead()
            except BaseException:
                self._step_down()  # never keep the lock without leading: others could not lead
                raise

    def _lead(self) -> None:
        log.info("scheduler %s is the leader", self.holder)
        self._record_leader()
        scheduler = build_scheduler(self.runtime)
        for job in self.jobs:
            scheduler.add_job(
                job.func, "interval", seconds=job.seconds, id=job.id, replace_existing=True
            )
        scheduler.start()
        self.scheduler = scheduler  # only a started scheduler is shut down when stepping down
        self.leading.set()
        SCHEDULER_LEADER.set(1)

    def _step_down(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        if self.leading.is_set():
            self.leading.clear()
            SCHEDULER_LEADER.set(0)
        self.lock.release()

    def _record_leader(self) -> None:
        now = self.runtime.clock.now()
        with session_scope(self.runtime.engine, write=True) as session:
            dialect = session.get_bind().dialect.name
            session.execute(
                insert_ignore(LEADER, dialect).values(
                    id=1, holder=self.holder, acquired_at=now, heartbeat_at=now
                )
            )
            session.execute(
                update(LEADER)
                .where(LEADER.c.id == 1)
                .values(holder=self.holder, acquired_at=now, heartbeat_at=now)
            )


def heartbeat() -> None:
    """Job: the leader notes that it is alive (read by /readyz and `loyalty status`)."""
    runtime = current()
    with session_scope(runtime.engine, write=True) as session:
        session.execute(
            update(LEADER).where(LEADER.c.id == 1).values(heartbeat_at=runtime.clock.now())
        )


CORE_JOBS: list[JobSpec] = [
    JobSpec("scheduler.heartbeat", "loyalty_engine.scheduler:heartbeat", 15),
    JobSpec("outbox.purge_delivered", "loyalty_engine.outbox.jobs:purge_delivered", 3600),
]


def describe(jobs: list[JobSpec]) -> list[dict[str, Any]]:
    return [{"id": j.id, "func": j.func, "every_seconds": j.seconds} for j in jobs]
