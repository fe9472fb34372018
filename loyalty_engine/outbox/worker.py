"""The delivery worker: claims due messages, delivers each after commit, records the outcome."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta

from loyalty_engine.db import session_scope
from loyalty_engine.outbox import service
from loyalty_engine.outbox.backoff import backoff_seconds
from loyalty_engine.outbox.delivery import (
    Delivery,
    DeliveryPaused,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from loyalty_engine.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class WorkerReport:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    paused: int = 0


class OutboxWorker:
    def __init__(self, runtime: Runtime, *, rng: random.Random | None = None) -> None:
        self.runtime = runtime
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._rng = rng or random.Random()
        self._wake = threading.Event()

    def run_once(self) -> WorkerReport:
        """Claim one batch and deliver it; safe to call from any number of workers."""
        settings, clock = self.runtime.settings, self.runtime.clock
        with session_scope(self.runtime.engine, write=True) as session:
            deliveries = service.claim_due(
                session,
                now=clock.now(),
                worker_id=self.worker_id,
                limit=settings.outbox_batch_size,
                lease=timedelta(seconds=settings.outbox_lease_seconds),
            )
        report = WorkerReport(claimed=len(deliveries))
        for delivery in deliveries:
            self._deliver(delivery, report)
        return report

    def run_forever(self, stop: threading.Event) -> None:
        log.info("outbox worker %s started", self.worker_id)
        while not stop.is_set():
            try:
                report = self.run_once()
            except Exception:  # the database may be briefly away; keep the worker alive
                log.exception("outbox worker %s: batch failed", self.worker_id)
                report = WorkerReport()
            if report.claimed == 0:
                self._wake.wait(self.runtime.settings.outbox_poll_seconds)
                self._wake.clear()
        log.info("outbox worker %s stopped", self.worker_id)

    def wake(self) -> None:
        self._wake.set()

    def _deliver(self, delivery: Delivery, report: WorkerReport) -> None:
        handler = self.runtime.deliveries.handler_for(delivery.kind)
        try:
            if handler is None:
                raise RetryableDeliveryError(f"no handler registered for kind {delivery.kind!r}")
            result = handler(delivery)
        except DeliveryPaused as exc:
            report.paused += 1
            self._release(delivery, str(exc))
        except PermanentDeliveryError as exc:
            report.dead += 1
            self._fail(delivery, f"permanent: {exc}", retry_after=None, dead=True)
        except RetryableDeliveryError as exc:
            self._retry_or_die(delivery, str(exc), exc.retry_after_seconds, report)
        except Exception as exc:  # an unexpected error in a handler is retried like a transient one
            log.exception("outbox message %s (%s) failed", delivery.message_id, delivery.kind)
            self._retry_or_die(delivery, f"{type(exc).__name__}: {exc}", None, report)
        else:
            report.delivered += 1
            with session_scope(self.runtime.engine, write=True) as session:
                service.record_delivered(
                    session,
                    message_id=delivery.message_id,
                    worker_id=self.worker_id,
                    now=self.runtime.clock.now(),
                    result=result,
                )

    def _retry_or_die(
        self, delivery: Delivery, error: str, retry_after: float | None, report: WorkerReport
    ) -> None:
        if delivery.attempt >= self.runtime.settings.outbox_max_attempts:
            report.dead += 1
            self._fail(
                delivery, f"gave up after {delivery.attempt} attempts: {error}", None, dead=True
            )
            return
        report.retried += 1
        self._fail(delivery, error, retry_after, dead=False)

    def _fail(
        self, delivery: Delivery, error: str, retry_after: float | None, *, dead: bool
    ) -> None:
        settings, now = self.runtime.settings, self.runtime.clock.now()
        retry_at = None
        if not dead:
            delay = backoff_seconds(
                delivery.attempt,
                base=settings.outbox_backoff_base_seconds,
                cap=settings.outbox_backoff_max_seconds,
                rng=self._rng,
            )
            retry_at = now + timedelta(seconds=max(delay, retry_after or 0.0))
        with session_scope(self.runtime.engine, write=True) as session:
            service.record_failure(
                session,
                message_id=delivery.message_id,
                worker_id=self.worker_id,
                error=error,
                retry_at=retry_at,
            )

    def _release(self, delivery: Delivery, reason: str) -> None:
        now = self.runtime.clock.now()
        retry_at = now + timedelta(seconds=self.runtime.settings.outbox_backoff_max_seconds / 60)
        with session_scope(self.runtime.engine, write=True) as session:
            service.release(
                session,
                message_id=delivery.message_id,
                worker_id=self.worker_id,
                retry_at=retry_at,
                reason=f"paused: {reason}",
            )
