"""How outbox messages leave: a handler per message kind, and the outcomes a handler reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a handler receives: the message, with its deterministic idempotency key."""

    message_id: int
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    attempt: int


class RetryableDeliveryError(Exception):
    """The receiver may accept it later (timeouts, 5xx, rate limits)."""

    def __init__(self, message: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class PermanentDeliveryError(Exception):
    """The receiver will never accept it as it is: dead-letter at once."""


class DeliveryPaused(Exception):
    """The receiver refuses us as a whole (bad credentials): leave the message for later."""


Handler = Callable[[Delivery], dict[str, Any] | None]


@dataclass
class DeliveryRegistry:
    _handlers: dict[str, Handler] = field(default_factory=dict)

    def register(self, kind: str, handler: Handler) -> None:
        if kind in self._handlers:
            raise ValueError(f"outbox kind {kind!r} already has a handler")
        self._handlers[kind] = handler

    def handler_for(self, kind: str) -> Handler | None:
        return self._handlers.get(kind)

    def kinds(self) -> list[str]:
        return sorted(self._handlers)
