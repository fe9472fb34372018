"""The outbox kinds that reach billing and email, delivered by the worker through the fakes."""

from __future__ import annotations

import pytest

from loyalty_engine.billing import BillingError, InMemoryBillingGateway
from loyalty_engine.billing.delivery import APPLY_RENEWAL_DISCOUNT, REVERSE_CREDIT
from loyalty_engine.messaging import EmailMessage, InMemoryMailer, MailError
from loyalty_engine.messaging.delivery import SEND_EMAIL
from loyalty_engine.outbox.models import OutboxStatus
from loyalty_engine.outbox.worker import OutboxWorker
from tests.outbox.conftest import Enqueue, Read, credit

WELCOME = {
    "to": "ops@acme.example.com",
    "subject": "Welcome",
    "text": "Hello",
    "html": "<p>Hello</p>",
}


def test_credit_and_reversal_move_the_billing_balance(
    worker: OutboxWorker, enqueue: Enqueue, billing: InMemoryBillingGateway
) -> None:
    enqueue("credit:1", payload=credit(800))
    enqueue("reverse:1", payload=credit(300), kind=REVERSE_CREDIT)

    assert worker.run_once().delivered == 2
    assert billing.balances == {"cus_acme": -500}
    assert [call["op"] for call in billing.calls] == ["credit", "reversal"]


def test_a_renewal_discount_reaches_the_gateway_with_its_key(
    worker: OutboxWorker, enqueue: Enqueue, read: Read, billing: InMemoryBillingGateway
) -> None:
    payload = {
        "billing_customer_id": "cus_acme",
        "subscription_id": "sub_1",
        "percent_off_bps": 1500,
    }
    message_id = enqueue("renewal:2026:acme", payload=payload, kind=APPLY_RENEWAL_DISCOUNT)

    worker.run_once()

    assert billing.calls == [
        {
            "op": "discount",
            "customer": "cus_acme",
            "subscription_id": "sub_1",
            "percent_off_bps": 1500,
            "idempotency_key": "renewal:2026:acme",
        }
    ]
    result = read(message_id).result
    assert result is not None
    assert str(result["external_id"]).startswith("mem_discount_")


def test_an_email_is_handed_to_the_mailer_once_per_key(
    worker: OutboxWorker, enqueue: Enqueue, read: Read, mailer: InMemoryMailer
) -> None:
    message_id = enqueue("mail:welcome:acme", payload=WELCOME, kind=SEND_EMAIL)

    worker.run_once()

    assert mailer.sent == {
        "mail:welcome:acme": EmailMessage(
            to="ops@acme.example.com", subject="Welcome", text="Hello", html="<p>Hello</p>"
        )
    }
    assert read(message_id).status == OutboxStatus.DELIVERED
    assert read(message_id).result == {"message_id": "<mail:welcome:acme@loyalty.invalid>"}


@pytest.mark.parametrize(
    ("retryable", "status"), [(True, OutboxStatus.PENDING), (False, OutboxStatus.DEAD)]
)
def test_mail_errors_are_retried_or_dead_lettered(
    worker: OutboxWorker,
    enqueue: Enqueue,
    read: Read,
    mailer: InMemoryMailer,
    retryable: bool,
    status: OutboxStatus,
) -> None:
    message_id = enqueue("mail:1", payload=WELCOME, kind=SEND_EMAIL)
    mailer.fail_next(1, MailError("550 mailbox unavailable", retryable=retryable))

    worker.run_once()

    message = read(message_id)
    assert message.status == status
    assert message.last_error is not None
    assert "550 mailbox unavailable" in message.last_error
    assert mailer.sent == {}


def test_the_billing_fake_keeps_one_effect_per_key_and_refuses_a_reused_key() -> None:
    gateway = InMemoryBillingGateway()
    first = gateway.apply_credit(
        billing_customer_id="cus_1",
        amount_minor=500,
        currency="EUR",
        description="",
        idempotency_key="k1",
    )
    again = gateway.apply_credit(
        billing_customer_id="cus_1",
        amount_minor=500,
        currency="EUR",
        description="",
        idempotency_key="k1",
    )

    with pytest.raises(BillingError) as reused:
        gateway.apply_credit(
            billing_customer_id="cus_1",
            amount_minor=999,
            currency="EUR",
            description="",
            idempotency_key="k1",
        )

    assert again == first
    assert gateway.effects == 1
    assert gateway.balances == {"cus_1": -500}
    assert reused.value.retryable is False
