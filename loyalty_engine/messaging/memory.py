"""An in-memory mailer: the default without SMTP settings (demo), and the fake for tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from loyalty_engine.messaging.mailer import EmailMessage, MailError


@dataclass
class InMemoryMailer:
    name: str = "memory"
    sent: dict[str, EmailMessage] = field(default_factory=dict)
    attempts: int = 0
    _failures: list[MailError] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, times: int, error: MailError) -> None:
        with self._lock:
            self._failures.extend([error] * times)

    def send(self, message: EmailMessage, *, idempotency_key: str) -> str:
        with self._lock:
            self.attempts += 1
            if self._failures:
                raise self._failures.pop(0)
            self.sent.setdefault(idempotency_key, message)
            return f"<{idempotency_key}@loyalty.invalid>"
