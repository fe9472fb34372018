"""The `email.send` outbox kind: hands the message to the mailer after commit."""

from __future__ import annotations

from typing import Any

from loyalty_engine.messaging.mailer import EmailMessage, Mailer, MailError
from loyalty_engine.outbox.delivery import (
    Delivery,
    DeliveryRegistry,
    PermanentDeliveryError,
    RetryableDeliveryError,
)

SEND_EMAIL = "email.send"


def register_email_delivery(registry: DeliveryRegistry, mailer: Mailer) -> None:
    def send(d: Delivery) -> dict[str, Any]:
        p = d.payload
        message = EmailMessage(
            to=p["to"],
            subject=p["subject"],
            text=p["text"],
            html=p.get("html"),
            from_address=p.get("from"),
            headers=p.get("headers", {}),
        )
        try:
            message_id = mailer.send(message, idempotency_key=d.idempotency_key)
        except MailError as exc:
            if exc.retryable:
                raise RetryableDeliveryError(str(exc)) from exc
            raise PermanentDeliveryError(str(exc)) from exc
        return {"message_id": message_id}

    registry.register(SEND_EMAIL, send)
