"""The mailer protocol: how the engine hands an email to a mail server (SMTP comes later)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class EmailMessage:
    to: str
    subject: str
    text: str
    html: str | None = None
    from_address: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class MailError(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Mailer(Protocol):
    name: str

    def send(self, message: EmailMessage, *, idempotency_key: str) -> str:
        """Hand the message over; returns its Message-ID. Raise MailError on failure."""
        ...
